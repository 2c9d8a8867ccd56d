"""Cross-validated evaluation: fit a clone per fold, score it on the held-out rows.

The splitter is ``sklearn.model_selection.check_cv`` (stratified K-fold for classifiers when ``cv`` is
an int), so the folds are the ones ``cross_validate`` would use. Each fold is scored with the same
metric functions as the headline report. When the test folds partition the rows (K-fold and kin),
the out-of-fold predictions are stitched back together so that error analysis, slices and threshold
tuning describe rows the scoring model never saw.
"""
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing

from ._error_analysis import metrics_for
from ._predictions import CLASSIFICATION, concatenate, predict_classifier, predict_regressor


def _fit(estimator, X, y, sample_weight):
    if sample_weight is None:
        return estimator.fit(X, y)
    if hasattr(estimator, "steps"):  # Pipeline: route the weights to the final step
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def cross_validate_predictions(model, X, y, *, cv, task, sample_weight, groups, index):
    """Fit one clone of ``model`` per fold.

    Returns
    -------
    folds : list of dict
        Per fold: ``fold``, ``n_train``, ``n_test``, ``fit_time`` and every scalar metric.
    summary : dict
        ``{"mean": {...}, "std": {...}}`` over folds (``np.nanmean``/``np.nanstd``, ddof=0), plus the
        splitter's repr.
    out_of_fold : Predictions or None
        Stitched test-fold predictions when the test folds partition the rows, else None.
    """
    classes = np.unique(y) if task == CLASSIFICATION else None
    splitter = check_cv(cv, y, classifier=task == CLASSIFICATION)
    folds, parts, test_rows = [], [], []
    for fold, (train, test) in enumerate(splitter.split(X, y, groups)):
        estimator = clone(model)
        w_train = None if sample_weight is None else sample_weight[train]
        w_test = None if sample_weight is None else sample_weight[test]
        start = time.perf_counter()
        _fit(estimator, _safe_indexing(X, train), y[train], w_train)
        fit_time = time.perf_counter() - start
        X_test = _safe_indexing(X, test)
        if task == CLASSIFICATION:
            pred = predict_classifier(estimator, X_test, y[test], w_test, index[test], classes=classes)
        else:
            pred = predict_regressor(estimator, X_test, y[test], w_test, index[test])
        folds.append({"fold": fold, "n_train": int(train.size), "n_test": int(test.size),
                      "fit_time": fit_time, **metrics_for(pred)})
        parts.append(pred)
        test_rows.append(test)
    if not folds:
        raise ValueError(f"cv={cv!r} produced no folds")
    names = [key for key in folds[0] if key not in ("fold", "n_train", "n_test")]
    table = {name: np.array([f[name] for f in folds], dtype=np.float64) for name in names}
    summary = {"splitter": repr(splitter),
               "mean": {name: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                        for name, v in table.items()},
               "std": {name: float(np.nanstd(v)) if np.isfinite(v).any() else float("nan")
                       for name, v in table.items()}}
    all_test = np.concatenate(test_rows)
    partition = all_test.size == len(y) and np.array_equal(np.sort(all_test), np.arange(len(y)))
    out_of_fold = concatenate(parts, test_rows) if partition else None
    return folds, summary, out_of_fold
