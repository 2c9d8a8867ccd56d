"""Batch drift checks: fingerprint, calibration of the tests under no drift, power, categorical and
prediction drift, report forms."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import fastml
from fastml.drift import DriftReport, Fingerprint, check_drift

ALPHA = 0.05
REPS = 1000
CATEGORY_P = np.array([0.5, 0.3, 0.15, 0.05])


def population(rng, n):
    """Two features: N(0, 1) and a 4-category discrete feature."""
    return np.column_stack([rng.standard_normal(n), rng.choice(4, size=n, p=CATEGORY_P).astype(np.float64)])


def binomial_interval(reps, alpha=ALPHA, level=0.99):
    tail = (1 - level) / 2
    return stats.binom.ppf(tail, reps, alpha) / reps, stats.binom.isf(tail, reps, alpha) / reps


@pytest.fixture(scope="module")
def reference():
    return Fingerprint.from_data(population(np.random.default_rng(0), 50_000))


def test_fingerprint_small_deterministic_and_typed():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30_000, 100))
    X[:, :10] = rng.integers(0, 3, size=(30_000, 10))
    a, b = Fingerprint.from_data(X, count_all_rows=True), Fingerprint.from_data(X, count_all_rows=True)
    meta_a, arrays_a = a.to_state()
    meta_b, arrays_b = b.to_state()
    assert meta_a == meta_b and arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name])
    assert a.n_reference == 30_000 and a.n_samples == 30_000  # edges from 10 000 rows, counts from all
    quick = Fingerprint.from_data(X)  # the default at fit: counts from the 10 000-row subsample
    assert quick.n_reference == 10_000 and quick.n_samples == 30_000
    np.testing.assert_array_equal(quick.features.values, a.features.values)
    assert a.features.discrete[:10].all() and not a.features.discrete[10:].any()
    assert (a.features.n_values[10:] == 9).all()  # deciles: 9 interior edges
    assert a.nbytes() < 40_000, a.nbytes()
    # round trip through the state, numeric arrays only
    assert all(np.issubdtype(v.dtype, np.number) for v in arrays_a.values())
    back = Fingerprint.from_state(meta_a, arrays_a)
    X_new = rng.standard_normal((500, 100))
    assert check_drift(back, X_new).to_dict() == check_drift(a, X_new).to_dict()
    # the reference statistics match numpy on the subsample's population
    assert np.allclose(a.features.stats[10:, 0], 0, atol=0.05) and np.allclose(a.features.stats[10:, 1], 1, atol=0.05)


def numpy_reference_block(columns, edge_rows, n_bins=10, max_categories=20):
    """Feature types, cells and statistics of a fingerprint block, from numpy's unique/quantile."""
    step = -(-columns.shape[0] // edge_rows)
    cells, kinds = [], []
    for j in range(columns.shape[1]):
        present = columns[:, j][~np.isnan(columns[:, j])]
        distinct = np.unique(present)
        if 0 < distinct.size <= max_categories:
            cells.append(distinct)
            kinds.append(True)
            continue
        part = columns[::step, j]
        part = part[~np.isnan(part)]
        edges = (np.unique(np.quantile(part, np.arange(1, n_bins) / n_bins, method="inverted_cdf"))
                 if part.size else np.empty(0))
        cells.append(edges[edges < present.max()] if present.size else edges)
        kinds.append(False)
    return cells, np.array(kinds)


@pytest.mark.parametrize("n_rows", [7, 3000, 10_000])
def test_fingerprint_block_matches_numpy(n_rows):
    from fastml.drift._check import _batch_counts
    from fastml.drift._fingerprint import EDGE_ROWS, _Block

    rng = np.random.default_rng(n_rows)
    columns = np.column_stack([
        rng.standard_normal(n_rows) * 1e3 + 5e6,  # large mean: the centered std
        rng.integers(0, 20, n_rows).astype(float),  # discrete, at most 20 categories
        rng.integers(0, 25, n_rows).astype(float),  # ties but continuous
        np.where(rng.random(n_rows) < 0.3, np.nan, rng.exponential(size=n_rows)),  # missing values
        np.full(n_rows, np.nan),  # nothing present
        np.full(n_rows, 2.5),  # constant
        np.sort(rng.standard_normal(n_rows)),  # rows ordered by value: a strided subset still spans it
    ])
    block = _Block.from_columns(columns)
    cells, discrete = numpy_reference_block(columns, EDGE_ROWS)
    np.testing.assert_array_equal(block.discrete, discrete)
    for j, expected in enumerate(cells):
        assert block.n_values[j] == expected.size
        np.testing.assert_array_equal(block.values[j, : expected.size], expected)
    # the counts are those the drift check's own kernel gives the reference rows in these cells
    counts, _ = _batch_counts(np.ascontiguousarray(columns), block)
    np.testing.assert_array_equal(block.counts, counts)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):  # the all-NaN column
        expected_stats = np.column_stack([np.nanmean(columns, 0), np.nanstd(columns, 0), np.nanmin(columns, 0),
                                          np.nanmax(columns, 0), np.isnan(columns).mean(0)])
    np.testing.assert_allclose(block.stats, expected_stats, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_rows", [150, 3000, 10_000])
def test_fingerprint_edges_of_awkward_columns_match_numpy(n_rows):
    """The decile edges are selected by bucketing, not sorting (kernels.drift._order_statistics):
    columns that defeat one bucketing (an outlier stretching the range, heavy tails, two far clusters),
    that cannot be bucketed (infinities, a subnormal range) or that tie, give numpy's quantiles exactly."""
    from fastml.drift._fingerprint import EDGE_ROWS, _Block

    rng = np.random.default_rng(n_rows)
    normal = rng.standard_normal((n_rows, 8))
    with_outlier = normal[:, 0].copy()
    with_outlier[n_rows // 3] = 1e12
    with_infinities = normal[:, 1].copy()
    with_infinities[[1, n_rows // 2]] = [np.inf, -np.inf]
    columns = np.column_stack([
        with_outlier,
        rng.lognormal(0.0, 4.0, n_rows),  # heavy right tail: most values in the first buckets
        np.where(rng.random(n_rows) < 0.5, 0.0, 1e9) + normal[:, 2],  # two clusters 1e9 apart
        with_infinities,
        normal[:, 3] * 1e-310,  # subnormal values: the bucket scale would overflow
        np.round(normal[:, 4] * 40),  # ~200 tied integers: buckets of equal values
        np.where(rng.random(n_rows) < 0.6, 0.0, normal[:, 5]),  # 60 % zeros, the rest continuous
        1e6 + 1e-9 * normal[:, 6],  # a tiny spread on a large offset
        rng.standard_cauchy(n_rows),
    ])
    block = _Block.from_columns(columns)
    cells, discrete = numpy_reference_block(columns, EDGE_ROWS)
    np.testing.assert_array_equal(block.discrete, discrete)
    assert not discrete.any()
    # threads take disjoint column ranges: the kernel on parts gives the block of the whole
    from fastml.kernels.drift import reference_cells

    buffer = np.ascontiguousarray(columns.T)
    step = -(-n_rows // EDGE_ROWS)
    parts = [reference_cells(buffer[first:stop], n_rows, step, 10, 20) for first, stop in ((0, 4), (4, 9))]
    for whole, first_part, second_part in zip(reference_cells(buffer, n_rows, step, 10, 20), *parts):
        np.testing.assert_array_equal(whole, np.concatenate([first_part, second_part]))
    for j, expected in enumerate(cells):
        assert block.n_values[j] == expected.size, j
        np.testing.assert_array_equal(block.values[j, : expected.size], expected, err_msg=f"column {j}")


def test_wide_fingerprint_sorts_a_bounded_number_of_values():
    """Wide data: the edges come from at most EDGE_VALUES_PER_FIT sorted values (at least
    MIN_EDGE_ROWS rows per column), and are those numpy's quantiles give on that strided subset."""
    from fastml.drift._fingerprint import EDGE_VALUES_PER_FIT, MIN_EDGE_ROWS, _Block

    rng = np.random.default_rng(11)
    columns = rng.standard_normal((700, 3000))
    columns[:, 1] = rng.integers(0, 5, 700)  # discrete: its categories come from every row
    edge_rows = max(MIN_EDGE_ROWS, EDGE_VALUES_PER_FIT // columns.shape[1])
    assert edge_rows < 700
    block = _Block.from_columns(columns)
    cells, discrete = numpy_reference_block(columns[:, :40], edge_rows)
    np.testing.assert_array_equal(block.discrete[:40], discrete)
    for j, expected in enumerate(cells):
        np.testing.assert_array_equal(block.values[j, : block.n_values[j]], expected)
    assert block.counts[:, :-1].sum(axis=1).tolist() == [700.0] * 3000  # every row counted


@pytest.mark.parametrize("n_rows", [300, 2500])  # all rows; a subsample of max_rows=1000
@pytest.mark.parametrize("threads", [1, 3])
def test_fingerprint_of_every_layout_is_that_of_its_subsample(n_rows, threads, monkeypatch):
    """The fused gather (rows straight into the column-major layout) against numpy's row gather, for C
    and F order, float32, CSR and a strided view: the same cells, counts and statistics, also with the
    gather and the cells split over threads (rows in whole cache lines, columns)."""
    from fastml.drift import _fingerprint
    from fastml.drift._fingerprint import _Block

    monkeypatch.setattr(_fingerprint, "_threads_for", lambda n_values: threads)

    rng = np.random.default_rng(n_rows)
    wide = rng.standard_normal((n_rows, 12))
    wide[:, 3] = rng.integers(0, 4, n_rows)
    wide[rng.random(wide.shape) < 0.05] = np.nan
    X = wide[:, ::2]
    rows = np.arange(n_rows)
    if n_rows > 1000:
        rows = np.sort(np.random.default_rng(7).choice(n_rows, size=1000, replace=False))
    expected = _Block.from_columns(X[rows])
    for data in (np.ascontiguousarray(X), np.asfortranarray(X), X, sp.csr_matrix(np.nan_to_num(X))):
        reference = _Block.from_columns(np.nan_to_num(X[rows])) if sp.issparse(data) else expected
        block = Fingerprint.from_data(data, max_rows=1000, random_state=7).features
        for name in ("values", "n_values", "discrete", "counts", "stats"):
            np.testing.assert_array_equal(getattr(block, name), getattr(reference, name), err_msg=name)
    single = Fingerprint.from_data(X.astype(np.float32), max_rows=1000, random_state=7).features
    np.testing.assert_array_equal(single.counts, _Block.from_columns(X.astype(np.float32)[rows]).counts)


@pytest.mark.parametrize("layout", ["C64", "C32", "F64", "F32", "csr", "csr32"])
@pytest.mark.parametrize("n_rows", [7, 1500])  # one block; several 256-row blocks in two chunks
def test_batch_counts_match_a_numpy_reference(layout, n_rows):
    """The check's counting (dense: branch-free sweeps over column blocks; CSR: per value) against
    searchsorted (float32 values summed as float64): values equal to an edge, unseen categories, NaN, infinities, empty columns."""
    from fastml.drift._check import _batch_counts
    from fastml.drift._fingerprint import _Block

    rng = np.random.default_rng(n_rows)
    reference = np.column_stack([rng.standard_normal(3000), rng.integers(0, 6, 3000).astype(float),
                                 rng.exponential(size=3000), np.full(3000, np.nan)])
    block = _Block.from_columns(reference)
    new = np.column_stack([rng.standard_normal(n_rows) * 2, rng.integers(-1, 8, n_rows).astype(float),
                           rng.exponential(size=n_rows), rng.standard_normal(n_rows)])
    new[rng.random(new.shape) < 0.1] = np.nan
    new[::5, 0] = block.values[0, rng.integers(0, block.n_values[0], len(new[::5, 0]))]  # ties with edges
    new[1, 0], new[2, 2] = np.inf, -np.inf
    new[rng.random(new.shape) < 0.2] = 0.0  # implicit zeros in CSR
    data = {"C64": new, "C32": new.astype(np.float32), "F64": np.asfortranarray(new),
            "F32": np.asfortranarray(new, dtype=np.float32), "csr": sp.csr_matrix(new),
            "csr32": sp.csr_matrix(new, dtype=np.float32)}[layout]
    values_seen = (data.toarray() if sp.issparse(data) else data).astype(np.float64)
    counts, moments = _batch_counts(data, block)
    for j in range(new.shape[1]):
        column = values_seen[:, j]
        n = block.n_values[j]
        edges = block.values[j, :n]
        present = column[~np.isnan(column)]
        cells = np.searchsorted(edges, present, side="left")
        if block.discrete[j]:
            known = (cells < n) & (edges[np.minimum(cells, max(n - 1, 0))] == present) if n else np.zeros_like(cells, bool)
            cells = np.where(known, cells, n)
        expected = np.bincount(cells, minlength=counts.shape[1] - 1).astype(float)
        np.testing.assert_array_equal(counts[j, :-1], expected)
        assert counts[j, -1] == np.isnan(column).sum()
        if present.size:
            np.testing.assert_allclose(moments[j, :2], [present.sum(), (present ** 2).sum()], rtol=1e-12)
            assert moments[j, 2] == present.min() and moments[j, 3] == present.max()


def test_estimators_record_fingerprint_with_scores():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = fastml.LogisticRegression().fit(X, y)
    fp = model.fingerprint_
    assert fp.n_features == 3 and fp.scores is not None and fp.scores.n_columns == 1
    assert np.isclose(fp.scores.stats[0, 0], model.decision_function(X).mean(), rtol=1e-5)
    sparse_model = fastml.Ridge().fit(sp.csr_matrix(X), X[:, 1])
    assert sparse_model.fingerprint_.n_features == 3
    assert not check_drift(sparse_model, sp.csr_matrix(X)).drift_detected


def test_false_positive_rate_calibrated():
    """Per-test and verdict FPR under no drift inside the 99 % binomial interval of alpha.

    Each repetition draws a new training sample (its fingerprint) and a new window: the repetitions are
    then independent, as the binomial interval assumes. (Against one fixed reference the rate over many
    windows scatters around alpha by the reference's own sampling error, about sqrt(n / n_reference).)
    1 000 repetitions at n = 100 and 1 000; 300 at n = 10 000 (1 000 in benchmarks/bench_drift.py).
    """
    rng = np.random.default_rng(3)
    for n in (100, 1000, 10_000):
        reps = REPS if n < 10_000 else 300
        p = {"ks": [], "chi2": [], "discrete": [], "verdict": []}
        for _ in range(reps):
            reference = Fingerprint.from_data(population(rng, 20_000))
            report = check_drift(reference, population(rng, n), alpha=ALPHA)
            continuous, discrete = report.rows
            p["ks"].append(continuous["ks_p_value"])
            p["chi2"].append(continuous["chi2_p_value"])
            p["discrete"].append(discrete["p_value"])
            p["verdict"].append(report.drift_detected)
        low_n, high_n = binomial_interval(reps)
        rates = {name: float(np.mean(np.asarray(v) < ALPHA)) for name, v in p.items() if name != "verdict"}
        rates["verdict"] = float(np.mean(p["verdict"]))
        print(f"\nno-drift FPR at n={n} over {reps} reps (99% interval [{low_n:.3f}, {high_n:.3f}]): {rates}")
        for name in ("ks", "chi2", "discrete"):
            assert low_n <= rates[name] <= high_n, (n, name, rates[name])
        assert rates["verdict"] <= high_n  # Holm over 2 tests: family-wise rate at most alpha


def test_naive_reference_would_be_miscalibrated(reference):
    """Why the two-sample form matters: treating the reference frequencies as exact over-rejects."""
    rng = np.random.default_rng(4)
    ref = reference.features.counts[0, :10]
    rejections = 0
    for _ in range(300):
        counts = np.histogram(np.searchsorted(reference.features.values[0, :9], rng.standard_normal(10_000)),
                              bins=np.arange(11))[0]
        expected = ref / ref.sum() * counts.sum()
        rejections += stats.chisquare(counts, expected).pvalue < ALPHA
    assert rejections / 300 > binomial_interval(300)[1]


def test_one_sigma_shift_detected_in_1000_row_windows():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20_000, 20))
    y = X @ rng.standard_normal(20) + rng.standard_normal(20_000)
    model = fastml.Ridge().fit(X, y)
    detected, shifted_flagged = 0, 0
    for _ in range(200):
        window = rng.standard_normal((1000, 20))
        window[:, 7] += 1.0
        report = check_drift(model, window)
        detected += report.drift_detected
        shifted_flagged += report.drifted_features == ["x7"] or "x7" in report.drifted_features
    print(f"\n1 sigma shift in 1 of 20 features: detected in {detected}/200 windows of 1 000 rows")
    assert detected / 200 >= 0.95 and shifted_flagged / 200 >= 0.95


def test_categorical_drift_with_chi2(reference):
    rng = np.random.default_rng(6)
    X = population(rng, 1000)
    X[:, 1] = rng.choice(4, size=1000, p=[0.35, 0.35, 0.2, 0.1])
    report = check_drift(reference, X)
    row = report.rows[1]
    assert row["kind"] == "discrete" and row["test"] == "chi2" and row["drifted"] and report.drift_detected
    assert not report.rows[0]["drifted"]
    # an unseen category is drift too
    X = population(rng, 1000)
    X[:5, 1] = 7.0
    assert check_drift(reference, X).rows[1]["drifted"]


def test_chi2_statistic_matches_scipy_contingency(reference):
    rng = np.random.default_rng(7)
    X = population(rng, 2000)
    row = check_drift(reference, X).rows[1]
    ref_counts = reference.features.counts[1, :4]
    new_counts = np.bincount(X[:, 1].astype(int), minlength=4)
    chi2, p, df, _ = stats.chi2_contingency(np.vstack([ref_counts, new_counts]), correction=False)
    assert np.isclose(row["chi2_statistic"], chi2) and np.isclose(row["chi2_p_value"], p) and row["chi2_df"] == df


def test_prediction_drift():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5000, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = fastml.LogisticRegression().fit(X, y)
    same = check_drift(model, rng.standard_normal((2000, 5)))
    assert same.prediction_drift is False
    X_new = rng.standard_normal((2000, 5))
    X_new[:, 0] += 0.5
    X_new[:, 1] += 0.5
    report = check_drift(model, X_new)
    assert report.prediction_drift and report.drift_detected
    assert check_drift(model.fingerprint_, X_new).prediction_drift is None  # no model: scores not checked
    assert check_drift(model.fingerprint_, X_new, model=model).prediction_drift


def test_report_forms_and_effect_sizes(reference):
    rng = np.random.default_rng(9)
    X = population(rng, 5000)
    X[:, 0] = X[:, 0] * 1.0 + 0.5
    report = check_drift(reference, X)
    assert isinstance(report, DriftReport)
    frame = report.to_frame()
    assert list(frame.index) == ["x0", "x1"] and {"test", "p_value", "p_adjusted", "psi", "wasserstein"} <= set(frame)
    row = report.rows[0]
    # W1 of a 0.5 shift is 0.5; the binned estimate (linear CDFs through 9 edges and the range) is rough
    assert 0.4 < row["wasserstein"] < 0.75
    X[:, 0] += 0.5
    assert check_drift(reference, X).rows[0]["wasserstein"] > row["wasserstein"] + 0.3
    assert row["psi"] > 0.1 and row["js_distance"] > 0.05
    assert report.to_dict()["drift_detected"] is True and "Holm" in report.to_dict()["rule"]
    text = str(report)
    assert "DETECTED" in text and "x0" in text


def test_missing_values_and_bad_input(reference):
    rng = np.random.default_rng(10)
    X = population(rng, 500)
    X[:50, 0] = np.nan
    row = check_drift(reference, X).rows[0]
    assert row["missing_new"] == pytest.approx(0.1) and row["drifted"] and row["test"] == "chi2"
    with pytest.raises(ValueError, match="features"):
        check_drift(reference, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="tests"):
        check_drift(reference, X, tests="anderson")
    with pytest.raises(TypeError, match="Fingerprint"):
        check_drift(object(), X)
    with pytest.raises(ValueError, match="alpha"):
        check_drift(reference, X, alpha=1.5)


def test_fingerprints_switched_off(tmp_path, monkeypatch):
    """fastml.config_context(fingerprint=False): fits record no fingerprint_ (a refit drops the old
    one), the models predict as before, save/load keeps them fingerprint-free, check_drift says why it
    cannot check; the setting is restored after the block, and FASTML_FINGERPRINT=0 is its default."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((300, 4))
    y = X @ np.array([1.0, -1.0, 0.5, 0.0]) + 0.1 * rng.standard_normal(300)
    labels = (y > 0).astype(int)
    kept = [fastml.Ridge().fit(X, y), fastml.LogisticRegression().fit(X, labels),
            fastml.ElasticNetCV(cv=3).fit(X, y), fastml.SGDClassifier(random_state=0).partial_fit(X, labels, [0, 1])]
    assert all(isinstance(model.fingerprint_, Fingerprint) for model in kept)
    with fastml.config_context(fingerprint=False):
        assert fastml.get_config()["fingerprint"] is False
        plain = [fastml.Ridge().fit(X, y), fastml.LogisticRegression().fit(X, labels),
                 fastml.ElasticNetCV(cv=3).fit(X, y),
                 fastml.SGDClassifier(random_state=0).partial_fit(X, labels, [0, 1])]
        refit = kept[0].fit(X, y)  # the same object, fitted again: its old fingerprint goes
    assert fastml.get_config()["fingerprint"] is True
    for model in plain + [refit]:
        assert not hasattr(model, "fingerprint_")
    for with_print, without in zip(kept[1:], plain[1:]):
        np.testing.assert_array_equal(with_print.predict(X), without.predict(X))
    with pytest.raises(TypeError, match="fingerprint=False"):
        check_drift(plain[0], X)
    path = tmp_path / "model.fml"
    fastml.save(plain[1], path)
    loaded = fastml.load(path)
    assert not hasattr(loaded, "fingerprint_")
    np.testing.assert_array_equal(loaded.predict(X), plain[1].predict(X))
    monkeypatch.setenv("FASTML_FINGERPRINT", "0")
    assert fastml.get_config()["fingerprint"] is False
    assert not hasattr(fastml.Ridge().fit(X, y), "fingerprint_")
    with fastml.config_context(fingerprint=True):  # the explicit setting wins over the environment
        assert isinstance(fastml.Ridge().fit(X, y).fingerprint_, Fingerprint)
    with pytest.raises(ValueError, match="fingerprint must be"):
        fastml.set_config(fingerprint="no")


def _fingerprint_arrays(fingerprint):
    state, arrays = fingerprint.to_state()
    return state, arrays


@pytest.mark.parametrize("name", ["Ridge", "LinearRegression", "Lasso", "RidgeCV", "PoissonRegressor",
                                  "LogisticRegression"])
def test_fingerprint_taken_alongside_a_small_fit_is_the_one_taken_after_it(name):
    """Small fits take the feature half of the fingerprint on a second thread while they run
    (drift._fingerprint.start_fingerprint); the result is the fingerprint of the same data and model
    taken afterwards, bit for bit, and with one fastml thread nothing runs alongside."""
    from fastml.drift._fingerprint import linear_scorer, start_fingerprint

    rng = np.random.default_rng(11)
    X = rng.standard_normal((700, 80))  # above MIN_VALUES_FOR_BACKGROUND
    X[:, 3] = rng.integers(0, 4, 700)  # a discrete column too
    y = X[:, 0] - X[:, 1]
    y = {"PoissonRegressor": np.exp(0.3 * y), "LogisticRegression": (y > 0).astype(int)}.get(name, y)
    make = {"Lasso": lambda: fastml.Lasso(0.05)}.get(name, getattr(fastml, name))
    pending = start_fingerprint(X, serial_fit_below=10 ** 9)
    assert (pending.cells is not None) == (fastml.get_n_threads() > 1)  # on the second thread
    model = make().fit(X, y)
    after = Fingerprint.from_data(X, scorer=linear_scorer(model))
    for fingerprint in (model.fingerprint_, pending.finish(model).fingerprint_):
        state, arrays = fingerprint.to_state()
        expected_state, expected_arrays = after.to_state()
        assert state == expected_state
        assert arrays.keys() == expected_arrays.keys()
        for name in arrays:
            np.testing.assert_array_equal(arrays[name], expected_arrays[name], err_msg=name)
    with fastml.config_context(n_threads=1):
        assert start_fingerprint(X, serial_fit_below=10 ** 9).cells is None


def test_fingerprint_alongside_every_fit_whose_passes_run_on_one_thread():
    """A Gram fit's passes run on one thread below two threads' worth of values (kernels._parallel.
    map_row_chunks); its fingerprint is taken on the second thread up to there, whatever the size of
    its subsample (10 000 x 100: ~4 ms of work beside a ~4 ms fit), and not beyond."""
    from fastml.drift._fingerprint import linear_scorer
    from fastml.kernels._parallel import MIN_VALUES_PER_THREAD
    from fastml.linear_model._base import start_fingerprint

    rng = np.random.default_rng(13)
    n_features = 100
    serial_rows = 2 * MIN_VALUES_PER_THREAD // n_features - 1
    X = rng.standard_normal((serial_rows, n_features))
    pending = start_fingerprint(X, gram=True)
    assert (pending.cells is not None) == (fastml.get_n_threads() > 1)
    model = fastml.Ridge().fit(X, X[:, 0])
    after = Fingerprint.from_data(X, scorer=linear_scorer(model))
    assert pending.finish(model).fingerprint_.to_state()[0] == after.to_state()[0]
    np.testing.assert_array_equal(model.fingerprint_.features.counts, after.features.counts)
    wider = rng.standard_normal((serial_rows + 1, n_features))
    assert start_fingerprint(wider, gram=True).cells is None  # the fit's own passes use both threads


def test_plain_sgd_fingerprint_taken_during_its_epochs_is_the_one_taken_after_them():
    """Plain SGD's epochs run on one thread at any size: its fingerprint's feature half goes to the
    second thread for a float ndarray X (for the other optimizers, whose minibatches may use both, only
    below SERIAL_WORK values)
    and must equal the fingerprint taken after the fit; other input (a list) is fingerprinted after."""
    from unittest import mock

    from fastml.drift import _fingerprint
    from fastml.drift._fingerprint import linear_scorer

    rng = np.random.default_rng(15)
    X = rng.standard_normal((6_000, 40))  # 2.4e5 values: above SERIAL_WORK (Adam's passes are threaded)
    y = (X[:, 0] + 0.3 * rng.standard_normal(6_000) > 0).astype(int)
    started = []
    original = _fingerprint.start_fingerprint

    def spy(*args, **kwargs):
        pending = original(*args, **kwargs)
        started.append(pending.cells is not None)
        return pending

    with mock.patch.object(_fingerprint, "start_fingerprint", spy):
        model = fastml.SGDClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)
        adam = fastml.SGDClassifier(optimizer="adam", max_iter=1, tol=None, random_state=0).fit(X, y)
        from_list = fastml.SGDRegressor(max_iter=2, tol=None, random_state=0).fit(X[:50].tolist(), X[:50, 0])
    assert started == [fastml.get_n_threads() > 1, False, False]
    after = Fingerprint.from_data(X, scorer=linear_scorer(model))
    assert model.fingerprint_.to_state()[0] == after.to_state()[0]
    np.testing.assert_array_equal(model.fingerprint_.features.counts, after.features.counts)
    assert isinstance(adam.fingerprint_, Fingerprint) and from_list.fingerprint_.n_samples == 50
    bad = X.copy()
    bad[11, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):  # the fit's error, with the fingerprint under way
        fastml.SGDClassifier(max_iter=1, tol=None).fit(bad, y)


def test_fit_failing_with_its_fingerprint_under_way_raises_and_leaves_no_work_behind():
    """X with NaN: the fit raises scikit-learn's error, not the fingerprint thread's; the next fit works."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((300, 5))
    y = X[:, 0]
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastml.Lasso(0.01).fit(bad, y)
    assert isinstance(fastml.Lasso(0.01).fit(X, y).fingerprint_, Fingerprint)


def _fit_in_child():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((1_000, 60))  # 6e4 values: the fingerprint on its second thread
    return fastml.Ridge().fit(X, X[:, 0]).fingerprint_.n_samples


def test_fingerprint_thread_survives_fork(run_in_forked_child):
    """A forked child inherits the fingerprint executor but not its thread: it must start its own
    (a task queued on the parent's would wait forever)."""
    from fastml.drift import _fingerprint

    rng = np.random.default_rng(14)
    X = rng.standard_normal((1_000, 60))
    fastml.Ridge().fit(X, X[:, 0])
    assert _fingerprint._background.current is not None or fastml.get_n_threads() == 1  # the parent's pool exists
    assert run_in_forked_child(_fit_in_child, timeout=120) == 1_000


def test_present_range_orders_every_float_like_numpy():
    """kernels.drift._present_range reduces integer keys of the bits: the min / max of the present
    values, whatever their signs, zeros, infinities, subnormals and NaN."""
    from numba import njit

    from fastml.kernels.drift import _present_range

    @njit
    def ranges(columns, n_rows):
        out = np.empty((columns.shape[0], 2))
        scratch = np.empty(2)
        for j in range(columns.shape[0]):
            out[j, 0], out[j, 1] = _present_range(columns[j], n_rows, scratch)
        return out

    rng = np.random.default_rng(15)
    n = 37
    columns = np.array([
        rng.standard_normal(n),
        -np.abs(rng.standard_normal(n)),  # all negative
        np.where(rng.random(n) < 0.5, 0.0, -0.0),
        np.r_[np.inf, rng.standard_normal(n - 2), -np.inf],
        np.r_[np.nan, 5e-324 * rng.integers(-3, 4, n - 1)],  # subnormals around zero
        np.r_[rng.standard_normal(n - 3), np.nan, -np.nan, np.nan],
        np.full(n, -7.5),
    ])
    got = ranges(columns, n)
    np.testing.assert_array_equal(got[:, 0], np.nanmin(columns, axis=1))
    np.testing.assert_array_equal(got[:, 1], np.nanmax(columns, axis=1))
    part = ranges(columns, 10)  # only the first n_rows values count
    np.testing.assert_array_equal(part[:, 0], np.nanmin(columns[:, :10], axis=1))


def test_check_drift_matches_frame_columns_by_name_and_refuses_infinity():
    """A frame's columns are matched by name, as predict does: reordered columns once gave false
    drift, renamed ones passed. An infinity has no cell and no moments: an error naming the feature
    (its statistics were NaN, the verdict 'no drift'). NaN stays a missing value."""
    import pandas as pd

    rng = np.random.default_rng(21)
    frame = pd.DataFrame(rng.standard_normal((500, 3)) * [1.0, 10.0, 100.0], columns=["a", "b", "c"])
    model = fastml.Ridge().fit(frame, frame["a"] + rng.standard_normal(500))
    reference = check_drift(model, frame)
    reordered = check_drift(model, frame[["c", "a", "b"]])
    assert not reordered.drift_detected
    np.testing.assert_allclose(reordered.to_frame()["p_value"], reference.to_frame()["p_value"])
    with pytest.raises(ValueError, match="missing \\['c'\\], unexpected \\['z'\\]"):
        check_drift(model, frame.rename(columns={"c": "z"}))
    bad = frame.to_numpy().copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"infinity in feature\(s\) \[1\]"):
        check_drift(model, bad)
    with pytest.raises(ValueError, match="infinity"):
        check_drift(model, sp.csr_matrix(bad))
    missing = frame.to_numpy().copy()
    missing[3, 1] = np.nan
    assert isinstance(check_drift(model, missing), DriftReport)
    assert check_drift(model, frame, alpha=np.float32(0.05)).alpha == pytest.approx(0.05)


def test_check_drift_takes_a_pipeline():
    """A Pipeline's fingerprint is its final estimator's, on the preprocessed data: check_drift applies
    the preprocessing (it answered "fitted with fingerprints switched off?")."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(22)
    X = rng.standard_normal((600, 4)) * 50 + 10
    pipeline = make_pipeline(StandardScaler(), fastml.Ridge()).fit(X, X[:, 0] + rng.standard_normal(600))
    assert not check_drift(pipeline, X).drift_detected
    shifted = X.copy()
    shifted[:, 2] += 100
    report = check_drift(pipeline, shifted, tests="chi2")
    assert report.drift_detected and report.drifted_features == ["x2"]
