"""Coordinate descent for the Lasso / elastic net with squared error, stopped by the duality gap.

Objective, per target ``k`` (the squared-error :class:`fastml.LinearObjective` with
``l1 = alpha * l1_ratio`` and ``l2 = alpha * (1 - l1_ratio)``)::

    f(coef, b) = 1 / (2 sum_i w_i) * sum_i w_i (y_i - x_i . coef - b)^2
                 + l1 * ||coef||_1 + l2 / 2 * ||coef||^2

With unit weights this is scikit-learn's ``Lasso`` / ``ElasticNet(alpha, l1_ratio)`` objective;
with ``sample_weight`` it is too, because scikit-learn rescales the weights to sum to
``n_samples``, which gives the same ``1 / (2 sum w)`` normalization: pass the same ``alpha``.

Three variants share one update rule (``fastml.kernels._cd``):

* ``"gram"``: ``Q = X_c^T W X_c`` and ``q = X_c^T W y_c`` are formed once (dense: BLAS ``syrk``
  in row blocks; CSR: the Cython weighted Gram), then sweeps cost O(n_features^2), independent
  of ``n_samples``; a path over many alphas and all targets reuse the one Gram. Centering is done
  in Gram space (``Q = X^T W X - W m m^T``), which loses about ``2 log10(r)`` digits for a feature
  whose mean is ``r`` times its standard deviation; the features with ``r > 100`` (or constant)
  have their rows of ``Q`` and ``q`` formed again about their means in one light pass over dense
  or CSR ``X`` (``_offset_columns``: such CSR columns are nearly dense, and are densified a row
  block at a time).
* ``"dense"``: column sweeps over F-ordered ``X`` with residual updates, O(n_samples) per
  coordinate. C-ordered ``X`` is copied once to F order (the only copy of ``X``).
* ``"sparse"``: column sweeps over CSC ``X``. CSR input is converted to CSC once: a necessary copy
  of the nonzeros (values and row indices); CSC input is used as it is, unless it has features
  with ``r > 100``: those are stored shifted by their means, in a copy (see below).
* ``"auto"``: ``"gram"`` when ``n_features <= 1024`` and ``n_samples >= n_features`` for a path of
  penalties, several targets or sparse ``X`` (one Gram serves every solve), ``n_samples >= 12
  n_features`` for one dense solve; else the column variant of the storage.

The intercept is never a column of ``X`` and ``X`` is never centered in memory: dense columns are
centered as the kernel reads them (exact for any mean), CSC columns keep a running mean (the
centered residual is ``resid + shift``, folded at every gap check; that would cancel the digits of
a feature with ``|mean| >> std`` at every update, so such features are stored shifted by their
means), the Gram variant centers ``Q`` and ``q``. The intercept is ``b = ybar - m . coef``
(weighted means). A feature whose exactly centered sum of squares is at most 1e-24 of its raw one
(a spread below ~1e-12 of its mean) is treated as constant (coefficient 0), see ``_DEGENERATE``.
Multiple targets are independent problems sharing ``X``
(and the Gram), run one per thread. Stopping rule, as in scikit-learn: every ``check_gap_every``
sweeps, or earlier after a sweep whose largest update is below ``tol * max|coef|``, the duality gap
of the elastic-net dual is computed; a target has converged when ``gap <= tol * sum_i w_i y_c,i^2``
(both sides in the unnormalized scale ``sum w`` times ``f``). Gap-safe screening (Fercoq et al.
2015) drops features proven zero at the optimum. Reported gaps are in the units of ``f``
(the unnormalized gap divided by ``sum w``), like scikit-learn's ``dual_gap_``.

The solves of a path on the Gram matrix or dense columns (no trace: ElasticNetCV's 100 alphas x 5
folds) run whole in one compiled call each (``kernels._cd.gram_solve`` / ``dense_solve``: the same
sweeps, gaps and screening); a traced fit keeps the Python driver, which records every gap check and
calls the callback, and so does the CSC variant.
"""
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._config import resolve_n_threads
from .._objective import DesignMatrix, frozen_view
from ..kernels._blas_threads import one_blas_thread_in_fit
from ._closed_form_base import NonFiniteGramError
from ._offset_columns import as_csr_matrix, offset_column_sums, offset_columns
from ._result import SolverResult, Trace, notify

__all__ = [
    "CoordinateDescentOptions",
    "CoordinateDescentPath",
    "coordinate_descent",
    "coordinate_descent_from_statistics",
    "coordinate_descent_objective",
    "coordinate_descent_path",
    "coordinate_descent_path_from_statistics",
    "alpha_max",
]

_GRAM_MAX_FEATURES = 1024
# One dense solve forms the Gram (n p^2 / 2 multiply-adds) for a handful of sweeps (2 n p each):
# below this many rows per feature the column sweeps cost less. Measured (Lasso, tol 1e-4, 4-8
# sweeps, one thread): 2 000 x 500 Gram 12.5 ms / columns 3.7 ms, 2 000 x 384 7.9 / 3.9, 3 000 x 300
# 6.8 / 3.9, 1 000 x 100 0.99 / 0.86, 2 000 x 128 even; from 20 rows per feature on the Gram wins
# (10 000 x 64 2.2 / 3.8 ms, 50 000 x 384 84 / 105-136 ms), and between the two it depends on
# the sweep count (10 000 x 384: 18.7 / 13.2-19.8 ms)
_GRAM_MIN_ROWS_PER_FEATURE = 12
# A column is constant (coefficient 0, the intercept absorbs it) when its centered weighted sum of
# squares is at most _ROUNDING times the sum the last centering subtracted from (what is left is that
# subtraction's rounding noise), or at most _DEGENERATE times its raw sum of squares (a spread below
# ~1e-12 of its offset: a few thousand ulps, the closed form's rcond**2). The second test needs exact
# centering: every path re-forms the sums of columns with large offsets about their means first
# (_offset_columns), so a timestamp in milliseconds (mean 1.7e12, spread 1e5) is a feature, not a
# constant.
_ROUNDING = 1e-11
_DEGENERATE = 1e-24
_BLOCK_ROWS = 4096
_MIN_PARALLEL_WORK = 1_000_000  # flops below which a kernel call runs on one thread
_CENTERING_LOSS = 1e-4  # centered / raw Gram diagonal below this: those columns' sums again about their means


