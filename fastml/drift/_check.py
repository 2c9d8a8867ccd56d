"""``check_drift``: test a batch of new rows against a stored fingerprint, feature by feature.

Design: one compiled pass counts the new rows in the reference's cells (``kernels.drift``); every
statistic then comes from two count vectors per feature, so 1e6 x 100 costs one pass over ``X``.

Calibration. The reference is a finite sample (``n_reference`` rows), not the population, and its bin
edges are its own quantiles. Treating the reference frequencies as exact makes the tests reject too
often (at n = 10 000 against 20 000 reference rows the chi-square statistic is 1.5x too large). The
population mass of a cell between reference quantiles is a Dirichlet spacing with variance
p (1 - p) / n_reference, exactly the variance of a second multinomial sample, so both tests are run as
*two-sample* tests:

* chi2 - the two-sample homogeneity chi-square on the cell counts (cells whose expected new count is
  below 5 are pooled, so that small windows stay calibrated), df = cells - 1;
* ks - the two-sample Kolmogorov-Smirnov statistic evaluated at the reference's decile edges, where
  the reference CDF is known exactly; its null law is the maximum of |Brownian bridge| at those nine
  levels, scaled by sqrt(n m / (n + m)), tabulated once by simulation (200 000 draws, seeded) and
  extended into the far tail by the union bound (an upper bound of the p-value).

Test choice ("auto"): discrete features -> chi2; continuous features with the nine decile edges -> ks
for windows under 1 000 rows (cumulative, more power against shifts on few rows), chi2 from 1 000 rows
on (sensitive to any change of shape); continuous features whose edges were deduplicated -> chi2.

Verdict: the p-values of the features and of the score columns form one family, adjusted by Holm's
step-down method; ``drift_detected`` is True when any adjusted p-value is below ``alpha``, so the
family-wise false-positive rate is at most ``alpha``. PSI, Jensen-Shannon distance and Wasserstein
distance are reported as effect sizes, not tested.
"""
import numbers

import numpy as np
import scipy.sparse as sp
from scipy import stats as st

from ._fingerprint import Fingerprint, linear_scorer
from ._report import DriftReport

KS_SWITCH_ROWS = 1000
MIN_EXPECTED = 5.0
_DECILES = np.arange(1, 10) / 10.0
_KS_NULL = None


def _ks_null_table():
    """Sorted draws of max_j |B(t_j)| for a Brownian bridge B at the deciles (cached, seeded)."""
    global _KS_NULL
    if _KS_NULL is None:
        rng = np.random.default_rng(20240501)
        increments = rng.standard_normal((200_000, 10)) * np.sqrt(0.1)
        walk = np.cumsum(increments, axis=1)
        bridge = walk[:, :9] - _DECILES * walk[:, 9:10]
        _KS_NULL = np.sort(np.abs(bridge).max(axis=1))
    return _KS_NULL


def _ks_p_value(scaled):
    table = _ks_null_table()
    exceed = table.size - np.searchsorted(table, scaled, side="left")
    if exceed >= 50:
        return (exceed + 1.0) / (table.size + 1.0)
    sd = np.sqrt(_DECILES * (1 - _DECILES))
    return float(min(1.0, 2.0 * st.norm.sf(scaled / sd).sum()))


def _batch_counts(X, block):
    from fastml.kernels.drift import bin_counts_csr, bin_counts_dense
    from fastml.kernels._jit import call_parallel
    from fastml._config import get_n_threads

    if sp.issparse(X):
        X = X.tocsr()
        return bin_counts_csr(X.data, X.indices, X.indptr, X.shape[1], block.values, block.n_values,
                              block.discrete)
    threads = get_n_threads()
    serial = threads == 1 or X.shape[0] * X.shape[1] < 200_000
    return call_parallel(bin_counts_dense, X, block.values, block.n_values, block.discrete, threads,
                         serial=serial)


