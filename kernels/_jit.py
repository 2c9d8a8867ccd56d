"""Every Numba option fastml uses, set in one place.

Design: kernels are decorated with :func:`jit_kernel` (a compiled entry point) or :func:`jit_inline`
(a helper compiled once and linked into its callers, where LLVM inlines it, so a loss formula
costs no call; Numba-IR inlining was measured to double the compile time of a fused kernel). The options:

* ``cache`` is on unless ``FASTML_NUMBA_CACHE=0``: a cold compile costs 0.3-0.8 s per kernel and dtype,
  a cached load a few milliseconds.
* ``fastmath`` is an explicit flag set. ``reassoc`` lets LLVM vectorize dot products and sums,
  ``contract`` allows FMA, ``nsz`` ignores the sign of zero. ``arcp`` (x / y may be x * (1 / y)) is
  needed alongside ``reassoc``: with ``reassoc`` alone LLVM rewrites ``(a / b) * x[j]`` as
  ``(a * x[j]) / b`` and moves the division into the loop: one SGD step (``step / scale`` times a
  row) did 100 divisions instead of one, ~50 ns of a 150 ns row; ``arcp`` lets it divide once.
  ``nnan``/``ninf`` are left out so that
  ``np.isfinite`` checks keep working, and ``afn`` is left out so that ``exp``/``log``/``log1p`` keep full
  precision (the logistic loss must stay within 1e-12 relative of a high-precision reference).
* ``nogil`` so that Python threads (a server, ``n_jobs``) can run kernels side by side.
* The threading layer prefers OpenMP: under ``workqueue`` two Python threads calling a ``parallel=True``
  kernel abort the process. :data:`PARALLEL_LOCK` lets callers serialize parallel calls when only
  ``workqueue`` is available.

Numba's cache only tracks the file that defines a kernel, so a kernel that inlines a helper from
another file keeps stale machine code after that helper changes. :func:`_drop_stale_cache` guards the
kernel cache (in-tree or under NUMBA_CACHE_DIR): it records the size and modification time of every kernel source and drops the
cached objects when any of them changed.
"""
import os
import sys
import threading
import time
import types

os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")

import numba  # noqa: E402
import numpy as np  # noqa: E402

CACHE = os.environ.get("FASTML_NUMBA_CACHE", "1") != "0"
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
# Gather loops (CSR rows reading coef[indices[p]]) are slower when LLVM vectorizes them with AVX2
# gathers, which "reassoc" permits: measured 1.5x slower than the scalar loop on Zen 3.
FASTMATH_GATHER = {"contract", "nsz"}

# Only explicit ``prange`` loops run in parallel. Numba's automatic conversion of array expressions
# (np.zeros, arithmetic on arrays) into parallel loops doubles the compile time of a kernel and
# gains nothing here: every hot loop is written out.
PRANGE_ONLY = {
    "prange": True, "comprehension": False, "setitem": False, "reduction": False, "numpy": False,
    "stencil": False, "fusion": False, "inplace_binop": False,
}

PARALLEL_LOCK = threading.RLock()

_KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))


def _cache_dir():
    """The folder where Numba caches the kernels of this package (whatever NUMBA_CACHE_DIR says)."""
    from numba.core.caching import FunctionCache

    return FunctionCache(_cache_dir)._cache_path


def _drop_stale_cache():
    if not CACHE:
        return
    try:
        cache_dir = _cache_dir()
    except Exception:  # no writable cache location: Numba will not cache either
        return
    sources = sorted(f for f in os.listdir(_KERNEL_DIR) if f.endswith(".py"))
    stamp = ";".join(
        f"{name}:{st.st_size}:{st.st_mtime_ns}"
        for name in sources
        for st in [os.stat(os.path.join(_KERNEL_DIR, name))]
    )
    stamp_path = os.path.join(cache_dir, "fastml_kernels.stamp")
    try:
        with open(stamp_path) as f:
            if f.read() == stamp:
                return
    except OSError:
        pass
    try:
        os.makedirs(cache_dir, exist_ok=True)
        for name in os.listdir(cache_dir):
            if name.endswith((".nbi", ".nbc")):
                os.remove(os.path.join(cache_dir, name))
        tmp_path = f"{stamp_path}.{os.getpid()}"
        with open(tmp_path, "w") as f:
            f.write(stamp)
        os.replace(tmp_path, stamp_path)
    except OSError:
        pass  # a read-only install: Numba falls back to its own cache locator


_drop_stale_cache()


