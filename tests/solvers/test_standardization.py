"""L-BFGS on features far from zero or of wild scales (``_preconditioner.Standardization``).

A timestamp column (1.7e9 +- 1e7) or a column of 1e8 +- 1 beside the intercept: from the intercept-only
start the line search along the gradient finds no decrease the objective's rounding can show, and
L-BFGS used to stop at the intercept-only model ("line search found no decrease"). It now goes on in
standardized coordinates. The reference is independent of fastml's solvers: scipy's L-BFGS-B on the
standardized features (no penalty, so the optimum maps back exactly: ``w = w' / sd``,
``b = b' - mean . w``), its objective compared in the raw coordinates.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import fastml
from fastml.solvers._preconditioner import HessianPreconditioner, Standardization, with_standardization
from fastml.solvers.lbfgs import LBFGSOptions, lbfgs
from solver_problems import relative_gap, scipy_reference  # tests/solvers is on sys.path

COLUMNS = {"offset_1e8": (1e8, 1.0), "timestamp": (1.7e9, 1e7), "scale_1e6": (0.0, 1e6)}


def _problem(column, n_samples=3000, n_features=5, n_targets=1, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal((n_features, n_targets))
    y = (rng.random((n_samples, n_targets)) < 1.0 / (1.0 + np.exp(-(X @ coef)))).astype(np.float64)
    offset, scale = COLUMNS[column]
    X[:, 0] = X[:, 0] * scale + offset
    return X, (y[:, 0] if n_targets == 1 else y)


def _standardized_reference(X, y):
    """(coef, intercept) of the unpenalized logistic optimum, fitted by scipy on standardized X."""
    mean, sd = X.mean(axis=0), X.std(axis=0)
    params, _ = scipy_reference(fastml.LinearObjective("log_loss", (X - mean) / sd, y))
    coef = params[:-1] / sd
    return coef, params[-1] - mean @ coef


@pytest.mark.parametrize("storage", ["C", "F", "csr"])
@pytest.mark.parametrize("column", list(COLUMNS))
def test_lbfgs_reaches_the_optimum_of_an_offset_or_wildly_scaled_column(column, storage):
    """Python loop; "auto" on this small X runs the compiled loop, which stalls, and then the Python
    loop from the start: the same result. The convergence test of a standardized model is on its
    gradient in standardized units (the raw one of the offset column stays ~1e8 times the intercept's
    rounding)."""
    X, y = _problem(column)
    coef, intercept = _standardized_reference(X, y)
    design = {"C": X, "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}[storage]
    objective = fastml.LinearObjective("log_loss", design, y)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-8, max_iter=500, driver="python"))
    # CSR sums the 1e8 column's products in another order: its objective's rounding (~1e-11 relative)
    # hides the last decrease before the standardized gradient reaches 1e-8 (it stopped at 6e-7, the
    # objective 1e-11 below the reference's): the run says so
    assert result.converged or (storage == "csr" and "rounding limit" in result.message), result.message
    if column == "offset_1e8":
        assert result.info["standardized"]
    reference = objective.pack(coef, intercept)
    assert relative_gap(objective.value(result.params), objective.value(reference)) <= 1e-9
    np.testing.assert_allclose(result.params, reference, rtol=1e-4, atol=1e-10)
    auto = lbfgs(fastml.LinearObjective("log_loss", design, y), options=LBFGSOptions(tol=1e-8, max_iter=500))
    np.testing.assert_allclose(auto.params, result.params, rtol=1e-12)  # (rounding: compiled vs Python loop)
    assert "stalled" not in auto.info
    # it is the standardization that did it: without any preconditioner the old stall remains, and
    # the stalled run's trace ends at the point where it stopped (no NaN row from the compiled loop)
    if column != "scale_1e6":
        for driver in ("python", "compiled"):
            stalled = lbfgs(fastml.LinearObjective("log_loss", design, y),
                            options=LBFGSOptions(tol=1e-8, preconditioner="none", driver=driver))
            assert not stalled.converged and "no decrease" in stalled.message
            assert np.all(np.isfinite(stalled.trace["objective"]))
            assert np.isfinite(stalled.info["objective_values"]).all()
            assert objective.value(result.params) < stalled.info["objective_values"][0] - 1e-2


def test_several_models_each_get_their_standardization():
    """Two label columns on the same offset X, fitted side by side (Python loop): each reaches its own
    optimum, as fitted alone."""
    X, Y = _problem("offset_1e8", n_targets=2)
    result = lbfgs(fastml.LinearObjective("log_loss", X, Y), options=LBFGSOptions(tol=1e-8, max_iter=500))
    assert np.all(result.converged)
    params = result.params.reshape(-1, 2)
    for k in range(2):
        coef, intercept = _standardized_reference(X, Y[:, k])
        alone = fastml.LinearObjective("log_loss", X, Y[:, k])
        assert relative_gap(alone.value(params[:, k]), alone.value(alone.pack(coef, intercept))) <= 1e-9


@pytest.mark.parametrize("column", ["offset_1e8", "timestamp"])
def test_logistic_regression_on_an_offset_column(column):
    """The estimator (default lbfgs, C = 1) without a ConvergenceWarning and at the penalized optimum,
    found by scipy's L-BFGS-B in standardized coordinates (fastml's objective evaluated at ``A theta'``).
    scikit-learn's lbfgs stopped at the intercept-only model (log-loss 0.693) on the 1e8 +- 1 data."""
    import warnings

    import scipy.optimize

    X, y = _problem(column, n_samples=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastml.LogisticRegression(max_iter=1000).fit(X, y)
    if column == "offset_1e8":
        assert model.solver_info_["standardized"]
    objective = fastml.LinearObjective("log_loss", X, y, l2=1.0 / len(y))  # C = 1
    fitted = objective.value(objective.pack(model.coef_.T, model.intercept_))
    assert model.objective(X, y) == pytest.approx(fitted, rel=1e-12)
    mean, sd = X.mean(axis=0), X.std(axis=0)
    p = X.shape[1]
    A = np.eye(p + 1)
    A[:p, :p] = np.diag(1.0 / sd)
    A[p, :p] = -mean / sd
    reference = scipy.optimize.minimize(
        lambda theta: (lambda value, gradient: (value, A.T @ gradient))(*objective.value_and_gradient(A @ theta)),
        np.zeros(p + 1), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 20000})
    assert relative_gap(fitted, reference.fun) <= 1e-6  # the estimator's default tol is 1e-4
    assert model.score(X, y) > 0.7


