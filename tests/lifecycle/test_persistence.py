"""fastml.save / load / inspect: bitwise round trips, refusal of every kind of bad file, atomicity."""
import hashlib
import io
import json
import os
import pickle
import re
import struct
import subprocess
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

import fastml
from fastml.persistence import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 5))
Y_REG = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.3 * RNG.normal(size=80)
Y_BIN = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Y_MULTI = np.digitize(X[:, 0], [-0.4, 0.4])
X_TEST = RNG.normal(size=(30, 5))

ESTIMATORS = {
    "LinearRegression": (lambda: fastml.LinearRegression(), Y_REG),
    "Ridge": (lambda: fastml.Ridge(alpha=0.5), Y_REG),
    "RidgeCV": (lambda: fastml.RidgeCV(alphas=[0.1, 1.0, 10.0]), Y_REG),
    "Lasso": (lambda: fastml.Lasso(alpha=0.05), Y_REG),
    "ElasticNet": (lambda: fastml.ElasticNet(alpha=0.05, l1_ratio=0.3), Y_REG),
    "ElasticNetCV": (lambda: fastml.ElasticNetCV(alphas=5, cv=3), Y_REG),
    "LassoCV": (lambda: fastml.LassoCV(alphas=5, cv=3), Y_REG),
    "LogisticRegression": (lambda: fastml.LogisticRegression(), Y_MULTI),
    "LogisticRegressionCV": (lambda: fastml.LogisticRegressionCV(Cs=3, cv=3), Y_BIN),
    "SGDClassifier": (lambda: fastml.SGDClassifier(loss="log_loss", random_state=0), Y_MULTI),
    "SGDRegressor": (lambda: fastml.SGDRegressor(random_state=0), Y_REG),
    "PoissonRegressor": (lambda: fastml.PoissonRegressor(alpha=0.1), np.exp(0.3 * X[:, 0])),
}
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")


def assert_same_outputs(model, loaded, data):
    compared = 0
    for method in OUTPUT_METHODS:
        if hasattr(model, method):
            expected, actual = getattr(model, method)(data), getattr(loaded, method)(data)
            if hasattr(expected, "toarray"):
                expected, actual = expected.toarray(), actual.toarray()
            expected, actual = np.asarray(expected), np.asarray(actual)
            assert expected.dtype == actual.dtype, method
            assert np.array_equal(expected, actual), method  # bitwise: no tolerance
            compared += 1
    assert compared >= 1


def assert_same_params(model, loaded):
    expected, actual = model.get_params(deep=False), loaded.get_params(deep=False)
    assert set(expected) == set(actual)
    for name, value in expected.items():
        if hasattr(value, "get_params") or isinstance(value, list) and any(hasattr(v, "get_params") for v in value):
            continue  # nested estimators are compared through their outputs
        assert repr(actual[name]) == repr(value), name


def tree(path):
    """Every file below ``path`` with its content hash: to prove nothing was written."""
    result = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                result[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return result


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: factory().fit(X, y) for name, (factory, y) in ESTIMATORS.items()}


# -- round trips ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fitted_estimator_round_trip_is_bitwise(name, fitted, tmp_path):
    model = fitted[name]
    manifest = fastml.save(model, tmp_path / "model.fml")
    loaded = fastml.load(tmp_path / "model.fml")
    assert type(loaded) is type(model) and loaded is not model
    assert_same_outputs(model, loaded, X_TEST)
    assert_same_params(model, loaded)
    for attribute in ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_", "alpha_", "loss_curve_"):
        if hasattr(model, attribute):
            expected, actual = getattr(model, attribute), getattr(loaded, attribute)
            assert type(actual) is type(expected), attribute
            assert np.array_equal(expected, actual, equal_nan=True), attribute
            assert np.asarray(actual).dtype == np.asarray(expected).dtype, attribute
    assert manifest["estimator"] == f"fastml.{name}" and manifest["fitted"] is True
    assert manifest["training"]["n_features_in"] == 5
    assert "model.solver_info_" in manifest["skipped_attributes"]


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_unfitted_estimator_round_trip_keeps_params(name, tmp_path):
    model = ESTIMATORS[name][0]()
    manifest = fastml.save(model, tmp_path / "model.fml")
    loaded = fastml.load(tmp_path / "model.fml")
    assert type(loaded) is type(model) and manifest["fitted"] is False
    assert_same_params(model, loaded)
    assert not hasattr(loaded, "coef_")


