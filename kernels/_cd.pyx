# Design: coordinate descent for the elastic net (squared error) in Cython, because every coordinate
# update is a short dependent step (a dot product, a soft threshold, an axpy) that must run without
# Python or Numba dispatch in between. Three storages, one update rule:
#   * Gram:   CD on the d x d centered Gram matrix Q = X_c^T W X_c and q = X_c^T W y_c, keeping
#             Qw = Q @ coef up to date; a sweep costs O(d^2), independent of n_samples.
#   * dense:  F-ordered X (each column contiguous), residual updates, O(n_samples) per coordinate.
#   * CSC:    the same on the columns of a CSC matrix, O(nnz of the column) per coordinate.
# The intercept never needs a centered copy of X. Dense columns are centered as they are read
# ((x_ij - m_j), m the weighted column means): the same memory traffic, and the residual stays
# exactly centered, so features with huge means lose no accuracy. Centering a sparse column on the
# fly would touch every row, so the CSC kernels keep a running mean instead: the centered residual
# is R_c = resid + shift (a scalar per target); since sum_i w_i R_c,i = 0, the centered gradient is
# x_j^T W R_c = x_j^T W resid + shift * (W m_j), and changing coef_j by delta does
# resid -= delta * x_j, shift += delta * m_j. The Python driver folds shift into resid at every
# duality-gap check, so the two never drift far apart.
# Targets (independent models sharing X) run in a static prange, one thread per target, each with
# its own coefficient row, residual (or Qw) row and random state, so the result never depends on
# the thread count. Coordinate selection is cyclic over the active set or uniform with replacement
# from a per-target xorshift64* stream (seeded by the driver). A call runs at most sweep_budget[k]
# sweeps and stops a target early after a sweep whose largest update is below
# dw_tol * (largest |coef|) -- then the driver checks the duality gap (the rule scikit-learn uses).
# Accumulation is float64; float32 X is read as float32. The dot products keep four partial sums
# so the compiler can overlap the additions without reassociating (results stay deterministic).
# No validation here: the driver passes contiguous arrays of the stated dtypes and shapes.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

__all__ = [
    "dense_solve",
    "gram_solve",
    "gram_sweeps",
    "dense_sweeps",
    "csc_sweeps",
    "dense_xtr",
    "csc_xtr",
    "dense_subtract_columns",
    "csc_subtract_columns",
]


ctypedef fused index_t:
    int32_t
    int64_t


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

cdef inline double _coordinate_minimizer(double tmp, double l1, double denominator,
                                         bint positive) noexcept nogil:
    """argmin_b 0.5 * denominator * b**2 - tmp * b + l1 * |b| (b >= 0 when positive)."""
    if positive and tmp < 0.0:
        return 0.0
    if tmp > l1:
        return (tmp - l1) / denominator
    if tmp < -l1:
        return (tmp + l1) / denominator
    return 0.0


cdef inline uint64_t _xorshift64star(uint64_t* state) noexcept nogil:
    cdef uint64_t x = state[0]
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    state[0] = x
    return x * <uint64_t> 2685821657736338717ULL


cdef inline Py_ssize_t _pick(Py_ssize_t f, Py_ssize_t n_active, bint random,
                             uint64_t* state) noexcept nogil:
    """Position in the active set of the f-th update of a sweep."""
    if random:
        return <Py_ssize_t> ((_xorshift64star(state) >> 11) % (<uint64_t> n_active))
    return f


cdef inline const double* _optional_pointer(const double[::1] values) noexcept:
    """The address of ``values[0]``, or NULL for None (the kernels' unit sample weights)."""
    return NULL if values is None else &values[0]


