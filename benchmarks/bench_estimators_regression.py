"""fastml's regression estimators against their scikit-learn twins, measured in the same run.

Usage::

    python benchmarks/bench_estimators_regression.py            # 1e5 and 1e6 rows x 100 features
    python benchmarks/bench_estimators_regression.py --quick    # 2e4 and 1e5 rows (a shared machine)

For each size and dtype (float32, float64) every estimator is fitted by fastml and by scikit-learn on
the same data (best of ``--repeats`` fits; a small fit first compiles the kernels, so compile time is
never in the numbers), the coefficients are compared, and the speed-up is printed. Then the latency
of a single-row ``predict`` (median of many calls) is measured, small fits (1e3-2e4 rows, and a
GridSearchCV) with and without the drift fingerprint, Lasso/ElasticNet on wide data, and sparse data
with features far from zero (a millisecond timestamp: each library's error against least squares on
the centered matrix, and what exact centering costs), and PoissonRegressor on counts. Goals (issue 4): LinearRegression >= 8x,
RidgeCV with 10 alphas >= 20x.
"""
import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sklearn import linear_model as sk  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastml.linear_model._coordinate_descent import ElasticNet, ElasticNetCV, Lasso, LassoCV  # noqa: E402
from fastml.linear_model._least_squares import LinearRegression, Ridge, RidgeCV  # noqa: E402

ALPHAS = np.logspace(-2, 3, 10)
GOALS = {"LinearRegression": 8.0, "RidgeCV(10 alphas, LOO)": 20.0}


def cases(n_samples):
    """(label, fastml estimator, scikit-learn estimator) pairs; the slow CV twin only on smaller data."""
    pairs = [
        ("LinearRegression", LinearRegression(), sk.LinearRegression()),
        ("Ridge", Ridge(1.0), sk.Ridge(1.0)),
        ("RidgeCV(10 alphas, LOO)", RidgeCV(ALPHAS), sk.RidgeCV(ALPHAS)),
        ("RidgeCV(10 alphas, 5-fold)", RidgeCV(ALPHAS, cv=5), sk.RidgeCV(ALPHAS, cv=5)),
        ("Lasso", Lasso(0.1), sk.Lasso(0.1)),
        ("ElasticNet", ElasticNet(0.1, l1_ratio=0.5), sk.ElasticNet(0.1, l1_ratio=0.5)),
    ]
    if n_samples <= 200_000:
        pairs.append(("ElasticNetCV(20 alphas, 3-fold)", ElasticNetCV(alphas=20, cv=3),
                      sk.ElasticNetCV(alphas=20, cv=3)))
        pairs.append(("LassoCV(20 alphas, 3-fold)", LassoCV(alphas=20, cv=3), sk.LassoCV(alphas=20, cv=3)))
    return pairs


def make_data(n_samples, n_features, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float64)
    X += rng.uniform(-1, 1, n_features)
    coef = rng.standard_normal(n_features) * (rng.random(n_features) < 0.3)
    y = X @ coef + 0.5 * rng.standard_normal(n_samples) + 3.0
    return X.astype(dtype, copy=False), y.astype(dtype)


def best_time(estimator, X, y, repeats):
    """Best of ``repeats`` fits, after a pause: the previous library's BLAS threads keep spinning for
    up to ~0.5 s and would take a core from the first fits timed here (see median_fit_time)."""
    time.sleep(0.5)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times)


