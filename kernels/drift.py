"""Compiled loops of the drift checks: binned counts of a batch and the streaming detectors.

Design: a batch check needs, per feature, only the counts of the new rows in the reference's cells
(quantile bins or categories, plus an "unseen/top" cell and a "missing" cell) and four moments, so one
pass over ``X`` (parallel over row chunks, each chunk with its own buffers, summed in chunk order:
deterministic for a fixed thread count) is all the work. Cell of a value: for a continuous feature the
number of interior edges strictly below it (counted without branches), for a discrete one the index of
the equal category or ``n_values`` when unseen; NaN goes to the last cell.

The streaming detectors keep all their state in one float64 array (and ADWIN its bucket histogram in
two more), so that ``update(x)`` (this kernel on one value) and ``update_many(values)`` continue each
other exactly. Each kernel returns the number of detections written into ``detections``.
"""
import math

import numpy as np
from numba import prange

from ._jit import is_finite, jit_inline, jit_kernel
from ._parallel import chunk_count, row_chunk_bounds


@jit_inline
def _cell_of(value, values, n_values, discrete):
    if value != value:  # NaN
        return -1
    # the number of edges/categories below the value, counted without branches: there are at most
    # max(n_bins - 1, max_categories) of them, and a binary search's data-dependent branches
    # mispredict about every other step (10 000 x 100 batch: 21-25 ms with it)
    below = 0
    for k in range(n_values):
        below += values[k] < value
    if discrete and (below == n_values or values[below] != value):
        return n_values  # the unseen-category cell
    return below


# Moments of a column as separate loops of one reduction each: LLVM (numba 0.68) vectorizes a loop
# with one select-guarded sum, but not one that carries several, nor a float min / max (the NaN
# semantics of the compare-and-select keep it scalar): the combined loop took 1.3 ns a value, these
# together ~0.4. The range is reduced on integer keys of the values' bits, which order like the
# floats (NaN excluded), and integer min / max do vectorize.
_KEY_BITS = np.int64(0x7FFFFFFFFFFFFFFF)
_NO_KEY_LOW = np.int64(0x7FFFFFFFFFFFFFFF)
_NO_KEY_HIGH = np.int64(-0x7FFFFFFFFFFFFFFF - 1)


@jit_inline
def _present_count(column, n_rows):
    count = 0
    for i in range(n_rows):
        count += column[i] == column[i]
    return count


@jit_inline
def _present_sum(column, n_rows):
    total = 0.0
    for i in range(n_rows):
        v = np.float64(column[i])
        total += v if v == v else 0.0
    return total


@jit_inline
def _present_square_sum(column, n_rows, center):
    total = 0.0
    for i in range(n_rows):
        d = np.float64(column[i]) - center
        total += d * d if d == d else 0.0
    return total


@jit_inline
def _present_range(column, n_rows, scratch):
    """``(min, max)`` of the non-NaN values among ``column[:n_rows]`` (float64, contiguous, at least
    one present value). A float's bits with the 63 low bits flipped when negative are an int64 key in
    the floats' order (-0.0 just below 0.0); NaN is left out by a select. ``scratch``: 2 float64, to
    read the keys back as floats."""
    bits = column.view(np.int64)
    low = _NO_KEY_LOW
    high = _NO_KEY_HIGH
    for i in range(n_rows):
        b = bits[i]
        key = b ^ ((b >> 63) & _KEY_BITS)
        present = column[i] == column[i]
        low = min(low, key if present else _NO_KEY_LOW)
        high = max(high, key if present else _NO_KEY_HIGH)
    keys = scratch.view(np.int64)
    keys[0] = low ^ ((low >> 63) & _KEY_BITS)  # the map is its own inverse
    keys[1] = high ^ ((high >> 63) & _KEY_BITS)
    return scratch[0], scratch[1]


@jit_inline
def _count_value(value, j, values, n_values, discrete, counts, moments):
    """Add one value of feature ``j`` to its cell (NaN: the missing cell, last) and to the moments of
    the non-missing values (sum, sum of squares, min, max)."""
    cell = _cell_of(value, values[j], n_values[j], discrete[j])
    if cell < 0:
        counts[j, counts.shape[1] - 1] += 1.0
        return
    counts[j, cell] += 1.0
    v = np.float64(value)  # float() of a float32 stays float32 in Numba
    moments[j, 0] += v
    moments[j, 1] += v * v
    moments[j, 2] = min(moments[j, 2], v)
    moments[j, 3] = max(moments[j, 3], v)


