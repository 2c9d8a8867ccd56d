"""The objective of a linear model: loss + L2/L1 penalty + intercept, the one interface of every solver.

For model ``k`` (one of ``n_models``; the K classes of a multinomial model count as one model)::

    f_k(coef, intercept) = sum_i w_ik loss(y_ik, x_i . coef_k + intercept_k) / sum_i w_ik
                           + l2_k / 2 * ||coef_k||^2 + l1_k * ||coef_k||_1

The intercept is never penalized. The loss and its gradient come from one fused pass over ``X``
(``fastml.kernels.objective_dense`` / ``objective_csr``), for all models at once. Parameters travel
as one flat vector ``w``, the C-order ravel of a ``(n_features + fit_intercept, n_outputs)`` matrix
whose last row is the intercept, so scipy optimizers can drive the objective directly; batched
solvers use :meth:`LinearObjective.values_and_gradients` to see the models separately.
"""
import math

import numpy as np
import scipy.sparse as sp

from ._config import resolve_n_threads
from ._loss import get_loss


# The convergence tests compare a coefficient's gradient with tol * its feature's scale (see
# LinearObjective.feature_scales), never with less than this share of tol.
MIN_FEATURE_SCALE = 1e-3

# Below this many stored values of X a pass takes microseconds, less than starting threads: the
# kernels then run their serial twins (one chunk, so results stay a function of the data alone).
SERIAL_WORK = 200_000


def frozen_view(array):
    """A read-only view: every kernel then sees one array type, halving its compiled variants."""
    view = array.view()
    view.flags.writeable = False
    return view


