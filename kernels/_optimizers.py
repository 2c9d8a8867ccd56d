"""Optimizer steps, learning-rate schedules and penalties shared by the stochastic epoch kernels.

Design: the epoch kernels of ``stochastic_dense`` and ``stochastic_csr`` differ only in how they read
a row; everything that happens after a minibatch gradient is known lives here, as helpers inlined
into both. Parameters are stored *model-major with the intercept appended*: ``params`` is
``(n_columns, n_features + 1)`` float64, row ``k`` holding column ``k``'s coefficients followed by its
intercept. Then every optimizer treats the intercept as one more coordinate (a feature equal to 1)
that is never penalized, and each column's inner loop runs at unit stride.

Plain SGD keeps each column as ``coef_scale[k] * params[k, :n_features]`` (scikit-learn's
``WeightVector`` trick): the L2 shrink ``w <- (1 - eta l2) w`` is one multiplication of the scale,
so a step touches only the nonzeros of the batch rows. L1 for plain SGD is the cumulative penalty of
Tsuruoka et al. (2009), as in scikit-learn: ``l1_total[k]`` is the penalty every weight should have
received so far and ``l1_applied[k, j]`` what weight ``j`` did receive, so the penalty is applied
lazily to the features a step touches and clipped at zero. The other optimizers update every
coordinate each step anyway and apply L1 as a proximal (soft-threshold) step scaled by each
coordinate's own step size.

Lazy averaging (ASGD) for plain SGD on CSR rows. The running mean of the iterates changes every
coordinate at every step, ``avg <- avg + mu (s v - avg)`` with ``mu = 1 / (t - start + 1)``, which
on hashed text (2^18 features, 50 nonzeros a row) made an averaged epoch ~5 000 times the work of the
row updates. Instead an epoch keeps each column's mean as ``a (z + b v)``: ``z`` lives in
``average`` itself, ``a`` and ``b`` are two numbers per column. A step's averaging only updates them
(``a <- (1 - mu) a``, ``b <- b + mu s / a``: :func:`lazy_average_steps`); a change ``d`` of one
weight ``v_j`` (a row's update, an L1 catch-up) is offset by ``z_j <- z_j - b d`` so that the past
means stay as they were; a fold of the scale into the weights divides ``b`` by the folded scale.
``b v`` grows as the scale falls while the mean does not, so the representation is restarted
(written back: ``z <- a (z + b v)``, ``a = 1``, ``b = 0``) after a fold or a 1000-fold fall of the
scale (:func:`lazy_average_shrink_scales`), as at the epoch's end (:func:`lazy_average_finish`). Dense rows
touch every weight anyway and keep the direct update.

Arrays of settings (indices below) keep the kernel signatures short:

* ``hyper`` float64: ``POWER_T, MOMENTUM, BETA1, BETA2, EPSILON, CLIP_NORM (<= 0: off),
  AVERAGE_START (<= 0: off; averaging starts at that step), AMSGRAD (0/1), INTERCEPT_DECAY`` (plain
  SGD's intercept steps are multiplied by it: scikit-learn's 0.01 on sparse data);
* ``columns`` float64 (N_COLUMN_SETTINGS, n_columns): ``ETA0, L2, L1, SCALE`` (n_samples / weight
  sum of the column's model, which makes the minibatch gradient an unbiased estimate of the gradient
  of the weighted-mean objective), ``OPTIMAL_T0`` (scikit-learn's t0 of the "optimal" schedule),
  ``ACTIVE`` (0 freezes a column: a model that has converged while the others go on).
"""
import math

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import is_finite, jit_inline, jit_point
from .losses import loss_grad_point

# optimizer ids
SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAM = 3
ADAMW = 4

# schedule ids ("adaptive" is constant inside an epoch; the driver divides the rate between epochs)
CONSTANT = 0
INVSCALING = 1
OPTIMAL = 2
ADAPTIVE = 3

# indices into ``hyper``
POWER_T = 0
MOMENTUM_DECAY = 1
BETA1 = 2
BETA2 = 3
EPSILON = 4
CLIP_NORM = 5
AVERAGE_START = 6
AMSGRAD = 7
INTERCEPT_DECAY = 8
N_HYPER = 9

# rows of ``columns``
ETA0 = 0
L2 = 1
L1 = 2
SCALE = 3
OPTIMAL_T0 = 4
ACTIVE = 5
N_COLUMN_SETTINGS = 6

