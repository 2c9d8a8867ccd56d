"""Closed-form ridge on ill-conditioned Gram matrices, against references that never form ``X^T X``.

Two ways a Gram matrix is ill-conditioned although the ridge problem is not:

* columns with a large common offset and no intercept (``1e6 + N(0, 1)``): the eigenvalues of
  ``X^T X`` are ``~8e15`` and ``~2e3``; the small ones are resolved (``eigh``'s error is ``~7``) and a
  positive penalty must not cut them;
* columns on scales ``1e-6 .. 1e6``: the eigenvalues span ``1e-10 .. 1e14``, below what ``eigh``
  resolves, though the problem's scale-invariant condition is small; leave-one-out, GCV and K-fold
  scores must still be those of the exact ridge solutions.

References: SciPy's least squares on the augmented system ``[X; sqrt(alpha) I]`` (QR/SVD of ``X``,
column-scaled), brute-force leave-one-out refits, and scikit-learn's ``Ridge(solver="svd")`` on the
same folds.
"""
import warnings

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import Ridge as SkRidge
from sklearn.model_selection import KFold

import fastml
from fastml.solvers.closed_form import (
    ClosedFormOptions, RankDeficientWarning, ridge_kfold, ridge_path, solve_least_squares,
)

FEATURE_SCALES = np.array([1e-6, 1e-3, 1.0, 1e3, 1e6])
PATH_ALPHAS = np.logspace(-10, 4, 8)  # scikit-learn's convention (sum of squares + alpha ||coef||^2)


def offset_columns_without_intercept(n_samples=2000):
    """Four columns ``1e6 + N(0, 1)`` and a target that depends on the noise part only."""
    rng = np.random.default_rng(9)
    noise = rng.normal(size=(n_samples, 4))
    y = noise @ np.array([1.0, 2.0, 3.0, 4.0]) + 0.1 * rng.normal(size=n_samples) + 10
    return 1e6 + noise, y


