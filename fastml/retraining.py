"""Retraining: refit or warm-start a model on recent data, and compare old and new on a holdout.

Design: the old model is never touched (the new one is a clone, or a deep copy for a warm start); the
comparison uses scikit-learn's metrics directly (accuracy, log-loss, F1 for classifiers; RMSE, R^2 for
regressors) on one holdout, so old and new are judged on the same rows. ``refit_if_drift`` joins a
drift check (or a :class:`~fastml.DriftMonitor`) and ``retrain``: it retrains only on a drift verdict.
"""
import copy
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

STRATEGIES = ("refit", "warm_start")


@dataclass
class RetrainResult:
    """What :func:`retrain` returns.

    Attributes
    ----------
    model : the new fitted estimator
    comparison : pandas.DataFrame
        One row per metric, columns ``old``, ``new`` and ``change`` (new - old), on the holdout.
    strategy : str
        The strategy actually used ("warm_start" falls back on "refit" for estimators without one).
    n_train, n_holdout : int
    notes : list of str
    """

    model: object
    comparison: object
    strategy: str
    n_train: int
    n_holdout: int
    notes: list = field(default_factory=list)


def _rows(X, index):
    """Rows ``index`` of ``X``; a data frame stays a frame (its names reach the refit model and its
    fingerprint: ``np.asarray`` lost them, and the model then predicted a reordered frame wrongly)."""
    if hasattr(X, "iloc"):  # pandas
        return X.iloc[index]
    if hasattr(X, "columns") and hasattr(X, "__getitem__") and not isinstance(X, np.ndarray):  # polars
        return X[np.asarray(index)]
    return X[index] if sp.issparse(X) else np.asarray(X)[index]


def _split(X, y, holdout_fraction, random_state, classifier):
    from sklearn.model_selection import train_test_split

    stratify = None
    if classifier:
        _, counts = np.unique(y, return_counts=True)
        n_holdout = int(np.ceil(holdout_fraction * len(y)))
        if counts.min() >= 2 and n_holdout >= len(counts):
            stratify = y
    return train_test_split(X, y, test_size=holdout_fraction, random_state=random_state, stratify=stratify)


def _metrics(model, X, y):
    from sklearn import metrics
    from sklearn.base import is_classifier

    predicted = model.predict(X)
    if is_classifier(model):
        binary = len(model.classes_) == 2
        out = {"accuracy": metrics.accuracy_score(y, predicted),
               "f1": metrics.f1_score(y, predicted, average="binary" if binary else "macro",
                                      pos_label=model.classes_[1] if binary else 1, zero_division=0)}
        if hasattr(model, "predict_proba"):
            try:
                out["log_loss"] = metrics.log_loss(y, model.predict_proba(X), labels=model.classes_)
            except (AttributeError, ValueError):  # e.g. SGDClassifier with the hinge loss has no probabilities
                pass
        return out
    return {"rmse": float(np.sqrt(metrics.mean_squared_error(y, predicted))), "r2": metrics.r2_score(y, predicted)}


def _warm_started(model, X, y, notes):
    new = copy.deepcopy(model)
    if hasattr(new, "partial_fit"):
        new.partial_fit(X, y)
        if hasattr(new, "fingerprint_"):  # partial_fit keeps the first fingerprint: describe the new data
            from .drift import record_fingerprint

            record_fingerprint(new, X)
        return new, "warm_start"
    if "warm_start" in new.get_params():
        new.set_params(warm_start=True).fit(X, y)
        new.set_params(warm_start=model.get_params()["warm_start"])
        return new, "warm_start"
    notes.append(f"{type(model).__name__} has no warm start (no partial_fit, no warm_start parameter): refit")
    from sklearn.base import clone

    return clone(model).fit(X, y), "refit"


