"""Lasso, ElasticNet and ElasticNetCV against scikit-learn, the estimator contract and numpy references."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency, parametrize_with_checks

from validation_errors import assert_raises_validation_error  # tests/estimators is on sys.path

from fastml.linear_model._coordinate_descent import ElasticNet, ElasticNetCV, Lasso, LassoCV

TIGHT = 1e-10

# No expected failures: every check passes.
ESTIMATORS = [Lasso(), ElasticNet(), ElasticNet(positive=True, selection="random", random_state=0),
              ElasticNetCV(cv=3, alphas=10)]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def relative_error(ours, theirs):
    return np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) / max(np.max(np.abs(theirs)), 1e-300)


def datasets():
    X_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    X_dense, y_dense = make_regression(200, 30, n_informative=8, noise=5.0, random_state=0)
    X_dense += 2.0
    X_sparse = sp.random(200, 40, density=0.2, format="csr", random_state=1)
    coef = np.where(np.arange(40) < 10, np.random.default_rng(1).standard_normal(40), 0.0)
    y_sparse = X_sparse @ coef + 1.0 + 0.05 * np.random.default_rng(2).standard_normal(200)
    return {"diabetes": (X_diabetes, y_diabetes, 0.05), "dense": (X_dense, y_dense, 1.0),
            "sparse": (X_sparse, y_sparse, 0.005)}


DATA = datasets()


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_lasso_and_elastic_net_match_scikit_learn(name, fit_intercept, weighted, l1_ratio):
    X, y, alpha = DATA[name]
    weights = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    if l1_ratio == 1.0:
        ours = Lasso(alpha, fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000)
        theirs = sk.Lasso(alpha, fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000)
    else:
        ours = ElasticNet(alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000)
        theirs = sk.ElasticNet(alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000)
    ours.fit(X, y, sample_weight=weights)
    theirs.fit(X, y, sample_weight=weights)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-4, abs=1e-6 * np.abs(y).max())
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5, atol=1e-6 * np.abs(y).max())
    assert isinstance(ours.n_iter_, int) and ours.n_iter_ >= 1
    assert np.ndim(ours.dual_gap_) == 0 and ours.dual_gap_ <= ours.solver_info_["tol"]
    np.testing.assert_array_equal(ours.sparse_coef_.toarray().ravel(), ours.coef_)


def test_positive_and_multi_target_match_scikit_learn():
    X, y, alpha = DATA["dense"]
    ours, theirs = Lasso(alpha, positive=True, tol=TIGHT).fit(X, y), sk.Lasso(alpha, positive=True, tol=TIGHT).fit(X, y)
    assert np.all(ours.coef_ >= 0) and relative_error(ours.coef_, theirs.coef_) < 1e-4
    Y = np.column_stack([y, 0.5 * y + X[:, 0] * 10.0])
    ours = ElasticNet(alpha, l1_ratio=0.7, tol=TIGHT).fit(X, Y)
    theirs = sk.ElasticNet(alpha, l1_ratio=0.7, tol=TIGHT).fit(X, Y)
    assert ours.coef_.shape == theirs.coef_.shape == (2, X.shape[1])
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    assert np.shape(ours.dual_gap_) == (2,) and np.shape(ours.n_iter_) == (2,)
    assert ours.predict(X).shape == (X.shape[0], 2)
    # y of shape (n, 1): one target, 1-D coef_, as scikit-learn
    assert Lasso(alpha).fit(X, y[:, None]).coef_.shape == (X.shape[1],)


@pytest.mark.parametrize("precompute", [False, True, "auto"])
@pytest.mark.parametrize("selection", ["cyclic", "random"])
def test_precompute_and_selection_change_speed_not_the_solution(precompute, selection):
    X, y, alpha = DATA["diabetes"]
    reference = sk.Lasso(alpha, tol=TIGHT).fit(X, y)
    ours = Lasso(alpha, tol=TIGHT, precompute=precompute, selection=selection, random_state=0).fit(X, y)
    assert relative_error(ours.coef_, reference.coef_) < 1e-4
    with pytest.raises(ValueError, match="precompute"):
        Lasso(precompute=np.eye(3)).fit(X, y)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_stays_float32(sparse):
    X, y, alpha = DATA["sparse" if sparse else "dense"]
    model = ElasticNet(alpha, tol=1e-8).fit(X.astype(np.float32), y)
    reference = ElasticNet(alpha, tol=1e-8).fit(X, y)
    assert model.coef_.dtype == np.float32 and model.predict(X.astype(np.float32)).dtype == np.float32
    assert relative_error(model.coef_, reference.coef_) < 1e-4


def test_sample_weight_is_repetition():
    X, y, alpha = DATA["dense"]
    counts = np.random.default_rng(4).integers(0, 4, X.shape[0])
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    for estimator in [Lasso(alpha, tol=TIGHT), ElasticNet(alpha, l1_ratio=0.4, tol=TIGHT)]:
        weighted = clone(estimator).fit(X, y, sample_weight=counts)
        repeated = clone(estimator).fit(X_rep, y_rep)
        assert relative_error(weighted.coef_, repeated.coef_) < 1e-6


def test_objective_is_the_scikit_learn_objective():
    X, y, alpha = DATA["diabetes"]
    weights = np.random.default_rng(5).uniform(0.5, 2.0, X.shape[0])
    model = ElasticNet(alpha, l1_ratio=0.6, tol=TIGHT).fit(X, y, sample_weight=weights)
    residual = y - model.predict(X)
    coef = model.coef_
    expected = (weights @ residual**2 / (2.0 * weights.sum()) + alpha * 0.6 * np.abs(coef).sum()
                + alpha * 0.4 / 2.0 * coef @ coef)
    assert model.objective(X, y, sample_weight=weights) == pytest.approx(expected, rel=1e-10)
    assert model.loss_curve_[-1] == pytest.approx(expected, rel=1e-8)
    assert np.all(np.diff(model.loss_curve_) <= 1e-12 * expected)  # coordinate descent never goes up
    for scale in (0.999, 1.001):
        moved = clone(model).fit(X, y, sample_weight=weights)
        moved.coef_ = moved.coef_ * scale
        assert moved.objective(X, y, sample_weight=weights) > expected


def test_warm_start_continues_from_the_previous_solution():
    X, y, alpha = DATA["diabetes"]
    model = Lasso(alpha, tol=1e-8, warm_start=True).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1 and np.allclose(model.coef_, first, rtol=1e-6)
    cold = Lasso(alpha, tol=1e-8).fit(X, y)
    assert cold.n_iter_ > model.n_iter_


def test_callbacks_are_called_and_can_stop():
    X, y, alpha = DATA["dense"]
    seen = []
    model = Lasso(alpha * 0.01, tol=TIGHT, callbacks=[lambda info: seen.append(info.gradient_norm)]).fit(X, y)
    assert len(seen) == len(model.loss_curve_) >= 2
    assert seen[-1] == pytest.approx(model.dual_gap_)
    with pytest.warns(ConvergenceWarning):
        Lasso(alpha * 0.01, tol=TIGHT, callbacks=[lambda info: True]).fit(X, y)


def test_not_converged_warns():
    X, y, alpha = DATA["dense"]
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        Lasso(alpha * 1e-3, tol=1e-14, max_iter=2).fit(X, y)


# -- ElasticNetCV ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("weighted", [False, True])
def test_elastic_net_cv_matches_scikit_learn(name, weighted):
    X, y, _ = DATA[name]
    weights = np.random.default_rng(6).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    params = {"l1_ratio": [0.3, 0.9], "alphas": 20, "cv": 4, "tol": 1e-10, "max_iter": 100_000}
    ours = ElasticNetCV(**params).fit(X, y, sample_weight=weights)
    theirs = sk.ElasticNetCV(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-10)
    assert ours.mse_path_.shape == theirs.mse_path_.shape == (2, 20, 4)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12) and ours.l1_ratio_ == theirs.l1_ratio_
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-4, abs=1e-6 * np.abs(y).max())


def test_elastic_net_cv_given_alphas_and_splitter():
    X, y, _ = DATA["diabetes"]
    alphas = [1.0, 0.1, 0.01, 0.001]
    cv = KFold(3, shuffle=True, random_state=0)
    ours = ElasticNetCV(alphas=alphas, cv=cv, tol=1e-10).fit(X, y)
    theirs = sk.ElasticNetCV(alphas=alphas, cv=cv, tol=1e-10).fit(X, y)
    np.testing.assert_array_equal(ours.alphas_, theirs.alphas_)
    assert ours.mse_path_.shape == theirs.mse_path_.shape == (4, 3)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    assert ours.alpha_ == theirs.alpha_
    assert ours.objective(X, y) == pytest.approx(ElasticNet(ours.alpha_, tol=1e-10).fit(X, y).objective(X, y))


def test_elastic_net_cv_with_overlapping_splits_matches_scikit_learn():
    """ShuffleSplit's test sets do not partition the rows: each fold forms its own Gram (no sums by
    subtraction), and the result is still scikit-learn's."""
    X, y, _ = DATA["diabetes"]
    cv = ShuffleSplit(n_splits=3, test_size=0.3, random_state=0)
    ours = ElasticNetCV(alphas=10, cv=cv, tol=1e-10).fit(X, y)
    theirs = sk.ElasticNetCV(alphas=10, cv=cv, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)


