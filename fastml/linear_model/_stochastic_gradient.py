"""SGDClassifier and SGDRegressor: scikit-learn's SGD estimators on fastml's compiled epochs.

Both estimators minimize, per binary model (one model for a regressor or a two-class problem, one
one-vs-all model per class otherwise), with ``s_i`` the sample weights times the class weights::

    sum_i s_i loss_i / sum_i s_i + alpha (1 - r) / 2 ||coef||^2 + alpha r ||coef||_1

``r`` is 0 for ``penalty="l2"``, 1 for ``"l1"``, ``l1_ratio`` for ``"elasticnet"``. With unit weights
this is scikit-learn's objective and, with ``batch_size=1`` and ``optimizer="sgd"``, its per-sample
update (same schedules, same L2 shrink, same cumulative L1 penalty, same averaging, the same
intercept steps damped by 0.01 on sparse ``X``). The K
one-vs-all models of a multiclass problem are fitted together: one compiled pass over each row
updates all K columns (``fastml.solvers.stochastic``), instead of K separate fits.

Differences from scikit-learn, on purpose:

* weights are normalized by their sum, so an integer weight k is the same objective as k copies of
  the row (scikit-learn's SGD is not; its objective divides by n_samples);
* the row order of each epoch depends on ``(seed, epoch)`` only (``fastml.kernels.shuffle``) and is
  shared by the K one-vs-all models; results are reproducible but not scikit-learn's numbers;
* ``SGDRegressor`` starts its intercept at the best constant (mean, or median for the robust
  losses) rather than 0, which saves many epochs on uncentred targets; ``SGDClassifier`` starts at
  0 like scikit-learn;
* with ``early_stopping`` a multiclass model stops as a whole, on the validation accuracy of the
  combined classifier (scikit-learn stops each binary model on its own binary accuracy);
* with averaging and an L1 part, fastml averages the iterates exactly (scikit-learn's lazy average
  does not follow the L1 truncation); without shuffling, every other setting replays scikit-learn's
  run step for step (tested);
* ``learning_rate="pa1"/"pa2"`` (passive-aggressive) are not implemented, and "optimal" needs a
  penalty (``penalty=None`` with "optimal" raises: the solver derives the rate from ``l2 + l1``).
"""
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils._available_if import available_if
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import assert_all_finite, check_array, check_is_fitted, validate_data

from ..kernels._blas_threads import one_blas_thread_in_fit
from ..kernels.layout import transposed_copy
from ..solvers._result import SolverResult, Trace
from ._base import (
    LinearClassifierPredictMixin, record_fingerprint, ObjectiveMixin, start_fingerprint, accepted_dtypes, check_choice,
    check_scalar_param, class_probabilities, encode_labels, fit_classes, kernel_threads, labels_among, linear_scores,
    make_objective, prepare_sample_weight, progress_callback, solver_info,
)
from ._solve import _seed

MARGIN_LOSSES = ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron")
REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
PENALTIES = ("l2", "l1", "elasticnet", None)
SCHEDULES = ("constant", "optimal", "invscaling", "adaptive")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
# plain SGD's intercept steps on sparse X are damped by this factor, as scikit-learn's SGD estimators
# do (its SPARSE_INTERCEPT_DECAY): without it a one-epoch fit on hashed text scored 0.894 accuracy
# against scikit-learn's 0.939 on the same rows
SPARSE_INTERCEPT_DECAY = 0.01


def _merge_results(results):
    """One SolverResult from the epoch-by-epoch calls of an early-stopping fit (trace concatenated)."""
    if len(results) == 1:
        return results[0]
    trace, offset, rows = Trace(), 0.0, []
    for result in results:
        seconds = result.trace["seconds"]
        for row, second in zip(result.trace._rows, seconds):
            rows.append((row[0], offset + second, *row[2:]))
        offset += float(seconds[-1]) if len(seconds) else 0.0
    trace._rows = rows  # the rows of the separate calls, on one clock
    last = results[-1]
    n_iter = sum(np.asarray(result.n_iter) for result in results)
    return SolverResult(params=last.params, n_iter=n_iter, converged=last.converged, trace=trace,
                        message=last.message, info=last.info)


