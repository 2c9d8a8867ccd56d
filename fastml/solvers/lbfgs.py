"""L-BFGS on the fused objective, for one model or many independent models at once.

Each model keeps its own curvature history (``_curvature_memory``: the pairs of all models in
arrays, the two-loop recursion vectorized over them), and a strong Wolfe line search
(``_line_search.wolfe_search``) picks the step. With ``n_models > 1`` (K penalty strengths, K folds)
the trial points of all models that are still searching are evaluated in one objective call, i.e.
one pass over ``X`` per line-search step; models that have converged keep their parameters. The
path of each model is the path of a separate run.

Additions to textbook L-BFGS: an initial inverse Hessian from each model's Hessian sampled on a
subset of rows (``_preconditioner``; "auto" brings it in only for problems still unsolved after 20
iterations); a second try in standardized coordinates for a model whose line search finds no decrease
along steepest descent (``_preconditioner.Standardization``: a feature far from zero relative to its
spread, as a timestamp, stalled it at the intercept-only model); and, for one model on a small ``X``,
the whole loop compiled in one Numba call (``fastml.kernels.lbfgs_loop``), where Python per iteration
would cost more than the pass over ``X`` (a compiled run that stalls is handed to the Python loop).
"""
import time
from dataclasses import dataclass, replace

import numpy as np

from .._objective import MIN_FEATURE_SCALE
from ..kernels._blas_threads import one_blas_thread_in_fit
from ._curvature_memory import CurvatureMemory, warm_direction_kernels
from ._line_search import ModelView, batched_wolfe_search, max_norms, relative_decrease, require_finite
from ._preconditioner import (AUTO_PATIENCE, HessianPreconditioner, wants_preconditioner, with_standardization,
                              within_tolerance)
