"""Proximal Newton with coordinate descent (glmnet's scheme) for smooth losses with an L1 (and L2) penalty.

Each outer iteration replaces the smooth part by its second-order model at the current point: the
Hessian from :meth:`fastml.LinearObjective.hessian` (one weighted-Gram pass over ``X`` for all
models) and the gradient of the last evaluation. The model plus the L1 term is a Lasso in Gram form,
``1/2 v^T Q v - q^T v + l1 ||v||_1``, solved by the coordinate descent kernel of the least-squares
solvers (``fastml.kernels._cd.gram_sweeps``); the intercept is eliminated first (a Schur complement,
the Gram-space analogue of centering), and recovered from the coefficients afterwards. The step
to the model's minimizer is then backtracked until the true objective decreases by a share of what
the model predicts (Tseng and Yun's rule: ``F(w + a d) <= F(w) + c1 a (g^T d + l1 (|w + d|_1 - |w|_1))``).

Why: proximal gradient descent (FISTA) needs many passes when the features are badly scaled (raw
breast_cancer, L1 logistic: 1 000 iterations without converging); the Newton model absorbs the
scaling, as for the smooth Newton solver. Each iteration costs a Hessian pass (``n p^2``), so it is
meant for moderate ``p``; one-score losses only (the multinomial Hessian couples the classes).
"""
from dataclasses import dataclass

import numpy as np

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._duality_gap import LogisticL1Gap, certify
from ._line_search import ModelView, max_norms, relative_decrease, require_finite
from ._result import Trace, closing_message, notify
from .gradient_descent import minimum_norm_subgradients
from .lbfgs import _check_int, _result

_EPS = np.finfo(np.float64).eps
_SWEEPS_PER_ROUND = 20  # coordinate-descent sweeps between tries of the exact solve on the support


