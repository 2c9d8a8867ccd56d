"""Shared pieces of the closed-form solvers: options, validated data, weighted Gram statistics.

Everything the closed-form solvers (:mod:`fastml.solvers.closed_form`, :mod:`._ridge_path`) need
from ``X`` is in its weighted Gram statistics::

    gram = X^T diag(w) X        xty = X^T diag(w) y        column_sums = X^T w

taken in one pass over ``X`` (dense: BLAS ``syrk`` on row blocks through
:func:`fastml.kernels.gram.weighted_gram_dense`, ``X^T diag(w) [y, 1]`` from the same blocks;
CSR: the Cython Gram and rmatvec kernels), plus small sums over ``y``. The intercept is then
eliminated in Gram space (:func:`center_statistics`), so ``X`` is never copied nor centered: the
only buffers are row blocks and ``(n_samples, n_targets + 1)`` right-hand sides.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from .._config import resolve_n_threads
from .._objective import DesignMatrix
from ._offset_columns import as_csr_matrix, offset_column_sums, offset_columns


class RankDeficientWarning(UserWarning):
    """A least-squares system was singular or ill-conditioned: the minimum-norm solution was returned."""


@dataclass(frozen=True)
class ClosedFormOptions:
    """Settings of the closed-form solvers.

    Parameters
    ----------
    rcond : float
        Relative eigenvalue cutoff. Eigen-directions of the centered, weighted, penalized Gram
        matrix with eigenvalue ``<= rcond * largest`` are treated as null (the minimum-norm solution
        sets them to zero); in terms of the singular values of ``sqrt(w) X`` that drops those below
        ``sqrt(rcond)`` times the largest. Cholesky is used only when LAPACK's estimate of the
        reciprocal condition number of the Jacobi-scaled system exceeds ``rcond`` too. The default
        ``1e-12`` sits well above the rounding noise of a float64 Gram matrix (~1e-15 relative).
        The cutoff guards unpenalized systems: with a positive penalty, Cholesky is accepted and
        eigen-directions are kept whenever they are resolved (estimate, or penalized eigenvalue
        relative to the largest, above ``10 * n_features * eps``), see :func:`penalized_inverse`.
        Where the Jacobi-scaled Gram passes the ``rcond`` test but ``eigh`` cannot resolve its
        eigenvalues (features on very different scales), they are computed to high relative
        accuracy and none is cut (:func:`gram_eigen`).
    method : {"auto", "eigh"}
        ``"auto"``: Cholesky, with the eigendecomposition as fallback; ``"eigh"``: always the
        eigendecomposition (minimum-norm, rank revealing).
    max_offset_ratio : float
        With an intercept: the columns whose uncentered weighted sum of squares exceeds this
        multiple of their centered one (mean more than ~100 standard deviations from zero for the
        default, or constant) have their statistics formed again about their means in a second,
        light pass over ``X`` (dense or CSR), restoring the digits that one-pass accumulation
        loses (about ``log10(ratio)``: all of them for a timestamp in milliseconds). ``inf``
        disables the second pass.
    block_rows : int or None
        Rows per block for the passes over ``X`` that need a buffer (weighted or float32 dense
        ``X``, folds, leave-one-out); None: the Gram kernel's default for the Gram pass, about 16 MiB
        of float64 per block for the others.
    check_input : bool
        Check ``y`` and ``sample_weight`` for NaN/inf (``X`` is always checked, for free, on its
        Gram matrix).
    """

    rcond: float = 1e-12
    method: str = "auto"
    max_offset_ratio: float = 1e4
    block_rows: int = None
    check_input: bool = True

    def __post_init__(self):
        if not (np.isfinite(self.rcond) and 0 <= self.rcond < 1):
            raise ValueError(f"rcond must be in [0, 1), got {self.rcond!r}")
        if not self.max_offset_ratio >= 1:
            raise ValueError(f"max_offset_ratio must be >= 1, got {self.max_offset_ratio!r}")
        if self.method not in ("auto", "eigh"):
            raise ValueError(f"method must be 'auto' or 'eigh', got {self.method!r}")
        if self.block_rows is not None and (not isinstance(self.block_rows, (int, np.integer)) or self.block_rows < 1):
            raise ValueError(f"block_rows must be a positive integer or None, got {self.block_rows!r}")


def check_options(options):
    if options is None:
        return ClosedFormOptions()
    if not isinstance(options, ClosedFormOptions):
        raise TypeError(f"options must be a ClosedFormOptions, got {type(options).__name__}")
    return options


def check_penalties(alpha, n_targets, name="alpha"):
    """``alpha`` as a float64 array of one non-negative, finite value per target."""
    try:
        values = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {alpha!r}") from None
    if values.ndim == 0:
        values = np.full(n_targets, float(values))
    if values.shape != (n_targets,):
        raise ValueError(f"{name} must be a scalar or have one value per target ({n_targets}), got shape {values.shape}")
    if not np.isfinite(values).all() or np.any(values < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {values}")
    return values


def pack_params(coef, intercept, fit_intercept):
    """Flat parameters in ``LinearObjective`` layout: ravel of ``(n_features + fit_intercept, n_targets)``."""
    return (np.vstack([coef, intercept[None, :]]) if fit_intercept else coef).ravel()


def warn_rank_deficient(rank, n_features, estimate=np.nan, stacklevel=3):
    """Issue :class:`RankDeficientWarning` for a fallback to the minimum-norm solution."""
    smallest = int(np.min(rank))
    if smallest < n_features:
        message = (f"least-squares system is rank deficient (rank {smallest} < {n_features} features): "
                   "returning the minimum-norm solution")
    else:
        message = (f"least-squares system is ill-conditioned (reciprocal condition ~{estimate:.1e}): "
                   "solved by eigendecomposition")
    warnings.warn(message + "; consider a ridge penalty (alpha > 0) or removing collinear features",
                  RankDeficientWarning, stacklevel=stacklevel)


#: CSR inputs with fewer nonzeros run their kernels on one thread: waking an OpenMP team costs
#: more than the work (measured here: ~0.1 ms to 50 ms per call on a loaded 2-core machine).
MIN_NNZ_PER_THREAD = 1 << 15

#: Rows whose mean is the pilot shift of the per-fold pass.
PILOT_ROWS = 1024

#: Memory of one row block of the leave-one-out and per-fold passes (the Gram pass of a whole
#: dataset uses the kernel's own block size, ``fastml.kernels.gram.BLOCK_ROWS`` rows).
BLOCK_BYTES = 1 << 24


class LeastSquaresData:
    """``X``, ``y`` and ``sample_weight`` checked and laid out for the Gram kernels.

    ``X`` is kept as it is when it is float32/float64 in C or F order or CSR (see
    :class:`fastml._objective.DesignMatrix`); ``y`` becomes float64 ``(n_samples, n_targets)``;
    ``sample_weight`` float64 ``(n_samples,)`` or None (all ones, no weight array at all).
    Finiteness of ``X`` is checked later, for free, on its Gram matrix (NaN or inf in any row
    reaches the diagonal), which avoids a full-size boolean temporary.
    """

    def __init__(self, X, y, sample_weight=None, *, n_threads=None, check_input=True):
        self.design = X if isinstance(X, DesignMatrix) else DesignMatrix(X)
        n_samples, n_features = self.design.shape
        if n_samples < 1:
            raise ValueError(f"X has {n_samples} samples; at least one is required")
        if n_features < 1:
            raise ValueError("X has 0 features; at least one is required")
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"y must be numeric, got dtype {y.dtype}")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != n_samples:
            raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_targets) with n_samples = "
                             f"{n_samples} (the rows of X), got shape {np.shape(y)}")
        if y.shape[1] < 1:
            raise ValueError("y has no target column")
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        if check_input and not np.isfinite(self.y).all():
            raise ValueError("y contains NaN or infinity")
        if sample_weight is None:
            self.sample_weight = None
            self.weight_sum = float(n_samples)
            self.n_weighted = n_samples
        else:
            weights = np.asarray(sample_weight, dtype=np.float64)
            if weights.ndim == 0:
                weights = np.full(n_samples, float(weights))
            if weights.shape != (n_samples,):
                raise ValueError(f"sample_weight must be a scalar or have shape (n_samples,) = ({n_samples},), "
                                 f"got shape {weights.shape}")
            if not np.isfinite(weights).all() or np.any(weights < 0):
                raise ValueError("sample_weight must be finite and non-negative")
            self.sample_weight = np.ascontiguousarray(weights)
            self.weight_sum = float(weights.sum())
            self.n_weighted = int(np.count_nonzero(weights))
            if self.weight_sum <= 0:
                raise ValueError("sample_weight sums to zero: no sample carries weight")
        self.n_samples, self.n_features = n_samples, n_features
        self.n_targets = self.y.shape[1]
        self.n_threads = n_threads  # None: BLAS and kernels keep their defaults

    def weights(self):
        """The sample weights as an array (ones when none were given)."""
        return np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight


def block_rows_for(n_features, itemsize=8, block_bytes=BLOCK_BYTES):
    """Rows of a block buffer of about ``block_bytes`` (at least 256 rows)."""
    return int(max(256, block_bytes // max(1, n_features * itemsize)))


class NonFiniteGramError(ValueError):
    """The Gram statistics are not finite: ``X`` (or ``y``) held a NaN or an infinity, or values whose
    squares overflow float64. Estimators that leave ``X``'s finiteness to this check catch it to give
    scikit-learn's message (``linear_model._base.gram_settles_finiteness``)."""


