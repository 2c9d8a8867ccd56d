"""Request bodies -> model input, strictly: every defect is a :class:`PayloadError` that names it.

Design: the body is parsed by ``json.loads`` with hooks that refuse ``NaN``/``Infinity`` tokens (Python's
json accepts them) and numbers that overflow to infinity (``1e400``), then one of MLflow's four payload
shapes is turned into rows of Python values, checked cell by cell (a number, finite, not a bool; a string
only in a column that feeds a OneHotEncoder), and assembled into what the model was fitted on: a float64
array, or a DataFrame with the model's column order when it was fitted with feature names. Nothing here
touches the model beyond reading its fitted input description (:class:`InputSchema`).
"""
import json
import math

import numpy as np

FORMATS = ("instances", "inputs", "dataframe_split", "dataframe_records")
OPTION_KEYS = ("return_probabilities",)


class PayloadError(Exception):
    """A request the server refuses; ``status`` is the HTTP status, ``str(error)`` the message."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


class _NonFinite(ValueError):
    pass


def _reject_constant(token):
    raise _NonFinite(f"{token} is not allowed: only finite numbers can be scored")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"number {text} overflows to infinity: only finite float64 values can be scored")
    return value


def parse_json(body):
    """Bytes -> JSON value, refusing non-UTF-8 text, NaN/Infinity tokens and overflowing numbers (400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"request body is not UTF-8 text: {exc}", 400) from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonFinite as exc:
        raise PayloadError(str(exc), 422) from None
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"malformed JSON: {exc}", 400) from None


# -- what the model takes -----------------------------------------------------------------------------------



def _first_step(model):
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        return _first_step(steps[0][1])
    return model


