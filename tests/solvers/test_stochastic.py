"""The stochastic solver driver: optimality against independent references, determinism, continuation,
batching, stopping rules and errors."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

from fastml import LinearObjective
from fastml.solvers.stochastic import NonFiniteError, StochasticOptions, StochasticState, stochastic_gradient

N_SAMPLES, N_FEATURES = 300, 5


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    truth = np.array([1.5, -1.0, 0.0, 0.5, 0.0])
    raw = X @ truth + 0.5 * rng.standard_normal(N_SAMPLES) + 0.5
    return X, raw, rng


def _targets(loss, raw, rng):
    if loss in ("log_loss", "hinge"):
        return (raw > 0).astype(float)
    if loss == "multinomial":
        return np.digitize(raw, [-0.5, 1.0]).astype(float)
    if loss == "huber":
        return raw + rng.standard_t(2, len(raw))  # heavy tails: some residuals beyond delta
    return raw


def _lbfgs_optimum(objective):
    result = minimize(objective.value_and_gradient, objective.initial_parameters(), jac=True, method="L-BFGS-B",
                      options=dict(gtol=1e-12, ftol=1e-15, maxiter=5000))
    return result.fun


def _hinge_optimum(objective, X, y, l2):
    """liblinear's dual coordinate descent on 0.5||w||^2 + C sum(hinge) with C = 1 / (n l2).

    liblinear penalizes the intercept as a weight on a constant feature; scaled by 100 that penalty
    is negligible. The objective is evaluated by fastml at liblinear's answer.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svc = LinearSVC(loss="hinge", C=1.0 / (len(y) * l2), intercept_scaling=100.0, tol=1e-10,
                        max_iter=200_000).fit(X, y)
    return objective.value(np.r_[svc.coef_.ravel(), svc.intercept_])


def _lasso_optimum(objective, X, y, l1):
    """scikit-learn's Lasso minimizes exactly mean(half squared error) + l1 ||coef||_1."""
    from sklearn.linear_model import Lasso

    lasso = Lasso(alpha=l1, tol=1e-14, max_iter=100_000).fit(X, y)
    return objective.value(np.r_[lasso.coef_, lasso.intercept_])


