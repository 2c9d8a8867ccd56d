"""The reference fingerprint an estimator records at ``fit``: what a drift check compares new data to.

Design: no training data is kept. A seeded subsample of at most ``max_rows`` rows is the reference:
from it come the quantile bin edges (from a strided part of it, deduplicated, so a feature with ties
gets fewer bins), the reference count of each cell, summary statistics, and the feature type: a feature with at most
``max_categories`` distinct values is *discrete* and its cells are its categories (plus one cell for
unseen categories). The model's own scores (``X @ coef.T + intercept`` of a linear model, a monotone
function of its predictions) on the same subsample are fingerprinted the same way, so that prediction
drift is tested like a feature. Counts are kept, not just frequencies: the tests treat the reference
as the finite sample it is (``n_reference`` rows, see ``_check``), so they stay calibrated whatever its
size. By default the counts come from the subsample itself, which keeps ``fit`` cheap (a full pass of
bin counting and scoring cost 2.3 s on 1e6 x 100, five times the least-squares solve); with
``count_all_rows=True`` the cells are counted over every training row in one compiled pass, for more
power against small shifts.
"""
import json

import numpy as np
import scipy.sparse as sp

from fastml.kernels._thread_pool import LazyThreadPool

N_BINS = 10
MAX_CATEGORIES = 20
MAX_ROWS = 10_000
# Edges need not be the subsample's exact quantiles (the tests use the counts, taken over every
# subsample row): the deciles of 2 048 rows of each column instead of 10 000 took the fingerprint of
# a 10 000 x 100 subsample from 40 ms to ~10 ms (with numpy's sort; they are now selected without
# one, kernels.drift._order_statistics: 4-6 ns a value instead of 16-20).
EDGE_ROWS = 2048
# ... but at most this many values per fingerprint: 100 features get their 2 048 edge rows, wider
# data fewer (at least MIN_EDGE_ROWS; 2 000 rows of 2 000 features once cost 64 ms, more than the
# Lasso fit it came with). Edges from fewer rows are further from the reference's deciles, so more
# columns of wide data fall back from the KS test to chi2 (both calibrated, see _check).
EDGE_VALUES_PER_FIT = 100 * EDGE_ROWS
MIN_EDGE_ROWS = 128
# Wider data (hashed text: 2**18 columns) keeps the score fingerprint only. Per-feature cells there
# would mean densifying the subsample (GBs) and thousands of mostly-empty tests; prediction drift is
# what such a model can be checked for.
MAX_FEATURES = 4096
MAX_CELLS_PER_FIT = 1_000_000  # subsample rows x features (10 000 x 100; at least 1 000 rows): bounds its time
FORMAT_VERSION = 1

CONTINUOUS, DISCRETE = 0, 1
# from this many subsample values on, the fingerprint's kernels (gather, cells) run on the default
# thread count, in Python threads over disjoint row / column ranges (kernels._parallel.map_row_chunks);
# below it on one. Measured with 2 threads (bench_drift.py): 2e4 x 100 4.8 -> 2.9 ms, 1e5 x 100 5.3 ->
# 3.5 ms; with fewer values the dispatch costs about what it saves (4 096 x 100: 1.9 ms on one thread,
# 2.3 on two). Not a prange kernel: its OpenMP workers spin after the region, and the next fit's Gram
# pass (two Python threads in BLAS) lost more to them than the threads saved (1e5 x 100 Ridge and
# Lasso fits back to back: 30 -> 34 ms)
MIN_VALUES_FOR_THREADS = 1_000_000
# below this many multiply-adds the scores' product runs on one BLAS thread anyway (OpenBLAS threads a
# matrix-vector product from 2 304 x 4 of them on), so it is not limited
MIN_VALUES_FOR_BLAS_LIMIT = 8192


