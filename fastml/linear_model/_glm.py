"""PoissonRegressor: a generalized linear model with the log link on the fused kernels."""
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import d2_tweedie_score
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._base import (
    check_choice, check_scalar_param, linear_scores, make_objective, ObjectiveMixin, prepare_sample_weight,
    progress_callback, settle_finite_check, solver_info, start_fingerprint, validate_fit_data, warn_if_not_converged,
)
from ._solve import run_solver

# scikit-learn's names first; "newton-cholesky" is our Newton (Cholesky on the Hessian for moderate p)
SOLVERS = {"lbfgs": "lbfgs", "newton-cholesky": "newton", "newton": "newton", "gd": "gd"}


class PoissonRegressor(ObjectiveMixin, RegressorMixin, BaseEstimator):
    """Generalized linear model with a Poisson distribution and log link, a drop-in for scikit-learn's.

    Minimizes, with ``s`` the sample weights and ``S = sum(s)``::

        sum_i s_i half_poisson_deviance(y_i, exp(x_i . coef + intercept)) / S + alpha / 2 ||coef||^2

    where ``half_poisson_deviance(y, mu) = y log(y / mu) - y + mu``: exactly scikit-learn's objective
    (``1 / (2 S) sum_i s_i deviance_i + alpha / 2 ||coef||^2``), so :meth:`objective` values can be
    compared with it.

    Parameters
    ----------
    alpha : float
        L2 penalty strength (>= 0; 0 fits without penalty).
    fit_intercept : bool
    solver : {"lbfgs", "newton-cholesky", "newton", "gd"}
        ``"lbfgs"`` (default, as scikit-learn); ``"newton-cholesky"`` and ``"newton"`` are fastml's
        Newton solver (Cholesky on the Hessian); ``"gd"`` is accelerated gradient descent.
    max_iter : int
    tol : float
        Stop when every entry of the objective's gradient is below ``tol`` times its feature's scale
        ``min(1, column RMS)`` (1 for the intercept): scikit-learn's lbfgs max-norm rule, also in the
        units of standardized features, so rare or small-valued features are fitted too (see
        :meth:`fastml.LinearObjective.feature_scales`; its newton-cholesky solver stops on a
        different criterion).
    warm_start : bool
        Start from the previous fit's ``coef_`` and ``intercept_``.
    verbose : int
        > 0 shows a progress bar (tqdm, when installed).
    callbacks : list of callables or None
        Each is called with an ``IterationInfo`` after every iteration; returning True stops.

    Notes
    -----
    NaN or infinity in ``X`` is rejected as in scikit-learn (``ValueError: Input X contains NaN.``)
    without a separate pass over ``X``: the solver's first pass at zero coefficients proves ``X``
    finite (see ``fastml._objective.DesignMatrix``); a warm start runs the full check first.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        In the dtype of the training ``X`` (float32 stays float32).
    intercept_ : float
    n_iter_ : int
    n_features_in_, feature_names_in_
        As in scikit-learn.
    loss_curve_ : ndarray
        Objective value after each iteration.
    solver_info_ : dict
        Solver name, trace, timings, convergence.
    """

    def __init__(self, *, alpha=1.0, fit_intercept=True, solver="lbfgs", max_iter=100, tol=1e-4,
                 warm_start=False, verbose=0, callbacks=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.callbacks = callbacks

    # -- plumbing shared with ObjectiveMixin --------------------------------------------------------
    def _encode_target(self, y):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity")
        if np.any(y < 0):
            raise ValueError(f"PoissonRegressor needs non-negative targets (counts or rates); found "
                             f"min(y) = {y.min()!r}")
        return y

    def _build_objective(self, X, y, sample_weight, check_X=False):
        return make_objective("poisson", X, y, sample_weight, l2=float(self.alpha), l1=0.0,
                              fit_intercept=self.fit_intercept, check_X=check_X)

    def _solver_coef(self):
        return self.coef_.astype(np.float64)[:, None], np.array([float(self.intercept_)])

    # -- fit / predict ---------------------------------------------------------------------------
    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` multiplies each sample's deviance (integer k == k copies)."""
        check_scalar_param(self.alpha, "alpha", minimum=0.0)
        check_scalar_param(self.tol, "tol", minimum=0.0, include_minimum=False)
        check_scalar_param(self.max_iter, "max_iter", minimum=1, integer=True)
        check_choice(self.solver, "solver", tuple(SOLVERS))
        # X's finiteness is settled by the solver's first pass (one read of X fewer; see make_objective)
        X, y = validate_fit_data(self, X, y, y_numeric=True, check_X_finite=False)
        fingerprint = start_fingerprint(X)
        y = self._encode_target(y)
        sample_weight = prepare_sample_weight(sample_weight, X)
        objective = self._build_objective(X, y, sample_weight, check_X=True)
        solver = SOLVERS[self.solver]

        w0 = None  # the solver's own start (the intercept-only model, or L-BFGS's sample start)
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (X.shape[1],):
            w0 = objective.pack(*self._solver_coef())
        callback, bar = progress_callback(self, self.max_iter, self.callbacks)
        try:
            result = run_solver(solver, objective, w0, max_iter=self.max_iter, tol=self.tol, callback=callback)
        finally:
            if bar is not None:
                bar.close()
        settle_finite_check(objective)
        warn_if_not_converged(self, result, self.solver)
        coef, intercept = objective.unpack(result.params)
        self.coef_ = np.ascontiguousarray(coef[:, 0], dtype=X.dtype)
        # scikit-learn: a numpy scalar in X's dtype (float32 stays float32)
        self.intercept_ = X.dtype.type(intercept[0]) if self.fit_intercept else 0.0
        self.n_iter_ = int(np.max(result.n_iter))
        self.loss_curve_ = result.trace["objective"]
        self.solver_info_ = solver_info(result, solver)
        return fingerprint.finish(self)

    def _linear_predictor(self, X):
        check_is_fitted(self)
        return linear_scores(self, X, self.coef_[None, :], np.array([self.intercept_]))[:, 0]

    def predict(self, X):
        """Predicted mean ``exp(X @ coef_ + intercept_)``, shape (n_samples,), in ``X``'s dtype."""
        return np.exp(self._linear_predictor(X))

    def score(self, X, y, sample_weight=None):
        """D^2, the fraction of Poisson deviance explained (scikit-learn's ``d2_tweedie_score``, power 1).

        1 is a perfect fit, 0 the intercept-only model's deviance; it can be negative.
        """
        prediction = self.predict(X)
        y = self._encode_target(column_or_1d(y))
        return float(d2_tweedie_score(y, prediction.astype(np.float64), sample_weight=sample_weight, power=1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = True
        return tags