# rows of the lazy averaging state (see the module docstring): the mean is LAZY_A (z + LAZY_B v), and
# LAZY_BASE_SCALE is the L2 scale when the representation was last restarted
LAZY_A = 0
LAZY_B = 1
LAZY_BASE_SCALE = 2
N_LAZY = 3
# the representation cancels terms as large as (base scale / current scale) times the mean: it is
# restarted (an O(n_features) write-back) whenever the scale has fallen this far since its base, which
# bounds the rounding at ~1e3 ulps. Under "optimal" the scale falls ~t0 / (t0 + t): a restart every
# ~1000 t0 steps; with eta l2 = 0.5 per step (a fold every 30 steps) the unbounded form lost every digit.
LAZY_REBASE_FALL = 1e-3

# statuses returned by the epoch kernels
OK = 0
NON_FINITE = 1
NON_FINITE_OBJECTIVE = 2

# a sample's weighted loss derivative is clipped to +-MAX_DERIVATIVE, as scikit-learn's MAX_DLOSS
MAX_DERIVATIVE = 1e12

# below this, the scale of plain SGD's weights is folded back into them (as scikit-learn does)
MIN_COEF_SCALE = 1e-9


# rows prefetched ahead of the one being read (with their target and weight): shuffled rows are
# random memory accesses, and asking for a row early hides most of the latency. Measured on the
# 2-core machine (1e6 x 100 float64 shuffled SGD epoch): 0.41 s with 4 rows ahead and X only,
# 0.37 s with 12 (32 is no better), 0.26 s with y and sample_weight prefetched too; 0.16 s in row order
PREFETCH_AHEAD = 12
# a minibatch's rows (split over threads) are asked for further ahead: each thread's next rows,
# continuing into its chunk of the next batch (measured, 1e6 x 100 Adam epoch with 2 threads, with
# the per-row loss of the time, interleaved runs: 0.16-0.19 s with 24 rows, 0.19-0.23 s with 40, 0.21-0.22 s
# with 12 rows ahead of the chunk's own row)
PREFETCH_AHEAD_BATCH = 24
# a per-sample epoch tells a prefetching thread where it is every this many rows (see stochastic_dense)
PROGRESS_INTERVAL = 64
CACHE_LINE_BYTES = 64

# a minibatch's rows are split over threads only when each thread gets at least this many values of X
# (rows x features): a parallel region costs a few microseconds per step (see stochastic_dense)
MIN_BATCH_VALUES_PER_THREAD = 8192
# a dense-gradient step on CSR rows is split over threads only when each thread gets at least this many
# coordinates (hashed text: 2^18 per model): Adam costs ~2 ns per coordinate, the region a few us
MIN_STEP_COORDINATES_PER_THREAD = 1 << 15


def _prefetch_codegen(context, builder, sig, args):
    """LLVM ``prefetch(read, keep in every cache level, data)`` of the array element at ``args[1:]``."""
    array_type = sig.args[0]
    array_struct = context.make_array(array_type)(context, builder, args[0])
    indices = [context.cast(builder, value, value_type, types.intp) for value, value_type in zip(args[1:], sig.args[1:])]
    pointer = cgutils.get_item_pointer(context, builder, array_type, array_struct, indices, wraparound=False)
    byte_pointer = ir.IntType(8).as_pointer()
    function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
    function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")
    read, keep_in_all_levels, data_cache = (ir.Constant(ir.IntType(32), value) for value in (0, 3, 1))
    builder.call(function, [builder.bitcast(pointer, byte_pointer), read, keep_in_all_levels, data_cache])
    return context.get_dummy_value()


@intrinsic
def prefetch_item(typingctx, array, row, column):
    """Ask the CPU to bring ``array[row, column]`` into cache (a hint: no effect on results)."""
    return types.void(array, row, column), _prefetch_codegen


@intrinsic
def prefetch_element(typingctx, array, index):
    """Ask the CPU to bring ``array[index]`` (1-D) into cache."""
    return types.void(array, index), _prefetch_codegen


def _element_pointer(context, builder, array_type, array_value, index_value, index_type):
    array_struct = context.make_array(array_type)(context, builder, array_value)
    index = context.cast(builder, index_value, index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, array_struct, [index], wraparound=False)


