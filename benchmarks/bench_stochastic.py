"""One stochastic epoch against its peers: fastml SGD vs scikit-learn, fastml Adam vs a PyTorch CPU loop.

Usage::

    python benchmarks/bench_stochastic.py [--quick] [--n-samples N] [--n-features P] [--repeats R]

* SGD: logistic loss, L2 ``alpha = 1e-4``, scikit-learn's "optimal" schedule, batch size 1 (one
  update per sample), one shuffled epoch: ``fastml.solvers.stochastic_gradient`` against
  ``SGDClassifier(max_iter=1, tol=None)`` with the same settings.
* SGD on CSR rows: the same epoch over a sparse problem (n/2 rows x 2^18 features, 50 nonzeros per
  row, as hashed text features), against ``SGDClassifier`` on the same CSR matrix (both damp the
  intercept steps by 0.01 on sparse rows), then the same with averaging (ASGD, lazily kept means).
* Adam: logistic loss, no penalty, learning rate 1e-3, minibatches of 256 over a shuffled
  permutation, one epoch: fastml against ``torch.nn.Linear`` + ``BCEWithLogitsLoss`` +
  ``torch.optim.Adam`` stepping over index slices of ``torch.randperm`` (float64 tensors, as fastml's
  data; PyTorch's own threads). Skipped with a message when torch is not installed.

* Floor: a compiled loop that only reads the rows of ``X`` in a shuffled order (the same prefetching as
  the epoch kernels) and sums them, on one thread and on two (a minibatch's rows split over threads, as
  fastml's minibatch optimizers do; per-sample SGD is sequential, but a second thread prefetches its
  rows). No epoch can beat the two-thread floor, so ``peer / floor`` is the largest ratio this machine
  allows: the issue's 10x (SGD) and 30x (Adam) are judged against it. The SGD epoch over rows in order
  (no waiting on memory: the epoch's own arithmetic) is printed too.

"cold" is the first call in this process (Numba compile, or a load from its on-disk cache — the
script says which; scikit-learn and PyTorch pay their own first-call costs); "warm" is the best of
``--repeats`` later calls. Times are wall-clock seconds of the whole call, permutation included.
Every number comes from this run on this machine; the script prints the machine.
"""
import argparse
import glob
import os
import time
import warnings

import numpy as np

from _machine import describe_machine as machine  # benchmarks/ is on sys.path when run as a script


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


def kernel_cache_state():
    """Whether Numba's on-disk cache already holds the stochastic kernels (a cold call then only loads them)."""
    from fastml.kernels._jit import _cache_dir

    try:
        found = glob.glob(os.path.join(_cache_dir(), "stochastic_dense.stochastic_epochs_dense*.nbi"))
    except Exception:
        found = []
    return "cache present (cold = load)" if found else "no cache (cold = compile)"


def bench_sgd(X, y, repeats, average=False):
    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    from fastml import LinearObjective
    from fastml.solvers.stochastic import StochasticOptions, stochastic_gradient

    alpha = 1e-4
    objective = LinearObjective("log_loss", X, y, l2=alpha, check_input=False)
    w0 = np.zeros(objective.n_params)
    # scikit-learn's settings: its intercept steps are damped by 0.01 on sparse X (so are fastml's estimators')
    options = StochasticOptions(optimizer="sgd", schedule="optimal", batch_size=1, max_epochs=1, tol=None,
                                average=average, intercept_decay=0.01 if sp.issparse(X) else 1.0,
                                random_state=0, trace_objective="running")
    ours = timed(lambda: stochastic_gradient(objective, w0=w0, options=options), repeats)

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SGDClassifier(loss="log_loss", alpha=alpha, max_iter=1, tol=None, learning_rate="optimal",
                                 average=average, random_state=0).fit(X, y)

    peer = timed(sklearn_epoch, repeats)
    ours_loss = objective.value(ours[2].params)
    peer_loss = objective.value(np.r_[peer[2].coef_.ravel(), peer[2].intercept_])
    return ours, peer, ours_loss, peer_loss


