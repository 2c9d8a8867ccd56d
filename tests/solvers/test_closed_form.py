"""Closed-form least squares / ridge (``fastml.solvers.closed_form``) against independent references.

References: numpy ``lstsq``/``pinv``, explicit normal equations and hat matrices built here with numpy,
scikit-learn ``LinearRegression``/``Ridge``/``RidgeCV``, brute-force leave-one-out, separate fits.
Penalty convention: scikit-learn's ``alpha`` is ours times ``sum(sample_weight)``.
"""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV

from fastml import LinearObjective
from fastml.solvers.closed_form import (
    ClosedFormOptions, RankDeficientWarning, ridge_kfold, ridge_path, solve_least_squares,
)

RTOL = 1e-8
LAYOUTS = ["C", "F", "csr32", "csr64"]


def _layout(X, layout):
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    matrix = sp.csr_matrix(X)
    dtype = np.int32 if layout == "csr32" else np.int64
    matrix.indices, matrix.indptr = matrix.indices.astype(dtype), matrix.indptr.astype(dtype)
    return matrix


def _problem(n_samples=80, n_features=6, n_targets=None, seed=0, sparse_zeros=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + rng.uniform(-2, 2, n_features)  # offsets: intercept matters
    if sparse_zeros:
        X[rng.random(X.shape) < 0.3] = 0.0  # so CSR is genuinely sparse
    shape = (n_features,) if n_targets is None else (n_features, n_targets)
    y = X @ rng.standard_normal(shape) + 3.0 + 0.3 * rng.standard_normal((n_samples,) + shape[1:])
    weights = rng.uniform(0.2, 3.0, n_samples)
    return X, y, weights


def _split(result, n_features, fit_intercept=True):
    matrix = result.params.reshape(n_features + fit_intercept, -1)
    return matrix[:n_features], (matrix[n_features] if fit_intercept else np.zeros(matrix.shape[1]))


def _normal_equations(X, y, weights, ridge, fit_intercept):
    """Reference: solve the augmented weighted normal equations (intercept unpenalized) with numpy."""
    design = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    penalty = np.eye(design.shape[1]) * ridge
    if fit_intercept:
        penalty[-1, -1] = 0.0
    return np.linalg.solve(design.T @ (weights[:, None] * design) + penalty, design.T @ (weights * y))


# --------------------------------------------------------------------------------------------------
# solve_least_squares
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ordinary_least_squares_matches_sklearn(layout, fit_intercept):
    X, y, _ = _problem()
    result = solve_least_squares(_layout(X, layout), y, fit_intercept=fit_intercept)
    reference = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    coef, intercept = _split(result, X.shape[1], fit_intercept)
    np.testing.assert_allclose(coef[:, 0], reference.coef_, rtol=RTOL)
    np.testing.assert_allclose(intercept[0], reference.intercept_, rtol=RTOL, atol=1e-12)
    assert result.info["method"] == "cholesky" and result.info["rank"] == X.shape[1]
    assert result.converged and result.n_iter == 1 and len(result.trace) == 1


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_ridge_matches_sklearn_and_normal_equations(layout, fit_intercept):
    X, y, weights = _problem(seed=1)
    alpha = 0.05
    result = solve_least_squares(_layout(X, layout), y, weights, alpha=alpha, fit_intercept=fit_intercept)
    coef, intercept = _split(result, X.shape[1], fit_intercept)
    sk = Ridge(alpha=alpha * weights.sum(), fit_intercept=fit_intercept, solver="cholesky").fit(
        X, y, sample_weight=weights)
    np.testing.assert_allclose(coef[:, 0], sk.coef_, rtol=RTOL)
    np.testing.assert_allclose(intercept[0], sk.intercept_, rtol=RTOL, atol=1e-12)
    exact = _normal_equations(X, y, weights, alpha * weights.sum(), fit_intercept)
    np.testing.assert_allclose(result.params, exact, rtol=RTOL)


def test_solution_is_the_optimum_of_linear_objective():
    X, y, weights = _problem(n_targets=2, seed=2)
    alpha = np.array([0.1, 0.01])
    result = solve_least_squares(X, y, weights, alpha=alpha)
    objective = LinearObjective("squared_error", X, y, weights, l2=alpha)
    value, gradient = objective.value_and_gradient(result.params)
    assert np.abs(gradient).max() < 1e-10
    np.testing.assert_allclose(result.trace["objective"][0], value, rtol=1e-10)
    np.testing.assert_allclose(result.info["objectives"], objective.values(result.params), rtol=1e-10)
    assert result.trace["gradient_norm"][0] < 1e-10


@pytest.mark.parametrize("layout", ["C", "F", "csr32"])
def test_float32_stays_close_to_float64(layout):
    X, y, weights = _problem(seed=3)
    X32 = X.astype(np.float32)
    result32 = solve_least_squares(_layout(X32, layout), y, weights, alpha=1e-3)
    # same values in float64: float64 accumulation makes the results agree to rounding
    result_cast = solve_least_squares(X32.astype(np.float64), y, weights, alpha=1e-3)
    np.testing.assert_allclose(result32.params, result_cast.params, rtol=1e-10)
    # against the unrounded data: float32 input rounding only
    result64 = solve_least_squares(X, y, weights, alpha=1e-3)
    np.testing.assert_allclose(result32.params, result64.params, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["C", "csr64"])
def test_integer_weights_equal_row_repetition(layout):
    X, y, _ = _problem(seed=4)
    counts = np.random.default_rng(4).integers(0, 4, X.shape[0])
    weighted = solve_least_squares(_layout(X, layout), y, counts.astype(float), alpha=0.02)
    repeated_rows = np.repeat(np.arange(X.shape[0]), counts)
    repeated = solve_least_squares(_layout(X[repeated_rows], layout), y[repeated_rows], alpha=0.02)
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=1e-10)


