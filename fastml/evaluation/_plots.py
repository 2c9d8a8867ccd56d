"""Report plots: ROC, precision-recall, confusion, calibration, residuals and the solver's loss curve.

Curves are drawn by scikit-learn's Display classes (``RocCurveDisplay``, ``PrecisionRecallDisplay``,
``ConfusionMatrixDisplay``, ``CalibrationDisplay``, ``PredictionErrorDisplay``) on a
``matplotlib.figure.Figure`` that we create ourselves: no pyplot figure manager is involved and the
global backend is never switched, so a notebook's backend stays as it was while files are written with
the Agg renderer. matplotlib is optional and imported only here, on first use.
"""
import io
import os

import numpy as np

from ._predictions import CLASSIFICATION

INSTALL_HINT = "plots need matplotlib, an optional dependency: pip install matplotlib"


def require_matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return Figure


def matplotlib_available():
    try:
        require_matplotlib()
    except ImportError:
        return False
    return True


def available_kinds(report):
    """Plot kinds this report can draw, in display order."""
    pred = report._predictions
    kinds = []
    if pred is not None and pred.task == CLASSIFICATION:
        if pred.ranking_score() is not None:
            kinds += ["roc", "pr"]
        kinds.append("confusion")
        if pred.proba is not None:
            kinds.append("calibration")
    elif pred is not None:
        kinds.append("residuals")
    if report.loss_curve is not None and np.isfinite(np.asarray(report.loss_curve, dtype=float)).any():
        kinds.append("loss_curve")
    return kinds


def _per_class_curves(display_class, pred, ax):
    """One one-vs-rest curve per class (the positive class only, for two classes)."""
    score = pred.ranking_score()
    if pred.is_binary:
        display_class.from_predictions(pred.y_true, score, pos_label=pred.classes[1],
                                       sample_weight=pred.sample_weight, name=f"class {pred.classes[1]}", ax=ax)
        return
    for column, label in enumerate(pred.classes):
        display_class.from_predictions((pred.y_true == label).astype(int), score[:, column],
                                       sample_weight=pred.sample_weight, name=f"class {label}", ax=ax)
    ax.set_xlabel(ax.get_xlabel().replace("(Positive label: 1)", "(one-vs-rest)"))
    ax.set_ylabel(ax.get_ylabel().replace("(Positive label: 1)", "(one-vs-rest)"))


def draw(report, kind, ax):
    """Draw plot ``kind`` of ``report`` on the matplotlib axes ``ax``."""
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import (ConfusionMatrixDisplay, PrecisionRecallDisplay, PredictionErrorDisplay,
                                 RocCurveDisplay)

    kinds = available_kinds(report)
    if kind not in kinds:
        raise ValueError(f"plot kind {kind!r} is not available for this report; available: {kinds}")
    pred = report._predictions
    if kind == "roc":
        _per_class_curves(RocCurveDisplay, pred, ax)
        ax.set_title("ROC curve")
    elif kind == "pr":
        _per_class_curves(PrecisionRecallDisplay, pred, ax)
        ax.set_title("Precision-recall curve")
    elif kind == "confusion":
        ConfusionMatrixDisplay.from_predictions(pred.y_true, pred.y_pred, labels=pred.classes,
                                                sample_weight=pred.sample_weight, ax=ax, colorbar=False)
        ax.set_title("Confusion matrix")
    elif kind == "calibration":
        calibration = report.calibration
        if pred.is_binary:
            CalibrationDisplay.from_predictions(pred.y_true, pred.proba[:, 1], n_bins=calibration["n_bins"],
                                                pos_label=pred.classes[1], ax=ax)
        else:
            top = np.argmax(pred.proba, axis=1)
            CalibrationDisplay.from_predictions((pred.classes[top] == pred.y_true).astype(int),
                                                pred.proba[np.arange(top.size), top],
                                                n_bins=calibration["n_bins"], name="top label", ax=ax)
        ax.set_title(f"Calibration ({calibration['kind']})")
    elif kind == "residuals":
        PredictionErrorDisplay.from_predictions(np.ravel(pred.y_true), np.ravel(pred.y_pred),
                                                kind="actual_vs_predicted", ax=ax)
        ax.set_title("Actual vs predicted")
    elif kind == "loss_curve":
        curve = np.asarray(report.loss_curve, dtype=float)
        ax.plot(np.arange(curve.size), curve, marker="." if curve.size < 50 else None)
        ax.set_xlabel("iteration")
        ax.set_ylabel("objective")
        ax.set_title("Training loss curve")


def make_figure(report, kind):
    Figure = require_matplotlib()
    figure = Figure(figsize=(5.5, 4.5), layout="constrained")
    draw(report, kind, figure.add_subplot())
    return figure


def figure_png(figure):
    """PNG bytes of ``figure`` (rendered by Agg through ``Figure.savefig``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def write_plots(report, folder):
    """Write every available plot as ``<folder>/<kind>.png``; return ``{kind: path}``."""
    require_matplotlib()
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for kind in available_kinds(report):
        path = os.path.join(folder, f"{kind}.png")
        make_figure(report, kind).savefig(path, format="png", dpi=90)
        paths[kind] = path
    return paths