# rows of a dense batch copied (transposed) into a per-thread buffer, so that each feature's values
# lie contiguous for the vectorized counting of _count_column. The buffer's rows are padded: with a
# power-of-two length every column of a copied row maps to the same few L1 cache sets (1e6 x 100: the
# copy took 98-130 ms with 256-value rows, 50-56 ms with 264)
COUNT_BLOCK_ROWS = 256
COUNT_BLOCK_STRIDE = COUNT_BLOCK_ROWS + 8


@jit_inline
def _add_interval_counts(column, n_rows, edges, n_edges, n_present, counts_row):
    """Add to ``counts_row[k]`` the values of ``column[:n_rows]`` above ``edges[k - 1]`` and not above
    ``edges[k]`` (sorted edges; cell 0 from below, cell ``n_edges`` above the last edge), i.e. the
    number of edges strictly below a value is its cell. ``n_present`` is the number of values that
    are not NaN. One vectorized count of the values above each edge, instead of a cell index per
    value and a scattered increment (store-forwarding bound: 5.0 -> 1.7 ms for 10 000 x 100 values)."""
    above_previous = n_present
    for k in range(n_edges):
        edge = edges[k]
        above = 0
        for i in range(n_rows):
            above += np.float64(column[i]) > edge  # NaN compares False
        counts_row[k] += above_previous - above
        above_previous = above
    counts_row[n_edges] += above_previous


@jit_inline
def _count_column(column, n_rows, j, values, n_values, discrete, counts, moments):
    """Add the first ``n_rows`` values of feature ``j`` (contiguous in ``column``) to its cells and to
    the moments of its non-missing values, as :func:`_count_value` does one value at a time.

    Every loop is branch-free and vectorizes: a continuous feature's cell k holds the values above
    edge k - 1 but not above edge k (one count of the values above each edge), a discrete one's the
    values equal to category k (one count per category; the present values matching none are the
    unseen ones), without a cell index per value and its scattered increment.
    """
    n = n_values[j]
    edges = values[j]
    n_present = _present_count(column, n_rows)
    total = _present_sum(column, n_rows)
    squares = _present_square_sum(column, n_rows, 0.0)
    # the range stays a compare-and-select loop: the column may be float32 or a strided view,
    # where the integer keys of _present_range do not apply
    lowest = moments[j, 2]
    highest = moments[j, 3]
    for i in range(n_rows):
        v = np.float64(column[i])  # float() of a float32 stays float32 in Numba
        lowest = v if v < lowest else lowest  # NaN compares False
        highest = v if v > highest else highest
    counts[j, counts.shape[1] - 1] += n_rows - n_present
    if discrete[j]:
        matched = 0
        for k in range(n):
            category = edges[k]
            equal = 0
            for i in range(n_rows):
                equal += np.float64(column[i]) == category
            counts[j, k] += equal
            matched += equal
        counts[j, n] += n_present - matched
    else:
        _add_interval_counts(column, n_rows, edges, n, n_present, counts[j])
    moments[j, 0] += total
    moments[j, 1] += squares
    moments[j, 2] = lowest
    moments[j, 3] = highest


