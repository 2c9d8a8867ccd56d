"""Compiled epochs of minibatch SGD / momentum / Nesterov / Adam / AdamW over dense rows of ``X``.

Design: a whole epoch, or a whole fit's epochs, is one kernel call, so no Python runs per minibatch
(nor, unless the driver has to see each epoch, between epochs: ``epoch_control`` draws each epoch's
row order, evaluates the running objective and applies the stopping rule). Each step (1) computes
the weighted loss derivatives of the batch's rows at the current parameters for all K columns at
once, through ``losses`` (the one definition of every loss); (2) moves the parameters with the
helpers of ``_optimizers``. Plain SGD without clipping updates only through the batch rows (scaled
weights, lazy L1), which makes a batch-size-1 epoch one dot product and one axpy per row; the other
optimizers form the dense minibatch gradient and update every coordinate. Rows are visited in the
order written into ``order`` (a permutation of the seed and the epoch), one at a time, so ``X`` must be
C-contiguous: F-ordered ``X`` would be read with a stride of n_samples per element (the driver
rejects it). float32 rows are widened on load; parameters, moments and sums are float64.

Three loops serve the cases that dominate the time:

* minibatches of the dense-gradient optimizers take their rows in three sweeps
  (:func:`batch_rows_derivatives`): raw predictions, then the losses and derivatives of all rows in
  one ``losses.block_loss_grad`` call (the logistic loss vectorizes over rows there), then the
  gradient from the rows again, now in cache. Per row through ``row_loss_grad`` instead, a 1e6 x 100
  Adam epoch (batch 256) took 0.112 s in row order on one thread; in sweeps, 0.080 s;
* plain SGD one row at a time with one column (:func:`per_sample_epoch_one_column`) keeps every
  per-step setting in registers: the general loop's one-entry arrays and per-column loops cost about
  100 ns per row (a 1e6 x 100 epoch in row order: 0.165 s there, 0.10 s here). Same operations in
  the same order, so the same results;
* plain SGD one row at a time on K columns of a one-score loss (one-vs-all classes, K penalties)
  (:func:`per_sample_epoch_columns`): the general loop called ``row_loss_grad`` and the non-finite
  check out of line every row; written out, 10 one-vs-all logistic classes on 2e5 x 100 rows in row
  order went from 680 to 540 ns a row (hinge 454 -> 331). Same results as the general loop.

Waiting on memory: shuffled rows are random ~1 KB reads. Each loop asks for rows ahead of the one it
reads (``PREFETCH_AHEAD``; a minibatch chunk asks for its own next rows, into the next batch), and a
per-sample epoch (either per-sample loop) over a large ``X`` may have a second thread doing nothing else
(:func:`prefetch_rows_ahead`, started by the driver): one core keeps only so many misses in flight.

Threads: the steps are sequential, but the rows of one minibatch are independent. For the optimizers
that form the dense minibatch gradient, a step with ``n_threads > 1`` splits its rows into that many
contiguous chunks, each thread sums its chunk's gradient into its own buffer, and the buffers are
added in chunk order: bitwise reproducible for a fixed ``n_threads`` (one chunk reproduces the serial
sums exactly). A parallel region costs a few microseconds per step, so the driver asks for threads
only when a chunk holds enough values (``_optimizers.MIN_BATCH_VALUES_PER_THREAD``). Plain SGD's
sparse updates stay serial (the prefetching thread changes no result).

Contract (no validation here): ``X`` (n_samples, n_features) float32/float64, C order, may be
read-only; ``y``/``sample_weight`` float64 (n_samples, 1) or (n_samples, n_columns); ``order`` int64
scratch for the rows of an epoch (its length is the epoch's: a 1-row call compiles the kernel
cheaply); ``params`` (n_columns, n_features + 1) and the state arrays as described in
``_optimizers`` (updated in place); ``loss_sum_out`` (1 for the multinomial loss, else n_columns)
receives the last epoch's weighted loss sum taken before each step (scikit-learn's running loss);
``eta_out`` the last step's rates; ``progress`` int64 (1,): the epoch's position, for
:func:`prefetch_rows_ahead` (n_samples at an epoch's end); ``n_threads`` >= 1 (see above). Epochs
``first_epoch .. first_epoch + n_epochs - 1`` run (rows shuffled from ``seed`` when ``shuffle``)
until every model has converged; the remaining arguments are ``epoch_control``'s (``trace_out``:
``n_epochs`` rows). Returns ``(status, epochs run)``: ``_optimizers.OK``, ``NON_FINITE`` (a weight
or the loss, during the last epoch run) or ``NON_FINITE_OBJECTIVE`` (the running objective after it).
"""
import numpy as np
from numba import prange

