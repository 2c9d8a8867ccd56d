"""``create_app``: the FastAPI application over one fitted model.

Design: the model lives in a :class:`ModelState` that loads it (from a file or as given), builds its
:class:`InputSchema`, and warms it up with one synthetic row (``predict``, ``predict_proba`` and the drift
check compile or load their kernels here, not on the first request). The lifespan starts that work in a
background thread, so ``/health`` answers at once and ``/ready`` says 503 until it is done; without a
lifespan (an in-process ``TestClient`` not used as a context manager) the first request that needs the
model loads it. Scoring runs in the threadpool: parsing, validation and ``predict`` never block the event
loop, and concurrent requests run side by side (linear ``predict`` is BLAS; fastml's parallel kernels go
through ``kernels._jit.call_parallel``, which serializes them when Numba's threading layer is not safe).
Every refusal is a :class:`PayloadError` -> ``{"error": ...}`` with a 4xx status; anything else is a bug
of the server and becomes a 500 ``{"error": "internal server error"}`` with the traceback in the log only.
"""
import json
import logging
import os
import threading
import time

import numpy as np

from ._config import ServerConfig
from ._metrics import CONTENT_TYPE, DriftWindow, RequestMetrics
from ._payload import InputSchema, PayloadError, parse_json

logger = logging.getLogger("fastml.serving")

SCORING_PATHS = ("/predict", "/invocations")
KNOWN_PATHS = SCORING_PATHS + ("/health", "/ready", "/metadata", "/metrics")
JSON_TYPES = ("application/json",)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class ModelState:
    """The served model, loaded and warmed up once (in a background thread or on first need)."""

    def __init__(self, model_or_path, config):
        if isinstance(model_or_path, (str, os.PathLike)):
            self.path, self.model = os.fspath(model_or_path), None
        else:
            self.path, self.model = None, model_or_path
        self.config = config
        self.manifest = self.schema = self.final = self.drift = None
        self.supports_probabilities = False
        self.error = None
        self.ready = False
        self._done = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def start(self, background=True):
        """Begin loading (once); ``background=False`` loads in the calling thread if nobody started yet."""
        with self._lock:
            if self._started:
                return
            self._started = True
        if background:
            threading.Thread(target=self._load, name="fastml-model-load", daemon=True).start()
        else:
            self._load()

    def wait(self):
        """Block until the model is ready; PayloadError 503 when loading failed or takes too long."""
        self.start(background=False)
        if not self._done.wait(self.config.load_timeout_s):
            raise PayloadError(f"the model is still loading after {self.config.load_timeout_s} s", 503)
        if not self.ready:
            raise PayloadError(f"the model could not be loaded: {self.error}", 503)

    def _load(self):
        from fastml.persistence._summary import final_estimator

        started = time.perf_counter()
        try:
            if self.path is not None:
                import fastml

                self.manifest = fastml.inspect(self.path)
                self.model = fastml.load(self.path)
            if not hasattr(self.model, "predict"):
                raise TypeError(f"{type(self.model).__name__} has no predict method")
            self.schema = InputSchema(self.model)
            self.final = final_estimator(self.model)
            self.supports_probabilities = _has_predict_proba(self.model)
            self.drift = self._drift_window()
            self._warm_up()
            self.ready = True
            logger.info("model %s ready in %.2f s", type(self.model).__name__, time.perf_counter() - started)
        except Exception as exc:  # reported by /ready and by scoring requests; the server stays up
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("loading the model failed")
        finally:
            self._done.set()

    def _drift_window(self):
        from fastml.drift import Fingerprint

        fingerprint = getattr(self.final, "fingerprint_", None)
        if self.config.drift_window == 0 or not isinstance(fingerprint, Fingerprint):
            return None
        return DriftWindow(self.model, self.final, self.config.drift_window, self.config.drift_min_rows)

    def _warm_up(self):
        """One synthetic row through predict (and predict_proba, and the drift check): kernels compile now."""
        fingerprint = getattr(self.final, "fingerprint_", None)
        means = None
        if self.final is self.model and fingerprint is not None:
            means = fingerprint.features.stats[:, 0]
        X = self.schema.synthetic_rows(means)
        self.model.predict(X)
        if self.supports_probabilities:
            self.model.predict_proba(X)
        if self.drift is not None:
            from fastml.drift import check_drift

            try:
                check_drift(self.final, self.drift._features([X]))
            except Exception as exc:  # a fingerprint that does not match the model's input: no drift gauges
                logger.warning("drift gauges disabled: %s: %s", type(exc).__name__, exc)
                self.drift = None

    # -- endpoints' work (run in the threadpool) ------------------------------------------------------------
    def score(self, body, probabilities_query, metrics):
        self.wait()
        payload = parse_json(body)
        rows, probabilities_body = self.schema.rows_from_payload(payload, self.config.max_rows)
        want_probabilities = bool(probabilities_query) or bool(probabilities_body)
        if want_probabilities and not self.supports_probabilities:
            raise PayloadError(f"probabilities were asked for, but {type(self.final).__name__} has no "
                               "predict_proba (only classifiers that estimate probabilities do)", 400)
        X = self.schema.assemble(rows)
        try:
            result = {"predictions": _json_list(self.model.predict(X))}
            if want_probabilities:
                result["probabilities"] = _json_list(self.model.predict_proba(X))
        except ValueError as exc:  # e.g. an unknown category for a OneHotEncoder(handle_unknown="error")
            raise PayloadError(f"the model could not score the input: {exc}", 422) from None
        metrics.add_rows(len(rows))
        if self.drift is not None:
            self.drift.add(X)
        return json.dumps(result, allow_nan=False, separators=(",", ":")).encode()

    def metadata(self):
        from fastml.persistence._summary import _labels

        self.wait()
        n_features = getattr(self.model, "n_features_in_", None)
        return {
            "source": "file" if self.path is not None else "memory",
            "path": self.path,
            "estimator": type(self.model).__name__,
            "final_estimator": type(self.final).__name__,
            "feature_names": self.schema.feature_names,
            "n_features_in": int(n_features) if n_features is not None else None,
            "classes": _labels(getattr(self.final, "classes_", None)),
            "input": self.schema.describe(),
            "supports_probabilities": self.supports_probabilities,
            "drift_gauges": self.drift is not None,
            "limits": self.config.to_dict(),
            "manifest": self.manifest,
        }

    def metrics_text(self, metrics):
        lines = metrics.render()
        lines += ["# HELP fastml_model_ready 1 when the model is loaded and warmed up.",
                  "# TYPE fastml_model_ready gauge", f"fastml_model_ready {int(self.ready)}"]
        if self.ready and self.drift is not None:
            try:
                lines += self.drift.render()
            except Exception as exc:  # a monitoring failure must not take /metrics down
                logger.warning("drift gauges failed: %s: %s", type(exc).__name__, exc)
        return "\n".join(lines) + "\n"


