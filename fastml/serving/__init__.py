"""Model server: a FastAPI app over a fitted fastml model (optional extra ``fastml[serve]``).

``create_app(model_or_path, config=None, **limits)`` builds the app (used in-process with
``fastapi.testclient.TestClient``); ``serve(model_path, host="127.0.0.1", port=8000, workers=1,
config=ServerConfig())`` runs it with uvicorn (``fastml serve MODEL``).

Routes
------
``POST /predict``, ``POST /invocations``
    MLflow's payloads: ``{"instances": [[...], ...]}``, ``{"inputs": [[...]] or {col: [...]}}``,
    ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``, ``{"dataframe_records": [{col: v}]}``.
    Answer ``{"predictions": [...]}``, plus ``"probabilities": [[...]]`` with ``?proba=true`` or
    ``"return_probabilities": true`` (classifiers with ``predict_proba`` only; 400 otherwise).
``GET /health``
    200 while the process is up.
``GET /ready``
    200 once the model is loaded and warmed up (one synthetic row through ``predict``, so the kernels
    are compiled or loaded from Numba's cache); 503 before, or when loading failed.
``GET /metadata``
    Estimator, feature names, classes, input description, limits, and the file's manifest
    (:func:`fastml.inspect`) when served from a file.
``GET /metrics``
    Prometheus text: ``fastml_requests_total{path,method,status}``, ``fastml_request_duration_seconds``
    (histogram by path), ``fastml_rows_scored_total``, ``fastml_model_ready``, and when the final
    estimator has a ``fingerprint_``: ``fastml_feature_drift_psi{feature,role}``,
    ``fastml_feature_drift_p_value`` and ``fastml_drift_detected`` over the last
    ``ServerConfig.drift_window`` served rows (:func:`fastml.check_drift`, computed at scrape time).

Validation
----------
Every bad request gets a 4xx ``{"error": "..."}`` naming the problem and the server stays up: malformed
JSON or unknown body keys 400; ``NaN``/``Infinity`` tokens, numbers that overflow (``1e400``), non-numeric
values, wrong feature count or names, ragged rows, empty batches 422; bodies over ``max_body_bytes``
(``Content-Length`` and bytes read) or batches over ``max_rows`` 413; a content type other than
``application/json`` 415; wrong method 405; unknown path 404. A 500 means a bug of the server (its
traceback goes to the log, never to the client).

Concurrency and several workers
-------------------------------
Requests are scored in the threadpool, side by side. Linear ``predict`` is one BLAS product; fastml's
``parallel=True`` Numba kernels (used by the drift gauges) go through ``kernels._jit.call_parallel``,
which serializes them behind a lock unless Numba's threading layer is ``omp`` or ``tbb``, since under
``workqueue`` two threads in a parallel kernel abort the process. fastml asks for ``omp`` first.

To use more cores, run more processes, not a bigger threadpool: ``fastml serve MODEL --workers N`` (or
``serve(..., workers=N)``) starts N uvicorn workers; uvicorn's supervisor starts them with
``multiprocessing.get_context("spawn")`` (verified in uvicorn 0.54's ``_subprocess.py``), so each is a
fresh interpreter that loads and warms up its own model. Never ``fork`` a process that has already run a
parallel Numba kernel (the forked child dies in the OpenMP runtime): do not use gunicorn's default
``--preload`` with a model loaded in the master, nor ``os.fork`` after a prediction; if you use
gunicorn, keep the model load inside the worker (``uvicorn.workers.UvicornWorker`` with the app factory
``fastml.serving._server:app_from_environment`` and ``FASTML_SERVE_MODEL`` set, no ``--preload``).
Give each worker few threads (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``) so that N workers do not
oversubscribe the cores.
"""
from ._app import create_app
from ._config import ServerConfig
from ._payload import PayloadError
from ._server import serve

__all__ = ["PayloadError", "ServerConfig", "create_app", "serve"]