from ._jit import is_finite, jit_inline, jit_kernel
from ._optimizers import (ACTIVE, AVERAGE_START, CACHE_LINE_BYTES, CLIP_NORM, ETA0, INTERCEPT_DECAY, L1, L2,
                          MAX_DERIVATIVE, MIN_COEF_SCALE, OK, OPTIMAL_T0, POWER_T, PREFETCH_AHEAD,
                          PREFETCH_AHEAD_BATCH, PROGRESS_INTERVAL, SCALE, SGD, add_l1_totals, average_column,
                          clip_gradient, cumulative_l1, dense_step, fold_scale, l2_shrink_factor, load_acquire,
                          per_sample_step, poison_if_nonfinite, prefetch_item, runs_per_sample_loop,
                          runs_single_column_loop, schedule_rate, shrink_scale, shrink_scales, step_rate, step_rates,
                          store_release, update_average, uses_cumulative_l1)
from .epoch_control import begin_epoch, close_epoch, trace_origin
from .losses import LOGISTIC, block_loss_grad, logistic_grad_from_tail, logistic_loss_from_tail, logistic_tail, row_loss_grad


@jit_inline
def batch_rows_derivatives(X, y, sample_weight, order, first, stop, n_steps_rows, prefetch_skip, loss_id,
                           loss_param, params, coef_scale, columns, n_rows, raw, targets, weights, scratch,
                           loss_sum, derivative, grad):
    """Loss derivatives of the batch rows ``order[first:stop]`` at the current parameters, into
    ``derivative[b]`` (``b`` counted from ``first``), their loss added into ``loss_sum`` and their loss
    gradient into ``grad`` (n_columns, n_features + 1), in row order.

    Three sweeps over the rows: the raw predictions (the rows' first read, prefetched ahead), the
    losses and derivatives of all rows at once (``losses.block_loss_grad``: the loss switch leaves the
    per-row path and the logistic loss vectorizes over rows; the rows' targets and weights are
    gathered into ``targets``/``weights`` for it), then the gradient (the rows read again, from cache).
    ``raw``/``derivative`` are (>= stop - first, n_columns), ``targets``/``weights`` (>= stop - first,
    y's / sample_weight's columns), ``scratch`` (4, >= stop - first).

    Each derivative is clipped as scikit-learn's MAX_DLOSS (early huge steps stay finite) and scaled
    by the column's ``SCALE / n_rows`` (a mean over the batch of ``n_rows`` rows).
    """
    n_features = X.shape[1]
    n_columns = params.shape[0]
    n_batch_rows = stop - first
    items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
    for b in range(n_batch_rows):
        position = first + b
        row = order[position]
        ahead = position + PREFETCH_AHEAD_BATCH
        if ahead >= stop:  # this thread's next rows: the same chunk of the next batch
            ahead += prefetch_skip
        if ahead < n_steps_rows:
            upcoming = order[ahead]
            for j in range(0, n_features, items_per_line):
                prefetch_item(X, upcoming, j)
            prefetch_item(y, upcoming, 0)  # the row's target and weight are random reads too
            prefetch_item(sample_weight, upcoming, 0)
        for k in range(n_columns):
            total = 0.0
            for j in range(n_features):
                total += X[row, j] * params[k, j]
            raw[b, k] = coef_scale[k] * total + params[k, n_features]
        poison_if_nonfinite(raw[b], loss_sum)
        for c in range(y.shape[1]):
            targets[b, c] = y[row, c]
        for c in range(sample_weight.shape[1]):
            weights[b, c] = sample_weight[row, c]
    block_loss_grad(loss_id, targets, weights, 0, n_batch_rows, raw, loss_param, loss_sum, derivative, scratch)
    for b in range(n_batch_rows):
        row = order[first + b]
        for k in range(n_columns):
            value = min(max(derivative[b, k], -MAX_DERIVATIVE), MAX_DERIVATIVE)
            value *= columns[SCALE, k] / n_rows
            derivative[b, k] = value
            if value != 0.0:
                for j in range(n_features):
                    grad[k, j] += X[row, j] * value
                grad[k, n_features] += value