def _test_block(block, new_counts, new_moments, names, role, tests, n_reference):
    rows = []
    n_cells = block.counts.shape[1]
    for j in range(block.n_columns):
        ref = block.counts[j]
        new = new_counts[j]
        n = new.sum()
        m = ref.sum()
        k = int(block.n_values[j])
        discrete = bool(block.discrete[j])
        used = np.r_[np.arange(k + 1), n_cells - 1]
        ref_cells, new_cells = ref[used], new[used]
        chi2, chi2_p, df = _chi2_two_sample(ref_cells, new_cells)
        ks, ks_p = np.nan, np.nan
        deciles = (not discrete and k == 9
                   and np.allclose(np.cumsum(ref[:9]) / max(ref[: k + 1].sum(), 1), _DECILES, atol=0.02))
        n_present = new[: k + 1].sum()
        m_present = ref[: k + 1].sum()
        if deciles and n_present > 0:
            gap = np.abs(np.cumsum(new[:9]) / n_present - np.cumsum(ref[:9]) / m_present).max()
            ks = float(gap)
            ks_p = _ks_p_value(gap * np.sqrt(n_present * m_present / (n_present + m_present)))
        if discrete or not deciles:
            test = "chi2"
        elif tests == "auto":
            test = "ks" if n < KS_SWITCH_ROWS else "chi2"
        else:
            test = tests
        if test == "ks" and new[n_cells - 1] > 0 and ref[n_cells - 1] == 0:
            test = "chi2"  # missing values appeared: KS ignores them, chi2 has a missing cell
        p_value = ks_p if test == "ks" else chi2_p
        statistic = ks if test == "ks" else chi2
        p_ref = ref_cells / max(m, 1)
        p_new = new_cells / max(n, 1)
        eps = 1e-4
        a, b = np.clip(p_new, eps, None), np.clip(p_ref, eps, None)
        psi = float(np.sum((a - b) * np.log(a / b)))
        js = float(_js_distance(p_ref, p_new))
        mean_new = new_moments[j, 0] / n_present if n_present else np.nan
        var_new = new_moments[j, 1] / n_present - mean_new ** 2 if n_present else np.nan
        rows.append({
            "feature": names[j], "role": role, "kind": "discrete" if discrete else "continuous", "test": test,
            "statistic": float(statistic), "p_value": float(p_value), "psi": psi, "js_distance": js,
            "wasserstein": _wasserstein(block, j, ref, new) if not discrete else np.nan,
            "ks_statistic": ks, "ks_p_value": float(ks_p), "chi2_statistic": chi2, "chi2_p_value": chi2_p,
            "chi2_df": df, "mean_reference": float(block.stats[j, 0]), "mean_new": float(mean_new),
            "std_reference": float(block.stats[j, 1]), "std_new": float(np.sqrt(max(var_new, 0.0))),
            "missing_reference": float(block.stats[j, 4]), "missing_new": float(new[n_cells - 1] / max(n, 1)),
        })
    return rows


def _chi2_two_sample(ref, new):
    """Two-sample homogeneity chi-square; cells with an expected new count under 5 are pooled."""
    n, m = new.sum(), ref.sum()
    if n == 0 or m == 0:
        return np.nan, 1.0, 0
    keep = (ref + new) > 0
    ref, new = ref[keep], new[keep]
    expected_new = n * (ref + new) / (n + m)
    small = expected_new < MIN_EXPECTED
    if small.any() and (~small).any():
        ref = np.r_[ref[~small], ref[small].sum()]
        new = np.r_[new[~small], new[small].sum()]
    if ref.size < 2:
        return 0.0, 1.0, 0
    statistic = float(n * m * np.sum((new / n - ref / m) ** 2 / (new + ref)))
    df = ref.size - 1
    return statistic, float(st.chi2.sf(statistic, df)), int(df)


def _js_distance(p, q):
    mix = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mix), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mix), 0.0).sum()
    return np.sqrt(max(0.5 * (kl_p + kl_q), 0.0))


def _wasserstein(block, j, ref, new):
    """W1 between the piecewise-linear CDFs through the reference's edges and range (approximate)."""
    k = int(block.n_values[j])
    lo, hi = block.stats[j, 2], block.stats[j, 3]
    grid = np.r_[lo, block.values[j, :k], hi]
    n_present, m_present = new[: k + 1].sum(), ref[: k + 1].sum()
    if n_present == 0 or m_present == 0:
        return np.nan
    f_new = np.r_[0.0, np.cumsum(new[: k + 1]) / n_present]
    f_ref = np.r_[0.0, np.cumsum(ref[: k + 1]) / m_present]
    gap = np.abs(f_new - f_ref)
    return float(np.sum(0.5 * (gap[1:] + gap[:-1]) * np.diff(grid)))


def _holm(p_values):
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def _resolve(model_or_fingerprint, model):
    if isinstance(model_or_fingerprint, Fingerprint):
        return model_or_fingerprint, model
    fingerprint = getattr(model_or_fingerprint, "fingerprint_", None)
    if not isinstance(fingerprint, Fingerprint):
        hint = ""
        if hasattr(model_or_fingerprint, "n_features_in_"):
            hint = (" (a fitted estimator without one: fitted with fingerprints switched off, "
                    "fastml.set_config(fingerprint=False) or FASTML_FINGERPRINT=0?)")
        raise TypeError("check_drift needs a Fingerprint or a fitted fastml estimator with a fingerprint_, got "
                        f"{type(model_or_fingerprint).__name__}{hint}")
    return fingerprint, model_or_fingerprint if model is None else model


