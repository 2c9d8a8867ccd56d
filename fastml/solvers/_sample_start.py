"""Start of L-BFGS and Newton on many rows: the optimum of a row sample, with that sample's Hessian.

Why: on a large, well-posed problem L-BFGS from the intercept-only start spends most of its passes
over ``X`` getting near the optimum, which a small sample already locates to within its statistical
error (a relative error of about ``sqrt(p / rows)``). Fitted on every ``step``-th row, the sample
costs a fraction ``1 / step`` of a pass per iteration; its exact Hessian at its optimum is then the
Hessian of the full problem near the full optimum to the same relative error, so each full
iteration from there is a Newton-like step that shrinks the gradient by about that factor.
Measured on 1e6 x 100 standardized logistic data (tol 1e-6; the first full pass included): 7 full
passes from the intercept-only start, 4 from a 52 600-row sample's optimum (500 rows per
parameter; 3 from 250 000 rows, whose fit and Hessian then cost more than the pass saved; 5 from
15 600), 0.37 -> 0.27-0.29 s with the sample's own cost. Newton takes its first step with the
sample's Hessian: 4 full Hessians -> 1, 1.43 -> 0.52-0.59 s (``benchmarks/bench_full_batch.py``).

The sample is systematic, as the preconditioner's (``DesignMatrix.every_nth_row``): deterministic,
and unbiased unless the rows cycle with period ``step``. It never changes the optimum, only where
the full iterations start; a sample fit that does not converge (e.g. separable on its rows without a
penalty) or meets a non-finite value is dropped and the run starts as without it.

Precision: the sample is copied as float32 rows and its Hessian's row blocks multiplied in float32
(``kernels.gram``, sums over blocks in float64). The start point and preconditioner need the accuracy
of the sample (a few percent), not of float64: at 1e6 x 100 float64 the sample phase took 31 -> 18 ms
(copy 10.6 -> 4.6-7.9, its fit 5.2 -> 3.8, Hessian 15 -> 9; ``benchmarks/bench_full_batch.py``). Rounding
matters only for an ill-conditioned Hessian, so each one is checked: its smallest eigenvalue after
scaling to a unit diagonal must be at least ``MIN_SCALED_EIGENVALUE``, a hundred times the worst
error of single-precision Gram blocks in those units. Otherwise (a column of mean 1e4 and spread 1
beside the intercept, nearly collinear columns) the sample is copied again at ``X``'s precision,
refitted from the float32 sample's optimum and its Hessian taken in float64. A float64 Hessian still
below ``MIN_SCALED_EIGENVALUE_DOUBLE`` (a column of 1e8 +- 1) keeps the sample's optimum as the start,
with the model's ``Standardization`` as L-BFGS's preconditioner and a full Hessian (in shifted
coordinates) for Newton's first step: 1e6 x 20 with such a column, L-BFGS 0.37 -> 0.14 s, Newton
0.61 -> 0.38 s (``benchmarks/bench_full_batch.py --hard-inputs``), against dropping the sample.

Only for losses of positive curvature everywhere (logistic, Poisson): the start point alone, without
the sample's Hessian, saved little (1e6 x 100 logistic: 7 full passes -> 6; a 3-class multinomial
problem at tol 1e-10: the same 31), and Huber's Hessian (zero outside its quadratic zone) is a poor
preconditioner away from the sample's own rows (27 -> 40 passes on one CSR problem).
"""
import time
from dataclasses import dataclass

import numpy as np

from ._line_search import NonFiniteObjectiveError
from ._preconditioner import HessianPreconditioner, Standardization, complete_curvature

# rows of the sample: enough for a Hessian within a few percent (500 per parameter: relative error
# about sqrt(1 / 500) per direction), and at least MIN_SAMPLE_ROWS
SAMPLE_ROWS_PER_PARAM = 500
MIN_SAMPLE_ROWS = 20_000
# the sample is used only when it is at most this fraction of the rows: otherwise its own fit
# (several of its passes) and Hessian cost about what they save
MIN_STEP = 8
# most parameters per model: the sample's Hessian costs rows * p^2 flops (0.5 GFLOP at p = 101, a
# fifth of a full pass at 1e6 rows; 500 p^3 grows faster than the passes it saves)
MAX_PARAMS = 256
# losses whose pointwise curvature is positive everywhere, so that the sample's Hessian stands for
# the full one (see the module docstring for the others; squared error needs no sample: its
# Hessian is the same at every point, and L-BFGS is preconditioned by it from the start)
SAMPLED_LOSSES = ("log_loss", "poisson")
# the sample fit stops at a gradient of max(tol, SAMPLE_TOL_FACTOR / sqrt(rows)): its optimum is only
# known to within its sampling error (about 1 / sqrt(rows) in gradient units) anyway. Measured at 1e6 x 100:
# 2 sample iterations instead of 6, the same 4 full passes
SAMPLE_TOL_FACTOR = 0.1
# a sample fit that has not converged by then is abandoned (separable sample, bad scaling)
MAX_SAMPLE_ITER = 60
# the first try's sample rows: float32 (see "Precision" in the module docstring)
SAMPLE_DTYPE = np.float32
# smallest eigenvalue of a sample Hessian scaled to a unit diagonal at which its single-precision Gram
# blocks are trusted. Entries of float32 blocks of 2048 rows summed in float64 are off by about 1e-7..1e-6
# in those units, the error's norm at most p times that (1e-4 at p = 101): an eigenvalue of 1e-2 keeps
# the preconditioner's relative error below 1 %, under the sample's own sqrt(1 / 500) = 4.5 %
MIN_SCALED_EIGENVALUE = 1e-2
# the same for a float64 Hessian: below it the entries' rounding (about 1e-16 of the diagonal's scale
# per row summed) is a sizeable part of the smallest eigenvalue, and the sample start is dropped
# (a timestamp column, 1.7e9 +- 1e7, gives 1.7e-5 and is kept; 1e8 +- 1 gives ~1e-16)
MIN_SCALED_EIGENVALUE_DOUBLE = 1e-10


