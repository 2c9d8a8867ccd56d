"""LogisticRegression and LogisticRegressionCV against scikit-learn, the reference implementation.

Parity: the same objective (scikit-learn's ``C sum_i s_i loss_i + penalty``, which fastml divides by
``C sum_i s_i``) fitted to tight tolerance must give the same coefficients (1e-4 relative to the
largest coefficient) and the same predictions. scikit-learn's own estimator checks
(``parametrize_with_checks``) and the pandas column-name check run in ``test_common.py``.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastml.linear_model._logistic import LogisticRegression
from fastml.linear_model._logistic_cv import LogisticRegressionCV

TIGHT = {"tol": 1e-10, "max_iter": 5000}


def _scaled(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _generated(sparse):
    X, y = make_classification(n_samples=400, n_features=12, n_informative=6, random_state=0)
    if sparse:
        rng = np.random.default_rng(0)
        X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
    return X, y


DATASETS = {
    "breast_cancer": lambda: _scaled(load_breast_cancer),
    "wine": lambda: _scaled(load_wine),
    "digits": lambda: _scaled(load_digits),
    "dense": lambda: _generated(False),
    "csr": lambda: _generated(True),
}


def _sklearn(**params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (FutureWarning, ConvergenceWarning, UserWarning))
        return sk.LogisticRegression(**params)


def _fit_quiet(model, X, y, **fit_params):
    # one OpenMP/BLAS thread: on a busy machine scikit-learn's spinning OpenMP threads can run 50x slower
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", (FutureWarning, ConvergenceWarning))
        return model.fit(X, y, **fit_params)


def assert_same_model(ours, reference, X, rtol=1e-4):
    scale = max(np.abs(reference.coef_).max(), 1e-12)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=rtol, atol=rtol * max(scale, 1.0))
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    np.testing.assert_array_equal(ours.classes_, reference.classes_)


# -- parity ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("solver", ["lbfgs", "newton", "gd"])
def test_l2_parity_with_sklearn(dataset, solver):
    X, y = DATASETS[dataset]()
    reference = _fit_quiet(_sklearn(C=0.5, **TIGHT), X, y)
    ours = _fit_quiet(LogisticRegression(C=0.5, solver=solver, tol=1e-9, max_iter=20000), X, y)
    assert_same_model(ours, reference, X)


def test_l1_parity_with_liblinear_binary():
    # liblinear penalizes its intercept, so compare without one: then both solve the same problem
    X, y = DATASETS["breast_cancer"]()
    reference = _fit_quiet(_sklearn(C=0.3, l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=1e-12,
                                    max_iter=100000), X, y)
    ours = _fit_quiet(LogisticRegression(penalty="l1", C=0.3, solver="gd", fit_intercept=False, tol=1e-10,
                                         max_iter=50000), X, y)
    assert_same_model(ours, reference, X)
    np.testing.assert_array_equal(ours.coef_ == 0, reference.coef_ == 0)  # same support


def test_l1_parity_with_saga_multinomial():
    X, y = DATASETS["wine"]()
    reference = _fit_quiet(_sklearn(C=0.2, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=20000), X, y)
    ours = _fit_quiet(LogisticRegression(penalty="l1", C=0.2, solver="gd", tol=1e-10, max_iter=50000), X, y)
    assert_same_model(ours, reference, X, rtol=1e-4)


def test_no_penalty_and_infinite_C_agree():
    X, y = DATASETS["dense"]()
    X = X[:, :4]  # not separable: the unpenalized optimum exists
    none = _fit_quiet(LogisticRegression(penalty=None, **TIGHT), X, y)
    infinite = _fit_quiet(LogisticRegression(C=np.inf, **TIGHT), X, y)
    reference = _fit_quiet(_sklearn(C=np.inf, **TIGHT), X, y)
    assert_same_model(none, reference, X)
    np.testing.assert_allclose(infinite.coef_, none.coef_, rtol=1e-10)


def test_objective_matches_sklearn_optimum():
    """objective() is what is minimized: sklearn's optimum scores no lower than ours."""
    X, y = DATASETS["breast_cancer"]()
    ours = LogisticRegression(C=0.5, **TIGHT).fit(X, y)
    reference = _fit_quiet(_sklearn(C=0.5, **TIGHT), X, y)
    value = ours.objective(X, y)
    shell = clone(ours)
    shell.__dict__.update(coef_=reference.coef_, intercept_=reference.intercept_, classes_=ours.classes_,
                          n_features_in_=X.shape[1])
    assert value <= shell.objective(X, y) + 1e-12
    assert abs(value - shell.objective(X, y)) < 1e-9


