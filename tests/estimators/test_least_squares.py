"""LinearRegression, Ridge and RidgeCV against scikit-learn, the estimator contract and numpy references."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_diabetes, make_regression
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency, parametrize_with_checks

from validation_errors import assert_raises_validation_error  # tests/estimators is on sys.path

from fastml.linear_model._least_squares import LinearRegression, Ridge, RidgeCV

# No expected failures: every check passes. (scikit-learn itself marks Ridge's
# check_non_transformer_estimators_n_iter as failing; fastml reports n_iter_ = 1 for the closed form.)
ESTIMATORS = [
    LinearRegression(), LinearRegression(positive=True), Ridge(), Ridge(solver="lbfgs"), Ridge(positive=True),
    RidgeCV(), RidgeCV(cv=3),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: repr(e))
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def relative_error(ours, theirs):
    return np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) / max(np.max(np.abs(theirs)), 1e-300)


def datasets():
    X_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    X_dense, y_dense = make_regression(300, 20, n_informative=10, noise=5.0, random_state=0)
    X_dense += 3.0  # offsets: the intercept must be eliminated correctly
    X_sparse = sp.random(300, 30, density=0.2, format="csr", random_state=1)
    y_sparse = X_sparse @ np.random.default_rng(1).standard_normal(30) + 2.0
    y_sparse += 0.1 * np.random.default_rng(2).standard_normal(300)
    return {"diabetes": (X_diabetes, y_diabetes), "dense": (X_dense, y_dense), "sparse": (X_sparse, y_sparse)}


DATA = datasets()


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_regression_and_ridge_match_scikit_learn(name, fit_intercept, weighted):
    X, y = DATA[name]
    weights = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    pairs = [(LinearRegression(fit_intercept=fit_intercept), sk.LinearRegression(fit_intercept=fit_intercept)),
             (Ridge(0.3, fit_intercept=fit_intercept), sk.Ridge(0.3, fit_intercept=fit_intercept, tol=1e-12)),
             (Ridge(0.3, fit_intercept=fit_intercept, solver="lbfgs", tol=1e-10),
              sk.Ridge(0.3, fit_intercept=fit_intercept, tol=1e-12))]
    if name == "sparse":  # scikit-learn's sparse LinearRegression runs lsqr: tighten it
        pairs[0] = (pairs[0][0], sk.LinearRegression(fit_intercept=fit_intercept, tol=1e-14))
    for ours, theirs in pairs:
        ours.fit(X, y, sample_weight=weights)
        theirs.fit(X, y, sample_weight=weights)
        assert relative_error(ours.coef_, theirs.coef_) < 1e-4, ours
        assert np.allclose(ours.intercept_, theirs.intercept_, rtol=1e-4, atol=1e-6 * np.abs(y).max())
        assert np.allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-6 * np.abs(y).max())


def test_linear_regression_rank_and_singular_values_match_lstsq():
    X, y = DATA["dense"]
    ours, theirs = LinearRegression().fit(X, y), sk.LinearRegression().fit(X, y)
    assert ours.rank_ == theirs.rank_ == X.shape[1]
    np.testing.assert_allclose(ours.singular_, theirs.singular_, rtol=1e-8)
    # rank deficient: duplicated and constant columns -> scikit-learn's minimum-norm solution, silently
    X_bad = np.hstack([X, X[:, :3], np.ones((X.shape[0], 1))])
    ours, theirs = LinearRegression().fit(X_bad, y), sk.LinearRegression().fit(X_bad, y)
    assert ours.rank_ == theirs.rank_ == X.shape[1]
    assert relative_error(ours.coef_, theirs.coef_) < 1e-6
    assert np.all(np.isfinite(ours.coef_))


def test_positive_least_squares_and_ridge_match_scikit_learn():
    X, y = DATA["diabetes"]
    ours, theirs = LinearRegression(positive=True).fit(X, y), sk.LinearRegression(positive=True).fit(X, y)
    assert np.all(ours.coef_ >= 0)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    ours = Ridge(0.01, positive=True, tol=1e-10).fit(X, y)
    theirs = sk.Ridge(0.01, positive=True, tol=1e-12).fit(X, y)
    assert np.all(ours.coef_ >= 0) and ours.solver_ == "coordinate_descent"
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    with pytest.raises(ValueError, match="does not support positive"):
        Ridge(positive=True, solver="cholesky").fit(X, y)


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"])
def test_every_scikit_learn_solver_name_reaches_the_optimum(solver):
    X, y = DATA["diabetes"]
    reference = sk.Ridge(1.0, solver="svd").fit(X, y)
    ours = Ridge(1.0, solver=solver, tol=1e-10).fit(X, y)
    assert relative_error(ours.coef_, reference.coef_) < 1e-4
    assert ours.solver_ in ("cholesky", "eigh", "lbfgs")


def test_multi_target_and_per_target_alpha():
    X, y = DATA["dense"]
    Y = np.column_stack([y, -2.0 * y + 1.0, np.sin(y)])
    for ours, theirs in [(LinearRegression(), sk.LinearRegression()),
                         (Ridge([0.1, 1.0, 10.0]), sk.Ridge([0.1, 1.0, 10.0])),
                         (Ridge([0.1, 1.0, 10.0], solver="lbfgs", tol=1e-10), sk.Ridge([0.1, 1.0, 10.0]))]:
        ours.fit(X, Y)
        theirs.fit(X, Y)
        assert ours.coef_.shape == theirs.coef_.shape == (3, X.shape[1])
        assert relative_error(ours.coef_, theirs.coef_) < 1e-4
        assert ours.predict(X).shape == (X.shape[0], 3)
    # y of shape (n, 1) keeps a 2-D coef_, as scikit-learn
    assert LinearRegression().fit(X, y[:, None]).coef_.shape == (1, X.shape[1])
    with pytest.raises(ValueError, match="number of penalties"):
        Ridge([1.0, 2.0]).fit(X, Y)


@pytest.mark.parametrize("Estimator", [LinearRegression, Ridge, RidgeCV])
@pytest.mark.parametrize("sparse", [False, True])
def test_float32_stays_float32(Estimator, sparse):
    X, y = DATA["sparse"] if sparse else DATA["dense"]
    X32 = X.astype(np.float32)
    model = Estimator().fit(X32, y)
    reference = Estimator().fit(X, y)
    assert model.coef_.dtype == np.float32 and model.predict(X32).dtype == np.float32
    assert relative_error(model.coef_, reference.coef_) < 1e-4


def test_sample_weight_is_repetition():
    X, y = DATA["dense"]
    counts = np.random.default_rng(4).integers(0, 4, X.shape[0])
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    for estimator in [LinearRegression(), Ridge(2.0), Ridge(2.0, solver="lbfgs", tol=1e-10), RidgeCV(cv=None)]:
        weighted = clone(estimator).fit(X, y, sample_weight=counts)
        repeated = clone(estimator).fit(X_rep, y_rep)
        assert relative_error(weighted.coef_, repeated.coef_) < 1e-6, estimator


def test_objective_is_scikit_learns_ridge_objective_over_2w():
    X, y = DATA["diabetes"]
    weights = np.random.default_rng(5).uniform(0.5, 2.0, X.shape[0])
    model = Ridge(0.5).fit(X, y, sample_weight=weights)
    residual = y - model.predict(X)
    expected = (weights @ residual**2 + 0.5 * model.coef_ @ model.coef_) / (2.0 * weights.sum())
    assert model.objective(X, y, sample_weight=weights) == pytest.approx(expected, rel=1e-10)
    assert model.loss_curve_[-1] == pytest.approx(expected, rel=1e-8)
    assert model.solver_info_["solver"] == model.solver_
    # the optimum: any perturbation raises the objective
    perturbed = clone(model).set_params(alpha=0.5)
    perturbed.fit(X, y, sample_weight=weights)
    perturbed.coef_ = perturbed.coef_ * 1.001
    assert perturbed.objective(X, y, sample_weight=weights) > expected
    ols = LinearRegression().fit(X, y)
    assert ols.loss_curve_.shape == (1,)
    assert ols.objective(X, y) == pytest.approx(np.mean((y - ols.predict(X)) ** 2) / 2, rel=1e-10)


def test_callbacks_are_called_and_can_stop_lbfgs():
    X, y = DATA["diabetes"]
    seen = []
    model = Ridge(1e-3, solver="lbfgs", tol=1e-12, callbacks=[lambda info: seen.append(info.iteration)]).fit(X, y)
    # the Hessian preconditioner makes the first step an exact Newton step for the squared loss
    assert len(seen) >= 1 and len(model.loss_curve_) - len(seen) in (0, 1)  # the trace may hold the start
    calls = []
    stopped = Ridge(1e-3, solver="lbfgs", tol=0.0, callbacks=[lambda info: calls.append(info) or True]).fit(X, y)
    assert len(calls) == 1 and stopped.n_iter_[0] == 1
    np.testing.assert_allclose(stopped.coef_, calls[0].params[:-1], rtol=0, atol=0)
    closed = []
    Ridge(callbacks=[closed.append]).fit(X, y)
    assert len(closed) == 1


# -- RidgeCV ------------------------------------------------------------------------------------------

ALPHAS = np.logspace(-3, 3, 10)


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_cv_leave_one_out_matches_scikit_learn(name, weighted):
    X, y = DATA[name]
    weights = np.random.default_rng(6).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    ours = RidgeCV(ALPHAS, store_cv_results=True).fit(X, y, sample_weight=weights)
    theirs = sk.RidgeCV(ALPHAS, store_cv_results=True).fit(X, y, sample_weight=weights)
    assert ours.alpha_ == theirs.alpha_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-6)
    assert ours.cv_results_.shape == theirs.cv_results_.shape
    np.testing.assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=1e-5, atol=1e-8 * np.abs(y).max() ** 2)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-4)


def test_ridge_cv_alpha_per_target():
    X, y = DATA["dense"]
    Y = np.column_stack([y, 50.0 * np.random.default_rng(7).standard_normal(len(y))])
    ours = RidgeCV(ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    theirs = sk.RidgeCV(ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    np.testing.assert_array_equal(ours.alpha_, theirs.alpha_)
    np.testing.assert_allclose(ours.best_score_, theirs.best_score_, rtol=1e-6)
    assert ours.cv_results_.shape == theirs.cv_results_.shape == (len(y), 2, ALPHAS.size)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4


@pytest.mark.parametrize("cv", [5, KFold(4, shuffle=True, random_state=0), ShuffleSplit(3, random_state=0)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scoring", [None, "neg_mean_absolute_error"])
def test_ridge_cv_folds_match_scikit_learn(cv, weighted, scoring):
    X, y = DATA["diabetes"]
    X = X[:331]  # folds of unequal size: the penalty must stay absolute per fold
    y = y[:331]
    weights = np.random.default_rng(8).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    ours = RidgeCV(ALPHAS, cv=cv, scoring=scoring).fit(X, y, sample_weight=weights)
    theirs = sk.RidgeCV(ALPHAS, cv=cv, scoring=scoring).fit(X, y, sample_weight=weights)
    assert ours.alpha_ == theirs.alpha_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-6)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4


def test_ridge_cv_scoring_with_leave_one_out_delegates_and_matches():
    X, y = DATA["diabetes"]
    ours = RidgeCV(ALPHAS, scoring="r2").fit(X, y)
    theirs = sk.RidgeCV(ALPHAS, scoring="r2").fit(X, y)
    assert ours.alpha_ == theirs.alpha_ and ours.best_score_ == pytest.approx(theirs.best_score_)


def test_ridge_cv_parameter_errors():
    X, y = DATA["diabetes"]
    with pytest.raises(ValueError, match="alphas"):
        RidgeCV([0.0, 1.0]).fit(X, y)  # leave-one-out needs alpha > 0, as scikit-learn
    RidgeCV([0.0, 1.0], cv=3).fit(X, y)
    with pytest.raises(ValueError, match="incompatible"):
        RidgeCV(cv=3, store_cv_results=True).fit(X, y)
    with pytest.raises(ValueError, match="incompatible"):
        RidgeCV(cv=3, alpha_per_target=True).fit(X, y)
    with pytest.raises(ValueError, match="gcv_mode"):
        RidgeCV(gcv_mode="fast").fit(X, y)


# -- integration and bad input ------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(), RidgeCV(ALPHAS)], ids=repr)
def test_pipeline_grid_search_cross_val_score_clone(estimator):
    X, y = DATA["diabetes"]
    pipeline = make_pipeline(StandardScaler(), clone(estimator))
    twin = make_pipeline(StandardScaler(), getattr(sk, type(estimator).__name__)(**{
        k: v for k, v in estimator.get_params().items() if k != "callbacks"}))
    np.testing.assert_allclose(cross_val_score(pipeline, X, y, cv=3), cross_val_score(twin, X, y, cv=3), rtol=1e-6)
    if isinstance(estimator, Ridge):
        search = GridSearchCV(pipeline, {"ridge__alpha": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
        reference = GridSearchCV(twin, {"ridge__alpha": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
        assert search.best_params_ == reference.best_params_
    cloned = clone(estimator)
    assert cloned is not estimator and repr(cloned) == repr(estimator) and not hasattr(cloned, "coef_")


def test_pandas_feature_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X, y = DATA["diabetes"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = Ridge().fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_allclose(model.predict(frame), model.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[frame.columns[::-1]])


def test_single_row_predict_equals_batch_predict():
    X, y = DATA["dense"]
    model = Ridge().fit(X, y)
    for i in range(3):
        assert model.predict(X[i:i + 1])[0] == pytest.approx(model.predict(X)[i], rel=1e-12)


@pytest.mark.parametrize("Estimator", [LinearRegression, Ridge, RidgeCV])
def test_bad_input_gives_scikit_learn_errors(Estimator):
    X, y = DATA["diabetes"]
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Estimator().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        Estimator().fit(X_inf, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Estimator().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2D array"):
        Estimator().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="0 sample"):
        Estimator().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="[Ss]ample weights"):
        Estimator().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        Estimator().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="features"):
        Estimator().fit(X, y).predict(X[:, :3])


@pytest.mark.parametrize("make", [LinearRegression, lambda: LinearRegression(positive=True), Ridge,
                                  lambda: Ridge(solver="lbfgs"), RidgeCV, lambda: RidgeCV(cv=3),
                                  lambda: RidgeCV(cv=3, scoring="neg_mean_absolute_error")])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_gives_scikit_learns_error_without_a_pass_of_its_own(make, sparse, bad):
    """The closed-form paths skip validate_data's pass over X and let the Gram matrix's check settle it
    (a NaN or an infinity anywhere in a row reaches the diagonal, also under a zero sample weight):
    the error is still scikit-learn's (check_array's, as validate_data raised it), word for word, for
    dense and CSR X, float32 and float64."""
    X, y = DATA["diabetes"]
    for dtype in (np.float64, np.float32):
        bad_X = X.astype(dtype)
        bad_X[7, 3] = bad
        weights = np.ones(len(y))
        weights[7] = 0.0
        bad_X = sp.csr_matrix(bad_X) if sparse else bad_X
        estimator = make()
        assert_raises_validation_error(estimator.fit, estimator, bad_X, y, sample_weight=weights)


def test_finite_X_whose_gram_overflows_is_named():
    """Finite values whose squares overflow float64 pass scikit-learn's check; the Gram check names them."""
    X, y = DATA["diabetes"]
    huge = X.copy()
    huge[5, 1] = 1e200
    for estimator in (LinearRegression(), Ridge(), RidgeCV()):
        with pytest.raises(ValueError, match="overflows float64"):
            estimator.fit(huge, y)


