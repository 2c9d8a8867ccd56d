"""LogisticRegression (and LogisticRegressionCV) against scikit-learn, measured in the same run.

    python benchmarks/bench_estimators_classification.py [--quick] [--profile]

Cases (``--quick`` shrinks the large ones for a shared machine):
* binary L2 logistic regression, lbfgs, n x 100, float32 and float64: fit seconds and final objective
  (both evaluated by the same function at each library's coefficients) -- goal >= 4x, same objective;
* multinomial, 10 classes, n x 200, float64;
* warm fit of ``LogisticRegression()`` on breast_cancer (569 x 30, standardized) -- goal: no slower
  than scikit-learn (the per-fit overhead of the Python path matters here); ``--profile`` prints
  where the time of that fit goes;
* LogisticRegressionCV (5 folds x 10 Cs) on breast_cancer;
* a regularization path of 50 Cs on breast_cancer: one batched fastml L-BFGS call (all models share
  each pass) against 50 scikit-learn fits, the same objectives and tolerance;
* single-row ``predict`` latency (LogisticRegression, and SGDClassifier, fitted on breast_cancer);
* L1 logistic regression (``C = 0.5``, tol 1e-6 on both sides): fastml's proximal Newton
  (``solver="cd"``, what ``"auto"`` picks for two classes) and proximal gradient (``"gd"``) against
  scikit-learn's ``liblinear`` and ``saga`` (``l1_ratio=1``), on breast_cancer raw and standardized
  and on an n x 100 problem with feature scales spread over three decades: seconds, iterations and
  the objective each reaches (fastml's, at each solution; liblinear penalizes its intercept, so it
  gets ``intercept_scaling=100``);
* sparse text-like logistic regression (PEERS.md's case: n x 2^18 CSR, 50 nonzeros per row, labels
  from a planted model), both libraries at their defaults (tol 1e-4) and at tol 1e-6: fit seconds,
  iterations, the objective each reaches (fastml's, at each library's coefficients) and that of the
  intercept-only start. Before fastml judged convergence in the units of the features, its default
  fit stopped at that start there (``n_iter_ == 0``, every coefficient 0).

Both libraries are timed with their default threads and with one thread, and each one's BEST time
is reported (on a busy 2-core machine spinning OpenMP threads can be much slower than one thread).
Numba compile time is excluded: every fastml case is run once before it is timed.
"""
import argparse
import cProfile
import os
import platform
import pstats
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import fastml
from fastml.linear_model._logistic import LogisticRegression
from fastml.linear_model._logistic_cv import LogisticRegressionCV
from fastml.linear_model._stochastic_gradient import SGDClassifier

warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning))


def make_problem(n_samples, n_features, n_classes=2, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32 if dtype == np.float32 else np.float64)
    coef = rng.standard_normal((n_features, n_classes if n_classes > 2 else 1)) / np.sqrt(n_features)
    raw = X @ coef.astype(X.dtype)
    if n_classes == 2:
        y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-2.0 * raw[:, 0]))).astype(np.int64)
    else:
        noisy = 2.0 * raw + rng.gumbel(size=raw.shape)
        y = noisy.argmax(axis=1)
    return X, y


def best_time(function, repeats):
    """Best of ``repeats`` calls, after a pause: BLAS threads of the previous calls (either library's)
    keep spinning for up to ~0.5 s and would take a core from the first calls timed here."""
    time.sleep(0.5)
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def sklearn_best(make, X, y, repeats):
    """Best of scikit-learn with default threads and with one thread: (seconds, fitted model, setting)."""
    default_time, model = best_time(lambda: make().fit(X, y), repeats)
    with threadpool_limits(1):
        single_time, single = best_time(lambda: make().fit(X, y), repeats)
    if single_time < default_time:
        return single_time, single, "1 thread"
    return default_time, model, "default threads"


def fastml_best(make, X, y, repeats):
    """Best of fastml with its default threads and with one thread (n_jobs=1), as for scikit-learn."""
    default_time, model = best_time(lambda: make().fit(X, y), repeats)
    single_time, single = best_time(lambda: make(n_jobs=1).fit(X, y), repeats)
    if single_time < default_time:
        return single_time, single, "1 thread"
    return default_time, model, "default threads"


