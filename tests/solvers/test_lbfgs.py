"""L-BFGS against scipy's L-BFGS-B and scikit-learn, batched against separate runs."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge

import fastml
from fastml.solvers._preconditioner import AUTO_PATIENCE
from fastml.solvers.lbfgs import LBFGSOptions, lbfgs
from solver_problems import (  # tests/solvers is on sys.path (pytest's default import mode)
    SMOOTH_LOSSES, check_trace, fold_weights, make_data, make_objective, model_objective,
    model_params, relative_gap, scipy_reference,
)

TIGHT = LBFGSOptions(tol=1e-10)


# the multinomial loss is never preconditioned (tested below)
@pytest.mark.parametrize("loss, preconditioner", [(loss, preconditioner) for loss in SMOOTH_LOSSES
                                                  for preconditioner in ("hessian", "none")
                                                  if (loss, preconditioner) != ("multinomial", "hessian")])
def test_reaches_scipy_optimum(loss, storage, dtype, preconditioner):
    objective = make_objective(loss, storage, dtype)
    _, reference = scipy_reference(objective)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-10, preconditioner=preconditioner))
    assert result.info["preconditioned"] == (preconditioner == "hessian")
    assert result.converged and result.message == "converged"
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    assert np.abs(objective.gradient(result.params)).max() <= 1e-7
    check_trace(result)
    # L-BFGS with a Wolfe line search decreases the objective at every iteration
    assert np.all(np.diff(result.trace["objective"]) <= 1e-15 * abs(reference))


def test_matches_scikit_learn_logistic_regression():
    X, y = make_data("log_loss", n_samples=400)
    l2 = 1e-2
    objective = fastml.LinearObjective("log_loss", X, y, l2=l2)
    result = lbfgs(objective, options=TIGHT)
    model = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-12, max_iter=10000).fit(X, y)
    reference = objective.value(np.r_[model.coef_.ravel(), model.intercept_])
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    np.testing.assert_allclose(result.params, np.r_[model.coef_.ravel(), model.intercept_], atol=1e-6)


def test_matches_scikit_learn_poisson_and_ridge():
    X, y = make_data("poisson")
    objective = fastml.LinearObjective("poisson", X, y, l2=1e-2)
    model = PoissonRegressor(alpha=1e-2, tol=1e-12, max_iter=10000).fit(X, y)
    result = lbfgs(objective, options=TIGHT)
    np.testing.assert_allclose(result.params, np.r_[model.coef_, model.intercept_], atol=1e-6)

    X, y = make_data("squared_error")
    objective = fastml.LinearObjective("squared_error", sp.csr_matrix(X), y, l2=1e-1)
    model = Ridge(alpha=1e-1 * len(y), solver="cholesky").fit(X, y)  # closed form
    result = lbfgs(objective, options=TIGHT)
    np.testing.assert_allclose(result.params, np.r_[model.coef_, model.intercept_], atol=1e-8)


def test_multinomial_is_one_model():
    objective = make_objective("multinomial", l2=1e-2)
    result = lbfgs(objective, options=TIGHT)
    assert objective.n_models == 1 and isinstance(result.n_iter, int) and isinstance(result.converged, bool)
    assert result.params.shape == (objective.n_params,)


@pytest.mark.parametrize("batch", ["l2", "folds"])
@pytest.mark.parametrize("loss", ["log_loss", "poisson"])
def test_batched_equals_separate_runs(loss, batch, storage):
    if batch == "l2":
        objective = make_objective(loss, storage, l2=np.array([1e-1, 1e-2, 1e-3]))
    else:
        objective = make_objective(loss, storage, l2=1e-2, sample_weight=fold_weights(300))
    batched = lbfgs(objective, options=TIGHT)
    assert batched.n_iter.shape == (3,) and batched.converged.all()
    separate_evaluations = []
    for k in range(3):
        single = model_objective(objective, k)
        separate = lbfgs(single, options=TIGHT)
        separate_evaluations.append(separate.info["n_evaluations"])
        np.testing.assert_allclose(model_params(objective, batched.params, k), separate.params, atol=1e-8)
        assert relative_gap(single.value(model_params(objective, batched.params, k)),
                            single.value(separate.params)) <= 1e-10
        # the same path: iteration counts agree up to rounding-level differences at the end
        assert abs(batched.n_iter[k] - separate.n_iter) <= 2
    # one objective call serves every model's line-search step: about as many calls as the longest
    # separate run, fewer than all separate runs together. At tol=1e-10 a model can reach the rounding
    # floor of its objective (|g| ~ 1e-8 here) where one line search finds no decrease before the
    # model is declared converged: that search's evaluations are allowed for on top
    allowance = 1.2 * max(separate_evaluations) + 2 + TIGHT.max_line_search
    assert batched.info["n_evaluations"] <= min(allowance, sum(separate_evaluations) + TIGHT.max_line_search)


def test_converged_models_keep_their_parameters():
    objective = make_objective("log_loss", l2=np.array([1e-1, 1e-3]))
    first = lbfgs(objective, options=TIGHT)
    # restarted at the optimum of model 0 only: model 0 does not move while model 1 iterates
    w0 = first.params.reshape(objective.coef_shape).copy()
    w0[:, 1] = objective.initial_parameters().reshape(objective.coef_shape)[:, 1]
    second = lbfgs(objective, w0=w0.ravel(), options=LBFGSOptions(tol=1e-6))
    assert second.n_iter[0] == 0 and second.n_iter[1] > 5
    np.testing.assert_array_equal(second.params.reshape(objective.coef_shape)[:, 0], w0[:, 0])


def test_callback_stops_and_sees_each_iteration():
    objective = make_objective("log_loss")
    seen = []

    def callback(info):
        seen.append((info.iteration, info.objective, info.params.copy()))
        return info.iteration == 3

    result = lbfgs(objective, options=TIGHT, callback=callback)
    assert result.n_iter == 3 and not result.converged and result.message == "stopped by callback"
    assert [row[0] for row in seen] == [1, 2, 3]
    np.testing.assert_array_equal(seen[-1][2], result.params)
    assert seen[-1][1] == pytest.approx(objective.value(result.params), rel=1e-12)
    check_trace(result)


def test_warm_start_at_the_optimum_takes_no_iteration():
    objective = make_objective("squared_error")
    w, _ = scipy_reference(objective)
    result = lbfgs(objective, w0=w, options=LBFGSOptions(tol=1e-6))
    assert result.n_iter == 0 and result.converged


def test_max_iter_reports_not_converged():
    result = lbfgs(make_objective("log_loss"), options=LBFGSOptions(max_iter=2, tol=1e-12))
    assert result.n_iter == 2 and not result.converged and "max_iter" in result.message


def test_non_finite_data_raises_with_advice():
    X, y = make_data("squared_error")
    X[5, 2] = np.nan
    objective = fastml.LinearObjective("squared_error", X, y, check_input=False)
    with pytest.raises(ValueError, match="not finite.*standardize X"):
        lbfgs(objective)
    X, y = make_data("squared_error")
    objective = fastml.LinearObjective("squared_error", X * 1e160, y)  # squares overflow
    with pytest.raises(ValueError, match="not finite"):
        lbfgs(objective, w0=np.ones(objective.n_params))


@pytest.mark.parametrize("loss, l1, match", [("hinge", 0.0, "not differentiable"),
                                             ("absolute_error", 0.0, "not differentiable"),
                                             ("squared_error", 0.1, "L1 penalty")])
def test_rejects_non_smooth_problems(loss, l1, match):
    X, y = make_data("log_loss")
    with pytest.raises(ValueError, match=match):
        lbfgs(fastml.LinearObjective(loss, X, y, l1=l1))


def test_rejects_bad_options_and_start():
    for bad in ({"memory": 0}, {"tol": -1.0}, {"max_iter": 1.5}, {"c1": 0.95}, {"preconditioner": "diag"}):
        with pytest.raises(ValueError):
            LBFGSOptions(**bad)
    objective = make_objective("squared_error")
    with pytest.raises(TypeError, match="LBFGSOptions"):
        lbfgs(objective, options={"tol": 1e-3})
    with pytest.raises(ValueError, match="w0 must have"):
        lbfgs(objective, w0=np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        lbfgs(objective, w0=np.full(objective.n_params, np.nan))


# -- the sampled-Hessian preconditioner ------------------------------------------------------------------

def _badly_scaled_logistic(n_samples, seed=0):
    """Features spanning three orders of magnitude: plain L-BFGS needs hundreds of iterations."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-1.5, 1.5, 12)
    X = rng.standard_normal((n_samples, 12)) * scales
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-(X / scales) @ rng.standard_normal(12)))).astype(float)
    return X, y


