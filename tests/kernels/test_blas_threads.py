"""BLAS's thread count around fastml's fits: one thread inside, the user's setting restored after.

The setting is process-wide, so every test starts from a known count (two threads through
threadpoolctl, whatever the machine's default) and checks it is back afterwards.
"""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastml
from fastml.kernels import _blas_threads
from fastml.kernels._blas_threads import (
    SMALL_DENSE_ORDER, blas_threads_for_order, blas_threads_for_pass, cap_blas_threads, one_blas_thread_in_fit,
)


def blas_threads():
    return _blas_threads._blas_threads_now()


@pytest.fixture
def two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != 2:
            pytest.skip("this BLAS cannot be set to two threads")
        yield
    assert _blas_threads._blas_threads_outside_fits is None


def test_one_thread_inside_and_the_setting_restored_after(two_blas_threads):
    seen = {}

    @one_blas_thread_in_fit
    def fit():
        seen["inside"] = blas_threads()
        with blas_threads_for_order(SMALL_DENSE_ORDER - 1):
            seen["small factorization"] = blas_threads()
        with blas_threads_for_order(SMALL_DENSE_ORDER):
            seen["large factorization"] = blas_threads()
        with blas_threads_for_pass(8):
            seen["pass, 8 threads allowed"] = blas_threads()
        with blas_threads_for_pass(1):
            seen["pass, 1 thread allowed"] = blas_threads()
        with cap_blas_threads(8):
            seen["capped at 8"] = blas_threads()
        seen["after the contexts"] = blas_threads()
        return "result"

    assert fit() == "result"
    assert seen == {"inside": 1, "small factorization": 1, "large factorization": 2,
                    "pass, 8 threads allowed": 2, "pass, 1 thread allowed": 1, "capped at 8": 1,
                    "after the contexts": 1}
    assert blas_threads() == 2


def test_the_users_lower_setting_is_kept_for_large_work(two_blas_threads):
    @one_blas_thread_in_fit
    def fit():
        with blas_threads_for_order(4 * SMALL_DENSE_ORDER):
            large = blas_threads()
        with blas_threads_for_pass(8):
            return large, blas_threads()

    with threadpool_limits(limits=1, user_api="blas"):
        assert fit() == (1, 1)
    assert blas_threads() == 2
    assert fit() == (2, 2)


def test_nested_fits_and_errors(two_blas_threads):
    @one_blas_thread_in_fit
    def inner():
        return blas_threads()

    @one_blas_thread_in_fit
    def outer():
        first = inner()
        return first, blas_threads()  # the inner fit's end must not lift the outer fit's limit

    @one_blas_thread_in_fit
    def failing():
        raise ValueError("bad input")

    assert outer() == (1, 1)
    assert blas_threads() == 2
    with pytest.raises(ValueError, match="bad input"):
        failing()
    assert blas_threads() == 2


def test_a_fit_outside_the_main_thread_leaves_the_setting_alone(two_blas_threads):
    # OpenBLAS ignores a count set from another thread once the main thread has set one: such a fit
    # neither limits nor restores, so it cannot leave BLAS at one thread after a main-thread fit ends
    seen = {}

    @one_blas_thread_in_fit
    def fit_in_thread():
        seen["thread fit"] = _blas_threads._blas_threads_outside_fits

    @one_blas_thread_in_fit
    def fit_in_main():
        thread = threading.Thread(target=fit_in_thread)
        thread.start()
        thread.join(10)
        seen["main after the thread's fit"] = blas_threads()

    thread = threading.Thread(target=fit_in_thread)
    thread.start()
    thread.join(10)
    assert seen == {"thread fit": None}
    assert blas_threads() == 2
    fit_in_main()
    assert seen == {"thread fit": 2, "main after the thread's fit": 1}
    assert blas_threads() == 2


def test_estimators_and_solvers_fit_on_one_blas_thread(two_blas_threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = X @ rng.standard_normal(5)
    seen = []

    def record(info):
        seen.append(blas_threads())

    fastml.Ridge(1.0, solver="lbfgs", callbacks=[record]).fit(X, y)
    fastml.LogisticRegression(callbacks=[record]).fit(X, y > 0)
    fastml.SGDRegressor(max_iter=3, tol=None, callbacks=[record]).partial_fit(X, y)
    objective = fastml.LinearObjective("squared_error", X, y)
    fastml.solvers.lbfgs(objective, callback=record)
    assert len(seen) >= 4 and set(seen) == {1}
    assert blas_threads() == 2
