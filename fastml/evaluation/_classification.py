"""Classification metrics, per-class table, confusion matrix and calibration summary.

Every number comes from ``sklearn.metrics`` / ``sklearn.calibration`` called on a
:class:`~fastml.evaluation._predictions.Predictions`; this module only chooses the arguments
(``labels``, ``pos_label``, ``average``) and turns results into plain Python values.
Conventions: two classes -> the positive class is ``classes[1]``; more -> precision/recall/F1 macro and
weighted, ROC AUC and PR AUC one-vs-rest macro.
"""
import warnings

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             brier_score_loss, confusion_matrix, f1_score, log_loss,
                             precision_recall_fscore_support, precision_score, recall_score, roc_auc_score)
from sklearn.preprocessing import label_binarize

N_CALIBRATION_BINS = 10


def to_python(value):
    """numpy scalar -> Python scalar (labels and metric values must survive ``json.dumps``)."""
    return value.item() if isinstance(value, np.generic) else value


def safe_metric(function, *args, **kwargs):
    """``function(*args, **kwargs)`` as a float, NaN where the metric is undefined on these rows.

    A slice or fold holding a single class has no ROC AUC; that is a fact about the slice, not an error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(function(*args, **kwargs))
        except ValueError:
            return float("nan")


def _binarized(pred):
    return label_binarize(pred.y_true, classes=pred.classes)


def classification_metrics(pred):
    """Scalar metrics of a classifier's predictions, as a ``{name: float}`` dict (NaN = undefined)."""
    y, y_pred, w, classes = pred.y_true, pred.y_pred, pred.sample_weight, pred.classes
    metrics = {"accuracy": safe_metric(accuracy_score, y, y_pred, sample_weight=w),
               "balanced_accuracy": safe_metric(balanced_accuracy_score, y, y_pred, sample_weight=w)}
    if pred.is_binary:
        positive = classes[1]
        for name, function in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
            metrics[name] = safe_metric(function, y, y_pred, pos_label=positive, sample_weight=w,
                                        zero_division=0.0)
    else:
        for average in ("macro", "weighted"):
            for name, function in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
                metrics[f"{name}_{average}"] = safe_metric(function, y, y_pred, labels=classes, average=average,
                                                           sample_weight=w, zero_division=0.0)
    score = pred.ranking_score()
    if score is not None:
        if pred.is_binary:
            is_positive = (y == classes[1]).astype(int)
            metrics["roc_auc"] = safe_metric(roc_auc_score, is_positive, score, sample_weight=w)
            metrics["pr_auc"] = safe_metric(average_precision_score, is_positive, score, sample_weight=w)
        else:  # one-vs-rest, macro: the same as roc_auc_score(y, proba, multi_class="ovr")
            indicator = _binarized(pred)
            metrics["roc_auc"] = safe_metric(roc_auc_score, indicator, score, average="macro", sample_weight=w)
            metrics["pr_auc"] = safe_metric(average_precision_score, indicator, score, average="macro",
                                            sample_weight=w)
    if pred.proba is not None:
        metrics["log_loss"] = safe_metric(log_loss, y, pred.proba, labels=classes, sample_weight=w)
        metrics["brier_score"] = brier_score(pred)
        calibration = calibration_summary(pred)
        metrics["ece"] = calibration["ece"] if calibration else float("nan")
    return metrics


def brier_score(pred):
    if pred.is_binary:
        return safe_metric(brier_score_loss, (pred.y_true == pred.classes[1]).astype(int), pred.proba[:, 1],
                           sample_weight=pred.sample_weight)
    return safe_metric(brier_score_loss, pred.y_true, pred.proba, labels=pred.classes,
                       sample_weight=pred.sample_weight)


