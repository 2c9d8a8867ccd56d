"""Point and row functions of every loss, chosen by an integer id.

Design: each loss is written once, as a function of one target ``y`` and one raw prediction ``raw``
(for the multinomial loss: one row of K raw predictions). The fused kernels of ``objective_dense`` and
``objective_csr`` inline these functions, so one source serves dense and CSR storage, float32 and
float64 data, one model and K models. Loss ids are plain integers because a compiled dispatcher
selected by an id is cached across processes, while a function passed as an argument is not.

Conventions (the Python registry in ``fastml._loss`` states them to users):

* binary classification losses take ``y`` in {0, 1} and use the sign ``s = 2 y - 1`` internally;
* the squared error is the *half* squared error, ``(raw - y)**2 / 2``, as in scikit-learn;
* the Poisson loss uses the log link and is the half deviance ``exp(raw) - y raw + y log y - y``,
  which is zero at a perfect fit;
* the multinomial loss takes ``y`` as the class index (stored as a float) and ``raw`` as K scores;
* ``param`` is the one shape parameter of a loss: Huber's ``delta``, the epsilon of the
  epsilon-insensitive losses; other losses ignore it.

Numerical stability: logistic and softmax terms use the forms ``log1p(exp(-|z|))`` and
``log1p(sum of the non-maximal exponentials)``, so margins of +-1e4 give finite values with full
relative precision (down to where ``exp(-|z|)`` leaves the normal range, |z| > 708); the sigmoid is
evaluated on the side of zero that does not cancel. The logistic loss takes its ``exp`` and ``log1p``
from ``_vector_math``, so that the block loop over rows vectorizes.
"""
import math

import numpy as np

from ._jit import jit_inline, jit_point, jit_vector_math
from ._vector_math import exp_nonpositive, log1p_unit

SQUARED_ERROR = 0
HUBER = 1
EPSILON_INSENSITIVE = 2
SQUARED_EPSILON_INSENSITIVE = 3
ABSOLUTE_ERROR = 4
LOGISTIC = 5
MULTINOMIAL = 6
HINGE = 7
SQUARED_HINGE = 8
MODIFIED_HUBER = 9
PERCEPTRON = 10
POISSON = 11

N_LOSSES = 12


# The logistic loss ``softplus(raw) - y raw`` and its derivative ``sigmoid(raw) - y``, from
# ``t = exp(-|raw|)``: raw >= 0: ``(1 - y) raw + log1p(t)`` and ``(1 - y) - t / (1 + t)``; raw < 0:
# ``-y raw + log1p(t)`` and ``t / (1 + t) - y``. Neither side cancels, and without reassociation (see
# ``jit_vector_math``) ``(1 - y) - tail`` is computed as written, so the common label y = 1 keeps the
# tail exactly. Three scalar functions, not one returning a pair: a loop calling a tuple-returning
# helper was not vectorized by LLVM.
@jit_vector_math
def logistic_tail(raw):
    """``exp(-|raw|)``."""
    return exp_nonpositive(-abs(raw))


@jit_vector_math
def logistic_loss_from_tail(y, raw, tail):
    """Loss of one sample, given ``tail = exp(-|raw|)``."""
    return ((1.0 - y) * raw if raw >= 0.0 else -y * raw) + log1p_unit(tail)


@jit_vector_math
def logistic_grad_from_tail(y, raw, tail):
    """Derivative of the loss with respect to ``raw``, given ``tail = exp(-|raw|)``."""
    share = tail / (1.0 + tail)  # sigmoid(-|raw|)
    return (1.0 - y) - share if raw >= 0.0 else share - y


@jit_inline
def logistic_block(targets, weights, margins, grad_out, n_rows):
    """Weighted logistic loss sum of ``n_rows`` samples held in contiguous 1-d arrays; writes each
    weighted derivative into ``grad_out``. LLVM vectorizes this loop (8 rows per AVX-512 instruction)."""
    total = 0.0
    for b in range(n_rows):
        raw = margins[b]
        tail = logistic_tail(raw)
        total += weights[b] * logistic_loss_from_tail(targets[b], raw, tail)
        grad_out[b] = weights[b] * logistic_grad_from_tail(targets[b], raw, tail)
    return total


@jit_vector_math
def logistic_hessian(raw):
    """``sigmoid(raw) (1 - sigmoid(raw)) = t / (1 + t)^2`` with ``t = exp(-|raw|)``."""
    t = logistic_tail(raw)
    return t / ((1.0 + t) * (1.0 + t))