class _BaseSGD(ObjectiveMixin):
    """Hyper-parameter checks, the solver loop (with early stopping) and the fitted attributes."""

    # -- hyper-parameters -----------------------------------------------------------------------
    def _check_params(self, losses, for_partial_fit=False):
        check_choice(self.loss, "loss", losses)
        check_choice(self.penalty, "penalty", PENALTIES)
        check_scalar_param(self.alpha, "alpha", minimum=0.0)
        check_scalar_param(self.l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0, allow_none=True)
        check_scalar_param(self.max_iter, "max_iter", minimum=1, integer=True)
        check_scalar_param(self.tol, "tol", minimum=0.0, allow_none=True)
        check_scalar_param(self.epsilon, "epsilon", minimum=0.0)
        check_scalar_param(self.eta0, "eta0", minimum=0.0, include_minimum=False)
        check_scalar_param(self.power_t, "power_t", minimum=0.0)
        check_scalar_param(self.validation_fraction, "validation_fraction", minimum=0.0, maximum=1.0,
                           include_minimum=False)
        check_scalar_param(self.n_iter_no_change, "n_iter_no_change", minimum=1, integer=True)
        check_scalar_param(self.batch_size, "batch_size", minimum=1, integer=True)
        check_scalar_param(self.momentum, "momentum", minimum=0.0)
        for name in ("fit_intercept", "shuffle", "early_stopping", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.average, (bool, np.bool_)):
            check_scalar_param(self.average, "average", minimum=1, integer=True)
        if self.learning_rate in ("pa1", "pa2"):
            raise ValueError(f"learning_rate={self.learning_rate!r} (passive-aggressive) is not implemented in "
                             f"fastml; use one of {list(SCHEDULES)}")
        check_choice(self.learning_rate, "learning_rate", SCHEDULES)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        if self.validation_fraction >= 1.0:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction!r}")
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")
        if self._schedule() == "optimal":
            if self.alpha == 0:
                raise ValueError("alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute "
                                 "the optimal learning rate.")
            if self.penalty is None:
                raise ValueError("learning_rate='optimal' with penalty=None is not supported: fastml's solver "
                                 "derives the 'optimal' rate from the penalty; use penalty='l2' with a small "
                                 "alpha, or learning_rate='invscaling'")
        if self.early_stopping and for_partial_fit:
            raise ValueError("early_stopping should be False with partial_fit")
        if self.callbacks is not None and not all(callable(c) for c in self.callbacks):
            raise TypeError("callbacks must be a list of callables or None")

    def _schedule(self):
        # Bottou's "optimal" rate starts near 1 / (alpha t0) ~ 10 per coordinate: sensible for plain SGD only
        if self.learning_rate == "optimal" and self.optimizer != "sgd":
            return "constant"
        return self.learning_rate

    def _penalties(self):
        if self.penalty is None:
            return 0.0, 0.0
        share = {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio)
        return self.alpha * (1.0 - share), self.alpha * share

    def _make_objective(self, X, y_columns, weights):
        from .._loss import get_loss

        name = self.loss
        loss = get_loss(name, epsilon=self.epsilon) if name in REGRESSION_LOSSES[1:] else get_loss(name)
        l2, l1 = self._penalties()
        return make_objective(loss, X, y_columns, weights, l2=l2, l1=l1, fit_intercept=self.fit_intercept,
                              n_threads=kernel_threads(getattr(self, "n_jobs", None)))

    def _options(self, max_epochs, tol, seed, sparse):
        from ..solvers.stochastic import StochasticOptions

        schedule = self._schedule()
        return StochasticOptions(
            optimizer=self.optimizer, learning_rate=None if schedule == "optimal" else self.eta0,
            schedule=schedule, power_t=self.power_t, momentum=self.momentum, batch_size=self.batch_size,
            max_epochs=max_epochs, tol=tol, n_iter_no_change=self.n_iter_no_change, average=self.average,
            intercept_decay=SPARSE_INTERCEPT_DECAY if sparse else 1.0, shuffle=self.shuffle, random_state=seed,
            trace_objective="running")

    def _state_key(self, objective):
        """What a saved optimizer state depends on; partial_fit restarts the state when it changes."""
        return (self.loss, self.optimizer, bool(self.average), self.fit_intercept, objective.n_features,
                objective.n_outputs)

    # -- the solver loop ------------------------------------------------------------------------
    def _run(self, objective, w0, state, max_epochs, tol, seed, validation=None):
        """Run the stochastic solver; with ``validation`` (a score function of the flat parameters),
        one epoch per call and scikit-learn's early-stopping rule on the validation score."""
        from ..solvers.stochastic import stochastic_gradient

        callback, bar = progress_callback(self, max_epochs, self.callbacks)
        try:
            if validation is None:
                return stochastic_gradient(objective, None if state is not None else w0,
                                           self._options(max_epochs, tol, seed, objective.X.is_sparse), state,
                                           callback)
            options = self._options(1, None, seed, objective.X.is_sparse)
            results, best_score, stale = [], -np.inf, 0
            for _ in range(max_epochs):
                result = stochastic_gradient(objective, None if state is not None else w0, options, state, callback)
                state = result.info["state"]
                results.append(result)
                if result.message == "stopped by the callback":
                    break
                if tol is None:  # as scikit-learn: early stopping acts only with a tolerance
                    continue
                score = validation(result.params)
                stale = stale + 1 if score < best_score + tol else 0
                best_score = max(best_score, score)
                if stale >= self.n_iter_no_change:
                    if self._schedule() == "adaptive" and state.learning_rate.max() > 1e-6:
                        state.learning_rate /= 5.0
                        stale = 0
                    else:
                        results[-1].converged = True
                        results[-1].message = (f"validation score improved by less than tol={tol} for "
                                               f"{self.n_iter_no_change} epochs")
                        break
            return _merge_results(results)
        finally:
            if bar is not None:
                bar.close()

    def _fit_objective(self, objective, coef_init, intercept_init, *, partial, validation, zero_intercept):
        """Fit, or continue from the saved optimizer state (partial_fit), and set the fitted attributes.

        partial_fit without a usable state (first call, or loss/optimizer/shape changed) starts a new
        state from the current coefficients; fit always starts a new state (scikit-learn resets ``t_``).
        """
        key = self._state_key(objective)
        state = getattr(self, "_sgd_state", None) if partial else None
        if state is not None and self._sgd_state_key == key:
            # a model that met the stopping rule in fit takes part again: partial_fit always runs its epoch
            state.converged[:] = False
            state.no_improvement[:] = 0
            state.best_objective[:] = np.inf
            w0 = None
        else:
            state = None
            if partial and getattr(self, "coef_", None) is not None:
                coef_init, intercept_init = self.coef_, self.intercept_
            w0 = self._start(objective, coef_init, intercept_init, zero_intercept)
        seed = _seed(self.random_state)
        if partial:
            # the solver leaves a diverged state behind; the estimator keeps the one it had, so that a
            # partial_fit that raised does not poison the next (coef_ is not touched either)
            kept = None if state is None else state.copy()
            try:
                result = self._run(objective, w0, state, 1, None, seed)
            except FloatingPointError:
                if kept is not None:
                    self._sgd_state = kept
                raise
        else:
            result = self._run(objective, w0, None, self.max_iter, self.tol, seed, validation)
        self._sgd_state, self._sgd_state_key = result.info["state"], key
        coef, intercept = objective.unpack(result.params)
        self._set_coef(coef, intercept if self.fit_intercept else np.zeros(objective.n_outputs))
        n_iter = int(np.max(result.n_iter))
        self.n_iter_ = n_iter
        self.t_ = 1.0 + float(result.info["n_steps"])
        self.loss_function_ = objective.loss
        curve = result.trace["objective"]
        self.loss_curve_ = (np.concatenate([self.loss_curve_, curve])
                            if partial and hasattr(self, "loss_curve_") else curve)
        self.solver_info_ = solver_info(result, self.optimizer)
        if not partial and self.tol is not None and n_iter == self.max_iter:
            warnings.warn("Maximum number of iteration reached before convergence. Consider increasing max_iter "
                          "to improve the fit.", ConvergenceWarning, stacklevel=3)
        return self

    def _start(self, objective, coef_init, intercept_init, zero_intercept):
        """Flat start parameters: coef_init/intercept_init, else warm start, else the default start."""
        coef, intercept = None, None
        if coef_init is None and self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init, intercept_init = self.coef_, self.intercept_
        n_features, n_outputs = objective.n_features, objective.n_outputs
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64)
            if coef.size != n_features * n_outputs:
                raise ValueError(f"coef_init has shape {coef.shape}; expected ({n_outputs}, {n_features}) "
                                 f"coefficients for this data")
            coef = coef.reshape(n_outputs, n_features).T
        if intercept_init is not None:
            intercept = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
            if intercept.shape != (n_outputs,):
                raise ValueError(f"intercept_init has shape {np.shape(intercept_init)}; expected ({n_outputs},)")
        if coef is None and intercept is None and not zero_intercept:
            return objective.initial_parameters()
        if coef is None:
            coef = np.zeros((n_features, n_outputs))
        return objective.pack(coef, intercept)

    # -- data ------------------------------------------------------------------------------------
    def _validate(self, X, y, reset, y_numeric):
        # X's finiteness is left to the epochs (see _fit_settling_finiteness): its own pass cost 26 ms
        # of a ~0.2 s epoch at 1e6 x 100 float64
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=accepted_dtypes(X), order=None,
                             reset=reset, y_numeric=y_numeric, ensure_all_finite=False)
        if sp.issparse(X):
            if X.indices.dtype != X.indptr.dtype:  # a new matrix sharing the data: the caller's stays as it is
                X = type(X)((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape)
        elif not X.flags.c_contiguous:
            # the epochs read rows in random order: an F-ordered X is copied once (as scikit-learn does)
            X = np.ascontiguousarray(X)
        return X, y

    def _fit_with_fingerprint(self, X, y, **fit_options):
        """``_fit_settling_finiteness``, then the drift fingerprint (``fingerprint_``). Plain SGD's
        epochs run on one thread, so for a float ndarray ``X`` the fingerprint's feature half is taken
        on a second thread meanwhile (``_base.start_fingerprint``; at 1e5 x 100 ~5 ms after the fit
        otherwise). Other input is fingerprinted after the fit, once validation has accepted it."""
        pending = None
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in (np.float32, np.float64):
            pending = start_fingerprint(X, one_thread_fit=self.optimizer == "sgd")
        fitted = self._fit_settling_finiteness(X, y, **fit_options)
        return record_fingerprint(fitted, X) if pending is None else pending.finish(fitted)

    def _fit_settling_finiteness(self, X, y, **fit_options):
        """``self._fit(X, y, **fit_options)``, whose validation left ``X``'s finiteness to the epochs.

        Every epoch reads every training row, and a NaN or an infinity in one makes that epoch's loss
        NaN whatever the loss (``kernels._optimizers.poison_if_nonfinite``), so the solver raises its
        non-finite error (a ``FloatingPointError``) after the first epoch. Then, when ``X`` does hold
        such a value, the estimator is put back as it was before the call and scikit-learn's own
        check raises the error ``validate_data`` would have; a finite ``X`` that diverged keeps the
        solver's error (it says to scale the features).
        """
        before = dict(self.__dict__)
        try:
            return self._fit(X, y, **fit_options)
        except FloatingPointError as diverged:
            try:  # X as the caller gave it (a frame, a list): converted as validate_data converted it
                check_array(X, accept_sparse="csr", dtype=accepted_dtypes(X), estimator=self, input_name="X")
            except ValueError as invalid:
                # _fit_objective has put back a copy of the optimizer state taken before the epoch (the
                # solver advanced the one `before` refers to in place); everything else as it was
                state = self.__dict__.get("_sgd_state")
                self.__dict__.clear()
                self.__dict__.update(before)
                if "_sgd_state" in before:
                    self._sgd_state = state
                raise invalid from None
            raise diverged

    def _fit_data(self, X, target, sample_weight, coef_init, intercept_init, *, partial, stratify,
                  zero_intercept):
        """Weights, the early-stopping split (``stratify``: the labels, or None), objective and fit."""
        sample_weight = prepare_sample_weight(sample_weight, X)
        self._dtype = X.dtype
        validation = None
        if self.early_stopping and not partial:
            mask = self._validation_split(len(target), stratify, sample_weight)
            X_val, target_val, weight_val = X[mask], target[mask], sample_weight[mask]
            # no epoch reads the validation rows: their finiteness is checked here
            assert_all_finite(X_val, estimator_name=type(self).__name__, input_name="X")
            n_features = X.shape[1]

            def validation(params):
                matrix = params.reshape(n_features + self.fit_intercept, -1)
                raw = np.asarray(X_val @ matrix[:n_features])
                return self._validation_score(raw + matrix[n_features] if self.fit_intercept else raw,
                                              target_val, weight_val)

            X, target, sample_weight = X[~mask], target[~mask], sample_weight[~mask]
        objective = self._build_objective(X, target, sample_weight)
        return self._fit_objective(objective, coef_init, intercept_init, partial=partial, validation=validation,
                                   zero_intercept=zero_intercept)

    def _validation_split(self, n_samples, stratify, sample_weight):
        """Boolean mask of the validation rows: scikit-learn's (stratified for classifiers) split."""
        splitter = (ShuffleSplit if stratify is None else StratifiedShuffleSplit)(
            test_size=self.validation_fraction, random_state=self.random_state)
        train, validation = next(splitter.split(np.zeros((n_samples, 1)), stratify))
        if len(train) == 0 or len(validation) == 0:
            raise ValueError(f"Splitting {n_samples} samples into a train set and a validation set with "
                             f"validation_fraction={self.validation_fraction!r} led to an empty set. Please "
                             f"either change validation_fraction, increase number of samples, or disable "
                             f"early_stopping.")
        if not np.any(sample_weight[validation] > 0):
            raise ValueError("The sample weights for validation set are all zero, consider using a different "
                             "random state.")
        mask = np.zeros(n_samples, dtype=bool)
        mask[validation] = True
        return mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_EXTRAS_DOC = """
    optimizer : {"sgd", "momentum", "nesterov", "adam", "adamw"}, default="sgd"
        fastml extra. ``"sgd"`` is scikit-learn's update; the others use ``learning_rate`` /
        ``eta0`` as their step size (``"optimal"`` then means ``"constant"``), L1 as a proximal step,
        and AdamW applies the L2 part as decoupled weight decay.
    batch_size : int, default=1
        fastml extra: rows per step (1 is scikit-learn's per-sample SGD).
    momentum : float, default=0.9
        fastml extra: momentum of the "momentum" and "nesterov" optimizers.
    callbacks : list of callables or None
        fastml extra: each is called with an ``IterationInfo`` after every epoch; returning True stops.
"""

_ATTRIBUTES_DOC = """
    n_iter_ : int
        Epochs run (the largest over the one-vs-all models).
    t_ : float
        ``1 +`` the number of optimizer steps so far (scikit-learn's ``t_`` for ``batch_size=1``).
    n_features_in_, feature_names_in_
        As in scikit-learn.
    loss_function_ : fastml.Loss
        The loss's metadata (formula id, shape parameter).
    loss_curve_ : ndarray
        Per epoch, scikit-learn's running objective: the mean loss seen during the epoch plus the
        penalty of the epoch's final weights (summed over one-vs-all models); partial_fit appends.
    solver_info_ : dict
        Optimizer, trace (epoch, seconds, objective, step size), timings, convergence, steps.
"""


class SGDClassifier(LinearClassifierPredictMixin, _BaseSGD, ClassifierMixin, BaseEstimator):
    __doc__ = """Linear classifiers (SVM, logistic regression, ...) fitted by SGD, a drop-in for scikit-learn's.

    Two classes give one binary model; K > 2 classes give K one-vs-all models, fitted in one batched
    solver run (each pass over a row updates the K columns). See the module docstring for the
    objective and for the differences from scikit-learn.

    Parameters
    ----------
    loss : {"hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron", "squared_error",
            "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}, default="hinge"
        Margin losses see the classes as 0/1, regression losses as -1/+1 targets.
    penalty, alpha, l1_ratio, fit_intercept, max_iter, tol, shuffle, verbose, epsilon
        As in scikit-learn (``verbose > 0`` shows a tqdm progress bar over epochs).
    n_jobs : int or None
        Threads of the objective evaluations; the epochs themselves are serial (bitwise reproducible).
    random_state, learning_rate, eta0, power_t, early_stopping, validation_fraction,
    n_iter_no_change, class_weight, warm_start, average
        As in scikit-learn (``learning_rate`` "pa1"/"pa2" are not implemented).
""" + _EXTRAS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        In the dtype of the training ``X`` (float32 stays float32).
    intercept_ : ndarray of shape (1,) or (n_classes,)
""" + _ATTRIBUTES_DOC

    def __init__(self, loss="hinge", *, penalty="l2", alpha=0.0001, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, shuffle=True, verbose=0, epsilon=0.1, n_jobs=None, random_state=None,
                 learning_rate="optimal", eta0=0.01, power_t=0.5, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, class_weight=None, warm_start=False, average=False, optimizer="sgd",
                 batch_size=1, momentum=0.9, callbacks=None):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.momentum = momentum
        self.callbacks = callbacks

    # -- data ------------------------------------------------------------------------------------
    def _encode_target(self, y):
        """Class labels -> class indices (float64); unknown labels are an error."""
        return encode_labels(self.classes_, y)

    def _build_objective(self, X, y_encoded, sample_weight):
        """One 0/1 (or -1/+1) target column per binary model; class weights as scikit-learn's OvA."""
        indices = y_encoded.astype(np.intp)
        n_classes = len(self.classes_)
        negative = 0.0 if self.loss in MARGIN_LOSSES else -1.0
        class_weight = self._class_weights
        if n_classes == 2:
            columns = np.where(indices == 1, 1.0, negative)[:, None]
            weights = sample_weight * class_weight[indices]
        else:
            positive = indices[:, None] == np.arange(n_classes)
            columns = np.where(positive, 1.0, negative)
            # one-vs-all as scikit-learn: the positives of model k carry class_weight[k], the rest 1
            weights = (sample_weight if np.all(class_weight == 1.0)
                       else sample_weight[:, None] * np.where(positive, class_weight, 1.0))
        return self._make_objective(X, columns, weights)

    def _set_coef(self, coef, intercept):
        dtype = self._dtype
        self.coef_ = np.empty(coef.shape[::-1], dtype=dtype)
        transposed_copy(coef, self.coef_)  # numpy's transposing copy: 4-19 ms for 10 x 2^18
        self.intercept_ = np.asarray(intercept, dtype=dtype).reshape(-1)

    def _solver_coef(self):
        return self.coef_.T.astype(np.float64), np.asarray(self.intercept_, dtype=np.float64)

    @staticmethod
    def _validation_score(raw, y_indices, sample_weight):
        """Weighted accuracy of the combined classifier (scikit-learn's ``score``) from raw scores."""
        predicted = (raw[:, 0] > 0).astype(np.intp) if raw.shape[1] == 1 else raw.argmax(axis=1)
        return float(np.average(predicted == y_indices, weights=sample_weight))

    # -- fit -------------------------------------------------------------------------------------
    def _fit(self, X, y, *, classes, sample_weight, coef_init, intercept_init, partial):
        first_call = not (partial and hasattr(self, "classes_"))
        # as scikit-learn: partial_fit checks early_stopping only on its first call
        self._check_params(MARGIN_LOSSES + REGRESSION_LOSSES, for_partial_fit=partial and first_call)
        if partial and first_call and self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit. In order to use "
                             "'balanced' weights, use compute_class_weight('balanced', classes=classes, y=y) "
                             "and pass the resulting weights as the class_weight parameter.")
        X, y = self._validate(X, y, reset=first_call, y_numeric=False)
        observed = fit_classes(y)  # with scikit-learn's check of the target
        if first_call:
            if partial:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_ = observed
        elif classes is not None and not np.array_equal(self.classes_, np.unique(np.asarray(classes))):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{self.classes_!r}")
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {len(self.classes_)} class")
        if self.class_weight is None:  # scikit-learn's check, from the labels already counted (no np.unique of y)
            if not labels_among(observed, self.classes_):
                raise ValueError("classes should include all valid labels that can be in y")
            self._class_weights = np.ones(len(self.classes_))
        else:
            self._class_weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return self._fit_data(X, self._encode_target(y), sample_weight, coef_init, intercept_init, partial=partial,
                              stratify=y, zero_intercept=True)

    @one_blas_thread_in_fit
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit with ``max_iter`` epochs of SGD (fewer when the stopping rule is met).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : ndarray of shape (n_classes, n_features), optional
        intercept_init : ndarray of shape (n_classes,), optional
        sample_weight : array-like of shape (n_samples,), optional
            Multiplies each sample's loss (and ``class_weight``); integer k == k copies of the row.
        """
        return self._fit_with_fingerprint(X, y, classes=None, sample_weight=sample_weight, coef_init=coef_init,
                                          intercept_init=intercept_init, partial=False)

    @one_blas_thread_in_fit
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, continuing exactly where the last fit or partial_fit stopped.

        The optimizer state (weights, moments, step count of the schedule, averaged weights, pending
        L1 penalty) is kept between calls, so ``partial_fit`` twice on the same data equals ``fit``
        with ``max_iter=2`` (same ``random_state``). ``classes`` is required on the first call. A call
        whose epoch diverges raises and leaves the model (coefficients and state) as it was.
        """
        first_call = not hasattr(self, "classes_")
        self._fit_settling_finiteness(X, y, classes=classes, sample_weight=sample_weight, coef_init=None,
                                      intercept_init=None, partial=True)
        return record_fingerprint(self, X) if first_call else self

    # -- predict ---------------------------------------------------------------------------------
    def decision_function(self, X):
        """Signed scores: (n_samples,) for two classes, (n_samples, n_classes) otherwise."""
        check_is_fitted(self)
        scores = linear_scores(self, X, self.coef_, self.intercept_)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def _check_proba(self):
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return True

    @available_if(_check_proba)
    def predict_proba(self, X):
        """Probabilities as scikit-learn's: the sigmoid (log_loss) or ``(clip(score, -1, 1) + 1) / 2``
        (modified_huber) of each binary model, normalized over the one-vs-all models."""
        scores = self.decision_function(X)
        if self.loss == "log_loss" and scores.ndim == 1:
            return class_probabilities(scores)  # LogisticRegression's: both classes from exp(-|s|), one pass
        if self.loss == "log_loss":
            probability = expit(scores)
        else:
            probability = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if probability.ndim == 1:
            return np.column_stack([1.0 - probability, probability])
        total = probability.sum(axis=1)
        all_zero = total == 0
        if np.any(all_zero):  # modified_huber can give every class 0: uniform, as scikit-learn
            probability[all_zero] = 1.0
            total[all_zero] = probability.shape[1]
        return probability / total[:, None]

    @available_if(_check_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))``; for a binary log-loss model formed from the scores (as
        ``LogisticRegression``'s), finite where the probability underflows."""
        if self.loss == "log_loss" and len(self.classes_) == 2:
            return class_probabilities(self.decision_function(X), log=True)
        return np.log(self.predict_proba(X))


class SGDRegressor(RegressorMixin, _BaseSGD, BaseEstimator):
    __doc__ = """Linear regression fitted by SGD, a drop-in for scikit-learn's SGDRegressor.

    See the module docstring for the objective and for the differences from scikit-learn.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}
    penalty, alpha, l1_ratio, fit_intercept, max_iter, tol, shuffle, verbose, epsilon,
    random_state, learning_rate, eta0, power_t, early_stopping, validation_fraction,
    n_iter_no_change, warm_start, average
        As in scikit-learn (``learning_rate`` "pa1"/"pa2" are not implemented).
""" + _EXTRAS_DOC + """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        In the dtype of the training ``X`` (float32 stays float32).
    intercept_ : ndarray of shape (1,)
""" + _ATTRIBUTES_DOC

    def __init__(self, loss="squared_error", *, penalty="l2", alpha=0.0001, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, shuffle=True, verbose=0, epsilon=0.1, random_state=None,
                 learning_rate="invscaling", eta0=0.01, power_t=0.25, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=5, warm_start=False, average=False, optimizer="sgd", batch_size=1, momentum=0.9,
                 callbacks=None):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.momentum = momentum
        self.callbacks = callbacks

    def _encode_target(self, y):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D for SGDRegressor, got shape {y.shape}")
        return y

    def _build_objective(self, X, y, sample_weight):
        return self._make_objective(X, y, sample_weight)

    def _set_coef(self, coef, intercept):
        self.coef_ = np.ascontiguousarray(coef[:, 0], dtype=self._dtype)
        self.intercept_ = np.asarray(intercept, dtype=self._dtype).reshape(1)

    def _solver_coef(self):
        return self.coef_[:, None].astype(np.float64), np.asarray(self.intercept_, dtype=np.float64)

    @staticmethod
    def _validation_score(raw, y, sample_weight):
        """Weighted R^2 (scikit-learn's ``score``) from raw predictions."""
        from sklearn.metrics import r2_score

        return float(r2_score(y, raw[:, 0], sample_weight=sample_weight))

    def _fit(self, X, y, *, sample_weight, coef_init, intercept_init, partial):
        first_call = not (partial and hasattr(self, "coef_"))
        self._check_params(REGRESSION_LOSSES, for_partial_fit=partial and first_call)
        X, y = self._validate(X, y, reset=first_call, y_numeric=True)
        return self._fit_data(X, self._encode_target(y), sample_weight, coef_init, intercept_init, partial=partial, stratify=None,
                              zero_intercept=False)

    @one_blas_thread_in_fit
    def fit(self, X, y, coef_init=None, intercept_init=None, sample_weight=None):
        """Fit with ``max_iter`` epochs of SGD (fewer when the stopping rule is met).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : ndarray of shape (n_features,), optional
        intercept_init : ndarray of shape (1,), optional
        sample_weight : array-like of shape (n_samples,), optional
            Multiplies each sample's loss; integer k == k copies of the row.
        """
        return self._fit_with_fingerprint(X, y, sample_weight=sample_weight, coef_init=coef_init,
                                          intercept_init=intercept_init, partial=False)

    @one_blas_thread_in_fit
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing exactly where the last fit or partial_fit stopped."""
        first_call = not hasattr(self, "coef_")
        self._fit_settling_finiteness(X, y, sample_weight=sample_weight, coef_init=None, intercept_init=None,
                                      partial=True)
        return record_fingerprint(self, X) if first_call else self

    def predict(self, X):
        """``X @ coef_ + intercept_`` in the dtype of ``X``."""
        check_is_fitted(self)
        return linear_scores(self, X, self.coef_[None, :], self.intercept_).ravel()


__all__ = ["SGDClassifier", "SGDRegressor"]
