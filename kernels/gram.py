"""Weighted Gram matrices ``X^T diag(h) X`` (and ``X^T diag(h) R`` in the same pass).

Design: for dense ``X`` the product is a symmetric rank-k update, BLAS ``syrk``, which does half the
flops of the general product ``X.T @ X``. ``X`` is consumed in row blocks: each block is scaled by
``sqrt(h)`` and converted to float64 in a block-sized buffer (never a copy of all of ``X``), and the
right-hand side product ``X^T diag(h) R`` is taken from the same block while it is in cache. Without
weights, float64 ``X`` is handed to BLAS as it is (C-ordered blocks are views), with no buffer. CSR input goes to the
Cython kernel ``_sparse.csr_weighted_gram``.

Contract: ``X`` (n_samples, n_features) float32/float64, C or F order; ``h`` (n_samples,) float64 and
non-negative (the Hessian weights of a convex loss) or None for ones; ``out`` (n_features,
n_features) float64, overwritten with the full symmetric matrix; ``rhs`` (n_samples, n_targets) and
``rhs_out`` (n_features, n_targets) float64, optional.
"""
import numpy as np
from scipy.linalg import blas

BLOCK_ROWS = 2048


def _add_block(block, out_upper_f, rhs_block, rhs_out):
    """Add ``block.T @ block`` to the upper triangle of ``out_upper_f`` and ``block.T @ rhs_block``."""
    # block.T is Fortran-ordered when block is C-ordered: syrk with trans=0 reads it without a copy
    a, trans = (block.T, 0) if block.flags.c_contiguous else (block, 1)
    blas.dsyrk(1.0, a, beta=1.0, c=out_upper_f, trans=trans, lower=0, overwrite_c=1)
    if rhs_block is not None:
        rhs_out += block.T @ rhs_block


def weighted_gram_dense(X, h, out, rhs=None, rhs_out=None, block_rows=BLOCK_ROWS):
    """Write ``X^T diag(h) X`` into ``out`` and, if ``rhs`` is given, ``X^T diag(h) rhs`` into ``rhs_out``."""
    n_samples, n_features = X.shape
    gram = np.zeros((n_features, n_features), order="F")
    if rhs_out is not None:
        rhs_out[...] = 0.0
    plain = h is None and X.dtype == np.float64
    if plain and X.flags.f_contiguous and not X.flags.c_contiguous:
        # F order: BLAS reads the whole matrix in place; X.T @ rhs is a second (contiguous) read
        _add_block(X, gram, None, None)
        if rhs is not None:
            rhs_out += X.T @ rhs
    else:
        buffer = None if plain else np.empty((min(block_rows, n_samples), n_features))
        for start in range(0, n_samples, block_rows):
            stop = min(start + block_rows, n_samples)
            rhs_block = None if rhs is None else rhs[start:stop]
            if plain:
                block = X[start:stop]  # a view: C-ordered float64 rows go to BLAS as they are
            else:
                block = buffer[: stop - start]
                block[...] = X[start:stop]
                if h is not None:
                    root = np.sqrt(h[start:stop])
                    block *= root[:, None]
                    if rhs is not None:
                        rhs_block = rhs_block * root[:, None]  # sqrt(h) on both sides gives h
            _add_block(block, gram, rhs_block, rhs_out)
    upper = np.triu(gram)
    out[...] = upper + np.triu(gram, 1).T
    return out


def weighted_gram_csr(data, indices, indptr, n_features, h, out, n_threads):
    """CSR counterpart of :func:`weighted_gram_dense` (``h`` may be None for ones)."""
    from . import _sparse

    n_samples = indptr.shape[0] - 1
    weights = np.ones(n_samples) if h is None else h
    _sparse.csr_weighted_gram(data, indices, indptr, weights, out, n_threads)
    return out
