"""L-BFGS for one model on a small ``X``, the whole solver loop in one compiled call.

Why: on a small problem (breast_cancer: 569 x 30) one fused pass over ``X`` takes ~10 microseconds,
while a Python solver iteration (two-loop recursion, line-search bookkeeping, array wrappers) costs
~200: the solver, not the data, sets the fit time. This kernel runs the algorithm of
``fastml.solvers.lbfgs`` -- two-loop recursion with an initial inverse Hessian ``gamma * P^-1``
(``P^-1`` the sampled-Hessian preconditioner, or the identity), strong Wolfe line search
(Nocedal & Wright, algorithms 3.5/3.6, cubic interpolation), the same stopping rules -- with the
serial fused loss+gradient kernels called directly, so an iteration costs little more than its pass.

Contract (no validation): ``design`` is ``(X,)`` for dense ``X`` (C or F order) or
``(data, indices, indptr)`` for CSR; ``y``/``sample_weight`` float64 (n_samples, 1); ``w`` the flat
parameters ``(n_features + fit_intercept) x n_outputs`` (one model: ``n_outputs`` is 1, or the
classes of the multinomial loss), updated in place; ``preconditioner_inverse`` (n_params, n_params)
or (0, 0) for none; ``tolerances`` (n_params,) the largest gradient entry each parameter may have at
convergence (``tol`` times its feature's scale); with ``square_sums`` of shape (n_features, 1) (dense
``X`` only; (0, 0) otherwise) the first pass forms the weighted column sums of squares into it and
multiplies the coefficients' ``tolerances`` (given as ``tol``) by the feature scales they give, at
least ``min_scale`` (no separate pass over ``X``); ``trace_out`` (max_iter + 1, 4) receives per
iteration the objective, gradient max-norm, step and seconds since the first evaluation. Returns ``(n_iter, status, n_evaluations,
preconditioned)``, the last False when the preconditioner was dropped (its step found no decrease).
"""
import numpy as np
from numba.extending import overload

from ._jit import is_finite, jit_inline, jit_kernel, perf_counter
from .objective_csr import loss_grad_csr
from .objective_dense import loss_grad_dense

# the serial twins, bound to names: compiled code cannot look up a dispatcher's attribute
_loss_grad_dense_serial = loss_grad_dense.serial
_loss_grad_csr_serial = loss_grad_csr.serial

CONVERGED = 0
MAX_ITER = 1
STALLED = 2
NON_FINITE = 3

_EPS = np.finfo(np.float64).eps
# relative rounding of an objective value (the ftol default): a predicted decrease below it is noise
_ROUNDING = 64 * _EPS


def fused_loss_grad(design, n_features, y, sample_weight, coef, intercept, loss_id, param, loss_out,
                    grad_coef_out, grad_intercept_out, square_sums_out):
    """Weighted loss sum and gradients by the serial fused kernel of ``design``'s storage (compiled
    only); dense ``X`` also gives its weighted column sums of squares when ``square_sums_out`` has rows."""
    raise NotImplementedError("fused_loss_grad is compiled into lbfgs_single only")


@overload(fused_loss_grad)
def _fused_loss_grad(design, n_features, y, sample_weight, coef, intercept, loss_id, param, loss_out,
                     grad_coef_out, grad_intercept_out, square_sums_out):
    if len(design.types) == 1:
        def dense(design, n_features, y, sample_weight, coef, intercept, loss_id, param, loss_out,
                  grad_coef_out, grad_intercept_out, square_sums_out):
            _loss_grad_dense_serial(design[0], y, sample_weight, coef, intercept, loss_id, param, 1,
                                   loss_out, grad_coef_out, grad_intercept_out, np.zeros(1, dtype=np.int64),
                                   square_sums_out)
        return dense

    def csr(design, n_features, y, sample_weight, coef, intercept, loss_id, param, loss_out,
            grad_coef_out, grad_intercept_out, square_sums_out):
        _loss_grad_csr_serial(design[0], design[1], design[2], n_features, y, sample_weight, coef, intercept,
                             loss_id, param, 1, loss_out, grad_coef_out, grad_intercept_out,
                             np.zeros(1, dtype=np.int64))
    return csr