@jit_point
def loss_grad_point(loss_id, y, raw, param):
    """Loss value and its derivative with respect to ``raw``, for one sample of a one-score loss.

    Returns a tuple ``(loss, gradient)`` of float64. For non-differentiable points (hinge at the
    margin, absolute error at zero) the derivative is a subgradient.
    """
    if loss_id == SQUARED_ERROR:
        residual = raw - y
        return 0.5 * residual * residual, residual
    if loss_id == LOGISTIC:
        tail = logistic_tail(raw)
        return logistic_loss_from_tail(y, raw, tail), logistic_grad_from_tail(y, raw, tail)
    if loss_id == HUBER:
        residual = raw - y
        if abs(residual) <= param:
            return 0.5 * residual * residual, residual
        if residual > 0.0:
            return param * (residual - 0.5 * param), param
        return param * (-residual - 0.5 * param), -param
    if loss_id == EPSILON_INSENSITIVE or loss_id == SQUARED_EPSILON_INSENSITIVE:
        residual = raw - y
        excess = abs(residual) - param
        if excess <= 0.0:
            return 0.0, 0.0
        sign = 1.0 if residual > 0.0 else -1.0
        if loss_id == EPSILON_INSENSITIVE:
            return excess, sign
        return excess * excess, 2.0 * excess * sign
    if loss_id == ABSOLUTE_ERROR:
        residual = raw - y
        if residual > 0.0:
            return residual, 1.0
        if residual < 0.0:
            return -residual, -1.0
        return 0.0, 0.0
    if loss_id == POISSON:
        mean = math.exp(raw)
        constant = y * math.log(y) - y if y > 0.0 else 0.0
        return mean - y * raw + constant, mean - y
    # margin losses: y in {0, 1}, sign s = 2y - 1, margin z = s raw
    sign = 2.0 * y - 1.0
    margin = sign * raw
    if loss_id == HINGE:
        if margin < 1.0:
            return 1.0 - margin, -sign
        return 0.0, 0.0
    if loss_id == SQUARED_HINGE:
        if margin < 1.0:
            gap = 1.0 - margin
            return gap * gap, -2.0 * gap * sign
        return 0.0, 0.0
    if loss_id == MODIFIED_HUBER:
        if margin >= 1.0:
            return 0.0, 0.0
        if margin >= -1.0:
            gap = 1.0 - margin
            return gap * gap, -2.0 * gap * sign
        return -4.0 * margin, -4.0 * sign
    if loss_id == PERCEPTRON:
        if margin <= 0.0:
            return -margin, -sign
        return 0.0, 0.0
    return np.nan, np.nan


@jit_point
def loss_point(loss_id, y, raw, param):
    """Loss value for one sample of a one-score loss (see :func:`loss_grad_point`)."""
    return loss_grad_point(loss_id, y, raw, param)[0]


@jit_point
def grad_point(loss_id, y, raw, param):
    """Derivative of the loss with respect to ``raw`` for one sample (see :func:`loss_grad_point`)."""
    return loss_grad_point(loss_id, y, raw, param)[1]


@jit_point
def hess_point(loss_id, y, raw, param):
    """Second derivative with respect to ``raw`` for one sample (0 where the loss is piecewise linear)."""
    if loss_id == SQUARED_ERROR:
        return 1.0
    if loss_id == LOGISTIC:
        return logistic_hessian(raw)
    if loss_id == HUBER:
        return 1.0 if abs(raw - y) <= param else 0.0
    if loss_id == SQUARED_EPSILON_INSENSITIVE:
        return 2.0 if abs(raw - y) > param else 0.0
    if loss_id == POISSON:
        return math.exp(raw)
    if loss_id == SQUARED_HINGE or loss_id == MODIFIED_HUBER:
        margin = (2.0 * y - 1.0) * raw
        if loss_id == SQUARED_HINGE:
            return 2.0 if margin < 1.0 else 0.0
        return 2.0 if -1.0 <= margin < 1.0 else 0.0
    return 0.0  # epsilon-insensitive, absolute error, hinge, perceptron: piecewise linear


@jit_inline
def row_argmax(raw):
    """Index of the largest entry of the 1-d ``raw`` (the first of ties)."""
    top = 0
    for k in range(1, raw.shape[0]):
        if raw[k] > raw[top]:
            top = k
    return top