def badly_scaled_columns(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    standard = rng.normal(size=(n_samples, FEATURE_SCALES.size))
    y = standard @ rng.normal(size=FEATURE_SCALES.size) + rng.normal(size=n_samples) + 3
    return standard * FEATURE_SCALES, y


def augmented_lstsq(X, y, alpha, fit_intercept):
    """Ridge ``min ||y - X c - b||^2 + alpha ||c||^2`` by least squares on ``[X; sqrt(alpha) I]``,
    columns scaled to unit norm first (the penalty scaled with them), so that neither the offsets
    nor the units reach the condition number of what LAPACK factors."""
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    y_mean = y.mean() if fit_intercept else 0.0
    centered = X - x_mean
    norms = np.linalg.norm(centered, axis=0)
    design = np.vstack([centered / norms, np.diag(np.sqrt(alpha) / norms)])
    target = np.concatenate([y - y_mean, np.zeros(X.shape[1])])
    coef = scipy.linalg.lstsq(design, target)[0] / norms
    return coef, y_mean - x_mean @ coef


def ridge_objective(X, y, coef, intercept, alpha):
    return np.sum((y - X @ coef - intercept) ** 2) + alpha * coef @ coef


@pytest.mark.parametrize("solver", ["auto", "cholesky", "svd"])
@pytest.mark.parametrize("alpha", [1.0, 1e-3])
def test_positive_alpha_keeps_resolved_directions_of_offset_columns(solver, alpha):
    # the Gram's small eigenvalues (~2e3) are resolved to ~7; cutting them at rcond * 8e15 returned
    # the rank-1 solution (objective 59524.9 instead of 48996.5 at alpha=1) and a warning that
    # advised a ridge penalty although there was one
    X, y = offset_columns_without_intercept()
    reference_coef, _ = augmented_lstsq(X, y, alpha, fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientWarning)
        model = fastml.Ridge(alpha, fit_intercept=False, solver=solver).fit(X, y)
    reference = ridge_objective(X, y, reference_coef, 0.0, alpha)
    assert ridge_objective(X, y, model.coef_, 0.0, alpha) == pytest.approx(reference, rel=1e-6)
    # the float64 Gram itself is only good to ~1 on entries ~2e15: coefficients to ~1e-3, as
    # scikit-learn's Cholesky
    np.testing.assert_allclose(model.coef_, reference_coef, atol=5e-3)


def test_ridge_path_without_intercept_keeps_resolved_directions():
    X, y = offset_columns_without_intercept()
    alphas = np.array([1e-3, 1.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientWarning)
        path = ridge_path(X, y, alphas / X.shape[0], fit_intercept=False, cv="gcv")
    assert np.all(path.rank == X.shape[1])
    for a, alpha in enumerate(alphas):
        reference_coef, _ = augmented_lstsq(X, y, alpha, fit_intercept=False)
        np.testing.assert_allclose(path.coef[a, :, 0], reference_coef, atol=5e-3)


def test_collinear_columns_still_get_minimum_norm_solution():
    # alpha = 0, or an alpha far below the rounding of the Gram: the spurious eigenvalue of an exactly
    # collinear column is noise, so the fallback (minimum norm, warning) stays
    rng = np.random.default_rng(3)
    base = rng.normal(size=(200, 2))
    X = np.column_stack([base, base.sum(axis=1)])
    y = base @ np.array([1.0, -2.0]) + 0.01 * rng.normal(size=200)
    minimum_norm = np.linalg.pinv(X - X.mean(axis=0)) @ (y - y.mean())
    for alpha in (0.0, 1e-300):
        with pytest.warns(RankDeficientWarning, match="rank deficient"):
            result = solve_least_squares(X, y, alpha=alpha, options=ClosedFormOptions(method="eigh"))
        assert result.info["rank"] == 2
        np.testing.assert_allclose(result.info["coef"][:, 0], minimum_norm, rtol=1e-8, atol=1e-10)


def brute_force_leave_one_out(X, y, alpha):
    errors = []
    for left_out in range(X.shape[0]):
        keep = np.arange(X.shape[0]) != left_out
        coef, intercept = augmented_lstsq(X[keep], y[keep], alpha, fit_intercept=True)
        errors.append((y[left_out] - X[left_out] @ coef - intercept) ** 2)
    return np.mean(errors)


def test_leave_one_out_scores_of_badly_scaled_columns_match_brute_force():
    # eigh of X^T X resolved nothing below ~1e-2 here (eigenvalues 1e-10 .. 1e14): every alpha up to
    # ~1 scored alike and RidgeCV picked alpha=1 where alpha=1e-10 is best
    X, y = badly_scaled_columns()
    path = ridge_path(X, y, PATH_ALPHAS / X.shape[0], cv="loo")
    reference = np.array([brute_force_leave_one_out(X, y, alpha) for alpha in PATH_ALPHAS])
    np.testing.assert_allclose(path.cv_scores[:, 0], reference, rtol=1e-8)
    model = fastml.RidgeCV(alphas=PATH_ALPHAS).fit(X, y)
    assert model.alpha_ == PATH_ALPHAS[np.argmin(reference)] == PATH_ALPHAS[0]
    assert model.best_score_ == pytest.approx(-reference.min(), rel=1e-8)


def test_gcv_scores_of_badly_scaled_columns_match_exact_hat_matrix():
    X, y = badly_scaled_columns()
    path = ridge_path(X, y, PATH_ALPHAS / X.shape[0], cv="gcv")
    n_samples = X.shape[0]
    for a, alpha in enumerate(PATH_ALPHAS):
        coef, intercept = augmented_lstsq(X, y, alpha, fit_intercept=True)
        residual = y - X @ coef - intercept
        # trace of the hat matrix from the column-scaled augmented QR: sum of squared rows of Q's top
        centered = X - X.mean(axis=0)
        norms = np.linalg.norm(centered, axis=0)
        q, _ = np.linalg.qr(np.vstack([centered / norms, np.diag(np.sqrt(alpha) / norms)]))
        dof = np.sum(q[:n_samples] ** 2) + 1.0
        expected = np.mean(residual ** 2) / (1.0 - dof / n_samples) ** 2
        assert path.cv_scores[a, 0] == pytest.approx(expected, rel=1e-8)


def test_kfold_scores_of_badly_scaled_columns_match_scikit_learn():
    X, y = badly_scaled_columns(n_samples=100)
    folds = KFold(5)
    fold_ids = np.empty(X.shape[0], dtype=int)
    for fold, (_, test) in enumerate(folds.split(X)):
        fold_ids[test] = fold
    train_size = X.shape[0] - np.bincount(fold_ids)[0]  # equal folds: one penalty grid for all
    result = ridge_kfold(X, y, fold_ids, PATH_ALPHAS / train_size)
    for fold, (train, test) in enumerate(folds.split(X)):
        for a, alpha in enumerate(PATH_ALPHAS):
            reference = SkRidge(alpha, solver="svd").fit(X[train], y[train])
            expected = np.mean((y[test] - reference.predict(X[test])) ** 2)
            assert result.validation_mse[fold, a, 0] == pytest.approx(expected, rel=1e-6)
    model = fastml.RidgeCV(alphas=PATH_ALPHAS, cv=folds).fit(X, y)
    assert model.alpha_ == PATH_ALPHAS[0]


def test_constant_column_beside_badly_scaled_columns():
    # a constant column is an exact null direction of the centered Gram: coefficient 0, and the other
    # directions still get the accurate decomposition
    X, y = badly_scaled_columns()
    X = np.column_stack([X[:, :2], np.full(X.shape[0], 7.0), X[:, 2:]])
    path = ridge_path(X, y, PATH_ALPHAS / X.shape[0], cv="loo")
    reference = np.array([brute_force_leave_one_out(np.delete(X, 2, axis=1), y, alpha) for alpha in PATH_ALPHAS])
    np.testing.assert_allclose(path.cv_scores[:, 0], reference, rtol=1e-8)
    assert np.all(path.coef[:, 2] == 0)