def per_class_table(pred):
    """One dict per class: precision, recall, F1 and support (weighted support with sample weights)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = precision_recall_fscore_support(
            pred.y_true, pred.y_pred, labels=pred.classes, average=None, sample_weight=pred.sample_weight,
            zero_division=0.0)
    return [{"class": to_python(label), "precision": float(p), "recall": float(r), "f1": float(f),
             "support": to_python(s)}
            for label, p, r, f, s in zip(pred.classes, precision, recall, f1, support)]


def confusion(pred):
    """Confusion matrix: rows are true classes, columns predicted classes, both in ``classes`` order."""
    matrix = confusion_matrix(pred.y_true, pred.y_pred, labels=pred.classes, sample_weight=pred.sample_weight)
    return {"labels": [to_python(c) for c in pred.classes], "matrix": matrix.tolist()}


def calibration_summary(pred, n_bins=N_CALIBRATION_BINS):
    """Reliability bins, Brier score and expected / maximum calibration error.

    Two classes: the probability of the positive class against its observed frequency. More classes:
    top-label calibration (the probability of the predicted class against accuracy), the usual
    multiclass reading. Bins are ``calibration_curve``'s uniform bins; ECE weighs each bin's gap
    ``|fraction_positive - mean_predicted|`` by its share of rows (unweighted, as calibration_curve is).
    Returns None when the model gives no probabilities.
    """
    if pred.proba is None:
        return None
    if pred.is_binary:
        outcome, probability, kind = (pred.y_true == pred.classes[1]), pred.proba[:, 1], "positive class"
    else:
        top = np.argmax(pred.proba, axis=1)
        outcome, probability = (pred.classes[top] == pred.y_true), pred.proba[np.arange(top.size), top]
        kind = "top label"
    outcome = outcome.astype(int)
    probability = np.clip(probability, 0.0, 1.0)
    fraction_positive, mean_predicted = calibration_curve(outcome, probability, n_bins=n_bins, strategy="uniform")
    # Row counts of the non-empty bins, binned exactly as calibration_curve bins them.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts_all = np.bincount(np.searchsorted(edges[1:-1], probability), minlength=n_bins)
    non_empty = np.flatnonzero(counts_all)
    counts = counts_all[non_empty]
    gaps = np.abs(fraction_positive - mean_predicted)
    bins = [{"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": int(c),
             "mean_predicted": float(mp), "fraction_positive": float(fp)}
            for b, c, mp, fp in zip(non_empty, counts, mean_predicted, fraction_positive)]
    return {"kind": kind, "n_bins": n_bins, "bins": bins, "brier_score": brier_score(pred),
            "ece": float(np.sum(counts / counts.sum() * gaps)), "mce": float(gaps.max())}


def classification_row_loss(pred):
    """Per-row loss used to rank the worst rows.

    With probabilities: the row's log-loss ``-log p(true class)`` clipped as ``log_loss`` clips. With
    decision scores only: the margin by which the true class loses (``max other score - true score``;
    for two classes, minus the signed margin), so misclassified rows come first.
    """
    true_column = np.searchsorted(pred.classes, pred.y_true)
    rows = np.arange(pred.n_samples)
    if pred.proba is not None:
        eps = np.finfo(pred.proba.dtype).eps
        return -np.log(np.clip(pred.proba[rows, true_column], eps, 1.0))
    if pred.decision is None:  # labels only: 0/1 loss
        return (pred.y_pred != pred.y_true).astype(np.float64)
    if pred.decision.ndim == 1:
        return np.where(true_column == 1, -pred.decision, pred.decision)
    true_score = pred.decision[rows, true_column]
    others = pred.decision.copy()
    others[rows, true_column] = -np.inf
    return others.max(axis=1) - true_score


def classification_row_score(pred):
    """Score shown next to a worst row: the probability (or decision score) given to the true class."""
    true_column = np.searchsorted(pred.classes, pred.y_true)
    rows = np.arange(pred.n_samples)
    if pred.proba is not None:
        return pred.proba[rows, true_column]
    if pred.decision is None:
        return np.full(pred.n_samples, np.nan)
    if pred.decision.ndim == 1:
        return np.where(true_column == 1, pred.decision, -pred.decision)
    return pred.decision[rows, true_column]