def test_partial_fit_after_load_continues_from_coef(fitted, tmp_path):
    model = fitted["SGDRegressor"]
    fastml.save(model, tmp_path / "sgd.fml")
    loaded = fastml.load(tmp_path / "sgd.fml")
    loaded.partial_fit(X, Y_REG)
    assert np.isfinite(loaded.coef_).all() and loaded.score(X, Y_REG) > 0.9


def test_pandas_feature_names_and_string_classes(tmp_path):
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(5)])
    labels = np.array(["ham", "spam", "eggs"], dtype=object)[Y_MULTI]
    model = fastml.LogisticRegression().fit(frame, labels)
    manifest = fastml.save(model, tmp_path / "named.fml")
    loaded = fastml.load(tmp_path / "named.fml")
    test_frame = pd.DataFrame(X_TEST, columns=frame.columns)
    assert_same_outputs(model, loaded, test_frame)
    assert list(loaded.feature_names_in_) == list(frame.columns)
    assert manifest["feature_names"] == list(frame.columns)
    assert manifest["classes"] == ["eggs", "ham", "spam"]
    with pytest.raises(ValueError, match="feature names"):  # scikit-learn's name check still works
        loaded.predict(test_frame[frame.columns[::-1]])


def test_float32_model_keeps_float32(tmp_path):
    X32 = X.astype(np.float32)
    for model in (fastml.LogisticRegression().fit(X32, Y_BIN), fastml.Ridge().fit(X32, Y_REG)):
        fastml.save(model, tmp_path / "f32.fml")
        loaded = fastml.load(tmp_path / "f32.fml")
        assert loaded.coef_.dtype == np.float32
        assert_same_outputs(model, loaded, X_TEST.astype(np.float32))


def test_callbacks_are_dropped_with_a_warning(tmp_path):
    model = fastml.LogisticRegression(callbacks=[lambda info: False]).fit(X, Y_BIN)
    with pytest.warns(UserWarning, match="callables"):
        manifest = fastml.save(model, tmp_path / "cb.fml")
    assert manifest["dropped"][0]["path"] == "model.callbacks"
    loaded = fastml.load(tmp_path / "cb.fml")
    assert loaded.callbacks is None
    assert_same_outputs(model, loaded, X_TEST)


def _frame(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.lognormal(3, 1, n),
                          "city": rng.choice(["paris", "lyon", "nice"], n), "plan": rng.choice(["a", "b"], n)})
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    return frame


def _pipelines():
    frame = _frame(120, 1)
    target = (frame["income"] > 20).astype(int).to_numpy()
    columns = ColumnTransformer([
        ("numbers", Pipeline([("impute", SimpleImputer(add_indicator=True)), ("scale", StandardScaler())]),
         ["age", "income"]),
        ("categories", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                 ("encode", OneHotEncoder(handle_unknown="ignore"))]), ["city", "plan"]),
    ], remainder="drop")
    by_index = ColumnTransformer([("scale", MinMaxScaler(), [0, 1]), ("keep", "passthrough", [2])],
                                 remainder="passthrough")
    texts = ["cheap pills now", "meeting at noon", "win money now", "lunch tomorrow?"] * 5
    return {
        "scaler+logistic": (Pipeline([("scale", StandardScaler()), ("model", fastml.LogisticRegression())]),
                            X, Y_MULTI, X_TEST),
        "minmax+ridge": (Pipeline([("scale", MinMaxScaler()), ("model", fastml.Ridge())]), X, Y_REG, X_TEST),
        "columns+sgd": (Pipeline([("columns", columns),
                                  ("model", fastml.SGDClassifier(loss="log_loss", random_state=0))]),
                        frame, target, _frame(40, 2)),
        "columns-by-index": (by_index, X, None, X_TEST),
        "hashing+sgd": (Pipeline([("hash", HashingVectorizer(n_features=64, ngram_range=(1, 2))),
                                  ("model", fastml.SGDClassifier(random_state=0))]),
                        texts, np.array([1, 0, 1, 0] * 5), ["win pills", "noon lunch", "unknown words"]),
    }


