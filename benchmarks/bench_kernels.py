"""Fused loss + gradient kernels against the two-pass way, measured in the same run.

Usage::

    python benchmarks/bench_kernels.py                    # 1e5 and 1e6 rows (about 10 minutes on 2 cores)
    python benchmarks/bench_kernels.py --quick            # 1e5 rows only, fewer repeats
    python benchmarks/bench_kernels.py --rows 100000 1000000 --json results.json
    pytest benchmarks/bench_kernels.py --benchmark-enable # the same cases as a pytest-benchmark suite
                                                          # (FASTML_BENCH_ROWS sets the rows, default 1e5)

Cases (issue 2 targets in brackets, on the 2-core reference machine):

* dense ``n x 100``, float32 and float64, C order, squared error and log loss: the fused kernel
  ``fastml.kernels.objective_dense.loss_grad_dense`` (one pass over ``X``) against numpy's two-pass
  way: ``raw = X @ coef + b``, the pointwise loss and derivative (``np.logaddexp``/``scipy.special.expit``
  for the log loss), ``X.T @ g``, every array in ``X``'s dtype so nothing is copied
  [>= 20 GB/s of ``X``; >= 1.3x numpy for squared error, >= 2x for log loss];
* CSR ``n x 100 000``, 50 nonzeros per row at uniformly random columns (a hashed-text-features
  shape: the gradient does not fit in L2 cache, the columns are hit at random), int32 indices:
  ``loss_grad_csr`` against ``scipy.sparse`` (``X @ coef``, pointwise, ``X.T @ g``) [>= 2x].

Reported: the median of ``--repeats`` warm calls, GB/s of ``X`` read (``X.nbytes``; data + indices
for CSR) per call, and speedup = peer time / fused time. Cold costs are measured apart, each in a
fresh interpreter: ``import fastml``, the first fused call with an empty ``NUMBA_CACHE_DIR``
(compile) and the first call with that cache filled (load). Both methods are checked to agree
before they are timed.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

N_FEATURES = 100
CSR_FEATURES = 100_000
CSR_NNZ_PER_ROW = 50
LOSSES = ("squared_error", "log_loss")
DTYPES = ("float32", "float64")


# -- problems -------------------------------------------------------------------------------------------
def make_dense(n_samples, dtype, loss, n_features=N_FEATURES, seed=0):
    """(X, y, coef, intercept): X C-ordered in ``dtype``, y float64 of shape (n_samples,)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32 if dtype == "float32" else np.float64)
    coef = rng.standard_normal(n_features) / np.sqrt(n_features)
    raw = X @ coef.astype(X.dtype)
    y = (rng.random(n_samples) < expit(raw)).astype(np.float64) if loss == "log_loss" else raw + rng.standard_normal(
        n_samples)
    return X, y, 0.5 * coef, 0.1


def make_csr(n_samples, dtype, loss, n_features=CSR_FEATURES, nnz_per_row=CSR_NNZ_PER_ROW, seed=0):
    """(X, y, coef, intercept): CSR with int32 indices (unsorted within a row is fine for both methods)."""
    rng = np.random.default_rng(seed)
    nnz = n_samples * nnz_per_row
    indptr = np.arange(0, nnz + 1, nnz_per_row, dtype=np.int32 if nnz < 2**31 else np.int64)
    indices = rng.integers(0, n_features, nnz, dtype=indptr.dtype)
    data = rng.standard_normal(nnz, dtype=np.float32 if dtype == "float32" else np.float64)
    X = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    coef = rng.standard_normal(n_features) / np.sqrt(nnz_per_row)
    raw = X @ coef.astype(X.dtype)
    y = (rng.random(n_samples) < expit(raw)).astype(np.float64) if loss == "log_loss" else raw + rng.standard_normal(
        n_samples)
    return X, y, 0.5 * coef, 0.1


def x_bytes(X):
    return X.data.nbytes + X.indices.nbytes if sp.issparse(X) else X.nbytes