@jit_kernel(parallel=True)
def bin_counts_dense(X, values, n_values, discrete, n_threads):
    """Per-feature cell counts (n_features, n_cells) and moments (n_features, 4: sum, sum of squares,
    min, max over non-missing values) of dense ``X``."""
    n_rows, n_features = X.shape
    n_cells = values.shape[1] + 2
    n_chunks = chunk_count(n_rows, n_threads)
    bounds = row_chunk_bounds(n_rows, n_chunks)
    part_counts = np.zeros((n_chunks, n_features, n_cells))
    part_moments = np.zeros((n_chunks, n_features, 4))
    columns_contiguous = X.strides[1] != X.itemsize
    for chunk in prange(n_chunks):
        counts = part_counts[chunk]
        moments = part_moments[chunk]
        block = np.empty((n_features, COUNT_BLOCK_STRIDE))
        for j in range(n_features):
            moments[j, 2] = np.inf
            moments[j, 3] = -np.inf
        for start in range(bounds[chunk], bounds[chunk + 1], COUNT_BLOCK_ROWS):
            stop = min(start + COUNT_BLOCK_ROWS, bounds[chunk + 1])
            if columns_contiguous:  # F order: a column's block is contiguous already
                for j in range(n_features):
                    _count_column(X[start:stop, j], stop - start, j, values, n_values, discrete, counts,
                                  moments)
                continue
            for i in range(stop - start):
                for j in range(n_features):
                    block[j, i] = X[start + i, j]
            for j in range(n_features):
                _count_column(block[j], stop - start, j, values, n_values, discrete, counts, moments)
    counts_out = np.zeros((n_features, n_cells))
    moments_out = np.zeros((n_features, 4))
    for j in range(n_features):
        moments_out[j, 2] = np.inf
        moments_out[j, 3] = -np.inf
    for chunk in range(n_chunks):  # chunk order: deterministic
        for j in range(n_features):
            for c in range(n_cells):
                counts_out[j, c] += part_counts[chunk, j, c]
            moments_out[j, 0] += part_moments[chunk, j, 0]
            moments_out[j, 1] += part_moments[chunk, j, 1]
            moments_out[j, 2] = min(moments_out[j, 2], part_moments[chunk, j, 2])
            moments_out[j, 3] = max(moments_out[j, 3], part_moments[chunk, j, 3])
    return counts_out, moments_out


@jit_kernel
def bin_counts_csr(data, indices, indptr, n_features, values, n_values, discrete):
    """As :func:`bin_counts_dense` for a CSR matrix; implicit zeros are counted in the cell of 0."""
    n_rows = indptr.shape[0] - 1
    n_cells = values.shape[1] + 2
    counts = np.zeros((n_features, n_cells))
    moments = np.zeros((n_features, 4))
    explicit = np.zeros(n_features)
    for j in range(n_features):
        moments[j, 2] = np.inf
        moments[j, 3] = -np.inf
    for i in range(n_rows):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            value = data[p]
            explicit[j] += 1.0
            _count_value(value, j, values, n_values, discrete, counts, moments)
    for j in range(n_features):
        zeros = n_rows - explicit[j]
        if zeros > 0:
            counts[j, _cell_of(0.0, values[j], n_values[j], discrete[j])] += zeros
            moments[j, 2] = min(moments[j, 2], 0.0)
            moments[j, 3] = max(moments[j, 3], 0.0)
    return counts, moments


@jit_kernel
def gather_columns(X, rows, out, first, stop):
    """``out[j, r] = X[rows[r], j]`` as float64 for ``first <= r < stop``: the subsample of a
    fingerprint, a column per row of ``out``, in one pass (a row gather, then a transposing copy,
    read and wrote it twice). The loop order follows ``X``'s layout (rows contiguous or columns
    contiguous); C-ordered rows are copied 8 at a time. Threads take disjoint row ranges."""
    n_features = X.shape[1]
    if X.strides[1] == X.itemsize:
        # 8 rows at a time: each column then gets a whole cache line of `out` at once (a row at a
        # time wrote 8 bytes into every column's line; 20-30 % slower, 1e3 x 3 000: 7.8 -> 5.9 ms)
        r = first
        while r + 8 <= stop:
            a0, a1, a2, a3 = rows[r], rows[r + 1], rows[r + 2], rows[r + 3]
            a4, a5, a6, a7 = rows[r + 4], rows[r + 5], rows[r + 6], rows[r + 7]
            for j in range(n_features):
                out[j, r] = X[a0, j]
                out[j, r + 1] = X[a1, j]
                out[j, r + 2] = X[a2, j]
                out[j, r + 3] = X[a3, j]
                out[j, r + 4] = X[a4, j]
                out[j, r + 5] = X[a5, j]
                out[j, r + 6] = X[a6, j]
                out[j, r + 7] = X[a7, j]
            r += 8
        for tail in range(r, stop):
            row = rows[tail]
            for j in range(n_features):
                out[j, tail] = X[row, j]
    else:
        for j in range(n_features):
            for r in range(first, stop):
                out[j, r] = X[rows[r], j]