@jit_inline
def per_sample_epoch_one_column(X, y, sample_weight, order, loss_id, loss_param, schedule, fit_intercept, hyper,
                                columns, params, coef_scale, average, l1_total, l1_applied, t, cumulative_penalty,
                                loss_sum_out, eta_out, progress):
    """Plain SGD, one row per step, for a single active column: the steps of the general loop below
    with batch size 1 and ``k = 0``, the same operations in the same order (identical results), with
    every per-step setting held in a register. The general loop's per-column loops and arrays of one
    entry cost ~100 ns per row (a 1e6 x 100 epoch in row order: 0.165 s, this loop 0.10 s).
    Every ``PROGRESS_INTERVAL`` rows the position is published in ``progress[0]`` for the thread of
    :func:`prefetch_rows_ahead`, if one runs. Returns the step count."""
    n_features = X.shape[1]
    n_steps_rows = order.shape[0]
    items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
    power_t = hyper[POWER_T]
    average_start = hyper[AVERAGE_START]
    intercept_decay = hyper[INTERCEPT_DECAY]
    averaging = average_start > 0.0
    l2, l1, column_scale = columns[L2, 0], columns[L1, 0], columns[SCALE, 0]
    loss_sum = loss_sum_out[0]
    eta = eta_out[0]
    for position in range(n_steps_rows):
        if position % PROGRESS_INTERVAL == 0:
            store_release(progress, 0, position)
        t += 1
        eta = step_rate(schedule, columns, power_t, float(t), 0)
        row = order[position]
        if position + PREFETCH_AHEAD < n_steps_rows:
            upcoming = order[position + PREFETCH_AHEAD]
            for j in range(0, n_features, items_per_line):
                prefetch_item(X, upcoming, j)
            prefetch_item(y, upcoming, 0)  # the row's target and weight are random reads too
            prefetch_item(sample_weight, upcoming, 0)
        total = 0.0
        for j in range(n_features):
            total += X[row, j] * params[0, j]
        raw = coef_scale[0] * total + params[0, n_features]
        loss, step = per_sample_step(loss_id, loss_param, y[row, 0], sample_weight[row, 0], raw, eta, column_scale)
        if l2 != 0.0:
            shrink_scale(params, coef_scale, 0, eta, l2)
        loss_sum += loss
        if step != 0.0:
            weight_step = step / coef_scale[0]
            for j in range(n_features):
                params[0, j] += weight_step * X[row, j]
            if fit_intercept:
                params[0, n_features] += step * intercept_decay
        if cumulative_penalty:
            owed = l1_total[0] + eta * l1
            l1_total[0] = owed
            if owed > 0.0:
                scale = coef_scale[0]  # locals: read from arrays, LLVM reloaded them per weight (may alias)
                for j in range(n_features):
                    params[0, j], l1_applied[0, j] = cumulative_l1(params[0, j], scale, owed, l1_applied[0, j])
        if averaging and t >= average_start:
            average_column(params, coef_scale, average, 0, 1.0 / (t - average_start + 1.0))
    store_release(progress, 0, n_steps_rows)
    loss_sum_out[0] = loss_sum
    eta_out[0] = eta
    return t