@dataclass(frozen=True)
class CoordinateDescentOptions:
    """Settings of :func:`coordinate_descent`.

    Attributes
    ----------
    max_iter : int
        Most sweeps (passes over all active coordinates) per target.
    tol : float
        Duality-gap tolerance relative to ``sum_i w_i y_c,i^2`` (scikit-learn's ``tol``).
    selection : {"cyclic", "random"}
        Coordinate order; ``"random"`` draws coordinates uniformly with replacement.
    random_state : int or None
        Seed of the ``"random"`` selection (per-target streams: results do not depend on threads).
    variant : {"auto", "gram", "dense", "sparse"}
        Storage the sweeps run on (see the module docstring).
    check_gap_every : int
        Most sweeps between two duality-gap checks.
    positive : bool
        Constrain the coefficients to be non-negative.
    screening : bool
        Gap-safe screening of features that are zero at the optimum.
    """

    max_iter: int = 1000
    tol: float = 1e-4
    selection: str = "cyclic"
    random_state: object = None
    variant: str = "auto"
    check_gap_every: int = 10
    positive: bool = False
    screening: bool = True

    def __post_init__(self):
        _check_positive_int(self.max_iter, "max_iter")
        _check_positive_int(self.check_gap_every, "check_gap_every")
        if not np.isfinite(self.tol) or self.tol < 0:
            raise ValueError(f"tol must be finite and non-negative, got {self.tol!r}")
        if self.selection not in ("cyclic", "random"):
            raise ValueError(f"selection must be 'cyclic' or 'random', got {self.selection!r}")
        if self.variant not in ("auto", "gram", "dense", "sparse"):
            raise ValueError(f"variant must be 'auto', 'gram', 'dense' or 'sparse', got {self.variant!r}")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class CoordinateDescentPath:
    """Solutions of :func:`coordinate_descent_path`, one per alpha (in the order of ``alphas``).

    ``coef`` has shape (n_alphas, n_features, n_targets); ``intercept``, ``dual_gap`` (units of
    the objective), ``n_iter`` and ``converged`` have shape (n_alphas, n_targets).
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    dual_gap: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    variant: str


# -------------------------------------------------------------------------------------------------
# preparation: everything that depends on X, y and the weights but not on the penalty
# -------------------------------------------------------------------------------------------------

class _Problem:
    """Penalty-independent data of a coordinate-descent problem (built once, reused by a path)."""

    def __init__(self, X, y, sample_weight, fit_intercept, variant, n_threads, n_penalties=1):
        self.n_threads = n_threads
        self.fit_intercept = bool(fit_intercept)
        csc = X if sp.issparse(X) and X.format == "csc" else None
        design = None if csc is not None else (X if isinstance(X, DesignMatrix) else _design(X))
        is_sparse = csc is not None or design.is_sparse
        n_samples, n_features = X.shape if csc is not None else design.shape
        if n_features == 0 or n_samples == 0:
            raise ValueError(f"X needs at least one sample and one feature, got shape {(n_samples, n_features)}")
        self.n_samples, self.n_features = n_samples, n_features
        self.column_shift = np.zeros(n_features)  # stored columns are X - column_shift (_shift_offset_columns)
        y = _targets(y, n_samples)
        self.n_targets = y.shape[1]
        self.sample_weight = _weights(sample_weight, n_samples)
        w = np.ones(n_samples) if self.sample_weight is None else self.sample_weight
        self.weight_sum = float(w.sum())
        # einsum, not BLAS, for these O(n) reductions: a threaded BLAS call on a busy machine can cost
        # more waiting for its second thread than the arithmetic itself
        self.y_mean = np.einsum("i,ik->k", w, y) / self.weight_sum if self.fit_intercept else np.zeros(self.n_targets)
        y_c = y - self.y_mean
        self.y_norm2 = np.einsum("i,ik,ik->k", w, y_c, y_c)
        self.variant = _choose_variant(variant, is_sparse, n_samples, n_features, n_penalties * self.n_targets)

        if csc is not None and self.variant == "gram":
            design, csc = _design(csc.tocsr()), None  # the Gram kernel reads rows: one copy
        # a NaN or an infinity in X surfaces in the sums, checked right after (_require_finite): no
        # RuntimeWarning on the way
        with np.errstate(invalid="ignore", over="ignore"):
            if self.variant == "gram":
                self._prepare_gram(design, w, y_c)
            else:
                self._prepare_columns(design, csc, w, y_c)

    @classmethod
    def from_statistics(cls, stats, fit_intercept, n_samples, n_threads):
        """The Gram-variant problem of the rows summed in ``stats`` (a ``_cd_statistics.GramStatistics``
        about weighted-mean shifts of X and y, or about zero without an intercept): no pass over ``X``."""
        problem = cls.__new__(cls)
        problem.n_threads = n_threads
        problem.fit_intercept = bool(fit_intercept)
        problem.n_samples = int(n_samples)
        problem.n_features, problem.n_targets = stats.xy.shape
        problem.sample_weight = None
        problem.variant = "gram"
        problem.column_shift = np.zeros(problem.n_features)
        W = problem.weight_sum = float(stats.weight_sum)
        if W <= 0:
            raise ValueError("the rows of a fold carry no weight")
        _require_finite(stats.xx, stats.x_sum)
        if problem.fit_intercept:
            G = stats.xx - np.outer(stats.x_sum, stats.x_sum) / W
            xty = stats.xy - np.outer(stats.x_sum, stats.y_sum) / W
            problem.x_mean = stats.shift + stats.x_sum / W
            problem.y_mean = stats.y_shift + stats.y_sum / W
            problem.y_norm2 = stats.yy - stats.y_sum ** 2 / W
        else:
            if np.any(stats.shift != 0) or np.any(stats.y_shift != 0):
                raise ValueError("statistics without an intercept must be taken about zero")
            G, xty = stats.xx.copy(), stats.xy.copy()
            problem.x_mean = np.zeros(problem.n_features)
            problem.y_mean = np.zeros(problem.n_targets)
            problem.y_norm2 = stats.yy.copy()
        problem._finish_gram(G, xty, stats.x_squares, np.diag(stats.xx))
        return problem

    def _finish_gram(self, G, xty, raw_diag, shifted_diag):
        """Zero the constant columns and keep Q, q. ``shifted_diag``: the diagonal the last (Gram-space)
        centering subtracted from; ``raw_diag``: ``sum w x^2`` (see _ROUNDING, _DEGENERATE)."""
        centered = np.diag(G)
        degenerate = (centered <= _ROUNDING * shifted_diag) | (centered <= _DEGENERATE * raw_diag)
        G[degenerate, :] = 0.0
        G[:, degenerate] = 0.0
        self.gram = G
        self.xty = np.ascontiguousarray(xty.T)
        self.xty[:, degenerate] = 0.0
        self.norms = np.diag(G).copy()

    def _prepare_gram(self, design, w, y_c):
        from ..kernels import _sparse, gram

        d, K = self.n_features, self.n_targets
        G = np.empty((d, d))
        if design.is_sparse:
            data, indices, indptr = design.csr
            _sparse.csr_weighted_gram(data, indices, indptr, w, G, self.n_threads)
            x_weighted_sum = np.empty(d)
            _sparse.csr_weighted_column_sums(data, indices, indptr, d, w, x_weighted_sum)
            xty = np.empty((d, K))
            _sparse.csr_rmatvec(data, indices, indptr, np.ascontiguousarray(w[:, None] * y_c), xty, self.n_threads)
        else:
            # X^T W [y_c, 1] in the pass that forms the Gram; centered y keeps q free of cancellation
            rhs = np.empty((self.n_samples, K + 1))
            rhs[:, :K] = y_c
            rhs[:, K] = 1.0
            rhs_out = np.empty((d, K + 1))
            gram.weighted_gram_dense(design.dense, self.sample_weight, G, rhs=rhs, rhs_out=rhs_out,
                                     n_threads=self.n_threads)
            xty, x_weighted_sum = rhs_out[:, :K], rhs_out[:, K].copy()
        _require_finite(G, x_weighted_sum)
        raw_diag = np.diag(G).copy()
        shifted_diag = raw_diag
        if self.fit_intercept:
            G -= np.outer(x_weighted_sum, x_weighted_sum) / self.weight_sum
            self.x_mean = x_weighted_sum / self.weight_sum
            # columns with some |mean| > 100 std (or constant): centering in Gram space cancelled more
            # than 4 digits of them, so their centered sums are formed again about their means
            offset = offset_columns(raw_diag, x_weighted_sum, self.weight_sum, _CENTERING_LOSS)
            if offset.size:
                # their rows of the Gram again, about their means: one light pass (_offset_columns)
                X = as_csr_matrix(design.csr, design.shape) if design.is_sparse else design.dense
                sums = offset_column_sums(X, offset, self.x_mean[offset], self.sample_weight, y_c, self.n_threads)
                self.x_mean[offset] += sums.sums / self.weight_sum
                rows = sums.centered_gram_rows(self.x_mean, self.weight_sum)
                G[:, offset], G[offset, :] = rows, rows.T
                xty[offset] = sums.xty
                shifted_diag = raw_diag.copy()
                shifted_diag[offset] = np.diag(sums.gram)
        else:
            self.x_mean = np.zeros(d)
        self._finish_gram(G, xty, raw_diag, shifted_diag)

    def _prepare_columns(self, design, csc, w, y_c):
        from ..kernels import _sparse

        d = self.n_features
        # weighted sums of (x - origin) and of its square; the centered norms follow from them
        origin, square_sums, sums = np.zeros(d), np.empty(d), np.empty(d)
        if self.variant == "sparse":
            csr_arrays = design.csr if csc is None else _design(csc.tocsr()).csr  # (CSC: a transient copy)
            _sparse.csr_column_sq_norms(*csr_arrays, d, w, square_sums)  # merges duplicates
            _sparse.csr_weighted_column_sums(*csr_arrays, d, w, sums)
            if csc is None:
                csc = sp.csr_matrix(csr_arrays, shape=design.shape).tocsc()  # the one copy of X
            data = csc.data if csc.data.dtype in (np.float32, np.float64) else csc.data.astype(np.float64)
            indices, indptr = csc.indices, csc.indptr
            if indices.dtype != indptr.dtype:
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.csc = tuple(frozen_view(np.ascontiguousarray(a)) for a in (data, indices, indptr))
        else:
            X = design.dense
            # origin = the first row: sums of (x - x_0) keep the centered norms free of cancellation
            # when |mean| >> std
            if self.fit_intercept:
                origin = np.asarray(X[0], dtype=np.float64)
            if X.flags.f_contiguous:
                self.X_f = X
                # row blocks give float64 sums without a float64 copy of X
                square_sums[:], sums[:] = 0.0, 0.0
                for start in range(0, self.n_samples, _BLOCK_ROWS):
                    block = np.asarray(X[start:start + _BLOCK_ROWS], dtype=np.float64) - origin
                    w_block = w[start:start + _BLOCK_ROWS]
                    square_sums += np.einsum("i,ij,ij->j", w_block, block, block)
                    sums += np.einsum("i,ij->j", w_block, block)
            else:  # the one copy of X, and the sums taken on the way (kernels.layout)
                from ..kernels._jit import call_parallel
                from ..kernels.layout import fortran_copy_with_column_sums

                X_f = np.empty(X.shape, dtype=X.dtype, order="F")
                call_parallel(fortran_copy_with_column_sums, np.ascontiguousarray(X), origin,
                              np.ascontiguousarray(w, dtype=np.float64), X_f, sums, square_sums,
                              serial=self.threads(X.size) == 1)
                self.X_f = frozen_view(X_f)
        _require_finite(square_sums, sums)
        shifted_squares = square_sums  # about origin: what the centering below subtracts from
        raw_squares = square_sums + origin * (2.0 * sums + self.weight_sum * origin)  # about zero
        if self.fit_intercept:
            self.x_mean = origin + sums / self.weight_sum
            self.norms = square_sums - sums * sums / self.weight_sum
            offset = (offset_columns(square_sums, sums, self.weight_sum, _CENTERING_LOSS)
                      if self.variant == "sparse" else np.zeros(0, dtype=np.intp))
            if offset.size:
                # the running mean of the CSC sweeps cancels the digits of a column with a large
                # offset at every update (x ~ 1e6 moves the residual, the mean moves it back): such
                # (nearly dense) columns are stored shifted by their means in the CSC copy instead
                stored_sums, stored_squares = self._shift_offset_columns(offset, w)
                self.x_mean[offset] = stored_sums / self.weight_sum  # of the stored (shifted) columns
                self.norms[offset] = stored_squares - stored_sums ** 2 / self.weight_sum
                shifted_squares = square_sums.copy()
                shifted_squares[offset] = stored_squares
        else:
            self.x_mean = np.zeros(d)
            self.norms = square_sums
        self.norms[(self.norms <= _ROUNDING * shifted_squares) | (self.norms <= _DEGENERATE * raw_squares)] = 0.0
        self.x_weighted_sum = self.x_mean * self.weight_sum
        self.y_c = np.ascontiguousarray(y_c.T)  # (n_targets, n_samples): each target's rows contiguous

    def feature_means(self):
        """Weighted mean of every feature of ``X`` (the intercept is ``y_mean - coef @ feature_means``)."""
        return self.x_mean + self.column_shift

    def _shift_offset_columns(self, offset, w):
        """Store the CSC columns ``offset`` as ``x - mean`` with every row (they are nearly dense):
        ``column_shift`` keeps the means, so that ``x_mean + column_shift`` is the features' mean.
        Returns the weighted sums and sums of squares of the stored columns."""
        d = self.n_features
        matrix = sp.csc_matrix(self.csc, shape=(self.n_samples, d))
        shift = self.x_mean[offset].copy()
        stored = (np.asarray(matrix[:, offset].toarray(), dtype=np.float64) - shift).astype(matrix.dtype, copy=False)
        kept = np.setdiff1d(np.arange(d), offset)
        order = np.argsort(np.concatenate([kept, offset]))
        rebuilt = sp.hstack([matrix[:, kept], sp.csc_matrix(stored)], format="csc")[:, order]
        rebuilt.sort_indices()
        indices, indptr = rebuilt.indices, rebuilt.indptr
        if indices.dtype != indptr.dtype:
            indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
        self.csc = tuple(frozen_view(np.ascontiguousarray(a)) for a in (rebuilt.data, indices, indptr))
        self.column_shift[offset] = shift
        stored = stored.astype(np.float64, copy=False)
        return w @ stored, w @ (stored * stored)

    # -- statistics used by the duality gap -------------------------------------------------------
    def threads(self, work):
        """Threads for a call doing about ``work`` flops: one for small calls, where waking a second
        OpenMP thread on a busy machine costs more than the call itself."""
        return self.n_threads if work >= _MIN_PARALLEL_WORK else 1

    def centered_xtr(self, resid):
        """``X_c^T W R`` for centered residuals ``resid`` (n_targets, n_samples), shape (n_targets, d)."""
        from ..kernels import _cd

        out = np.empty((resid.shape[0], self.n_features))
        threads = self.threads(resid.size * self.n_features)
        if self.variant == "sparse":
            _cd.csc_xtr(*self.csc, self.sample_weight, resid, out, threads)
            if self.fit_intercept:  # subtract m_j * sum_i w_i R_i, zero up to rounding
                w = self.sample_weight
                out -= np.outer(resid.sum(axis=1) if w is None else np.einsum("kn,n->k", resid, w), self.x_mean)
        else:
            _cd.dense_xtr(self.X_f, self.x_mean, self.sample_weight, resid, out, threads)
        return out

    def centered_xty(self):
        """``X_c^T W y_c``, shape (n_targets, n_features)."""
        return self.xty if self.variant == "gram" else self.centered_xtr(self.y_c)

    def subtract_columns(self, delta, resid, shift):
        """Centered residual ``resid + shift`` minus ``X_c @ delta[k]`` for every target k."""
        from ..kernels import _cd

        threads = self.threads(resid.size * self.n_features)
        if self.variant == "sparse":
            _cd.csc_subtract_columns(*self.csc, delta, resid, threads)
            shift += delta @ self.x_mean
        else:
            _cd.dense_subtract_columns(self.X_f, self.x_mean, delta, resid, threads)


def _require_finite(*statistics):
    """The sums over X are finite exactly when X is (short of overflow): no separate pass to check.
    (Every variant's sums see every value: the Gram diagonal, or the column sums of squares.)"""
    if not all(np.all(np.isfinite(values)) for values in statistics):
        raise NonFiniteGramError("X contains NaN or infinity (or values too large to square)")


def _design(X):
    if sp.issparse(X) and X.format not in ("csr", "csc"):
        raise TypeError(f"sparse X must be CSR or CSC, got {X.format.upper()}; convert it with X.tocsr()")
    return DesignMatrix(X)


def _targets(y, n_samples):
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric, got dtype {y.dtype}")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n_samples or y.shape[1] == 0:
        raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_targets) with n_samples = "
                         f"{n_samples}, got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity")
    return y