# Quantile edges without a sort. The order statistics at the decile ranks of a column's edge sample
# are found by bucketing it: a linear map of [min, max] onto SELECT_BUCKETS buckets is monotone (a
# larger value never gets a smaller bucket, whatever the rounding), so the bucket holding a rank follows
# from the bucket counts, and only the few values of those buckets are gathered and sorted. A bucket
# still holding many values (heavy tails, outliers stretching the range) is bucketed once more over its
# own range; one still larger after that (or with infinite values) is sorted. numpy's sort of the
# 2 048-value edge samples, scalar for float64 here, cost 16-20 ns a value; this 4-6 ns (3.8-4 on the
# Intel VM of the 2026-11-27 notes, where AVX-512 numpy sorts in 4.5). The range mapped is the whole
# column's, known from its moments (a scalar min / max pass cost 1.3 ns a value). 512 buckets, not
# 256: slots of ~5 values instead of ~10 to insertion-sort, 10 % faster at 1 000 and 2 048 values.
SELECT_BUCKETS = 512
SELECT_SORT_AT_MOST = 64  # a bucket this small is insertion-sorted; a larger one bucketed again (once)


@jit_inline
def _insertion_sort(values):
    """Sort a few values in place (a bucket's dozen: numba's quicksort costs more there)."""
    for i in range(1, values.shape[0]):
        v = values[i]
        k = i
        while k > 0 and values[k - 1] > v:
            values[k] = values[k - 1]
            k -= 1
        values[k] = v


@jit_inline
def _sort_small_or_large(values):
    if values.shape[0] <= SELECT_SORT_AT_MOST:
        _insertion_sort(values)
    else:
        values.sort()


@jit_inline
def _bucketable(lowest, highest):
    """Whether values in [lowest, highest] can be bucketed: a positive, finite range whose bucket
    scale is finite too (an infinite value makes every bucket index NaN, a subnormal range the
    scale infinite)."""
    span = highest - lowest
    return span > 0.0 and is_finite(span) and is_finite(SELECT_BUCKETS / span)  # not math.isfinite: see is_finite


@jit_inline
def _range_of(values):
    lowest = values[0]
    highest = values[0]
    for i in range(values.shape[0]):
        lowest = min(lowest, values[i])
        highest = max(highest, values[i])
    return lowest, highest


@jit_inline
def _bucket_ranks(values, lowest, highest, ranks, first_rank, n_ranks, indices, gathered, slot_bounds, rank_slot):
    """Bucket ``values`` (no NaN, ``_bucketable`` range [lowest, highest]) and gather the values of
    each bucket holding one of the (ascending) ``ranks[first_rank:first_rank + n_ranks]`` into
    ``gathered``: slot ``s``'s values are ``gathered[slot_bounds[s]:slot_bounds[s + 1]]`` (slots in
    bucket order), rank ``k``'s slot is ``rank_slot[k]``, and ``ranks[k]`` becomes its rank within
    the slot. ``indices``: int64 scratch, ``len(values) + 2 * SELECT_BUCKETS`` long. Returns the number
    of slots."""
    n = values.shape[0]
    bucket_of = indices[:n]
    histogram = indices[n:n + SELECT_BUCKETS]
    slot_of_bucket = indices[n + SELECT_BUCKETS:n + 2 * SELECT_BUCKETS]
    scale = SELECT_BUCKETS / (highest - lowest)
    for i in range(n):  # computed once and kept: the gathering pass must see exactly these buckets
        bucket_of[i] = min(np.int64((values[i] - lowest) * scale), SELECT_BUCKETS - 1)
    histogram[:] = 0
    for i in range(n):
        histogram[bucket_of[i]] += 1
    slot_of_bucket[:] = -1
    n_slots = 0
    below = 0  # values in the buckets before `bucket`
    bucket = 0
    for k in range(first_rank, first_rank + n_ranks):
        while below + histogram[bucket] <= ranks[k]:
            below += histogram[bucket]
            bucket += 1
        if slot_of_bucket[bucket] < 0:
            slot_of_bucket[bucket] = n_slots
            slot_bounds[n_slots + 1] = slot_bounds[n_slots] + histogram[bucket]
            n_slots += 1
        rank_slot[k] = slot_of_bucket[bucket]
        ranks[k] -= below
    # fill each slot from its start; histogram[b] is reused as the fill position of b's slot
    for b in range(SELECT_BUCKETS):
        if slot_of_bucket[b] >= 0:
            histogram[b] = slot_bounds[slot_of_bucket[b]]
    for i in range(n):
        bucket = bucket_of[i]
        if slot_of_bucket[bucket] >= 0:
            gathered[histogram[bucket]] = values[i]
            histogram[bucket] += 1
    return n_slots