@dataclass(frozen=True)
class ProximalNewtonOptions:
    """Settings of :func:`proximal_newton`.

    Parameters
    ----------
    max_iter : int
        Most outer (Newton) iterations per model.
    tol : float
        Converged when every entry of the minimum-norm subgradient is at most ``tol`` times its
        feature's scale and, for L1 logistic models (with an L2 part or ``l1 >= tol``), the relative duality gap at most ``max(tol,
        1e-9)`` (as :class:`fastml.solvers.gradient_descent.GradientDescentOptions`).
    ftol : float
        A model has also converged when the decrease its quadratic model predicts is at most
        ``ftol * max(|F|, 1)`` and the line search found no decrease larger than that (both lost in
        the objective's rounding).
    max_inner_sweeps : int
        Most coordinate-descent sweeps per quadratic model.
    inner_tol : float
        The sweeps stop when no coefficient moved by more than ``inner_tol`` times the largest.
    c1, shrink, max_line_search : float, float, int
        Sufficient-decrease constant, step reduction factor and most trial steps of the line search.
    """

    max_iter: int = 100
    tol: float = 1e-6
    ftol: float = 64 * _EPS
    max_inner_sweeps: int = 1000
    inner_tol: float = 1e-10
    c1: float = 1e-4
    shrink: float = 0.5
    max_line_search: int = 40

    def __post_init__(self):
        for name in ("max_iter", "max_inner_sweeps", "max_line_search"):
            _check_int(getattr(self, name), name, 1)
        for name in ("tol", "ftol", "inner_tol"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and non-negative, got {getattr(self, name)!r}")
        if not 0 < self.c1 < 0.5 or not 0 < self.shrink < 1:
            raise ValueError(f"need 0 < c1 < 0.5 and 0 < shrink < 1, got c1={self.c1}, shrink={self.shrink}")


def check_proximal_newton_objective(objective):
    """Raise ``ValueError`` for an objective this solver cannot minimize."""
    if not objective.loss.smooth:
        raise ValueError(f"proximal_newton needs a smooth loss; {objective.loss.name!r} is not differentiable")
    if objective.loss.is_multiclass:
        raise ValueError("proximal_newton (solver='cd') fits one-score losses; the multinomial Hessian couples "
                         "the classes: use solver='gd' (proximal gradient) or 'sgd'")


def quadratic_model_step(hessian, gradient, params, l1, fit_intercept, options):
    """Minimizer of ``g^T (u - w) + 1/2 (u - w)^T H (u - w) + l1 ||u_coef||_1`` minus ``w``.

    ``hessian`` (m, m) and ``gradient`` (m,) of the smooth part at ``params`` (m,), the intercept
    last when ``fit_intercept``. Returns the step and the number of sweeps it took.
    """
    from ..kernels import _cd

    # the model is 1/2 u^T H u - r^T u + l1 |u_c|_1 + const with r = H w - g
    rhs = hessian @ params - gradient
    n_coef = params.shape[0] - int(fit_intercept)
    gram, linear = hessian[:n_coef, :n_coef], rhs[:n_coef]
    if fit_intercept:  # minimize over the intercept first: u_0 = (r_0 - H_0c u_c) / H_00
        corner = max(hessian[-1, -1], _EPS)
        cross = hessian[:n_coef, -1]
        gram = gram - np.outer(cross, cross) / corner
        linear = linear - cross * (rhs[-1] / corner)
    gram = np.ascontiguousarray(0.5 * (gram + gram.T))
    linear = np.ascontiguousarray(linear[None])
    coef = params[None, :n_coef].copy()  # the kernel updates it in place
    gram_coef = coef @ gram
    sweeps = np.zeros(1, dtype=np.int32)
    total_sweeps = 0
    while n_coef and total_sweeps < options.max_inner_sweeps:
        budget = min(_SWEEPS_PER_ROUND, options.max_inner_sweeps - total_sweeps)
        _cd.gram_sweeps(gram, linear, coef, gram_coef, np.array([float(l1)]), np.zeros(1),
                        np.arange(n_coef, dtype=np.int32)[None], np.array([n_coef], dtype=np.int32),
                        np.array([budget], dtype=np.int32), options.inner_tol, False, False,
                        np.ones(1, dtype=np.uint64), sweeps, 1)
        total_sweeps += int(sweeps[0])
        exact = _solve_on_support(gram, linear[0], coef[0], l1)
        if exact is not None:  # the sweeps found the signs: the model's exact minimizer
            coef[0] = exact
            break
        if sweeps[0] < budget:  # the sweeps met inner_tol
            break
    target = coef[0]
    if fit_intercept:
        target = np.append(target, (rhs[-1] - cross @ target) / corner)
    return target - params, total_sweeps


def _solve_on_support(gram, linear, coef, l1):
    """The exact minimizer of ``1/2 v^T Q v - q^T v + l1 |v|_1`` when ``coef``'s signs are its signs:
    on the support A, ``Q_AA v_A = q_A - l1 sign_A``; accepted only if the solution keeps those signs
    and every coefficient off A satisfies its optimality condition ``|q_j - Q_jA v_A| <= l1``. Coordinate
    descent finds the signs in a few sweeps but, with correlated features, converges slowly after
    that (a thousand sweeps for the Newton step on standardized breast_cancer); None otherwise."""
    support = np.flatnonzero(coef)
    signs = np.sign(coef[support])
    try:
        values = np.linalg.solve(gram[np.ix_(support, support)], linear[support] - l1 * signs)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(values)) or (l1 > 0 and np.any(np.sign(values) != signs)):
        return None
    off = np.setdiff1d(np.arange(coef.shape[0]), support)
    residual = linear[off] - gram[np.ix_(off, support)] @ values
    if np.any(np.abs(residual) > l1 * (1.0 + 1e-9) + 1e-14 * np.abs(linear).max()):
        return None
    exact = np.zeros_like(coef)
    exact[support] = values
    return exact


