"""Drift: reference fingerprints, batch checks, streaming detectors and a batch monitor.

``Fingerprint`` is recorded by every fastml estimator at ``fit`` (``fingerprint_``); ``check_drift``
tests new rows against it; ``PageHinkley``, ``ADWIN`` and ``DDM`` watch a stream value by value;
``DriftMonitor`` joins them for batches of inputs and labels.
"""
from ._check import check_drift
from ._fingerprint import Fingerprint, record_fingerprint
from ._monitor import DriftMonitor
from ._report import DriftReport
from ._streaming import ADWIN, DDM, PageHinkley

__all__ = ["ADWIN", "DDM", "DriftMonitor", "DriftReport", "Fingerprint", "PageHinkley", "check_drift",
           "record_fingerprint"]