def objective_at(model, X, y, coef, intercept):
    """fastml's objective (scikit-learn's divided by C * n) at the given coefficients."""
    shell = LogisticRegression(C=model.C)
    shell.classes_, shell.n_features_in_ = model.classes_, X.shape[1]
    shell.coef_, shell.intercept_ = np.asarray(coef), np.asarray(intercept)
    return shell.objective(X, y)


def bench_fit(label, n_samples, n_features, n_classes, dtype, repeats, rows):
    X, y = make_problem(n_samples, n_features, n_classes, dtype)
    params = {"C": 1.0, "tol": 1e-6, "max_iter": 500}
    LogisticRegression(**params).fit(X[:2000], y[:2000])  # compile outside the timing
    ours_time, ours, our_setting = fastml_best(lambda **extra: LogisticRegression(**params, **extra), X, y, repeats)
    theirs_time, theirs, setting = sklearn_best(lambda: sk.LogisticRegression(**params), X, y, repeats)
    f_ours = objective_at(ours, X, y, ours.coef_, ours.intercept_)
    f_theirs = objective_at(ours, X, y, theirs.coef_, theirs.intercept_)
    rows.append({"case": label, "fastml_s": ours_time, "sklearn_s": theirs_time, "speedup": theirs_time / ours_time,
                 "fastml_iter": int(ours.n_iter_[0]), "sklearn_iter": int(np.max(theirs.n_iter_)),
                 "objective_rel_diff": (f_ours - f_theirs) / abs(f_theirs), "fastml_setting": our_setting,
                 "sklearn_setting": setting})