@pytest.mark.parametrize("name", sorted(_pipelines()))
def test_pipeline_round_trip_is_bitwise(name, tmp_path):
    model, data, target, test_data = _pipelines()[name]
    assert fastml.save(model, tmp_path / "unfitted.fml")["fitted"] is False
    assert_same_params(model, fastml.load(tmp_path / "unfitted.fml"))
    model.fit(data, target)
    manifest = fastml.save(model, tmp_path / "pipeline.fml")
    assert manifest["fitted"] is True  # a Pipeline is fitted through its last step
    loaded = fastml.load(tmp_path / "pipeline.fml")
    assert_same_outputs(model, loaded, test_data)
    if hasattr(model, "steps"):
        assert_same_outputs(model[:-1], loaded[:-1], test_data)  # the transform of the preprocessing
    if name == "columns+sgd":
        assert manifest["feature_names"] == ["age", "income", "city", "plan"]
        assert list(loaded[:-1].get_feature_names_out()) == list(model[:-1].get_feature_names_out())


def test_callables_in_a_pipeline_are_refused(tmp_path):
    selector = ColumnTransformer([("scale", StandardScaler(), make_column_selector(dtype_include="number"))])
    function = Pipeline([("log", FunctionTransformer(np.log1p)), ("model", fastml.Ridge())])
    lambda_columns = ColumnTransformer([("scale", StandardScaler(), lambda frame: ["age"])])
    for model in (selector, function, lambda_columns):
        with pytest.raises(TypeError, match="callable"):
            fastml.save(model, tmp_path / "bad.fml")
    assert tree(tmp_path) == {}


def test_unsupported_classes_are_refused(tmp_path):
    from sklearn.linear_model import Ridge as ScikitRidge

    class MyRidge(fastml.Ridge):
        pass

    for model in (ScikitRidge(), MyRidge(), "not a model"):
        with pytest.raises(TypeError):
            fastml.save(model, tmp_path / "bad.fml")
    assert tree(tmp_path) == {}


def test_same_model_gives_same_bytes(fitted, tmp_path):
    fastml.save(fitted["Ridge"], tmp_path / "a.fml")
    fastml.save(fitted["Ridge"], tmp_path / "b.fml")
    assert (tmp_path / "a.fml").read_bytes() == (tmp_path / "b.fml").read_bytes()


