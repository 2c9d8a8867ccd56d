"""Self-contained HTML report: inline CSS, tables, plots as base64 PNG (when matplotlib is installed).

Every piece of text that comes from data (labels, column names, model names) goes through
``html.escape``; the document loads nothing from the network.
"""
import base64
import html
import math

from . import _plots

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0}.note{color:#666;font-size:.9em}
"""


def _cell(value):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    return html.escape(str(value))


def _table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title, content):
    return f"<h2>{html.escape(title)}</h2>\n{content}\n"


def _plots_html(report):
    if not _plots.matplotlib_available():
        return f'<p class="note">{html.escape(_plots.INSTALL_HINT)}</p>'
    figures = []
    for kind in _plots.available_kinds(report):
        png = base64.b64encode(_plots.figure_png(_plots.make_figure(report, kind))).decode("ascii")
        figures.append(f'<figure><img alt="{html.escape(kind)}" src="data:image/png;base64,{png}"></figure>')
    return '<div class="plots">' + "".join(figures) + "</div>" if figures else ""


def render(report):
    """The report as one HTML document (str)."""
    parts = [_section("Metrics", _metrics_table(report))]
    if getattr(report, "per_class", None):
        parts.append(_section("Per class", _table(["class", "precision", "recall", "f1", "support"],
                                                  [[r["class"], r["precision"], r["recall"], r["f1"], r["support"]]
                                                   for r in report.per_class])))
    if getattr(report, "confusion_matrix", None):
        labels = report.confusion_matrix["labels"]
        parts.append(_section("Confusion matrix (rows: true, columns: predicted)",
                              _table(["true \\ predicted", *labels],
                                     [[label, *row] for label, row in zip(labels, report.confusion_matrix["matrix"])])))
    calibration = getattr(report, "calibration", None)
    if calibration:
        summary = (f"<p>Brier score {_cell(calibration['brier_score'])}, expected calibration error "
                   f"{_cell(calibration['ece'])}, maximum calibration error {_cell(calibration['mce'])}</p>")
        bins = _table(["bin", "count", "mean predicted", "fraction positive"],
                      [[f"[{b['lower']:.1f}, {b['upper']:.1f})", b["count"], b["mean_predicted"],
                        b["fraction_positive"]] for b in calibration["bins"]])
        parts.append(_section(f"Calibration ({calibration['kind']})", summary + bins))
    residuals = getattr(report, "residuals", None)
    if residuals:
        rows = [["mean", residuals["mean"]], ["std", residuals["std"]],
                *[[k, v] for k, v in residuals["quantiles"].items()], ["max |residual|", residuals["max_abs"]]]
        parts.append(_section("Residuals (y - y_pred)", _table(["statistic", "value"], rows)))
    if report.threshold is not None:
        parts.append(_section("Threshold", f"<p>{html.escape(str(report.threshold))}</p>"))
    if report.cv is not None:
        names = list(report.metrics)
        parts.append(_section(f"Cross-validation ({len(report.cv['folds'])} folds)",
                              f'<p class="note">{html.escape(report.cv["splitter"])}</p>'
                              + _table(["fold", "n_test", *names],
                                       [[f["fold"], f["n_test"], *[f.get(n) for n in names]]
                                        for f in report.cv["folds"]])))
    if report.worst:
        parts.append(_section(f"Worst {len(report.worst)} rows",
                              _table(["index", "true", "predicted", "score", "loss"],
                                     [[r["index"], r["true"], r["predicted"], r["score"], r["loss"]]
                                      for r in report.worst])))
    if report.slices is not None:
        names = list(report.metrics)
        parts.append(_section(f"Slices by {report.slices['by']}",
                              _table([report.slices["by"], "n", *names],
                                     [[s["slice"], s["n"], *[s["metrics"].get(n) for n in names]]
                                      for s in report.slices["slices"]])))
    parts.append(_section("Plots", _plots_html(report)))
    title = html.escape(f"{report.model_name}: {report.task} report")
    subtitle = html.escape(f"{report.n_samples} rows, {report.evaluated_on}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{title}</h1><p class=\"note\">{subtitle}</p>\n" + "".join(parts) + "</body></html>\n")


def _metrics_table(report):
    if report.cv is None:
        return _table(["metric", "value"], [[k, v] for k, v in report.metrics.items()])
    return _table(["metric", "value", "cv mean", "cv std"],
                  [[k, v, report.cv["mean"].get(k), report.cv["std"].get(k)] for k, v in report.metrics.items()])
