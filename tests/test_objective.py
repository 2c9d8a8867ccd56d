"""``fastml.LinearObjective``: values against numpy and scikit-learn, derivatives against finite
differences, the optimum against ``LogisticRegression``, packing, the intercept-only start, and
the errors raised on bad input.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, softmax, xlogy
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from fastml import LOSSES, LinearObjective, get_loss

PARAMS = {"huber": 1.0, "epsilon_insensitive": 0.1, "squared_epsilon_insensitive": 0.1}  # registry defaults
BINARY = {"log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"}
SMOOTH = ["squared_error", "huber", "squared_epsilon_insensitive", "log_loss", "squared_hinge",
          "modified_huber", "poisson", "multinomial"]
N_CLASSES = 3


def numpy_loss(name, y, raw):
    """Per-sample loss values, written out in numpy."""
    p = PARAMS.get(name, 0.0)
    r, z = raw - y, (2 * y - 1) * raw
    return {
        "squared_error": lambda: 0.5 * r**2,
        "huber": lambda: np.where(np.abs(r) <= p, 0.5 * r**2, p * np.abs(r) - 0.5 * p**2),
        "epsilon_insensitive": lambda: np.maximum(np.abs(r) - p, 0),
        "squared_epsilon_insensitive": lambda: np.maximum(np.abs(r) - p, 0) ** 2,
        "absolute_error": lambda: np.abs(r),
        "log_loss": lambda: np.logaddexp(0, raw) - y * raw,
        "hinge": lambda: np.maximum(0, 1 - z),
        "squared_hinge": lambda: np.maximum(0, 1 - z) ** 2,
        "modified_huber": lambda: np.where(z >= -1, np.maximum(0, 1 - z) ** 2, -4 * z),
        "perceptron": lambda: np.maximum(0, -z),
        "poisson": lambda: np.exp(raw) - y * raw + xlogy(y, y) - y,
    }[name]()


def make_data(name, n_samples=120, n_features=5, n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    if name == "multinomial":
        y = rng.integers(0, N_CLASSES, n_samples).astype(float)
    elif name in BINARY:
        y = (X[:, 0] + rng.standard_normal(n_samples) > 0).astype(float)
    elif name == "poisson":
        y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    else:
        y = X @ rng.standard_normal(n_features) + rng.standard_normal(n_samples)
    if n_targets > 1:
        y = np.column_stack([np.roll(y, k) for k in range(n_targets)])
    weight = rng.uniform(0.2, 2.0, n_samples)
    return X, y, weight


def random_parameters(objective, seed=1):
    return 0.3 * np.random.default_rng(seed).standard_normal(objective.n_params)


def finite_difference(function, w, step=1e-6):
    gradient = np.empty_like(w)
    for i in range(w.size):
        shift = np.zeros_like(w)
        shift[i] = step
        gradient[i] = (function(w + shift) - function(w - shift)) / (2 * step)
    return gradient


# -- values --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in LOSSES if n != "multinomial"])
def test_values_match_numpy_with_l2_l1_and_per_model_strengths(name):
    X, y, weight = make_data(name, n_targets=2)
    l2, l1 = np.array([0.3, 0.0]), np.array([0.0, 0.05])
    objective = LinearObjective(name, X, y, weight[:, None] * [1.0, 0.5], l2=l2, l1=l1)
    w = random_parameters(objective)
    matrix = w.reshape(X.shape[1] + 1, 2)
    coef, intercept = matrix[:-1], matrix[-1]
    sample_weight = weight[:, None] * [1.0, 0.5]
    expected = ((sample_weight * numpy_loss(name, y, X @ coef + intercept)).sum(axis=0) / sample_weight.sum(axis=0)
                + 0.5 * l2 * (coef**2).sum(axis=0) + l1 * np.abs(coef).sum(axis=0))
    np.testing.assert_allclose(objective.values(w), expected, rtol=1e-12)
    np.testing.assert_allclose(objective.value(w), expected.sum(), rtol=1e-12)
    # without L1 (proximal solvers): the same minus the L1 term
    smooth_value, _ = objective.smooth_value_and_gradient(w)
    np.testing.assert_allclose(smooth_value, (expected - l1 * np.abs(coef).sum(axis=0)).sum(), rtol=1e-12)


def test_logistic_value_matches_scikit_learn_log_loss():
    X, y, weight = make_data("log_loss")
    l2 = 0.07
    objective = LinearObjective("log_loss", X, y, weight, l2=l2)
    w = random_parameters(objective)
    coef, intercept = objective.unpack(w)
    probability = expit(X @ coef[:, 0] + intercept[0])
    expected = log_loss(y, probability, sample_weight=weight) + 0.5 * l2 * np.sum(coef**2)
    np.testing.assert_allclose(objective.value(w), expected, rtol=1e-12)


def test_multinomial_value_matches_scikit_learn_log_loss():
    X, y, weight = make_data("multinomial")
    objective = LinearObjective("multinomial", X, y, weight, l2=0.1)
    w = random_parameters(objective)
    coef, intercept = objective.unpack(w)
    assert coef.shape == (X.shape[1], N_CLASSES)
    probability = softmax(X @ coef + intercept, axis=1)
    expected = log_loss(y, probability, sample_weight=weight, labels=range(N_CLASSES)) + 0.05 * np.sum(coef**2)
    np.testing.assert_allclose(objective.value(w), expected, rtol=1e-12)
    assert objective.values(w).shape == (1,)


def test_sparse_and_float32_design_give_the_dense_values():
    X, y, weight = make_data("log_loss")
    X[np.abs(X) < 0.7] = 0.0
    dense = LinearObjective("log_loss", X, y, weight, l2=0.1)
    w = random_parameters(dense)
    value, gradient = dense.value_and_gradient(w)
    for other in (sp.csr_matrix(X), np.asfortranarray(X)):
        v, g = LinearObjective("log_loss", other, y, weight, l2=0.1).value_and_gradient(w)
        np.testing.assert_allclose(v, value, rtol=1e-12)
        np.testing.assert_allclose(g, gradient, rtol=1e-10, atol=1e-14)
    X32 = X.astype(np.float32)
    v32, g32 = LinearObjective("log_loss", X32, y, weight, l2=0.1).value_and_gradient(w)
    v64, g64 = LinearObjective("log_loss", X32.astype(np.float64), y, weight, l2=0.1).value_and_gradient(w)
    np.testing.assert_allclose(v32, v64, rtol=1e-12)
    np.testing.assert_allclose(g32, g64, rtol=1e-10, atol=1e-14)


# -- derivatives -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_is_finite_difference_of_value(name, fit_intercept):
    X, y, weight = make_data(name, n_samples=60, n_features=4)
    objective = LinearObjective(name, X, y, weight, l2=0.2, l1=0.03, fit_intercept=fit_intercept)
    w = random_parameters(objective)
    assert w.size == (4 + fit_intercept) * (N_CLASSES if name == "multinomial" else 1)
    np.testing.assert_allclose(objective.gradient(w), finite_difference(objective.value, w), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", SMOOTH)
def test_hessp_is_finite_difference_of_gradient_and_matches_hessian(name):
    X, y, weight = make_data(name, n_samples=60, n_features=4)
    objective = LinearObjective(name, X, y, weight, l2=0.2)
    w = random_parameters(objective)
    v = np.random.default_rng(5).standard_normal(w.size)
    hv = objective.hessp(w, v)
    step = 1e-6
    expected = (objective.gradient(w + step * v) - objective.gradient(w - step * v)) / (2 * step)
    np.testing.assert_allclose(hv, expected, rtol=1e-5, atol=1e-7)
    if name != "multinomial":
        hessian = objective.hessian(w)
        assert hessian.shape == (1, w.size, w.size)
        np.testing.assert_allclose(hessian[0] @ v, hv, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hessian[0], hessian[0].T, rtol=1e-12)


def test_hessian_of_k_models_on_csr_matches_hessp():
    X, y, weight = make_data("log_loss", n_targets=2)
    X[np.abs(X) < 0.5] = 0.0
    objective = LinearObjective("log_loss", sp.csr_matrix(X), y, weight, l2=[0.1, 0.4])
    w = random_parameters(objective)
    hessians = objective.hessian(w)
    p = X.shape[1] + 1
    assert hessians.shape == (2, p, p)
    rng = np.random.default_rng(6)
    for k in range(2):
        v = np.zeros((p, 2))
        v[:, k] = rng.standard_normal(p)
        np.testing.assert_allclose(objective.hessp(w, v.ravel()).reshape(p, 2)[:, k], hessians[k] @ v[:, k],
                                   rtol=1e-10, atol=1e-12)



def test_hessian_in_single_precision_blocks():
    """``gram_precision="single"``: float32 X's Hessian within 1e-5 of its diagonal scale (the start
    sample's preconditioner); float64 and CSR X are not rounded; an unknown precision is an error."""
    X, y, weight = make_data("log_loss")
    w = random_parameters(LinearObjective("log_loss", X, y, weight, l2=0.1))
    rounded = LinearObjective("log_loss", X.astype(np.float32), y, weight, l2=0.1)
    exact = rounded.hessian(w)[0]
    single = rounded.hessian(w, gram_precision="single")[0]
    scale = np.sqrt(np.diag(exact))
    assert np.max(np.abs(single - exact) / np.outer(scale, scale)) <= 1e-5
    for design in (X, sp.csr_matrix(X)):
        objective = LinearObjective("log_loss", design, y, weight, l2=0.1)
        np.testing.assert_array_equal(objective.hessian(w, gram_precision="single"), objective.hessian(w))
    with pytest.raises(ValueError, match="gram_precision must be 'double' or 'single'"):
        rounded.hessian(w, gram_precision="half")

