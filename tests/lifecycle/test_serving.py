"""The model server: validation matrix, payload formats, probabilities, health/ready/metadata/metrics
(in-process TestClient), serve() wiring, and one real uvicorn on loopback under 32 concurrent clients."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402

import fastml  # noqa: E402
from fastml.serving import ServerConfig, create_app, serve  # noqa: E402
from fastml.serving._server import is_loopback  # noqa: E402

N_FEATURES = 4
NAMES = ["age", "income", "score", "tenure"]


# -- models -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, N_FEATURES))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.standard_normal(400), [-0.5, 0.5])  # 3 classes
    return X, y


@pytest.fixture(scope="module")
def classifier(data):
    X, y = data
    return fastml.LogisticRegression().fit(X, y)


@pytest.fixture(scope="module")
def regressor(data):
    X, _ = data
    return fastml.Ridge(alpha=1.0).fit(X, X @ np.array([1.0, -2.0, 0.5, 3.0]))


@pytest.fixture(scope="module")
def named_pipeline(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    return make_pipeline(StandardScaler(), fastml.LogisticRegression()).fit(pd.DataFrame(X, columns=NAMES), y)


def ready_client(app, **kwargs):
    client = TestClient(app, **kwargs)
    client.__enter__()
    deadline = time.monotonic() + 30
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "server not ready after 30 s"
        time.sleep(0.02)
    return client


@pytest.fixture(scope="module")
def client(classifier):
    c = ready_client(create_app(classifier, max_body_bytes=20_000, max_rows=50))
    yield c
    c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def named_client(named_pipeline):
    c = ready_client(create_app(named_pipeline))
    yield c
    c.__exit__(None, None, None)


def post(client, body, path="/predict", content_type="application/json", **kwargs):
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, content=content, headers={"content-type": content_type}, **kwargs)


# -- validation matrix --------------------------------------------------------------------------------------
ROW = [0.1, -0.2, 0.3, 0.4]
BAD_REQUESTS = [
    # (id, method, path, body, content type, status, words the error must contain)
    ("malformed-json", "POST", "/predict", b'{"instances": [[1, 2', "application/json", 400, "malformed JSON"),
    ("empty-body", "POST", "/predict", b"", "application/json", 400, "malformed JSON"),
    ("not-utf8", "POST", "/predict", b'{"instances": [["\xff"]]}', "application/json", 400, "UTF-8"),
    ("not-an-object", "POST", "/predict", b"[[1, 2, 3, 4]]", "application/json", 400, "JSON object"),
    ("no-format-key", "POST", "/predict", b'{"rows": [[1, 2, 3, 4]]}', "application/json", 400, "unknown keys"),
    ("two-format-keys", "POST", "/predict", json.dumps({"instances": [ROW], "inputs": [ROW]}).encode(),
     "application/json", 400, "exactly one"),
    ("nan-token", "POST", "/predict", b'{"instances": [[NaN, 1, 2, 3]]}', "application/json", 422, "NaN"),
    ("infinity-token", "POST", "/predict", b'{"instances": [[1, Infinity, 2, 3]]}', "application/json", 422,
     "Infinity"),
    ("neg-infinity", "POST", "/predict", b'{"instances": [[1, -Infinity, 2, 3]]}', "application/json", 422,
     "Infinity"),
    ("overflow-1e400", "POST", "/predict", b'{"instances": [[1e400, 1, 2, 3]]}', "application/json", 422,
     "overflows"),
    ("huge-int", "POST", "/predict", ('{"instances": [[1' + "0" * 400 + ', 1, 2, 3]]}').encode(),
     "application/json", 422, "finite number"),
    ("string-value", "POST", "/predict", json.dumps({"instances": [[1, "2", 3, 4]]}).encode(), "application/json",
     422, "not a number"),
    ("bool-value", "POST", "/predict", json.dumps({"instances": [[1, True, 3, 4]]}).encode(), "application/json",
     422, "not a number"),
    ("null-value", "POST", "/predict", json.dumps({"instances": [[1, None, 3, 4]]}).encode(), "application/json",
     422, "not a number"),
    ("nested-value", "POST", "/predict", json.dumps({"instances": [[1, [2], 3, 4]]}).encode(), "application/json",
     422, "not a number"),
    ("too-few-features", "POST", "/predict", json.dumps({"instances": [[1, 2, 3]]}).encode(), "application/json",
     422, "wrong number of features"),
    ("too-many-features", "POST", "/predict", json.dumps({"instances": [[1, 2, 3, 4, 5]]}).encode(),
     "application/json", 422, "wrong number of features"),
    ("ragged-rows", "POST", "/predict", json.dumps({"instances": [ROW, [1, 2]]}).encode(), "application/json", 422,
     "ragged"),
    ("ragged-records", "POST", "/predict",
     json.dumps({"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1, "b": 2}]}).encode(),
     "application/json", 422, "ragged"),
    ("ragged-columnar", "POST", "/predict", json.dumps({"inputs": {"a": [1, 2], "b": [1]}}).encode(),
     "application/json", 422, "ragged"),
    ("row-not-list", "POST", "/predict", json.dumps({"instances": [1, 2, 3, 4]}).encode(), "application/json",
     422, "must be a list"),
    ("empty-batch", "POST", "/predict", b'{"instances": []}', "application/json", 422, "empty batch"),
    ("empty-split", "POST", "/predict", b'{"dataframe_split": {"columns": ["a","b","c","d"], "data": []}}',
     "application/json", 422, "empty batch"),
    ("split-wrong-columns", "POST", "/predict",
     json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [ROW]}}).encode(), "application/json", 422,
     "wrong number of features"),
    ("split-no-data", "POST", "/predict", b'{"dataframe_split": {"columns": ["a"]}}', "application/json", 422,
     "no 'data'"),
    ("bad-proba-flag", "POST", "/predict", json.dumps({"instances": [ROW], "return_probabilities": "yes"}).encode(),
     "application/json", 400, "return_probabilities"),
    ("too-many-rows", "POST", "/predict", json.dumps({"instances": [ROW] * 51}).encode(), "application/json",
     413, "too many rows"),
    ("body-too-large", "POST", "/predict", json.dumps({"instances": [ROW] * 2000}).encode(), "application/json",
     413, "too large"),
    ("text-plain", "POST", "/predict", json.dumps({"instances": [ROW]}).encode(), "text/plain", 415,
     "content type"),
    ("form", "POST", "/invocations", b"a=1", "application/x-www-form-urlencoded", 415, "content type"),
    ("get-predict", "GET", "/predict", None, None, 405, "not allowed"),
    ("put-invocations", "PUT", "/invocations", b"{}", "application/json", 405, "not allowed"),
    ("post-health", "POST", "/health", b"{}", "application/json", 405, "not allowed"),
    ("unknown-path", "GET", "/predictions", None, None, 404, "no such path"),
    ("bad-proba-query", "POST", "/predict?proba=maybe", json.dumps({"instances": [ROW]}).encode(),
     "application/json", 400, "proba"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_request_gets_4xx_json_error_naming_the_problem(client, case):
    _, method, path, body, content_type, status, words = case
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert words.lower() in message.lower(), message
    assert "Traceback" not in message


def test_content_length_over_limit_refused_before_reading(client):
    response = client.post("/predict", content=b"{}", headers={"content-type": "application/json",
                                                               "content-length": "999999999"})
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_body_larger_than_its_content_length_refused_on_bytes_read(client):
    """A streamed body (no Content-Length) is counted as it arrives."""
    def chunks():
        for _ in range(30):
            yield b" " * 1000

    response = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_feature_names_must_match(named_client):
    ok = {"dataframe_split": {"columns": NAMES, "data": [ROW]}}
    assert post(named_client, ok).status_code == 200
    for columns, words in [(["age", "income", "score", "tenur"], "missing ['tenure'], unknown ['tenur']"),
                           (["age", "income", "score", "score"], "duplicate column names: ['score']"),
                           (["age", "income", "score"], "missing ['tenure']")]:
        response = post(named_client, {"dataframe_split": {"columns": columns, "data": [ROW[: len(columns)]]}})
        assert response.status_code == 422 and words in response.json()["error"], response.text
    records = post(named_client, {"dataframe_records": [dict(zip(NAMES[:3] + ["other"], ROW))]})
    assert records.status_code == 422 and "unknown ['other']" in records.json()["error"]


def test_bad_inputs_never_500_and_server_keeps_scoring(client, classifier):
    rng = np.random.default_rng(1)
    bodies = [case[3] for case in BAD_REQUESTS if case[3] is not None]
    alphabet = list(b'{}[]",:0123456789.eE-+ nulltrueNaInfinity') + [0xff, 0x00]
    for _ in range(300):  # random garbage and random mutations of valid bodies
        if rng.random() < 0.5:
            bodies.append(bytes(rng.choice(alphabet, size=int(rng.integers(0, 60)))))
        else:
            valid = bytearray(json.dumps({"instances": [ROW, ROW]}).encode())
            for _ in range(int(rng.integers(1, 4))):
                valid[int(rng.integers(len(valid)))] = int(rng.choice(alphabet))
            bodies.append(bytes(valid))
    for body in bodies:
        response = post(client, body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code != 200:
            assert isinstance(response.json()["error"], str)
    good = post(client, {"instances": [ROW]})
    assert good.status_code == 200
    assert good.json()["predictions"] == classifier.predict(np.array([ROW])).tolist()


# -- formats and results -------------------------------------------------------------------------------------
def payloads(X, columns):
    records = [dict(zip(columns, row)) for row in X.tolist()]
    return {
        "instances": {"instances": X.tolist()},
        "instances-records": {"instances": records},
        "inputs": {"inputs": X.tolist()},
        "inputs-columnar": {"inputs": {c: X[:, j].tolist() for j, c in enumerate(columns)}},
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": X.tolist()}},
        "dataframe_records": {"dataframe_records": records},
    }


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
def test_every_payload_format_gives_bitwise_in_process_results(client, classifier, data, path):
    X = data[0][:20]
    expected = classifier.predict(X).tolist()
    expected_proba = classifier.predict_proba(X)
    for name, body in payloads(X, ["a", "b", "c", "d"]).items():
        response = post(client, {**body, "return_probabilities": True}, path=path)
        assert response.status_code == 200, (name, response.text)
        answer = response.json()
        assert answer["predictions"] == expected, name
        np.testing.assert_array_equal(np.array(answer["probabilities"]), expected_proba)  # exact: repr round-trip


def test_named_pipeline_reorders_columns_and_matches_predict(named_client, named_pipeline, data):
    X = data[0][:10]
    frame = pd.DataFrame(X, columns=NAMES)
    expected = named_pipeline.predict_proba(frame)
    shuffled = [NAMES[k] for k in (2, 0, 3, 1)]
    for name, body in payloads(frame[shuffled].to_numpy(), shuffled).items():
        if name in ("instances", "inputs"):
            continue  # positional: no names to reorder by
        response = post(named_client, body, path="/predict?proba=true")
        assert response.status_code == 200, (name, response.text)
        np.testing.assert_array_equal(np.array(response.json()["probabilities"]), expected)
    positional = post(named_client, {"instances": X.tolist()}).json()["predictions"]
    assert positional == named_pipeline.predict(frame).tolist()


def test_regressor_predictions_bitwise_and_probabilities_refused(regressor, data):
    X = data[0][:25]
    with TestClient(create_app(regressor)) as c:
        answer = post(c, {"instances": X.tolist()}).json()
        assert np.array_equal(np.array(answer["predictions"]), regressor.predict(X))
        assert [float(v) for v in answer["predictions"]] == regressor.predict(X).tolist()
        refused = post(c, {"instances": X.tolist()}, path="/predict?proba=true")
        assert refused.status_code == 400 and "predict_proba" in refused.json()["error"]
        body_flag = post(c, {"instances": X.tolist(), "return_probabilities": True})
        assert body_flag.status_code == 400


def test_categorical_column_accepts_strings(data):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = data
    frame = pd.DataFrame(X[:, :2], columns=["a", "b"]).assign(city=np.where(X[:, 2] > 0, "paris", "oslo"))
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                                             ("cat", OneHotEncoder(), ["city"])]),
                          fastml.LogisticRegression()).fit(frame, y)
    with TestClient(create_app(model)) as c:
        records = frame.head(5).to_dict(orient="records")
        answer = post(c, {"dataframe_records": records})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == model.predict(frame.head(5)).tolist()
        numeric_string = post(c, {"dataframe_records": [{**records[0], "a": "1.0"}]})
        assert numeric_string.status_code == 422 and "'a'" in numeric_string.json()["error"]
        unknown = post(c, {"dataframe_records": [{**records[0], "city": "rome"}]})
        assert unknown.status_code == 422 and "could not score" in unknown.json()["error"]
        # a number or null in a string-category column made the encoder raise a TypeError: HTTP 500
        for bad in (3, 2.5, None, True):
            answer = post(c, {"dataframe_records": [{**records[0], "city": bad}]})
            assert answer.status_code == 422, (bad, answer.text)
            assert "'city'" in answer.json()["error"] and "takes strings" in answer.json()["error"]


# -- health, ready, metadata, metrics -----------------------------------------------------------------------
class _GatedModel:
    """predict blocks until ``gate`` is set: the warm-up stays in progress as long as the test wants."""

    n_features_in_ = 2

    def __init__(self):
        self.gate = threading.Event()
        self.calls = 0

    def predict(self, X):
        self.calls += 1
        assert self.gate.wait(30)
        if self.calls > 1 and X[0, 0] == 13.0:
            raise RuntimeError("a genuine server bug")
        return np.asarray(X)[:, 0] * 2.0


def test_ready_only_after_warm_up_and_500_hides_traceback():
    model = _GatedModel()
    with TestClient(create_app(model), raise_server_exceptions=False) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/ready").status_code == 503  # warm-up blocked in predict
        assert model.calls == 1
        model.gate.set()
        deadline = time.monotonic() + 10
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert c.get("/ready").json() == {"ready": True}
        assert post(c, {"instances": [[1.5, 0.0]]}).json() == {"predictions": [3.0]}
        bug = post(c, {"instances": [[13.0, 0.0]]})
        assert bug.status_code == 500 and bug.json() == {"error": "internal server error"}
        assert c.get("/health").status_code == 200 and post(c, {"instances": [[1.0, 0.0]]}).status_code == 200


def test_unloadable_model_file_is_reported_not_fatal(tmp_path):
    path = tmp_path / "broken.fastml"
    path.write_bytes(b"not a zip file")
    with TestClient(create_app(path)) as c:
        deadline = time.monotonic() + 10
        while "error" not in c.get("/ready").json():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ready = c.get("/ready")
        assert ready.status_code == 503 and "could not be loaded" in ready.json()["error"]
        assert c.get("/health").status_code == 200
        scored = post(c, {"instances": [ROW]})
        assert scored.status_code == 503 and "could not be loaded" in scored.json()["error"]


def test_metadata_from_file_is_the_manifest(classifier, tmp_path, data):
    path = tmp_path / "model.fastml"
    fastml.save(classifier, path)
    with TestClient(create_app(path)) as c:
        meta = c.get("/metadata").json()
        assert meta["manifest"] == fastml.inspect(path)
        assert meta["source"] == "file" and meta["estimator"] == "LogisticRegression"
        assert meta["classes"] == [0, 1, 2] and meta["n_features_in"] == N_FEATURES
        answer = post(c, {"instances": data[0][:5].tolist()}).json()
        assert answer["predictions"] == classifier.predict(data[0][:5]).tolist()


def test_metadata_in_memory(named_client):
    meta = named_client.get("/metadata").json()
    assert meta["source"] == "memory" and meta["manifest"] is None
    assert meta["estimator"] == "Pipeline" and meta["final_estimator"] == "LogisticRegression"
    assert meta["feature_names"] == NAMES and meta["supports_probabilities"] is True


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}; every non-comment line must be well formed."""
    samples = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert not line or re.match(r"^# (HELP|TYPE) \w+ ", line), line
            continue
        match = line_re.match(line)
        assert match, line
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def test_metrics_counters_histogram_rows_and_drift(classifier, data):
    X = data[0]
    with TestClient(create_app(classifier, drift_window=300, drift_min_rows=100)) as c:
        while c.get("/ready").status_code != 200:
            time.sleep(0.01)
        before = parse_prometheus(c.get("/metrics").text)
        assert before[("fastml_model_ready", frozenset())] == 1.0
        assert ("fastml_feature_drift_psi", frozenset({("feature", "x0"), ("role", "feature")})) not in before
        for start in range(0, 200, 20):
            assert post(c, {"instances": X[start:start + 20].tolist()}).status_code == 200
        post(c, {"instances": []})
        after = parse_prometheus(c.get("/metrics").text)
        ok = ("fastml_requests_total", frozenset({("path", "/predict"), ("method", "POST"), ("status", "200")}))
        bad = ("fastml_requests_total", frozenset({("path", "/predict"), ("method", "POST"), ("status", "422")}))
        assert after[ok] - before.get(ok, 0) == 10 and after[bad] - before.get(bad, 0) == 1
        assert after[("fastml_rows_scored_total", frozenset())] - before[("fastml_rows_scored_total", frozenset())] \
            == 200
        inf_bucket = ("fastml_request_duration_seconds_bucket", frozenset({("path", "/predict"), ("le", "+Inf")}))
        count = ("fastml_request_duration_seconds_count", frozenset({("path", "/predict")}))
        assert after[inf_bucket] == after[count] == 11
        psi_x0 = ("fastml_feature_drift_psi", frozenset({("feature", "x0"), ("role", "feature")}))
        assert after[("fastml_drift_window_rows", frozenset())] == 200
        assert after[psi_x0] < 0.1 and after[("fastml_drift_detected", frozenset())] == 0.0  # training rows
        # shifted traffic: x0 + 3 fills the window (300 rows), its PSI jumps and drift is flagged
        shifted = X[:300] + np.array([3.0, 0.0, 0.0, 0.0])
        for start in range(0, 300, 50):
            assert post(c, {"instances": shifted[start:start + 50].tolist()}).status_code == 200
        drifted = parse_prometheus(c.get("/metrics").text)
        assert drifted[("fastml_drift_window_rows", frozenset())] == 300
        assert drifted[psi_x0] > 1.0 and drifted[("fastml_drift_detected", frozenset())] == 1.0
        x1 = ("fastml_feature_drift_psi", frozenset({("feature", "x1"), ("role", "feature")}))
        assert drifted[x1] < 0.25


