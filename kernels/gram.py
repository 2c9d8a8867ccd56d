"""Weighted Gram matrices ``X^T diag(h) X`` (and ``X^T diag(h) R`` in the same pass).

Design: dense ``X`` is consumed in row blocks; each block's product ``B^T B`` (numpy's matmul,
which hands ``B.T @ B`` to BLAS as a symmetric rank-k update) and ``B^T R`` are taken while the
block is in cache. Weighted blocks are scaled by ``sqrt(h)`` and float32 blocks widened in a
block-sized buffer, never a copy of all of ``X``; unweighted float64 C-ordered blocks are views.

Threads: the rows are split into ``n_threads`` contiguous chunks, one Python thread each
(``_parallel.map_row_chunks``; numpy releases the GIL in BLAS), every BLAS call single-threaded,
and the chunk sums added in chunk order (bitwise reproducible for a fixed ``n_threads``).
Measured on the 2-core machine of ``PEERS.md`` (1e6 x 100 float64): 0.19 s, against 0.41 s for
numpy's ``X.T @ X`` and 0.37 s for scipy's ``dsyrk`` on the same blocks, both with two BLAS
threads: OpenBLAS's threading of a tall-skinny rank-k update, not the flop count, limits it there.

Precision: float32 blocks are widened to float64 before their product, unless the caller asks for
``single_precision_blocks``: then each float32 block's product runs in float32 (SGEMM: 2048 x 100 blocks
2.6x faster than DGEMM on one thread here) and only the sum over blocks in float64. Each entry is then
off by about 1e-7..1e-6 of its row and column's scale: enough for a preconditioner of a well-conditioned
problem (the L-BFGS start sample's Hessian, which the caller checks), never for normal equations.

Contract: ``X`` (n_samples, n_features) float32/float64, C or F order; ``h`` (n_samples,) float64 and
non-negative (the Hessian weights of a convex loss) or None for ones; ``out`` (n_features,
n_features) float64, overwritten with the full symmetric matrix; ``rhs`` (n_samples, n_targets) and
``rhs_out`` (n_features, n_targets) float64, optional.
"""
import numpy as np

from ._blas_threads import blas_threads_for_pass
from ._jit import jit_kernel
from ._parallel import map_row_chunks

BLOCK_ROWS = 2048
_NO_WEIGHTS = np.zeros(0)


@jit_kernel
def scaled_rows_copy(X, first, h, out):
    """``out[i] = sqrt(h[first + i]) * X[first + i]`` in ``out``'s dtype for the rows of ``out`` (``h``
    empty: no scaling, a widening copy; the scaling is in float64, a float32 ``out`` rounds its result).

    Why compiled: numpy's copy, ``sqrt`` and in-place product were three passes over the block, with
    the GIL held between them while the chunk threads of :func:`weighted_gram_dense` (Python threads)
    wait for it. One pass per block without the GIL: the weighted Gram (with its right-hand side) of
    52 632 x 100, one thread 20.0 -> 18.7 ms, two 10.0 -> 8.9 ms (best of 15, same process)."""
    weighted = h.shape[0] > 0
    for i in range(out.shape[0]):
        scale = np.sqrt(h[first + i]) if weighted else 1.0
        for j in range(out.shape[1]):
            out[i, j] = scale * X[first + i, j]


def _chunk_sums(X, h, rhs, start, stop, block_rows, block_dtype):
    """``(X^T diag(h) X, X^T diag(h) rhs)`` of the rows ``start:stop``, block by block; each block's
    products in ``block_dtype``, their sum in float64."""
    n_features = X.shape[1]
    gram = np.zeros((n_features, n_features))
    product = np.empty((n_features, n_features), dtype=block_dtype)
    rhs_sum = None if rhs is None else np.zeros((n_features, rhs.shape[1]))
    plain = h is None and X.dtype == np.float64 and X.flags.c_contiguous
    buffer = None if plain else np.empty((min(block_rows, stop - start), n_features), dtype=block_dtype)
    for first in range(start, stop, block_rows):
        last = min(first + block_rows, stop)
        rhs_block = None if rhs is None else rhs[first:last]
        if plain:
            block = X[first:last]
        else:
            block = buffer[: last - first]
            scaled_rows_copy(X, first, _NO_WEIGHTS if h is None else h, block)
            if h is not None and rhs is not None:
                rhs_block = rhs_block * np.sqrt(h[first:last])[:, None]  # sqrt(h) on both sides gives h
        np.matmul(block.T, block, out=product)
        gram += product
        if rhs is not None:
            # in the block's precision: a float64 right-hand side would widen the whole block first
            rhs_sum += block.T @ rhs_block.astype(block_dtype, copy=False)
    return gram, rhs_sum


def weighted_gram_dense(X, h, out, rhs=None, rhs_out=None, block_rows=BLOCK_ROWS, n_threads=1,
                        single_precision_blocks=False):
    """Write ``X^T diag(h) X`` into ``out`` and, if ``rhs`` is given, ``X^T diag(h) rhs`` into ``rhs_out``.

    ``single_precision_blocks``: a float32 ``X``'s blocks multiplied in float32 (see the module
    docstring); float64 ``X`` is never rounded."""
    n_samples, n_features = X.shape
    block_dtype = np.float32 if single_precision_blocks and X.dtype == np.float32 else np.float64
    if h is None and X.dtype == np.float64 and X.flags.f_contiguous and not X.flags.c_contiguous:
        # F order: BLAS reads the whole matrix in place (its own threads); X.T @ rhs is a second read
        with blas_threads_for_pass(n_threads):
            out[...] = X.T @ X
            if rhs is not None:
                rhs_out[...] = X.T @ rhs
        return out
    parts = map_row_chunks(lambda start, stop: _chunk_sums(X, h, rhs, start, stop, block_rows, block_dtype),
                           n_samples, n_threads, X.size)
    out[...] = parts[0][0]
    for gram, _ in parts[1:]:
        out += gram
    # the two triangles of a BLAS rank-k update need not agree to the last bit: mirror the upper one
    upper = np.triu(out)
    out[...] = upper + np.triu(out, 1).T
    if rhs_out is not None:
        rhs_out[...] = parts[0][1]
        for _, rhs_sum in parts[1:]:
            rhs_out += rhs_sum
    return out


def weighted_gram_csr(data, indices, indptr, n_features, h, out, n_threads):
    """CSR counterpart of :func:`weighted_gram_dense` (``h`` may be None for ones)."""
    from . import _sparse

    n_samples = indptr.shape[0] - 1
    weights = np.ones(n_samples) if h is None else h
    _sparse.csr_weighted_gram(data, indices, indptr, weights, out, n_threads)
    return out
