"""Weighted Gram statistics of row subsets, for coordinate-descent paths on many folds from one pass.

Design: cross-validating an elastic net by the Gram variant needs, per fold, the Gram matrix of the
fold's training rows. Forming it per fold reads ``X`` once per fold (plus once for the final refit).
When the test folds partition the rows (KFold, StratifiedKFold...), each training fold's sums are the
total minus its test fold's, so one pass that sums every test fold separately gives them all, and the
total serves the refit. The sums are taken about a fixed ``shift`` (the weighted mean of ``X``): each
fold's centered Gram is then ``S_xx - S_x S_x^T / S_w`` with ``S_x`` small, instead of a difference
of large raw moments that would cancel digits for a feature whose mean is far from zero (``y`` is
shifted by its weighted mean likewise).
"""
from dataclasses import dataclass

import numpy as np

from ..kernels._blas_threads import limit_blas_threads
from ..kernels._parallel import map_row_chunks

# rows gathered (and shifted, in float64) per BLAS call
_GATHER_ROWS = 2048


@dataclass
class GramStatistics:
    """Weighted sums over a set of rows, about ``shift = c`` and ``y_shift = c_y``: ``weight_sum = sum w``,
    ``x_sum = sum w (x - c)``, ``y_sum = sum w (y - c_y)``, ``xx = sum w (x - c)(x - c)^T``,
    ``xy = sum w (x - c)(y - c_y)^T``, ``yy = sum w (y - c_y)^2`` (per target) and
    ``x_squares = sum w x^2`` (about zero: the constant-column test)."""

    shift: np.ndarray
    y_shift: np.ndarray
    weight_sum: float
    x_sum: np.ndarray
    y_sum: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    x_squares: np.ndarray

    def __add__(self, other):
        return self._combine(other, 1.0)

    def __sub__(self, other):
        return self._combine(other, -1.0)

    def _combine(self, other, sign):
        if not (np.array_equal(self.shift, other.shift) and np.array_equal(self.y_shift, other.y_shift)):
            raise ValueError("statistics about different shifts cannot be combined")
        return GramStatistics(self.shift, self.y_shift, self.weight_sum + sign * other.weight_sum,
                              *(getattr(self, name) + sign * getattr(other, name)
                                for name in ("x_sum", "y_sum", "xx", "xy", "yy", "x_squares")))


def _rows_sums(X, y, weights, rows, shift, y_shift, unit_weights):
    """The sums of :class:`GramStatistics` over ``X[rows]`` (``rows`` a slice or an index array), on
    one thread: BLAS on shifted float64 blocks; ``block.T @ block`` is a symmetric rank-k update."""
    d, K = X.shape[1], y.shape[1]
    sums = GramStatistics(shift, y_shift, 0.0, np.zeros(d), np.zeros(K), np.zeros((d, d)), np.zeros((d, K)),
                          np.zeros(K), np.zeros(d))
    if isinstance(rows, slice):
        parts = [slice(start, min(start + _GATHER_ROWS, rows.stop)) for start in range(rows.start, rows.stop,
                                                                                         _GATHER_ROWS)]
    else:
        parts = [rows[start:start + _GATHER_ROWS] for start in range(0, len(rows), _GATHER_ROWS)]
    # one buffer per call: a fresh 1.6 MB temporary per block costs page faults every time
    buffer = np.empty((_GATHER_ROWS, d))
    for part in parts:
        size = (part.stop - part.start) if isinstance(part, slice) else len(part)
        block = buffer[:size]
        if isinstance(part, slice):
            np.subtract(X[part], shift, out=block)
        else:
            np.take(X, part, axis=0, out=block) if X.dtype == np.float64 else np.copyto(block, X[part])
            block -= shift
        w = weights[part]
        y_part = y[part] - y_shift
        weighted_y = w[:, None] * y_part
        sums.weight_sum += float(w.sum())
        sums.x_sum += w @ block
        sums.y_sum += w @ y_part
        sums.xy += block.T @ weighted_y
        sums.yy += np.einsum("ik,ik->k", weighted_y, y_part)
        if not unit_weights:
            block *= np.sqrt(w)[:, None]  # sqrt(w) on both sides gives w
        sums.xx += block.T @ block
    return sums


