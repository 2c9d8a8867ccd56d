"""Model evaluation: metrics, cross-validation, error analysis, threshold tuning, plots and HTML.

``fastml.evaluate(model, X, y, ...)`` returns a :class:`ClassificationReport` or a
:class:`RegressionReport`; ``tune_threshold`` finds the decision threshold for a target precision or
recall. All metrics are scikit-learn's (``sklearn.metrics``); matplotlib is optional (plots only).
"""
from ._evaluate import evaluate, tune_threshold
from ._report import ClassificationReport, EvaluationReport, RegressionReport
from ._threshold import ThresholdResult

__all__ = ["ClassificationReport", "EvaluationReport", "RegressionReport", "ThresholdResult", "evaluate",
           "tune_threshold"]
