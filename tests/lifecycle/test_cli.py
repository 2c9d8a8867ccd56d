"""The ``fastml`` command end to end, in subprocesses (``python -m fastml``), on small generated CSVs."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def fastml(*args, check_code=0):
    """Run ``python -m fastml ARGS``; assert the exit code; return the CompletedProcess."""
    env = dict(os.environ)
    env.pop("FASTML_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "fastml", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == check_code, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return done


def fastml_json(*args, check_code=0):
    done = fastml(*args, "--json", check_code=check_code)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """train.csv / new.csv (same distribution) / shifted.csv, numeric + categorical + missing values."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)

    def table(n, shift=0.0):
        frame = pd.DataFrame({"age": rng.normal(40 + shift * 15, 10, n), "income": rng.normal(50, 20, n),
                              "city": rng.choice(["paris", "lyon", "nice"], n)})
        frame.loc[::17, "income"] = np.nan
        score = (frame["age"] - 40) / 10 + (frame["city"] == "paris") + rng.normal(0, 0.5, n)
        frame["churn"] = np.where(score > 0.5, "yes", "no")
        return frame

    paths = {name: folder / f"{name}.csv" for name in ("train", "new", "shifted")}
    table(400).to_csv(paths["train"], index=False)
    table(300).to_csv(paths["new"], index=False)
    table(300, shift=1.5).to_csv(paths["shifted"], index=False)
    paths["model"] = folder / "model.fastml"
    fastml("train", paths["train"], "--target", "churn", "--cv", 3, "--out", paths["model"])
    return paths


def test_import_is_light():
    code = "import fastml.cli, sys; assert 'numba' not in sys.modules and 'sklearn' not in sys.modules, 'heavy'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_and_usage_errors():
    assert "demo" in fastml("--help").stdout
    assert "--target" in fastml("train", "--help").stdout
    assert "--fail-on-drift" in fastml("drift", "--help").stdout
    fastml(check_code=2)  # no subcommand
    assert "invalid choice" in fastml("frobnicate", check_code=2).stderr
    assert "--target" in fastml("train", "x.csv", check_code=2).stderr  # required option missing
    fastml("demo", "--case", "nope", check_code=2)


def test_train_json(tables, tmp_path):
    out = tmp_path / "m.fastml"
    summary = fastml_json("train", tables["train"], "--target", "churn", "--model", "LogisticRegression",
                          "--param", "C=0.5", "--param", "solver=newton", "--cv", 3, "--out", out)
    assert summary["model"] == "LogisticRegression" and summary["task"] == "classification"
    assert summary["n_rows"] == 400 and summary["n_features"] == 2 + 3  # two numeric + three cities
    assert summary["cv"]["folds"] == 3 and 0.7 < summary["cv"]["mean"]["accuracy"] <= 1.0
    assert out.is_file()


def test_train_regression_and_human_output(tables, tmp_path):
    frame = pd.read_csv(tables["train"])
    frame["target"] = 2.0 * frame["age"] + 0.5
    path = tmp_path / "reg.csv"
    frame.drop(columns=["churn"]).to_csv(path, index=False)
    done = fastml("train", path, "--target", "target", "--out", tmp_path / "r.fastml")
    assert "Ridge (regression)" in done.stdout and "saved" in done.stdout


def test_train_errors(tables, tmp_path):
    err = fastml("train", tables["train"], "--target", "nope", "--out", tmp_path / "x.fastml", check_code=1).stderr
    assert "target column 'nope'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    err = fastml("train", tables["train"], "--target", "churn", "--param", "bogus=1", check_code=1).stderr
    assert "no parameter bogus" in err
    err = fastml("train", tmp_path / "missing.csv", "--target", "churn", check_code=1).stderr
    assert "missing.csv" in err
    pytest.importorskip("pandas")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "t.parquet").write_bytes(b"PAR1")
        err = fastml("train", tmp_path / "t.parquet", "--target", "churn", check_code=1).stderr
        assert "pyarrow" in err
    # --debug shows the traceback
    assert "Traceback" in fastml("train", tables["train"], "--target", "nope", "--debug", check_code=1).stderr


