"""fastml's process-wide settings: kernel threads, and whether fits record drift fingerprints."""
import contextlib
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