# -- weights -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["breast_cancer", "wine"])
@pytest.mark.parametrize("class_weight", ["balanced", "dict"])
def test_class_weight_parity(dataset, class_weight):
    X, y = DATASETS[dataset]()
    if class_weight == "dict":
        class_weight = {label: 1.0 + index for index, label in enumerate(np.unique(y))}
    sample_weight = np.random.default_rng(1).integers(1, 4, len(y)).astype(float)
    reference = _fit_quiet(_sklearn(class_weight=class_weight, **TIGHT), X, y, sample_weight=sample_weight)
    ours = _fit_quiet(LogisticRegression(class_weight=class_weight, **TIGHT), X, y, sample_weight=sample_weight)
    assert_same_model(ours, reference, X)


@pytest.mark.parametrize("dataset", ["dense", "csr", "wine"])
def test_sample_weight_equals_repetition(dataset):
    X, y = DATASETS[dataset]()
    repeats = np.random.default_rng(2).integers(0, 4, X.shape[0])
    repeats[:3] = 1  # keep every class
    weighted = LogisticRegression(**TIGHT).fit(X, y, sample_weight=repeats)
    rows = np.repeat(np.arange(X.shape[0]), repeats)
    repeated = LogisticRegression(**TIGHT).fit(X[rows], y[rows])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-6, atol=1e-8)


# -- labels, dtypes, warm start ----------------------------------------------------------------------
@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "eel"]), np.array([-3, 7, 10])])
def test_string_and_integer_labels(labels):
    X, y = DATASETS["wine"]()
    named = labels[y]
    ours = LogisticRegression(**TIGHT).fit(X, named)
    plain = LogisticRegression(**TIGHT).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, labels)
    np.testing.assert_array_equal(ours.predict(X), labels[plain.predict(X)])
    binary = LogisticRegression().fit(X[y < 2], named[y < 2])
    assert binary.coef_.shape == (1, X.shape[1]) and set(binary.predict(X)) <= set(labels[:2])


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_kept(sparse):
    X, y = DATASETS["csr" if sparse else "dense"]()
    X32 = X.astype(np.float32)
    ours = LogisticRegression(tol=1e-8, max_iter=1000).fit(X32, y)
    assert ours.coef_.dtype == np.float32 and ours.intercept_.dtype == np.float32
    assert ours.decision_function(X32).dtype == np.float32
    assert ours.predict_proba(X32).dtype == np.float32
    reference = LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-4, atol=1e-5)


def test_dense_input_not_copied():
    X, y = DATASETS["dense"]()
    X = np.asfortranarray(X)
    model = LogisticRegression()
    seen = []
    model.callbacks = [lambda info: seen.append(info.iteration) and False]
    model.fit(X, y)
    assert seen == list(range(1, len(seen) + 1)) and len(model.loss_curve_) == len(seen) + 1
    assert np.all(np.diff(model.loss_curve_) <= 1e-12)  # L-BFGS with a Wolfe search never goes up


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_warm_start(solver):
    X, y = DATASETS["breast_cancer"]()
    cold = LogisticRegression(solver=solver, tol=1e-8, max_iter=1000).fit(X, y)
    warm = LogisticRegression(solver=solver, tol=1e-8, max_iter=1000, warm_start=True).fit(X, y)
    first_iterations = warm.n_iter_[0]
    warm.fit(X, y)
    assert warm.n_iter_[0] <= 1 < first_iterations
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-5, atol=1e-6)
    warm.set_params(C=0.01).fit(X, y)  # a new C continues from the old optimum and reaches the new one
    np.testing.assert_allclose(warm.coef_, LogisticRegression(C=0.01, tol=1e-8).fit(X, y).coef_, rtol=1e-5,
                               atol=1e-6)


