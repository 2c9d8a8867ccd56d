"""Features whose mean is far from their spread (timestamps, IDs, sensor readings about a baseline).

With an intercept, the least-squares estimators center ``X`` in Gram space; a column with
``|mean| / std`` of 1e5-1e7 lost all its digits there and was taken for a constant (coefficient 0,
where scikit-learn fits it), on every CSR path and in the Gram variant of coordinate descent. The
reference is scikit-learn on dense ``X`` (which centers ``X`` itself), and for RidgeCV's
leave-one-out scores a brute-force refit without each row.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk

import fastml
from fastml.solvers._offset_columns import offset_column_sums, offset_columns
from fastml.solvers.coordinate_descent import CoordinateDescentOptions, coordinate_descent


def offset_data(n=400, seed=0, y_offset=1e3):
    """Mixed sparse-ish features, plus: mean/std 1e4, mean/std 1e7, a millisecond timestamp (mean
    1.7e12, std 1e5), and a constant column."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8))
    X[rng.random(X.shape) < 0.5] = 0.0
    X[:, 0] = 1e4 + rng.standard_normal(n)
    X[:, 1] = 1e6 + 0.1 * rng.standard_normal(n)
    X[:, 2] = 1.7e12 + 1e5 * rng.standard_normal(n)
    X[:, 3] = 5.0
    coef = rng.standard_normal(8)
    coef[2], coef[3] = 1e-5, 0.0
    y = (X - X.mean(axis=0)) @ coef + 0.1 * rng.standard_normal(n) + y_offset
    weights = rng.uniform(0.5, 2.0, n)
    return X, y, weights


def relative_error(ours, reference):
    return np.max(np.abs(ours - reference)) / np.max(np.abs(reference))


STORAGE = {"dense": lambda X: X, "csr": sp.csr_matrix, "csc": sp.csc_matrix}

