"""Steps both demo cases share: timed fits, save/reload check, in-process serving, plots."""
import os
import time

import numpy as np


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def save_and_reload(model, path, X, say):
    """Save with ``fastml.save``, reload with ``fastml.load``, compare predictions bit for bit."""
    import fastml

    start = time.perf_counter()
    fastml.save(model, path)
    reloaded = fastml.load(path)
    seconds = time.perf_counter() - start
    before, after = _scores(model, X), _scores(reloaded, X)
    identical = bool(before.shape == after.shape and before.tobytes() == after.tobytes()
                     and np.array_equal(model.predict(X), reloaded.predict(X)))
    size = os.path.getsize(path)
    say(f"  saved {path} ({size / 1024:.1f} KiB, no pickle); reloaded: predictions "
        f"{'bitwise identical' if identical else 'DIFFER'} on {X.shape[0]} rows")
    return reloaded, {"path": path, "size_bytes": size, "seconds": seconds, "reloaded_identical": identical}


def _scores(model, X):
    if hasattr(model, "predict_proba"):
        return np.ascontiguousarray(model.predict_proba(X), dtype=np.float64)
    return np.ascontiguousarray(model.predict(X), dtype=np.float64)


def serve_and_score(model_path, payload, expected, say):
    """Start the server in-process (``fastml.serving.create_app`` + FastAPI's TestClient), check
    ``/ready``, POST ``payload`` to ``/invocations`` and compare with the in-process predictions."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # starlette's deprecation note about httpx
            from fastapi.testclient import TestClient

        from ..serving import create_app
    except ImportError as exc:
        say(f"  serving skipped: {exc} (install the 'serve' extra: python -m pip install -e \".[serve]\")")
        return {"available": False, "reason": str(exc)}
    start = time.perf_counter()
    with TestClient(create_app(model_path)) as client:
        ready = client.get("/ready")
        deadline = time.perf_counter() + 10.0
        while ready.status_code != 200 and time.perf_counter() < deadline:  # the app warms up its kernels
            time.sleep(0.05)
            ready = client.get("/ready")
        response = client.post("/invocations", json=payload)
    seconds = time.perf_counter() - start
    result = {"available": True, "ready_status": ready.status_code, "status": response.status_code,
              "seconds": seconds}
    if response.status_code != 200:
        result["error"] = response.text[:300]
        result["predictions_match"] = False
        say(f"  server answered HTTP {response.status_code}: {response.text[:200]}")
        return result
    served = response.json().get("predictions")
    result["predictions_match"] = bool(served is not None and list(served) == [_plain(v) for v in expected])
    result["n_rows"] = len(expected)
    say(f"  POST /invocations ({len(expected)} rows) -> HTTP 200, predictions {served[:5]}"
        f"{' ...' if len(expected) > 5 else ''}; equal to in-process predict: {result['predictions_match']}")
    return result


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def write_plots(report, out_dir, say):
    """Every plot of an evaluation report as PNG (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        say("  plots skipped (matplotlib is not installed)")
        return []
    paths = report.plots(out_dir)
    import matplotlib.pyplot as plt

    plt.close("all")
    return sorted(str(p) for p in paths.values())
