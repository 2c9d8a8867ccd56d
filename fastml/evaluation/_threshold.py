"""Decision-threshold tuning for a target precision or recall (the spam use case).

Given a binary classifier's positive-class score (``predict_proba[:, 1]``, else ``decision_function``),
``precision_recall_curve`` lists precision and recall at every distinct score used as a threshold
(a row is flagged positive when ``score >= threshold``). Among the thresholds that reach the target,
we keep the one that is best on the other metric:

* ``target_precision=p``: the highest recall with precision >= p (ties: higher precision, then higher
  threshold);
* ``target_recall=r``: the highest precision with recall >= r (ties: higher recall, then higher threshold).

When no threshold reaches the target, the result says so (``reached=False``) and holds the threshold
that comes closest (the best value of the targeted metric).
"""
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve

from ._classification import to_python


@dataclass(frozen=True)
class ThresholdResult:
    """A tuned decision threshold and what it achieves on the data it was tuned on.

    Attributes
    ----------
    threshold : float
        Flag a row positive when its score is ``>= threshold``.
    precision, recall : float
        Achieved at ``threshold``.
    target_metric : {"precision", "recall"}
    target : float
    reached : bool
        Whether ``target_metric >= target`` at ``threshold``.
    score_kind : {"predict_proba", "decision_function"}
        The model output the threshold applies to.
    positive_class : object
    """

    threshold: float
    precision: float
    recall: float
    target_metric: str
    target: float
    reached: bool
    score_kind: str
    positive_class: object

    def to_dict(self):
        return {key: to_python(value) for key, value in asdict(self).items()}

    def predict(self, model, X):
        """Labels of ``model`` on ``X`` with this threshold in place of the default one."""
        classes = np.asarray(model.classes_)
        if self.score_kind == "predict_proba":
            score = np.asarray(model.predict_proba(X))[:, 1]
        else:
            score = np.asarray(model.decision_function(X)).ravel()
        return classes[(score >= self.threshold).astype(int)]

    def __str__(self):
        status = "reached" if self.reached else "NOT reached"
        return (f"threshold {self.threshold:.6g} on {self.score_kind} (positive class {self.positive_class!r}): "
                f"precision {self.precision:.4f}, recall {self.recall:.4f} "
                f"(target {self.target_metric} >= {self.target:g} {status})")


def parse_target(target_precision=None, target_recall=None):
    """Check that exactly one target is given, in (0, 1]; return ``(metric_name, value)``."""
    given = {name: value for name, value in (("precision", target_precision), ("recall", target_recall))
             if value is not None}
    if len(given) != 1:
        raise ValueError("give exactly one of target_precision or target_recall")
    (name, value), = given.items()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"target_{name} must be a real number, got {value!r}")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"target_{name} must be in (0, 1], got {value!r}")
    return name, float(value)


def threshold_for_target(pred, target_metric, target):
    """Tune the threshold on a binary :class:`Predictions`; see the module docstring for the rule."""
    if not pred.is_binary:
        raise ValueError(f"threshold tuning needs a binary classifier; the model has {len(pred.classes)} classes")
    score = pred.ranking_score()
    if score is None:
        raise ValueError("threshold tuning needs predict_proba or decision_function")
    positive = pred.classes[1]
    precision, recall, thresholds = precision_recall_curve(pred.y_true, score, pos_label=positive,
                                                           sample_weight=pred.sample_weight)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    targeted, other = (precision, recall) if target_metric == "precision" else (recall, precision)
    feasible = targeted >= target
    if feasible.any():
        candidates = np.flatnonzero(feasible)
        # lexsort: last key is primary -> best other metric, then best targeted, then highest threshold.
        best = candidates[np.lexsort((thresholds[candidates], targeted[candidates], other[candidates]))[-1]]
    else:
        best = np.lexsort((thresholds, other, targeted))[-1]
    return ThresholdResult(threshold=float(thresholds[best]), precision=float(precision[best]),
                           recall=float(recall[best]), target_metric=target_metric, target=target,
                           reached=bool(feasible[best]), score_kind=pred.score_kind,
                           positive_class=to_python(positive))