def test_negative_or_invalid_alpha_is_rejected():
    X, y = DATA["diabetes"]
    with pytest.raises(ValueError, match="alpha"):
        Ridge(-1.0).fit(X, y)
    with pytest.raises(ValueError, match="alphas"):
        RidgeCV([1.0, -1.0]).fit(X, y)
    with pytest.raises(TypeError, match="alpha"):
        Ridge("big").fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        Ridge(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="tol"):
        LinearRegression(tol=-1.0).fit(X, y)


@pytest.mark.parametrize("alpha_per_target", [False, True])
def test_ridge_cv_loss_curve_is_the_objective_of_the_chosen_model(alpha_per_target):
    """The leave-one-out path reports the objective from Gram quantities: it equals a pass over X."""
    X, y = DATA["diabetes"]
    targets = np.c_[y, np.log(y)]
    weights = np.random.default_rng(9).uniform(0.5, 2.0, X.shape[0])
    model = RidgeCV(alphas=ALPHAS, alpha_per_target=alpha_per_target).fit(X, targets, sample_weight=weights)
    assert model.loss_curve_[-1] == pytest.approx(model.objective(X, targets, sample_weight=weights), rel=1e-9)


def test_one_column_target_shapes_are_scikit_learns():
    """y of shape (n, 1): scikit-learn's Ridge, RidgeCV, Lasso and ElasticNet give a 1-D coef_ and
    predictions with a (1,) intercept_, LinearRegression keeps coef_ (1, n_features); without an
    intercept intercept_ is 0.0; RidgeCV(alpha_per_target=True) a (1,) best_score_. User code written
    against scikit-learn (y.ravel() - predict(X)) broadcast to an n x n matrix with 2-D predictions."""
    import fastml
    from sklearn import linear_model as sk

    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 4))
    y = (X @ rng.standard_normal(4) + 1.0)[:, None]
    cases = [("Ridge", {}), ("Ridge", {"solver": "lbfgs", "positive": True}), ("Ridge", {"fit_intercept": False}),
             ("RidgeCV", {}), ("RidgeCV", {"cv": 5}), ("RidgeCV", {"alpha_per_target": True}),
             ("Lasso", {"alpha": 0.1}), ("ElasticNet", {"alpha": 0.1}), ("Lasso", {"alpha": 0.1, "fit_intercept": False}),
             ("LinearRegression", {}), ("LinearRegression", {"fit_intercept": False})]
    for name, params in cases:
        ours = getattr(fastml, name)(**params).fit(X, y)
        theirs = getattr(sk, name)(**params).fit(X, y)
        for attribute in ("coef_", "intercept_", "best_score_", "alpha_"):
            if hasattr(theirs, attribute):
                assert np.shape(getattr(ours, attribute)) == np.shape(getattr(theirs, attribute)), (name, params, attribute)
        assert ours.predict(X).shape == theirs.predict(X).shape, (name, params)
        # (positive Ridge: both iterative, to their default tol)
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-3, err_msg=f"{name} {params}")


