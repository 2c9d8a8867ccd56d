"""Newton's method on the fused objective: Cholesky on the Hessian, or truncated CG on Hessian-vector products.

For one-score losses with a Hessian, each model's ``(p, p)`` Hessian comes from
:meth:`fastml.LinearObjective.hessian` (a weighted Gram matrix: BLAS ``syrk`` for dense ``X``, the
Cython kernel for CSR) and the Newton system is solved by Cholesky; a Hessian that is not positive
definite (rank-deficient ``X`` without L2) gets a growing diagonal shift, and least squares as the
last resort. The multinomial Hessian couples the classes, so there (and when ``p`` is too large for a
dense factorization) the direction comes from truncated conjugate gradients on
:meth:`~fastml.LinearObjective.hessp` products (Newton-CG), each one pass over ``X`` for all models.
A backtracking (Armijo) line search, batched over models, picks the step.
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._line_search import ModelView, batched_armijo, max_norms, relative_decrease, require_finite
from ._result import Trace, closing_message, notify
from ._preconditioner import Standardization, within_tolerance
from ._sample_start import fit_sample
from ._shifted_coordinates import ShiftedCoordinates
from .lbfgs import LBFGSOptions, _check_int, _result, check_smooth_objective, lbfgs

_EPS = np.finfo(np.float64).eps
# Near the optimum a full Newton step passes the Armijo test unless the objective's own rounding noise
# exceeds the decrease it predicts: a failed full step predicting less than this many times ftol (a
# relative gap of ~1e-11 at the default) is that noise (a column of 1e8 +- 1 in CSR X: the objective
# rounds at ~1e-11, the line search then accepted tiny steps on noise until max_iter)
_NOISY_DECREASE = 1e3


@dataclass(frozen=True)
class NewtonOptions:
    """Settings of :func:`newton`.

    Parameters
    ----------
    max_iter : int
        Most Newton iterations per model.
    tol : float
        Converged when every gradient entry is at most ``tol`` times its feature's scale (the
        max-norm test, also in the units of standardized features: see :class:`LBFGSOptions`).
    ftol : float
        A model also counts as converged once half its squared Newton decrement (the decrease its
        Newton step predicts, taken or not) is at most ``ftol * max(|f|, 1)``: no line search
        resolves progress below that, and where ``tol`` asks for more than rounding allows the
        gradient test stays out of reach at the optimum (a feature of scale 1e9: its gradient's
        rounding is ~1e-7; a column of 1e8 +- 1 in CSR). The default is the objective's rounding,
        so well-scaled problems still end on the gradient test.
    method : {"auto", "cholesky", "cg"}
        ``"auto"`` uses Cholesky for one-score losses with ``p <= max_cholesky_params`` and
        Newton-CG otherwise (always for the multinomial loss).
    max_cholesky_params : int
        Largest ``n_features + fit_intercept`` factorized densely by ``"auto"``.
    cg_max_iter : int or None
        Most CG iterations per Newton step (default ``model_size``).
    c1, shrink, max_line_search : float, float, int
        Armijo constant, step reduction factor and most trial steps of the backtracking line search.
    sample_start : {"auto", "none"}
        ``"auto"``: for the Cholesky variant, without ``w0``, on a large problem (as
        :class:`~fastml.solvers.lbfgs.LBFGSOptions`: logistic and Poisson losses, at least
        ``MIN_STEP`` times ``max(20 000, 500 * parameters)`` rows, at most 256 parameters), start
        from the optimum of a systematic row sample and take the first Newton step with the
        sample's Hessian there: the full Hessians (``n * p^2`` flops each) are then needed only for
        the last, quadratically convergent steps. ``info["sample_start"]`` says what the sample
        cost. ``"none"``: start from ``w0`` or the intercept-only model.
    """

    max_iter: int = 100
    tol: float = 1e-6
    ftol: float = 64 * _EPS
    method: str = "auto"
    max_cholesky_params: int = 4000
    cg_max_iter: int = None
    c1: float = 1e-4
    shrink: float = 0.5
    max_line_search: int = 40
    sample_start: str = "auto"

    def __post_init__(self):
        _check_int(self.max_iter, "max_iter", 1)
        _check_int(self.max_cholesky_params, "max_cholesky_params", 1)
        _check_int(self.max_line_search, "max_line_search", 1)
        if self.cg_max_iter is not None:
            _check_int(self.cg_max_iter, "cg_max_iter", 1)
        if self.sample_start not in ("auto", "none"):
            raise ValueError(f"sample_start must be 'auto' or 'none', got {self.sample_start!r}")
        if self.method not in ("auto", "cholesky", "cg"):
            raise ValueError(f"method must be 'auto', 'cholesky' or 'cg', got {self.method!r}")
        for name in ("tol", "ftol"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and non-negative, got {getattr(self, name)!r}")
        if not 0 < self.c1 < 0.5 or not 0 < self.shrink < 1:
            raise ValueError(f"need 0 < c1 < 0.5 and 0 < shrink < 1, got c1={self.c1}, shrink={self.shrink}")


def solve_newton_system(hessian, gradient):
    """``-H^{-1} g`` by Cholesky; not positive definite -> growing diagonal shift, then least squares.

    Returns the direction and a label of the method used (``"cholesky"``, ``"shifted"``, ``"lstsq"``).
    """
    if not np.all(np.isfinite(hessian)):
        raise ValueError("the Hessian is not finite: the data may hold NaN/inf or badly scaled features; "
                         "standardize X or increase the L2 penalty")
    from ..kernels._blas_threads import blas_threads_for_order

    with blas_threads_for_order(len(hessian)):  # spinning BLAS threads would slow the next pass over X
        return _factor_and_solve(hessian, gradient)


def _factor_and_solve(hessian, gradient):
    try:
        return -scipy.linalg.cho_solve(scipy.linalg.cho_factor(hessian), gradient), "cholesky"
    except np.linalg.LinAlgError:
        pass
    scale = max(np.abs(np.diag(hessian)).max(initial=0.0), np.finfo(np.float64).tiny)
    shift = 1e-10 * scale
    identity = np.eye(len(hessian))
    while shift <= 1e-2 * scale:  # a small shift only: beyond it the direction is no longer Newton's
        try:
            factor = scipy.linalg.cho_factor(hessian + shift * identity)
            return -scipy.linalg.cho_solve(factor, gradient), "shifted"
        except np.linalg.LinAlgError:
            shift *= 100.0
    return -scipy.linalg.lstsq(hessian, gradient, cond=1e-12)[0], "lstsq"


def truncated_cg(view, models, gradients, active, max_iter, standardizations=None):
    """Approximate Newton directions ``H d = -g`` per model by conjugate gradients (one hessp per step).

    Stops a model at residual ``min(0.5, sqrt(||g||)) ||g||`` (superlinear convergence, as scipy's
    ``newton-cg``) or at non-positive curvature (then it keeps the last direction, or ``-g``).
    ``standardizations``: per model a ``Standardization`` or None. With one, the model's CG is
    preconditioned by it (its residual norms in that metric): CG in centred, unit-variance
    coordinates, where a feature far from zero (1e8 +- 1, a timestamp) no longer makes the Hessian
    singular in float64, and features of wild scales do not slow CG down. Measured (3-class
    ``LogisticRegression(solver="newton", C=1e6)``, 3000 x 5): with a 1e8 +- 1 column it reported
    convergence at a log-loss of 0.765 where the optimum is 0.677 (CG stopped on the raw curvature
    test at its first step), with a timestamp column (1.7e9 +- 1e7) it ran to max_iter; now 4 and 7
    Newton iterations, to the optimum, as on standardized data (4). On 2e5 x 50 4-class data with
    feature scales from 1e-2 to 1e2: 200 iterations (30 119 passes, 684 s) without converging -> 5
    iterations (18 passes, 0.44 s); raw digits 617 -> 388 passes, raw wine 257 -> 86.
    Without, the plain CG above.
    """
    def precondition(vectors):
        if standardizations is None:
            return vectors
        out = vectors.copy()
        for k, standardization in enumerate(standardizations):
            if standardization is not None:
                out[k] = standardization.solve(vectors[k])
        return out

    directions = np.zeros_like(gradients)
    residuals = -gradients
    preconditioned = precondition(residuals)
    conjugates = preconditioned.copy()
    # M times the conjugates (M = P, the preconditioner's inverse being P^-1): the curvature test below
    # compares c^T H c with eps * c^T M c, the conjugate's length in the metric CG works in (the raw
    # c^T c of a standardized model is dominated by its intercept, ~1e8 times a 1e8 column's weight:
    # that test stopped its CG at the first step, and Newton converged only linearly)
    scaled_conjugates = residuals.copy()
    residual_sq = np.einsum("km,km->k", residuals, preconditioned)
    gradient_norms = np.sqrt(residual_sq)
    targets = np.minimum(0.5, np.sqrt(gradient_norms)) * gradient_norms
    running = active & (gradient_norms > 0)
    for i in range(max_iter):
        if not running.any():
            break
        products = view.hessp(models, np.where(running[:, None], conjugates, 0.0))
        curvature = np.einsum("km,km->k", conjugates, products)
        negative = running & (curvature <= _EPS * np.einsum("km,km->k", conjugates, scaled_conjugates))
        if i == 0:
            directions[negative] = -precondition(gradients)[negative]
        running &= ~negative
        alpha = np.where(running, residual_sq / np.where(running, curvature, 1.0), 0.0)
        directions += alpha[:, None] * conjugates
        residuals -= alpha[:, None] * products
        preconditioned = precondition(residuals)
        new_residual_sq = np.einsum("km,km->k", residuals, preconditioned)
        running &= np.sqrt(new_residual_sq) > targets
        beta = np.where(running, new_residual_sq / np.where(residual_sq > 0, residual_sq, 1.0), 0.0)
        conjugates = preconditioned + beta[:, None] * conjugates
        scaled_conjugates = residuals + beta[:, None] * scaled_conjugates
        residual_sq = new_residual_sq
    return directions


_WARMED = set()


def warm_second_order_kernels(objective, use_cg, dtype=None, gram_precision="double"):
    """Compile (or load) the Hessian kernels on a few first rows of the problem, before the clock starts.

    The copy has the memory layout of ``X`` and its dtype, or ``dtype`` (the L-BFGS start sample's
    Hessian is taken on float32 rows with ``gram_precision="single"``), so the same kernel
    specializations as the timed Hessians: two rows
    for the one-thread variants and, when the objective itself runs on several threads, just over
    ``SERIAL_WORK`` stored values for the threaded ones (without them, the first threaded Hessian
    of a large problem compiled inside the trace: 2.4 s, cold, for a float32 sample Hessian). Its
    cost is small (a Hessian of at most ``SERIAL_WORK`` values) and paid once per process and variant.
    """
    from .._objective import SERIAL_WORK

    design = objective.X
    dtype = design.dtype if dtype is None else np.dtype(dtype)
    # the compiled variants depend on these only
    arrays = design.unchecked_arrays()
    key = (use_cg, design.is_sparse, dtype.str, arrays[1].dtype.str if design.is_sparse else
           arrays[0].flags.c_contiguous, objective.y.shape[1] > 1, objective.sample_weight.shape[1] > 1,
           objective.loss.is_multiclass, objective.n_threads > 1, gram_precision)
    if key in _WARMED:
        return
    _second_order_on_first_rows(objective, use_cg, min(2, design.n_samples), dtype, gram_precision)
    if objective.n_threads > 1:
        if design.is_sparse:  # rows holding just over SERIAL_WORK stored values
            rows = int(np.searchsorted(arrays[2], SERIAL_WORK, side="right"))
        else:
            rows = SERIAL_WORK // max(design.n_features, 1) + 1
        _second_order_on_first_rows(objective, use_cg, min(rows, design.n_samples), dtype, gram_precision)
    _WARMED.add(key)


def _second_order_on_first_rows(objective, use_cg, rows, dtype, gram_precision):
    """One Hessian (or Hessian-vector product) of the objective restricted to its first ``rows`` rows."""
    import scipy.sparse as sp

    from .._objective import LinearObjective

    design = objective.X
    # an owed finiteness check of X is left to the solver's first pass (a NaN in these rows only
    # makes the throw-away warm-up NaN)
    arrays = design.unchecked_arrays()
    if design.is_sparse:
        data, indices, indptr = arrays
        stop = indptr[rows]
        small_X = sp.csr_matrix((data[:stop].astype(dtype), np.array(indices[:stop]), np.array(indptr[: rows + 1])),
                                shape=(rows, design.n_features))
    else:
        small_X = arrays[0][:rows].astype(dtype, order="F" if not arrays[0].flags.c_contiguous else "C")
    # unit weights: only the compiled variants matter here, and the first rows may all weigh zero
    # (a cross-validation fold), which the objective would reject
    unit_weights = np.ones((rows, objective.sample_weight.shape[1]))
    small = LinearObjective(objective.loss, small_X, objective.y[:rows], unit_weights,
                            l2=objective.l2, fit_intercept=objective.fit_intercept,
                            n_classes=getattr(objective, "n_classes", None), n_threads=objective.n_threads,
                            check_input=False)
    w = np.zeros(small.n_params)
    with np.errstate(all="ignore"):
        if use_cg:
            small.hessp(w, w)
        else:
            small.hessian(w, gram_precision=gram_precision)


@one_blas_thread_in_fit
def newton(objective, w0=None, options=None, callback=None):
    """Minimize a smooth :class:`fastml.LinearObjective` with Newton's method (all its models at once).

    Parameters
    ----------
    objective : LinearObjective
        Loss with a Hessian (``loss.has_hessian``), no L1 term. ``n_models > 1`` fits the models side
        by side: one Hessian call computes all their Hessians, one call per line-search step.
    w0 : ndarray, shape (n_params,), optional
        Start point; default the intercept-only start.
    options : NewtonOptions, optional
    callback : callable, optional
        Called with an ``IterationInfo`` after each iteration; returning True stops the solver.

    Returns
    -------
    SolverResult
        As :func:`fastml.solvers.lbfgs.lbfgs`; ``info["systems"]`` counts the Cholesky / shifted /
        least-squares solves (Cholesky variant), ``info["shifted"]`` says whether a model solved its
        Newton systems in shifted coordinates (features far from zero: ``_shifted_coordinates``;
        Cholesky variant), ``info["standardized"]`` whether its conjugate gradients were
        preconditioned by its standardization (the same features; CG variant) and ``info["method"]``
        says which variant ran.
    """
    options = NewtonOptions() if options is None else options
    if not isinstance(options, NewtonOptions):
        raise TypeError(f"options must be a NewtonOptions, got {type(options).__name__}")
    check_smooth_objective(objective, "newton", "gradient_descent (FISTA) or coordinate descent")
    if not objective.loss.has_hessian:
        raise ValueError(f"newton needs a loss with a second derivative; {objective.loss.name!r} has none: use lbfgs")
    p = objective.coef_shape[0]
    use_cg = (options.method == "cg" or objective.loss.is_multiclass
              or (options.method == "auto" and p > options.max_cholesky_params))
    if options.method == "cholesky" and objective.loss.is_multiclass:
        raise ValueError("method='cholesky' needs a one-score loss; the multinomial Hessian couples the "
                         "classes: use method='cg' or 'auto'")
    view = ModelView(objective)
    # a given w0 is checked at once; the intercept-only start (a weighted mean over all rows: ~2 ms at
    # 1e6) is formed only where no sample start replaces it
    models = None if w0 is None else view.start(w0)
    n_models = view.n_models
    cg_max_iter = options.cg_max_iter or view.model_size

    start = None
    if w0 is None and options.sample_start == "auto" and not use_cg:
        warm_second_order_kernels(objective, use_cg)  # the sample's Hessian: compiled before it is timed
        start = fit_sample(view, options.tol, options.max_iter, lambda sample, tol, max_iter, w0: lbfgs(
            sample, w0, options=LBFGSOptions(tol=tol, max_iter=max_iter, sample_start="none")))
        if start is not None:
            models = start.models.copy()
    if models is None:
        models = view.start(None)
    values, gradients = view.evaluate(models)
    require_finite(values, gradients, "at the start point")
    warm_second_order_kernels(objective, use_cg)
    trace = Trace()
    # after the first evaluation and the kernel warm-up: compile time is not counted; the sample's fit is
    trace.start(already_elapsed=0.0 if start is None else start.seconds)
    norms = max_norms(gradients)
    trace.record(0, values.sum(), norms.max(), np.nan)

    systems = {"cholesky": 0, "shifted": 0, "lstsq": 0}
    coordinates = ShiftedCoordinates(objective)
    cg_preconditioners = None
    if use_cg:
        # CG in standardized coordinates (truncated_cg) for dense X; a model with a feature far from
        # zero, which its raw gradient test cannot resolve, takes its convergence test there too. CSR X
        # only with a column whose mean exceeds ten times its spread (such a column is nearly dense):
        # centring and scaling sparse text's rare columns slowed CG down (5e4 x 2^18, 50 nonzeros a
        # row, C = 10: binary 1023 -> 1113 passes, 3 classes 1345 -> 3015)
        cg_preconditioners = [Standardization.of(objective, k, at=models[0] if n_models == 1 else None)
                              for k in range(n_models)]
        for k, standardization in enumerate(cg_preconditioners):
            if standardization.offset_columns.size:
                coordinates.standardizations[k] = standardization
            elif objective.X.is_sparse and not np.any(standardization.centred_share < 1e-2):
                cg_preconditioners[k] = None
    converged = view.within_tolerance(gradients, options.tol)
    stalled = np.zeros(n_models, dtype=bool)
    n_iter = np.zeros(n_models, dtype=int)
    message = f"reached max_iter={options.max_iter}"
    iteration = 0
    while iteration < options.max_iter:
        active = ~converged & ~stalled
        if not active.any():
            break
        iteration += 1
        n_iter[active] += 1

        # 1) direction: Newton system per model (Hessians of all models from one call), in the shifted
        #    coordinates of a model with features far from zero (_shifted_coordinates)
        if use_cg:
            directions = truncated_cg(view, models, gradients, active, cg_max_iter, cg_preconditioners)
            decrement_sq = -np.einsum("km,km->k", gradients, directions)  # g^T H^-1 g: Newton decrement squared
            not_descent = active & ~(decrement_sq > 0)
            directions[not_descent] = -gradients[not_descent]  # rounding broke the direction: steepest descent
            slopes = None
        else:
            shifted_directions = np.zeros_like(models)
            # the first step from a sample start: the sample's Hessian there (within a few percent
            # of the full one) instead of a full Hessian
            hessians = (start.completed_hessians(objective)
                        if start is not None and iteration == 1 and not start.any_unresolved()
                        else objective.hessian(view.join(models), shift=coordinates.shifts))
            if coordinates.detect(hessians, np.flatnonzero(active)):
                hessians = objective.hessian(view.join(models), shift=coordinates.shifts)
            shifted_gradients = coordinates.to_shifted(gradients)
            for k in np.flatnonzero(active):
                shifted_directions[k], how = solve_newton_system(hessians[k], shifted_gradients[k])
                systems[how] += 1
            decrement_sq = -np.einsum("km,km->k", shifted_gradients, shifted_directions)
            not_descent = active & ~(decrement_sq > 0)
            shifted_directions[not_descent] = -shifted_gradients[not_descent]
            directions = coordinates.to_raw(shifted_directions)
            slopes = np.einsum("km,km->k", shifted_gradients, shifted_directions)

        # 2) line search: backtracking from the full Newton step, one objective call per step for all
        old_values = values
        steps, values, gradients, accepted = batched_armijo(
            view, models, directions, values, gradients, active,
            c1=options.c1, shrink=options.shrink, max_steps=options.max_line_search,
            slopes=slopes, coordinates=None if use_cg else coordinates.to_shifted)
        models += steps[:, None] * directions
        require_finite(values, gradients, f"at iteration {iteration}")

        # 3) convergence: gradient max-norm (in standardized units for a shifted model); a model whose
        #    step is lost in rounding has converged when the predicted decrease (half the squared
        #    Newton decrement) is below rounding too, or when the full Newton step failed while it
        #    predicted less than _NOISY_DECREASE times that
        norms = max_norms(gradients)
        converged |= active & within_tolerance(view, gradients, options.tol, coordinates.standardizations)
        no_step = active & ~accepted
        predicted = 0.5 * decrement_sq / np.maximum(np.abs(values), 1.0)
        if use_cg:
            # a truncated CG direction can underestimate the decrement: where a step was taken, the
            # decrease it made (L-BFGS's ftol rule; a timestamp column's raw gradient test is out of
            # reach: its rounding is the column's mean, 1.7e9, times the intercept's)
            # (with a predicted decrease near rounding too: a poor CG direction far from the optimum
            # also makes no decrease, and was called converged at the intercept-only model)
            at_rounding_limit = ((no_step & (predicted <= options.ftol))
                                 | (active & accepted & (relative_decrease(old_values, values) <= options.ftol)
                                    & (predicted <= _NOISY_DECREASE * options.ftol)))
        else:
            at_rounding_limit = active & ((predicted <= options.ftol)
                                          | ((steps < 1.0) & (predicted <= _NOISY_DECREASE * options.ftol)))
        converged |= at_rounding_limit
        stalled |= no_step & ~at_rounding_limit
        if notify(callback, trace, iteration, values.sum(), norms.max(), steps.max(), view.join(models)):
            message = "stopped by callback"
            break
    message = closing_message(message, converged, stalled)
    result = _result(view, models, values, gradients, n_iter, converged, trace, message,
                     sample_start=None if start is None else start.summary())
    result.info["method"] = "newton-cg" if use_cg else "newton-cholesky"
    changed = np.array([standardization is not None for standardization in coordinates.standardizations])
    if use_cg:
        result.info["standardized"] = bool(changed[0]) if n_models == 1 else changed
    else:
        result.info["systems"] = systems
        result.info["shifted"] = bool(changed[0]) if n_models == 1 else changed
    return result