def check_finite_gram(gram, rhs_out):
    """Raise if the Gram statistics are not finite: X held NaN/inf (or values whose squares overflow).
    A NaN or an infinity anywhere in a row reaches the diagonal (its square, or 0 * inf under a zero
    weight), so this p x p check stands for a pass over X."""
    if not (np.isfinite(gram).all() and np.isfinite(rhs_out).all()):
        raise NonFiniteGramError("X contains NaN or infinity (or values so large that X^T X overflows float64)")


def csr_threads(indptr, n_threads):
    """``n_threads``, or 1 when the CSR rows hold too few nonzeros to pay for a thread team."""
    nnz = int(indptr[-1] - indptr[0]) if indptr.shape[0] else 0
    return n_threads if nnz >= MIN_NNZ_PER_THREAD * 2 else 1


def blas_threads(n_threads):
    """At most ``n_threads`` BLAS threads inside the block (``n_jobs`` is a cap, never a raise: inside
    an estimator's fit BLAS stays on one thread); no-op when None."""
    from ..kernels._blas_threads import cap_blas_threads

    return cap_blas_threads(None if n_threads is None else resolve_n_threads(n_threads))


def _right_hand_side(y, rows=None):
    """``[y, 1]`` as float64 C-contiguous ``(n_rows, n_targets + 1)``: the ones column gives ``X^T w``."""
    y_rows = y if rows is None else y[rows]
    rhs = np.empty((y_rows.shape[0], y_rows.shape[1] + 1))
    rhs[:, :-1] = y_rows
    rhs[:, -1] = 1.0
    return rhs


