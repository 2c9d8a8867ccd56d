"""The human-readable part of the manifest: feature names, classes and a training summary.

These fields are for ``fastml.inspect`` (and people reading ``manifest.json``); ``load`` rebuilds
the model from the estimator description alone and never trusts them.
"""
import numbers
import platform

import numpy as np


def final_estimator(model):
    """The last step of a Pipeline (recursively), else the model itself."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        last = steps[-1][1]
        return final_estimator(last) if last not in (None, "passthrough") else model
    return model


def versions():
    import sklearn

    from .. import __version__

    return {"fastml": __version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "python": platform.python_version()}


def _attribute(estimator, name):
    try:
        return getattr(estimator, name, None)
    except Exception:  # properties of unfitted pipelines raise AttributeError subclasses or others
        return None


def _labels(values):
    """A JSON list of feature names or class labels (numbers or strings), or None."""
    if values is None:
        return None
    result = []
    for item in np.asarray(values, dtype=object).ravel().tolist():
        if isinstance(item, (bool, np.bool_)):
            result.append(bool(item))
        elif isinstance(item, numbers.Integral):
            result.append(int(item))
        elif isinstance(item, numbers.Real):
            result.append(float(item) if np.isfinite(item) else str(item))
        else:
            result.append(str(item))
    return result


def summary(model, fingerprint_state):
    """{"feature_names", "classes", "training"} for the manifest."""
    final = final_estimator(model)
    info = _attribute(final, "solver_info_")
    fit_seconds = n_iter = converged = None
    if isinstance(info, dict):
        fit_seconds = float(info["seconds"]) if isinstance(info.get("seconds"), numbers.Real) else None
        if "converged" in info:
            converged = bool(np.all(info["converged"]))
    iterations = _attribute(final, "n_iter_")
    if iterations is not None and np.size(iterations) > 0 and np.issubdtype(np.asarray(iterations).dtype, np.number):
        n_iter = int(np.max(iterations))
    n_samples = None
    if isinstance(fingerprint_state, dict) and isinstance(fingerprint_state.get("n_samples"), int):
        n_samples = fingerprint_state["n_samples"]
    else:
        for step in _steps(model):
            seen = _attribute(step, "n_samples_seen_")
            if seen is not None and np.ndim(seen) == 0:
                n_samples = int(seen)
                break
    n_features = _attribute(model, "n_features_in_")
    coef = _attribute(final, "coef_")
    return {
        "feature_names": _labels(_attribute(model, "feature_names_in_")),
        "classes": _labels(_attribute(final, "classes_")),
        "training": {
            "n_samples_seen": n_samples,
            "n_features_in": int(n_features) if isinstance(n_features, numbers.Integral) else None,
            "n_outputs": int(coef.shape[0]) if isinstance(coef, np.ndarray) and coef.ndim == 2 else
            (1 if isinstance(coef, np.ndarray) else None),
            "fit_seconds": fit_seconds,
            "n_iter": n_iter,
            "converged": converged,
        },
    }


def _steps(model):
    """The estimators of a pipeline in order (ColumnTransformer branches are not descended)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            yield from _steps(step)
    else:
        yield model
