"""Closed-form least squares and ridge regression from the weighted Gram matrix.

Objective (the convention of ``fastml.LinearObjective("squared_error", ..., l2=alpha)``), per target::

    1 / (2 sum_i w_i) * sum_i w_i (y_i - x_i . coef - intercept)^2 + alpha / 2 * ||coef||^2

The intercept is not penalized. Because the data term is normalized by ``sum(w)``, scikit-learn's
``Ridge(alpha=a_sk)`` (which minimizes ``sum_i w_i r_i^2 + a_sk ||coef||^2``) equals this objective
with ``alpha = a_sk / sum(w)`` (``a_sk / n_samples`` without weights); in the other direction
``a_sk = alpha * sum(w)``.

Design: one pass over ``X`` gives ``X^T W X``, ``X^T W y`` and ``X^T w`` (BLAS ``syrk`` on row
blocks for dense ``X``, the Cython kernels for CSR; see ``_closed_form_base``); the intercept is
eliminated in Gram space (no copy, no centering of ``X``; a second, block-shifted pass only when a
column's offset would cost precision); the ``n_features``-sized system is solved
by Cholesky after Jacobi scaling, with an automatic fallback to the minimum-norm solution from the
eigendecomposition when the system is singular or ill-conditioned. Many penalties from one
factorization, leave-one-out/GCV scores and K folds by subtraction live in ``_ridge_path``.
"""
import numpy as np
from scipy.linalg import cho_solve

from ..kernels._blas_threads import blas_threads_for_order, one_blas_thread_in_fit
from ._closed_form_base import (
    RESOLVED_NOISE_MULTIPLE, ClosedFormOptions, LeastSquaresData, RankDeficientWarning, center_statistics,
    centered_target_sums, check_options, check_penalties, gram_eigen, gram_statistics, jacobi_cholesky, pack_params,
    penalized_inverse, warn_rank_deficient,
)
from ._result import SolverResult, Trace, notify
from ._ridge_path import RidgeKFoldResult, RidgePathResult, ridge_kfold, ridge_path

__all__ = ["ClosedFormOptions", "RankDeficientWarning", "solve_least_squares", "ridge_path", "ridge_kfold",
           "RidgePathResult", "RidgeKFoldResult"]


def _cholesky_solve(gram, rhs, penalties, rcond):
    """Solve ``(gram + p_t I) coef_t = rhs_t`` by Cholesky, one factorization per distinct penalty.

    The system is Jacobi-scaled first (unit diagonal, :func:`jacobi_cholesky`): Cholesky's accuracy
    does not depend on the scaling, but the condition estimate then measures the problem, not the
    units of the features. Without penalty the estimate must exceed ``rcond`` (below, the
    eigendecomposition returns the minimum-norm solution and warns). With a positive penalty the
    system is solved whenever it is numerically positive definite, an estimate above
    ``RESOLVED_NOISE_MULTIPLE * n_features * eps``: ``rcond`` there refused resolvable systems (four
    columns ``1e6 + N(0, 1)`` without an intercept, estimate ~2e-13, are solved to ~1e-7 of the
    objective, as LAPACK's least squares on the augmented ``[X; sqrt(alpha) I]``).
    Returns ``(coef, smallest reciprocal condition estimate)``, or ``(None, rcond_estimate)`` when a
    system is not accepted.
    """
    n_features = gram.shape[0]
    resolved = RESOLVED_NOISE_MULTIPLE * n_features * np.finfo(np.float64).eps
    coef = np.empty(rhs.shape)
    worst = np.inf
    with blas_threads_for_order(n_features):  # see its docstring: the next pass over X
        for penalty in np.unique(penalties):
            targets = np.flatnonzero(penalties == penalty)
            factored = jacobi_cholesky(gram + penalty * np.eye(n_features))
            if factored is None:
                return None, 0.0
            factor, scale, estimate = factored
            worst = min(worst, estimate)
            if not estimate > (min(rcond, resolved) if penalty > 0 else rcond):
                return None, worst
            coef[:, targets] = scale[:, None] * cho_solve((factor, False), scale[:, None] * rhs[:, targets],
                                                          check_finite=False)
    return coef, worst


def _eigen_solve(gram, rhs, penalties, rcond):
    """Minimum-norm solution of ``(gram + p_t I) coef_t = rhs_t`` from one eigendecomposition (to high
    relative accuracy where the Gram is ill-conditioned only through the features' scales)."""
    eigenvalues, vectors, noise = gram_eigen(gram, rcond, float(np.min(penalties, initial=np.inf)))
    inverse, rank = penalized_inverse(eigenvalues, penalties, rcond, noise)  # (n_features, n_targets)
    projected = vectors.T @ rhs
    return vectors @ (inverse * projected), rank


