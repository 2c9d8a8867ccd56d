"""Proximal Newton (coordinate descent on each quadratic model) against independent references."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

import fastml
from fastml.solvers.gradient_descent import minimum_norm_subgradients
from fastml.solvers.newton import NewtonOptions, newton
from fastml.solvers.proximal_newton import ProximalNewtonOptions, proximal_newton, quadratic_model_step
from fastml.solvers._line_search import ModelView
from solver_problems import (  # tests/solvers is on sys.path (pytest's default import mode)
    check_trace, fold_weights, l1_reference, make_data, make_objective, model_objective, model_params,
    relative_gap, scipy_reference,
)

TIGHT = ProximalNewtonOptions(tol=1e-10)


def kkt_violation(objective, params):
    """Largest violation of the L1 optimality conditions (0 at the optimum of a convex problem)."""
    view = ModelView(objective)
    models = view.split(params)
    _, gradients = view.evaluate(models, include_l1=False)
    return minimum_norm_subgradients(view, models, gradients).max()


@pytest.mark.parametrize("loss", ["log_loss", "poisson", "squared_error"])
@pytest.mark.parametrize("l1", [1e-3, 3e-2])
def test_l1_reaches_the_split_reference(loss, l1, storage, dtype):
    objective = make_objective(loss, storage, dtype, l2=1e-3, l1=l1)
    _, reference = l1_reference(objective)
    result = proximal_newton(objective, options=TIGHT)
    assert result.converged and result.message == "converged"
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    assert kkt_violation(objective, result.params) <= 1e-9
    assert result.n_iter <= 25  # Newton's rate, not a first-order method's
    check_trace(result)
    assert np.all(np.diff(result.trace["objective"]) <= 1e-15)  # a descent method


def test_l1_sets_coefficients_exactly_to_zero_as_the_reference():
    objective = make_objective("log_loss", l2=0.0, l1=5e-2, n_features=12)
    w_reference, _ = l1_reference(objective)
    result = proximal_newton(objective, options=TIGHT)
    coef = result.params[:-1]
    assert np.any(coef == 0.0) and np.any(coef != 0.0)
    np.testing.assert_array_equal(coef == 0.0, np.abs(w_reference[:-1]) < 1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_without_l1_it_is_newtons_method(fit_intercept):
    objective = make_objective("log_loss", l2=1e-2, fit_intercept=fit_intercept)
    _, reference = scipy_reference(objective)
    ours = proximal_newton(objective, options=TIGHT)
    theirs = newton(objective, options=NewtonOptions(tol=1e-10))
    assert relative_gap(objective.value(ours.params), reference) <= 1e-12
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-8, atol=1e-10)
    assert ours.n_iter == theirs.n_iter


def test_quadratic_model_step_is_the_model_minimizer():
    """The step against a direct minimization of the quadratic model plus L1 (split, L-BFGS-B)."""
    import scipy.optimize

    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 6)) * np.array([1.0, 1.0, 0.01, 10.0, 1.0, 1.0])
    hessian = A.T @ A / 40 + 1e-3 * np.eye(6)
    gradient, params, l1 = rng.standard_normal(6), rng.standard_normal(6), 0.3
    step, _ = quadratic_model_step(hessian, gradient, params, l1, True, ProximalNewtonOptions())

    def model(z):
        u = z[:6] - z[6:]
        d = u - params
        value = gradient @ d + 0.5 * d @ hessian @ d + l1 * np.abs(z[:5] + z[6:11]).sum()
        grad = gradient + hessian @ d
        extra = np.r_[np.full(5, l1), 0.0]
        return value, np.r_[grad + extra, -grad + extra]

    bounds = [(0, None)] * 5 + [(None, None)] + [(0, None)] * 5 + [(0, 0)]
    z0 = np.r_[np.maximum(params, 0), np.maximum(-params, 0)]
    z0[-1] = 0.0
    reference = scipy.optimize.minimize(model, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                                        options={"gtol": 1e-14, "ftol": 0.0, "maxiter": 10000})
    np.testing.assert_allclose(params + step, reference.x[:6] - reference.x[6:], atol=1e-7)


def test_batched_models_equal_separate_runs():
    X, y = make_data("log_loss")
    weights = fold_weights(len(y))
    objective = fastml.LinearObjective("log_loss", X, y, weights, l2=1e-3, l1=np.array([1e-3, 1e-2, 3e-2]))
    batched = proximal_newton(objective, options=TIGHT)
    assert np.all(batched.converged)
    for k in range(3):
        alone = proximal_newton(model_objective(objective, k), options=TIGHT)
        np.testing.assert_allclose(model_params(objective, batched.params, k), alone.params, rtol=1e-9, atol=1e-12)
        assert batched.n_iter[k] == alone.n_iter


def test_rejects_what_it_cannot_fit():
    with pytest.raises(ValueError, match="one-score"):
        proximal_newton(make_objective("multinomial", l1=1e-3))
    X, y = make_data("log_loss")
    with pytest.raises(ValueError, match="smooth loss"):
        proximal_newton(fastml.LinearObjective("hinge", X, y, l1=1e-3))
    with pytest.raises(ValueError, match="max_iter"):
        ProximalNewtonOptions(max_iter=0)


def test_logistic_regression_cd_on_raw_features_matches_liblinear():
    """Unscaled breast_cancer, L1: proximal gradient stops at max_iter far from the optimum there;
    the proximal Newton fit reaches scikit-learn's liblinear objective (or lower) in a few iterations."""
    X, y = load_breast_cancer(return_X_y=True)
    for C in (0.1, 1.0):
        ours = fastml.LogisticRegression(penalty="l1", C=C, solver="cd", tol=1e-8).fit(X, y)
        assert ours.n_iter_[0] <= 30
        # liblinear penalizes the intercept; a large intercept_scaling makes that penalty negligible
        theirs = SklearnLogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", tol=1e-10, max_iter=100000,
                                           intercept_scaling=1e4).fit(X, y)
        shell = fastml.LogisticRegression(penalty="l1", C=C)
        shell.classes_, shell.n_features_in_ = ours.classes_, X.shape[1]
        shell.coef_, shell.intercept_ = theirs.coef_, theirs.intercept_
        assert ours.objective(X, y) <= shell.objective(X, y) + 1e-9
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3)


def test_auto_solver_picks_proximal_newton_for_binary_l1_and_csr_works():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = fastml.LogisticRegression(penalty="l1", solver="auto", C=0.5).fit(sp.csr_matrix(X), y)
    assert model.solver_info_["solver"] == "cd"
    dense = fastml.LogisticRegression(penalty="elasticnet", l1_ratio=0.5, solver="cd", C=0.5).fit(X, y)
    assert dense.solver_info_["solver"] == "cd"
    with pytest.raises(ValueError, match="two classes"):
        fastml.LogisticRegression(penalty="l1", solver="cd").fit(X, np.arange(len(y)) % 3)