@jit_inline
def per_sample_epoch_columns(X, y, sample_weight, order, loss_id, loss_param, schedule, fit_intercept, hyper,
                             columns, params, coef_scale, average, l1_total, l1_applied, t, cumulative_penalty,
                             steps, loss_sum_out, eta_out, progress):
    """Plain SGD, one row per step, on K columns of a one-score loss (one-vs-all classes, K penalty
    strengths or rates): the general loop's steps with batch size 1, the same operations in the same
    order (identical results), without its per-row calls. There, ``row_loss_grad`` and the
    non-finite check were out-of-line calls, and the rates, shrinks, L1 totals and running means
    went through helpers; here every per-row pass is a plain loop over the K columns (the logistic
    one-vs-all losses vectorize over them). ``steps`` (>= K) is scratch for the K
    steps of a row. Publishes its position in ``progress[0]`` as the single-column loop does.
    Returns the step count."""
    n_features = X.shape[1]
    n_columns = params.shape[0]
    n_steps_rows = order.shape[0]
    items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
    power_t = hyper[POWER_T]
    average_start = hyper[AVERAGE_START]
    intercept_decay = hyper[INTERCEPT_DECAY]
    averaging = average_start > 0.0
    y_stride = 1 if y.shape[1] > 1 else 0
    weight_stride = 1 if sample_weight.shape[1] > 1 else 0
    # one-vs-all classes: a target per column, one weight per row; without the loss switch the loop
    # over the columns vectorizes (exp and log1p included)
    one_vs_all_logistic = loss_id == LOGISTIC and y_stride == 1 and weight_stride == 0
    for position in range(n_steps_rows):
        if position % PROGRESS_INTERVAL == 0:
            store_release(progress, 0, position)
        t += 1
        for k in range(n_columns):
            eta_out[k] = schedule_rate(schedule, columns[ETA0, k], columns[L2, k] + columns[L1, k],
                                       columns[OPTIMAL_T0, k], power_t, float(t))
        row = order[position]
        if position + PREFETCH_AHEAD < n_steps_rows:
            upcoming = order[position + PREFETCH_AHEAD]
            for j in range(0, n_features, items_per_line):
                prefetch_item(X, upcoming, j)
            prefetch_item(y, upcoming, 0)  # the row's targets and weights are random reads too
            prefetch_item(sample_weight, upcoming, 0)
        # raw predictions, then each column's loss and step (held in ``steps``)
        for k in range(n_columns):
            total = 0.0
            for j in range(n_features):
                total += X[row, j] * params[k, j]
            steps[k] = coef_scale[k] * total + params[k, n_features]
        if one_vs_all_logistic:
            weight = sample_weight[row, 0]
            for k in range(n_columns):
                raw = steps[k]
                tail = logistic_tail(raw)
                loss = weight * logistic_loss_from_tail(y[row, k], raw, tail)
                derivative = weight * logistic_grad_from_tail(y[row, k], raw, tail)
                derivative = min(max(derivative, -MAX_DERIVATIVE), MAX_DERIVATIVE) * columns[SCALE, k]
                if not is_finite(raw):  # see poison_if_nonfinite
                    loss = np.nan
                loss_sum_out[k] += loss
                steps[k] = -eta_out[k] * derivative
        else:
            for k in range(n_columns):
                loss, step = per_sample_step(loss_id, loss_param, y[row, k * y_stride],
                                             sample_weight[row, k * weight_stride], steps[k], eta_out[k],
                                             columns[SCALE, k])
                loss_sum_out[k] += loss
                steps[k] = step
        # L2 shrink of the scales (shrink_scales written out: called, ~60 ns a row more at 10 columns),
        # then each column's step through the row
        for k in range(n_columns):
            if columns[ACTIVE, k] != 0.0 and columns[L2, k] != 0.0:
                coef_scale[k] *= l2_shrink_factor(eta_out[k], columns[L2, k])
                if coef_scale[k] < MIN_COEF_SCALE:
                    fold_scale(params, coef_scale, k)
        for k in range(n_columns):
            step = steps[k]
            if step == 0.0 or columns[ACTIVE, k] == 0.0:
                continue
            weight_step = step / coef_scale[k]
            for j in range(n_features):
                params[k, j] += weight_step * X[row, j]
            if fit_intercept:
                params[k, n_features] += step * intercept_decay
        if cumulative_penalty:
            for k in range(n_columns):
                l1 = columns[L1, k]
                if l1 > 0.0 and columns[ACTIVE, k] != 0.0:
                    owed = l1_total[k] + eta_out[k] * l1
                    l1_total[k] = owed
                    if owed > 0.0:
                        scale = coef_scale[k]
                        for j in range(n_features):
                            params[k, j], l1_applied[k, j] = cumulative_l1(params[k, j], scale, owed,
                                                                           l1_applied[k, j])
        if averaging and t >= average_start:
            share = 1.0 / (t - average_start + 1.0)
            for k in range(n_columns):
                if columns[ACTIVE, k] != 0.0:
                    average_column(params, coef_scale, average, k, share)
    store_release(progress, 0, n_steps_rows)
    return t