def test_standardization_applies_a_d_inverse_a_transpose():
    rng = np.random.default_rng(0)
    mean, variance = rng.standard_normal(4) * 10, rng.uniform(0.5, 3.0, 4)
    A = np.eye(5)
    A[4, :4] = -mean  # b = b' - mean . w
    expected = A @ np.diag(np.r_[1.0 / variance, 1.0]) @ A.T
    standardization = Standardization(mean, variance, fit_intercept=True)
    q = rng.standard_normal(5)
    np.testing.assert_allclose(standardization.solve(q), expected @ q, rtol=1e-12)
    np.testing.assert_allclose(standardization.inverse(), expected, rtol=1e-12)
    plain = Standardization(np.zeros(4), variance, fit_intercept=False)
    np.testing.assert_allclose(plain.inverse(), np.diag(1.0 / variance), rtol=1e-12)
    # through the preconditioner the solver holds, beside another model's Hessian factor
    preconditioner = HessianPreconditioner.from_hessians([np.eye(5) * 2.0, np.eye(5)])
    preconditioner.factors[1] = standardization
    assert preconditioner.standardized(1) and not preconditioner.standardized(0)
    np.testing.assert_allclose(preconditioner.solve(1, q), expected @ q, rtol=1e-12)
    np.testing.assert_allclose(preconditioner.solve(0, q), q / 2.0, rtol=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_standardization_moments_from_the_rows(storage, monkeypatch):
    """Weighted means and two-pass variances of a row sample (CSR: the stored entries' deviations and
    the unstored zeros'): a 1e8 +- 1 column keeps its unit variance (``E[x^2] - mean^2`` would give 0
    or noise); a constant column keeps its mean square, not a zero variance; every ``step``-th row once
    the matrix exceeds ``STANDARDIZATION_ROWS``."""
    from fastml.solvers import _preconditioner

    monkeypatch.setattr(_preconditioner, "STANDARDIZATION_ROWS", 1000)
    X, y = _problem("offset_1e8", n_samples=3000)
    X[:, 2] = 3.0  # constant
    X[X[:, 3] < 0.3, 3] = 0.0  # mostly zeros
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    objective = fastml.LinearObjective("log_loss", sp.csr_matrix(X) if storage == "csr" else X, y, weights)
    standardization = with_standardization(None, objective, 1, 0).factors[0]
    rows, w = X[::3], weights[::3]
    mean = w @ rows / w.sum()
    np.testing.assert_allclose(standardization.mean, mean, rtol=1e-12)
    variance = 1.0 / standardization.inverse_variance
    expected = w @ (rows - mean) ** 2 / w.sum()
    columns = [0, 1, 3, 4]
    np.testing.assert_allclose(variance[columns], expected[columns], rtol=1e-9)
    assert 0.5 < variance[0] < 2.0  # the offset column's spread, not 1e16
    assert variance[2] == pytest.approx(9.0)
    without_intercept = fastml.LinearObjective("log_loss", X, y, weights, fit_intercept=False)
    plain = with_standardization(None, without_intercept, 1, 0).factors[0]
    np.testing.assert_array_equal(plain.mean, 0.0)
    np.testing.assert_allclose(1.0 / plain.inverse_variance, w @ rows ** 2 / w.sum(), rtol=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("column", ["offset_1e8", "timestamp"])
def test_sample_start_on_an_offset_column(column, storage, monkeypatch):
    """With the row-sample start (thresholds lowered so that 20 000 rows take it): a 1e8 +- 1 column's
    sample Hessian is not resolved in float64 (its scaled smallest eigenvalue ~1e-16), the sample is
    dropped and the full run standardizes (before, the shifted factor of that Hessian let L-BFGS crawl
    to an ftol stop 1e-4 above the optimum at 1e6 x 20 while reporting convergence); a timestamp's
    (1.7e-5) is kept. Both reach the optimum."""
    from fastml.solvers import _sample_start

    monkeypatch.setattr(_sample_start, "MIN_SAMPLE_ROWS", 500)
    monkeypatch.setattr(_sample_start, "SAMPLE_ROWS_PER_PARAM", 20)
    monkeypatch.setattr(fastml._objective, "SERIAL_WORK", 1000)
    X, y = _problem(column, n_samples=20_000)
    coef, intercept = _standardized_reference(X, y)
    objective = fastml.LinearObjective("log_loss", sp.csr_matrix(X) if storage == "csr" else X, y)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-8, max_iter=500))
    # (CSR's objective rounding: see test_lbfgs_reaches_the_optimum_of_an_offset_or_wildly_scaled_column)
    assert result.converged or (storage == "csr" and "rounding limit" in result.message), result.message
    assert (result.info["sample_start"] is None) == (column == "offset_1e8")
    assert relative_gap(objective.value(result.params), objective.value(objective.pack(coef, intercept))) <= 1e-9