def _weights(sample_weight, n_samples):
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape (n_samples,) = ({n_samples},), got {sample_weight.shape}")
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if sample_weight.sum() <= 0:
        raise ValueError("sample_weight sums to zero: no sample carries weight")
    return frozen_view(np.ascontiguousarray(sample_weight))


def _choose_variant(variant, is_sparse, n_samples, n_features, n_solves=1):
    """The variant that runs (see the module docstring); ``n_solves``: penalties times targets that
    share the one Gram matrix."""
    if variant == "auto":
        shared = n_solves > 1 or is_sparse
        min_rows = n_features if shared else _GRAM_MIN_ROWS_PER_FEATURE * n_features
        if n_samples >= min_rows and n_features <= _GRAM_MAX_FEATURES:
            return "gram"
        return "sparse" if is_sparse else "dense"
    if variant == "dense" and is_sparse:
        raise ValueError("variant='dense' needs a dense X; use 'sparse' or 'gram' for sparse X")
    if variant == "sparse" and not is_sparse:
        raise ValueError("variant='sparse' needs a sparse X; use 'dense' or 'gram' for dense X")
    return variant


# -------------------------------------------------------------------------------------------------
# solving one penalty
# -------------------------------------------------------------------------------------------------

class _State:
    """Coefficients (n_targets, n_features) plus what the sweeps keep in step with them."""

    def __init__(self, problem, coef):
        self.coef = coef
        coef[:, problem.norms == 0.0] = 0.0  # constant or empty columns: zero is optimal
        if problem.variant == "gram":
            self.gram_coef = coef @ problem.gram
        else:
            self.resid, self.shift = problem.y_c.copy(), np.zeros(coef.shape[0])
            problem.subtract_columns(coef, self.resid, self.shift)  # centered residual y_c - X_c coef

    def zero_features(self, problem, target, features):
        """Set ``coef[target, features]`` to zero (screened out), keeping the residual in step."""
        values = self.coef[target, features].copy()
        self.coef[target, features] = 0.0
        if problem.variant == "gram":
            self.gram_coef[target] -= values @ problem.gram[features]
        else:
            delta = np.zeros_like(self.coef)
            delta[target, features] = -values
            problem.subtract_columns(delta, self.resid, self.shift)


