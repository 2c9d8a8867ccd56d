"""check_drift on 1e6 rows x 100 features from a stored fingerprint, the fingerprint every fit records
(1e3-2e4 rows) and what it adds to a small fit's wall time, and the full no-drift calibration table
(1 000 repetitions at n = 100, 1 000, 10 000; the test suite runs 300 at n = 10 000).

Run: NUMBA_CACHE_DIR=/tmp/nbcache-drift .venv/bin/python benchmarks/bench_drift.py [--skip-calibration]
"""
import os
import platform
import sys
import time

import numpy as np
from scipy import stats

import fastml
from fastml.drift import Fingerprint, check_drift


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, fastml threads {fastml.get_n_threads()}, Python {sys.version.split()[0]}"


def bench_large():
    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((200_000, 100))
    X_train[:, :10] = rng.integers(0, 5, size=(200_000, 10))
    y = X_train @ rng.standard_normal(100)
    t = time.perf_counter()
    model = fastml.Ridge().fit(X_train, y)
    fit_seconds = time.perf_counter() - t
    t = time.perf_counter()
    Fingerprint.from_data(X_train, scorer=None)
    fp_seconds = time.perf_counter() - t
    meta, arrays = model.fingerprint_.to_state()
    stored = Fingerprint.from_state(meta, arrays)
    X_new = rng.standard_normal((1_000_000, 100))
    X_new[:, :10] = rng.integers(0, 5, size=(1_000_000, 10))
    X_new[:, 50] += 0.1
    # compile / load both variants (a batch of >= 200 000 values runs the threaded one)
    check_drift(stored, X_new[:1000], model=model)
    check_drift(stored, X_new[:5000], model=model)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        report = check_drift(stored, X_new, model=model)
        times.append(time.perf_counter() - t)
    X32 = X_new.astype(np.float32)
    check_drift(stored, X32[:1000], model=model)
    check_drift(stored, X32[:5000], model=model)
    t32 = np.inf
    for _ in range(3):
        t = time.perf_counter()
        check_drift(stored, X32, model=model)
        t32 = min(t32, time.perf_counter() - t)
    print(f"fingerprint: {model.fingerprint_.nbytes()} bytes of arrays for 100 features + scores; "
          f"Fingerprint.from_data(200 000 x 100) {fp_seconds:.3f} s (Ridge fit incl. fingerprint {fit_seconds:.2f} s)")
    print(f"check_drift 1e6 x 100 float64 (with prediction drift): best {min(times):.3f} s, "
          f"runs {[round(x, 3) for x in times]}; float32 best {t32:.3f} s  (target < 2 s)")
    print(f"  verdict {report.drift_detected}, drifted {report.drifted_features}")