# -- scikit-learn tooling ----------------------------------------------------------------------------
def test_pipeline_gridsearch_cross_val_score_clone():
    X, y = load_breast_cancer(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    ours = cross_val_score(pipeline, X, y, cv=3)
    theirs = cross_val_score(make_pipeline(StandardScaler(), _sklearn(max_iter=500)), X, y, cv=3)
    np.testing.assert_allclose(ours, theirs, atol=0.02)
    search = GridSearchCV(pipeline, {"logisticregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["logisticregression__C"] in (0.01, 1.0)
    copy = clone(LogisticRegression(C=3.0, class_weight="balanced"))
    assert copy.get_params()["C"] == 3.0 and not hasattr(copy, "coef_")


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, X, y, message", [
    ({}, np.ones((4, 2)), np.zeros(4), "only one class"),
    ({}, np.ones((4, 2)), np.array([0.1, 0.5, 0.7, 0.9]), "Unknown label type"),
    ({}, np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]), "NaN"),
    ({}, np.ones((4, 2)), np.array([0, 1, 0]), "inconsistent numbers of samples"),
    ({}, np.ones(4), np.array([0, 1, 0, 1]), "2D array"),
    ({"solver": "liblinear"}, np.eye(4), np.array([0, 1, 0, 1]), "solver must be one of"),
    ({"penalty": "l3"}, np.eye(4), np.array([0, 1, 0, 1]), "penalty must be one of"),
    ({"penalty": "l1", "solver": "lbfgs"}, np.eye(4), np.array([0, 1, 0, 1]), "supports only L2"),
    ({"C": -1.0}, np.eye(4), np.array([0, 1, 0, 1]), "C must be >"),
    ({"penalty": "elasticnet", "l1_ratio": None}, np.eye(4), np.array([0, 1, 0, 1]), "needs l1_ratio"),
])
def test_bad_input(params, X, y, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(X, y)


@pytest.mark.parametrize("layout", ["C", "F32", "csr"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("solver", ["lbfgs", "newton", "gd", "sgd", "adam"])
def test_non_finite_X_is_rejected_by_every_solver(solver, bad, layout):
    """fit skips validate_data's finiteness pass over X: the solver's first pass settles it, or the
    full check runs before anything else reads X (warm start, stochastic solvers)."""
    X, y = _generated(sparse=False)
    X = X.copy()
    X[17, 3] = bad
    design = {"C": X, "F32": np.asfortranarray(X, dtype=np.float32), "csr": sp.csr_matrix(X)}[layout]
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        LogisticRegression(solver=solver).fit(design, y)
    warm = LogisticRegression(solver=solver, warm_start=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(np.nan_to_num(X, posinf=0.0), y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        warm.fit(design, y)


def test_finite_X_is_read_once_for_its_check(monkeypatch):
    """On finite dense data the L-BFGS fit never runs the separate finiteness pass."""
    from fastml._objective import DesignMatrix

    calls = []
    original = DesignMatrix.check_finite
    monkeypatch.setattr(DesignMatrix, "check_finite", lambda self: calls.append(1) or original(self))
    X, y = _generated(sparse=False)
    X = np.tile(X, (600, 1))  # 240 000 rows: the objective runs the parallel kernel
    y = np.tile(y, 600)
    model = LogisticRegression(solver="lbfgs").fit(X, y)
    assert not calls and model.n_iter_[0] > 0


def test_all_zero_and_negative_weights():
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        LogisticRegression().fit(X, y, sample_weight=np.zeros(4))
    with pytest.raises(ValueError, match="(?i)negative"):
        LogisticRegression().fit(X, y, sample_weight=np.array([1.0, -1.0, 1.0, 1.0]))


def test_predict_checks_width_and_finiteness():
    X, y = DATASETS["dense"]()
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, X.shape[1]), np.nan))


# -- LogisticRegressionCV ----------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, scoring", [("breast_cancer", None), ("breast_cancer", "neg_log_loss"),
                                               ("wine", None)])