@dataclass(frozen=True)
class SampleStart:
    """Where the full iterations start and what the sample cost.

    ``models``: start point of each model, (n_models, model_size). ``hessians``: the sample's
    Hessian of each model at that point, (n_models, model_size, model_size), in which
    :meth:`completed_hessians` restores the curvature of columns the sample under-represents.
    ``seconds``: the
    sample's solver time (its first evaluation, with any compile, excluded, as in every trace) plus
    its Hessian. ``unresolved`` (n_models,): whether float64 did not resolve the model's sample
    Hessian (``MIN_SCALED_EIGENVALUE_DOUBLE``); its preconditioner is then its
    :class:`~fastml.solvers._preconditioner.Standardization`, and Newton's first step takes the full
    Hessian.
    """

    models: np.ndarray
    hessians: np.ndarray
    rows: int
    n_iter: int
    n_evaluations: int
    seconds: float
    gram_precision: str = "double"
    unresolved: np.ndarray = None

    def completed_hessians(self, objective):
        """The sample's Hessians with the curvature of columns the sample under-represents restored
        from the full data's columns (``_preconditioner.complete_curvature``)."""
        return complete_curvature(self.hessians, objective)

    def preconditioner(self, objective):
        """The Cholesky factors of :meth:`completed_hessians` (a model whose Hessian is not positive
        definite has none)."""
        preconditioner = HessianPreconditioner.from_hessians(self.completed_hessians(objective))
        if self.any_unresolved():
            for k in np.flatnonzero(self.unresolved):
                preconditioner.factors[k] = Standardization.of(objective, k)
        return preconditioner

    def any_unresolved(self):
        return self.unresolved is not None and bool(np.any(self.unresolved))

    def summary(self):
        """The record kept in ``SolverResult.info["sample_start"]``."""
        return {"rows": self.rows, "n_iter": self.n_iter, "n_evaluations": self.n_evaluations,
                "seconds": self.seconds, "gram_precision": self.gram_precision,
                "unresolved_hessian": self.any_unresolved()}


def sample_step(view):
    """Every how many rows the start sample takes one; below ``MIN_STEP`` no sample is worth it."""
    rows_wanted = max(MIN_SAMPLE_ROWS, SAMPLE_ROWS_PER_PARAM * view.model_size)
    return view.objective.X.n_samples // rows_wanted