cdef inline double _dot_dense(const floating* column, double mean, const double* resid,
                              const double* sw, Py_ssize_t n) noexcept nogil:
    """sum_i sw[i] * (column[i] - mean) * resid[i] (sw NULL: unit weights), four partial sums."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t i, n4 = n - n % 4
    if sw == NULL:
        for i in range(0, n4, 4):
            s0 += (<double> column[i] - mean) * resid[i]
            s1 += (<double> column[i + 1] - mean) * resid[i + 1]
            s2 += (<double> column[i + 2] - mean) * resid[i + 2]
            s3 += (<double> column[i + 3] - mean) * resid[i + 3]
        for i in range(n4, n):
            s0 += (<double> column[i] - mean) * resid[i]
    else:
        for i in range(0, n4, 4):
            s0 += sw[i] * (<double> column[i] - mean) * resid[i]
            s1 += sw[i + 1] * (<double> column[i + 1] - mean) * resid[i + 1]
            s2 += sw[i + 2] * (<double> column[i + 2] - mean) * resid[i + 2]
            s3 += sw[i + 3] * (<double> column[i + 3] - mean) * resid[i + 3]
        for i in range(n4, n):
            s0 += sw[i] * (<double> column[i] - mean) * resid[i]
    return (s0 + s1) + (s2 + s3)


cdef inline void _axpy_dense(double alpha, const floating* column, double mean, double* resid,
                             Py_ssize_t n) noexcept nogil:
    """resid += alpha * (column - mean)."""
    cdef Py_ssize_t i
    for i in range(n):
        resid[i] += alpha * (<double> column[i] - mean)


cdef inline double _dot_csc(const floating* data, const index_t* indices, Py_ssize_t start,
                            Py_ssize_t end, const double* resid, const double* sw) noexcept nogil:
    """sum over the column's nonzeros p of sw[row] * data[p] * resid[row] (sw NULL: unit weights)."""
    cdef double s0 = 0.0, s1 = 0.0
    cdef Py_ssize_t p, row
    if sw == NULL:
        for p in range(start, end - 1, 2):
            s0 += <double> data[p] * resid[<Py_ssize_t> indices[p]]
            s1 += <double> data[p + 1] * resid[<Py_ssize_t> indices[p + 1]]
    else:
        for p in range(start, end - 1, 2):
            row = indices[p]
            s0 += sw[row] * <double> data[p] * resid[row]
            row = indices[p + 1]
            s1 += sw[row] * <double> data[p + 1] * resid[row]
    if (end - start) % 2 == 1:
        row = indices[end - 1]
        s0 += (1.0 if sw == NULL else sw[row]) * <double> data[end - 1] * resid[row]
    return s0 + s1


cdef inline void _axpy_csc(double alpha, const floating* data, const index_t* indices,
                           Py_ssize_t start, Py_ssize_t end, double* resid) noexcept nogil:
    cdef Py_ssize_t p
    for p in range(start, end):
        resid[<Py_ssize_t> indices[p]] += alpha * <double> data[p]


# ---------------------------------------------------------------------------------------------
# one target's sweeps (called inside a prange over targets)
# ---------------------------------------------------------------------------------------------

cdef int _gram_sweeps_target(const double* gram, Py_ssize_t d, const double* xty, double* coef,
                             double* gram_coef, double l1, double l2, const int32_t* active,
                             Py_ssize_t n_active, int max_sweeps, double dw_tol, bint positive,
                             bint random, uint64_t* state) noexcept nogil:
    cdef int sweep
    cdef Py_ssize_t f, j, t
    cdef double old, new, delta, tmp, diag, dw_max, w_max
    cdef const double* row
    for sweep in range(max_sweeps):
        dw_max = 0.0
        w_max = 0.0
        for f in range(n_active):
            j = active[_pick(f, n_active, random, state)]
            diag = gram[j * d + j]
            if diag == 0.0:  # zero (or constant, once centered) column: coefficient stays 0
                continue
            old = coef[j]
            # tmp = x_j^T W (R + old * x_j) in Gram form
            tmp = xty[j] - gram_coef[j] + old * diag
            new = _coordinate_minimizer(tmp, l1, diag + l2, positive)
            if new != old:
                delta = new - old
                coef[j] = new
                row = gram + j * d  # Q is symmetric: row j is column j, contiguous
                for t in range(d):
                    gram_coef[t] += delta * row[t]
                if fabs(delta) > dw_max:
                    dw_max = fabs(delta)
            if fabs(new) > w_max:
                w_max = fabs(new)
        if w_max == 0.0 or dw_max <= dw_tol * w_max:
            return sweep + 1
    return max_sweeps


cdef int _dense_sweeps_target(const floating* X, Py_ssize_t n, const double* sw,
                              const double* norms, const double* x_mean, double* coef,
                              double* resid, double l1, double l2,
                              const int32_t* active, Py_ssize_t n_active, int max_sweeps,
                              double dw_tol, bint positive, bint random,
                              uint64_t* state) noexcept nogil:
    cdef int sweep
    cdef Py_ssize_t f, j
    cdef double old, new, delta, tmp, norm, dw_max, w_max
    cdef const floating* column
    for sweep in range(max_sweeps):
        dw_max = 0.0
        w_max = 0.0
        for f in range(n_active):
            j = active[_pick(f, n_active, random, state)]
            norm = norms[j]
            if norm == 0.0:
                continue
            column = X + j * n
            old = coef[j]
            tmp = _dot_dense(column, x_mean[j], resid, sw, n) + old * norm
            new = _coordinate_minimizer(tmp, l1, norm + l2, positive)
            if new != old:
                delta = new - old
                coef[j] = new
                _axpy_dense(-delta, column, x_mean[j], resid, n)
                if fabs(delta) > dw_max:
                    dw_max = fabs(delta)
            if fabs(new) > w_max:
                w_max = fabs(new)
        if w_max == 0.0 or dw_max <= dw_tol * w_max:
            return sweep + 1
    return max_sweeps