# -- inspect --------------------------------------------------------------------------------------
def test_inspect_reads_the_manifest_without_arrays(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.fml"
    saved = fastml.save(fitted["LogisticRegression"], path)
    monkeypatch.setattr(np, "load", lambda *args, **kwargs: pytest.fail("inspect loaded an array"))
    manifest = fastml.inspect(path)
    assert manifest == saved
    assert manifest["format_version"] == 1 and manifest["estimator"] == "fastml.LogisticRegression"
    assert set(manifest["created_by"]) >= {"fastml", "numpy", "scikit-learn"}
    assert manifest["classes"] == [0, 1, 2]
    assert manifest["training"]["n_iter"] == int(fitted["LogisticRegression"].n_iter_[0])
    names = {entry["name"]: entry for entry in manifest["arrays"]}
    assert names["model.coef_"]["shape"] == [3, 5] and names["model.coef_"]["dtype"] == "<f8"
    assert len(names["model.coef_"]["sha256"]) == 64


# -- fuzzing --------------------------------------------------------------------------------------
def _load_or_refuse(path, reference, data):
    """Either ModelFileError, or a model predicting exactly as ``reference``; any other outcome fails."""
    try:
        loaded = fastml.load(path)
    except ModelFileError:
        return "refused"
    assert_same_outputs(reference, loaded, data)
    return "loaded"


def test_truncated_files_are_refused(fitted, tmp_path):
    model = fitted["LogisticRegression"]
    fastml.save(model, tmp_path / "model.fml")
    content = (tmp_path / "model.fml").read_bytes()
    cut = tmp_path / "cut.fml"
    for length in np.unique(np.linspace(0, len(content) - 1, 64).astype(int)):
        cut.write_bytes(content[:length])
        assert _load_or_refuse(cut, model, X_TEST) == "refused", length
        with pytest.raises(ModelFileError):  # every cut loses part of the zip's end record
            fastml.inspect(cut)


def test_random_bit_flips_are_refused_or_harmless(fitted, tmp_path):
    model = fitted["LogisticRegression"]
    fastml.save(model, tmp_path / "model.fml", compress=False)
    content = bytearray((tmp_path / "model.fml").read_bytes())
    rng = np.random.default_rng(12345)
    flipped = tmp_path / "flipped.fml"
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(200):
        position, bit = int(rng.integers(len(content))), int(rng.integers(8))
        damaged = bytearray(content)
        damaged[position] ^= 1 << bit
        flipped.write_bytes(bytes(damaged))
        outcomes[_load_or_refuse(flipped, model, X_TEST)] += 1
    print(f"\n200 bit flips: {outcomes}")
    assert outcomes["refused"] > 150  # the few harmless ones hit bytes zip ignores (times, attributes)


def test_bit_flips_in_a_compressed_file(fitted, tmp_path):
    model = fitted["Ridge"]
    fastml.save(model, tmp_path / "model.fml")
    content = (tmp_path / "model.fml").read_bytes()
    rng = np.random.default_rng(7)
    for _ in range(50):
        damaged = bytearray(content)
        damaged[int(rng.integers(len(content)))] ^= 1 << int(rng.integers(8))
        (tmp_path / "flipped.fml").write_bytes(bytes(damaged))
        _load_or_refuse(tmp_path / "flipped.fml", model, X_TEST)


# -- hand-made malicious files --------------------------------------------------------------------
@pytest.fixture
def good_members(fitted, tmp_path):
    path = tmp_path / "good.fml"
    fastml.save(fitted["LogisticRegression"], path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    path.unlink()
    return members


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def edit_manifest(members, edit):
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    return {**members, "manifest.json": json.dumps(manifest).encode()}


@pytest.fixture
def sentinel(monkeypatch):
    """Record any call to os.system, subprocess.Popen or pickle loading while a test runs."""
    calls = EXPLOITED
    calls.clear()
    monkeypatch.setattr(os, "system", lambda *args, **kwargs: calls.append(("os.system", args)))
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: calls.append(("Popen", args)))
    monkeypatch.setattr(pickle, "loads", lambda *args, **kwargs: calls.append(("pickle.loads", args)))
    monkeypatch.setattr(pickle, "load", lambda *args, **kwargs: calls.append(("pickle.load", args)))
    return calls


EXPLOITED = []


def _record_exploit(*args):
    EXPLOITED.append(args)


class _Exploit:
    """Unpickling this object calls _record_exploit: proof that a file was unpickled."""

    def __reduce__(self):
        return (_record_exploit, ("pwned",))


def _object_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Exploit()], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _malicious_files(members):
    first_array = next(name for name in members if name != "manifest.json")

    def set_class(name):
        return lambda manifest: manifest["model"].__setitem__("class", name)

    def object_array_claiming(dtype):
        def edit(manifest):
            entry = next(e for e in manifest["arrays"] if e["member"] == first_array)
            entry.update(dtype=dtype, shape=[1], sha256=hashlib.sha256(_object_npy()).hexdigest())
        return {**edit_manifest(members, edit), first_array: _object_npy()}

    def huge_shape():  # a .npy header promising 8 TB of data, with 8 bytes behind it
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (10**12,)})
        data = header.getvalue() + b"\0" * 8

        def edit(manifest):
            entry = next(e for e in manifest["arrays"] if e["member"] == first_array)
            entry.update(dtype="<f8", shape=[10**12], sha256=hashlib.sha256(data).hexdigest())
        return {**edit_manifest(members, edit), first_array: data}

    def nested_class(manifest):
        manifest["model"]["params"]["penalty"] = {"$estimator": {"class": "subprocess.Popen",
                                                                 "params": {"args": "echo pwned"}, "fitted": {}}}

    return {
        "parent-path member": ({**members, "../evil.npy": b"x"}, "unsafe member name"),
        "absolute member": ({**members, "/tmp/evil.npy": b"x"}, "unsafe member name"),
        "backslash member": ({**members, "..\\evil.npy": b"x"}, "unsafe member name"),
        "os.system class": (edit_manifest(members, set_class("os.system")), "unknown estimator class"),
        "subprocess.Popen class": (edit_manifest(members, set_class("subprocess.Popen")), "unknown estimator"),
        "nested Popen": (edit_manifest(members, nested_class), "unknown estimator class|invalid estimator"),
        "object npy (manifest says object)": (object_array_claiming("|O"), "arrays table"),
        "object npy (manifest says float)": (object_array_claiming("<f8"), "pickle|object"),
        "huge declared shape": (huge_shape(), "shorter than its shape"),
        "format 999": (edit_manifest(members, lambda m: m.__setitem__("format_version", 999)), "newer"),
        "missing array": ({k: v for k, v in members.items() if k != first_array}, "missing"),
        "extra array member": ({**members, "array_99999.npy": members[first_array]}, "not listed"),
        "extra other member": ({**members, "notes.txt": b"hello"}, "unexpected member"),
        "no manifest": ({k: v for k, v in members.items() if k != "manifest.json"}, "no manifest"),
        "manifest not json": ({**members, "manifest.json": b"{not json"}, "not valid JSON"),
        "manifest NaN": ({**members, "manifest.json": b'{"format": NaN}'}, "not valid JSON"),
        "wrong checksum": ({**members, first_array: members[first_array][:-8] + b"\0" * 8}, "sha256"),
        "unknown attribute": (edit_manifest(members, lambda m: m["model"]["fitted"].__setitem__(
            "__class__", None)), "not allowed"),
        "unknown parameter": (edit_manifest(members, lambda m: m["model"]["params"].__setitem__(
            "evil", 1)), "no parameters"),
        "unknown value tag": (edit_manifest(members, lambda m: m["model"]["params"].__setitem__(
            "C", {"$pickle": "gASV"})), "unknown value tag"),
        # a manifest has no checksum: edited fitted attributes once loaded, and predict then raised a raw
        # AttributeError / TypeError (persistence._fitted_check)
        "coef_ a number": (edit_manifest(members, lambda m: m["model"]["fitted"].__setitem__("coef_", 3.0)),
                           "coef_ must be a 1-D or 2-D float array"),
        "classes_ null": (edit_manifest(members, lambda m: m["model"]["fitted"].__setitem__("classes_", None)),
                          "classes_ must be an array"),
        "coef_ removed": (edit_manifest(members, lambda m: m["model"]["fitted"].pop("coef_")), "has no coef_"),
        "n_features_in_ changed": (edit_manifest(members, lambda m: m["model"]["fitted"].__setitem__(
            "n_features_in_", 7)), "n_features_in_ is 7"),
    }


