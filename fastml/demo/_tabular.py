"""``fastml demo`` (tabular case): scikit-learn's breast_cancer data, from the task to retraining.

Design: every model is ``Pipeline(StandardScaler, fastml estimator)`` on dense float64 rows (one kernel
specialization per solver family, so a cold run compiles few kernels). The closed form appears as the
least-squares classifier: fastml Ridge (Cholesky) on targets -1/+1, thresholded at 0. The drift scenario
is a recalibrated imaging device: texture readings 30% higher and areas 25% larger, labels unchanged.
"""
import os
import time

import numpy as np

from ._steps import save_and_reload, serve_and_score, timed_fit, write_plots

SEED = 0
TARGET_RECALL = 0.98  # missing a malignant tumour costs more than a false alarm
SHIFTED = {"texture": 1.30, "area": 1.25}  # column-name fragment -> factor


def _scaled(estimator):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def candidates(quick):
    """(label, solver, pipeline) of the compared models."""
    import fastml

    rows = [("LogisticRegression", "lbfgs", fastml.LogisticRegression(solver="lbfgs", max_iter=200)),
            ("LogisticRegression", "newton", fastml.LogisticRegression(solver="newton"))]
    if not quick:
        rows.append(("LogisticRegression", "gd", fastml.LogisticRegression(solver="gd", max_iter=500)))
    rows += [("SGDClassifier", "sgd", fastml.SGDClassifier(loss="log_loss", optimizer="sgd", random_state=SEED,
                                                           max_iter=50 if quick else 200)),
             ("SGDClassifier", "adam", fastml.SGDClassifier(loss="log_loss", optimizer="adam", batch_size=32,
                                                            eta0=0.01, random_state=SEED,
                                                            max_iter=50 if quick else 200)),
             ("Ridge on -1/+1", "closed form", fastml.Ridge(alpha=1.0, solver="cholesky"))]
    return [(label, solver, _scaled(estimator)) for label, solver, estimator in rows]


def drift_traffic(X):
    """The drifted traffic: ``X`` with the SHIFTED columns multiplied by their factor."""
    shifted = X.copy()
    for column in shifted.columns:
        for fragment, factor in SHIFTED.items():
            if fragment in column:
                shifted[column] = shifted[column] * factor
    return shifted


def _compare(models, X_train, y_train, X_test, y_test, say):
    import warnings

    from sklearn.metrics import accuracy_score, log_loss

    rows, fitted = [], {}
    say("3. models and solvers (each Pipeline(StandardScaler, model)), scored on the test split:")
    for label, solver, pipeline in models:
        closed_form = label.startswith("Ridge")
        target = 2.0 * y_train - 1.0 if closed_form else y_train
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a ConvergenceWarning is visible as n_iter at the limit
            seconds = timed_fit(pipeline, X_train, target)
        if closed_form:
            predicted, loss = (pipeline.predict(X_test) > 0).astype(int), None
        else:
            predicted, loss = pipeline.predict(X_test), float(log_loss(y_test, pipeline.predict_proba(X_test)))
        n_iter = getattr(pipeline[-1], "n_iter_", None)
        rows.append({"model": label, "solver": solver, "accuracy": float(accuracy_score(y_test, predicted)),
                     "log_loss": loss, "fit_seconds": seconds,
                     "n_iter": int(np.max(n_iter)) if n_iter is not None else None})
        fitted[(label, solver)] = pipeline
    from ..cli._output import format_table

    for line in format_table(rows, ["model", "solver", "accuracy", "log_loss", "fit_seconds", "n_iter"]).splitlines():
        say("   " + line)
    return rows, fitted


