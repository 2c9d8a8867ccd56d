"""Compiled epochs of minibatch SGD / momentum / Nesterov / Adam / AdamW over CSR rows of ``X``.

Design: the same steps as ``stochastic_dense`` (read that module's docstring), row by row over the
CSR arrays. Plain SGD without clipping touches only the nonzeros of the batch rows: its L2 shrink
is a change of scale and its cumulative L1 penalty is applied lazily, to a row's features just
before the row is read and just after the step, and to every feature at the end of the epoch. With
L1 alone this gives the dense kernel's weights; with L2 too (the shrink then also scales penalty
already applied) or with averaging (which reads every weight, owed penalty included) the two differ
slightly, as scikit-learn's sparse and dense SGD do. Its averaging (ASGD) is lazy too (``_optimizers``,
"lazy averaging"): a step costs the row's nonzeros, not n_features. The other optimizers and gradient
clipping update every coordinate each step (their averaging too), so their cost per step grows with
n_features; with very many features prefer larger batches. ``indices``/``indptr`` may be int32 or int64; duplicate column indices add
up, as in ``scipy.sparse``.

Threads: the rows of a batch are few and sparse (their gradient is a scatter, serial), but a
dense-gradient step on hashed text updates 2^18 coordinates per model, which cost more than the
batch's rows: with ``n_threads > 1`` the step's coordinates are split into that many contiguous
ranges, one thread each (an element-wise update: the same result for any split), and each range of
the gradient is cleared for the next batch while in cache. Measured here, one Adam epoch of batch
256 over 5e5 x 2^18 (50 nonzeros per row): 1.12 s on one thread, 0.77 s on two
(``benchmarks/bench_stochastic.py`` has the case at 1e5 rows, against PyTorch). The kernel is
compiled as a parallel kernel only when called with threads (its serial twin otherwise): a first
threaded call costs ~4 s more of compilation.

Contract: ``data`` (nnz,) float32/float64, ``indices`` (nnz,), ``indptr`` (n_samples + 1,), all may
be read-only (the indices best as unsigned views, :func:`unsigned_index_views`); ``n_threads`` >= 1 (see above); every other argument as in
``stochastic_dense.stochastic_epochs_dense`` (without ``progress``).
"""
import numpy as np
from numba import prange

from ._jit import jit_inline, jit_kernel
from ._optimizers import (ACTIVE, AVERAGE_START, CACHE_LINE_BYTES, CLIP_NORM, INTERCEPT_DECAY, L1, L2, LAZY_B,
                          MAX_DERIVATIVE, OK, POWER_T, PREFETCH_AHEAD, SCALE, SGD, add_l1_totals, clip_gradient,
                          cumulative_l1, dense_step, lazy_average_finish, lazy_average_shrink_scales,
                          lazy_average_state, lazy_average_steps, per_sample_step, poison_if_nonfinite,
                          prefetch_element, prefetch_item, runs_single_column_loop, shrink_scale, shrink_scales,
                          step_rate, step_rates, update_average, uses_cumulative_l1)
from .epoch_control import begin_epoch, close_epoch, trace_origin
from .layout import transposed_copy
from .losses import row_loss_grad


def unsigned_index_views(indices, indptr):
    """``indices`` and ``indptr`` viewed as unsigned integers of the same width (valid: CSR indices are
    never negative), for the epoch kernels. Numba wraps a negative index around (``a[-1]``), a select
    on every ``params[k, indices[p]]`` and ``data[p]`` of the row loops; an unsigned index has none.
    Measured, one per-sample SGD epoch over 5e5 x 2^18 (50 nonzeros per row), interleaved runs:
    0.23-0.31 s with the signed arrays, 0.18-0.22 s with these views; the same parameters."""
    return indices.view(np.dtype(f"u{indices.itemsize}")), indptr.view(np.dtype(f"u{indptr.itemsize}"))


@jit_inline(gather=True)
def row_l1_catch_up(indices, row_start, row_stop, params, coef_scale, columns, l1_total, l1_applied, average, lazy,
                    lazy_averaging):
    """The cumulative L1 penalty still owed by the weights of the features of one row (the nonzeros
    ``row_start:row_stop``), in every active column that owes some; each change offset in the column's
    lazy mean when it is kept. All columns in one call: a call per column (out of line) cost ~40 ns."""
    for k in range(params.shape[0]):
        owed = l1_total[k]
        if columns[ACTIVE, k] == 0.0 or owed <= 0.0:
            continue
        scale = coef_scale[k]
        for p in range(row_start, row_stop):
            feature = indices[p]
            before = params[k, feature]
            params[k, feature], l1_applied[k, feature] = cumulative_l1(before, scale, owed, l1_applied[k, feature])
            if lazy_averaging:
                average[k, feature] -= lazy[LAZY_B, k] * (params[k, feature] - before)