cdef int _csc_sweeps_target(const floating* data, const index_t* indices, const index_t* indptr,
                            const double* sw, const double* norms, const double* x_mean,
                            const double* wx_sum, double* coef, double* resid, double* shift,
                            double l1, double l2, const int32_t* active, Py_ssize_t n_active,
                            int max_sweeps, double dw_tol, bint positive, bint random,
                            uint64_t* state) noexcept nogil:
    cdef int sweep
    cdef Py_ssize_t f, j, start, end
    cdef double old, new, delta, tmp, norm, dw_max, w_max
    for sweep in range(max_sweeps):
        dw_max = 0.0
        w_max = 0.0
        for f in range(n_active):
            j = active[_pick(f, n_active, random, state)]
            norm = norms[j]
            if norm == 0.0:
                continue
            start = indptr[j]
            end = indptr[j + 1]
            old = coef[j]
            tmp = (_dot_csc(data, indices, start, end, resid, sw) + shift[0] * wx_sum[j]
                   + old * norm)
            new = _coordinate_minimizer(tmp, l1, norm + l2, positive)
            if new != old:
                delta = new - old
                coef[j] = new
                _axpy_csc(-delta, data, indices, start, end, resid)
                shift[0] += delta * x_mean[j]
                if fabs(delta) > dw_max:
                    dw_max = fabs(delta)
            if fabs(new) > w_max:
                w_max = fabs(new)
        if w_max == 0.0 or dw_max <= dw_tol * w_max:
            return sweep + 1
    return max_sweeps


cdef inline int _workers(int n_threads, Py_ssize_t n_targets) noexcept nogil:
    cdef Py_ssize_t workers = n_threads if n_threads > 1 else 1
    if workers > n_targets:
        workers = n_targets
    return <int> (workers if workers > 1 else 1)


# ---------------------------------------------------------------------------------------------
# public kernels: sweeps
# ---------------------------------------------------------------------------------------------

# Parameters shared by gram_sweeps, dense_sweeps and csc_sweeps (each docstring refers here):
_SWEEP_PARAMETERS = """
    coef : ndarray of shape (n_targets, n_features), float64, C-contiguous, writable
        Coefficients, one row per target (model-major); updated in place.
    l1, l2 : ndarray of shape (n_targets,), float64
        Penalties in the unnormalized scale: the kernel minimizes, per target,
        0.5 * sum_i w_i R_c,i^2 + l1 * ||coef||_1 + l2 / 2 * ||coef||^2 (the driver multiplies
        the per-sample-mean penalties by sum(w)).
    active : ndarray of shape (n_targets, n_features), int32, C-contiguous
        Per target, the features to update are ``active[k, :n_active[k]]`` (screening).
    n_active : ndarray of shape (n_targets,), int32
    sweep_budget : ndarray of shape (n_targets,), int32
        Most sweeps to run per target; a target with budget 0 is left untouched.
    dw_tol : float
        A target stops after a sweep with max |update| <= dw_tol * max |coef| (or all coef zero).
    positive : bool
        Constrain coefficients to be >= 0.
    random : bool
        Uniform random coordinate selection (with replacement) instead of cyclic.
    rng_state : ndarray of shape (n_targets,), uint64, nonzero, writable
        Per-target xorshift64* states, advanced in place (only used when ``random``).
    sweeps_out : ndarray of shape (n_targets,), int32, writable
        Overwritten with the number of sweeps run per target.
    n_threads : int
        Threads (one target per thread, static schedule): results do not depend on it.
"""