def test_logistic_cv_parity_with_sklearn(dataset, scoring):
    X, y = DATASETS[dataset]()
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    Cs = np.logspace(-3, 1, 6)  # well-posed Cs: every fold converges to tight tolerance
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", FutureWarning)
        reference = sk.LogisticRegressionCV(Cs=Cs, cv=cv, scoring=scoring, l1_ratios=None,
                                            use_legacy_attributes=True, **TIGHT).fit(X, y)
    ours = LogisticRegressionCV(Cs=Cs, cv=cv, scoring=scoring, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.C_, reference.C_)
    np.testing.assert_allclose(ours.Cs_, reference.Cs_)
    assert_same_model(ours, reference, X)
    assert ours.scores_.keys() == reference.scores_.keys()
    for key in reference.scores_:
        np.testing.assert_allclose(ours.scores_[key], reference.scores_[key], atol=1e-6)
        paths = reference.coefs_paths_[key]
        assert ours.coefs_paths_[key].shape == paths.shape
        np.testing.assert_allclose(ours.coefs_paths_[key], paths, rtol=1e-4, atol=1e-4 * np.abs(paths).max())
    assert ours.n_iter_.shape == reference.n_iter_.shape


@pytest.mark.parametrize("layout", ["paths", "grid"])
@pytest.mark.parametrize("solver", ["lbfgs", "gd", "newton"])
def test_logistic_cv_batched_folds_equal_separate_fits(layout, solver, monkeypatch):
    """Each column of the batched binary objective is the fold's own problem (zero weights are exact)."""
    monkeypatch.setattr(LogisticRegressionCV, "_binary_layout", layout)
    X, y = DATASETS["csr"]()
    folds = list(StratifiedKFold(3).split(X, y))
    Cs = [0.05, 1.0]
    ours = LogisticRegressionCV(Cs=Cs, cv=folds, solver=solver, tol=1e-10, max_iter=5000).fit(X, y)
    for f, (train, _) in enumerate(folds):
        for k, C in enumerate(Cs):
            single = LogisticRegression(C=C, tol=1e-10, max_iter=2000).fit(X[train], y[train])
            expected = np.append(single.coef_[0], single.intercept_)
            np.testing.assert_allclose(ours.coefs_paths_[1][f, k], expected, rtol=1e-5, atol=1e-6)


def test_logistic_cv_attributes_and_refit_false():
    X, y = DATASETS["wine"]()
    ours = LogisticRegressionCV(Cs=4, cv=3, refit=False, use_legacy_attributes=False).fit(X, y)
    assert ours.coefs_paths_.shape == (3, 1, 4, 3, X.shape[1] + 1)
    assert ours.scores_.shape == (3, 1, 4) and ours.n_iter_.shape == (3, 1, 4)
    assert isinstance(ours.C_, float) and ours.Cs_.min() <= ours.C_ <= ours.Cs_.max()
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ours.scores_[:, 0].mean(axis=0))
    assert ours.cv_results_["rank_test_score"][np.argmax(ours.cv_results_["mean_test_score"])] == 1
    assert ours.score(X, y) > 0.9