@pytest.mark.parametrize("n_samples", [500, 30_000])  # all rows / a systematic sample of the rows
def test_preconditioner_cuts_iterations_on_badly_scaled_data(n_samples):
    X, y = _badly_scaled_logistic(n_samples)
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-3)
    _, reference = scipy_reference(objective)
    plain = lbfgs(objective, options=LBFGSOptions(tol=1e-8, preconditioner="none", max_iter=5000))
    auto = lbfgs(objective, options=LBFGSOptions(tol=1e-8, max_iter=5000))
    assert auto.info["preconditioned"] and not plain.info["preconditioned"]
    assert auto.converged and relative_gap(objective.value(auto.params), reference) <= 1e-10
    assert auto.info["n_evaluations"] * 4 < plain.info["n_evaluations"]


def test_auto_skips_well_conditioned_problems_and_multinomial():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, 5))
    y = (X[:, 0] + rng.standard_normal(2000) > 0).astype(float)
    result = lbfgs(fastml.LinearObjective("log_loss", X, y, l2=1e-2), options=TIGHT)
    assert result.converged and not result.info["preconditioned"]  # condition number < 100
    multinomial = make_objective("multinomial", l2=1e-2)
    assert not lbfgs(multinomial, options=TIGHT).info["preconditioned"]
    with pytest.raises(ValueError, match="one-score losses"):
        lbfgs(multinomial, options=LBFGSOptions(preconditioner="hessian"))