def test_k_models_equal_separate_objectives():
    X, y, weight = make_data("squared_error", n_targets=3)
    sample_weight = weight[:, None] * [1.0, 0.0, 2.0] + np.eye(len(weight), 3).sum(axis=1)[:, None]
    l2 = np.array([0.0, 0.5, 2.0])
    together = LinearObjective("huber", X, y, sample_weight, l2=l2)
    w = random_parameters(together)
    values, gradient = together.values_and_gradients(w)
    for k in range(3):
        single = LinearObjective("huber", X, y[:, k], sample_weight[:, k], l2=l2[k])
        w_k = w.reshape(-1, 3)[:, k]
        value_k, gradient_k = single.value_and_gradient(w_k)
        np.testing.assert_allclose(values[k], value_k, rtol=1e-12)
        np.testing.assert_allclose(gradient[:, k], gradient_k, rtol=1e-12, atol=1e-15)


# -- optimum against scikit-learn ----------------------------------------------------------------------
def _minimize(objective):
    result = minimize(objective.value_and_gradient, objective.initial_parameters(), jac=True,
                      hessp=objective.hessp, method="trust-ncg", options={"gtol": 1e-11, "maxiter": 500})
    # the softmax Hessian is singular along a common shift of the intercepts, where trust-ncg may stop
    # with "bad approximation" at a point that is nonetheless stationary: check the gradient itself
    assert np.abs(objective.gradient(result.x)).max() < 1e-9, result.message
    return objective.unpack(result.x)