def test_elastic_net_cv_without_intercept_matches_scikit_learn():
    X, y, _ = DATA["diabetes"]
    X, y = X + 0.05, y - 100.0  # means away from zero: centering would change the grid and the fits
    ours = ElasticNetCV(alphas=10, cv=3, fit_intercept=False, tol=1e-10).fit(X, y)
    theirs = sk.ElasticNetCV(alphas=10, cv=3, fit_intercept=False, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-10)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    assert ours.intercept_ == 0.0 and relative_error(ours.coef_, theirs.coef_) < 1e-4


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("weighted", [False, True])
def test_lasso_cv_matches_scikit_learn(name, weighted):
    X, y, _ = DATA[name]
    weights = np.random.default_rng(7).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    params = {"alphas": 15, "cv": 3, "tol": 1e-10, "max_iter": 100_000}
    ours = LassoCV(**params).fit(X, y, sample_weight=weights)
    theirs = sk.LassoCV(**params).fit(X, y, sample_weight=weights)
    assert sorted(ours.get_params()) == sorted(theirs.get_params())
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-10)
    assert ours.mse_path_.shape == theirs.mse_path_.shape == (15, 3)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12) and not hasattr(ours, "l1_ratio_")
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-4, atol=1e-6 * np.abs(y).max())


@pytest.mark.parametrize("weighted", [False, True])
def test_cv_on_wide_dense_data_matches_scikit_learn(weighted):
    """More features than training rows: no Gram; each fold's path runs on a copy of its training
    rows (weighted only when the fit is), still scikit-learn's mse path, alpha and coefficients."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((60, 150)) + 1.0
    y = X[:, :6] @ rng.standard_normal(6) + 0.2 * rng.standard_normal(60)
    weights = rng.uniform(0.2, 3.0, 60) if weighted else None
    for ours, theirs in ((LassoCV(alphas=10, cv=3, tol=1e-10, max_iter=100_000),
                          sk.LassoCV(alphas=10, cv=3, tol=1e-10, max_iter=100_000)),
                         (ElasticNetCV(l1_ratio=[0.4, 1.0], alphas=10, cv=3, tol=1e-10, max_iter=100_000),
                          sk.ElasticNetCV(l1_ratio=[0.4, 1.0], alphas=10, cv=3, tol=1e-10, max_iter=100_000))):
        ours.fit(X, y, sample_weight=weights)
        theirs.fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
        assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)
        assert relative_error(ours.coef_, theirs.coef_) < 1e-4


@pytest.mark.parametrize("weighted", [False, True])
def test_elastic_net_cv_refit_from_fold_sums_equals_a_plain_fit(weighted):
    """The refit reuses the fold pass's sums of all rows: it is the ElasticNet fit on the data."""
    X, y, _ = DATA["diabetes"]
    X = X + 3.0  # means away from zero
    weights = np.random.default_rng(9).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    cv = ElasticNetCV(alphas=8, cv=4, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=weights)
    plain = ElasticNet(alpha=cv.alpha_, l1_ratio=cv.l1_ratio_, tol=1e-12, max_iter=100_000).fit(X, y, weights)
    np.testing.assert_allclose(cv.coef_, plain.coef_, rtol=1e-8, atol=1e-10 * np.abs(plain.coef_).max())
    assert cv.intercept_ == pytest.approx(plain.intercept_, rel=1e-8)
    assert cv.solver_info_["variant"] == "gram" and cv.n_iter_ > 0