@dataclass
class GramStatistics:
    """Uncentered weighted statistics of (a subset of) the rows of a least-squares problem.

    Attributes
    ----------
    gram : ndarray of shape (n_features, n_features)
        ``X^T diag(w) X``.
    xty : ndarray of shape (n_features, n_targets)
        ``X^T diag(w) y``.
    column_sums : ndarray of shape (n_features,)
        ``X^T w``.
    weight_sum : float
        ``sum(w)``.
    y_sums : ndarray of shape (n_targets,)
        ``w^T y``.
    x_shift, y_shift : ndarray of shape (n_features,) / (n_targets,), or None
        When given, every statistic above is of the shifted data ``X - x_shift``, ``y - y_shift``
        (the accurate second pass of :func:`gram_statistics`, the pilot shift of
        :func:`fold_gram_statistics`); None means no shift. Sums and differences of statistics
        keep the shift of the left operand: only combine statistics with the same shift.
    """

    gram: np.ndarray
    xty: np.ndarray
    column_sums: np.ndarray
    weight_sum: float
    y_sums: np.ndarray
    x_shift: np.ndarray = None
    y_shift: np.ndarray = None

    def raw_diagonal(self):
        """``diag(X^T diag(w) X)`` of the unshifted data."""
        diagonal = np.diag(self.gram)
        if self.x_shift is None:
            return diagonal
        return diagonal + 2.0 * self.x_shift * self.column_sums + self.weight_sum * self.x_shift ** 2

    def __add__(self, other):
        """Statistics of the rows of both (disjoint) subsets."""
        return GramStatistics(self.gram + other.gram, self.xty + other.xty,
                              self.column_sums + other.column_sums, self.weight_sum + other.weight_sum,
                              self.y_sums + other.y_sums, self.x_shift, self.y_shift)

    def __sub__(self, other):
        """Statistics of the rows in ``self`` but not in ``other`` (e.g. total minus one fold)."""
        return GramStatistics(self.gram - other.gram, self.xty - other.xty,
                              self.column_sums - other.column_sums, self.weight_sum - other.weight_sum,
                              self.y_sums - other.y_sums, self.x_shift, self.y_shift)


def _split_rhs(gram, rhs_out, weight_sum, y_sums):
    return GramStatistics(gram, np.ascontiguousarray(rhs_out[:, :-1]), np.ascontiguousarray(rhs_out[:, -1]),
                          float(weight_sum), y_sums)


