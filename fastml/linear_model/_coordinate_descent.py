"""Lasso, ElasticNet and ElasticNetCV on fastml's coordinate descent (duality-gap stopping rule).

Every estimator here minimizes, per target (``W = sum(sample_weight)``)::

    1 / (2 W) * sum_i w_i (y_i - x_i . coef - intercept)^2
        + alpha * l1_ratio * ||coef||_1 + alpha * (1 - l1_ratio) / 2 * ||coef||^2

which is scikit-learn's objective, weights included: scikit-learn rescales ``sample_weight`` to sum to
``n_samples``, which gives the same ``1 / (2 W)`` normalization. So ``alpha`` means the same thing in
both libraries and reaches the solver unchanged.
"""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils.validation import column_or_1d

from .._config import resolve_n_threads
from ..kernels._blas_threads import one_blas_thread_in_fit
from ..solvers.coordinate_descent import _choose_variant
from ._base import (
    check_choice, check_scalar_param, gram_settles_finiteness, progress_callback, solver_info, start_fingerprint,
    validate_fit_data, warn_if_not_converged,
)
from ._least_squares import LinearRegressorMixin, n_threads_from_n_jobs, optional_sample_weight
from ._solve import _seed

SELECTIONS = ("cyclic", "random")


def _variant(precompute, n_features):
    """scikit-learn's ``precompute`` as a coordinate-descent variant.

    ``True`` asks for the Gram matrix; ``False`` and ``"auto"`` let fastml choose (the Gram variant
    on enough rows per feature, see ``fastml.solvers.coordinate_descent``): the variant changes the
    speed, not the solution. An array (a precomputed Gram) is checked for shape and otherwise recomputed.
    """
    if isinstance(precompute, str):
        check_choice(precompute, "precompute", ("auto",))
        return "auto"
    if isinstance(precompute, (bool, np.bool_)):
        return "gram" if precompute else "auto"
    if np.shape(precompute) != (n_features, n_features):
        raise ValueError(f"precompute must be a bool, 'auto' or a Gram matrix of shape ({n_features}, "
                         f"{n_features}), got {type(precompute).__name__} of shape {np.shape(precompute)}")
    return "gram"


def _check_common(estimator):
    check_scalar_param(estimator.max_iter, "max_iter", minimum=1, integer=True)
    check_scalar_param(estimator.tol, "tol", minimum=0.0)
    check_choice(estimator.selection, "selection", SELECTIONS)


