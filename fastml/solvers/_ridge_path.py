"""Ridge regression for many penalties at once: one eigendecomposition, leave-one-out/GCV scores, K folds.

Design: with the intercept eliminated in Gram space, the centered weighted Gram matrix
``G_c = V diag(e) V^T`` is decomposed once (``n_features^3``, independent of ``n_samples``; by
``eigh``, or to high relative accuracy where features on very different scales make its eigenvalues
span more than ``eigh`` resolves, see ``_closed_form_base.gram_eigen``); then
every penalty costs only ``n_features^2``: ``coef(alpha) = V diag(1 / (e + alpha W)) V^T X_c^T W y``.
Leave-one-out needs the hat diagonal ``h_i(alpha) = w_i z_i^T diag(1 / (e + alpha W)) z_i (+ w_i / W
with an intercept)`` with ``Z = X_c V``: one more pass over ``X`` in row blocks (centered block by
block, never as a whole) computes ``Z``, then the hat diagonals of all penalties as one GEMM
``(Z * Z) @ (1 / (e + alpha W))`` and the predictions of all penalties and targets as another.
GCV needs no second pass at all: the residual sum of squares and the degrees of freedom of every
penalty follow from ``e`` and ``V^T X_c^T W y``. K folds share one pass over ``X`` that accumulates
per-fold statistics; the training statistics of fold ``f`` are the total minus fold ``f``, and the
validation error is evaluated from fold ``f``'s own statistics, so ``X`` is read exactly once.

Penalty conventions. ``alpha`` is the ``l2`` of ``fastml.LinearObjective`` (data term normalized by
``sum(w)``); the penalty matrix added to the weighted Gram is ``alpha * W``:

* ``ridge_path``: ``W = sum(w)`` of all samples; leave-one-out keeps this penalty fixed when a
  sample is left out, exactly as scikit-learn's ``RidgeCV(alphas=alpha * sum(w))`` does.
* ``ridge_kfold``: ``W = sum(w)`` of each training set, so fold ``f``'s coefficients equal
  :func:`solve_least_squares` on its training rows with the same ``alpha``.
"""
from dataclasses import dataclass

import numpy as np

from .._config import resolve_n_threads
from ..kernels._blas_threads import one_blas_thread_in_fit
from ..kernels._parallel import map_row_chunks
from ._closed_form_base import (
    LeastSquaresData, block_rows_for, blas_threads, center_statistics, centered_target_sums,
    check_options, csr_threads, fold_gram_statistics, gram_eigen, gram_statistics, pack_params, penalized_inverse,
    warn_rank_deficient,
)