MALICIOUS_CASES = [
    "parent-path member", "absolute member", "backslash member", "os.system class", "subprocess.Popen class",
    "nested Popen", "object npy (manifest says object)", "object npy (manifest says float)", "huge declared shape", "format 999",
    "missing array", "extra array member", "extra other member", "no manifest", "manifest not json",
    "manifest NaN", "wrong checksum", "unknown attribute", "unknown parameter", "unknown value tag",
    "coef_ a number", "classes_ null", "coef_ removed", "n_features_in_ changed",
]


def test_every_malicious_case_is_listed(good_members):
    assert sorted(_malicious_files(good_members)) == sorted(MALICIOUS_CASES)


@pytest.mark.parametrize("case", MALICIOUS_CASES)
def test_malicious_file_is_refused(case, good_members, tmp_path, sentinel):
    members, message = _malicious_files(good_members)[case]
    target = tmp_path / "target"
    target.mkdir()
    path = write_zip(target / "model.fml", members)
    before = tree(tmp_path)
    with pytest.raises(ModelFileError, match=message):
        fastml.load(path)
    assert sentinel == [] and tree(tmp_path) == before
    assert not os.path.exists(tmp_path / "evil.npy")


def test_pickle_file_is_refused(tmp_path, sentinel, fitted):
    path = tmp_path / "model.zip"
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ModelFileError, match="pickle"):
        fastml.load(path)
    import joblib

    joblib.dump(fitted["Ridge"], tmp_path / "joblib.zip")
    with pytest.raises(ModelFileError, match="pickle"):
        fastml.load(tmp_path / "joblib.zip")
    assert sentinel == []