def bench_fit_fingerprints(fits=30):
    """What the fingerprint adds to every fit: Fingerprint.from_data on float64 data (median of ``fits``
    calls, no scorer), at sizes where a fit itself takes milliseconds: power-of-two row counts (they
    once mapped the subsample's copy onto a few cache sets) and wide data (its edge sample is bounded).
    With the default thread count and with one thread; beside it, numpy's sort of the same edge
    samples (what gave the decile edges before they were selected by bucketing, 16-20 ns a value here)."""
    from fastml.drift._fingerprint import EDGE_ROWS, EDGE_VALUES_PER_FIT, MAX_CELLS_PER_FIT, MIN_EDGE_ROWS

    def median_ms(call):
        call()
        times = []
        for _ in range(fits):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        return 1e3 * np.median(times)

    rng = np.random.default_rng(2)
    print(f"\nFingerprint.from_data, float64, median of {fits}; numpy's sort of its edge samples for comparison")
    print(f"{'rows x features':>18} {'default threads':>16} {'1 thread':>10} {'np.sort of edges':>17}")
    for n_rows, n_features in ((1_000, 100), (4_096, 100), (5_000, 100), (8_192, 100), (20_000, 100),
                               (100_000, 100), (1_000, 3_000), (5_000, 2_000)):
        X = rng.standard_normal((n_rows, n_features))
        threaded = median_ms(lambda: Fingerprint.from_data(X))
        with fastml.config_context(n_threads=1):
            serial = median_ms(lambda: Fingerprint.from_data(X))
        # the edge sample from_data takes: a strided part of the (at most MAX_CELLS_PER_FIT) subsample
        sample_rows = min(n_rows, max(1000, MAX_CELLS_PER_FIT // n_features))
        edge_rows = min(EDGE_ROWS, max(MIN_EDGE_ROWS, EDGE_VALUES_PER_FIT // n_features))
        columns = np.ascontiguousarray(X[:sample_rows].T)
        step = max(1, -(-sample_rows // edge_rows))
        sort = median_ms(lambda: np.sort(columns[:, ::step], axis=1))
        print(f"{n_rows:>9} x {n_features:<6} {threaded:>13.2f} ms {serial:>7.2f} ms {sort:>14.2f} ms")


def bench_fingerprint_alongside_fit(rounds=3, fits=200):
    """What the fingerprint adds to a small fit's wall time: taken alongside the fit on a second thread
    (the default, ``drift._fingerprint.start_fingerprint``), taken after it on the fit's thread (the
    second thread switched off), and switched off (``fingerprint=False``); median of ``fits`` fits,
    the three interleaved in ``rounds`` rounds in one process (this VM's timings drift between runs)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    import fastml.drift._fingerprint as fingerprint_module

    def median_ms(make, X, y):
        make().fit(X, y)
        times = []
        for _ in range(fits):
            t = time.perf_counter()
            make().fit(X, y)
            times.append(time.perf_counter() - t)
        return 1e3 * np.median(times)

    rng = np.random.default_rng(4)
    X = rng.standard_normal((1_000, 100))
    y = X @ rng.standard_normal(100) + rng.standard_normal(1_000)
    cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
    cancer_X = StandardScaler().fit_transform(cancer_X)
    cases = [("Ridge 1000 x 100", fastml.Ridge, X, y), ("Lasso(0.1) 1000 x 100", lambda: fastml.Lasso(0.1), X, y),
             ("LogisticRegression 1000 x 100", fastml.LogisticRegression, X, (y > 0).astype(int)),
             ("LogisticRegression breast_cancer", fastml.LogisticRegression, cancer_X, cancer_y)]
    alongside = fingerprint_module.start_fingerprint
    after = lambda X, serial_fit_below=0: alongside(X)  # noqa: E731  (never on the second thread)
    print(f"\nfit wall time with the fingerprint alongside / after / none (median of {fits}, {rounds} rounds)")
    for label, make, data, target in cases:
        rows = []
        for _ in range(rounds):
            try:
                fingerprint_module.start_fingerprint = after
                sequential = median_ms(make, data, target)
            finally:
                fingerprint_module.start_fingerprint = alongside
            background = median_ms(make, data, target)
            with fastml.config_context(fingerprint=False):
                none = median_ms(make, data, target)
            rows.append(f"{background:.2f} / {sequential:.2f} / {none:.2f}")
        print(f"{label:>34}: " + "   ".join(rows) + " ms")


def calibration(reps=1000, alpha=0.05):
    rng = np.random.default_rng(1)
    p_cat = np.array([0.5, 0.3, 0.15, 0.05])

    def population(n):
        return np.column_stack([rng.standard_normal(n), rng.choice(4, size=n, p=p_cat).astype(np.float64)])

    low, high = stats.binom.ppf(0.005, reps, alpha) / reps, stats.binom.isf(0.005, reps, alpha) / reps
    print(f"\nno-drift false-positive rate, alpha={alpha}, {reps} reps each, new reference (20 000 rows) and "
          f"new window per rep; 99% binomial interval [{low:.3f}, {high:.3f}]")
    print(f"{'n':>7} {'ks(cont)':>9} {'chi2(cont)':>11} {'auto(cont)':>11} {'chi2(cat)':>10} {'verdict':>8}")
    for n in (100, 1000, 10_000):
        hits = np.zeros(5)
        for _ in range(reps):
            report = check_drift(Fingerprint.from_data(population(20_000)), population(n), alpha=alpha)
            cont, cat = report.rows
            hits += [cont["ks_p_value"] < alpha, cont["chi2_p_value"] < alpha, cont["p_value"] < alpha,
                     cat["p_value"] < alpha, report.drift_detected]
        rates = hits / reps
        flag = "" if all(low <= r <= high for r in rates[:4]) else "  <- outside"
        print(f"{n:>7} {rates[0]:>9.3f} {rates[1]:>11.3f} {rates[2]:>11.3f} {rates[3]:>10.3f} {rates[4]:>8.3f}{flag}")


if __name__ == "__main__":
    print(machine())
    bench_large()
    bench_fit_fingerprints()
    bench_fingerprint_alongside_fit()
    if "--skip-calibration" not in sys.argv:
        calibration()