def test_line_search_stops_once_its_predicted_decrease_is_below_rounding():
    """Along a direction where every trial raises the objective (the first steepest-descent direction
    of a 1e8 +- 1 feature), the search ends, without a point, once ``step * |slope|`` is below the
    objective's rounding instead of running all ``max_steps`` trials (each a pass over X), shrinking
    the step tenfold per trial on the way; a direction with a decrease within reach is searched as
    before."""
    from fastml.solvers._line_search import wolfe_search

    def run(phi, dphi, step, max_steps=60):
        search, trials = wolfe_search(phi(0.0), dphi(0.0), step, max_steps=max_steps), 0
        trial = next(search)
        try:
            while True:
                trials += 1
                trial = search.send((phi(trial), dphi(trial), None))
        except StopIteration as stop:
            return stop.value, trials

    # phi rises with a curvature of 1e20: its minimum (step 4e-22) decreases phi by 8e-24, far below rounding
    slope, curvature = -0.04, 1e20
    result, trials = run(lambda a: 0.69 + slope * a + 0.5 * curvature * a * a, lambda a: slope + curvature * a, 5.0)
    assert result is None
    # the cut: 0.04 * step <= 64 eps * 0.69 from a step of about 2.5e-12; the clamped interpolation
    # shrinks tenfold per trial (the minimizer lies far below a tenth of the interval): ~13 trials from 5,
    # where halving needed ~42 and, without the cut, all 60
    assert trials <= 15
    # a reachable minimum (curvature 1e3: step 4e-5) is found
    result, _ = run(lambda a: 0.69 + slope * a + 0.5 * 1e3 * a * a, lambda a: slope + 1e3 * a, 5.0)
    assert result is not None and result[1] < 0.69