@pytest.mark.parametrize("name", ["log_loss", "multinomial"])
def test_optimum_matches_scikit_learn_logistic_regression(name):
    X, y, weight = make_data(name, n_samples=150)
    C = 0.5
    objective = LinearObjective(name, X, y, weight, l2=1.0 / (C * weight.sum()))
    coef, intercept = _minimize(objective)
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    model.fit(X, y, sample_weight=weight)
    if name == "log_loss":
        np.testing.assert_allclose(coef[:, 0], model.coef_[0], atol=1e-6)
        np.testing.assert_allclose(intercept, model.intercept_, atol=1e-6)
    else:  # the intercepts of a softmax are defined up to a common shift
        np.testing.assert_allclose(coef, model.coef_.T, atol=1e-6)
        np.testing.assert_allclose(intercept - intercept.mean(), model.intercept_ - model.intercept_.mean(), atol=1e-6)
        np.testing.assert_allclose(log_softmax(X @ coef + intercept, axis=1), model.predict_log_proba(X), atol=1e-6)


def test_without_intercept_matches_scikit_learn():
    X, y, _ = make_data("log_loss")
    C = 2.0
    objective = LinearObjective("log_loss", X, y, l2=1.0 / (C * len(y)), fit_intercept=False)
    assert objective.n_params == X.shape[1]
    coef, intercept = _minimize(objective)
    np.testing.assert_array_equal(intercept, 0.0)
    model = LogisticRegression(C=C, fit_intercept=False, solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(coef[:, 0], model.coef_[0], atol=1e-6)


# -- parameters -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["squared_error", "multinomial"])
def test_pack_unpack_round_trip(name, fit_intercept):
    X, y, _ = make_data(name, n_features=4)
    objective = LinearObjective(name, X, y, fit_intercept=fit_intercept)
    w = random_parameters(objective)
    coef, intercept = objective.unpack(w)
    n_outputs = N_CLASSES if name == "multinomial" else 1
    assert coef.shape == (4, n_outputs) and intercept.shape == (n_outputs,)
    np.testing.assert_array_equal(objective.pack(coef, intercept), w)
    # the layout: C-order ravel of (n_features + fit_intercept, n_outputs), intercept last
    np.testing.assert_array_equal(coef, w.reshape(-1, n_outputs)[:4])
    if fit_intercept:
        np.testing.assert_array_equal(intercept, w.reshape(-1, n_outputs)[4])
    else:
        np.testing.assert_array_equal(intercept, 0.0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["squared_error", "log_loss", "poisson", "multinomial"])
def test_initial_parameters_are_the_intercept_only_optimum(name, weighted):
    X, y, weight = make_data(name)
    objective = LinearObjective(name, X, y, weight if weighted else None, l2=0.3)
    w = objective.initial_parameters()
    coef, _ = objective.unpack(w)
    np.testing.assert_array_equal(coef, 0.0)
    gradient = objective.gradient(w).reshape(objective.coef_shape)
    np.testing.assert_allclose(gradient[-1], 0.0, atol=1e-10)  # intercept row
    assert np.abs(gradient[:-1]).max() > 1e-3  # while the coefficients do have a gradient


def test_initial_parameters_without_intercept_are_zero():
    X, y, _ = make_data("log_loss")
    np.testing.assert_array_equal(LinearObjective("log_loss", X, y, fit_intercept=False).initial_parameters(), 0.0)


# -- no copy of X ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_x_is_not_copied(dtype, order):
    X, y, _ = make_data("squared_error")
    X = np.asarray(X, dtype=dtype, order=order)
    objective = LinearObjective("squared_error", X, y)
    assert np.shares_memory(objective.X.dense, X)
    assert objective.X.dtype == dtype
    assert X.flags.writeable  # the caller's array is left writable (the objective holds a read-only view)


def test_csr_x_is_not_copied():
    X, y, _ = make_data("squared_error")
    X = sp.csr_matrix(X)
    objective = LinearObjective("squared_error", X, y)
    assert np.shares_memory(objective.X.csr[0], X.data)


# -- bad input ----------------------------------------------------------------------------------------------
def _bad(**changes):
    X, y, weight = make_data("log_loss", n_samples=20)
    arguments = {"loss": "log_loss", "X": X, "y": y, "sample_weight": weight} | changes
    return LinearObjective(arguments.pop("loss"), arguments.pop("X"), arguments.pop("y"), **arguments)


def _with_nan(array, index):
    array = np.array(array, dtype=float)
    array[index] = np.nan
    return array


@pytest.mark.parametrize("changes, error, match", [
    ({"X": _with_nan(make_data("log_loss", 20)[0], (3, 1))}, ValueError, "X contains NaN"),
    ({"X": sp.csr_matrix(_with_nan(make_data("log_loss", 20)[0], (3, 1)))}, ValueError, "X contains NaN"),
    ({"y": _with_nan(make_data("log_loss", 20)[1], 2)}, ValueError, "NaN"),
    ({"y": np.zeros(19)}, ValueError, "y must have shape"),
    ({"X": np.zeros(20)}, ValueError, "2-D"),
    ({"sample_weight": np.ones(21)}, ValueError, "sample_weight must have shape"),
    ({"sample_weight": -np.ones(20)}, ValueError, "non-negative"),
    ({"sample_weight": np.zeros(20)}, ValueError, "sums to zero"),
    ({"y": np.arange(20) % 3}, ValueError, "0 or 1"),
    ({"loss": "poisson", "y": np.arange(20) - 1.0}, ValueError, "non-negative"),
    ({"X": sp.coo_matrix(np.eye(20, 3))}, TypeError, "CSR"),
    ({"X": sp.csc_matrix(np.eye(20, 3))}, TypeError, "CSR"),
    ({"X": np.array([["a"] * 3] * 20)}, TypeError, "numeric"),
    ({"loss": "squared_errors"}, ValueError, "squared_error"),
    ({"y": np.ones((20, 3)), "l2": [0.1, 0.2]}, ValueError, "number of models"),
    ({"l2": [0.1, 0.2], "l1": [0.1, 0.2, 0.3]}, ValueError, "number of models"),
    ({"l2": -1.0}, ValueError, "l2 must be finite and non-negative"),
    ({"l1": np.nan}, ValueError, "l1 must be finite and non-negative"),
    ({"l2": np.ones((2, 2))}, ValueError, "l2"),
    ({"loss": "multinomial", "y": np.ones((20, 2))}, ValueError, "multinomial"),
    ({"loss": "multinomial", "y": np.arange(20) % 3 + 0.5}, ValueError, "class indices"),
    ({"loss": "multinomial", "y": np.arange(20) % 4, "n_classes": 3}, ValueError, "n_classes"),
    ({"n_threads": 0}, ValueError, "n_threads"),
])
def test_bad_input_raises_a_clear_error(changes, error, match):
    with pytest.raises(error, match=match):
        objective = _bad(**changes)
        objective.value(objective.initial_parameters())  # the owed check of X is settled here


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ValueError) as info:
        LinearObjective("nonsense", np.eye(3), np.ones(3))
    for name in LOSSES:
        assert name in str(info.value)