def gram_sweeps(const double[:, ::1] gram not None, const double[:, ::1] xty not None,
                double[:, ::1] coef not None, double[:, ::1] gram_coef not None,
                const double[::1] l1 not None, const double[::1] l2 not None,
                const int32_t[:, ::1] active not None, const int32_t[::1] n_active not None,
                const int32_t[::1] sweep_budget not None, double dw_tol, bint positive,
                bint random, uint64_t[::1] rng_state not None, int32_t[::1] sweeps_out not None,
                int n_threads):
    """Coordinate descent sweeps on the Gram matrix, K targets sharing it.

    Parameters
    ----------
    gram : ndarray of shape (n_features, n_features), float64, C-contiguous, symmetric
        Q = X_c^T diag(w) X_c (centered when there is an intercept). A zero diagonal entry freezes
        that coefficient.
    xty : ndarray of shape (n_targets, n_features), float64, C-contiguous
        q_k = X_c^T diag(w) y_c,k per target.
    gram_coef : ndarray of shape (n_targets, n_features), float64, C-contiguous, writable
        Must equal ``coef @ gram`` on entry; kept equal (updated in place).

    The other parameters are described in ``_SWEEP_PARAMETERS`` (module level).
    """
    cdef Py_ssize_t n_targets = coef.shape[0]
    cdef Py_ssize_t d = coef.shape[1]
    cdef Py_ssize_t k
    cdef int workers = _workers(n_threads, n_targets)
    if n_targets == 0 or d == 0:
        return
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            if sweep_budget[k] > 0:
                sweeps_out[k] = _gram_sweeps_target(
                    &gram[0, 0], d, &xty[k, 0], &coef[k, 0], &gram_coef[k, 0], l1[k], l2[k],
                    &active[k, 0], n_active[k], sweep_budget[k], dw_tol, positive, random,
                    &rng_state[k])
            else:
                sweeps_out[k] = 0


# ---------------------------------------------------------------------------------------------
# a whole solve: sweeps, duality gaps and screening without Python in between (Gram and dense)
# ---------------------------------------------------------------------------------------------
# Why: a path of penalties (ElasticNetCV: 100 alphas x 5 folds) is hundreds of solves of a few
# sweeps each; the Python driver's gap checks and screening (numpy on vectors of d values) cost
# ~0.25-0.3 ms a solve there, 90 % of an ElasticNetCV fit on 1 000 x 100 (Gram) and a third of a
# lasso path on 200 x 1 000 (dense columns). The formulas are those of the driver
# (fastml.solvers.coordinate_descent._gap and _screen), in the same order per target; sums run in
# index order, so results agree with the driver's up to rounding.

cdef void _finish_gap(const double* coef, Py_ssize_t d, double r_norm2, double r_y, double l1, double l2,
                      bint positive, double* xta, double* out) noexcept nogil:
    """From ``xta`` holding X_c^T W R on entry (overwritten with X_c^T W R - l2 coef), ||R||_W^2 and
    R^T W y_c: out = (gap, primal, dual norm) in the unnormalized scale (the driver's ``_gap``)."""
    cdef Py_ssize_t j
    cdef double c, xtr, value, l1_norm = 0.0, l2_norm2 = 0.0, dual_norm = 0.0, squares = 0.0
    cdef double primal, scale, gap
    if r_norm2 < 0.0:  # rounding below zero; a NaN stays NaN, as with np.maximum
        r_norm2 = 0.0
    for j in range(d):
        c = coef[j]
        l1_norm += fabs(c)
        l2_norm2 += c * c
        xtr = xta[j]
        xta[j] = xtr - l2 * c
        value = xta[j] if positive else fabs(xta[j])
        if j == 0 or value > dual_norm or value != value:
            dual_norm = value
        if l1 > 0.0:
            continue
        if l2 > 0.0:  # ridge: the excess of the gradient over the dual's feasible set
            value = (xtr if xtr > 0.0 else 0.0) if positive else xtr
        else:  # least squares: the (projected) gradient
            value = (xtr if (c > 0.0 or xtr > 0.0) else 0.0) if positive else xtr
        squares += value * value
    primal = 0.5 * (r_norm2 + l2 * l2_norm2) + l1 * l1_norm
    if l1 > 0.0:  # formulation A: the scaled residual is dual feasible
        scale = l1 / dual_norm if dual_norm > l1 else 1.0
        gap = primal - (-0.5 * scale * scale * (r_norm2 + l2 * l2_norm2) + scale * r_y)
    elif l2 > 0.0:  # formulation B (Duenner et al. 2016)
        gap = r_norm2 + 0.5 * l2 * l2_norm2 - r_y + squares / (2.0 * l2)
    else:
        gap = squares
    out[0] = gap if not gap < 0.0 else 0.0
    out[1] = primal
    out[2] = dual_norm


cdef void _gap_target(const floating* X, Py_ssize_t n, const double* sw, const double* x_mean,
                      const double* y_c, const double* resid, const double* gram, Py_ssize_t d,
                      const double* xty, const double* coef, const double* gram_coef, double y_norm2,
                      double l1, double l2, bint positive, double* xta, double* out) noexcept nogil:
    """Duality gap of one target: on the Gram matrix when ``gram`` is not NULL, else from the
    centered residual ``resid`` and the F-ordered columns of ``X``."""
    cdef Py_ssize_t i, j
    cdef double q_coef = 0.0, coef_gram_coef = 0.0, r_norm2 = 0.0, r_y = 0.0, weighted
    if gram != NULL:
        for j in range(d):
            q_coef += coef[j] * xty[j]
            coef_gram_coef += coef[j] * gram_coef[j]
            xta[j] = xty[j] - gram_coef[j]
        _finish_gap(coef, d, y_norm2 - 2.0 * q_coef + coef_gram_coef, y_norm2 - q_coef, l1, l2, positive, xta,
                    out)
        return
    for j in range(d):
        xta[j] = _dot_dense(X + j * n, x_mean[j], resid, sw, n)
    for i in range(n):
        weighted = resid[i] if sw == NULL else resid[i] * sw[i]
        r_norm2 += weighted * resid[i]
        r_y += weighted * y_c[i]
    _finish_gap(coef, d, r_norm2, r_y, l1, l2, positive, xta, out)