def run_tabular(out_dir, *, quick=False, say=print):
    """The tabular demo; see :func:`fastml.demo.run_demo`."""
    import fastml
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    start = time.perf_counter()
    summary = {"case": "tabular", "synthetic": False, "out_dir": out_dir, "quick": bool(quick)}

    # 1) task
    data = load_breast_cancer(as_frame=True)
    X = data.frame[data.feature_names]
    y = (data.target == 0).astype(np.int64).to_numpy()  # scikit-learn codes malignant as 0: make it the positive
    summary["task"] = {"dataset": "breast_cancer (scikit-learn)", "question": "is the tumour malignant?",
                       "n_rows": int(X.shape[0]), "n_features": int(X.shape[1]), "positive": "malignant (1)",
                       "positive_share": float(y.mean())}
    say(f"1. task: is a breast tumour malignant? scikit-learn's breast_cancer data, {X.shape[0]} tumours x "
        f"{X.shape[1]} measurements, {y.mean():.0%} malignant (positive class 1)")

    # 2) split
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=SEED)
    summary["split"] = {"n_train": int(len(y_train)), "n_test": int(len(y_test)), "stratified": True, "seed": SEED}
    say(f"2. split: {len(y_train)} train / {len(y_test)} test rows, stratified, seed {SEED}")

    # 3) fit and compare
    rows, fitted = _compare(candidates(quick), X_train, y_train, X_test, y_test, say)
    summary["models"] = rows
    best = min((r for r in rows if r["log_loss"] is not None), key=lambda r: r["log_loss"])
    chosen = fitted[(best["model"], best["solver"])]
    summary["chosen"] = {"model": best["model"], "solver": best["solver"], "rule": "lowest test log-loss"}
    say(f"   chosen: {best['model']} ({best['solver']}), the lowest test log-loss")

    # 4) cross-validation on the training split, with the threshold tuned on out-of-fold scores
    folds = 3 if quick else 5
    cv_report = fastml.evaluate(clone(chosen), X_train, y_train, cv=folds, threshold_for={"recall": TARGET_RECALL})
    shown = ("accuracy", "roc_auc", "log_loss", "recall", "precision")
    summary["cross_validation"] = {"folds": folds, **{k: {"mean": float(cv_report.cv["mean"][k]),
                                                          "std": float(cv_report.cv["std"][k])} for k in shown}}
    say(f"4. {folds}-fold cross-validation (training split): " + ", ".join(
        f"{k} {cv_report.cv['mean'][k]:.3f} ± {cv_report.cv['std'][k]:.3f}" for k in shown[:3]))

    # 5) threshold for a target recall: tuned on the out-of-fold scores, checked on the test split
    tuned = cv_report.threshold
    test_pred = tuned.predict(chosen, X_test)
    from sklearn.metrics import precision_score, recall_score

    test_recall, test_precision = float(recall_score(y_test, test_pred)), float(precision_score(y_test, test_pred))
    check = fastml.evaluation.tune_threshold(chosen, X_test, y_test, target_recall=TARGET_RECALL)
    summary["threshold"] = {**tuned.to_dict(), "tuned_on": "out-of-fold scores of the training split",
                            "test_recall": test_recall, "test_precision": test_precision,
                            "test_optimal_threshold": check.threshold}
    say(f"5. threshold for recall >= {TARGET_RECALL}: {tuned.threshold:.3f} on P(malignant) (default 0.5), tuned "
        f"on out-of-fold scores; on the test split: recall {test_recall:.3f}, precision {test_precision:.3f}")

    report = fastml.evaluate(chosen, X_test, y_test, threshold_for={"recall": TARGET_RECALL})
    summary["test_metrics"] = {k: float(report.metrics[k]) for k in shown}
    artifacts = {"report": os.path.join(out_dir, "report.html")}
    report.to_html(artifacts["report"])
    if not quick:
        artifacts["plots"] = write_plots(report, out_dir, say)

    # 6) save, reload, identical predictions
    say("6. save and reload:")
    model_path = os.path.join(out_dir, "model.fastml")
    reloaded, summary["persistence"] = save_and_reload(chosen, model_path, X_test, say)
    artifacts["model"] = model_path

    # 7) serve in-process and score a request
    say("7. serve (in-process FastAPI app) and score a request:")
    rows_sent = X_test.iloc[:5]
    payload = {"dataframe_split": {"columns": list(rows_sent.columns), "data": rows_sent.to_numpy().tolist()}}
    summary["serving"] = serve_and_score(model_path, payload, reloaded.predict(rows_sent).tolist(), say)

    # 8) drifted traffic
    from ..tabular import check_model_drift

    control = check_model_drift(reloaded, X_test)
    drifted_X_test = drift_traffic(X_test)
    drifted = check_model_drift(reloaded, drifted_X_test)
    old_accuracy = float(np.mean(reloaded.predict(drifted_X_test) == y_test))
    summary["drift"] = {"scenario": "recalibrated device: " + ", ".join(f"{k} x{v}" for k, v in SHIFTED.items()),
                        "control_detected": control.drift_detected, "detected": drifted.drift_detected,
                        "drifted_features": drifted.drifted_features, "prediction_drift": drifted.prediction_drift,
                        "old_model_accuracy_on_drifted": old_accuracy}
    say(f"8. drift: same-distribution test rows -> drift {'DETECTED' if control.drift_detected else 'not detected'}; "
        f"recalibrated-device rows (texture x1.3, area x1.25) -> drift "
        f"{'DETECTED' if drifted.drift_detected else 'not detected'} in {len(drifted.drifted_features)}/"
        f"{len(drifted.feature_rows)} features, prediction drift {drifted.prediction_drift}; "
        f"accuracy there {old_accuracy:.3f}")

    # 9) retrain on labelled rows from the new device, compare on new-device holdout rows
    result = fastml.retrain(reloaded, drift_traffic(X_train), y_train, X_holdout=drifted_X_test, y_holdout=y_test)
    comparison = {metric: {"old": float(row["old"]), "new": float(row["new"])}
                  for metric, row in result.comparison.iterrows()}
    not_worse = comparison["accuracy"]["new"] >= comparison["accuracy"]["old"]
    summary["retrain"] = {"strategy": result.strategy, "n_train": result.n_train, "n_holdout": result.n_holdout,
                          "comparison": comparison, "new_not_worse": bool(not_worse)}
    say(f"9. retrain on {result.n_train} new-device rows; on {result.n_holdout} new-device holdout rows: " + ", ".join(
        f"{m} {v['old']:.3f} -> {v['new']:.3f}" for m, v in comparison.items()))
    retrained_path = os.path.join(out_dir, "model-retrained.fastml")
    fastml.save(result.model, retrained_path)
    artifacts["retrained_model"] = retrained_path

    summary["artifacts"] = artifacts
    summary["seconds"] = time.perf_counter() - start
    say(f"done in {summary['seconds']:.1f} s; artifacts in {out_dir}/")
    return summary