@pytest.mark.parametrize("layout", ["C", "csr32"])
def test_multi_target_with_per_target_alpha_equals_separate_fits(layout):
    X, y, weights = _problem(n_targets=3, seed=5)
    alphas = np.array([0.0, 0.1, 0.1])
    result = solve_least_squares(_layout(X, layout), y, weights, alpha=alphas)
    coef, intercept = _split(result, X.shape[1])
    for t in range(3):
        single = solve_least_squares(X, y[:, t], weights, alpha=alphas[t])
        np.testing.assert_allclose(np.append(coef[:, t], intercept[t]), single.params, rtol=1e-10)
        exact = _normal_equations(X, y[:, t], weights, alphas[t] * weights.sum(), True)
        np.testing.assert_allclose(np.append(coef[:, t], intercept[t]), exact, rtol=RTOL)


def test_eigh_method_agrees_with_cholesky():
    X, y, weights = _problem(seed=6)
    cholesky = solve_least_squares(X, y, weights, alpha=0.01)
    eigen = solve_least_squares(X, y, weights, alpha=0.01, options=ClosedFormOptions(method="eigh"))
    assert eigen.info["method"] == "eigh"
    np.testing.assert_allclose(eigen.params, cholesky.params, rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# rank-deficient and ill-conditioned systems: finite minimum-norm answers, rank, warning
# --------------------------------------------------------------------------------------------------

def _centered_lstsq(X, y, rcond=None):
    """Minimum-norm least squares with an unpenalized intercept (how scikit-learn does it)."""
    x_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
    coef = np.linalg.lstsq(X - x_mean, y - y_mean, rcond=rcond)[0]
    return coef, y_mean - x_mean @ coef


@pytest.mark.parametrize("layout", ["C", "csr64"])
def test_duplicated_column_gives_minimum_norm_solution(layout):
    X, y, _ = _problem(seed=7)
    X = np.hstack([X, X[:, [1]]])
    with pytest.warns(RankDeficientWarning, match="rank 6 < 7"):
        result = solve_least_squares(_layout(X, layout), y)
    coef, intercept = _split(result, X.shape[1])
    expected_coef, expected_intercept = _centered_lstsq(X, y)
    np.testing.assert_allclose(coef[:, 0], expected_coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept[0], expected_intercept, rtol=1e-8)
    np.testing.assert_allclose(coef[1, 0], coef[-1, 0], rtol=1e-8)  # minimum norm splits the weight evenly
    assert result.info["rank"] == 6 and result.info["method"] == "eigh"


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_more_features_than_samples_gives_pinv_solution(fit_intercept):
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((10, 25)), rng.standard_normal(10)
    with pytest.warns(RankDeficientWarning):
        result = solve_least_squares(X, y, fit_intercept=fit_intercept)
    coef, intercept = _split(result, 25, fit_intercept)
    if fit_intercept:
        expected_coef, expected_intercept = _centered_lstsq(X, y)
        np.testing.assert_allclose(intercept[0], expected_intercept, rtol=1e-8)
        assert result.info["rank"] == 9
    else:
        expected_coef = np.linalg.pinv(X) @ y
        assert result.info["rank"] == 10
    np.testing.assert_allclose(coef[:, 0], expected_coef, rtol=1e-7, atol=1e-10)


def test_ill_conditioned_input_gives_finite_truncated_solution():
    rng = np.random.default_rng(9)
    left = np.linalg.qr(rng.standard_normal((60, 6)))[0]
    right = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    X = left @ np.diag([1.0, 0.5, 0.2, 0.1, 1e-9, 1e-10]) @ right.T
    y = X @ rng.standard_normal(6) + 0.01 * rng.standard_normal(60)
    with pytest.warns(RankDeficientWarning, match="rank 4 < 6"):
        result = solve_least_squares(X, y, fit_intercept=False)
    expected = np.linalg.lstsq(X, y, rcond=1e-6)[0]  # the same truncation, done by SVD
    np.testing.assert_allclose(result.params, expected, rtol=1e-8)
    assert np.isfinite(result.params).all() and np.abs(result.params).max() < 100


def test_near_duplicate_columns_never_give_huge_coefficients():
    X, y, _ = _problem(seed=10, sparse_zeros=False)
    X = np.hstack([X, X[:, [0]] + 1e-10 * np.random.default_rng(10).standard_normal((X.shape[0], 1))])
    with pytest.warns(RankDeficientWarning):
        result = solve_least_squares(X, y)
    assert np.isfinite(result.params).all() and np.abs(result.params).max() < 100
    expected_coef, _ = _centered_lstsq(X, y, rcond=1e-6)
    np.testing.assert_allclose(_split(result, X.shape[1])[0][:, 0], expected_coef, rtol=1e-6)


def test_constant_column_with_large_offset_gets_zero_coefficient():
    X, y, _ = _problem(seed=11, sparse_zeros=False)
    X = np.hstack([X, np.full((X.shape[0], 1), 1e7)])
    with pytest.warns(RankDeficientWarning):
        result = solve_least_squares(X, y)
    coef, intercept = _split(result, X.shape[1])
    assert coef[-1, 0] == 0.0
    reference = LinearRegression().fit(X[:, :-1], y)
    np.testing.assert_allclose(coef[:-1, 0], reference.coef_, rtol=1e-8)
    np.testing.assert_allclose(intercept[0], reference.intercept_, rtol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_large_column_offsets_keep_full_precision(weighted):
    """A column at 1e6 +- 1: one pass would lose ~12 digits; the shifted second pass restores them."""
    X, y, weights = _problem(n_samples=300, n_features=4, seed=26, sparse_zeros=False)
    X[:, 0] += 1e6
    y = y + 0.5 * X[:, 0]
    weights = weights if weighted else None
    reference = LinearRegression().fit(X, y, sample_weight=weights)
    result = solve_least_squares(X, y, weights)
    coef, intercept = _split(result, 4)
    np.testing.assert_allclose(coef[:, 0], reference.coef_, rtol=1e-9)
    np.testing.assert_allclose(intercept[0], reference.intercept_, rtol=1e-9)
    one_pass = solve_least_squares(X, y, weights, options=ClosedFormOptions(max_offset_ratio=np.inf))
    assert np.abs(_split(one_pass, 4)[0][:, 0] - reference.coef_).max() > 1e-6  # what the second pass fixes
    path = ridge_path(X, y, ALPHAS[:3], weights, store_cv_values=True)
    weight_sum = 300 if weights is None else weights.sum()
    sk = RidgeCV(alphas=ALPHAS[:3] * weight_sum, store_cv_results=True).fit(X, y, sample_weight=weights)
    ours = path.cv_values[:, 0] * (1.0 if weights is None else weights[:, None])
    np.testing.assert_allclose(ours, sk.cv_results_, rtol=1e-6, atol=1e-9 * sk.cv_results_.max())


# --------------------------------------------------------------------------------------------------
# memory: X is never copied
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, n_features, weighted",
                         [(np.float64, 50, False), (np.float64, 50, True), (np.float32, 100, False)])
def test_dense_input_is_never_copied(dtype, n_features, weighted):
    """Peak traced memory: a float64 row block (2048 rows) per thread and O(n_samples) vectors, never O(X)."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((20000, n_features)).astype(dtype)
    y = rng.standard_normal(20000)
    weights = rng.uniform(0.5, 1.5, 20000) if weighted else None
    solve_least_squares(X[:500], y[:500])  # warm up imports outside the measurement
    tracemalloc.start()
    try:
        result = solve_least_squares(X, y, weights, alpha=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(result.params).all()
    from fastml.kernels.gram import BLOCK_ROWS

    budget = 2 * BLOCK_ROWS * n_features * 8 + 10 * 8 * X.shape[0]  # two threads' blocks + vectors
    assert peak < min(budget, 0.7 * X.nbytes), f"peak {peak} bytes for X of {X.nbytes} bytes"


# --------------------------------------------------------------------------------------------------
# ridge_path: many alphas, leave-one-out and GCV
# --------------------------------------------------------------------------------------------------

ALPHAS = np.array([1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [None, 2])
def test_leave_one_out_matches_sklearn_ridgecv(fit_intercept, weighted, n_targets):
    X, y, weights = _problem(n_samples=60, n_features=5, n_targets=n_targets, seed=13)
    weights = weights if weighted else None
    weight_sum = X.shape[0] if weights is None else weights.sum()
    path = ridge_path(X, y, ALPHAS, weights, fit_intercept=fit_intercept, store_cv_values=True)
    sk = RidgeCV(alphas=ALPHAS * weight_sum, fit_intercept=fit_intercept, store_cv_results=True).fit(
        X, y, sample_weight=weights)
    ours = path.cv_values if weights is None else weights[:, None, None] * path.cv_values
    expected = sk.cv_results_ if n_targets else sk.cv_results_[:, None, :]
    np.testing.assert_allclose(ours, expected, rtol=1e-8)
    assert path.best_alpha * weight_sum == pytest.approx(sk.alpha_, rel=1e-12)
    np.testing.assert_allclose(path.coef[path.best_index].T.reshape(np.shape(sk.coef_)), sk.coef_, rtol=1e-8)
    np.testing.assert_allclose(path.cv_scores, np.einsum("i,ita->at", np.ones(60) if weights is None else weights,
                                                         path.cv_values) / weight_sum, rtol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_leave_one_out_equals_brute_force(fit_intercept):
    X, y, weights = _problem(n_samples=12, n_features=3, seed=14)
    path = ridge_path(X, y, ALPHAS[:4], weights, fit_intercept=fit_intercept, store_cv_values=True)
    ridge = ALPHAS[:4] * weights.sum()  # the penalty stays fixed when a sample is left out
    for a, penalty in enumerate(ridge):
        for i in range(12):
            keep = np.arange(12) != i
            params = _normal_equations(X[keep], y[keep], weights[keep], penalty, fit_intercept)
            prediction = X[i] @ params[:3] + (params[3] if fit_intercept else 0.0)
            assert path.cv_values[i, 0, a] == pytest.approx((y[i] - prediction) ** 2, rel=1e-9)


@pytest.mark.parametrize("layout", ["F", "csr32", "csr64"])
def test_path_layouts_and_float32_agree_with_dense(layout):
    X, y, weights = _problem(n_samples=50, seed=15)
    dense = ridge_path(X, y, ALPHAS, weights, store_cv_values=True)
    other = ridge_path(_layout(X, layout), y, ALPHAS, weights, store_cv_values=True,
                       options=ClosedFormOptions(block_rows=7))  # several blocks, ragged last one
    np.testing.assert_allclose(other.cv_values, dense.cv_values, rtol=1e-9)
    np.testing.assert_allclose(other.params, dense.params, rtol=1e-9)
    single = ridge_path(_layout(X.astype(np.float32), layout), y, ALPHAS, weights)
    np.testing.assert_allclose(single.cv_scores, dense.cv_scores, rtol=1e-4)


def test_path_coefficients_equal_single_solves():
    X, y, weights = _problem(n_targets=2, seed=16)
    path = ridge_path(X, y, ALPHAS, weights, cv=None)
    assert path.cv_scores is None and path.best_alpha is None
    for a, alpha in enumerate(ALPHAS):
        np.testing.assert_allclose(path.params[a], solve_least_squares(X, y, weights, alpha=alpha).params,
                                   rtol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcv_matches_explicit_hat_matrix(fit_intercept, weighted):
    X, y, weights = _problem(n_samples=40, n_features=4, n_targets=2, seed=17)
    weights = weights if weighted else np.ones(40)
    path = ridge_path(X, y, ALPHAS, weights if weighted else None, fit_intercept=fit_intercept, cv="gcv")
    design = np.hstack([X, np.ones((40, 1))]) if fit_intercept else X
    root = np.sqrt(weights)[:, None]
    for a, alpha in enumerate(ALPHAS):
        penalty = np.eye(design.shape[1]) * alpha * weights.sum()
        if fit_intercept:
            penalty[-1, -1] = 0.0
        scaled = root * design
        hat = scaled @ np.linalg.solve(scaled.T @ scaled + penalty, scaled.T)
        residual = root * y - hat @ (root * y)
        dof = np.trace(hat)
        expected = (residual ** 2).sum(axis=0) / weights.sum() / (1 - dof / 40) ** 2
        np.testing.assert_allclose(path.cv_scores[a], expected, rtol=1e-9)
        assert path.degrees_of_freedom[a] == pytest.approx(dof, rel=1e-10)


def test_path_with_zero_alpha_on_rank_deficient_input_is_finite():
    rng = np.random.default_rng(18)
    X, y = rng.standard_normal((10, 25)), rng.standard_normal(10)
    with pytest.warns(RankDeficientWarning):
        path = ridge_path(X, y, [0.0, 0.1], cv="gcv")
    assert np.isfinite(path.params).all()
    np.testing.assert_allclose(path.coef[0, :, 0], _centered_lstsq(X, y)[0], rtol=1e-7, atol=1e-10)
    assert list(path.rank) == [9, 25]


# --------------------------------------------------------------------------------------------------
# ridge_kfold: folds by subtraction
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["C", "F", "csr32"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sorted_folds", [False, True])
def test_kfold_equals_separate_fits(layout, fit_intercept, sorted_folds):
    X, y, weights = _problem(n_samples=90, n_targets=2, seed=19)
    fold_ids = np.arange(90) % 4
    if sorted_folds:
        fold_ids = np.sort(fold_ids)
    alphas = ALPHAS[::2]
    result = ridge_kfold(_layout(X, layout), y, fold_ids, alphas, weights, fit_intercept=fit_intercept,
                         options=ClosedFormOptions(block_rows=16))
    for fold in range(4):
        train, test = fold_ids != fold, fold_ids == fold
        for a, alpha in enumerate(alphas):
            single = solve_least_squares(X[train], y[train], weights[train], alpha=alpha,
                                         fit_intercept=fit_intercept)
            np.testing.assert_allclose(result.params[fold, a], single.params, rtol=1e-9)
            coef, intercept = _split(single, X.shape[1], fit_intercept)
            residual = y[test] - X[test] @ coef - intercept
            mse = (weights[test, None] * residual ** 2).sum(axis=0) / weights[test].sum()
            np.testing.assert_allclose(result.validation_mse[fold, a], mse, rtol=1e-9)
    np.testing.assert_allclose(result.cv_scores, result.validation_mse.mean(axis=0))
    assert result.best_alpha == alphas[np.argmin(result.cv_scores.mean(axis=1))]


def test_kfold_with_large_column_offsets_matches_separate_fits():
    X, y, weights = _problem(n_samples=120, n_features=3, seed=27, sparse_zeros=False)
    X[:, 1] += 1e6
    fold_ids = np.random.default_rng(27).integers(0, 3, 120)
    result = ridge_kfold(X, y, fold_ids, [1e-3], weights)
    for fold in range(3):
        train = fold_ids != fold
        reference = Ridge(alpha=1e-3 * weights[train].sum()).fit(X[train], y[train], sample_weight=weights[train])
        np.testing.assert_allclose(result.coef[fold, 0, :, 0], reference.coef_, rtol=1e-7)
        np.testing.assert_allclose(result.intercept[fold, 0, 0], reference.intercept_, rtol=1e-7)


def test_kfold_accepts_any_labels():
    X, y, _ = _problem(n_samples=30, seed=20)
    labels = np.array(["a", "b", "c"])[np.arange(30) % 3]
    result = ridge_kfold(X, y, labels, [0.1])
    assert list(result.folds) == ["a", "b", "c"]
    reference = ridge_kfold(X, y, np.arange(30) % 3, [0.1])
    np.testing.assert_allclose(result.validation_mse, reference.validation_mse)


# --------------------------------------------------------------------------------------------------
# misc: callback, threads, bad input
# --------------------------------------------------------------------------------------------------

def test_callback_sees_the_single_iteration():
    X, y, _ = _problem(seed=21)
    seen = []
    result = solve_least_squares(X, y, callback=seen.append)
    assert len(seen) == 1 and seen[0].iteration == 1
    np.testing.assert_array_equal(seen[0].params, result.params)


def test_thread_count_does_not_change_the_answer():
    X, y, weights = _problem(n_samples=15000, n_features=8, seed=22)  # enough nonzeros for 2 threads
    csr = sp.csr_matrix(X)
    one = solve_least_squares(csr, y, weights, alpha=0.01, n_threads=1)
    two = solve_least_squares(csr, y, weights, alpha=0.01, n_threads=2)
    np.testing.assert_allclose(one.params, two.params, rtol=1e-12)
    again = solve_least_squares(csr, y, weights, alpha=0.01, n_threads=2)
    np.testing.assert_array_equal(two.params, again.params)


@pytest.mark.parametrize("layout", ["C", "csr32"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_x_is_rejected(layout, bad):
    X, y, weights = _problem(seed=23)
    X[3, 2] = bad
    for call in (lambda: solve_least_squares(_layout(X, layout), y),
                 lambda: solve_least_squares(_layout(X, layout), y, weights),
                 lambda: ridge_path(_layout(X, layout), y, ALPHAS),
                 lambda: ridge_kfold(_layout(X, layout), y, np.arange(80) % 2, ALPHAS)):
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            call()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"y": np.r_[np.nan, np.zeros(79)]}, ValueError, "y contains NaN"),
    ({"y": np.zeros(79)}, ValueError, "y must have shape"),
    ({"y": np.zeros((80, 2, 2))}, ValueError, "y must have shape"),
    ({"alpha": -1.0}, ValueError, "alpha must be finite and non-negative"),
    ({"alpha": [0.1, 0.2]}, ValueError, "one value per target"),
    ({"sample_weight": -np.ones(80)}, ValueError, "sample_weight must be finite and non-negative"),
    ({"sample_weight": np.zeros(80)}, ValueError, "sums to zero"),
    ({"sample_weight": np.ones(79)}, ValueError, "sample_weight must be a scalar or have shape"),
    ({"X": np.zeros(80)}, ValueError, "X must be 2-D"),
    ({"X": np.zeros((80, 0))}, ValueError, "X has 0 features"),
    ({"X": sp.csc_matrix(np.eye(80))}, TypeError, "sparse X must be CSR"),
    ({"options": {"rcond": 1e-6}}, TypeError, "options must be a ClosedFormOptions"),
])
def test_bad_input_raises_a_clear_error(kwargs, error, match):
    X, y, _ = _problem(seed=24)
    arguments = {"X": X, "y": y} | kwargs
    X, y = arguments.pop("X"), arguments.pop("y")
    with pytest.raises(error, match=match):
        solve_least_squares(X, y, **arguments)


def test_bad_path_and_fold_arguments_raise():
    X, y, _ = _problem(seed=25)
    with pytest.raises(ValueError, match="alphas must be finite and non-negative"):
        ridge_path(X, y, [0.1, -1.0])
    with pytest.raises(ValueError, match="non-empty"):
        ridge_path(X, y, [])
    with pytest.raises(ValueError, match="cv must be"):
        ridge_path(X, y, ALPHAS, cv="kfold")
    with pytest.raises(ValueError, match="at least two distinct folds"):
        ridge_kfold(X, y, np.zeros(80), ALPHAS)
    with pytest.raises(ValueError, match="fold_ids must have shape"):
        ridge_kfold(X, y, np.zeros(79), ALPHAS)
    with pytest.raises(ValueError, match="rcond"):
        ClosedFormOptions(rcond=-1.0)


def test_leave_one_out_on_two_row_chunks_equals_one_chunk():
    """At this size the Gram and the leave-one-out pass split the rows over two threads."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40_000, 60))
    y = X @ rng.standard_normal(60) + rng.standard_normal(40_000)
    weights = rng.uniform(0.5, 2.0, 40_000)
    alphas = np.logspace(-6, 0, 5)
    one, two = (ridge_path(X, y, alphas, weights, cv="loo", n_threads=n) for n in (1, 2))
    np.testing.assert_allclose(two.cv_scores, one.cv_scores, rtol=1e-10)
    np.testing.assert_allclose(two.coef, one.coef, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_centered_target_sums_one_group_equals_grouped_and_keeps_digits(fit_intercept):
    """The one-group shortcut (no codes) gives the grouped computation's sums, and with a large offset
    in y the centered sum keeps its digits (it is not y^T W y - W ybar^2)."""
    from fastml.solvers._closed_form_base import centered_target_sums

    rng = np.random.default_rng(21)
    y = rng.standard_normal((500, 2)) + np.array([1e8, -3.0])
    weights = rng.uniform(0.5, 2.0, 500)
    one = centered_target_sums(y, weights, fit_intercept)
    grouped = centered_target_sums(y, weights, fit_intercept, np.zeros(500, dtype=np.intp), 1)
    np.testing.assert_allclose(one, grouped, rtol=1e-12)
    wide_y, wide_w = y.astype(np.longdouble), weights.astype(np.longdouble)  # x87 extended precision
    mean = (wide_w @ wide_y) / wide_w.sum() if fit_intercept else np.zeros(2, dtype=np.longdouble)
    reference = (wide_w[:, None] * (wide_y - mean) ** 2).sum(axis=0)
    np.testing.assert_allclose(one[0], reference.astype(np.float64), rtol=1e-7)