def _gap(problem, state, l1, l2, positive):
    """Duality gaps and primal values per target (unnormalized scale), with X^T R - l2 coef and its norm."""
    coef = state.coef
    if problem.variant == "gram":
        xtr = problem.xty - state.gram_coef
        q_coef = np.einsum("kj,kj->k", coef, problem.xty)
        r_norm2 = np.maximum(problem.y_norm2 - 2.0 * q_coef + np.einsum("kj,kj->k", coef, state.gram_coef), 0.0)
        r_y = problem.y_norm2 - q_coef
    else:
        state.resid += state.shift[:, None]  # fold the running mean back into the residual
        state.shift[:] = 0.0
        resid, w = state.resid, problem.sample_weight
        xtr = problem.centered_xtr(resid)
        weighted = resid if w is None else resid * w
        r_norm2 = np.einsum("kn,kn->k", weighted, resid)
        r_y = np.einsum("kn,kn->k", weighted, problem.y_c)
    l1_norm, l2_norm2 = np.abs(coef).sum(axis=1), np.einsum("kj,kj->k", coef, coef)
    primal = 0.5 * (r_norm2 + l2 * l2_norm2) + l1 * l1_norm
    xta = xtr - l2[:, None] * coef
    dual_norm = xta.max(axis=1) if positive else np.abs(xta).max(axis=1)
    gap = np.empty_like(primal)
    for k in range(coef.shape[0]):
        if l1[k] > 0:  # formulation A: the scaled residual is dual feasible
            scale = l1[k] / dual_norm[k] if dual_norm[k] > l1[k] else 1.0
            dual = -0.5 * scale**2 * (r_norm2[k] + l2[k] * l2_norm2[k]) + scale * r_y[k]
            gap[k] = primal[k] - dual
        elif l2[k] > 0:  # ridge: formulation B (Duenner et al. 2016), any residual is feasible
            excess = np.maximum(xtr[k], 0.0) if positive else xtr[k]
            gap[k] = r_norm2[k] + 0.5 * l2[k] * l2_norm2[k] - r_y[k] + excess @ excess / (2.0 * l2[k])
        else:  # least squares: no dual bound; the squared (projected) gradient, as scikit-learn does
            grad = np.where(coef[k] > 0, xtr[k], np.maximum(xtr[k], 0.0)) if positive else xtr[k]
            gap[k] = grad @ grad
    return np.maximum(gap, 0.0), primal, xta, dual_norm


