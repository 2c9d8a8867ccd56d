"""SGDClassifier / SGDRegressor: scikit-learn's estimator contract, parity with scikit-learn's SGD on its
bundled datasets, exact continuation of partial_fit, batched one-vs-all == separate fits, and errors."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import expit
from sklearn import linear_model as sklearn_linear
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency, parametrize_with_checks

from validation_errors import assert_raises_validation_error  # tests/estimators is on sys.path

from fastml.linear_model._stochastic_gradient import SGDClassifier, SGDRegressor

# Each expected failure, justified:
# * check_sample_weight_equivalence_on_{dense,sparse}_data ask that an integer weight k give the same
#   predictions (to 1e-7) as k copies of the row. fastml's *objective* has that property (weights are
#   normalized by their sum; tested exactly in test_weighted_objective_equals_repeated_rows and, at the
#   optimum, in test_repetition_equivalence_at_the_optimum), but an SGD *run* visits n rows with weights
#   in a different order and number of steps than n' repeated rows, so the iterates differ. scikit-learn
#   marks the same two checks as expected failures for its SGD estimators, for the same reason.
WEIGHT_EQUIVALENCE = "an SGD run on weighted rows is not the run on repeated rows (the objective is: tested here)"
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": WEIGHT_EQUIVALENCE,
    "check_sample_weight_equivalence_on_sparse_data": WEIGHT_EQUIVALENCE,
}


def _expected_failures(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks([SGDClassifier(random_state=0), SGDRegressor(random_state=0)],
                         expected_failed_checks=_expected_failures)
def test_scikit_learn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", [SGDClassifier(random_state=0), SGDRegressor(random_state=0)])
def test_pandas_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def test_signature_and_defaults_match_scikit_learn():
    import inspect

    for ours, theirs in [(SGDClassifier, sklearn_linear.SGDClassifier), (SGDRegressor, sklearn_linear.SGDRegressor)]:
        mine = inspect.signature(ours).parameters
        for name, parameter in inspect.signature(theirs).parameters.items():
            assert name in mine, name
            assert mine[name].default == parameter.default, name


# -- data ---------------------------------------------------------------------------------------
def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def cancer():
    return _scaled(load_breast_cancer)


@pytest.fixture(scope="module")
def digits():
    return _scaled(load_digits)


@pytest.fixture(scope="module")
def diabetes():
    return _scaled(load_diabetes)


def _quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


# -- parity with scikit-learn ---------------------------------------------------------------------
# scikit-learn's "optimal" rate starts near 10 with alpha=1e-4: the squared losses then blow the weights up
# to ~1e12 (the derivative clipped at 1e12 keeps them finite), squared_hinge still classifies well but
# squared_error / squared_epsilon_insensitive give near-chance accuracy in both libraries: no band to
# compare, so those two use "invscaling" here.
_INVSCALING = dict(learning_rate="invscaling", eta0=0.01)
CLASSIFIER_SETTINGS = [("hinge", {}), ("log_loss", {}), ("modified_huber", {}), ("perceptron", {}),
                       ("squared_hinge", {}), ("squared_error", _INVSCALING), ("huber", {}),
                       ("squared_epsilon_insensitive", _INVSCALING)]


@pytest.mark.parametrize("loss, settings", CLASSIFIER_SETTINGS)
def test_classifier_accuracy_matches_scikit_learn_breast_cancer(cancer, loss, settings):
    # mean accuracy over five seeds: one run of the "optimal" schedule (steps near 10 at the start) is
    # chaotic in the rounding of its updates, so one seed's score swings with the machine: huber at
    # seed 0 passed CI on 2026-11-26 and gave 0.86 against scikit-learn's 0.92 on 2026-11-27 with the
    # same code and packages (seeds 0-4 here: 0.86-0.96 for fastml, 0.76-0.94 for scikit-learn)
    X, y = cancer
    ours, theirs = [], []
    for seed in range(5):
        ours.append(_quiet_fit(SGDClassifier(loss=loss, random_state=seed, **settings), X, y))
        theirs.append(_quiet_fit(sklearn_linear.SGDClassifier(loss=loss, random_state=seed, **settings), X, y))
    assert np.mean([m.score(X, y) for m in ours]) >= np.mean([m.score(X, y) for m in theirs]) - 0.03
    assert ours[0].coef_.shape == theirs[0].coef_.shape and ours[0].intercept_.shape == theirs[0].intercept_.shape


@pytest.mark.parametrize("loss, settings", [("hinge", {}), ("log_loss", {}), ("squared_hinge", {}),
                                            ("squared_error", _INVSCALING)])
def test_classifier_accuracy_matches_scikit_learn_digits(digits, loss, settings):
    X, y = digits
    ours = _quiet_fit(SGDClassifier(loss=loss, random_state=0, max_iter=30, **settings), X, y)
    theirs = _quiet_fit(sklearn_linear.SGDClassifier(loss=loss, random_state=0, max_iter=30, **settings), X, y)
    assert ours.coef_.shape == theirs.coef_.shape == (10, 64)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.03


@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"])
def test_regressor_r2_matches_scikit_learn_diabetes(diabetes, loss):
    X, y = diabetes
    settings = dict(epsilon=10.0) if loss in ("huber", "epsilon_insensitive") else {}
    ours = _quiet_fit(SGDRegressor(loss=loss, random_state=0, **settings), X, y)
    theirs = _quiet_fit(sklearn_linear.SGDRegressor(loss=loss, random_state=0, **settings), X, y)
    assert ours.coef_.shape == theirs.coef_.shape and ours.intercept_.shape == (1,)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.03


# Without shuffling both libraries visit the rows in order: fastml then replays scikit-learn's run step for
# step (same schedule, t0, L2 shrink, cumulative L1, averaging, alpha split l2 = alpha (1 - r), l1 = alpha r).
# Not replayed: averaging together with an L1 part (scikit-learn's lazy average does not follow the L1
# truncation; fastml averages the iterates exactly) and the squared losses under "optimal" (steps near 10
# make the run chaotic: 1e-16 rounding differences grow to O(1)).
REPLAY_CLASSIFIER = [
    dict(loss="hinge"), dict(loss="log_loss", penalty="l1"), dict(loss="modified_huber", penalty="elasticnet"),
    dict(loss="perceptron", average=True), dict(loss="squared_hinge", average=7),
    dict(loss="log_loss", learning_rate="invscaling", eta0=0.05, penalty="elasticnet", l1_ratio=0.5),
    dict(loss="huber", learning_rate="constant", eta0=0.02), dict(loss="hinge", learning_rate="adaptive", eta0=0.1),
]


@pytest.mark.parametrize("settings", REPLAY_CLASSIFIER)
def test_classifier_replays_scikit_learn_run_without_shuffling(cancer, settings):
    X, y = cancer
    common = dict(shuffle=False, max_iter=2, tol=None, alpha=1e-3, **settings)
    ours = SGDClassifier(**common).fit(X, y)
    theirs = sklearn_linear.SGDClassifier(**common).fit(X, y)
    scale = np.abs(theirs.coef_).max()
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-11 * scale)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9, atol=1e-11 * scale)
    assert ours.t_ == theirs.t_


@pytest.mark.parametrize("settings", [dict(loss="squared_error"), dict(loss="huber", penalty="l1"),
                                      dict(loss="epsilon_insensitive", average=True),
                                      dict(loss="squared_epsilon_insensitive", learning_rate="constant")])
def test_regressor_replays_scikit_learn_run_without_shuffling(diabetes, settings):
    X, y = diabetes
    common = dict(shuffle=False, max_iter=2, tol=None, alpha=1e-3, epsilon=1.0, **settings)
    ours = SGDRegressor(**common).fit(X, y, intercept_init=0.0)  # scikit-learn's start: intercept 0
    theirs = sklearn_linear.SGDRegressor(**common).fit(X, y, intercept_init=0.0)
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9)


def test_sparse_data_parity_and_dense_equivalence():
    X, y = make_classification(n_samples=400, n_features=30, n_informative=8, random_state=0)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.7] = 0.0
    X_csr = sp.csr_matrix(X)
    # "optimal" steps start near 10 and 20 epochs do not converge: a single run's accuracy moves by
    # +-0.03 with the seed (and with last-bit differences in exp/log1p), so the band is on the mean of 5
    ours = np.mean([_quiet_fit(SGDClassifier(loss="log_loss", random_state=seed, max_iter=20), X_csr, y)
                    .score(X_csr, y) for seed in range(5)])
    theirs = np.mean([_quiet_fit(sklearn_linear.SGDClassifier(loss="log_loss", random_state=seed, max_iter=20),
                                 X_csr, y).score(X_csr, y) for seed in range(5)])
    assert ours >= theirs - 0.03


# On sparse X both libraries damp the intercept steps by 0.01 and keep the averaged weights lazily;
# without shuffling fastml replays scikit-learn's sparse run (L2 only: scikit-learn's sparse L1 has no
# catch-up of the penalty owed, fastml's gives the dense weights). Three classes: the one-vs-all models.
# The log loss at a tame rate: under "optimal" (first steps near 10) the last-bit differences of exp /
# log1p grow to ~1e-6 relative over three epochs, on dense rows as on sparse ones.
@pytest.mark.parametrize("settings", [dict(loss="log_loss", learning_rate="constant", eta0=0.05),
                                      dict(loss="hinge", average=True),
                                      dict(loss="modified_huber", average=9, learning_rate="invscaling", eta0=0.1)])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparse_classifier_replays_scikit_learn_sparse_run(settings, n_classes):
    X, y = make_classification(n_samples=300, n_features=30, n_informative=8, n_classes=n_classes, random_state=1)
    X[np.random.default_rng(1).random(X.shape) < 0.7] = 0.0
    X_csr = sp.csr_matrix(X)
    common = dict(shuffle=False, max_iter=3, tol=None, alpha=1e-3, **settings)
    ours = SGDClassifier(**common).fit(X_csr, y)
    theirs = sklearn_linear.SGDClassifier(**common).fit(X_csr, y)
    scale = np.abs(theirs.coef_).max()
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-11 * scale)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9, atol=1e-11 * scale)


def _full_batch_optimum(objective_of, n_params):
    result = minimize(objective_of, np.zeros(n_params), method="L-BFGS-B", jac=False,
                      options=dict(maxiter=5000, ftol=1e-14, gtol=1e-10))
    return result.fun


@pytest.mark.parametrize("estimator_class, loss", [(SGDClassifier, "log_loss"), (SGDRegressor, "squared_error")])
def test_averaged_sgd_reaches_the_full_batch_optimum(cancer, diabetes, estimator_class, loss):
    X, y = cancer if estimator_class is SGDClassifier else diabetes
    X = X[:, :8]
    alpha = 1e-2
    sign = (2.0 * y - 1.0) if estimator_class is SGDClassifier else None

    def reference(params):  # numpy: mean loss + alpha/2 ||coef||^2, intercept free
        raw = X @ params[:-1] + params[-1]
        losses = np.logaddexp(0.0, -sign * raw) if sign is not None else 0.5 * (raw - y) ** 2
        return losses.mean() + 0.5 * alpha * params[:-1] @ params[:-1]

    optimum = _full_batch_optimum(reference, X.shape[1] + 1)
    model = estimator_class(loss=loss, alpha=alpha, average=True, learning_rate="constant", eta0=0.01,
                            max_iter=60, tol=None, random_state=0).fit(X, y)
    fitted = reference(np.r_[model.coef_.ravel(), model.intercept_])
    assert (fitted - optimum) / optimum < 2e-3
    assert model.objective(X, y) == pytest.approx(fitted, rel=1e-10)


# -- the objective ------------------------------------------------------------------------------
def test_objective_is_scikit_learn_objective_in_numpy(cancer):
    X, y = cancer
    model = _quiet_fit(SGDClassifier(loss="hinge", penalty="elasticnet", alpha=1e-3, l1_ratio=0.3, max_iter=5,
                                     random_state=0), X, y)
    coef, intercept = model.coef_.ravel(), model.intercept_[0]
    margin = (2.0 * (y == model.classes_[1]) - 1.0) * (X @ coef + intercept)
    expected = (np.maximum(0.0, 1.0 - margin).mean() + 1e-3 * 0.7 * 0.5 * coef @ coef
                + 1e-3 * 0.3 * np.abs(coef).sum())
    assert model.objective(X, y) == pytest.approx(expected, rel=1e-10)


def test_weighted_objective_equals_repeated_rows(cancer):
    X, y = cancer
    counts = np.random.default_rng(0).integers(0, 4, size=len(y))
    model = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=3, random_state=0), X, y)
    repeated = np.repeat(np.arange(len(y)), counts)
    assert model.objective(X, y, sample_weight=counts) == pytest.approx(model.objective(X[repeated], y[repeated]),
                                                                        rel=1e-12)


def test_repetition_equivalence_at_the_optimum(diabetes):
    X, y = diabetes
    counts = np.random.default_rng(1).integers(0, 3, size=len(y))
    repeated = np.repeat(np.arange(len(y)), counts)
    settings = dict(alpha=1e-2, average=True, learning_rate="constant", eta0=0.005, max_iter=80, tol=None,
                    random_state=0)
    weighted = SGDRegressor(**settings).fit(X, y, sample_weight=counts)
    copies = SGDRegressor(**settings).fit(X[repeated], y[repeated])
    assert_allclose(weighted.predict(X), copies.predict(X), rtol=0.02, atol=0.5)


# -- partial_fit and the optimizer state -------------------------------------------------------------
PARTIAL_SETTINGS = [
    dict(loss="hinge"),
    dict(loss="log_loss", average=True, penalty="elasticnet"),
    dict(loss="modified_huber", optimizer="adam", batch_size=8, learning_rate="constant", eta0=0.01),
    dict(loss="squared_hinge", optimizer="nesterov", batch_size=4, learning_rate="invscaling", average=50),
]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("settings", PARTIAL_SETTINGS)
@pytest.mark.parametrize("multiclass", [False, True])
def test_classifier_partial_fit_continues_exactly(digits, settings, sparse, multiclass):
    X, y = digits
    X, y = X[:300], y[:300] if multiclass else (y[:300] > 4)
    data = sp.csr_matrix(X) if sparse else X
    fitted = _quiet_fit(SGDClassifier(max_iter=3, tol=None, random_state=7, **settings), data, y)
    partial = SGDClassifier(random_state=7, **settings)
    for _ in range(3):
        partial.partial_fit(data, y, classes=np.unique(y))
    assert_array_equal(partial.coef_, fitted.coef_)
    assert_array_equal(partial.intercept_, fitted.intercept_)
    assert partial.t_ == fitted.t_
    assert len(partial.loss_curve_) == 3


def test_regressor_partial_fit_continues_exactly(diabetes):
    X, y = diabetes
    fitted = SGDRegressor(max_iter=2, tol=None, random_state=3, average=10).fit(X, y)
    partial = SGDRegressor(random_state=3, average=10)
    partial.partial_fit(X, y).partial_fit(X, y)
    assert_array_equal(partial.coef_, fitted.coef_)
    assert_array_equal(partial.intercept_, fitted.intercept_)
    assert partial.t_ == fitted.t_ == 1 + 2 * len(y)  # scikit-learn's t_ for batch_size=1


def test_partial_fit_after_fit_continues_from_the_fit(cancer):
    X, y = cancer
    model = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=2, tol=None, random_state=0), X, y)
    model.partial_fit(X, y)
    three = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=3, tol=None, random_state=0), X, y)
    assert_array_equal(model.coef_, three.coef_)


def test_partial_fit_classes_may_be_missing_from_a_batch(digits):
    X, y = digits
    model = SGDClassifier(loss="log_loss", random_state=0)
    model.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    model.partial_fit(X[y >= 5], y[y >= 5])
    assert model.coef_.shape == (10, 64)
    assert model.score(X, y) > 0.5
    with pytest.raises(ValueError, match="classes"):
        SGDClassifier().partial_fit(X, y)


# -- one-vs-all in one batched run ----------------------------------------------------------------
@pytest.mark.parametrize("settings", [dict(loss="log_loss"), dict(loss="hinge", optimizer="adam", batch_size=4,
                                                                  learning_rate="constant", average=True)])
def test_one_vs_all_batch_equals_separate_binary_fits(digits, settings):
    X, y = digits
    X, y = X[:400], y[:400] % 3
    multi = SGDClassifier(max_iter=4, tol=None, random_state=2, **settings).fit(X, y)
    for k in range(3):
        binary = SGDClassifier(max_iter=4, tol=None, random_state=2, **settings).fit(X, y == k)
        assert_allclose(multi.coef_[k], binary.coef_[0], rtol=1e-12, atol=1e-14)
        assert_allclose(multi.intercept_[k], binary.intercept_[0], rtol=1e-12, atol=1e-14)


# -- probabilities --------------------------------------------------------------------------------
def test_predict_proba_as_scikit_learn(digits):
    X, y = digits
    binary = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=5, random_state=0), X, y > 4)
    scores = binary.decision_function(X)
    assert_allclose(binary.predict_proba(X), np.c_[1 - expit(scores), expit(scores)], rtol=1e-12, atol=1e-15)
    # the binary log-probabilities from the scores (log(p) near p = 1 keeps its digits, no log(0) = -inf);
    # where log(predict_proba) is finite they agree with it to its rounding
    log_proba = binary.predict_log_proba(X)
    assert_allclose(log_proba, np.c_[-np.logaddexp(0, scores), -np.logaddexp(0, -scores)], rtol=1e-12, atol=0)
    with np.errstate(divide="ignore"):
        plain = np.log(binary.predict_proba(X))
    finite = np.isfinite(plain)
    assert_allclose(log_proba[finite], plain[finite], rtol=1e-10, atol=1e-15)
    far = X[:5] * 1e4  # scores of +-1e4 and more: the binary log-probabilities stay finite
    assert np.all(np.isfinite(binary.predict_log_proba(far)))
    multi = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=5, random_state=0), X, y)
    ovr = expit(multi.decision_function(X))
    assert_allclose(multi.predict_proba(X), ovr / ovr.sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore"):  # a probability of exactly 0 has log -inf, as in scikit-learn
        assert_allclose(multi.predict_log_proba(X), np.log(multi.predict_proba(X)))
    huber = _quiet_fit(SGDClassifier(loss="modified_huber", max_iter=5, random_state=0), X, y > 4)
    assert_allclose(huber.predict_proba(X)[:, 1], (np.clip(huber.decision_function(X), -1, 1) + 1) / 2)
    multi_huber = _quiet_fit(SGDClassifier(loss="modified_huber", max_iter=5, random_state=0), X, y)
    assert_allclose(multi_huber.predict_proba(X).sum(axis=1), 1.0)
    assert not hasattr(SGDClassifier(loss="hinge"), "predict_proba")


# -- dtypes and storage ---------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [SGDClassifier(max_iter=5, random_state=0),
                                       SGDRegressor(max_iter=5, random_state=0)])
def test_float32_stays_float32(cancer, estimator):
    X, y = cancer
    X32 = X.astype(np.float32)
    model = _quiet_fit(clone(estimator), X32, y)
    assert model.coef_.dtype == np.float32 and model.intercept_.dtype == np.float32
    assert model.predict(X32).dtype == (np.float32 if isinstance(estimator, SGDRegressor) else y.dtype)
    model64 = _quiet_fit(clone(estimator), X, y)
    assert_allclose(model.coef_, model64.coef_, rtol=2e-3, atol=2e-3)


def test_fortran_ordered_input_gives_the_same_fit(cancer):
    X, y = cancer
    c = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), X, y)
    f = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), np.asfortranarray(X), y)
    assert_array_equal(c.coef_, f.coef_)


def test_string_labels_and_pandas_names(cancer):
    pd = pytest.importorskip("pandas")
    X, y = cancer
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = np.where(y == 1, "benign", "malignant")
    model = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), frame, labels)
    assert list(model.classes_) == ["benign", "malignant"]
    assert list(model.feature_names_in_) == list(frame.columns)
    assert set(model.predict(frame)) <= {"benign", "malignant"}


# -- weights --------------------------------------------------------------------------------------
def test_balanced_class_weight_equals_its_dict(digits):
    X, y = digits
    keep = (y != 3) | (np.arange(len(y)) % 5 == 0)
    X, y = X[keep], y[keep]
    balanced = _quiet_fit(SGDClassifier(class_weight="balanced", max_iter=5, random_state=0), X, y)
    weights = dict(zip(np.unique(y), compute_class_weight("balanced", classes=np.unique(y), y=y)))
    explicit = _quiet_fit(SGDClassifier(class_weight=weights, max_iter=5, random_state=0), X, y)
    assert_array_equal(balanced.coef_, explicit.coef_)
    plain = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), X, y)
    assert np.abs(plain.coef_ - balanced.coef_).max() > 1e-3


def test_unit_weights_change_nothing(cancer):
    X, y = cancer
    plain = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), X, y)
    ones = _quiet_fit(SGDClassifier(max_iter=5, random_state=0), X, y, sample_weight=np.ones(len(y)))
    assert_array_equal(plain.coef_, ones.coef_)


# -- warm start, early stopping, schedules, optimizers, callbacks ------------------------------------
def test_warm_start_starts_from_the_previous_coefficients(cancer):
    X, y = cancer
    model = _quiet_fit(SGDClassifier(max_iter=3, random_state=0, warm_start=True), X, y)
    first_coef, first_intercept = model.coef_.copy(), model.intercept_.copy()
    _quiet_fit(model, X, y)
    reference = _quiet_fit(SGDClassifier(max_iter=3, random_state=0), X, y, coef_init=first_coef,
                           intercept_init=first_intercept)
    assert_array_equal(model.coef_, reference.coef_)
    assert np.abs(model.coef_ - first_coef).max() > 0


def test_early_stopping_stops_on_the_validation_score(cancer):
    X, y = cancer
    model = SGDClassifier(loss="log_loss", early_stopping=True, n_iter_no_change=3, max_iter=500,
                          random_state=0).fit(X, y)
    assert model.n_iter_ < 500
    assert model.solver_info_["converged"]
    assert len(model.loss_curve_) == model.n_iter_
    adaptive = SGDRegressor(early_stopping=True, learning_rate="adaptive", eta0=0.01, max_iter=200,
                            random_state=0).fit(*_scaled(load_diabetes))
    assert adaptive.n_iter_ < 200


def test_adaptive_schedule_and_optimizers(digits):
    X, y = digits
    for settings in [dict(learning_rate="adaptive", eta0=0.01), dict(optimizer="momentum", learning_rate="constant"),
                     dict(optimizer="nesterov", batch_size=16), dict(optimizer="adam", batch_size=32, eta0=0.01),
                     dict(optimizer="adamw", batch_size=32, eta0=0.01, alpha=1e-3)]:
        model = _quiet_fit(SGDClassifier(loss="log_loss", max_iter=20, random_state=0, **settings), X, y)
        assert model.score(X, y) > 0.9, settings


def test_callbacks_trace_and_solver_info(cancer):
    X, y = cancer
    seen = []
    model = SGDClassifier(max_iter=50, tol=None, random_state=0,
                          callbacks=[lambda info: seen.append(info.iteration) or info.iteration >= 4]).fit(X, y)
    assert seen == [1, 2, 3, 4] and model.n_iter_ == 4
    info = model.solver_info_
    assert info["solver"] == "sgd" and len(info["trace"]) == 4 and info["n_steps"] == 4 * len(y)
    assert np.all(np.isfinite(model.loss_curve_)) and model.loss_curve_[-1] < model.loss_curve_[0]


def test_convergence_warning_as_scikit_learn(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        SGDClassifier(max_iter=1, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SGDClassifier(max_iter=1, tol=None, random_state=0).fit(X, y)


# -- scikit-learn tools ---------------------------------------------------------------------------
def test_pipeline_grid_search_cross_val_clone(cancer):
    X, y = load_breast_cancer(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SGDClassifier(max_iter=20, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipeline, X, y, cv=3)
        search = GridSearchCV(pipeline, {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert scores.mean() > 0.9
    assert search.best_score_ > 0.9
    copy = clone(search.best_estimator_)
    assert copy.get_params()["sgdclassifier__alpha"] == search.best_params_["sgdclassifier__alpha"]


# -- bad input ------------------------------------------------------------------------------------
def test_bad_input_errors(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="class"):
        SGDClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unknown label type"):
        SGDClassifier().fit(X, np.linspace(0, 1, len(y)))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SGDClassifier().fit(X_nan, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        SGDRegressor().fit(X, np.r_[np.nan, y[1:]].astype(float))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SGDRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="[Ss]ample.weight"):
        SGDClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    model = _quiet_fit(SGDClassifier(max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :5])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :5], y)
    with pytest.raises(ValueError, match="loss"):
        SGDClassifier(loss="poisson").fit(X, y)
    with pytest.raises(ValueError, match="not implemented"):
        SGDClassifier(learning_rate="pa1").fit(X, y)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        SGDClassifier(alpha=0.0).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        SGDRegressor(early_stopping=True).partial_fit(X, y)
    with pytest.raises(ValueError, match="balanced"):
        SGDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="optimizer"):
        SGDRegressor(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="coef_init"):
        SGDRegressor().fit(X, y, coef_init=np.zeros(3))


def test_partial_fit_that_diverges_leaves_the_model_as_it_was():
    """A partial_fit that raises (weights overflow) keeps the optimizer state and coefficients of the
    call before: the next partial_fit continues as if the failed call had never happened."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = X @ np.ones(5)
    model = SGDRegressor(learning_rate="constant", eta0=1e-3, random_state=0).partial_fit(X, y)
    twin = clone(model).partial_fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        model.partial_fit(X * 1e150, y * 1e150)
    assert_array_equal(model.coef_, coef)
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    assert_array_equal(model.coef_, twin.coef_)
    assert model.t_ == twin.t_


