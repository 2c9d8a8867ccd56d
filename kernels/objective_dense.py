"""Fused loss + gradient and Hessian-vector kernels over dense ``X``, K models in one pass.

Design: computing ``raw = X @ coef``, then the pointwise gradient, then ``X.T @ g`` reads ``X`` twice
from memory and allocates two n-sized temporaries. These kernels walk ``X`` in blocks of
``BLOCK_ROWS`` rows: the block's raw predictions, the per-sample loss and gradient, and the block's
contribution to the gradient are computed while the block (at most ~100 kB for 100 features) is still
in cache, so ``X`` is read from memory once. The loop order inside a block follows the memory layout
of ``X`` (rows for C order, columns for F order), checked at run time from the strides, so C- and
F-ordered input are both read contiguously by the same source. Rows are split into ``n_threads``
chunks with float64 buffers summed in chunk order (see ``_parallel``), so results are bitwise
reproducible for a fixed ``n_threads``. float32 data is converted on load; every sum is float64.

Contract shared by the kernels (no validation happens here):

* ``X``: (n_samples, n_features) float32 or float64, C or F order, may be read-only;
* ``y``, ``sample_weight``: float64, shape (n_samples, 1) shared by all models or (n_samples, n_models);
* ``coef``: (n_features, n_models) float64; ``intercept``: (n_models,) float64 (zeros without one);
* outputs are overwritten; losses and gradients are weighted *sums* over samples, not means.

The fused loss kernels also count the raw predictions that are not finite (``nonfinite_raw_out``).
At zero coefficients and a finite intercept a raw prediction is ``intercept + sum_j X[i, j] * 0``,
which IEEE arithmetic makes NaN exactly when row ``i`` holds a NaN or an infinity (no fast-math flag
set here lets LLVM fold ``x * 0``): a zero count from a solver's first evaluation proves ``X``
finite, so that the separate finiteness pass of input validation can be skipped
(``fastml._objective.DesignMatrix``).
"""
import numpy as np
from numba import prange

from ._jit import jit_inline, jit_kernel
from ._optimizers import prefetch_item
from ._parallel import add_column_sums, chunk_count, count_nonfinite, row_chunk_bounds, sum_parts_1d
from .losses import block_hess_times, block_loss_grad

BLOCK_ROWS = 128


@jit_inline
def block_raw_dense(X, start, stop, coef_t, intercept, raw_out):
    """``raw_out[b] = X[start + b] @ coef_t.T + intercept`` for the rows of one block.

    ``coef_t`` is (n_models, n_features) C-contiguous, so each model's weights are one contiguous
    vector and every inner loop below runs at unit stride (and vectorizes) for any ``n_models``.
    """
    n_features = X.shape[1]
    n_models = coef_t.shape[0]
    n_rows = stop - start
    if X.strides[1] == X.itemsize:  # rows are contiguous: dot products, four rows at a time
        # four rows share each load of a coefficient: 5 loads per 4 multiply-adds instead of 8.
        # With the gradient's blocking below, a fused log-loss pass (2 threads, min of 15 / 7):
        # 1e6 x 100 float64 50 -> 43 ms; 2e5 x 200 x 10 models 65 -> 53 ms, multinomial 72 -> 59 ms
        b = 0
        while b + 4 <= n_rows:
            row = start + b
            for k in range(n_models):
                total0 = intercept[k]
                total1 = total0
                total2 = total0
                total3 = total0
                for j in range(n_features):
                    weight = coef_t[k, j]
                    total0 += X[row, j] * weight
                    total1 += X[row + 1, j] * weight
                    total2 += X[row + 2, j] * weight
                    total3 += X[row + 3, j] * weight
                raw_out[b, k] = total0
                raw_out[b + 1, k] = total1
                raw_out[b + 2, k] = total2
                raw_out[b + 3, k] = total3
            b += 4
        for b in range(b, n_rows):
            row = start + b
            for k in range(n_models):
                total = intercept[k]
                for j in range(n_features):
                    total += X[row, j] * coef_t[k, j]
                raw_out[b, k] = total
    else:  # columns are contiguous: sweep each column of the block
        for b in range(n_rows):
            for k in range(n_models):
                raw_out[b, k] = intercept[k]
        for j in range(n_features):
            for k in range(n_models):
                weight = coef_t[k, j]
                for b in range(n_rows):
                    raw_out[b, k] += X[start + b, j] * weight