def fit_sample(view, tol, max_iter, fit):
    """The :class:`SampleStart` of ``view``'s problem, or None where a sample does not pay or fails.

    ``fit(objective, tol, max_iter, w0)`` runs a solver (L-BFGS) on the sample's objective, without a
    sample of its own, from ``w0`` (None: its default start); ``tol`` and ``max_iter`` are the full
    run's: the sample fit stops at ``max(tol, SAMPLE_TOL_FACTOR / sqrt(rows))`` after at most
    ``MAX_SAMPLE_ITER`` iterations.
    """
    from .newton import warm_second_order_kernels

    objective = view.objective
    if objective.loss.name not in SAMPLED_LOSSES or view.model_size > MAX_PARAMS:
        return None
    step = sample_step(view)
    if step < MIN_STEP:
        return None
    # CSR samples keep their dtype: their Gram is the Cython kernel's, in float64 either way
    dtype = objective.X.dtype if objective.X.is_sparse else SAMPLE_DTYPE
    gram_precision = "double" if objective.X.is_sparse else "single"
    # their compilation is not the sample's cost
    objective.X.prepare_every_nth_row(dtype)
    warm_second_order_kernels(objective, use_cg=False, dtype=dtype, gram_precision=gram_precision)
    started = time.perf_counter()
    weights = np.ascontiguousarray(objective.sample_weight[::step])
    if np.any(weights.sum(axis=0) <= 0):
        return None
    sample = _sample_objective(objective, step, weights, dtype)
    seconds = time.perf_counter() - started
    result = _fit_or_none(sample, tol, max_iter, fit, None)
    if result is None:
        return None
    # the fit's own seconds: its first evaluation, which may compile, is not counted (as in every trace)
    seconds += result.trace["seconds"][-1]
    n_iter, n_evaluations = int(np.max(result.n_iter)), sample.n_evaluations
    started = time.perf_counter()
    with np.errstate(all="ignore"):
        hessians = sample.hessian(result.params, gram_precision=gram_precision)
    if gram_precision == "single" and not resolved_in_single_precision(hessians):
        # an ill-conditioned Hessian: the rows at X's precision, refitted from the float32 rows' optimum
        # (rounding can move an ill-conditioned optimum), and a float64 Gram
        gram_precision = "double"
        if objective.X.dtype != dtype:
            sample = _sample_objective(objective, step, weights, objective.X.dtype)
            seconds += time.perf_counter() - started
            result = _fit_or_none(sample, tol, max_iter, fit, result.params)
            if result is None:
                return None
            seconds += result.trace["seconds"][-1]
            n_iter, n_evaluations = n_iter + int(np.max(result.n_iter)), n_evaluations + sample.n_evaluations
            started = time.perf_counter()
        with np.errstate(all="ignore"):
            hessians = sample.hessian(result.params)
    # a feature far from zero relative to its spread (1e8 +- 1: E[x^2] = 1e16 + 1): float64 does not
    # resolve the Hessian in the raw coordinates (dense or CSR), and as the full run's preconditioner
    # its shifted factor made L-BFGS crawl to a false ftol stop; such a model starts from the sample's
    # optimum in standardized coordinates instead
    unresolved = np.array([gram_precision == "double" and not resolved([hessian], MIN_SCALED_EIGENVALUE_DOUBLE)
                           for hessian in hessians])
    seconds += time.perf_counter() - started
    return SampleStart(models=view.split(result.params), hessians=hessians, rows=sample.X.n_samples,
                       n_iter=n_iter, n_evaluations=n_evaluations, seconds=seconds, gram_precision=gram_precision,
                       unresolved=unresolved)


def _sample_objective(objective, step, weights, dtype):
    """The objective of every ``step``-th row of ``objective`` (rows copied as ``dtype``)."""
    from .._objective import LinearObjective

    # every step-th row of the unchecked arrays: an owed finiteness check of X stays owed (the full
    # run's first pass settles it); a non-finite value in the sample only drops the sample. The
    # sample's own check is owed too, settled by its first pass (a separate sum of the 42 MB sample
    # of 1e6 x 100 cost ~3 ms)
    design = objective.X.every_nth_row(step, check_finite=False, dtype=dtype)
    return LinearObjective(
        objective.loss, design, np.ascontiguousarray(objective.y[::step]), weights, l2=objective.l2,
        l1=objective.l1, fit_intercept=objective.fit_intercept, n_threads=objective.n_threads, check_input=False,
        check_X=True)


def _fit_or_none(sample, tol, max_iter, fit, w0):
    """``fit``'s result on the sample, or None where the sample cannot start the full run: its fit did not
    converge, its objective overflowed, or its rows hold a NaN or an infinity (the full run's check decides)."""
    try:
        with np.errstate(all="ignore"):
            result = fit(sample, max(tol, SAMPLE_TOL_FACTOR / np.sqrt(sample.X.n_samples)),
                         min(max_iter, MAX_SAMPLE_ITER), w0)
    except NonFiniteObjectiveError:
        return None
    except ValueError:
        if np.isfinite(sample.X.unchecked_arrays()[0]).all():
            raise
        return None
    return result if np.all(result.converged) else None


def resolved_in_single_precision(hessians):
    """Whether every Hessian, scaled to a unit diagonal, has its smallest eigenvalue at least
    ``MIN_SCALED_EIGENVALUE``: then single-precision Gram blocks change it by under 1 % (module docstring).
    A Hessian with a non-positive or non-finite diagonal fails."""
    return resolved(hessians, MIN_SCALED_EIGENVALUE)


def resolved(hessians, min_scaled_eigenvalue):
    """Whether every Hessian, scaled to a unit diagonal, has its smallest eigenvalue at least
    ``min_scaled_eigenvalue`` (a non-positive or non-finite diagonal fails)."""
    for hessian in hessians:
        diagonal = np.diag(hessian)
        if not (np.all(np.isfinite(hessian)) and np.all(diagonal > 0)):
            return False
        scale = 1.0 / np.sqrt(diagonal)
        if not np.linalg.eigvalsh(hessian * scale[:, None] * scale[None, :])[0] >= min_scaled_eigenvalue:
            return False
    return True