class ElasticNet(LinearRegressorMixin, RegressorMixin, MultiOutputMixin, BaseEstimator):
    """Linear regression with combined L1 and L2 penalties, a drop-in for scikit-learn's ``ElasticNet``.

    Coordinate descent in Cython (``fastml.solvers.coordinate_descent``): the Gram variant (one pass
    over ``X``, then sweeps independent of ``n_samples``) when ``n_samples >= n_features``, else
    column sweeps over dense or CSR/CSC ``X``; gap-safe screening; stopped, as scikit-learn, when the
    duality gap is below ``tol * sum_i w_i (y_i - ybar)^2``. Several targets are independent problems
    sharing ``X`` (and its Gram matrix).

    Parameters
    ----------
    alpha : float
        Penalty strength (>= 0), in scikit-learn's units.
    l1_ratio : float in [0, 1]
    fit_intercept : bool
    precompute : bool, "auto" or array
        See :func:`_variant`: it picks the storage the sweeps run on, never the result.
    max_iter : int
        Most sweeps over the coordinates.
    copy_X : bool
        Accepted for compatibility; ``X`` is never modified.
    tol : float
        Relative duality-gap tolerance (scikit-learn's rule).
    warm_start : bool
        Start from the previous fit's ``coef_`` when its shape agrees.
    positive : bool
    random_state : int, RandomState or None
        Seeds ``selection="random"``.
    selection : {"cyclic", "random"}
    callbacks : list of callables or None
        Called with an ``IterationInfo`` after every duality-gap check (``gradient_norm`` holds the
        gap); returning True stops.

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, sparse_coef_, n_features_in_, feature_names_in_
        As in scikit-learn (float32 ``X`` gives float32 ``coef_``).
    loss_curve_ : ndarray
        Objective value at every duality-gap check (the first before any sweep).
    solver_info_ : dict
        Trace, timings, variant, duality gap.
    """

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False, max_iter=1000,
                 copy_X=True, tol=1e-4, warm_start=False, positive=False, random_state=None, selection="cyclic",
                 callbacks=None):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.callbacks = callbacks

    def _mixing(self):
        return check_scalar_param(self.l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0)

    def _penalties(self, weight_sum, n_targets):
        mixing = float(self._mixing())
        return self.alpha * (1.0 - mixing), self.alpha * mixing

    @property
    def sparse_coef_(self):
        """``coef_`` as a CSR matrix."""
        return sp.csr_matrix(np.atleast_2d(self.coef_))

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit by coordinate descent; ``sample_weight`` multiplies the squared residuals (k == k copies).

        ``check_input`` is accepted for compatibility; the input is always validated.
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight, statistics=None):
        """:meth:`fit`; ``statistics`` (``GramStatistics`` of all rows of this ``X``, ``y`` and weights,
        from a cross-validation pass) replaces the preparation of ``X`` by the Gram variant."""
        check_scalar_param(self.alpha, "alpha", minimum=0.0)
        mixing = float(self._mixing())
        _check_common(self)
        # every coordinate-descent variant checks its sums over X (Gram diagonal or column squares),
        # which settles X's finiteness without a pass of its own
        X, y = validate_fit_data(self, X, y, multi_output=True, check_X_finite=False)
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        variant = _choose_variant(_variant(self.precompute, X.shape[1]), sp.issparse(X), *X.shape, n_targets)
        fingerprint = start_fingerprint(X, gram=variant == "gram")
        if self.alpha == 0:
            warnings.warn("With alpha=0, this algorithm does not converge well. You are advised to use the "
                          "LinearRegression estimator", stacklevel=2)
        sample_weight = optional_sample_weight(sample_weight, X)
        from ..solvers.coordinate_descent import CoordinateDescentOptions

        n_features, n_targets = X.shape[1], (1 if y.ndim == 1 else y.shape[1])
        options = CoordinateDescentOptions(max_iter=self.max_iter, tol=self.tol, selection=self.selection,
                                           random_state=_seed(self.random_state),
                                           variant=_variant(self.precompute, n_features), positive=self.positive)
        w0 = None
        if self.warm_start and hasattr(self, "coef_") and np.size(self.coef_) == n_features * n_targets:
            coef, _ = self._solver_coef()
            w0 = np.vstack([coef.reshape(n_features, n_targets), np.zeros((int(self.fit_intercept), n_targets))])
        callback, bar = progress_callback(self, self.max_iter, self.callbacks)
        try:
            with gram_settles_finiteness(self, X):
                result = self._solve(X, y, sample_weight, statistics, mixing, w0, options, callback)
        finally:
            if bar is not None:
                bar.close()
        warn_if_not_converged(self, result, "coordinate descent")
        matrix = result.params.reshape(n_features + self.fit_intercept, n_targets)
        intercept = matrix[n_features] if self.fit_intercept else np.zeros(n_targets)
        self._set_coef(matrix[:n_features], intercept, X.dtype, y.ndim)
        # scikit-learn: a list of sweeps per target for several targets, the gap in X's dtype
        self.n_iter_ = result.n_iter.tolist() if np.ndim(result.n_iter) else result.n_iter
        self.dual_gap_ = np.asarray(result.info["dual_gap"], dtype=X.dtype)[()]
        self.loss_curve_ = result.trace["objective"]
        self.solver_info_ = solver_info(result, "coordinate_descent")
        return fingerprint.finish(self)

    def _solve(self, X, y, sample_weight, statistics, mixing, w0, options, callback):
        """Coordinate descent on ``X`` (or on the fold statistics of a cross-validation pass)."""
        from ..solvers.coordinate_descent import coordinate_descent, coordinate_descent_from_statistics

        if statistics is not None:
            return coordinate_descent_from_statistics(statistics, X.shape[0], alpha=float(self.alpha), l1_ratio=mixing,
                                                      fit_intercept=self.fit_intercept, w0=w0, options=options,
                                                      callback=callback)
        return coordinate_descent(X, y, sample_weight, alpha=float(self.alpha), l1_ratio=mixing,
                                  fit_intercept=self.fit_intercept, w0=w0, options=options, callback=callback)