CV_MODES = ("loo", "gcv", None)
# rows of X per leave-one-out block: the block and its four products stay in the per-core caches.
# Measured at 1e6 x 100 (ridge_path, 10 alphas): 0.63-0.67 s with 768-1536-row blocks, 1.05 s with
# the 16 MB blocks of the other closed-form passes
LOO_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class RidgePathResult:
    """Ridge solutions for a grid of penalties, with optional leave-one-out or GCV scores.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coef : ndarray of shape (n_alphas, n_features, n_targets)
    intercept : ndarray of shape (n_alphas, n_targets)
        Zeros without an intercept.
    params : ndarray of shape (n_alphas, n_params)
        ``params[a]`` is the flat ``LinearObjective`` parameter vector for ``alphas[a]``.
    cv : {"loo", "gcv"} or None
    cv_scores : ndarray of shape (n_alphas, n_targets) or None
        ``"loo"``: weighted mean ``sum_i w_i (y_i - yhat_{-i})^2 / sum(w)`` of the exact leave-one-out
        squared errors. ``"gcv"``: ``(sum_i w_i r_i^2 / sum(w)) / (1 - df / n)^2`` with ``df`` the
        trace of the hat matrix (intercept included) and ``n`` the number of positive weights.
    cv_values : ndarray of shape (n_samples, n_targets, n_alphas) or None
        Leave-one-out squared residuals ``(y_i - yhat_{-i})^2`` (``store_cv_values=True``);
        scikit-learn's ``RidgeCV.cv_results_`` is ``w_i`` times these.
    best_index, best_alpha :
        The penalty with the lowest score averaged over targets (first one on ties).
    best_alpha_per_target : ndarray of shape (n_targets,) or None
    rank : ndarray of shape (n_alphas,)
        Directions kept by the pseudo-inverse (``n_features`` unless the system is singular).
    degrees_of_freedom : ndarray of shape (n_alphas,)
        Trace of the hat matrix, intercept included.
    eigenvalues : ndarray of shape (n_features,)
        Of the centered weighted Gram matrix ``X_c^T W X_c`` (ascending).
    objectives : ndarray of shape (n_alphas, n_targets)
        The ``LinearObjective`` value (weighted mean of half the squared residuals + ``alpha/2
        ||coef||^2``) of every penalty and target, from Gram quantities (no pass over ``X``).
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    params: np.ndarray
    cv: object
    cv_scores: object
    cv_values: object
    best_index: object
    best_alpha: object
    best_alpha_per_target: object
    rank: np.ndarray
    degrees_of_freedom: np.ndarray
    eigenvalues: np.ndarray
    objectives: np.ndarray = None


@dataclass(frozen=True)
class RidgeKFoldResult:
    """Ridge solutions and validation errors of K folds for a grid of penalties.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    folds : ndarray of shape (n_folds,)
        The distinct values of ``fold_ids``, in sorted order (the first axis below).
    coef : ndarray of shape (n_folds, n_alphas, n_features, n_targets)
        Fitted on every fold's training rows (all rows not in the fold).
    intercept : ndarray of shape (n_folds, n_alphas, n_targets)
    params : ndarray of shape (n_folds, n_alphas, n_params)
    validation_mse : ndarray of shape (n_folds, n_alphas, n_targets)
        ``sum_{i in fold} w_i r_i^2 / sum_{i in fold} w_i``.
    cv_scores : ndarray of shape (n_alphas, n_targets)
        Mean of ``validation_mse`` over folds.
    best_index, best_alpha, best_alpha_per_target :
        As in :class:`RidgePathResult`, from ``cv_scores``.
    rank : ndarray of shape (n_folds, n_alphas)
    """

    alphas: np.ndarray
    folds: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    params: np.ndarray
    validation_mse: np.ndarray
    cv_scores: np.ndarray
    best_index: int
    best_alpha: float
    best_alpha_per_target: np.ndarray
    rank: np.ndarray


def _check_alphas(alphas):
    try:
        values = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"alphas must be an array of numbers, got {alphas!r}") from None
    values = np.atleast_1d(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-D array, got shape {np.shape(alphas)}")
    if not np.isfinite(values).all() or np.any(values < 0):
        raise ValueError(f"alphas must be finite and non-negative, got {values}")
    return values


def _path_coefficients(system, eigenvalues, vectors, penalties, rcond, noise):
    """Coefficients ``(n_alphas, n_features, n_targets)``, intercepts ``(n_alphas, n_targets)``, and
    the pieces reused by the scores: the penalized inverse ``(n_features, n_alphas)``, the rank
    per penalty and ``V^T rhs``. ``noise``: the eigenvalues' error bound (see :func:`gram_eigen`)."""
    inverse, rank = penalized_inverse(eigenvalues, penalties, rcond, noise)
    projected = vectors.T @ system.rhs  # (n_features, n_targets)
    coef = vectors @ (inverse.T[:, :, None] * projected[None, :, :])
    # Two steps of iterative refinement with the same eigendecomposition: its solution is good to
    # ~eps * cond(Gram), which features on different scales make large (variances spanning 1e12:
    # 5e-5) though the problem is not ill-posed; refinement brings each coefficient to what the
    # problem's scale-invariant (Skeel) condition allows (1e-14 there), as a Jacobi-scaled Cholesky
    # would, for p^2 flops per alpha. Directions cut by rcond get no correction: still minimum-norm.
    # (Such data now mostly get gram_eigen's graded decomposition, already that accurate: the scores,
    # which use the decomposition directly, need it; the coefficients alone would not.)
    penalties = np.atleast_1d(np.asarray(penalties, dtype=np.float64))
    for _ in range(2):
        residual = (system.rhs[None, :, :] - np.einsum("jk,akt->ajt", system.gram, coef)
                    - penalties[:, None, None] * coef)
        coef += vectors @ (inverse.T[:, :, None] * np.einsum("jk,ajt->akt", vectors, residual))
    intercept = system.y_mean[None, :] - np.einsum("j,ajt->at", system.x_mean, coef)
    return coef, intercept, inverse, rank, projected