@jit_inline
def block_add_rmatvec_dense(X, start, stop, row_values, out_t, square=False):
    """``out_t += row_values[:stop - start].T @ X[start:stop]`` (``out_t`` is (n_models, n_features)),
    or of ``X[start:stop] ** 2`` with ``square`` (a constant False in the fused kernels, where LLVM
    folds the selects away after inlining)."""
    n_features = X.shape[1]
    n_models = out_t.shape[0]
    n_rows = stop - start
    if X.strides[1] == X.itemsize:
        # four rows per update of out_t: one load and store of it per 4 rows instead of per row
        b = 0
        while b + 4 <= n_rows:
            row = start + b
            for k in range(n_models):
                value0 = row_values[b, k]
                value1 = row_values[b + 1, k]
                value2 = row_values[b + 2, k]
                value3 = row_values[b + 3, k]
                # margin losses leave many rows with a zero gradient
                if value0 != 0.0 or value1 != 0.0 or value2 != 0.0 or value3 != 0.0:
                    for j in range(n_features):
                        x0 = X[row, j]
                        x1 = X[row + 1, j]
                        x2 = X[row + 2, j]
                        x3 = X[row + 3, j]
                        out_t[k, j] += (x0 * (x0 if square else 1.0) * value0 + x1 * (x1 if square else 1.0) * value1
                                        + x2 * (x2 if square else 1.0) * value2 + x3 * (x3 if square else 1.0) * value3)
            b += 4
        for b in range(b, n_rows):
            row = start + b
            for k in range(n_models):
                value = row_values[b, k]
                if value != 0.0:
                    for j in range(n_features):
                        x = X[row, j]
                        out_t[k, j] += x * (x if square else 1.0) * value
    else:
        for j in range(n_features):
            for k in range(n_models):
                total = 0.0
                for b in range(n_rows):
                    x = X[start + b, j]
                    total += x * (x if square else 1.0) * row_values[b, k]
                out_t[k, j] += total


@jit_inline
def block_add_rmatvec_and_squares_dense(X, start, stop, row_values, out_t, sample_weight, squares):
    """:func:`block_add_rmatvec_dense` of one model's ``row_values`` into ``out_t`` (1, n_features) and, in
    the same sweep over the block, ``squares[j] += sum_b sample_weight[start + b, 0] * X[start + b, j] ** 2``
    (C-ordered ``X``: the caller checks).

    Why: the first pass of a solver also forms the weighted column sums of squares (feature scales).
    As a second sweep over the block (from L2) it cost 7 ms on top of a 41 ms fused log-loss pass over
    1e6 x 100 float64 on two threads; here each loaded value serves both sums (45 ms)."""
    n_features = X.shape[1]
    n_rows = stop - start
    b = 0
    while b + 4 <= n_rows:
        row = start + b
        weight0 = sample_weight[row, 0]
        weight1 = sample_weight[row + 1, 0]
        weight2 = sample_weight[row + 2, 0]
        weight3 = sample_weight[row + 3, 0]
        value0 = row_values[b, 0]
        value1 = row_values[b + 1, 0]
        value2 = row_values[b + 2, 0]
        value3 = row_values[b + 3, 0]
        for j in range(n_features):
            x0 = X[row, j]
            x1 = X[row + 1, j]
            x2 = X[row + 2, j]
            x3 = X[row + 3, j]
            out_t[0, j] += x0 * value0 + x1 * value1 + x2 * value2 + x3 * value3
            # x * (x * weight): float64 products for float32 X too (x * x would round in float32)
            squares[j] += x0 * (x0 * weight0) + x1 * (x1 * weight1) + x2 * (x2 * weight2) + x3 * (x3 * weight3)
        b += 4
    for b in range(b, n_rows):
        row = start + b
        weight = sample_weight[row, 0]
        value = row_values[b, 0]
        for j in range(n_features):
            x = X[row, j]
            out_t[0, j] += x * value
            squares[j] += x * (x * weight)


# float32 blocks ask for the rows this many blocks ahead while computing (see prefetch_block_ahead)
PREFETCH_BLOCKS_AHEAD = 2


