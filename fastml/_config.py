"""The one threads setting of fastml, read by every kernel call that does not pass its own."""
import os

_n_threads = None


def _available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_n_threads():
    """Number of threads the kernels use when a call does not say (default: the CPUs available)."""
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
    return int(n_threads)