def _objective_and_gradient(system, coef, penalties, centered_sq_sums):
    """Objective value and gradient norm of every target, from Gram quantities (no pass over ``X``).

    With the intercept eliminated, ``sum w r^2 = yy_c - 2 coef^T rhs + coef^T G_c coef`` and the
    intercept's gradient is exactly zero.
    """
    weight_sum = system.weight_sum
    gram_coef = system.gram @ coef
    rss = centered_sq_sums - 2.0 * np.einsum("jt,jt->t", coef, system.rhs) + np.einsum("jt,jt->t", coef, gram_coef)
    alphas = penalties / weight_sum
    objectives = 0.5 * np.maximum(rss, 0.0) / weight_sum + 0.5 * alphas * np.einsum("jt,jt->t", coef, coef)
    gradient = (gram_coef - system.rhs) / weight_sum + alphas * coef
    return objectives, np.sqrt(np.einsum("jt,jt->t", gradient, gradient))


@one_blas_thread_in_fit
def solve_least_squares(X, y, sample_weight=None, *, alpha=0.0, fit_intercept=True, options=None,
                        n_threads=None, callback=None):
    """Least squares or ridge regression in closed form, one pass over ``X``.

    Minimizes, for each target ``t``,
    ``1/(2 sum(w)) sum_i w_i (y_it - x_i . coef_t - intercept_t)^2 + alpha_t/2 ||coef_t||^2``,
    the objective of ``fastml.LinearObjective("squared_error", X, y, sample_weight, l2=alpha)``.
    scikit-learn's ``Ridge(alpha=a)`` is ``alpha = a / sum(sample_weight)`` here.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)
        float32/float64 in C or F order (or CSR) is used without a copy; float32 data is
        accumulated in float64.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative; integer weights are equivalent to repeating rows.
    alpha : float or array-like of shape (n_targets,)
        L2 penalty (0 for ordinary least squares), one per target if an array.
    fit_intercept : bool
        Fit an unpenalized intercept (eliminated in Gram space: ``X`` is never centered).
    options : ClosedFormOptions, optional
    n_threads : int, optional
        Threads for the CSR kernels and BLAS (default: their defaults).
    callback : callable, optional
        Called once with an :class:`IterationInfo` (the solver has a single "iteration").

    Returns
    -------
    SolverResult
        ``params``: ravel of the ``(n_features + fit_intercept, n_targets)`` matrix whose last row
        is the intercept. ``info``: ``"method"`` (``"cholesky"`` or ``"eigh"``), ``"rank"`` (smallest
        rank over targets; ``"rank_per_target"`` holds each), ``"rcond_estimate"`` (LAPACK's estimate
        of the Jacobi-scaled system, NaN if not computed), ``"objectives"`` per target,
        ``"coef"`` (n_features, n_targets), ``"intercept"`` (n_targets,).

    Warns
    -----
    RankDeficientWarning
        When the system is singular or ill-conditioned and the minimum-norm solution is returned
        (the rank kept is in ``info["rank"]``). The coefficients are always finite.
    """
    options = check_options(options)
    trace = Trace()
    trace.start()
    data = LeastSquaresData(X, y, sample_weight, n_threads=n_threads, check_input=options.check_input)
    alphas = check_penalties(alpha, data.n_targets)
    # 1) Gram statistics in one pass over X, intercept eliminated in Gram space
    stats = gram_statistics(data, options.block_rows, fit_intercept, options.max_offset_ratio)
    system = center_statistics(stats, fit_intercept, options.rcond)
    penalties = alphas * system.weight_sum
    n_features = data.n_features
    # 2) Cholesky of the scaled system (one per distinct penalty)
    coef, estimate = None, np.nan
    if options.method == "auto":
        coef, estimate = _cholesky_solve(system.gram, system.rhs, penalties, options.rcond)
    method = "cholesky"
    rank = np.full(data.n_targets, n_features)
    # 3) fallback (or method="eigh"): minimum-norm solution from the eigendecomposition
    if coef is None:
        method = "eigh"
        coef, rank = _eigen_solve(system.gram, system.rhs, penalties, options.rcond)
        if options.method == "auto" or rank.min() < n_features:
            warn_rank_deficient(rank, n_features, estimate)
    intercept = system.y_mean - system.x_mean @ coef
    # 4) objective and gradient norm from Gram quantities, recorded as the single iteration
    sq_sums = centered_target_sums(data.y, data.weights(), fit_intercept)[0]
    objectives, gradient_norms = _objective_and_gradient(system, coef, penalties, sq_sums)
    params = pack_params(coef, intercept, fit_intercept)
    notify(callback, trace, 1, objectives.sum(), np.sqrt(np.sum(gradient_norms ** 2)), 1.0, params)
    info = {"method": method, "rank": int(rank.min()), "rank_per_target": rank,
            "rcond_estimate": estimate, "objectives": objectives, "coef": coef, "intercept": intercept,
            "alpha": alphas}
    return SolverResult(params=params, n_iter=1, converged=True, trace=trace,
                        message=f"solved by {method}", info=info)