@pytest.mark.parametrize("offset, every_column", [(2e4, False), (5e5, False), (1e6, True)])
@pytest.mark.parametrize("solver", ["sag", "saga", "lbfgs"])
def test_iterative_ridge_on_columns_of_large_mean_reaches_the_closed_form(offset, every_column, solver):
    """A column of mean 2e4 and spread 1 makes least squares ill-conditioned along a direction whose
    gradient stays below tol near the intercept's optimum: plain L-BFGS met its test after 6
    iterations 25 times above the optimal objective, silently. Squared error's Hessian is constant,
    so the solver's "auto" preconditioner is built at the start (solvers.lbfgs._constant_hessian)."""
    import fastml

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((1000, 4))
    y = Z @ np.array([1.0, 2.0, 3.0, 4.0]) + 0.1 * rng.standard_normal(1000) + 10.0
    X = Z + offset if every_column else Z + np.array([offset, 0.0, 0.0, 0.0])
    exact = fastml.Ridge(1.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning either
        iterative = fastml.Ridge(1.0, solver=solver).fit(X, y)
    objective = iterative.objective(X, y)
    assert objective <= exact.objective(X, y) * (1 + 1e-8)
    np.testing.assert_allclose(iterative.coef_, exact.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_on_columns_in_units_spanning_1e12(fit_intercept):
    """Variances spanning 1e24: singular_ (the centered X's) as scikit-learn's SVD gives them, where
    eigh of the Gram had turned the two smallest into noise ([..., 1.3e-5, 0] for [..., 1.4e-2,
    1.3e-5]); the coefficients are the least-squares ones, scikit-learn's cutoff drops two directions."""
    import fastml

    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 4)) * np.array([1e-6, 1e-3, 1e3, 1e6])
    y = X @ np.array([1e6, 1e3, 1e-3, 1e-6]) + rng.standard_normal(200)
    ours = fastml.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    theirs = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.singular_, theirs.singular_, rtol=1e-8)
    design = np.column_stack([X, np.ones(200)]) if fit_intercept else X
    exact = np.linalg.lstsq(design * (1.0 / np.abs(design).max(axis=0)), y, rcond=None)[0]
    best = np.sum((y - design @ (exact / np.abs(design).max(axis=0))) ** 2)
    assert np.sum((y - ours.predict(X)) ** 2) <= best * (1 + 1e-8)
    assert ours.rank_ == 4


def test_numbers_as_strings_in_y_are_fitted_as_floats():
    """scikit-learn's regressors fit y of numeric strings (a CSV column read as text); fastml's closed
    form and coordinate descent raised TypeError. Non-numeric strings: a clear ValueError."""
    import fastml

    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(40)
    as_text = np.array([repr(float(value)) for value in y])
    for make in (fastml.Ridge, fastml.LinearRegression, lambda: fastml.Lasso(0.01), fastml.RidgeCV):
        np.testing.assert_array_equal(make().fit(X, as_text).coef_, make().fit(X, y).coef_)
        with pytest.raises(ValueError, match="y must be numeric"):
            make().fit(X, np.where(np.arange(40) == 3, "n/a", as_text))
