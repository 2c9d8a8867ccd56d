"""Coordinate descent (``fastml.solvers.coordinate_descent``) against scikit-learn and closed forms.

References are independent: scikit-learn's ``Lasso`` / ``ElasticNet`` / ``enet_path`` at tight
tolerance, fitted on float64 copies of the data (float32 inputs are exactly representable in
float64, and our kernels accumulate in float64), row repetition for integer weights, and the
objective evaluated by :class:`fastml.LinearObjective`.
"""
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, enet_path

from fastml import LinearObjective
from fastml.solvers.coordinate_descent import (
    CoordinateDescentOptions,
    alpha_max,
    coordinate_descent,
    coordinate_descent_objective,
    coordinate_descent_path,
)

TIGHT = dict(tol=1e-12, max_iter=100_000)
VARIANTS = ("gram", "dense", "sparse")


def _data(n=120, d=25, n_targets=None, seed=0, offset=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + offset
    X[:, 3] = 1.5  # a constant column: zero coefficient once centered
    true = rng.standard_normal((d, n_targets or 1)) * (rng.random((d, 1)) < 0.4)
    y = X @ true + 0.3 * rng.standard_normal((n, n_targets or 1)) + 1.0
    return X, (y[:, 0] if n_targets is None else y)


def _storage(X, variant, layout="C", dtype=np.float64, index_dtype=np.int32):
    X = X.astype(dtype)
    if variant == "sparse":
        X = X.copy()
        X[np.abs(X - np.median(X)) < 0.3] = 0.0  # some real sparsity
        csr = sp.csr_matrix(X)
        csr.indices, csr.indptr = csr.indices.astype(index_dtype), csr.indptr.astype(index_dtype)
        return csr
    return np.asfortranarray(X) if layout == "F" else np.ascontiguousarray(X)


def _dense64(X):
    return X.toarray().astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)


def _sklearn(X, y, alpha, l1_ratio, sample_weight=None, fit_intercept=True, positive=False):
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, positive=positive,
                       tol=1e-13, max_iter=200_000)
    return model.fit(_dense64(X), y, sample_weight=sample_weight)


def _split(result, d, fit_intercept=True, n_targets=1):
    matrix = result.params.reshape(d + fit_intercept, n_targets)
    return matrix[:d], (matrix[d] if fit_intercept else np.zeros(n_targets))


def _objective(X, y, sample_weight, alpha, l1_ratio, fit_intercept, coef, intercept):
    objective = LinearObjective("squared_error", _dense64(X), y, sample_weight, l2=alpha * (1 - l1_ratio),
                                l1=alpha * l1_ratio, fit_intercept=fit_intercept)
    return objective.value(objective.pack(coef, intercept))