def relative_difference(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def warm_up():
    """Compile every kernel specialization the timed fits use (dense, float32 and float64)."""
    for dtype in (np.float32, np.float64):
        X, y = make_data(2000, 100, dtype)
        for _, ours, _ in cases(2000):
            ours.fit(X, y)
            ours.predict(X[:1])


def single_row_latency(estimator, row, calls):
    estimator.predict(row)
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        estimator.predict(row)
        times[i] = time.perf_counter() - start
    return float(np.median(times))


def median_fit_time(make, X, y, fits):
    """Median seconds of ``fits`` fits of fresh estimators, after a pause: BLAS threads of the previous
    batch (either library's) keep spinning for up to ~0.5 s and slow the next fits on 2 cores."""
    time.sleep(0.5)
    times = np.empty(fits)
    for i in range(fits):
        estimator = make()
        start = time.perf_counter()
        estimator.fit(X, y)
        times[i] = time.perf_counter() - start
    return float(np.median(times))


def poisson_fits(sizes, n_features, repeats):
    """PoissonRegressor (lbfgs, both at their defaults but ``alpha=1e-3``) on counts drawn from a
    log-linear model: seconds, iterations, and the objective each reaches (``mean(exp(eta) - y eta) +
    alpha / 2 ||w||^2``, evaluated here in float64 at each library's coefficients). From 160 000 rows
    fastml's L-BFGS starts from a row sample's optimum (``LBFGSOptions.sample_start``)."""
    from fastml import PoissonRegressor

    def objective(model, X, y, alpha):
        eta = X.astype(np.float64) @ model.coef_.astype(np.float64) + float(model.intercept_)
        return float(np.mean(np.exp(eta) - y * eta) + 0.5 * alpha * model.coef_.astype(np.float64) @ model.coef_)

    alpha = 1e-3
    print(f"\nPoissonRegressor(alpha={alpha}), x {n_features} features (best of {repeats} fits)")
    for n_samples in sizes:
        rng = np.random.default_rng(1)
        X = rng.standard_normal((n_samples, n_features))
        y = rng.poisson(np.exp(X @ (rng.standard_normal(n_features) * 0.3 / np.sqrt(n_features)) + 0.5))
        y = y.astype(np.float64)
        for dtype in (np.float32, np.float64):
            data = X.astype(dtype)
            PoissonRegressor(alpha=alpha, max_iter=3).fit(data[:2000], y[:2000])  # compile outside the timing
            ours, theirs = PoissonRegressor(alpha=alpha), sk.PoissonRegressor(alpha=alpha)
            ours_time = best_time(ours, data, y, repeats)
            theirs_time = best_time(theirs, data, y, repeats)
            ours_value, theirs_value = objective(ours, data, y, alpha), objective(theirs, data, y, alpha)
            print(f"{'PoissonRegressor':34s} {np.dtype(dtype).name:8s} {n_samples:9d} {ours_time:9.3f} "
                  f"{theirs_time:10.3f} {theirs_time / ours_time:6.1f}x   iterations {ours.n_iter_} / "
                  f"{theirs.n_iter_}   objective rel diff {(ours_value - theirs_value) / abs(theirs_value):+.1e}",
                  flush=True)
        del X, y


def small_fits(fits):
    """Small data, where per-fit costs dominate: fastml with and without the drift fingerprint
    (``fastml.config_context(fingerprint=False)``) against scikit-learn, and a GridSearchCV."""
    import fastml
    from sklearn.model_selection import GridSearchCV

    print("\nsmall fits, float64 x 100 features (median of fits; fastml with its fingerprint / without)")
    for n_samples in (1_000, 5_000, 10_000, 20_000):
        X, y = make_data(n_samples, 100, np.float64)
        for label, make_ours, make_theirs in [("Ridge", lambda: Ridge(1.0), lambda: sk.Ridge(1.0)),
                                              ("Lasso", lambda: Lasso(0.1), lambda: sk.Lasso(0.1)),
                                              ("ElasticNet", lambda: ElasticNet(0.1), lambda: sk.ElasticNet(0.1))]:
            with_print = median_fit_time(make_ours, X, y, fits)
            with fastml.config_context(fingerprint=False):
                without = median_fit_time(make_ours, X, y, fits)
            theirs = median_fit_time(make_theirs, X, y, fits)
            print(f"{label:12s} {n_samples:6d} rows: fastml {with_print * 1e3:6.2f} / {without * 1e3:6.2f} ms   "
                  f"scikit-learn {theirs * 1e3:6.2f} ms   ratio {theirs / with_print:4.2f}x / {theirs / without:4.2f}x")
    X, y = make_data(5_000, 100, np.float64)
    grid = {"alpha": np.logspace(-2, 2, 10)}
    search = lambda estimator: GridSearchCV(estimator, grid, cv=5)  # noqa: E731
    with_print = median_fit_time(lambda: search(Lasso()), X, y, 3)
    with fastml.config_context(fingerprint=False):
        without = median_fit_time(lambda: search(Lasso()), X, y, 3)
    theirs = median_fit_time(lambda: search(sk.Lasso()), X, y, 3)
    print(f"GridSearchCV(Lasso, 10 alphas, 5-fold) 5000 rows: fastml {with_print:.3f} / {without:.3f} s   "
          f"scikit-learn {theirs:.3f} s   ratio {theirs / with_print:4.2f}x / {theirs / without:4.2f}x")
    # the CV estimators at their defaults (100 alphas, 5 folds): 500 solves of a path per fit
    for n_samples in (1_000, 10_000):
        X, y = make_data(n_samples, 100, np.float64)
        for label, make_ours, make_theirs in [("ElasticNetCV()", ElasticNetCV, sk.ElasticNetCV),
                                              ("LassoCV()", LassoCV, sk.LassoCV)]:
            make_ours().fit(X, y)
            ours = median_fit_time(make_ours, X, y, 5)
            theirs = median_fit_time(make_theirs, X, y, 5)
            print(f"{label:16s} {n_samples:6d} rows: fastml {ours * 1e3:6.1f} ms   scikit-learn {theirs * 1e3:6.1f} ms   "
                  f"ratio {theirs / ours:4.2f}x")


def wide_fits(fits):
    """More features than rows, more than the Gram variant takes (1 024), or fewer than 12 rows per
    feature (one solve does not amortize the Gram there): coordinate descent sweeps the columns of an
    F-ordered copy of X, as scikit-learn does."""
    print("\nwide data, float64, 20 informative features (median of fits, fingerprint included)")
    rng = np.random.default_rng(3)
    for n_samples, n_features in ((1_000, 3_000), (5_000, 2_000), (2_000, 500), (3_000, 300)):
        X = rng.standard_normal((n_samples, n_features))
        coef = np.zeros(n_features)
        coef[:20] = rng.standard_normal(20)
        y = X @ coef + 0.1 * rng.standard_normal(n_samples)
        for label, make_ours, make_theirs in [("Lasso(0.1)", lambda: Lasso(0.1), lambda: sk.Lasso(0.1)),
                                              ("ElasticNet(0.1)", lambda: ElasticNet(0.1),
                                               lambda: sk.ElasticNet(0.1))]:
            make_ours().fit(X, y)
            ours = median_fit_time(make_ours, X, y, fits)
            theirs = median_fit_time(make_theirs, X, y, fits)
            print(f"{label:16s} {n_samples} x {n_features}: fastml {ours * 1e3:7.1f} ms   scikit-learn "
                  f"{theirs * 1e3:7.1f} ms   ratio {theirs / ours:4.2f}x")


def offset_features(n_samples, fits):
    """Sparse data with two nearly dense columns far from zero: a millisecond timestamp (mean 1.7e12,
    spread 1e5) and a reading about a baseline (mean 1e6, spread 0.1). Before fastml formed such
    columns' centered sums exactly, they were taken for constants on CSR input (coefficient 0).
    Printed: seconds for CSR and dense input, each library; the largest coefficient error relative to
    least squares on the explicitly centered dense matrix (numpy lstsq, or scikit-learn's dense fit
    for the penalized models, which centers X itself); and fastml's CSR time on the same data
    with the two columns standardized, i.e. the cost of the exact centering."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    X = sp.random(n_samples, 100, density=0.05, format="csr", random_state=5, dtype=np.float64).toarray()
    X[:, 0] = 1.7e12 + 1e5 * rng.standard_normal(n_samples)
    X[:, 1] = 1e6 + 0.1 * rng.standard_normal(n_samples)
    coef = rng.standard_normal(100)
    coef[0] = 1e-5
    y = (X - X.mean(axis=0)) @ coef + 0.1 * rng.standard_normal(n_samples)
    standardized = X.copy()
    standardized[:, :2] = (X[:, :2] - X[:, :2].mean(axis=0)) / X[:, :2].std(axis=0)
    csr, csr_standardized = sp.csr_matrix(X), sp.csr_matrix(standardized)
    centered = X - X.mean(axis=0)
    print(f"\noffset features: {n_samples} x 100, 5 % dense + a ms timestamp and a reading about 1e6 "
          f"(median of {fits} fits; coefficient error relative to the reference)")
    for label, make_ours, make_theirs in [("LinearRegression", LinearRegression, sk.LinearRegression),
                                          ("Ridge(1.0)", lambda: Ridge(1.0), lambda: sk.Ridge(1.0)),
                                          ("Lasso(1e-3)", lambda: Lasso(1e-3), lambda: sk.Lasso(1e-3))]:
        if label == "LinearRegression":
            reference = np.linalg.lstsq(centered, y - y.mean(), rcond=None)[0]
        else:
            reference = make_theirs().fit(X, y).coef_
        row = f"{label:17s}"
        for name, data in (("CSR", csr), ("dense", X)):
            make_ours().fit(data, y)
            ours, theirs = make_ours(), make_theirs()
            ours_time = median_fit_time(lambda: ours, data, y, fits)
            theirs_time = median_fit_time(lambda: theirs, data, y, fits)
            row += (f"  {name}: fastml {ours_time * 1e3:6.1f} ms (err {relative_difference(ours.coef_, reference):.0e})"
                    f" sklearn {theirs_time * 1e3:6.1f} ms (err {relative_difference(theirs.coef_, reference):.0e})"
                    f" {theirs_time / ours_time:4.1f}x")
        plain = median_fit_time(make_ours, csr_standardized, y, fits)
        print(row + f"  | fastml CSR, columns standardized: {plain * 1e3:6.1f} ms")


def machine():
    lines = [f"python {platform.python_version()} on {platform.platform()}",
             f"processor: {platform.processor() or platform.machine()}, CPUs available: {len(os.sched_getaffinity(0))}"]
    try:
        import sklearn
        import threadpoolctl

        pools = [f"{p['internal_api']} ({p['num_threads']} threads)" for p in threadpoolctl.threadpool_info()]
        lines.append(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, pools: {', '.join(pools)}")
    except ImportError:
        pass
    try:
        lines.append(f"load average: {os.getloadavg()}")
    except OSError:
        pass
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2e4 and 1e5 rows instead of 1e5 and 1e6")
    parser.add_argument("--repeats", type=int, default=None, help="fits per estimator (best is kept)")
    parser.add_argument("--n-features", type=int, default=100)
    args = parser.parse_args(argv)
    sizes = (20_000, 100_000) if args.quick else (100_000, 1_000_000)
    repeats = args.repeats or (1 if args.quick else 2)
    print(machine())
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    warm_up()
    print(f"warm-up (kernel compilation or cache load): {time.perf_counter() - start:.2f} s\n")

    header = f"{'estimator':34s} {'dtype':8s} {'rows':>9s} {'fastml s':>9s} {'sklearn s':>10s} {'ratio':>7s} " \
             f"{'goal':>5s} {'coef rel diff':>13s}"
    print(header)
    print("-" * len(header))
    for n_samples in sizes:
        for dtype in (np.float32, np.float64):
            X, y = make_data(n_samples, args.n_features, dtype)
            for label, ours, theirs in cases(n_samples):
                ours_time = best_time(ours, X, y, repeats)
                theirs_time = best_time(theirs, X, y, repeats)
                ratio = theirs_time / ours_time
                goal = GOALS.get(label)
                goal_text = "" if goal is None else f"{goal:.0f}x"
                print(f"{label:34s} {np.dtype(dtype).name:8s} {n_samples:9d} {ours_time:9.3f} {theirs_time:10.3f} "
                      f"{ratio:6.1f}x {goal_text:>5s} {relative_difference(ours.coef_, theirs.coef_):13.1e}",
                      flush=True)
            del X, y

    poisson_fits(sizes, args.n_features, repeats)
    offset_features(20_000 if args.quick else 200_000, 3 if args.quick else 5)
    small_fits(15 if args.quick else 30)
    wide_fits(5 if args.quick else 9)

    print("\nsingle-row predict latency (median)")
    X, y = make_data(5000, args.n_features, np.float64)
    calls = 2000 if args.quick else 10000
    for ours, theirs in [(LinearRegression(), sk.LinearRegression()), (Lasso(0.1), sk.Lasso(0.1))]:
        ours.fit(X, y)
        theirs.fit(X, y)
        ours_latency = single_row_latency(ours, X[:1], calls)
        theirs_latency = single_row_latency(theirs, X[:1], calls)
        print(f"{type(ours).__name__:34s} fastml {ours_latency * 1e6:7.1f} us   scikit-learn "
              f"{theirs_latency * 1e6:7.1f} us   ratio {theirs_latency / ours_latency:5.1f}x")


if __name__ == "__main__":
    main()