from ._result import SolverResult, Trace, closing_message, notify
from ._sample_start import fit_sample

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class LBFGSOptions:
    """Settings of :func:`lbfgs`.

    Parameters
    ----------
    max_iter : int
        Most iterations per model.
    tol : float
        Converged when every entry of the gradient of the objective (mean loss + penalty, so the
        test does not depend on ``n_samples``) is at most ``tol`` times its feature's scale
        (``min(1, RMS of the column)``, at least 1e-3; 1 for an intercept: see
        :meth:`fastml.LinearObjective.feature_scales`), i.e. scikit-learn's max-norm test, also in
        the units of standardized features.
    ftol : float
        Also converged when an iteration decreases the objective by at most ``ftol`` relative to
        ``max(|f|, 1)`` (scikit-learn's ``lbfgs`` uses ``64 * eps``), or when a line search finds no
        decrease where the quadratic model predicts one of at most that much (the objective's rounding
        hides it); 0 disables both tests.
    memory : int
        Number of curvature pairs kept per model.
    c1, c2 : float
        Sufficient-decrease and curvature constants of the strong Wolfe line search.
    max_line_search : int
        Most trial steps per line search.
    preconditioner : {"auto", "hessian", "none"}
        ``"hessian"``: each model's Hessian at the start point, estimated on a systematic sample of
        rows (all rows when there are few), is the initial inverse-Hessian estimate (scaled by the
        latest curvature pair) instead of a multiple of the identity, and the first step is the
        Newton step it gives. Fewer passes over ``X``, the same optimum. ``"auto"``: ``"hessian"``
        for one-score losses with at most 512 parameters per model whose sampled Hessian has a
        condition number of 100 or more, built only when the problem is still unsolved after 20
        plain iterations (then L-BFGS restarts from there with it). ``"none"``: classic L-BFGS.
    sample_start : {"auto", "none"}
        ``"auto"``: without ``w0``, on a problem of at least ``MIN_STEP`` times
        ``max(20 000, 500 * parameters per model)`` rows, start from the optimum of a systematic
        sample of that many rows, preconditioned by the sample's Hessian there (logistic and
        Poisson losses, at most 256 parameters per model): a few full passes instead of many (see
        ``fastml.solvers._sample_start``). The optimum is the same; ``info["sample_start"]`` says
        what the sample cost (its time counts in the trace, which starts at the sample's end).
        Not with ``preconditioner="none"``. ``"none"``: start from ``w0`` or the intercept-only model.
    driver : {"auto", "compiled", "python"}
        ``"compiled"`` runs the whole loop of a single model in one Numba call
        (``fastml.kernels.lbfgs_loop``; no callback possible): on small data the Python loop, not
        the pass over ``X``, would set the time. ``"auto"``: compiled for one model without a
        callback on a matrix small enough for one thread (see ``fastml._objective.SERIAL_WORK``).
    """

    max_iter: int = 500
    tol: float = 1e-6
    ftol: float = 64 * _EPS
    memory: int = 10
    c1: float = 1e-4
    c2: float = 0.9
    max_line_search: int = 30
    preconditioner: str = "auto"
    sample_start: str = "auto"
    driver: str = "auto"

    def __post_init__(self):
        _check_int(self.max_iter, "max_iter", 1)
        _check_int(self.memory, "memory", 1)
        _check_int(self.max_line_search, "max_line_search", 1)
        for name in ("tol", "ftol"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and non-negative, got {getattr(self, name)!r}")
        if self.driver not in ("auto", "compiled", "python"):
            raise ValueError(f"driver must be 'auto', 'compiled' or 'python', got {self.driver!r}")
        if self.sample_start not in ("auto", "none"):
            raise ValueError(f"sample_start must be 'auto' or 'none', got {self.sample_start!r}")
        if self.preconditioner not in ("auto", "hessian", "none"):
            raise ValueError(f"preconditioner must be 'auto', 'hessian' or 'none', got {self.preconditioner!r}")
        if not 0 < self.c1 < self.c2 < 1:
            raise ValueError(f"line search constants must satisfy 0 < c1 < c2 < 1, got c1={self.c1}, c2={self.c2}")


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_smooth_objective(objective, solver, alternatives):
    """Raise ``ValueError`` when ``objective`` is not smooth (non-smooth loss or an L1 term)."""
    if not objective.loss.smooth:
        raise ValueError(f"{solver} needs a smooth loss; {objective.loss.name!r} is not differentiable: "
                         f"use the stochastic solvers (fastml.solvers.sgd) for it")
    if np.any(objective.l1 > 0):
        raise ValueError(f"{solver} does not handle an L1 penalty (l1 > 0); use {alternatives}")


@one_blas_thread_in_fit
def lbfgs(objective, w0=None, options=None, callback=None):
    """Minimize a smooth :class:`fastml.LinearObjective` with L-BFGS (all its models at once).

    Parameters
    ----------
    objective : LinearObjective
        Smooth loss, no L1 term. ``n_models > 1`` fits the models side by side (one history each,
        one objective call per line-search step for all); the multinomial loss is one model.
    w0 : ndarray, shape (n_params,), optional
        Start point (flat parameters); default the intercept-only start of the objective.
    options : LBFGSOptions, optional
    callback : callable, optional
        Called with an :class:`~fastml.solvers._result.IterationInfo` after each iteration;
        returning True stops the solver.

    Returns
    -------
    SolverResult
        ``n_iter`` and ``converged`` are per model (arrays) when ``n_models > 1``. ``info`` holds
        ``n_evaluations`` (objective calls), ``objective_values`` and ``gradient_max_norms`` per model,
        ``preconditioned`` (per model: whether the sampled-Hessian preconditioner was used to the end)
        and ``standardized`` (per model: whether it went on in standardized coordinates after a stall;
        its convergence is then judged on the gradient in those coordinates, ``tol`` per entry).
    """
    options = LBFGSOptions() if options is None else options
    if not isinstance(options, LBFGSOptions):
        raise TypeError(f"options must be an LBFGSOptions, got {type(options).__name__}")
    check_smooth_objective(objective, "lbfgs", "gradient_descent (FISTA) or coordinate descent")
    view = ModelView(objective)
    # a given w0 is checked at once; the intercept-only start (a weighted mean over all rows: ~2 ms at
    # 1e6) is formed only where no sample start replaces it
    models = None if w0 is None else view.start(w0)
    n_models = view.n_models
    if options.preconditioner == "hessian" and objective.loss.is_multiclass:
        raise ValueError("preconditioner='hessian' is for one-score losses (the multinomial Hessian couples "
                         "the classes); use 'auto' or 'none'")
    precondition = wants_preconditioner(options.preconditioner, objective, view.model_size)
    if precondition:
        from .newton import warm_second_order_kernels

        warm_second_order_kernels(objective, use_cg=False)  # compile before the clock starts
    if _compiled_driver(options, objective, callback):
        result = _lbfgs_compiled(objective, view, view.start(w0), options, precondition)
        if not (result.info.pop("stalled") and options.driver == "auto" and _can_standardize(options, objective)):
            return result
        # no decrease along its directions: the Python loop below, from the start, which then goes on in
        # standardized coordinates (_preconditioner.Standardization); the compiled attempt's passes stay
        # counted in n_evaluations, its time is not in the new trace (passes over a small X)

    warm_direction_kernels()  # compiled before the clock starts
    start = None
    # the sample's value is its Hessian: no sample where the preconditioner is switched off
    if w0 is None and options.sample_start == "auto" and precondition and not _constant_hessian(objective):
        start = fit_sample(view, options.tol, options.max_iter, lambda sample, tol, max_iter, w0: lbfgs(
            sample, w0, options=replace(options, tol=tol, max_iter=max_iter, sample_start="none")))
        if start is not None:
            models = start.models.copy()
    if models is None:
        models = view.start(None)
    values, gradients = view.evaluate(models)
    require_finite(values, gradients, "at the start point")
    trace = Trace()
    # after the first evaluation: compile time is not counted; the sample's fit is
    trace.start(already_elapsed=0.0 if start is None else start.seconds)
    norms = max_norms(gradients)
    trace.record(0, values.sum(), norms.max(), np.nan)
    # counted in the iteration's time: the sample Hessian is part of the solver's work. "auto" builds it
    # only for a problem still unsolved after AUTO_PATIENCE iterations, and restarts from there; a
    # sample start brings its own, formed near the optimum
    auto = options.preconditioner == "auto"
    if start is not None:  # the full column scales are known now (dense X: from the first pass)
        deferred, preconditioner = False, start.preconditioner(objective)
    else:
        deferred = precondition and auto and not _constant_hessian(objective)
        preconditioner = (HessianPreconditioner.build(view, models, skip_well_conditioned=auto)
                          if precondition and not deferred else None)

    can_standardize = _can_standardize(options, objective)
    standardize_later = _standardizes_when_slow(options, objective)
    memory = CurvatureMemory(n_models, view.model_size, options.memory)
    # H0 of each model is scales[k] * P_k^-1 (or scales[k] * I), scales[k] = s.y / y.P^-1 y of the newest pair
    scales = np.ones(n_models)
    converged = view.within_tolerance(gradients, options.tol)
    stalled = np.zeros(n_models, dtype=bool)  # line search found no decrease from steepest descent
    n_iter = np.zeros(n_models, dtype=int)
    message = "converged" if converged.all() else f"reached max_iter={options.max_iter}"
    iteration = 0
    while iteration < options.max_iter:
        active = ~converged & ~stalled
        if not active.any():
            break
        iteration += 1
        n_iter[active] += 1

        # 1) direction: two-loop recursion of every active model; until a curvature pair is known,
        #    the preconditioner's Newton step, or steepest descent with a first step of unit length
        directions = np.zeros_like(models)
        first_steps = np.ones(n_models)
        moving = np.flatnonzero(active)
        available = _preconditioned_models(preconditioner, n_models)
        uses_preconditioner = available[moving]
        scales[moving[uses_preconditioner & (memory.count[moving] == 0)]] = 1.0  # the sampled-Hessian Newton step

        def initial_inverse(q, rows):  # H0 = scales[k] * P_k^-1, or scales[k] * I
            q = scales[rows, None] * q
            for i in np.flatnonzero(available[rows]):
                q[i] = preconditioner.solve(rows[i], q[i])
            return q

        with_direction = moving[(memory.count[moving] > 0) | uses_preconditioner]
        if with_direction.size:
            directions[with_direction] = memory.directions(
                with_direction, gradients[with_direction], initial_inverse,
                identity_scales=None if available[with_direction].any() else scales)
        not_descent = moving[~(np.einsum("km,km->k", directions[moving], gradients[moving]) < 0)]
        if not_descent.size:
            memory.clear(not_descent)
            directions[not_descent] = -gradients[not_descent]
            # unit move, as L-BFGS-B
            first_steps[not_descent] = 1.0 / np.maximum(np.linalg.norm(gradients[not_descent], axis=1), _EPS)
        slopes = np.einsum("km,km->k", gradients, directions)

        # 2) line search: all searching models share each objective call
        found = batched_wolfe_search(view, models, directions, values, slopes, first_steps, active,
                                     c1=options.c1, c2=options.c2, max_steps=options.max_line_search)

        # 3) update points and curvature histories
        old_values = values.copy()
        steps = np.zeros(n_models)
        moved = []
        for k in np.flatnonzero(active):
            if found[k] is not None:
                moved.append(k)
            elif -0.5 * slopes[k] <= options.ftol * max(abs(values[k]), 1.0):
                # the decrease the quadratic model predicted is below what the objective's rounding
                # resolves: no line search can show it, the point is as good as f can tell
                converged[k] = True
            elif memory.count[k]:
                memory.clear([k])  # a stale history can give a poor direction: restart
            elif preconditioner is not None and preconditioner.available(k) and not preconditioner.standardized(k):
                preconditioner.factors[k] = None  # a poor sample Hessian: go on unpreconditioned
            elif can_standardize and not (preconditioner is not None and preconditioner.standardized(k)):
                # no decrease along the gradient: features far from zero or of wild scales (a
                # timestamp column); go on in standardized coordinates (_preconditioner.Standardization)
                preconditioner = with_standardization(preconditioner, objective, n_models, k)
            else:
                stalled[k] = True
        if moved:
            moved = np.array(moved, dtype=np.int64)
            steps[moved] = [found[k][0] for k in moved]
            new_gradients = np.array([found[k][2] for k in moved])
            s_pairs = steps[moved, None] * directions[moved]
            y_pairs = new_gradients - gradients[moved]
            sy = np.einsum("kn,kn->k", s_pairs, y_pairs)
            curved = sy > _EPS * np.einsum("kn,kn->k", y_pairs, y_pairs)  # keeps H positive definite
            kept = moved[curved]
            if kept.size:
                memory.add(kept, s_pairs[curved], y_pairs[curved], 1.0 / sy[curved])
                # Shanno-Phua scaling of H0, in the preconditioner's metric when there is one
                scaled_y = y_pairs[curved].copy()
                for i in np.flatnonzero(available[kept]):
                    scaled_y[i] = preconditioner.solve(kept[i], scaled_y[i])
                scales[kept] = sy[curved] / np.einsum("kn,kn->k", y_pairs[curved], scaled_y)
            models[moved] += s_pairs
            values[moved] = [found[k][1] for k in moved]
            gradients[moved] = new_gradients
        require_finite(values, gradients, f"at iteration {iteration}")

        # 4) convergence: gradient max-norm, or a relative decrease lost in rounding
        norms = max_norms(gradients)
        converged |= active & _within_tolerance(view, gradients, options.tol, preconditioner)
        if options.ftol > 0:
            moved = active & (steps > 0)
            converged |= moved & (relative_decrease(old_values, values) <= options.ftol)
        if (standardize_later and iteration == AUTO_PATIENCE and not (converged | stalled).all()
                and not (preconditioner is not None and preconditioner.standardized(0))):
            # a multinomial model (no Hessian preconditioner) still unsolved: standardized coordinates
            preconditioner = with_standardization(preconditioner, objective, n_models, 0, at=models[0])
            memory.clear([0])
        if deferred and iteration == AUTO_PATIENCE and not (converged | stalled).all():
            deferred = False
            standardized = preconditioner
            preconditioner = HessianPreconditioner.build(view, models, skip_well_conditioned=True)
            for k in range(n_models):  # a standardized model keeps its standardization: its Hessian in the
                # raw coordinates is what float64 did not resolve (a shifted factor of it made L-BFGS crawl)
                if standardized is not None and standardized.standardized(k):
                    preconditioner.factors[k] = standardized.factors[k]
            restarted = [k for k in range(n_models)
                         if preconditioner.available(k) and not preconditioner.standardized(k)]
            memory.clear(restarted)  # restart with the preconditioner's Newton-like step
        if notify(callback, trace, iteration, values.sum(), norms.max(), steps.max(), view.join(models)):
            message = "stopped by callback"
            break
    message = closing_message(message, converged, stalled)
    preconditioned = np.array([preconditioner is not None and preconditioner.available(k) for k in range(n_models)])
    standardized = np.array([preconditioner is not None and preconditioner.standardized(k) for k in range(n_models)])
    result = _result(view, models, values, gradients, n_iter, converged, trace, message, preconditioned,
                     None if start is None else start.summary())
    result.info["standardized"] = bool(standardized[0]) if n_models == 1 else standardized
    return result


def _standardizes_when_slow(options, objective):
    """Whether "auto" puts a model unsolved after ``AUTO_PATIENCE`` iterations on its ``Standardization``
    (with the L2 penalty's share of the curvature at that point): the multinomial model, which has no
    Hessian preconditioner. Measured with ``LogisticRegression()`` on scikit-learn's raw data sets:
    wine (178 x 13, 3 classes) did not converge in 1000 iterations (nor does scikit-learn's lbfgs, its
    objective 0.0913 where the optimum is 0.0622); now 62 iterations. iris 89 -> 36 iterations; digits
    (1797 x 64, 10 classes) 181 -> 106 iterations, to an objective 0.009493 where it had stopped at
    0.009953 (scikit-learn: 0.009951; the optimum is below 0.009489)."""
    return options.preconditioner == "auto" and objective.loss.is_multiclass


def _can_standardize(options, objective):
    """Whether a model whose line search finds no decrease from its first direction gets a second try
    in standardized coordinates (a multinomial model too: its classes' columns are transformed alike)."""
    return options.preconditioner != "none"


def _within_tolerance(view, gradients, tol, preconditioner):
    """The gradient test, in standardized units for a model on ``Standardization``."""
    if preconditioner is None:
        return view.within_tolerance(gradients, tol)
    return within_tolerance(view, gradients, tol, preconditioner.standardizations())


def _constant_hessian(objective):
    """Whether the objective's Hessian is the same everywhere (squared error): then "auto" builds the
    preconditioner at the start, where it is already the Hessian at the optimum, instead of after
    AUTO_PATIENCE iterations. Why: on an ill-conditioned least-squares problem (a column of mean 2e4
    and spread 1) plain L-BFGS met its gradient test in 6 iterations 25 times above the optimal
    objective (the flat direction has a gradient below tol everywhere near the intercept's
    optimum); preconditioned by the Hessian, its first step lands on the optimum. Well-conditioned
    problems still skip it (``skip_well_conditioned``), for the cost of the sampled Hessian only."""
    return objective.loss.name == "squared_error"


def _preconditioned_models(preconditioner, n_models):
    """Boolean mask of the models whose sampled-Hessian preconditioner is in use."""
    if preconditioner is None:
        return np.zeros(n_models, dtype=bool)
    return np.array([preconditioner.available(k) for k in range(n_models)], dtype=bool)


def _compiled_driver(options, objective, callback):
    """Whether to run the compiled single-model loop (see ``LBFGSOptions.driver``)."""
    if options.driver == "python":
        return False
    if objective.n_models != 1 or callback is not None:
        if options.driver == "compiled":
            raise ValueError("driver='compiled' runs one model without a callback")
        return False
    return options.driver == "compiled" or objective.n_threads == 1


def _lbfgs_compiled(objective, view, models, options, precondition):
    """:func:`lbfgs` of one model by ``fastml.kernels.lbfgs_loop.lbfgs_single``.

    With ``preconditioner="auto"`` it runs in two phases like the Python loop: plain L-BFGS for
    ``AUTO_PATIENCE`` iterations, then, for a problem still unsolved, a preconditioned restart from
    where the first phase stopped (its first evaluation repeats the last one: one extra pass).
    """
    from ..kernels import lbfgs_loop

    auto = options.preconditioner == "auto"
    design = objective.X.csr if objective.X.is_sparse else (objective.X.dense,)
    w = view.join(models)
    # each gradient entry has its own tolerance: for dense X the loop's first pass forms the feature
    # scales (handed back to the objective's cache), otherwise they are known or cost a pass here
    square_sums = np.empty((0, 0))
    if not objective.X.is_sparse and not objective.square_sums_known:
        square_sums = np.empty((objective.n_features, 1))
        tolerances = np.full(view.model_size, options.tol)
    else:
        tolerances = options.tol * view.tolerance_scales()[0]
    trace = Trace()
    n_iter, n_evaluations, elapsed = 0, 0, 0.0
    standardize_later = _standardizes_when_slow(options, objective)
    phases = [(min(AUTO_PATIENCE, options.max_iter), False), (options.max_iter - AUTO_PATIENCE, True)] \
        if (precondition and auto and not _constant_hessian(objective)) or standardize_later \
        else [(options.max_iter, precondition)]
    ran_standardized = False
    for phase, (max_iter, with_preconditioner) in enumerate(phases):
        if max_iter <= 0:
            break
        build_start = time.perf_counter()
        inverse = np.empty((0, 0))
        if with_preconditioner and standardize_later:
            inverse = with_standardization(None, objective, 1, 0, at=w).inverse(0, view.model_size)
            ran_standardized = True
        elif with_preconditioner:
            preconditioner = HessianPreconditioner.build(view, view.split(w), skip_well_conditioned=auto)
            if preconditioner.available(0):
                inverse = preconditioner.inverse(0)
        build_seconds = time.perf_counter() - build_start
        rows = np.full((max_iter + 1, 4), np.nan)
        phase_iter, status, phase_evaluations, preconditioned = lbfgs_loop.lbfgs_single(
            design, objective.n_features, objective.n_outputs, int(objective.fit_intercept), objective.y,
            objective.sample_weight, objective.loss.loss_id, objective.loss.param, float(objective.l2[0]),
            float(objective.weight_sum[0]), w, inverse, options.memory, max_iter, options.max_line_search,
            tolerances, options.ftol, options.c1, options.c2, rows, square_sums, MIN_FEATURE_SCALE)
        if square_sums.size:  # the first phase formed them: a later phase has its tolerances already
            objective.adopt_square_sums(square_sums)
            square_sums = np.empty((0, 0))
        n_evaluations += phase_evaluations
        if status == lbfgs_loop.NON_FINITE:
            objective.n_evaluations += n_evaluations
            require_finite(np.array([np.nan]), np.zeros((1, 1)),
                           "at the start point" if n_iter + phase_iter == 0 else f"at iteration {n_iter + phase_iter}")
        # a later phase's start row repeats the previous phase's last one; the preconditioner was
        # built before the compiled loop's clock started: count it
        for row in range(0 if phase == 0 else 1, phase_iter + 1):
            value, gradient_norm, step, seconds = rows[row]
            trace.add_row(n_iter + row, elapsed + seconds + (build_seconds if row else 0.0), value, gradient_norm,
                          step)
        n_iter += phase_iter
        elapsed = trace["seconds"][-1]
        if status != lbfgs_loop.MAX_ITER:
            break
    objective.n_evaluations += n_evaluations
    view.n_evaluations += n_evaluations
    message = {lbfgs_loop.CONVERGED: "converged",
               lbfgs_loop.MAX_ITER: f"reached max_iter={options.max_iter}",
               lbfgs_loop.STALLED: "line search found no decrease for model(s) [0] (the objective may be at "
                                   "its rounding limit; loosen tol)"}[status]
    values, gradients = trace["objective"][-1:], trace["gradient_norm"][-1:, None]
    result = _result(view, view.split(w), values, gradients, np.array([n_iter]),
                     np.array([status == lbfgs_loop.CONVERGED]), trace, message, np.array([bool(preconditioned)]))
    # where the Python loop would have gone on in standardized coordinates (popped by lbfgs)
    result.info["stalled"] = status == lbfgs_loop.STALLED
    result.info["standardized"] = ran_standardized
    return result


def _result(view, models, values, gradients, n_iter, converged, trace, message, preconditioned=None,
            sample_start=None):
    """The :class:`SolverResult` of a run, with per-model arrays only for batched runs."""
    single = view.n_models == 1
    info = {"n_evaluations": view.n_evaluations, "objective_values": values.copy(),
            "gradient_max_norms": max_norms(gradients), "sample_start": sample_start}
    if preconditioned is not None:
        info["preconditioned"] = bool(preconditioned[0]) if single else preconditioned
    return SolverResult(
        params=view.join(models),
        n_iter=int(n_iter[0]) if single else n_iter,
        converged=bool(converged[0]) if single else converged.copy(),
        trace=trace,
        message=message,
        info=info,
    )