@intrinsic
def load_acquire(typingctx, array, index):
    """``array[index]`` (int64, 1-D) read as an atomic load: a loop polling a value that another thread
    writes sees every new value (a plain load may be hoisted out of the loop by the compiler)."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, index), codegen


@intrinsic
def store_release(typingctx, array, index, value):
    """``array[index] = value`` (int64, 1-D) as an atomic store, for a thread polling with :func:`load_acquire`."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        builder.store_atomic(context.cast(builder, args[2], sig.args[2], types.int64), pointer, "release", 8)
        return context.get_dummy_value()
    return types.void(array, index, value), codegen


@jit_point  # scalars only, inlined: no out-of-line call per column (see step_rates)
def schedule_rate(schedule, eta0, alpha, optimal_t0, power_t, t):
    """Learning rate at step ``t`` (1-based) of a column with rate ``eta0`` and penalty ``alpha = l2 + l1``."""
    if schedule == INVSCALING:
        return eta0 / t ** power_t
    if schedule == OPTIMAL:  # 1 / (alpha (t0 + t - 1)): scikit-learn's "optimal"
        return 1.0 / (alpha * (optimal_t0 + t - 1.0))
    return eta0


@jit_inline
def step_rate(schedule, columns, power_t, t, k):
    """Learning rate of column ``k`` at step ``t`` (1-based)."""
    return schedule_rate(schedule, columns[ETA0, k], columns[L2, k] + columns[L1, k], columns[OPTIMAL_T0, k],
                         power_t, t)


@jit_inline
def step_rates(schedule, columns, power_t, t, eta_out):
    """Learning rate of every column at step ``t`` (1-based), written to ``eta_out``. Per-sample SGD
    on K columns calls this every row, so the formula is inlined rather than called per column (with
    :func:`shrink_scales` written out the same way, a 10-class row went from ~1.0 to ~0.65 us)."""
    for k in range(eta_out.shape[0]):
        eta_out[k] = schedule_rate(schedule, columns[ETA0, k], columns[L2, k] + columns[L1, k],
                                   columns[OPTIMAL_T0, k], power_t, t)


@jit_inline
def soft_threshold(value, threshold):
    if value > threshold:
        return value - threshold
    if value < -threshold:
        return value + threshold
    return 0.0


@jit_point
def l2_shrink_factor(eta, l2):
    """Plain SGD's L2 step multiplies the weights by this (scikit-learn's ``max(0, 1 - eta l2)``)."""
    return max(0.0, 1.0 - eta * l2)


@jit_inline
def fold_scale(params, coef_scale, k):
    """Multiply column ``k``'s weights by its scale and reset the scale to 1."""
    for j in range(params.shape[1] - 1):
        params[k, j] *= coef_scale[k]
    coef_scale[k] = 1.0


@jit_inline
def shrink_scale(params, coef_scale, k, eta, l2):
    """Plain SGD's L2 step ``w <- max(0, 1 - eta l2) w`` of column ``k`` as a change of its scale
    (folded into the weights when tiny). The fold, rare, is a call of its own: with its loop here,
    LLVM kept this per-row helper out of line."""
    coef_scale[k] *= l2_shrink_factor(eta, l2)
    if coef_scale[k] < MIN_COEF_SCALE:
        fold_scale(params, coef_scale, k)


@jit_point  # inlined into the per-row loops: out of line (the loss switch) it cost ~10 ns a row
def per_sample_step(loss_id, loss_param, target, weight, raw, eta, column_scale):
    """Plain SGD on one row of one column, from its raw prediction: the row's weighted loss and its step
    ``-eta * derivative`` (derivative clipped as scikit-learn's MAX_DLOSS). The caller then shrinks the
    scale (:func:`shrink_scale`), adds ``step / scale`` times the row to the weights and the step to the
    intercept (the single-column loops of ``stochastic_dense`` and ``stochastic_csr``). Scalars only:
    an array argument of an IR-inlined function costs a reference-count increment and decrement (two
    atomic calls) per row, measured ~18 ns of a ~110 ns row."""
    loss, derivative = loss_grad_point(loss_id, target, raw, loss_param)
    derivative = min(max(weight * derivative, -MAX_DERIVATIVE), MAX_DERIVATIVE) * column_scale
    if not is_finite(raw):  # see poison_if_nonfinite
        loss = np.nan
    return weight * loss, -eta * derivative