@jit_inline
def prefetch_block_ahead(X, start, chunk_stop):
    """For float32 ``X`` in C order: ask for the rows of the block ``PREFETCH_BLOCKS_AHEAD`` blocks
    after the one at ``start`` (within the chunk ending at ``chunk_stop``); nothing for float64.

    Why only float32: its fused pass waited on memory between blocks' computation instead of
    overlapping them. Measured here (1e6 x 100 log loss, best of 7, in one process interleaved with
    the same kernel without it): float32 2 threads 31.1-32.2 -> 27.9-29.9 ms, 1 thread 57.7-58.5 ->
    53.4-56.7 ms; float64 (twice the bytes per value computed, which the hardware prefetcher keeps
    streaming) no faster, 2-10 % slower with 1 to 4 blocks ahead.
    """
    if X.itemsize != 4 or X.strides[1] != X.itemsize:
        return
    items_per_line = 64 // X.itemsize
    first = start + PREFETCH_BLOCKS_AHEAD * BLOCK_ROWS
    for row in range(first, min(first + BLOCK_ROWS, chunk_stop)):
        for j in range(0, X.shape[1], items_per_line):
            prefetch_item(X, row, j)


@jit_inline
def sum_parts_transposed(parts, out):
    """``out[j, k] = sum over chunks of parts[chunk, k, j]``, summed in chunk order."""
    n_chunks, n_models, n_features = parts.shape
    for j in prange(n_features):
        for k in range(n_models):
            total = 0.0
            for chunk in range(n_chunks):
                total += parts[chunk, k, j]
            out[j, k] = total


@jit_kernel(parallel=True)
def loss_grad_dense(X, y, sample_weight, coef, intercept, loss_id, param, n_threads,
                    loss_out, grad_coef_out, grad_intercept_out, nonfinite_raw_out, square_sums_out):
    """Weighted loss sums and their gradients for K models in one pass over dense ``X``.

    Writes ``loss_out`` (n_models,) — or (1,) for the multinomial loss, whose K columns are the
    classes of one model — ``grad_coef_out`` (n_features, n_models), ``grad_intercept_out``
    (n_models,) and ``nonfinite_raw_out[0]`` (int64): the number of raw predictions that are not
    finite. ``square_sums_out``: (n_features, sample_weight.shape[1]) to receive the weighted column
    sums of squares ``sum_i w_ik X[i, j]^2`` in the same pass (the block is in cache: a separate
    pass cost ~12 % of an L-BFGS fit), or (0, 0) for none. See the module docstring for the contract.
    """
    n_samples, n_features = X.shape
    n_models = coef.shape[1]
    n_loss = loss_out.shape[0]
    n_chunks = chunk_count(n_samples, n_threads)
    bounds = row_chunk_bounds(n_samples, n_chunks)
    loss_parts = np.zeros((n_chunks, n_loss))
    intercept_parts = np.zeros((n_chunks, n_models))
    nonfinite_parts = np.zeros(n_chunks, dtype=np.int64)
    coef_t = np.ascontiguousarray(coef.T)
    grad_parts = np.zeros((n_chunks, n_models, n_features))
    squares = square_sums_out.shape[0] > 0
    # one sweep for both sums for one model on one weight column, where rows are contiguous
    fused_squares = squares and n_models == 1 and sample_weight.shape[1] == 1 and X.strides[1] == X.itemsize
    square_parts = np.zeros((n_chunks, square_sums_out.shape[1], square_sums_out.shape[0]))
    for chunk in prange(n_chunks):
        raw = np.empty((BLOCK_ROWS, n_models))
        grad_rows = np.empty((BLOCK_ROWS, n_models))
        scratch = np.empty((4, BLOCK_ROWS))
        loss_acc = loss_parts[chunk]
        grad_acc = grad_parts[chunk]
        for start in range(bounds[chunk], bounds[chunk + 1], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, bounds[chunk + 1])
            block_raw_dense(X, start, stop, coef_t, intercept, raw)
            prefetch_block_ahead(X, start, bounds[chunk + 1])
            nonfinite_parts[chunk] += count_nonfinite(raw, stop - start)
            block_loss_grad(loss_id, y, sample_weight, start, stop - start, raw, param, loss_acc, grad_rows,
                            scratch)
            add_column_sums(grad_rows, stop - start, intercept_parts[chunk])
            if fused_squares:
                block_add_rmatvec_and_squares_dense(X, start, stop, grad_rows, grad_acc, sample_weight,
                                                    square_parts[chunk, 0])
            else:
                block_add_rmatvec_dense(X, start, stop, grad_rows, grad_acc)
                if squares:
                    block_add_rmatvec_dense(X, start, stop, sample_weight[start:stop], square_parts[chunk], True)
    sum_parts_1d(loss_parts, loss_out)
    sum_parts_1d(intercept_parts, grad_intercept_out)
    sum_parts_transposed(grad_parts, grad_coef_out)
    if squares:
        sum_parts_transposed(square_parts, square_sums_out)
    nonfinite_raw_out[0] = nonfinite_parts.sum()


