"""``fastml demo --case spam``: the lifecycle on text, with a synthetic corpus whose spam changes.

Design: ``Pipeline(HashingVectorizer, fastml LogisticRegression)``: the hashing featurizer is stateless
(nothing to fit, nothing pickled) and yields CSR rows that the sparse kernels read directly. Batches 0-1
train, batch 2 is the pre-shift test batch, batches 3-5 are live traffic after the spam campaign changed.
Drift is watched three ways: the model's score distribution (``check_drift``, prediction drift), recall per
batch once labels arrive, and DDM on the stream of 0/1 errors.

The hashed space has 2**18 columns; a model that wide keeps only its score fingerprint (see
``fastml.drift._fingerprint.MAX_FEATURES``), so its drift check is prediction drift.
"""
import os
import time
import warnings

import numpy as np

from ._corpus import make_spam_corpus
from ._steps import save_and_reload, serve_and_score, timed_fit

SEED = 0
N_HASH_FEATURES = 2 ** 18
TARGET_PRECISION = 0.98  # flagging a real message as spam is the costly mistake
TRAIN_BATCHES, TEST_BATCH, LIVE_BATCHES = (0, 1), 2, (3, 4, 5)


def _pipeline(estimator):
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.pipeline import Pipeline

    return Pipeline([("hash", HashingVectorizer(n_features=N_HASH_FEATURES, alternate_sign=False, norm="l2")),
                     ("model", estimator)])


def _precision_recall(y, predicted):
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {"precision": float(precision_score(y, predicted, zero_division=0)),
            "recall": float(recall_score(y, predicted, zero_division=0)),
            "f1": float(f1_score(y, predicted, zero_division=0))}


