"""Parallel kernels called from several Python threads at once give correct results.

Under Numba's ``workqueue`` layer concurrent calls to ``parallel=True`` kernels abort the process;
fastml asks for the OpenMP layer and serializes calls behind a lock when it is not available.
"""
import threading
import time

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import fastml
from fastml.kernels import _jit


def test_threading_layer_is_safe_or_calls_are_serialized():
    from fastml._objective import SERIAL_WORK

    n_samples = SERIAL_WORK // 2 + 1  # large enough for the parallel kernels
    objective = fastml.LinearObjective("log_loss", np.ones((n_samples, 2)), np.arange(n_samples) % 2, n_threads=2)
    assert objective.n_threads == 2
    objective.value(objective.initial_parameters())
    import numba

    layer = numba.threading_layer()
    # the lock is skipped exactly when the layer chosen is safe for concurrent callers
    assert _jit._layer_is_safe == (layer in ("omp", "tbb"))
    assert _jit.threading_layer_is_thread_safe() == (layer in ("omp", "tbb"))


def test_concurrent_calls_from_python_threads_are_correct():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 12))  # above SERIAL_WORK: the parallel kernels run
    y = (rng.random(20000) < 0.5).astype(float)
    problems = [fastml.LinearObjective("log_loss", data, y, l2=0.1, n_threads=2)
                for data in (X, sp.csr_matrix(X))]
    assert all(problem.n_threads == 2 for problem in problems)
    w = rng.standard_normal(problems[0].n_params)
    expected = [p.value_and_gradient(w) for p in problems]
    failures = []

    def worker(seed):
        for repeat in range(20):
            index = (seed + repeat) % 2
            value, gradient = problems[index].value_and_gradient(w)
            if value != expected[index][0] or not np.array_equal(gradient, expected[index][1]):
                failures.append((seed, repeat))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _row_chunks_in_child():
    from fastml.kernels._parallel import map_row_chunks

    return map_row_chunks(lambda start, stop: stop - start, 4_000_000, 2, 4_000_000)


def test_row_chunk_pool_survives_fork(run_in_forked_child):
    """A forked child (multiprocessing's default start method on Linux) inherits the row-chunk thread
    pool object but not its threads: it must build its own. Before, a Ridge fit of more than 2e6 values
    in a worker, after one in the parent, waited forever."""
    from fastml.kernels._parallel import map_row_chunks

    def slow_rows(start, stop):  # both pool threads busy at once: the parent's pool then holds two idle threads
        time.sleep(0.05)
        return stop - start

    assert map_row_chunks(slow_rows, 4_000_000, 2, 4_000_000) == [2_000_000, 2_000_000]
    assert run_in_forked_child(_row_chunks_in_child) == [2_000_000, 2_000_000]


def _fit_after_fork():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3_000, 100))
    labels = (X[:, 0] > 0).astype(int)
    model = fastml.LogisticRegression().fit(X, labels)
    return fastml.get_n_threads(), float(model.score(X, labels)), bool(fastml.check_drift(model, X).drift_detected)


def test_fits_in_a_child_forked_after_parallel_kernels_ran(run_in_forked_child):
    """GNU OpenMP is not fork-safe: Numba terminates a forked child that starts a parallel kernel once
    the parent's pool ran ("fork() called from a process already using GNU OpenMP"). Such a child runs
    every kernel on one thread (fastml._config._forked_after_openmp) and fits, predicts and checks drift."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3_000, 100))  # 3e5 values: the parallel kernels, on the default threads
    fastml.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    threads, accuracy, drifted = run_in_forked_child(_fit_after_fork, timeout=120)
    assert accuracy > 0.95 and not drifted
    from numba.np.ufunc import parallel

    if parallel._is_initialized and numba.threading_layer() == "omp":
        assert threads == 1


@pytest.mark.parametrize("shape, dtype", [((0, 3), np.float64), ((5, 7), np.float32), ((1 << 17, 2), np.float64),
                                          ((1 << 18,), np.int64)])
def test_empty_for_threads_is_a_fresh_c_ordered_array(shape, dtype):
    from fastml.kernels._parallel import empty_for_threads

    array = empty_for_threads(shape, dtype)
    assert array.shape == shape and array.dtype == dtype and array.flags.c_contiguous and array.flags.owndata
    array[...] = 3  # writable everywhere, its own memory
    assert np.all(array == 3)
    assert not np.shares_memory(array, empty_for_threads(shape, dtype))