def sparse_problem(n_samples, n_features=1 << 18, nonzeros_per_row=50, seed=1):
    """A CSR matrix with sorted random column indices per row, and labels of a random linear model."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    indices = np.sort(rng.integers(0, n_features, (n_samples, nonzeros_per_row)), axis=1).ravel()
    indptr = np.arange(0, n_samples * nonzeros_per_row + 1, nonzeros_per_row)
    X = sp.csr_matrix((rng.random(indices.size), indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    y = ((X @ rng.standard_normal(n_features)) > 0).astype(np.float64)
    return X, y


def sgd_in_order(X, y, repeats):
    """Warm seconds of the SGD epoch of :func:`bench_sgd` over the rows in order (no shuffling)."""
    from fastml import LinearObjective
    from fastml.solvers.stochastic import StochasticOptions, stochastic_gradient

    objective = LinearObjective("log_loss", X, y, l2=1e-4, check_input=False)
    options = StochasticOptions(optimizer="sgd", schedule="optimal", batch_size=1, max_epochs=1, tol=None,
                                random_state=0, shuffle=False, trace_objective="running")
    return timed(lambda: stochastic_gradient(objective, options=options), repeats)[1]


def torch_adam_epoch(n_features, batches, learning_rate):
    """One epoch of PyTorch's Adam on the logistic loss over ``batches`` ((rows, targets) tensors), from
    zero weights, as fastml's minibatch epoch: the rows times a (n_features, 1) weight plus a bias,
    ``BCEWithLogitsLoss`` (the batch mean), ``torch.optim.Adam``."""
    import torch

    weight = torch.zeros(n_features, 1, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    criterion = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam([weight, bias], lr=learning_rate)
    for rows, targets in batches:
        optimizer.zero_grad()
        loss = criterion((rows @ weight).squeeze(1) + bias, targets)
        loss.backward()
        optimizer.step()
    return np.r_[weight.detach().numpy().ravel(), bias.detach().numpy()]


def bench_adam(X, y, repeats, batch_size=256, learning_rate=1e-3):
    """Adam epoch on dense or CSR ``X``. PyTorch's loop takes dense batches by index slices of
    ``torch.randperm`` inside the timed epoch; CSR batches (torch cannot select rows of a sparse CSR
    tensor) are built from one permutation before the clock starts, so torch's time is its steps only."""
    import scipy.sparse as sp

    from fastml import LinearObjective
    from fastml.solvers.stochastic import StochasticOptions, stochastic_gradient

    objective = LinearObjective("log_loss", X, y, check_input=False)
    w0 = np.zeros(objective.n_params)
    options = StochasticOptions(optimizer="adam", learning_rate=learning_rate, batch_size=batch_size, max_epochs=1,
                                tol=None, random_state=0, trace_objective="running")
    ours = timed(lambda: stochastic_gradient(objective, w0=w0, options=options), repeats)
    ours_loss = objective.value(ours[2].params)
    try:
        import torch
    except ImportError:
        return ours, None, ours_loss, None, "torch is not installed: `.venv/bin/pip install torch` to run the peer"

    torch.manual_seed(0)
    y_t = torch.from_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: sparse CSR support "in beta", invariant checks off
        if sp.issparse(X):
            order = np.random.default_rng(0).permutation(X.shape[0])
            batches = []
            for start in range(0, X.shape[0], batch_size):
                part = X[order[start:start + batch_size]]
                rows = torch.sparse_csr_tensor(torch.from_numpy(part.indptr.astype(np.int64)),
                                               torch.from_numpy(part.indices.astype(np.int64)),
                                               torch.from_numpy(part.data), size=part.shape)
                batches.append((rows, y_t[order[start:start + batch_size]]))

            def torch_epoch():
                return torch_adam_epoch(X.shape[1], batches, learning_rate)
        else:
            X_t = torch.from_numpy(X)

            def torch_epoch():
                order = torch.randperm(X.shape[0])
                return torch_adam_epoch(X.shape[1], ((X_t[index], y_t[index]) for index in order.split(batch_size)),
                                        learning_rate)

        peer = timed(torch_epoch, repeats)
    note = f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64"
    return ours, peer, ours_loss, objective.value(peer[2]), note


