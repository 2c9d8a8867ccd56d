"""Newton (Cholesky and CG) against scipy's L-BFGS-B and scikit-learn, batched against separate runs."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, PoissonRegressor

import fastml
from fastml.solvers.newton import NewtonOptions, newton, solve_newton_system
from solver_problems import (  # tests/solvers is on sys.path (pytest's default import mode)
    HESSIAN_LOSSES, check_trace, fold_weights, make_data, make_objective, model_objective,
    model_params, relative_gap, scipy_reference,
)

TIGHT = NewtonOptions(tol=1e-10)


@pytest.mark.parametrize("loss", HESSIAN_LOSSES)
def test_reaches_scipy_optimum(loss, storage, dtype):
    objective = make_objective(loss, storage, dtype)
    _, reference = scipy_reference(objective)
    result = newton(objective, options=TIGHT)
    assert result.converged and result.message == "converged"
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    assert result.info["method"] == ("newton-cg" if loss == "multinomial" else "newton-cholesky")
    assert result.n_iter <= 12  # quadratic convergence, not a slow crawl
    check_trace(result)


def test_squared_error_takes_one_newton_step():
    objective = make_objective("squared_error", l2=1e-3)
    result = newton(objective, options=TIGHT)
    assert result.n_iter == 1
    _, reference = scipy_reference(objective)
    assert relative_gap(objective.value(result.params), reference) <= 1e-12


def test_cg_variant_matches_cholesky():
    objective = make_objective("log_loss", "csr")
    cholesky = newton(objective, options=TIGHT)
    cg = newton(objective, options=NewtonOptions(tol=1e-10, method="cg"))
    assert cg.info["method"] == "newton-cg" and cg.converged
    np.testing.assert_allclose(cg.params, cholesky.params, atol=1e-8)


def test_matches_scikit_learn_newton_cholesky_and_poisson():
    X, y = make_data("log_loss", n_samples=400)
    l2 = 1e-2
    objective = fastml.LinearObjective("log_loss", X, y, l2=l2)
    model = LogisticRegression(C=1.0 / (l2 * len(y)), solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    result = newton(objective, options=TIGHT)
    np.testing.assert_allclose(result.params, np.r_[model.coef_.ravel(), model.intercept_], atol=1e-7)

    X, y = make_data("poisson")
    objective = fastml.LinearObjective("poisson", X, y, l2=1e-2)
    model = PoissonRegressor(alpha=1e-2, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    result = newton(objective, options=TIGHT)
    np.testing.assert_allclose(result.params, np.r_[model.coef_, model.intercept_], atol=1e-7)


@pytest.mark.parametrize("batch", ["l2", "folds"])
def test_batched_equals_separate_runs(batch, storage):
    if batch == "l2":
        objective = make_objective("log_loss", storage, l2=np.array([1e-1, 1e-2, 1e-3]))
    else:
        objective = make_objective("log_loss", storage, l2=1e-2, sample_weight=fold_weights(300))
    batched = newton(objective, options=TIGHT)
    assert batched.n_iter.shape == (3,) and batched.converged.all()
    separate_evaluations = []
    for k in range(3):
        separate = newton(model_objective(objective, k), options=TIGHT)
        separate_evaluations.append(separate.info["n_evaluations"])
        np.testing.assert_allclose(model_params(objective, batched.params, k), separate.params, atol=1e-9)
        assert abs(batched.n_iter[k] - separate.n_iter) <= 1
    assert batched.info["n_evaluations"] <= max(separate_evaluations) + 2


def test_singular_hessian_falls_back_and_stays_finite():
    # duplicated column and no L2: the Hessian of the squared error is singular
    X, y = make_data("squared_error")
    X = np.hstack([X, X[:, :1]])
    objective = fastml.LinearObjective("squared_error", X, y, l2=0.0)
    result = newton(objective, options=NewtonOptions(tol=1e-9))
    assert result.info["systems"]["cholesky"] == 0 and result.converged
    assert np.all(np.isfinite(result.params)) and np.abs(result.params).max() < 1e3
    _, reference = scipy_reference(objective)
    assert relative_gap(objective.value(result.params), reference) <= 1e-10


def test_solve_newton_system_fallbacks():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 5))
    spd = A @ A.T + np.eye(5)
    g = rng.standard_normal(5)
    direction, how = solve_newton_system(spd, g)
    assert how == "cholesky"
    np.testing.assert_allclose(spd @ direction, -g, atol=1e-10)
    singular = np.diag([2.0, 1.0, 0.0, 0.0, 0.0])
    direction, how = solve_newton_system(singular, np.array([2.0, 1.0, 0.0, 0.0, 0.0]))
    assert how in ("shifted", "lstsq") and np.all(np.isfinite(direction))
    np.testing.assert_allclose(direction[:2], [-1.0, -1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="Hessian is not finite"):
        solve_newton_system(np.full((2, 2), np.nan), np.ones(2))


def test_callback_stops():
    objective = make_objective("poisson")
    result = newton(objective, options=TIGHT, callback=lambda info: info.iteration == 2)
    assert result.n_iter == 2 and result.message == "stopped by callback"
    check_trace(result)


def test_non_finite_data_raises_with_advice():
    X, y = make_data("log_loss")
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="not finite.*standardize X"):
        newton(fastml.LinearObjective("log_loss", X, y, check_input=False))


def test_rejects_problems_it_cannot_solve():
    X, y = make_data("log_loss")
    with pytest.raises(ValueError, match="not differentiable"):
        newton(fastml.LinearObjective("hinge", X, y))
    with pytest.raises(ValueError, match="L1 penalty"):
        newton(fastml.LinearObjective("log_loss", X, y, l1=0.1))
    with pytest.raises(ValueError, match="multinomial Hessian"):
        newton(make_objective("multinomial"), options=NewtonOptions(method="cholesky"))
    with pytest.raises(ValueError, match="method"):
        NewtonOptions(method="bfgs")