@jit_inline
def softmax_row(raw, probability_out):
    """Write ``softmax(raw)`` into ``probability_out``; return ``(log_sum_exp, index_of_max, rest)``.

    ``rest`` is the sum of ``exp(raw_k - max)`` over the non-maximal entries, so that
    ``log_sum_exp = max + log1p(rest)`` keeps full precision when one class dominates. The
    exponentials come from ``_vector_math.exp_nonpositive`` (every argument is <= 0; it gives exactly
    1 at 0): the loop over classes vectorizes, where a libm call per class kept it scalar.
    """
    n_classes = raw.shape[0]
    top = row_argmax(raw)
    peak = raw[top]
    rest = 0.0
    for k in range(n_classes):
        e = exp_nonpositive(raw[k] - peak)
        probability_out[k] = e
        rest += e if k != top else 0.0
    probability_out[top] = 1.0  # exp(0), also when the peak is +inf (inf - inf would give NaN)
    scale = 1.0 / (1.0 + rest)
    for k in range(n_classes):
        probability_out[k] *= scale
    return peak + math.log1p(rest), top, rest


@jit_inline
def log_softmax_row(raw, out):
    """``out = raw - logsumexp(raw)`` for one row (``out`` may be ``raw``): the log-sum-exp as
    ``max + log1p(sum of the other exponentials)``, as :func:`softmax_row` forms it, so that a dominant
    class gets a log-probability near 0 at full precision and the others no ``-inf`` from the logarithm
    of an underflowed probability."""
    top = row_argmax(raw)
    peak = raw[top]
    rest = 0.0
    for k in range(raw.shape[0]):
        rest += exp_nonpositive(raw[k] - peak) if k != top else 0.0
    tail = math.log1p(rest)
    for k in range(raw.shape[0]):
        out[k] = (raw[k] - peak) - tail if k != top else -tail


@jit_inline
def multinomial_loss_grad_row(label, raw, grad_out):
    """Multinomial loss of one sample and its gradient over the K scores (written to ``grad_out``)."""
    log_sum_exp, top, rest = softmax_row(raw, grad_out)
    label_index = int(label)
    if label_index == top:
        # loss = log1p(rest); the true class probability minus one is -rest / (1 + rest)
        grad_out[label_index] = -rest / (1.0 + rest)
        return math.log1p(rest)
    grad_out[label_index] -= 1.0
    return log_sum_exp - raw[label_index]


@jit_inline
def row_loss_grad(loss_id, y, sample_weight, row, raw, param, loss_out, grad_out):
    """Weighted loss and gradient of one sample for every model (or every class).

    ``y`` and ``sample_weight`` are 2-D, ``(n_samples, 1)`` when shared by all models or
    ``(n_samples, n_models)`` when each model has its own (K folds, K targets). ``raw`` holds the
    sample's K raw predictions. Writes ``loss_out`` (one entry per model; one entry in total for the
    multinomial loss, whose K scores form one model) and ``grad_out`` (K entries), both weighted.
    """
    n_models = raw.shape[0]
    if loss_id == MULTINOMIAL:
        weight = sample_weight[row, 0]
        loss = multinomial_loss_grad_row(y[row, 0], raw, grad_out)
        loss_out[0] = weight * loss
        for k in range(n_models):
            grad_out[k] *= weight
        return
    if n_models == 1:  # one score (per-sample SGD's common case): no strides, no loop
        weight = sample_weight[row, 0]
        loss, grad = loss_grad_point(loss_id, y[row, 0], raw[0], param)
        loss_out[0] = weight * loss
        grad_out[0] = weight * grad
        return
    y_stride = 1 if y.shape[1] > 1 else 0
    w_stride = 1 if sample_weight.shape[1] > 1 else 0
    if loss_id == LOGISTIC and y_stride == 1 and w_stride == 0:
        # one-vs-all: a target per model, one weight. Over the row's contiguous targets, without the
        # loss switch inside, the loop over models vectorizes (exp and log1p included, _vector_math):
        # a 10-class per-sample SGD epoch over 1e6 x 100 rows took 1.07 s with the switch per model
        # (y[row, k] directly: a view y[row] is a new array, a reference-count increment and decrement a row)
        weight = sample_weight[row, 0]
        for k in range(n_models):
            tail = logistic_tail(raw[k])
            loss_out[k] = weight * logistic_loss_from_tail(y[row, k], raw[k], tail)
            grad_out[k] = weight * logistic_grad_from_tail(y[row, k], raw[k], tail)
        return
    for k in range(n_models):
        weight = sample_weight[row, k * w_stride]
        loss, grad = loss_grad_point(loss_id, y[row, k * y_stride], raw[k], param)
        loss_out[k] = weight * loss
        grad_out[k] = weight * grad