@jit_inline
def poison_if_nonfinite(raw, loss_sums):
    """Make the epoch's losses NaN when one of a row's raw predictions is not finite.

    A NaN or an infinity in a row of ``X`` gives a non-finite raw prediction, but not always a
    non-finite loss: the hinge-type losses give a NaN margin zero loss and zero derivative, and the
    row would be skipped without a word. With this, :func:`finish_epoch` reports ``NON_FINITE`` after
    any epoch that met one, whatever the loss (and whatever the row's weight), so that the estimators
    can leave ``X``'s finiteness to the epoch instead of a pass of their own."""
    for k in range(raw.shape[0]):
        if not is_finite(raw[k]):
            for m in range(loss_sums.shape[0]):
                loss_sums[m] = np.nan


@jit_inline
def shrink_scales(params, coef_scale, columns, eta):
    """:func:`shrink_scale` of every active column with an L2 penalty, written out: per-sample SGD on
    K columns calls this every row, and a call of shrink_scale per column (LLVM kept it out of line)
    cost ~40 ns each."""
    for k in range(params.shape[0]):
        if columns[ACTIVE, k] != 0.0 and columns[L2, k] != 0.0:
            coef_scale[k] *= l2_shrink_factor(eta[k], columns[L2, k])
            if coef_scale[k] < MIN_COEF_SCALE:
                fold_scale(params, coef_scale, k)


@jit_point  # called per weight: a scalar IR-inlined helper, not an out-of-line call per weight
def cumulative_l1(weight, scale, owed_total, applied):
    """Bring one weight (stored as ``weight``, worth ``scale * weight``) up to date with the cumulative
    L1 penalty of Tsuruoka et al.: ``owed_total`` is what every weight should have received so far,
    ``applied`` what this one did receive. Returns ``(new weight, new applied)``."""
    # selects, not branches on the weight's sign (unpredictable): with branches LLVM kept a scalar loop
    # in the dense epoch kernels (~1.3-2.2 ns a weight, against ~0.4 selected). One division: the
    # kernels compiled without "arcp" (CSR) divide for real. For a negative weight
    # w - (applied - owed) / s is exactly w + (owed - applied) / s.
    signed = scale * weight
    owed_here = owed_total + applied
    if signed < 0.0:
        owed_here = applied - owed_total
    moved = weight - owed_here / scale
    updated = weight
    if signed > 0.0:
        updated = max(0.0, moved)
    if signed < 0.0:
        updated = min(0.0, moved)
    return updated, applied + scale * (updated - weight)


@jit_inline
def runs_single_column_loop(optimizer, clip_norm, batch_size, columns, n_loss):
    """Whether an epoch takes the single-column per-sample loop of the epoch kernels: plain SGD without
    clipping, one row per step, one active column of a one-score loss."""
    return (optimizer == SGD and clip_norm <= 0.0 and batch_size == 1 and columns.shape[1] == 1
            and columns[ACTIVE, 0] != 0.0 and n_loss == 1)


@jit_inline
def runs_per_sample_loop(optimizer, clip_norm, batch_size, columns, n_loss):
    """Whether an epoch takes one of the per-sample loops of the dense epoch kernel (plain SGD without
    clipping, one row per step, one-score losses: the single-column loop, or the loop over K columns),
    the loops that publish their position for a prefetching thread. The solver driver asks the same
    question (through ``.py_func``) before it starts that thread."""
    return optimizer == SGD and clip_norm <= 0.0 and batch_size == 1 and n_loss == columns.shape[1]


@jit_inline
def uses_cumulative_l1(optimizer, columns):
    """Whether plain SGD's cumulative L1 penalty applies to some active column (fixed for an epoch)."""
    if optimizer != SGD:
        return False
    for k in range(columns.shape[1]):
        if columns[L1, k] > 0.0 and columns[ACTIVE, k] != 0.0:
            return True
    return False


@jit_inline
def add_l1_totals(columns, eta, l1_total):
    """Grow every column's cumulative L1 penalty by this step's ``eta * l1``; True if any is penalized."""
    any_l1 = False
    for k in range(l1_total.shape[0]):
        if columns[L1, k] > 0.0 and columns[ACTIVE, k] != 0.0:
            l1_total[k] += eta[k] * columns[L1, k]
            any_l1 = True
    return any_l1


