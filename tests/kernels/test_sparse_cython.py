"""Cython CSR kernels (``fastml.kernels._sparse``) against dense numpy references.

The reference is always built in float64 from the (possibly float32) CSR data, with duplicate
entries summed (``np.add.at``), so float32 data must match to ~1e-12 too: the kernels accumulate in
float64.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.kernels import _sparse

RTOL = 1e-12

# rows of the "messy" matrix: empty rows (first, last, inner), unsorted columns, duplicates
MESSY_ROWS = [
    [],
    [3, 0, 3, 5],
    [],
    [1],
    [5, 4, 3, 2, 1, 0, 0],
    [2, 2, 2],
    [],
    [0, 5, 0, 5, 1],
    [4],
    [3, 1, 4, 1, 5],
    [],
]


def _csr_from_rows(rows, rng):
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(row) for row in rows])
    indices = np.array([j for row in rows for j in row], dtype=np.int64)
    data = rng.standard_normal(indices.shape[0])
    return data, indices, indptr


def _make_csr(case, rng):
    """(data float64, indices int64, indptr int64, n_features) of a small test matrix."""
    if case == "random":  # canonical: sorted, no duplicates, some empty rows
        X = sp.random_array((30, 7), density=0.25, format="csr", rng=rng)
        X.data = rng.standard_normal(X.data.shape[0])
        return X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64), 7
    if case == "messy":
        return (*_csr_from_rows(MESSY_ROWS, rng), 6)
    if case == "no_rows":
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), 6
    if case == "no_nonzeros":
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(5, dtype=np.int64), 6
    raise ValueError(case)


def _dense(data, indices, indptr, n_features):
    """Dense float64 copy, duplicates summed."""
    n_samples = indptr.shape[0] - 1
    rows = np.repeat(np.arange(n_samples), np.diff(indptr))
    dense = np.zeros((n_samples, n_features))
    np.add.at(dense, (rows, indices), data.astype(np.float64))
    return dense


def _read_only(*arrays):
    for array in arrays:
        array.flags.writeable = False


def _case_arrays(case, dtype, index_dtype, read_only, seed=0):
    rng = np.random.default_rng(seed)
    data, indices, indptr, n_features = _make_csr(case, rng)
    data = np.ascontiguousarray(data, dtype=dtype)
    indices = np.ascontiguousarray(indices, dtype=index_dtype)
    indptr = np.ascontiguousarray(indptr, dtype=index_dtype)
    dense = _dense(data, indices, indptr, n_features)
    if read_only:
        _read_only(data, indices, indptr)
    return data, indices, indptr, dense, rng


def _assert_close(got, expected):
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale)


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint64)


CASES = ["random", "messy", "no_rows", "no_nonzeros"]
dtypes = pytest.mark.parametrize("dtype", [np.float32, np.float64])
index_dtypes = pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
cases = pytest.mark.parametrize("case", CASES)
read_only = pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read_only"])
n_threads_ = pytest.mark.parametrize("n_threads", [1, 2])
n_models_ = pytest.mark.parametrize("n_models", [1, 3])


def test_dense_reference_matches_scipy():
    # sanity check of the reference itself: scipy sums duplicates the same way
    data, indices, indptr, dense, _ = _case_arrays("messy", np.float64, np.int64, False)
    X = sp.csr_matrix((data, indices, indptr), shape=dense.shape)
    assert not X.has_canonical_format
    np.testing.assert_array_equal(X.toarray(), dense)


@read_only
@n_threads_
@n_models_
@index_dtypes
@dtypes
@cases
def test_csr_matvec(case, dtype, index_dtype, n_models, n_threads, read_only):
    data, indices, indptr, dense, rng = _case_arrays(case, dtype, index_dtype, read_only)
    x = rng.standard_normal((dense.shape[1], n_models))
    out = np.full((dense.shape[0], n_models), np.nan)
    if read_only:
        _read_only(x)
    _sparse.csr_matvec(data, indices, indptr, x, out, n_threads)
    _assert_close(out, dense @ x)


@read_only
@n_threads_
@n_models_
@index_dtypes
@dtypes
@cases
def test_csr_rmatvec(case, dtype, index_dtype, n_models, n_threads, read_only):
    data, indices, indptr, dense, rng = _case_arrays(case, dtype, index_dtype, read_only)
    r = rng.standard_normal((dense.shape[0], n_models))
    out = np.full((dense.shape[1], n_models), np.nan)
    if read_only:
        _read_only(r)
    _sparse.csr_rmatvec(data, indices, indptr, r, out, n_threads)
    _assert_close(out, dense.T @ r)
    # square=True squares each stored value (duplicates are not summed first)
    _sparse.csr_rmatvec(data, indices, indptr, r, out, n_threads, square=True)
    _assert_close(out, _dense(data.astype(np.float64) ** 2, indices, indptr, dense.shape[1]).T @ r)


@read_only
@n_threads_
@index_dtypes
@dtypes
@cases
def test_csr_weighted_gram(case, dtype, index_dtype, n_threads, read_only):
    data, indices, indptr, dense, rng = _case_arrays(case, dtype, index_dtype, read_only)
    h = rng.uniform(-0.5, 2.0, dense.shape[0])  # any sign
    out = np.full((dense.shape[1], dense.shape[1]), np.nan)
    if read_only:
        _read_only(h)
    _sparse.csr_weighted_gram(data, indices, indptr, h, out, n_threads)
    _assert_close(out, dense.T @ (h[:, None] * dense))
    np.testing.assert_array_equal(out, out.T)


@read_only
@index_dtypes
@dtypes
@cases
def test_csr_column_sq_norms(case, dtype, index_dtype, read_only):
    data, indices, indptr, dense, rng = _case_arrays(case, dtype, index_dtype, read_only)
    n_features = dense.shape[1]
    sample_weight = rng.uniform(0.1, 2.0, dense.shape[0])
    out = np.full(n_features, np.nan)
    if read_only:
        _read_only(sample_weight)
    _sparse.csr_column_sq_norms(data, indices, indptr, n_features, sample_weight, out)
    _assert_close(out, sample_weight @ dense**2)


@read_only
@index_dtypes
@dtypes
@cases
def test_csr_weighted_column_sums(case, dtype, index_dtype, read_only):
    data, indices, indptr, dense, rng = _case_arrays(case, dtype, index_dtype, read_only)
    n_features = dense.shape[1]
    sample_weight = rng.uniform(0.1, 2.0, dense.shape[0])
    out = np.full(n_features, np.nan)
    if read_only:
        _read_only(sample_weight)
    _sparse.csr_weighted_column_sums(data, indices, indptr, n_features, sample_weight, out)
    _assert_close(out, sample_weight @ dense)


# --- threads: bitwise determinism for a fixed n_threads, agreement across n_threads -------------


def _medium_csr(dtype, skewed):
    """300 x 20 CSR (unsorted, with duplicates); ``skewed`` puts most nonzeros in one row."""
    rng = np.random.default_rng(42)
    rows = [list(rng.integers(0, 20, rng.integers(0, 12))) for _ in range(300)]
    if skewed:
        rows[5] = list(rng.integers(0, 20, 600))
    data, indices, indptr = _csr_from_rows(rows, rng)
    return data.astype(dtype), indices, indptr, _dense(data.astype(dtype), indices, indptr, 20), rng


def _call(kernel, data, indices, indptr, operand, out_shape, n_threads):
    out = np.empty(out_shape)
    kernel(data, indices, indptr, operand, out, n_threads)
    return out


@pytest.mark.parametrize("skewed", [False, True], ids=["balanced", "skewed"])
@dtypes
def test_threads_deterministic_and_consistent(dtype, skewed):
    data, indices, indptr, dense, rng = _medium_csr(dtype, skewed)
    n_samples, n_features = dense.shape
    x = rng.standard_normal((n_features, 3))
    r = rng.standard_normal((n_samples, 3))
    h = rng.uniform(0.0, 2.0, n_samples)
    checks = [
        (_sparse.csr_matvec, x, (n_samples, 3), dense @ x),
        (_sparse.csr_rmatvec, r, (n_features, 3), dense.T @ r),
        (_sparse.csr_weighted_gram, h, (n_features, n_features), dense.T @ (h[:, None] * dense)),
    ]
    for kernel, operand, out_shape, expected in checks:
        serial = _call(kernel, data, indices, indptr, operand, out_shape, 1)
        _assert_close(serial, expected)
        for n_threads in (2, 3, 7):
            first = _call(kernel, data, indices, indptr, operand, out_shape, n_threads)
            for _ in range(3):
                again = _call(kernel, data, indices, indptr, operand, out_shape, n_threads)
                np.testing.assert_array_equal(_bits(again), _bits(first))
            _assert_close(first, serial)
            if kernel is _sparse.csr_matvec:  # one thread per output row: identical bits
                np.testing.assert_array_equal(_bits(first), _bits(serial))


@pytest.mark.parametrize(
    "kernel", [_sparse.csr_matvec, _sparse.csr_rmatvec, _sparse.csr_weighted_gram]
)
def test_more_threads_than_rows_and_nonpositive_threads(kernel):
    data, indices, indptr, dense, rng = _case_arrays("messy", np.float64, np.int32, False)
    n_samples, n_features = dense.shape
    if kernel is _sparse.csr_matvec:
        operand, out_shape = rng.standard_normal((n_features, 2)), (n_samples, 2)
    elif kernel is _sparse.csr_rmatvec:
        operand, out_shape = rng.standard_normal((n_samples, 2)), (n_features, 2)
    else:
        operand, out_shape = rng.uniform(0.0, 1.0, n_samples), (n_features, n_features)
    serial = _call(kernel, data, indices, indptr, operand, out_shape, 1)
    for n_threads in (0, -3):  # below 1 acts as 1
        got = _call(kernel, data, indices, indptr, operand, out_shape, n_threads)
        np.testing.assert_array_equal(_bits(got), _bits(serial))
    _assert_close(_call(kernel, data, indices, indptr, operand, out_shape, 64), serial)


# --- contract details ---------------------------------------------------------------------------


def test_float32_data_accumulates_in_float64():
    # float32 accumulation would give 0 for 1e8 + 1 - 1e8; float64 gives 1
    data = np.array([1e8, 1.0, -1e8], dtype=np.float32)
    indices = np.array([0, 1, 2], dtype=np.int32)
    indptr = np.array([0, 3], dtype=np.int32)
    out = np.empty((1, 1))
    _sparse.csr_matvec(data, indices, indptr, np.ones((3, 1)), out, 1)
    assert out[0, 0] == 1.0
    out = np.empty((3, 1))
    _sparse.csr_rmatvec(data[[0, 1, 2]], np.zeros(3, np.int32), indptr, np.ones((1, 1)), out, 1)
    assert out[0, 0] == 1.0


def test_gram_duplicates_in_one_column():
    # X = [[1 + 2]] written as two entries: X^T h X = h * 9, not h * (1 + 4)
    data = np.array([1.0, 2.0])
    indices = np.array([0, 0], dtype=np.int64)
    indptr = np.array([0, 2], dtype=np.int64)
    h = np.array([0.5])
    gram = np.empty((1, 1))
    _sparse.csr_weighted_gram(data, indices, indptr, h, gram, 1)
    norms = np.empty(1)
    _sparse.csr_column_sq_norms(data, indices, indptr, 1, h, norms)
    assert gram[0, 0] == 4.5
    assert norms[0] == 4.5


def test_index_dtypes_must_match():
    data, indices, indptr, dense, rng = _case_arrays("messy", np.float64, np.int32, False)
    x = rng.standard_normal((dense.shape[1], 1))
    out = np.empty((dense.shape[0], 1))
    with pytest.raises((TypeError, ValueError)):  # Cython: "Buffer dtype mismatch"
        _sparse.csr_matvec(data, indices, indptr.astype(np.int64), x, out, 1)


def test_output_must_be_writable():
    data, indices, indptr, dense, rng = _case_arrays("messy", np.float64, np.int64, False)
    out = np.empty((dense.shape[0], 1))
    _read_only(out)
    with pytest.raises(ValueError):
        _sparse.csr_matvec(data, indices, indptr, np.ones((dense.shape[1], 1)), out, 1)