def test_logistic_cv_bad_input():
    X, y = DATASETS["breast_cancer"]()
    with pytest.raises(ValueError, match="only the L2"):
        LogisticRegressionCV(l1_ratios=[0.5]).fit(X, y)
    with pytest.raises(ValueError, match="Cs must be"):
        LogisticRegressionCV(Cs=[-1.0]).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegressionCV().fit(X, np.zeros(len(y)))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_solvers_take_frames_and_fortran_arrays(solver):
    """A pandas frame arrives F-ordered: the stochastic solvers, which read shuffled rows, get a
    C-ordered copy (as SGDClassifier does) and give the fit of the C-ordered array; names are kept."""
    import pandas as pd

    X, y = make_classification(200, 4, random_state=0)
    reference = LogisticRegression(solver=solver, max_iter=30, random_state=0).fit(X, y)
    frame = pd.DataFrame(X, columns=list("abcd"))
    for data in (np.asfortranarray(X), frame):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(solver=solver, max_iter=30, random_state=0).fit(data, y)
        np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert list(model.feature_names_in_) == list("abcd")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_solvers_warn_at_max_iter(solver):
    X, y = make_classification(300, 6, random_state=1)
    with pytest.warns(ConvergenceWarning, match=solver):
        model = LogisticRegression(solver=solver, max_iter=2, tol=1e-12, random_state=0).fit(X, y)
    assert not model.solver_info_["converged"]


@pytest.mark.parametrize("labels, dtype", [((-100, 100), np.int8), ((-1, 127), np.int8), ((-20000, 20000), np.int16),
                                           ((0, 255), np.uint8)])
def test_narrow_integer_labels_spanning_their_dtype(labels, dtype):
    """label - lowest once wrapped around in the labels' own narrow dtype (int8 -100 and 100)."""
    X, y = make_classification(120, 4, random_state=2)
    target = np.where(y == 1, labels[1], labels[0]).astype(dtype)
    for estimator in (LogisticRegression(), LogisticRegressionCV(cv=3)):
        model = estimator.fit(X, target)
        np.testing.assert_array_equal(model.classes_, np.array(labels, dtype=dtype))
        assert model.classes_.dtype == dtype
        np.testing.assert_array_equal(model.predict(X), np.where(model.predict(X) == labels[1], labels[1], labels[0]))
        assert (model.predict(X) == target).mean() > 0.8


def test_balanced_class_weight_with_a_class_of_zero_sample_weight():
    """"balanced" divides by a class's weighted count: a class whose rows all weigh 0 got weight inf,
    and 0 * inf made the objective NaN ("l2 must be finite"). Its rows weigh nothing either way: the
    fit is the one with that class weighted 0 and the others balanced. (scikit-learn 1.9 returns all-zero
    coefficients there: its objective is NaN too.)"""
    from sklearn.utils.class_weight import compute_class_weight

    X, y = make_classification(200, 5, n_informative=3, n_classes=3, random_state=0)
    sample_weight = np.where(y == 2, 0.0, 1.0)
    ours = LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=1000).fit(X, y, sample_weight=sample_weight)
    with np.errstate(divide="ignore"):
        balanced = compute_class_weight("balanced", classes=np.arange(3), y=y, sample_weight=sample_weight)
    assert not np.isfinite(balanced[2])
    explicit = {0: balanced[0], 1: balanced[1], 2: 0.0}
    theirs = sk.LogisticRegression(class_weight=explicit, tol=1e-10, max_iter=10_000).fit(
        X, y, sample_weight=sample_weight)
    assert np.all(np.isfinite(ours.coef_))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
    cv = LogisticRegressionCV(cv=3, class_weight="balanced").fit(X, y, sample_weight=sample_weight)
    assert np.all(np.isfinite(cv.coef_))


@pytest.mark.parametrize("params", [{}, {"l1_ratio": 1.0}, {"l1_ratio": 0.4}, {"penalty": "l2", "l1_ratio": 0.4},
                                    {"penalty": "l1", "l1_ratio": 0.0}, {"penalty": "elasticnet", "l1_ratio": 0.4},
                                    {"C": np.inf}, {"penalty": None}])