class Lasso(ElasticNet):
    """Linear regression with an L1 penalty, a drop-in for scikit-learn's ``Lasso``.

    :class:`ElasticNet` with ``l1_ratio=1``; see it for the parameters and attributes.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True, max_iter=1000, tol=1e-4,
                 warm_start=False, positive=False, random_state=None, selection="cyclic", callbacks=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.callbacks = callbacks

    def _mixing(self):
        return 1.0


def _weighted_xty(X, y, weights, fit_intercept):
    """``X_c^T W y_c`` (n_features,) in float64, without a float64 copy of ``X``."""
    w_sum = weights.sum()
    y_c = y - (weights @ y) / w_sum if fit_intercept else y
    wy = weights * y_c
    if sp.issparse(X):
        xty = np.asarray(X.T @ wy, dtype=np.float64).ravel()
        column_sums = np.asarray(X.T @ weights, dtype=np.float64).ravel()
    else:
        xty, column_sums = np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for start in range(0, X.shape[0], 4096):
            block = np.asarray(X[start:start + 4096], dtype=np.float64)
            xty += wy[start:start + 4096] @ block
            column_sums += weights[start:start + 4096] @ block
    if fit_intercept:  # subtract mean_j * sum_i w_i y_c,i (zero up to rounding, kept for exactness)
        xty -= column_sums / w_sum * wy.sum()
    return xty


def _alpha_grid(xty, weight_sum, l1_ratio, eps, n_alphas, positive):
    """scikit-learn's grid: ``n_alphas`` values log-spaced from ``alpha_max`` down to ``eps * alpha_max``."""
    if l1_ratio == 0:
        raise ValueError("Automatic alpha grid generation is not supported for l1_ratio=0. Please supply a grid "
                         "by providing your estimator with the appropriate `alphas=` argument.")
    top = (max(0.0, xty.max()) if positive else np.abs(xty).max()) / (weight_sum * l1_ratio)
    if top <= np.finfo(np.float64).resolution:
        return np.full(n_alphas, np.finfo(np.float64).resolution)
    return np.geomspace(top, top * eps, num=n_alphas)