@jit_inline
def clip_gradient(grad, max_norm, joint):
    """Scale each column's gradient (all columns together when ``joint``) to a norm <= ``max_norm``."""
    n_columns, width = grad.shape
    if joint:
        total = 0.0
        for k in range(n_columns):
            for j in range(width):
                total += grad[k, j] * grad[k, j]
        norm = math.sqrt(total)
        if norm > max_norm:
            factor = max_norm / norm
            for k in range(n_columns):
                for j in range(width):
                    grad[k, j] *= factor
        return
    for k in range(n_columns):
        total = 0.0
        for j in range(width):
            total += grad[k, j] * grad[k, j]
        norm = math.sqrt(total)
        if norm > max_norm:
            factor = max_norm / norm
            for j in range(width):
                grad[k, j] *= factor


@jit_inline
def adam_coordinates(weights, grads, firsts, seconds, maxima, amsgrad, hyper, step_size, root_correction, keep, l2,
                     l1):
    """Adam / AdamW on the coordinates of the 1-d views ``weights`` (with their gradients, first and
    second moments, and the running maxima of the second, used with ``amsgrad``); see
    :func:`dense_step`. AdamW passes ``keep = 1 - eta l2`` and ``l2 = 0``, Adam ``keep = 1`` and its
    ``l2``; ``l1`` > 0 adds the proximal step ``soft_threshold(w, l1 step / denominator)``.

    Written to vectorize, which it does only so: no branch in the loop (:func:`adam_weight` has the
    soft threshold as ``max(w - c, 0) + min(w + c, 0)``, which is ``w`` itself for ``c = 0``, and
    Numpy's error model: no zero check on its divisions), and 1-d views indexed from 0 (over
    ``params[k, j]`` with a range starting at a computed ``j``, Numba's negative-index wraparound kept
    LLVM from vectorizing). With the penalty choices as branches it ran scalar, 5.5 ns per coordinate,
    against ~1.6 ns here: a minibatch step on 2^18 hashed features cost more than the batch's rows.
    Each operation is the one it replaces, in the same order: same results.
    """
    beta1 = hyper[BETA1]
    beta2 = hyper[BETA2]
    epsilon = hyper[EPSILON]
    if amsgrad:
        for j in range(weights.shape[0]):
            first, second = adam_moments(weights[j], grads[j], firsts[j], seconds[j], beta1, beta2, l2)
            firsts[j] = first
            seconds[j] = second
            second = max(second, maxima[j])
            maxima[j] = second
            weights[j] = adam_weight(weights[j], first, second, keep, step_size, root_correction, epsilon, l1)
    else:
        for j in range(weights.shape[0]):
            first, second = adam_moments(weights[j], grads[j], firsts[j], seconds[j], beta1, beta2, l2)
            firsts[j] = first
            seconds[j] = second
            weights[j] = adam_weight(weights[j], first, second, keep, step_size, root_correction, epsilon, l1)


@jit_inline
def adam_moments(weight, gradient, first, second, beta1, beta2, l2):
    """Adam's new first and second moments of one coordinate (the L2 term added to its gradient)."""
    g = gradient + l2 * weight
    return beta1 * first + (1.0 - beta1) * g, beta2 * second + (1.0 - beta2) * g * g


@jit_inline(vector_division=True)
def adam_weight(weight, first, second, keep, step_size, root_correction, epsilon, l1):
    """Adam's new value of one weight from its moments (``second`` the running maximum with AMSGrad),
    with the soft threshold of ``l1`` written without a branch (see :func:`adam_coordinates`)."""
    denominator = math.sqrt(second) / root_correction + epsilon
    value = weight * keep - step_size * first / denominator
    threshold = l1 * step_size / denominator
    return max(value - threshold, 0.0) + min(value + threshold, 0.0)