@jit_inline
def _evaluate(design, n_features, n_outputs, fit_intercept, y, sample_weight, loss_id, param, l2,
              inv_weight_sum, w, grad_out, loss_buffer, grad_coef, grad_intercept, square_sums):
    """Objective (mean loss + L2) at ``w``, its gradient written to ``grad_out`` (and, for dense ``X``
    and a ``square_sums`` with rows, the weighted column sums of squares)."""
    n_rows = n_features + fit_intercept
    matrix = w.reshape((n_rows, n_outputs))
    coef = np.ascontiguousarray(matrix[:n_features])
    intercept = np.zeros(n_outputs)
    if fit_intercept:
        for c in range(n_outputs):
            intercept[c] = matrix[n_features, c]
    fused_loss_grad(design, n_features, y, sample_weight, coef, intercept, loss_id, param, loss_buffer,
                    grad_coef, grad_intercept, square_sums)
    penalty = 0.0
    gradient = grad_out.reshape((n_rows, n_outputs))
    for j in range(n_features):
        for c in range(n_outputs):
            penalty += coef[j, c] * coef[j, c]
            gradient[j, c] = grad_coef[j, c] * inv_weight_sum + l2 * coef[j, c]
    if fit_intercept:
        for c in range(n_outputs):
            gradient[n_features, c] = grad_intercept[c] * inv_weight_sum
    return loss_buffer[0] * inv_weight_sum + 0.5 * l2 * penalty


@jit_inline
def _try_step(design, n_features, n_outputs, fit_intercept, y, sample_weight, loss_id, param, l2,
              inv_weight_sum, w, direction, step, trial, trial_gradient, loss_buffer, grad_coef, grad_intercept):
    """Objective at ``trial = w + step direction`` (its gradient to ``trial_gradient``) and the slope
    along ``direction`` there (NaN when the gradient is not finite)."""
    for i in range(w.shape[0]):
        trial[i] = w[i] + step * direction[i]
    value = _evaluate(design, n_features, n_outputs, fit_intercept, y, sample_weight, loss_id, param, l2,
                      inv_weight_sum, trial, trial_gradient, loss_buffer, grad_coef, grad_intercept,
                      np.empty((0, 0)))
    if not _all_finite(0.0, trial_gradient):
        return value, np.nan
    slope = 0.0
    for i in range(w.shape[0]):
        slope += trial_gradient[i] * direction[i]
    return value, slope


@jit_inline
def _max_abs(vector):
    largest = 0.0
    for value in vector:
        largest = max(largest, abs(value))
    return largest


@jit_inline
def _within(vector, tolerances):
    """Whether ``|vector[i]| <= tolerances[i]`` for every entry."""
    for i in range(vector.shape[0]):
        if not abs(vector[i]) <= tolerances[i]:
            return False
    return True


@jit_inline
def _all_finite(value, vector):
    if not is_finite(value):
        return False
    for entry in vector:
        if not is_finite(entry):
            return False
    return True


@jit_inline
def _cubic_minimizer(a, fa, ga, b, fb, gb):
    """Minimizer of the cubic through (a, fa, fa') and (b, fb, fb'), or NaN when it has none."""
    d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
    radicand = d1 * d1 - ga * gb
    if not is_finite(radicand) or radicand < 0.0:
        return np.nan
    d2 = np.sqrt(radicand) if b >= a else -np.sqrt(radicand)
    return b - (b - a) * (gb + d2 - d1) / (gb - ga + 2.0 * d2)


