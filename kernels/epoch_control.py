"""Between two stochastic epochs, compiled: the row order, the running objective, the stopping rule, the trace.

Why compiled: the epoch kernels (``stochastic_dense``, ``stochastic_csr``) run a whole fit's epochs in
one call when nothing in Python has to see each epoch (no callback, no exact-objective trace, no
prefetching thread). Between epochs the Python driver spent ~40 us (the permutation call, numpy
reductions for the running objective, the per-model stopping rule, the trace row), more than an
epoch over breast_cancer (569 x 30 rows: ~11 us), so a default ``SGDClassifier`` fit there took
2.5 ms against scikit-learn's 1.6 ms, whose Cython runs all epochs in one call.

The helpers here are the only definition of these steps: the kernels call them after every epoch,
and the driver calls :func:`apply_stopping_rule` itself (a compiled call from Python) when the trace
holds the exact objective, which only Python evaluates.

Contract: ``models`` (intp, one per weight column) maps a column to its model (all zeros for the K
classes of one multinomial model; else column k is model k); ``weight_sum``, ``best_objective``,
``no_improvement`` (int64), ``converged`` (bool), ``n_iter`` (int64) and ``values_out`` have one
entry per model; ``learning_rate`` one per column (eta0, which the "adaptive" schedule divides);
``stop_rule`` holds ``STOP_TOL`` (negative: no rule), ``STOP_PATIENCE`` (``n_iter_no_change``) and
``STOP_ADAPTIVE`` (1.0 for the "adaptive" schedule); ``trace_out`` rows are (seconds since
``trace_start`` on ``time.perf_counter``'s clock, objective summed over models, largest step rate,
``trace_start`` itself). A negative ``trace_start`` asks the epoch kernel to start the clock at its own
entry (:func:`trace_origin`): after any compilation or cache load of the kernel, which the driver then
needs no scratch call to keep out of the trace.
"""
import numpy as np

from ._jit import is_finite, jit_inline, perf_counter
from ._optimizers import ACTIVE, ETA0, L1, L2, NON_FINITE, NON_FINITE_OBJECTIVE, OK, finish_epoch
from .shuffle import epoch_permutation

# indices into ``stop_rule``
STOP_TOL = 0
STOP_PATIENCE = 1
STOP_ADAPTIVE = 2
N_STOP_RULE = 3
# the "adaptive" schedule divides eta0 by this when a model stalls, until eta0 is at most MIN_ADAPTIVE_RATE
ADAPTIVE_DIVISOR = 5.0
MIN_ADAPTIVE_RATE = 1e-6
# columns of ``trace_out``
TRACE_SECONDS = 0
TRACE_OBJECTIVE = 1
TRACE_STEP = 2
TRACE_ORIGIN = 3
N_TRACE = 4


@jit_inline
def trace_origin(trace_start):
    """The clock's origin of an epoch kernel's trace rows: ``trace_start``, or when it is negative the
    time of this call (the kernel's entry)."""
    return perf_counter() if trace_start < 0.0 else trace_start


@jit_inline
def begin_epoch(seed, epoch, shuffle, order, models, converged, learning_rate, columns):
    """Set each column's rate and whether it takes part (its model has not converged) in ``columns``;
    when some column does, draw the epoch's row order into ``order`` and return True."""
    any_active = False
    for k in range(models.shape[0]):
        active = not converged[models[k]]
        columns[ACTIVE, k] = 1.0 if active else 0.0
        columns[ETA0, k] = learning_rate[k]
        any_active = any_active or active
    if not any_active:
        return False
    if shuffle:
        epoch_permutation(seed, epoch, order)
    else:
        for i in range(order.shape[0]):
            order[i] = i
    return True


