"""PoissonRegressor against scikit-learn's and against closed-form references of its objective and score.

scikit-learn's ``parametrize_with_checks`` and the pandas column-name check run in ``test_common.py``.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_poisson_deviance
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastml.linear_model._glm import PoissonRegressor

TIGHT = {"tol": 1e-10, "max_iter": 5000}


def _counts(sparse=False, n_samples=400, n_features=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X[rng.random(X.shape) < 0.4] = 0.0
    y = rng.poisson(np.exp(0.5 + X @ rng.uniform(-0.4, 0.4, n_features))).astype(np.float64)
    return (sp.csr_matrix(X) if sparse else X), y


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y / 100.0  # positive, non-integer rates


DATASETS = {"counts": lambda: _counts(False), "csr": lambda: _counts(True), "diabetes": _diabetes}


def _reference(X, y, sample_weight=None, **params):
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sk.PoissonRegressor(**params).fit(X, y, sample_weight=sample_weight)


def assert_same_model(ours, reference, X, rtol=1e-4):
    scale = max(np.abs(reference.coef_).max(), 1e-12)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=rtol, atol=rtol * max(scale, 1.0))
    np.testing.assert_allclose(ours.predict(X), reference.predict(X), rtol=10 * rtol)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "newton", "gd"])
@pytest.mark.parametrize("alpha", [1.0, 1e-3])
def test_parity_with_sklearn(dataset, solver, alpha):
    X, y = DATASETS[dataset]()
    reference = _reference(X, y, alpha=alpha, solver="lbfgs", **TIGHT)
    ours = PoissonRegressor(alpha=alpha, solver=solver, tol=1e-9, max_iter=20000).fit(X, y)
    assert_same_model(ours, reference, X)
    assert abs(ours.score(X, y) - reference.score(X, y)) < 1e-6


def test_objective_is_sklearns_objective():
    """objective() = mean half deviance + alpha/2 ||coef||^2, computed independently with sklearn.metrics."""
    X, y = _counts()
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    ours = PoissonRegressor(alpha=0.3).fit(X, y, sample_weight=weights)
    expected = (0.5 * mean_poisson_deviance(y, ours.predict(X), sample_weight=weights)
                + 0.15 * ours.coef_ @ ours.coef_)
    assert ours.objective(X, y, sample_weight=weights) == pytest.approx(expected, rel=1e-12)


def test_score_is_d2():
    X, y = _diabetes()
    ours = PoissonRegressor(alpha=0.1).fit(X, y)
    mean = np.full_like(y, y.mean())
    expected = 1.0 - mean_poisson_deviance(y, ours.predict(X)) / mean_poisson_deviance(y, mean)
    assert ours.score(X, y) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dataset", ["counts", "csr"])
def test_sample_weight_parity_and_repetition(dataset):
    X, y = DATASETS[dataset]()
    repeats = np.random.default_rng(2).integers(0, 4, X.shape[0])
    weighted = PoissonRegressor(alpha=0.01, **TIGHT).fit(X, y, sample_weight=repeats)
    rows = np.repeat(np.arange(X.shape[0]), repeats)
    repeated = PoissonRegressor(alpha=0.01, **TIGHT).fit(X[rows], y[rows])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-9)
    assert_same_model(weighted, _reference(X, y, sample_weight=repeats, alpha=0.01, **TIGHT), X)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_kept(sparse):
    X, y = _counts(sparse)
    X32 = X.astype(np.float32)
    ours = PoissonRegressor(alpha=0.1, tol=1e-8).fit(X32, y)
    assert ours.coef_.dtype == np.float32 and ours.predict(X32).dtype == np.float32
    np.testing.assert_allclose(ours.coef_, PoissonRegressor(alpha=0.1, tol=1e-8).fit(X, y).coef_, rtol=1e-4,
                               atol=1e-5)


def test_warm_start_and_traces():
    X, y = _counts()
    model = PoissonRegressor(alpha=0.1, tol=1e-8, warm_start=True).fit(X, y)
    assert model.n_iter_ > 1 and len(model.loss_curve_) == model.n_iter_ + 1
    assert model.solver_info_["solver"] == "lbfgs" and model.solver_info_["converged"]
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1
    np.testing.assert_allclose(model.coef_, first, rtol=1e-7, atol=1e-9)


def test_pipeline_gridsearch_cross_val_score_clone():
    X, y = load_diabetes(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), PoissonRegressor(alpha=0.1))
    ours = cross_val_score(pipeline, X, y, cv=3)
    with threadpool_limits(1):
        theirs = cross_val_score(make_pipeline(StandardScaler(), sk.PoissonRegressor(alpha=0.1)), X, y, cv=3)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    search = GridSearchCV(pipeline, {"poissonregressor__alpha": [0.01, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_["poissonregressor__alpha"] == 0.01
    assert clone(PoissonRegressor(alpha=2.0)).get_params()["alpha"] == 2.0


@pytest.mark.parametrize("params, y, message", [
    ({}, np.array([1.0, -1.0, 2.0, 0.0]), "non-negative"),
    ({}, np.array([1.0, np.nan, 2.0, 0.0]), "NaN"),
    ({}, np.array([1.0, 2.0, 0.0]), "inconsistent numbers of samples"),
    ({"solver": "saga"}, np.array([1.0, 2.0, 0.0, 3.0]), "solver must be one of"),
    ({"alpha": -1.0}, np.array([1.0, 2.0, 0.0, 3.0]), "alpha must be >="),
])
def test_bad_input(params, y, message):
    with pytest.raises(ValueError, match=message):
        PoissonRegressor(**params).fit(np.eye(4), y)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
def test_non_finite_X_is_rejected(solver, bad, sparse):
    """fit leaves X's finiteness to the solver's first pass (or the full check before other reads)."""
    X, y = _counts()
    X = X.copy()
    X[5, 2] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        PoissonRegressor(solver=solver).fit(sp.csr_matrix(X) if sparse else X, y)


def test_all_zero_weights_and_bad_predict_input():
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        PoissonRegressor().fit(np.eye(4), np.ones(4), sample_weight=np.zeros(4))
    model = PoissonRegressor().fit(np.eye(4), np.arange(4.0))
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="infinity"):
        model.predict(np.full((1, 4), np.inf))