def _has_predict_proba(model):
    try:
        return callable(getattr(model, "predict_proba", None))
    except Exception:  # available_if raises AttributeError subclasses, some wrappers other errors
        return False


def _json_list(values):
    array = np.asarray(values)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError("the model produced non-finite values")
    return array.tolist()


class _MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request by path and status and times it."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
            self.metrics.observe(path, scope["method"], status[0], time.perf_counter() - started)


async def _read_body(request, limit):
    """The body, refused with 413 when ``Content-Length`` or the bytes actually received exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise PayloadError(f"invalid Content-Length header {declared!r}", 400)
        if int(declared) > limit:
            raise PayloadError(f"request body too large: {int(declared)} bytes, the limit is {limit}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(f"request body too large: more than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _probabilities_query(request):
    value = request.query_params.get("proba")
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise PayloadError(f"query parameter proba must be true or false, got {value!r}", 400)


def create_app(model_or_path, *, config=None, **limits):
    """A FastAPI application serving one fitted model.

    Parameters
    ----------
    model_or_path : estimator or str or os.PathLike
        A fitted fastml estimator or scikit-learn Pipeline ending in one, or the path of a model file
        written by :func:`fastml.save` (loaded with :func:`fastml.load` when the app starts).
    config : ServerConfig, optional
        Limits and settings; defaults to ``ServerConfig()``.
    **limits
        Fields of :class:`ServerConfig` overriding ``config`` (``max_body_bytes=...``, ``max_rows=...``).

    Returns
    -------
    fastapi.FastAPI
        Routes: ``POST /predict`` and ``POST /invocations`` (MLflow's payloads), ``GET /health``,
        ``GET /ready``, ``GET /metadata``, ``GET /metrics``. ``app.state.model_state`` holds the model.
    """
    import dataclasses
    from contextlib import asynccontextmanager

    import anyio
    import anyio.to_thread
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    config = config if config is not None else ServerConfig()
    if not isinstance(config, ServerConfig):
        raise TypeError(f"config must be a ServerConfig, got {type(config).__name__}")
    if limits:
        config = dataclasses.replace(config, **limits)
    state = ModelState(model_or_path, config)
    metrics = RequestMetrics(config.latency_buckets)
    scoring_limiter = anyio.CapacityLimiter(config.scoring_threads)

    @asynccontextmanager
    async def lifespan(app):
        state.start(background=True)
        yield

    app = FastAPI(title="fastml model server", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.model_state = state
    app.state.metrics = metrics
    app.state.config = config

    def error(status, message, headers=None):
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(PayloadError)
    async def payload_error(request, exc):
        return error(exc.status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        if exc.status_code == 404:
            message = f"no such path: {request.url.path} (paths: {', '.join(KNOWN_PATHS)})"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        else:
            message = str(exc.detail)
        return error(exc.status_code, message, exc.headers)

    @app.exception_handler(Exception)
    async def server_bug(request, exc):
        logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal server error")

    async def scoring(request: Request):
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
            raise PayloadError(f"unsupported content type {content_type or '(none)'!r}: send application/json",
                               415)
        probabilities = _probabilities_query(request)
        body = await _read_body(request, config.max_body_bytes)
        content = await anyio.to_thread.run_sync(state.score, body, probabilities, metrics, limiter=scoring_limiter)
        return Response(content, media_type="application/json")

    app.add_api_route("/predict", scoring, methods=["POST"])
    app.add_api_route("/invocations", scoring, methods=["POST"])

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        state.start(background=True)
        if state.ready:
            return {"ready": True}
        body = {"ready": False}
        if state.error is not None:
            body["error"] = f"the model could not be loaded: {state.error}"
        return JSONResponse(body, status_code=503)

    @app.get("/metadata")
    async def metadata():
        return JSONResponse(await run_in_threadpool(state.metadata))

    @app.get("/metrics")
    async def metrics_endpoint():
        text = await run_in_threadpool(state.metrics_text, metrics)
        return Response(text, media_type=CONTENT_TYPE)

    app.add_middleware(_MetricsMiddleware, metrics=metrics)
    return app
