"""Plain-text form of a report (``str(report)``): aligned, a few lines per section."""
import math

MAX_TABLE_ROWS = 10


def _number(value, width=10):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a".rjust(width)
    if isinstance(value, float):
        return f"{value:{width}.4f}" if abs(value) < 1e6 else f"{value:{width}.4g}"
    return str(value).rjust(width)


def _table(header, rows, first_width=None):
    """Rows of cells -> aligned lines; the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header]] + [[c if isinstance(c, str) else _number(c).strip() for c in row]
                                          for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    if first_width:
        widths[0] = max(widths[0], first_width)
    return ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in cells]


def _metric_lines(report):
    if report.cv is None:
        return _table(["metric", "value"], [[name, value] for name, value in report.metrics.items()])
    rows = [[name, report.metrics.get(name), report.cv["mean"].get(name), report.cv["std"].get(name)]
            for name in report.metrics]
    return _table(["metric", "value", "cv mean", "cv std"], rows)


def format_report(report):
    lines = [f"{type(report).__name__}: {report.model_name} on {report.n_samples} rows ({report.evaluated_on})",
             "", "Metrics", *_metric_lines(report)]
    if getattr(report, "per_class", None):
        lines += ["", "Per class"]
        lines += _table(["class", "precision", "recall", "f1", "support"],
                        [[str(r["class"]), r["precision"], r["recall"], r["f1"], r["support"]]
                         for r in report.per_class[:MAX_TABLE_ROWS]])
    if getattr(report, "confusion_matrix", None):
        labels = [str(c) for c in report.confusion_matrix["labels"]]
        if len(labels) <= MAX_TABLE_ROWS:
            lines += ["", "Confusion matrix (rows: true, columns: predicted)"]
            lines += _table(["true \\ pred", *labels],
                            [[label, *row] for label, row in zip(labels, report.confusion_matrix["matrix"])])
    calibration = getattr(report, "calibration", None)
    if calibration:
        lines += ["", f"Calibration ({calibration['kind']}, {calibration['n_bins']} bins): "
                      f"Brier {_number(calibration['brier_score']).strip()}, "
                      f"ECE {_number(calibration['ece']).strip()}, MCE {_number(calibration['mce']).strip()}"]
    residuals = getattr(report, "residuals", None)
    if residuals:
        q = residuals["quantiles"]
        lines += ["", "Residuals (y - y_pred)",
                  f"  mean {residuals['mean']:.4g}  std {residuals['std']:.4g}  max |r| {residuals['max_abs']:.4g}",
                  "  quantiles " + "  ".join(f"{k} {v:.4g}" for k, v in q.items())]
    if report.threshold is not None:
        lines += ["", "Threshold", f"  {report.threshold}"]
    if report.cv is not None:
        lines += ["", f"Cross-validation: {len(report.cv['folds'])} folds, {report.cv['splitter']}"]
        names = [n for n in report.metrics][:4]
        lines += _table(["fold", *names], [[str(f["fold"]), *[f.get(n) for n in names]] for f in report.cv["folds"]])
    if report.worst:
        lines += ["", f"Worst {len(report.worst)} rows"]
        lines += _table(["index", "true", "predicted", "score", "loss"],
                        [[str(r["index"]), str(r["true"]), str(r["predicted"]) if not isinstance(r["predicted"], float)
                          else f"{r['predicted']:.4g}", r["score"], r["loss"]] for r in report.worst[:MAX_TABLE_ROWS]])
    if report.slices is not None:
        names = list(report.metrics)[:3]
        lines += ["", f"Slices by {report.slices['by']}"]
        lines += _table([report.slices["by"], "n", *names],
                        [[s["slice"], s["n"], *[s["metrics"].get(n) for n in names]]
                         for s in report.slices["slices"][:MAX_TABLE_ROWS * 2]])
    return "\n".join(lines)