@jit_inline
def row_hess_times(loss_id, y, sample_weight, row, raw, direction, param, probability, out):
    """Hessian of one sample's loss (w.r.t. its K raw predictions) times ``direction``, weighted.

    For the one-score losses the Hessian is diagonal: ``out_k = w h_k direction_k``. For the
    multinomial loss it is ``diag(p) - p p^T``, so ``out = w p * (direction - p . direction)``;
    ``probability`` is K entries of scratch space.
    """
    n_models = raw.shape[0]
    if loss_id == MULTINOMIAL:
        weight = sample_weight[row, 0]
        softmax_row(raw, probability)
        mean_direction = 0.0
        for k in range(n_models):
            mean_direction += probability[k] * direction[k]
        for k in range(n_models):
            out[k] = weight * probability[k] * (direction[k] - mean_direction)
        return
    y_stride = 1 if y.shape[1] > 1 else 0
    w_stride = 1 if sample_weight.shape[1] > 1 else 0
    for k in range(n_models):
        weight = sample_weight[row, k * w_stride]
        out[k] = weight * hess_point(loss_id, y[row, k * y_stride], raw[k], param) * direction[k]


@jit_inline
def block_loss_grad(loss_id, y, sample_weight, start, n_rows, raw, param, loss_acc, grad_out, scratch):
    """:func:`row_loss_grad` over the ``n_rows`` samples from ``start``, in one call.

    ``raw`` and ``grad_out`` are (block_rows, n_models) with the block's rows first; the weighted
    losses are *added* to ``loss_acc`` and the weighted gradients written to ``grad_out``;
    ``scratch`` is (4, block_rows) float64. Working on a block keeps the loss switch out of the
    per-row path: measured on 1e6 x 100, a call per row cost as much as reading ``X``.
    """
    n_models = raw.shape[1]
    if loss_id == MULTINOMIAL:
        for b in range(n_rows):
            weight = sample_weight[start + b, 0]
            loss = multinomial_loss_grad_row(y[start + b, 0], raw[b], grad_out[b])
            loss_acc[0] += weight * loss
            for k in range(n_models):
                grad_out[b, k] *= weight
        return
    y_stride = 1 if y.shape[1] > 1 else 0
    w_stride = 1 if sample_weight.shape[1] > 1 else 0
    if loss_id == LOGISTIC:
        # each model's rows copied to contiguous scratch first: over strided 2-d indexing LLVM keeps
        # the loop scalar; over 1-d arrays it vectorizes it, exp and log1p included (_vector_math).
        # Measured: 4.2 ms instead of 21 ms per 1e6 rows on one core, copies included.
        targets, weights, margins, derivatives = scratch[0], scratch[1], scratch[2], scratch[3]
        for k in range(n_models):
            for b in range(n_rows):
                targets[b] = y[start + b, k * y_stride]
                weights[b] = sample_weight[start + b, k * w_stride]
                margins[b] = raw[b, k]
            loss_acc[k] += logistic_block(targets, weights, margins, derivatives, n_rows)
            for b in range(n_rows):
                grad_out[b, k] = derivatives[b]
        return
    for k in range(n_models):
        y_column = k * y_stride
        w_column = k * w_stride
        total = 0.0
        for b in range(n_rows):
            weight = sample_weight[start + b, w_column]
            loss, grad = loss_grad_point(loss_id, y[start + b, y_column], raw[b, k], param)
            total += weight * loss
            grad_out[b, k] = weight * grad
        loss_acc[k] += total


@jit_inline
def block_hess_times(loss_id, y, sample_weight, start, n_rows, raw, direction, param, scratch, out):
    """:func:`row_hess_times` over the ``n_rows`` samples from ``start`` (``scratch``: K entries)."""
    n_models = raw.shape[1]
    if loss_id == MULTINOMIAL:
        for b in range(n_rows):
            row_hess_times(loss_id, y, sample_weight, start + b, raw[b], direction[b], param, scratch, out[b])
        return
    y_stride = 1 if y.shape[1] > 1 else 0
    w_stride = 1 if sample_weight.shape[1] > 1 else 0
    for k in range(n_models):
        for b in range(n_rows):
            row = start + b
            out[b, k] = (sample_weight[row, k * w_stride]
                         * hess_point(loss_id, y[row, k * y_stride], raw[b, k], param) * direction[b, k])
