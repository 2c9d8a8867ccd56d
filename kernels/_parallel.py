"""Work splitting and deterministic reduction shared by the parallel kernels.

Design: a parallel kernel splits its rows into ``n_threads`` contiguous chunks, each chunk adds into
its own float64 buffer, and the buffers are summed in chunk order. The result depends on the number
of chunks only, so it is bitwise reproducible for a fixed ``n_threads`` whatever the scheduler does.
:func:`map_row_chunks` does the same for Python code whose work is BLAS calls on row blocks.
"""
import numpy as np
from numba import prange

from ._blas_threads import limit_blas_threads
from ._jit import is_finite, jit_inline
from ._thread_pool import LazyThreadPool


@jit_inline
def chunk_count(n_rows, n_threads):
    """Number of row chunks: ``n_threads``, but never more than there are rows (and at least 1)."""
    return max(1, min(n_threads, n_rows))


@jit_inline
def row_chunk_bounds(n_rows, n_chunks):
    """Row boundaries of ``n_chunks`` chunks of (nearly) equal row counts: array of n_chunks + 1."""
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    for chunk in range(n_chunks + 1):
        bounds[chunk] = (n_rows * chunk) // n_chunks
    return bounds


@jit_inline
def nnz_chunk_bounds(indptr, n_chunks):
    """Row boundaries of ``n_chunks`` chunks of a CSR matrix holding (nearly) equal numbers of nonzeros."""
    n_rows = indptr.shape[0] - 1
    nnz = indptr[n_rows] - indptr[0]
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[n_chunks] = n_rows
    row = 0
    for chunk in range(1, n_chunks):
        target = indptr[0] + (nnz * chunk) // n_chunks
        while row < n_rows and indptr[row] < target:
            row += 1
        bounds[chunk] = row
    return bounds


@jit_inline
def sum_parts(parts, out):
    """``out[...] = parts.sum(axis=0)`` for ``parts`` of shape (n_chunks, a, b), summed in chunk order."""
    n_chunks, n_rows, n_cols = parts.shape
    for i in prange(n_rows):
        for j in range(n_cols):
            total = 0.0
            for chunk in range(n_chunks):
                total += parts[chunk, i, j]
            out[i, j] = total


@jit_inline
def sum_parts_1d(parts, out):
    """``out[...] = parts.sum(axis=0)`` for ``parts`` of shape (n_chunks, a), summed in chunk order."""
    n_chunks, n_entries = parts.shape
    for i in range(n_entries):
        total = 0.0
        for chunk in range(n_chunks):
            total += parts[chunk, i]
        out[i] = total


@jit_inline
def add_column_sums(values, n_rows, out):
    """``out[k] += values[:n_rows, k].sum()`` for each column ``k`` of the 2-d ``values``.

    Four partial sums per column: adding each value to ``out[k]`` in memory, as the fused kernels did,
    chained every row through a store and a reload (~2 ns a row of a 1e6-row pass, measured on one
    model in cache), and one scalar accumulator chains through the add latency instead."""
    for k in range(values.shape[1]):
        total0 = 0.0
        total1 = 0.0
        total2 = 0.0
        total3 = 0.0
        b = 0
        while b + 4 <= n_rows:
            total0 += values[b, k]
            total1 += values[b + 1, k]
            total2 += values[b + 2, k]
            total3 += values[b + 3, k]
            b += 4
        for b in range(b, n_rows):
            total0 += values[b, k]
        out[k] += (total0 + total1) + (total2 + total3)


@jit_inline
def count_nonfinite(values, n_rows):
    """Number of entries of ``values[:n_rows]`` (2-d) that are NaN or infinite."""
    count = 0
    for b in range(n_rows):
        for k in range(values.shape[1]):
            count += 0 if is_finite(values[b, k]) else 1
    return count


# bytes between the writes of empty_for_threads: the smallest page size, so every page gets one
_PAGE_BYTES = 4096
# smaller buffers are not worth the call: they come from memory the allocator has mapped before
_PAGED_IN_MIN_BYTES = 1 << 20


def empty_for_threads(shape, dtype=np.float64):
    """``np.empty(shape, dtype)`` (C order) for a threaded kernel to fill: from 1 MiB on, its memory
    pages are mapped first, by one write per page from the calling thread.

    Why: a fresh buffer is mapped on first write, and on the 2-core VM of these benchmarks two threads
    faulting in the pages of one fresh buffer at once were, in many processes though not all, several
    times slower than one thread doing it alone: every 19th row of 1e6 x 100 float64 copied by two threads (the L-BFGS start sample,
    42 MB) 50-58 ms into a fresh buffer, 9.5 ms with this; the scores of 10 models on 1e6 rows
    (80 MB) 145-153 -> 66 ms. The pages are zeroed either way; only who faults them in changes.
    """
    array = np.empty(shape, dtype=dtype)
    if array.nbytes >= _PAGED_IN_MIN_BYTES:
        array.reshape(-1).view(np.uint8)[::_PAGE_BYTES] = 0
    return array


# below this many stored values per thread, a thread team for BLAS-on-blocks work costs more than it saves
MIN_VALUES_PER_THREAD = 1_000_000

_row_pool = LazyThreadPool("fastml-rows")


def map_row_chunks(work, n_rows, n_threads, n_values, min_values_per_thread=MIN_VALUES_PER_THREAD):
    """``[work(start, stop) for each contiguous row chunk]``, one Python thread per chunk, in chunk order.

    For Python code whose time is spent in BLAS on row blocks (it releases the GIL): every BLAS call
    runs single-threaded meanwhile. Measured on the 2-core machine of ``PEERS.md``: two threads of
    one-threaded GEMMs on 2048-row blocks form ``X^T X`` of 1e6 x 100 in 0.19 s, where OpenBLAS's
    own two threads take 0.37-0.41 s for that tall-skinny product. There are ``n_threads`` chunks,
    fewer when the ``n_values`` stored values give a thread less than ``min_values_per_thread``.
    Python threads block on a queue when idle, where the OpenMP workers of ``prange`` kernels spin
    for a while and take a core from whatever threads run next (see ``fastml.drift._fingerprint``).
    """
    n_chunks = max(1, min(n_threads, n_values // min_values_per_thread))
    bounds = row_chunk_bounds.py_func(n_rows, n_chunks)  # the kernels' split, in plain numpy
    if n_chunks == 1:
        # one thread's worth of work (or one thread asked for): BLAS's own thread team costs more than
        # it saves too. Measured, X^T X of 5 000 x 100 in 2048-row blocks: 3.5 ms with two BLAS threads,
        # 2.0 ms with one (1 000 x 100: 0.60 vs 0.38 ms)
        with limit_blas_threads(1):
            return [work(0, n_rows)]
    pool = _row_pool.executor(n_chunks)
    with limit_blas_threads(1):
        futures = [pool.submit(work, bounds[c], bounds[c + 1]) for c in range(n_chunks)]
        return [future.result() for future in futures]