class DesignMatrix:
    """``X`` prepared for the kernels: dense float32/float64 in C or F order, or CSR arrays.

    Nothing is copied when ``X`` already has a kernel-ready layout: a float32/float64 ndarray in C or
    F order, or a CSR matrix with float32/float64 data and indices/indptr of one integer dtype.

    Finiteness: :meth:`check_finite` reads every value once (~28 ms at 1e6 x 100 float64, as long as
    a fused loss pass). :meth:`defer_finite_check` instead leaves the check owed: the first fused
    loss pass at finite parameters settles it for free (:meth:`LinearObjective.loss_sums`), and any other
    read of the values (``dense``, ``csr``) runs :meth:`check_finite` first, so no kernel ever sees
    unchecked values otherwise.
    """

    def __init__(self, X):
        if sp.issparse(X):
            if X.format != "csr":
                raise TypeError(f"sparse X must be CSR, got {X.format.upper()}; convert it with X.tocsr()")
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D, got {X.ndim} dimensions")
            data = X.data if X.data.dtype in (np.float32, np.float64) else X.data.astype(np.float64)
            indices, indptr = X.indices, X.indptr
            if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
                indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
            self.is_sparse = True
            self._dense = None
            self._csr = tuple(frozen_view(np.ascontiguousarray(a)) for a in (data, indices, indptr))
            self.shape = X.shape
            self.dtype = data.dtype
        else:
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
            if X.dtype not in (np.float32, np.float64):
                if X.dtype.kind not in "biuf":
                    raise TypeError(f"X must be numeric, got dtype {X.dtype}")
                X = X.astype(np.float64)
            if not (X.flags.c_contiguous or X.flags.f_contiguous):
                X = np.ascontiguousarray(X)
            self.is_sparse = False
            self._csr = None
            self._dense = frozen_view(X)
            self.shape = X.shape
            self.dtype = X.dtype
        self._finite_check_owed = False

    @property
    def dense(self):
        """The dense array (finiteness checked first if that check is owed)."""
        if self._finite_check_owed:
            self.check_finite()
        return self._dense

    @property
    def csr(self):
        """``(data, indices, indptr)`` (finiteness checked first if that check is owed)."""
        if self._finite_check_owed:
            self.check_finite()
        return self._csr

    @property
    def finite_check_owed(self):
        return self._finite_check_owed

    def defer_finite_check(self):
        """Owe the finiteness check instead of reading ``X`` for it now (see the class docstring)."""
        self._finite_check_owed = True

    def unchecked_arrays(self):
        """The kernel arrays without paying an owed check: for the fused pass that settles it."""
        return self._csr if self.is_sparse else (self._dense,)

    def settle_finite_check(self, nonfinite_raw):
        """Settle an owed check from a fused pass at finite parameters: no non-finite raw prediction
        proves every value finite; otherwise the full check names the problem (or finds that only a
        raw prediction overflowed)."""
        if nonfinite_raw == 0:
            self._finite_check_owed = False
        else:
            self.check_finite()

    @property
    def n_samples(self):
        return self.shape[0]

    @property
    def n_stored(self):
        """Number of stored values (nonzeros for CSR): the work of one pass."""
        return self._csr[0].shape[0] if self.is_sparse else self.shape[0] * self.shape[1]

    def kernel_threads(self, n_threads):
        """Threads worth using for one pass: 1 for small matrices (see SERIAL_WORK)."""
        return 1 if self.n_stored < SERIAL_WORK else n_threads

    @property
    def n_features(self):
        return self.shape[1]

    def check_finite(self):
        """Raise ``ValueError`` (scikit-learn's wording) if ``X`` holds a NaN or an infinity."""
        values = self._csr[0] if self.is_sparse else self._dense
        # a finite sum proves every value finite (a NaN or an infinity would propagate into it): one
        # read of X without the boolean mask of X's size that isfinite().all() writes (26 vs 48 ms at
        # 1e6 x 100). Only a sum that overflows from finite values needs the element-wise check.
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.isfinite(values.sum())) or bool(np.isfinite(values).all())
        if not finite:
            problem = "NaN" if np.isnan(values).any() else f"infinity or a value too large for {values.dtype!r}"
            raise ValueError(f"Input X contains {problem}.")
        self._finite_check_owed = False

    def every_nth_row(self, step, check_finite=True, dtype=None):
        """Rows ``0, step, 2 step, ...`` as a new DesignMatrix (a copy of those rows; same layout, and
        ``X``'s dtype unless ``dtype`` (float32 or float64) is given: float32 rounds float64 values).

        A systematic sample: cheap, deterministic, and unbiased unless the rows cycle with period ``step``.
        ``check_finite=False`` copies the rows without paying an owed finiteness check of the whole
        matrix (the caller then checks the sample, or only uses it where a non-finite value is harmless).
        """
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if step == 1 and dtype == self.dtype:
            return self
        arrays = ((self.csr if self.is_sparse else (self.dense,)) if check_finite else self.unchecked_arrays())
        if self.is_sparse:
            data, indices, indptr = arrays
            sample = sp.csr_matrix((data, indices, indptr), shape=self.shape)[::step]
            sample.data = sample.data.astype(dtype, copy=False)
            sample.indices = sample.indices.astype(indices.dtype, copy=False)  # scipy may narrow them:
            sample.indptr = sample.indptr.astype(indptr.dtype, copy=False)  # keep the compiled variant
            return DesignMatrix(sample)
        dense = arrays[0]
        if not dense.flags.c_contiguous:
            fortran = dense.flags.f_contiguous
            return DesignMatrix(dense[::step].astype(dtype, order="F" if fortran else "C"))
        return DesignMatrix(self._copy_every_nth_row(dense, step, dtype))

    def _copy_every_nth_row(self, dense, step, dtype):
        """``dense[::step]`` of a C-ordered array as ``dtype``, copied by
        ``kernels.layout.every_nth_row_copy`` with the threads a pass over this matrix gets."""
        from .kernels._jit import call_parallel
        from .kernels._parallel import empty_for_threads
        from .kernels.layout import every_nth_row_copy

        sample = empty_for_threads(((dense.shape[0] + step - 1) // step, dense.shape[1]), dtype)
        n_threads = self.kernel_threads(resolve_n_threads(None))
        call_parallel(every_nth_row_copy, dense, step, sample, n_threads, serial=n_threads == 1)
        return sample

    def prepare_every_nth_row(self, dtype=None):
        """Compile (or load) what :meth:`every_nth_row` runs on this matrix (into ``dtype``), on its
        first two rows, so that a timed caller does not count it."""
        if not self.is_sparse and self._dense.flags.c_contiguous:
            self._copy_every_nth_row(self._dense[:2], 2, self.dtype if dtype is None else np.dtype(dtype))

    def transpose_times(self, values, n_threads=None, square=False):
        """``X.T @ values`` as float64 (n_features, k) for ``values`` (n_samples, k), in one threaded
        pass (dense: ``objective_dense.rmatvec_dense``; CSR: the Cython ``csr_rmatvec``);
        ``square=True`` uses the squares of ``X``'s values (no copy of ``X``)."""
        from .kernels import _sparse, objective_dense
        from .kernels._jit import call_parallel

        values = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty((self.n_features, values.shape[1]))
        n_threads = self.kernel_threads(resolve_n_threads(n_threads))
        if self.is_sparse:
            _sparse.csr_rmatvec(*self.csr, values, out, n_threads, square=square)
        else:
            call_parallel(objective_dense.rmatvec_dense, self.dense, values, n_threads, out, square,
                          serial=n_threads == 1)
        return out

    def raw_prediction(self, coef, intercept, n_threads=None):
        """``X @ coef + intercept`` as float64 (n_samples, n_models), float64 accumulation."""
        from .kernels import objective_csr, objective_dense
        from .kernels._jit import call_parallel
        from .kernels._parallel import empty_for_threads

        coef = np.ascontiguousarray(coef, dtype=np.float64)
        intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        out = empty_for_threads((self.n_samples, coef.shape[1]))
        serial = self.kernel_threads(resolve_n_threads(n_threads)) == 1
        if self.is_sparse:
            call_parallel(objective_csr.raw_prediction_csr, *self.csr, coef, intercept, out, serial=serial)
        else:
            call_parallel(objective_dense.raw_prediction_dense, self.dense, coef, intercept, out, serial=serial)
        return out


def _as_column_matrix(values, n_samples, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape (n_samples,) or (n_samples, n_models) with "
                         f"n_samples = {n_samples}, got {values.shape}")
    return frozen_view(np.ascontiguousarray(values))


def _per_model(value, n_models, name):
    if type(value) is float or type(value) is int:  # the common scalar penalty, without numpy's checks
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and non-negative, got {value}")
        return np.full(n_models, float(value))
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        value = np.full(n_models, float(value))
    if value.shape != (n_models,):
        raise ValueError(f"{name} must be a scalar or have one entry per model ({n_models}), got shape {value.shape}")
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {value}")
    return value


class LinearObjective:
    """Loss + L2/L1 penalty of ``n_models`` linear models on one dataset, evaluated by fused kernels.

    Parameters
    ----------
    loss : str or Loss
        A name of :data:`fastml.LOSSES` (or a :class:`fastml.Loss` from :func:`fastml.get_loss`).
    X : ndarray or scipy.sparse CSR matrix, shape (n_samples, n_features)
        float32 or float64 data is used without a copy (other dtypes are converted).
    y : array-like, shape (n_samples,) or (n_samples, n_models)
        Targets (class indices 0..K-1 for ``"multinomial"``; 0/1 for the binary losses).
    sample_weight : array-like, shape (n_samples,) or (n_samples, n_models), optional
        One weight column per model lets K models see K different samples (e.g. K folds).
    l2, l1 : float or array of shape (n_models,)
        Penalty strengths; ``n_models`` is the largest of the columns of ``y``/``sample_weight``
        and the lengths of ``l2``/``l1``.
    fit_intercept : bool
        Whether an unpenalized intercept is part of the parameters.
    n_classes : int, optional
        Number of classes of the multinomial loss (default ``max(y) + 1``).
    n_threads : int, optional
        Threads of the kernels (default ``fastml.get_n_threads()``); results are bitwise reproducible
        for a fixed value. Matrices with fewer than ``SERIAL_WORK`` stored values run on one thread.
    check_input : bool
        Check ``y`` and ``sample_weight`` for NaN/inf and valid ``y`` (estimators that already
        validated their input pass False).
    check_X : bool, optional
        Check ``X`` for NaN/inf (default: ``check_input``). The check is owed, not run here: the first
        evaluation at finite parameters (every solver's start) proves ``X`` finite as a side
        effect of its pass, and anything else that reads ``X`` first runs the full check (see
        :class:`DesignMatrix`). Either way a NaN or an infinity in ``X`` raises ``ValueError``
        before any result is produced.
    """

    def __init__(self, loss, X, y, sample_weight=None, *, l2=0.0, l1=0.0, fit_intercept=True,
                 n_classes=None, n_threads=None, check_input=True, check_X=None):
        self.loss = get_loss(loss)
        self.X = X if isinstance(X, DesignMatrix) else DesignMatrix(X)
        n_samples = self.X.n_samples
        self.y = _as_column_matrix(y, n_samples, "y")
        if check_input:
            self.loss.check_y(self.y)
        if check_input if check_X is None else check_X:
            self.X.defer_finite_check()
        self.fit_intercept = bool(fit_intercept)
        self.n_threads = self.X.kernel_threads(resolve_n_threads(n_threads))
        weights = np.ones(n_samples) if sample_weight is None else sample_weight
        self.sample_weight = _as_column_matrix(weights, n_samples, "sample_weight")
        if check_input and sample_weight is not None and (
                not np.all(np.isfinite(self.sample_weight)) or np.any(self.sample_weight < 0)):
            raise ValueError("sample_weight must be finite and non-negative")

        if self.loss.is_multiclass:
            if self.y.shape[1] != 1 or self.sample_weight.shape[1] != 1:
                raise ValueError("the multinomial loss takes y and sample_weight of shape (n_samples,)")
            self.n_classes = int(n_classes if n_classes is not None else (self.y.max() + 1 if n_samples else 2))
            if n_samples and self.y.max() >= self.n_classes:
                raise ValueError(f"y holds class index {int(self.y.max())} but n_classes = {self.n_classes}")
            self.n_models, self.n_outputs = 1, self.n_classes
        else:
            sizes = {self.y.shape[1], self.sample_weight.shape[1], np.size(l2), np.size(l1)} - {1}
            if len(sizes) > 1:
                raise ValueError(f"y, sample_weight, l2 and l1 disagree on the number of models: {sorted(sizes)}")
            self.n_models = self.n_outputs = sizes.pop() if sizes else 1
        self.l2 = _per_model(l2, self.n_models, "l2")
        self.l1 = _per_model(l1, self.n_models, "l1")
        weight_sums = self.sample_weight.sum(axis=0)
        if np.any(weight_sums <= 0):
            raise ValueError("sample_weight sums to zero: no sample carries weight")
        self.weight_sum = np.broadcast_to(weight_sums, (self.n_models,)).copy()
        self.n_features = self.X.n_features
        self.coef_shape = (self.n_features + self.fit_intercept, self.n_outputs)
        self.n_params = self.coef_shape[0] * self.coef_shape[1]
        self.n_evaluations = 0
        # weighted column sums of squares (for feature_scales): formed by the first dense pass
        self._square_sums = None
        self._feature_scales = None

    # -- parameter vector -------------------------------------------------------------------------
    def unpack(self, w):
        """Split the flat parameters ``w`` into ``coef`` (n_features, n_outputs) and ``intercept``."""
        matrix = np.ascontiguousarray(w, dtype=np.float64).reshape(self.coef_shape)
        coef = matrix[: self.n_features]
        intercept = matrix[self.n_features] if self.fit_intercept else np.zeros(self.n_outputs)
        return coef, intercept

    def pack(self, coef, intercept=None):
        """Inverse of :meth:`unpack`."""
        matrix = np.zeros(self.coef_shape)
        matrix[: self.n_features] = np.asarray(coef, dtype=np.float64).reshape(self.n_features, self.n_outputs)
        if self.fit_intercept and intercept is not None:
            matrix[self.n_features] = intercept
        return matrix.ravel()

    def initial_parameters(self):
        """Zero coefficients and the best constant intercept (zero without an intercept)."""
        intercept = None
        if self.fit_intercept:
            weights = self.sample_weight if self.sample_weight.shape[1] > 1 else self.sample_weight[:, 0]
            intercept = self.loss.intercept_only(self.y, weights, n_classes=getattr(self, "n_classes", None))
            intercept = np.broadcast_to(intercept, (self.n_outputs,))
        return self.pack(np.zeros((self.n_features, self.n_outputs)), intercept)

    def feature_scales(self):
        """Scale of each feature's gradient in the convergence tests: (n_features, n_models).

        ``min(1, RMS of the column under the model's weights)``, at least ``MIN_FEATURE_SCALE``: the
        solvers call a model converged when each coefficient's gradient is at most ``tol`` times
        this (``tol`` for the intercept). A gradient max-norm of ``tol`` alone (scikit-learn's rule)
        is met at the start by features that are rare or small: with 2^18 hashed features in 5e5
        rows every gradient of the intercept-only start is below 1e-4 while the fitted model has a
        log-loss 64 % lower. In the units of standardized features the rule is ``tol`` again, and it
        is never looser than the plain max-norm. The sums of squares come with the first fused pass
        over dense ``X``; for CSR (or before any evaluation) one pass on first use (each stored value
        squared, so duplicate entries of a column count separately). Cached.
        """
        if self._feature_scales is None:
            self._form_square_sums()
            from .kernels.lbfgs_loop import feature_scales_from_squares

            scales = np.empty_like(self._square_sums)
            feature_scales_from_squares(self._square_sums, self.sample_weight.sum(axis=0), MIN_FEATURE_SCALE, scales)
            self._feature_scales = np.broadcast_to(scales, (self.n_features, self.n_models))
        return self._feature_scales

    def _form_square_sums(self):
        if self._square_sums is None:
            self._square_sums = self.X.transpose_times(self.sample_weight, self.n_threads, square=True)

    def column_mean_squares(self):
        """Weighted mean of each column's squares, (n_features, n_models): free after the first fused
        pass over dense ``X``, one pass over the stored values of CSR ``X`` otherwise. Cached."""
        self._form_square_sums()
        means = self._square_sums / self.sample_weight.sum(axis=0)
        return np.broadcast_to(means, (self.n_features, self.n_models))

    @property
    def square_sums_known(self):
        """Whether the weighted column sums of squares behind :meth:`feature_scales` are at hand."""
        return self._square_sums is not None

    def adopt_square_sums(self, square_sums):
        """Take the weighted column sums of squares from a pass run elsewhere (the compiled L-BFGS
        loop forms them in its first pass over dense ``X``)."""
        self._square_sums = np.asarray(square_sums, dtype=np.float64).reshape(self.n_features, -1)
        self._feature_scales = None

    def _model_columns(self, per_model):
        """Spread one value per model over the coefficient columns (the classes of a multinomial model)."""
        return np.broadcast_to(per_model, (self.n_outputs,)) if self.n_models == 1 else per_model

    # -- evaluations ------------------------------------------------------------------------------
    def loss_sums(self, coef, intercept):
        """Weighted loss sums per model and their gradients (one fused pass over ``X``)."""
        from .kernels import objective_csr, objective_dense
        from .kernels._jit import call_parallel

        coef = np.ascontiguousarray(coef, dtype=np.float64)
        intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        loss_sum = np.empty(self.n_models)
        grad_coef = np.empty((self.n_features, self.n_outputs))
        grad_intercept = np.empty(self.n_outputs)
        nonfinite_raw = np.zeros(1, dtype=np.int64)
        # an owed finiteness check of X is settled by this pass at any finite parameters: a NaN or an
        # infinity of X makes every raw prediction it enters non-finite (x * w is NaN or +-inf even for
        # w = 0, and no later term of the sum makes it finite again); a raw prediction that merely
        # overflowed sends the decision to the full check
        settles_check = (self.X.finite_check_owed and bool(np.all(np.isfinite(coef)))
                         and bool(np.all(np.isfinite(intercept))))
        arrays = self.X.unchecked_arrays() if settles_check else (self.X.csr if self.X.is_sparse else (self.X.dense,))
        args = (self.y, self.sample_weight, coef, intercept, self.loss.loss_id, self.loss.param,
                self.n_threads, loss_sum, grad_coef, grad_intercept, nonfinite_raw)
        serial = self.n_threads == 1
        if self.X.is_sparse:
            call_parallel(objective_csr.loss_grad_csr, *arrays, self.n_features, *args, serial=serial)
        else:
            squares = np.empty((self.n_features, self.sample_weight.shape[1]) if self._square_sums is None else (0, 0))
            call_parallel(objective_dense.loss_grad_dense, *arrays, *args, squares, serial=serial)
            if squares.size:
                self._square_sums = squares
        if settles_check:
            self.X.settle_finite_check(int(nonfinite_raw[0]))
        self.n_evaluations += 1
        return loss_sum, grad_coef, grad_intercept

    def values_and_gradients(self, w, include_l1=True):
        """Objective value of each model, shape (n_models,), and the gradient matrix ``coef_shape``.

        With ``include_l1`` the L1 term is added to the values and ``l1 * sign(coef)`` (a
        subgradient) to the gradient; proximal solvers pass False and treat L1 themselves.
        """
        coef, intercept = self.unpack(w)
        loss_sum, grad_coef, grad_intercept = self.loss_sums(coef, intercept)
        scale = self._model_columns(1.0 / self.weight_sum)
        l2 = self._model_columns(self.l2)
        values = loss_sum / self.weight_sum + 0.5 * self.l2 * _column_sums(coef * coef, self)
        gradient = np.empty(self.coef_shape)
        gradient[: self.n_features] = grad_coef * scale + l2 * coef
        if self.fit_intercept:
            gradient[self.n_features] = grad_intercept * scale
        if include_l1 and np.any(self.l1 > 0):
            values = values + self.l1 * _column_sums(np.abs(coef), self)
            gradient[: self.n_features] += self._model_columns(self.l1) * np.sign(coef)
        return values, gradient

    def value_and_gradient(self, w):
        """Sum of the models' objectives and its gradient as a flat vector (for scipy optimizers)."""
        values, gradient = self.values_and_gradients(w)
        return float(values.sum()), gradient.ravel()

    def smooth_value_and_gradient(self, w):
        """Like :meth:`value_and_gradient` without the L1 term (for proximal solvers)."""
        values, gradient = self.values_and_gradients(w, include_l1=False)
        return float(values.sum()), gradient.ravel()

    def value(self, w):
        return self.value_and_gradient(w)[0]

    def gradient(self, w):
        return self.value_and_gradient(w)[1]

    def values(self, w):
        """Objective value of each model, shape (n_models,)."""
        return self.values_and_gradients(w)[0]

    def hessp(self, w, v):
        """Hessian of the smooth part (loss + L2) at ``w`` times ``v``, flat (one pass over ``X``)."""
        from .kernels import objective_csr, objective_dense
        from .kernels._jit import call_parallel

        coef, intercept = self.unpack(w)
        direction_coef, direction_intercept = self.unpack(v)
        out_coef = np.empty((self.n_features, self.n_outputs))
        out_intercept = np.empty(self.n_outputs)
        args = (self.y, self.sample_weight, coef, intercept, direction_coef,
                np.ascontiguousarray(direction_intercept), self.loss.loss_id, self.loss.param,
                self.n_threads, out_coef, out_intercept)
        serial = self.n_threads == 1
        if self.X.is_sparse:
            call_parallel(objective_csr.hessp_csr, *self.X.csr, self.n_features, *args, serial=serial)
        else:
            call_parallel(objective_dense.hessp_dense, self.X.dense, *args, serial=serial)
        scale = self._model_columns(1.0 / self.weight_sum)
        result = np.empty(self.coef_shape)
        result[: self.n_features] = out_coef * scale + self._model_columns(self.l2) * direction_coef
        if self.fit_intercept:
            result[self.n_features] = out_intercept * scale
        return result.ravel()

    def hessian(self, w, row_step=1, gram_precision="double", shift=None):
        """Full Hessian of the smooth part per model, shape (n_models, p, p), p = n_features + fit_intercept.

        For one-score losses only (the multinomial Hessian couples the classes: use :meth:`hessp`).
        Dense ``X``: BLAS ``syrk`` on row blocks; CSR: the Cython weighted Gram kernel.
        ``row_step > 1`` estimates it from the rows ``0, row_step, 2 row_step, ...`` only (the
        Hessian of their weighted-mean loss); a model whose sampled rows carry no weight gets NaN.
        ``gram_precision="single"``: dense float32 ``X``'s row blocks are multiplied in float32 and
        summed in float64 (``kernels.gram``): entries off by about 1e-7..1e-6 of their scale, for a
        preconditioner only; float64 and CSR ``X`` ignore it.
        ``shift`` (n_models, n_features), with an intercept: model ``k``'s Hessian in the coordinates
        ``(coef, b' = b + shift[k] . coef)``, i.e. that of the features ``X - shift[k]``. Why: for a
        column far from zero relative to its spread (1e8 +- 1, a timestamp) the raw Hessian's entries
        ``sum h x^2`` and ``sum h x`` hold the spread below float64's resolution, and its Cholesky
        factor fails; the rows of the columns with a nonzero shift are summed about it instead
        (``solvers._offset_columns``: one more read of ``X`` per model with such columns).
        """
        from .kernels import gram, pointwise
        from .kernels._jit import call_parallel
        from .kernels._parallel import empty_for_threads

        if self.loss.is_multiclass:
            raise ValueError("hessian() is for one-score losses; use hessp() for the multinomial loss")
        if isinstance(row_step, bool) or not isinstance(row_step, (int, np.integer)) or row_step < 1:
            raise ValueError(f"row_step must be a positive integer, got {row_step!r}")
        if gram_precision not in ("double", "single"):
            raise ValueError(f"gram_precision must be 'double' or 'single', got {gram_precision!r}")
        design, y, sample_weight, weight_sum = self.X, self.y, self.sample_weight, self.weight_sum
        if row_step > 1:
            design = self.X.every_nth_row(row_step)
            y = np.ascontiguousarray(self.y[::row_step])
            sample_weight = np.ascontiguousarray(self.sample_weight[::row_step])
            weight_sum = np.broadcast_to(sample_weight.sum(axis=0), (self.n_models,))
        n_threads = design.kernel_threads(self.n_threads)
        coef, intercept = self.unpack(w)
        raw = design.raw_prediction(coef, intercept, n_threads)
        curvature = empty_for_threads(raw.shape)
        call_parallel(pointwise.hessian_pointwise, y, sample_weight, raw, self.loss.loss_id,
                      self.loss.param, curvature, serial=n_threads == 1)
        p = self.coef_shape[0]
        result = np.full((self.n_models, p, p), np.nan)
        ones = np.ones((design.n_samples, 1))
        for k in range(self.n_models):
            if not weight_sum[k] > 0:
                continue
            h = np.ascontiguousarray(curvature[:, k])
            block = result[k]
            gram_out = np.empty((self.n_features, self.n_features))
            if design.is_sparse:
                gram.weighted_gram_csr(*design.csr, self.n_features, h, gram_out, n_threads)
                column = design.transpose_times(h[:, None], n_threads)
            else:
                column = np.empty((self.n_features, 1))
                gram.weighted_gram_dense(design.dense, h, gram_out, rhs=ones, rhs_out=column, n_threads=n_threads,
                                         single_precision_blocks=gram_precision == "single")
            block[: self.n_features, : self.n_features] = gram_out / weight_sum[k]
            block[np.arange(self.n_features), np.arange(self.n_features)] += self.l2[k]
            if self.fit_intercept:
                block[: self.n_features, -1] = block[-1, : self.n_features] = column[:, 0] / weight_sum[k]
                block[-1, -1] = h.sum() / weight_sum[k]
                if shift is not None and np.any(shift[k]):
                    _shift_hessian_rows(block, design, h, shift[k], weight_sum[k], self.l2[k], n_threads)
        return result


def _shift_hessian_rows(block, design, curvature, shift, weight_sum, l2, n_threads):
    """Replace the rows (and columns) of the shifted features in one model's Hessian ``block`` by their
    sums about ``shift`` (see :meth:`LinearObjective.hessian`): ``X^T H D``, ``D^T H D`` and
    ``D^T h`` for ``D = X[:, columns] - shift[columns]``."""
    from .solvers._offset_columns import as_csr_matrix, offset_column_sums

    columns = np.flatnonzero(shift)
    X = as_csr_matrix(design.csr, (design.n_samples, design.n_features)) if design.is_sparse else design.dense
    sums = offset_column_sums(X, columns, shift[columns], curvature, np.empty((design.n_samples, 0)), n_threads)
    n_features = design.n_features
    block[:n_features, columns] = sums.cross / weight_sum
    block[columns, :n_features] = sums.cross.T / weight_sum
    block[np.ix_(columns, columns)] = sums.gram / weight_sum + l2 * np.eye(len(columns))
    block[columns, n_features] = block[n_features, columns] = sums.sums / weight_sum


def _column_sums(matrix, objective):
    """Sum a (n_features, n_outputs) array per model: per column, or over all classes of a multinomial model."""
    sums = matrix.sum(axis=0)
    return np.array([sums.sum()]) if objective.loss.is_multiclass else sums