class ElasticNetCV(RegressorMixin, MultiOutputMixin, BaseEstimator):
    """Elastic net with ``alpha`` (and ``l1_ratio``) chosen by cross-validation, a drop-in for
    scikit-learn's ``ElasticNetCV``.

    For every ``l1_ratio`` and fold, one coordinate-descent path over all alphas with warm starts.
    Dense ``X`` with the Gram variant and folds whose test sets partition the rows (KFold and the
    like): one pass over ``X`` sums every test fold, and each training fold's Gram is the total minus
    its test fold's (``fastml.solvers._cd_statistics``); otherwise each fold forms its Gram (or column
    sweeps) from its rows, fitted as zero-weight rows. ``X`` is never copied into training subsets;
    only each test fold is gathered, to score it. The alpha grid, the mean squared error per fold (weighted by
    ``sample_weight`` on the test rows, as scikit-learn) and the selection rule are scikit-learn's;
    the final model is refitted on all data. One target only, as scikit-learn.

    Parameters
    ----------
    l1_ratio : float or list of float
    eps : float
        ``alpha_min / alpha_max`` of the automatic grid.
    alphas : int or array-like
        Number of alphas of the automatic grid, or the alphas themselves.
    fit_intercept, precompute, max_iter, tol, copy_X, positive, random_state, selection :
        As in :class:`ElasticNet`.
    cv : int, cross-validation generator, iterable or None
        None: 5-fold ``KFold``.
    verbose : int
    n_jobs : int or None
        Threads of the coordinate-descent kernels (folds run one after another).

    Attributes
    ----------
    alpha_, l1_ratio_, coef_, intercept_, mse_path_, alphas_, dual_gap_, n_iter_, n_features_in_,
    feature_names_in_
        As in scikit-learn.
    loss_curve_, solver_info_
        Of the final refit.
    """

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, fit_intercept=True, precompute="auto", max_iter=1000,
                 tol=1e-4, cv=None, copy_X=True, verbose=0, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic"):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _check_params(self):
        _check_common(self)
        check_scalar_param(self.eps, "eps", minimum=0.0, include_minimum=False)
        l1_ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=object))
        for i, ratio in enumerate(l1_ratios.ravel()):
            check_scalar_param(ratio, f"l1_ratio[{i}]" if l1_ratios.size > 1 else "l1_ratio", minimum=0.0, maximum=1.0)
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            check_scalar_param(self.alphas, "alphas", minimum=1, integer=True)
            alphas = None
        else:
            alphas = [float(check_scalar_param(a, f"alphas[{i}]", minimum=0.0)) for i, a in
                      enumerate(np.ravel(self.alphas))]
            if not alphas:
                raise ValueError("alphas must hold at least one value")
            alphas = np.sort(alphas)[::-1]
        return l1_ratios.ravel().astype(np.float64), alphas

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit every alpha (and l1_ratio) on every fold, keep the best, refit it on all data."""
        from ..solvers._cd_statistics import fold_training_statistics
        from ..solvers.coordinate_descent import (CoordinateDescentOptions, coordinate_descent_path,
                                                  coordinate_descent_path_from_statistics)

        l1_ratios, given_alphas = self._check_params()
        n_threads = n_threads_from_n_jobs(self.n_jobs)
        X, y = validate_fit_data(self, X, y, multi_output=True)
        if y.ndim == 2:
            if y.shape[1] > 1:
                raise ValueError("For multi-task outputs, use MultiTaskElasticNetCV")
            y = column_or_1d(y, warn=True)  # DataConversionWarning, as scikit-learn
        sample_weight = optional_sample_weight(sample_weight, X)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        y64 = np.asarray(y, dtype=np.float64)
        folds = list(check_cv(self.cv).split(X, y))
        options = CoordinateDescentOptions(max_iter=self.max_iter, tol=self.tol, selection=self.selection,
                                           random_state=_seed(self.random_state),
                                           variant=_variant(self.precompute, X.shape[1]), positive=self.positive)
        # 0) Gram variant on dense X with partitioning folds: every fold's Gram from one pass over X
        #    (training sums = all rows minus the test fold's); else each fold forms its own
        statistics = None
        smallest_train = min(len(train) for train, _ in folds)
        # every (l1_ratio, alpha, fold) solve shares the one pass of fold statistics
        n_solves = l1_ratios.size * (int(self.alphas) if given_alphas is None else given_alphas.size) * len(folds)
        if not sp.issparse(X) and _choose_variant(options.variant, False, smallest_train, X.shape[1],
                                                  n_solves) == "gram":
            statistics = fold_training_statistics(X, y64[:, None], weights, folds, self.fit_intercept,
                                                  resolve_n_threads(n_threads))
        # 1) the alpha grid of every l1_ratio, from the full data (scikit-learn's rule)
        if given_alphas is None:
            if statistics is not None:
                total = statistics[1]
                xty = total.xy[:, 0]  # X^T W y; centered (X_c^T W y_c) with an intercept
                if self.fit_intercept:
                    xty = xty - total.x_sum * total.y_sum[0] / total.weight_sum
            else:
                xty = _weighted_xty(X, y64, weights, self.fit_intercept)
            grids = np.array([_alpha_grid(xty, weights.sum(), ratio, self.eps, self.alphas, self.positive)
                              for ratio in l1_ratios])
        else:
            grids = np.tile(given_alphas, (l1_ratios.size, 1))
        # 2) one path per (l1_ratio, fold): from the fold's training sums, or (fallback: wide or sparse X)
        #    on a copy of the fold's training rows, unweighted unless the fit is weighted. (All rows with
        #    zero weights on the test fold read a quarter more rows through the weighted kernels:
        #    LassoCV() on 200 x 1 000, its five paths took 420 ms that way, ~250 ms on the copies.)
        mse = np.empty((l1_ratios.size, len(folds), grids.shape[1]))
        for r, ratio in enumerate(l1_ratios):
            for f, (train, test) in enumerate(folds):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-zero path is a valid answer
                    if statistics is not None:
                        path = coordinate_descent_path_from_statistics(
                            statistics[0][f], len(train), l1_ratio=float(ratio), alphas=grids[r],
                            fit_intercept=self.fit_intercept, options=options, n_threads=n_threads)
                    else:
                        path = coordinate_descent_path(X[train], y64[train],
                                                       None if sample_weight is None else weights[train],
                                                       l1_ratio=float(ratio), alphas=grids[r],
                                                       fit_intercept=self.fit_intercept, options=options,
                                                       n_threads=n_threads)
                # 3) mean squared error of every alpha on the test rows
                predictions = X[test] @ path.coef[:, :, 0].T + path.intercept[:, 0]  # (n_test, n_alphas)
                squared = (predictions - y64[test, None]) ** 2
                mse[r, f] = np.average(squared, axis=0, weights=None if sample_weight is None else weights[test])
        self.mse_path_ = np.squeeze(np.moveaxis(mse, 2, 1))
        mean_mse = mse.mean(axis=1)
        best_mse = np.inf
        for r, ratio in enumerate(l1_ratios):
            index = int(np.argmin(mean_mse[r]))
            if mean_mse[r, index] < best_mse:
                best_mse, self.alpha_, self.l1_ratio_ = mean_mse[r, index], float(grids[r, index]), float(ratio)
        self.alphas_ = grids[0] if (given_alphas is not None or l1_ratios.size == 1) else grids
        # 4) refit on all data
        model = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_, fit_intercept=self.fit_intercept,
                           precompute=self.precompute, max_iter=self.max_iter, tol=self.tol, positive=self.positive,
                           random_state=self.random_state, selection=self.selection)
        # the fold pass summed every row already: the refit needs no Gram pass of its own
        model._fit(X, y, sample_weight, statistics=None if statistics is None else statistics[1])
        for name in ("coef_", "intercept_", "dual_gap_", "n_iter_", "loss_curve_", "solver_info_"):
            setattr(self, name, getattr(model, name))
        self._model = model
        # the refit's fingerprint is this model's (same X, same coefficients): only the names differ
        if not hasattr(model, "fingerprint_"):  # fingerprints switched off (fastml.set_config)
            self.__dict__.pop("fingerprint_", None)
            return self
        self.fingerprint_ = model.fingerprint_
        names = getattr(self, "feature_names_in_", None)
        self.fingerprint_.feature_names = None if names is None else [str(name) for name in names]
        return self

    def _solver_coef(self):
        return self._model._solver_coef()

    def predict(self, X):
        return LinearRegressorMixin.predict(self, X)

    def objective(self, X, y, sample_weight=None):
        """The objective of the refitted :class:`ElasticNet` on ``(X, y)``."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32])
        return self._model.objective(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = False
        return tags


class LassoCV(ElasticNetCV):
    """Lasso with ``alpha`` chosen by cross-validation, a drop-in for scikit-learn's ``LassoCV``.

    :class:`ElasticNetCV` with ``l1_ratio=1`` (the same fold statistics, paths and selection rule);
    see it for the parameters. Fitted attributes as scikit-learn's: ``alpha_``, ``coef_``,
    ``intercept_``, ``mse_path_`` (n_alphas, n_folds), ``alphas_``, ``dual_gap_``, ``n_iter_``,
    ``n_features_in_``, ``feature_names_in_`` (no ``l1_ratio_``), plus ``loss_curve_`` and
    ``solver_info_`` of the final refit.
    """

    l1_ratio = 1.0  # not a parameter: fixed, as in scikit-learn

    def __init__(self, *, eps=1e-3, alphas=100, fit_intercept=True, precompute="auto", max_iter=1000, tol=1e-4,
                 copy_X=True, cv=None, verbose=0, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic"):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit every alpha on every fold, keep the best, refit it on all data."""
        super().fit(X, y, sample_weight)
        del self.l1_ratio_
        return self