def _csr_statistics(data, indices, indptr, n_features, y, weights, n_threads):
    """Gram statistics of CSR rows (``weights`` None for ones) with the Cython kernels."""
    from ..kernels import _sparse, gram as gram_kernels

    n_rows = indptr.shape[0] - 1
    n_threads = csr_threads(indptr, n_threads)
    gram = np.empty((n_features, n_features))
    gram_kernels.weighted_gram_csr(data, indices, indptr, n_features, weights, gram, n_threads)
    rhs = _right_hand_side(y)
    if weights is not None:
        rhs *= weights[:, None]
    rhs_out = np.empty((n_features, rhs.shape[1]))
    _sparse.csr_rmatvec(data, indices, indptr, rhs, rhs_out, n_threads)
    weight_sum = n_rows if weights is None else weights.sum()
    y_sums = y.sum(axis=0) if weights is None else weights @ y
    return _split_rhs(gram, rhs_out, weight_sum, y_sums)


def gram_statistics(data, block_rows=None, fit_intercept=False, max_offset_ratio=np.inf):
    """:class:`GramStatistics` of all rows of ``data`` in one pass over ``X``.

    One pass loses about ``log10(1 + mean^2 / var)`` digits of a column with a large offset when
    the intercept is later eliminated (see :func:`center_statistics`). With ``fit_intercept``, the
    columns whose uncentered weighted sum of squares exceeds ``max_offset_ratio`` times their
    centered one have their rows of the statistics formed again about their means
    (:func:`shift_offset_statistics`: a second, light pass over dense or CSR ``X``), which restores
    full precision. A constant column (e.g. a column of ones next to ``fit_intercept=True``)
    triggers it too: only that pass can tell it from a column with a tiny spread.
    """
    from ..kernels.gram import BLOCK_ROWS, weighted_gram_dense

    design, n_features = data.design, data.n_features
    # NaN/inf in X surface in the Gram matrix, checked right after: no RuntimeWarning on the way
    with blas_threads(data.n_threads), np.errstate(invalid="ignore", over="ignore"):
        if design.is_sparse:
            stats = _csr_statistics(*design.csr, n_features, data.y, data.sample_weight,
                                    resolve_n_threads(data.n_threads))
        else:
            gram = np.empty((n_features, n_features))
            rhs_out = np.empty((n_features, data.n_targets + 1))
            rows = block_rows or BLOCK_ROWS
            weighted_gram_dense(design.dense, data.sample_weight, gram, rhs=_right_hand_side(data.y),
                                rhs_out=rhs_out, block_rows=rows, n_threads=resolve_n_threads(data.n_threads))
            y_sums = data.y.sum(axis=0) if data.sample_weight is None else data.sample_weight @ data.y
            stats = _split_rhs(gram, rhs_out, data.weight_sum, y_sums)
        check_finite_gram(stats.gram, stats.xty)
        if fit_intercept and n_features:
            offset = offset_columns(np.diag(stats.gram), stats.column_sums, stats.weight_sum, 1.0 / max_offset_ratio)
            if offset.size:
                x_shift = np.zeros(n_features)
                x_shift[offset] = stats.column_sums[offset] / stats.weight_sum
                matrix = as_csr_matrix(design.csr, design.shape) if design.is_sparse else design.dense
                stats = shift_offset_statistics(stats, matrix, data.y, data.sample_weight, offset, x_shift,
                                                stats.y_sums / stats.weight_sum, resolve_n_threads(data.n_threads))
    return stats


def shift_offset_statistics(stats, X, y, weights, offset, x_shift, y_shift, n_threads=1):
    """The statistics ``stats`` of the rows ``X`` (dense, or a scipy CSR matrix) taken again about
    ``x_shift`` (zero but on the columns ``offset``) and ``y_shift``: the offset columns' rows from
    their shifted values, ``X^T W (y - y_shift)`` for every column, in one pass (``_offset_columns``)."""
    y_shifted = y - y_shift
    sums = offset_column_sums(X, offset, x_shift[offset], weights, y_shifted, n_threads)
    gram = stats.gram.copy()
    gram[:, offset] = sums.cross
    gram[offset, :] = sums.cross.T
    gram[np.ix_(offset, offset)] = sums.gram
    xty = sums.xty_all
    xty[offset] = sums.xty
    column_sums = stats.column_sums.copy()
    column_sums[offset] = sums.sums
    y_sums = y_shifted.sum(axis=0) if weights is None else weights @ y_shifted
    return GramStatistics(gram, xty, column_sums, stats.weight_sum, y_sums, x_shift, y_shift)


