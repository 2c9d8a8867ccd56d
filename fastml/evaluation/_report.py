"""Report objects returned by :func:`fastml.evaluate`.

A report holds plain Python data (dicts, lists, floats, strings) for every section, plus the
predictions it was computed from (private, for plots). Everything public is JSON-ready through
``to_dict`` (NaN -> None), tabular through ``to_frame``, readable through ``str``, and drawable
through ``plot``/``plots``/``to_html``.
"""
import math

import numpy as np

from . import _plots


def jsonable(value):
    """Nested report data -> JSON-serializable Python (NaN/inf -> None, numpy -> Python)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    return str(value)


class EvaluationReport:
    """Common part of :class:`ClassificationReport` and :class:`RegressionReport`.

    Attributes
    ----------
    task : str
    model_name : str
    n_samples : int
    evaluated_on : str
        ``"given data"``, ``"out-of-fold predictions"`` (cv with a partitioning splitter) or
        ``"mean over folds"`` (cv whose test folds overlap or skip rows; row-level sections are empty).
    metrics : dict of str to float
        Headline scalar metrics (NaN where undefined).
    worst : list of dict
        Worst-predicted rows: index, position, true, predicted, score, loss.
    slices : dict or None
        ``{"by": column name, "slices": [{"slice", "n", "metrics"}, ...]}``.
    threshold : ThresholdResult or None
    cv : dict or None
        ``{"splitter", "folds": [...], "mean": {...}, "std": {...}}``.
    loss_curve : ndarray or None
        The fitted model's ``loss_curve_`` (objective per solver iteration).
    """

    task = None
    _FRAME_KINDS = ("metrics", "folds", "slices", "worst")

    def __init__(self, *, model_name, n_samples, evaluated_on, metrics, worst=None, slices=None, threshold=None,
                 cv=None, loss_curve=None, predictions=None):
        self.model_name = model_name
        self.n_samples = n_samples
        self.evaluated_on = evaluated_on
        self.metrics = metrics
        self.worst = worst or []
        self.slices = slices
        self.threshold = threshold
        self.cv = cv
        self.loss_curve = loss_curve
        self._predictions = predictions

    # -- data -----------------------------------------------------------------------------------
    def _task_sections(self):
        return {}

    def to_dict(self):
        """All sections as JSON-serializable Python data (``json.dumps(report.to_dict())`` works)."""
        data = {"task": self.task, "model": self.model_name, "n_samples": self.n_samples,
                "evaluated_on": self.evaluated_on, "metrics": self.metrics, **self._task_sections(),
                "worst": self.worst, "slices": self.slices,
                "threshold": None if self.threshold is None else self.threshold.to_dict(), "cv": self.cv,
                "loss_curve": None if self.loss_curve is None else np.asarray(self.loss_curve, float).tolist()}
        return jsonable(data)

    def to_frame(self, kind="metrics"):
        """A pandas DataFrame of one section.

        Parameters
        ----------
        kind : str, default="metrics"
            ``"metrics"``: one row per metric, column ``value`` (plus ``cv_mean`` and ``cv_std`` after
            cross-validation); ``"folds"``: one row per fold; ``"slices"``: one row per slice;
            ``"worst"``: one row per worst row; classification also ``"per_class"``, ``"confusion"``
            and ``"calibration"``; regression also ``"residuals"``.
        """
        import pandas as pd

        if kind not in self._FRAME_KINDS:
            raise ValueError(f"kind must be one of {list(self._FRAME_KINDS)}, got {kind!r}")
        if kind == "metrics":
            frame = pd.DataFrame({"value": pd.Series(self.metrics, dtype=float)})
            if self.cv is not None:
                frame["cv_mean"] = pd.Series(self.cv["mean"], dtype=float)
                frame["cv_std"] = pd.Series(self.cv["std"], dtype=float)
            frame.index.name = "metric"
            return frame
        if kind == "folds":
            if self.cv is None:
                raise ValueError("no cross-validation in this report: call evaluate(..., cv=5)")
            return pd.DataFrame(self.cv["folds"]).set_index("fold")
        if kind == "slices":
            if self.slices is None:
                raise ValueError("no slices in this report: call evaluate(..., slice_by=column)")
            rows = [{self.slices["by"]: s["slice"], "n": s["n"], **s["metrics"]} for s in self.slices["slices"]]
            return pd.DataFrame(rows).set_index(self.slices["by"])
        if kind == "worst":
            columns = ["index", "position", "true", "predicted", "score", "loss"]
            return pd.DataFrame(self.worst, columns=columns)
        return self._task_frame(kind)

    def _task_frame(self, kind):  # pragma: no cover - subclasses answer their own kinds
        raise ValueError(kind)

    # -- views ----------------------------------------------------------------------------------
    def __str__(self):
        from ._text import format_report

        return format_report(self)

    def __repr__(self):
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(self.metrics.items())[:3])
        return f"<{type(self).__name__} {self.model_name} n={self.n_samples} {shown}>"

    def plot_kinds(self):
        """Names accepted by :meth:`plot` for this report."""
        return _plots.available_kinds(self)

    def plot(self, kind, path=None):
        """Draw one plot (``"roc"``, ``"pr"``, ``"confusion"``, ``"calibration"``, ``"residuals"``,
        ``"loss_curve"``); save it as PNG when ``path`` is given. Returns the matplotlib Figure.

        Raises ImportError when matplotlib is not installed.
        """
        figure = _plots.make_figure(self, kind)
        if path is not None:
            figure.savefig(path, format="png", dpi=90)
        return figure

    def plots(self, folder):
        """Write every available plot to ``folder/<kind>.png``; return ``{kind: path}``."""
        return _plots.write_plots(self, folder)

    def to_html(self, path=None):
        """A self-contained HTML report (inline CSS; plots as base64 PNG when matplotlib is installed).

        Returns the HTML text and writes it to ``path`` (UTF-8) when given.
        """
        from ._html import render

        text = render(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        return text


class ClassificationReport(EvaluationReport):
    """Evaluation of a classifier: :class:`EvaluationReport` plus

    Attributes
    ----------
    classes : list
    per_class : list of dict or None
        precision, recall, F1 and support per class.
    confusion_matrix : dict or None
        ``{"labels": [...], "matrix": [[...]]}``, rows true, columns predicted.
    calibration : dict or None
        Reliability bins, Brier score, ECE and MCE (None without ``predict_proba``).
    """

    task = "classification"
    _FRAME_KINDS = EvaluationReport._FRAME_KINDS + ("per_class", "confusion", "calibration")

    def __init__(self, *, classes, per_class=None, confusion_matrix=None, calibration=None, **common):
        super().__init__(**common)
        self.classes = classes
        self.per_class = per_class
        self.confusion_matrix = confusion_matrix
        self.calibration = calibration

    def _task_sections(self):
        return {"classes": self.classes, "per_class": self.per_class, "confusion_matrix": self.confusion_matrix,
                "calibration": self.calibration}

    def _task_frame(self, kind):
        import pandas as pd

        if kind == "per_class":
            return pd.DataFrame(self.per_class or [], columns=["class", "precision", "recall", "f1", "support"]
                                ).set_index("class")
        if kind == "confusion":
            if self.confusion_matrix is None:
                raise ValueError("no confusion matrix in this report")
            labels = self.confusion_matrix["labels"]
            return pd.DataFrame(self.confusion_matrix["matrix"], index=pd.Index(labels, name="true"),
                                columns=pd.Index(labels, name="predicted"))
        if self.calibration is None:
            raise ValueError("no calibration summary: the model has no predict_proba")
        return pd.DataFrame(self.calibration["bins"])


class RegressionReport(EvaluationReport):
    """Evaluation of a regressor: :class:`EvaluationReport` plus

    Attributes
    ----------
    residuals : dict or None
        Mean, std, quantiles and max absolute value of ``y_true - y_pred``.
    """

    task = "regression"
    _FRAME_KINDS = EvaluationReport._FRAME_KINDS + ("residuals",)

    def __init__(self, *, residuals=None, **common):
        super().__init__(**common)
        self.residuals = residuals

    def _task_sections(self):
        return {"residuals": self.residuals}

    def _task_frame(self, kind):
        import pandas as pd

        if self.residuals is None:
            raise ValueError("no residual summary in this report")
        flat = {"mean": self.residuals["mean"], "std": self.residuals["std"], **self.residuals["quantiles"],
                "max_abs": self.residuals["max_abs"]}
        return pd.DataFrame({"value": pd.Series(flat, dtype=float)})
