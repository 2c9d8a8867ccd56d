"""``fastml.evaluate`` and ``fastml.evaluation.tune_threshold``: validate, predict once, build the report."""
import numbers

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.validation import _check_sample_weight, _num_samples, check_is_fitted, column_or_1d

from ._classification import calibration_summary, confusion, per_class_table, to_python
from ._cross_validation import cross_validate_predictions
from ._error_analysis import metrics_for, slice_labels, slice_metrics, worst_rows
from ._predictions import CLASSIFICATION, REGRESSION, predict_classifier, predict_regressor
from ._regression import residual_summary
from ._report import ClassificationReport, RegressionReport
from ._threshold import parse_target, threshold_for_target


def _final_step(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _model_name(model):
    if hasattr(model, "steps"):
        return "Pipeline(" + " -> ".join(type(step).__name__ for _, step in model.steps) + ")"
    return type(model).__name__


def _task_of(model):
    """Classification when the model is a classifier (tags, or ``classes_`` plus a score method)."""
    if not hasattr(model, "predict"):
        raise TypeError(f"model must have a predict method, got {type(model).__name__}")
    if is_classifier(model):
        return CLASSIFICATION
    if is_regressor(model):
        return REGRESSION
    has_scores = hasattr(model, "predict_proba") or hasattr(model, "decision_function")
    return CLASSIFICATION if has_scores and hasattr(model, "classes_") else REGRESSION


def _check_inputs(model, X, y, sample_weight, task):
    n_samples = _num_samples(X)
    y = column_or_1d(y, warn=True) if task == CLASSIFICATION else np.asarray(y)
    if task == REGRESSION and y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D for a regressor, got shape {y.shape}")
    if task == REGRESSION:
        # every metric of a target with NaN or infinity was None, silently
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric for a regressor: {exc}") from None
        bad = ~np.isfinite(y)
        if bad.any():
            raise ValueError(f"y contains NaN or infinity ({int(bad.sum())} values, first at row "
                             f"{int(np.argwhere(bad)[0][0])}): a regressor's metrics need finite targets")
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} rows but X has {n_samples}; they must match")
    if n_samples == 0:
        raise ValueError("X and y are empty: nothing to evaluate")
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, np.empty((n_samples, 0)), dtype=np.float64,
                                             ensure_non_negative=True)
    return y, sample_weight


def _row_index(X, n_samples):
    index = getattr(X, "index", None)
    return np.asarray(index, dtype=object) if index is not None and len(index) == n_samples else np.arange(n_samples)


def _predict(model, X, y, task, sample_weight, index):
    if task == CLASSIFICATION:
        return predict_classifier(model, X, y, sample_weight, index)
    return predict_regressor(model, X, y, sample_weight, index)