def _screen(problem, state, active, n_active, gap, xta, dual_norm, l1, l2, targets):
    """Gap-safe rule (Fercoq et al. 2015, eq. 11): drop features provably zero at the optimum."""
    for k in targets:
        if l1[k] <= 0:
            continue
        current = active[k, : n_active[k]]
        theta = xta[k, current] / max(l1[k], dual_norm[k])
        distance = (1.0 - np.abs(theta)) / np.sqrt(problem.norms[current] + l2[k])
        keep = distance <= np.sqrt(2.0 * gap[k]) / l1[k]
        dropped = current[~keep]
        dropped = dropped[state.coef[k, dropped] != 0.0]
        if dropped.size:
            state.zero_features(problem, k, dropped)
        n_active[k] = int(keep.sum())
        active[k, : n_active[k]] = current[keep]


def _solve(problem, l1, l2, coef, options, callback=None, trace=None, params_of=None):
    """Minimize for penalties l1, l2 (n_targets,) in the unnormalized scale from ``coef`` (updated)."""
    from ..kernels import _cd

    K, d = coef.shape
    if problem.variant != "sparse" and trace is None:
        return _solve_compiled(problem, l1, l2, coef, options)
    state = _State(problem, coef)
    usable = np.flatnonzero(problem.norms > 0.0).astype(np.int32)
    active = np.zeros((K, d), dtype=np.int32)
    active[:, : usable.size] = usable
    n_active = np.full(K, usable.size, dtype=np.int32)
    n_iter = np.zeros(K, dtype=np.int64)
    sweeps = np.zeros(K, dtype=np.int32)
    rng_state = _selection_states(options, K)
    tol_abs = options.tol * problem.y_norm2
    random = options.selection == "random"
    scaled = 1.0 / problem.weight_sum
    message = "reached max_iter"

    # 0) duality gap at the start: a warm start (or alpha >= alpha_max) may already be optimal
    gap, primal, xta, dual_norm = _gap(problem, state, l1, l2, options.positive)
    converged = gap <= tol_abs
    stop = trace is not None and notify(callback, trace, 0, primal.sum() * scaled, gap.sum() * scaled,
                                        np.nan, params_of(state.coef) if callback else None)
    while not stop and np.any(~converged & (n_iter < options.max_iter)):
        if options.screening:
            _screen(problem, state, active, n_active, gap, xta, dual_norm, l1, l2, np.flatnonzero(~converged))
        # 1) sweeps until the next gap check (a target stops early once its updates are tiny)
        budget = np.where(converged, 0, np.minimum(options.check_gap_every, options.max_iter - n_iter))
        budget = budget.astype(np.int32)
        work_per_sweep = d * (d if problem.variant == "gram" else problem.n_samples)
        common = (l1, l2, active, n_active, budget, options.tol, options.positive, random, rng_state, sweeps,
                  problem.threads(work_per_sweep * int(budget.max()) * (K > 1)))
        if problem.variant == "gram":
            _cd.gram_sweeps(problem.gram, problem.xty, state.coef, state.gram_coef, *common)
        elif problem.variant == "dense":
            _cd.dense_sweeps(problem.X_f, problem.sample_weight, problem.norms, problem.x_mean,
                             state.coef, state.resid, *common)
        else:
            _cd.csc_sweeps(*problem.csc, problem.sample_weight, problem.norms, problem.x_mean,
                           problem.x_weighted_sum, state.coef, state.resid, state.shift, *common)
        n_iter += np.where(budget > 0, sweeps, 0)
        # 2) duality gap
        gap, primal, xta, dual_norm = _gap(problem, state, l1, l2, options.positive)
        converged |= gap <= tol_abs
        # 3) trace and callback: objective summed over targets, the summed gap in the gradient_norm column
        if trace is not None:
            stop = notify(callback, trace, int(n_iter.max()), primal.sum() * scaled, gap.sum() * scaled,
                          np.nan, params_of(state.coef) if callback else None)
    # 4) convergence
    if converged.all():
        message = "duality gap below tol"
    elif stop:
        message = "stopped by callback"
    return state.coef, n_iter, converged, gap * scaled, primal * scaled, message