def test_per_model_l2_defines_the_number_of_models():
    X, y, _ = make_data("squared_error")
    objective = LinearObjective(get_loss("huber", delta=0.5), X, y, l2=[0.1, 0.2, 0.3])
    assert objective.n_models == 3 and objective.coef_shape == (X.shape[1] + 1, 3)
    values = objective.values(np.zeros(objective.n_params))
    huber = np.where(np.abs(y) <= 0.5, 0.5 * y**2, 0.5 * np.abs(y) - 0.125)  # delta = 0.5, raw = 0
    np.testing.assert_allclose(values, np.full(3, huber.mean()), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "both infinities"])
def test_non_finite_x_is_found_by_the_sum_shortcut_and_huge_finite_x_is_accepted(bad, dtype):
    X, y = make_data("squared_error", 50)[:2]
    X = X.astype(dtype)
    if bad == "both infinities":  # +inf and -inf: the sum is NaN
        X[3, 1], X[7, 2] = np.inf, -np.inf
    else:
        X[3, 1] = bad
    for design in (X, sp.csr_matrix(X)):
        objective = LinearObjective("squared_error", design, y)
        away_from_zero = np.full(objective.n_params, 0.1)  # not the settling pass: the full check runs
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            objective.values(away_from_zero)
    huge = np.full_like(X, np.finfo(dtype).max / 4)  # finite, but their sum overflows
    objective = LinearObjective("squared_error", huge, y)
    objective.X.check_finite()
    assert not objective.X.finite_check_owed