# -- the two methods ------------------------------------------------------------------------------------
def fused_method(X, y, coef, intercept, loss, n_threads):
    """A closure computing (loss sum, grad coef, grad intercept) with the fused kernel; buffers made once."""
    from fastml import get_loss
    from fastml._objective import frozen_view
    from fastml.kernels import objective_csr, objective_dense

    loss_id = get_loss(loss).loss_id
    y2 = frozen_view(np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1))
    weight = frozen_view(np.ones((X.shape[0], 1)))
    coef2 = np.ascontiguousarray(coef, dtype=np.float64).reshape(-1, 1)
    intercept1 = np.array([float(intercept)])
    loss_out, grad_coef, grad_intercept = np.empty(1), np.empty((X.shape[1], 1)), np.empty(1)
    tail = (y2, weight, coef2, intercept1, loss_id, 0.0, n_threads, loss_out, grad_coef, grad_intercept,
            np.zeros(1, dtype=np.int64))
    if sp.issparse(X):
        arrays = tuple(frozen_view(a) for a in (X.data, X.indices, X.indptr))

        def run():
            objective_csr.loss_grad_csr(*arrays, X.shape[1], *tail)
            return loss_out[0], grad_coef[:, 0], grad_intercept[0]
    else:
        dense = frozen_view(X)

        def run():
            objective_dense.loss_grad_dense(dense, *tail, np.zeros((0, 0)))
            return loss_out[0], grad_coef[:, 0], grad_intercept[0]
    return run


def two_pass_method(X, y, coef, intercept, loss):
    """The numpy (dense) or scipy.sparse (CSR) way: matvec, pointwise in X's dtype, rmatvec."""
    dtype = X.dtype
    y = y.astype(dtype)
    coef = coef.astype(dtype)
    b = dtype.type(intercept)

    def run():
        raw = X @ coef
        raw += b
        if loss == "log_loss":
            value = np.sum(np.logaddexp(0, raw) - y * raw, dtype=np.float64)
            g = expit(raw)
            g -= y
        else:
            g = raw
            g -= y
            value = 0.5 * np.dot(g, g)
        return value, X.T @ g, np.sum(g, dtype=np.float64)
    return run


def check_agree(fused, peer, dtype):
    rtol = 1e-3 if dtype == "float32" else 1e-8
    for a, b in zip(fused(), peer()):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        scale = max(1.0, float(np.abs(b).max()))
        if not np.allclose(a, b, rtol=rtol, atol=rtol * scale):
            raise AssertionError(f"fused and two-pass results differ: max diff {np.abs(a - b).max()}")


def timed(function, repeats, warmup=1):
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


# -- cold costs, each in a fresh interpreter -------------------------------------------------------------
_FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, scipy.sparse as sp
from fastml import LinearObjective
rng = np.random.default_rng(0)
X = rng.standard_normal((64, 5)){cast}
if {sparse}:
    X = sp.csr_matrix(X)
