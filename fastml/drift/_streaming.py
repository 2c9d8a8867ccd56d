"""Streaming drift detectors shaped like river's: ``update(x)`` returns self, ``drift_detected`` is
read-only and True only at the value where a change was detected (the detector then restarts).

Design: the whole state lives in NumPy arrays handed to the compiled loops of ``kernels.drift``;
``update(x)`` runs the same kernel on one value, so ``update`` and ``update_many`` continue each other
exactly. Settings are frozen dataclasses checked at construction.
"""
from dataclasses import dataclass

import numbers

import numpy as np


def _values(values):
    array = np.ascontiguousarray(np.ravel(np.asarray(values, dtype=np.float64)))
    if not np.isfinite(array).all():
        raise ValueError("values must be finite")
    return array


class _Detector:
    def __init__(self):
        self._drift = False
        self.n_detections = 0
        self.n_seen = 0

    @property
    def drift_detected(self):
        """True when the last value given to ``update`` (or the last of ``update_many``) was a detection."""
        return self._drift

    def update(self, x):
        """Consume one value; returns self (check ``drift_detected``)."""
        self._consume(_values([x]))
        return self

    def update_many(self, values):
        """Consume ``values`` in order with the compiled loop; returns the indices (into ``values``) where
        a drift was detected."""
        return self._consume(_values(values))

    def _consume(self, values):
        detections = np.empty(values.shape[0], dtype=np.int64)
        count = self._run(values, detections)
        found = detections[:count].copy()
        self._drift = bool(count) and found[-1] == values.shape[0] - 1
        self.n_detections += count
        self.n_seen += values.shape[0]
        return found


def _count(value, name):
    """A whole-number setting as an int; 2.7 was truncated to 2 (and 2.5 accepted) silently."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value)
            or value != int(value)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class PageHinkleySettings:
    min_instances: int = 30
    delta: float = 0.2
    threshold: float = 30.0
    mode: str = "both"

    def __post_init__(self):
        if self.min_instances < 2:
            raise ValueError(f"min_instances must be >= 2, got {self.min_instances}")
        if not self.delta >= 0 or not self.threshold > 0:
            raise ValueError("delta must be >= 0 and threshold > 0")
        if self.mode not in ("both", "up", "down"):
            raise ValueError(f"mode must be 'both', 'up' or 'down', got {self.mode!r}")


class PageHinkley(_Detector):
    """Page-Hinkley change detector, scale-free.

    Each value is standardized by the running mean and standard deviation of the values before it, so
    ``delta`` (the smallest change of the mean worth detecting) and ``threshold`` are in units of the
    stream's own standard deviation: the defaults behave the same on a stream of scale 1e-3 or 1e3
    (river's are in the stream's units and false-alarm on unit-variance noise). With ``delta=0.2`` and
    ``threshold=30`` the in-control run length is about 10^6 values; a 1 sigma shift is found after
    about 40.
    """

    def __init__(self, min_instances=30, delta=0.2, threshold=30.0, mode="both"):
        super().__init__()
        self.settings = PageHinkleySettings(_count(min_instances, "min_instances"), float(delta), float(threshold),
                                            mode)
        self._state = np.zeros(8)

    def _run(self, values, detections):
        from fastml.kernels.drift import page_hinkley_update_many

        s = self.settings
        mode = {"both": 0, "up": 1, "down": 2}[s.mode]
        return page_hinkley_update_many(self._state, values, float(s.min_instances), s.delta, s.threshold, mode,
                                        detections)


@dataclass(frozen=True)
class DDMSettings:
    warm_start: int = 100
    warning_threshold: float = 2.0
    drift_threshold: float = 4.0

    def __post_init__(self):
        if self.warm_start < 1 or not 0 < self.warning_threshold <= self.drift_threshold:
            raise ValueError("need warm_start >= 1 and 0 < warning_threshold <= drift_threshold")


class DDM(_Detector):
    """Drift Detection Method (Gama et al., 2004) on a stream of 0/1 error indicators.

    Defaults differ from river's (warm_start 30, drift_threshold 3), which false-alarm about 0.4-0.7 times
    per 10 000 stationary values (measured at error rates 0.1 and 0.3); with ``warm_start=100`` and
    ``drift_threshold=4`` (and ``s`` from the Agresti-Coull estimate) about 0.05, at the cost of a longer
    delay (median ~500 values for an error rate going from 0.1 to 0.3).
    """

    def __init__(self, warm_start=100, warning_threshold=2.0, drift_threshold=4.0):
        super().__init__()
        self.settings = DDMSettings(_count(warm_start, "warm_start"), float(warning_threshold), float(drift_threshold))
        self._state = np.array([0.0, 0.0, np.inf, np.inf, np.inf, 0.0])

    @property
    def warning_detected(self):
        return bool(self._state[5])

    def _consume(self, values):
        if not np.isin(values, (0.0, 1.0)).all():
            raise ValueError("DDM takes 0/1 error indicators")
        return super()._consume(values)

    def _run(self, values, detections):
        from fastml.kernels.drift import ddm_update_many

        s = self.settings
        return ddm_update_many(self._state, values, float(s.warm_start), s.warning_threshold, s.drift_threshold,
                               detections)


@dataclass(frozen=True)
class ADWINSettings:
    delta: float = 0.002
    clock: int = 32
    max_buckets: int = 5
    min_window_length: int = 5
    grace_period: int = 10

    def __post_init__(self):
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta}")
        if self.clock < 1 or self.max_buckets < 2 or self.min_window_length < 1 or self.grace_period < 1:
            raise ValueError("clock, min_window_length and grace_period must be >= 1, max_buckets >= 2")


class ADWIN(_Detector):
    """ADaptive WINdowing (Bifet & Gavaldà, 2007): keeps the longest recent window whose two parts have
    statistically equal means; a cut is a detection. Scale-free (the Bernstein range term is taken as
    three standard deviations of the window). ``width`` and ``estimation`` (the window mean) as river."""

    MAX_LEVELS = 64

    def __init__(self, delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10):
        super().__init__()
        self.settings = ADWINSettings(float(delta), _count(clock, "clock"), _count(max_buckets, "max_buckets"),
                                      _count(min_window_length, "min_window_length"),
                                      _count(grace_period, "grace_period"))
        self._state = np.zeros(5)
        self._totals = np.zeros((self.MAX_LEVELS, self.settings.max_buckets + 1))
        self._variances = np.zeros((self.MAX_LEVELS, self.settings.max_buckets + 1))
        self._counts = np.zeros(self.MAX_LEVELS, dtype=np.int64)

    @property
    def width(self):
        return int(self._state[0])

    @property
    def estimation(self):
        return float(self._state[1] / self._state[0]) if self._state[0] else 0.0

    def _run(self, values, detections):
        from fastml.kernels.drift import adwin_update_many

        s = self.settings
        return adwin_update_many(self._state, self._totals, self._variances, self._counts, values, s.delta,
                                 float(s.clock), s.max_buckets, float(s.min_window_length), float(s.grace_period),
                                 detections)
