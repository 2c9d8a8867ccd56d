"""fastml.evaluate: every number checked against scikit-learn or an independent numpy computation."""
import json
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.exceptions import NotFittedError
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, brier_score_loss,
                             confusion_matrix, f1_score, log_loss, mean_absolute_error, median_absolute_error,
                             precision_recall_fscore_support, precision_score, r2_score, recall_score,
                             roc_auc_score, root_mean_squared_error)
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, cross_val_predict, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, label_binarize

import fastml
from fastml.evaluation import (ClassificationReport, RegressionReport, ThresholdResult, evaluate,
                               tune_threshold)


# -- fixtures: small bundled datasets, fitted once per module ------------------------------------------------
@pytest.fixture(scope="module")
def binary():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = X.iloc[::2], X.iloc[1::2], y.iloc[::2], y.iloc[1::2]
    model = make_pipeline(StandardScaler(), fastml.LogisticRegression(C=0.5)).fit(X_train, y_train)
    return model, X_test, y_test.to_numpy()


@pytest.fixture(scope="module")
def multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels on purpose
    return fastml.LogisticRegression(C=0.3).fit(X, names), X, names


@pytest.fixture(scope="module")
def regression():
    X, y = load_diabetes(return_X_y=True)
    return fastml.Ridge(alpha=0.1).fit(X[:300], y[:300]), X[300:], y[300:]


def _weights(n, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 3.0, n)


