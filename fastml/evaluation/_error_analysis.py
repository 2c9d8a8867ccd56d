"""Error analysis: the worst-predicted rows and metrics per slice of a column.

Worst rows are ranked by a per-row loss (log-loss for classifiers with probabilities, absolute error
for regressors; see ``classification_row_loss``/``regression_row_loss``). Slices partition the rows by
the value of one column (or a given label array); numeric columns with many distinct values are cut
into quantile bins so that each slice holds enough rows to mean something.
"""
import numpy as np

from ._classification import classification_metrics, classification_row_loss, classification_row_score, to_python
from ._predictions import CLASSIFICATION
from ._regression import regression_metrics, regression_row_loss, regression_row_score

MAX_NUMERIC_SLICES = 20   # more distinct numeric values than this -> quantile bins
N_QUANTILE_BINS = 5
MISSING = "<missing>"


def metrics_for(pred):
    return classification_metrics(pred) if pred.task == CLASSIFICATION else regression_metrics(pred)


def row_losses(pred):
    return classification_row_loss(pred) if pred.task == CLASSIFICATION else regression_row_loss(pred)


def _plain(value):
    value = to_python(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)


def worst_rows(pred, n_worst):
    """The ``n_worst`` rows with the largest loss, worst first (ties keep row order).

    Each row: ``index`` (DataFrame index label or position), ``position``, ``true``, ``predicted``,
    ``score`` (probability or decision score of the true class; signed residual for regressors) and ``loss``.
    """
    if n_worst <= 0 or pred.n_samples == 0:
        return []
    losses = row_losses(pred)
    scores = classification_row_score(pred) if pred.task == CLASSIFICATION else regression_row_score(pred)
    order = np.argsort(-losses, kind="stable")[:n_worst]
    return [{"index": _plain(pred.index[i]), "position": int(i), "true": _plain(pred.y_true[i]),
             "predicted": _plain(pred.y_pred[i]), "score": float(scores[i]), "loss": float(losses[i])}
            for i in order]


def slice_labels(slice_by, X, n_samples):
    """Resolve ``slice_by`` (a column name of DataFrame ``X`` or an array of labels) to ``(name, labels)``.

    Returns the name, string labels (one per row) and the slice order: numeric columns with more than ``MAX_NUMERIC_SLICES`` distinct
    values are cut into ``N_QUANTILE_BINS`` quantile bins; missing values form their own slice.
    """
    import pandas as pd

    if isinstance(slice_by, str):
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"slice_by={slice_by!r} names a column, but X is not a pandas DataFrame; "
                             "pass an array of slice labels instead")
        if slice_by not in X.columns:
            raise ValueError(f"slice_by column {slice_by!r} is not in X; columns are {list(X.columns)[:20]}")
        name, values = slice_by, X[slice_by]
    else:
        values = pd.Series(np.asarray(slice_by).ravel() if not isinstance(slice_by, pd.Series) else slice_by.values)
        name = getattr(slice_by, "name", None) or "slice"
        if len(values) != n_samples:
            raise ValueError(f"slice_by has {len(values)} labels but y has {n_samples} rows")
    values = pd.Series(np.asarray(values), dtype=None)
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) \
            and values.nunique() > MAX_NUMERIC_SLICES:
        binned = pd.qcut(values, q=N_QUANTILE_BINS, duplicates="drop")
        names = np.array([f"({iv.left:.4g}, {iv.right:.4g}]" for iv in binned.cat.categories], dtype=object)
        labels = names[np.where(missing, 0, binned.cat.codes.to_numpy())]
        order = list(names)  # bins in increasing order, not string order
    else:
        labels = values.astype(str).to_numpy(dtype=object)
        order = sorted(set(labels[~missing]))
    labels[missing] = MISSING
    if missing.any():
        order.append(MISSING)
    return str(name), labels, order


def slice_metrics(pred, labels, order=None):
    """Metrics on each slice: a list of ``{"slice", "n", "metrics"}`` in ``order`` (default: sorted labels)."""
    result = []
    for label in (order if order is not None else sorted(set(labels))):
        rows = np.flatnonzero(labels == label)
        result.append({"slice": label, "n": int(rows.size), "metrics": metrics_for(pred.take(rows))})
    return result