def _layouts(X):
    return {"C": np.ascontiguousarray(X), "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["C", "F", "csr"])
def test_owed_finiteness_check_is_settled_by_the_first_pass(name, bad, layout, monkeypatch):
    """The first evaluation at finite parameters proves X finite (every loss, dense and CSR) and
    finds a NaN/inf by itself, including in a row of weight zero and a row whose loss would be flat."""
    X, y, _ = make_data(name, 60)
    X = X.astype(np.float32) if layout == "F" else X
    weights = np.ones(len(y))
    weights[7] = 0.0
    clean = LinearObjective(name, _layouts(X)[layout], y, weights)
    assert clean.X.finite_check_owed
    full_checks = []
    original = type(clean.X).check_finite
    monkeypatch.setattr(type(clean.X), "check_finite", lambda self: full_checks.append(1) or original(self))
    start = clean.initial_parameters()
    value = clean.value(start)
    assert np.isfinite(value) and not clean.X.finite_check_owed and not full_checks
    # any finite start settles it as well (a sample start or a warm start is not at zero)
    elsewhere = LinearObjective(name, _layouts(X)[layout], y, weights)
    assert np.isfinite(elsewhere.value(0.1 * np.ones(elsewhere.n_params)))
    assert not elsewhere.X.finite_check_owed and not full_checks
    for row in (7, 11):  # weight zero, weight one
        dirty = X.copy()
        dirty[row, 2] = bad
        objective = LinearObjective(name, _layouts(dirty)[layout], y, weights)
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            objective.value(objective.initial_parameters())
    assert full_checks  # the error message comes from the full check


@pytest.mark.parametrize("layout", ["C", "csr"])
def test_owed_finiteness_check_runs_before_any_other_read_of_X(layout):
    X, y, _ = make_data("log_loss", 40)
    X[5, 1] = np.nan
    reads = {
        "nonzero start": lambda objective: objective.value(np.full(objective.n_params, 0.1)),
        "a start whose raw predictions overflow": lambda objective: objective.value(np.full(objective.n_params, 1e308)),
        "hessp": lambda objective: objective.hessp(np.zeros(objective.n_params), np.ones(objective.n_params)),
        "hessian": lambda objective: objective.hessian(np.zeros(objective.n_params)),
        "raw prediction": lambda objective: objective.X.raw_prediction(np.zeros((X.shape[1], 1)), np.zeros(1)),
    }
    for name, read in reads.items():
        objective = LinearObjective("log_loss", _layouts(X)[layout], y)
        with pytest.raises(ValueError, match="Input X contains NaN"):
            read(objective)
    unchecked = LinearObjective("log_loss", _layouts(X)[layout], y, check_X=False)
    assert not unchecked.X.finite_check_owed and np.isnan(unchecked.value(np.zeros(unchecked.n_params)))


@pytest.mark.parametrize("layout", ["C", "F", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_count_nonfinite_raw_predictions(layout, dtype):
    from fastml.kernels import objective_csr, objective_dense

    rng = np.random.default_rng(3)
    X = rng.standard_normal((700, 6)).astype(dtype)
    bad_rows = [0, 129, 130, 699]  # across block and chunk boundaries
    X[0, 0], X[129, 5], X[130, 2], X[699, 3] = np.nan, np.inf, -np.inf, np.nan
    X[130, 4] = np.nan  # two bad values in one row still make one bad raw prediction per model
    y = np.zeros((700, 1))
    weights = np.ones((700, 1))
    for n_models, coef_value in ((1, 0.0), (3, 0.0), (1, 0.5)):
        coef = np.full((6, n_models), coef_value)
        outputs = (np.empty(n_models), np.empty((6, n_models)), np.empty(n_models), np.zeros(1, dtype=np.int64))
        args = (y, weights, coef, np.zeros(n_models), 0, 0.0, 2, *outputs)
        design = _layouts(X)[layout]
        if layout == "csr":
            objective_csr.loss_grad_csr(design.data, design.indices.astype(np.int64), design.indptr.astype(np.int64),
                                        6, *args)
        else:
            objective_dense.loss_grad_dense(design, *args, np.zeros((0, 0)))
        raw = np.where(np.isfinite(X).all(axis=1), 0.0, np.nan)  # 0 * x is NaN for x = NaN or +-inf
        expected = len(bad_rows) * n_models
        if coef_value:
            raw = X.astype(np.float64) @ coef[:, 0]
            expected = int((~np.isfinite(raw)).sum())
        assert outputs[3][0] == expected