@jit_inline
def feature_major_copy(weights, used):
    """A feature-major copy of model-major ``weights`` (K, width), returned as a (K, width) view of a
    (width, K) C array; when not ``used``, an empty one of that shape (nothing to copy)."""
    if not used:
        return np.empty((weights.shape[1], weights.shape[0])).T
    out = np.empty((weights.shape[1], weights.shape[0]))
    transposed_copy(weights, out)
    return out.T


@jit_inline(gather=True)
def per_sample_epoch_one_column_csr(data, indices, indptr, y, sample_weight, order, loss_id, loss_param, schedule,
                                    fit_intercept, hyper, columns, params, coef_scale, average, lazy, l1_total,
                                    l1_applied, t, cumulative_penalty, loss_sum_out, eta_out):
    """Plain SGD, one row per step, for a single active column: the steps of the general loop below with
    batch size 1 and ``k = 0``, in the same order, every per-step setting in a register (see
    ``stochastic_dense.per_sample_epoch_one_column``). Compiled without reassociation (gathers through
    ``indices``, see ``_jit.FASTMATH_GATHER``), so a row's products are summed in order, which the
    general loop need not do: results agree to rounding. 5e5 x 2^18 with 50 nonzeros per row, one
    shuffled epoch: 0.25 s through the general loop, 0.20 s here. Returns the step count."""
    n_steps_rows = order.shape[0]
    items_per_line = max(1, CACHE_LINE_BYTES // data.itemsize)
    power_t = hyper[POWER_T]
    average_start = hyper[AVERAGE_START]
    intercept_decay = hyper[INTERCEPT_DECAY]
    averaging = average_start > 0.0
    l2, l1, column_scale = columns[L2, 0], columns[L1, 0], columns[SCALE, 0]
    n_features = params.shape[1] - 1
    loss_sum = loss_sum_out[0]
    eta = eta_out[0]
    for position in range(n_steps_rows):
        t += 1
        eta = step_rate(schedule, columns, power_t, float(t), 0)
        row = order[position]
        if position + 2 * PREFETCH_AHEAD < n_steps_rows:  # the row pointers of a later row first
            prefetch_element(indptr, order[position + 2 * PREFETCH_AHEAD])
        if position + PREFETCH_AHEAD < n_steps_rows:
            upcoming = order[position + PREFETCH_AHEAD]
            for q in range(indptr[upcoming], indptr[upcoming + 1], items_per_line):
                prefetch_element(data, q)
                prefetch_element(indices, q)
            prefetch_item(y, upcoming, 0)  # the row's target and weight are random reads too
            prefetch_item(sample_weight, upcoming, 0)
        row_start, row_stop = indptr[row], indptr[row + 1]
        if cumulative_penalty and l1_total[0] > 0.0:  # the L1 penalty these features still owe
            row_l1_catch_up(indices, row_start, row_stop, params, coef_scale, columns, l1_total, l1_applied, average,
                            lazy, averaging)
        total = 0.0
        for p in range(row_start, row_stop):
            total += data[p] * params[0, indices[p]]
        raw = coef_scale[0] * total + params[0, n_features]
        loss, step = per_sample_step(loss_id, loss_param, y[row, 0], sample_weight[row, 0], raw, eta, column_scale)
        if averaging:
            eta_out[0] = eta
            lazy_average_shrink_scales(params, coef_scale, columns, eta_out, average, lazy)
        elif l2 != 0.0:
            shrink_scale(params, coef_scale, 0, eta, l2)
        loss_sum += loss
        if step != 0.0:
            weight_step = step / coef_scale[0]
            if averaging:
                offset_step = lazy[LAZY_B, 0] * weight_step
                for p in range(row_start, row_stop):
                    params[0, indices[p]] += weight_step * data[p]
                    average[0, indices[p]] -= offset_step * data[p]
            else:
                for p in range(row_start, row_stop):
                    params[0, indices[p]] += weight_step * data[p]
            if fit_intercept:
                params[0, n_features] += step * intercept_decay
        if cumulative_penalty:
            l1_total[0] += eta * l1
            if l1_total[0] > 0.0:
                row_l1_catch_up(indices, row_start, row_stop, params, coef_scale, columns, l1_total, l1_applied,
                                average, lazy, averaging)
        if averaging:
            lazy_average_steps(params, coef_scale, columns, average, lazy, float(t), average_start)
    loss_sum_out[0] = loss_sum
    eta_out[0] = eta
    return t


@jit_kernel(parallel=True)
def stochastic_epochs_csr(data, indices, indptr, n_features, y, sample_weight, order, loss_id, loss_param, optimizer,
                          schedule, batch_size, fit_intercept, joint_clip, hyper, columns, params, coef_scale,
                          moments, average, l1_total, l1_applied, step_count, loss_sum_out, eta_out, n_threads, seed,
                          first_epoch, n_epochs, shuffle, models, weight_sum, stop_rule, learning_rate, best_objective,
                          no_improvement, converged, n_iter, values_out, trace_out, trace_start):
    """Run up to ``n_epochs`` epochs over the rows of a CSR matrix (see the module docstring); returns
    ``(status, epochs run)``."""
    trace_start = trace_origin(trace_start)
    n_columns = params.shape[0]
    n_loss = loss_sum_out.shape[0]
    n_steps_rows = order.shape[0]
    clip_norm = hyper[CLIP_NORM]
    average_start = hyper[AVERAGE_START]
    intercept_decay = hyper[INTERCEPT_DECAY]
    sparse_updates = optimizer == SGD and clip_norm <= 0.0
    averaging = average_start > 0.0
    raw = np.empty(n_columns)
    loss_row = np.empty(n_loss)
    derivative = np.empty((batch_size, n_columns))
    grad = np.zeros((0 if sparse_updates else n_columns, n_features + 1))
    # plain SGD's averaging is lazy (see _optimizers, "lazy averaging"): two numbers per column
    lazy_averaging = averaging and sparse_updates
    items_per_line = max(1, CACHE_LINE_BYTES // data.itemsize)
    for epoch in range(n_epochs):
        if not begin_epoch(seed, first_epoch + epoch, shuffle, order, models, converged, learning_rate, columns):
            return OK, epoch
        # settings fixed for the epoch, decided once: checked per step, they cost ~8% of a per-sample epoch
        cumulative_penalty = uses_cumulative_l1(optimizer, columns)
        lazy = lazy_average_state(coef_scale)
        for m in range(n_loss):
            loss_sum_out[m] = 0.0
        t = step_count[0]
        first_general_row = 0
        single_column = runs_single_column_loop(optimizer, clip_norm, batch_size, columns, n_loss)
        # Plain SGD on several columns (one-vs-all, multinomial) or in minibatches runs on feature-major
        # copies of the weights (and of the averages and applied L1 penalties): a row's nonzeros then find
        # the K weights of each of their features in one or two cache lines, not in K lines n_features
        # apart. Copied in and out once an epoch. Measured, one-vs-all 10 classes over 2e5 x 2^18 rows of 50
        # nonzeros, in row order: 3.7 us a row on the model-major weights (~21 MB, read in 10 places a feature)
        transposed = sparse_updates and not single_column
        if transposed:  # (the averages and applied penalties only when used: each copy is ~2 ms at 10 x 2^18)
            work = feature_major_copy(params, True)
            work_average = feature_major_copy(average, averaging)
            work_l1_applied = feature_major_copy(l1_applied, cumulative_penalty)
        else:
            work, work_average, work_l1_applied = params, average, l1_applied
        if single_column:
            t = per_sample_epoch_one_column_csr(
                data, indices, indptr, y, sample_weight, order, loss_id, loss_param, schedule, fit_intercept, hyper,
                columns, params, coef_scale, average, lazy, l1_total, l1_applied, t, cumulative_penalty,
                loss_sum_out, eta_out)
            first_general_row = n_steps_rows  # every row done; the end-of-epoch L1 catch-up below still runs
        for start in range(first_general_row, n_steps_rows, batch_size):
            stop = min(start + batch_size, n_steps_rows)
            n_rows = stop - start
            t += 1
            step_rates(schedule, columns, hyper[POWER_T], float(t), eta_out)
            # 1) loss derivatives of the batch rows at the current parameters (mean over the batch)
            for b in range(n_rows):
                row = order[start + b]
                if start + b + 2 * PREFETCH_AHEAD < n_steps_rows:  # the row pointers of a later row first
                    prefetch_element(indptr, order[start + b + 2 * PREFETCH_AHEAD])
                if start + b + PREFETCH_AHEAD < n_steps_rows:
                    upcoming = order[start + b + PREFETCH_AHEAD]
                    for q in range(indptr[upcoming], indptr[upcoming + 1], items_per_line):
                        prefetch_element(data, q)
                        prefetch_element(indices, q)
                    prefetch_item(y, upcoming, 0)  # the row's target and weight are random reads too
                    prefetch_item(sample_weight, upcoming, 0)
                if cumulative_penalty:  # first the L1 penalty these features still owe (as the dense kernel has it)
                    row_l1_catch_up(indices, indptr[row], indptr[row + 1], work, coef_scale, columns, l1_total,
                                    work_l1_applied, work_average, lazy, lazy_averaging)
                for k in range(n_columns):
                    total = 0.0
                    for p in range(indptr[row], indptr[row + 1]):
                        total += data[p] * work[k, indices[p]]
                    raw[k] = coef_scale[k] * total + work[k, n_features]
                row_loss_grad(loss_id, y, sample_weight, row, raw, loss_param, loss_row, derivative[b])
                for m in range(n_loss):
                    loss_sum_out[m] += loss_row[m]
                poison_if_nonfinite(raw, loss_sum_out)
                for k in range(n_columns):  # clipped as scikit-learn's MAX_DLOSS, so early huge steps stay finite
                    value = min(max(derivative[b, k], -MAX_DERIVATIVE), MAX_DERIVATIVE)
                    derivative[b, k] = value * (columns[SCALE, k] / n_rows)
            # 2) step
            if sparse_updates:
                if lazy_averaging:
                    lazy_average_shrink_scales(work, coef_scale, columns, eta_out, work_average, lazy)
                else:
                    shrink_scales(work, coef_scale, columns, eta_out)
                for b in range(n_rows):
                    row = order[start + b]
                    for k in range(n_columns):
                        step = -eta_out[k] * derivative[b, k]
                        if step == 0.0 or columns[ACTIVE, k] == 0.0:
                            continue
                        weight_step = step / coef_scale[k]
                        if lazy_averaging:
                            offset_step = lazy[LAZY_B, k] * weight_step
                            for p in range(indptr[row], indptr[row + 1]):
                                work[k, indices[p]] += weight_step * data[p]
                                work_average[k, indices[p]] -= offset_step * data[p]
                        else:
                            for p in range(indptr[row], indptr[row + 1]):
                                work[k, indices[p]] += weight_step * data[p]
                        if fit_intercept:
                            work[k, n_features] += step * intercept_decay
            else:  # grad is all zeros here: allocated so, and cleared range by range after each step
                for b in range(n_rows):
                    row = order[start + b]
                    for k in range(n_columns):
                        value = derivative[b, k]
                        if value != 0.0:
                            for p in range(indptr[row], indptr[row + 1]):
                                grad[k, indices[p]] += data[p] * value
                            grad[k, n_features] += value
                if clip_norm > 0.0:
                    clip_gradient(grad, clip_norm, joint_clip)
                for chunk in prange(n_threads):
                    first_j = ((n_features + 1) * chunk) // n_threads
                    stop_j = ((n_features + 1) * (chunk + 1)) // n_threads
                    dense_step(optimizer, params, grad, eta_out, columns, hyper, float(t), fit_intercept, moments,
                               first_j, stop_j)
                    for k in range(n_columns):
                        grad[k][first_j:stop_j] = 0.0  # a view from 0 (see dense_step): a vectorized fill
            # 3) plain SGD's cumulative L1 penalty, on the features the batch rows touch
            if cumulative_penalty and add_l1_totals(columns, eta_out, l1_total):
                for b in range(n_rows):  # per weight, the same catch-ups in the same order as column by column
                    row = order[start + b]
                    row_l1_catch_up(indices, indptr[row], indptr[row + 1], work, coef_scale, columns, l1_total,
                                    work_l1_applied, work_average, lazy, lazy_averaging)
            # 4) averaged iterate
            if lazy_averaging:
                lazy_average_steps(work, coef_scale, columns, work_average, lazy, float(t), average_start)
            elif averaging:
                update_average(params, coef_scale, columns, average, float(t), average_start)
        step_count[0] = t
        if lazy_averaging:  # the means, written back before the L1 catch-up below (which no step saw)
            lazy_average_finish(work, coef_scale, work_average, lazy)
        # the features no row touched since their last update still owe part of the L1 penalty
        if optimizer == SGD:
            for k in range(n_columns):
                owed = l1_total[k]
                if columns[ACTIVE, k] != 0.0 and owed > 0.0:
                    scale = coef_scale[k]
                    for j in range(n_features):
                        work[k, j], work_l1_applied[k, j] = cumulative_l1(work[k, j], scale, owed, work_l1_applied[k, j])
        if transposed:
            transposed_copy(work.T, params)
            if averaging:
                transposed_copy(work_average.T, average)
            if cumulative_penalty:
                transposed_copy(work_l1_applied.T, l1_applied)
        status = close_epoch(params, coef_scale, loss_sum_out, average, averaging and t >= average_start, columns,
                             models, weight_sum, stop_rule, learning_rate, best_objective, no_improvement, converged,
                             n_iter, values_out, eta_out, trace_out, epoch, trace_start)
        if status != OK:
            return status, epoch + 1
    return OK, n_epochs


__all__ = ["per_sample_epoch_one_column_csr", "row_l1_catch_up", "stochastic_epochs_csr"]
