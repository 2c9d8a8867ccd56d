"""The full-batch solvers' convergence test in the units of the features.

A gradient max-norm of ``tol`` (scikit-learn's lbfgs rule) is met at the intercept-only start by
features that are rare (hashed or TF-IDF text columns) or measured in small units: the model came
back with every coefficient 0 and ``n_iter_ == 0``. Each coefficient's gradient is now compared with
``tol`` times ``min(1, RMS of its column)`` (at least 1e-3 of ``tol``). Every test here checks first
that the plain rule would have stopped at the start, so it fails on the old rule.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

import fastml
from fastml._objective import MIN_FEATURE_SCALE
from fastml.solvers._line_search import ModelView
from fastml.solvers.gradient_descent import GradientDescentOptions, gradient_descent
from fastml.solvers.lbfgs import LBFGSOptions, lbfgs
from fastml.solvers.newton import NewtonOptions, newton


def hashed_text(n_samples=4000, n_features=2**12, per_row=10, seed=0):
    """TF-IDF-like rows: ``per_row`` random columns, positive values, rows of unit L2 norm."""
    rng = np.random.default_rng(seed)
    columns = rng.integers(0, n_features, n_samples * per_row)
    X = sp.csr_matrix((rng.random(n_samples * per_row) + 0.1, columns, np.arange(0, n_samples * per_row + 1, per_row)),
                      shape=(n_samples, n_features))
    X.sum_duplicates()
    X = normalize(X)
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-(X @ (3.0 * rng.standard_normal(n_features)))))).astype(int)
    return X, y


def small_units(n_samples=300, n_features=6, scale=1e-3, seed=1):
    """Standardized features times ``scale`` (a length in km where the model wants m), at the
    smallest scale the rule resolves in full (``MIN_FEATURE_SCALE``)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-X @ rng.standard_normal(n_features)))).astype(int)
    return scale * X, y


def start_max_norm(objective):
    return np.abs(objective.gradient(objective.initial_parameters())).max()


def optimum(objective):
    return objective.value(lbfgs(objective, options=LBFGSOptions(tol=1e-12, max_iter=5000)).params)


def test_rare_text_features_are_fitted_at_the_default_tolerance():
    X, y = hashed_text()
    tol = 1e-3
    objective = fastml.LinearObjective("log_loss", X, y, l2=1.0 / len(y))  # C = 1
    assert start_max_norm(objective) < tol  # the plain max-norm rule stops here with all coefficients 0
    best = optimum(objective)
    start_gap = (objective.value(objective.initial_parameters()) - best) / best
    assert start_gap > 0.05
    model = fastml.LogisticRegression(tol=tol, max_iter=1000).fit(X, y)
    assert model.n_iter_[0] > 0 and np.count_nonzero(model.coef_) > 0
    fitted = objective.value(np.r_[model.coef_.ravel(), model.intercept_])
    assert (fitted - best) / best <= 1e-3 * start_gap


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_features_in_small_units_give_the_model_of_standardized_ones(storage):
    X, y = small_units()
    data = sp.csr_matrix(X) if storage == "csr" else X
    tol = 1e-3
    objective = fastml.LinearObjective("log_loss", data, y)
    assert start_max_norm(objective) < tol
    exact = fastml.LogisticRegression(penalty=None, tol=1e-10, max_iter=1000).fit(X / 1e-3, y)
    small = fastml.LogisticRegression(penalty=None, tol=tol).fit(data, y)
    unit = fastml.LogisticRegression(penalty=None, tol=tol).fit(X / 1e-3, y)
    # the same model in other units (coefficients 1e3 times larger), as close to the optimum; the
    # intercept-only model the plain rule returned is 0.1 or more off for most rows
    expected = exact.predict_proba(X / 1e-3)[:, 1]
    assert np.median(np.abs(expected - y.mean())) > 0.1
    for model, features in ((small, data), (unit, X / 1e-3)):
        np.testing.assert_allclose(model.predict_proba(features)[:, 1], expected, atol=5e-3)
    np.testing.assert_allclose(small.coef_ * 1e-3, exact.coef_, rtol=1e-2)