class FixedScores(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose positive-class probability is the first column of X (for exact cases)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


# -- metrics equal scikit-learn's -----------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_match_sklearn(binary, weighted):
    model, X, y = binary
    w = _weights(len(y)) if weighted else None
    report = evaluate(model, X, y, sample_weight=w)
    assert isinstance(report, ClassificationReport)
    proba, pred = model.predict_proba(X), model.predict(X)
    expected = {"accuracy": accuracy_score(y, pred, sample_weight=w),
                "balanced_accuracy": balanced_accuracy_score(y, pred, sample_weight=w),
                "precision": precision_score(y, pred, sample_weight=w),
                "recall": recall_score(y, pred, sample_weight=w),
                "f1": f1_score(y, pred, sample_weight=w),
                "roc_auc": roc_auc_score(y, proba[:, 1], sample_weight=w),
                "pr_auc": average_precision_score(y, proba[:, 1], sample_weight=w),
                "log_loss": log_loss(y, proba, sample_weight=w),
                "brier_score": brier_score_loss(y, proba[:, 1], sample_weight=w)}
    for name, value in expected.items():
        assert report.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    assert report.confusion_matrix["matrix"] == confusion_matrix(y, pred, sample_weight=w).tolist()
    p, r, f, s = precision_recall_fscore_support(y, pred, sample_weight=w)
    table = report.to_frame("per_class")
    np.testing.assert_allclose(table[["precision", "recall", "f1", "support"]].to_numpy(),
                               np.column_stack([p, r, f, s]), rtol=1e-12)
    assert report.loss_curve is not None and report.loss_curve.size >= 1


def test_multiclass_metrics_match_sklearn(multiclass):
    model, X, y = multiclass
    report = evaluate(model, X, y)
    proba, pred = model.predict_proba(X), model.predict(X)
    assert report.classes == ["setosa", "versicolor", "virginica"]
    for average in ("macro", "weighted"):
        assert report.metrics[f"precision_{average}"] == pytest.approx(precision_score(y, pred, average=average))
        assert report.metrics[f"recall_{average}"] == pytest.approx(recall_score(y, pred, average=average))
        assert report.metrics[f"f1_{average}"] == pytest.approx(f1_score(y, pred, average=average))
    assert report.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert report.metrics["pr_auc"] == pytest.approx(
        average_precision_score(label_binarize(y, classes=model.classes_), proba, average="macro"))
    assert report.metrics["log_loss"] == pytest.approx(log_loss(y, proba))
    assert report.metrics["brier_score"] == pytest.approx(brier_score_loss(y, proba, labels=model.classes_))
    assert report.confusion_matrix["matrix"] == confusion_matrix(y, pred).tolist()
    assert report.to_frame("confusion").shape == (3, 3)


def _ece_reference(outcome, probability, n_bins=10):
    """Expected calibration error with an explicit loop over bins (lower, upper], bin 0 also holding 0."""
    bins = np.clip(np.ceil(probability * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        rows = bins == b
        if rows.any():
            total += rows.mean() * abs(outcome[rows].mean() - probability[rows].mean())
    return total


def test_calibration_summary(binary, multiclass):
    model, X, y = binary
    calibration = evaluate(model, X, y).calibration
    p = model.predict_proba(X)[:, 1]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose([b["fraction_positive"] for b in calibration["bins"]], prob_true)
    np.testing.assert_allclose([b["mean_predicted"] for b in calibration["bins"]], prob_pred)
    assert sum(b["count"] for b in calibration["bins"]) == len(y)
    assert calibration["ece"] == pytest.approx(_ece_reference(y, p))
    # multiclass: top-label calibration
    model, X, y = multiclass
    calibration = evaluate(model, X, y).calibration
    proba = model.predict_proba(X)
    correct = (model.classes_[proba.argmax(1)] == y).astype(float)
    assert calibration["kind"] == "top label"
    assert calibration["ece"] == pytest.approx(_ece_reference(correct, proba.max(1)))


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(regression, weighted):
    model, X, y = regression
    w = _weights(len(y)) if weighted else None
    report = evaluate(model, X, y, sample_weight=w)
    assert isinstance(report, RegressionReport)
    pred = model.predict(X)
    assert report.metrics["rmse"] == pytest.approx(root_mean_squared_error(y, pred, sample_weight=w))
    assert report.metrics["mae"] == pytest.approx(mean_absolute_error(y, pred, sample_weight=w))
    assert report.metrics["median_ae"] == pytest.approx(median_absolute_error(y, pred, sample_weight=w))
    assert report.metrics["r2"] == pytest.approx(r2_score(y, pred, sample_weight=w))
    residual = y - pred
    assert report.residuals["mean"] == pytest.approx(residual.mean())
    assert report.residuals["std"] == pytest.approx(residual.std())
    assert report.residuals["max_abs"] == pytest.approx(np.abs(residual).max())
    assert report.residuals["quantiles"]["q50"] == pytest.approx(np.median(residual))


def test_decision_function_only_classifier(binary):
    _, X, y = binary
    model = make_pipeline(StandardScaler(), fastml.SGDClassifier(loss="hinge", random_state=0)).fit(X, y)
    assert not hasattr(model, "predict_proba")
    report = evaluate(model, X, y)
    score = model.decision_function(X)
    assert report.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert report.metrics["pr_auc"] == pytest.approx(average_precision_score(y, score))
    assert "log_loss" not in report.metrics and report.calibration is None
    losses = np.where(y == 1, -score, score)
    assert [r["loss"] for r in report.worst] == pytest.approx(np.sort(losses)[::-1][:10])


# -- cross-validation equals cross_validate on the same folds --------------------------------------------
def test_cross_validation_classifier_matches_cross_validate():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), fastml.LogisticRegression())
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    report = evaluate(model, X, y, cv=folds)
    scoring = {"accuracy": "accuracy", "f1": "f1", "precision": "precision", "recall": "recall",
               "roc_auc": "roc_auc", "pr_auc": "average_precision", "log_loss": "neg_log_loss"}
    reference = cross_validate(model, X, y, cv=folds, scoring=scoring)
    table = report.to_frame("folds")
    assert table.shape[0] == 4
    for name in scoring:
        expected = reference[f"test_{name}"] * (-1 if name == "log_loss" else 1)
        np.testing.assert_allclose(table[name].to_numpy(), expected, rtol=1e-10, err_msg=name)
        assert report.cv["mean"][name] == pytest.approx(expected.mean())
        assert report.cv["std"][name] == pytest.approx(expected.std())
    # headline metrics come from the out-of-fold predictions
    assert report.evaluated_on == "out-of-fold predictions"
    oof = cross_val_predict(model, X, y, cv=folds)
    assert report.metrics["accuracy"] == pytest.approx(accuracy_score(y, oof))
    assert report.to_frame().shape == (len(report.metrics), 3)


def test_cross_validation_routes_sample_weight_to_fit_and_metrics():
    X, y = load_breast_cancer(return_X_y=True)
    w = _weights(len(y), seed=3)
    model = make_pipeline(StandardScaler(), fastml.LogisticRegression())
    folds = KFold(3, shuffle=True, random_state=0)
    report = evaluate(model, X, y, cv=folds, sample_weight=w)
    for fold, (train, test) in zip(report.cv["folds"], folds.split(X, y)):
        fitted = make_pipeline(StandardScaler(), fastml.LogisticRegression()).fit(
            X[train], y[train], logisticregression__sample_weight=w[train])
        proba = fitted.predict_proba(X[test])
        assert fold["log_loss"] == pytest.approx(log_loss(y[test], proba, sample_weight=w[test]), rel=1e-10)


def test_cross_validation_regressor_matches_cross_validate():
    X, y = load_diabetes(return_X_y=True)
    model = fastml.Ridge(alpha=0.5)
    folds = KFold(3, shuffle=True, random_state=1)
    report = evaluate(model, X, y, cv=folds)  # the template need not be fitted
    reference = cross_validate(model, X, y, cv=folds,
                               scoring=["r2", "neg_root_mean_squared_error", "neg_mean_absolute_error"])
    table = report.to_frame("folds")
    np.testing.assert_allclose(table["r2"], reference["test_r2"], rtol=1e-10)
    np.testing.assert_allclose(table["rmse"], -reference["test_neg_root_mean_squared_error"], rtol=1e-10)
    np.testing.assert_allclose(table["mae"], -reference["test_neg_mean_absolute_error"], rtol=1e-10)


def test_cross_validation_with_overlapping_folds_reports_fold_means():
    X, y = load_diabetes(return_X_y=True)
    report = evaluate(fastml.Ridge(), X, y, cv=ShuffleSplit(3, test_size=0.3, random_state=0), slice_by=X[:, 1] > 0)
    assert report.evaluated_on == "mean over folds"
    assert report.metrics["r2"] == pytest.approx(report.to_frame("folds")["r2"].mean())
    assert report.worst == [] and report.slices is None
    json.dumps(report.to_dict())


# -- error analysis ------------------------------------------------------------------------------------------
def test_worst_rows_are_the_largest_losses(binary, regression):
    model, X, y = binary
    report = evaluate(model, X, y, worst=7)
    proba = model.predict_proba(X)
    losses = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1))
    order = np.argsort(-losses, kind="stable")[:7]
    assert [r["position"] for r in report.worst] == order.tolist()
    assert [r["index"] for r in report.worst] == X.index[order].tolist()  # DataFrame labels, not positions
    assert [r["loss"] for r in report.worst] == pytest.approx(losses[order])
    assert min(r["loss"] for r in report.worst) >= np.delete(losses, order).max()
    assert report.to_frame("worst").shape == (7, 6)

    model, X, y = regression
    report = evaluate(model, X, y, worst=5)
    errors = np.abs(y - model.predict(X))
    assert [r["loss"] for r in report.worst] == pytest.approx(np.sort(errors)[::-1][:5])
    assert evaluate(model, X, y, worst=0).worst == []