objective = LinearObjective("log_loss", X, (rng.random(64) < 0.5) * 1.0)
w = objective.initial_parameters()
imported = time.perf_counter()
objective.value_and_gradient(w)
print(imported - start, time.perf_counter() - imported)
"""


def _python(code, env=None):
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, **(env or {})})
    return [float(v) for v in output.stdout.split()]


def cold_costs(repeats=3):
    """Seconds: ``import fastml``; first value_and_gradient compiled (empty cache) and loaded (filled cache)."""
    import_code = "import time; t = time.perf_counter(); import fastml; print(time.perf_counter() - t)"
    kernels_code = ("import time; t = time.perf_counter(); import fastml.kernels.objective_dense; "
                    "print(time.perf_counter() - t)")
    result = {
        "import fastml": statistics.median(_python(import_code)[0] for _ in range(repeats)),
        "import fastml.kernels.objective_dense (Numba)": statistics.median(
            _python(kernels_code)[0] for _ in range(repeats)),
    }
    for label, cast, sparse in (("dense float64", "", False), ("dense float32", ".astype(np.float32)", False),
                                ("CSR float64", "", True)):
        code = _FIRST_CALL.format(cast=cast, sparse=sparse)
        with tempfile.TemporaryDirectory(prefix="fastml-bench-cache-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            result[f"first call, {label}, empty cache (compile)"] = _python(code, env)[1]
            result[f"first call, {label}, filled cache (load)"] = statistics.median(
                _python(code, env)[1] for _ in range(repeats))
    return result


# -- report --------------------------------------------------------------------------------------------------
def machine(n_threads):
    import numba

    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import scipy

    return {"cpu": model, "cores": cores, "threads": n_threads, "python": sys.version.split()[0],
            "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
            "load average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def run_case(storage, n_samples, dtype, loss, n_threads, repeats):
    make = make_csr if storage == "csr" else make_dense
    X, y, coef, intercept = make(n_samples, dtype, loss)
    fused = fused_method(X, y, coef, intercept, loss, n_threads)
    peer = two_pass_method(X, y, coef, intercept, loss)
    check_agree(fused, peer, dtype)
    fused_s = timed(fused, repeats)
    peer_s = timed(peer, repeats)
    gigabytes = x_bytes(X) / 1e9
    return {"storage": storage, "rows": n_samples, "features": X.shape[1], "dtype": dtype, "loss": loss,
            "fused_s": fused_s, "peer_s": peer_s, "fused_GBps": gigabytes / fused_s,
            "peer_GBps": gigabytes / peer_s, "speedup": peer_s / fused_s,
            "peer": "scipy.sparse" if storage == "csr" else "numpy"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows only and fewer repeats")
    parser.add_argument("--rows", type=int, nargs="+", default=None, help="row counts (default 1e5 1e6)")
    parser.add_argument("--repeats", type=int, default=None, help="timed warm calls per case (median)")
    parser.add_argument("--threads", type=int, default=None, help="kernel threads (default: fastml's default)")
    parser.add_argument("--no-csr", action="store_true", help="skip the CSR cases")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurements")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    rows = args.rows or ([100_000] if args.quick else [100_000, 1_000_000])
    repeats = args.repeats or (5 if args.quick else 9)

    from fastml import get_n_threads

    n_threads = args.threads or get_n_threads()
    info = machine(n_threads)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"dense: n x {N_FEATURES} C order; CSR: n x {CSR_FEATURES}, {CSR_NNZ_PER_ROW} nnz/row, int32 indices; "
          f"median of {repeats} warm calls; speedup = peer / fused\n")
    header = (f"{'storage':7} {'rows':>9} {'dtype':8} {'loss':14} {'fused ms':>9} {'GB/s':>6} "
              f"{'peer':13} {'peer ms':>9} {'GB/s':>6} {'speedup':>7}")
    print(header)
    print("-" * len(header))
    results = []
    for n_samples in rows:
        for storage in ("dense",) + (() if args.no_csr else ("csr",)):
            for dtype in DTYPES:
                for loss in LOSSES:
                    r = run_case(storage, n_samples, dtype, loss, n_threads, repeats)
                    results.append(r)
                    print(f"{storage:7} {n_samples:>9} {dtype:8} {loss:14} {1e3 * r['fused_s']:9.2f} "
                          f"{r['fused_GBps']:6.1f} {r['peer']:13} {1e3 * r['peer_s']:9.2f} {r['peer_GBps']:6.1f} "
                          f"{r['speedup']:6.2f}x", flush=True)
    cold = {}
    if not args.no_cold:
        print("\ncold costs (fresh interpreter each; seconds):")
        cold = cold_costs(repeats=2 if args.quick else 3)
        for label, seconds in cold.items():
            print(f"  {label:58} {seconds:7.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "warm": results, "cold": cold}, handle, indent=2)
    return results, cold


# -- pytest-benchmark suite (run with --benchmark-enable; never collected as tests) ----------------------
def _bench_rows():
    return int(os.environ.get("FASTML_BENCH_ROWS", "100000"))


try:
    import pytest
except ImportError:  # the report above does not need pytest
    pytest = None

if pytest is not None:
    _CASES = [(storage, dtype, loss, method) for storage in ("dense", "csr") for dtype in DTYPES
              for loss in LOSSES for method in ("fused", "peer")]

    @pytest.fixture(scope="module")
    def _problems():
        return {}

    @pytest.mark.parametrize("storage, dtype, loss, method", _CASES)
    def test_loss_and_gradient(benchmark, _problems, storage, dtype, loss, method):
        key = (storage, dtype, loss)
        if key not in _problems:
            make = make_csr if storage == "csr" else make_dense
            _problems[key] = make(_bench_rows(), dtype, loss)
        X, y, coef, intercept = _problems[key]
        if method == "fused":
            from fastml import get_n_threads

            function = fused_method(X, y, coef, intercept, loss, get_n_threads())
            function()  # compile or load outside the timing
        else:
            function = two_pass_method(X, y, coef, intercept, loss)
        benchmark.group = f"{storage} {X.shape[0]}x{X.shape[1]} {dtype} {loss}"
        benchmark.extra_info["GB_of_X"] = x_bytes(X) / 1e9
        benchmark.extra_info["peer"] = "scipy.sparse" if storage == "csr" else "numpy"
        benchmark(function)


if __name__ == "__main__":
    main()
