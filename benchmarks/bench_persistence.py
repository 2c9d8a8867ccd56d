"""Model files: fastml.save / fastml.load against joblib (pickle) and skops, for 1e3-feature models.

Usage::

    python benchmarks/bench_persistence.py [--quick] [--n-features P] [--n-samples N] [--repeats R]

Measured for two fitted models on ``N x P`` float64 data (default N = 2 000, P = 1 000):

* ``LogisticRegression`` multinomial, 10 classes: ``coef_`` is 10 x 1 000 float64 (80 kB);
* ``Ridge`` with one target: ``coef_`` is 1 000 float64 (8 kB).

For each: save and load seconds (median of ``--repeats`` warm runs, file written to a temporary
directory, OS page cache warm) and the file size, for fastml (deflated, the default, and
``compress=False``), ``joblib.dump``/``joblib.load`` (pickle: for reference only, it executes code
on load) and skops (``skops.io.dump``/``load`` with ``trusted=`` its own untrusted types) when it is
installed. Each loaded model's ``predict`` is checked bitwise against the original before timing.
The script prints the machine.
"""
import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings

import numpy as np

from _machine import describe_machine as machine  # benchmarks/ is on sys.path when run as a script


def median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def writers():
    import joblib

    import fastml

    result = {
        "fastml (deflate)": (lambda model, path: fastml.save(model, path), fastml.load),
        "fastml (stored)": (lambda model, path: fastml.save(model, path, compress=False), fastml.load),
        "joblib (pickle)": (joblib.dump, joblib.load),
    }
    try:
        import skops.io as sio

        def skops_load(path):
            return sio.load(path, trusted=sio.get_untrusted_types(file=path))

        result["skops"] = (sio.dump, skops_load)
    except ImportError:
        print("skops is not installed: its row is skipped")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--n-features", type=int, default=1000)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 21)

    import sklearn

    import fastml

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_samples, args.n_features))
    y_classes = rng.integers(10, size=args.n_samples)
    y_values = X @ rng.normal(size=args.n_features) + rng.normal(size=args.n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "LogisticRegression (10 classes)": fastml.LogisticRegression(max_iter=30).fit(X, y_classes),
            "Ridge": fastml.Ridge().fit(X, y_values),
        }
    print(f"machine: {machine()}")
    print(f"versions: fastml {fastml.__version__}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
          f"python {platform.python_version()}")
    print(f"data: {args.n_samples} x {args.n_features} float64; medians of {repeats} warm runs\n")
    header = f"{'model':<32} {'writer':<18} {'save ms':>9} {'load ms':>9} {'file kB':>9}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as directory:
        for model_name, model in models.items():
            for writer_name, (dump, load) in writers().items():
                path = os.path.join(directory, "model.bin")
                dump(model, path)
                loaded = load(path)
                if not np.array_equal(loaded.predict(X[:100]), model.predict(X[:100])):
                    raise AssertionError(f"{writer_name}: the loaded {model_name} predicts differently")
                save_seconds = median_seconds(lambda: dump(model, path), repeats)
                load_seconds = median_seconds(lambda: load(path), repeats)
                size = os.path.getsize(path)
                print(f"{model_name:<32} {writer_name:<18} {save_seconds * 1e3:>9.2f} {load_seconds * 1e3:>9.2f} "
                      f"{size / 1e3:>9.1f}")


if __name__ == "__main__":
    main()