def test_elastic_net_cv_errors():
    X, y, _ = DATA["diabetes"]
    with pytest.raises(ValueError, match="MultiTask"):
        ElasticNetCV().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="l1_ratio=0"):
        ElasticNetCV(l1_ratio=0.0).fit(X, y)
    with pytest.raises(ValueError, match="alphas"):
        ElasticNetCV(alphas=[1.0, -1.0]).fit(X, y)
    with pytest.raises(ValueError, match="eps"):
        ElasticNetCV(eps=0.0).fit(X, y)


# -- integration and bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", [Lasso(0.1), ElasticNet(0.1, l1_ratio=0.3), ElasticNetCV(alphas=10, cv=3)],
                         ids=repr)
def test_pipeline_grid_search_cross_val_score_clone(estimator):
    X, y, _ = DATA["diabetes"]
    params = {k: v for k, v in estimator.get_params().items() if k != "callbacks"}
    pipeline = make_pipeline(StandardScaler(), clone(estimator))
    twin = make_pipeline(StandardScaler(), getattr(sk, type(estimator).__name__)(**params))
    np.testing.assert_allclose(cross_val_score(pipeline, X, y, cv=3), cross_val_score(twin, X, y, cv=3), rtol=1e-4)
    if not isinstance(estimator, ElasticNetCV):
        step = pipeline.steps[-1][0]
        grid = {f"{step}__alpha": [0.01, 0.1, 1.0]}
        assert (GridSearchCV(pipeline, grid, cv=3).fit(X, y).best_params_
                == GridSearchCV(twin, grid, cv=3).fit(X, y).best_params_)
    cloned = clone(estimator)
    assert repr(cloned) == repr(estimator) and not hasattr(cloned, "coef_")