def test_slices_partition_and_match_subset_metrics(multiclass):
    model, X, y = multiclass
    labels = np.where(X[:, 0] > 5.8, "long", "short")
    report = evaluate(model, X, y, slice_by=labels)
    slices = report.slices["slices"]
    assert [s["slice"] for s in slices] == ["long", "short"]
    assert sum(s["n"] for s in slices) == len(y)
    pred, proba = model.predict(X), model.predict_proba(X)
    for s in slices:
        rows = labels == s["slice"]
        assert s["n"] == rows.sum()
        assert s["metrics"]["accuracy"] == pytest.approx(accuracy_score(y[rows], pred[rows]))
        assert s["metrics"]["f1_macro"] == pytest.approx(
            f1_score(y[rows], pred[rows], labels=model.classes_, average="macro", zero_division=0))
        assert s["metrics"]["log_loss"] == pytest.approx(log_loss(y[rows], proba[rows], labels=model.classes_))
    assert report.to_frame("slices").shape[0] == 2


def test_slice_by_dataframe_column_numeric_bins_and_categories(regression):
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), fastml.LogisticRegression()).fit(X, y)
    report = evaluate(model, X, y, slice_by="alcohol")  # numeric, many values -> 5 quantile bins
    slices = report.slices["slices"]
    assert report.slices["by"] == "alcohol" and len(slices) == 5
    assert sum(s["n"] for s in slices) == len(y)
    lower_edges = [float(s["slice"][1:].split(",")[0]) for s in slices]
    assert lower_edges == sorted(lower_edges)  # bins in increasing order
    # slice labels given as a Series with missing values: the missing rows form their own slice
    model, X_reg, y_reg = regression
    groups = pd.Series(np.where(np.arange(len(y_reg)) % 3 == 0, None, np.arange(len(y_reg)) % 2), name="parity")
    report = evaluate(model, X_reg, y_reg, slice_by=groups)
    by_name = {s["slice"]: s for s in report.slices["slices"]}
    assert report.slices["by"] == "parity" and "<missing>" in by_name
    pred = model.predict(X_reg)
    rows = groups.isna().to_numpy()
    assert by_name["<missing>"]["metrics"]["r2"] == pytest.approx(r2_score(y_reg[rows], pred[rows]))