def _selection_states(options, n_targets):
    """Per-target xorshift states of random selection, seeded from ``random_state``. Cyclic selection
    never reads them: ones then, without a generator (building one took 25-30 us, about a small
    solve of a path)."""
    if options.selection != "random":
        return np.ones(n_targets, dtype=np.uint64)
    return np.random.default_rng(options.random_state).integers(1, 2**63, size=n_targets, dtype=np.uint64)


def _solve_compiled(problem, l1, l2, coef, options):
    """:func:`_solve` without a trace (a path's solves) on the Gram matrix or dense columns, in one
    compiled call (``kernels._cd.gram_solve`` / ``dense_solve``: the same sweeps, gaps and screening,
    with no Python between them)."""
    from ..kernels import _cd

    K, d = coef.shape
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=np.uint8)
    gaps = np.empty((K, 3))
    rng_state = _selection_states(options, K)
    settings = (problem.y_norm2, l1, l2, np.empty((K, d), dtype=np.int32), np.empty((K, d)), options.max_iter,
                options.check_gap_every, options.tol, options.tol * problem.y_norm2, options.positive,
                options.selection == "random", options.screening, rng_state, n_iter, converged, gaps)
    if problem.variant == "gram":
        _cd.gram_solve(problem.gram, problem.norms, problem.xty, coef, np.empty((K, d)), *settings,
                       problem.threads(d * d * options.max_iter * (K > 1)))
    else:
        _cd.dense_solve(problem.X_f, problem.sample_weight, problem.norms, problem.x_mean, problem.y_c, coef,
                        np.empty((K, problem.n_samples)), *settings,
                        problem.threads(d * problem.n_samples * options.max_iter * (K > 1)))
    converged = converged.astype(bool)
    scaled = 1.0 / problem.weight_sum
    message = "duality gap below tol" if converged.all() else "reached max_iter"
    return coef, n_iter, converged, gaps[:, 0] * scaled, gaps[:, 1] * scaled, message


# -------------------------------------------------------------------------------------------------
# public drivers
# -------------------------------------------------------------------------------------------------

def _penalties(alpha, l1_ratio, n_targets):
    if isinstance(alpha, bool) or not np.isscalar(alpha) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite non-negative number, got {alpha!r}")
    if isinstance(l1_ratio, bool) or not np.isscalar(l1_ratio) or not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    return np.full(n_targets, alpha * l1_ratio), np.full(n_targets, alpha * (1.0 - l1_ratio))


