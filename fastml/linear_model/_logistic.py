"""LogisticRegression: binary and multinomial logistic regression on the fused kernels."""
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._base import (
    check_choice, check_scalar_param, class_probabilities, finite_class_weights, encode_labels, fit_classes,
    kernel_threads, linear_scores, LinearClassifierPredictMixin, make_objective, ObjectiveMixin, prepare_sample_weight,
    progress_callback, settle_finite_check, solver_info, start_fingerprint, validate_fit_data, warn_if_not_converged,
)
from ._solve import STOCHASTIC_SOLVERS, run_solver

PENALTIES = ("deprecated", "l2", "l1", "elasticnet", None)
SOLVERS = ("auto", "lbfgs", "newton", "cd", "gd", "sgd", "adam")


class LogisticRegression(LinearClassifierPredictMixin, ObjectiveMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary and multinomial), a drop-in for scikit-learn's.

    Minimizes, with ``s`` the sample weights times the class weights and ``S = sum(s)``::

        sum_i s_i log_loss_i / S + (1 - r) / (2 C S) ||coef||^2 + r / (C S) ||coef||_1

    which is scikit-learn's ``C sum_i s_i log_loss_i + penalty`` divided by ``C S``: the same optimum.
    ``r`` is ``l1_ratio`` (scikit-learn >= 1.8: 0 is L2, 1 is L1, between an elastic net), or, with an
    explicit ``penalty``, 0 for ``"l2"``, 1 for ``"l1"``, ``l1_ratio`` for ``"elasticnet"``;
    ``penalty=None`` or ``C=np.inf`` fits without penalty. Two classes give one logistic model (``coef_`` of shape
    (1, n_features)); more classes give one multinomial model (``coef_`` (n_classes, n_features)).

    Parameters
    ----------
    penalty : {"deprecated", "l2", "l1", "elasticnet", None}
        As in scikit-learn 1.9: the default ``"deprecated"`` takes the penalty from ``l1_ratio`` and
        ``C``; an explicit penalty wins over ``l1_ratio`` (``"l2"`` with ``l1_ratio=0.5`` fits L2 and
        warns, as scikit-learn does). fastml does not emit scikit-learn's FutureWarning about it.
    C : float
        Inverse regularization strength (> 0; ``np.inf``: no penalty).
    l1_ratio : float in [0, 1]
        Share of the L1 part: 0 (default) L2, 1 L1 (scikit-learn's default is 0 too; ``None`` means 0).
    tol : float
        Stop when every entry of the objective's gradient is below ``tol`` times its feature's scale
        ``min(1, column RMS)`` (at least 1e-3; 1 for the intercept). That is scikit-learn's lbfgs
        max-norm rule, also in the units of standardized features: with that rule alone, rare
        features (hashed or TF-IDF text) and features in small units meet ``tol`` at the start and
        are never fitted (``n_iter_ == 0`` and every coefficient 0 on hashed text of 5e5 x 2^18).
        Never stops earlier than the plain rule. With an L1 part (solvers ``"cd"`` and ``"gd"``; an L2
        part too, or ``1 / (C * sum of weights) >= tol``) the duality gap must also certify the objective within ``max(tol, 1e-9)`` of the optimum,
        relatively (``solver_info_["relative_duality_gap"]``).
    fit_intercept : bool
    class_weight : dict, "balanced" or None
    random_state : int, RandomState or None
        Seeds the shuffling of the stochastic solvers.
    solver : {"lbfgs", "newton", "cd", "gd", "sgd", "adam", "auto"}
        ``"lbfgs"`` (default, as scikit-learn), ``"newton"`` (Cholesky on the Hessian; Newton-CG for
        multinomial), ``"cd"`` (proximal Newton: coordinate descent on each quadratic model, as
        glmnet; handles L1; two classes; a Hessian pass of ``n * p^2`` per iteration, so for moderate
        ``p``), ``"gd"`` (accelerated proximal gradient: handles L1), ``"sgd"`` / ``"adam"`` (compiled
        minibatch epochs; ``max_iter`` counts epochs). ``"auto"``: with an L1 part ``"cd"`` for two
        classes and ``n_features <= 200``, else ``"gd"``; without, ``"newton"`` for a multinomial
        model of ``n_features * n_classes <= 200``, else ``"lbfgs"``.
    max_iter : int
    verbose : int
        > 0 shows a progress bar (tqdm, when installed).
    warm_start : bool
        Start from the previous fit's coefficients when the shapes agree.
    n_jobs : int or None
        Threads of the kernels (None: fastml's default, see ``fastml.set_n_threads``). Results are
        bitwise reproducible for a fixed number of threads; the minibatch ``"adam"`` solver splits
        large batches over them.
    callbacks : list of callables or None
        Each is called with an ``IterationInfo`` after every iteration; returning True stops.

    Notes
    -----
    ``fit`` rejects NaN and infinity in ``X`` like scikit-learn (``ValueError: Input X contains
    NaN.``), but without a separate pass over ``X``: the solver's first pass at zero coefficients
    proves ``X`` finite (see ``fastml._objective.DesignMatrix``), and a warm start or a stochastic
    solver runs the full check before reading ``X``.

    Attributes
    ----------
    classes_, coef_, intercept_, n_iter_, n_features_in_, feature_names_in_
        As in scikit-learn. ``coef_`` has the dtype of the training ``X`` (float32 stays float32).
    loss_curve_ : ndarray
        Objective value after each iteration.
    solver_info_ : dict
        Solver name, trace (iteration, seconds, objective, gradient norm, step), timings, convergence.
    """

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, tol=1e-4, fit_intercept=True, class_weight=None,
                 random_state=None, solver="lbfgs", max_iter=100, verbose=0, warm_start=False, n_jobs=None,
                 callbacks=None):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.callbacks = callbacks

    # -- hyper-parameters -----------------------------------------------------------------------
    def _l1_share(self, warn=False):
        """The L1 share of the penalty, or None without penalty (scikit-learn 1.9's rules); ``warn``
        (once per fit) when an explicit penalty overrides ``l1_ratio``."""
        check_choice(self.penalty, "penalty", PENALTIES)
        check_scalar_param(self.l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0, allow_none=True)
        if self.penalty is None or self.C == np.inf:
            return None
        if self.penalty == "deprecated":
            return 0.0 if self.l1_ratio is None else float(self.l1_ratio)
        if self.penalty == "elasticnet":
            if self.l1_ratio is None:
                raise ValueError("penalty='elasticnet' needs l1_ratio (a number in [0, 1])")
            return float(self.l1_ratio)
        share = 1.0 if self.penalty == "l1" else 0.0
        if warn and self.l1_ratio is not None and self.l1_ratio != share:
            warnings.warn(f"Inconsistent values: penalty={self.penalty} with l1_ratio={self.l1_ratio}; the penalty "
                          f"wins (as in scikit-learn). Set only l1_ratio to choose the penalty.", UserWarning,
                          stacklevel=4)
        return share

    def _penalties(self, weight_sum):
        share = self._l1_share()
        if share is None:
            return 0.0, 0.0
        strength = 1.0 / (self.C * weight_sum)
        return (1.0 - share) * strength, share * strength

    def _choose_solver(self, n_features, n_outputs):
        check_choice(self.solver, "solver", SOLVERS)
        l1 = (self._l1_share() or 0.0) > 0.0
        if self.solver == "auto":
            if l1:  # proximal Newton converges in a few Hessian passes where FISTA may need thousands
                return "cd" if n_outputs == 1 and n_features <= 200 else "gd"
            # multinomial: L-BFGS has no preconditioner for it (raw wine: 3 664 iterations, 137 ms, against
            # Newton-CG's 43 and 31 ms); two classes: L-BFGS, preconditioned on badly scaled data, was
            # 2-3.7x faster than Newton on standardized breast_cancer, 2e4-1e6 x 100 and raw
            # breast_cancer, 1.3x slower on 1e5 x 50 with scales over three decades (best of 5-7 fits)
            return "newton" if n_outputs > 1 and n_features * n_outputs <= 200 else "lbfgs"
        if self.solver == "cd" and n_outputs > 1:
            raise ValueError("solver='cd' fits two classes; the multinomial Hessian couples the classes: use "
                             "solver='gd' (proximal gradient), 'sgd' or 'auto'")
        if l1 and self.solver in ("lbfgs", "newton"):
            raise ValueError(f"solver={self.solver!r} supports only L2 or no penalty; use solver='cd' "
                             f"(proximal Newton, two classes), 'gd' (proximal gradient), 'sgd' or 'auto' for an "
                             f"L1 part")
        return self.solver

    # -- data ------------------------------------------------------------------------------------
    def _encode_target(self, y):
        """Class labels -> 0/1 (two classes) or class indices (multinomial), as float64."""
        return encode_labels(self.classes_, y)

    def _build_objective(self, X, y_encoded, sample_weight, check_X=False):
        weights = sample_weight
        if self.class_weight is not None:
            weights = weights * self._class_weights[y_encoded.astype(np.intp)]
        l2, l1 = self._penalties(weights.sum())
        loss = "multinomial" if len(self.classes_) > 2 else "log_loss"
        return make_objective(loss, X, y_encoded, weights, l2=l2, l1=l1, fit_intercept=self.fit_intercept,
                              n_classes=len(self.classes_) if loss == "multinomial" else None,
                              n_threads=kernel_threads(self.n_jobs), check_X=check_X)

    def _solver_coef(self):
        """Fitted parameters in the objective's layout: coef (n_features, n_outputs), intercept."""
        return self.coef_.T.astype(np.float64), np.atleast_1d(self.intercept_).astype(np.float64)

    # -- fit / predict ---------------------------------------------------------------------------
    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` multiplies the per-sample loss (integer k == k copies)."""
        check_scalar_param(self.C, "C", minimum=0.0, include_minimum=False)
        check_scalar_param(self.tol, "tol", minimum=0.0)
        check_scalar_param(self.max_iter, "max_iter", minimum=1, integer=True)
        self._l1_share(warn=True)
        # X's finiteness is settled by the solver's first pass (one read of X fewer; see make_objective)
        X, y = validate_fit_data(self, X, y, y_numeric=False, check_X_finite=False)
        fingerprint = start_fingerprint(X)
        self.classes_ = fit_classes(y)
        if len(self.classes_) < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but the data "
                             f"contains only one class: {self.classes_[0]!r}")
        y_encoded = self._encode_target(y)
        sample_weight = prepare_sample_weight(sample_weight, X)
        if self.class_weight is not None:  # "balanced" counts weighted samples, as scikit-learn 1.9 does
            self._class_weights = finite_class_weights(compute_class_weight(
                self.class_weight, classes=self.classes_, y=y, sample_weight=sample_weight))
        solver = self._choose_solver(X.shape[1], 1 if len(self.classes_) == 2 else len(self.classes_))
        if solver in STOCHASTIC_SOLVERS and not sp.issparse(X) and not X.flags.c_contiguous:
            # the epochs read rows in shuffled order: an F-ordered X (a pandas frame) is copied to rows,
            # as SGDClassifier does
            X = np.ascontiguousarray(X)
        objective = self._build_objective(X, y_encoded, sample_weight, check_X=True)

        w0 = None  # the solver's own start (the intercept-only model, or L-BFGS's sample start)
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (objective.n_outputs if objective.n_outputs > 1 else 1, X.shape[1]):
            w0 = objective.pack(*self._solver_coef())
        callback, bar = progress_callback(self, self.max_iter, self.callbacks)
        try:
            result = run_solver(solver, objective, w0, max_iter=self.max_iter, tol=self.tol, callback=callback,
                                random_state=self.random_state)
        finally:
            if bar is not None:
                bar.close()
        settle_finite_check(objective)
        warn_if_not_converged(self, result, solver)
        coef, intercept = objective.unpack(result.params)
        self.coef_ = np.ascontiguousarray(coef.T, dtype=X.dtype)
        self.intercept_ = (intercept if self.fit_intercept else np.zeros(objective.n_outputs)).astype(X.dtype)
        self.n_iter_ = np.array([int(np.max(result.n_iter))], dtype=np.int32)
        self.loss_curve_ = result.trace["objective"]
        self.solver_info_ = solver_info(result, solver)
        return fingerprint.finish(self)

    def decision_function(self, X):
        """Raw scores ``X @ coef_.T + intercept_``: (n_samples,) for two classes, else (n_samples, n_classes)."""
        check_is_fitted(self)
        scores = linear_scores(self, X, self.coef_, self.intercept_)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes): sigmoid for two classes, softmax otherwise."""
        return class_probabilities(self.decision_function(X))

    def predict_log_proba(self, X):
        """Their logarithms, formed from the scores (``-log1p(exp(-s))`` and the log-softmax), not as the
        log of the probabilities: a class whose probability underflows gets its finite log-probability
        where scikit-learn's ``np.log(predict_proba(X))`` gives ``-inf``."""
        return class_probabilities(self.decision_function(X), log=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
