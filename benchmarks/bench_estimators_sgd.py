"""SGDClassifier epochs, fastml against scikit-learn, at the estimator level (fit() calls, validation included).

Usage::

    python benchmarks/bench_estimators_sgd.py [--quick] [--sizes 100000 1000000] [--n-features P] [--repeats R]
    python benchmarks/bench_estimators_sgd.py --small-only   # the small bundled sets only

Measured, for float64 and float32 ``X`` of ``n x 100`` (default n = 1e5 and 1e6; ``--quick``: 1e5 only):

* **SGD epoch** (the issue's goal: >= 10x): ``SGDClassifier(loss="log_loss", max_iter=1, tol=None)``, the
  default "optimal" schedule, batch size 1, one shuffled epoch, fastml against scikit-learn with the same
  settings. Seconds per epoch are ``fit`` wall-clock time over ``--epochs`` epochs (``max_iter=epochs``),
  so the per-call overhead (validation, set-up) is spread the same way for both.
* **10-class epoch**: the same with 10 classes: fastml fits the 10 one-vs-all models in one pass over each
  row; scikit-learn runs 10 binary fits (``n_jobs=None``).
* **10-class CSR epoch**: hinge loss over CSR rows shaped like hashed text (2^18 features, 50 nonzeros a
  row; the smallest ``--sizes`` rows), plain and averaged, against scikit-learn's one-vs-all fit.
* **elastic net** (binary and 10-class): the same fits with ``penalty="elasticnet"`` (plain SGD's cumulative
  L1 penalty, a pass over the weights every row on dense X).
* **10-class CSR elastic net**: the same rows with ``penalty="elasticnet"`` (the cumulative L1 penalty).
* **default fit on small sets** (iris, breast_cancer, digits, standardized): a whole ``SGDClassifier().fit``
  to the default stopping rule, where per-fit and per-epoch overheads set the time; likewise
  ``SGDRegressor().fit`` on diabetes (standardized target), and a stream of 11 ``partial_fit`` calls of
  50 rows on breast_cancer (seconds per call).
* **Adam epoch** (minibatch 256, learning rate 1e-3): ``SGDClassifier(optimizer="adam", batch_size=256)``
  against a numpy loop doing the same steps (vectorized per minibatch), and a PyTorch CPU loop when torch
  is installed.

"cold" is the first fit in this process (Numba compile, or a load from its on-disk cache: the script
says which); "warm" is the best of ``--repeats`` later fits. Every number comes from this run on this
machine; the script prints the machine.
"""
import argparse
import glob
import os
import time
import warnings

import numpy as np

from _machine import describe_machine as machine  # benchmarks/ is on sys.path when run as a script


def kernel_cache_state():
    from fastml.kernels._jit import _cache_dir

    try:
        found = glob.glob(os.path.join(_cache_dir(), "stochastic_dense.stochastic_epochs_dense*.nbi"))
    except Exception:
        found = []
    return "cache present (cold = load)" if found else "no cache (cold = compile)"


def timed(function, repeats):
    """(first call seconds, best of ``repeats`` later calls, last result)."""
    start = time.perf_counter()
    result = function()
    cold = time.perf_counter() - start
    warm = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        warm = min(warm, time.perf_counter() - start)
    return cold, warm, result


def quiet(function):
    from sklearn.exceptions import ConvergenceWarning

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return function()

    return run


def numpy_adam_epoch(X, y, batch_size, learning_rate, seed=0):
    """A plain numpy minibatch Adam epoch on the logistic loss (the peer a user would write)."""
    from scipy.special import expit

    n_samples, n_features = X.shape
    w, b = np.zeros(n_features), 0.0
    m_w, v_w, m_b, v_b = np.zeros(n_features), np.zeros(n_features), 0.0, 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    order = np.random.default_rng(seed).permutation(n_samples)
    for t, start in enumerate(range(0, n_samples, batch_size), start=1):
        index = order[start:start + batch_size]
        rows = X[index]
        residual = expit(rows @ w + b) - y[index]
        g_w, g_b = rows.T @ residual / len(index), residual.mean()
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
        step = learning_rate / (1 - beta1 ** t)
        w -= step * m_w / (np.sqrt(v_w / (1 - beta2 ** t)) + eps)
        b -= step * m_b / (np.sqrt(v_b / (1 - beta2 ** t)) + eps)
    return w, b


def torch_adam_epoch(X, y, batch_size, learning_rate):
    import torch

    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype))
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1, dtype=X_t.dtype)
    criterion = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    order = torch.randperm(X.shape[0])
    for start in range(0, X.shape[0], batch_size):
        index = order[start:start + batch_size]
        optimizer.zero_grad()
        criterion(model(X_t[index]).squeeze(1), y_t[index]).backward()
        optimizer.step()
    return model