def _set_declared_size(content, member, size):
    """Rewrite the uncompressed size of ``member`` in its local header and central directory."""
    content = bytearray(content)
    name = member.encode()
    for signature, offset, name_offset in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := content.find(signature, start)) >= 0:
            if content[start + name_offset:start + name_offset + len(name)] == name:
                content[start + offset:start + offset + 4] = struct.pack("<I", size)
            start += 4
    return bytes(content)


def test_zip_bombs_are_refused(good_members, tmp_path, sentinel):
    # a real bomb: 8 MiB of zeros deflates to a few KiB, over a 1 MiB cap per array
    zeros = io.BytesIO()
    np.save(zeros, np.zeros(1 << 20))
    bomb = tmp_path / "bomb.fml"
    member = next(name for name in good_members if name != "manifest.json")
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in good_members.items():
            archive.writestr(name, zeros.getvalue() if name == member else data)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ModelFileError, match="zip bomb"):
        fastml.load(bomb, max_array_bytes=1 << 20)
    # a huge declared size (4 GiB) is refused from the directory, before any decompression
    write_zip(tmp_path / "good.fml", good_members)
    huge = tmp_path / "huge.fml"
    huge.write_bytes(_set_declared_size((tmp_path / "good.fml").read_bytes(), member, 0xFFFFFFF0))
    with pytest.raises(ModelFileError, match="zip bomb"):
        fastml.load(huge)
    # a declared size smaller than the data: the read stops at the declared size and fails its check
    small = tmp_path / "small.fml"
    small.write_bytes(_set_declared_size((tmp_path / "good.fml").read_bytes(), member, 16))
    with pytest.raises(ModelFileError):
        fastml.load(small)
    assert sentinel == []


def test_limits_are_configurable(fitted, tmp_path):
    model = fitted["LogisticRegressionCV"]
    with pytest.raises(ValueError, match="max_total_bytes"):
        fastml.save(model, tmp_path / "big.fml", max_total_bytes=1000)
    assert tree(tmp_path) == {}
    fastml.save(model, tmp_path / "model.fml")
    with pytest.raises(ModelFileError, match="max_members"):
        fastml.load(tmp_path / "model.fml", max_members=3)
    with pytest.raises(ModelFileError, match="manifest.json"):
        fastml.load(tmp_path / "model.fml", max_manifest_bytes=100)
    with pytest.raises(ValueError, match="positive integer"):
        fastml.load(tmp_path / "model.fml", max_members=0)
    with pytest.raises(TypeError):
        fastml.load(tmp_path / "model.fml", max_everything=1)


