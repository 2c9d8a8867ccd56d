"""Closed-form least squares / ridge: fastml against its peers, measured in the same run.

Usage::

    python benchmarks/bench_closed_form.py            # full size (1e6 x 100; 1e5 x 1000 float32)
    python benchmarks/bench_closed_form.py --quick    # 2e5 rows, skips the ~100 s scikit-learn case
    python benchmarks/bench_closed_form.py --rows 500000 --repeats 5 --json out.json

Cases (issue 3 targets in brackets):

1. normal equations, n x 100 float64, one target, with intercept: ``solve_least_squares`` against
   scikit-learn ``LinearRegression`` [>= 8x] and numpy ``X.T @ X`` + ``X.T @ y`` + scipy ``cho_solve``
   (no intercept, so the baseline does less work) [faster];
2. ridge with 10 alphas and exact leave-one-out, n x 100 float64: ``ridge_path(cv="loo")`` against
   scikit-learn ``RidgeCV(alphas=10 values)`` (same ``alpha_`` checked) [>= 20x];
3. normal equations, 1e5 x 1000 float32, against ``LinearRegression`` (full run only).

Each timing is the median of ``--repeats`` runs (scikit-learn's slow fits run ``--peer-repeats``
times); ratios are peer / fastml. The machine (CPU model, cores, BLAS) is printed with the table.
"""
import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor() or model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        infos = [info for info in threadpool_info() if info.get("user_api") == "blas"]
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)" for i in infos)
    except ImportError:
        pass
    return {"cpu": model, "cores": cores, "blas": blas, "python": sys.version.split()[0],
            "numpy": np.__version__}


def timed(function, repeats):
    """Median seconds of ``repeats`` calls and the last return value."""
    seconds, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), value


def case_normal_equations(n_rows, repeats, peer_repeats, rng):
    from scipy.linalg import cho_factor, cho_solve
    from sklearn.linear_model import LinearRegression

    from fastml.solvers.closed_form import solve_least_squares

    X = rng.standard_normal((n_rows, 100))
    y = X @ rng.standard_normal(100) + 1.0 + rng.standard_normal(n_rows)
    solve_least_squares(X[:1000], y[:1000])  # imports, outside the timing
    ours, result = timed(lambda: solve_least_squares(X, y), repeats)

    def numpy_cholesky():
        gram, rhs = X.T @ X, X.T @ y
        return cho_solve(cho_factor(gram), rhs)

    baseline, _ = timed(numpy_cholesky, repeats)
    peer, model = timed(lambda: LinearRegression().fit(X, y), peer_repeats)
    error = np.abs(result.params[:-1] - model.coef_).max() / np.abs(model.coef_).max()
    label = f"normal equations {n_rows:.0e} x 100 f64"
    return [
        {"case": label, "fastml_s": ours, "peer": "sklearn LinearRegression", "peer_s": peer,
         "check": f"coef rel. diff {error:.1e}"},
        {"case": label, "fastml_s": ours, "peer": "numpy X.T@X + cho_solve", "peer_s": baseline, "check": ""},
    ]


def case_ridge_loo(n_rows, repeats, peer_repeats, rng):
    from sklearn.linear_model import RidgeCV

    from fastml.solvers.closed_form import ridge_path

    X = rng.standard_normal((n_rows, 100))
    coef = rng.standard_normal(100) * (rng.random(100) < 0.3)
    y = X @ coef + 1.0 + 5.0 * rng.standard_normal(n_rows)
    alphas = np.logspace(-4, 1, 10)  # fastml convention; scikit-learn's alpha is n_rows times these
    ridge_path(X[:1000], y[:1000], alphas)
    ours, path = timed(lambda: ridge_path(X, y, alphas, cv="loo"), repeats)
    peer, model = timed(lambda: RidgeCV(alphas=alphas * n_rows).fit(X, y), peer_repeats)
    same = np.isclose(path.best_alpha * n_rows, model.alpha_, rtol=1e-12)
    return [{"case": f"ridge 10 alphas + LOO {n_rows:.0e} x 100 f64", "fastml_s": ours,
             "peer": "sklearn RidgeCV", "peer_s": peer,
             "check": f"alpha_ {'same' if same else 'DIFFERENT'} ({path.best_alpha * n_rows:.3g})"}]


def case_wide_float32(n_rows, repeats, peer_repeats, rng):
    from sklearn.linear_model import LinearRegression

    from fastml.solvers.closed_form import solve_least_squares

    X = rng.standard_normal((n_rows, 1000), dtype=np.float32)
    y = X @ rng.standard_normal(1000).astype(np.float32) + rng.standard_normal(n_rows, dtype=np.float32)
    ours, result = timed(lambda: solve_least_squares(X, y), repeats)
    peer, model = timed(lambda: LinearRegression().fit(X, y), peer_repeats)
    error = np.abs(result.params[:-1] - model.coef_).max() / np.abs(model.coef_).max()
    return [{"case": f"normal equations {n_rows:.0e} x 1000 f32", "fastml_s": ours,
             "peer": "sklearn LinearRegression", "peer_s": peer, "check": f"coef rel. diff {error:.1e}"}]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2e5 rows; skip the 1e5 x 1000 float32 case")
    parser.add_argument("--rows", type=int, help="rows of the n x 100 cases (default 1e6, quick 2e5)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per fastml / numpy timing")
    parser.add_argument("--peer-repeats", type=int, help="runs per scikit-learn timing (default: 3, full: 1)")
    parser.add_argument("--threads", type=int, help="limit BLAS/OpenMP threads of every contender (threadpoolctl)")
    parser.add_argument("--json", help="also write the rows and the machine to this JSON file")
    args = parser.parse_args(argv)
    n_rows = args.rows or (200_000 if args.quick else 1_000_000)
    peer_repeats = args.peer_repeats or (3 if args.quick else 1)
    rng = np.random.default_rng(0)

    info = machine()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"machine: {info['cpu']}, {info['cores']} cores; BLAS: {info['blas']}; "
          f"python {info['python']}, numpy {info['numpy']}; load average {load[0]:.1f} at start"
          + (f"; threads limited to {args.threads}" if args.threads else ""))
    limits = contextlib.nullcontext()
    if args.threads:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=args.threads)
    with limits:
        rows = case_normal_equations(n_rows, args.repeats, peer_repeats, rng)
        rows += case_ridge_loo(n_rows, args.repeats, peer_repeats, rng)
        if not args.quick:
            rows += case_wide_float32(100_000, args.repeats, 1, rng)
    info["load_average_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at end: {info['load_average_end']:.1f} (other work on the machine skews all timings)")

    header = f"{'case':<38} {'fastml s':>9}  {'peer':<26} {'peer s':>8} {'ratio':>7}  check"
    print(header)
    print("-" * len(header))
    for row in rows:
        row["ratio"] = row["peer_s"] / row["fastml_s"]
        print(f"{row['case']:<38} {row['fastml_s']:>9.3f}  {row['peer']:<26} {row['peer_s']:>8.3f} "
              f"{row['ratio']:>6.1f}x  {row['check']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "rows": rows, "n_rows": n_rows}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