@jit_inline
def _order_statistics(values, ranks, out, workspace, indices, lowest, highest):
    """``out[k]`` = the ``ranks[k]``-th smallest of ``values`` (0-based, ascending ranks; no NaN) as a
    sort would give it; ``values`` and ``ranks`` are overwritten. ``[lowest, highest]``: a range
    holding every value (the whole column's, when ``values`` are a subset of it: any such range keeps
    the bucketing monotone). ``workspace``: float64 (2, at least len(values)); ``indices``: int64
    scratch, ``len(values) + 2 * SELECT_BUCKETS + 4 * (len(ranks) + 1)``."""
    n = values.shape[0]
    n_ranks = ranks.shape[0]
    if not _bucketable(lowest, highest):  # all equal, infinite values or a subnormal range: sort
        values.sort()
        for k in range(n_ranks):
            out[k] = values[ranks[k]]
        return
    bookkeeping = indices[n + 2 * SELECT_BUCKETS:]
    slot_bounds = bookkeeping[:n_ranks + 1]
    rank_slot = bookkeeping[n_ranks + 1:2 * n_ranks + 1]
    sub_bounds = bookkeeping[2 * n_ranks + 2:3 * n_ranks + 3]
    sub_slot = bookkeeping[3 * n_ranks + 3:4 * n_ranks + 3]
    slot_bounds[0] = 0
    sub_bounds[0] = 0
    gathered = workspace[0]
    n_slots = _bucket_ranks(values, lowest, highest, ranks, 0, n_ranks, indices, gathered, slot_bounds, rank_slot)
    k = 0
    for s in range(n_slots):
        slot = gathered[slot_bounds[s]:slot_bounds[s + 1]]
        first = k
        while k < n_ranks and rank_slot[k] == s:
            k += 1
        low, high = _range_of(slot)
        if slot.shape[0] <= SELECT_SORT_AT_MOST or not _bucketable(low, high):
            _sort_small_or_large(slot)
            for r in range(first, k):
                out[r] = slot[ranks[r]]
            continue
        # many values in one bucket: bucket them once more, over their own range
        regathered = workspace[1]
        n_sub = _bucket_ranks(slot, low, high, ranks, first, k - first, indices, regathered, sub_bounds, sub_slot)
        for u in range(n_sub):
            part = regathered[sub_bounds[u]:sub_bounds[u + 1]]
            _sort_small_or_large(part)
            for r in range(first, k):
                if sub_slot[r] == u:
                    out[r] = part[ranks[r]]


@jit_inline
def _quantile_edges(column, n_rows, step, edges, workspace, indices, lowest, highest):
    """The inverted-CDF quantiles at b / n_bins (b = 1 .. n_bins - 1, ``n_bins = len(edges) + 1``) of
    the present values among ``column[:n_rows:step]``: ``edges[b - 1]`` = their value of rank
    ceil(b m / n_bins) - 1 of the m present ones, as a sort of them would give. Returns m (no edges
    when 0). ``[lowest, highest]``: the range of the column's present values. ``workspace``: float64
    (3, at least m); ``indices``: int64 (see :func:`_order_statistics`)."""
    values = workspace[2]
    m = 0
    for i in range(0, n_rows, step):
        v = column[i]
        values[m] = v
        m += v == v  # NaN is overwritten by the next value
    if m == 0:
        return 0
    n_bins = edges.shape[0] + 1
    ranks = indices[indices.shape[0] - edges.shape[0]:]  # the end of indices: _order_statistics leaves it
    for b in range(1, n_bins):
        ranks[b - 1] = (b * m + n_bins - 1) // n_bins - 1  # ceil(b m / n_bins) - 1
    _order_statistics(values[:m], ranks, edges, workspace, indices[:indices.shape[0] - edges.shape[0]], lowest,
                      highest)
    return m