@jit_kernel
def prefetch_rows_ahead(X, y, sample_weight, order, progress, lead, patience):
    """Ask for the rows ``order[p + PREFETCH_AHEAD : p + lead]`` while a per-sample epoch on another
    thread is at position ``p = progress[0]``; return when it reaches the end, or after ``patience``
    polls without news (it may have stopped, or never run this loop).

    Why a second thread: a shuffled per-sample epoch waits on memory (each row is a random ~1 KB),
    and one core keeps only so many misses in flight: its own prefetching ``PREFETCH_AHEAD`` rows
    ahead is as far as it gains. This thread's requests add a second core's: the rows arrive in the
    shared cache before the epoch asks for them. Only a hint: the epoch's results do not depend on
    whether or when this runs.
    """
    n_steps_rows = order.shape[0]
    n_features = X.shape[1]
    items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
    requested = 0
    seen = -1
    idle = 0
    while True:
        position = load_acquire(progress, 0)
        if position >= n_steps_rows:
            return
        if position != seen:
            seen = position
            idle = 0
        first = max(requested, position + PREFETCH_AHEAD)
        stop = min(position + lead, n_steps_rows)
        if first < stop:
            for ahead in range(first, stop):
                row = order[ahead]
                for j in range(0, n_features, items_per_line):
                    prefetch_item(X, row, j)
                prefetch_item(y, row, 0)
                prefetch_item(sample_weight, row, 0)
            requested = stop
        else:
            idle += 1
            if idle > patience:
                return