def _with_bad_value(X, bad, row, sparse):
    bad_X = X.copy()
    bad_X[row, 3] = bad
    return sp.csr_matrix(bad_X) if sparse else bad_X


@pytest.mark.parametrize("settings", [
    {"loss": "hinge"}, {"loss": "log_loss"}, {"loss": "squared_hinge"}, {"loss": "modified_huber"},
    {"loss": "perceptron"}, {"loss": "hinge", "batch_size": 16}, {"loss": "hinge", "optimizer": "adam"},
    {"loss": "log_loss", "optimizer": "momentum", "batch_size": 8}, {"loss": "hinge", "average": True},
    {"loss": "hinge", "penalty": "l1"},
])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_classifier_non_finite_X_raises_scikit_learns_error_from_the_first_epoch(digits, settings, sparse, bad):
    """validate_data skips X's finiteness and the epochs settle it: the hinge-type losses give a NaN
    margin zero loss and derivative, so the kernels mark the epoch's loss instead. The error is
    scikit-learn's word for word, also for a row of zero weight, one class of several (one-vs-all) and
    float32; a failed fit or first partial_fit leaves no fitted attribute behind."""
    X, y = digits
    weights = np.ones(len(y))
    weights[11] = 0.0
    for dtype in (np.float64, np.float32):
        bad_X = _with_bad_value(X.astype(dtype), bad, 11, sparse)
        model = SGDClassifier(max_iter=3, tol=None, random_state=0, **settings)
        assert_raises_validation_error(model.fit, model, bad_X, y, sample_weight=weights)
        assert not hasattr(model, "coef_") and not hasattr(model, "classes_")
        assert_raises_validation_error(model.partial_fit, model, bad_X, y, classes=np.unique(y))
        assert not hasattr(model, "classes_") and not hasattr(model, "n_features_in_")