cdef void _screen_target(const floating* X, Py_ssize_t n, const double* x_mean, double* resid,
                         const double* gram, Py_ssize_t d, const double* norms, double* coef,
                         double* gram_coef, double l1, double l2, int32_t* active, int32_t* n_active,
                         const double* xta, double gap, double dual_norm) noexcept nogil:
    """Gap-safe rule (Fercoq et al. 2015, eq. 11), the driver's ``_screen``: features provably zero
    at the optimum leave the active set (their coefficients set to zero, ``gram_coef`` or the
    residual kept in step)."""
    cdef Py_ssize_t f, j, t
    cdef int32_t kept = 0
    cdef double denominator = l1 if l1 > dual_norm else dual_norm
    cdef double bound = sqrt(2.0 * gap) / l1
    cdef double theta, distance, value
    for f in range(n_active[0]):
        j = active[f]
        theta = xta[j] / denominator
        distance = (1.0 - fabs(theta)) / sqrt(norms[j] + l2)
        if distance <= bound:
            active[kept] = <int32_t> j
            kept += 1
        elif coef[j] != 0.0:
            value = coef[j]
            coef[j] = 0.0
            if gram != NULL:
                for t in range(d):
                    gram_coef[t] -= value * gram[j * d + t]
            else:
                _axpy_dense(value, X + j * n, x_mean[j], resid, n)
    n_active[0] = kept


cdef void _solve_target(const floating* X, Py_ssize_t n, const double* sw, const double* x_mean,
                        const double* y_c, double* resid, const double* gram, Py_ssize_t d,
                        const double* norms, const double* xty, double* coef, double* gram_coef,
                        double y_norm2, double l1, double l2, int32_t* active, double* xta, int max_iter,
                        int check_gap_every, double dw_tol, double tol_abs, bint positive, bint random,
                        bint screening, uint64_t* state, int64_t* n_iter, uint8_t* converged,
                        double* gap_out) noexcept nogil:
    """The driver's ``_solve`` for one target (see :func:`solve`)."""
    cdef Py_ssize_t i, j, t
    cdef int32_t n_active = 0
    cdef int budget, sweeps
    for j in range(d):
        if norms[j] == 0.0:  # constant or empty columns: zero is optimal
            coef[j] = 0.0
        else:
            active[n_active] = <int32_t> j
            n_active += 1
    if gram != NULL:  # gram_coef = coef @ gram
        for t in range(d):
            gram_coef[t] = 0.0
        for j in range(d):
            if coef[j] != 0.0:
                for t in range(d):
                    gram_coef[t] += coef[j] * gram[j * d + t]
    else:  # the centered residual y_c - X_c coef
        for i in range(n):
            resid[i] = y_c[i]
        for j in range(d):
            if coef[j] != 0.0:
                _axpy_dense(-coef[j], X + j * n, x_mean[j], resid, n)
    n_iter[0] = 0
    _gap_target(X, n, sw, x_mean, y_c, resid, gram, d, xty, coef, gram_coef, y_norm2, l1, l2, positive, xta, gap_out)
    converged[0] = gap_out[0] <= tol_abs
    while not converged[0] and n_iter[0] < max_iter:
        if screening and l1 > 0.0:
            _screen_target(X, n, x_mean, resid, gram, d, norms, coef, gram_coef, l1, l2, active, &n_active, xta,
                           gap_out[0], gap_out[2])
        budget = check_gap_every if check_gap_every < max_iter - n_iter[0] else <int> (max_iter - n_iter[0])
        if gram != NULL:
            sweeps = _gram_sweeps_target(gram, d, xty, coef, gram_coef, l1, l2, active, n_active, budget,
                                         dw_tol, positive, random, state)
        else:
            sweeps = _dense_sweeps_target(X, n, sw, norms, x_mean, coef, resid, l1, l2, active, n_active,
                                          budget, dw_tol, positive, random, state)
        n_iter[0] += sweeps
        _gap_target(X, n, sw, x_mean, y_c, resid, gram, d, xty, coef, gram_coef, y_norm2, l1, l2, positive, xta,
                    gap_out)
        converged[0] = gap_out[0] <= tol_abs


