"""Pointwise losses, gradients and Hessians over given raw predictions.

Design: the fused kernels never materialize raw predictions; these kernels serve the places that
already hold them: the diagonal weights of the Newton Gram matrix ``X^T diag(h) X``, scoring and
metrics, and the reference path (matvec, pointwise, rmatvec) that tests and benchmarks compare the
fused kernels against. They inline the same point functions as the fused kernels.

Contract: ``raw`` (n_samples, n_models) float64; ``y``, ``sample_weight`` as in ``objective_dense``.
"""
import numpy as np
from numba import prange

from ._jit import jit_kernel
from .losses import MULTINOMIAL, hess_point, row_loss_grad


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