@jit_kernel
def reference_cells(columns, n_rows, edge_step, n_bins, max_categories):
    """The reference fingerprint of the first ``n_rows`` values of each row of ``columns`` (n_columns,
    at least n_rows; float64; a padded buffer, see ``Fingerprint.from_data``): a column with
    at most ``max_categories`` distinct present values is discrete (its cells: the sorted categories),
    any other gets the ``n_bins`` quantile bins of its edge sample (every ``edge_step``-th row, NaN
    left out; :func:`_quantile_edges`): the inverted-CDF quantiles, deduplicated, those at or above
    the column's maximum dropped. Returns ``values`` (n_columns, W) NaN padded, ``n_values``,
    ``discrete``, ``counts`` (n_columns, W + 2: cells, unseen/top cell, missing cell, laid out as
    :func:`bin_counts_dense` counts new rows) and ``stats`` (n_columns, 5: mean, std, min, max of the
    present values, missing share), with W = max(n_bins - 1, max_categories).

    No full sort: distinct values are tracked only until there are too many (a few dozen rows for a
    continuous column). A value's cell is the number of edges or categories strictly below it (as
    :func:`bin_counts_dense` counts new rows): :func:`_add_interval_counts` gives every cell of both
    kinds. Every other loop is branch-free and vectorizes. Columns are independent: threads take
    disjoint ranges of them (``Fingerprint``), with the same results.
    """
    n_columns = columns.shape[0]
    width = max(n_bins - 1, max_categories)
    values = np.full((n_columns, width), np.nan)
    n_values = np.zeros(n_columns, dtype=np.int64)
    discrete = np.zeros(n_columns, dtype=np.bool_)
    counts = np.zeros((n_columns, width + 2))
    stats = np.full((n_columns, 5), np.nan)
    edge_rows = (n_rows + edge_step - 1) // edge_step
    distinct = np.empty(max_categories + 1)
    quantiles = np.empty(max(n_bins - 1, 0))
    workspace = np.empty((3, edge_rows))
    indices = np.empty(edge_rows + 2 * SELECT_BUCKETS + 5 * n_bins, dtype=np.int64)
    scratch = np.empty(2)
    for j in range(n_columns):
        column = columns[j]
        # distinct present values, until there are too many: a continuous column stops within a few rows
        n_distinct = 0
        for i in range(n_rows):
            v = column[i]
            if v != v:
                continue
            seen = False
            for k in range(n_distinct):
                if distinct[k] == v:
                    seen = True
                    break
            if not seen:
                distinct[n_distinct] = v
                n_distinct += 1
                if n_distinct > max_categories:
                    break
        n_present = _present_count(column, n_rows)
        n_missing = n_rows - n_present
        counts[j, width + 1] = n_missing
        stats[j, 4] = n_missing / max(n_rows, 1)
        if n_present == 0:
            continue
        mean = _present_sum(column, n_rows) / n_present
        squares = _present_square_sum(column, n_rows, mean)
        lowest, highest = _present_range(column, n_rows, scratch)
        stats[j, 0] = mean
        stats[j, 1] = math.sqrt(squares / n_present)
        stats[j, 2] = lowest
        stats[j, 3] = highest
        n_cells = 0
        if n_distinct <= max_categories:
            discrete[j] = True
            categories = np.sort(distinct[:n_distinct])
            for k in range(n_distinct):
                values[j, k] = categories[k]
            n_cells = n_distinct
        else:
            n_sample = _quantile_edges(column, n_rows, edge_step, quantiles, workspace, indices, lowest, highest)
            for b in range(1, n_bins if n_sample > 0 else 1):
                edge = quantiles[b - 1]
                if edge >= highest:  # an edge at the maximum: an empty top bin
                    break
                if n_cells == 0 or edge != values[j, n_cells - 1]:
                    values[j, n_cells] = edge
                    n_cells += 1
        n_values[j] = n_cells
        # every present value is one of the categories of a discrete column: counting by intervals
        # between sorted values serves both kinds
        _add_interval_counts(column, n_rows, values[j], n_cells, n_present, counts[j])
    return values, n_values, discrete, counts, stats