@jit_inline
def _two_loop(s_history, y_history, rho, newest, n_pairs, gradient, preconditioner_inverse, scale, alpha, q, r):
    """``r = H g`` by the two-loop recursion over the ``n_pairs`` newest pairs of the ring buffers
    (slot ``newest`` the newest), ``H0 = scale * P^-1`` (``scale * I`` without a preconditioner).

    Each sweep of the first loop subtracts one pair's ``y`` and already forms the next pair's
    ``s . q``, and each sweep of the second adds one pair's ``s`` and forms the next ``y . r``: one
    read of ``q``/``r`` per pair, not two.
    """
    memory, n_params = s_history.shape
    for i in range(n_params):
        q[i] = gradient[i]
    slot = newest
    dot = 0.0
    for i in range(n_params):
        dot += s_history[slot, i] * q[i]
    for back in range(n_pairs):
        slot = (newest - back) % memory
        alpha[slot] = rho[slot] * dot
        step = alpha[slot]
        dot = 0.0
        if back + 1 < n_pairs:
            following = (newest - back - 1) % memory
            for i in range(n_params):
                q[i] -= step * y_history[slot, i]
                dot += s_history[following, i] * q[i]
        else:
            for i in range(n_params):
                q[i] -= step * y_history[slot, i]
    _apply_initial(preconditioner_inverse, scale, q, r)
    slot = (newest - n_pairs + 1) % memory
    dot = 0.0
    for i in range(n_params):
        dot += y_history[slot, i] * r[i]
    for forward in range(n_pairs - 1, -1, -1):
        slot = (newest - forward) % memory
        step = alpha[slot] - rho[slot] * dot
        dot = 0.0
        if forward > 0:
            following = (newest - forward + 1) % memory
            for i in range(n_params):
                r[i] += step * s_history[slot, i]
                dot += y_history[following, i] * r[i]
        else:
            for i in range(n_params):
                r[i] += step * s_history[slot, i]


@jit_kernel
def two_loop_direction(s_history, y_history, rho, newest, n_pairs, gradient, scale, out):
    """``out = -H g`` of one model's pairs (ring buffers of shape (memory, n_params)), ``H0 = scale * I``:
    for ``fastml.solvers._curvature_memory`` on wide models, where numpy's passes and temporaries
    over the pairs took as long as the pass over a sparse ``X`` (13 ms per direction at 2^18
    parameters and 10 pairs)."""
    memory, n_params = s_history.shape
    alpha = np.empty(memory)
    q = np.empty(n_params)
    _two_loop(s_history, y_history, rho, newest, n_pairs, gradient, np.empty((0, 0)), scale, alpha, q, out)
    for i in range(n_params):
        out[i] = -out[i]


@jit_inline
def _apply_initial(preconditioner_inverse, scale, vector, out):
    """``out = scale * P^-1 vector`` (``scale * vector`` without a preconditioner)."""
    n = vector.shape[0]
    if preconditioner_inverse.shape[0] == 0:
        for i in range(n):
            out[i] = scale * vector[i]
    else:
        for i in range(n):
            total = 0.0
            for j in range(n):
                total += preconditioner_inverse[i, j] * vector[j]
            out[i] = scale * total


@jit_inline
def feature_scales_from_squares(square_sums, weight_sums, min_scale, out):
    """``out = clip(sqrt(square_sums / weight_sums), min_scale, 1)``: each feature's share of ``tol``
    in the convergence test, from its weighted sum of squares (see
    ``fastml.LinearObjective.feature_scales``, which calls this too)."""
    for j in range(square_sums.shape[0]):
        for k in range(square_sums.shape[1]):
            out[j, k] = min(1.0, max(min_scale, np.sqrt(square_sums[j, k] / weight_sums[k])))