FINITENESS_PASSES = []


def run_size(n_samples, n_features, dtype, epochs, repeats, rows):
    from sklearn.linear_model import SGDClassifier as SklearnSGD
    from sklearn.utils.validation import assert_all_finite

    from fastml.linear_model._stochastic_gradient import SGDClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    truth = rng.standard_normal(n_features) / np.sqrt(n_features)
    raw = X @ truth + 0.5 * rng.standard_normal(n_samples)
    y = (raw > 0).astype(np.int64)
    label = f"{n_samples:.0e} x {n_features} {np.dtype(dtype).name}"

    # the finiteness pass over X that validate_data makes in scikit-learn's fit; fastml's SGD fits
    # leave it to their first epoch (a non-finite raw prediction fails the epoch)
    check = []
    for _ in range(max(repeats, 3)):
        start = time.perf_counter()
        assert_all_finite(X)
        check.append(time.perf_counter() - start)
    FINITENESS_PASSES.append((label, min(check)))

    settings = dict(loss="log_loss", max_iter=epochs, tol=None, random_state=0)
    ours = timed(quiet(lambda: SGDClassifier(**settings).fit(X, y)), repeats)
    peer = timed(quiet(lambda: SklearnSGD(**settings).fit(X, y)), repeats)
    rows.append((f"SGD epoch  {label}", "scikit-learn", ours, peer, epochs,
                 ours[2].score(X, y), peer[2].score(X, y)))

    elastic = dict(settings, penalty="elasticnet")
    ours = timed(quiet(lambda: SGDClassifier(**elastic).fit(X, y)), repeats)
    peer = timed(quiet(lambda: SklearnSGD(**elastic).fit(X, y)), repeats)
    rows.append((f"SGD e-net  {label}", "scikit-learn", ours, peer, epochs,
                 ours[2].score(X, y), peer[2].score(X, y)))

    y10 = np.digitize(raw, np.quantile(raw, np.linspace(0.1, 0.9, 9)))
    for name, extra in (("10-class  ", {}), ("10-cl e-net", dict(penalty="elasticnet"))):
        settings10 = dict(settings, max_iter=1, **extra)
        ours = timed(quiet(lambda: SGDClassifier(**settings10).fit(X, y10)), repeats)
        peer = timed(quiet(lambda: SklearnSGD(**settings10).fit(X, y10)), repeats)
        rows.append((f"{name} {label}", "scikit-learn OvA", ours, peer, 1, ours[2].score(X, y10),
                     peer[2].score(X, y10)))

    adam = dict(loss="log_loss", optimizer="adam", batch_size=256, learning_rate="constant", eta0=1e-3,
                penalty=None, max_iter=1, tol=None, random_state=0)
    ours = timed(quiet(lambda: SGDClassifier(**adam).fit(X, y)), repeats)
    peer = timed(lambda: numpy_adam_epoch(X, y, 256, 1e-3), repeats)
    w, b = peer[2]
    peer_accuracy = np.mean(((X @ w + b) > 0) == y)
    rows.append((f"Adam epoch {label}", "numpy minibatch loop", ours, peer, 1, ours[2].score(X, y), peer_accuracy))
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    peer = timed(lambda: torch_adam_epoch(X, y, 256, 1e-3), repeats)
    rows.append((f"Adam epoch {label}", "PyTorch CPU loop", ours, peer, 1, ours[2].score(X, y), np.nan))