def fold_gram_statistics(data, fold_codes, n_folds, block_rows=None, fit_intercept=False):
    """One :class:`GramStatistics` per fold (``fold_codes[i]`` in ``[0, n_folds)``), one pass over ``X``.

    Dense ``X`` is read once in row blocks; each block's rows of one fold are gathered (or shifted)
    into a block-sized copy and handed to the BLAS kernel. With ``fit_intercept`` the dense data are
    shifted by a pilot mean (of the first rows) on the way, the classic one-pass remedy for columns
    with large offsets; there is no second pass to fall back on here. CSR ``X`` gathers one fold's
    rows at a time (at most one fold's nonzeros in memory); its columns with large offsets have
    every fold's sums formed again about the overall means (``shift_offset_statistics``).
    """
    from ..kernels.gram import weighted_gram_dense

    design, n_features, n_targets = data.design, data.n_features, data.n_targets
    weights = data.sample_weight
    x_shift = y_shift = None
    grams = np.zeros((n_folds, n_features, n_features))
    rhs_outs = np.zeros((n_folds, n_features, n_targets + 1))
    n_threads = resolve_n_threads(data.n_threads)
    # NaN/inf in X surface in the Gram matrix, checked right after: no RuntimeWarning on the way
    with blas_threads(data.n_threads), np.errstate(invalid="ignore", over="ignore"):
        if design.is_sparse:
            matrix = as_csr_matrix(design.csr, design.shape)
            for fold in range(n_folds):
                rows = np.flatnonzero(fold_codes == fold)
                part = DesignMatrix(matrix[rows])
                stats = _csr_statistics(*part.csr, n_features, data.y[rows],
                                        None if weights is None else weights[rows], n_threads)
                grams[fold] = stats.gram
                rhs_outs[fold, :, :-1], rhs_outs[fold, :, -1] = stats.xty, stats.column_sums
            if fit_intercept:
                # columns with large offsets: every fold's sums again about the overall means (one
                # shift for all, so that fold statistics still add and subtract)
                w = data.weights()
                offset = offset_columns(np.einsum("fjj->j", grams), rhs_outs[:, :, -1].sum(axis=0), w.sum(),
                                        1.0 / ClosedFormOptions.max_offset_ratio)
                if offset.size:
                    x_shift = np.zeros(n_features)
                    x_shift[offset] = rhs_outs[:, offset, -1].sum(axis=0) / w.sum()
                    y_shift = (w @ data.y) / w.sum()
                    for fold in range(n_folds):
                        rows = np.flatnonzero(fold_codes == fold)
                        raw = _split_rhs(grams[fold], rhs_outs[fold], 0.0, np.zeros(n_targets))
                        shifted = shift_offset_statistics(raw, matrix[rows], data.y[rows],
                                                          None if weights is None else weights[rows], offset,
                                                          x_shift, y_shift, n_threads)
                        grams[fold] = shifted.gram
                        rhs_outs[fold, :, :-1], rhs_outs[fold, :, -1] = shifted.xty, shifted.column_sums
        else:
            X = design.dense
            if fit_intercept:
                x_shift = X[:PILOT_ROWS].mean(axis=0, dtype=np.float64)
                y_shift = data.y[:PILOT_ROWS].mean(axis=0)
            rows_per_block = block_rows or block_rows_for(n_features)
            gram = np.empty((n_features, n_features))
            rhs_out = np.empty((n_features, n_targets + 1))
            for start in range(0, data.n_samples, rows_per_block):
                codes = fold_codes[start:start + rows_per_block]
                for fold in np.unique(codes):
                    rows = start + np.flatnonzero(codes == fold)
                    if rows[-1] - rows[0] + 1 == rows.shape[0]:  # contiguous: a view, no gather
                        rows = slice(rows[0], rows[-1] + 1)
                    piece, rhs = X[rows], _right_hand_side(data.y, rows)
                    if fit_intercept:
                        piece = np.subtract(piece, x_shift)
                        rhs[:, :-1] -= y_shift
                    weighted_gram_dense(piece, None if weights is None else weights[rows], gram,
                                        rhs=rhs, rhs_out=rhs_out, block_rows=rows_per_block)
                    grams[fold] += gram
                    rhs_outs[fold] += rhs_out
    check_finite_gram(grams, rhs_outs)
    w = data.weights()
    shifted_y = data.y if y_shift is None else data.y - y_shift
    weight_sums = np.bincount(fold_codes, weights=w, minlength=n_folds)
    y_sums = np.stack([np.bincount(fold_codes, weights=w * shifted_y[:, t], minlength=n_folds)
                       for t in range(n_targets)], axis=1)
    folds = [_split_rhs(grams[f], rhs_outs[f], weight_sums[f], y_sums[f]) for f in range(n_folds)]
    for stats in folds:
        stats.x_shift, stats.y_shift = x_shift, y_shift
    return folds