@jit_kernel
def lbfgs_single(design, n_features, n_outputs, fit_intercept, y, sample_weight, loss_id, param, l2,
                 weight_sum, w, preconditioner_inverse, memory, max_iter, max_line_search, tolerances, ftol, c1, c2,
                 trace_out, square_sums, min_scale):
    """Minimize one model's smooth objective with L-BFGS; see the module docstring."""
    n_params = w.shape[0]
    inv_weight_sum = 1.0 / weight_sum
    loss_buffer = np.empty(1)
    grad_coef = np.empty((n_features, n_outputs))
    grad_intercept = np.empty(n_outputs)
    gradient = np.empty(n_params)
    trial_gradient = np.empty(n_params)
    trial = np.empty(n_params)
    direction = np.empty(n_params)
    q = np.empty(n_params)
    r = np.empty(n_params)
    s_history = np.empty((memory, n_params))
    y_history = np.empty((memory, n_params))
    rho = np.empty(memory)
    alpha = np.empty(memory)
    preconditioned = preconditioner_inverse.shape[0] > 0
    no_preconditioner = np.empty((0, 0))
    # best point with sufficient decrease found by the line search, and its gradient
    best_point = np.empty(n_params)
    best_gradient = np.empty(n_params)

    value = _evaluate(design, n_features, n_outputs, fit_intercept, y, sample_weight, loss_id, param, l2,
                      inv_weight_sum, w, gradient, loss_buffer, grad_coef, grad_intercept, square_sums)
    n_evaluations = 1
    if square_sums.shape[0] > 0:  # dense X: the first pass gave the feature scales of the tolerances
        scales = np.empty((n_features, 1))
        feature_scales_from_squares(square_sums, np.full(1, weight_sum), min_scale, scales)
        for j in range(n_features):
            for c in range(n_outputs):
                tolerances[j * n_outputs + c] *= scales[j, 0]
    start = perf_counter()
    trace_out[0, 0] = value
    trace_out[0, 1] = _max_abs(gradient)
    trace_out[0, 2] = np.nan
    trace_out[0, 3] = 0.0
    if not _all_finite(value, gradient):
        return 0, NON_FINITE, n_evaluations, preconditioned
    if _within(gradient, tolerances):
        return 0, CONVERGED, n_evaluations, preconditioned

    n_pairs = 0
    newest = -1
    scale = 1.0
    status = MAX_ITER
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        # 1) direction: two-loop recursion, or the preconditioned (Newton-like) / steepest-descent start
        first_step = 1.0
        if n_pairs > 0:
            _two_loop(s_history, y_history, rho, newest, n_pairs, gradient,
                      preconditioner_inverse if preconditioned else no_preconditioner, scale, alpha, q, r)
            for i in range(n_params):
                direction[i] = -r[i]
        elif preconditioned:
            scale = 1.0
            _apply_initial(preconditioner_inverse, 1.0, gradient, r)
            for i in range(n_params):
                direction[i] = -r[i]
        slope = 0.0
        for i in range(n_params):
            slope += direction[i] * gradient[i]
        if (n_pairs == 0 and not preconditioned) or not slope < 0.0:
            n_pairs = 0
            norm = 0.0
            for i in range(n_params):
                direction[i] = -gradient[i]
                norm += gradient[i] * gradient[i]
            slope = -norm
            first_step = 1.0 / max(np.sqrt(norm), _EPS)  # a unit move, as L-BFGS-B

        # 2) strong Wolfe line search along ``direction`` from ``w``
        armijo_limit = -c1 * slope
        curvature_limit = -c2 * slope
        found = False
        found_step = 0.0
        found_value = 0.0
        step = first_step
        prev_step, prev_value, prev_slope = 0.0, value, slope
        lo_step, lo_value, lo_slope = 0.0, value, slope
        hi_step, hi_value, hi_slope = 0.0, value, slope
        zoom = False
        done = False
        trials = 0
        while trials < max_line_search and not done:  # bracketing phase
            trial_value, trial_slope = _try_step(design, n_features, n_outputs, fit_intercept, y, sample_weight,
                                                 loss_id, param, l2, inv_weight_sum, w, direction, step, trial,
                                                 trial_gradient, loss_buffer, grad_coef, grad_intercept)
            n_evaluations += 1
            sufficient = is_finite(trial_value) and trial_value <= value - step * armijo_limit
            if not sufficient or (trials > 0 and trial_value >= prev_value):
                lo_step, lo_value, lo_slope = prev_step, prev_value, prev_slope
                hi_step, hi_value, hi_slope = step, trial_value, trial_slope
                zoom = True
                done = True
            else:
                found, found_step, found_value = True, step, trial_value
                best_point[:] = trial
                best_gradient[:] = trial_gradient
                if abs(trial_slope) <= curvature_limit:
                    done = True
                elif trial_slope >= 0.0:
                    lo_step, lo_value, lo_slope = step, trial_value, trial_slope
                    hi_step, hi_value, hi_slope = prev_step, prev_value, prev_slope
                    zoom = True
                    done = True
                else:
                    next_step = _cubic_minimizer(prev_step, prev_value, prev_slope, step, trial_value, trial_slope)
                    if not is_finite(next_step) or not (2.0 * step <= next_step <= 10.0 * step):
                        next_step = 4.0 * step
                    prev_step, prev_value, prev_slope = step, trial_value, trial_slope
                    step = min(next_step, 1e10)
                    if prev_step >= 1e10:
                        done = True
            trials += 1
        if zoom:
            for _ in range(max_line_search):
                width = hi_step - lo_step
                if abs(width) <= _EPS * max(abs(lo_step), 1e-300):
                    break
                step = np.nan
                if is_finite(hi_value) and is_finite(hi_slope):
                    step = _cubic_minimizer(lo_step, lo_value, lo_slope, hi_step, hi_value, hi_slope)
                low = min(lo_step + 0.1 * width, hi_step - 0.1 * width)
                high = max(lo_step + 0.1 * width, hi_step - 0.1 * width)
                if not is_finite(step):
                    step = lo_step + 0.5 * width
                else:  # safeguard by clamping, as fastml.solvers._line_search.wolfe_search
                    step = min(max(step, low), high)
                if not found and -slope * step <= _ROUNDING * max(abs(value), 1.0):
                    break  # what this step could decrease is below the objective's rounding (as wolfe_search)
                trial_value, trial_slope = _try_step(design, n_features, n_outputs, fit_intercept, y, sample_weight,
                                                     loss_id, param, l2, inv_weight_sum, w, direction, step, trial,
                                                     trial_gradient, loss_buffer, grad_coef, grad_intercept)
                n_evaluations += 1
                sufficient = is_finite(trial_value) and trial_value <= value - step * armijo_limit
                if not sufficient or trial_value >= lo_value:
                    hi_step, hi_value, hi_slope = step, trial_value, trial_slope
                    continue
                found, found_step, found_value = True, step, trial_value
                best_point[:] = trial
                best_gradient[:] = trial_gradient
                if abs(trial_slope) <= curvature_limit:
                    break
                if trial_slope * (hi_step - lo_step) >= 0.0:
                    hi_step, hi_value, hi_slope = lo_step, lo_value, lo_slope
                lo_step, lo_value, lo_slope = step, trial_value, trial_slope

        # 3) move and update the curvature history
        if not found:
            if -0.5 * slope <= ftol * max(abs(value), 1.0):
                # the decrease the quadratic model predicted is below what the objective's rounding
                # resolves: no line search can show it, and the point is as good as f can tell
                _record(trace_out, iteration, value, _max_abs(gradient), 0.0, start)
                status = CONVERGED
                break
            # the iteration's row keeps the point (a stalled run's trace ends where it stopped too)
            _record(trace_out, iteration, value, _max_abs(gradient), 0.0, start)
            if n_pairs > 0:
                n_pairs = 0  # a stale history can give a poor direction: restart
            elif preconditioned:
                preconditioned = False  # a poor sample Hessian: go on unpreconditioned
            else:
                status = STALLED
                break
            continue
        sy = 0.0
        yy = 0.0
        for i in range(n_params):
            q[i] = best_point[i] - w[i]  # s
            r[i] = best_gradient[i] - gradient[i]  # y
            sy += q[i] * r[i]
            yy += r[i] * r[i]
        if sy > _EPS * yy:  # keeps the inverse-Hessian estimate positive definite
            newest = (newest + 1) % memory  # the oldest pair's slot once the memory is full
            slot = newest
            s_history[slot] = q
            y_history[slot] = r
            rho[slot] = 1.0 / sy
            n_pairs = min(n_pairs + 1, memory)
            # Shanno-Phua scaling of H0, in the preconditioner's metric when there is one
            if preconditioned:
                _apply_initial(preconditioner_inverse, 1.0, y_history[slot], r)
                y_scaled = 0.0
                for i in range(n_params):
                    y_scaled += y_history[slot, i] * r[i]
                scale = sy / y_scaled
            else:
                scale = sy / yy
        old_value = value
        w[:] = best_point
        gradient[:] = best_gradient
        value = found_value
        gradient_norm = _max_abs(gradient)
        _record(trace_out, iteration, value, gradient_norm, found_step, start)
        if not _all_finite(value, gradient):
            status = NON_FINITE
            break
        # 4) convergence: gradient max-norm, or a relative decrease lost in rounding
        if _within(gradient, tolerances):
            status = CONVERGED
            break
        if ftol > 0.0 and (old_value - value) / max(abs(old_value), abs(value), 1.0) <= ftol:
            status = CONVERGED
            break
    return iteration, status, n_evaluations, preconditioned


@jit_inline
def _record(trace_out, iteration, value, gradient_norm, step, start):
    now = perf_counter()
    trace_out[iteration, 0] = value
    trace_out[iteration, 1] = gradient_norm
    trace_out[iteration, 2] = step
    trace_out[iteration, 3] = now - start


__all__ = ["CONVERGED", "MAX_ITER", "NON_FINITE", "STALLED", "lbfgs_single"]
