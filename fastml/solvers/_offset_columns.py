"""Exact centered sums for the columns whose mean is far from their spread, in one light pass over ``X``.

Why: with an intercept, the least-squares solvers center ``X`` in Gram space (``G - s s^T / W``).
That subtraction cancels about ``log10(raw / centered)`` digits of a column's sum of squares:
all of them for a timestamp in milliseconds (mean 1.7e12, spread 1e5: a ratio of 1e14), which then
looks constant and was dropped (coefficient 0, where scikit-learn fits it). Only the rows and
columns of the Gram that belong to such *offset* columns need forming again, about the columns'
means: ``D = X[:, B] - shift`` per row block, then ``X^T W D``, ``D^T W D``, ``D^T w`` and
``D^T W y``. That pass multiplies by the few offset columns only (a matrix-vector-like read of
``X``, not a second Gram: with a column of ones, the common case, a 2e5 x 100 fit pays ~8-10 ms
on two threads, where the full second Gram pass it replaces cost 25-30). CSR ``X`` cannot be
shifted without densifying it; it need not be: a column whose centered share of its sum of squares
is below ``max_share`` has (nearly) no zeros -- each zero row adds about ``mean^2`` to the centered
sum, so the share of zero rows is at most about the centered share -- so densifying only those
columns, a block at a time, costs what their nonzeros cost anyway.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# float64 values of [W D, W y] per row block (32 MiB): the kernels read X's block once
_BLOCK_VALUES = 1 << 22


def offset_columns(raw_diagonal, column_sums, weight_sum, max_share):
    """Indices of the columns whose centered weighted sum of squares is below ``max_share`` of the raw one.

    ``raw_diagonal``: ``sum w x^2`` per column; ``column_sums``: ``sum w x``. Empty columns
    (raw sum 0) are not offset: they are exactly constant already.
    """
    raw_diagonal = np.asarray(raw_diagonal, dtype=np.float64)
    centered = raw_diagonal - np.asarray(column_sums) ** 2 / weight_sum
    return np.flatnonzero((raw_diagonal > 0) & (centered < max_share * raw_diagonal))


@dataclass
class OffsetColumnSums:
    """Weighted sums involving the shifted offset columns ``D = X[:, columns] - shift``.

    Attributes
    ----------
    columns : ndarray of int, shape (m,)
    cross : ndarray of shape (n_features, m)
        ``X^T W D``: column ``k`` of ``X`` unshifted.
    gram : ndarray of shape (m, m)
        ``D^T W D``.
    sums : ndarray of shape (m,)
        ``D^T w``.
    xty : ndarray of shape (m, n_targets)
        ``D^T W y_rhs`` (the right-hand side as given, e.g. already centered).
    xty_all : ndarray of shape (n_features, n_targets)
        ``X^T W y_rhs`` for every (unshifted) column, from the same pass.
    """

    columns: np.ndarray
    cross: np.ndarray
    gram: np.ndarray
    sums: np.ndarray
    xty: np.ndarray
    xty_all: np.ndarray

    def centered_gram_rows(self, x_mean, weight_sum):
        """``(X - x_mean)^T W (X - x_mean)`` restricted to the offset columns: shape (n_features, m).

        ``x_mean`` is the weighted mean of every column (of the offset ones: ``shift + sums / W``).
        Rows of offset columns come from ``D^T W D`` (no cancellation); the others from ``X^T W D``,
        whose columns have small offsets.
        """
        delta = self.sums / weight_sum  # mean of D, ~0
        rows = self.cross - np.outer(x_mean, self.sums)
        rows[self.columns] = self.gram - np.outer(self.sums, delta)
        return rows


def offset_column_sums(X, columns, shift, weights, rhs, n_threads=1):
    """:class:`OffsetColumnSums` of ``X`` (a dense array, float32 or float64, C or F order, or a scipy
    CSR matrix; ``weights`` None for ones; ``rhs`` (n_samples, K) float64), reading ``X`` once.

    ``X^T [W D, W y]`` by a compiled one-pass kernel on ``n_threads`` threads, in row blocks of at
    most ``_BLOCK_VALUES`` values of ``[W D, W y]``; CSR blocks have their offset columns densified.
    """
    columns = np.asarray(columns, dtype=np.intp)
    shift = np.asarray(shift, dtype=np.float64)
    sparse = sp.issparse(X)
    n_samples, n_features = X.shape
    m, K = columns.shape[0], rhs.shape[1]
    cross, gram, sums = np.zeros((n_features, m)), np.zeros((m, m)), np.zeros(m)
    xty, xty_all = np.zeros((m, K)), np.zeros((n_features, K))
    product = np.empty((n_features, m + K))
    rows_per_block = max(256, _BLOCK_VALUES // (m + K))
    for start in range(0, n_samples, rows_per_block):
        stop = min(start + rows_per_block, n_samples)
        block = X[start:stop]
        picked = block[:, columns].toarray() if sparse else block[:, columns]
        shifted = np.asarray(picked, dtype=np.float64) - shift
        # [W D, W y]: one product with X's block gives both X^T W D and X^T W y
        weighted = np.concatenate([shifted, rhs[start:stop]], axis=1)
        if weights is not None:
            weighted *= weights[start:stop, None]
        _rmatvec(block, weighted, n_threads, product)
        cross += product[:, :m]
        xty_all += product[:, m:]
        gram += weighted[:, :m].T @ shifted
        sums += weighted[:, :m].sum(axis=0)
        xty += shifted.T @ weighted[:, m:]
    return OffsetColumnSums(columns, cross, 0.5 * (gram + gram.T), sums, xty, xty_all)


def _rmatvec(X, values, n_threads, out):
    """``out = X.T @ values`` in one threaded pass (dense: ``rmatvec_dense``; CSR: ``csr_rmatvec``)."""
    from .._objective import DesignMatrix
    from ..kernels import _sparse, objective_dense
    from ..kernels._jit import call_parallel

    if sp.issparse(X):  # DesignMatrix gives the kernel's dtypes (float data, one index dtype)
        _sparse.csr_rmatvec(*DesignMatrix(X).csr, values, out, n_threads)
    else:
        call_parallel(objective_dense.rmatvec_dense, X, values, n_threads, out, serial=n_threads == 1)


def as_csr_matrix(csr_arrays, shape):
    """A scipy CSR matrix over the (data, indices, indptr) of a ``DesignMatrix`` (no copy)."""
    return sp.csr_matrix(tuple(csr_arrays), shape=shape, copy=False)