def evaluate(model, X, y, *, cv=None, sample_weight=None, groups=None, slice_by=None, worst=10,
             threshold_for=None):
    """Evaluate a fitted model (or cross-validate an estimator) and return a report.

    Parameters
    ----------
    model : estimator or Pipeline
        A classifier (``classes_`` plus ``predict_proba`` or ``decision_function``) or a regressor. Must
        be fitted when ``cv`` is None; with ``cv`` it is only a template, cloned and fitted per fold.
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs) for regressors
    cv : int, cross-validation splitter or iterable of (train, test), default=None
        Cross-validate instead of scoring the fitted model: per-fold metrics with mean and std
        (``check_cv``: stratified K-fold for classifiers). With K-fold-like splitters the headline
        metrics, worst rows, slices and threshold use out-of-fold predictions.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights every metric (and the per-fold fits under ``cv``).
    groups : array-like of shape (n_samples,), default=None
        Group labels for group splitters under ``cv``.
    slice_by : str or array-like, default=None
        A column name of DataFrame ``X``, or one slice label per row: metrics per slice.
    worst : int, default=10
        How many worst-predicted rows to list (largest per-row loss).
    threshold_for : dict, default=None
        ``{"precision": p}`` or ``{"recall": r}``: tune a binary classifier's decision threshold
        (see :func:`tune_threshold`).

    Returns
    -------
    ClassificationReport or RegressionReport

    Raises
    ------
    sklearn.exceptions.NotFittedError
        ``model`` is not fitted and ``cv`` is None.
    ValueError
        Mismatched lengths, unknown slice column, bad threshold target, labels unseen by the model.
    """
    task = _task_of(model)
    y, sample_weight = _check_inputs(model, X, y, sample_weight, task)
    n_samples = len(y)
    if isinstance(worst, bool) or not isinstance(worst, numbers.Integral) or worst < 0:
        raise ValueError(f"worst must be a non-negative integer, got {worst!r}")
    target = None
    if threshold_for is not None:
        if task != CLASSIFICATION:
            raise ValueError("threshold_for applies to binary classifiers; this model is a regressor")
        if not isinstance(threshold_for, dict) or set(threshold_for) - {"precision", "recall"}:
            raise ValueError(f"threshold_for must be {{'precision': p}} or {{'recall': r}}, got {threshold_for!r}")
        target = parse_target(threshold_for.get("precision"), threshold_for.get("recall"))
    slicing = None if slice_by is None else slice_labels(slice_by, X, n_samples)
    index = _row_index(X, n_samples)

    cv_section = None
    if cv is None:
        check_is_fitted(model)
        pred = _predict(model, X, y, task, sample_weight, index)
        evaluated_on = "given data"
    else:
        folds, summary, pred = cross_validate_predictions(model, X, y, cv=cv, task=task,
                                                          sample_weight=sample_weight, groups=groups, index=index)
        cv_section = {"splitter": summary["splitter"], "folds": folds, "mean": summary["mean"], "std": summary["std"]}
        evaluated_on = "out-of-fold predictions" if pred is not None else "mean over folds"

    if pred is not None:
        metrics = metrics_for(pred)
    else:  # overlapping or partial test folds: no single prediction per row
        metrics = {k: v for k, v in cv_section["mean"].items() if k != "fit_time"}
    if pred is not None and target is not None and not pred.is_binary:
        raise ValueError(f"threshold_for needs a binary classifier; the model has {len(pred.classes)} classes")

    final = _final_step(model)
    loss_curve = getattr(final, "loss_curve_", None) if cv is None else None
    common = dict(model_name=_model_name(model), n_samples=n_samples, evaluated_on=evaluated_on, metrics=metrics,
                  worst=worst_rows(pred, worst) if pred is not None else [],
                  slices=None if slicing is None or pred is None
                  else {"by": slicing[0], "slices": slice_metrics(pred, slicing[1], slicing[2])},
                  threshold=None if target is None or pred is None else threshold_for_target(pred, *target),
                  cv=cv_section, loss_curve=None if loss_curve is None else np.asarray(loss_curve, dtype=float),
                  predictions=pred)
    if task == CLASSIFICATION:
        classes = pred.classes if pred is not None else np.unique(y)
        return ClassificationReport(classes=[to_python(c) for c in classes],
                                    per_class=per_class_table(pred) if pred is not None else None,
                                    confusion_matrix=confusion(pred) if pred is not None else None,
                                    calibration=calibration_summary(pred) if pred is not None else None, **common)
    return RegressionReport(residuals=residual_summary(pred) if pred is not None else None, **common)


def tune_threshold(model, X, y, *, target_precision=None, target_recall=None, sample_weight=None):
    """Decision threshold of a fitted binary classifier reaching a target precision or recall.

    ``target_precision=p``: the threshold with the highest recall among those with precision >= p.
    ``target_recall=r``: the threshold with the highest precision among those with recall >= r.
    Thresholds apply to ``predict_proba(X)[:, 1]`` (else ``decision_function(X)``): a row is
    predicted ``classes_[1]`` when its score is ``>= threshold``. Computed with
    ``sklearn.metrics.precision_recall_curve``; tune on data the model was not fitted on.

    Parameters
    ----------
    model : fitted binary classifier or Pipeline
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    target_precision, target_recall : float in (0, 1]
        Exactly one of them.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    ThresholdResult
        ``threshold``, achieved ``precision`` and ``recall``, ``reached`` (False when no threshold
        reaches the target: then the closest one) and ``predict(model, X)``.
    """
    target = parse_target(target_precision, target_recall)
    if _task_of(model) != CLASSIFICATION:
        raise ValueError("tune_threshold needs a binary classifier; this model is a regressor")
    y, sample_weight = _check_inputs(model, X, y, sample_weight, CLASSIFICATION)
    check_is_fitted(model)
    pred = predict_classifier(model, X, y, sample_weight, np.arange(len(y)))
    return threshold_for_target(pred, *target)