def _aligned_by_name(X_new, feature_names):
    """A data frame's columns in the fingerprint's order (by name, as ``predict`` matches them): a
    reordered frame was compared column by column with the wrong features (false drift), and a renamed
    one accepted."""
    columns = getattr(X_new, "columns", None)
    if columns is None or feature_names is None or isinstance(X_new, np.ndarray):
        return X_new
    given = [str(name) for name in columns]
    if given == list(feature_names):
        return X_new
    missing = [name for name in feature_names if name not in given]
    unexpected = [name for name in given if name not in feature_names]
    if missing or unexpected or len(given) != len(feature_names):
        raise ValueError(f"X_new's columns do not match the fingerprint's features: missing {missing}, "
                         f"unexpected {unexpected}")
    return X_new[[columns[given.index(name)] for name in feature_names]]  # pandas and polars alike


def _as_matrix(X_new, n_features):
    if sp.issparse(X_new):
        X = X_new.tocsr()
    else:
        X = np.asarray(X_new)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if X.ndim != 2:
            raise ValueError(f"X_new must be 2-D, got shape {X.shape}")
    if X.shape[1] != n_features:
        raise ValueError(f"X_new has {X.shape[1]} features, the fingerprint has {n_features}")
    if X.shape[0] < 1:
        raise ValueError("X_new has no rows")
    return X


def reject_infinity(X, moments=None):
    """Raise ValueError naming the features of ``X`` that hold an infinity. NaN is a missing value (a
    cell of its own); an infinity has no cell and made the statistics NaN and the verdict "no drift".
    With ``moments`` (the batch counts' min / max per feature) no pass over ``X`` is needed."""
    if moments is not None:
        infinite = np.flatnonzero(np.isinf(moments[:, 2]) | np.isinf(moments[:, 3]))
    elif sp.issparse(X):
        infinite = np.unique(X.indices[np.isinf(X.data)])
    else:
        infinite = np.flatnonzero(np.isinf(X).any(axis=0))
    if infinite.size:
        raise ValueError(f"X_new contains infinity in feature(s) {infinite[:10].tolist()}")


def check_drift(model_or_fingerprint, X_new, *, alpha=0.05, tests="auto", model=None):
    """Test ``X_new`` (and the model's scores on it) against the reference fingerprint.

    Parameters
    ----------
    model_or_fingerprint : fitted fastml estimator, Pipeline ending in one, or Fingerprint
        A Pipeline's preprocessing is applied to ``X_new`` first: its final estimator recorded the
        fingerprint on the data it was fitted on (``fastml.tabular.check_model_drift``).
    X_new : {array-like, sparse matrix} of shape (n_samples, n_features)
    alpha : float, default 0.05
        Family-wise false-positive rate of the verdict (Holm over features and score columns).
    tests : {"auto", "chi2", "ks"}
        Test of the continuous features ("auto": ks under 1 000 rows, chi2 from there; discrete
        features always use chi2).
    model : estimator, optional
        Scores ``X_new`` for prediction drift when a bare Fingerprint is given.

    Returns
    -------
    DriftReport
    """
    if tests not in ("auto", "chi2", "ks"):
        raise ValueError(f"tests must be 'auto', 'chi2' or 'ks', got {tests!r}")
    if isinstance(alpha, bool) or not (isinstance(alpha, numbers.Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if model is None and isinstance(getattr(model_or_fingerprint, "steps", None), list):
        from ..tabular import check_model_drift  # (a Pipeline once got "fingerprints switched off?")

        return check_model_drift(model_or_fingerprint, X_new, alpha=alpha, tests=tests)
    fingerprint, model = _resolve(model_or_fingerprint, model)
    X = _as_matrix(_aligned_by_name(X_new, fingerprint.feature_names), fingerprint.n_features)
    names = fingerprint.feature_names or [f"x{j}" for j in range(fingerprint.n_features)]
    rows = []
    if fingerprint.features.n_columns:  # very wide data keeps only the score fingerprint (MAX_FEATURES)
        counts, moments = _batch_counts(X, fingerprint.features)
        reject_infinity(X, moments)
        rows = _test_block(fingerprint.features, counts, moments, names, "feature", tests, fingerprint.n_reference)
    else:
        reject_infinity(X)
    scorer = linear_scorer(model) if model is not None else None
    if fingerprint.scores is not None and scorer is not None:
        scores = np.asarray(scorer(X), dtype=np.float64).reshape(X.shape[0], -1)
        if scores.shape[1] == fingerprint.scores.n_columns:
            s_counts, s_moments = _batch_counts(np.ascontiguousarray(scores), fingerprint.scores)
            score_names = ["score"] if scores.shape[1] == 1 else [f"score[{k}]" for k in range(scores.shape[1])]
            rows += _test_block(fingerprint.scores, s_counts, s_moments, score_names, "prediction", tests,
                                fingerprint.n_reference)
    adjusted = _holm([row["p_value"] for row in rows])
    for row, p_adj in zip(rows, adjusted):
        row["p_adjusted"] = float(p_adj)
        row["drifted"] = bool(p_adj < alpha)
    return DriftReport(rows, alpha=alpha, n_samples=X.shape[0], n_reference=fingerprint.n_reference)