ASGD = dict(optimizer="sgd", learning_rate=0.02, average=5 * N_SAMPLES)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss, penalty, settings", [
    ("squared_error", dict(l2=1e-2), ASGD),
    ("log_loss", dict(l2=1e-2), ASGD),
    ("multinomial", dict(l2=1e-2), dict(ASGD, learning_rate=0.05)),
    ("huber", dict(l2=1e-2), ASGD),
    ("hinge", dict(l2=5e-2), dict(schedule="optimal", average=N_SAMPLES)),
    ("squared_error", dict(l1=0.05), dict(schedule="invscaling", learning_rate=0.1)),
    ("log_loss", dict(l2=1e-2), dict(optimizer="adam", learning_rate=0.02, batch_size=8, average=5 * N_SAMPLES // 8)),
    ("multinomial", dict(l2=1e-2), dict(optimizer="nesterov", learning_rate=0.02, batch_size=4,
                                        average=5 * N_SAMPLES // 4)),
    ("squared_error", dict(l1=0.05), dict(optimizer="adamw", learning_rate=0.005, batch_size=8)),
])
def test_reaches_reference_optimum(loss, penalty, settings, dtype, storage):
    X, raw, rng = _data()
    y = _targets(loss, raw, rng)
    X = X.astype(dtype).astype(np.float64)  # the float32 values, for the float64 references
    data = sp.csr_matrix(X.astype(dtype)) if storage == "csr" else X.astype(dtype)
    objective = LinearObjective(loss, data, y, **penalty)
    if loss == "hinge":
        optimum = _hinge_optimum(objective, X, y, penalty["l2"])
    elif "l1" in penalty:
        optimum = _lasso_optimum(objective, X, y, penalty["l1"])
    else:
        optimum = _lbfgs_optimum(objective)
    options = StochasticOptions(max_epochs=40, tol=None, random_state=0, **settings)
    result = stochastic_gradient(objective, options=options)
    gap = (objective.value(result.params) - optimum) / abs(optimum)
    assert gap <= 1e-3, gap
    assert result.trace["objective"][-1] == pytest.approx(objective.value(result.params), rel=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batched_models_equal_separate_fits(optimizer):
    X, raw, rng = _data()
    y = _targets("log_loss", raw, rng)
    l2 = np.array([1e-3, 1e-2, 1e-1])
    rates = np.array([0.01, 0.02, 0.05])
    options = dict(optimizer=optimizer, max_epochs=4, tol=None, random_state=3, batch_size=5, average=100,
                   schedule="invscaling")
    batched = stochastic_gradient(LinearObjective("log_loss", X, y, l2=l2),
                                  options=StochasticOptions(learning_rate=rates, **options))
    matrix = batched.params.reshape(N_FEATURES + 1, 3)
    for k in range(3):
        single = stochastic_gradient(LinearObjective("log_loss", X, y, l2=l2[k]),
                                     options=StochasticOptions(learning_rate=rates[k], **options))
        assert_allclose(matrix[:, k], single.params, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss, penalty, extra", [
    ("log_loss", "l2", dict(schedule="optimal", average=50)),
    ("hinge", "l1", dict(schedule="invscaling", learning_rate=0.05)),
    ("squared_error", "l2", dict(schedule="constant", learning_rate=0.01, fit_intercept=False, weighted=True)),
])
@pytest.mark.parametrize("sparse", [False, True])
def test_per_sample_single_model_equals_the_general_loop(loss, penalty, extra, sparse):
    """Batch size 1 with one model takes a loop of its own (scalars in registers); with three models the
    general loop runs the same steps for each: column k must equal the single-model run (dense and CSR)."""
    X, raw, rng = _data()
    X = sp.csr_matrix(X) if sparse else X
    y = _targets(loss, raw, rng)
    extra = dict(extra)
    fit_intercept = extra.pop("fit_intercept", True)
    weights = rng.uniform(0.5, 2.0, len(y)) if extra.pop("weighted", False) else None
    strengths = np.array([1e-3, 1e-2, 1e-1])
    options = StochasticOptions(optimizer="sgd", batch_size=1, max_epochs=3, tol=None, random_state=5, **extra)

    def fit(strength):
        objective = LinearObjective(loss, X, y, weights, fit_intercept=fit_intercept, **{penalty: strength})
        return stochastic_gradient(objective, options=options)

    matrix = fit(strengths).params.reshape(N_FEATURES + int(fit_intercept), 3)
    for k in range(3):  # CSR: the general loop may sum a row's products in another order
        assert_allclose(matrix[:, k], fit(strengths[k]).params, rtol=1e-12 if sparse else 1e-13, atol=1e-13)


@pytest.mark.parametrize("loss, extra", [
    ("log_loss", dict(schedule="optimal", average=40)),  # one-vs-all logistic: its own loop over the columns
    ("log_loss", dict(schedule="invscaling", learning_rate=0.05, l1=True)),
    ("hinge", dict(schedule="optimal", l1=True, weighted=True)),  # a weight column per model
    ("huber", dict(schedule="constant", learning_rate=0.01, average=25)),
])
def test_per_sample_models_with_their_own_targets_equal_separate_fits(loss, extra):
    """Plain per-sample SGD on several models with a target column each (one-vs-all classes) runs a loop
    of its own over the models: model k must be the single-model run on column k, as with shared targets."""
    X, raw, rng = _data(1)
    extra = dict(extra)
    shifts = np.array([0.0, 0.7, -0.9])
    y = np.column_stack([_targets(loss, raw + shift, rng) for shift in shifts])
    weights = rng.uniform(0.5, 2.0, y.shape) if extra.pop("weighted", False) else None
    penalty = dict(l2=1e-3, l1=np.array([1e-3, 2e-3, 5e-3]) if extra.pop("l1", False) else 0.0)
    options = StochasticOptions(optimizer="sgd", batch_size=1, max_epochs=12, tol=1e-2, n_iter_no_change=2,
                                trace_objective="running", random_state=2, **extra)
    batched = stochastic_gradient(LinearObjective(loss, X, y, weights, **penalty), options=options)
    matrix = batched.params.reshape(N_FEATURES + 1, 3)
    for k in range(3):
        single = stochastic_gradient(
            LinearObjective(loss, X, y[:, k], None if weights is None else weights[:, k], l2=penalty["l2"],
                            l1=np.ravel(penalty["l1"])[k] if np.ndim(penalty["l1"]) else 0.0),
            options=options)
        assert_allclose(matrix[:, k], single.params, rtol=1e-13, atol=1e-13)
        assert batched.n_iter[k] == single.n_iter  # the models' running losses stop them at the same epochs
    assert len(set(batched.n_iter)) > 1 or batched.n_iter[0] < options.max_epochs


@pytest.mark.parametrize("settings", [
    dict(optimizer="adam", amsgrad=True, average=True),
    dict(optimizer="adamw", learning_rate=0.01),
    dict(optimizer="nesterov", learning_rate=0.01, clip_norm=0.5),
    dict(optimizer="sgd", learning_rate=0.01, clip_norm=0.5),
])
@pytest.mark.parametrize("loss, n_models", [("log_loss", 2), ("multinomial", 1)])
def test_threaded_minibatches_match_one_thread(settings, loss, n_models):
    """A minibatch split over two threads (its chunk gradients added in chunk order) gives the serial
    result up to rounding, and is bitwise reproducible for the same thread count."""
    from fastml.kernels._optimizers import MIN_BATCH_VALUES_PER_THREAD
    from fastml.solvers.stochastic import _minibatch_threads

    rng = np.random.default_rng(8)
    n_features = 40
    X = rng.standard_normal((6000, n_features))  # 240 000 values: the objective may use threads
    raw = X @ rng.standard_normal(n_features) / np.sqrt(n_features)
    y = (rng.random(6000) < 1 / (1 + np.exp(-raw))).astype(float) if loss == "log_loss" \
        else np.digitize(raw, [-0.5, 0.5]).astype(float)
    l2 = [1e-3, 1e-2][:n_models] if loss == "log_loss" else 1e-3
    batch = 2 * -(-MIN_BATCH_VALUES_PER_THREAD // n_features)  # just enough rows for two threads
    options = StochasticOptions(batch_size=batch, max_epochs=2, tol=None, random_state=4, **settings)

    def fit(n_threads):
        objective = LinearObjective(loss, X, y, l2=l2, n_threads=n_threads)
        assert _minibatch_threads(objective, options) == n_threads
        return stochastic_gradient(objective, options=options).params

    two = fit(2)
    assert_array_equal(two, fit(2))
    assert_allclose(two, fit(1), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("settings", [
    dict(optimizer="adam", amsgrad=True, average=True),
    dict(optimizer="adamw", learning_rate=0.01),
    dict(optimizer="momentum", learning_rate=0.01),
    dict(optimizer="nesterov", learning_rate=0.01, clip_norm=0.5),
    dict(optimizer="sgd", learning_rate=0.01, clip_norm=0.5),
])
@pytest.mark.parametrize("l1", [0.0, 1e-3])
def test_threaded_csr_step_is_the_serial_step(settings, l1):
    """On CSR rows with many features the step's coordinates are split over two threads: an
    element-wise update, so the parameters and optimizer state are bitwise those of one thread."""
    from fastml.kernels._optimizers import MIN_STEP_COORDINATES_PER_THREAD
    from fastml.solvers.stochastic import _csr_step_threads

    from fastml._objective import SERIAL_WORK

    rng = np.random.default_rng(9)
    n_samples, n_features = 2000, 2 * MIN_STEP_COORDINATES_PER_THREAD  # just enough for two threads
    nonzeros = SERIAL_WORK // n_samples + 1  # enough stored values for a threaded objective
    X = sp.random(n_samples, n_features, density=nonzeros / n_features, format="csr", random_state=rng)
    y = (rng.random(n_samples) < 0.5).astype(float)
    options = StochasticOptions(batch_size=64, max_epochs=2, tol=None, random_state=3, **settings)

    def fit(n_threads):
        objective = LinearObjective("log_loss", X, y, l2=1e-3, l1=l1, n_threads=n_threads)
        assert _csr_step_threads(objective, options) == n_threads
        result = stochastic_gradient(objective, options=options)
        return result.params, result.info["state"].moments

    (params_two, moments_two), (params_one, moments_one) = fit(2), fit(1)
    assert np.abs(params_one).max() > 0
    assert_array_equal(params_two, params_one)
    assert_array_equal(moments_two, moments_one)


def test_prefetching_thread_leaves_per_sample_sgd_unchanged(monkeypatch):
    """Per-sample SGD over shuffled rows of a large X gets a second thread that only prefetches rows:
    forced on small data here, it must run, stop, and leave every parameter bitwise as without it."""
    import threading

    from fastml.solvers import stochastic

    rng = np.random.default_rng(9)
    X = rng.standard_normal((6000, 40))  # 240 000 values: the objective may use two threads
    y = (X @ rng.standard_normal(40) > 0).astype(float)
    objective = LinearObjective("log_loss", X, y, l2=1e-3, n_threads=2)
    options = StochasticOptions(batch_size=1, schedule="optimal", max_epochs=2, tol=None, random_state=2)
    without = stochastic_gradient(objective, options=options).params

    started = []
    original_thread = threading.Thread

    def spy(*args, **kwargs):
        thread = original_thread(*args, **kwargs)
        started.append(thread)
        return thread

    monkeypatch.setattr(stochastic, "PREFETCH_THREAD_MIN_BYTES", 0)
    monkeypatch.setattr(stochastic, "PREFETCH_LEAD_ROWS", 40)
    monkeypatch.setattr(stochastic.threading, "Thread", spy)
    with_thread = stochastic_gradient(objective, options=options).params
    assert len(started) == 2 and not any(thread.is_alive() for thread in started)  # one per epoch, joined
    assert_array_equal(with_thread, without)


def test_prefetching_kernel_returns_without_progress():
    """The prefetching loop gives up after its patience when the epoch never reports (no hang), and
    returns at once when the epoch is already done."""
    from fastml.kernels.stochastic_dense import prefetch_rows_ahead

    X = np.zeros((50, 3))
    y = w = np.zeros((50, 1))
    order = np.arange(50)
    prefetch_rows_ahead(X, y, w, order, np.zeros(1, dtype=np.int64), 20, 1000)
    prefetch_rows_ahead(X, y, w, order, np.full(1, 50, dtype=np.int64), 20, 10**12)


def test_converged_models_freeze_while_others_go_on():
    X, raw, _ = _data()
    objective = LinearObjective("squared_error", X, np.c_[raw, raw], l2=[1e-2, 1e-2])
    result = stochastic_gradient(objective, options=StochasticOptions(
        learning_rate=[0.01, 1e-7], max_epochs=30, tol=1e-3, n_iter_no_change=2, random_state=0))
    # the tiny learning rate makes model 1 stop improving at once; model 0 keeps going
    assert result.n_iter[1] < result.n_iter[0]
    alone = stochastic_gradient(LinearObjective("squared_error", X, raw, l2=1e-2), options=StochasticOptions(
        learning_rate=1e-7, max_epochs=30, tol=1e-3, n_iter_no_change=2, random_state=0))
    assert alone.n_iter == result.n_iter[1]
    assert_allclose(result.params.reshape(-1, 2)[:, 1], alone.params, rtol=1e-13)


@pytest.mark.parametrize("sparse", [False, True])
def test_same_random_state_is_bitwise_identical(sparse):
    X, raw, rng = _data()
    y = _targets("log_loss", raw, rng)
    data = sp.csr_matrix(X) if sparse else X
    options = StochasticOptions(optimizer="adam", batch_size=4, max_epochs=3, tol=None, random_state=11)
    first = stochastic_gradient(LinearObjective("log_loss", data, y, l2=1e-2), options=options)
    second = stochastic_gradient(LinearObjective("log_loss", data, y, l2=1e-2), options=options)
    assert_array_equal(first.params, second.params)
    other = stochastic_gradient(LinearObjective("log_loss", data, y, l2=1e-2),
                                options=StochasticOptions(optimizer="adam", batch_size=4, max_epochs=3, tol=None,
                                                          random_state=12))
    assert np.abs(other.params - first.params).max() > 1e-6


@pytest.mark.parametrize("settings", [
    dict(optimizer="sgd", schedule="invscaling", average=150, learning_rate=0.05),
    dict(optimizer="sgd", schedule="optimal"),
    dict(optimizer="adam", amsgrad=True, batch_size=6, average=True),
    dict(optimizer="nesterov", batch_size=3, clip_norm=0.5),
    dict(optimizer="sgd", schedule="adaptive", learning_rate=0.05, tol=10.0, n_iter_no_change=1),
])
@pytest.mark.parametrize("sparse", [False, True])
def test_continuation_is_exact(settings, sparse):
    X, raw, rng = _data()
    y = _targets("log_loss", raw, rng)
    objective = LinearObjective("log_loss", sp.csr_matrix(X) if sparse else X, y, l2=1e-2, l1=1e-3)
    settings = dict(dict(tol=None, random_state=5), **settings)
    whole = stochastic_gradient(objective, options=StochasticOptions(max_epochs=3, **settings))
    part = stochastic_gradient(objective, options=StochasticOptions(max_epochs=1, **settings))
    state = part.info["state"]
    for _ in range(2):
        part = stochastic_gradient(objective, options=StochasticOptions(max_epochs=1, **settings), state=state)
    assert_array_equal(part.params, whole.params)
    assert part.info["n_steps"] == whole.info["n_steps"]
    assert_array_equal(part.info["learning_rate"], whole.info["learning_rate"])


@pytest.mark.parametrize("trace_objective", ["full", "running"])
def test_adaptive_schedule_divides_by_five(trace_objective):
    X, raw, _ = _data()
    objective = LinearObjective("squared_error", X, raw, l2=1e-2)
    # a huge tol makes every epoch after the first "not improving": the rate drops every 2 epochs
    result = stochastic_gradient(objective, options=StochasticOptions(
        schedule="adaptive", learning_rate=0.01, tol=1e9, n_iter_no_change=2, max_epochs=6, random_state=0,
        trace_objective=trace_objective))
    assert_allclose(result.info["learning_rate"], [0.01 / 25])
    assert not result.converged and result.n_iter == 6


@pytest.mark.parametrize("trace_objective", ["full", "running"])
def test_tol_stops_and_reports_convergence(trace_objective):
    X, raw, _ = _data()
    objective = LinearObjective("squared_error", X, raw, l2=1e-2)
    result = stochastic_gradient(objective, options=StochasticOptions(
        learning_rate=0.01, schedule="invscaling", tol=1e-3, n_iter_no_change=3, max_epochs=200, random_state=0,
        trace_objective=trace_objective))
    assert result.converged and result.n_iter < 200
    assert "tol" in result.message
    assert len(result.trace) == result.n_iter + (trace_objective == "full")  # the full trace has the start too


@pytest.mark.parametrize("loss, n_models, settings", [
    ("log_loss", 3, dict(learning_rate=[0.05, 1e-6, 0.01], tol=1e-3, n_iter_no_change=2)),
    ("log_loss", 3, dict(schedule="adaptive", learning_rate=[0.05, 0.2, 0.01], tol=1e-2, n_iter_no_change=1)),
    ("log_loss", 3, dict(schedule="optimal", average=40, tol=1e-3, n_iter_no_change=3)),
    ("hinge", 1, dict(optimizer="adam", batch_size=7, amsgrad=True, tol=1e-4, learning_rate=0.01)),
    ("multinomial", 1, dict(optimizer="momentum", batch_size=5, clip_norm=1.0, tol=1e-3, learning_rate=0.05)),
    ("multinomial", 1, dict(schedule="invscaling", learning_rate=0.5, tol=None)),
])
@pytest.mark.parametrize("sparse", [False, True])
def test_epochs_in_one_kernel_call_equal_epochs_one_by_one(loss, n_models, settings, sparse):
    """Without a callback the kernel runs the epochs and what comes between them in one call; a
    callback makes the driver run one epoch per call. Both are the same computation, bit for bit,
    stopping rule, "adaptive" rate cuts and the models' different stopping epochs included."""
    X, raw, rng = _data()
    y = _targets(loss, raw, rng)
    l2, l1 = [1e-2, 1e-3, 1e-1][:n_models], [1e-3, 0.0, 1e-2][:n_models]
    targets = y if n_models == 1 else np.repeat(y[:, None], n_models, axis=1)
    objective = LinearObjective(loss, sp.csr_matrix(X) if sparse else X, targets, l2=l2, l1=l1)
    options = StochasticOptions(max_epochs=40, random_state=3, trace_objective="running", **settings)
    together = stochastic_gradient(objective, options=options)
    seen = []
    apart = stochastic_gradient(objective, options=options, callback=lambda info: seen.append(info.params) and False)
    assert len(seen) == len(apart.trace) == len(together.trace) > 1
    assert_array_equal(together.params, apart.params)
    assert_array_equal(seen[-1], apart.params)
    assert_array_equal(together.n_iter, apart.n_iter)
    assert_array_equal(together.converged, apart.converged)
    for column in ("iteration", "objective", "step"):
        assert_array_equal(together.trace[column], apart.trace[column])
    assert_array_equal(together.trace["iteration"], np.arange(1, len(together.trace) + 1))
    seconds = together.trace["seconds"]
    assert seconds[0] > 0 and np.all(np.diff(seconds) >= 0)
    for name in ("learning_rate", "best_objective", "no_improvement", "converged", "step_count"):
        assert_array_equal(getattr(together.info["state"], name), getattr(apart.info["state"], name))
    if n_models > 1 and settings.get("tol") is not None:  # the models stopped at different epochs
        assert len(set(np.asarray(together.n_iter).tolist())) > 1


@pytest.mark.parametrize("loss, n_models", [("log_loss", 2), ("multinomial", 1), ("squared_error", 1)])
@pytest.mark.parametrize("sparse", [False, True])
def test_running_objective_is_the_loss_seen_plus_the_final_penalty(loss, n_models, sparse):
    """One plain-SGD epoch in a single batch of every row: every row's loss is taken at the start
    point, then one step; the running objective is that loss plus the penalty of the weights after
    the step, per model (computed here from the objective itself)."""
    X, raw, rng = _data()
    y = _targets(loss, raw, rng)
    l2, l1 = [0.3, 0.05][:n_models], [0.02, 0.1][:n_models]
    targets = y if n_models == 1 else np.repeat(y[:, None], n_models, axis=1)
    data = sp.csr_matrix(X) if sparse else X
    objective = LinearObjective(loss, data, targets, l2=l2, l1=l1)
    w0 = objective.initial_parameters() + 0.1
    result = stochastic_gradient(objective, w0=w0, options=StochasticOptions(
        batch_size=N_SAMPLES, max_epochs=1, tol=None, learning_rate=0.1, random_state=0, trace_objective="running"))
    loss_only = LinearObjective(loss, data, targets, l2=[0.0] * n_models, l1=[0.0] * n_models)
    coef, _ = objective.unpack(result.params)
    coef = coef.reshape(N_FEATURES, -1)
    penalties = 0.5 * np.sum(coef ** 2, axis=0) * l2 + np.sum(np.abs(coef), axis=0) * l1
    expected = loss_only.values_and_gradients(w0)[0].sum() + penalties.sum()
    assert result.trace["objective"][0] == pytest.approx(expected, rel=1e-12)


def test_trace_and_callback():
    X, raw, _ = _data()
    objective = LinearObjective("squared_error", X, raw, l2=1e-2)
    seen = []

    def stop_at_three(info):
        seen.append(info.iteration)
        return info.iteration >= 3

    w0 = np.zeros(objective.n_params)
    result = stochastic_gradient(objective, w0=w0, options=StochasticOptions(max_epochs=10, tol=None, random_state=0),
                                 callback=stop_at_three)
    assert seen == [1, 2, 3] and result.n_iter == 3 and "callback" in result.message
    trace = result.trace
    assert_array_equal(trace["iteration"], [0, 1, 2, 3])
    assert trace["objective"][0] == pytest.approx(objective.value(w0))
    assert np.all(np.diff(trace["seconds"]) >= 0) and np.all(trace["gradient_norm"] > 0)
    assert np.all(trace["step"][1:] == 0.01)
    # the running objective (scikit-learn's): one row per epoch, no gradient norm
    running = stochastic_gradient(objective, w0=w0, options=StochasticOptions(
        max_epochs=2, tol=None, random_state=0, trace_objective="running")).trace
    assert len(running) == 2 and np.all(np.isnan(running["gradient_norm"]))


def test_non_finite_raises_naming_the_epoch():
    X, raw, _ = _data()
    # the derivative clipping (scikit-learn's MAX_DLOSS) keeps moderate blow-ups finite; huge features overflow
    objective = LinearObjective("squared_error", X * 1e100, raw)
    with pytest.raises(NonFiniteError, match=r"epoch 1 .*scale the features") as error:
        stochastic_gradient(objective, options=StochasticOptions(learning_rate=1.0, max_epochs=3, random_state=0))
    assert isinstance(error.value, FloatingPointError) and isinstance(error.value, ValueError)


def test_bad_inputs_are_named():
    X, raw, _ = _data()
    objective = LinearObjective("squared_error", X, raw)
    with pytest.raises(ValueError, match="C-contiguous"):
        stochastic_gradient(LinearObjective("squared_error", np.asfortranarray(X), raw))
    with pytest.raises(ValueError, match="optimizer"):
        StochasticOptions(optimizer="rmsprop")
    with pytest.raises(ValueError, match="batch_size"):
        StochasticOptions(batch_size=0)
    with pytest.raises(ValueError, match="penalty"):
        stochastic_gradient(objective, options=StochasticOptions(schedule="optimal"))
    with pytest.raises(TypeError, match="LinearObjective"):
        stochastic_gradient((X, raw))
    state = stochastic_gradient(objective, options=StochasticOptions(max_epochs=1)).info["state"]
    assert isinstance(state, StochasticState)
    with pytest.raises(ValueError, match="state does not match"):
        stochastic_gradient(objective, options=StochasticOptions(optimizer="adam"), state=state)
    with pytest.raises(ValueError, match="either w0 or state"):
        stochastic_gradient(objective, w0=np.zeros(objective.n_params), state=state)


def test_small_minibatches_and_plain_sgd_stay_on_one_thread():
    from fastml.solvers.stochastic import _minibatch_threads

    X = np.zeros((6000, 40))
    objective = LinearObjective("squared_error", X, np.zeros(6000), n_threads=2)
    assert _minibatch_threads(objective, StochasticOptions(optimizer="adam", batch_size=512)) == 2
    assert _minibatch_threads(objective, StochasticOptions(optimizer="adam", batch_size=32)) == 1
    assert _minibatch_threads(objective, StochasticOptions(optimizer="sgd", batch_size=512)) == 1
    small = LinearObjective("squared_error", X[:100], np.zeros(100), n_threads=2)  # a serial objective
    assert _minibatch_threads(small, StochasticOptions(optimizer="adam", batch_size=512)) == 1


def test_csr_step_threads_only_for_many_coordinates():
    from fastml.kernels._optimizers import MIN_STEP_COORDINATES_PER_THREAD
    from fastml.solvers.stochastic import _csr_step_threads

    def threads(n_features, n_threads=2, **settings):
        X = sp.random(50, n_features, density=5000 / n_features, format="csr", random_state=0)  # 250 000 nonzeros
        objective = LinearObjective("squared_error", X, np.zeros(50), n_threads=n_threads)
        return _csr_step_threads(objective, StochasticOptions(**settings))

    wide = 2 * MIN_STEP_COORDINATES_PER_THREAD
    assert threads(wide, optimizer="adam") == 2
    assert threads(wide, optimizer="sgd", clip_norm=1.0) == 2
    assert threads(wide, optimizer="sgd") == 1  # plain SGD updates through the rows only
    assert threads(wide, n_threads=1, optimizer="adam") == 1
    assert threads(wide // 4, optimizer="adam") == 1


@pytest.mark.parametrize("sparse", [False, True])
def test_grouped_epochs_start_the_clock_at_the_kernel_entry(sparse, monkeypatch):
    """Several epochs per call run without a compiling call on scratch state first: the kernel starts
    the trace's clock at its own entry, so what delays the call before it (its compilation or cache
    load; here a pause) is not in the trace."""
    import time

    import fastml.kernels._jit as jit

    X, raw, rng = _data()
    objective = LinearObjective("log_loss", sp.csr_matrix(X) if sparse else X, _targets("log_loss", raw, rng))
    options = StochasticOptions(max_epochs=3, random_state=0, trace_objective="running")
    stochastic_gradient(objective, options=options)  # compiled (or loaded) before the pause is added
    original = jit.call_parallel

    def slow_start(kernel, *args, **kwargs):
        time.sleep(0.5)
        return original(kernel, *args, **kwargs)

    monkeypatch.setattr(jit, "call_parallel", slow_start)
    before = time.perf_counter()
    result = stochastic_gradient(objective, options=options)
    after = time.perf_counter()
    seconds = result.trace["seconds"]
    assert len(seconds) == 3 and np.all(np.diff(seconds) >= 0)
    assert 0 < seconds[-1] < 0.25  # the 0.5 s before the kernel's entry are not counted
    assert before + 0.5 <= result.trace.origin <= after - seconds[-1]


def test_epochs_split_over_kernel_calls_equal_one_call(monkeypatch):
    """Epochs are grouped into kernel calls of bounded size (Ctrl-C is heard between calls): the
    grouping changes nothing, stopping rule included."""
    import fastml.solvers.stochastic as stochastic

    X, raw, rng = _data()
    y = _targets("log_loss", raw, rng)
    objective = LinearObjective("log_loss", X, np.c_[y, y], l2=[1e-2, 1e-3])
    options = StochasticOptions(learning_rate=[0.05, 1e-6], tol=1e-3, n_iter_no_change=2, max_epochs=50,
                                random_state=1, trace_objective="running")
    whole = stochastic_gradient(objective, options=options)
    assert stochastic._epochs_per_call(objective, 50) == 50
    monkeypatch.setattr(stochastic, "MAX_VALUES_PER_CALL", 3 * X.size)  # three epochs per call
    assert stochastic._epochs_per_call(objective, 50) == 3
    split = stochastic_gradient(objective, options=options)
    assert_array_equal(split.params, whole.params)
    assert_array_equal(split.n_iter, whole.n_iter)
    assert len(set(split.n_iter.tolist())) > 1 and split.n_iter.max() > 3
    for column in ("iteration", "objective", "step"):
        assert_array_equal(split.trace[column], whole.trace[column])
    assert split.message == whole.message
