"""Full-batch (proximal) gradient descent with backtracking and Nesterov acceleration (FISTA).

Each iteration takes a proximal gradient step ``x+ = prox(y - grad f(y) / L)`` from the extrapolated
point ``y``, where ``f`` is the smooth part (loss + L2) and the prox is soft-thresholding for the L1
term (intercepts are not penalized). ``L`` is a per-model Lipschitz estimate found by backtracking on
the quadratic upper bound ``f(x+) <= f(y) + g.(x+ - y) + L/2 ||x+ - y||^2``, and allowed to shrink a
little each iteration so that a pessimistic early estimate does not slow every later step. With
acceleration, ``y`` is extrapolated along ``x+ - x`` (FISTA's momentum) and the momentum is reset
when it points uphill (the adaptive restart of O'Donoghue & Candes), which restores linear
convergence on strongly convex problems. Models are batched: every objective call evaluates the
trial points of all models in one pass over ``X``.
"""
from dataclasses import dataclass

import numpy as np

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._duality_gap import LogisticL1Gap, certify
from ._line_search import ModelView, max_norms, require_finite
from ._result import Trace, notify
from .lbfgs import _check_int, _result

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class GradientDescentOptions:
    """Settings of :func:`gradient_descent`.

    Parameters
    ----------
    max_iter : int
        Most iterations per model.
    tol : float
        Converged when every entry of the minimum-norm subgradient of the objective (the gradient
        when ``l1 == 0``) is at most ``tol`` times its feature's scale (see :class:`LBFGSOptions`),
        and, for an L1-penalized logistic model (with an L2 part or ``l1 >= tol``), when its duality gap certifies the objective within
        ``max(tol, 1e-9)`` of the optimum, relatively (``fastml.solvers._duality_gap``; the
        subgradient test alone was met 6 % above the optimum on wide data). ``info["relative_duality_gap"]``
        holds the last gap computed.
    accelerated : bool
        Nesterov momentum (FISTA) with adaptive restart; False gives plain proximal gradient descent.
    restart : bool
        Reset the momentum when the last step went against it (accelerated only).
    lipschitz_decrease : float
        Factor (<= 1) applied to each model's Lipschitz estimate before the next backtracking.
    backtrack_increase : float
        Factor (> 1) by which the estimate grows when the quadratic upper bound fails.
    max_backtrack : int
        Most trial steps per iteration.
    """

    max_iter: int = 5000
    tol: float = 1e-6
    accelerated: bool = True
    restart: bool = True
    lipschitz_decrease: float = 0.9
    backtrack_increase: float = 2.0
    max_backtrack: int = 60

    def __post_init__(self):
        _check_int(self.max_iter, "max_iter", 1)
        _check_int(self.max_backtrack, "max_backtrack", 1)
        if not (np.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be finite and non-negative, got {self.tol!r}")
        if not 0 < self.lipschitz_decrease <= 1:
            raise ValueError(f"lipschitz_decrease must be in (0, 1], got {self.lipschitz_decrease!r}")
        if not self.backtrack_increase > 1:
            raise ValueError(f"backtrack_increase must be > 1, got {self.backtrack_increase!r}")


def soft_threshold(values, thresholds):
    """``sign(v) * max(|v| - t, 0)`` elementwise (the prox of ``t * ||.||_1``)."""
    return np.sign(values) * np.maximum(np.abs(values) - thresholds, 0.0)


def minimum_norm_subgradients(view, models, smooth_gradients):
    """Absolute minimum-norm subgradient of ``f + l1 ||coef||_1`` per model and entry (0 at the optimum)."""
    if not np.any(view.l1 > 0):
        return np.abs(smooth_gradients)
    l1 = np.where(view.penalized[None, :], view.l1[:, None], 0.0)
    at_zero = models == 0.0
    with_sign = np.abs(smooth_gradients + l1 * np.sign(models))
    shrunk = np.maximum(np.abs(smooth_gradients) - l1, 0.0)
    return np.where(at_zero, shrunk, with_sign)


@one_blas_thread_in_fit
def gradient_descent(objective, w0=None, options=None, callback=None):
    """Minimize a :class:`fastml.LinearObjective` with a smooth loss (and optional L1) by (accelerated)
    proximal gradient descent.

    Parameters
    ----------
    objective : LinearObjective
        Smooth loss; ``l1 > 0`` is handled by the proximal step. ``n_models > 1`` fits the models
        side by side.
    w0 : ndarray, shape (n_params,), optional
        Start point; default the intercept-only start.
    options : GradientDescentOptions, optional
    callback : callable, optional
        Called with an ``IterationInfo`` after each iteration; returning True stops the solver.

    Returns
    -------
    SolverResult
        As :func:`fastml.solvers.lbfgs.lbfgs`; ``info["lipschitz"]`` holds the final estimates,
        ``info["restarts"]`` counts momentum restarts per model.
    """
    options = GradientDescentOptions() if options is None else options
    if not isinstance(options, GradientDescentOptions):
        raise TypeError(f"options must be a GradientDescentOptions, got {type(options).__name__}")
    if not objective.loss.smooth:
        raise ValueError(f"gradient_descent needs a smooth loss; {objective.loss.name!r} is not differentiable: "
                         "use the stochastic solvers (fastml.solvers.sgd) for it")
    view = ModelView(objective)
    x = view.start(w0)
    n_models = view.n_models
    l1_thresholds = np.where(view.penalized[None, :], view.l1[:, None], 0.0)

    smooth_x, gradient_x = view.evaluate(x, include_l1=False)
    require_finite(smooth_x, gradient_x, "at the start point")
    trace = Trace()
    trace.start()  # after the first evaluation: compile time is not counted
    values = smooth_x + view.l1_values(x)
    subgradients = minimum_norm_subgradients(view, x, gradient_x)
    norms = max_norms(subgradients)
    trace.record(0, values.sum(), norms.max(), np.nan)

    lipschitz = _initial_lipschitz(view, x, smooth_x, gradient_x)
    y, smooth_y, gradient_y = x.copy(), smooth_x.copy(), gradient_x.copy()  # extrapolated point
    momentum = np.ones(n_models)  # FISTA's t_k
    restarts = np.zeros(n_models, dtype=int)
    # an L1 logistic model has converged when its duality gap certifies the objective as well
    gap = LogisticL1Gap.for_view(view)
    gaps = np.full(n_models, np.nan)
    converged = certify(gap, x, gradient_x, values, view.within_tolerance(subgradients, options.tol),
                        options.tol, gaps)
    n_iter = np.zeros(n_models, dtype=int)
    message = f"reached max_iter={options.max_iter}"
    iteration = 0
    while iteration < options.max_iter:
        active = ~converged
        if not active.any():
            break
        iteration += 1
        n_iter[active] += 1

        # 1) gradient at the extrapolated point y is known (smooth_y, gradient_y)
        # 2) direction + 3) line search: proximal step from y, backtracking on L per model
        trial_lipschitz = np.where(active, lipschitz * options.lipschitz_decrease, lipschitz)
        new_x, smooth_new, gradient_new = x.copy(), smooth_x.copy(), gradient_x.copy()
        pending = active.copy()
        for _ in range(options.max_backtrack):
            candidates = x.copy()
            rows = np.flatnonzero(pending)
            inverse = 1.0 / trial_lipschitz[rows, None]
            candidates[rows] = soft_threshold(y[rows] - inverse * gradient_y[rows], inverse * l1_thresholds[rows])
            trial_smooth, trial_gradient = view.evaluate(candidates, include_l1=False)
            moved = candidates - y
            bound = (smooth_y + np.einsum("km,km->k", gradient_y, moved)
                     + 0.5 * trial_lipschitz * np.einsum("km,km->k", moved, moved))
            with np.errstate(invalid="ignore"):
                fits = np.isfinite(trial_smooth) & (trial_smooth <= bound + 16 * _EPS * np.abs(smooth_y))
            ok = pending & fits
            new_x[ok], smooth_new[ok], gradient_new[ok] = candidates[ok], trial_smooth[ok], trial_gradient[ok]
            pending &= ~ok
            if not pending.any():
                break
            trial_lipschitz[pending] *= options.backtrack_increase
        if pending.any():
            raise ValueError(f"gradient_descent: no step satisfied the quadratic bound for model(s) "
                             f"{np.flatnonzero(pending).tolist()} at iteration {iteration}; the objective may "
                             "not be finite: standardize X or increase the L2 penalty")
        lipschitz = trial_lipschitz
        require_finite(smooth_new, gradient_new, f"at iteration {iteration}")
        new_values = smooth_new + view.l1_values(new_x)

        # momentum: extrapolate, or restart when the step went against the momentum / uphill
        step_taken = new_x - x
        if options.accelerated:
            next_momentum = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * momentum ** 2))
            beta = (momentum - 1.0) / next_momentum
            if options.restart:
                uphill = new_values > values + 16 * _EPS * np.abs(values)  # not fooled by rounding noise
                against = (np.einsum("km,km->k", y - new_x, step_taken) > 0) | uphill
                restart = active & against & (momentum > 1.0)
                restarts += restart
                next_momentum[restart], beta[restart] = 1.0, 0.0
            momentum = np.where(active, next_momentum, momentum)
            beta = np.where(active, beta, 0.0)
        else:
            beta = np.zeros(n_models)
        x, smooth_x, gradient_x, values = new_x, smooth_new, gradient_new, new_values
        y = x + beta[:, None] * step_taken
        if np.any(beta > 0):  # one call for every model whose y differs from x
            smooth_y, gradient_y = view.evaluate(y, include_l1=False)
            plain = beta == 0
            smooth_y[plain], gradient_y[plain] = smooth_x[plain], gradient_x[plain]
            require_finite(smooth_y, gradient_y, f"at the extrapolated point of iteration {iteration}")
        else:
            smooth_y, gradient_y = smooth_x.copy(), gradient_x.copy()

        # 4) convergence: minimum-norm subgradient at x
        subgradients = minimum_norm_subgradients(view, x, gradient_x)
        norms = max_norms(subgradients)
        converged |= certify(gap, x, gradient_x, values, active & view.within_tolerance(subgradients, options.tol),
                             options.tol, gaps)
        if converged.any():  # a converged model stays at x (no extrapolation)
            y[converged] = x[converged]
            smooth_y[converged], gradient_y[converged] = smooth_x[converged], gradient_x[converged]
        steps = np.where(active, 1.0 / lipschitz, 0.0)
        if notify(callback, trace, iteration, values.sum(), norms.max(), steps.max(), view.join(x)):
            message = "stopped by callback"
            break
    if message != "stopped by callback" and converged.all():
        message = "converged"
    result = _result(view, x, values, gradient_x, n_iter, converged, trace, message)
    result.info["gradient_max_norms"] = norms
    result.info["lipschitz"] = lipschitz
    result.info["restarts"] = restarts
    if gap is not None:
        result.info["relative_duality_gap"] = float(gaps[0]) if n_models == 1 else gaps
    return result


def _initial_lipschitz(view, x, values, gradients):
    """Secant estimate of each model's Lipschitz constant from a short gradient step (one call)."""
    norms = np.linalg.norm(gradients, axis=1)
    probe = x - (1e-3 / np.maximum(norms, _EPS))[:, None] * gradients
    _, probe_gradients = view.evaluate(probe, include_l1=False)
    moved = np.linalg.norm(probe - x, axis=1)
    change = np.linalg.norm(probe_gradients - gradients, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = change / moved
    return np.where(np.isfinite(estimate) & (estimate > 0), estimate, 1.0)