def _edge_step(n_columns, n_rows):
    """Every how many rows a column's edge sample takes one (see EDGE_ROWS, EDGE_VALUES_PER_FIT)."""
    edge_rows = min(EDGE_ROWS, max(MIN_EDGE_ROWS, EDGE_VALUES_PER_FIT // max(n_columns, 1)))
    return max(1, -(-n_rows // edge_rows))


def _threads_for(n_values):
    from .._config import resolve_n_threads

    return resolve_n_threads(None) if n_values >= MIN_VALUES_FOR_THREADS else 1


def _split_over_threads(work, n_items, n_values):
    """``[work(first, stop) for each thread's contiguous range of the n_items]`` (see _threads_for)."""
    threads = _threads_for(n_values)
    if threads == 1:
        return [work(0, n_items)]
    from fastml.kernels._parallel import map_row_chunks

    return map_row_chunks(work, n_items, threads, n_values, 1)



class _Block:
    """Cells, reference counts and statistics of a set of columns (the features, or the scores)."""

    def __init__(self, values, n_values, discrete, counts, stats):
        self.values = values  # (p, V) float64: interior edges or categories, NaN padded
        self.n_values = n_values  # (p,) int64
        self.discrete = discrete  # (p,) bool
        self.counts = counts  # (p, V + 2) float64: cells, then unseen/top cell, then missing
        self.stats = stats  # (p, 5) float64: mean, std, min, max, missing share

    @property
    def n_columns(self):
        return self.values.shape[0]

    @classmethod
    def empty(cls):
        """A block of no columns (see MAX_FEATURES)."""
        return cls(np.empty((0, 1)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), np.zeros((0, 3)),
                   np.zeros((0, 5)))

    @classmethod
    def from_columns(cls, columns, n_bins=N_BINS, max_categories=MAX_CATEGORIES):
        """Fingerprint the columns of the dense array ``columns`` (rows = reference sample)."""
        by_column = np.ascontiguousarray(columns.T, dtype=np.float64)
        return cls.from_column_major(by_column, by_column.shape[1], n_bins, max_categories)

    @classmethod
    def from_column_major(cls, buffer, n_rows, n_bins=N_BINS, max_categories=MAX_CATEGORIES):
        """Fingerprint the first ``n_rows`` values of each row of ``buffer`` (n_columns, at least
        n_rows), float64 C order: a column per row.

        The quantile edges of a continuous column are those of a strided subset of at most
        ``EDGE_ROWS`` of its rows (fewer for wide data, see ``EDGE_VALUES_PER_FIT``), selected, not
        sorted; the feature type, categories, cell counts and statistics from every row (``kernels.drift.reference_cells``,
        one compiled pass per column, no full sort).
        """
        from fastml.kernels.drift import reference_cells  # Numba loads with the first fit, not on import

        step = _edge_step(buffer.shape[0], n_rows)
        n_columns = buffer.shape[0]
        parts = _split_over_threads(lambda first, stop: reference_cells(buffer[first:stop], n_rows, step, n_bins,
                                                                        max_categories), n_columns, n_columns * n_rows)
        return cls.from_cells(*(np.concatenate(arrays) for arrays in zip(*parts)))

    @classmethod
    def from_cells(cls, values, n_values, discrete, counts, stats):
        """The block of ``kernels.drift.reference_cells``'s output, trimmed to the widest column."""
        width = max(1, int(n_values.max(initial=0)))
        # cells beyond n_values[j] (+ the top/unseen one) are empty: keep width + 1 cells and the missing one
        counts = np.concatenate([counts[:, : width + 1], counts[:, -1:]], axis=1)
        return cls(np.ascontiguousarray(values[:, :width]), n_values, discrete, counts, stats)

    def arrays(self, prefix):
        return {f"{prefix}values": self.values, f"{prefix}n_values": self.n_values,
                f"{prefix}discrete": self.discrete.astype(np.int8), f"{prefix}counts": self.counts,
                f"{prefix}stats": self.stats}

    @classmethod
    def from_arrays(cls, arrays, prefix):
        values = np.asarray(arrays[f"{prefix}values"], dtype=np.float64)
        n_values = np.asarray(arrays[f"{prefix}n_values"], dtype=np.int64)
        discrete = np.asarray(arrays[f"{prefix}discrete"]).astype(bool)
        counts = np.asarray(arrays[f"{prefix}counts"], dtype=np.float64)
        stats = np.asarray(arrays[f"{prefix}stats"], dtype=np.float64)
        p = values.shape[0]
        if (values.ndim != 2 or n_values.shape != (p,) or discrete.shape != (p,)
                or counts.shape != (p, values.shape[1] + 2) or stats.shape != (p, 5)
                or np.any(n_values < 0) or np.any(n_values > values.shape[1])):
            raise ValueError(f"inconsistent fingerprint arrays under prefix {prefix!r}")
        return cls(values, n_values, discrete, counts, stats)


def _count_all_rows(block, X):
    from ._check import _batch_counts

    counts, moments = _batch_counts(X, block)
    n = X.shape[0]
    present = np.maximum(n - counts[:, -1], 1)
    mean = moments[:, 0] / present
    block.counts = counts
    block.stats = np.column_stack([mean, np.sqrt(np.maximum(moments[:, 1] / present - mean ** 2, 0.0)),
                                   moments[:, 2], moments[:, 3], counts[:, -1] / n])


class Fingerprint:
    """A small summary of a model's training data and of its scores, enough to test new data for drift.

    Build one with :meth:`from_data` (estimators do it at ``fit`` and keep it as ``fingerprint_``);
    persist it with :meth:`to_state` / :meth:`from_state`.

    Attributes
    ----------
    n_samples : int
        Rows of the data it was built from.
    n_reference : int
        Rows counted in the reference cells (all training rows; the edges and feature types come from a
        seeded subsample of at most ``max_rows`` rows): the reference sample size of the tests.
    feature_names : list of str or None
    features : per-feature block (``values``, ``n_values``, ``discrete``, ``counts``, ``stats``)
    scores : block of the model's scores, or None
    """

    def __init__(self, *, n_samples, n_reference, feature_names, features, scores=None, n_features=None):
        self.n_samples = int(n_samples)
        self.n_reference = int(n_reference)
        self.feature_names = None if feature_names is None else [str(name) for name in feature_names]
        self.features = features
        self.scores = scores
        self.n_features = int(features.n_columns if n_features is None else n_features)

    @classmethod
    def from_data(cls, X, *, scorer=None, feature_names=None, max_rows=MAX_ROWS, random_state=0,
                  count_all_rows=False):
        """Fingerprint dense or CSR ``X`` (float32 or float64); ``scorer(rows) -> scores`` is called on
        the subsample (CSR rows for CSR ``X``, float64 rows for dense ``X``) when given.
        ``count_all_rows`` counts the reference cells over every row of ``X`` (one more pass over
        ``X``, and ``scorer`` on all of it)."""
        return _ReferenceSample.of(X, max_rows, random_state, count_all_rows).fingerprint(X, scorer, feature_names)

    # -- persistence --------------------------------------------------------------------------------
    def to_state(self):
        """``(json_dict, {name: ndarray})``: plain JSON values and numeric arrays only."""
        meta = {"format_version": FORMAT_VERSION, "n_samples": self.n_samples, "n_reference": self.n_reference,
                "n_features": self.n_features, "feature_names": self.feature_names,
                "has_scores": self.scores is not None}
        arrays = self.features.arrays("feature_")
        if self.scores is not None:
            arrays.update(self.scores.arrays("score_"))
        json.dumps(meta)  # fail here, not in the writer, if something is not JSON
        return meta, arrays

    @classmethod
    def from_state(cls, meta, arrays):
        """Rebuild from :meth:`to_state`'s output; inconsistent input raises ``ValueError``."""
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported fingerprint state (format_version {meta.get('format_version')!r})"
                             if isinstance(meta, dict) else "fingerprint state must be a dict")
        features = _Block.from_arrays(arrays, "feature_")
        scores = _Block.from_arrays(arrays, "score_") if meta.get("has_scores") else None
        names = meta.get("feature_names")
        if names is not None and len(names) != features.n_columns:
            raise ValueError("fingerprint feature_names do not match its arrays")
        return cls(n_samples=meta["n_samples"], n_reference=meta["n_reference"], feature_names=names,
                   features=features, scores=scores, n_features=meta.get("n_features"))

    def nbytes(self):
        _, arrays = self.to_state()
        return sum(a.nbytes for a in arrays.values())

    def __repr__(self):
        kinds = self.features.discrete
        return (f"Fingerprint(n_samples={self.n_samples}, n_reference={self.n_reference}, "
                f"n_features={self.n_features} ({int((~kinds).sum())} continuous, {int(kinds.sum())} discrete), "
                f"scores={'yes' if self.scores is not None else 'no'})")


def linear_scorer(model):
    """``rows -> rows @ coef.T + intercept`` of a fitted linear model, or None for other models."""
    coef = getattr(model, "coef_", None)
    if coef is None:
        return None
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.ravel(np.asarray(getattr(model, "intercept_", 0.0), dtype=np.float64))

    def score(rows):
        from fastml.kernels._blas_threads import limit_blas_threads

        # float32 rows: multiply in float32 (as the estimators' own predict) instead of copying X to float64;
        # one BLAS thread: a second one gains little on the subsample and then spins, slowing the next fit.
        # A product too small for BLAS to thread skips the limit (~8 us, a tenth of a small fingerprint)
        weights = coef.T.astype(np.float32) if rows.dtype == np.float32 else coef.T
        if rows.size * weights.shape[1] < MIN_VALUES_FOR_BLAS_LIMIT:
            out = rows @ weights
        else:
            with limit_blas_threads(1):
                out = rows @ weights
        return np.asarray(out, dtype=np.float64) + intercept

    return score


class _ReferenceSample:
    """What a fingerprint takes from the training ``X`` alone: the seeded subsample and the cells of
    its features. The model's scores on the subsample come after the fit (:meth:`fingerprint`)."""

    def __init__(self, sample, features, count_all_rows):
        self.sample = sample
        self.features = features
        self.count_all_rows = count_all_rows

    @classmethod
    def of(cls, X, max_rows, random_state, count_all_rows):
        n_rows, n_features = X.shape
        rows = _sample_rows(n_rows, n_features, max_rows, random_state)
        count_all_rows = count_all_rows and n_features <= MAX_FEATURES
        if n_features > MAX_FEATURES:
            return cls(X if rows is None else X[rows], _Block.empty(), count_all_rows)
        if sp.issparse(X):
            sample = X if rows is None else X[rows]
            return cls(sample, _Block.from_columns(sample.toarray()), count_all_rows)
        sample_rows = np.arange(n_rows) if rows is None else rows
        n_sample = sample_rows.size
        if _threads_for(n_sample * n_features) == 1:
            from fastml.kernels.drift import sample_reference_cells

            return cls.from_cells(sample_reference_cells(X, sample_rows, _edge_step(n_features, n_sample), N_BINS,
                                                         MAX_CATEGORIES), n_sample, count_all_rows)
        from fastml.kernels.drift import column_buffer, gather_columns

        # the subsample is gathered straight into the column-major float64 layout of the cell
        # counting (padded rows: see column_buffer); the scorer reads it as an F-ordered (rows,
        # features) view. kernels.drift.sample_reference_cells does the same on one thread.
        buffer = column_buffer(n_features, n_sample)
        _split_over_threads(lambda first, stop: gather_columns(X, sample_rows, buffer, first, stop), n_sample,
                            n_sample * n_features)
        return cls(buffer[:, :n_sample].T, _Block.from_column_major(buffer, n_sample), count_all_rows)

    @classmethod
    def from_cells(cls, kernel_output, n_sample, count_all_rows):
        """From ``kernels.drift.sample_reference_cells``'s ``(buffer, *cells)``."""
        buffer, *cells = kernel_output
        return cls(buffer[:, :n_sample].T, _Block.from_cells(*cells), count_all_rows)

    def fingerprint(self, X, scorer, feature_names):
        """The :class:`Fingerprint` of ``X`` (the data this sample was drawn from), with ``scorer``'s scores."""
        n_rows, n_features = X.shape
        sample, features = self.sample, self.features
        scores = None
        if scorer is not None:
            raw = np.asarray(scorer(sample), dtype=np.float64)
            scores = _Block.from_columns(raw.reshape(raw.shape[0], -1))
        count_all_rows = self.count_all_rows and n_rows > sample.shape[0]
        if count_all_rows:
            # the cells are counted over every training row (one compiled pass): the edges come from
            # the subsample, but the counts then estimate each cell's mass with n_rows rows, not max_rows
            _count_all_rows(features, X)
            if scores is not None:
                _count_all_rows(scores, np.ascontiguousarray(
                    np.asarray(scorer(X), dtype=np.float64).reshape(n_rows, -1)))
        n_reference = n_rows if count_all_rows else sample.shape[0]
        return Fingerprint(n_samples=n_rows, n_reference=n_reference, feature_names=feature_names, features=features,
                           scores=scores, n_features=n_features)


def _sample_rows(n_rows, n_features, max_rows, random_state):
    """The sorted rows of the seeded subsample, or None for all rows (at most ``max_rows``, fewer for
    wide data: see MAX_CELLS_PER_FIT)."""
    if n_rows < 1:
        raise ValueError("cannot fingerprint an empty X")
    max_rows = max(1, min(max_rows, max(1000, MAX_CELLS_PER_FIT // max(n_features, 1))))
    if n_rows <= max_rows:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n_rows, size=max_rows, replace=False))


def _fingerprint_input(X):
    """``X`` as the fingerprint reads it: CSR, or a float32 / float64 2-d array."""
    if sp.issparse(X):
        return X.tocsr()
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X.reshape(-1, 1) if X.ndim == 1 else X


def record_fingerprint(estimator, X):
    """Set ``estimator.fingerprint_`` from the training ``X`` (called at the end of ``fit``); returns the
    estimator so that ``fit`` can ``return record_fingerprint(self, X)``. With fingerprints switched off
    (``fastml.set_config(fingerprint=False)``) it removes ``fingerprint_`` instead: a refit must not
    keep the reference of the data it no longer describes."""
    return start_fingerprint(X).finish(estimator)


# The feature half of a small fit's fingerprint is taken on a second thread while the fit runs: at
# 1 000 x 100 it is ~0.8 ms of work beside a ~1.35 ms Ridge or Lasso fit (benchmarks/bench_drift.py:
# 1.8 ms with it alongside, 2.4 ms with it after the fit); at 10 000 x 100, ~4 ms on one thread
# beside a ~4 ms fit, where it took ~3.5 ms after the fit on two threads. Only where the fit itself
# runs on one thread (fewer stored values than the estimator's passes need to go parallel, see
# `start_fingerprint`) and fastml may use more than one: a third thread on 2 cores would slow an
# OpenMP region it shares a core with to the pace of its slower thread.
# Below this many values the hand-over to the other thread (waking it, the lock passed back and forth)
# costs more than the fingerprint's work: breast_cancer's 569 x 30 took 0.1 ms longer on two threads
MIN_VALUES_FOR_BACKGROUND = 50_000
_background = LazyThreadPool("fastml-fingerprint")


class _PendingFingerprint:
    """The fingerprint of a training ``X`` under way: :meth:`finish` completes it with the fitted
    model's scores (see :func:`start_fingerprint`)."""

    def __init__(self, X, enabled, cells=None, n_sample=0):
        self.X = X
        self.enabled = enabled
        self.cells = cells  # a Future of sample_reference_cells' output, computed alongside the fit, or None
        self.n_sample = n_sample

    def finish(self, estimator):
        """Set ``estimator.fingerprint_`` (or remove it when fingerprints are off); returns the estimator."""
        if not self.enabled:
            estimator.__dict__.pop("fingerprint_", None)
            return estimator
        if self.cells is not None:
            sample = _ReferenceSample.from_cells(self.cells.result(), self.n_sample, False)
        else:
            sample = _ReferenceSample.of(self.X, MAX_ROWS, 0, False)
        names = getattr(estimator, "feature_names_in_", None)
        estimator.fingerprint_ = sample.fingerprint(self.X, linear_scorer(estimator),
                                                    None if names is None else list(names))
        return estimator


def start_fingerprint(X, *, serial_fit_below=0):
    """Begin the fingerprint of the training ``X`` (validated); ``.finish(estimator)`` at the end of
    ``fit`` stores it. Its feature half runs on a second thread, alongside the fit, when dense ``X``
    holds fewer than ``serial_fit_below`` values (the estimator's fit then runs on one thread) and
    fastml may use more than one thread; otherwise ``finish`` does all of it.

    The second thread makes one compiled call (kernels.drift.sample_reference_cells), which holds
    the interpreter lock only to start and to return: the Python steps of a fit and of the
    fingerprint, interleaved on two threads, waited for each other's lock (a Ridge fit of 1 000 x 100
    took its fingerprint's 0.8 ms of work 1.5 ms later, no faster than one after the other)."""
    from .._config import fingerprints_enabled, resolve_n_threads

    if not fingerprints_enabled():
        return _PendingFingerprint(X, False)
    X = _fingerprint_input(X)
    n_rows, n_features = X.shape
    # the subsample's values bound the second thread's work (a 10 000-row subsample of 100 features:
    # ~4 ms on one thread), the fit's size decides whether a core is free for it
    if (sp.issparse(X) or not MIN_VALUES_FOR_BACKGROUND <= n_rows * n_features < serial_fit_below
            or n_features > MAX_FEATURES or resolve_n_threads(None) < 2):
        return _PendingFingerprint(X, True)
    from fastml.kernels.drift import sample_reference_cells

    rows = _sample_rows(n_rows, n_features, MAX_ROWS, 0)
    rows = np.arange(n_rows) if rows is None else rows
    cells = _background.executor(1).submit(sample_reference_cells, X, rows, _edge_step(n_features, rows.size), N_BINS,
                                          MAX_CATEGORIES)
    return _PendingFingerprint(X, True, cells, rows.size)
