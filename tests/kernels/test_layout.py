"""The copies of ``kernels.layout`` (the column-major copy of the coordinate-descent column variant, the
model-major / feature-major weight copies, the row sample), against numpy."""
import numba
import numpy as np
import pytest

from fastml.kernels.layout import TILE_COLUMNS, TILE_ROWS, fortran_copy_with_column_sums, transposed_copy


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (TILE_ROWS + 3, 2 * TILE_COLUMNS + 5), (7, 300)])
def test_copy_and_column_sums_match_numpy(dtype, shape):
    rng = np.random.default_rng(shape[0])
    X = (rng.standard_normal(shape) * 3 + 1e3).astype(dtype)  # an offset: the origin keeps the digits
    origin = X[0].astype(np.float64)
    weights = rng.uniform(0.0, 2.0, shape[0])
    results = []
    runs = [(fortran_copy_with_column_sums, 1), (fortran_copy_with_column_sums, 2),
            (fortran_copy_with_column_sums.serial, 1)]
    for kernel, threads in runs:
        out = np.empty(shape, dtype=dtype, order="F")
        sums, square_sums = np.full(shape[1], np.nan), np.full(shape[1], np.nan)
        previous = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            kernel(X, origin, weights, out, sums, square_sums)
        finally:
            numba.set_num_threads(previous)
        np.testing.assert_array_equal(out, X)
        assert out.flags.f_contiguous and out.dtype == dtype
        centered = X.astype(np.float64) - origin
        np.testing.assert_allclose(sums, weights @ centered, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(square_sums, weights @ centered ** 2, rtol=1e-12, atol=1e-9)
        results.append((sums, square_sums))
    # each column is summed by one thread in row order: the thread count does not change a bit, and
    # neither does the serial twin (coordinate descent is bitwise thread-independent)
    for sums, square_sums in results[1:]:
        np.testing.assert_array_equal(results[0][0], sums)
        np.testing.assert_array_equal(results[0][1], square_sums)


@pytest.mark.parametrize("shape", [(1, 1), (3, 70), (70, 3), (33, 65)])
def test_transposed_copy_is_the_transpose(shape):
    """Tiles of TRANSPOSE_TILE with ragged edges, a strided (sliced) source, and a float32 target."""
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((shape[0], shape[1] + 5))
    source = wide[:, 2:shape[1] + 2]  # neither C- nor F-contiguous
    out = np.full(shape[::-1], np.nan)
    transposed_copy(source, out)
    assert np.array_equal(out, source.T)
    narrow = np.empty(shape[::-1], dtype=np.float32)
    transposed_copy(source, narrow)
    assert np.array_equal(narrow, source.T.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_rows, step", [(1, 3), (10, 1), (101, 8), (1000, 19)])
def test_every_nth_row_copy_is_numpy_slicing(dtype, n_rows, step):
    """The threaded row sample equals ``X[::step]`` on one thread, on two, and through
    ``DesignMatrix.every_nth_row`` for C- and F-ordered X."""
    from fastml._objective import DesignMatrix
    from fastml.kernels.layout import every_nth_row_copy

    X = np.random.default_rng(1).standard_normal((n_rows, 7)).astype(dtype)
    expected = X[::step]
    for n_threads in (1, 2):
        out = np.full(expected.shape, np.nan, dtype=dtype)
        (every_nth_row_copy.serial if n_threads == 1 else every_nth_row_copy)(X, step, out, n_threads)
        assert np.array_equal(out, expected)
    for layout in (X, np.asfortranarray(X)):
        sample = DesignMatrix(layout).every_nth_row(step).dense
        assert np.array_equal(sample, expected) and sample.dtype == dtype
        # into another dtype: float64 rows rounded to nearest float32 (numpy's astype), float32 widened
        other = np.float32 if dtype == np.float64 else np.float64
        converted = DesignMatrix(layout).every_nth_row(step, dtype=other).dense
        assert converted.dtype == other and np.array_equal(converted, expected.astype(other))
        assert converted.flags.f_contiguous == (layout.flags.f_contiguous and not layout.flags.c_contiguous) or n_rows == 1


def test_every_nth_row_of_csr_into_float32_and_bad_dtype():
    import scipy.sparse as sp

    from fastml._objective import DesignMatrix

    dense = np.random.default_rng(2).standard_normal((50, 6)) * (np.random.default_rng(3).random((50, 6)) < 0.4)
    sample = DesignMatrix(sp.csr_matrix(dense)).every_nth_row(4, dtype=np.float32)
    assert sample.is_sparse and sample.dtype == np.float32 and sample.csr[0].dtype == np.float32
    np.testing.assert_array_equal(sp.csr_matrix(sample.csr, shape=sample.shape).toarray(), dense[::4].astype(np.float32))
    assert DesignMatrix(dense).every_nth_row(1, dtype=np.float32).dense.dtype == np.float32  # step 1 converts too
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        DesignMatrix(dense).every_nth_row(2, dtype=np.int64)
