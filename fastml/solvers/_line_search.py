"""Line searches for many independent models at once, and the per-model view of the objective.

Design: a batched full-batch solver moves ``n_models`` independent models (K penalty strengths, K
folds) that share every pass over ``X``: :meth:`fastml.LinearObjective.values_and_gradients`
evaluates all of them in one fused call. To keep that sharing inside the line search, each model's
search is a small state machine, a Python generator that yields its next trial step and receives the
value and slope found there, and a driver advances all unfinished searches together, so that every
line-search step of every model costs ONE objective call. A model whose search has ended (or that
has converged) keeps its parameters in the batch. Because no model ever sees another model's
numbers, a batched run follows the same path as K separate runs.

:class:`ModelView` reshapes the flat parameters ``w`` into one row per model: column ``k`` of the
``(n_features + fit_intercept, n_outputs)`` coefficient matrix for K one-score models, the whole
matrix for a single (e.g. multinomial) model.
"""
import numpy as np

_EPS = np.finfo(np.float64).eps
# relative rounding of an objective value (the L-BFGS ftol default): a predicted decrease below it is noise
_ROUNDING = 64 * _EPS


class ModelView:
    """The objective seen as ``n_models`` independent problems, parameters of shape (n_models, model_size).

    Parameters
    ----------
    objective : LinearObjective
        The objective; its evaluations are counted in :attr:`n_evaluations`.
    """

    def __init__(self, objective):
        self.objective = objective
        self.n_models = objective.n_models
        rows, columns = objective.coef_shape
        self.model_size = rows * columns // self.n_models
        penalized = np.zeros(objective.coef_shape, dtype=bool)
        penalized[: objective.n_features] = True
        # which entries of a model's vector are coefficients (penalized), not intercepts
        self.penalized = penalized.ravel() if self.n_models == 1 else penalized[:, 0].copy()
        self.l1 = np.asarray(objective.l1, dtype=np.float64)
        self.n_evaluations = 0
        self._tolerance_scales = None  # see tolerance_scales

    # -- reshaping --------------------------------------------------------------------------------
    def split(self, matrix_or_flat):
        """Flat parameters (or a ``coef_shape`` matrix) -> (n_models, model_size), a new array."""
        matrix = np.asarray(matrix_or_flat, dtype=np.float64).reshape(self.objective.coef_shape)
        return matrix.reshape(1, -1).copy() if self.n_models == 1 else np.ascontiguousarray(matrix.T)

    def join(self, models):
        """(n_models, model_size) -> flat parameters (a new array)."""
        return models.ravel().copy() if self.n_models == 1 else np.ascontiguousarray(models.T).ravel()

    def start(self, w0):
        """Checked start point: ``w0`` or the objective's intercept-only start, as (n_models, model_size)."""
        if w0 is None:
            return self.split(self.objective.initial_parameters())
        w0 = np.asarray(w0, dtype=np.float64)
        if w0.size != self.objective.n_params:
            raise ValueError(f"w0 must have {self.objective.n_params} entries (n_features + fit_intercept) "
                             f"x n_outputs = {self.objective.coef_shape}, got shape {w0.shape}")
        if not np.all(np.isfinite(w0)):
            raise ValueError("w0 contains NaN or infinity")
        return self.split(w0.ravel())

    # -- evaluations ------------------------------------------------------------------------------
    def evaluate(self, models, include_l1=True):
        """Values (n_models,) and gradients (n_models, model_size) of all models: one pass over ``X``."""
        values, gradient = self.objective.values_and_gradients(self.join(models), include_l1=include_l1)
        self.n_evaluations += 1
        return np.asarray(values, dtype=np.float64), self.split(gradient)

    def hessp(self, models, directions):
        """Hessian of the smooth part times ``directions``, per model (one pass over ``X``)."""
        product = self.objective.hessp(self.join(models), self.join(directions))
        self.n_evaluations += 1
        return self.split(product)

    def tolerance_scales(self):
        """(n_models, model_size): each entry's share of ``tol`` in the convergence test, its feature's
        scale (:meth:`fastml.LinearObjective.feature_scales`: free for dense ``X``, one pass over CSR
        ``X`` on first use), 1 for an intercept."""
        if self._tolerance_scales is None:
            objective = self.objective
            matrix = np.ones(objective.coef_shape)
            scales = objective.feature_scales()
            matrix[: objective.n_features] = scales if self.n_models > 1 else scales[:, :1]
            self._tolerance_scales = self.split(matrix)
        return self._tolerance_scales

    def within_tolerance(self, gradients, tol):
        """Per model: is every gradient entry at most ``tol`` times its :meth:`tolerance_scales`?

        The gradient max-norm test first; only models that pass it need the scales, so a solver on
        CSR ``X`` pays their pass once, when the first model is close to converging.
        """
        passed = max_norms(gradients) <= tol
        if passed.any():
            scaled = np.abs(gradients[passed]) <= tol * self.tolerance_scales()[passed]
            passed[passed] = scaled.all(axis=1)
        return passed

    def l1_values(self, models):
        """``l1_k * ||coef_k||_1`` per model (zero where l1 is zero)."""
        return self.l1 * np.abs(models[:, self.penalized]).sum(axis=1)