# -- Page-Hinkley on standardized values ------------------------------------------------------------
# state: 0 n, 1 running mean, 2 running sum of squared deviations (Welford), 3 cumulative sum up,
# 4 its minimum, 5 cumulative sum down, 6 its maximum, 7 samples seen in total
@jit_kernel
def page_hinkley_update_many(state, values, min_instances, delta, threshold, mode, detections):
    """Two-sided Page-Hinkley test on ``z = (x - mean) / std`` of the running estimates, so that
    ``delta`` and ``threshold`` are in units of the stream's own standard deviation (scale-free).
    ``mode``: 0 both, 1 up, 2 down. The statistics restart after each detection."""
    n_detections = 0
    for t in range(values.shape[0]):
        x = np.float64(values[t])
        state[7] += 1.0
        n = state[0]
        mean = state[1]
        if n >= min_instances:
            std = math.sqrt(state[2] / (n - 1.0))
            floor = 1e-12 * max(abs(mean), 1e-300)
            z = (x - mean) / max(std, floor)
            state[3] += z - delta
            state[4] = min(state[4], state[3])
            state[5] += z + delta
            state[6] = max(state[6], state[5])
            up = state[3] - state[4] > threshold
            down = state[6] - state[5] > threshold
            if (mode != 2 and up) or (mode != 1 and down):
                detections[n_detections] = t
                n_detections += 1
                for k in range(7):
                    state[k] = 0.0
                continue
        # Welford update after the test: x is judged against the past only
        n += 1.0
        d = x - mean
        mean += d / n
        state[0] = n
        state[1] = mean
        state[2] += d * (x - mean)
    return n_detections


# -- DDM --------------------------------------------------------------------------------------------
# state: 0 n, 1 errors, 2 p_min, 3 s_min, 4 (p + s)_min, 5 warning flag
@jit_kernel
def ddm_update_many(state, values, warm_start, warning_threshold, drift_threshold, detections):
    """Drift Detection Method (Gama et al. 2004) on 0/1 error indicators. ``s`` uses the error count
    plus two in four (Agresti-Coull) so that a nearly error-free start does not make ``s_min`` vanish."""
    n_detections = 0
    for t in range(values.shape[0]):
        state[0] += 1.0
        state[1] += np.float64(values[t])
        n = state[0]
        p = state[1] / n
        p_smooth = (state[1] + 2.0) / (n + 4.0)
        s = math.sqrt(p_smooth * (1.0 - p_smooth) / n)
        state[5] = 0.0
        if n < warm_start:
            continue
        if p + s <= state[4]:
            state[2] = p
            state[3] = s
            state[4] = p + s
        if p + s > state[2] + drift_threshold * state[3]:
            detections[n_detections] = t
            n_detections += 1
            state[0] = 0.0
            state[1] = 0.0
            state[2] = np.inf
            state[3] = np.inf
            state[4] = np.inf
        elif p + s > state[2] + warning_threshold * state[3]:
            state[5] = 1.0
    return n_detections


# -- ADWIN ------------------------------------------------------------------------------------------
# state: 0 width, 1 total, 2 variance (sum of squared deviations), 3 number of levels, 4 tick
# bucket_total / bucket_variance: (max_levels, max_buckets + 1), level k buckets hold 2**k values,
# index 0 the oldest; bucket_count: (max_levels,)
@jit_inline
def _adwin_delete_oldest(state, bucket_total, bucket_variance, bucket_count):
    level = int(state[3]) - 1
    size = 2.0 ** level
    total = bucket_total[level, 0]
    state[0] -= size
    state[1] -= total
    if state[0] > 0:
        mean_bucket = total / size
        state[2] -= bucket_variance[level, 0] + size * state[0] * (mean_bucket - state[1] / state[0]) ** 2 / (
            size + state[0])
        state[2] = max(state[2], 0.0)
    else:
        state[1] = 0.0
        state[2] = 0.0
    count = bucket_count[level]
    for k in range(count - 1):
        bucket_total[level, k] = bucket_total[level, k + 1]
        bucket_variance[level, k] = bucket_variance[level, k + 1]
    bucket_count[level] = count - 1
    while state[3] > 0 and bucket_count[int(state[3]) - 1] == 0:
        state[3] -= 1.0


