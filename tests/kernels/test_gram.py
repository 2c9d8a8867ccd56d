"""Weighted Gram matrices ``X^T diag(h) X`` (``fastml.kernels.gram``) against numpy.

Checked with and without weights, with the right-hand side ``X^T diag(h) R`` taken in the same pass,
for float32/float64 and C/F order, with row blocks smaller than ``n_samples``; and that the dense
kernel never copies ``X`` (tracemalloc sees numpy's allocations).
"""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from fastml.kernels import _parallel, gram

RTOL = 1e-12


def _problem(n_samples=203, n_features=9, n_targets=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    h = rng.uniform(0.0, 2.0, n_samples) * (rng.random(n_samples) < 0.9)  # some zero weights
    rhs = rng.standard_normal((n_samples, n_targets))
    return X, h, rhs


def _assert_close(got, expected, rtol=RTOL):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("block_rows", [gram.BLOCK_ROWS, 50, 1])
@pytest.mark.parametrize("with_rhs", [False, True], ids=["no_rhs", "rhs"])
@pytest.mark.parametrize("weighted", [False, True], ids=["ones", "h"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_weighted_gram_dense_matches_numpy(dtype, order, weighted, with_rhs, block_rows):
    X, h, rhs = _problem()
    X = np.asarray(X.astype(dtype), order=order)
    X.flags.writeable = False
    X64 = X.astype(np.float64)
    weights = h if weighted else np.ones(X.shape[0])
    out = np.full((X.shape[1], X.shape[1]), np.nan)
    rhs_out = np.full((X.shape[1], rhs.shape[1]), np.nan) if with_rhs else None
    gram.weighted_gram_dense(X, h if weighted else None, out, rhs=rhs if with_rhs else None, rhs_out=rhs_out,
                             block_rows=block_rows)
    _assert_close(out, X64.T @ (weights[:, None] * X64))
    np.testing.assert_array_equal(out, out.T)  # the full symmetric matrix, not one triangle
    if with_rhs:
        _assert_close(rhs_out, X64.T @ (weights[:, None] * rhs))


def test_weighted_gram_dense_overwrites_rhs_out_and_handles_one_row():
    X, h, rhs = _problem(n_samples=1)
    out = np.full((X.shape[1], X.shape[1]), 7.0)
    rhs_out = np.full((X.shape[1], 2), 7.0)
    gram.weighted_gram_dense(X, h, out, rhs=rhs, rhs_out=rhs_out)
    _assert_close(out, h[0] * np.outer(X[0], X[0]))
    _assert_close(rhs_out, h[0] * np.outer(X[0], rhs[0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True], ids=["ones", "h"])
def test_weighted_gram_dense_does_not_copy_X(dtype, order, weighted):
    n_samples, n_features = 40_000, 40
    rng = np.random.default_rng(1)
    X = np.asarray(rng.standard_normal((n_samples, n_features)).astype(dtype), order=order)
    h = rng.uniform(0.5, 1.5, n_samples) if weighted else None
    rhs = np.ones((n_samples, 1))
    out = np.empty((n_features, n_features))
    rhs_out = np.empty((n_features, 1))
    # compile (or load) first, on a small matrix of the same dtype and order: compilation allocates too
    small = np.asarray(X[:100], order=order)
    gram.weighted_gram_dense(small, None if h is None else h[:100], out, rhs=rhs[:100], rhs_out=rhs_out)
    tracemalloc.start()
    try:
        gram.weighted_gram_dense(X, h, out, rhs=rhs, rhs_out=rhs_out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a float64 copy of X (or its transpose) would cost X.nbytes (float64) or 2 * X.nbytes (float32)
    assert peak < 0.25 * X.nbytes, (peak, X.nbytes)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True], ids=["ones", "h"])
def test_weighted_gram_csr_matches_numpy(weighted, dtype, index_dtype, n_threads):
    X, h, _ = _problem()
    X[np.random.default_rng(2).random(X.shape) < 0.6] = 0.0
    csr = sp.csr_matrix(X.astype(dtype))
    data, indices, indptr = csr.data, csr.indices.astype(index_dtype), csr.indptr.astype(index_dtype)
    for array in (data, indices, indptr):
        array.flags.writeable = False
    X64 = csr.toarray().astype(np.float64)
    weights = h if weighted else np.ones(X.shape[0])
    out = np.full((X.shape[1], X.shape[1]), np.nan)
    gram.weighted_gram_csr(data, indices, indptr, X.shape[1], h if weighted else None, out, n_threads)
    _assert_close(out, X64.T @ (weights[:, None] * X64))
    np.testing.assert_array_equal(out, out.T)


@pytest.mark.parametrize("weighted", [False, True], ids=["ones", "h"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_weighted_gram_dense_row_chunks_on_threads(dtype, weighted):
    """Large enough for one thread per row chunk: equal to numpy, and bitwise reproducible."""
    n_samples = 2 * _parallel.MIN_VALUES_PER_THREAD // 10 + 17
    X, h, rhs = _problem(n_samples=n_samples, n_features=10)
    X = X.astype(dtype)
    X64 = X.astype(np.float64)
    weights = h if weighted else np.ones(n_samples)
    runs = []
    for _ in range(2):
        out, rhs_out = np.empty((10, 10)), np.empty((10, 2))
        gram.weighted_gram_dense(X, h if weighted else None, out, rhs=rhs, rhs_out=rhs_out, n_threads=2)
        runs.append((out, rhs_out))
    _assert_close(runs[0][0], X64.T @ (weights[:, None] * X64), rtol=1e-11)
    _assert_close(runs[0][1], X64.T @ (weights[:, None] * rhs), rtol=1e-11)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    single = np.empty((10, 10))
    gram.weighted_gram_dense(X, h if weighted else None, single, n_threads=1)
    _assert_close(single, runs[0][0], rtol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True], ids=["ones", "h"])
def test_single_precision_blocks_are_close_to_the_float64_gram_of_float32_x(weighted, order, n_threads, monkeypatch):
    """float32 X, blocks multiplied in float32: every entry within 1e-5 of its row and column's scale
    of the exact Gram of those float32 values (the L-BFGS start sample's Hessian); the blocks' products
    differ from the widened ones (so the single-precision path ran), the matrix is symmetric."""
    monkeypatch.setattr(_parallel, "MIN_VALUES_PER_THREAD", 1)
    X, h, rhs = _problem(n_samples=5000, n_features=40)
    X[:, 3] += 5.0  # a column that is not centred, as raw features are
    X = np.asarray(X.astype(np.float32), order=order)
    weights = h if weighted else np.ones(X.shape[0])
    X64 = X.astype(np.float64)
    exact = X64.T @ (weights[:, None] * X64)
    exact_rhs = X64.T @ (weights[:, None] * rhs)
    out, rhs_out = np.empty_like(exact), np.empty_like(exact_rhs)
    gram.weighted_gram_dense(X, h if weighted else None, out, rhs=rhs, rhs_out=rhs_out, block_rows=512,
                             n_threads=n_threads, single_precision_blocks=True)
    scale = np.sqrt(np.diag(exact))
    assert np.max(np.abs(out - exact) / np.outer(scale, scale)) <= 1e-5
    rhs_scale = np.sqrt(weights @ rhs ** 2)
    assert np.max(np.abs(rhs_out - exact_rhs) / np.outer(scale, rhs_scale)) <= 1e-5
    np.testing.assert_array_equal(out, out.T)
    widened = np.empty_like(exact)
    gram.weighted_gram_dense(X, h if weighted else None, widened, block_rows=512, n_threads=n_threads)
    assert np.max(np.abs(widened - exact) / np.outer(scale, scale)) <= 1e-12
    assert not np.array_equal(out, widened)


def test_single_precision_blocks_leave_float64_x_exact():
    """The option rounds float32 blocks only: a float64 X gives bitwise the default result."""
    X, h, rhs = _problem()
    default, single = np.empty((9, 9)), np.empty((9, 9))
    gram.weighted_gram_dense(X, h, default)
    gram.weighted_gram_dense(X, h, single, single_precision_blocks=True)
    np.testing.assert_array_equal(single, default)