def _initial_coef(problem, w0):
    K, d = problem.n_targets, problem.n_features
    if w0 is None:
        return np.zeros((K, d))
    n_rows = d + problem.fit_intercept
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.size != n_rows * K:
        raise ValueError(f"w0 must hold (n_features + fit_intercept) * n_targets = {n_rows * K} values, "
                         f"got shape {w0.shape}")
    if not np.all(np.isfinite(w0)):
        raise ValueError("w0 contains NaN or infinity")
    return np.ascontiguousarray(w0.reshape(n_rows, K)[:d].T)  # the intercept follows from coef


def _params(problem, coef):
    """Flat parameters: ravel of (n_features + fit_intercept, n_targets), last row the intercept."""
    matrix = np.empty((problem.n_features + problem.fit_intercept, problem.n_targets))
    matrix[: problem.n_features] = coef.T
    if problem.fit_intercept:
        matrix[problem.n_features] = problem.y_mean - coef @ problem.feature_means()
    return matrix.ravel()


def _run(problem, l1, l2, w0, options, callback, trace):
    W = problem.weight_sum
    coef, n_iter, converged, gap, primal, message = _solve(
        problem, l1 * W, l2 * W, _initial_coef(problem, w0), options, callback, trace,
        lambda c: _params(problem, c))
    single = problem.n_targets == 1
    gap_tol = options.tol * problem.y_norm2 / W
    info = {"dual_gap": float(gap[0]) if single else gap, "tol": float(gap_tol[0]) if single else gap_tol,
            "objective": float(primal[0]) if single else primal, "variant": problem.variant}
    return SolverResult(params=_params(problem, coef), n_iter=int(n_iter[0]) if single else n_iter,
                        converged=bool(converged[0]) if single else converged, trace=trace, message=message,
                        info=info)


@one_blas_thread_in_fit
def coordinate_descent(X, y, sample_weight=None, *, alpha, l1_ratio=1.0, fit_intercept=True, w0=None,
                       options=None, callback=None, n_threads=None):
    """Fit the Lasso / elastic net with squared error by coordinate descent.

    Parameters
    ----------
    X : ndarray (float32/float64, C or F order) or scipy.sparse CSR/CSC, shape (n_samples, n_features)
        Used without a copy except where the variant needs one (see the module docstring).
    y : array-like, shape (n_samples,) or (n_samples, n_targets)
        Targets; several targets are fitted as independent problems sharing ``X``.
    sample_weight : array-like, shape (n_samples,), optional
        Non-negative weights; an integer weight acts as that many repetitions of the sample.
    alpha, l1_ratio : float
        Penalty ``alpha * l1_ratio * ||coef||_1 + alpha * (1 - l1_ratio) / 2 * ||coef||^2``
        (scikit-learn's ``ElasticNet`` parametrization).
    fit_intercept : bool
        Fit an unpenalized intercept (by centering, never by a column of ones).
    w0 : array-like, optional
        Start: flat parameters as in :class:`fastml.LinearObjective`; the intercept entries are
        ignored (the optimal intercept follows from the coefficients).
    options : CoordinateDescentOptions, optional
    callback : callable, optional
        Receives an :class:`~fastml.solvers._result.IterationInfo` after every gap check; returning
        True stops the solver.
    n_threads : int, optional
        Threads for the Gram matrix and for the targets (one target per thread).

    Returns
    -------
    SolverResult
        ``params`` is the ravel of the (n_features + fit_intercept, n_targets) matrix. The trace has
        one row per duality-gap check (row 0 before any sweep): ``seconds`` count from the call
        (forming the Gram matrix or the CSC copy included), ``iteration`` counts sweeps,
        ``objective`` is the objective summed over targets, the ``gradient_norm`` column holds the
        duality gap summed over targets (units of the objective) and ``step`` is NaN.
        ``info["dual_gap"]`` (per target when there are several), ``info["tol"]`` (the gap
        threshold in the same units), ``info["objective"]`` and ``info["variant"]``.
    """
    options = CoordinateDescentOptions() if options is None else options
    trace = Trace()
    trace.start()  # forming the Gram matrix (or the CSC copy) is part of the cost; nothing compiles here
    problem = _Problem(X, y, sample_weight, fit_intercept, options.variant, resolve_n_threads(n_threads))
    l1, l2 = _penalties(alpha, l1_ratio, problem.n_targets)
    return _run(problem, l1, l2, w0, options, callback, trace)


def coordinate_descent_from_statistics(stats, n_samples, *, alpha, l1_ratio=1.0, fit_intercept=True, w0=None,
                                       options=None, callback=None, n_threads=None):
    """:func:`coordinate_descent` by the Gram variant on the rows summed in ``stats`` (a
    ``_cd_statistics.GramStatistics``): the same result without a pass over ``X``."""
    options = CoordinateDescentOptions() if options is None else options
    trace = Trace()
    trace.start()
    problem = _Problem.from_statistics(stats, fit_intercept, n_samples, resolve_n_threads(n_threads))
    l1, l2 = _penalties(alpha, l1_ratio, problem.n_targets)
    return _run(problem, l1, l2, w0, options, callback, trace)


