"""Tables in, model files out: the Python functions behind ``fastml train/predict/evaluate/drift``.

Design: a model trained from a table is a scikit-learn ``Pipeline(ColumnTransformer, estimator)`` built
only from classes that :func:`fastml.save` stores without pickle (SimpleImputer, StandardScaler,
OneHotEncoder, ColumnTransformer with columns named by lists of strings). Numeric columns are imputed
with the median and standardized; every other column (text, category, bool) is imputed with the most
frequent value and one-hot encoded (unknown categories at predict time become all-zero rows). The
output is dense float64, so one compiled kernel specialization serves every table.
"""
import ast
import os

import numpy as np

CLASSIFIERS = ("LogisticRegression", "LogisticRegressionCV", "SGDClassifier")
REGRESSORS = ("LinearRegression", "Ridge", "RidgeCV", "Lasso", "ElasticNet", "ElasticNetCV", "LassoCV", "SGDRegressor",
              "PoissonRegressor")
MAX_CLASSES_FOR_AUTO = 20  # an integer target with at most this many values is taken as class labels


def read_table(path):
    """Read a CSV or Parquet file (by extension: ``.parquet``/``.pq`` is Parquet) into a DataFrame.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ImportError
        A Parquet file and pyarrow is not installed.
    ValueError
        The file is empty or cannot be parsed.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    if path.lower().endswith((".parquet", ".pq")):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("reading Parquet needs pyarrow: python -m pip install pyarrow (or use a CSV file)") \
                from None
        return pd.read_parquet(path)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"data file {path!r} is empty") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"data file {path!r} is not a valid CSV file: {exc}") from None
    if frame.shape[0] == 0:
        raise ValueError(f"data file {path!r} has a header but no rows")
    return frame


def parse_params(items):
    """``["C=0.5", "solver=newton", "fit_intercept=false"]`` -> ``{"C": 0.5, "solver": "newton", ...}``.

    Values are Python literals when they parse as one (numbers, ``None``, tuples); ``true``/``false``
    and ``none``/``null`` in any case are booleans/None; anything else is a string.
    """
    params = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"parameter {item!r} must look like name=value")
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif lowered in ("none", "null"):
            value = None
        else:
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError):
                value = text.strip()
        params[key] = value
    return params


def is_classification_target(y):
    """Class labels when the target is text, bool, categorical, or integers with few distinct values."""
    import pandas as pd

    y = pd.Series(y)
    if y.dtype == bool or not pd.api.types.is_numeric_dtype(y):
        return True
    if pd.api.types.is_integer_dtype(y) or np.all(np.mod(y.dropna(), 1) == 0):
        return y.nunique() <= MAX_CLASSES_FOR_AUTO
    return False


def make_estimator(name="auto", params=None, *, classification=True):
    """A fastml estimator by class name (``"auto"``: LogisticRegression for class labels, else Ridge)."""
    import fastml

    if name == "auto":
        name = "LogisticRegression" if classification else "Ridge"
    if name not in CLASSIFIERS + REGRESSORS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(CLASSIFIERS + REGRESSORS)}")
    if classification and name in REGRESSORS:
        raise ValueError(f"{name} is a regressor but the target looks like class labels; use a classifier "
                         f"({', '.join(CLASSIFIERS)})")
    estimator = getattr(fastml, name)()
    params = dict(params or {})
    unknown = sorted(set(params) - set(estimator.get_params()))
    if unknown:
        raise ValueError(f"{name} has no parameter {', '.join(unknown)}; its parameters are "
                         f"{', '.join(sorted(estimator.get_params()))}")
    return estimator.set_params(**params)


def make_preprocessor(frame):
    """A ColumnTransformer for ``frame``'s columns: numeric -> median imputation + standardization,
    others -> most-frequent imputation + one-hot encoding (dense float64 output)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    categorical = [str(c) for c in frame.columns if str(c) not in numeric]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                                  ("scale", StandardScaler())]), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64))]),
            categorical))
    if not transformers:
        raise ValueError("the table has no feature columns besides the target")
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _features(frame, target):
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} is not in the data; columns: {', '.join(map(str, frame.columns))}")
    y = frame[target]
    if y.isna().any():
        raise ValueError(f"target column {target!r} has {int(y.isna().sum())} missing values")
    X = frame.drop(columns=[target])
    for column in X.columns:  # all-text columns stay text; mixed object columns become text for the encoder
        if X[column].dtype == object:
            X[column] = X[column].astype("string").astype(object).where(X[column].notna(), np.nan)
    return X, y.to_numpy()