def test_preconditioned_batch_equals_separate_runs_with_an_unweighted_sample():
    """Model 1's weights vanish on the sampled rows: it runs unpreconditioned, to the same optimum."""
    X, y = _badly_scaled_logistic(30_000, seed=2)
    weights = np.ones((30_000, 2))
    weights[::3, 1] = 0.0  # the sample of 10 000 rows is every third row
    objective = fastml.LinearObjective("log_loss", X, np.c_[y, y], weights, l2=1e-3)
    options = LBFGSOptions(tol=1e-9, max_iter=5000)
    batched = lbfgs(objective, options=options)
    assert batched.info["preconditioned"].tolist() == [True, False] and batched.converged.all()
    for k in range(2):
        single = model_objective(objective, k)
        separate = lbfgs(single, options=options)
        assert relative_gap(single.value(model_params(objective, batched.params, k)),
                            single.value(separate.params)) <= 1e-10


@pytest.mark.parametrize("row_step", [1, 3])
def test_sampled_hessian_is_the_hessian_of_the_sampled_rows(row_step, storage, dtype):
    objective = make_objective("log_loss", storage, dtype, l2=1e-2)
    rng = np.random.default_rng(3)
    w = rng.standard_normal(objective.n_params) * 0.3
    X = objective.X
    dense = (sp.csr_matrix(X.csr, shape=X.shape).toarray() if X.is_sparse else np.asarray(X.dense)).astype(float)
    rows = slice(None, None, row_step)
    A = np.c_[dense[rows], np.ones(dense[rows].shape[0])]
    weights = objective.sample_weight[rows, 0]
    p = 1.0 / (1.0 + np.exp(-(A @ w)))
    expected = (A * (weights * p * (1 - p))[:, None]).T @ A / weights.sum()
    expected[np.arange(A.shape[1] - 1), np.arange(A.shape[1] - 1)] += 1e-2
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(objective.hessian(w, row_step=row_step)[0], expected, rtol=tolerance, atol=tolerance)
    with pytest.raises(ValueError, match="row_step"):
        objective.hessian(w, row_step=0)


# -- the compiled single-model loop --------------------------------------------------------------------

@pytest.mark.parametrize("loss, preconditioner", [("log_loss", "hessian"), ("log_loss", "none"),
                                                  ("poisson", "auto"), ("multinomial", "auto")])