@jit_inline
def dense_step(optimizer, params, grad, eta, columns, hyper, t, fit_intercept, moments, first_j, stop_j):
    """One optimizer step on the coordinates ``first_j:stop_j`` of every column (coordinate
    ``n_features`` is the intercept) from the minibatch loss gradient ``grad``.

    ``grad`` is (n_columns, n_features + 1) without the penalty; the L2 term is added here (as a
    gradient for SGD, momentum, Nesterov and Adam; as decoupled weight decay for AdamW) and L1 is a
    proximal step (plain SGD's L1 is the cumulative penalty, applied by the caller). ``moments`` holds
    the velocity (momentum), or the first and second moments and their running maximum (Adam).
    Conventions follow PyTorch: ``v <- mu v + g``; Nesterov steps along ``g + mu v``; Adam divides
    ``m / (1 - beta1^t)`` by ``sqrt(v) / sqrt(1 - beta2^t) + eps``; AdamW first multiplies the
    weights by ``1 - eta * l2``. Every coordinate's update depends on that coordinate only, so a step
    split into ranges (one per thread, ``stochastic_csr``) is the same step. The feature loops run
    over 1-d views indexed from 0 (see :func:`adam_coordinates`: they vectorize only so).
    """
    n_columns, width = params.shape
    n_features = width - 1
    stop_features = min(stop_j, n_features)
    intercept = fit_intercept and first_j <= n_features < stop_j
    for k in range(n_columns):
        if columns[ACTIVE, k] == 0.0:
            continue
        rate = eta[k]
        l2 = columns[L2, k]
        l1 = columns[L1, k]
        weights = params[k][first_j:stop_features]
        grads = grad[k][first_j:stop_features]
        if optimizer == SGD:
            shrink = max(0.0, 1.0 - rate * l2)
            for j in range(weights.shape[0]):
                weights[j] = weights[j] * shrink - rate * grads[j]
            if intercept:
                params[k, n_features] -= rate * grad[k, n_features]
        elif optimizer == MOMENTUM or optimizer == NESTEROV:
            decay = hyper[MOMENTUM_DECAY]
            nesterov = optimizer == NESTEROV
            velocities = moments[0, k][first_j:stop_features]
            momentum_coordinates(weights, grads, velocities, decay, nesterov, rate, l2, l1)
            if intercept:  # unpenalized
                momentum_coordinates(params[k][n_features:], grad[k][n_features:],
                                     moments[0, k][n_features:], decay, nesterov, rate, 0.0, 0.0)
        else:  # ADAM, ADAMW
            step_size = rate / (1.0 - hyper[BETA1] ** t)
            root_correction = math.sqrt(1.0 - hyper[BETA2] ** t)
            decoupled = optimizer == ADAMW
            amsgrad = hyper[AMSGRAD] != 0.0
            maxima_slot = 2 if amsgrad else 1  # read only with amsgrad
            firsts = moments[0, k][first_j:stop_features]
            seconds = moments[1, k][first_j:stop_features]
            maxima = moments[maxima_slot, k][first_j:stop_features]
            adam_coordinates(weights, grads, firsts, seconds, maxima, amsgrad, hyper, step_size, root_correction,
                             1.0 - rate * l2 if decoupled else 1.0, 0.0 if decoupled else l2, l1)
            if intercept:  # unpenalized
                adam_coordinates(params[k][n_features:], grad[k][n_features:], moments[0, k][n_features:],
                                 moments[1, k][n_features:], moments[maxima_slot, k][n_features:], amsgrad, hyper,
                                 step_size, root_correction, 1.0, 0.0, 0.0)


@jit_inline
def momentum_coordinates(weights, grads, velocities, decay, nesterov, rate, l2, l1):
    """Momentum or Nesterov (PyTorch's conventions, see :func:`dense_step`) on the coordinates of the
    1-d views ``weights``, with the L2 term as a gradient and L1 as a proximal step (``l1`` > 0)."""
    for j in range(weights.shape[0]):
        g = grads[j] + l2 * weights[j]
        velocity = decay * velocities[j] + g
        velocities[j] = velocity
        direction = g + decay * velocity if nesterov else velocity
        value = weights[j] - rate * direction
        if l1 > 0.0:
            value = soft_threshold(value, rate * l1)
        weights[j] = value


@jit_inline
def average_column(params, coef_scale, average, k, weight):
    """Move column ``k`` of the running mean ``average`` towards the current iterate by ``weight``."""
    n_features = params.shape[1] - 1
    scale = coef_scale[k]
    for j in range(n_features):
        average[k, j] += (scale * params[k, j] - average[k, j]) * weight
    average[k, n_features] += (params[k, n_features] - average[k, n_features]) * weight


@jit_inline
def update_average(params, coef_scale, columns, average, t, start):
    """Running mean of the iterates from step ``start`` on (ASGD); ``average`` is like ``params``."""
    if start <= 0.0 or t < start:
        return
    weight = 1.0 / (t - start + 1.0)
    for k in range(params.shape[0]):
        if columns[ACTIVE, k] != 0.0:
            average_column(params, coef_scale, average, k, weight)


