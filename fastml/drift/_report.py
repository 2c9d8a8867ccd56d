"""``DriftReport``: the per-feature table and the verdict of one ``check_drift`` call."""
import numpy as np

RULE = ("drift_detected = any Holm-adjusted p-value (over the features and the score columns together) "
        "< alpha; family-wise false-positive rate <= alpha")


class DriftReport:
    """Result of :func:`fastml.check_drift`.

    Attributes
    ----------
    rows : list of dict
        One per feature, then one per score column (``role`` "prediction"): test used, statistic,
        p-value, Holm-adjusted p-value, ``drifted``, PSI, Jensen-Shannon distance, Wasserstein distance,
        KS and chi2 statistics with p-values, reference and new means/stds and missing shares.
    alpha, n_samples, n_reference
    drift_detected : bool
        See :data:`RULE`.
    share_drifted : float
        Share of features (not score columns) flagged as drifted.
    prediction_drift : bool or None
        Whether a score column is flagged (None when the scores were not checked).
    """

    rule = RULE

    def __init__(self, rows, *, alpha, n_samples, n_reference):
        self.rows = rows
        self.alpha = float(alpha)
        self.n_samples = int(n_samples)
        self.n_reference = int(n_reference)

    @property
    def feature_rows(self):
        return [row for row in self.rows if row["role"] == "feature"]

    @property
    def drift_detected(self):
        return any(row["drifted"] for row in self.rows)

    @property
    def drifted_features(self):
        return [row["feature"] for row in self.feature_rows if row["drifted"]]

    @property
    def share_drifted(self):
        features = self.feature_rows
        return float(np.mean([row["drifted"] for row in features])) if features else 0.0

    @property
    def prediction_drift(self):
        scores = [row for row in self.rows if row["role"] == "prediction"]
        return any(row["drifted"] for row in scores) if scores else None

    def to_dict(self):
        return {"drift_detected": self.drift_detected, "alpha": self.alpha, "rule": self.rule,
                "n_samples": self.n_samples, "n_reference": self.n_reference,
                "share_drifted": self.share_drifted, "drifted_features": self.drifted_features,
                "prediction_drift": self.prediction_drift, "features": [dict(row) for row in self.rows]}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("feature")

    def __str__(self):
        head = (f"DriftReport: drift {'DETECTED' if self.drift_detected else 'not detected'} "
                f"(alpha={self.alpha}, {self.n_samples} new rows vs {self.n_reference} reference rows)\n"
                f"  drifted features: {len(self.drifted_features)}/{len(self.feature_rows)} "
                f"({self.share_drifted:.1%}); prediction drift: {self.prediction_drift}\n"
                f"  rule: {self.rule}\n")
        lines = [f"  {'feature':<16}{'kind':<11}{'test':<6}{'statistic':>11}{'p':>10}{'p_holm':>10}"
                 f"{'psi':>8}{'js':>7}  drifted"]
        shown = sorted(self.rows, key=lambda row: row["p_value"])[:20]
        for row in shown:
            lines.append(f"  {str(row['feature'])[:15]:<16}{row['kind']:<11}{row['test']:<6}"
                         f"{row['statistic']:>11.4g}{row['p_value']:>10.3g}{row['p_adjusted']:>10.3g}"
                         f"{row['psi']:>8.3f}{row['js_distance']:>7.3f}  {'yes' if row['drifted'] else ''}")
        if len(self.rows) > len(shown):
            lines.append(f"  ... {len(self.rows) - len(shown)} more rows (smallest p-values shown)")
        return head + "\n".join(lines)

    def __repr__(self):
        return (f"DriftReport(drift_detected={self.drift_detected}, share_drifted={self.share_drifted:.3f}, "
                f"prediction_drift={self.prediction_drift}, n_samples={self.n_samples})")
