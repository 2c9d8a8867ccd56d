"""Fused loss + gradient and Hessian-vector kernels over CSR ``X``, K models in one pass.

Design: the same one-pass scheme as ``objective_dense``, row by row over the CSR arrays: a row's
nonzeros give its raw predictions, the loss functions of ``losses`` give its weighted loss and
gradient, and the same nonzeros scatter the gradient into a per-chunk float64 buffer of
(n_features, n_models). Chunks hold equal numbers of nonzeros (not rows), so a skewed matrix still
keeps every thread busy; buffers are summed in chunk order, so results are bitwise reproducible for a
fixed ``n_threads``. ``indices``/``indptr`` may be int32 or int64; column indices need not be sorted
or unique (duplicates add up, as in ``scipy.sparse``).

Contract: ``data`` (nnz,) float32/float64, ``indices`` (nnz,), ``indptr`` (n_samples + 1,), all may be
read-only; ``y``, ``sample_weight``, ``coef``, ``intercept`` and the outputs as in ``objective_dense``.
"""
import numpy as np
from numba import prange

from ._jit import jit_inline, jit_kernel
from ._parallel import add_column_sums, chunk_count, count_nonfinite, nnz_chunk_bounds, sum_parts, sum_parts_1d

BLOCK_ROWS = 128  # rows whose raw predictions are computed before their losses (see block_loss_grad)
from .losses import block_hess_times, block_loss_grad


@jit_inline(gather=True)
def row_raw_csr(data, indices, indptr, row, coef, intercept, raw_out):
    """``raw_out = X[row] @ coef + intercept`` for one CSR row.

    Positions and column indices are converted to unsigned integers: Numba guards every access
    with a signed index against negative (wrap-around) values, a branch per nonzero. One model
    sums into four accumulators: a single chain of fused multiply-adds is bound by the FMA latency
    (about 4 cycles a nonzero), which made the row dot product 1.7x slower than scipy's.
    """
    n_models = coef.shape[1]
    first = np.uint64(indptr[row])
    stop = np.uint64(indptr[row + 1])
    if n_models == 1:
        one, two, three, four = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
        total0 = total1 = total2 = total3 = 0.0
        p = first
        while p + four <= stop:
            total0 += data[p] * coef[np.uint64(indices[p]), 0]
            total1 += data[p + one] * coef[np.uint64(indices[p + one]), 0]
            total2 += data[p + two] * coef[np.uint64(indices[p + two]), 0]
            total3 += data[p + three] * coef[np.uint64(indices[p + three]), 0]
            p += four
        while p < stop:
            total0 += data[p] * coef[np.uint64(indices[p]), 0]
            p += one
        raw_out[0] = intercept[0] + ((total0 + total1) + (total2 + total3))
        return
    for k in range(n_models):
        raw_out[k] = intercept[k]
    for p in range(first, stop):
        value = data[p]
        column = np.uint64(indices[p])
        for k in range(n_models):
            raw_out[k] += value * coef[column, k]


@jit_inline(gather=True)
def row_add_rmatvec_csr(data, indices, indptr, row, row_values, out):
    """``out += outer(X[row], row_values)`` for one CSR row (``out`` is (n_features, n_models))."""
    n_models = out.shape[1]
    first = np.uint64(indptr[row])
    stop = np.uint64(indptr[row + 1])
    if n_models == 1:
        value = row_values[0]
        if value != 0.0:  # margin losses leave many rows with a zero gradient
            for p in range(first, stop):
                out[np.uint64(indices[p]), 0] += data[p] * value
        return
    for p in range(first, stop):
        value = data[p]
        column = np.uint64(indices[p])
        for k in range(n_models):
            out[column, k] += value * row_values[k]


