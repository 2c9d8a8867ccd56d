"""Describe an estimator tree as JSON plus a list of arrays, and rebuild it from that description.

Design: one recursive encoder for every value an estimator holds. JSON scalars stay as they are;
everything else becomes a one-key object whose key starts with "$":

==================  ==================================================  ============================
value               encoded as                                          rebuilt as
==================  ==================================================  ============================
non-finite float    {"$float": "nan" | "inf" | "-inf"}                  float
ndarray (numeric,   {"$array": member}: one ``.npy`` member             the ndarray, bit for bit
string)
numpy scalar        {"$scalar": member}: a 0-d ``.npy`` member          the same numpy scalar type
object ndarray      {"$objects": {"shape": [...], "items": [...]}}      object ndarray of JSON items
tuple / dict        {"$tuple": [...]} / {"$dict": [[key, value], ...]}  tuple / dict (any keys)
slice               {"$slice": [start, stop, step]}                     slice
numpy dtype / type  {"$dtype": "<f8"} / {"$dtype_type": "<f8"}          np.dtype / np.float64
fastml Loss         {"$loss": {"name": ..., "param": ...}}              the registered Loss
estimator           {"$estimator": {"class", "params", "fitted"}}       class from the registry
drift fingerprint   {"$fingerprint": {"state": ..., "arrays": ...}}     fastml.drift.Fingerprint
==================  ==================================================  ============================

Callables (functions, lambdas, column selectors) and any other type are refused when saving, with
the path of the value in the error. The decoder accepts exactly these forms and nothing else.
"""
import math
import numbers
import re
import warnings

import numpy as np

from ._errors import ModelFileError
from ._format import ARRAY_DTYPE, array_member_name
from ._registry import spec_for_name, spec_for_object

_DTYPE_NAME = re.compile(r"[<>|=]?(b1|[iuf]\d{1,2}|c\d{1,2}|[US]\d{1,9}|O)")
_OBJECT_ITEM_TYPES = (type(None), bool, int, float, str)


