"""LinearRegression, Ridge and RidgeCV: least squares in closed form from one pass over ``X``.

Every estimator here minimizes, per target ``t`` (``W = sum(sample_weight)``)::

    1 / (2 W) * sum_i w_i (y_it - x_i . coef_t - intercept_t)^2 + l2_t / 2 * ||coef_t||^2

the squared-error :class:`fastml.LinearObjective`. scikit-learn's ``Ridge(alpha)`` minimizes
``sum_i w_i r_i^2 + alpha ||coef||^2``, which is ``2 W`` times the line above with ``l2 = alpha / W``:
the same optimum, so every ``alpha`` a user passes is in scikit-learn's units and divided by ``W``
before it reaches a solver. ``objective(X, y)`` returns the normalized value.
"""

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.utils.validation import assert_all_finite, check_is_fitted

from ..kernels._blas_threads import one_blas_thread_in_fit
from ..solvers._result import SolverResult, Trace, notify
from ._base import (
    check_choice, check_scalar_param, gram_settles_finiteness, linear_scores, make_objective, ObjectiveMixin,
    prepare_sample_weight, progress_callback, solver_info, start_fingerprint, validate_fit_data,
    warn_if_not_converged,
)

RIDGE_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs")
ITERATIVE_RIDGE_SOLVERS = ("sag", "saga", "lbfgs")
GCV_MODES = (None, "auto", "svd", "eigen")


# -------------------------------------------------------------------------------------------------
# shared by every linear regressor (also imported by _coordinate_descent)
# -------------------------------------------------------------------------------------------------

def n_threads_from_n_jobs(n_jobs):
    """scikit-learn's ``n_jobs`` (None, positive, or negative counting back from all CPUs) as threads."""
    if n_jobs is None:
        return None
    check_scalar_param(n_jobs, "n_jobs", integer=True)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive number or -1 for all CPUs")
    from joblib import effective_n_jobs

    return int(effective_n_jobs(n_jobs))


def optional_sample_weight(sample_weight, X):
    """None stays None (the solvers then skip every weight multiplication); else checked float64."""
    return None if sample_weight is None else prepare_sample_weight(sample_weight, X)