class NonFiniteObjectiveError(ValueError):
    """The objective or its gradient overflowed (or X holds NaN/inf) during a solver run."""


def require_finite(values, gradients, where):
    """Raise :class:`NonFiniteObjectiveError` (a ``ValueError``) suggesting to scale the features when
    a value or gradient is not finite."""
    bad = ~np.isfinite(values) | ~np.all(np.isfinite(gradients), axis=1)
    if np.any(bad):
        models = np.flatnonzero(bad).tolist()
        raise NonFiniteObjectiveError(
            f"the objective or its gradient is not finite {where} (model {models[0] if len(models) == 1 else models}): "
            "the data may hold NaN/inf or features of very different scales; standardize X "
            "(e.g. sklearn.preprocessing.StandardScaler) or increase the L2 penalty")


def max_norms(gradients):
    """Max-norm of each model's gradient, shape (n_models,)."""
    return np.abs(gradients).max(axis=1) if gradients.shape[1] else np.zeros(len(gradients))


def relative_decrease(old_values, new_values):
    """``(f_old - f_new) / max(|f_old|, |f_new|, 1)`` per model (the scipy/L-BFGS-B ``ftol`` test)."""
    scale = np.maximum(np.maximum(np.abs(old_values), np.abs(new_values)), 1.0)
    return (old_values - new_values) / scale


# -- strong Wolfe line search, one generator per model -------------------------------------------------
def _cubic_minimizer(a, fa, ga, b, fb, gb):
    """Minimizer of the cubic through (a, fa, fa') and (b, fb, fb'), or NaN when it has none."""
    with np.errstate(all="ignore"):
        d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
        radicand = d1 * d1 - ga * gb
        if not np.isfinite(radicand) or radicand < 0.0:
            return np.nan
        d2 = np.copysign(np.sqrt(radicand), b - a)
        return b - (b - a) * (gb + d2 - d1) / (gb - ga + 2.0 * d2)


def wolfe_search(phi0, slope0, step, c1=1e-4, c2=0.9, max_steps=30, max_step=1e10):
    """One model's strong Wolfe line search (Nocedal & Wright, algorithms 3.5 and 3.6), as a generator.

    Yields trial steps and receives ``(phi, slope, payload)`` for each: the objective along the
    direction, its derivative and whatever the driver wants back for the accepted point (its
    gradient). A non-finite ``phi`` counts as "step too long". Returns ``(step, phi, payload)`` of the
    accepted point, or of the best point with sufficient decrease when the strong Wolfe conditions
    were not met within ``max_steps`` trials, or None when no trial decreased the objective.
    """
    armijo_limit = -c1 * slope0  # sufficient decrease: phi <= phi0 - step * armijo_limit
    curvature_limit = -c2 * slope0  # strong Wolfe: |slope| <= curvature_limit
    best = None  # best point with sufficient decrease, the answer if the search runs out of trials

    def sufficient(a, phi):
        return np.isfinite(phi) and phi <= phi0 - a * armijo_limit

    # bracketing phase: grow the step until it brackets a Wolfe point
    prev_step, prev_phi, prev_slope = 0.0, phi0, slope0
    lo = hi = None
    for trial_index in range(max_steps):
        phi, slope, payload = yield step
        if not sufficient(step, phi) or (trial_index > 0 and phi >= prev_phi):
            lo, hi = (prev_step, prev_phi, prev_slope, None), (step, phi, slope)
            break
        best = (step, phi, payload)
        if abs(slope) <= curvature_limit:
            return best
        if slope >= 0.0:
            lo, hi = (step, phi, slope, payload), (prev_step, prev_phi, prev_slope)
            break
        next_step = _cubic_minimizer(prev_step, prev_phi, prev_slope, step, phi, slope)
        if not np.isfinite(next_step) or not (2.0 * step <= next_step <= 10.0 * step):
            next_step = 4.0 * step
        prev_step, prev_phi, prev_slope = step, phi, slope
        step = min(next_step, max_step)
        if prev_step >= max_step:
            return best
    else:
        return best

    # zoom phase: lo has sufficient decrease (or is the start), hi brackets a Wolfe point with lo
    lo_step, lo_phi, lo_slope, lo_payload = lo
    hi_step, hi_phi, hi_slope = hi
    for _ in range(max_steps):
        width = hi_step - lo_step
        if abs(width) <= _EPS * max(abs(lo_step), 1e-300):
            break
        step = np.nan
        if np.isfinite(hi_phi) and np.isfinite(hi_slope):
            step = _cubic_minimizer(lo_step, lo_phi, lo_slope, hi_step, hi_phi, hi_slope)
        low, high = sorted((lo_step + 0.1 * width, hi_step - 0.1 * width))
        if not np.isfinite(step):
            step = lo_step + 0.5 * width
        else:
            # safeguard by clamping (More-Thuente), at least a tenth of the interval from either end: a
            # minimizer far below it (every trial far above phi0) shrinks the step tenfold per trial
            # where bisection halved it (a 1e8 +- 1 feature's first direction: 13 trials instead of 30)
            step = min(max(step, low), high)
        if best is None and -slope0 * step <= _ROUNDING * max(abs(phi0), 1.0):
            # no decrease yet, and what a step this short could decrease is below the objective's
            # rounding: no trial can show one (the line search of a 1e8 +- 1 feature's first direction
            # ran its 30 trials, 30 passes over X, to learn that)
            break
        phi, slope, payload = yield step
        if not sufficient(step, phi) or phi >= lo_phi:
            hi_step, hi_phi, hi_slope = step, phi, slope
            continue
        best = (step, phi, payload)
        if abs(slope) <= curvature_limit:
            return best
        if slope * (hi_step - lo_step) >= 0.0:
            hi_step, hi_phi, hi_slope = lo_step, lo_phi, lo_slope
        lo_step, lo_phi, lo_slope = step, phi, slope
    return best