class Encoder:
    """Collects the arrays and notes while :meth:`estimator` describes a tree of estimators."""

    def __init__(self):
        self.arrays = []        # ndarrays, member array_{index}.npy
        self.table = []         # manifest rows: member and name (shape, dtype, sha256 added on write)
        self.dropped = []       # parameters saved as None
        self.skipped = []       # fitted attributes not saved
        self.fingerprints = []  # (path, encoded json state) of every fingerprint, outermost first

    # -- estimators -------------------------------------------------------------------------------
    def estimator(self, estimator, path):
        spec = spec_for_object(estimator)
        params = estimator.get_params(deep=False)
        encoded_params = {}
        for name, value in params.items():
            if name in spec.dropped_params and value is not None:
                self.dropped.append({"path": f"{path}.{name}", "reason": "callables are never saved; set to None"})
                warnings.warn(f"fastml.save: {path}.{name} holds callables, which are never saved; the loaded "
                              f"model has {name}=None", UserWarning, stacklevel=4)
                value = None
            encoded_params[name] = self.value(value, f"{path}.{name}")
        fitted = {}
        for name, value in vars(estimator).items():
            if name in params:
                continue
            if name in spec.skipped:
                self.skipped.append(f"{path}.{name}")
            elif not spec.allows(name):
                raise TypeError(f"fastml.save: {path} ({spec.cls.__name__}) has the attribute {name!r}, which "
                                "fastml's persistence registry does not know; refusing to save a model that "
                                "might not predict identically once loaded")
            elif name == "fingerprint_":
                fitted[name] = self.fingerprint(value, f"{path}.{name}")
            else:
                fitted[name] = self.value(value, f"{path}.{name}")
        return {"class": spec.name, "params": encoded_params, "fitted": fitted}

    def fingerprint(self, fingerprint, path):
        if not hasattr(fingerprint, "to_state"):
            raise TypeError(f"fastml.save: {path} has no to_state() method; cannot save the drift fingerprint")
        state, arrays = fingerprint.to_state()
        encoded_state = self.value(state, f"{path}.state")
        encoded_arrays = {}
        for name, array in arrays.items():
            if not isinstance(name, str) or not isinstance(array, np.ndarray):
                raise TypeError(f"fastml.save: {path}.to_state() must return arrays as {{str: ndarray}}")
            encoded_arrays[name] = self.value(array, f"{path}.{name}")
        self.fingerprints.append((path, encoded_state))
        return {"$fingerprint": {"state": encoded_state, "arrays": encoded_arrays}}

    # -- values -----------------------------------------------------------------------------------
    def add_array(self, array, path):
        member = array_member_name(len(self.arrays))
        self.arrays.append(array)
        self.table.append({"member": member, "name": path})
        return member

    def value(self, value, path):
        from sklearn.base import BaseEstimator

        from .._loss import Loss

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) is int:
            return value
        if type(value) is float:
            if math.isfinite(value):
                return value
            return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
        if type(value) is np.ndarray:
            if value.dtype.hasobject:
                return {"$objects": {"shape": list(value.shape),
                                     "items": [self._object_item(item, path) for item in value.ravel().tolist()]}}
            self._check_array_dtype(value.dtype, path)
            return {"$array": self.add_array(value, path)}
        if isinstance(value, np.generic):
            self._check_array_dtype(value.dtype, path)
            return {"$scalar": self.add_array(np.asarray(value), path)}
        if isinstance(value, np.dtype):
            return {"$dtype": self._dtype_name(value, path)}
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"$dtype_type": self._dtype_name(np.dtype(value), path)}
        if type(value) is list:
            return [self.value(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if type(value) is tuple:
            return {"$tuple": [self.value(item, f"{path}[{index}]") for index, item in enumerate(value)]}
        if type(value) is dict:
            return {"$dict": [[self.value(key, f"{path}.<key>"), self.value(item, f"{path}[{key!r}]")]
                              for key, item in value.items()]}
        if type(value) is slice:
            return {"$slice": [self.value(part, path) for part in (value.start, value.stop, value.step)]}
        if isinstance(value, Loss):
            return {"$loss": {"name": value.name, "param": self.value(float(value.param), path)}}
        if isinstance(value, BaseEstimator):
            return {"$estimator": self.estimator(value, path)}
        if callable(value):
            raise TypeError(f"fastml.save: {path} is a callable ({value!r}); functions, lambdas and column "
                            "selectors are never saved (no pickle). Use column names or indices instead.")
        raise TypeError(f"fastml.save: {path} holds a {type(value).__name__}, which fastml model files cannot "
                        "describe")

    def _object_item(self, item, path):
        if isinstance(item, numbers.Integral) and not isinstance(item, bool) and type(item) is not int:
            item = int(item)
        elif isinstance(item, numbers.Real) and not isinstance(item, (bool, int)) and type(item) is not float:
            item = float(item)
        elif isinstance(item, np.str_):
            item = str(item)
        if not isinstance(item, _OBJECT_ITEM_TYPES):
            raise TypeError(f"fastml.save: {path} is an object array holding a {type(item).__name__}; only "
                            "None, bool, int, float and str items can be saved")
        return self.value(item, path)

    @staticmethod
    def _check_array_dtype(dtype, path):
        if not ARRAY_DTYPE.fullmatch(dtype.str):
            raise TypeError(f"fastml.save: {path} has dtype {dtype}, which model files do not support")

    @staticmethod
    def _dtype_name(dtype, path):
        if not _DTYPE_NAME.fullmatch(dtype.str):
            raise TypeError(f"fastml.save: {path} is the dtype {dtype}, which model files do not support")
        return dtype.str


class Decoder:
    """Rebuilds values from their description; ``arrays`` maps member names to verified arrays."""

    def __init__(self, arrays):
        self.arrays = arrays
        self._referenced = set()  # members already handed out: a second reference gets a copy

    def estimator(self, description, path):
        if not isinstance(description, dict) or set(description) != {"class", "params", "fitted"}:
            raise ModelFileError(f"{path}: invalid estimator description")
        spec = spec_for_name(description["class"])
        if spec is None:
            raise ModelFileError(f"{path}: unknown estimator class {str(description['class'])[:100]!r}; only "
                                 "fastml's registered classes can be loaded")
        params, fitted = description["params"], description["fitted"]
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise ModelFileError(f"{path}: invalid estimator description")
        allowed_params = set(spec.cls._get_param_names())
        unknown = set(params) - allowed_params
        if unknown:
            raise ModelFileError(f"{path}: {spec.cls.__name__} has no parameters {sorted(unknown)[:5]}")
        decoded_params = {name: self.value(value, f"{path}.{name}") for name, value in params.items()}
        decoded_fitted = {}
        for name, value in fitted.items():
            if not spec.allows(name):
                raise ModelFileError(f"{path}: attribute {str(name)[:100]!r} is not allowed on {spec.cls.__name__}")
            if name == "fingerprint_":
                decoded_fitted[name] = self.fingerprint(value, f"{path}.{name}")
            else:
                decoded_fitted[name] = self.value(value, f"{path}.{name}")
        estimator = spec.cls(**decoded_params)
        for name, value in decoded_fitted.items():
            setattr(estimator, name, value)
        return estimator

    def fingerprint(self, description, path):
        body = _tagged(description, "$fingerprint", path)
        if not isinstance(body, dict) or set(body) != {"state", "arrays"} or not isinstance(body["arrays"], dict):
            raise ModelFileError(f"{path}: invalid fingerprint description")
        from .. import drift

        fingerprint_class = getattr(drift, "Fingerprint", None)
        if fingerprint_class is None:
            raise ModelFileError(f"{path}: the file holds a drift fingerprint but this fastml has no "
                                 "fastml.drift.Fingerprint to rebuild it")
        state = self.value(body["state"], f"{path}.state")
        arrays = {}
        for name, value in body["arrays"].items():
            array = self.value(value, f"{path}.{name}")
            if not isinstance(array, np.ndarray):
                raise ModelFileError(f"{path}.{name}: a fingerprint array must be an array")
            arrays[name] = array
        return fingerprint_class.from_state(state, arrays)

    def value(self, value, path):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.value(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, dict) or len(value) != 1:
            raise ModelFileError(f"{path}: invalid value description")
        (tag, body), = value.items()
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise ModelFileError(f"{path}: invalid float {str(body)[:20]!r}")
            return float(body)
        if tag in ("$array", "$scalar"):
            if not isinstance(body, str) or body not in self.arrays:
                raise ModelFileError(f"{path}: refers to a missing array {str(body)[:40]!r}")
            array = self.arrays[body]
            if tag == "$array":
                if body in self._referenced:
                    return array.copy()
                self._referenced.add(body)
                return array
            if array.ndim != 0:
                raise ModelFileError(f"{path}: a scalar must be stored as a 0-d array")
            return array[()]
        if tag == "$objects":
            if not isinstance(body, dict) or set(body) != {"shape", "items"} or not isinstance(body["items"], list):
                raise ModelFileError(f"{path}: invalid object array")
            shape = body["shape"]
            if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)
                    and math.prod(shape) == len(body["items"])):
                raise ModelFileError(f"{path}: object array shape does not match its items")
            items = [self.value(item, path) for item in body["items"]]
            if not all(isinstance(item, _OBJECT_ITEM_TYPES) for item in items):
                raise ModelFileError(f"{path}: object arrays may only hold None, bool, int, float and str")
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        if tag == "$tuple":
            return tuple(self.value(_list(body, path), path))
        if tag == "$dict":
            result = {}
            for pair in _list(body, path):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ModelFileError(f"{path}: invalid dict entry")
                key = self.value(pair[0], f"{path}.<key>")
                try:
                    result[key] = self.value(pair[1], f"{path}[{key!r}]")
                except TypeError as exc:  # unhashable key
                    raise ModelFileError(f"{path}: invalid dict key") from exc
            return result
        if tag == "$slice":
            parts = [self.value(part, path) for part in _list(body, path)]
            if len(parts) != 3 or not all(part is None or type(part) is int for part in parts):
                raise ModelFileError(f"{path}: invalid slice")
            return slice(*parts)
        if tag in ("$dtype", "$dtype_type"):
            if not isinstance(body, str) or not _DTYPE_NAME.fullmatch(body):
                raise ModelFileError(f"{path}: invalid dtype {str(body)[:20]!r}")
            dtype = np.dtype(body)
            return dtype if tag == "$dtype" else dtype.type
        if tag == "$loss":
            return self._loss(body, path)
        if tag == "$estimator":
            return self.estimator(body, path)
        raise ModelFileError(f"{path}: unknown value tag {str(tag)[:40]!r}")

    def _loss(self, body, path):
        from .._loss import LOSSES

        if not isinstance(body, dict) or set(body) != {"name", "param"} or body["name"] not in LOSSES:
            raise ModelFileError(f"{path}: unknown loss")
        loss = LOSSES[body["name"]]
        param = self.value(body["param"], path)
        if not isinstance(param, float):
            raise ModelFileError(f"{path}: invalid loss parameter")
        return loss if param == loss.param else loss.with_param(param)


def _tagged(value, tag, path):
    if not isinstance(value, dict) or set(value) != {tag}:
        raise ModelFileError(f"{path}: expected {tag}")
    return value[tag]


def _list(body, path):
    if not isinstance(body, list):
        raise ModelFileError(f"{path}: invalid value description")
    return body