def test_no_fingerprint_means_no_drift_gauges(regressor):
    model = fastml.Ridge().fit(np.eye(3), np.arange(3.0))
    del model.fingerprint_
    with TestClient(create_app(model, drift_min_rows=1)) as c:
        post(c, {"instances": [[1.0, 2.0, 3.0]]})
        text = c.get("/metrics").text
        assert "fastml_feature_drift_psi" not in text and "fastml_drift_window_rows" not in text
        assert c.get("/metadata").json()["drift_gauges"] is False


# -- config and serve() ---------------------------------------------------------------------------------------
def test_server_config_checks_its_fields():
    assert ServerConfig.from_dict(ServerConfig(max_rows=7).to_dict()) == ServerConfig(max_rows=7)
    for bad in ({"max_rows": 0}, {"max_body_bytes": -1}, {"max_rows": True}, {"drift_window": -1},
                {"latency_buckets": (0.1, 0.05)}, {"load_timeout_s": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServerConfig(**bad)
    with pytest.raises(TypeError):
        create_app(fastml.Ridge(), config={"max_rows": 3})


def test_serve_wiring_loopback_warning_and_spawned_workers(classifier, tmp_path, monkeypatch):
    import uvicorn

    path = tmp_path / "model.fastml"
    fastml.save(classifier, path)
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv("FASTML_SERVE_MODEL", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        serve(path, port=8123)
    app, kw = calls[-1]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8123 and hasattr(app, "routes")
    with pytest.warns(UserWarning, match="reachable from other machines"):
        serve(path, host="0.0.0.0", workers=3, config=ServerConfig(max_rows=9))
    app, kw = calls[-1]
    assert app == "fastml.serving._server:app_from_environment" and kw["factory"] and kw["workers"] == 3
    assert os.environ["FASTML_SERVE_MODEL"] == str(path)
    assert json.loads(os.environ["FASTML_SERVE_CONFIG"])["max_rows"] == 9
    with pytest.raises(fastml.ModelFileError):
        (tmp_path / "bad.fastml").write_bytes(b"junk")
        serve(tmp_path / "bad.fastml")
    with pytest.raises(ValueError, match="workers"):
        serve(path, workers=0)
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")


# -- one real uvicorn on loopback ------------------------------------------------------------------------------
def free_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_ready(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server on port {port} not ready after {timeout} s")


@pytest.mark.slow
def test_real_uvicorn_under_32_concurrent_clients(classifier, data):
    import uvicorn

    X = data[0]
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(classifier), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    errors, checked = [], [0]
    lock = threading.Lock()

    def client(seed, n_requests=100):
        rng = np.random.default_rng(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for _ in range(n_requests):
                rows = rng.choice(X.shape[0], size=int(rng.integers(1, 6)), replace=False)
                body = json.dumps({"instances": X[rows].tolist(), "return_probabilities": True})
                connection.request("POST", "/predict", body=body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise AssertionError(f"status {response.status}: {answer[:200]!r}")
                answer = json.loads(answer)
                # the same rows in-process: BLAS may round a 1-row product differently from a 400-row one,
                # so the reference is predict on exactly the rows sent, compared bitwise
                if not (np.array_equal(np.array(answer["probabilities"]), classifier.predict_proba(X[rows]))
                        and answer["predictions"] == classifier.predict(X[rows]).tolist()):
                    raise AssertionError(f"wrong result for rows {rows}")
                with lock:
                    checked[0] += 1
        except Exception as exc:  # collected and asserted in the main thread
            with lock:
                errors.append(f"client {seed}: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    try:
        wait_ready(port)
        started = time.perf_counter()
        clients = [threading.Thread(target=client, args=(seed,)) for seed in range(32)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(timeout=60)
        seconds = time.perf_counter() - started
        assert not any(t.is_alive() for t in clients), "client threads hung"
        assert errors == []
        assert checked[0] == 3200
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/metrics")
        samples = parse_prometheus(connection.getresponse().read().decode())
        ok = ("fastml_requests_total", frozenset({("path", "/predict"), ("method", "POST"), ("status", "200")}))
        assert samples[ok] == 3200
        print(f"3200 requests from 32 clients in {seconds:.2f} s ({3200 / seconds:.0f} req/s)")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive()


@pytest.mark.slow
def test_spawned_workers_serve_correct_predictions(classifier, data, tmp_path):
    """serve(..., workers=2) in a subprocess: uvicorn spawns the workers, each loads the model file."""
    path = tmp_path / "model.fastml"
    fastml.save(classifier, path)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # uvicorn binds it again (SO_REUSEADDR); a collision in between is very unlikely
    code = (f"from fastml.serving import serve; serve({str(path)!r}, port={port}, workers=2, "
            "log_level='warning')")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(port)
        X = data[0][:30]
        for _ in range(20):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # new connection: any worker
            connection.request("POST", "/predict", body=json.dumps({"instances": X.tolist()}),
                               headers={"content-type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["predictions"] == classifier.predict(X).tolist()
            connection.close()
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode(errors="replace")
    assert "Traceback" not in output, output


def test_text_pipeline_scores_strings():
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.pipeline import make_pipeline

    texts = ["win money now", "meeting at noon", "free money prize", "lunch tomorrow?"] * 30
    labels = [1, 0, 1, 0] * 30
    model = make_pipeline(HashingVectorizer(n_features=2 ** 10), fastml.LogisticRegression()).fit(texts, labels)
    with TestClient(create_app(model)) as c:
        for body in ({"instances": texts[:4]}, {"inputs": [[t] for t in texts[:4]]},
                     {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts[:4]]}}):
            answer = post(c, body, path="/predict?proba=true")
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == model.predict(texts[:4]).tolist()
            np.testing.assert_array_equal(np.array(answer.json()["probabilities"]), model.predict_proba(texts[:4]))
        refused = post(c, {"instances": [3.5]})
        assert refused.status_code == 422 and "not a string" in refused.json()["error"]