def _added(statistics):
    """The sum of a list of :class:`GramStatistics`, added in list order (reproducible)."""
    total = statistics[0]
    for part in statistics[1:]:
        total = total + part
    return total


def gram_statistics(X, y, weights, row_sets, shift, y_shift, n_threads):
    """:class:`GramStatistics` of each set of rows of dense ``X`` (``y`` (n_samples, n_targets) float64,
    ``weights`` (n_samples,)), all about ``shift`` and ``y_shift``; a set that is a contiguous range is read in place.
    Each set is summed on ``n_threads`` threads (row chunks added in chunk order)."""
    unit_weights = bool(np.all(weights == 1.0))
    result = []
    for rows in row_sets:
        rows = np.asarray(rows, dtype=np.intp)
        contiguous = len(rows) > 0 and rows[-1] - rows[0] + 1 == len(rows) and np.all(np.diff(rows) == 1)

        def chunk(start, stop, rows=rows, contiguous=contiguous):
            part = slice(int(rows[start]), int(rows[start]) + stop - start) if contiguous else rows[start:stop]
            return _rows_sums(X, y, weights, part, shift, y_shift, unit_weights)

        total = _added(map_row_chunks(chunk, len(rows), n_threads, len(rows) * X.shape[1]))
        total.xx = np.triu(total.xx) + np.triu(total.xx, 1).T  # the two triangles of a BLAS update may differ
        # sum w x^2 about zero (the constant-column test) from the shifted sums, no pass of its own
        total.x_squares = np.diag(total.xx) + 2.0 * shift * total.x_sum + total.weight_sum * shift * shift
        result.append(total)
    return result


def weighted_column_means(X, weights):
    """``weights @ X / sum(weights)`` in float64, by row blocks (no float64 copy of float32 ``X``).

    On one BLAS thread: the product is memory-bound, and a two-threaded one leaves OpenBLAS's workers
    spinning, which took a core from the statistics pass right after it (27 -> 50 ms at 1e5 x 100).
    """
    total = np.zeros(X.shape[1])
    with limit_blas_threads(1):
        for start in range(0, X.shape[0], 65536):
            total += weights[start:start + 65536] @ np.asarray(X[start:start + 65536], dtype=np.float64)
    weight_sum = weights.sum()
    return total / weight_sum if weight_sum > 0 else total


def fold_training_statistics(X, y, weights, folds, fit_intercept, n_threads):
    """``(training statistics per fold, statistics of all rows)`` when the test sets of ``folds``
    ((train, test) pairs) partition the rows and each train set is the complement of its test set;
    None otherwise (the caller then forms each fold's Gram from its rows). Without an intercept the
    sums are raw (about zero), as the problem needs them."""
    n_samples = X.shape[0]
    tests = [np.asarray(test) for _, test in folds]
    covered = np.bincount(np.concatenate(tests), minlength=n_samples) if tests else np.zeros(n_samples)
    complements = all(len(train) + len(test) == n_samples for train, test in folds)
    if covered.size != n_samples or not np.all(covered == 1) or not complements:
        return None
    shift = weighted_column_means(X, weights) if fit_intercept else np.zeros(X.shape[1])
    # einsum, not a BLAS product: no OpenBLAS workers left spinning before the pass (see above)
    y_shift = np.einsum("i,ik->k", weights, y) / weights.sum() if fit_intercept else np.zeros(y.shape[1])
    test_sums = gram_statistics(X, y, weights, tests, shift, y_shift, n_threads)
    total = _added(test_sums)
    return [total - sums for sums in test_sums], total
