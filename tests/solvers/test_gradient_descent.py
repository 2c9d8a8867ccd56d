"""Accelerated proximal gradient descent (FISTA) against scipy and scikit-learn, L1 included."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Lasso

import fastml
from fastml.solvers.gradient_descent import GradientDescentOptions, gradient_descent, soft_threshold
from solver_problems import (  # tests/solvers is on sys.path (pytest's default import mode)
    SMOOTH_LOSSES, check_trace, fold_weights, make_data, make_objective, l1_reference,
    model_objective, model_params, relative_gap, scipy_reference,
)

TIGHT = GradientDescentOptions(tol=1e-8)


@pytest.mark.parametrize("loss", SMOOTH_LOSSES)
def test_reaches_scipy_optimum(loss, storage, dtype):
    objective = make_objective(loss, storage, dtype)
    _, reference = scipy_reference(objective)
    result = gradient_descent(objective, options=TIGHT)
    assert result.converged and result.message == "converged"
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    check_trace(result)


def test_plain_gradient_descent_reaches_the_optimum_and_acceleration_helps():
    X, y = make_data("log_loss", n_samples=200)
    X *= np.logspace(-0.75, 0.75, X.shape[1])  # feature scales over 1.5 decades: ill-conditioned
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-2)
    _, reference = scipy_reference(objective)
    plain = gradient_descent(objective, options=GradientDescentOptions(tol=1e-6, accelerated=False,
                                                                       max_iter=100000))
    fast = gradient_descent(objective, options=GradientDescentOptions(tol=1e-6))
    for result in (plain, fast):
        assert result.converged and relative_gap(objective.value(result.params), reference) <= 1e-8
    assert fast.n_iter < 0.4 * plain.n_iter
    assert np.all(np.diff(plain.trace["objective"]) <= 1e-15)  # proximal gradient is monotone


@pytest.mark.parametrize("loss, l1", [("squared_error", 0.1), ("log_loss", 0.03), ("multinomial", 0.03)])
def test_l1_reaches_the_split_reference(loss, l1, storage):
    objective = make_objective(loss, storage, l2=1e-3, l1=l1)
    w_reference, reference = l1_reference(objective)
    result = gradient_descent(objective, options=GradientDescentOptions(tol=1e-9))
    assert result.converged
    assert relative_gap(objective.value(result.params), reference) <= 1e-9
    coef = objective.unpack(result.params)[0]
    reference_coef = objective.unpack(w_reference)[0]
    assert np.any(coef == 0.0), "the L1 penalty should zero some coefficients"
    # exact zeros where the reference is (numerically) zero, and nowhere else
    np.testing.assert_array_equal(coef == 0.0, np.abs(reference_coef) < 1e-7)


def test_lasso_matches_scikit_learn(dtype):
    X, y = make_data("squared_error", n_samples=400)
    X = X.astype(dtype)
    alpha = 0.1
    model = Lasso(alpha=alpha, tol=1e-14, max_iter=100000).fit(X.astype(np.float64), y)
    objective = fastml.LinearObjective("squared_error", sp.csr_matrix(X), y, l1=alpha)
    result = gradient_descent(objective, options=GradientDescentOptions(tol=1e-10))
    reference = objective.value(np.r_[model.coef_, model.intercept_])
    assert relative_gap(objective.value(result.params), reference) <= 1e-8
    np.testing.assert_allclose(result.params, np.r_[model.coef_, model.intercept_], atol=1e-7)
    np.testing.assert_array_equal(result.params[:-1] == 0.0, model.coef_ == 0.0)


@pytest.mark.parametrize("batch", ["l1", "folds"])
def test_batched_equals_separate_runs(batch):
    if batch == "l1":
        objective = make_objective("log_loss", l2=1e-3, l1=np.array([0.0, 0.01, 0.05]))
    else:
        objective = make_objective("poisson", l2=1e-2, sample_weight=fold_weights(300))
    batched = gradient_descent(objective, options=TIGHT)
    assert batched.n_iter.shape == (3,) and batched.converged.all()
    for k in range(3):
        separate = gradient_descent(model_objective(objective, k), options=TIGHT)
        np.testing.assert_allclose(model_params(objective, batched.params, k), separate.params, atol=1e-7)
        assert abs(batched.n_iter[k] - separate.n_iter) <= max(3, 0.1 * separate.n_iter)


def test_soft_threshold():
    values = np.array([-3.0, -0.5, 0.0, 0.2, 2.0])
    np.testing.assert_array_equal(soft_threshold(values, 1.0), [-2.0, 0.0, 0.0, 0.0, 1.0])


def test_callback_stops_and_trace_follows_the_protocol():
    objective = make_objective("squared_error")
    result = gradient_descent(objective, options=TIGHT, callback=lambda info: info.iteration >= 5)
    assert result.n_iter == 5 and result.message == "stopped by callback" and not result.converged
    check_trace(result)
    assert result.trace["objective"][-1] < result.trace["objective"][0]


def test_non_finite_data_and_non_smooth_losses_raise():
    X, y = make_data("log_loss")
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite.*standardize X"):
        gradient_descent(fastml.LinearObjective("log_loss", X, y, check_input=False))
    X, y = make_data("log_loss")
    with pytest.raises(ValueError, match="not differentiable.*sgd"):
        gradient_descent(fastml.LinearObjective("hinge", X, y))
    for bad in ({"lipschitz_decrease": 0.0}, {"backtrack_increase": 1.0}, {"max_iter": 0}):
        with pytest.raises(ValueError):
            GradientDescentOptions(**bad)


def test_trace_columns_lookup():
    from fastml.solvers._result import Trace

    trace = Trace()
    trace.record(0, 1.0, 0.5)
    assert "objective" in trace and "step" in trace and "loss" not in trace
    np.testing.assert_array_equal(trace["objective"], [1.0])
    with pytest.raises(KeyError, match="gradient_norm"):
        trace["loss"]
