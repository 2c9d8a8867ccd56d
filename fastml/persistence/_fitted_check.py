"""After a model file is decoded: do the fitted attributes of fastml's linear estimators make a model?

The manifest is checked for its structure and the arrays for their checksums, but the manifest itself
carries no checksum: an edited one (``coef_`` replaced by a number, ``classes_`` removed, another
``n_features_in_``) decoded into an estimator whose ``predict`` then failed with a raw AttributeError
or TypeError. These checks make such a file a :class:`ModelFileError` at ``load``, with the attribute
named. They cover what ``predict`` reads; hyper-parameters are checked by ``fit`` as usual.
"""
import numbers

import numpy as np
from sklearn.base import is_classifier


def check_fitted_linear_models(model, where, error):
    """Raise ``error(message)`` when ``model`` (or a step of a pipeline) is a fitted fastml linear
    estimator whose coefficients, intercept, classes and width do not agree."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        for name, step in steps:
            check_fitted_linear_models(step, f"{where}.{name}", error)
        return
    fitted = vars(model)
    if not type(model).__module__.startswith("fastml.linear_model") or not (
            "coef_" in fitted or "n_features_in_" in fitted):  # not ours, or saved unfitted
        return
    for name in ("coef_", "intercept_", "n_features_in_"):
        if name not in fitted:
            raise error(f"{where}: the fitted model has no {name}")
    coef, intercept, width = fitted["coef_"], fitted["intercept_"], fitted["n_features_in_"]
    if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < 1:
        raise error(f"{where}.n_features_in_ must be a positive integer, got {width!r}")
    if not isinstance(coef, np.ndarray) or coef.dtype.kind != "f" or coef.ndim not in (1, 2):
        raise error(f"{where}.coef_ must be a 1-D or 2-D float array, got {_kind(coef)}")
    if coef.shape[-1] != width:
        raise error(f"{where}.coef_ has {coef.shape[-1]} columns but n_features_in_ is {width}")
    n_outputs = 1 if coef.ndim == 1 else coef.shape[0]
    if isinstance(intercept, np.ndarray):
        if intercept.dtype.kind != "f" or intercept.ndim != 1 or intercept.shape[0] != n_outputs:
            raise error(f"{where}.intercept_ must be {n_outputs} float value(s), got {_kind(intercept)}")
    elif not isinstance(intercept, numbers.Real) or isinstance(intercept, bool):
        raise error(f"{where}.intercept_ must be a number, got {_kind(intercept)}")
    if is_classifier(model):
        classes = fitted.get("classes_")
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or classes.shape[0] < 2:
            raise error(f"{where}.classes_ must be an array of at least 2 labels, got {_kind(classes)}")
        expected = 1 if classes.shape[0] == 2 else classes.shape[0]
        if coef.ndim != 2 or coef.shape[0] != expected:
            raise error(f"{where}.coef_ has shape {coef.shape}: {classes.shape[0]} classes need {expected} rows")


def _kind(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:80]