ESTIMATORS = [
    ("LinearRegression", {}, 1e-5),  # cond ~1e12 (variances 1e10 and 0.01): ~1e-6 from either library
    ("Ridge", {"alpha": 1.0}, 1e-9),
    ("Lasso", {"alpha": 1e-3, "tol": 1e-10, "max_iter": 100_000}, 1e-9),
    ("ElasticNet", {"alpha": 1e-3, "tol": 1e-10, "max_iter": 100_000}, 1e-9),
    ("RidgeCV", {"alphas": [0.1, 1.0, 10.0], "cv": 5}, 1e-9),
    ("RidgeCV", {"alphas": [0.1, 1.0, 10.0]}, 1e-9),  # leave-one-out
    ("ElasticNetCV", {"cv": 3, "tol": 1e-10, "max_iter": 10_000}, 1e-9),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("name, params, tolerance", ESTIMATORS, ids=lambda v: v if isinstance(v, str) else "")
def test_offset_features_are_fitted_like_scikit_learn(name, params, tolerance, storage, weighted):
    X, y, weights = offset_data()
    sample_weight = weights if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own convergence chatter on this scaling
        reference = getattr(sk, name)(**params).fit(X, y, sample_weight=sample_weight)
    ours = getattr(fastml, name)(**params).fit(STORAGE[storage](X), y, sample_weight=sample_weight)
    if hasattr(reference, "alpha_"):
        assert ours.alpha_ == pytest.approx(reference.alpha_, rel=1e-6)
    if name == "RidgeCV":
        # scikit-learn's leave-one-out coefficients come from its eigendecomposition unrefined, off
        # by up to 2e-4 at this conditioning: its Ridge at the chosen alpha is the reference
        reference = sk.Ridge(alpha=reference.alpha_).fit(X, y, sample_weight=sample_weight)
    # the offset features carry signal: where scikit-learn fits them, they must not be dropped as constants
    fitted = np.flatnonzero(reference.coef_[:3])
    assert np.all(np.abs(ours.coef_[fitted]) > 0.5 * np.abs(reference.coef_[fitted]))
    assert relative_error(ours.coef_, reference.coef_) <= tolerance
    # the intercept absorbs mean @ coef (1.7e12 * 1e-5 for the timestamp): coef's error, amplified
    assert ours.intercept_ == pytest.approx(reference.intercept_, rel=max(tolerance, 1e-6))


@pytest.mark.parametrize("variant, storage", [("gram", "dense"), ("gram", "csr"), ("gram", "csc"), ("dense", "dense"),
                                              ("sparse", "csr"), ("sparse", "csc")])
def test_every_coordinate_descent_variant_keeps_offset_features(variant, storage):
    """The column variant over CSC keeps a running mean of the residual; for an offset column that
    cancelled ~7 digits per update and never converged (scikit-learn's sparse solver fails on this
    data the same way). Offset columns are now stored shifted by their means."""
    X, y, _ = offset_data()
    reference = sk.Lasso(alpha=1e-3, tol=1e-12, max_iter=100_000).fit(X, y)
    result = coordinate_descent(STORAGE[storage](X), y, alpha=1e-3,
                                options=CoordinateDescentOptions(tol=1e-10, max_iter=10_000, variant=variant))
    assert result.converged
    coef, intercept = result.params[:-1], result.params[-1]
    assert relative_error(coef, reference.coef_) <= 1e-9
    assert intercept == pytest.approx(reference.intercept_, rel=1e-9)
    assert coef[3] == 0.0  # the constant column


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_constant_columns_stay_constant(storage):
    """A column that is constant (a column of ones, or of one huge value) is still a null direction
    with coefficient exactly 0, now that the constant test is tight (it needs exact centering)."""
    X, y, _ = offset_data()
    X[:, 4] = 1.7e12
    X[:, 5] = 1.0
    for model in (fastml.Lasso(alpha=1e-3), fastml.ElasticNet(alpha=1e-3), fastml.Ridge(alpha=1.0)):
        coef = model.fit(STORAGE[storage](X), y).coef_
        assert coef[3] == coef[4] == coef[5] == 0.0, type(model).__name__


@pytest.mark.parametrize("cv", [None, 4])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_ridge_cv_coefficients_are_those_of_ridge_at_the_chosen_alpha(cv, weighted):
    """One eigendecomposition serves every alpha, without Jacobi scaling; iterative refinement gives
    the chosen alpha's coefficients the accuracy of Ridge's scaled Cholesky (5e-5 -> 1e-12 here)."""
    X, y, weights = offset_data()
    sample_weight = weights if weighted else None
    search = fastml.RidgeCV(alphas=[0.1, 1.0, 10.0], cv=cv).fit(X, y, sample_weight=sample_weight)
    single = fastml.Ridge(alpha=search.alpha_).fit(X, y, sample_weight=sample_weight)
    assert relative_error(search.coef_, single.coef_) <= 1e-10
    assert search.intercept_ == pytest.approx(single.intercept_, rel=1e-10)


def test_ridge_cv_leave_one_out_scores_match_a_brute_force_refit():
    """Variances spanning 1e12 put the smallest penalized eigenvalue under rcond * largest; with
    alpha above the eigenvalues' rounding noise no direction may be cut: that made the scores of
    alpha = 0.1 and 1 40 % too large and chose alpha = 10. The reference refits by least squares on
    the augmented matrix [X_c; sqrt(alpha) I] (condition ~1e6, not the Gram's 1e12). The residuals
    come from the refined coefficients; the hat diagonals from the shared eigendecomposition, good to
    ~1e-6 here (3.6e-5 with unrefined residuals)."""
    X, y, _ = offset_data(n=150)
    X = np.delete(X, 3, axis=1)  # no constant column: every leave-one-out system is regular
    alphas = [0.1, 1.0, 10.0]
    ours = fastml.RidgeCV(alphas=alphas, store_cv_results=True).fit(X, y)
    brute = np.zeros(len(alphas))
    for i in range(X.shape[0]):
        keep = np.arange(X.shape[0]) != i
        mean_x, mean_y = X[keep].mean(axis=0), y[keep].mean()
        centered = X[keep] - mean_x
        for a, alpha in enumerate(alphas):
            augmented = np.vstack([centered, np.sqrt(alpha) * np.eye(X.shape[1])])
            target = np.concatenate([y[keep] - mean_y, np.zeros(X.shape[1])])
            coef = np.linalg.lstsq(augmented, target, rcond=None)[0]
            brute[a] += (y[i] - mean_y - (X[i] - mean_x) @ coef) ** 2 / X.shape[0]
    np.testing.assert_allclose(ours.cv_results_.mean(axis=0), brute, rtol=2e-6)
    assert ours.alpha_ == alphas[int(np.argmin(brute))]


@pytest.mark.parametrize("storage", ["dense", "csr", "float32"])
def test_offset_column_sums_against_explicit_centering(storage):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 6))
    X[rng.random(X.shape) < 0.6] = 0.0
    X[:, [1, 4]] = [3e8, -2e6] + rng.standard_normal((300, 2))
    if storage == "float32":
        X[:, 1] = 3e3 + rng.standard_normal(300)  # float32 resolves 3e8 to 32: a milder offset there
        X = X.astype(np.float32)
    weights = rng.uniform(0.1, 3.0, 300)
    y = rng.standard_normal((300, 2))
    W = weights.sum()
    X64 = X.astype(np.float64)
    columns = offset_columns(weights @ (X64 * X64), weights @ X64, W, 1e-4)
    np.testing.assert_array_equal(columns, [1, 4])
    shift = (weights @ X64)[columns] / W
    sums = offset_column_sums(sp.csr_matrix(X) if storage == "csr" else X, columns, shift, weights, y)
    shifted = X64[:, columns] - shift
    np.testing.assert_allclose(sums.gram, shifted.T @ (weights[:, None] * shifted), rtol=1e-12)
    np.testing.assert_allclose(sums.xty, shifted.T @ (weights[:, None] * y), rtol=1e-12)
    np.testing.assert_allclose(sums.xty_all, X64.T @ (weights[:, None] * y), rtol=1e-12)
    # rows of X^T W D for the other columns (those of the offset columns themselves cancel: unused)
    others = np.setdiff1d(np.arange(6), columns)
    np.testing.assert_allclose(sums.cross[others], X64[:, others].T @ (weights[:, None] * shifted), rtol=1e-12)
    # the centered Gram rows of the offset columns: against centering about float64 means computed
    # from the shifted values (exact to rounding)
    means = (weights @ X64) / W
    means[columns] = shift + sums.sums / W
    centered = X64 - means
    expected = centered.T @ (weights[:, None] * centered[:, columns])
    np.testing.assert_allclose(sums.centered_gram_rows(means, W), expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_linear_regression_on_features_over_eight_decades(storage):
    """Scale-induced ill-conditioning (diabetes with columns scaled by 1e-4 ... 1e4): the unscaled
    Gram's condition number passes 1e16, the Jacobi-scaled one's is that of diabetes. The reference is
    lstsq on the centered, standardized matrix, mapped back."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X * 10.0 ** np.array([-4, 4, -3, 3, -2, 2, -1, 1, 0, 4])
    centered = X - X.mean(axis=0)
    scale = centered.std(axis=0)
    reference = np.linalg.lstsq(centered / scale, y - y.mean(), rcond=None)[0] / scale
    model = fastml.LinearRegression().fit(STORAGE[storage](X), y)
    assert model.rank_ == X.shape[1]
    np.testing.assert_allclose(model.coef_, reference, rtol=1e-9)