def _model_columns(model, frame):
    """The columns the model was trained on, from ``frame`` (extra columns, e.g. the target, are dropped)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame
    missing = [str(n) for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"the data lacks column(s) the model needs: {', '.join(missing)}")
    return frame[list(names)]


def train_table(data, target, *, model="auto", params=None, cv=None, out=None, random_state=0):
    """Train a preprocessing + fastml pipeline on a table and save it.

    Parameters
    ----------
    data : str, path or DataFrame
        CSV or Parquet file, or a DataFrame.
    target : str
        The column to predict.
    model : str, default="auto"
        A fastml estimator class name; "auto": LogisticRegression for class labels, else Ridge.
    params : dict, default=None
        Constructor parameters of the estimator.
    cv : int, default=None
        Cross-validate with ``cv`` folds (``fastml.evaluate``) before the final fit on every row.
    out : str or path, default=None
        Where to save the model (``fastml.save``); not saved when None.
    random_state : int, default=0
        Seed given to estimators that accept one (unless ``params`` sets it).

    Returns
    -------
    (pipeline, summary) : the fitted Pipeline and a JSON-ready dict.
    """
    import time

    from sklearn.pipeline import Pipeline

    import fastml

    frame = read_table(data) if not hasattr(data, "columns") else data
    X, y = _features(frame, target)
    classification = is_classification_target(y)
    estimator = make_estimator(model, params, classification=classification)
    if "random_state" in estimator.get_params() and "random_state" not in (params or {}):
        estimator.set_params(random_state=random_state)
    pipeline = Pipeline([("preprocess", make_preprocessor(X)), ("model", estimator)])
    summary = {"model": type(estimator).__name__, "task": "classification" if classification else "regression",
               "n_rows": int(X.shape[0]), "n_columns": int(X.shape[1]), "target": target}
    if cv is not None:
        report = fastml.evaluate(pipeline, X, y, cv=int(cv))
        summary["cv"] = {"folds": int(cv), "mean": _plain(report.cv["mean"]), "std": _plain(report.cv["std"])}
    start = time.perf_counter()
    pipeline.fit(X, y)
    summary["fit_seconds"] = time.perf_counter() - start
    summary["n_features"] = int(pipeline[-1].n_features_in_)
    summary["train_metrics"] = _plain(fastml.evaluate(pipeline, X, y).metrics)
    if out is not None:
        fastml.save(pipeline, out)
        summary["path"] = os.fspath(out)
    return pipeline, summary


def predict_table(model, data, *, proba=False):
    """Predictions of a saved (path) or fitted model on a table: a DataFrame with ``prediction`` (and one
    ``proba_<class>`` column per class when ``proba``)."""
    import pandas as pd

    model = _load(model)
    frame = read_table(data) if not hasattr(data, "columns") else data
    X = _model_columns(model, frame)
    out = pd.DataFrame({"prediction": model.predict(X)}, index=frame.index)
    if proba:
        if not hasattr(model, "predict_proba"):
            raise ValueError(f"{type(_final(model)).__name__} has no predict_proba (a regressor, or a loss without "
                             "probabilities)")
        probabilities = np.asarray(model.predict_proba(X))
        for k, label in enumerate(model.classes_):
            out[f"proba_{label}"] = probabilities[:, k]
    return out


def evaluate_table(model, data, target, *, report=None):
    """``fastml.evaluate`` of a saved (path) or fitted model on a table; writes the HTML report to
    ``report`` when given. Returns the EvaluationReport."""
    import fastml

    model = _load(model)
    frame = read_table(data) if not hasattr(data, "columns") else data
    X, y = _features(frame, target)
    result = fastml.evaluate(model, _model_columns(model, X), y)
    if report is not None:
        result.to_html(report)
    return result


def check_model_drift(model, X, *, alpha=0.05, tests="auto"):
    """``fastml.check_drift`` for a model or a Pipeline: a Pipeline's preprocessing is applied first, since
    the fingerprint is recorded by its final estimator on the data it was fitted on."""
    import fastml

    names = None
    if hasattr(model, "steps"):
        preprocess, model = model[:-1], model[-1]
        X = preprocess.transform(X)
        try:
            names = [str(name) for name in preprocess.get_feature_names_out()]
        except (AttributeError, ValueError):
            names = None
    report = fastml.check_drift(model, X, alpha=alpha, tests=tests)
    fingerprint = getattr(model, "fingerprint_", None)
    if names is not None and getattr(fingerprint, "feature_names", None) is None:
        # the fingerprint saw an unnamed array: name its rows after the preprocessed columns
        for row, name in zip(report.feature_rows, names):
            row["feature"] = name
    return report


def drift_table(model, data, *, alpha=0.05):
    """Drift check of a table against a saved (path) or fitted model's fingerprint: a DriftReport."""
    model = _load(model)
    frame = read_table(data) if not hasattr(data, "columns") else data
    return check_model_drift(model, _model_columns(model, frame), alpha=alpha)


def _load(model):
    if isinstance(model, (str, os.PathLike)):
        import fastml

        if not os.path.isfile(model):
            raise FileNotFoundError(f"no such model file: {os.fspath(model)!r}")
        return fastml.load(model)
    return model


def _final(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _plain(metrics):
    return {str(k): (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}
