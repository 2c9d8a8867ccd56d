# Design: the loss-free CSR kernels (matvec, rmatvec, weighted Gram, column statistics) live in
# Cython because their speed depends only on how X is stored: irregular gathers/scatters over
# ``indices`` that gain nothing from Numba's loss inlining and are compiled ahead of time instead.
# Fused types give one source for float32/float64 data and int32/int64 indices; every result and
# every accumulator is float64. ``csr_matvec`` writes disjoint output rows, so a static prange over
# rows is race free and deterministic. ``csr_rmatvec`` and ``csr_weighted_gram`` scatter into shared
# outputs, so rows are split into ``n_threads`` contiguous chunks holding equal numbers of nonzeros
# (the same split as ``kernels/_parallel.py``), each chunk adds into its own float64 buffer (chunk 0
# into ``out`` itself, so one thread allocates nothing), and the buffers are summed in chunk order:
# the result depends on ``n_threads`` only, never on the scheduler. Column indices may be unsorted
# and may repeat within a row; duplicates add up, as in ``scipy.sparse``. No validation here: the
# Python caller passes C-contiguous arrays of the stated dtypes and consistent shapes.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

__all__ = [
    "csr_matvec",
    "csr_rmatvec",
    "csr_weighted_gram",
    "csr_column_sq_norms",
    "csr_weighted_column_sums",
]


ctypedef fused index_t:
    int32_t
    int64_t


# ---------------------------------------------------------------------------------------------
# helpers (nogil, raw pointers; inner loops live here so that no ``+=`` on a scalar appears in a
# prange body, where Cython would turn it into an OpenMP reduction)
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _n_rows(Py_ssize_t indptr_len) noexcept nogil:
    return indptr_len - 1 if indptr_len > 1 else 0


cdef inline Py_ssize_t _chunk_count(Py_ssize_t n_rows, int n_threads) noexcept nogil:
    """``n_threads`` chunks, never more than there are rows, at least one."""
    cdef Py_ssize_t n_chunks = n_threads
    if n_chunks > n_rows:
        n_chunks = n_rows
    if n_chunks < 1:
        n_chunks = 1
    return n_chunks