_SOLVE_PARAMETERS = """
    norms : ndarray of shape (n_features,), float64
        Centered column norms (a zero one keeps its coefficient at zero).
    y_norm2 : ndarray of shape (n_targets,), float64
        ``sum_i w_i y_c,i^2`` per target.
    active : ndarray of shape (n_targets, n_features), int32; xta : same shape, float64
        Workspace, overwritten.
    max_iter, check_gap_every : int
        At most ``max_iter`` sweeps, a duality gap after every ``check_gap_every`` (or fewer: the
        ``dw_tol`` early stop of the sweeps).
    tol_abs : ndarray of shape (n_targets,), float64
        Converged at ``gap <= tol_abs[k]``.
    screening : bool
        Gap-safe screening before each batch of sweeps (targets with ``l1[k] > 0``).
    n_iter_out : ndarray (n_targets,) int64; converged_out : (n_targets,) uint8; gap_out : (n_targets, 3)
        Sweeps run, convergence, and gap, primal objective and dual norm of the last check, in the
        unnormalized scale.
"""


def gram_solve(const double[:, ::1] gram not None, const double[::1] norms not None,
               const double[:, ::1] xty not None, double[:, ::1] coef not None,
               double[:, ::1] gram_coef not None, const double[::1] y_norm2 not None,
               const double[::1] l1 not None, const double[::1] l2 not None,
               int32_t[:, ::1] active not None, double[:, ::1] xta not None, int max_iter,
               int check_gap_every, double dw_tol, const double[::1] tol_abs not None, bint positive,
               bint random, bint screening, uint64_t[::1] rng_state not None,
               int64_t[::1] n_iter_out not None, uint8_t[::1] converged_out not None,
               double[:, ::1] gap_out not None, int n_threads):
    """A whole coordinate-descent solve per target on the Gram matrix, from ``coef`` (updated in
    place): the sweeps of :func:`gram_sweeps`, a duality gap after each batch of them, gap-safe
    screening before each batch. ``gram_coef``: workspace. Targets run one per thread (results do
    not depend on ``n_threads``). See ``_SOLVE_PARAMETERS`` and ``_SWEEP_PARAMETERS``.
    """
    cdef Py_ssize_t n_targets = coef.shape[0]
    cdef Py_ssize_t d = coef.shape[1]
    cdef Py_ssize_t k
    cdef int workers = _workers(n_threads, n_targets)
    if n_targets == 0 or d == 0:
        return
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            _solve_target[double](<const double*> NULL, 0, NULL, NULL, NULL, NULL, &gram[0, 0], d, &norms[0],
                                  &xty[k, 0], &coef[k, 0], &gram_coef[k, 0], y_norm2[k], l1[k], l2[k],
                                  &active[k, 0], &xta[k, 0], max_iter, check_gap_every, dw_tol, tol_abs[k],
                                  positive, random, screening, &rng_state[k], &n_iter_out[k],
                                  &converged_out[k], &gap_out[k, 0])


def dense_solve(const floating[::1, :] X not None, const double[::1] sample_weight,
                const double[::1] norms not None, const double[::1] x_mean not None,
                const double[:, ::1] y_c not None, double[:, ::1] coef not None,
                double[:, ::1] resid not None, const double[::1] y_norm2 not None,
                const double[::1] l1 not None, const double[::1] l2 not None,
                int32_t[:, ::1] active not None, double[:, ::1] xta not None, int max_iter,
                int check_gap_every, double dw_tol, const double[::1] tol_abs not None, bint positive,
                bint random, bint screening, uint64_t[::1] rng_state not None,
                int64_t[::1] n_iter_out not None, uint8_t[::1] converged_out not None,
                double[:, ::1] gap_out not None, int n_threads):
    """:func:`gram_solve` on the F-ordered columns of ``X`` (the sweeps of :func:`dense_sweeps`):
    ``y_c`` (n_targets, n_samples) the centered targets, ``resid`` (same shape) workspace holding
    the centered residual. See ``_SOLVE_PARAMETERS`` and ``_SWEEP_PARAMETERS``."""
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t n_targets = coef.shape[0]
    cdef Py_ssize_t d = coef.shape[1]
    cdef Py_ssize_t k
    cdef int workers = _workers(n_threads, n_targets)
    cdef const double* sw = NULL
    if n_targets == 0 or d == 0 or n == 0:
        return
    sw = _optional_pointer(sample_weight)
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            _solve_target(&X[0, 0], n, sw, &x_mean[0], &y_c[k, 0], &resid[k, 0], NULL, d, &norms[0], NULL,
                          &coef[k, 0], NULL, y_norm2[k], l1[k], l2[k], &active[k, 0], &xta[k, 0], max_iter,
                          check_gap_every, dw_tol, tol_abs[k], positive, random, screening, &rng_state[k],
                          &n_iter_out[k], &converged_out[k], &gap_out[k, 0])