def _categorical_columns(model):
    """{column name: first known category} for the columns a ColumnTransformer routes to a OneHotEncoder."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    first = model.steps[0][1] if isinstance(getattr(model, "steps", None), list) and model.steps else model
    if not isinstance(first, ColumnTransformer):
        return {}
    found = {}
    for _, transformer, columns in getattr(first, "transformers_", []):
        inner = transformer.steps if isinstance(getattr(transformer, "steps", None), list) else [(None, transformer)]
        encoders = [step for _, step in inner if isinstance(step, OneHotEncoder)]
        if not encoders or not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
            continue
        categories = getattr(encoders[0], "categories_", None) or [[] for _ in columns]
        for name, levels in zip(columns, categories):
            found[name] = levels[0] if len(levels) else ""
    return found


class InputSchema:
    """What a fitted model takes: ``kind`` "numeric" (rows of numbers, some columns may be categorical) or
    "text" (one string per row, for a pipeline that starts with a HashingVectorizer)."""

    def __init__(self, model):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.kind = "text" if isinstance(_first_step(model), HashingVectorizer) else "numeric"
        names = getattr(model, "feature_names_in_", None)
        self.feature_names = None if names is None else [str(name) for name in names]
        n_features = getattr(model, "n_features_in_", None)
        if self.kind == "text":
            n_features = 1
        elif n_features is None and self.feature_names is not None:
            n_features = len(self.feature_names)
        if n_features is None:
            raise TypeError(f"cannot serve {type(model).__name__}: it is not fitted (no n_features_in_)")
        self.n_features = int(n_features)
        self.categorical = _categorical_columns(model) if self.feature_names is not None else {}
        self._index = None if self.feature_names is None else {n: j for j, n in enumerate(self.feature_names)}

    def describe(self):
        return {"kind": self.kind, "n_features": self.n_features, "feature_names": self.feature_names,
                "categorical_features": sorted(self.categorical)}

    def synthetic_rows(self, means=None):
        """One valid row for the warm-up prediction (the reference means when known, else zeros)."""
        if self.kind == "text":
            return ["warm up"]
        row = [0.0] * self.n_features if means is None else [float(v) if math.isfinite(v) else 0.0 for v in means]
        if len(row) != self.n_features:
            row = [0.0] * self.n_features
        for name, level in self.categorical.items():
            row[self._index[name]] = level
        return self.assemble([row])

    def assemble(self, rows):
        """Checked rows (lists in the model's column order) -> the object ``predict`` takes."""
        if self.kind == "text":
            return rows
        if self.feature_names is None:
            return np.array(rows, dtype=np.float64)
        import pandas as pd

        if not self.categorical:
            return pd.DataFrame(np.array(rows, dtype=np.float64), columns=self.feature_names)
        frame = pd.DataFrame(rows, columns=self.feature_names)
        for name in self.feature_names:
            if name not in self.categorical:
                frame[name] = frame[name].astype(np.float64)
        return frame

    # -- the payload shapes ---------------------------------------------------------------------------------
    def rows_from_payload(self, payload, max_rows):
        """A parsed JSON body -> (rows in the model's column order, return_probabilities or None)."""
        if not isinstance(payload, dict):
            raise PayloadError(f"the body must be a JSON object with one of the keys {list(FORMATS)}, "
                               f"got a JSON {_json_type(payload)}", 400)
        present = [key for key in FORMATS if key in payload]
        unknown = sorted(set(payload) - set(FORMATS) - set(OPTION_KEYS))
        if unknown:
            raise PayloadError(f"unknown keys in the body: {unknown}; expected one of {list(FORMATS)} "
                               f"and optionally {list(OPTION_KEYS)}", 400)
        if len(present) != 1:
            raise PayloadError(f"the body must have exactly one of the keys {list(FORMATS)}, got "
                               f"{present or 'none'}", 400)
        probabilities = payload.get("return_probabilities")
        if probabilities is not None and not isinstance(probabilities, bool):
            raise PayloadError(f"return_probabilities must be true or false, got {probabilities!r}", 400)
        key = present[0]
        data = payload[key]
        if key == "dataframe_split":
            columns, rows = self._split(data)
        elif key == "dataframe_records":
            columns, rows = self._records(data, key)
        elif key == "inputs" and isinstance(data, dict):
            columns, rows = self._columnar(data)
        else:
            if not isinstance(data, list):
                raise PayloadError(f"{key} must be a list of rows, got a JSON {_json_type(data)}")
            if data and all(isinstance(item, dict) for item in data):
                columns, rows = self._records(data, key)
            else:
                columns, rows = None, data
        if len(rows) == 0:
            raise PayloadError("empty batch: the payload has no rows to score")
        if len(rows) > max_rows:
            raise PayloadError(f"too many rows: {len(rows)} in one request, the limit is {max_rows}", 413)
        return self._check(columns, rows), probabilities

    def _split(self, data):
        if not isinstance(data, dict):
            raise PayloadError(f"dataframe_split must be an object with 'columns' and 'data', got a JSON "
                               f"{_json_type(data)}")
        unknown = sorted(set(data) - {"columns", "data", "index"})
        if unknown:
            raise PayloadError(f"unknown keys in dataframe_split: {unknown}; expected 'columns', 'data' "
                               "(and optional 'index')")
        if "data" not in data:
            raise PayloadError("dataframe_split has no 'data'")
        rows = data["data"]
        if not isinstance(rows, list):
            raise PayloadError(f"dataframe_split.data must be a list of rows, got a JSON {_json_type(rows)}")
        columns = data.get("columns")
        if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
            raise PayloadError("dataframe_split.columns must be a list of strings")
        return columns, rows

    def _records(self, data, key):
        if not isinstance(data, list):
            raise PayloadError(f"{key} must be a list of objects (one per row), got a JSON {_json_type(data)}")
        if not data:
            return None, []
        for i, record in enumerate(data):
            if not isinstance(record, dict):
                raise PayloadError(f"{key}[{i}] must be an object mapping column names to values, got a JSON "
                                   f"{_json_type(record)}")
        columns = list(data[0])
        expected = set(columns)
        for i, record in enumerate(data):
            if set(record) != expected:
                missing = sorted(expected - set(record))
                extra = sorted(set(record) - expected)
                raise PayloadError(f"ragged records: {key}[{i}] has different columns than {key}[0] "
                                   f"(missing {missing}, extra {extra})")
        return columns, [[record[c] for c in columns] for record in data]

    def _columnar(self, data):
        columns = list(data)
        for name, values in data.items():
            if not isinstance(values, list):
                raise PayloadError(f"inputs[{name!r}] must be a list of values, got a JSON {_json_type(values)}")
        lengths = {len(values) for values in data.values()}
        if len(lengths) > 1:
            raise PayloadError(f"ragged inputs: the columns have different lengths {sorted(lengths)}")
        n_rows = lengths.pop() if lengths else 0
        return columns, [[data[c][i] for c in columns] for i in range(n_rows)]

    def _order(self, columns):
        """Positions that bring payload ``columns`` into the model's order (None: already in order)."""
        if columns is None:
            return None
        if len(set(columns)) != len(columns):
            duplicates = sorted({c for c in columns if columns.count(c) > 1})
            raise PayloadError(f"duplicate column names: {duplicates}")
        if self.feature_names is None:
            if len(columns) != self.n_features:
                raise PayloadError(f"wrong number of features: got {len(columns)} columns, the model takes "
                                   f"{self.n_features}")
            return None
        missing = [name for name in self.feature_names if name not in set(columns)]
        unknown = [name for name in columns if name not in self._index]
        if missing or unknown:
            raise PayloadError(f"feature names do not match the model's: missing {missing}, unknown {unknown}")
        position = {name: j for j, name in enumerate(columns)}
        order = [position[name] for name in self.feature_names]
        return None if order == list(range(len(order))) else order

    def _check(self, columns, rows):
        if self.kind == "text":
            return self._check_text(columns, rows)
        order = self._order(columns)
        width = self.n_features
        # per column: None (a number), or the encoder's first category: a string category takes strings
        # only (a number there made the encoder raise a TypeError: HTTP 500), a numeric one numbers
        levels = [self.categorical.get(name) for name in self.feature_names] if self.categorical else None
        checked = []
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise PayloadError(f"row {i} must be a list of {width} values, got a JSON {_json_type(row)}")
            if len(row) != width:
                raise PayloadError(f"wrong number of features: row {i} has {len(row)} values, the model takes "
                                   f"{width}" + ("" if i == 0 else " (ragged rows)"))
            if order is not None:
                row = [row[j] for j in order]
            for j, value in enumerate(row):
                kind = type(value)
                level = None if levels is None else levels[j]
                if isinstance(level, str):
                    if kind is str:
                        continue
                    raise PayloadError(f"row {i}, feature {self._name(j)}: {_describe(value)} is not a category: "
                                       f"this column takes strings (e.g. {level!r})")
                if kind is float or (kind is int and _fits_float(value)):
                    continue
                raise PayloadError(f"row {i}, feature {self._name(j)}: {_describe(value)} is not "
                                   + ("a finite number" if kind is int else "a number"))
            checked.append(row)
        return checked

    def _check_text(self, columns, rows):
        if columns is not None and len(columns) != 1:
            raise PayloadError(f"wrong number of features: a text model takes one column, got {len(columns)}")
        texts = []
        for i, row in enumerate(rows):
            if isinstance(row, list):
                if len(row) != 1:
                    raise PayloadError(f"wrong number of features: row {i} has {len(row)} values, a text model "
                                       "takes one string per row")
                row = row[0]
            if not isinstance(row, str):
                raise PayloadError(f"row {i}: {_describe(row)} is not a string (this model scores text)")
            texts.append(row)
        return texts

    def _name(self, j):
        return repr(self.feature_names[j]) if self.feature_names is not None else str(j)


def _fits_float(value):
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _json_type(value):
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _describe(value):
    if value is None:
        return "null"
    text = json.dumps(value)
    return f"{_json_type(value)} {text[:40] + '...' if len(text) > 40 else text}"