@jit_inline
def lazy_average_steps(params, coef_scale, columns, average, lazy, t, start):
    """:func:`average_column` of every active column of plain SGD on CSR rows, each in O(1) (see the
    module docstring, "lazy averaging"); the intercepts are averaged directly. Nothing before step
    ``start``. All columns in one call: per-sample SGD calls this every row, and a call per column
    (LLVM keeps these helpers out of line) cost ~40 ns each."""
    if t < start:
        return
    weight = 1.0 / (t - start + 1.0)
    intercept = params.shape[1] - 1
    for k in range(params.shape[0]):
        if columns[ACTIVE, k] == 0.0:
            continue
        if t == start:  # the mean of one iterate: the iterate itself
            lazy_average_restart(average, k)
            lazy[LAZY_A, k] = 1.0
            lazy[LAZY_B, k] = coef_scale[k]
            lazy[LAZY_BASE_SCALE, k] = coef_scale[k]
        else:
            lazy[LAZY_A, k] *= 1.0 - weight
            lazy[LAZY_B, k] += weight * coef_scale[k] / lazy[LAZY_A, k]
        average[k, intercept] += (params[k, intercept] - average[k, intercept]) * weight


@jit_inline
def lazy_average_shrink_scales(params, coef_scale, columns, eta, average, lazy):
    """:func:`shrink_scales` for lazily averaged columns: each active column's L2 shrink of its scale,
    followed in its lazy mean. A fold of the scale into the weights divides ``b`` by the folded scale;
    a fold, or a scale fallen ``LAZY_REBASE_FALL``-fold since the representation's base, writes the
    mean back and restarts it (:func:`lazy_average_rebase`). All columns in one call, as
    :func:`lazy_average_steps`."""
    for k in range(params.shape[0]):
        if columns[ACTIVE, k] == 0.0 or columns[L2, k] == 0.0:
            continue
        coef_scale[k] *= l2_shrink_factor(eta[k], columns[L2, k])
        folded = 1.0
        if coef_scale[k] < MIN_COEF_SCALE:
            folded = coef_scale[k]
            fold_scale(params, coef_scale, k)
        lazy[LAZY_B, k] /= folded
        if folded != 1.0 or coef_scale[k] < LAZY_REBASE_FALL * lazy[LAZY_BASE_SCALE, k]:
            lazy_average_rebase(params, coef_scale, average, lazy, k)


@jit_inline
def lazy_average_restart(average, k):
    """Clear the running sum of column ``k`` (its averaging starts): out of line, it loops."""
    for j in range(average.shape[1] - 1):
        average[k, j] = 0.0


@jit_inline
def lazy_average_rebase(params, coef_scale, average, lazy, k):
    """Write column ``k``'s mean into ``average`` (``z <- a (z + b v)``) and restart its representation
    there (``a = 1``, ``b = 0``) at the current scale."""
    a, b = lazy[LAZY_A, k], lazy[LAZY_B, k]
    for j in range(params.shape[1] - 1):
        average[k, j] = a * (average[k, j] + b * params[k, j])
    lazy[LAZY_A, k] = 1.0
    lazy[LAZY_B, k] = 0.0
    lazy[LAZY_BASE_SCALE, k] = coef_scale[k]


@jit_inline
def lazy_average_finish(params, coef_scale, average, lazy):
    """Write every column's lazily kept mean into ``average`` (the end of an epoch)."""
    for k in range(params.shape[0]):
        lazy_average_rebase(params, coef_scale, average, lazy, k)


@jit_inline
def lazy_average_state(coef_scale):
    """A fresh lazy representation of every column (``a = 1``, ``b = 0``: the mean is ``average``)."""
    lazy = np.zeros((N_LAZY, coef_scale.shape[0]))
    for k in range(coef_scale.shape[0]):
        lazy[LAZY_A, k] = 1.0
        lazy[LAZY_BASE_SCALE, k] = coef_scale[k]
    return lazy


@jit_inline
def finish_epoch(params, coef_scale, loss_sum):
    """Fold the SGD scales into the weights; return NON_FINITE if a weight or the loss is not finite."""
    n_columns, width = params.shape
    status = OK
    for k in range(n_columns):
        scale = coef_scale[k]
        for j in range(width - 1):
            params[k, j] *= scale
        coef_scale[k] = 1.0
        for j in range(width):
            if not is_finite(params[k, j]):
                status = NON_FINITE
    for m in range(loss_sum.shape[0]):
        if not is_finite(loss_sum[m]):
            status = NON_FINITE
    return status