@pytest.mark.parametrize("driver", ["compiled", "python"])
def test_both_lbfgs_drivers_apply_the_scaled_rule(driver):
    X, y = small_units()
    objective = fastml.LinearObjective("log_loss", X, y)
    tol = 1e-4
    result = lbfgs(objective, options=LBFGSOptions(tol=tol, driver=driver))
    assert result.converged and result.n_iter > 0
    # both drivers form the scales in their first pass over dense X (the compiled loop hands them back)
    assert objective.square_sums_known
    scales = np.clip(np.sqrt((X ** 2).mean(axis=0)), MIN_FEATURE_SCALE, 1.0)
    np.testing.assert_allclose(objective.feature_scales()[:, 0], scales, rtol=1e-12)
    gradient = objective.gradient(result.params)
    assert np.all(np.abs(gradient) <= tol * np.r_[scales, 1.0])


def test_newton_and_proximal_gradient_apply_the_scaled_rule():
    X, y = small_units()
    smooth = fastml.LinearObjective("log_loss", X, y)
    with_l1 = fastml.LinearObjective("log_loss", X, y, l1=1e-9)
    tol = 1e-3
    assert start_max_norm(smooth) < tol
    best = optimum(smooth)
    start_gap = smooth.value(smooth.initial_parameters()) - best
    for result, objective in ((newton(smooth, options=NewtonOptions(tol=tol)), smooth),
                              (gradient_descent(with_l1, options=GradientDescentOptions(tol=tol, max_iter=20000)),
                               with_l1)):
        assert result.converged and result.n_iter > 0
        assert objective.value(result.params) - best <= 1e-4 * start_gap


def test_feature_scales_are_weighted_column_rms_clipped_to_the_tolerance_range():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 4)) * np.array([10.0, 0.2, 1e-6, 0.0])
    weights = rng.random((50, 3))
    for data in (X, X.astype(np.float32), np.asfortranarray(X), sp.csr_matrix(X)):
        objective = fastml.LinearObjective("log_loss", data, (X[:, 0] > 0).astype(float), weights)
        expected = np.sqrt(((X.astype(data.dtype) ** 2).T @ weights) / weights.sum(axis=0))
        np.testing.assert_allclose(objective.feature_scales(), np.clip(expected, MIN_FEATURE_SCALE, 1.0), rtol=1e-6)


def test_within_tolerance_needs_the_scales_only_after_the_max_norm_test_passes():
    X, y = small_units()
    view = ModelView(fastml.LinearObjective("log_loss", X, y))
    large = np.full((1, X.shape[1] + 1), 1e-3)
    assert not view.within_tolerance(large, 1e-4)[0]
    assert getattr(view, "_tolerance_scales", None) is None  # no pass over X spent on it
    small = np.full((1, X.shape[1] + 1), 1e-5)
    # below tol, but above tol times the features' scale (their RMS, 1e-3)
    assert not view.within_tolerance(small, 1e-4)[0]
    intercept_only = np.zeros((1, X.shape[1] + 1))
    intercept_only[0, -1] = 9e-5  # the intercept's scale is 1
    assert view.within_tolerance(intercept_only, 1e-4)[0]


def test_batched_models_use_their_own_weights():
    X, y = small_units(n_samples=200)
    weights = np.ones((200, 2))
    weights[100:, 1] = 0.0
    X = X.copy()
    X[100:] *= 1e4  # model 1 sees only the small rows, model 0 mostly the large ones
    objective = fastml.LinearObjective("log_loss", X, y, weights)
    scales = objective.feature_scales()
    np.testing.assert_allclose(scales[:, 1], np.clip(np.sqrt((X[:100] ** 2).mean(axis=0)), MIN_FEATURE_SCALE, 1.0))
    assert np.all(scales[:, 0] == 1.0)
    batched = lbfgs(objective, options=LBFGSOptions(tol=1e-6))
    for k in range(2):
        alone = lbfgs(fastml.LinearObjective("log_loss", X, y, weights[:, k]), options=LBFGSOptions(tol=1e-6,
                                                                                                      driver="python"))
        np.testing.assert_allclose(batched.params.reshape(-1, 2)[:, k], alone.params, rtol=1e-6, atol=1e-9)


def test_dense_scales_come_with_the_first_pass(monkeypatch):
    X, y = small_units()
    objective = fastml.LinearObjective("log_loss", X, y)
    objective.value_and_gradient(objective.initial_parameters())

    def no_second_pass(*args, **kwargs):
        raise AssertionError("feature_scales read X again")

    monkeypatch.setattr(type(objective.X), "transpose_times", no_second_pass)
    np.testing.assert_allclose(objective.feature_scales()[:, 0],
                               np.clip(np.sqrt((X ** 2).mean(axis=0)), MIN_FEATURE_SCALE, 1.0), rtol=1e-12)