@dataclass
class CenteredSystem:
    """Normal equations with the intercept eliminated: ``(gram + penalty I) coef = rhs``.

    ``intercept = y_mean - x_mean @ coef``; without an intercept the means are zero and nothing
    is centered.
    """

    gram: np.ndarray
    rhs: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    weight_sum: float


def center_statistics(stats, fit_intercept, rcond=0.0):
    """Eliminate the (unpenalized) intercept from the normal equations, in Gram space.

    Why center here rather than solve the augmented system ``[[G, s], [s^T, W]]``: eliminating the
    intercept from the augmented system produces exactly this Schur complement ``G - s s^T / W``,
    so with the intercept pivoted first the two agree to rounding. Pivoted last (the usual layout),
    Cholesky first factors the uncentered ``G``, whose condition number grows like the columns'
    ``(mean / std)^2``, and its last pivot ``W - l^T l`` then cancels badly. Centering first also
    makes the rank test, the eigenvalue cutoff and the ridge penalty act on the spread of the
    features, not on their offsets: a constant column becomes an exact null direction (coefficient
    0, intercept absorbs it, as in scikit-learn), and the eigendecomposition that ``ridge_path``
    needs is that of the centered matrix anyway. What neither form recovers is the precision lost
    while accumulating the uncentered ``G`` (about ``log10(1 + mean^2 / var)`` digits of a column
    with a large offset): :func:`gram_statistics` then takes a second, shifted pass, after which
    the centered matrix is accurate. A column whose centered sum of squares is at most ``tol``
    times its uncentered one is constant to working precision (``tol = rcond`` after one pass,
    whose rounding noise is ~1e-16 of the uncentered sums; ``rcond**2`` after the shifted pass);
    its row and column are set to exactly zero, so that rounding noise is never solved for.
    """
    weight_sum = stats.weight_sum
    if not fit_intercept:
        if stats.x_shift is not None:
            raise ValueError("internal error: shifted Gram statistics are only taken with an intercept")
        n_features, n_targets = stats.xty.shape
        return CenteredSystem(stats.gram, stats.xty, np.zeros(n_features), np.zeros(n_targets), weight_sum)
    x_offset = stats.column_sums / weight_sum  # mean of the (possibly shifted) data
    y_offset = stats.y_sums / weight_sum
    gram = stats.gram - np.outer(stats.column_sums, x_offset)
    gram = 0.5 * (gram + gram.T)  # exactly symmetric for the factorizations
    rhs = stats.xty - np.outer(stats.column_sums, y_offset)
    x_mean = x_offset if stats.x_shift is None else stats.x_shift + x_offset
    y_mean = y_offset if stats.y_shift is None else stats.y_shift + y_offset
    tolerance = rcond if stats.x_shift is None else rcond * rcond
    constant = np.diag(gram) <= tolerance * stats.raw_diagonal()
    if constant.any():
        gram[constant, :] = 0.0
        gram[:, constant] = 0.0
        rhs[constant, :] = 0.0
    return CenteredSystem(gram, rhs, x_mean, y_mean, weight_sum)


def centered_target_sums(y, weights, fit_intercept, codes=None, n_groups=1):
    """``sum_i w_i (y_i - ybar)^2`` per target (per group of ``codes``), from ``y`` directly.

    Taken from ``y`` (cheap: no pass over ``X``) rather than as ``y^T W y - W ybar^2``, which
    cancels catastrophically when ``y`` has a large offset.
    """
    if codes is None:  # one group: plain weighted sums (bincount over one code costs ~25 ms at 1e6 rows)
        mean = (weights @ y) / max(weights.sum(), 1e-300) if fit_intercept else np.zeros(y.shape[1])
        deviation = y - mean if fit_intercept else y
        return (weights @ (deviation * deviation))[None, :]
    weight_sums = np.bincount(codes, weights=weights, minlength=n_groups)
    out = np.empty((n_groups, y.shape[1]))
    for t in range(y.shape[1]):
        mean = np.bincount(codes, weights=weights * y[:, t], minlength=n_groups) / np.maximum(weight_sums, 1e-300)
        deviation = y[:, t] - mean[codes] if fit_intercept else y[:, t]
        out[:, t] = np.bincount(codes, weights=weights * deviation * deviation, minlength=n_groups)
    return out


def symmetric_eigen(matrix):
    """Eigenvalues (ascending, clipped at 0: negative ones are rounding noise of a Gram) and vectors."""
    from scipy.linalg import eigh

    from ..kernels._blas_threads import blas_threads_for_order

    if matrix.shape[0] == 0:
        return np.zeros(0), np.zeros((0, 0))
    with blas_threads_for_order(matrix.shape[0]):
        eigenvalues, vectors = eigh(matrix, check_finite=False)
    return np.maximum(eigenvalues, 0.0), vectors