def test_penalty_and_l1_ratio_follow_scikit_learn_1_9(params):
    """scikit-learn 1.9 takes the penalty from l1_ratio (default 0: L2) unless penalty is given, which
    then wins over l1_ratio with a warning; fastml gave penalty='l2' with l1_ratio an elastic net."""
    # not separable, no redundant columns: without a penalty the optimum is unique
    X, y = make_classification(150, 5, n_informative=3, n_redundant=0, flip_y=0.3, random_state=3)
    reference_params = dict(params)
    solver = "saga" if reference_params.get("l1_ratio", 0.0) not in (0.0, None) and \
        reference_params.get("penalty", "deprecated") in ("deprecated", "elasticnet", "l1") else "lbfgs"
    if reference_params.get("penalty") == "l1":
        solver = "saga"
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = sk.LogisticRegression(solver=solver, tol=1e-12, max_iter=100_000, **reference_params).fit(X, y)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = LogisticRegression(solver="auto", tol=1e-10, max_iter=10_000, **params).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-3, atol=1e-4)
    inconsistent = lambda records: any("Inconsistent" in str(w.message) for w in records)  # noqa: E731
    assert inconsistent(ours_warned) == inconsistent(theirs_warned)


def test_auto_solver_is_lbfgs_for_two_classes_and_newton_for_small_multinomial_models():
    """``solver="auto"`` without L1: L-BFGS for two classes (preconditioned on badly scaled data, it
    beat Newton on most problems measured), Newton-CG for small multinomial models (L-BFGS has no
    preconditioner there: thousands of iterations on raw wine), L-BFGS for large ones."""
    X, y = load_breast_cancer(return_X_y=True)
    assert LogisticRegression(solver="auto").fit(X, y).solver_info_["solver"] == "lbfgs"
    X, y = load_wine(return_X_y=True)
    model = LogisticRegression(solver="auto", max_iter=1000).fit(X, y)
    assert model.solver_info_["solver"] == "newton" and model.solver_info_["converged"]
    X, y = load_digits(return_X_y=True)  # 64 features x 10 classes > 200
    assert LogisticRegression(solver="auto", max_iter=10).fit(X / 16, y).solver_info_["solver"] == "lbfgs"


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("n_rows", [40, 200_000])  # numpy-sized scores, and the threaded compiled pass
def test_probabilities_match_scikit_learn_and_log_probabilities_stay_finite(n_classes, n_rows):
    """predict_proba is scikit-learn's sigmoid / softmax of the same scores; predict_log_proba is formed
    from the scores, so where a probability underflows (scikit-learn: log(0) = -inf) it stays finite."""
    X, y = make_classification(n_rows, 6, n_informative=4, n_classes=n_classes, random_state=1)
    ours = LogisticRegression(max_iter=50).fit(X, y)
    theirs = sk.LogisticRegression(max_iter=50).fit(X, y)
    theirs.coef_, theirs.intercept_ = ours.coef_.copy(), ours.intercept_.copy()  # the same scores
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X), rtol=1e-10, atol=1e-12)
    far = X[:5] * 1e4  # scores of +-1e4 and more
    with np.errstate(divide="ignore"):
        assert np.isneginf(theirs.predict_log_proba(far)).any()
    log_proba = ours.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba)) and np.all(log_proba <= 0)
    np.testing.assert_allclose(np.exp(log_proba), ours.predict_proba(far), rtol=1e-12, atol=1e-300)
    scores = ours.decision_function(far)
    expected = (np.c_[-np.logaddexp(0, scores), -np.logaddexp(0, -scores)] if n_classes == 2
                else scores - np.logaddexp.reduce(scores, axis=1)[:, None])
    np.testing.assert_allclose(log_proba, expected, rtol=1e-12)