def _best(alphas, scores):
    index = int(np.argmin(scores.mean(axis=1)))
    return index, float(alphas[index]), alphas[np.argmin(scores, axis=0)]


def _loo_pass(data, system, vectors, inverse, coef, fit_intercept, block_rows, store):
    """Exact leave-one-out squared errors of every penalty and target: one pass over ``X`` in blocks.

    ``yhat_{-i} = y_i - r_i / (1 - h_i)`` with ``r_i`` the residual and ``h_i`` the hat diagonal of the
    weighted problem, for a fixed penalty matrix. Returns the weighted means ``(n_alphas, n_targets)``
    and, if ``store``, the squared errors ``(n_samples, n_targets, n_alphas)``.
    """
    design, n_samples, n_features = data.design, data.n_samples, data.n_features
    n_alphas, _, n_targets = coef.shape
    weights, weight_sum = data.sample_weight, system.weight_sum
    # predictions of all penalties and targets at once: z_i @ mixing, column t * n_alphas + a, with
    # mixing = V^T coef of the refined coefficients (Z V^T coef = X_c coef: V is orthogonal)
    mixing = np.einsum("jk,ajt->kta", vectors, coef).reshape(n_features, n_targets * n_alphas)
    centered_y = data.y - system.y_mean
    values = np.empty((n_samples, n_targets, n_alphas)) if store else None
    rows = min(block_rows or block_rows_for(n_features, block_bytes=LOO_BLOCK_BYTES), n_samples)
    if design.is_sparse:
        from ..kernels import _sparse

        data_, indices, indptr = design.csr
        vectors_c = np.ascontiguousarray(vectors)
        offset = system.x_mean @ vectors  # centering applied after the sparse product
        n_threads = csr_threads(indptr, resolve_n_threads(data.n_threads))

    def chunk_sums(chunk_start, chunk_stop):
        """Weighted sums of the squared leave-one-out errors of the rows ``chunk_start:chunk_stop``."""
        sums = np.zeros((n_targets, n_alphas))
        # block-sized buffers, reused: few large BLAS calls
        projected_buffer = np.empty((rows, n_features))
        squares_buffer = np.empty((rows, n_features))
        hat_buffer = np.empty((rows, n_alphas))
        prediction_buffer = np.empty((rows, n_targets * n_alphas))
        block_buffer = None if design.is_sparse else np.empty((rows, n_features))
        for start in range(chunk_start, chunk_stop, rows):
            stop = min(start + rows, chunk_stop)
            size = stop - start
            projected_rows = projected_buffer[:size]
            # 1) Z = (X - x_mean) V for the block (dense: centered in a block buffer, X untouched)
            if design.is_sparse:
                _sparse.csr_matvec(data_, indices, indptr[start:stop + 1], vectors_c, projected_rows, n_threads)
                projected_rows -= offset
            else:
                block = block_buffer[:size]
                if fit_intercept:  # copy and center in one pass over the rows
                    np.subtract(design.dense[start:stop], system.x_mean, out=block)
                else:
                    block[...] = design.dense[start:stop]
                np.matmul(block, vectors, out=projected_rows)
            # 2) hat diagonals of all penalties: one GEMM
            squares = np.multiply(projected_rows, projected_rows, out=squares_buffer[:size])
            hat = np.matmul(squares, inverse, out=hat_buffer[:size])
            block_weights = None if weights is None else weights[start:stop, None]
            if block_weights is not None:
                hat *= block_weights
            if fit_intercept:
                hat += (1.0 if block_weights is None else block_weights) / weight_sum
            # 3) residuals of all penalties and targets: one GEMM, then the leave-one-out errors
            prediction = np.matmul(projected_rows, mixing, out=prediction_buffer[:size])
            residual = centered_y[start:stop, :, None] - prediction.reshape(size, n_targets, n_alphas)
            with np.errstate(divide="ignore", invalid="ignore"):
                residual /= (1.0 - hat)[:, None, :]
            squared = np.square(residual, out=residual)
            if store:
                values[start:stop] = squared
            if block_weights is not None:
                squared *= block_weights[:, :, None]
            sums += squared.sum(axis=0)
        return sums

    # dense: one Python thread per row chunk, one-threaded BLAS each (see kernels._parallel.map_row_chunks);
    # CSR: the Cython product has its own threads
    chunk_threads = 1 if design.is_sparse else resolve_n_threads(data.n_threads)
    sums = np.zeros((n_targets, n_alphas))
    for part in map_row_chunks(chunk_sums, n_samples, chunk_threads, n_samples * n_features):
        sums += part
    return (sums / weight_sum).T, values