def test_compiled_loop_follows_the_python_loop(loss, preconditioner, storage, dtype):
    """Same algorithm, same path (the two sum dot products in different orders: equal to rounding)."""
    objective = make_objective(loss, storage, dtype, l2=1e-3)
    runs = {driver: lbfgs(objective, options=LBFGSOptions(tol=1e-6, preconditioner=preconditioner, driver=driver))
            for driver in ("compiled", "python")}
    compiled, python = runs["compiled"], runs["python"]
    assert compiled.converged and python.converged
    # after AUTO_PATIENCE iterations "auto" restarts the compiled loop: one repeated evaluation
    restarted = preconditioner == "auto" and python.n_iter > AUTO_PATIENCE
    assert compiled.n_iter == python.n_iter
    assert compiled.info["n_evaluations"] == python.info["n_evaluations"] + restarted
    assert compiled.info["preconditioned"] == python.info["preconditioned"]
    np.testing.assert_allclose(compiled.trace["objective"], python.trace["objective"], rtol=1e-10)
    np.testing.assert_allclose(compiled.params, python.params, rtol=0, atol=1e-7)
    _, reference = scipy_reference(objective)
    assert relative_gap(objective.value(compiled.params), reference) <= 1e-8
    assert np.all(np.diff(compiled.trace["seconds"]) >= 0) and len(compiled.trace) == compiled.n_iter + 1


def test_compiled_loop_reports_max_iter_and_non_finite_data():
    objective = make_objective("log_loss")
    result = lbfgs(objective, options=LBFGSOptions(max_iter=2, tol=1e-14, driver="compiled"))
    assert not result.converged and result.n_iter == 2 and result.message == "reached max_iter=2"
    X, y = make_data("poisson")
    exploding = fastml.LinearObjective("poisson", X * 1e3, y)
    with pytest.raises(ValueError, match="not finite"):
        lbfgs(exploding, w0=np.full(exploding.n_params, 10.0), options=LBFGSOptions(driver="compiled"))


def test_compiled_driver_needs_one_model_and_no_callback():
    batched = make_objective("log_loss", l2=np.array([1e-2, 1e-3]))
    with pytest.raises(ValueError, match="one model"):
        lbfgs(batched, options=LBFGSOptions(driver="compiled"))
    with pytest.raises(ValueError, match="driver"):
        LBFGSOptions(driver="fortran")
    # "auto" hands a callback run to the Python loop, which calls it
    seen = []
    lbfgs(make_objective("log_loss"), callback=lambda info: seen.append(info.iteration))
    assert seen and seen[0] == 1


def test_auto_on_data_larger_than_the_sample_defers_the_preconditioner():
    """Plain L-BFGS first: a problem solved within AUTO_PATIENCE iterations never builds it."""
    from fastml.solvers._preconditioner import MIN_SAMPLE_ROWS

    rng = np.random.default_rng(4)
    X = rng.standard_normal((3 * MIN_SAMPLE_ROWS, 5))
    y = (X[:, 0] + rng.standard_normal(len(X)) > 0).astype(float)
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-2)
    auto = lbfgs(objective, options=LBFGSOptions(tol=1e-8, driver="python"))
    plain = lbfgs(objective, options=LBFGSOptions(tol=1e-8, driver="python", preconditioner="none"))
    assert auto.n_iter < AUTO_PATIENCE and not auto.info["preconditioned"]
    np.testing.assert_array_equal(auto.params, plain.params)


def test_auto_switch_to_the_preconditioner_is_the_same_in_both_drivers():
    """Badly scaled: both drivers run AUTO_PATIENCE plain iterations, then restart preconditioned."""
    X, y = _badly_scaled_logistic(500)
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-3)
    runs = {driver: lbfgs(objective, options=LBFGSOptions(tol=1e-7, max_iter=5000, driver=driver))
            for driver in ("compiled", "python")}
    compiled, python = runs["compiled"], runs["python"]
    assert compiled.info["preconditioned"] and python.info["preconditioned"]
    assert AUTO_PATIENCE < compiled.n_iter == python.n_iter
    assert compiled.info["n_evaluations"] == python.info["n_evaluations"] + 1
    np.testing.assert_array_equal(compiled.trace["iteration"], np.arange(compiled.n_iter + 1))
    assert np.all(np.diff(compiled.trace["seconds"]) >= 0)
    np.testing.assert_allclose(compiled.trace["objective"], python.trace["objective"], rtol=1e-10)
    _, reference = scipy_reference(objective)
    assert relative_gap(objective.value(compiled.params), reference) <= 1e-10
