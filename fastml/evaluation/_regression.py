"""Regression metrics and the residual summary.

Metrics are ``sklearn.metrics`` functions (multi-output targets: their default uniform average). The
residual summary describes ``y_true - y_pred`` over all rows and outputs, unweighted: it says what the
errors look like, row by row, whatever weight a row carries in the metrics.
"""
import numpy as np
from sklearn.metrics import mean_absolute_error, median_absolute_error, r2_score, root_mean_squared_error

from ._classification import safe_metric

RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def regression_metrics(pred):
    """Scalar metrics of a regressor's predictions, as a ``{name: float}`` dict (NaN = undefined)."""
    y, y_pred, w = pred.y_true, pred.y_pred, pred.sample_weight
    return {"rmse": safe_metric(root_mean_squared_error, y, y_pred, sample_weight=w),
            "mae": safe_metric(mean_absolute_error, y, y_pred, sample_weight=w),
            "median_ae": safe_metric(median_absolute_error, y, y_pred, sample_weight=w),
            "r2": safe_metric(r2_score, y, y_pred, sample_weight=w)}


def residual_summary(pred):
    """Mean, standard deviation, quantiles and largest absolute value of the residuals ``y - y_pred``."""
    residuals = np.ravel(pred.y_true - pred.y_pred)
    quantiles = np.quantile(residuals, RESIDUAL_QUANTILES)
    return {"mean": float(residuals.mean()), "std": float(residuals.std()),
            "quantiles": {f"q{round(q * 100):02d}": float(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles)},
            "max_abs": float(np.abs(residuals).max())}


def regression_row_loss(pred):
    """Absolute error per row (mean over outputs for multi-output targets)."""
    error = np.abs(pred.y_true - pred.y_pred)
    return error.mean(axis=1) if error.ndim == 2 else error


def regression_row_score(pred):
    """Signed residual ``y_true - y_pred`` shown next to a worst row (mean over outputs)."""
    residual = pred.y_true - pred.y_pred
    return residual.mean(axis=1) if residual.ndim == 2 else residual
