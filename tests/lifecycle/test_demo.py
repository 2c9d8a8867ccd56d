"""``fastml demo --quick`` (both cases) in subprocesses: the JSON summary says the lifecycle worked."""
import json
import os
import subprocess
import sys

import pytest


def run_demo(tmp_path, *extra):
    done = subprocess.run([sys.executable, "-m", "fastml", "demo", "--quick", "--json", "--out", str(tmp_path),
                           *extra], capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def check_common(summary, case_dir):
    assert summary["persistence"]["reloaded_identical"] is True
    assert os.path.isfile(summary["artifacts"]["model"]) and summary["artifacts"]["model"].startswith(case_dir)
    assert os.path.getsize(summary["artifacts"]["report"]) > 1000
    assert summary["drift"]["control_detected"] is False
    assert summary["drift"]["detected"] is True
    assert summary["retrain"]["new_not_worse"] is True
    assert len(summary["models"]) >= 2
    if summary["serving"]["available"]:
        assert summary["serving"]["status"] == 200 and summary["serving"]["predictions_match"] is True


def test_demo_tabular(tmp_path):
    summary = run_demo(tmp_path)
    check_common(summary, str(tmp_path / "tabular"))
    assert summary["synthetic"] is False and summary["task"]["n_rows"] == 569
    solvers = {row["solver"] for row in summary["models"]}
    assert {"lbfgs", "newton", "sgd", "adam", "closed form"} <= solvers
    # the smooth solvers agree on the test log-loss (same optimum)
    losses = [r["log_loss"] for r in summary["models"] if r["solver"] in ("lbfgs", "newton")]
    assert abs(losses[0] - losses[1]) < 1e-3
    assert summary["cross_validation"]["accuracy"]["mean"] > 0.9
    assert summary["threshold"]["reached"] is True and summary["threshold"]["recall"] >= 0.98
    comparison = summary["retrain"]["comparison"]
    assert comparison["accuracy"]["new"] > comparison["accuracy"]["old"]


def test_demo_spam(tmp_path):
    summary = run_demo(tmp_path, "--case", "spam")
    check_common(summary, str(tmp_path / "spam"))
    assert summary["synthetic"] is True
    assert summary["drift"]["recall_before"] > max(summary["drift"]["recall_live"]) + 0.3
    assert summary["drift"]["first_ddm_batch"] is not None
    assert summary["retrain"]["comparison"]["recall"]["new"] > summary["retrain"]["comparison"]["recall"]["old"]


def test_demo_human_output_says_synthetic(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fastml", "demo", "--case", "spam", "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SYNTHETIC" in done.stdout and "9. retrain" in done.stdout


def test_run_demo_rejects_unknown_case():
    from fastml.demo import run_demo as run

    with pytest.raises(ValueError, match="case must be one of"):
        run("images")


def test_corpus_is_seeded_and_shifts():
    from fastml.demo import make_spam_corpus
    from fastml.demo._corpus import SPAM_LATE

    a, b = make_spam_corpus(4, 50, shift_batch=2, random_state=1), make_spam_corpus(4, 50, shift_batch=2, random_state=1)
    assert a.equals(b) and set(a["label"]) == {"spam", "ham"}
    late_words = set(SPAM_LATE)

    def late_share(frame):
        spam = frame[frame["label"] == "spam"]["text"].str.split().explode()
        return spam.isin(late_words).mean()

    assert late_share(a[a["batch"] < 2]) == 0.0 and late_share(a[a["batch"] >= 2]) > 0.2