#: A penalized eigenvalue above this multiple of :func:`eigen_noise` is resolved: with a positive
#: penalty its direction is solved for, whatever ``rcond`` says. Measured on exactly collinear columns
#: (1e3..1e5 rows, offsets 0..100), the spurious eigenvalue stays below 0.2 times the noise bound.
RESOLVED_NOISE_MULTIPLE = 10.0

#: ``eigh`` is trusted for a whole ridge path when the smallest penalized eigenvalue exceeds this
#: multiple of :func:`eigen_noise`: every ``1 / (e_j + penalty)`` is then good to ~1e-6 relative or
#: better, and the leave-one-out and GCV scores (which use the eigendecomposition directly,
#: without refinement) with it. Below, :func:`gram_eigen` tries the accurate decomposition.
TRUSTED_NOISE_MULTIPLE = 1e6


def eigen_noise(eigenvalues):
    """Absolute error bound of ``eigh``'s eigenvalues of a symmetric matrix: ``n * eps * largest``."""
    return eigenvalues.shape[0] * np.finfo(np.float64).eps * float(eigenvalues.max(initial=0.0))


def jacobi_cholesky(matrix):
    """Cholesky factor of ``matrix`` after Jacobi scaling (unit diagonal), with LAPACK's estimate of the
    scaled system's reciprocal condition number (1-norm).

    Cholesky's accuracy does not depend on a diagonal scaling, but the condition estimate then measures
    the problem, not the units of the features. Returns ``(upper, scale, estimate)`` with
    ``scale[:, None] * matrix * scale[None, :] = upper^T upper`` (``upper`` upper triangular, the rest
    zeroed), or None when ``matrix`` is not numerically positive definite (a zero or negative diagonal
    entry, or a failed factorization).
    """
    from scipy.linalg import LinAlgError, cho_factor, lapack

    diagonal = np.diag(matrix).copy()
    if np.any(diagonal <= 0):  # a constant (or all-zero) column and no penalty: singular
        return None
    scale = 1.0 / np.sqrt(diagonal)
    system = matrix * scale[:, None]
    system *= scale[None, :]
    norm_1 = float(np.abs(system).sum(axis=0).max())
    try:
        factor, _ = cho_factor(system, lower=False, overwrite_a=True, check_finite=False)
    except LinAlgError:
        return None
    estimate, info = lapack.dpocon(factor, norm_1, uplo="U")
    if info != 0:
        return None
    return np.triu(factor), scale, float(estimate)


def _graded_eigen(gram, rcond):
    """Eigendecomposition of a Gram matrix to high relative accuracy, or None where it does not apply.

    Why: ``eigh`` resolves eigenvalues only down to ~``n * eps`` times the largest one, and the
    eigenvalues of ``X^T X`` span the square of ``X``'s condition number: columns on scales 1e-6 ..
    1e6 give eigenvalues 1e-12 .. 1e12 and ``eigh`` returns noise for the small ones, so every penalty
    below the noise scored alike (RidgeCV never picked a small alpha). When only the units are at
    fault, i.e. ``G = D M D`` with ``D`` the column norms and ``M`` well conditioned, the Gram still
    holds every eigenvalue to ~``eps * cond(M)`` relative (its rounding errors are columnwise
    relative), and a one-sided Jacobi SVD (LAPACK ``dgejsv``) of the graded square root
    ``R = U D`` (``M = U^T U``, Cholesky) computes them to that accuracy (Demmel and Veselić), with
    the eigenvectors ``V`` (``G = R^T R = V diag(s^2) V^T``). This costs a Cholesky and a Jacobi SVD of
    ``p x p``: about eigh's time at ``p = 100``, seven times it at ``p = 1000``.

    Applies when the Jacobi-scaled Gram of the non-constant columns passes the test by which
    :func:`fastml.solvers.closed_form.solve_least_squares` accepts Cholesky (reciprocal condition
    estimate above ``rcond``); its zeroed constant columns are exact null directions. Otherwise
    (collinear columns: the scaled matrix itself is singular) returns None.
    """
    from scipy.linalg import lapack

    n_features = gram.shape[0]
    varying = np.flatnonzero(np.diag(gram) > 0)
    if varying.size == 0:
        return None
    factored = jacobi_cholesky(gram[np.ix_(varying, varying)])
    if factored is None or not factored[2] > rcond:
        return None
    upper, scale, _ = factored
    root = upper / scale[None, :]  # U D: columns graded like those of X
    # JOBA='C' (relative accuracy for column-scaled input), JOBU='N', JOBV='V'
    values, _, right, work, _, info = lapack.dgejsv(root, joba=0, jobu=3, jobv=0)
    if info != 0:
        return None
    singular = values * (work[0] / work[1])  # descending
    n_constant = n_features - varying.size
    eigenvalues = np.concatenate([np.zeros(n_constant), singular[::-1] ** 2])
    vectors = np.zeros((n_features, n_features))
    constant = np.setdiff1d(np.arange(n_features), varying)
    vectors[constant, np.arange(n_constant)] = 1.0
    vectors[np.ix_(varying, np.arange(n_constant, n_features))] = right[:, ::-1]
    return eigenvalues, vectors


