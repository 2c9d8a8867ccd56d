"""``fastml bench``: fastml's solvers against scikit-learn's LogisticRegression on generated data.

Design: every solver minimizes the same L2-regularized logistic objective (C=1), and the final objective
is recomputed here with NumPy for every model (``mean log-loss + ||coef||^2 / (2 C n)``), so the table
compares like with like. Times are wall seconds of ``fit`` after one untimed warm-up fit per solver
(compilation excluded). Convergence curves come from ``loss_curve_`` (objective per iteration).
"""
import os
import time

import numpy as np

SOLVERS = ("lbfgs", "newton", "gd", "sgd", "adam")


def _objective(coef, intercept, X, y, C):
    raw = X @ coef + intercept
    loss = np.mean(np.logaddexp(0.0, raw) - y * raw)
    return float(loss + coef @ coef / (2.0 * C * X.shape[0]))


def run_bench(quick=False, out_dir="fastml-bench-output", progress=None, random_state=0):
    """Compare the solvers; write ``results.csv``, ``curves.csv`` (and ``curves.png`` with matplotlib).

    Parameters
    ----------
    quick : bool
        2 000 x 20 rows instead of 50 000 x 50.
    out_dir : str or path
    progress : object with ``update(n)``, optional
        Advanced once per solver (a tqdm bar).

    Returns
    -------
    dict
        ``data`` (shape), ``results`` (one row per solver: seconds, objective, gap to the best objective,
        n_iter, accuracy) and ``artifacts``.
    """
    import warnings

    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

    import fastml

    n_samples, n_features = (2_000, 20) if quick else (50_000, 50)
    X, y = make_classification(n_samples=n_samples, n_features=n_features, n_informative=n_features // 2,
                               random_state=random_state)
    X = np.ascontiguousarray(X, dtype=np.float64)
    C = 1.0
    models = [(f"fastml {name}", lambda name=name: fastml.LogisticRegression(
        C=C, solver=name, max_iter=1000 if name == "gd" else 200, tol=1e-6, random_state=random_state))
        for name in SOLVERS]
    models.append(("scikit-learn lbfgs", lambda: SklearnLogisticRegression(C=C, max_iter=1000, tol=1e-6)))
    rows, curves = [], []
    for label, make in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make().fit(X[:200], y[:200])  # compile (or load) the kernels outside the timing
            model = make()
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        coef, intercept = np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])
        rows.append({"solver": label, "seconds": seconds, "objective": _objective(coef, intercept, X, y, C),
                     "n_iter": int(np.max(model.n_iter_)), "accuracy": float(model.score(X, y))})
        for iteration, value in enumerate(np.ravel(getattr(model, "loss_curve_", [])), start=1):
            curves.append({"solver": label, "iteration": iteration, "objective": float(value)})
        if progress is not None:
            progress.update(1)
    best = min(row["objective"] for row in rows)
    for row in rows:
        row["gap"] = row["objective"] - best
    os.makedirs(out_dir, exist_ok=True)
    artifacts = {"results": os.path.join(out_dir, "results.csv"), "curves": os.path.join(out_dir, "curves.csv")}
    pd.DataFrame(rows).to_csv(artifacts["results"], index=False)
    pd.DataFrame(curves, columns=["solver", "iteration", "objective"]).to_csv(artifacts["curves"], index=False)
    png = _plot(curves, best, os.path.join(out_dir, "curves.png"))
    if png:
        artifacts["plot"] = png
    return {"data": {"n_samples": n_samples, "n_features": n_features, "C": C}, "results": rows,
            "artifacts": artifacts}


def _plot(curves, best, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axis = plt.subplots(figsize=(6, 4))
    for label in dict.fromkeys(row["solver"] for row in curves):
        points = [(r["iteration"], r["objective"] - best) for r in curves if r["solver"] == label]
        axis.semilogy([p[0] for p in points], [max(p[1], 1e-16) for p in points], label=label)
    axis.set_xlabel("iteration (epoch for sgd/adam)")
    axis.set_ylabel("objective - best")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
