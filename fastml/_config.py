"""fastml's process-wide settings: kernel threads, and whether fits record drift fingerprints."""
import contextlib
import os
import sys

_n_threads = None
# True in a child forked from a process whose Numba OpenMP thread pool had started: GNU OpenMP is not
# fork-safe, and Numba terminates such a child when it starts a parallel kernel ("fork() called from
# a process already using GNU OpenMP, this is unsafe": a LogisticRegression fit in a multiprocessing
# worker after one in the parent). There every call runs on one thread, the kernels' serial twins,
# which never start the pool: one thread per worker process, what a process pool wants anyway.
_forked_after_openmp = False


def _note_fork():
    global _forked_after_openmp
    numba = sys.modules.get("numba")
    if numba is None:
        return
    try:
        from numba.np.ufunc import parallel

        if parallel._is_initialized and numba.threading_layer() == "omp":
            _forked_after_openmp = True
    except Exception:  # an unknown Numba: leave the threads as they are
        return


os.register_at_fork(after_in_child=_note_fork)


def _available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_n_threads():
    """Number of threads the kernels use when a call does not say (default: the CPUs available; 1 in a
    process forked after its parent ran parallel kernels, see ``_forked_after_openmp``)."""
    if _forked_after_openmp:
        return 1
    if _n_threads is not None:
        return _n_threads
    env = os.environ.get("FASTML_NUM_THREADS") or os.environ.get("NUMBA_NUM_THREADS")
    return max(1, int(env)) if env else _available_cpus()


def set_n_threads(n_threads):
    """Set the default number of threads (``None`` restores the default). Results are bitwise
    reproducible for a fixed number of threads."""
    global _n_threads
    if n_threads is not None and (not isinstance(n_threads, (int,)) or n_threads < 1):
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    _n_threads = n_threads


def resolve_n_threads(n_threads):
    """``n_threads`` if given (checked), else the process-wide default."""
    if n_threads is None:
        return get_n_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    return 1 if _forked_after_openmp else int(n_threads)


# -- drift fingerprints ---------------------------------------------------------------------------
# Every fit records a drift fingerprint of its training X (fastml.drift). It costs a few milliseconds
# (~0.8 ms at 1 000 x 100, taken on a second thread while small fits run; ~3 ms from 20 000 x 100
# rows on), a large share of a small fit: a search that fits hundreds of throw-away models can
# switch it off.
_fingerprint = None


def _fingerprint_default():
    value = os.environ.get("FASTML_FINGERPRINT", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def fingerprints_enabled():
    """Whether ``fit`` records ``fingerprint_`` (default True; ``FASTML_FINGERPRINT=0`` turns it off)."""
    return _fingerprint_default() if _fingerprint is None else _fingerprint


_UNCHANGED = object()


def get_config():
    """fastml's process-wide settings: ``{"n_threads": int, "fingerprint": bool}``."""
    return {"n_threads": get_n_threads(), "fingerprint": fingerprints_enabled()}


def set_config(*, n_threads=_UNCHANGED, fingerprint=_UNCHANGED):
    """Change fastml's process-wide settings (``None`` restores a setting's default).

    Parameters
    ----------
    n_threads : int or None
        Kernel threads (see :func:`set_n_threads`).
    fingerprint : bool or None
        Whether ``fit`` records the drift reference ``fingerprint_``. Off, a fitted estimator has no
        ``fingerprint_`` (a refit drops the previous one) and ``check_drift`` needs a
        :class:`fastml.Fingerprint` instead. Worker processes (e.g. ``GridSearchCV(n_jobs=...)``) do
        not see this setting: set ``FASTML_FINGERPRINT=0`` in their environment.
    """
    global _fingerprint
    if fingerprint is not _UNCHANGED and fingerprint is not None and not isinstance(fingerprint, bool):
        raise ValueError(f"fingerprint must be True, False or None, got {fingerprint!r}")
    if n_threads is not _UNCHANGED:
        set_n_threads(n_threads)
    if fingerprint is not _UNCHANGED:
        _fingerprint = fingerprint


@contextlib.contextmanager
def config_context(**changes):
    """``with fastml.config_context(fingerprint=False): ...``: :func:`set_config` for a block, the
    previous settings restored on exit (process-wide, like :func:`set_config`)."""
    global _fingerprint
    saved = (_n_threads, _fingerprint)
    set_config(**changes)
    try:
        yield
    finally:
        set_n_threads(saved[0])
        _fingerprint = saved[1]