def _assert_matches(result, reference, d, fit_intercept=True):
    coef, intercept = _split(result, d, fit_intercept)
    scale = max(np.abs(reference.coef_).max(), 1.0)
    np.testing.assert_allclose(coef[:, 0], reference.coef_, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(intercept[0], reference.intercept_, rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_matches_sklearn(variant, dtype, fit_intercept, l1_ratio):
    X, y = _data()
    X = _storage(X, variant, dtype=dtype)
    alpha = 0.05
    result = coordinate_descent(X, y, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                                options=CoordinateDescentOptions(variant=variant, **TIGHT))
    reference = _sklearn(X, y, alpha, l1_ratio, fit_intercept=fit_intercept)
    assert result.converged and result.info["variant"] == variant
    _assert_matches(result, reference, X.shape[1], fit_intercept)
    assert 0.0 <= result.info["dual_gap"] <= result.info["tol"]


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("variant", ["gram", "dense"])
def test_dense_layouts(layout, variant):
    X, y = _data(seed=1)
    X = _storage(X, variant, layout=layout)
    result = coordinate_descent(X, y, alpha=0.02, options=CoordinateDescentOptions(variant=variant, **TIGHT))
    _assert_matches(result, _sklearn(X, y, 0.02, 1.0), X.shape[1])


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("variant", ["gram", "sparse"])
def test_csr_index_dtypes_and_csc(index_dtype, variant):
    X, y = _data(seed=2)
    X = _storage(X, "sparse", index_dtype=index_dtype)
    reference = _sklearn(X, y, 0.03, 0.7)
    for data in (X, X.tocsc()):
        result = coordinate_descent(data, y, alpha=0.03, l1_ratio=0.7,
                                    options=CoordinateDescentOptions(variant=variant, **TIGHT))
        _assert_matches(result, reference, X.shape[1])


@pytest.mark.parametrize("variant", VARIANTS)
def test_sample_weight_matches_sklearn_and_repetition(variant):
    X, y = _data(seed=3)
    weights = np.random.default_rng(3).integers(0, 4, X.shape[0]).astype(np.float64)
    Xs = _storage(X, variant)
    options = CoordinateDescentOptions(variant=variant, **TIGHT)
    result = coordinate_descent(Xs, y, weights, alpha=0.04, l1_ratio=0.8, options=options)
    _assert_matches(result, _sklearn(Xs, y, 0.04, 0.8, sample_weight=weights), X.shape[1])
    repeat = np.repeat(np.arange(X.shape[0]), weights.astype(int))
    Xr = Xs[repeat] if sp.issparse(Xs) else Xs[repeat]
    repeated = coordinate_descent(Xr, y[repeat], alpha=0.04, l1_ratio=0.8, options=options)
    np.testing.assert_allclose(result.params, repeated.params, rtol=0, atol=1e-7)


@pytest.mark.parametrize("variant", VARIANTS)
def test_positive(variant):
    X, y = _data(seed=4)
    X = _storage(X, variant)
    result = coordinate_descent(X, y, alpha=0.02, l1_ratio=0.9,
                                options=CoordinateDescentOptions(variant=variant, positive=True, **TIGHT))
    reference = _sklearn(X, y, 0.02, 0.9, positive=True)
    assert np.any(reference.coef_ == 0) and np.all(_split(result, X.shape[1])[0] >= 0)
    _assert_matches(result, reference, X.shape[1])


def test_objective_gap_against_sklearn_optimum():
    X, y = _data(seed=5)
    weights = np.random.default_rng(5).uniform(0.2, 2.0, X.shape[0])
    alpha, l1_ratio = 0.03, 0.6
    result = coordinate_descent(X, y, weights, alpha=alpha, l1_ratio=l1_ratio,
                                options=CoordinateDescentOptions(**TIGHT))
    reference = _sklearn(X, y, alpha, l1_ratio, sample_weight=weights)
    ours = _objective(X, y, weights, alpha, l1_ratio, True, *_split(result, X.shape[1]))
    theirs = _objective(X, y, weights, alpha, l1_ratio, True, reference.coef_, reference.intercept_)
    assert (ours - theirs) / abs(theirs) <= 1e-8
    assert abs(result.info["objective"] - ours) <= 1e-10 * abs(ours)  # same objective definition
    assert result.trace["objective"][-1] == pytest.approx(ours, rel=1e-10)


def test_variants_agree_multi_target_random_selection():
    X, Y = _data(n_targets=3, seed=6)
    results = []
    for variant in VARIANTS:
        Xs = sp.csr_matrix(X) if variant == "sparse" else X  # the same matrix in every storage
        options = CoordinateDescentOptions(variant=variant, selection="random", random_state=0, **TIGHT)
        result = coordinate_descent(Xs, Y, alpha=0.05, l1_ratio=0.5, options=options, n_threads=2)
        assert np.all(result.converged) and result.n_iter.shape == (3,)
        results.append(result.params)
        # each target equals its own single-target fit
        for k in range(3):
            single = coordinate_descent(Xs, Y[:, k], alpha=0.05, l1_ratio=0.5, options=options)
            np.testing.assert_allclose(result.params.reshape(-1, 3)[:, k], single.params, atol=1e-8)
    np.testing.assert_allclose(results[0], results[1], atol=1e-8)
    np.testing.assert_allclose(results[0], results[2], atol=1e-8)


@pytest.mark.parametrize("variant", VARIANTS)
def test_random_selection_is_reproducible_and_thread_independent(variant, monkeypatch):
    # the module itself: fastml.solvers re-exports a function of the same name
    cd_module = sys.modules["fastml.solvers.coordinate_descent"]
    monkeypatch.setattr(cd_module, "_MIN_PARALLEL_WORK", 0)  # small data, yet two threads
    X, Y = _data(n_targets=2, seed=7)
    Xs = _storage(X, variant)
    options = CoordinateDescentOptions(variant=variant, selection="random", random_state=3, max_iter=7,
                                       tol=1e-15, check_gap_every=3)
    first = coordinate_descent(Xs, Y, alpha=0.05, options=options, n_threads=1)
    second = coordinate_descent(Xs, Y, alpha=0.05, options=options, n_threads=2)
    assert np.array_equal(first.params, second.params)
    assert np.all(first.n_iter == 7) and not np.any(first.converged)
    other = coordinate_descent(Xs, Y, alpha=0.05, options=options.__class__(**{**options.__dict__, "random_state": 4}))
    assert not np.array_equal(first.params, other.params)


@pytest.mark.parametrize("variant", VARIANTS)
def test_path_matches_separate_fits_and_sklearn(variant):
    X, y = _data(seed=8)
    Xs = _storage(X, variant)
    options = CoordinateDescentOptions(variant=variant, **TIGHT)
    path = coordinate_descent_path(Xs, y, l1_ratio=0.8, n_alphas=8, eps=1e-2, options=options)
    X_c, y_c = _dense64(Xs) - _dense64(Xs).mean(axis=0), y - y.mean()
    top = np.abs(X_c.T @ y_c).max() / (X.shape[0] * 0.8)  # scikit-learn's alpha grid, written out
    np.testing.assert_allclose(path.alphas, np.geomspace(top, 1e-2 * top, 8), rtol=1e-12)
    _, sk_coefs, _ = enet_path(X_c, y_c, l1_ratio=0.8, alphas=path.alphas, tol=1e-13, max_iter=200_000)
    np.testing.assert_allclose(path.coef[:, :, 0], sk_coefs.T, atol=1e-6)
    assert np.all(path.converged) and np.all(path.dual_gap >= 0)
    for i in (0, 3, 7):
        single = coordinate_descent(Xs, y, alpha=path.alphas[i], l1_ratio=0.8, options=options)
        coef, intercept = _split(single, X.shape[1])
        np.testing.assert_allclose(path.coef[i], coef, atol=1e-7)
        np.testing.assert_allclose(path.intercept[i], intercept, atol=1e-7)


def test_alpha_max_gives_zero_coefficients():
    X, Y = _data(n_targets=2, seed=9)
    weights = np.random.default_rng(9).uniform(0.5, 1.5, X.shape[0])
    for Xs in (X, sp.csr_matrix(X)):
        top = alpha_max(Xs, Y, weights, l1_ratio=0.5)
        for variant in ("gram", "sparse" if sp.issparse(Xs) else "dense"):
            options = CoordinateDescentOptions(variant=variant, **TIGHT)
            at = coordinate_descent(Xs, Y, weights, alpha=top, l1_ratio=0.5, options=options)
            coef, intercept = _split(at, X.shape[1], n_targets=2)
            assert np.all(coef == 0) and np.all(at.n_iter == 0) and np.all(at.converged)
            np.testing.assert_allclose(intercept, np.average(Y, axis=0, weights=weights))
            below = coordinate_descent(Xs, Y, weights, alpha=0.99 * top, l1_ratio=0.5, options=options)
            assert np.count_nonzero(_split(below, X.shape[1], n_targets=2)[0]) >= 1


def test_duality_gap_trace_and_callback():
    X, y = _data(seed=10)
    options = CoordinateDescentOptions(tol=1e-10, check_gap_every=2, variant="dense")
    result = coordinate_descent(X, y, alpha=0.01, options=options)
    gaps = result.trace["gradient_norm"]
    assert result.converged and np.all(gaps >= 0) and gaps[-1] <= result.info["tol"] < gaps[0]
    assert result.trace["iteration"][0] == 0 and np.all(np.diff(result.trace["iteration"]) <= 2)
    assert np.all(np.isnan(result.trace["step"])) and np.all(np.diff(result.trace["seconds"]) >= 0)
    objective = result.trace["objective"]
    assert objective[-1] <= objective[0]
    seen = []
    stopped = coordinate_descent(X, y, alpha=0.01, options=options,
                                 callback=lambda info: seen.append(info.params.copy()) or len(seen) == 3)
    assert len(seen) == 3 and not stopped.converged and "callback" in stopped.message
    np.testing.assert_array_equal(seen[-1], stopped.params)


def test_warm_start_and_objective_adapter():
    X, y = _data(seed=11)
    weights = np.random.default_rng(11).uniform(0.5, 2.0, X.shape[0])
    objective = LinearObjective("squared_error", X, y, weights, l1=0.02, l2=0.01)
    result = coordinate_descent_objective(objective, options=CoordinateDescentOptions(**TIGHT))
    direct = coordinate_descent(X, y, weights, alpha=0.03, l1_ratio=2 / 3, options=CoordinateDescentOptions(**TIGHT))
    np.testing.assert_allclose(result.params, direct.params, atol=1e-9)
    assert objective.value(result.params) == pytest.approx(result.info["objective"], rel=1e-10)
    warm = coordinate_descent(X, y, weights, alpha=0.03, l1_ratio=2 / 3, w0=direct.params,
                              options=CoordinateDescentOptions(**TIGHT))
    assert warm.n_iter <= 1
    # two models with their own penalties: each equals its own fit
    two = LinearObjective("squared_error", X, y, weights, l1=[0.02, 0.05], l2=[0.01, 0.0])
    both = coordinate_descent_objective(two, options=CoordinateDescentOptions(**TIGHT))
    np.testing.assert_allclose(both.params.reshape(-1, 2)[:, 0], direct.params, atol=1e-9)
    lasso = coordinate_descent(X, y, weights, alpha=0.05, options=CoordinateDescentOptions(**TIGHT))
    np.testing.assert_allclose(both.params.reshape(-1, 2)[:, 1], lasso.params, atol=1e-9)
    np.testing.assert_allclose(two.values(both.params), both.info["objective"], rtol=1e-10)
    with pytest.raises(ValueError, match="squared_error"):
        coordinate_descent_objective(LinearObjective("log_loss", X, (y > y.mean()).astype(float), l1=0.1))


@pytest.mark.parametrize("variant", ["dense", "gram"])
def test_large_feature_means_stay_accurate(variant):
    # |mean| / std = 1e4: centering in Gram space alone would cancel 8 digits
    X, y = _data(seed=12, offset=1e4)
    result = coordinate_descent(X, y, alpha=0.02, options=CoordinateDescentOptions(variant=variant, **TIGHT))
    assert result.converged
    _assert_matches(result, _sklearn(X, y, 0.02, 1.0), X.shape[1])


@pytest.mark.parametrize("variant", VARIANTS)
def test_ridge_limit_matches_closed_form(variant):
    X, y = _data(seed=13)
    weights = np.random.default_rng(13).uniform(0.5, 2.0, X.shape[0])
    Xs = sp.csr_matrix(X) if variant == "sparse" else X
    result = coordinate_descent(Xs, y, weights, alpha=0.1, l1_ratio=0.0,
                                options=CoordinateDescentOptions(variant=variant, **TIGHT))
    mean_x, mean_y = np.average(X, axis=0, weights=weights), np.average(y, weights=weights)
    X_c, y_c = X - mean_x, y - mean_y
    system = X_c.T @ (weights[:, None] * X_c) / weights.sum() + 0.1 * np.eye(X.shape[1])
    coef = np.linalg.solve(system, X_c.T @ (weights * y_c) / weights.sum())
    assert result.converged  # the ridge gap (formulation B) reaches tol
    np.testing.assert_allclose(result.params[:-1], coef, atol=1e-8)
    np.testing.assert_allclose(result.params[-1], mean_y - mean_x @ coef, atol=1e-8)


def test_bad_input():
    X, y = _data(n=20, d=4)
    with pytest.raises(ValueError, match="alpha"):
        coordinate_descent(X, y, alpha=-1.0)
    with pytest.raises(ValueError, match="l1_ratio"):
        coordinate_descent(X, y, alpha=1.0, l1_ratio=1.5)
    with pytest.raises(ValueError, match="y must have shape"):
        coordinate_descent(X, y[:-1], alpha=1.0)
    with pytest.raises(ValueError, match="y contains NaN"):
        coordinate_descent(X, np.where(y > 0, np.nan, y), alpha=1.0)
    bad = X.copy()
    bad[2, 1] = np.inf
    for variant in VARIANTS:
        with pytest.raises(ValueError, match="NaN or infinity"):
            coordinate_descent(sp.csr_matrix(bad) if variant == "sparse" else bad, y, alpha=1.0,
                               options=CoordinateDescentOptions(variant=variant))
    with pytest.raises(ValueError, match="sample_weight"):
        coordinate_descent(X, y, -np.ones(20), alpha=1.0)
    with pytest.raises(ValueError, match="sample_weight"):
        coordinate_descent(X, y, np.ones(3), alpha=1.0)
    with pytest.raises(ValueError, match="variant='sparse' needs a sparse X"):
        coordinate_descent(X, y, alpha=1.0, options=CoordinateDescentOptions(variant="sparse"))
    with pytest.raises(ValueError, match="variant='dense' needs a dense X"):
        coordinate_descent(sp.csr_matrix(X), y, alpha=1.0, options=CoordinateDescentOptions(variant="dense"))
    with pytest.raises(TypeError, match="CSR or CSC"):
        coordinate_descent(sp.coo_matrix(X), y, alpha=1.0)
    with pytest.raises(ValueError, match="w0"):
        coordinate_descent(X, y, alpha=1.0, w0=np.zeros(3))
    for field, value in [("max_iter", 0), ("tol", -1.0), ("selection", "greedy"), ("variant", "csc"),
                         ("check_gap_every", 0)]:
        with pytest.raises(ValueError, match=field):
            CoordinateDescentOptions(**{field: value})
    with pytest.raises(ValueError, match="at least one sample and one feature"):
        coordinate_descent(np.zeros((5, 0)), np.zeros(5), alpha=1.0)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fold_statistics_give_each_training_folds_problem(fit_intercept, dtype):
    """Training-fold sums by subtraction (one pass over X) build the Gram problem that the fold's own
    rows give, for weighted rows, shuffled folds and a feature whose mean is 1e4 times its spread."""
    from sklearn.model_selection import KFold

    from fastml.solvers._cd_statistics import fold_training_statistics
    from fastml.solvers.coordinate_descent import _Problem

    rng = np.random.default_rng(5)
    X = rng.standard_normal((700, 6))
    X[:, 2] = 1e4 + 1e-0 * X[:, 2]
    X = X.astype(dtype)
    y = X.astype(np.float64) @ rng.standard_normal(6) + rng.standard_normal(700)
    weights = rng.uniform(0.5, 2.0, 700)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    training, total = fold_training_statistics(X, y[:, None], weights, folds, fit_intercept, n_threads=2)
    assert total.weight_sum == pytest.approx(weights.sum())
    for (train, _), stats in zip(folds, training):
        fold_weights = np.zeros(700)
        fold_weights[train] = weights[train]
        direct = _Problem(np.asarray(X, dtype=np.float64)[train], y[train], weights[train], fit_intercept, "gram", 1)
        built = _Problem.from_statistics(stats, fit_intercept, len(train), 1)
        scale = np.abs(direct.gram).max()
        np.testing.assert_allclose(built.gram, direct.gram, rtol=1e-9, atol=1e-11 * scale)
        np.testing.assert_allclose(built.xty, direct.xty, rtol=1e-9, atol=1e-11 * np.abs(direct.xty).max())
        np.testing.assert_allclose(built.x_mean, direct.x_mean, rtol=1e-12)
        np.testing.assert_allclose(built.y_mean, direct.y_mean, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(built.y_norm2, direct.y_norm2, rtol=1e-10)
        assert built.weight_sum == pytest.approx(direct.weight_sum, rel=1e-14)


def test_fold_statistics_need_partitioning_folds():
    from sklearn.model_selection import ShuffleSplit

    from fastml.solvers._cd_statistics import fold_training_statistics

    X, y = np.ones((50, 3)), np.ones((50, 1))
    folds = list(ShuffleSplit(3, test_size=0.2, random_state=0).split(X))
    assert fold_training_statistics(X, y, np.ones(50), folds, True, 1) is None


def test_auto_variant_forms_the_gram_where_it_pays():
    """One dense solve takes the Gram only with enough rows per feature to amortize it (2 000 x 500:
    12.5 ms against 3.7 ms for the column sweeps, measured); a path of penalties, several targets or
    sparse X share one Gram from n_samples >= n_features on; wide data never."""
    from fastml.solvers.coordinate_descent import _GRAM_MIN_ROWS_PER_FEATURE, _choose_variant

    few_rows = _GRAM_MIN_ROWS_PER_FEATURE * 100 - 1
    assert _choose_variant("auto", False, few_rows, 100) == "dense"
    assert _choose_variant("auto", False, few_rows + 1, 100) == "gram"
    assert _choose_variant("auto", False, few_rows, 100, n_solves=2) == "gram"
    assert _choose_variant("auto", True, few_rows, 100) == "gram"
    assert _choose_variant("auto", True, 99, 100) == "sparse"
    assert _choose_variant("auto", False, 10 ** 6, 1025) == "dense"
    assert _choose_variant("gram", False, 10, 100) == "gram"  # asked for: always
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 40))
    y = X[:, :5].sum(axis=1) + rng.standard_normal(300)
    single = coordinate_descent(X, y, alpha=0.05, options=CoordinateDescentOptions(**TIGHT))
    two_targets = coordinate_descent(X, np.column_stack([y, -y]), alpha=0.05, options=CoordinateDescentOptions(**TIGHT))
    path = coordinate_descent_path(X, y, alphas=[0.1, 0.05], options=CoordinateDescentOptions(**TIGHT))
    assert single.info["variant"] == "dense" and two_targets.info["variant"] == "gram"
    np.testing.assert_allclose(two_targets.params.reshape(41, 2)[:, 0], single.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(path.coef[1, :, 0], single.params[:40], rtol=0, atol=1e-8)


@pytest.mark.parametrize("l1_ratio, positive", [(1.0, False), (0.5, True), (0.0, False), (0.0, True)])
@pytest.mark.parametrize("selection", ["cyclic", "random"])
@pytest.mark.parametrize("variant, weighted, dtype", [("gram", False, np.float64), ("dense", False, np.float64),
                                                    ("dense", True, np.float32)])
def test_compiled_solve_is_the_python_driver(l1_ratio, positive, selection, variant, weighted, dtype):
    """A path's solves on the Gram matrix or dense columns run in one compiled call each
    (kernels._cd.gram_solve / dense_solve: sweeps, duality gaps and gap-safe screening): the same
    iterates, sweep counts, convergence and gaps as the Python driver that traced fits use, up to
    the rounding of the gap's sums. Two targets, one of which runs out of sweeps (max_iter), Lasso /
    elastic net / ridge / least squares, positive, sample weights, float32 columns."""
    from fastml.solvers import _result
    from fastml.solvers.coordinate_descent import _penalties, _Problem, _solve

    X, Y = _data(n=150, d=30, n_targets=2, seed=8)
    Y[:, 1] *= 40.0  # a second target far from converging within a few sweeps
    weights = np.random.default_rng(2).uniform(0.2, 3.0, 150) if weighted else None
    problem = _Problem(X.astype(dtype), Y, weights, True, variant, 1)
    assert problem.variant == variant
    W = problem.weight_sum
    for alpha, max_iter in ((0.3, 1000), (0.01, 1000), (0.0, 40), (0.01, 7)):
        options = CoordinateDescentOptions(tol=1e-10, max_iter=max_iter, selection=selection, random_state=5,
                                           positive=positive, check_gap_every=3)
        l1, l2 = _penalties(alpha, l1_ratio, 2)
        start = np.full((2, 30), 0.05)
        trace = _result.Trace()
        trace.start()
        expected = _solve(problem, l1 * W, l2 * W, start.copy(), options, trace=trace, params_of=lambda c: None)
        compiled = _solve(problem, l1 * W, l2 * W, start.copy(), options)
        np.testing.assert_allclose(compiled[0], expected[0], rtol=1e-9, atol=1e-12)  # coefficients
        np.testing.assert_array_equal(compiled[1], expected[1])  # sweeps
        np.testing.assert_array_equal(compiled[2], expected[2])  # converged
        np.testing.assert_allclose(compiled[3], expected[3], rtol=1e-6, atol=1e-12 * problem.y_norm2.max() / W)
        np.testing.assert_allclose(compiled[4], expected[4], rtol=1e-12)  # primal objective
        assert compiled[5] == expected[5]
    assert not expected[2].all()  # max_iter=7 left a target unconverged: both say so