def test_predict(tables, tmp_path):
    document = fastml_json("predict", tables["model"], tables["new"], "--proba")
    assert document["n_rows"] == 300 and set(document["predictions"]) <= {"yes", "no"}
    probabilities = np.asarray(document["probabilities"])
    assert probabilities.shape == (300, 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    # the same as the Python API on the reloaded model
    import fastml as fm

    model = fm.load(tables["model"])
    frame = pd.read_csv(tables["new"])
    assert document["predictions"] == model.predict(frame.drop(columns=["churn"])).tolist()
    out = tmp_path / "pred.csv"
    fastml("predict", tables["model"], tables["new"], "--out", out)
    assert pd.read_csv(out)["prediction"].tolist() == document["predictions"]
    csv_text = fastml("predict", tables["model"], tables["new"]).stdout
    assert csv_text.splitlines()[0] == "prediction" and len(csv_text.splitlines()) == 301


def test_evaluate(tables, tmp_path):
    report_path = tmp_path / "report.html"
    document = fastml_json("evaluate", tables["model"], tables["new"], "--target", "churn", "--report", report_path)
    assert document["task"] == "classification" and 0.7 < document["metrics"]["accuracy"] <= 1.0
    assert report_path.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert "accuracy" in fastml("evaluate", tables["model"], tables["new"], "--target", "churn").stdout


def test_info(tables):
    document = fastml_json("info", tables["model"])
    assert document["estimator"].endswith("Pipeline")  # manifest "fitted" is False for Pipelines (reported)
    assert document["has_fingerprint"] is True and document["classes"] == ["no", "yes"]
    assert "Pipeline" in fastml("info", tables["model"]).stdout


def test_drift_exit_codes(tables):
    same = fastml_json("drift", tables["model"], tables["new"], "--fail-on-drift")
    assert same["drift_detected"] is False
    shifted = fastml_json("drift", tables["model"], tables["shifted"], "--fail-on-drift", check_code=3)
    assert shifted["drift_detected"] is True and any("age" in name for name in shifted["drifted_features"])
    # without --fail-on-drift: exit 0, human-readable table
    assert "DETECTED" in fastml("drift", tables["model"], tables["shifted"]).stdout


def test_missing_and_corrupt_model_files(tables, tmp_path):
    for command in (("info",), ("predict",), ("drift",), ("evaluate",), ("serve",)):
        extra = [tables["new"]] if command[0] in ("predict", "drift", "evaluate") else []
        extra += ["--target", "churn"] if command[0] == "evaluate" else []
        err = fastml(*command, tmp_path / "absent.fastml", *extra, check_code=1).stderr
        assert "absent.fastml" in err and "Traceback" not in err
    corrupt = tmp_path / "corrupt.fastml"
    corrupt.write_bytes(b"this is not a model file")
    err = fastml("info", corrupt, check_code=1).stderr
    assert "ModelFileError" in err and len(err.strip().splitlines()) == 1
    document = fastml("predict", corrupt, tables["new"], "--json", check_code=1)
    assert document.stdout == "" and "corrupt.fastml" in document.stderr


def test_bench_quick(tmp_path):
    document = fastml_json("bench", "--quick", "--out", tmp_path)
    solvers = {row["solver"] for row in document["results"]}
    assert {"fastml lbfgs", "fastml newton", "fastml sgd", "fastml adam", "scikit-learn lbfgs"} <= solvers
    by_solver = {row["solver"]: row for row in document["results"]}
    # the smooth solvers reach scikit-learn's optimum (same objective, recomputed for every model)
    for name in ("fastml lbfgs", "fastml newton"):
        assert by_solver[name]["gap"] < 1e-5 and abs(by_solver[name]["objective"]
                                                     - by_solver["scikit-learn lbfgs"]["objective"]) < 1e-5
    curves = pd.read_csv(document["artifacts"]["curves"])
    assert {"fastml lbfgs", "fastml gd"} <= set(curves["solver"])