def test_missing_path_keeps_its_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastml.load(tmp_path / "absent.fml")


# -- atomic save ----------------------------------------------------------------------------------
def test_save_to_a_directory_or_a_missing_one_names_the_path(fitted, tmp_path):
    """The error named the hidden temporary file ('.model.fml.x1y2.tmp'), not the path given."""
    with pytest.raises(IsADirectoryError, match=re.escape(repr(str(tmp_path)))):
        fastml.save(fitted["Ridge"], tmp_path)
    target = tmp_path / "no such dir" / "model.fml"
    with pytest.raises(FileNotFoundError, match="no directory"):
        fastml.save(fitted["Ridge"], target)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_the_previous_file_intact(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.fml"
    fastml.save(fitted["Ridge"], path)
    previous = path.read_bytes()
    original_save, calls = np.save, []

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # fail mid-way: after the first array is written to the temporary file
            raise OSError("disk full")
        return original_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        fastml.save(fitted["LogisticRegression"], path)
    assert len(calls) == 2
    assert path.read_bytes() == previous
    assert sorted(os.listdir(tmp_path)) == ["model.fml"]
    monkeypatch.undo()
    assert_same_outputs(fitted["Ridge"], fastml.load(path), X_TEST)


# -- drift fingerprint ----------------------------------------------------------------------------
class FakeFingerprint:
    """Stands in for fastml.drift.Fingerprint: the persistence side of its to_state/from_state contract."""

    def __init__(self, state, arrays):
        self.state, self.arrays = state, arrays

    def to_state(self):
        return self.state, self.arrays

    @classmethod
    def from_state(cls, state, arrays):
        return cls(state, arrays)


def test_fingerprint_state_round_trips(fitted, tmp_path, monkeypatch):
    import fastml.drift

    monkeypatch.setattr(fastml.drift, "Fingerprint", FakeFingerprint, raising=False)
    model = fastml.Ridge().fit(X, Y_REG)
    state = {"n_samples": 80, "features": ["a", "b"], "alpha": 0.01, "missing": float("nan")}
    arrays = {"quantiles": RNG.normal(size=(5, 11)), "counts": np.arange(4, dtype=np.int64)}
    model.fingerprint_ = FakeFingerprint(state, arrays)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", model)])
    pipeline[0].fit(X)
    manifest = fastml.save(pipeline, tmp_path / "fp.fml")
    assert manifest["training"]["n_samples_seen"] == 80 and manifest["fingerprint"] is not None
    loaded = fastml.load(tmp_path / "fp.fml")
    restored = loaded[-1].fingerprint_
    assert isinstance(restored, FakeFingerprint)
    assert restored.state.keys() == state.keys() and np.isnan(restored.state["missing"])
    assert restored.state["features"] == ["a", "b"] and restored.state["alpha"] == 0.01
    for name, array in arrays.items():
        assert restored.arrays[name].dtype == array.dtype and np.array_equal(restored.arrays[name], array)


def test_real_fingerprint_round_trips(tmp_path):
    import fastml.drift

    if not hasattr(fastml.drift, "Fingerprint"):
        pytest.skip("fastml.drift.Fingerprint is not written yet")
    model = fastml.LogisticRegression().fit(X, Y_BIN)
    if not hasattr(model, "fingerprint_"):
        pytest.skip("estimators do not record fingerprint_ yet")
    fastml.save(model, tmp_path / "fp.fml")
    loaded = fastml.load(tmp_path / "fp.fml")
    expected_state, expected_arrays = model.fingerprint_.to_state()
    actual_state, actual_arrays = loaded.fingerprint_.to_state()
    assert json.dumps(actual_state, sort_keys=True, default=str) == json.dumps(expected_state, sort_keys=True,
                                                                                default=str)
    for name, array in expected_arrays.items():
        assert np.array_equal(actual_arrays[name], array, equal_nan=True)