def _gcv_scores(system, eigenvalues, inverse, projected, centered_sq_sums, fit_intercept, n_weighted):
    """GCV of every penalty and target from the eigendecomposition alone (no pass over ``X``).

    ``rss = yy_c - sum_j q_j^2 g_j (2 - e_j g_j)`` with ``q = V^T rhs`` and ``g_j = 1/(e_j + p)`` (0 for
    dropped directions), and ``df = sum_j e_j g_j + fit_intercept``.
    """
    shrink = inverse * (2.0 - eigenvalues[:, None] * inverse)  # (n_features, n_alphas)
    rss = centered_sq_sums[None, :] - shrink.T @ (projected * projected)  # (n_alphas, n_targets)
    dof = eigenvalues @ inverse + float(fit_intercept)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (np.maximum(rss, 0.0) / system.weight_sum) / (1.0 - dof / n_weighted)[:, None] ** 2
    return scores, dof


@one_blas_thread_in_fit
def ridge_path(X, y, alphas, sample_weight=None, *, fit_intercept=True, cv="loo", store_cv_values=False,
               options=None, n_threads=None):
    """Ridge regression for every penalty of ``alphas`` from one eigendecomposition of the Gram matrix.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)
        float32/float64, C or F order, or CSR; never copied.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    alphas : array-like of shape (n_alphas,)
        Non-negative penalties in the ``LinearObjective`` convention (scikit-learn's
        ``RidgeCV(alphas=a)`` is ``alphas = a / sum(sample_weight)``). A zero penalty gives the
        minimum-norm least-squares solution.
    sample_weight : array-like of shape (n_samples,), optional
    fit_intercept : bool
    cv : {"loo", "gcv", None}
        ``"loo"``: exact leave-one-out errors (one more pass over ``X``); ``"gcv"``: generalized
        cross-validation (no further pass); None: coefficients only.
    store_cv_values : bool
        Keep the per-sample leave-one-out squared errors (``cv="loo"`` only).
    options : ClosedFormOptions, optional
        ``rcond`` is the pseudo-inverse cutoff; ``block_rows`` the rows per block.
    n_threads : int, optional

    Returns
    -------
    RidgePathResult

    Warns
    -----
    RankDeficientWarning
        If a penalty leaves the system singular (minimum-norm solutions are returned).
    """
    options = check_options(options)
    if cv not in CV_MODES:
        raise ValueError(f"cv must be 'loo', 'gcv' or None, got {cv!r}")
    if store_cv_values and cv != "loo":
        raise ValueError("store_cv_values=True needs cv='loo'")
    data = LeastSquaresData(X, y, sample_weight, n_threads=n_threads, check_input=options.check_input)
    alphas = _check_alphas(alphas)
    n_features = data.n_features
    # 1) Gram statistics (one pass), intercept eliminated, one eigendecomposition
    stats = gram_statistics(data, options.block_rows, fit_intercept, options.max_offset_ratio)
    system = center_statistics(stats, fit_intercept, options.rcond)
    penalties = alphas * system.weight_sum
    # eigh, or where the Gram's eigenvalues span more than eigh resolves at the smallest penalty, a
    # decomposition to high relative accuracy: the scores use it without refinement
    eigenvalues, vectors, noise = gram_eigen(system.gram, options.rcond, penalties.min())
    # 2) coefficients of every penalty
    coef, intercept, inverse, rank, projected = _path_coefficients(system, eigenvalues, vectors, penalties,
                                                                   options.rcond, noise)
    if rank.min() < n_features:
        warn_rank_deficient(rank, n_features, stacklevel=3)
    dof = eigenvalues @ inverse + float(fit_intercept)
    # 3) scores: leave-one-out (one more pass over X) or GCV (none)
    scores = values = None
    if cv == "loo":
        with blas_threads(n_threads):
            scores, values = _loo_pass(data, system, vectors, inverse, coef, fit_intercept,
                                       options.block_rows, store_cv_values)
    elif cv == "gcv":
        sq_sums = centered_target_sums(data.y, data.weights(), fit_intercept)[0]
        scores, dof = _gcv_scores(system, eigenvalues, inverse, projected, sq_sums, fit_intercept, data.n_weighted)
    from .closed_form import _objective_and_gradient

    centered_sq_sums = centered_target_sums(data.y, data.weights(), fit_intercept)[0]
    objectives = np.stack([_objective_and_gradient(system, coef[a], penalties[a], centered_sq_sums)[0]
                           for a in range(alphas.size)])
    best_index = best_alpha = best_per_target = None
    if scores is not None:
        best_index, best_alpha, best_per_target = _best(alphas, scores)
    params = np.stack([pack_params(coef[a], intercept[a], fit_intercept) for a in range(alphas.size)])
    return RidgePathResult(alphas=alphas, coef=coef, intercept=intercept, params=params, cv=cv,
                           cv_scores=scores, cv_values=values, best_index=best_index, best_alpha=best_alpha,
                           best_alpha_per_target=best_per_target, rank=rank, degrees_of_freedom=dof,
                           eigenvalues=eigenvalues, objectives=objectives)


