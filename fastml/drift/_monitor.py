"""``DriftMonitor``: batches of inputs (and labels when they arrive) checked against a fitted model."""
import numbers

import numpy as np

from ._check import _aligned_by_name, _as_matrix, _resolve, check_drift, reject_infinity
from ._streaming import DDM


class DriftMonitor:
    """Watch a deployed model batch by batch.

    Each ``update(X_batch, y_batch=None)`` runs :func:`check_drift` on the batch (feature and prediction
    drift, Holm at ``alpha``) and, when labels come with it and a model is known, feeds the model's 0/1
    errors (classifiers) to a :class:`DDM`. A history row is kept per batch.

    Parameters
    ----------
    model_or_fingerprint : fitted fastml estimator or Fingerprint
    alpha : float, default 0.05
    window : int or None, default None
        When set, batches are pooled until ``window`` rows are collected before the feature check runs
        (small batches have little power); None checks every batch as it comes.
    model : estimator, optional
        With a bare Fingerprint: the model whose scores and errors are watched.
    """

    def __init__(self, model_or_fingerprint, *, alpha=0.05, window=None, model=None):
        self.fingerprint, self.model = _resolve(model_or_fingerprint, model)
        if window is not None and (isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1):
            raise ValueError(f"window must be a positive int or None, got {window!r}")
        if isinstance(alpha, bool) or not (isinstance(alpha, numbers.Real) and 0 < alpha < 1):
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        window = None if window is None else int(window)
        self.alpha = alpha
        self.window = window
        self.error_detector = DDM()
        self.history = []
        self.last_report = None
        self._pending = []
        self._drift = False

    @property
    def drift_detected(self):
        """Verdict of the latest batch: feature/prediction drift or a DDM detection on its errors."""
        return self._drift

    def update(self, X_batch, y_batch=None):
        """Consume one batch; returns self. A batch that cannot be checked (wrong features, infinity,
        labels of another length) raises before anything is kept: the monitor's state stays as it was
        (a bad batch pooled into the window once broke every later update)."""
        import scipy.sparse as sp

        X_batch = _aligned_by_name(X_batch, self.fingerprint.feature_names)  # a frame: in the model's order
        matrix = _as_matrix(X_batch, self.fingerprint.n_features)
        reject_infinity(matrix)  # here, not when the window is checked: the batch must not be kept
        if y_batch is not None:
            y_batch = np.asarray(y_batch)
            if y_batch.ndim == 2 and y_batch.shape[1] == 1:  # a column vector: compared row by row, not broadcast
                y_batch = y_batch[:, 0]
            if y_batch.ndim != 1 or y_batch.shape[0] != matrix.shape[0]:
                raise ValueError(f"y_batch must hold one label per row ({matrix.shape[0]}), got shape {y_batch.shape}")
        report = None
        if self.window is None:
            report = check_drift(self.fingerprint, matrix, alpha=self.alpha, model=self.model)
        else:
            self._pending.append(matrix)
            if sum(block.shape[0] for block in self._pending) >= self.window:
                any_sparse = any(sp.issparse(block) for block in self._pending)
                pooled = sp.vstack(self._pending).tocsr() if any_sparse else np.vstack(self._pending)
                self._pending = []
                report = check_drift(self.fingerprint, pooled, alpha=self.alpha, model=self.model)
        error_drift, error_rate = False, np.nan
        if y_batch is not None and self.model is not None and hasattr(self.model, "classes_"):
            errors = (np.asarray(self.model.predict(X_batch)) != y_batch).astype(np.float64)
            error_rate = float(errors.mean())
            error_drift = len(self.error_detector.update_many(errors)) > 0
        self.last_report = report if report is not None else self.last_report
        feature_drift = bool(report.drift_detected) if report is not None else False
        self._drift = feature_drift or error_drift
        self.history.append({
            "batch": len(self.history), "n_rows": int(matrix.shape[0]), "checked": report is not None,
            "feature_drift": feature_drift,
            "share_drifted": report.share_drifted if report is not None else np.nan,
            "prediction_drift": report.prediction_drift if report is not None else None,
            "drifted_features": report.drifted_features if report is not None else [],
            "labels": y_batch is not None, "error_rate": error_rate, "error_drift": error_drift,
            "drift_detected": self._drift,
        })
        return self

    def history_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)