def dense_sweeps(const floating[::1, :] X not None, const double[::1] sample_weight,
                 const double[::1] norms not None, const double[::1] x_mean not None,
                 double[:, ::1] coef not None, double[:, ::1] resid not None,
                 const double[::1] l1 not None, const double[::1] l2 not None,
                 const int32_t[:, ::1] active not None, const int32_t[::1] n_active not None,
                 const int32_t[::1] sweep_budget not None, double dw_tol, bint positive,
                 bint random, uint64_t[::1] rng_state not None, int32_t[::1] sweeps_out not None,
                 int n_threads):
    """Coordinate descent sweeps over the columns of a dense F-ordered ``X``, K targets.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, F-contiguous, may be read-only
    sample_weight : ndarray of shape (n_samples,), float64, or None for unit weights
    norms : ndarray of shape (n_features,), float64
        Centered weighted squared column norms sum_i w_i (x_ij - m_j)^2; 0 freezes a coefficient.
    x_mean : ndarray of shape (n_features,), float64
        Weighted column means m_j (zero without an intercept), subtracted on the fly: the
        columns are centered as they are read, never copied.
    resid : ndarray of shape (n_targets, n_samples), float64, C-contiguous, writable
        Centered residuals y_c - X_c coef (updated in place).

    The other parameters are described in ``_SWEEP_PARAMETERS`` (module level).
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t n_targets = coef.shape[0]
    cdef Py_ssize_t d = coef.shape[1]
    cdef Py_ssize_t k
    cdef int workers = _workers(n_threads, n_targets)
    cdef const double* sw = NULL
    if n_targets == 0 or d == 0 or n == 0:
        return
    sw = _optional_pointer(sample_weight)
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            if sweep_budget[k] > 0:
                sweeps_out[k] = _dense_sweeps_target(
                    &X[0, 0], n, sw, &norms[0], &x_mean[0], &coef[k, 0], &resid[k, 0],
                    l1[k], l2[k], &active[k, 0], n_active[k],
                    sweep_budget[k], dw_tol, positive, random, &rng_state[k])
            else:
                sweeps_out[k] = 0


def csc_sweeps(const floating[::1] data not None, const index_t[::1] indices not None,
               const index_t[::1] indptr not None, const double[::1] sample_weight,
               const double[::1] norms not None, const double[::1] x_mean not None,
               const double[::1] wx_sum not None, double[:, ::1] coef not None,
               double[:, ::1] resid not None, double[::1] shift not None,
               const double[::1] l1 not None, const double[::1] l2 not None,
               const int32_t[:, ::1] active not None, const int32_t[::1] n_active not None,
               const int32_t[::1] sweep_budget not None, double dw_tol, bint positive,
               bint random, uint64_t[::1] rng_state not None, int32_t[::1] sweeps_out not None,
               int n_threads):
    """Coordinate descent sweeps over the columns of a CSC ``X``, K targets.

    Parameters as :func:`dense_sweeps`, with ``X`` given as CSC arrays: ``data`` (nnz,) float32 or
    float64, ``indices`` (nnz,) row indices int32/int64, ``indptr`` (n_features + 1,) same dtype.
    Row indices may be unsorted or repeated within a column (duplicates add up). Centering on the
    fly would touch every row, so the running mean is kept apart instead:

    wx_sum : ndarray of shape (n_features,), float64
        W * m_j (zero without an intercept).
    resid : ndarray of shape (n_targets, n_samples), float64, C-contiguous, writable
        Residual part; the centered residual is ``resid + shift`` (updated in place).
    shift : ndarray of shape (n_targets,), float64, writable
        Running-mean part of the centered residual (updated in place).
    """
    cdef Py_ssize_t n_targets = coef.shape[0]
    cdef Py_ssize_t d = coef.shape[1]
    cdef Py_ssize_t k
    cdef int workers = _workers(n_threads, n_targets)
    cdef const double* sw = NULL
    cdef const floating* data_p
    cdef const index_t* indices_p
    if n_targets == 0 or d == 0:
        return
    sw = _optional_pointer(sample_weight)
    data_p = &data[0]
    indices_p = &indices[0]
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            if sweep_budget[k] > 0:
                sweeps_out[k] = _csc_sweeps_target(
                    data_p, indices_p, &indptr[0], sw, &norms[0], &x_mean[0], &wx_sum[0],
                    &coef[k, 0], &resid[k, 0], &shift[k], l1[k], l2[k], &active[k, 0],
                    n_active[k], sweep_budget[k], dw_tol, positive, random, &rng_state[k])
            else:
                sweeps_out[k] = 0


# ---------------------------------------------------------------------------------------------
# public kernels: X^T W R for the duality gap, and residual updates for a coefficient change
# ---------------------------------------------------------------------------------------------

def dense_xtr(const floating[::1, :] X not None, const double[::1] x_mean not None,
              const double[::1] sample_weight, const double[:, ::1] resid not None,
              double[:, ::1] out not None, int n_threads):
    """``out[k, j] = sum_i w_i (X[i, j] - x_mean[j]) resid[k, i]``: X_c^T W R for every target.

    ``X`` (n_samples, n_features) F-contiguous float32/float64; ``x_mean`` (n_features,) float64;
    ``sample_weight`` (n_samples,) float64 or None; ``resid`` (n_targets, n_samples) float64;
    ``out`` (n_targets, n_features)
    float64, overwritten. Columns are split over threads; each entry is one thread's dot product,
    so the result does not depend on ``n_threads``.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef Py_ssize_t n_targets = resid.shape[0]
    cdef Py_ssize_t j, k
    cdef int workers = n_threads if n_threads > 1 else 1
    cdef const double* sw = NULL
    if n_targets == 0 or d == 0:
        return
    if n == 0:
        out[:, :] = 0.0
        return
    sw = _optional_pointer(sample_weight)
    with nogil:
        for j in prange(d, schedule="static", num_threads=workers):
            for k in range(n_targets):
                out[k, j] = _dot_dense(&X[0, j], x_mean[j], &resid[k, 0], sw, n)