@one_blas_thread_in_fit
def ridge_kfold(X, y, fold_ids, alphas, sample_weight=None, *, fit_intercept=True, options=None, n_threads=None):
    """K-fold cross-validated ridge for a grid of penalties, with one pass over ``X``.

    Per-fold Gram statistics are accumulated in one pass; fold ``f``'s training statistics are the
    total minus fold ``f``; each training system is eigendecomposed once for all penalties; the
    validation errors come from fold ``f``'s statistics (centered on the fold's own means, which
    keeps the quadratic form accurate). The result equals K separate
    :func:`solve_least_squares` fits on the training rows, scored on the held-out rows.

    Parameters
    ----------
    X, y, sample_weight, fit_intercept, options, n_threads :
        As in :func:`ridge_path`.
    fold_ids : array-like of shape (n_samples,)
        Fold label of every sample (at least two distinct labels).
    alphas : array-like of shape (n_alphas,)
        Penalties in the ``LinearObjective`` convention, relative to each training set's
        ``sum(w)``.

    Returns
    -------
    RidgeKFoldResult

    Warns
    -----
    RankDeficientWarning
        If a fold's training system is singular for some penalty (minimum-norm solutions).
    """
    options = check_options(options)
    data = LeastSquaresData(X, y, sample_weight, n_threads=n_threads, check_input=options.check_input)
    alphas = _check_alphas(alphas)
    fold_ids = np.asarray(fold_ids)
    if fold_ids.shape != (data.n_samples,):
        raise ValueError(f"fold_ids must have shape (n_samples,) = ({data.n_samples},), got {fold_ids.shape}")
    folds, codes = np.unique(fold_ids, return_inverse=True)
    n_folds, n_alphas, n_features, n_targets = folds.size, alphas.size, data.n_features, data.n_targets
    if n_folds < 2:
        raise ValueError(f"fold_ids must hold at least two distinct folds, got {n_folds}")
    # 1) per-fold statistics in one pass over X; the total is their sum
    fold_stats = fold_gram_statistics(data, codes, n_folds, options.block_rows, fit_intercept)
    total = fold_stats[0]
    for stats in fold_stats[1:]:
        total = total + stats
    fold_sq_sums = centered_target_sums(data.y, data.weights(), True, codes, n_folds)
    n_params = (n_features + fit_intercept) * n_targets
    coef = np.empty((n_folds, n_alphas, n_features, n_targets))
    intercept = np.empty((n_folds, n_alphas, n_targets))
    params = np.empty((n_folds, n_alphas, n_params))
    mse = np.empty((n_folds, n_alphas, n_targets))
    rank = np.empty((n_folds, n_alphas), dtype=np.intp)
    for fold, held_out in enumerate(fold_stats):
        if held_out.weight_sum <= 0:
            raise ValueError(f"fold {folds[fold]!r} carries no sample weight: its validation error is undefined")
        train = total - held_out
        if train.weight_sum <= 0:
            raise ValueError(f"the training set of fold {folds[fold]!r} carries no sample weight")
        # 2) training system = total - fold, all penalties from one eigendecomposition
        system = center_statistics(train, fit_intercept, options.rcond)
        penalties = alphas * system.weight_sum
        eigenvalues, vectors, noise = gram_eigen(system.gram, options.rcond, penalties.min())
        coef[fold], intercept[fold], _, rank[fold], _ = _path_coefficients(
            system, eigenvalues, vectors, penalties, options.rcond, noise)
        for a in range(n_alphas):
            params[fold, a] = pack_params(coef[fold, a], intercept[fold, a], fit_intercept)
        # 3) validation error from the fold's statistics centered on its own means:
        #    sum w r^2 = yy_f - 2 coef^T rhs_f + coef^T G_f coef + W_f (intercept - ybar_f + xbar_f coef)^2
        held = center_statistics(held_out, True)
        fold_coef = coef[fold]
        offset = intercept[fold] - held.y_mean + np.einsum("j,ajt->at", held.x_mean, fold_coef)
        quadratic = np.einsum("ajt,ajt->at", fold_coef, held.gram @ fold_coef)
        linear = np.einsum("ajt,jt->at", fold_coef, held.rhs)
        sse = fold_sq_sums[fold][None, :] - 2.0 * linear + quadratic + held.weight_sum * offset ** 2
        mse[fold] = np.maximum(sse, 0.0) / held.weight_sum
    if rank.min() < n_features:
        warn_rank_deficient(rank, n_features, stacklevel=3)
    scores = mse.mean(axis=0)
    best_index, best_alpha, best_per_target = _best(alphas, scores)
    return RidgeKFoldResult(alphas=alphas, folds=folds, coef=coef, intercept=intercept, params=params,
                            validation_mse=mse, cv_scores=scores, best_index=best_index, best_alpha=best_alpha,
                            best_alpha_per_target=best_per_target, rank=rank)