def coordinate_descent_objective(objective, w0=None, options=None, callback=None, n_threads=None):
    """Run :func:`coordinate_descent` on a squared-error :class:`fastml.LinearObjective`.

    Its ``X``, ``y`` (one target per model), ``sample_weight`` (one column shared by all models),
    ``l1``, ``l2`` (per model) and ``fit_intercept`` define the problem; the result's ``params``
    are in the objective's layout, so ``objective.value(result.params)`` evaluates them.
    """
    if objective.loss.name != "squared_error":
        raise ValueError(f"coordinate descent needs the squared_error loss, got {objective.loss.name!r}")
    weights = objective.sample_weight
    if weights.shape[1] > 1 and not np.all(weights == weights[:, :1]):
        raise ValueError("coordinate descent needs one sample_weight column shared by all models")
    options = CoordinateDescentOptions() if options is None else options
    y = np.broadcast_to(objective.y, (objective.X.n_samples, objective.n_models))
    sample_weight = None if np.all(weights[:, 0] == 1.0) else weights[:, 0]
    threads = objective.n_threads if n_threads is None else resolve_n_threads(n_threads)
    trace = Trace()
    trace.start()
    problem = _Problem(objective.X, y, sample_weight, objective.fit_intercept, options.variant, threads)
    return _run(problem, objective.l1, objective.l2, w0, options, callback, trace)


def alpha_max(X, y, sample_weight=None, *, l1_ratio=1.0, fit_intercept=True):
    """Smallest ``alpha`` whose solution is all zero: ``max_jk |X_c^T W y_c|_jk / (sum(w) * l1_ratio)``.

    With several targets it is the largest of the per-target values (every target is zero). One
    pass over ``X`` in row blocks (dense) or one CSR product, float64 accumulation.
    """
    if not 0.0 < l1_ratio <= 1.0:
        raise ValueError(f"alpha_max needs l1_ratio in (0, 1], got {l1_ratio!r}")
    design = _design(X.tocsr() if sp.issparse(X) and X.format == "csc" else X)
    y = _targets(y, design.n_samples)
    weights = _weights(sample_weight, design.n_samples)
    w = np.ones(design.n_samples) if weights is None else weights
    y_c = y - np.einsum("i,ik->k", w, y) / w.sum() if fit_intercept else y
    wy = np.ascontiguousarray(w[:, None] * y_c)
    if design.is_sparse:
        from ..kernels import _sparse

        xty = np.empty((design.n_features, y.shape[1]))
        _sparse.csr_rmatvec(*design.csr, wy, xty, resolve_n_threads(None))
    else:
        xty = np.zeros((design.n_features, y.shape[1]))
        for start in range(0, design.n_samples, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            xty += np.einsum("ij,ik->jk", np.asarray(design.dense[rows], dtype=np.float64), wy[rows])
    return float(np.abs(xty).max() / (w.sum() * l1_ratio)) if xty.size else 0.0


@one_blas_thread_in_fit
def coordinate_descent_path(X, y, sample_weight=None, *, l1_ratio=1.0, alphas=None, n_alphas=100, eps=1e-3,
                            fit_intercept=True, options=None, n_threads=None):
    """Solutions for many ``alpha`` with warm starts, from one preparation of ``X``.

    Like scikit-learn's ``enet_path`` / ``lasso_path``: without ``alphas``, ``n_alphas`` values
    log-spaced from ``alpha_max`` down to ``eps * alpha_max``. Alphas are solved in decreasing
    order (each warm-starts the next) and returned in that order. The Gram variant forms one Gram
    matrix for all alphas and all targets: K penalty strengths from one pass over ``X``.

    Returns
    -------
    CoordinateDescentPath
    """
    options = CoordinateDescentOptions() if options is None else options
    n_penalties = n_alphas if alphas is None else np.size(alphas)
    problem = _Problem(X, y, sample_weight, fit_intercept, options.variant, resolve_n_threads(n_threads),
                       n_penalties=max(1, int(n_penalties)))
    return _path(problem, l1_ratio, alphas, n_alphas, eps, options)


def coordinate_descent_path_from_statistics(stats, n_samples, *, l1_ratio=1.0, alphas, fit_intercept=True,
                                            options=None, n_threads=None):
    """:func:`coordinate_descent_path` by the Gram variant on the rows summed in ``stats`` (see
    ``fastml.solvers._cd_statistics``: cross-validation folds from one pass over ``X``)."""
    options = CoordinateDescentOptions() if options is None else options
    problem = _Problem.from_statistics(stats, fit_intercept, n_samples, resolve_n_threads(n_threads))
    return _path(problem, l1_ratio, alphas, None, None, options)


def _path(problem, l1_ratio, alphas, n_alphas, eps, options):
    if alphas is None:
        if not 0.0 < l1_ratio <= 1.0:
            raise ValueError(f"an automatic alpha grid needs l1_ratio in (0, 1], got {l1_ratio!r}")
        _check_positive_int(n_alphas, "n_alphas")
        top = np.abs(problem.centered_xty()).max() / (problem.weight_sum * l1_ratio)
        if top <= 0:
            warnings.warn("X_c^T W y_c is zero: every alpha gives zero coefficients", RuntimeWarning, stacklevel=3)
            top = np.finfo(float).resolution
        alphas = np.geomspace(top, top * eps, n_alphas) if n_alphas > 1 else np.array([top])
    else:
        alphas = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1]
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or alphas.min() < 0:
            raise ValueError("alphas must be a non-empty array of finite non-negative numbers")
    K, d, W = problem.n_targets, problem.n_features, problem.weight_sum
    shape = (alphas.size, K)
    coefs, intercepts = np.empty((alphas.size, d, K)), np.empty(shape)
    gaps, n_iters, converged = np.empty(shape), np.empty(shape, dtype=np.int64), np.empty(shape, dtype=bool)
    coef = np.zeros((K, d))
    for i, alpha in enumerate(alphas):
        l1, l2 = _penalties(float(alpha), l1_ratio, K)
        coef, n_iters[i], converged[i], gaps[i], _, _ = _solve(problem, l1 * W, l2 * W, coef.copy(), options)
        matrix = _params(problem, coef).reshape(d + problem.fit_intercept, K)
        coefs[i] = matrix[:d]
        intercepts[i] = matrix[d] if problem.fit_intercept else 0.0
    return CoordinateDescentPath(alphas, coefs, intercepts, gaps, n_iters, converged, problem.variant)
