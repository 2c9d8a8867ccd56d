"""Copies that change layout: dense ``X`` into column-major order (fused with the column sums its user
needs next), the weight matrices of many models between model-major and feature-major order, and a
systematic sample of ``X``'s rows.

Why: the column variant of coordinate descent sweeps the columns of ``X`` and needs F order; numpy's
``np.asfortranarray`` of a C-ordered 5 000 x 2 000 float64 matrix took 50-110 ms on the 2-core machine
of ``PEERS.md`` (a transposing copy that walks one side of it with a large stride), and the weighted
column sums and norms were one more pass. Here the copy runs in tiles of 256 rows x 16 columns (32 kB
for float64: the tile's cache lines stay in L1 while each of its columns is written; in a one-off
comparison 15 ms against 18-21 ms for 32-128-row square-ish tiles; 13 ms for 5 000 x 2 000 as
compiled here, into an already mapped buffer), the threads take column blocks, and each column's
weighted sums of ``x - origin`` and of its square are taken from the tile as it is copied. Every
column is summed by one thread in row order: the result does not depend on the number of threads.
"""
import numpy as np
from numba import prange

from ._jit import jit_kernel

TILE_ROWS = 256
TILE_COLUMNS = 16


# no reassociation ("gather" drops it): every sum keeps row order, so the serial twin (one thread)
# and the parallel kernel (any threads) agree to the bit, as coordinate descent's results must
@jit_kernel(parallel=True, gather=True)
def fortran_copy_with_column_sums(X, origin, weights, out, sums, square_sums):
    """``out[:] = X`` (``X`` C-ordered, ``out`` F-ordered, same dtype) and, per column ``j``,
    ``sums[j] = sum_i w_i (X[i, j] - origin[j])`` and ``square_sums[j] = sum_i w_i (X[i, j] - origin[j])^2``
    in float64 (``origin``, ``weights`` float64)."""
    n_rows, n_columns = X.shape
    n_blocks = (n_columns + TILE_COLUMNS - 1) // TILE_COLUMNS
    for block in prange(n_blocks):
        first = block * TILE_COLUMNS
        last = min(first + TILE_COLUMNS, n_columns)
        for j in range(first, last):
            sums[j] = 0.0
            square_sums[j] = 0.0
        for start in range(0, n_rows, TILE_ROWS):
            stop = min(start + TILE_ROWS, n_rows)
            for j in range(first, last):
                shift = origin[j]
                total = 0.0
                squares = 0.0
                for i in range(start, stop):
                    value = X[i, j]
                    out[i, j] = value
                    centered = np.float64(value) - shift
                    weighted = weights[i] * centered
                    total += weighted
                    squares += weighted * centered
                sums[j] += total
                square_sums[j] += squares


# square tiles of the transposing copy: 32 x 32 float64 is 8 kB read and 8 kB written, in L1
TRANSPOSE_TILE = 32


@jit_kernel
def transposed_copy(source, out):
    """``out[j, i] = source[i, j]`` for a 2-D ``source`` (any layout) and ``out`` of the transposed
    shape (any layout; a float32 ``out`` rounds), tile by tile.

    Why: the SGD weights of K models are model-major (K, n_features + 1), the flat parameters and
    ``coef`` feature-major. With 10 classes of 2^18 hashed features numpy's transposing copies
    (``np.ascontiguousarray(a.T)``, ``out[...] = a.T``) took 4-19 ms each, several an epoch; in tiles
    that keep both sides' cache lines in L1, under 2 ms."""
    n_rows, n_columns = source.shape
    for first_row in range(0, n_rows, TRANSPOSE_TILE):
        last_row = min(first_row + TRANSPOSE_TILE, n_rows)
        for first_column in range(0, n_columns, TRANSPOSE_TILE):
            last_column = min(first_column + TRANSPOSE_TILE, n_columns)
            for i in range(first_row, last_row):
                for j in range(first_column, last_column):
                    out[j, i] = source[i, j]


@jit_kernel(parallel=True)
def every_nth_row_copy(X, step, out, n_threads):
    """``out[:] = X[::step]`` for a C-ordered ``X`` (``out`` C-ordered, ``ceil(n_rows / step)`` rows; a
    float32 ``out`` of float64 ``X`` rounds to nearest), the rows split over ``n_threads`` threads.

    Why: the row sample that starts L-BFGS on a large problem (``solvers._sample_start``) was numpy's
    ``X[::step].copy()``, one thread gathering rows several pages apart: 10.9 ms for every 19th row of
    1e6 x 100 float64 here, 6.0 ms on two threads this way (float32: 2.2 -> 0.9 ms)."""
    n_out = out.shape[0]
    for chunk in prange(n_threads):
        for i in range(n_out * chunk // n_threads, n_out * (chunk + 1) // n_threads):
            out[i, :] = X[i * step, :]


__all__ = ["TILE_COLUMNS", "TILE_ROWS", "TRANSPOSE_TILE", "every_nth_row_copy", "fortran_copy_with_column_sums",
           "transposed_copy"]