def gram_eigen(gram, rcond, smallest_penalty=0.0):
    """Eigendecomposition of a (centered, weighted) Gram matrix, accurate for every penalty of a path.

    The fast path is ``eigh``; it is kept when the smallest penalized eigenvalue is far above
    ``eigh``'s error (see ``TRUSTED_NOISE_MULTIPLE``), which holds for most data. Otherwise the
    decomposition of :func:`_graded_eigen` (high relative accuracy, for features that are
    ill-conditioned only through their scales) is tried, and ``eigh``'s is kept if it does not apply.

    Returns
    -------
    eigenvalues : ndarray of shape (n_features,)
        Ascending, non-negative.
    vectors : ndarray of shape (n_features, n_features)
    noise : float
        Absolute error bound of the eigenvalues, for :func:`penalized_inverse`; ``0.0`` when they
        were computed to high relative accuracy (every direction with a positive penalized
        eigenvalue is resolved).
    """
    from ..kernels._blas_threads import blas_threads_for_order

    eigenvalues, vectors = symmetric_eigen(gram)
    noise = eigen_noise(eigenvalues)
    if eigenvalues.size == 0 or eigenvalues[0] + smallest_penalty > TRUSTED_NOISE_MULTIPLE * noise:
        return eigenvalues, vectors, noise
    with blas_threads_for_order(gram.shape[0]):
        graded = _graded_eigen(gram, rcond)
    if graded is None:
        return eigenvalues, vectors, noise
    return (*graded, 0.0)


def penalized_inverse(eigenvalues, penalties, rcond, noise=None):
    """``1 / (e_j + penalty_a)`` for every eigenvalue and penalty: shape ``(n_features, n_penalties)``.

    Which directions are inverted and which are set to 0 (the pseudo-inverse: minimum-norm solutions
    instead of inverted rounding noise), given ``noise``, the eigenvalues' absolute error bound
    (default :func:`eigen_noise`, ``eigh``'s backward error ``n * eps`` times the largest):

    * ``noise == 0`` (eigenvalues to high relative accuracy, :func:`gram_eigen`): every direction
      with a positive penalized eigenvalue.
    * without penalty: those whose eigenvalue exceeds ``rcond`` times the largest; this keeps the
      minimum-norm solution and its warning for collinear features, whose spurious eigenvalues are
      rounding noise of the Gram matrix, not only of ``eigh``.
    * with a positive penalty, also every direction whose penalized eigenvalue is resolved (above
      ``RESOLVED_NOISE_MULTIPLE * noise``), and all of them once the penalty itself exceeds the noise:
      ``G + penalty I`` is then numerically positive definite and its solution is the ridge solution.
      The ``rcond`` cut alone dropped resolved directions: four columns ``1e6 + N(0, 1)`` without an
      intercept have eigenvalues ``8e15`` and ``2e3 (+- 7)``, and ``Ridge(alpha=1, fit_intercept=False)``
      returned the rank-1 solution; features whose variances span 1e12 lost their smallest directions
      at ``alpha = 0.1``.

    Returns the matrix and the rank kept per penalty.
    """
    penalties = np.atleast_1d(np.asarray(penalties, dtype=np.float64))
    total = eigenvalues[:, None] + penalties[None, :]
    if total.shape[0] == 0:
        return np.zeros(total.shape), np.zeros(penalties.shape[0], dtype=np.intp)
    if noise is None:
        noise = eigen_noise(eigenvalues)
    if noise == 0:
        keep = total > 0
    else:
        penalized = penalties[None, :] > 0
        keep = ((total > rcond * total.max(axis=0)) | (penalties[None, :] > noise)
                | (penalized & (total > RESOLVED_NOISE_MULTIPLE * noise)))
    inverse = np.zeros(total.shape)
    np.divide(1.0, total, out=inverse, where=keep)
    return inverse, keep.sum(axis=0)