def test_pandas_feature_names_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X, y, alpha = DATA["diabetes"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    for model in (Lasso(alpha).fit(frame, y), ElasticNetCV(alphas=5, cv=3).fit(frame, y)):
        np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
        with pytest.raises(ValueError, match="feature names"):
            model.predict(frame[frame.columns[::-1]])


@pytest.mark.parametrize("Estimator", [Lasso, ElasticNet, ElasticNetCV])
def test_bad_input_gives_scikit_learn_errors(Estimator):
    X, y, _ = DATA["diabetes"]
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Estimator().fit(X_nan, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Estimator().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2D array"):
        Estimator().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="0 sample"):
        Estimator().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="[Ss]ample weights"):
        Estimator().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="features"):
        Estimator().fit(X, y).predict(X[:, :3])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # alpha=0 with max_iter=5
@pytest.mark.parametrize("make", [Lasso, lambda: ElasticNet(l1_ratio=0.3), lambda: Lasso(positive=True),
                                  lambda: Lasso(precompute=True), lambda: Lasso(fit_intercept=False)])
@pytest.mark.parametrize("layout", ["tall", "wide", "csr", "fortran"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_gives_scikit_learns_error_without_a_pass_of_its_own(make, layout, bad):
    """validate_data skips X's finiteness: every coordinate-descent variant (Gram, dense columns,
    sparse columns) checks its sums over X, which settles it, and the error is scikit-learn's word for
    word (float32 and float64, a bad value in the first row, whose values the column variant subtracts
    from the others, or in a row of zero weight)."""
    rng = np.random.default_rng(0)
    n_rows, n_columns = (60, 5) if layout != "wide" else (8, 30)
    for dtype in (np.float64, np.float32):
        for row in (0, 3):
            X = rng.standard_normal((n_rows, n_columns)).astype(dtype)
            y = rng.standard_normal(n_rows)
            X[row, 2] = bad
            weights = np.ones(n_rows)
            weights[3] = 0.0
            X = sp.csr_matrix(X) if layout == "csr" else np.asfortranarray(X) if layout == "fortran" else X
            estimator = make()
            assert_raises_validation_error(estimator.fit, estimator, X, y, sample_weight=weights)
            assert not hasattr(estimator, "coef_")


def test_invalid_hyper_parameters_are_rejected():
    X, y, _ = DATA["diabetes"]
    with pytest.raises(ValueError, match="alpha"):
        Lasso(-1.0).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        ElasticNet(l1_ratio=1.5).fit(X, y)
    with pytest.raises(ValueError, match="selection"):
        Lasso(selection="greedy").fit(X, y)
    with pytest.raises(ValueError, match="max_iter"):
        Lasso(max_iter=0).fit(X, y)
    with pytest.warns(UserWarning, match="alpha=0"):
        Lasso(0.0, max_iter=5).fit(X, y)


def test_attribute_types_are_scikit_learns():
    """float32 X: dual_gap_ float32 and PoissonRegressor's intercept_ a float32 scalar; several targets:
    ElasticNet's n_iter_ a list (scikit-learn's types, compared one by one)."""
    import fastml
    from sklearn import linear_model as sk

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    y = (X[:, 0] + 2).astype(np.float32)
    cases = [("Lasso", {"alpha": 0.01}, y, "dual_gap_"), ("ElasticNet", {"alpha": 0.01}, np.c_[y, y], "n_iter_"),
             ("ElasticNet", {"alpha": 0.01}, np.c_[y, y], "dual_gap_"),
             ("PoissonRegressor", {}, np.exp(X[:, 0]).astype(np.float32), "intercept_")]
    for name, params, target, attribute in cases:
        for data in (X, X.astype(np.float64)):
            ours = getattr(getattr(fastml, name)(**params).fit(data, target), attribute)
            theirs = getattr(getattr(sk, name)(**params).fit(data, target), attribute)
            assert type(ours) is type(theirs), (name, attribute, data.dtype)
            assert np.asarray(ours).dtype == np.asarray(theirs).dtype, (name, attribute, data.dtype)