cdef Py_ssize_t _chunk_start(const index_t* indptr, Py_ssize_t n_rows, Py_ssize_t chunk,
                             Py_ssize_t n_chunks) noexcept nogil:
    """First row of ``chunk``: the first row r with indptr[r] >= indptr[0] + nnz * chunk // n_chunks.

    Same boundaries as ``kernels._parallel.nnz_chunk_bounds``; found by binary search.
    """
    cdef int64_t nnz, target
    cdef Py_ssize_t lo, hi, mid
    if chunk <= 0:
        return 0
    if chunk >= n_chunks:
        return n_rows
    nnz = <int64_t> indptr[n_rows] - <int64_t> indptr[0]
    target = <int64_t> indptr[0] + (nnz * chunk) // n_chunks
    lo = 0
    hi = n_rows
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if <int64_t> indptr[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline void _matvec_row(const floating* data, const index_t* indices, Py_ssize_t start,
                             Py_ssize_t end, const double* x, double* out_row,
                             Py_ssize_t n_models) noexcept nogil:
    """out_row[:] = X[row] @ x for one CSR row whose nonzeros are data[start:end]."""
    cdef Py_ssize_t p, k
    cdef double value, total
    cdef const double* x_row
    if n_models == 1:
        total = 0.0
        for p in range(start, end):
            total += <double> data[p] * x[<Py_ssize_t> indices[p]]
        out_row[0] = total
        return
    for k in range(n_models):
        out_row[k] = 0.0
    for p in range(start, end):
        value = <double> data[p]
        x_row = x + <Py_ssize_t> indices[p] * n_models
        for k in range(n_models):
            out_row[k] += value * x_row[k]


cdef void _rmatvec_rows(const floating* data, const index_t* indices, const index_t* indptr,
                        Py_ssize_t row_start, Py_ssize_t row_end, const double* r, double* acc,
                        Py_ssize_t n_features, Py_ssize_t n_models, bint square) noexcept nogil:
    """acc[:, :] = X[row_start:row_end].T @ r[row_start:row_end] (acc is overwritten); with ``square``
    the squared values of X (a branch per nonzero that the CPU predicts: the scatter costs the time)."""
    cdef Py_ssize_t i, p, k
    cdef double value
    cdef const double* r_row
    cdef double* acc_row
    cdef double r_i
    memset(acc, 0, n_features * n_models * sizeof(double))
    if n_models == 1:
        for i in range(row_start, row_end):
            r_i = r[i]
            for p in range(indptr[i], indptr[i + 1]):
                value = <double> data[p]
                if square:
                    value = value * value
                acc[<Py_ssize_t> indices[p]] += value * r_i
        return
    for i in range(row_start, row_end):
        r_row = r + i * n_models
        for p in range(indptr[i], indptr[i + 1]):
            value = <double> data[p]
            if square:
                value = value * value
            acc_row = acc + <Py_ssize_t> indices[p] * n_models
            for k in range(n_models):
                acc_row[k] += value * r_row[k]


cdef void _gram_rows(const floating* data, const index_t* indices, const index_t* indptr,
                     Py_ssize_t row_start, Py_ssize_t row_end, const double* h, double* acc,
                     Py_ssize_t n_features) noexcept nogil:
    """Upper triangle of acc = X[rows].T @ diag(h[rows]) @ X[rows] (acc is overwritten).

    Every unordered pair of a row's nonzeros (p, q), p < q, with columns a != b contributes once to
    the upper entry (min(a, b), max(a, b)) (its mirror belongs to the lower triangle); a pair with
    a == b (a duplicate entry) contributes twice to the diagonal, and each p once with itself.
    Summed, that is exactly the upper triangle of X.T diag(h) X with duplicates added up.
    """
    cdef Py_ssize_t i, p, q, a, b, start, end
    cdef double h_i, w_p, value
    memset(acc, 0, n_features * n_features * sizeof(double))
    for i in range(row_start, row_end):
        h_i = h[i]
        start = indptr[i]
        end = indptr[i + 1]
        for p in range(start, end):
            a = indices[p]
            w_p = h_i * <double> data[p]
            acc[a * n_features + a] += w_p * <double> data[p]
            for q in range(p + 1, end):
                b = indices[q]
                value = w_p * <double> data[q]
                if a < b:
                    acc[a * n_features + b] += value
                elif b < a:
                    acc[b * n_features + a] += value
                else:
                    acc[a * n_features + a] += 2.0 * value


cdef inline void _add_parts(double* out, const double* parts, Py_ssize_t start, Py_ssize_t stop,
                            Py_ssize_t n_parts, Py_ssize_t stride) noexcept nogil:
    """out[t] += parts[0, t] + parts[1, t] + ... (left to right) for t in [start, stop)."""
    cdef Py_ssize_t t, c
    cdef double total
    for t in range(start, stop):
        total = out[t]
        for c in range(n_parts):
            total += parts[c * stride + t]
        out[t] = total


cdef inline void _mirror_row(double* out, Py_ssize_t a, Py_ssize_t n) noexcept nogil:
    """Copy column a of the upper triangle into row a of the lower triangle."""
    cdef Py_ssize_t b
    for b in range(a):
        out[a * n + b] = out[b * n + a]


cdef double* _alloc_parts(Py_ssize_t n_parts, Py_ssize_t size) except? NULL:
    """Uninitialized buffer of n_parts * size doubles (NULL when n_parts == 0); MemoryError on failure."""
    cdef double* parts
    if n_parts <= 0:
        return NULL
    parts = <double*> malloc(n_parts * size * sizeof(double))
    if parts == NULL:
        raise MemoryError()
    return parts


# ---------------------------------------------------------------------------------------------
# public kernels
# ---------------------------------------------------------------------------------------------

def csr_matvec(const floating[::1] data not None, const index_t[::1] indices not None,
               const index_t[::1] indptr not None, const double[:, ::1] x not None,
               double[:, ::1] out not None, int n_threads):
    """Sparse times dense: ``out = X @ x`` for a CSR ``X``, K models at once.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64, C-contiguous, may be read-only
        CSR values of ``X`` (n_samples, n_features).
    indices : ndarray of shape (nnz,), int32 or int64, C-contiguous, may be read-only
        Column index of each value; need not be sorted or unique within a row (duplicates add up).
    indptr : ndarray of shape (n_samples + 1,), same dtype as ``indices``, C-contiguous, may be read-only
        Row ``i`` holds ``data[indptr[i]:indptr[i + 1]]``.
    x : ndarray of shape (n_features, n_models), float64, C-contiguous, may be read-only
        Dense right-hand side, one column per model.
    out : ndarray of shape (n_samples, n_models), float64, C-contiguous, writable
        Overwritten with ``X @ x``; must not overlap ``x``.
    n_threads : int
        Number of OpenMP threads (values below 1 act as 1). Rows are split statically; each output row
        is computed by one thread in a fixed order, so the result is bitwise identical for every
        ``n_threads``.

    Returns
    -------
    None
        The result is written into ``out``. Accumulation is float64 for float32 ``data`` too.
    """
    cdef Py_ssize_t n_samples = _n_rows(indptr.shape[0])
    cdef Py_ssize_t n_models = x.shape[1]
    cdef Py_ssize_t i
    cdef int n_workers = n_threads if n_threads > 1 else 1
    cdef const floating* data_p
    cdef const index_t* indices_p
    cdef const index_t* indptr_p
    cdef const double* x_p
    cdef double* out_p

    if n_samples == 0 or n_models == 0:
        return
    out_p = &out[0, 0]
    if indptr[n_samples] == indptr[0]:  # no nonzeros: X @ x is zero
        with nogil:
            memset(out_p, 0, n_samples * n_models * sizeof(double))
        return
    data_p = &data[0]
    indices_p = &indices[0]
    indptr_p = &indptr[0]
    x_p = &x[0, 0]
    with nogil:
        for i in prange(n_samples, schedule="static", num_threads=n_workers):
            _matvec_row(data_p, indices_p, indptr_p[i], indptr_p[i + 1], x_p,
                        out_p + i * n_models, n_models)


def csr_rmatvec(const floating[::1] data not None, const index_t[::1] indices not None,
                const index_t[::1] indptr not None, const double[:, ::1] r not None,
                double[:, ::1] out not None, int n_threads, bint square=False):
    """Transposed sparse times dense: ``out = X.T @ r`` for a CSR ``X``, K models at once
    (``square=True``: ``out = (X * X).T @ r``, e.g. weighted column sums of squares, with no copy of X).

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64, C-contiguous, may be read-only
        CSR values of ``X`` (n_samples, n_features).
    indices : ndarray of shape (nnz,), int32 or int64, C-contiguous, may be read-only
        Column index of each value, in ``[0, n_features)``; need not be sorted or unique.
    indptr : ndarray of shape (n_samples + 1,), same dtype as ``indices``, C-contiguous, may be read-only
        Row ``i`` holds ``data[indptr[i]:indptr[i + 1]]``.
    r : ndarray of shape (n_samples, n_models), float64, C-contiguous, may be read-only
        Dense left-hand side (e.g. residuals or pointwise gradients), one column per model.
    out : ndarray of shape (n_features, n_models), float64, C-contiguous, writable
        Overwritten with ``X.T @ r``; must not overlap ``r``.
    n_threads : int
        Number of OpenMP threads (values below 1 act as 1). Rows are split into
        ``min(n_threads, n_samples)`` contiguous chunks of equal nonzero counts; chunk 0 adds into
        ``out``, every other chunk into its own temporary (n_features, n_models) float64 buffer, and
        the buffers are added in chunk order. The result is bitwise reproducible for a fixed
        ``n_threads``; with one thread no buffer is allocated.
    square : bool, default False
        Multiply ``r`` by the squares of the stored values instead of the values (each stored
        value squared: duplicates are not summed first).

    Returns
    -------
    None
        The result is written into ``out``. Accumulation is float64 for float32 ``data`` too.

    Raises
    ------
    MemoryError
        If the per-chunk buffers cannot be allocated.
    """
    cdef Py_ssize_t n_samples = _n_rows(indptr.shape[0])
    cdef Py_ssize_t n_features = out.shape[0]
    cdef Py_ssize_t n_models = out.shape[1]
    cdef Py_ssize_t size = n_features * n_models
    cdef Py_ssize_t n_chunks, c, j, row_start, row_end
    cdef const floating* data_p
    cdef const index_t* indices_p
    cdef const index_t* indptr_p
    cdef const double* r_p
    cdef double* out_p
    cdef double* acc
    cdef double* parts

    if size == 0:
        return
    out_p = &out[0, 0]
    if n_samples == 0 or indptr[n_samples] == indptr[0]:  # no rows or no nonzeros: zero
        with nogil:
            memset(out_p, 0, size * sizeof(double))
        return
    data_p = &data[0]
    indices_p = &indices[0]
    indptr_p = &indptr[0]
    r_p = &r[0, 0]
    n_chunks = _chunk_count(n_samples, n_threads)
    if n_chunks == 1:
        with nogil:
            _rmatvec_rows(data_p, indices_p, indptr_p, 0, n_samples, r_p, out_p, n_features,
                          n_models, square)
        return

    parts = _alloc_parts(n_chunks - 1, size)
    try:
        with nogil:
            # 1) each chunk accumulates its rows into its own buffer (chunk 0 into out)
            for c in prange(n_chunks, schedule="static", chunksize=1, num_threads=n_chunks):
                row_start = _chunk_start(indptr_p, n_samples, c, n_chunks)
                row_end = _chunk_start(indptr_p, n_samples, c + 1, n_chunks)
                acc = out_p if c == 0 else parts + (c - 1) * size
                _rmatvec_rows(data_p, indices_p, indptr_p, row_start, row_end, r_p, acc,
                              n_features, n_models, square)
            # 2) add the buffers into out in chunk order, features split across threads
            for j in prange(n_features, schedule="static", num_threads=n_chunks):
                _add_parts(out_p, parts, j * n_models, (j + 1) * n_models, n_chunks - 1, size)
    finally:
        free(parts)


def csr_weighted_gram(const floating[::1] data not None, const index_t[::1] indices not None,
                      const index_t[::1] indptr not None, const double[::1] h not None,
                      double[:, ::1] out not None, int n_threads):
    """Weighted Gram (sandwich) matrix: ``out = X.T @ diag(h) @ X`` for a CSR ``X``.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64, C-contiguous, may be read-only
        CSR values of ``X`` (n_samples, n_features).
    indices : ndarray of shape (nnz,), int32 or int64, C-contiguous, may be read-only
        Column index of each value, in ``[0, n_features)``; need not be sorted or unique
        (duplicates add up, so the result is exactly that of the summed matrix).
    indptr : ndarray of shape (n_samples + 1,), same dtype as ``indices``, C-contiguous, may be read-only
        Row ``i`` holds ``data[indptr[i]:indptr[i + 1]]``.
    h : ndarray of shape (n_samples,), float64, C-contiguous, may be read-only
        Row weights (e.g. sample_weight times the loss Hessian); any sign.
    out : ndarray of shape (n_features, n_features), float64, C-contiguous, writable
        Overwritten with the full symmetric matrix (both triangles filled, exactly symmetric).
    n_threads : int
        Number of OpenMP threads (values below 1 act as 1). Rows are split into
        ``min(n_threads, n_samples)`` contiguous chunks of equal nonzero counts; chunk 0 adds into
        ``out``, every other chunk into its own temporary (n_features, n_features) float64 buffer
        (so memory grows as ``(n_chunks - 1) * n_features**2``), and the buffers are added in chunk
        order. The result is bitwise reproducible for a fixed ``n_threads``; with one thread no
        buffer is allocated.

    Returns
    -------
    None
        The result is written into ``out``. Each row costs O(nnz_row**2 / 2); only the upper
        triangle is accumulated and then mirrored. Accumulation is float64 for float32 ``data``.

    Raises
    ------
    MemoryError
        If the per-chunk buffers cannot be allocated.
    """
    cdef Py_ssize_t n_samples = _n_rows(indptr.shape[0])
    cdef Py_ssize_t n_features = out.shape[0]
    cdef Py_ssize_t size = n_features * n_features
    cdef Py_ssize_t n_chunks, c, a, row_start, row_end
    cdef const floating* data_p
    cdef const index_t* indices_p
    cdef const index_t* indptr_p
    cdef const double* h_p
    cdef double* out_p
    cdef double* acc
    cdef double* parts

    if size == 0:
        return
    out_p = &out[0, 0]
    if n_samples == 0 or indptr[n_samples] == indptr[0]:  # no rows or no nonzeros: zero
        with nogil:
            memset(out_p, 0, size * sizeof(double))
        return
    data_p = &data[0]
    indices_p = &indices[0]
    indptr_p = &indptr[0]
    h_p = &h[0]
    n_chunks = _chunk_count(n_samples, n_threads)
    parts = _alloc_parts(n_chunks - 1, size)
    try:
        with nogil:
            if n_chunks == 1:
                _gram_rows(data_p, indices_p, indptr_p, 0, n_samples, h_p, out_p, n_features)
            else:
                # 1) each chunk accumulates its rows' upper triangle into its own buffer
                for c in prange(n_chunks, schedule="static", chunksize=1, num_threads=n_chunks):
                    row_start = _chunk_start(indptr_p, n_samples, c, n_chunks)
                    row_end = _chunk_start(indptr_p, n_samples, c + 1, n_chunks)
                    acc = out_p if c == 0 else parts + (c - 1) * size
                    _gram_rows(data_p, indices_p, indptr_p, row_start, row_end, h_p, acc,
                               n_features)
                # 2) add the buffers' upper triangles into out in chunk order
                for a in prange(n_features, schedule="static", num_threads=n_chunks):
                    _add_parts(out_p, parts, a * n_features + a, (a + 1) * n_features,
                               n_chunks - 1, size)
            # 3) mirror the upper triangle into the lower one
            for a in prange(n_features, schedule="static", num_threads=n_chunks):
                _mirror_row(out_p, a, n_features)
    finally:
        free(parts)


def csr_column_sq_norms(const floating[::1] data not None, const index_t[::1] indices not None,
                        const index_t[::1] indptr not None, Py_ssize_t n_features,
                        const double[::1] sample_weight not None, double[::1] out not None):
    """Weighted squared column norms: ``out[j] = sum_i sample_weight[i] * X[i, j] ** 2``.

    This is the diagonal of ``X.T @ diag(sample_weight) @ X`` (coordinate descent step sizes,
    Jacobi preconditioning) without forming the matrix. Serial.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64, C-contiguous, may be read-only
        CSR values of ``X`` (n_samples, n_features).
    indices : ndarray of shape (nnz,), int32 or int64, C-contiguous, may be read-only
        Column index of each value, in ``[0, n_features)``; need not be sorted or unique. Duplicates
        within a row are summed before squaring, so ``X[i, j]`` is the summed entry, as in
        ``scipy.sparse``.
    indptr : ndarray of shape (n_samples + 1,), same dtype as ``indices``, C-contiguous, may be read-only
        Row ``i`` holds ``data[indptr[i]:indptr[i + 1]]``.
    n_features : int
        Number of columns of ``X``; ``out[:n_features]`` is written.
    sample_weight : ndarray of shape (n_samples,), float64, C-contiguous, may be read-only
        Row weights.
    out : ndarray of shape (n_features,), float64, C-contiguous, writable
        Overwritten with the weighted squared norms.

    Returns
    -------
    None
        The result is written into ``out``. A scratch vector of ``n_features`` float64 is
        allocated to merge duplicate entries. Accumulation is float64 for float32 ``data``.

    Raises
    ------
    MemoryError
        If the scratch vector cannot be allocated.
    """
    cdef Py_ssize_t n_samples = _n_rows(indptr.shape[0])
    cdef Py_ssize_t i, p, j, start, end
    cdef double w_i, value
    cdef double* row_sum

    if n_features <= 0:
        return
    with nogil:
        memset(&out[0], 0, n_features * sizeof(double))
    if n_samples == 0 or indptr[n_samples] == indptr[0]:
        return
    row_sum = <double*> calloc(n_features, sizeof(double))
    if row_sum == NULL:
        raise MemoryError()
    try:
        with nogil:
            for i in range(n_samples):
                w_i = sample_weight[i]
                start = indptr[i]
                end = indptr[i + 1]
                # 1) merge the row's duplicate entries
                for p in range(start, end):
                    row_sum[<Py_ssize_t> indices[p]] += <double> data[p]
                # 2) add each merged entry once; the scratch entry is reset so that a repeated
                #    column adds an exact zero
                for p in range(start, end):
                    j = indices[p]
                    value = row_sum[j]
                    row_sum[j] = 0.0
                    out[j] += w_i * (value * value)
    finally:
        free(row_sum)


def csr_weighted_column_sums(const floating[::1] data not None,
                             const index_t[::1] indices not None,
                             const index_t[::1] indptr not None, Py_ssize_t n_features,
                             const double[::1] sample_weight not None, double[::1] out not None):
    """Weighted column sums: ``out[j] = sum_i sample_weight[i] * X[i, j]``, i.e. ``X.T @ sample_weight``.

    Used for weighted column means (centering, intercept handling). Serial.

    Parameters
    ----------
    data : ndarray of shape (nnz,), float32 or float64, C-contiguous, may be read-only
        CSR values of ``X`` (n_samples, n_features).
    indices : ndarray of shape (nnz,), int32 or int64, C-contiguous, may be read-only
        Column index of each value, in ``[0, n_features)``; need not be sorted or unique
        (duplicates add up).
    indptr : ndarray of shape (n_samples + 1,), same dtype as ``indices``, C-contiguous, may be read-only
        Row ``i`` holds ``data[indptr[i]:indptr[i + 1]]``.
    n_features : int
        Number of columns of ``X``; ``out[:n_features]`` is written.
    sample_weight : ndarray of shape (n_samples,), float64, C-contiguous, may be read-only
        Row weights.
    out : ndarray of shape (n_features,), float64, C-contiguous, writable
        Overwritten with the weighted column sums.

    Returns
    -------
    None
        The result is written into ``out``. Accumulation is float64 for float32 ``data``.
    """
    cdef Py_ssize_t n_samples = _n_rows(indptr.shape[0])
    cdef Py_ssize_t i, p
    cdef double w_i

    if n_features <= 0:
        return
    with nogil:
        memset(&out[0], 0, n_features * sizeof(double))
    if n_samples == 0:
        return
    with nogil:
        for i in range(n_samples):
            w_i = sample_weight[i]
            for p in range(indptr[i], indptr[i + 1]):
                out[<Py_ssize_t> indices[p]] += w_i * <double> data[p]