# -- threshold tuning ----------------------------------------------------------------------------------------
def _brute_force(y, score, target_metric, target):
    """Every distinct score as a threshold, precision and recall counted with plain numpy."""
    best = None
    positive = y == 1
    for threshold in np.unique(score):
        flagged = score >= threshold
        true_positives = np.sum(flagged & positive)
        precision, recall = true_positives / flagged.sum(), true_positives / positive.sum()
        achieved, other = (precision, recall) if target_metric == "precision" else (recall, precision)
        if achieved >= target and (best is None or other > best[1]):
            best = (threshold, other)
    return best


@pytest.mark.parametrize("target_metric,target", [("precision", 0.9), ("precision", 0.97), ("precision", 0.995),
                                                  ("recall", 0.9), ("recall", 0.99), ("recall", 1.0)])
def test_tune_threshold_reaches_target_and_is_optimal(binary, target_metric, target):
    model, X, y = binary
    result = tune_threshold(model, X, y, **{f"target_{target_metric}": target})
    assert isinstance(result, ThresholdResult) and result.reached
    score = model.predict_proba(X)[:, 1]
    flagged = (score >= result.threshold).astype(int)
    assert precision_score(y, flagged) == pytest.approx(result.precision)
    assert recall_score(y, flagged) == pytest.approx(result.recall)
    assert getattr(result, target_metric) >= target
    _, best_other = _brute_force(y, score, target_metric, target)
    assert (result.recall if target_metric == "precision" else result.precision) == pytest.approx(best_other)
    np.testing.assert_array_equal(result.predict(model, X), flagged)
    report = evaluate(model, X, y, threshold_for={target_metric: target})
    assert report.threshold == result


def test_tune_threshold_unreachable_target_says_so():
    scores = np.array([[0.9], [0.8], [0.7], [0.2]])
    y = np.array([0, 1, 1, 0])  # the top-scored row is negative: precision 1.0 is impossible
    model = FixedScores().fit(scores, y)
    result = tune_threshold(model, scores, y, target_precision=1.0)
    assert not result.reached
    assert result.precision == pytest.approx(2 / 3) and result.threshold == pytest.approx(0.7)


# -- report forms -------------------------------------------------------------------------------------------
def test_to_dict_json_round_trip(binary, multiclass, regression):
    model, X, y = binary
    one_class_slice = np.where(y == 1, "pos", "neg")  # roc_auc undefined in each slice -> None
    reports = [evaluate(model, X, y, slice_by=one_class_slice, threshold_for={"recall": 0.95}),
               evaluate(*multiclass, cv=3), evaluate(*regression, slice_by=np.arange(len(regression[2])) % 2)]
    for report in reports:
        data = report.to_dict()
        assert json.loads(json.dumps(data, allow_nan=False)) == data
    data = reports[0].to_dict()
    assert data["slices"]["slices"][0]["metrics"]["roc_auc"] is None
    assert data["threshold"]["target_metric"] == "recall"
    assert data["metrics"]["accuracy"] == pytest.approx(reports[0].metrics["accuracy"])


def test_to_frame_shapes_and_errors(binary, regression):
    model, X, y = binary
    report = evaluate(model, X, y)
    assert report.to_frame().shape == (len(report.metrics), 1)
    assert report.to_frame("per_class").shape == (2, 4)
    assert report.to_frame("calibration").shape[1] == 5
    with pytest.raises(ValueError, match="no cross-validation"):
        report.to_frame("folds")
    with pytest.raises(ValueError, match="kind must be one of"):
        report.to_frame("residuals")
    assert evaluate(*regression).to_frame("residuals").shape == (8, 1)


def test_str_contains_key_metrics(binary, regression):
    model, X, y = binary
    report = evaluate(model, X, y, threshold_for={"precision": 0.95})
    text = str(report)
    for needle in ("accuracy", "roc_auc", "log_loss", f"{report.metrics['accuracy']:.4f}", "Confusion matrix",
                   "Per class", "Calibration", "Threshold", "Worst"):
        assert needle in text
    text = str(evaluate(*regression, cv=3))
    assert "rmse" in text and "r2" in text and "Cross-validation: 3 folds" in text and "Residuals" in text


