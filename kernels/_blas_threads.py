"""How many threads BLAS may use, around fastml's own threads.

Design: fastml's passes over ``X`` bring their own threads (Numba, Cython, or Python threads over
row chunks calling one-threaded BLAS); BLAS's own thread team is kept for the few operations that
gain from it (factorizations of large matrices). No Numba here: the estimators import this module.
"""
import contextlib
import functools
import threading

_blas_controller = None


def _blas_controller_for_all():
    """The process's one ``threadpoolctl.ThreadpoolController`` (see :func:`limit_blas_threads`)."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller


def limit_blas_threads(n_threads):
    """Context manager: BLAS (OpenBLAS, MKL...) uses at most ``n_threads`` threads inside it.

    One ``threadpoolctl.ThreadpoolController`` is kept: building one scans the loaded libraries
    (about 3 ms, more than a whole fit on breast_cancer), limiting through it does not.
    """
    return _blas_controller_for_all().limit(limits=n_threads, user_api="blas")


def _blas_threads_now():
    libraries = _blas_controller_for_all().select(user_api="blas").lib_controllers
    return max((library.num_threads for library in libraries), default=1)


# BLAS's thread count before the outermost running fit began; None outside fits. Main thread only:
# OpenBLAS (0.3.31, measured) ignores a count set from another thread once the main thread has set
# one, so a fit in another thread could neither limit BLAS nor, ending last, restore it.
_blas_threads_outside_fits = None


def _blas_thread_budget():
    """BLAS's thread count outside the running fits: the user's setting, not the fits' one thread."""
    outside = _blas_threads_outside_fits
    return _blas_threads_now() if outside is None else outside


def one_blas_thread_in_fit(method):
    """Decorator for an estimator's ``fit`` / ``partial_fit`` and a solver's entry point: BLAS runs on
    one thread inside it.

    Why: after a multithreaded BLAS call OpenBLAS's worker threads keep spinning for ~0.1-0.5 s
    waiting for more work, and on a 2-core machine they take a core from the row-chunk threads of
    the next pass over ``X``. The glue of a fit (a dot product over the targets, a matrix-vector
    product on the drift sample, the small products around a factorization) triggered them. Measured
    here at 1e5 x 100 float64, median of 9 back-to-back fits without and with this: LinearRegression
    64 -> 40 ms, Ridge 59 -> 40 ms, RidgeCV 144 -> 103 ms, LogisticRegression 180 -> 136 ms. The
    passes over ``X`` bring their own threads (Numba, Cython, or ``_parallel.map_row_chunks``); a
    large factorization, or a pass BLAS threads itself, gets back the count BLAS had before the fit
    (:func:`blas_threads_for_order`, :func:`blas_threads_for_pass`). Nested fits (a CV estimator's
    inner fits) keep the outermost one's limit; a fit outside the main thread leaves BLAS's setting
    alone (see above).
    """
    @functools.wraps(method)
    def fit_on_one_blas_thread(*args, **kwargs):
        global _blas_threads_outside_fits
        if _blas_threads_outside_fits is not None or threading.current_thread() is not threading.main_thread():
            return method(*args, **kwargs)
        _blas_threads_outside_fits = _blas_threads_now()
        try:
            with limit_blas_threads(1):
                return method(*args, **kwargs)
        finally:
            _blas_threads_outside_fits = None

    return fit_on_one_blas_thread


# Below this order a dense factorization gains nothing from a second BLAS thread (measured here:
# eigh of 100 x 100 0.94 ms on one or two, 300 x 300 8.4 ms on one and 11.2 ms on two; 1 000: 159 vs 126 ms).
SMALL_DENSE_ORDER = 512


def blas_threads_for_order(order):
    """Context manager for a factorization or product of a matrix of order ``order``: one BLAS thread
    below :data:`SMALL_DENSE_ORDER`; above it BLAS's default, or inside fits decorated by
    :func:`one_blas_thread_in_fit` the count BLAS had before they began.

    Why it matters beyond the call itself: after a multithreaded call OpenBLAS's worker threads keep
    spinning for a while (~0.1-0.5 s) waiting for more work, and on a 2-core machine they take a core
    from the row-chunk threads of the next pass: a 1e5 x 100 Gram pass measured 26 ms after a
    one-threaded ``eigh`` of its result and 40-55 ms after a two-threaded one (or a matrix-vector
    product on the 10 000-row drift sample).
    """
    if order < SMALL_DENSE_ORDER:
        return limit_blas_threads(1)
    outside = _blas_threads_outside_fits
    return contextlib.nullcontext() if outside is None else limit_blas_threads(outside)


def blas_threads_for_pass(n_threads):
    """Context manager for a pass over ``X`` that BLAS itself threads (one large product): at most
    ``n_threads`` threads, and no more than BLAS had outside the fit (see :func:`one_blas_thread_in_fit`)."""
    return limit_blas_threads(max(1, min(n_threads, _blas_thread_budget())))


def cap_blas_threads(n_threads):
    """Context manager: at most ``n_threads`` BLAS threads (``n_jobs`` is a cap), never more than BLAS
    has now; a no-op for None."""
    if n_threads is None:
        return contextlib.nullcontext()
    return limit_blas_threads(max(1, min(n_threads, _blas_threads_now())))