@jit_kernel(parallel=True)
def hessp_dense(X, y, sample_weight, coef, intercept, direction_coef, direction_intercept,
                loss_id, param, n_threads, out_coef, out_intercept):
    """Hessian of the weighted loss sum at (coef, intercept) times a direction, in one pass over ``X``.

    ``direction_coef`` is (n_features, n_models) and ``direction_intercept`` (n_models,) float64.
    Writes ``out_coef`` (n_features, n_models) and ``out_intercept`` (n_models,). The raw predictions
    are recomputed from ``X`` in the same pass instead of being stored, so no n-sized state is kept.
    """
    n_samples, n_features = X.shape
    n_models = coef.shape[1]
    n_chunks = chunk_count(n_samples, n_threads)
    bounds = row_chunk_bounds(n_samples, n_chunks)
    intercept_parts = np.zeros((n_chunks, n_models))
    coef_t = np.ascontiguousarray(coef.T)
    direction_t = np.ascontiguousarray(direction_coef.T)
    out_parts = np.zeros((n_chunks, n_models, n_features))
    for chunk in prange(n_chunks):
        raw = np.empty((BLOCK_ROWS, n_models))
        along = np.empty((BLOCK_ROWS, n_models))
        curvature = np.empty((BLOCK_ROWS, n_models))
        scratch = np.empty(n_models)
        for start in range(bounds[chunk], bounds[chunk + 1], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, bounds[chunk + 1])
            block_raw_dense(X, start, stop, coef_t, intercept, raw)
            block_raw_dense(X, start, stop, direction_t, direction_intercept, along)
            block_hess_times(loss_id, y, sample_weight, start, stop - start, raw, along, param,
                             scratch, curvature)
            add_column_sums(curvature, stop - start, intercept_parts[chunk])
            block_add_rmatvec_dense(X, start, stop, curvature, out_parts[chunk])
    sum_parts_1d(intercept_parts, out_intercept)
    sum_parts_transposed(out_parts, out_coef)


@jit_kernel(parallel=True)
def rmatvec_dense(X, values, n_threads, out, square=False):
    """``out = X.T @ values`` ((n_features, k) float64; ``values`` (n_samples, k) float64 C order) in one
    pass over dense ``X``: float64 sums, row chunks on ``n_threads`` threads summed in chunk order.
    ``square=True``: ``out = (X * X).T @ values`` (weighted column sums of squares, no copy of ``X``).

    For few columns of ``values``, where OpenBLAS's GEMM reads ``X`` at a quarter of the memory
    bandwidth here (k = 2: 20 ms for 2e5 x 100 on one thread, where a sum over ``X`` takes 6).
    """
    n_samples, n_features = X.shape
    n_chunks = chunk_count(n_samples, n_threads)
    bounds = row_chunk_bounds(n_samples, n_chunks)
    parts = np.zeros((n_chunks, values.shape[1], n_features))
    for chunk in prange(n_chunks):
        for start in range(bounds[chunk], bounds[chunk + 1], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, bounds[chunk + 1])
            block_add_rmatvec_dense(X, start, stop, values[start:stop], parts[chunk], square)
    sum_parts_transposed(parts, out)


@jit_kernel(parallel=True)
def raw_prediction_dense(X, coef, intercept, out):
    """``out = X @ coef + intercept`` with float64 accumulation and no copy of float32 ``X``."""
    n_samples = X.shape[0]
    n_models = coef.shape[1]
    n_blocks = (n_samples + BLOCK_ROWS - 1) // BLOCK_ROWS
    coef_t = np.ascontiguousarray(coef.T)
    for block in prange(n_blocks):
        start = block * BLOCK_ROWS
        stop = min(start + BLOCK_ROWS, n_samples)
        raw = np.empty((BLOCK_ROWS, n_models))
        block_raw_dense(X, start, stop, coef_t, intercept, raw)
        for b in range(stop - start):
            for k in range(n_models):
                out[start + b, k] = raw[b, k]


__all__ = ["BLOCK_ROWS", "hessp_dense", "loss_grad_dense", "raw_prediction_dense", "rmatvec_dense"]