@jit_inline
def running_objective(loss_sum, weights, columns, models, weight_sum, values_out):
    """scikit-learn's epoch objective per model: the mean loss seen during the epoch (before each
    step) plus the penalty of ``weights`` (model-major, intercept last: the weights the solver
    returns); returns False if a value is not finite."""
    n_features = weights.shape[1] - 1
    for m in range(values_out.shape[0]):
        values_out[m] = loss_sum[m] / weight_sum[m]
    for k in range(models.shape[0]):
        l2, l1 = columns[L2, k], columns[L1, k]
        squares = 0.0
        for j in range(n_features):
            squares += weights[k, j] * weights[k, j]
        values_out[models[k]] += 0.5 * l2 * squares
        if l1 != 0.0:
            absolutes = 0.0
            for j in range(n_features):
                absolutes += abs(weights[k, j])
            values_out[models[k]] += l1 * absolutes
    finite = True
    for m in range(values_out.shape[0]):
        finite = finite and is_finite(values_out[m])
    return finite


@jit_inline
def apply_stopping_rule(values, stop_rule, models, learning_rate, best_objective, no_improvement, converged):
    """scikit-learn's rule, per model that has not converged: an epoch whose objective is not below
    the model's best minus ``tol`` is one more without improvement; after ``n_iter_no_change`` of them
    the model converges, or under the "adaptive" schedule (while its eta0 is above
    ``MIN_ADAPTIVE_RATE``) its columns' eta0 is divided by ``ADAPTIVE_DIVISOR`` and the count restarts."""
    tol = stop_rule[STOP_TOL]
    if tol < 0.0:
        return
    for m in range(values.shape[0]):
        if converged[m]:
            continue
        if values[m] > best_objective[m] - tol:
            no_improvement[m] += 1
        else:
            no_improvement[m] = 0
        best_objective[m] = min(best_objective[m], values[m])
        if no_improvement[m] < stop_rule[STOP_PATIENCE]:
            continue
        largest_rate = 0.0
        for k in range(models.shape[0]):
            if models[k] == m:
                largest_rate = max(largest_rate, learning_rate[k])
        if stop_rule[STOP_ADAPTIVE] != 0.0 and largest_rate > MIN_ADAPTIVE_RATE:
            for k in range(models.shape[0]):
                if models[k] == m:
                    learning_rate[k] /= ADAPTIVE_DIVISOR
            no_improvement[m] = 0
        else:
            converged[m] = True


@jit_inline
def close_epoch(params, coef_scale, loss_sum, average, averaging_started, columns, models, weight_sum, stop_rule,
                learning_rate, best_objective, no_improvement, converged, n_iter, values_out, eta, trace_out,
                trace_row, trace_start):
    """After an epoch: fold the SGD scales into the weights (``_optimizers.finish_epoch``); if they and
    the loss stayed finite, count the epoch for the models that took part, evaluate the running
    objective of the weights the solver returns (the averages once ``averaging_started``), apply the
    stopping rule and write the trace row. Returns ``OK``, ``NON_FINITE`` (a weight or the loss) or
    ``NON_FINITE_OBJECTIVE`` (nothing is counted as converged then)."""
    if finish_epoch(params, coef_scale, loss_sum) != OK:
        return NON_FINITE
    for m in range(n_iter.shape[0]):
        if not converged[m]:
            n_iter[m] += 1
    weights = average if averaging_started else params
    if not running_objective(loss_sum, weights, columns, models, weight_sum, values_out):
        return NON_FINITE_OBJECTIVE
    apply_stopping_rule(values_out, stop_rule, models, learning_rate, best_objective, no_improvement, converged)
    total = 0.0
    for m in range(values_out.shape[0]):
        total += values_out[m]
    largest_step = -np.inf
    for k in range(eta.shape[0]):
        largest_step = max(largest_step, eta[k])
    trace_out[trace_row, TRACE_SECONDS] = perf_counter() - trace_start
    trace_out[trace_row, TRACE_OBJECTIVE] = total
    trace_out[trace_row, TRACE_STEP] = largest_step
    trace_out[trace_row, TRACE_ORIGIN] = trace_start
    return OK


__all__ = ["apply_stopping_rule", "begin_epoch", "close_epoch", "running_objective", "trace_origin"]