def jit_kernel(function=None, *, parallel=False, gather=False):
    """Compile ``function`` as a fastml kernel (an entry point called from Python).

    A parallel kernel also gets a ``.serial`` twin compiled from the same source without threads:
    launching a parallel region costs tens of microseconds (milliseconds on an oversubscribed
    machine, where the pool's barrier waits for descheduled threads), more than a whole pass over a
    small ``X``. The twin is compiled on first use only. ``gather=True`` drops "reassoc" (see
    :data:`FASTMATH_GATHER`) for kernels whose hot loops gather through an index array.
    """
    flags = FASTMATH_GATHER if gather else FASTMATH

    def decorate(function):
        dispatcher = numba.njit(function, cache=CACHE, fastmath=flags, nogil=True,
                                parallel=PRANGE_ONLY if parallel else False)
        if parallel:
            dispatcher.serial = numba.njit(_renamed_copy(function, "_serial"), cache=CACHE,
                                           fastmath=flags, nogil=True)
        return dispatcher

    return decorate if function is None else decorate(function)


def _renamed_copy(function, suffix):
    """The same function under another name (Numba names its cache files after the qualname)."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__ + suffix,
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = function.__qualname__ + suffix
    copy.__doc__ = function.__doc__
    copy.__module__ = function.__module__
    return copy


def jit_inline(function=None, *, gather=False, vector_division=False):
    """Compile ``function`` as a helper linked into the kernels calling it.

    LLVM inlines it only when it is small: a helper with a loop, or a loss switch, stays a call
    (with every array argument passed as its ~9 fields), measured ~10-40 ns. A helper called per row
    or per element is either loop-free or a :func:`jit_point`; rare work in it (a fold, an error
    path) goes to a helper of its own.

    ``vector_division=True`` compiles it under Numpy's error model: Python's checks every float
    division for zero, and that branch (an exception path) keeps LLVM from vectorizing a loop that
    divides; under Numpy's a division by zero gives inf or NaN, for the caller's finiteness checks.
    """
    decorate = numba.njit(cache=CACHE, fastmath=FASTMATH_GATHER if gather else FASTMATH, nogil=True,
                          error_model="numpy" if vector_division else "python")
    return decorate if function is None else decorate(function)


# Exactly the rewrites the elementary-function helpers tolerate: FMA contraction. Reassociation
# would undo their error-free steps (Cody-Waite reduction, (1 + t) - 1 in log1p).
FASTMATH_EXACT = {"contract"}


def jit_vector_math(function):
    """Compile a scalar elementary-function helper meant to vectorize inside its callers' loops.

    Linked into (and LLVM-inlined by) the caller like :func:`jit_inline`, so its instructions keep
    their own flags (:data:`FASTMATH_EXACT`) inside a caller compiled with "reassoc". Numpy's error
    model: Python's checks every float division for zero, and that branch (an exception path) keeps
    LLVM from vectorizing the caller's loop.
    """
    return numba.njit(cache=CACHE, fastmath=FASTMATH_EXACT, error_model="numpy", nogil=True)(function)


@numba.njit(cache=CACHE, nogil=True)
def is_finite(value):
    """``math.isfinite`` / ``np.isfinite`` of a scalar that survives the kernels' fast-math flags.

    Numba computes those as "``value - value`` is not NaN", and under "reassoc" LLVM cancels
    ``value - value`` when ``value`` is itself a sum or a difference: ``isfinite(a - b)`` was True
    for a = inf, b = -inf (measured, numba 0.68). An absolute value compared with infinity has no
    such rewrite (and no fast-math flags of its own here: LLVM inlines it with them), and vectorizes.
    """
    return abs(value) < np.inf


@numba.njit(cache=CACHE)
def perf_counter():
    """``time.perf_counter()`` for compiled solver loops (their traces); takes the GIL for a moment."""
    with numba.objmode(now="float64"):
        now = time.perf_counter()
    return now


def jit_point(function):
    """Compile a scalar point function that Numba inlines at the IR level into each caller.

    For the per-sample loss formulas only: they are called once per row inside the block loops,
    where an out-of-line call (LLVM does not inline a 12-way loss switch on its own) cost as much
    as reading ``X``. Only the small block functions of ``losses`` call them, so the inlined IR is
    compiled a handful of times, not once per kernel.
    """
    return numba.njit(inline="always", cache=CACHE, fastmath=FASTMATH, nogil=True)(function)


def threading_layer_is_thread_safe():
    """Whether parallel kernels may be called from several Python threads at once (None: not known
    yet, no parallel kernel has run)."""
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:
        return None


_layer_is_safe = None


def call_parallel(kernel, *args, serial=False):
    """Call a ``parallel=True`` kernel, serialized behind :data:`PARALLEL_LOCK` unless the threading
    layer is known to be safe for concurrent callers (OpenMP or TBB). ``serial=True`` runs its
    thread-free twin instead (no lock needed), as does every call in a process forked after its
    parent started Numba's OpenMP pool (``fastml._config._forked_after_openmp``: Numba would
    terminate it)."""
    global _layer_is_safe
    if serial or getattr(sys.modules.get("fastml._config"), "_forked_after_openmp", False):
        return kernel.serial(*args)
    if _layer_is_safe:
        return kernel(*args)
    with PARALLEL_LOCK:
        result = kernel(*args)
        _layer_is_safe = threading_layer_is_thread_safe()
    return result
