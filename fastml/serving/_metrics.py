"""Server metrics in the Prometheus text exposition format (version 0.0.4), without a client library.

Design: request counters and the latency histogram are plain dicts updated under one lock (an update is a
few dict operations; requests run in many threads). The drift gauges are computed at scrape time, not per
request: the served rows go into a bounded window, and ``/metrics`` runs :func:`fastml.check_drift` on the
window (after the pipeline's preprocessing, since the fingerprint describes what the final estimator saw)
only when rows came in since the last scrape.
"""
import collections
import math
import threading

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


class RequestMetrics:
    """Request counts by path, method and status; latency histogram by path; rows scored."""

    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self._lock = threading.Lock()
        self._requests = collections.Counter()
        self._histograms = {}
        self.rows_scored = 0

    def observe(self, path, method, status, seconds):
        with self._lock:
            self._requests[(path, method, status)] += 1
            counts, total = self._histograms.get(path, ([0] * (len(self.buckets) + 1), 0.0))
            for k, bound in enumerate(self.buckets):
                if seconds <= bound:
                    counts[k] += 1
                    break
            else:
                counts[-1] += 1
            self._histograms[path] = (counts, total + seconds)

    def add_rows(self, n_rows):
        with self._lock:
            self.rows_scored += n_rows

    def render(self):
        with self._lock:
            requests = sorted(self._requests.items())
            histograms = {path: (list(c), t) for path, (c, t) in sorted(self._histograms.items())}
            rows = self.rows_scored
        lines = ["# HELP fastml_requests_total HTTP requests by path, method and status code.",
                 "# TYPE fastml_requests_total counter"]
        for (path, method, status), count in requests:
            lines.append(f'fastml_requests_total{{path="{_label(path)}",method="{method}",status="{status}"}} '
                         f"{count}")
        lines += ["# HELP fastml_request_duration_seconds Request latency in seconds, by path.",
                  "# TYPE fastml_request_duration_seconds histogram"]
        for path, (counts, total) in histograms.items():
            cumulative = 0
            for bound, count in zip(self.buckets + (math.inf,), counts):
                cumulative += count
                lines.append(f'fastml_request_duration_seconds_bucket{{path="{_label(path)}",le="{_number(bound)}"}} '
                             f"{cumulative}")
            lines.append(f'fastml_request_duration_seconds_sum{{path="{_label(path)}"}} {_number(total)}')
            lines.append(f'fastml_request_duration_seconds_count{{path="{_label(path)}"}} {cumulative}')
        lines += ["# HELP fastml_rows_scored_total Rows scored by /predict and /invocations.",
                  "# TYPE fastml_rows_scored_total counter", f"fastml_rows_scored_total {rows}"]
        return lines


class DriftWindow:
    """The last ``size`` served rows and their drift against the final estimator's ``fingerprint_``.

    ``report()`` returns the latest :class:`fastml.drift.DriftReport` (or None when the window holds fewer
    than ``min_rows`` rows); it is recomputed only when rows came in since the last call.
    """

    def __init__(self, model, final, size, min_rows):
        self.model = model
        self.final = final
        self.size = size
        self.min_rows = max(1, min_rows)
        self._batches = collections.deque()
        self._n_rows = 0
        self._version = 0
        self._report = (None, None)  # (version it was computed at, report)
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()

    def add(self, X):
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        if n >= self.size:
            X, n = X[-self.size:], self.size
        with self._lock:
            self._batches.append(X)
            self._n_rows += n
            while self._n_rows - _length(self._batches[0]) >= self.size:
                self._n_rows -= _length(self._batches.popleft())
            self._version += 1

    @property
    def n_rows(self):
        return min(self._n_rows, self.size)

    def _features(self, batches):
        """The window as the final estimator sees it: through the pipeline's preprocessing steps."""
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp

        first = batches[0]
        if isinstance(first, pd.DataFrame):
            X = pd.concat(batches, ignore_index=True)
        elif isinstance(first, list):
            X = [text for batch in batches for text in batch]
        else:
            X = np.vstack(batches)
        X = X[-self.size:] if not isinstance(X, pd.DataFrame) else X.iloc[-self.size:]
        if self.model is not self.final:
            X = self.model[:-1].transform(X)
        return X.tocsr() if sp.issparse(X) else np.asarray(X, dtype=np.float64)

    def report(self):
        from fastml.drift import check_drift

        with self._compute_lock:
            with self._lock:
                version, batches, n_rows = self._version, list(self._batches), self._n_rows
            if n_rows < self.min_rows:
                return None
            if self._report[0] != version:
                self._report = (version, check_drift(self.final, self._features(batches)))
            return self._report[1]

    def render(self):
        report = self.report()
        lines = ["# HELP fastml_drift_window_rows Served rows in the drift window.",
                 "# TYPE fastml_drift_window_rows gauge", f"fastml_drift_window_rows {self.n_rows}"]
        if report is None:
            return lines
        lines += ["# HELP fastml_feature_drift_psi Population stability index of the drift window against the "
                  "training fingerprint, per feature (and per score column, role=prediction).",
                  "# TYPE fastml_feature_drift_psi gauge"]
        for row in report.rows:
            lines.append(f'fastml_feature_drift_psi{{feature="{_label(row["feature"])}",role="{row["role"]}"}} '
                         f"{_number(float(row['psi']))}")
        lines += ["# HELP fastml_feature_drift_p_value Holm-adjusted p-value of the drift test, per feature.",
                  "# TYPE fastml_feature_drift_p_value gauge"]
        for row in report.rows:
            lines.append(f'fastml_feature_drift_p_value{{feature="{_label(row["feature"])}",role="{row["role"]}"}} '
                         f"{_number(float(row['p_adjusted']))}")
        lines += ["# HELP fastml_drift_detected 1 when fastml.check_drift flags the window (family-wise alpha "
                  f"{report.alpha}).", "# TYPE fastml_drift_detected gauge",
                  f"fastml_drift_detected {int(report.drift_detected)}"]
        return lines


def _length(batch):
    return batch.shape[0] if hasattr(batch, "shape") else len(batch)