@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"])
@pytest.mark.parametrize("sparse", [False, True])
def test_regressor_non_finite_X_raises_scikit_learns_error(diabetes, loss, sparse):
    X, y = diabetes
    for bad in (np.nan, np.inf):
        bad_X = _with_bad_value(X, bad, 5, sparse)
        model = SGDRegressor(loss=loss, max_iter=2, tol=None, random_state=0)
        assert_raises_validation_error(model.fit, model, bad_X, y)


def test_missing_values_of_a_pandas_frame_give_scikit_learns_error():
    """A nullable pandas column with a missing value reaches the epochs as NaN; the error is raised on
    the frame as validate_data converted it."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([1, 2, None, 4] * 10, dtype="Int64"), "b": np.arange(40.0)})
    model = SGDClassifier(random_state=0)
    assert_raises_validation_error(model.fit, model, frame, np.arange(40) % 2)
    assert not hasattr(model, "n_features_in_")


def test_non_finite_X_in_partial_fit_leaves_the_model_as_it_was(cancer):
    """A later partial_fit on bad rows raises scikit-learn's error and changes nothing: the next call
    continues exactly as if it had not happened."""
    X, y = cancer
    model = SGDClassifier(loss="hinge", random_state=0).partial_fit(X, y, classes=[0, 1])
    twin = clone(model).partial_fit(X, y, classes=[0, 1])
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.partial_fit(_with_bad_value(X, np.nan, 40, False), y)
    assert_array_equal(model.coef_, coef)
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    assert_array_equal(model.coef_, twin.coef_)
    assert model.t_ == twin.t_


def test_non_finite_X_in_the_early_stopping_validation_rows(cancer):
    """Rows held out for early stopping are read by no epoch: they are checked on their own."""
    X, y = cancer
    for row in range(0, len(y), 7):  # some of these rows land in the validation split
        with pytest.raises(ValueError, match="Input X contains NaN"):
            SGDClassifier(early_stopping=True, random_state=0).fit(_with_bad_value(X, np.nan, row, False), y)


def test_sparse_input_with_mixed_index_dtypes_is_not_modified(cancer):
    X, y = cancer
    X_csr = sp.csr_matrix(X)
    X_csr.indptr = X_csr.indptr.astype(np.int64)
    X_csr.indices = X_csr.indices.astype(np.int32)
    model = _quiet_fit(SGDClassifier(max_iter=3, random_state=0), X_csr, y)
    assert X_csr.indices.dtype == np.int32 and X_csr.indptr.dtype == np.int64
    uniform = _quiet_fit(SGDClassifier(max_iter=3, random_state=0), sp.csr_matrix(X), y)
    assert_allclose(model.coef_, uniform.coef_, rtol=1e-12)


def test_partial_fit_label_outside_classes_is_an_error(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="classes should include all valid labels"):
        SGDClassifier().partial_fit(X, np.where(y == 1, 2, y), classes=[0, 1])