def bench_breast_cancer(rows, repeats, profile):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    LogisticRegression().fit(X, y)
    LogisticRegression(n_jobs=1).fit(X, y)
    ours_time, ours, our_setting = fastml_best(LogisticRegression, X, y, repeats)
    theirs_time, theirs, setting = sklearn_best(lambda: sk.LogisticRegression(), X, y, repeats)
    rows.append({"case": "warm fit breast_cancer 569x30", "fastml_s": ours_time, "sklearn_s": theirs_time,
                 "speedup": theirs_time / ours_time, "fastml_iter": int(ours.n_iter_[0]),
                 "sklearn_iter": int(theirs.n_iter_[0]), "fastml_setting": our_setting, "sklearn_setting": setting,
                 "objective_rel_diff": (objective_at(ours, X, y, ours.coef_, ours.intercept_)
                                        - objective_at(ours, X, y, theirs.coef_, theirs.intercept_))
                 / objective_at(ours, X, y, theirs.coef_, theirs.intercept_)})
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(50):
            LogisticRegression().fit(X, y)
        profiler.disable()
        print("\nprofile of 50 warm fits on breast_cancer (cumulative time, top 25):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    LogisticRegressionCV(cv=5).fit(X, y)
    cv_time, cv_model, our_setting = fastml_best(lambda **extra: LogisticRegressionCV(cv=5, **extra), X, y,
                                                 max(1, repeats // 3))
    cv_theirs, cv_ref, setting = sklearn_best(
        lambda: sk.LogisticRegressionCV(cv=5, l1_ratios=None, use_legacy_attributes=True, scoring=None), X, y,
        max(1, repeats // 3))
    rows.append({"case": "LogisticRegressionCV breast_cancer 5x10", "fastml_s": cv_time, "sklearn_s": cv_theirs,
                 "speedup": cv_theirs / cv_time, "fastml_setting": our_setting, "sklearn_setting": setting,
                 "same_C": bool(np.allclose(cv_model.C_, cv_ref.C_))})
    return ours, theirs, X


def bench_batched_path(rows, repeats, n_models=50):
    """A regularization path of ``n_models`` Cs on breast_cancer: fastml's batched L-BFGS (every model in
    each pass over X) against ``n_models`` scikit-learn fits, the same objectives and tolerance."""
    from fastml.solvers.lbfgs import LBFGSOptions, lbfgs

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Cs = np.logspace(-3, 3, n_models)
    objective = fastml.LinearObjective("log_loss", X, y.astype(np.float64), l2=1.0 / (Cs * X.shape[0]))
    options = LBFGSOptions(tol=1e-6, max_iter=1000)
    lbfgs(objective, options=options)
    ours_time, result = best_time(lambda: lbfgs(objective, options=options), repeats)
    theirs_time, models = best_time(lambda: [sk.LogisticRegression(C=C, tol=1e-6, max_iter=1000).fit(X, y)
                                             for C in Cs], max(1, repeats // 3))
    ours_values = objective.values(result.params)
    theirs_params = np.column_stack([np.r_[m.coef_.ravel(), m.intercept_] for m in models]).ravel()
    theirs_values = objective.values(theirs_params)
    rows.append({"case": f"regularization path breast_cancer, {n_models} Cs (batched lbfgs vs {n_models} fits)",
                 "fastml_s": ours_time, "sklearn_s": theirs_time, "speedup": theirs_time / ours_time,
                 "objective_rel_diff_max": float(np.max((ours_values - theirs_values) / theirs_values))})


def bench_l1(rows, n_samples, repeats):
    """L1 logistic regression: fastml cd / gd against scikit-learn liblinear / saga (see the docstring)."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    spread, labels = make_problem(n_samples, 100)
    spread = spread * np.logspace(-1.5, 1.5, 100)[rng.permutation(100)]
    cases = [("breast_cancer raw", X, y), ("breast_cancer standardized", StandardScaler().fit_transform(X), y),
             (f"{n_samples}x100 scales 1e-1.5..1e1.5", spread, labels)]
    C, tol = 0.5, 1e-6
    for label, data, target in cases:
        fits = {"fastml cd": lambda: LogisticRegression(l1_ratio=1.0, C=C, solver="cd", tol=tol, max_iter=1000),
                "fastml gd": lambda: LogisticRegression(l1_ratio=1.0, C=C, solver="gd", tol=tol, max_iter=1000),
                "sklearn liblinear": lambda: sk.LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", tol=tol,
                                                                   max_iter=1000, intercept_scaling=100.0),
                "sklearn saga": lambda: sk.LogisticRegression(l1_ratio=1.0, C=C, solver="saga", tol=tol,
                                                              max_iter=1000)}
        for solver in ("cd", "gd"):  # compile the kernels of this size (threaded or not) outside the timing
            LogisticRegression(l1_ratio=1.0, C=C, solver=solver, max_iter=3).fit(data[:5000], target[:5000])
        shell = LogisticRegression(l1_ratio=1.0, C=C, solver="cd").fit(data[:50], target[:50])
        row = {"case": f"L1 logistic C={C} {label}"}
        for name, make in fits.items():
            # saga runs its 1 000 epochs without converging here (minutes at 1e5 rows): timed once
            seconds, model = best_time(lambda: make().fit(data, target), 1 if name == "sklearn saga" else repeats)
            shell.coef_, shell.intercept_ = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
            shell.n_features_in_ = data.shape[1]
            key = name.replace(" ", "_")
            row[f"{key}_s"] = seconds
            row[f"{key}_iter"] = int(np.max(model.n_iter_))
            row[f"{key}_objective"] = float(shell.objective(data, target))
        rows.append(row)


def sparse_text_problem(n_samples, n_features=2**18, per_row=50, seed=0):
    rng = np.random.default_rng(seed)
    columns = rng.integers(0, n_features, n_samples * per_row).astype(np.int32)
    X = sp.csr_matrix((rng.standard_normal(n_samples * per_row), columns,
                       np.arange(0, n_samples * per_row + 1, per_row)), shape=(n_samples, n_features))
    X.sum_duplicates()
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-(X @ (0.3 * rng.standard_normal(n_features)))))).astype(int)
    return X, y


def bench_sparse_text(rows, n_samples, repeats):
    """fastml and scikit-learn's lbfgs on a hashed-text-like CSR problem, one thread setting each (their
    default); the objective is fastml's at each library's coefficients."""
    X, y = sparse_text_problem(n_samples)
    LogisticRegression().fit(X[:20_000], y[:20_000])  # compile the threaded kernels outside the timing
    for tol in (1e-4, 1e-6):
        params = {"C": 1.0, "tol": tol, "max_iter": 1000}
        ours_time, ours = best_time(lambda: LogisticRegression(**params).fit(X, y), repeats)
        theirs_time, theirs = best_time(lambda: sk.LogisticRegression(**params).fit(X, y), repeats)
        objective = fastml.LinearObjective("log_loss", X, y.astype(np.float64), l2=1.0 / len(y))
        at_start = objective.value(objective.initial_parameters())
        values = [objective.value(np.r_[m.coef_.ravel(), m.intercept_]) for m in (ours, theirs)]
        rows.append({"case": f"sparse text {n_samples}x2^18 50 nnz/row, tol {tol:g}", "fastml_s": ours_time,
                     "sklearn_s": theirs_time, "speedup": theirs_time / ours_time,
                     "fastml_iter": int(ours.n_iter_[0]), "sklearn_iter": int(theirs.n_iter_[0]),
                     "fastml_objective": values[0], "sklearn_objective": values[1], "intercept_only": at_start,
                     "objective_rel_diff": (values[0] - values[1]) / values[1]})


def bench_predict_latency(ours, theirs, X, rows, calls, label=""):
    row = X[:1].copy()
    for name, model in (("fastml", ours), ("sklearn", theirs)):
        model.predict(row)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            model.predict(row)
            times.append(time.perf_counter() - start)
        rows.append({"case": f"single-row predict latency{label} ({name})",
                     f"{name}_us": 1e6 * float(np.median(times))})


def bench_batch_predict(rows, n_samples, repeats):
    """``predict`` and ``predict_proba`` of a binary model on ``n_samples`` x 100 rows, float64 and
    float32, and of a 10-class (multinomial) model in float64, both libraries with their default
    threads (the models are fitted on 20 000 rows: the time of a prediction does not depend on the
    fit; scikit-learn's model is given fastml's coefficients, so that both score the same model)."""
    for n_classes, dtypes in ((2, (np.float64, np.float32)), (10, (np.float64,))):
        for dtype in dtypes:
            X, y = make_problem(n_samples, 100, n_classes=n_classes, dtype=dtype)
            ours = LogisticRegression().fit(X[:20_000], y[:20_000])
            theirs = sk.LogisticRegression().fit(X[:20_000], y[:20_000])
            theirs.coef_, theirs.intercept_ = ours.coef_.copy(), ours.intercept_.copy()
            label = f"{n_samples}x100 {np.dtype(dtype).name}" + ("" if n_classes == 2 else f" {n_classes} classes")
            for method in ("predict", "predict_proba"):
                getattr(ours, method)(X)
                ours_time, ours_out = best_time(lambda: getattr(ours, method)(X), repeats)
                theirs_time, theirs_out = best_time(lambda: getattr(theirs, method)(X), repeats)
                agree = (float(np.mean(ours_out == theirs_out)) if method == "predict"
                         else float(np.abs(ours_out - theirs_out).max()))
                rows.append({"case": f"{method} {label}", "fastml_s": ours_time, "sklearn_s": theirs_time,
                             "speedup": theirs_time / ours_time,
                             "same_labels" if method == "predict" else "max_abs_diff": agree})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a shared machine")
    parser.add_argument("--profile", action="store_true", help="profile the warm breast_cancer fit")
    parser.add_argument("--predict-only", action="store_true", help="only the batch predict / predict_proba rows")
    args = parser.parse_args()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    text_rows = 100_000 if args.quick else 500_000
    multinomial_rows = 20_000 if args.quick else 200_000
    repeats = 2 if args.quick else 3
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()}, fastml threads {fastml.get_n_threads()}")
    rows = []
    if args.predict_only:
        bench_batch_predict(rows, sizes[-1], 3 if args.quick else 7)
        _print_rows(rows)
        return
    for n_samples in sizes:
        for dtype in (np.float64, np.float32):
            bench_fit(f"binary lbfgs {n_samples}x100 {np.dtype(dtype).name}", n_samples, 100, 2, dtype, repeats, rows)
    bench_fit(f"multinomial lbfgs {multinomial_rows}x200 10 classes", multinomial_rows, 200, 10, np.float64,
              repeats, rows)
    ours, theirs, X = bench_breast_cancer(rows, 20 if args.quick else 50, args.profile)
    bench_batched_path(rows, 3 if args.quick else 7)
    bench_predict_latency(ours, theirs, X, rows, 2000)
    y = load_breast_cancer().target
    bench_predict_latency(SGDClassifier(random_state=0).fit(X, y), sk.SGDClassifier(random_state=0).fit(X, y), X, rows,
                          2000, label=", SGDClassifier")
    bench_batch_predict(rows, sizes[-1], 3 if args.quick else 7)
    bench_l1(rows, 20_000 if args.quick else 100_000, 2 if args.quick else 3)
    bench_sparse_text(rows, text_rows, 2)
    _print_rows(rows)


def _print_rows(rows):
    for row in rows:
        print(" | ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                         for key, value in row.items()))


if __name__ == "__main__":
    main()
