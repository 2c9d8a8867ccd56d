"""Exact centered sums for the columns of a CSR matrix whose mean is far from their spread.

Why: with an intercept, the least-squares solvers center ``X`` in Gram space (``G - s s^T / W``).
That subtraction cancels about ``log10(raw / centered)`` digits of a column's sum of squares:
all of them for a timestamp in milliseconds (mean 1.7e12, spread 1e5: a ratio of 1e14), which then
looks constant and was dropped (coefficient 0, where scikit-learn fits it). Dense ``X`` is read a
second time with the means subtracted block by block; CSR ``X`` cannot be shifted without
densifying it. It need not be: a column whose centered share of its sum of squares is below
``max_share`` has (nearly) no zeros -- each zero row adds at least ``mean^2`` to the centered sum,
so the share of zero rows is at most about the centered share -- so densifying only those columns,
a row block at a time, costs no more than their nonzeros already do, and gives their centered sums
exactly: ``D = X[:, B] - shift`` per block, then ``X^T W D``, ``D^T W D``, ``D^T w`` and ``D^T W y``.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# float64 values held per densified block (rows x offset columns): 8 MiB
_BLOCK_VALUES = 1 << 20


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
    shift : ndarray of shape (m,)
    cross : ndarray of shape (n_features, m)
        ``X^T W D``: column ``k`` of ``X`` unshifted.
    gram : ndarray of shape (m, m)
        ``D^T W D``.
    sums : ndarray of shape (m,)
        ``D^T w``.
    xty : ndarray of shape (m, n_targets)
        ``D^T W y_rhs`` (the right-hand side as given, e.g. already centered).
    """

    columns: np.ndarray
    shift: np.ndarray
    cross: np.ndarray
    gram: np.ndarray
    sums: np.ndarray
    xty: np.ndarray

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


def offset_column_sums(csr, columns, shift, weights, rhs):
    """:class:`OffsetColumnSums` of the scipy CSR matrix ``csr`` (``weights`` None for ones; ``rhs``
    (n_samples, K) float64), reading ``X`` in row blocks."""
    columns = np.asarray(columns, dtype=np.intp)
    shift = np.asarray(shift, dtype=np.float64)
    n_samples, n_features = csr.shape
    m, K = columns.shape[0], rhs.shape[1]
    cross, gram, sums, xty = np.zeros((n_features, m)), np.zeros((m, m)), np.zeros(m), np.zeros((m, K))
    rows_per_block = max(256, _BLOCK_VALUES // max(m, 1))
    for start in range(0, n_samples, rows_per_block):
        stop = min(start + rows_per_block, n_samples)
        block = csr[start:stop]
        shifted = np.asarray(block[:, columns].toarray(), dtype=np.float64) - shift
        weighted = shifted if weights is None else shifted * weights[start:stop, None]
        cross += np.asarray(block.T @ weighted)
        gram += weighted.T @ shifted
        sums += weighted.sum(axis=0)
        xty += weighted.T @ rhs[start:stop]
    return OffsetColumnSums(columns, shift, cross, 0.5 * (gram + gram.T), sums, xty)


def as_csr_matrix(csr_arrays, shape):
    """A scipy CSR matrix over the (data, indices, indptr) of a ``DesignMatrix`` (no copy)."""
    return sp.csr_matrix(tuple(csr_arrays), shape=shape, copy=False)