class LinearRegressorMixin(ObjectiveMixin):
    """``predict``, ``objective`` and the scikit-learn layout of ``coef_``/``intercept_`` for regressors.

    Subclasses define ``_penalties(weight_sum, n_targets) -> (l2, l1)`` in the objective's units.
    """

    def _encode_target(self, y):
        return np.asarray(y, dtype=np.float64)

    def _build_objective(self, X, y, sample_weight):
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        l2, l1 = self._penalties(float(sample_weight.sum()), n_targets)
        return make_objective("squared_error", X, y, sample_weight, l2=l2, l1=l1, fit_intercept=self.fit_intercept)

    def _solver_coef(self):
        coef = np.asarray(self.coef_, dtype=np.float64)
        coef = coef[:, None] if coef.ndim == 1 else coef.T
        return coef, np.atleast_1d(np.asarray(self.intercept_, dtype=np.float64))

    # y of shape (n, 1): scikit-learn's Ridge, RidgeCV, Lasso and ElasticNet give a 1-D coef_ (and
    # predictions) but a (1,) intercept_; LinearRegression keeps coef_ (1, n_features)
    _one_column_target_is_1d = True

    def _set_coef(self, coef, intercept, dtype, y_ndim):
        """Store ``coef`` (n_features, n_targets) and ``intercept`` (n_targets,) as scikit-learn does:
        1-D ``coef_`` and a scalar ``intercept_`` for a 1-D ``y``; for ``y`` of shape (n, 1) see
        ``_one_column_target_is_1d``; ``intercept_ = 0.0`` without intercept."""
        dtype = np.dtype(dtype)
        if y_ndim == 1:
            self.coef_ = np.ascontiguousarray(coef[:, 0], dtype=dtype)
            self.intercept_ = dtype.type(intercept[0]) if self.fit_intercept else 0.0
            return
        one_column = coef.shape[1] == 1 and self._one_column_target_is_1d
        self.coef_ = np.ascontiguousarray(coef[:, 0] if one_column else coef.T, dtype=dtype)
        self.intercept_ = np.asarray(intercept, dtype=dtype) if self.fit_intercept else 0.0

    def predict(self, X):
        """``X @ coef_.T + intercept_`` in ``X``'s dtype: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        coef = self.coef_
        scores = linear_scores(self, X, coef[None, :] if coef.ndim == 1 else coef, np.atleast_1d(self.intercept_))
        return scores.ravel() if coef.ndim == 1 else scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _closed_form_trace(objective_values, gradient_norm, params):
    trace = Trace()
    trace.start()
    notify(None, trace, 1, float(np.sum(objective_values)), gradient_norm, 1.0, params)
    return trace


# -------------------------------------------------------------------------------------------------
# LinearRegression
# -------------------------------------------------------------------------------------------------

class LinearRegression(LinearRegressorMixin, RegressorMixin, MultiOutputMixin, BaseEstimator):
    """Ordinary least squares, a drop-in for scikit-learn's ``LinearRegression``.

    One pass over ``X`` (BLAS ``syrk`` on row blocks for dense ``X``, the Cython kernel for CSR)
    forms the weighted Gram matrix with the intercept eliminated in Gram space (``X`` is never
    copied or centered), then a symmetric eigendecomposition gives the solution. Rank-deficient
    ``X`` gets the minimum-norm solution with scikit-learn's cutoff: directions whose singular value
    is below ``tol`` times the largest are dropped, as ``scipy.linalg.lstsq(X, y, cond=tol)`` does,
    silently, as in scikit-learn (``rank_`` tells). One difference: columns that are ill-conditioned
    only through their units (variances spanning more than ``1 / tol**2``, no collinearity) are
    solved exactly by a Cholesky factorization of the Jacobi-scaled system, where scikit-learn's
    cutoff drops their small-variance directions: fastml's residual is then the least-squares one
    (lower than scikit-learn's; ``rank_`` is the number of varying columns).

    Parameters
    ----------
    fit_intercept : bool
    copy_X : bool
        Accepted for compatibility; ``X`` is never modified nor copied.
    tol : float
        Relative singular-value cutoff (scikit-learn: ``cond`` of ``lstsq`` for dense ``X``, the
        ``lsqr`` tolerance for sparse ``X``; here it is the cutoff for both). With
        ``positive=True`` it is the tolerance of coordinate descent (capped at 1e-10).
    n_jobs : int or None
        Threads of the Gram kernels (None: fastml's default; -1: all CPUs).
    positive : bool
        Non-negative coefficients, by coordinate descent (scikit-learn uses ``scipy.optimize.nnls``;
        the optimum is the same).

    Attributes
    ----------
    coef_, intercept_, rank_, singular_, n_features_in_, feature_names_in_
        As in scikit-learn. ``rank_`` and ``singular_`` (of the centered, weighted ``X``) are also
        set for sparse ``X``; neither is set when ``positive=True``. float32 ``X`` gives float32
        ``coef_``.
    loss_curve_ : ndarray of shape (1,)
        The objective value at the solution.
    solver_info_ : dict
        Solver name, trace, timings, rank.
    """

    _one_column_target_is_1d = False  # scikit-learn's LinearRegression: coef_ (1, n_features) for y (n, 1)

    def __init__(self, *, fit_intercept=True, copy_X=True, tol=1e-6, n_jobs=None, positive=False):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive

    def _penalties(self, weight_sum, n_targets):
        return 0.0, 0.0

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit by least squares; ``sample_weight`` multiplies the squared residuals (integer k == k copies)."""
        check_scalar_param(self.tol, "tol", minimum=0.0)
        n_threads = n_threads_from_n_jobs(self.n_jobs)
        # the closed form checks X's finiteness on its Gram matrix; coordinate descent reads X unchecked
        X, y = validate_fit_data(self, X, y, multi_output=True, check_X_finite=self.positive)
        fingerprint = start_fingerprint(X, gram=True)
        sample_weight = optional_sample_weight(sample_weight, X)
        for name in ("rank_", "singular_"):
            self.__dict__.pop(name, None)
        if self.positive:
            from ..solvers.coordinate_descent import CoordinateDescentOptions, coordinate_descent

            options = CoordinateDescentOptions(max_iter=100_000, tol=min(self.tol, 1e-10), positive=True)
            result = coordinate_descent(X, y, sample_weight, alpha=0.0, l1_ratio=1.0,
                                        fit_intercept=self.fit_intercept, options=options, n_threads=n_threads)
            warn_if_not_converged(self, result, "coordinate descent")
            n_targets = 1 if y.ndim == 1 else y.shape[1]
            matrix = result.params.reshape(-1, n_targets)
            coef, intercept = matrix[: X.shape[1]], matrix[X.shape[1]] if self.fit_intercept else np.zeros(n_targets)
            self.solver_info_ = solver_info(result, "coordinate_descent")
            self.loss_curve_ = result.trace["objective"][-1:]
        else:
            with gram_settles_finiteness(self, X):
                coef, intercept, result = self._least_squares(X, y, sample_weight, n_threads)
            self.solver_info_ = solver_info(result, "eigh")
            self.solver_info_["rank"] = self.rank_
            self.loss_curve_ = result.trace["objective"]
        self._set_coef(coef, intercept, X.dtype, y.ndim)
        return fingerprint.finish(self)

    def _least_squares(self, X, y, sample_weight, n_threads):
        from ..solvers._closed_form_base import (
            ClosedFormOptions, LeastSquaresData, center_statistics, centered_target_sums, gram_eigen, gram_statistics,
            pack_params, penalized_inverse,
        )
        from ..solvers.closed_form import _cholesky_solve

        # 1) weighted Gram statistics in one pass, intercept eliminated in Gram space
        data = LeastSquaresData(X, y, sample_weight, n_threads=n_threads, check_input=False)
        options = ClosedFormOptions()  # the closed-form solver's defaults (constant-column test, offsets)
        stats = gram_statistics(data, options.block_rows, self.fit_intercept, options.max_offset_ratio)
        system = center_statistics(stats, self.fit_intercept, options.rcond)
        # 2) eigendecomposition: singular values of the centered weighted X, and the minimum-norm
        #    solution, good to ~eps * cond(Gram). Where that is not enough (cond > 1e6, or constant
        #    columns), Cholesky of the Jacobi-scaled system of the varying columns first: features whose
        #    variances span 1e12 are ill-conditioned only through their units (eigh of the unscaled Gram
        #    gave their coefficients to ~1e-4, the scaled Cholesky to ~1e-12); it costs ~0.15 ms at p=100
        # (high relative accuracy where eigh cannot resolve the small eigenvalues: singular_ is right)
        eigenvalues, vectors, _ = gram_eigen(system.gram, options.rcond)
        varying = np.flatnonzero(np.diag(system.gram) > 0)  # constant columns are zeroed: coefficient 0
        coef = np.zeros(system.rhs.shape)
        positive = eigenvalues[eigenvalues > 0]
        well_conditioned = 0 < positive.size == varying.size and positive.min() > 1e-6 * positive.max()
        solved = None if varying.size == 0 or well_conditioned else _cholesky_solve(
            system.gram[np.ix_(varying, varying)], system.rhs[varying], np.zeros(system.rhs.shape[1]), options.rcond)[0]
        if solved is not None:
            coef[varying] = solved
            self.rank_ = int(varying.size)
        else:
            inverse, rank = penalized_inverse(eigenvalues, [0.0], float(self.tol) ** 2)  # sigma cutoff tol
            coef = vectors @ (inverse * (vectors.T @ system.rhs))
            self.rank_ = int(rank[0])
        intercept = system.y_mean - system.x_mean @ coef
        self.singular_ = np.sqrt(eigenvalues[::-1][: min(X.shape)]).astype(X.dtype)
        # 3) objective and gradient norm from Gram quantities (no second pass over X)
        gram_coef = system.gram @ coef
        rss = (centered_target_sums(data.y, data.weights(), self.fit_intercept)[0]
               - 2.0 * np.einsum("jt,jt->t", coef, system.rhs) + np.einsum("jt,jt->t", coef, gram_coef))
        values = 0.5 * np.maximum(rss, 0.0) / system.weight_sum
        gradient_norm = float(np.linalg.norm(gram_coef - system.rhs) / system.weight_sum)
        params = pack_params(coef, intercept, self.fit_intercept)
        trace = _closed_form_trace(values, gradient_norm, params)
        result = SolverResult(params=params, n_iter=1, converged=True, trace=trace, message="solved by eigh",
                              info={"rank": self.rank_})
        return coef, intercept, result


# -------------------------------------------------------------------------------------------------
# Ridge
# -------------------------------------------------------------------------------------------------

def _check_alpha(alpha, n_targets, name="alpha"):
    """scikit-learn's alpha: a non-negative number, or one per target."""
    if np.ndim(alpha) == 0:
        return np.full(n_targets, float(check_scalar_param(alpha, name, minimum=0.0)))
    values = np.asarray([check_scalar_param(value, f"{name}[{i}]", minimum=0.0)
                         for i, value in enumerate(np.ravel(alpha))], dtype=np.float64)
    if values.shape != (n_targets,):
        raise ValueError(f"Number of targets and number of penalties do not correspond: {n_targets} != {values.size}")
    return values


class Ridge(LinearRegressorMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ridge regression (L2-penalized least squares), a drop-in for scikit-learn's ``Ridge``.

    ``alpha`` is in scikit-learn's units (``sum_i w_i r_i^2 + alpha ||coef||^2``); see the module
    docstring for the objective reported by ``objective``.

    Parameters
    ----------
    alpha : float or array of shape (n_targets,)
    fit_intercept : bool
    copy_X : bool
        Accepted for compatibility; ``X`` is never modified nor copied.
    max_iter : int or None
        Iterations of the iterative solvers (None: 15000, as scikit-learn's lbfgs).
    tol : float
        Tolerance of the iterative solvers: L-BFGS stops when every entry of the (normalized)
        objective's gradient is below ``tol`` times its feature's scale (see
        :class:`fastml.solvers.lbfgs.LBFGSOptions`); coordinate descent (``positive=True``) uses the
        relative duality gap. The closed form ignores it.
    solver : {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"}
        scikit-learn's names, mapped onto fastml's solvers: ``"auto"``, ``"cholesky"``, ``"lsqr"``
        and ``"sparse_cg"`` use the closed form (one pass over ``X``, Cholesky with a minimum-norm
        fallback), ``"svd"`` the closed form by eigendecomposition, ``"sag"``, ``"saga"`` and
        ``"lbfgs"`` fastml's L-BFGS on the fused kernels. Every solver accepts dense and CSR ``X``
        with or without intercept, and ``"lbfgs"`` does not require ``positive=True`` (two
        differences from scikit-learn, where some combinations raise).
    positive : bool
        Non-negative coefficients (coordinate descent with an L2 penalty); only with ``solver``
        ``"auto"`` or ``"lbfgs"``, as in scikit-learn.
    random_state : int, RandomState or None
        Accepted for compatibility (no solver here is random).
    callbacks : list of callables or None
        Called with an ``IterationInfo`` after every iteration (once for the closed form);
        returning True stops an iterative solver.

    Attributes
    ----------
    coef_, intercept_, n_iter_, n_features_in_, feature_names_in_
        As in scikit-learn, except that ``n_iter_`` is 1 per target for the closed form
        (scikit-learn: None), so that every fit reports its iterations.
    solver_ : str
        The solver that ran: ``"cholesky"``, ``"eigh"`` (closed form), ``"lbfgs"`` or
        ``"coordinate_descent"``.
    loss_curve_, solver_info_
        Objective after each iteration; solver name, trace, timings.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=None, tol=1e-4, solver="auto",
                 positive=False, random_state=None, callbacks=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.callbacks = callbacks

    def _penalties(self, weight_sum, n_targets):
        return _check_alpha(self.alpha, n_targets) / weight_sum, 0.0

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` multiplies the squared residuals (integer k == k copies)."""
        check_choice(self.solver, "solver", RIDGE_SOLVERS)
        check_scalar_param(self.tol, "tol", minimum=0.0)
        check_scalar_param(self.max_iter, "max_iter", minimum=1, integer=True, allow_none=True)
        if self.positive and self.solver not in ("auto", "lbfgs"):
            raise ValueError(f"solver='{self.solver}' does not support positive fitting. Please set the solver "
                             "to 'auto' or 'lbfgs', or set `positive=False`")
        _check_alpha(self.alpha, max(1, np.size(self.alpha)))
        closed_form = not self.positive and self.solver not in ITERATIVE_RIDGE_SOLVERS
        X, y = validate_fit_data(self, X, y, multi_output=True, check_X_finite=not closed_form)
        fingerprint = start_fingerprint(X, gram=closed_form)
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        sample_weight = optional_sample_weight(sample_weight, X)
        weight_sum = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        l2 = _check_alpha(self.alpha, n_targets) / weight_sum
        callback, bar = progress_callback(self, self.max_iter or 15000, self.callbacks)
        try:
            if self.positive:
                coef, intercept, result, solver = self._fit_positive(X, y, sample_weight, l2, callback)
            elif self.solver in ITERATIVE_RIDGE_SOLVERS:
                coef, intercept, result, solver = self._fit_lbfgs(X, y, sample_weight, callback)
            else:
                with gram_settles_finiteness(self, X):
                    coef, intercept, result, solver = self._fit_closed_form(X, y, sample_weight, l2, callback)
        finally:
            if bar is not None:
                bar.close()
        self._set_coef(coef, intercept, X.dtype, y.ndim)
        self.solver_ = solver
        self.loss_curve_ = result.trace["objective"]
        self.solver_info_ = solver_info(result, solver)
        return fingerprint.finish(self)

    def _fit_closed_form(self, X, y, sample_weight, l2, callback):
        from ..solvers.closed_form import ClosedFormOptions, solve_least_squares

        options = ClosedFormOptions(method="eigh" if self.solver == "svd" else "auto", check_input=False)
        result = solve_least_squares(X, y, sample_weight, alpha=l2, fit_intercept=self.fit_intercept,
                                     options=options, callback=callback)
        self.n_iter_ = np.ones(result.info["coef"].shape[1], dtype=np.int32)  # scikit-learn: None
        return result.info["coef"], result.info["intercept"], result, result.info["method"]

    def _fit_lbfgs(self, X, y, sample_weight, callback):
        from ._solve import run_solver

        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        objective = self._build_objective(X, np.asarray(y, dtype=np.float64), weights)
        result = run_solver("lbfgs", objective, objective.initial_parameters(), max_iter=self.max_iter or 15000,
                            tol=self.tol, callback=callback)
        warn_if_not_converged(self, result, "lbfgs")
        coef, intercept = objective.unpack(result.params)
        self.n_iter_ = np.full(objective.n_outputs, int(np.max(result.n_iter)), dtype=np.int32)
        return coef, intercept, result, "lbfgs"

    def _fit_positive(self, X, y, sample_weight, l2, callback):
        """Coordinate descent with ``l1_ratio=0``: its ``alpha`` is exactly our ``l2``; one run per
        distinct penalty (targets sharing a penalty run together)."""
        from ..solvers.coordinate_descent import CoordinateDescentOptions, coordinate_descent

        y2 = y[:, None] if y.ndim == 1 else y
        n_features, n_targets = X.shape[1], y2.shape[1]
        coef, intercept = np.empty((n_features, n_targets)), np.zeros(n_targets)
        n_iter = np.empty(n_targets, dtype=np.int32)
        options = CoordinateDescentOptions(max_iter=self.max_iter or 15000, tol=self.tol, positive=True)
        for penalty in np.unique(l2):
            targets = np.flatnonzero(l2 == penalty)
            result = coordinate_descent(X, y2[:, targets], sample_weight, alpha=float(penalty), l1_ratio=0.0,
                                        fit_intercept=self.fit_intercept, options=options, callback=callback)
            warn_if_not_converged(self, result, "coordinate descent")
            matrix = result.params.reshape(-1, targets.size)
            coef[:, targets] = matrix[:n_features]
            if self.fit_intercept:
                intercept[targets] = matrix[n_features]
            n_iter[targets] = result.n_iter
        self.n_iter_ = n_iter
        return coef, intercept, result, "coordinate_descent"


# -------------------------------------------------------------------------------------------------
# RidgeCV
# -------------------------------------------------------------------------------------------------

def _r2_scores(sse, sst):
    """``1 - sse / sst`` with scikit-learn's ``force_finite`` rule for a constant target."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = 1.0 - sse / sst
    constant = sst == 0
    return np.where(constant, np.where(sse == 0, 1.0, 0.0), scores)


def _accepts_sample_weight(scorer):
    if hasattr(scorer, "_accept_sample_weight"):
        return bool(scorer._accept_sample_weight())
    import inspect

    return "sample_weight" in inspect.signature(scorer).parameters


class RidgeCV(LinearRegressorMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ridge regression with the penalty chosen by cross-validation, a drop-in for scikit-learn's.

    ``cv=None`` (default): exact, efficient leave-one-out for all ``alphas`` from one
    eigendecomposition of the Gram matrix and two passes over ``X`` (``fastml.solvers.ridge_path``),
    scored like scikit-learn by the mean (weighted, with ``sample_weight``) squared error;
    ``gcv_mode`` is accepted and ignored (every mode computes the same numbers). ``cv`` an integer or
    a splitter whose test folds partition the samples: one pass over ``X`` accumulates per-fold
    statistics, each training set is the total minus its fold (``fastml.solvers.ridge_kfold``), and
    the folds are scored like scikit-learn's ``GridSearchCV(Ridge())`` (R^2 by default, weighted by
    ``sample_weight`` when given, as scikit-learn >= 1.7 does).
    Other splitters run ``GridSearchCV`` over fastml's :class:`Ridge`.

    Differences: ``scoring`` other than None with ``cv=None`` needs leave-one-out predictions, which
    the fast path does not produce yet: that case delegates to scikit-learn's ``RidgeCV``.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,)
        Penalties in scikit-learn's units (> 0 for ``cv=None``, >= 0 otherwise).
    fit_intercept : bool
    scoring : str, callable or None
    cv : int, cross-validation generator, iterable or None
    gcv_mode : {None, "auto", "svd", "eigen"}
    store_cv_results : bool
        Keep ``cv_results_`` (``cv=None`` only): ``w_i (y_i - yhat_{-i})^2`` per sample and alpha.
    alpha_per_target : bool
        Choose one alpha per target (``cv=None`` only).

    Attributes
    ----------
    alpha_, best_score_, cv_results_, coef_, intercept_, n_features_in_, feature_names_in_
        As in scikit-learn.
    loss_curve_, solver_info_
        Objective value at the solution; CV scores of every alpha and timings.
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0), *, fit_intercept=True, scoring=None, cv=None, gcv_mode=None,
                 store_cv_results=False, alpha_per_target=False):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.gcv_mode = gcv_mode
        self.store_cv_results = store_cv_results
        self.alpha_per_target = alpha_per_target

    def _penalties(self, weight_sum, n_targets):
        return np.broadcast_to(np.asarray(self.alpha_, dtype=np.float64), (n_targets,)) / weight_sum, 0.0

    def _check_alphas(self):
        strict = self.cv is None
        values = []
        for i, alpha in enumerate(np.ravel(self.alphas)):
            check_scalar_param(alpha, f"alphas[{i}]", minimum=0.0, include_minimum=not strict)
            values.append(float(alpha))
        if not values:
            raise ValueError("alphas must hold at least one value")
        return np.asarray(values)

    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit ridge for every alpha, keep the best by cross-validation."""
        check_choice(self.gcv_mode, "gcv_mode", GCV_MODES)
        alphas = self._check_alphas()
        if self.cv is not None and self.store_cv_results:
            raise ValueError("cv!=None and store_cv_results=True are incompatible")
        if self.cv is not None and self.alpha_per_target:
            raise ValueError("cv!=None and alpha_per_target=True are incompatible")
        if self.cv is None and self.scoring is not None:
            return self._fit_with_scikit_learn(X, y, sample_weight)
        # every path solves from Gram statistics (leave-one-out, folds by subtraction) or refits
        # through Ridge, whose checks settle X's finiteness
        X, y = validate_fit_data(self, X, y, multi_output=True, check_X_finite=False)
        fingerprint = start_fingerprint(X, gram=True)
        sample_weight = optional_sample_weight(sample_weight, X)
        self.__dict__.pop("cv_results_", None)
        trace = Trace()
        trace.start()
        with gram_settles_finiteness(self, X):
            if self.cv is None:
                coef, intercept = self._fit_leave_one_out(X, y, sample_weight, alphas)
            else:
                coef, intercept = self._fit_folds(X, y, sample_weight, alphas)
        self._set_coef(coef, intercept, X.dtype, y.ndim)
        value = self.__dict__.pop("_path_objective", None)  # leave-one-out: known from Gram quantities
        if value is None:
            weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
            objective = self._build_objective(X, np.asarray(y, dtype=np.float64), weights)
            value = objective.value(objective.pack(*self._solver_coef()))
        notify(None, trace, 1, value, np.nan, np.nan, None)
        self.loss_curve_ = trace["objective"]
        self.solver_info_ = {"solver": "ridge_path" if self.cv is None else "ridge_kfold", "n_iter": 1,
                             "converged": True, "seconds": float(trace["seconds"][-1]), "trace": trace,
                             "alphas": alphas, "cv_scores": self._cv_scores}
        return fingerprint.finish(self)

    def _fit_leave_one_out(self, X, y, sample_weight, alphas):
        from ..solvers.closed_form import ClosedFormOptions, ridge_path

        n_samples = X.shape[0]
        weight_sum = float(n_samples if sample_weight is None else sample_weight.sum())
        path = ridge_path(X, y, alphas / weight_sum, sample_weight, fit_intercept=self.fit_intercept, cv="loo",
                          store_cv_values=self.store_cv_results, options=ClosedFormOptions(check_input=False))
        # scikit-learn scores by -mean_i w_i e_i^2 (over samples and targets); ridge_path by sum w e^2 / W
        scores = -path.cv_scores * (weight_sum / n_samples)  # (n_alphas, n_targets)
        self._cv_scores = scores
        n_targets = scores.shape[1]
        if self.alpha_per_target and n_targets > 1:
            best = np.argmax(scores, axis=0)  # first best on ties, as scikit-learn
            self.alpha_ = alphas[best]
            self.best_score_ = scores[best, np.arange(n_targets)]
            coef = path.coef[best, :, np.arange(n_targets)].T
            intercept = path.intercept[best, np.arange(n_targets)]
            self._path_objective = float(path.objectives[best, np.arange(n_targets)].sum())
        else:
            best = int(np.argmax(scores.mean(axis=1)))
            self.alpha_ = float(alphas[best])
            self.best_score_ = float(scores[best].mean())
            if self.alpha_per_target and y.ndim == 2:  # scikit-learn: one score per target, y (n, 1) too
                self.best_score_ = np.array([self.best_score_])
            coef, intercept = path.coef[best], path.intercept[best]
            self._path_objective = float(path.objectives[best].sum())
        if self.store_cv_results:
            weights = 1.0 if sample_weight is None else sample_weight[:, None, None]
            results = (path.cv_values * weights).astype(X.dtype)
            self.cv_results_ = results[:, 0, :] if y.ndim == 1 else results
        return coef, intercept

    def _fold_ids(self, X, y):
        """Fold label of every sample, or None when the test folds do not partition the samples."""
        splits = list(check_cv(self.cv, y, classifier=False).split(X, y))
        fold_ids = np.full(X.shape[0], -1)
        for fold, (train, test) in enumerate(splits):
            if np.any(fold_ids[test] >= 0) or len(train) + len(test) != X.shape[0]:
                return None, splits
            fold_ids[test] = fold
        return (None if np.any(fold_ids < 0) else fold_ids), splits

    def _fit_folds(self, X, y, sample_weight, alphas):
        from ..solvers.closed_form import ClosedFormOptions, ridge_kfold

        fold_ids, splits = self._fold_ids(X, y)
        if fold_ids is None:
            return self._fit_grid_search(X, y, sample_weight, alphas, splits)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        n_folds, n_alphas = len(splits), alphas.size
        train_weight = weights.sum() - np.bincount(fold_ids, weights=weights, minlength=n_folds)
        # ridge_kfold scales its penalties by each training set's sum(w); scikit-learn's are absolute:
        # one grid per distinct training weight, and each fold reads its own grid
        distinct, grid_of_fold = np.unique(train_weight, return_inverse=True)
        grid = (alphas[None, :] / distinct[:, None]).ravel()
        result = ridge_kfold(X, y, fold_ids, grid, sample_weight, fit_intercept=self.fit_intercept,
                             options=ClosedFormOptions(check_input=False))
        columns = grid_of_fold[:, None] * n_alphas + np.arange(n_alphas)[None, :]  # (n_folds, n_alphas)
        folds = np.arange(n_folds)[:, None]
        coef = result.coef[folds, columns]  # (n_folds, n_alphas, n_features, n_targets)
        intercept = result.intercept[folds, columns]
        y2 = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        scores = np.empty((n_folds, n_alphas))
        scorer = check_scoring(self, scoring=self.scoring, allow_none=True) if self.scoring is not None else None
        # scikit-learn >= 1.7 weights the validation scores when fit gets sample_weight (and the scorer takes it)
        weigh_scores = sample_weight is not None and (scorer is None or _accepts_sample_weight(scorer))
        for fold, (_, test) in enumerate(splits):
            if scorer is not None:
                score_kwargs = {"sample_weight": sample_weight[test]} if weigh_scores else {}
                scores[fold] = [scorer(self._fold_model(X, coef[fold, a], intercept[fold, a], y.ndim),
                                       X[test], y[test], **score_kwargs) for a in range(n_alphas)]
                continue
            # R^2 (the default score of GridSearchCV(Ridge())) from ridge_kfold's weighted fold errors
            test_weights = weights[test][:, None]
            y_test = y2[test]
            test_mean = (test_weights * y_test).sum(axis=0) / test_weights.sum()
            sst = (test_weights * (y_test - test_mean) ** 2).sum(axis=0)
            sse = result.validation_mse[fold, columns[fold]] * test_weights.sum()  # (n_alphas, n_targets)
            scores[fold] = _r2_scores(sse, sst[None, :]).mean(axis=1)
        mean_scores = scores.mean(axis=0)
        best = int(np.argmax(mean_scores))
        self._cv_scores = mean_scores
        self.alpha_ = float(alphas[best])
        self.best_score_ = float(mean_scores[best])
        return self._refit(X, y, sample_weight)

    def _fold_model(self, X, coef, intercept, y_ndim):
        model = Ridge(fit_intercept=self.fit_intercept)
        model.n_features_in_ = X.shape[1]
        model._set_coef(coef, intercept, X.dtype, y_ndim)
        return model

    def _refit(self, X, y, sample_weight):
        model = Ridge(self.alpha_, fit_intercept=self.fit_intercept).fit(X, y, sample_weight)
        coef, intercept = model._solver_coef()
        return coef, np.broadcast_to(intercept, (coef.shape[1],))

    def _fit_grid_search(self, X, y, sample_weight, alphas, splits):
        assert_all_finite(X, estimator_name=type(self).__name__, input_name="X")  # fit left it to the Gram paths
        search = GridSearchCV(Ridge(fit_intercept=self.fit_intercept), {"alpha": alphas}, cv=splits,
                              scoring=self.scoring)
        search.fit(X, y, **({} if sample_weight is None else {"sample_weight": sample_weight}))
        self._cv_scores = search.cv_results_["mean_test_score"]
        self.alpha_ = float(search.best_params_["alpha"])
        self.best_score_ = float(search.best_score_)
        return self._refit(X, y, sample_weight)

    def _fit_with_scikit_learn(self, X, y, sample_weight):
        from sklearn.linear_model import RidgeCV as ScikitRidgeCV

        twin = ScikitRidgeCV(**self.get_params()).fit(X, y, sample_weight)
        names = ("n_features_in_", "feature_names_in_", "alpha_", "best_score_", "cv_results_", "coef_", "intercept_")
        for name in names:
            self.__dict__.pop(name, None)
        for name in names:
            if hasattr(twin, name):
                setattr(self, name, getattr(twin, name))
        self._cv_scores = None
        self.loss_curve_ = np.array([np.nan])
        self.solver_info_ = {"solver": "scikit-learn RidgeCV", "n_iter": 1, "converged": True}
        return self
