"""Streaming detectors: false alarms on stationary streams of any scale, detection delay on abrupt and
gradual shifts (printed: run with -s), update vs update_many equivalence, and the DriftMonitor."""
import numpy as np
import pytest

import fastml
from fastml.drift import ADWIN, DDM, DriftMonitor, PageHinkley

N = 10_000
CHANGE = 5_000


def stream(kind, scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(N)
    if kind == "abrupt":
        x[CHANGE:] += 1.0
    elif kind == "gradual":  # the mean moves by 1 sigma over 1 000 values
        x[CHANGE:] += np.minimum(np.arange(N - CHANGE) / 1000.0, 1.0)
    return scale * x + 3.0 * scale


def summary(indices):
    false_alarms = int(np.sum(indices < CHANGE))
    after = indices[indices >= CHANGE]
    delay = int(after[0] - CHANGE) if after.size else None
    return false_alarms, delay


@pytest.mark.parametrize("detector", [PageHinkley, ADWIN])
def test_no_false_alarm_at_any_scale_and_bounded_delay(detector):
    for scale in (1e-3, 1.0, 1e3):
        stationary = detector().update_many(stream("none", scale, 0))
        abrupt = summary(detector().update_many(stream("abrupt", scale, 1)))
        gradual = summary(detector().update_many(stream("gradual", scale, 2)))
        print(f"\n{detector.__name__} scale {scale:g}: false alarms per 10 000 stationary values "
              f"{stationary.size}; abrupt 1 sigma shift: false alarms {abrupt[0]}, delay {abrupt[1]}; "
              f"gradual (1 sigma over 1 000): false alarms {gradual[0]}, delay {gradual[1]}")
        assert stationary.size == 0
        assert abrupt[0] == 0 and abrupt[1] is not None and abrupt[1] <= 200
        assert gradual[0] == 0 and gradual[1] is not None and gradual[1] <= 1200


def test_river_style_page_hinkley_defaults_would_false_alarm():
    """The motivation for standardizing: raw-units PH (river's delta=0.005, threshold=50) on unit noise."""
    x = np.random.default_rng(0).standard_normal(N)
    mean, total, low, alarms = 0.0, 0.0, 0.0, 0
    for t, value in enumerate(x, start=1):
        mean += (value - mean) / t
        total += value - mean - 0.005
        low = min(low, total)
        if total - low > 50:
            alarms, mean, total, low = alarms + 1, 0.0, 0.0, 0.0
    assert alarms > 0
    assert PageHinkley().update_many(x).size == 0


def test_ddm_on_error_indicators():
    rng = np.random.default_rng(3)
    stationary = (rng.random(N) < 0.1).astype(float)
    errors = stationary.copy()
    errors[CHANGE:] = rng.random(N - CHANGE) < 0.3
    false_stationary = DDM().update_many(stationary).size
    alarms, delay = summary(DDM().update_many(errors))
    print(f"\nDDM: false alarms per 10 000 stationary errors (p=0.1) {false_stationary}; "
          f"abrupt 0.1 -> 0.3: false alarms {alarms}, delay {delay}")
    assert false_stationary == 0 and alarms == 0 and delay is not None and delay <= 1000
    with pytest.raises(ValueError, match="0/1"):
        DDM().update(0.5)


@pytest.mark.parametrize("detector", [PageHinkley, ADWIN, DDM])
def test_update_and_update_many_continue_each_other(detector):
    values = stream("abrupt", 1.0, 4)
    if detector is DDM:
        values = (np.random.default_rng(4).random(N) < np.where(np.arange(N) < CHANGE, 0.1, 0.4)).astype(float)
    batch = detector().update_many(values)
    one_by_one = detector()
    flags = [one_by_one.update(v).drift_detected for v in values[:3000]]
    rest = one_by_one.update_many(values[3000:]) + 3000
    assert batch.size > 0
    np.testing.assert_array_equal(np.r_[np.flatnonzero(flags), rest], batch)
    whole = detector()
    whole.update_many(values)
    np.testing.assert_array_equal(one_by_one._state, whole._state)


def test_drift_detected_is_read_only():
    with pytest.raises(AttributeError):
        PageHinkley().drift_detected = True


def test_drift_monitor_history():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((5000, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    model = fastml.LogisticRegression().fit(X, y)
    monitor = DriftMonitor(model)
    for batch in range(3):
        X_b = rng.standard_normal((500, 4))
        monitor.update(X_b, (X_b[:, 0] - X_b[:, 1] > 0).astype(int))
        assert not monitor.drift_detected
    X_b = rng.standard_normal((500, 4))
    X_b[:, 2] += 1.0
    monitor.update(X_b)
    assert monitor.drift_detected and monitor.history[-1]["drifted_features"] == ["x2"]
    frame = monitor.history_frame()
    assert list(frame["drift_detected"]) == [False, False, False, True] and frame["labels"].sum() == 3
    assert frame["error_rate"].iloc[0] < 0.1
    pooled = DriftMonitor(model, window=1000)
    pooled.update(rng.standard_normal((600, 4)))
    pooled.update(rng.standard_normal((600, 4)))
    assert [row["checked"] for row in pooled.history] == [False, True]


def test_drift_monitor_rejects_a_bad_batch_and_keeps_its_state():
    """A batch of the wrong width was pooled before it was checked, and every later update of a
    windowed monitor then failed in numpy's concatenate; a CSR batch then a dense one too; labels of
    shape (n, 1) broadcast against the predictions (an error rate over n * n pairs)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(9)
    X = rng.standard_normal((500, 3))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    model = fastml.LogisticRegression().fit(X, labels)
    monitor = DriftMonitor(model, window=150)
    monitor.update(X[:100])
    with pytest.raises(ValueError, match="2 features, the fingerprint has 3"):
        monitor.update(X[:60, :2])
    with pytest.raises(ValueError, match="infinity"):
        monitor.update(np.where(np.arange(3) == 1, np.inf, X[:10]))
    with pytest.raises(ValueError, match="one label per row"):
        monitor.update(X[:100], labels[:50])
    assert len(monitor.history) == 1
    monitor.update(sp.csr_matrix(X[100:200]))  # 200 pooled rows, one of them sparse: checked
    assert [row["checked"] for row in monitor.history] == [False, True]
    column = DriftMonitor(model).update(X[:100], labels[:100].reshape(-1, 1))
    expected = np.mean(model.predict(X[:100]) != labels[:100])
    assert column.history[-1]["error_rate"] == expected and column.error_detector.n_seen == 100
    for bad in (dict(alpha=5), dict(alpha=0.0), dict(window=0), dict(window=2.5)):
        with pytest.raises(ValueError):
            DriftMonitor(model, **bad)
    assert DriftMonitor(model, window=np.int64(100), alpha=np.float32(0.05)).window == 100


def test_detector_counts_must_be_whole_numbers():
    for make in (lambda: DDM(warm_start=2.7), lambda: PageHinkley(min_instances=2.5), lambda: ADWIN(clock=1.5),
                 lambda: DDM(warm_start=True), lambda: DDM(warm_start=float("inf"))):
        with pytest.raises(ValueError, match="whole number"):
            make()
    assert DDM(warm_start=np.int64(30)).settings.warm_start == 30 and PageHinkley(min_instances=5.0)