@one_blas_thread_in_fit
def proximal_newton(objective, w0=None, options=None, callback=None):
    """Minimize a :class:`fastml.LinearObjective` (smooth one-score loss, L2 and L1) by proximal Newton.

    Parameters
    ----------
    objective : LinearObjective
        ``n_models > 1`` fits the models side by side (one Hessian pass and one objective call per
        line-search step for all).
    w0 : ndarray, shape (n_params,), optional
        Start point; default the intercept-only start.
    options : ProximalNewtonOptions, optional
    callback : callable, optional
        Called with an ``IterationInfo`` after each iteration; returning True stops the solver.

    Returns
    -------
    SolverResult
        As :func:`fastml.solvers.lbfgs.lbfgs`; ``info["inner_sweeps"]`` holds the coordinate-descent
        sweeps per model, summed over iterations.
    """
    options = ProximalNewtonOptions() if options is None else options
    if not isinstance(options, ProximalNewtonOptions):
        raise TypeError(f"options must be a ProximalNewtonOptions, got {type(options).__name__}")
    check_proximal_newton_objective(objective)
    view = ModelView(objective)
    models = view.start(w0)
    n_models = view.n_models

    smooth, gradients = view.evaluate(models, include_l1=False)
    require_finite(smooth, gradients, "at the start point")
    trace = Trace()
    trace.start()  # after the first evaluation: compile time is not counted
    values = smooth + view.l1_values(models)
    subgradients = minimum_norm_subgradients(view, models, gradients)
    norms = max_norms(subgradients)
    trace.record(0, values.sum(), norms.max(), np.nan)

    # an L1 logistic model has converged when its duality gap certifies the objective as well
    gap = LogisticL1Gap.for_view(view)
    gaps = np.full(n_models, np.nan)
    converged = certify(gap, models, gradients, values, view.within_tolerance(subgradients, options.tol),
                        options.tol, gaps)
    stalled = np.zeros(n_models, dtype=bool)
    n_iter = np.zeros(n_models, dtype=int)
    inner_sweeps = np.zeros(n_models, dtype=int)
    message = f"reached max_iter={options.max_iter}"
    iteration = 0
    while iteration < options.max_iter:
        active = ~converged & ~stalled
        if not active.any():
            break
        iteration += 1
        n_iter[active] += 1

        # 1) direction: the minimizer of each active model's quadratic model (Hessians in one pass)
        hessians = objective.hessian(view.join(models))
        directions = np.zeros_like(models)
        predicted = np.zeros(n_models)  # g^T d + l1 (|w + d|_1 - |w|_1): negative for a descent step
        for k in np.flatnonzero(active):
            directions[k], sweeps = quadratic_model_step(hessians[k], gradients[k], models[k], view.l1[k],
                                                         objective.fit_intercept, options)
            inner_sweeps[k] += sweeps
        moved_l1 = view.l1_values(models + directions) - view.l1_values(models)
        predicted[active] = np.einsum("km,km->k", gradients, directions)[active] + moved_l1[active]
        # a predicted decrease the objective's rounding cannot show (predicted <= -d^T H d: d ~ 0)
        unresolvable = -predicted <= options.ftol * np.maximum(np.abs(values), 1.0)
        old_values = values.copy()

        # 2) backtracking on the true objective, all searching models in one call per trial step
        steps = np.where(active, 1.0, 0.0)
        searching = active & (predicted < 0)
        accepted = np.zeros(n_models, dtype=bool)
        for _ in range(options.max_line_search):
            if not searching.any():
                break
            trial = models + steps[:, None] * directions
            trial_smooth, trial_gradients = view.evaluate(trial, include_l1=False)
            trial_values = trial_smooth + view.l1_values(trial)
            good = searching & np.isfinite(trial_values) & np.all(np.isfinite(trial_gradients), axis=1) \
                & (trial_values <= values + options.c1 * steps * predicted)
            models[good], values[good], gradients[good] = trial[good], trial_values[good], trial_gradients[good]
            accepted |= good
            searching &= ~good
            steps[searching] *= options.shrink
        steps[~accepted] = 0.0

        # 3) convergence: the subgradient test, or both the predicted and the realized decrease
        #    below the objective's rounding (no step, or one that only moved rounding noise);
        #    no step where the model predicts a resolvable decrease is a stall
        subgradients = minimum_norm_subgradients(view, models, gradients)
        norms = max_norms(subgradients)
        converged |= certify(gap, models, gradients, values,
                             active & view.within_tolerance(subgradients, options.tol), options.tol, gaps)
        lost_in_rounding = ~accepted | (relative_decrease(old_values, values) <= options.ftol)
        converged |= active & unresolvable & lost_in_rounding
        stalled |= active & ~accepted & ~converged
        if notify(callback, trace, iteration, values.sum(), norms.max(), steps.max(), view.join(models)):
            message = "stopped by callback"
            break
    message = closing_message(message, converged, stalled)
    result = _result(view, models, values, subgradients, n_iter, converged, trace, message)
    result.info["inner_sweeps"] = int(inner_sweeps[0]) if n_models == 1 else inner_sweeps
    if gap is not None:
        result.info["relative_duality_gap"] = float(gaps[0]) if n_models == 1 else gaps
    return result
