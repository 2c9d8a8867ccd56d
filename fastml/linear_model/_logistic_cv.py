"""LogisticRegressionCV: all folds of a binary problem share every pass over ``X`` (batched solvers).

How a binary grid is fitted: the folds are the columns of one :class:`fastml.LinearObjective` whose
``sample_weight`` is a matrix ``(n_samples, n_folds)``: column ``f`` holds the sample weights (times
the class weights) on fold ``f``'s training rows and exact zeros on its test rows, and its L2
strength is ``1 / (C * S_f)`` with ``S_f`` the fold's training weight sum (scikit-learn's
``C * sum(loss) + ||w||^2 / 2`` divided by ``C * S_f``). A zero weight removes a row from a model
exactly, so each column is the fold's own problem, and no copy of ``X`` is made per fold. The Cs are
then solved in turn, each run warm-started from the previous C ("paths", the default). The
alternative layout "grid" puts all ``n_folds * n_Cs`` models in ONE objective and one solver run;
both are exact (each model is solved to ``tol``), and "paths" measured ~2x faster on breast_cancer
(5 folds x 10 Cs): a batched run evaluates every model in every pass, including the ones that
converged long ago, while warm-started Cs need few iterations each.

The multinomial loss treats its classes as one model, so a multiclass grid is fitted one (fold, C)
at a time, along each fold's path of Cs with warm starts (as scikit-learn does).
"""
import inspect
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils.class_weight import compute_class_weight

from ..kernels._blas_threads import one_blas_thread_in_fit
from ._base import (
    check_choice, check_scalar_param, finite_class_weights, fit_classes, kernel_threads, LinearClassifierPredictMixin,
    make_objective, ObjectiveMixin, prepare_sample_weight, progress_callback, solver_info, start_fingerprint,
    validate_fit_data, warn_if_not_converged,
)
from ._logistic import LogisticRegression
from ._solve import run_solver

SOLVERS = {"lbfgs": "lbfgs", "newton": "newton", "newton-cholesky": "newton", "gd": "gd"}