class _TagChecker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>, open: {self.stack[-3:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    return checker


def test_html_is_well_formed_and_escaped(binary, tmp_path, monkeypatch):
    model, X, y = binary
    labels = np.where(y == 1, "<script>alert(1)</script>", "a&b")
    # without matplotlib: no <img>, an install hint instead
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = tmp_path / "report.html"
    report = evaluate(model, X, y, slice_by=labels)
    text = report.to_html(path)
    assert path.read_text(encoding="utf-8") == text
    checker = _parse(text)
    assert "script" not in checker.tags and "&lt;script&gt;" in text and "a&amp;b" in text
    assert "img" not in checker.tags and "pip install matplotlib" in text
    body = "".join(checker.text)
    assert "accuracy" in body and f"{report.metrics['roc_auc']:.4f}" in body


def test_plots_need_matplotlib_clear_error(binary, monkeypatch):
    report = evaluate(*binary)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        report.plot("roc")


def test_plots_and_html_images(binary, multiclass, regression, tmp_path):
    pytest.importorskip("matplotlib")
    report = evaluate(*binary)
    assert report.plot_kinds() == ["roc", "pr", "confusion", "calibration", "loss_curve"]
    paths = report.plots(tmp_path / "binary")
    for path in paths.values():
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="not available"):
        report.plot("residuals")
    assert set(evaluate(*multiclass).plots(tmp_path / "multi")) == {"roc", "pr", "confusion", "calibration",
                                                                     "loss_curve"}
    regression_report = evaluate(*regression)
    assert set(regression_report.plots(tmp_path / "reg")) == {"residuals", "loss_curve"}
    checker = _parse(regression_report.to_html())
    assert checker.tags.count("img") == 2


# -- bad input -----------------------------------------------------------------------------------------------
def test_bad_input_clear_errors(binary, multiclass, regression):
    model, X, y = binary
    with pytest.raises(NotFittedError):
        evaluate(fastml.LogisticRegression(), X, y)
    with pytest.raises(NotFittedError):
        tune_threshold(make_pipeline(StandardScaler(), fastml.LogisticRegression()), X, y, target_recall=0.9)
    with pytest.raises(ValueError, match="y has 10 rows but X has"):
        evaluate(model, X, y[:10])
    for target in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"in \(0, 1\]"):
            tune_threshold(model, X, y, target_precision=target)
        with pytest.raises(ValueError, match=r"in \(0, 1\]"):
            evaluate(model, X, y, threshold_for={"recall": target})
    with pytest.raises(ValueError, match="exactly one"):
        tune_threshold(model, X, y, target_precision=0.9, target_recall=0.9)
    with pytest.raises(ValueError, match="threshold_for must be"):
        evaluate(model, X, y, threshold_for={"f1": 0.9})
    with pytest.raises(ValueError, match="'no such column' is not in X"):
        evaluate(model, X, y, slice_by="no such column")
    with pytest.raises(ValueError, match="not a pandas DataFrame"):
        evaluate(multiclass[0], multiclass[1], multiclass[2], slice_by="sepal")
    with pytest.raises(ValueError, match="slice_by has 3 labels"):
        evaluate(model, X, y, slice_by=[1, 2, 3])
    with pytest.raises(ValueError, match="binary"):
        evaluate(*multiclass, threshold_for={"precision": 0.9})
    with pytest.raises(ValueError, match="regressor"):
        evaluate(*regression, threshold_for={"precision": 0.9})
    with pytest.raises(ValueError, match="labels the model was not fitted on"):
        evaluate(multiclass[0], multiclass[1], np.full(len(multiclass[2]), "rose"))
    with pytest.raises(ValueError, match="worst"):
        evaluate(model, X, y, worst=-1)
    # a regressor's target with NaN gave every metric None, silently
    regressor, X_regression, y_regression = regression
    for bad_value in (np.nan, np.inf):
        target = np.asarray(y_regression, dtype=float).copy()
        target[4] = bad_value
        with pytest.raises(ValueError, match="NaN or infinity .*first at row 4"):
            evaluate(regressor, X_regression, target)


def test_public_names():
    assert fastml.evaluate is evaluate
    json.dumps(evaluate(*load_small_regression()).to_dict())


def load_small_regression():
    X, y = load_diabetes(return_X_y=True)
    return fastml.LinearRegression().fit(X[:100], y[:100]), X[100:150], y[100:150]