def run_sparse(n_samples, repeats, rows, n_features=1 << 18, nonzeros_per_row=50, n_classes=10):
    """10 classes over CSR rows of hashed-text shape (2^18 features, 50 nonzeros a row), plain and
    averaged: one epoch of ``SGDClassifier`` against scikit-learn's."""
    import scipy.sparse as sp
    from sklearn.linear_model import SGDClassifier as SklearnSGD

    from fastml.linear_model._stochastic_gradient import SGDClassifier

    rng = np.random.default_rng(0)
    indices = np.sort(rng.integers(0, n_features, (n_samples, nonzeros_per_row)), axis=1).ravel()
    indptr = np.arange(0, n_samples * nonzeros_per_row + 1, nonzeros_per_row)
    X = sp.csr_matrix((rng.random(indices.size), indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    y = np.argmax(X @ rng.standard_normal((n_features, n_classes)), axis=1)
    for label, extra in (("", {}), (", ASGD", dict(average=True)), (", elastic net", dict(penalty="elasticnet"))):
        settings = dict(loss="hinge", max_iter=1, tol=None, random_state=0, **extra)
        ours = timed(quiet(lambda: SGDClassifier(**settings).fit(X, y)), repeats)
        peer = timed(quiet(lambda: SklearnSGD(**settings).fit(X, y)), repeats)
        rows.append((f"10-class CSR {n_samples:.0e} x 2^18{label}",
                     "scikit-learn OvA" + "".join(f" ({key}={value!r})" for key, value in extra.items()), ours, peer, 1,
                     ours[2].score(X, y), peer[2].score(X, y)))


def run_small(repeats, rows):
    """A default ``SGDClassifier().fit`` on scikit-learn's small bundled sets (standardized), to the
    default stopping rule: per-fit and per-epoch overheads, not the epochs' arithmetic, set these times."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
    from sklearn.linear_model import SGDClassifier as SklearnSGD
    from sklearn.linear_model import SGDRegressor as SklearnSGDRegressor
    from sklearn.preprocessing import StandardScaler

    from fastml.linear_model._stochastic_gradient import SGDClassifier, SGDRegressor

    for name, loader in (("iris", load_iris), ("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        ours = timed(quiet(lambda: SGDClassifier(random_state=0).fit(X, y)), max(repeats, 20))
        peer = timed(quiet(lambda: SklearnSGD(random_state=0).fit(X, y)), max(repeats, 20))
        rows.append((f"default fit, {name} {X.shape[0]}x{X.shape[1]}", "scikit-learn (whole fit, not per epoch)",
                     ours, peer, 1, ours[2].score(X, y), peer[2].score(X, y)))
    X, y = load_diabetes(return_X_y=True)
    X, y = StandardScaler().fit_transform(X), (y - y.mean()) / y.std()
    ours = timed(quiet(lambda: SGDRegressor(random_state=0).fit(X, y)), max(repeats, 20))
    peer = timed(quiet(lambda: SklearnSGDRegressor(random_state=0).fit(X, y)), max(repeats, 20))
    rows.append((f"SGDRegressor, diabetes {X.shape[0]}x{X.shape[1]}", "scikit-learn (whole fit; R^2)",
                 ours, peer, 1, ours[2].score(X, y), peer[2].score(X, y)))
    # a stream of small batches: 11 partial_fit calls of 50 rows after a first one (per-call overheads)
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)

    def stream(estimator_class):
        model = estimator_class(random_state=0)
        model.partial_fit(X[:50], y[:50], classes=[0, 1])
        start = time.perf_counter()
        for first in range(50, 600, 50):
            model.partial_fit(X[first:first + 50], y[first:first + 50])
        return time.perf_counter() - start, model

    def best_stream(estimator_class):
        cold, model = stream(estimator_class)
        warm = min(stream(estimator_class)[0] for _ in range(max(repeats, 20)))
        return cold, warm, model

    ours, peer = best_stream(SGDClassifier), best_stream(SklearnSGD)
    rows.append(("partial_fit x 50 rows, breast_cancer", "scikit-learn (seconds per call)", ours, peer, 11,
                 ours[2].score(X, y), peer[2].score(X, y)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows only, 2 epochs, one warm repeat")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--small-only", action="store_true",
                        help="only the small bundled sets (default fits, partial_fit stream): seconds, not minutes")
    args = parser.parse_args()
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    epochs = args.epochs or (2 if args.quick else 3)
    repeats = args.repeats or (1 if args.quick else 3)

    import fastml
    import numba
    import sklearn

    print(f"machine: {machine()}")
    print(f"numba {numba.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"fastml {fastml.__version__}; fastml kernels: {kernel_cache_state()}")
    print(f"seconds per epoch (fit wall-clock / epochs); cold = first fit in this process, warm = best of "
          f"{repeats}\n")

    rows = []
    if not args.small_only:
        for n_samples in sizes:
            for dtype in (np.float64, np.float32):
                run_size(n_samples, args.n_features, dtype, epochs, repeats, rows)
        run_sparse(min(sizes), repeats, rows)
    run_small(repeats, rows)

    print(f"{'task':36s} {'fastml cold':>11s} {'fastml warm':>11s} {'peer cold':>9s} {'peer warm':>9s} "
          f"{'ratio':>7s}  accuracy fastml / peer   peer")
    for task, peer_name, ours, peer, n_epochs, ours_accuracy, peer_accuracy in rows:
        print(f"{task:36s} {ours[0] / n_epochs:11.4f} {ours[1] / n_epochs:11.4f} {peer[0] / n_epochs:9.4f} "
              f"{peer[1] / n_epochs:9.4f} {peer[1] / ours[1]:6.1f}x  {ours_accuracy:.4f} / {peer_accuracy:.4f}"
              f"   {peer_name}")
    if FINITENESS_PASSES:
        print("\nscikit-learn's finiteness check of X alone (the pass validate_data makes; fastml's SGD fits leave it to "
              "their first epoch): " + ", ".join(f"{label} {seconds:.4f} s" for label, seconds in FINITENESS_PASSES))


if __name__ == "__main__":
    main()
