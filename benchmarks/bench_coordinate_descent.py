"""Coordinate descent (Lasso) against scikit-learn, peers measured in the same run.

Usage: ``python benchmarks/bench_coordinate_descent.py [--quick] [--repeat R]``

Cases (full size; ``--quick`` divides the sizes, for shared machines):
1. dense Lasso 1e6 x 100 float64 (fastml: Gram variant) vs ``sklearn.linear_model.Lasso`` with its
   default ``precompute=False`` and with ``precompute=True``;
2. sparse Lasso 1e5 x 1e4 CSR, ~50 nonzeros per row (fastml: CSC column variant) vs ``Lasso``;
3. a 20-alpha path on the dense problem vs ``sklearn.linear_model.lasso_path``.
Same alpha and ``tol`` for everyone (the same duality-gap rule). Each line reports the best of
``--repeat`` wall times, the ratio sklearn / fastml, and the objective reached by each (evaluated
here in float64 numpy, the same formula for all).
"""
import argparse
import os
import platform
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Lasso, lasso_path

from fastml.solvers.coordinate_descent import (
    CoordinateDescentOptions,
    alpha_max,
    coordinate_descent,
    coordinate_descent_path,
)

TOL = 1e-4


def machine():
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    model = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()} {model}, {cpus} CPUs available, load average {load:.1f}"


def best_time(function, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def lasso_objective(X, y, coef, intercept, alpha):
    residual = y - X @ coef - intercept
    return 0.5 * residual @ residual / X.shape[0] + alpha * np.abs(coef).sum()


def report(name, ours, theirs, objective_ours, objective_theirs):
    print(f"  {name:<34s} fastml {ours:8.3f} s   sklearn {theirs:8.3f} s   ratio {theirs / ours:6.1f}x   "
          f"objective fastml {objective_ours:.10g}  sklearn {objective_theirs:.10g}")


def dense_problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = np.zeros(d)
    coef[rng.choice(d, 10, replace=False)] = rng.standard_normal(10)
    y = X @ coef + 0.5 * rng.standard_normal(n) + 1.0
    return X, y


def sparse_problem(n, d, nnz_per_row, seed=1):
    rng = np.random.default_rng(seed)
    X = sp.random_array((n, d), density=nnz_per_row / d, format="csr", rng=rng, dtype=np.float64)
    X.data = rng.standard_normal(X.data.shape[0])
    coef = np.zeros(d)
    coef[rng.choice(d, 50, replace=False)] = rng.standard_normal(50)
    y = X @ coef + 0.1 * rng.standard_normal(n)
    return sp.csr_matrix(X), y


def bench_dense(n, d, repeat):
    X, y = dense_problem(n, d)
    alpha = 0.05 * alpha_max(X, y)
    ours, result = best_time(lambda: coordinate_descent(X, y, alpha=alpha, options=CoordinateDescentOptions(tol=TOL)),
                             repeat)
    coef, intercept = result.params[:-1], result.params[-1]
    f_ours = lasso_objective(X, y, coef, intercept, alpha)
    print(f"dense Lasso {n} x {d}, alpha = {alpha:.4g} (variant {result.info['variant']}, {result.n_iter} sweeps)")
    for precompute in (False, True):
        theirs, model = best_time(lambda: Lasso(alpha=alpha, tol=TOL, precompute=precompute).fit(X, y), repeat)
        report(f"sklearn Lasso(precompute={precompute})", ours, theirs, f_ours,
               lasso_objective(X, y, model.coef_, model.intercept_, alpha))


def bench_sparse(n, d, nnz_per_row, repeat):
    X, y = sparse_problem(n, d, nnz_per_row)
    alpha = 0.05 * alpha_max(X, y)
    ours, result = best_time(lambda: coordinate_descent(X, y, alpha=alpha, options=CoordinateDescentOptions(tol=TOL)),
                             repeat)
    theirs, model = best_time(lambda: Lasso(alpha=alpha, tol=TOL).fit(X, y), repeat)
    print(f"sparse Lasso {n} x {d}, {X.nnz / n:.0f} nnz/row, alpha = {alpha:.4g} "
          f"(variant {result.info['variant']}, {result.n_iter} sweeps; sklearn {model.n_iter_})")
    report("sklearn Lasso", ours, theirs, lasso_objective(X, y, result.params[:-1], result.params[-1], alpha),
           lasso_objective(X, y, model.coef_, model.intercept_, alpha))


def bench_path(n, d, n_alphas, repeat):
    X, y = dense_problem(n, d, seed=2)
    options = CoordinateDescentOptions(tol=TOL)
    ours, path = best_time(lambda: coordinate_descent_path(X, y, n_alphas=n_alphas, eps=1e-3, options=options), repeat)

    def sklearn_path():  # lasso_path does not fit an intercept: center like Lasso does
        x_mean, y_mean = X.mean(axis=0), y.mean()
        return lasso_path(X - x_mean, y - y_mean, alphas=path.alphas, tol=TOL), x_mean, y_mean

    theirs, ((alphas, coefs, _), x_mean, y_mean) = best_time(sklearn_path, repeat)
    f_ours = [lasso_objective(X, y, path.coef[i, :, 0], path.intercept[i, 0], a) for i, a in enumerate(path.alphas)]
    f_theirs = [lasso_objective(X, y, coefs[:, i], y_mean - x_mean @ coefs[:, i], a) for i, a in enumerate(alphas)]
    worst = max((a - b) / abs(b) for a, b in zip(f_ours, f_theirs))
    print(f"Lasso path, {n_alphas} alphas, {n} x {d} (variant {path.variant}; "
          f"worst relative objective excess of fastml over sklearn along the path: {worst:.2e})")
    report("sklearn lasso_path (centered copy)", ours, theirs, f_ours[-1], f_theirs[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes for a shared machine")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per case (best is reported)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = args.repeat or (1 if args.quick else 3)
    print(f"machine: {machine()}; numpy {np.__version__}; tol = {TOL}; best of {repeat}")
    coordinate_descent(*dense_problem(100, 20), alpha=0.1)  # import and page in the kernels once
    bench_dense(1_000_000 // scale, 100, repeat)
    bench_sparse(100_000 // (scale // 2 or 1), 10_000 // (scale // 2 or 1), 50, repeat)
    bench_path(1_000_000 // scale, 100, 20, repeat)


if __name__ == "__main__":
    main()