def shuffled_read_floor(X, repeats):
    """Seconds to read every row of ``X`` once in a random order: (one thread, two threads)."""
    import numba

    from fastml.kernels._optimizers import CACHE_LINE_BYTES, PREFETCH_AHEAD, prefetch_item

    @numba.njit(nogil=True, fastmath={"reassoc", "contract"})
    def read_rows(X, order, first, stop, total):
        items_per_line = max(1, CACHE_LINE_BYTES // X.itemsize)
        for position in range(first, stop):
            if position + PREFETCH_AHEAD < stop:
                upcoming = order[position + PREFETCH_AHEAD]
                for j in range(0, X.shape[1], items_per_line):
                    prefetch_item(X, upcoming, j)
            row = order[position]
            for j in range(X.shape[1]):
                total[j] += X[row, j]

    @numba.njit(nogil=True, parallel=True)
    def read_rows_two_threads(X, order, totals):
        n = order.shape[0]
        for chunk in numba.prange(2):
            read_rows(X, order, (n * chunk) // 2, (n * (chunk + 1)) // 2, totals[chunk])

    order = np.random.default_rng(0).permutation(X.shape[0])
    totals = np.zeros((2, X.shape[1]))
    one = timed(lambda: read_rows(X, order, 0, X.shape[0], totals[0]), repeats)[1]
    two = timed(lambda: read_rows_two_threads(X, order, totals), repeats)[1]
    return one, two


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows instead of 1e6, one warm repeat")
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    n_samples = args.n_samples or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, args.n_features))
    truth = rng.standard_normal(args.n_features) / np.sqrt(args.n_features)
    y = (X @ truth + 0.5 * rng.standard_normal(n_samples) > 0).astype(np.float64)

    import fastml
    import numba
    import sklearn

    print(f"machine: {machine()}")
    print(f"numba {numba.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"fastml {fastml.__version__}; fastml kernels: {kernel_cache_state()}")
    print(f"data: {n_samples} x {args.n_features} float64, logistic loss; warm = best of {repeats}\n")

    rows = []
    ours, peer, ours_loss, peer_loss = bench_sgd(X, y, repeats)
    rows.append(("SGD epoch, batch 1", "scikit-learn SGDClassifier", ours, peer, ours_loss, peer_loss))
    X_csr, y_csr = sparse_problem(n_samples // 2)
    ours, peer, ours_loss, peer_loss = bench_sgd(X_csr, y_csr, repeats)
    rows.append((f"SGD epoch, CSR {X_csr.shape[0]:.0e} x 2^18", "scikit-learn SGDClassifier", ours, peer, ours_loss,
                 peer_loss))
    ours, peer, ours_loss, peer_loss = bench_sgd(X_csr, y_csr, repeats, average=True)
    rows.append(("  the same, averaged (ASGD)", "scikit-learn SGDClassifier(average=True)", ours, peer, ours_loss,
                 peer_loss))
    del X_csr, y_csr
    ours, peer, ours_loss, peer_loss, note = bench_adam(X, y, repeats)
    rows.append(("Adam epoch, batch 256", f"PyTorch loop ({note})" if peer else note, ours, peer,
                 ours_loss, peer_loss))
    X_csr, y_csr = sparse_problem(n_samples // 10)
    ours, peer, ours_loss, peer_loss, note = bench_adam(X_csr, y_csr, repeats)
    rows.append((f"Adam, CSR {X_csr.shape[0]:.0e} x 2^18", f"PyTorch loop, prebuilt batches ({note})" if peer else note,
                 ours, peer, ours_loss, peer_loss))
    del X_csr, y_csr

    floor_one, floor_two = shuffled_read_floor(X, repeats)
    print(f"{'task':28s} {'fastml cold':>12s} {'fastml warm':>12s} {'peer cold':>10s} {'peer warm':>10s} "
          f"{'warm ratio':>10s}  objective fastml / peer   peer")
    for task, peer_name, ours, peer, ours_loss, peer_loss in rows:
        if peer is None:
            print(f"{task:28s} {ours[0]:12.3f} {ours[1]:12.3f} {'-':>10s} {'-':>10s} {'-':>10s}  "
                  f"{ours_loss:.6f} / -   {peer_name}")
            continue
        print(f"{task:28s} {ours[0]:12.3f} {ours[1]:12.3f} {peer[0]:10.3f} {peer[1]:10.3f} "
              f"{peer[1] / ours[1]:9.1f}x  {ours_loss:.6f} / {peer_loss:.6f}   {peer_name}")
    sgd_peer, adam_peer = rows[0][3], rows[3][3]
    print(f"\nfloor: one shuffled read of X, 1 thread {floor_one:.3f} s; 2 threads {floor_two:.3f} s"
          + (f" (peer / floor: SGD {sgd_peer[1] / floor_two:.1f}x, Adam {adam_peer[1] / floor_two:.1f}x at most)"
             if sgd_peer and adam_peer else ""))
    in_order = sgd_in_order(X, y, repeats)
    print(f"fastml SGD epoch over the rows in order: {in_order:.3f} s"
          + (f" (peer / that = {sgd_peer[1] / in_order:.1f}x)" if sgd_peer else ""))


if __name__ == "__main__":
    main()