def batched_wolfe_search(view, models, directions, values, slopes, steps, searching, c1=1e-4, c2=0.9,
                         max_steps=30):
    """Strong Wolfe line searches of the ``searching`` models, one objective call per step for all.

    Parameters
    ----------
    view : ModelView
    models, directions : ndarray, shape (n_models, model_size)
        Current points and descent directions.
    values, slopes : ndarray, shape (n_models,)
        Objective values at ``models`` and directional derivatives (negative).
    steps : ndarray, shape (n_models,)
        First trial step per model.
    searching : ndarray of bool, shape (n_models,)
        Models to move; the others keep their parameters in every evaluation.

    Returns
    -------
    results : dict
        ``{model: (step, value, gradient)}`` for each searching model whose search found a decrease
        (``None`` for the others).
    """
    searches = {k: wolfe_search(values[k], slopes[k], steps[k], c1=c1, c2=c2, max_steps=max_steps)
                for k in np.flatnonzero(searching)}
    trials = {k: next(search) for k, search in searches.items()}
    results = {}
    while trials:
        points = models.copy()
        for k, step in trials.items():
            points[k] = models[k] + step * directions[k]
        trial_values, trial_gradients = view.evaluate(points)
        for k in list(trials):
            gradient = trial_gradients[k]
            slope = float(gradient @ directions[k]) if np.all(np.isfinite(gradient)) else np.nan
            try:
                trials[k] = searches[k].send((trial_values[k], slope, gradient))
            except StopIteration as stop:
                results[k] = stop.value
                del trials[k]
    return results


def batched_armijo(view, models, directions, values, gradients, searching, c1=1e-4, shrink=0.5,
                   max_steps=40, include_l1=True, slopes=None, coordinates=None):
    """Backtracking (Armijo) line searches from step 1, one objective call per step for all models.

    A step is accepted when it decreases the objective enough, or, once the decrease is lost in
    rounding (``|f_new - f| <= 64 eps |f|``), when it reduces the gradient's 1-norm, so that a Newton
    step near the optimum is not rejected because of rounding noise in ``f``.
    ``slopes`` (default ``gradients . directions``) and ``coordinates`` (a function mapping raw
    gradients to those whose 1-norm is compared; default the raw ones) let a solver that works in
    other coordinates (Newton's ``ShiftedCoordinates``) give both in its own, where rounding has
    not cancelled them.

    Returns
    -------
    steps, new_values, new_gradients : ndarray
        Accepted step (0 where none), and value and gradient there (the old ones where none).
    accepted : ndarray of bool
    """
    steps = np.where(searching, 1.0, 0.0)
    new_values, new_gradients = values.copy(), gradients.copy()
    accepted = np.zeros(len(values), dtype=bool)
    if slopes is None:
        slopes = np.einsum("km,km->k", gradients, directions)
    if coordinates is None:
        def coordinates(raw_gradients):
            return raw_gradients
    gradient_l1 = np.abs(coordinates(gradients)).sum(axis=1)
    pending = searching.copy()
    for _ in range(max_steps):
        if not pending.any():
            break
        points = models.copy()
        points[pending] += steps[pending, None] * directions[pending]
        trial_values, trial_gradients = view.evaluate(points, include_l1=include_l1)
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(trial_values) & np.all(np.isfinite(trial_gradients), axis=1)
            decrease = trial_values <= values + c1 * steps * slopes
            in_noise = np.abs(trial_values - values) <= 64 * _EPS * np.abs(values)
            smaller_gradient = np.abs(coordinates(trial_gradients)).sum(axis=1) < gradient_l1
        ok = pending & finite & (decrease | (in_noise & smaller_gradient))
        new_values[ok], new_gradients[ok] = trial_values[ok], trial_gradients[ok]
        accepted |= ok
        pending &= ~ok
        steps[pending] *= shrink
    steps[~accepted] = 0.0
    return steps, new_values, new_gradients, accepted