class LogisticRegressionCV(LinearClassifierPredictMixin, ObjectiveMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression with C chosen by cross-validation, a drop-in for scikit-learn's (L2 penalty).

    All folds of a binary problem are fitted together by the batched solvers, the Cs in turn with warm
    starts (see the module docstring); the best C (highest mean score over the folds) is then
    refitted on all the data.

    Parameters
    ----------
    Cs : int or array-like of float
        The C values, or their number on a log grid from 1e-4 to 1e4 (as scikit-learn).
    fit_intercept : bool
    cv : int, cross-validation generator or iterable, optional
        As scikit-learn (default: 5-fold ``StratifiedKFold``).
    penalty : {"l2"}
        Only the L2 penalty is cross-validated here (scikit-learn also offers l1 / elasticnet
        through liblinear/saga); ``"deprecated"`` (scikit-learn >= 1.8's default) means ``"l2"``.
    scoring : str, callable or None
        Scorer of each (fold, C); None: accuracy (scikit-learn's current default).
    solver : {"lbfgs", "newton", "newton-cholesky", "gd"}
    tol : float
        Gradient tolerance of every fit, in the units of the features (as :class:`LogisticRegression`).
    max_iter : int
        Most iterations of each model.
    class_weight : dict, "balanced" or None
        "balanced" weights are computed once on all the data, as scikit-learn does.
    n_jobs : int or None
        Threads of the kernels (the folds share each pass over ``X`` instead of running in parallel).
    verbose : int
    refit : bool
        True: refit the best C on all the data. False: average the folds' best coefficients and Cs.
    random_state : ignored
        Kept for signature compatibility (the full-batch solvers are deterministic).
    l1_ratios : None or a non-empty sequence of zeros
        Only the pure L2 penalty (``l1_ratio = 0``) is supported. A sequence (scikit-learn >= 1.8's
        spelling of the L2 penalty, e.g. ``(0,)``) adds an l1_ratio axis to ``scores_``,
        ``coefs_paths_`` and ``n_iter_`` and sets ``l1_ratio_`` from it, as scikit-learn does; None
        leaves the axis out (legacy attributes).
    use_legacy_attributes : bool
        True (scikit-learn 1.9's behavior): ``scores_``/``coefs_paths_`` are dicts keyed by class,
        ``C_`` an array. False: the arrays of scikit-learn >= 1.10 (see Attributes).
    callbacks : list of callables or None
        Called with an ``IterationInfo`` after every iteration of the batched run and of the refit.

    Attributes
    ----------
    classes_, coef_, intercept_, n_features_in_, feature_names_in_
        As in scikit-learn.
    Cs_ : ndarray of shape (n_Cs,)
    C_ : ndarray of shape (1,) (binary) or (n_classes,), or float when not ``use_legacy_attributes``
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        ``np.asarray(l1_ratios)``, or ``[None]`` when ``l1_ratios`` is None.
    l1_ratio_ : ndarray of shape (1,) (binary) or (n_classes,), or float when not ``use_legacy_attributes``
        The chosen l1_ratio (``None`` entries when ``l1_ratios`` is None and ``refit``; 0.0 without refit).
    scores_ : dict {class: ndarray (n_folds, n_Cs[, n_l1_ratios])} or ndarray (n_folds, n_l1_ratios, n_Cs)
        Score of each fold's model on the fold's test rows, weighted by ``sample_weight`` when given
        (class weights are not part of it), as in scikit-learn. The ``n_l1_ratios`` axis of the
        legacy dicts exists only when ``l1_ratios`` is given.
    coefs_paths_ : dict {class: ndarray (n_folds, n_Cs[, n_l1_ratios], n_dof)} or ndarray
        The latter of shape (n_folds, n_l1_ratios, n_Cs, n_classes or 1, n_dof).
        ``n_dof = n_features + fit_intercept`` (last entry the intercept). Binary problems are keyed
        by ``classes_[1]`` only, as in scikit-learn.
    n_iter_ : ndarray of shape (1, n_folds, n_Cs[, n_l1_ratios]) or (n_folds, n_l1_ratios, n_Cs)
    cv_results_ : dict
        ``GridSearchCV``-style summary: ``param_C``, ``split{i}_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``.
    solver_info_ : dict
        The last cross-validation run's solver information plus ``"cv_seconds"`` and
        ``"cv_evaluations"`` (totals over all runs); the refit's is under ``"refit"``.
    """

    def __init__(self, *, Cs=10, fit_intercept=True, cv=None, penalty="l2", scoring=None, solver="lbfgs",
                 tol=1e-4, max_iter=100, class_weight=None, n_jobs=None, verbose=0, refit=True,
                 random_state=None, l1_ratios=None, use_legacy_attributes=True, callbacks=None):
        self.Cs = Cs
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.random_state = random_state
        self.l1_ratios = l1_ratios
        self.use_legacy_attributes = use_legacy_attributes
        self.callbacks = callbacks

    # -- hyper-parameters -----------------------------------------------------------------------
    def _check_params(self):
        check_choice(self.penalty, "penalty", ("l2", "deprecated"))
        check_choice(self.solver, "solver", tuple(SOLVERS))
        check_scalar_param(self.tol, "tol", minimum=0.0)
        check_scalar_param(self.max_iter, "max_iter", minimum=1, integer=True)
        if isinstance(self.Cs, numbers.Integral) and not isinstance(self.Cs, bool):
            check_scalar_param(self.Cs, "Cs", minimum=1, integer=True)
            return np.logspace(-4, 4, self.Cs)
        Cs = np.asarray(self.Cs, dtype=np.float64).ravel()
        if Cs.size == 0 or not np.all(np.isfinite(Cs)) or np.any(Cs <= 0):
            raise ValueError(f"Cs must be a positive integer or a non-empty list of finite positive floats, got {self.Cs!r}")
        return Cs

    def _check_l1_ratios(self):
        """The l1_ratios as a list, or None. Only zeros: this class fits the pure L2 penalty."""
        if self.l1_ratios is None:
            return None
        l1_ratios = list(np.ravel(np.asarray(self.l1_ratios, dtype=object)))
        if not l1_ratios or not all(isinstance(r, numbers.Real) and not isinstance(r, bool) and 0 <= r <= 1
                                    for r in l1_ratios):
            raise ValueError(f"l1_ratios must be None or a non-empty array-like of numbers in [0, 1], got "
                             f"{self.l1_ratios!r}")
        if any(r != 0 for r in l1_ratios):
            raise ValueError(f"LogisticRegressionCV supports only the L2 penalty (l1_ratios None or 0), got "
                             f"l1_ratios={self.l1_ratios!r}; use LogisticRegression(solver='gd') for L1 parts")
        return l1_ratios

    def _model(self, C, **extra):
        """The LogisticRegression that one C describes (refit, scoring shells, ``objective``)."""
        return LogisticRegression(C=C, tol=self.tol, fit_intercept=self.fit_intercept, class_weight=self.class_weight,
                                  solver=SOLVERS[self.solver], max_iter=self.max_iter, verbose=self.verbose,
                                  n_jobs=self.n_jobs, **extra)

    # how a binary grid is batched: "paths" (all folds in one objective, the Cs in turn with warm
    # starts; default) or "grid" (all folds x Cs in one objective and one solver run). Both are exact;
    # "paths" was ~2x faster on breast_cancer (5 x 10): the grid evaluates every model in every pass,
    # including those converged long ago, while the warm-started Cs need few iterations each.
    _binary_layout = "paths"

    # -- fit ---------------------------------------------------------------------------------------
    @one_blas_thread_in_fit
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate every C, then refit the best one (``params`` may hold ``groups`` for ``cv``)."""
        Cs = self._check_params()
        l1_ratios = self._check_l1_ratios()
        X, y = validate_fit_data(self, X, y, y_numeric=False)
        fingerprint = start_fingerprint(X)
        self.classes_ = fit_classes(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but the data "
                             f"contains only one class: {self.classes_[0]!r}")
        y_encoded = LogisticRegression._encode_target(self, y)
        # scikit-learn hands the test rows' sample_weight to the scorer only when fit received one
        # (a scorer that does not accept it then fails there too); class weights never reach the score
        weights_given = sample_weight is not None
        sample_weight = prepare_sample_weight(sample_weight, X)
        weights = sample_weight
        if self.class_weight is not None:
            self._class_weights = finite_class_weights(compute_class_weight(
                self.class_weight, classes=self.classes_, y=y, sample_weight=sample_weight))
            weights = sample_weight * self._class_weights[y_encoded.astype(np.intp)]
        cv = check_cv(self.cv, y, classifier=True)
        folds = list(cv.split(X, y, groups=params.get("groups")))
        train_masks = np.zeros((X.shape[0], len(folds)), dtype=bool)
        for f, (train, _) in enumerate(folds):
            train_masks[train, f] = True
        if np.any((weights[:, None] * train_masks).sum(axis=0) <= 0):
            raise ValueError("a cross-validation fold has no training sample with positive weight")

        if n_classes > 2:
            fit_path = self._fit_multinomial_paths
        else:
            fit_path = self._fit_binary_grid if self._binary_layout == "grid" else self._fit_binary_paths
        # coefs: (n_folds, n_Cs, n_outputs, n_dof); n_iter: (n_folds, n_Cs)
        coefs, n_iter, info = fit_path(X, y_encoded, weights, train_masks, Cs)
        # (n_folds, n_Cs)
        scores = self._score_grid(X, y, folds, coefs, sample_weight if weights_given else None)

        self.Cs_ = Cs
        n_features = X.shape[1]
        if self.refit:
            best = int(np.argmax(scores.sum(axis=0)))
            C_best = float(Cs[best])
            start = coefs[:, best].mean(axis=0)  # (n_outputs, n_dof): scikit-learn's warm start
            model = self._model(C_best, warm_start=True, callbacks=self.callbacks)
            model.coef_ = start[:, :n_features].astype(X.dtype)
            model.intercept_ = (start[:, n_features] if self.fit_intercept else np.zeros(len(start))).astype(X.dtype)
            model.fit(X, y, sample_weight)
            coef, intercept = model.coef_, model.intercept_
            info["refit"] = model.solver_info_
        else:
            best_per_fold = np.argmax(scores, axis=1)
            chosen = coefs[np.arange(len(folds)), best_per_fold].mean(axis=0)
            C_best = float(np.mean(Cs[best_per_fold]))
            coef = chosen[:, :n_features]
            intercept = chosen[:, n_features] if self.fit_intercept else np.zeros(len(chosen))
        self.coef_ = np.ascontiguousarray(coef, dtype=X.dtype)
        self.intercept_ = np.asarray(intercept, dtype=X.dtype)
        self.solver_info_ = info
        self.loss_curve_ = info.get("refit", info)["trace"]["objective"]
        self._set_cv_attributes(scores, coefs, n_iter, C_best, n_classes, l1_ratios)
        return fingerprint.finish(self)

    def _fit_binary_paths(self, X, y_encoded, weights, train_masks, Cs):
        """All folds as the columns of one objective, one solver run per C warm-started from the last C."""
        n_folds, n_Cs = train_masks.shape[1], len(Cs)
        fold_weights = weights[:, None] * train_masks  # column f: fold f's training weights, zeros elsewhere
        fold_sums = fold_weights.sum(axis=0)
        solver = SOLVERS[self.solver]
        n_dof = X.shape[1] + self.fit_intercept
        coefs = np.empty((n_folds, n_Cs, 1, n_dof))
        n_iter = np.empty((n_folds, n_Cs), dtype=int)
        callback, bar = progress_callback(self, self.max_iter * n_Cs, self.callbacks)
        seconds, n_evaluations, w0 = 0.0, 0, None
        try:
            for k, C in enumerate(Cs):
                objective = make_objective("log_loss", X, y_encoded, fold_weights, l2=1.0 / (C * fold_sums), l1=0.0,
                                           fit_intercept=self.fit_intercept, n_threads=kernel_threads(self.n_jobs))
                result = run_solver(solver, objective, w0,
                                    max_iter=self.max_iter, tol=self.tol, callback=callback)
                warn_if_not_converged(self, result, solver)
                w0 = result.params
                coef, intercept = objective.unpack(result.params)  # (n_features, n_folds), (n_folds,)
                coefs[:, k, 0] = (np.vstack([coef, intercept[None, :]]) if self.fit_intercept else coef).T
                n_iter[:, k] = np.broadcast_to(result.n_iter, (n_folds,))
                info = solver_info(result, solver)
                seconds += info["seconds"]
                n_evaluations += info.get("n_evaluations", 0)
        finally:
            if bar is not None:
                bar.close()
        info.update(cv_seconds=seconds, cv_evaluations=n_evaluations)
        return coefs, n_iter, info

    def _fit_binary_grid(self, X, y_encoded, weights, train_masks, Cs):
        """All folds x Cs as the columns of one objective: one solver run, one pass over X per evaluation."""
        n_folds, n_Cs = train_masks.shape[1], len(Cs)
        model_weights = np.repeat(weights[:, None] * train_masks, n_Cs, axis=1)  # column f * n_Cs + k
        fold_sums = np.repeat((weights[:, None] * train_masks).sum(axis=0), n_Cs)
        l2 = 1.0 / (np.tile(Cs, n_folds) * fold_sums)
        objective = make_objective("log_loss", X, y_encoded, model_weights, l2=l2, l1=0.0,
                                   fit_intercept=self.fit_intercept, n_threads=kernel_threads(self.n_jobs))
        solver = SOLVERS[self.solver]
        callback, bar = progress_callback(self, self.max_iter, self.callbacks)
        try:
            result = run_solver(solver, objective, objective.initial_parameters(), max_iter=self.max_iter,
                                tol=self.tol, callback=callback)
        finally:
            if bar is not None:
                bar.close()
        warn_if_not_converged(self, result, solver)
        coef, intercept = objective.unpack(result.params)  # (n_features, n_models), (n_models,)
        paths = np.vstack([coef, intercept[None, :]]) if self.fit_intercept else coef
        coefs = paths.T.reshape(n_folds, n_Cs, 1, -1)
        n_iter = np.broadcast_to(result.n_iter, (n_folds * n_Cs,)).reshape(n_folds, n_Cs)
        info = solver_info(result, solver)
        info.update(cv_seconds=info["seconds"], cv_evaluations=info.get("n_evaluations", 0))
        return coefs, n_iter, info

    def _fit_multinomial_paths(self, X, y_encoded, weights, train_masks, Cs):
        """One multinomial fit per (fold, C), warm-started along each fold's path of Cs."""
        n_folds, n_Cs, n_classes = train_masks.shape[1], len(Cs), len(self.classes_)
        n_dof = X.shape[1] + self.fit_intercept
        coefs = np.empty((n_folds, n_Cs, n_classes, n_dof))
        n_iter = np.empty((n_folds, n_Cs), dtype=int)
        solver = SOLVERS[self.solver]
        user_callback = _chain(self.callbacks)
        seconds = 0.0
        for f in range(n_folds):
            fold_weights = weights * train_masks[:, f]
            w0 = None
            for k, C in enumerate(Cs):
                objective = make_objective("multinomial", X, y_encoded, fold_weights,
                                           l2=1.0 / (C * fold_weights.sum()), l1=0.0,
                                           fit_intercept=self.fit_intercept, n_classes=n_classes,
                                           n_threads=kernel_threads(self.n_jobs))
                result = run_solver(solver, objective, w0,
                                    max_iter=self.max_iter, tol=self.tol, callback=user_callback)
                warn_if_not_converged(self, result, solver)
                w0 = result.params
                coef, intercept = objective.unpack(result.params)  # (n_features, n_classes)
                coefs[f, k] = (np.vstack([coef, intercept[None, :]]) if self.fit_intercept else coef).T
                n_iter[f, k] = int(np.max(result.n_iter))
                seconds += solver_info(result, solver)["seconds"]
        info = solver_info(result, solver)
        info["cv_seconds"] = seconds
        return coefs, n_iter, info

    # -- scoring -----------------------------------------------------------------------------------
    def _score_grid(self, X, y, folds, coefs, sample_weight):
        """Score of every (fold, C) on the fold's test rows: (n_folds, n_Cs).

        ``sample_weight`` (None when fit got none) weights each test row, as scikit-learn's scoring
        path does: the default accuracy becomes the weighted accuracy, and a scorer is called with
        ``sample_weight=`` the test rows' weights.
        """
        n_features = X.shape[1]
        n_folds, n_Cs, n_outputs, _ = coefs.shape
        scores = np.empty((n_folds, n_Cs))
        scorer = None if self.scoring is None else _fold_scorer(self.scoring, self.classes_)
        for f, (_, test) in enumerate(folds):
            X_test, y_test = X[test], y[test]
            weight_test = None if sample_weight is None else sample_weight[test]
            if scorer is None:  # accuracy of all Cs from one product X_test @ coefs
                weights = coefs[f, :, :, :n_features].reshape(n_Cs * n_outputs, n_features)
                raw = np.asarray(X_test @ weights.T.astype(X.dtype), dtype=np.float64).reshape(-1, n_Cs, n_outputs)
                if self.fit_intercept:
                    raw += coefs[f, :, :, n_features]
                labels = (raw[:, :, 0] > 0).astype(np.intp) if n_outputs == 1 else raw.argmax(axis=2)
                # (n_Cs, n_test), each row contiguous: a row's sum is the same pairwise sum as
                # accuracy_score's over one 1-D array, so equal scores (ties between Cs) stay equal
                hits = np.ascontiguousarray((self.classes_[labels] == y_test[:, None]).T, dtype=np.float64)
                if weight_test is None:
                    scores[f] = hits.mean(axis=1)
                    continue
                total = weight_test.sum()
                if total == 0:  # as accuracy_score with these weights
                    raise ZeroDivisionError("Weights sum to zero, can't be normalized")
                scores[f] = (hits * weight_test).sum(axis=1) / total
                continue
            score_params = {} if weight_test is None else {"sample_weight": weight_test}
            for k in range(n_Cs):
                shell = self._model(1.0)  # only its coefficients are used
                shell.classes_, shell.n_features_in_ = self.classes_, n_features
                shell.coef_ = coefs[f, k, :, :n_features].astype(X.dtype)
                shell.intercept_ = (coefs[f, k, :, n_features] if self.fit_intercept
                                    else np.zeros(n_outputs)).astype(X.dtype)
                scores[f, k] = scorer(shell, X_test, y_test, **score_params)
        return scores

    def _set_cv_attributes(self, scores, coefs, n_iter, C_best, n_classes, l1_ratios):
        """scikit-learn's cross-validation attributes, with its l1_ratio axis when ``l1_ratios`` is given.

        Every l1_ratio is 0 here, so the models of all l1_ratios are the same L2 model: it is fitted and
        scored once and repeated along the axis. scikit-learn's argmax over (C, l1_ratio) then picks the
        first l1_ratio, as ``refit`` does here; without refit it reports l1_ratio 0.0.
        """
        n_folds, n_Cs, n_outputs, n_dof = coefs.shape
        n_l1_ratios = 1 if l1_ratios is None else len(l1_ratios)
        self.l1_ratios_ = np.array([None]) if l1_ratios is None else np.asarray(self.l1_ratios)
        chosen_l1_ratio = None if l1_ratios is None else l1_ratios[0]
        self.cv_results_ = {"param_C": self.Cs_.copy(), "mean_test_score": scores.mean(axis=0),
                            "std_test_score": scores.std(axis=0),
                            "rank_test_score": _ranks(scores.mean(axis=0)),
                            **{f"split{f}_test_score": scores[f].copy() for f in range(n_folds)}}
        # (n_folds, n_l1_ratios, n_Cs, ...): the layout of the arrays that are not legacy
        scores = np.repeat(scores[:, None], n_l1_ratios, axis=1)
        coefs = np.repeat(coefs[:, None], n_l1_ratios, axis=1)
        n_iter = np.repeat(n_iter[:, None], n_l1_ratios, axis=1).astype(np.int32)
        if self.use_legacy_attributes:
            # legacy layout (n_folds, n_Cs, n_l1_ratios, ...), the l1_ratio axis dropped when l1_ratios is None
            scores, coefs, n_iter = (np.moveaxis(a, 1, 2) for a in (scores, coefs, n_iter))
            if l1_ratios is None:
                scores, coefs, n_iter = scores[:, :, 0], coefs[:, :, 0], n_iter[:, :, 0]
            keys = self.classes_[1:] if n_classes == 2 else self.classes_
            self.scores_ = {key: scores.copy() for key in keys}
            self.coefs_paths_ = {key: coefs[..., j, :].copy() for j, key in enumerate(keys)}
            n_C_entries = 1 if n_classes == 2 else n_classes
            self.C_ = np.full(n_C_entries, C_best)
            # refit: the chosen entry of l1_ratios (None when not given); no refit: scikit-learn's 0.0
            self.l1_ratio_ = np.asarray([chosen_l1_ratio] * n_C_entries) if self.refit else np.zeros(n_C_entries)
            self.n_iter_ = n_iter[None]
        else:
            self.scores_ = scores
            self.coefs_paths_ = coefs
            self.C_ = C_best
            self.l1_ratio_ = 0.0  # every l1_ratio is 0 here, and a float in this layout
            self.n_iter_ = n_iter

    # -- prediction and the extras shared with LogisticRegression ------------------------------------
    decision_function = LogisticRegression.decision_function
    predict_proba = LogisticRegression.predict_proba
    predict_log_proba = LogisticRegression.predict_log_proba
    _encode_target = LogisticRegression._encode_target
    _solver_coef = LogisticRegression._solver_coef

    def _build_objective(self, X, y_encoded, sample_weight):
        model = self._model(float(np.ravel(self.C_)[0]))
        model.classes_ = self.classes_
        if self.class_weight is not None:
            model._class_weights = self._class_weights
        return model._build_objective(X, y_encoded, sample_weight)

    def score(self, X, y, sample_weight=None):
        """Score with ``scoring`` (accuracy when None), as scikit-learn's LogisticRegressionCV."""
        if self.scoring is None:
            return super().score(X, y, sample_weight=sample_weight)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return get_scorer(self.scoring)(self, X, y, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _fold_scorer(scoring, classes):
    """The scorer of the folds: ``scoring``, told every class when its metric takes ``labels``.

    A test fold may miss a class, and a metric such as log_loss would then infer fewer classes than
    the model has columns. scikit-learn's cross-validation rebuilds such scorers with
    ``labels=classes`` (and ``pos_label=classes[-1]`` for a binary problem, when the metric has it);
    this does the same so that the scores agree. Other scorers and plain callables are used as given.
    """
    scorer = get_scorer(scoring)
    metric = getattr(scorer, "_score_func", None)
    if metric is None:
        return scorer
    parameters = inspect.signature(metric).parameters
    if "labels" not in parameters:
        return scorer
    extra = {"labels": classes}
    if len(classes) == 2 and "pos_label" in parameters:
        extra["pos_label"] = classes[-1]
    return make_scorer(metric, greater_is_better=scorer._sign == 1, response_method=scorer._response_method,
                       **extra, **getattr(scorer, "_kwargs", {}))


def _chain(callbacks):
    """One callback calling every user callback (stop when any asks to), or None."""
    if not callbacks:
        return None
    return lambda info: any([bool(function(info)) for function in callbacks])


def _ranks(mean_scores):
    """GridSearchCV's ``rank_test_score``: 1 for the best, ties share the smallest rank."""
    order = np.sort(mean_scores)[::-1]
    return np.searchsorted(-order, -mean_scores, side="left").astype(np.int32) + 1
