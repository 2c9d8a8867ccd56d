"""What a model says about each row: labels, probabilities or decision scores, aligned with the truth.

Every section of a report (metrics, folds, slices, worst rows, threshold) reads one
:class:`Predictions` object, so a metric computed on a slice or a fold sees exactly the numbers the
headline metric saw. Predicting happens once per model; subsets are cheap views (``take``).
"""
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass
class Predictions:
    """Truth and predictions for ``n_samples`` rows.

    Attributes
    ----------
    task : {"classification", "regression"}
    y_true, y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
    proba : ndarray of shape (n_samples, n_classes) or None
        Class probabilities, columns in ``classes`` order (``predict_proba``).
    decision : ndarray of shape (n_samples,) or (n_samples, n_classes) or None
        ``decision_function`` scores: 1-D for two classes (positive class ``classes[1]``).
    classes : ndarray or None
        The label set every classification metric uses (``labels=classes``).
    sample_weight : ndarray of shape (n_samples,) or None
    index : ndarray of shape (n_samples,)
        Row labels shown in error analysis: the DataFrame index of ``X``, else positions.
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray = None
    decision: np.ndarray = None
    classes: np.ndarray = None
    sample_weight: np.ndarray = None
    index: np.ndarray = None

    def __post_init__(self):
        if self.index is None:
            self.index = np.arange(len(self.y_true))

    @property
    def n_samples(self):
        return len(self.y_true)

    @property
    def is_binary(self):
        return self.task == CLASSIFICATION and len(self.classes) == 2

    @property
    def score_kind(self):
        """Which model output ranks the rows: ``"predict_proba"`` when available, else the decision function."""
        if self.proba is not None:
            return "predict_proba"
        return "decision_function" if self.decision is not None else None

    def ranking_score(self):
        """Positive-class score (n_samples,) for two classes, else per-class scores (n_samples, n_classes)."""
        if self.proba is not None:
            return self.proba[:, 1] if self.is_binary else self.proba
        return self.decision

    def take(self, rows):
        """The same predictions restricted to ``rows`` (integer positions or a boolean mask)."""
        pick = (lambda a: None if a is None else a[rows])
        return Predictions(self.task, self.y_true[rows], self.y_pred[rows], pick(self.proba),
                           pick(self.decision), self.classes, pick(self.sample_weight), self.index[rows])


def _align_columns(scores, model_classes, classes, fill):
    """Reorder per-class score columns from ``model_classes`` to ``classes``; absent classes get ``fill``."""
    if np.array_equal(model_classes, classes):
        return scores
    aligned = np.full((scores.shape[0], len(classes)), fill, dtype=np.float64)
    aligned[:, np.searchsorted(classes, model_classes)] = scores
    return aligned


def predict_classifier(model, X, y, sample_weight, index, classes=None):
    """Run ``predict`` and ``predict_proba``/``decision_function`` once; align columns with ``classes``.

    ``classes`` defaults to the model's ``classes_``; cross-validation passes the labels of the full
    ``y`` so that a fold model that saw fewer classes still fills every column.
    """
    model_classes = np.asarray(model.classes_)
    classes = model_classes if classes is None else np.asarray(classes)
    unseen = np.setdiff1d(np.unique(y), classes)
    if unseen.size:
        raise ValueError(f"y contains labels the model was not fitted on: {unseen[:5].tolist()}; "
                         f"model classes are {classes.tolist()}")
    proba = decision = None
    if hasattr(model, "predict_proba"):
        proba = _align_columns(np.asarray(model.predict_proba(X), dtype=np.float64), model_classes, classes, 0.0)
    if hasattr(model, "decision_function"):
        decision = np.asarray(model.decision_function(X), dtype=np.float64)
        if decision.ndim == 2 and decision.shape[1] > 1:
            decision = _align_columns(decision, model_classes, classes, -np.finfo(np.float64).max)
        elif len(classes) > 2:  # a binary fold model inside a multiclass problem: no per-class scores
            decision = None
        else:
            decision = decision.ravel()
    y_pred = np.asarray(model.predict(X))
    return Predictions(CLASSIFICATION, np.asarray(y), y_pred, proba, decision, classes, sample_weight, index)


def predict_regressor(model, X, y, sample_weight, index):
    y_pred = np.asarray(model.predict(X), dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1 and y_pred.ndim == 1:
        y = y.ravel()
    return Predictions(REGRESSION, y, y_pred.reshape(y.shape), sample_weight=sample_weight, index=index)


def concatenate(parts, order):
    """Out-of-fold predictions: stack fold ``parts`` and put rows back in their original ``order``."""
    positions = np.argsort(np.concatenate(order), kind="stable")
    stack = (lambda name: None if getattr(parts[0], name) is None
             else np.concatenate([getattr(p, name) for p in parts])[positions])
    first = parts[0]
    return Predictions(first.task, stack("y_true"), stack("y_pred"), stack("proba"), stack("decision"),
                       first.classes, stack("sample_weight"), stack("index"))