@jit_kernel(parallel=True)
def stochastic_epochs_dense(X, y, sample_weight, order, loss_id, loss_param, optimizer, schedule,
                            batch_size, fit_intercept, joint_clip, hyper, columns, params, coef_scale,
                            moments, average, l1_total, l1_applied, step_count, loss_sum_out, eta_out,
                            progress, n_threads, seed, first_epoch, n_epochs, shuffle, models, weight_sum,
                            stop_rule, learning_rate, best_objective, no_improvement, converged, n_iter,
                            values_out, trace_out, trace_start):
    """Run up to ``n_epochs`` epochs over dense ``X`` (see the module docstring); returns ``(status,
    epochs run)``."""
    trace_start = trace_origin(trace_start)
    n_features = X.shape[1]
    n_columns = params.shape[0]
    n_loss = loss_sum_out.shape[0]
    n_steps_rows = order.shape[0]
    clip_norm = hyper[CLIP_NORM]
    average_start = hyper[AVERAGE_START]
    intercept_decay = hyper[INTERCEPT_DECAY]
    sparse_updates = optimizer == SGD and clip_norm <= 0.0
    averaging = average_start > 0.0
    n_chunks = 1 if sparse_updates else max(1, min(n_threads, batch_size))
    raw_row = np.empty(n_columns)
    loss_one = np.empty(n_loss)
    loss_parts = np.zeros((n_chunks, n_loss))
    derivative = np.empty((batch_size, n_columns))
    # per-row buffers of the dense-gradient optimizers, one block of rows per chunk
    block_rows = 0 if sparse_updates else batch_size
    raw = np.empty((block_rows, n_columns))
    targets = np.empty((block_rows, y.shape[1]))
    weights = np.empty((block_rows, sample_weight.shape[1]))
    scratch = np.empty((n_chunks, 4, block_rows))
    grad = np.zeros((0 if sparse_updates else n_columns, n_features + 1))
    grad_parts = np.zeros((0 if sparse_updates else n_chunks, n_columns, n_features + 1))
    for epoch in range(n_epochs):
        if not begin_epoch(seed, first_epoch + epoch, shuffle, order, models, converged, learning_rate, columns):
            return OK, epoch
        # settings fixed for the epoch, decided once: checked per step, they cost ~8% of a per-sample epoch
        cumulative_penalty = uses_cumulative_l1(optimizer, columns)
        for m in range(n_loss):
            loss_sum_out[m] = 0.0
        t = step_count[0]
        if runs_single_column_loop(optimizer, clip_norm, batch_size, columns, n_loss):
            t = per_sample_epoch_one_column(
                X, y, sample_weight, order, loss_id, loss_param, schedule, fit_intercept, hyper, columns, params,
                coef_scale, average, l1_total, l1_applied, t, cumulative_penalty, loss_sum_out, eta_out, progress)
        elif runs_per_sample_loop(optimizer, clip_norm, batch_size, columns, n_loss):
            t = per_sample_epoch_columns(
                X, y, sample_weight, order, loss_id, loss_param, schedule, fit_intercept, hyper, columns, params,
                coef_scale, average, l1_total, l1_applied, t, cumulative_penalty, raw_row, loss_sum_out, eta_out,
                progress)
        else:
            for start in range(0, n_steps_rows, batch_size):
                stop = min(start + batch_size, n_steps_rows)
                n_rows = stop - start
                t += 1
                step_rates(schedule, columns, hyper[POWER_T], float(t), eta_out)
                # 1) loss derivatives of the batch rows at the current parameters (and, for the
                #    dense-gradient optimizers, the minibatch gradient), chunk by chunk
                if sparse_updates:
                    # plain SGD in minibatches, or on the multinomial loss: each row's derivatives, no
                    # gradient (the step goes through the rows themselves); one row per step has its own
                    # loops above
                    items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
                    for b in range(n_rows):
                        row = order[start + b]
                        if start + b + PREFETCH_AHEAD < n_steps_rows:
                            upcoming = order[start + b + PREFETCH_AHEAD]
                            for j in range(0, n_features, items_per_line):
                                prefetch_item(X, upcoming, j)
                            prefetch_item(y, upcoming, 0)  # the row's target and weight are random reads too
                            prefetch_item(sample_weight, upcoming, 0)
                        for k in range(n_columns):
                            total = 0.0
                            for j in range(n_features):
                                total += X[row, j] * params[k, j]
                            raw_row[k] = coef_scale[k] * total + params[k, n_features]
                        row_loss_grad(loss_id, y, sample_weight, row, raw_row, loss_param, loss_one, derivative[b])
                        for m in range(n_loss):
                            loss_sum_out[m] += loss_one[m]
                        poison_if_nonfinite(raw_row, loss_sum_out)
                        for k in range(n_columns):
                            value = min(max(derivative[b, k], -MAX_DERIVATIVE), MAX_DERIVATIVE)
                            derivative[b, k] = value * (columns[SCALE, k] / n_rows)
                else:
                    for chunk in prange(n_chunks):
                        first = start + (n_rows * chunk) // n_chunks
                        last = start + (n_rows * (chunk + 1)) // n_chunks
                        part = grad_parts[chunk]
                        part[:, :] = 0.0
                        offset = first - start
                        batch_rows_derivatives(X, y, sample_weight, order, first, last, n_steps_rows,
                                               batch_size - (last - first), loss_id, loss_param, params,
                                               coef_scale, columns, n_rows, raw[offset:], targets[offset:],
                                               weights[offset:], scratch[chunk], loss_parts[chunk],
                                               derivative[offset:], part)
                    grad[:, :] = grad_parts[0]
                    for chunk in range(1, n_chunks):
                        grad += grad_parts[chunk]
                # 2) step
                if sparse_updates:
                    shrink_scales(params, coef_scale, columns, eta_out)
                    for b in range(n_rows):
                        row = order[start + b]
                        for k in range(n_columns):
                            step = -eta_out[k] * derivative[b, k]
                            if step == 0.0 or columns[ACTIVE, k] == 0.0:
                                continue
                            weight_step = step / coef_scale[k]
                            for j in range(n_features):
                                params[k, j] += weight_step * X[row, j]
                            if fit_intercept:
                                params[k, n_features] += step * intercept_decay
                else:
                    if clip_norm > 0.0:
                        clip_gradient(grad, clip_norm, joint_clip)
                    dense_step(optimizer, params, grad, eta_out, columns, hyper, float(t), fit_intercept, moments,
                               0, n_features + 1)
                # 3) plain SGD's cumulative L1 penalty: every feature of a dense row is touched
                if cumulative_penalty and add_l1_totals(columns, eta_out, l1_total):
                    for k in range(n_columns):
                        owed = l1_total[k]
                        if columns[ACTIVE, k] != 0.0 and owed > 0.0:
                            scale = coef_scale[k]
                            for j in range(n_features):
                                params[k, j], l1_applied[k, j] = cumulative_l1(params[k, j], scale, owed,
                                                                               l1_applied[k, j])
                # 4) averaged iterate
                if averaging:
                    update_average(params, coef_scale, columns, average, float(t), average_start)
            store_release(progress, 0, n_steps_rows)
            # the epoch's running loss: chunk sums in chunk order (plain SGD summed into loss_sum_out)
            if not sparse_updates:
                for m in range(n_loss):
                    total = 0.0
                    for chunk in range(n_chunks):
                        total += loss_parts[chunk, m]
                        loss_parts[chunk, m] = 0.0
                    loss_sum_out[m] = total
        step_count[0] = t
        status = close_epoch(params, coef_scale, loss_sum_out, average, averaging and t >= average_start, columns,
                             models, weight_sum, stop_rule, learning_rate, best_objective, no_improvement, converged,
                             n_iter, values_out, eta_out, trace_out, epoch, trace_start)
        if status != OK:
            return status, epoch + 1
    return OK, n_epochs


__all__ = ["batch_rows_derivatives", "prefetch_rows_ahead", "stochastic_epochs_dense"]