def run_spam(out_dir, *, quick=False, say=print):
    """The spam demo; see :func:`fastml.demo.run_demo`."""
    import fastml
    from sklearn.base import clone

    from ..cli._output import format_table
    from ..tabular import check_model_drift

    start = time.perf_counter()
    batch_size = 200 if quick else 500
    corpus = make_spam_corpus(n_batches=6, batch_size=batch_size, shift_batch=LIVE_BATCHES[0], random_state=SEED)
    summary = {"case": "spam", "synthetic": True, "out_dir": out_dir, "quick": bool(quick)}

    def batch(indices):
        rows = corpus[corpus["batch"].isin(np.atleast_1d(indices))]
        return rows["text"].to_numpy(dtype=object), rows["is_spam"].to_numpy()

    # 1) task
    summary["task"] = {"dataset": "synthetic spam corpus (fastml.demo.make_spam_corpus)", "question": "is it spam?",
                       "n_messages": int(len(corpus)), "n_batches": 6, "spam_share": float(corpus["is_spam"].mean()),
                       "shift": f"spam vocabulary changes from batch {LIVE_BATCHES[0]}",
                       "featurizer": f"HashingVectorizer(n_features={N_HASH_FEATURES}) -> CSR"}
    say(f"1. task: is a message spam? SYNTHETIC corpus generated from word lists (not real mail): {len(corpus)} "
        f"messages in 6 batches, {corpus['is_spam'].mean():.0%} spam; from batch {LIVE_BATCHES[0]} on, spammers "
        f"switch to a new vocabulary")

    # 2) split by time
    X_train, y_train = batch(TRAIN_BATCHES)
    X_test, y_test = batch(TEST_BATCH)
    summary["split"] = {"train_batches": list(TRAIN_BATCHES), "test_batch": TEST_BATCH,
                        "live_batches": list(LIVE_BATCHES), "n_train": int(len(y_train)), "n_test": int(len(y_test))}
    say(f"2. split by time: batches 0-1 train ({len(y_train)}), batch 2 test ({len(y_test)}), batches 3-5 live traffic")

    # 3) models: hashing features (sparse CSR) into fastml linear models
    candidates = [("LogisticRegression", "lbfgs", fastml.LogisticRegression(solver="lbfgs", C=10.0, max_iter=200)),
                  ("SGDClassifier", "adam", fastml.SGDClassifier(loss="log_loss", optimizer="adam", batch_size=32,
                                                                 eta0=0.01, alpha=1e-4, random_state=SEED,
                                                                 max_iter=20 if quick else 50))]
    rows, fitted = [], {}
    for label, solver, estimator in candidates:
        pipeline = _pipeline(estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a ConvergenceWarning of the short SGD run: n_iter shows it
            seconds = timed_fit(pipeline, X_train, y_train)
        rows.append({"model": label, "solver": solver, **_precision_recall(y_test, pipeline.predict(X_test)),
                     "fit_seconds": seconds})
        fitted[(label, solver)] = pipeline
    summary["models"] = rows
    say("3. models on hashed text (CSR, sparse kernels), scored on the test batch:")
    for line in format_table(rows, ["model", "solver", "precision", "recall", "f1", "fit_seconds"]).splitlines():
        say("   " + line)
    best = max(rows, key=lambda r: r["f1"])
    chosen = fitted[(best["model"], best["solver"])]
    summary["chosen"] = {"model": best["model"], "solver": best["solver"], "rule": "highest test F1"}
    say(f"   chosen: {best['model']} ({best['solver']}), the highest test F1")

    # 4) cross-validation with 5) the threshold for a target precision from out-of-fold scores
    folds = 3 if quick else 5
    cv_report = fastml.evaluate(clone(chosen), X_train, y_train, cv=folds,
                                threshold_for={"precision": TARGET_PRECISION})
    shown = ("precision", "recall", "roc_auc")
    summary["cross_validation"] = {"folds": folds, **{k: {"mean": float(cv_report.cv["mean"][k]),
                                                          "std": float(cv_report.cv["std"][k])} for k in shown}}
    say(f"4. {folds}-fold cross-validation (training batches): " + ", ".join(
        f"{k} {cv_report.cv['mean'][k]:.3f} ± {cv_report.cv['std'][k]:.3f}" for k in shown))
    tuned = cv_report.threshold
    on_test = _precision_recall(y_test, tuned.predict(chosen, X_test))
    summary["threshold"] = {**tuned.to_dict(), "tuned_on": "out-of-fold scores of the training batches",
                            "test_precision": on_test["precision"], "test_recall": on_test["recall"]}
    say(f"5. threshold for precision >= {TARGET_PRECISION}: {tuned.threshold:.3f} on P(spam); on the test batch: "
        f"precision {on_test['precision']:.3f}, recall {on_test['recall']:.3f}")
    report = fastml.evaluate(chosen, X_test, y_test)
    summary["test_metrics"] = {k: float(report.metrics[k]) for k in ("precision", "recall", "f1", "roc_auc")}
    artifacts = {"report": os.path.join(out_dir, "report.html")}
    report.to_html(artifacts["report"])
    corpus_path = os.path.join(out_dir, "corpus.csv")
    corpus.to_csv(corpus_path, index=False)
    artifacts["corpus"] = corpus_path

    # 6) save and reload
    say("6. save and reload:")
    model_path = os.path.join(out_dir, "model.fastml")
    reloaded, summary["persistence"] = save_and_reload(chosen, model_path, X_test, say)
    artifacts["model"] = model_path

    # 7) serve
    say("7. serve (in-process FastAPI app) and score a request:")
    sent = X_test[:3]
    payload = {"dataframe_split": {"columns": ["text"], "data": [[text] for text in sent]}}
    summary["serving"] = serve_and_score(model_path, payload, reloaded.predict(sent).tolist(), say)

    # 8) live traffic: prediction drift, recall per batch, DDM on errors
    say("8. live traffic, batch by batch (labels arrive after the fact):")
    ddm = fastml.DDM()
    per_batch, first_ddm_batch = [], None
    for index in (TEST_BATCH, *LIVE_BATCHES):
        X_batch, y_batch = batch(index)
        predicted = reloaded.predict(X_batch)
        drift = check_model_drift(reloaded, X_batch)
        detections = ddm.update_many((predicted != y_batch).astype(np.float64))
        if first_ddm_batch is None and len(detections):
            first_ddm_batch = index
        row = {"batch": index, **_precision_recall(y_batch, predicted),
               "prediction_drift": bool(drift.prediction_drift),
               "ddm_detections": int(len(detections))}
        per_batch.append(row)
    for line in format_table(per_batch, ["batch", "precision", "recall", "prediction_drift", "ddm_detections"]).splitlines():
        say("   " + line)
    control, live = per_batch[0], per_batch[1:]
    # the verdict uses the score distribution, not the 4 096 hashed columns one by one (too sparse to test)
    detected = any(r["prediction_drift"] for r in live) or first_ddm_batch is not None
    summary["drift"] = {"batches": per_batch, "control_detected": bool(control["prediction_drift"]),
                        "detected": bool(detected), "first_ddm_batch": first_ddm_batch,
                        "recall_before": control["recall"], "recall_live": [r["recall"] for r in live]}
    say(f"   drift {'DETECTED' if detected else 'not detected'}: recall {control['recall']:.2f} -> "
        f"{min(r['recall'] for r in live):.2f}; DDM first fired in batch {first_ddm_batch}")

    # 9) retrain on the labelled live batches 3-4 (plus the old data), compare on batch 5
    X_recent, y_recent = batch((*TRAIN_BATCHES, TEST_BATCH, *LIVE_BATCHES[:-1]))
    X_holdout, y_holdout = batch(LIVE_BATCHES[-1])
    result = fastml.retrain(reloaded, X_recent, y_recent, X_holdout=X_holdout, y_holdout=y_holdout)
    old, new = (_precision_recall(y_holdout, m.predict(X_holdout)) for m in (reloaded, result.model))
    comparison = {metric: {"old": old[metric], "new": new[metric]} for metric in old}
    comparison.update({metric: {"old": float(row["old"]), "new": float(row["new"])}
                       for metric, row in result.comparison.iterrows() if metric not in comparison})
    not_worse = new["f1"] >= old["f1"]
    summary["retrain"] = {"strategy": result.strategy, "n_train": result.n_train, "n_holdout": result.n_holdout,
                          "comparison": comparison, "new_not_worse": bool(not_worse)}
    say(f"9. retrain on batches 0-4 ({result.n_train} messages); on live batch 5: " + ", ".join(
        f"{m} {comparison[m]['old']:.3f} -> {comparison[m]['new']:.3f}" for m in ("precision", "recall", "f1")))
    retrained_path = os.path.join(out_dir, "model-retrained.fastml")
    fastml.save(result.model, retrained_path)
    artifacts["retrained_model"] = retrained_path

    summary["artifacts"] = artifacts
    summary["seconds"] = time.perf_counter() - start
    say(f"done in {summary['seconds']:.1f} s; artifacts in {out_dir}/ (the corpus is synthetic)")
    return summary