@jit_kernel(parallel=True, gather=True)
def loss_grad_csr(data, indices, indptr, n_features, y, sample_weight, coef, intercept, loss_id,
                  param, n_threads, loss_out, grad_coef_out, grad_intercept_out, nonfinite_raw_out):
    """Weighted loss sums and gradients for K models in one pass over a CSR matrix.

    Same outputs as :func:`fastml.kernels.objective_dense.loss_grad_dense` (at zero coefficients a
    raw prediction is NaN exactly when its row stores a NaN or an infinity, as there).
    """
    n_samples = indptr.shape[0] - 1
    n_models = coef.shape[1]
    n_loss = loss_out.shape[0]
    n_chunks = chunk_count(n_samples, n_threads)
    bounds = nnz_chunk_bounds(indptr, n_chunks)
    loss_parts = np.zeros((n_chunks, n_loss))
    intercept_parts = np.zeros((n_chunks, n_models))
    nonfinite_parts = np.zeros(n_chunks, dtype=np.int64)
    grad_parts = np.zeros((n_chunks, n_features, n_models))
    for chunk in prange(n_chunks):
        raw = np.empty((BLOCK_ROWS, n_models))
        grad_rows = np.empty((BLOCK_ROWS, n_models))
        scratch = np.empty((4, BLOCK_ROWS))
        loss_acc = loss_parts[chunk]
        grad_acc = grad_parts[chunk]
        for start in range(bounds[chunk], bounds[chunk + 1], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, bounds[chunk + 1])
            for row in range(start, stop):
                row_raw_csr(data, indices, indptr, row, coef, intercept, raw[row - start])
            nonfinite_parts[chunk] += count_nonfinite(raw, stop - start)
            block_loss_grad(loss_id, y, sample_weight, start, stop - start, raw, param, loss_acc, grad_rows,
                            scratch)
            add_column_sums(grad_rows, stop - start, intercept_parts[chunk])
            for row in range(start, stop):
                row_add_rmatvec_csr(data, indices, indptr, row, grad_rows[row - start], grad_acc)
    sum_parts_1d(loss_parts, loss_out)
    sum_parts_1d(intercept_parts, grad_intercept_out)
    sum_parts(grad_parts, grad_coef_out)
    nonfinite_raw_out[0] = nonfinite_parts.sum()


@jit_kernel(parallel=True, gather=True)
def hessp_csr(data, indices, indptr, n_features, y, sample_weight, coef, intercept, direction_coef,
              direction_intercept, loss_id, param, n_threads, out_coef, out_intercept):
    """Hessian of the weighted loss sum times a direction, in one pass over a CSR matrix.

    Same contract as :func:`fastml.kernels.objective_dense.hessp_dense`.
    """
    n_samples = indptr.shape[0] - 1
    n_models = coef.shape[1]
    n_chunks = chunk_count(n_samples, n_threads)
    bounds = nnz_chunk_bounds(indptr, n_chunks)
    intercept_parts = np.zeros((n_chunks, n_models))
    out_parts = np.zeros((n_chunks, n_features, n_models))
    for chunk in prange(n_chunks):
        raw = np.empty((BLOCK_ROWS, n_models))
        along = np.empty((BLOCK_ROWS, n_models))
        curvature = np.empty((BLOCK_ROWS, n_models))
        scratch = np.empty(n_models)
        for start in range(bounds[chunk], bounds[chunk + 1], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, bounds[chunk + 1])
            for row in range(start, stop):
                row_raw_csr(data, indices, indptr, row, coef, intercept, raw[row - start])
                row_raw_csr(data, indices, indptr, row, direction_coef, direction_intercept, along[row - start])
            block_hess_times(loss_id, y, sample_weight, start, stop - start, raw, along, param, scratch, curvature)
            add_column_sums(curvature, stop - start, intercept_parts[chunk])
            for row in range(start, stop):
                row_add_rmatvec_csr(data, indices, indptr, row, curvature[row - start], out_parts[chunk])
    sum_parts_1d(intercept_parts, out_intercept)
    sum_parts(out_parts, out_coef)


@jit_kernel(parallel=True, gather=True)
def raw_prediction_csr(data, indices, indptr, coef, intercept, out):
    """``out = X @ coef + intercept`` for a CSR matrix, float64 accumulation."""
    n_samples = indptr.shape[0] - 1
    for row in prange(n_samples):
        row_raw_csr(data, indices, indptr, row, coef, intercept, out[row])