@jit_kernel
def adwin_update_many(state, bucket_total, bucket_variance, bucket_count, values, delta, clock, max_buckets,
                      min_window_length, grace_period, detections):
    """ADWIN (Bifet & Gavaldà 2007) over an exponential histogram. The Bernstein bound's range term is
    taken as 3 standard deviations of the window (not the [0, 1] range of the original), so that the
    test is scale-free; ``delta`` is the confidence of the cut."""
    n_detections = 0
    max_levels = bucket_total.shape[0]
    for t in range(values.shape[0]):
        x = np.float64(values[t])
        # 1) insert x as a level-0 bucket and update the window's total and variance
        width = state[0]
        if width > 0:
            state[2] += width * (x - state[1] / width) ** 2 / (width + 1.0)
        state[0] = width + 1.0
        state[1] += x
        if state[3] == 0:
            state[3] = 1.0
        c = bucket_count[0]
        bucket_total[0, c] = x
        bucket_variance[0, c] = 0.0
        bucket_count[0] = c + 1
        # 2) compress: two oldest buckets of a full level merge into one of the next level
        for level in range(max_levels - 1):
            if bucket_count[level] <= max_buckets:
                break
            size = 2.0 ** level
            t1 = bucket_total[level, 0]
            t2 = bucket_total[level, 1]
            merged_variance = (bucket_variance[level, 0] + bucket_variance[level, 1]
                               + size * size * (t1 / size - t2 / size) ** 2 / (2.0 * size))
            for k in range(bucket_count[level] - 2):
                bucket_total[level, k] = bucket_total[level, k + 2]
                bucket_variance[level, k] = bucket_variance[level, k + 2]
            bucket_count[level] -= 2
            c = bucket_count[level + 1]
            bucket_total[level + 1, c] = t1 + t2
            bucket_variance[level + 1, c] = merged_variance
            bucket_count[level + 1] = c + 1
            if level + 2 > state[3]:
                state[3] = level + 2.0
        # 3) every `clock` values, look for a cut between an older and a newer sub-window
        state[4] += 1.0
        detected = False
        if state[4] % clock == 0 and state[0] > grace_period:
            reduce = True
            while reduce:
                reduce = False
                width = state[0]
                sigma = math.sqrt(state[2] / width)
                delta_prime = math.log(2.0 * math.log(width) / delta)
                n0 = 0.0
                u0 = 0.0
                n1 = width
                u1 = state[1]
                stop = False
                for level in range(int(state[3]) - 1, -1, -1):
                    size = 2.0 ** level
                    for k in range(bucket_count[level]):
                        n0 += size
                        n1 -= size
                        u0 += bucket_total[level, k]
                        u1 -= bucket_total[level, k]
                        if n1 <= min_window_length:
                            stop = True
                            break
                        if n0 < min_window_length:
                            continue
                        m_recip = 1.0 / (n0 - min_window_length + 1.0) + 1.0 / (n1 - min_window_length + 1.0)
                        epsilon = (math.sqrt(2.0 * m_recip * sigma * sigma * delta_prime)
                                   + 2.0 / 3.0 * delta_prime * m_recip * 3.0 * sigma)
                        if abs(u0 / n0 - u1 / n1) > epsilon:
                            detected = True
                            reduce = True
                            _adwin_delete_oldest(state, bucket_total, bucket_variance, bucket_count)
                            stop = True
                            break
                    if stop:
                        break
                if state[0] <= grace_period:
                    reduce = False
        if detected:
            detections[n_detections] = t
            n_detections += 1
    return n_detections


@jit_inline
def column_buffer(n_columns, n_rows):
    """An uninitialized (n_columns, width) float64 buffer for ``n_rows`` values per column, ``width``
    an odd number of cache lines: the gather writes one value of every column per row, and with a
    power-of-two row length those all map to a few L1 sets (4 096 x 100 rows: 2.8 ms, against 0.2 ms
    for 4 000)."""
    lines = (n_rows + 7) // 8
    return np.empty((n_columns, 8 * (lines + 1 - lines % 2)))


@jit_kernel
def sample_reference_cells(X, rows, edge_step, n_bins, max_categories):
    """The subsample ``X[rows]`` gathered into the padded column-major buffer of a fingerprint
    (``Fingerprint.from_data``) and its :func:`reference_cells`, in one call: ``(buffer, values,
    n_values, discrete, counts, stats)``. One call, so that a fit can have it computed on another
    thread without that thread needing the interpreter lock between the two passes."""
    n_sample = rows.shape[0]
    buffer = column_buffer(X.shape[1], n_sample)
    gather_columns(X, rows, buffer, 0, n_sample)
    values, n_values, discrete, counts, stats = reference_cells(buffer, n_sample, edge_step, n_bins, max_categories)
    return buffer, values, n_values, discrete, counts, stats