def csc_xtr(const floating[::1] data not None, const index_t[::1] indices not None,
            const index_t[::1] indptr not None, const double[::1] sample_weight,
            const double[:, ::1] resid not None, double[:, ::1] out not None, int n_threads):
    """CSC counterpart of :func:`dense_xtr` (``indptr`` has n_features + 1 entries)."""
    cdef Py_ssize_t d = indptr.shape[0] - 1
    cdef Py_ssize_t n_targets = resid.shape[0]
    cdef Py_ssize_t j, k
    cdef int workers = n_threads if n_threads > 1 else 1
    cdef const double* sw = NULL
    if n_targets == 0 or d <= 0:
        return
    if indptr[d] == indptr[0] or resid.shape[1] == 0:
        out[:, :] = 0.0
        return
    sw = _optional_pointer(sample_weight)
    with nogil:
        for j in prange(d, schedule="static", num_threads=workers):
            for k in range(n_targets):
                out[k, j] = _dot_csc(&data[0], &indices[0], indptr[j], indptr[j + 1],
                                     &resid[k, 0], sw)


def dense_subtract_columns(const floating[::1, :] X not None, const double[::1] x_mean not None,
                           const double[:, ::1] delta not None, double[:, ::1] resid not None,
                           int n_threads):
    """``resid[k] -= (X - x_mean) @ delta[k]`` for every target, column by column (no copy of ``X``).

    ``delta`` (n_targets, n_features) float64; zero entries cost nothing. Targets are split over
    threads, each target's columns are added in order: independent of ``n_threads``.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef Py_ssize_t n_targets = resid.shape[0]
    cdef Py_ssize_t j, k
    cdef int workers = _workers(n_threads, n_targets)
    if n_targets == 0 or d == 0 or n == 0:
        return
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            for j in range(d):
                if delta[k, j] != 0.0:
                    _axpy_dense(-delta[k, j], &X[0, j], x_mean[j], &resid[k, 0], n)


def csc_subtract_columns(const floating[::1] data not None, const index_t[::1] indices not None,
                         const index_t[::1] indptr not None, const double[:, ::1] delta not None,
                         double[:, ::1] resid not None, int n_threads):
    """``resid[k] -= X @ delta[k]`` on CSC ``X`` (uncentered: the caller moves ``shift``)."""
    cdef Py_ssize_t d = indptr.shape[0] - 1
    cdef Py_ssize_t n_targets = resid.shape[0]
    cdef Py_ssize_t j, k
    cdef int workers = _workers(n_threads, n_targets)
    if n_targets == 0 or d <= 0 or indptr[d] == indptr[0] or resid.shape[1] == 0:
        return
    with nogil:
        for k in prange(n_targets, schedule="static", chunksize=1, num_threads=workers):
            for j in range(d):
                if delta[k, j] != 0.0:
                    _axpy_csc(-delta[k, j], &data[0], &indices[0], indptr[j], indptr[j + 1],
                              &resid[k, 0])