def retrain(model, X_new, y_new, *, strategy="refit", window=None, X_holdout=None, y_holdout=None,
            holdout_fraction=0.2, random_state=None):
    """Retrain ``model`` on recent data and compare the old and new models on a holdout.

    Parameters
    ----------
    model : fitted estimator
        Left untouched.
    X_new, y_new : recent data, oldest row first
    strategy : {"refit", "warm_start"}
        "refit": a clone fitted from scratch on the window. "warm_start": a copy continued from the old
        parameters (``partial_fit`` when the estimator has it, else ``warm_start=True``).
    window : int, optional
        Use only the last ``window`` rows of ``X_new`` (the most recent data).
    X_holdout, y_holdout : optional
        The rows both models are evaluated on; by default ``holdout_fraction`` of the window is held out
        (stratified for classifiers when possible) and the rest trains.
    random_state : int, optional
        Seed of the holdout split.

    Returns
    -------
    RetrainResult
    """
    from sklearn.base import clone, is_classifier
    from sklearn.utils.validation import check_is_fitted

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    check_is_fitted(model)
    y_new = np.asarray(y_new)
    if X_new.shape[0] != y_new.shape[0]:
        raise ValueError(f"X_new has {X_new.shape[0]} rows but y_new has {y_new.shape[0]}")
    if window is not None:
        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        recent = np.arange(max(0, X_new.shape[0] - window), X_new.shape[0])
        X_new, y_new = _rows(X_new, recent), y_new[recent]
    if (X_holdout is None) != (y_holdout is None):
        raise ValueError("give both X_holdout and y_holdout, or neither")
    classifier = is_classifier(model)
    if X_holdout is None:
        if not 0 < holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
        X_train, X_holdout, y_train, y_holdout = _split(X_new, y_new, holdout_fraction, random_state, classifier)
    else:
        X_train, y_train = X_new, y_new
    notes = []
    if strategy == "refit":
        new_model, used = clone(model).fit(X_train, y_train), "refit"
    else:
        new_model, used = _warm_started(model, X_train, y_train, notes)
    import pandas as pd

    old, new = _metrics(model, X_holdout, y_holdout), _metrics(new_model, X_holdout, y_holdout)
    names = [name for name in old if name in new]
    comparison = pd.DataFrame({"old": [old[n] for n in names], "new": [new[n] for n in names]}, index=names)
    comparison["change"] = comparison["new"] - comparison["old"]
    comparison.index.name = "metric"
    return RetrainResult(model=new_model, comparison=comparison, strategy=used, n_train=int(X_train.shape[0]),
                         n_holdout=int(X_holdout.shape[0]), notes=notes)


def refit_if_drift(monitor_or_model, X_new, y_new, *, alpha=0.05, **retrain_options):
    """Check ``X_new`` for drift and retrain only when drift is detected.

    Parameters
    ----------
    monitor_or_model : DriftMonitor or fitted fastml estimator
        A monitor consumes the batch (with its labels) and gives the verdict; a bare model is checked
        with :func:`fastml.check_drift` at ``alpha``.
    X_new, y_new : the new batch
    **retrain_options : passed to :func:`retrain`

    Returns
    -------
    (model, report, retrained) : the new model when retrained (else the old one), the DriftReport of the
        batch (None when a windowed monitor pooled it without a check yet), and whether it retrained
        (call :func:`retrain` directly for the old/new comparison).
    """
    from .drift import DriftMonitor, check_drift

    if isinstance(monitor_or_model, DriftMonitor):
        monitor = monitor_or_model
        if monitor.model is None:
            raise ValueError("the DriftMonitor has no model to retrain (built from a bare Fingerprint)")
        monitor.update(X_new, y_new)
        # a windowed monitor checks features only once its window is full: no report for this batch
        # then (its last_report is an earlier batch's)
        checked = monitor.history[-1]["checked"]
        model, report, drifted = monitor.model, monitor.last_report if checked else None, monitor.drift_detected
    else:
        model = monitor_or_model
        report = check_drift(model, X_new, alpha=alpha)
        drifted = report.drift_detected
    if not drifted:
        return model, report, False
    return retrain(model, X_new, y_new, **retrain_options).model, report, True
