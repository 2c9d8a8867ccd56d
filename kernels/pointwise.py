"""Pointwise losses, gradients and Hessians over given raw predictions.

Design: the fused kernels never materialize raw predictions; these kernels serve the places that
already hold them: the diagonal weights of the Newton Gram matrix ``X^T diag(h) X``, scoring and
metrics, and the reference path (matvec, pointwise, rmatvec) that tests and benchmarks compare the
fused kernels against. They inline the same point functions as the fused kernels.

Contract: ``raw`` (n_samples, n_models) float64; ``y``, ``sample_weight`` as in ``objective_dense``.
"""
import numpy as np
from numba import prange

from ._jit import jit_inline, jit_kernel
from ._vector_math import exp_nonpositive, log1p_unit
from .losses import MULTINOMIAL, hess_point, log_softmax_row, logistic_tail, row_loss_grad


@jit_kernel(parallel=True)
def loss_grad_pointwise(y, sample_weight, raw, loss_id, param, loss_out, grad_out):
    """Per-sample weighted losses ``loss_out`` (n_samples, n_loss) and gradients ``grad_out``
    (n_samples, n_models) with respect to the raw predictions."""
    n_samples = raw.shape[0]
    for row in prange(n_samples):
        row_loss_grad(loss_id, y, sample_weight, row, raw[row], param, loss_out[row], grad_out[row])


@jit_kernel(parallel=True)
def hessian_pointwise(y, sample_weight, raw, loss_id, param, out):
    """Weighted second derivatives ``out`` (n_samples, n_models) of one-score losses.

    Not defined for the multinomial loss (its Hessian couples the classes): ``out`` is NaN there.
    """
    n_samples, n_models = raw.shape
    y_stride = 1 if y.shape[1] > 1 else 0
    w_stride = 1 if sample_weight.shape[1] > 1 else 0
    for row in prange(n_samples):
        for k in range(n_models):
            if loss_id == MULTINOMIAL:
                out[row, k] = np.nan
            else:
                out[row, k] = sample_weight[row, k * w_stride] * hess_point(
                    loss_id, y[row, k * y_stride], raw[row, k], param)


@jit_inline
def probabilities_row(raw, out):
    """``out = softmax(raw)`` for one row (``out`` may be ``raw``). A class at the row's maximum gets
    ``exp(0) = 1`` before the normalization also when that maximum is ``+inf`` (where ``inf - inf``
    would be NaN); a NaN score makes the row NaN. Unlike :func:`losses.softmax_row` it forms no
    log-sum-exp: that ``log1p`` per row was half the time of a 1e6 x 10 softmax here (49 -> 24 ms)."""
    peak = raw[0]
    for k in range(1, raw.shape[0]):
        peak = max(peak, raw[k])
    total = 0.0
    for k in range(raw.shape[0]):
        e = 1.0 if raw[k] == peak else exp_nonpositive(raw[k] - peak)
        out[k] = e
        total += e
    scale = 1.0 / total
    for k in range(raw.shape[0]):
        out[k] *= scale


@jit_kernel(parallel=True)
def softmax_pointwise(raw, out, log):
    """Per row of ``raw`` (n_samples, n_classes), its softmax (``log``: the log-softmax) into ``out``,
    which may be ``raw`` itself (the rows are independent and each is read before it is written).

    Why compiled: scipy's softmax of the 1e6 x 10 scores of a multinomial ``predict_proba`` made four
    passes over them with three temporaries of their size (~140 ms of the 215 ms call); one pass over
    the rows, in place, on the kernel threads."""
    for row in prange(raw.shape[0]):
        if log:
            log_softmax_row(raw[row], out[row])
        else:
            probabilities_row(raw[row], out[row])


@jit_kernel(parallel=True)
def sigmoid_pair_pointwise(scores, out, log):
    """``out[i] = (sigmoid(-s), sigmoid(s))`` for each score ``s`` of ``scores`` (n_samples,) into
    ``out`` (n_samples, 2) (``log``: their logarithms), both from ``t = exp(-|s|)``: the smaller
    probability is ``t / (1 + t)`` at full precision (no ``1 - p`` cancellation), its logarithm
    ``-|s| - log1p(t)`` finite where the probability underflows. One pass: scipy's ``expit`` twice and
    a stacking copy were three."""
    for row in prange(scores.shape[0]):
        s = np.float64(scores[row])
        t = logistic_tail(s)
        if log:
            tail = log1p_unit(t)
            large, small = -tail, -abs(s) - tail
        else:
            large = 1.0 / (1.0 + t)
            small = t * large
        if s >= 0.0:
            out[row, 0], out[row, 1] = small, large
        else:
            out[row, 0], out[row, 1] = large, small


@jit_kernel(parallel=True)
def argmax_pointwise(scores, out):
    """``out[i] = argmax(scores[i])`` as numpy's ``argmax(axis=1)``: the first of ties, and the first
    NaN where a row holds one. Why: numpy's row-wise arg max of 1e6 x 10 scores took ~30 ms of a
    multinomial ``predict``; one threaded pass."""
    for row in prange(scores.shape[0]):
        top = 0
        for k in range(scores.shape[1]):
            value = scores[row, k]
            if value != value:
                top = k
                break
            if value > scores[row, top]:
                top = k
        out[row] = top
