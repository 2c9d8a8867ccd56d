"""L-BFGS (``_preconditioner.Standardization``) and Newton (``_shifted_coordinates``) on features far
from zero or of wild scales.

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

COLUMNS = {"offset_1e8": (1e8, 1.0), "timestamp": (1.7e9, 1e7), "scale_1e6": (0.0, 1e6),
           "milliseconds": (1.7e12, 1e5)}


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
@pytest.mark.parametrize("column", ["offset_1e8", "timestamp", "scale_1e6"])
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
    variance = 1.0 / standardization.inverse_sd ** 2
    expected = w @ (rows - mean) ** 2 / w.sum()
    columns = [0, 1, 3, 4]
    np.testing.assert_allclose(variance[columns], expected[columns], rtol=1e-9)
    assert 0.5 < variance[0] < 2.0  # the offset column's spread, not 1e16
    assert variance[2] == pytest.approx(9.0)
    without_intercept = fastml.LinearObjective("log_loss", X, y, weights, fit_intercept=False)
    plain = with_standardization(None, without_intercept, 1, 0).factors[0]
    np.testing.assert_array_equal(plain.mean, 0.0)
    np.testing.assert_allclose(1.0 / plain.inverse_sd ** 2, w @ rows ** 2 / w.sum(), rtol=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("column", ["offset_1e8", "timestamp"])
def test_sample_start_on_an_offset_column(column, storage, monkeypatch):
    """With the row-sample start (thresholds lowered so that 20 000 rows take it): a 1e8 +- 1 column's
    sample Hessian is not resolved in float64 (its scaled smallest eigenvalue ~1e-16); the full run
    starts from the sample's optimum in standardized coordinates (the shifted factor of that Hessian
    had let L-BFGS crawl to an ftol stop 1e-4 above the optimum at 1e6 x 20 while reporting
    convergence; then the sample was dropped, and the run stalled ~13 passes before standardizing); a
    timestamp's (1.7e-5) is used as it is. Both reach the optimum, and so does Newton, whose first
    step then takes the full Hessian (in shifted coordinates)."""
    from fastml.solvers import _sample_start
    from fastml.solvers.newton import NewtonOptions, newton

    monkeypatch.setattr(_sample_start, "MIN_SAMPLE_ROWS", 500)
    monkeypatch.setattr(_sample_start, "SAMPLE_ROWS_PER_PARAM", 20)
    monkeypatch.setattr(fastml._objective, "SERIAL_WORK", 1000)
    X, y = _problem(column, n_samples=20_000)
    coef, intercept = _standardized_reference(X, y)
    objective = fastml.LinearObjective("log_loss", sp.csr_matrix(X) if storage == "csr" else X, y)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-8, max_iter=500))
    # (CSR's objective rounding: see test_lbfgs_reaches_the_optimum_of_an_offset_or_wildly_scaled_column)
    assert result.converged or (storage == "csr" and "rounding limit" in result.message), result.message
    assert result.info["sample_start"]["unresolved_hessian"] == (column == "offset_1e8")
    assert result.info["standardized"] == (column == "offset_1e8")
    assert result.n_iter <= 12, result.n_iter
    reference = objective.value(objective.pack(coef, intercept))
    assert relative_gap(objective.value(result.params), reference) <= 1e-9
    result = newton(objective, options=NewtonOptions(tol=1e-8))
    assert result.converged and result.info["sample_start"]["unresolved_hessian"] == (column == "offset_1e8")
    assert result.info["shifted"] == (column == "offset_1e8") and result.n_iter <= 6
    assert relative_gap(objective.value(result.params), reference) <= 1e-9


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


def test_standardized_gradient_is_in_the_units_of_standardized_features():
    """``(g_w - mean g_b) / sd``: the derivative in ``w' = sd w`` (finite differences of the objective
    in standardized coordinates); a model standardized on a column of spread 1e3 then meets its
    gradient test (``ftol=0``: before, it was sd^2 = 1e6 times too strict, and only the rounding rule
    ended such runs)."""
    X, y = _problem("milliseconds")
    X[:, 0] = (X[:, 0] - 1.7e12) / 1e2 + 1e11  # 1e11 +- 1e3
    objective = fastml.LinearObjective("log_loss", X, y)
    standardization = Standardization.of(objective, 0)
    sd = 1.0 / standardization.inverse_sd
    assert 500 < sd[0] < 2000
    rng = np.random.default_rng(3)
    w = objective.pack(rng.standard_normal(5) * 1e-3 / np.r_[sd[0], np.ones(4)], -1e-3 * 1e11 / sd[0])
    A = np.eye(6)  # raw = A standardized
    A[:5, :5] = np.diag(1.0 / sd)
    A[5, :5] = -standardization.mean / sd
    standardized_w = np.linalg.solve(A, w)
    step = 1e-3  # (the objective rounds at ~1e-11 here: a smaller step differences its noise)
    numeric = [(objective.value(A @ (standardized_w + step * e)) - objective.value(A @ (standardized_w - step * e)))
               / (2 * step) for e in np.eye(6)]
    np.testing.assert_allclose(standardization.standardized_gradient(objective.gradient(w)), numeric,
                               rtol=1e-5, atol=1e-8)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-7, ftol=0.0, max_iter=500, preconditioner="none"))
    assert "no decrease" in result.message  # the raw coordinates stall ...
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-7, ftol=0.0, max_iter=500, driver="python"))
    assert result.converged and result.info["standardized"], result.message  # ... standardized, the test is met
    assert np.max(np.abs(standardization.standardized_gradient(objective.gradient(result.params)))) <= 2e-7


# -- Newton -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("storage", ["C", "F", "csr"])
@pytest.mark.parametrize("column", list(COLUMNS))
def test_newton_reaches_the_optimum_of_an_offset_or_wildly_scaled_column(column, storage):
    """The raw Hessian of a 1e8 +- 1 column (or of milliseconds since 1970, 1.7e12 +- 1e5) is singular in
    float64: Newton's shifted and least-squares solves crawled to ``max_iter`` (100 iterations, not
    converged). In the coordinates of ``X - shift`` it converges in a few Newton steps; a timestamp in
    seconds loses only 4.5 digits (no shift) and a zero-mean column of scale 1e6 none: those keep the
    raw coordinates and converge too (they ran to ``max_iter`` on the raw gradient test, whose rounding
    for a feature of scale 1e9 is ~1e-7: the Newton-decrement rule ends them at the rounding limit)."""
    from fastml.solvers.newton import NewtonOptions, newton

    X, y = _problem(column)
    coef, intercept = _standardized_reference(X, y)
    design = {"C": X, "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}[storage]
    objective = fastml.LinearObjective("log_loss", design, y)
    result = newton(objective, options=NewtonOptions(tol=1e-8))
    assert result.converged and result.n_iter <= 10, (result.message, result.n_iter)
    assert result.info["shifted"] == (column in ("offset_1e8", "milliseconds"))
    assert result.info["systems"]["cholesky"] == result.n_iter
    reference = objective.pack(coef, intercept)
    # (CSR rounds the offset column's objective at ~1e-11: see the L-BFGS test above)
    assert relative_gap(objective.value(result.params), objective.value(reference)) <= 1e-9
    np.testing.assert_allclose(result.params, reference, rtol=1e-4, atol=1e-10)


def test_newton_shifts_each_model_on_its_own():
    """Two label columns (one model each) and two penalties on the same 1e8 +- 1 X, fitted side by side:
    each as fitted alone, the shifted coordinates per model."""
    from fastml.solvers.newton import NewtonOptions, newton

    X, Y = _problem("offset_1e8", n_targets=2)
    l2 = np.array([1e-3, 1e-1])
    together = newton(fastml.LinearObjective("log_loss", X, Y, l2=l2), options=NewtonOptions(tol=1e-8))
    assert np.all(together.converged) and np.all(together.info["shifted"])
    params = together.params.reshape(-1, 2)
    for k in range(2):
        alone = newton(fastml.LinearObjective("log_loss", X, Y[:, k], l2=l2[k]), options=NewtonOptions(tol=1e-8))
        np.testing.assert_allclose(params[:, k], alone.params, rtol=1e-8)


@pytest.mark.parametrize("storage", ["F", "csr"])
def test_hessian_in_shifted_coordinates_is_the_hessian_of_shifted_features(storage):
    """``hessian(w, shift=s)`` (two models, different shifts, weights, L2) against the Hessian of the
    objective on ``X - s`` at the same scores (``b' = b + s . coef``), on a mild offset that float64
    resolves either way."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((400, 4)) + np.array([3.0, 0.0, -2.0, 0.5])
    Y = (rng.random((400, 2)) < 0.4).astype(np.float64)
    weights = rng.uniform(0.2, 2.0, (400, 2))
    l2 = np.array([0.0, 0.3])
    shift = np.array([[3.0, 0.0, -2.0, 0.0], [2.5, 0.0, 0.0, 0.4]])
    design = sp.csr_matrix(X) if storage == "csr" else np.asfortranarray(X)
    objective = fastml.LinearObjective("log_loss", design, Y, weights, l2=l2)
    coef, intercept = rng.standard_normal((4, 2)), rng.standard_normal(2)
    shifted = objective.hessian(objective.pack(coef, intercept), shift=shift)
    for k in range(2):
        moved = fastml.LinearObjective("log_loss", X - shift[k], Y[:, k], weights[:, k], l2=l2[k])
        expected = moved.hessian(moved.pack(coef[:, k], intercept[k] + shift[k] @ coef[:, k]))[0]
        np.testing.assert_allclose(shifted[k], expected, rtol=1e-12, atol=1e-14)
    raw = objective.hessian(objective.pack(coef, intercept))
    np.testing.assert_allclose(objective.hessian(objective.pack(coef, intercept), shift=np.zeros((2, 4))), raw)


def test_logistic_regression_newton_on_an_offset_column():
    """The estimator with ``solver="newton"`` on a 1e8 +- 1 column: no ConvergenceWarning, the lbfgs
    estimator's optimum (same objective within 1e-9)."""
    import warnings

    X, y = _problem("offset_1e8", n_samples=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        newton_model = fastml.LogisticRegression(solver="newton", tol=1e-8).fit(X, y)
        lbfgs_model = fastml.LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y)
    assert newton_model.n_iter_[0] <= 10
    assert relative_gap(newton_model.objective(X, y), lbfgs_model.objective(X, y)) <= 1e-9


# -- the multinomial model ----------------------------------------------------------------------------

def _multinomial_problem(column, n_samples=3000, n_features=5, n_classes=3, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    logits = X @ rng.standard_normal((n_features, n_classes))
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    y = (rng.random((n_samples, 1)) > np.cumsum(probabilities, axis=1)).sum(axis=1).astype(np.float64)
    offset, scale = COLUMNS[column]
    X[:, 0] = X[:, 0] * scale + offset
    return X, y


def test_standardization_transforms_each_class_alike():
    """``P^-1`` of a multinomial model's flat ``(p + 1, K)`` vector is ``P^-1`` of one output applied to
    each class's column; so is the standardized gradient."""
    rng = np.random.default_rng(1)
    standardization = Standardization(rng.standard_normal(4) * 5, rng.uniform(0.5, 3.0, 4), fit_intercept=True)
    matrix = rng.standard_normal((5, 3))
    expected = np.stack([standardization.solve(matrix[:, c]) for c in range(3)], axis=1)
    np.testing.assert_allclose(standardization.solve(matrix.ravel()), expected.ravel(), rtol=1e-14)
    expected = np.stack([standardization.standardized_gradient(matrix[:, c]) for c in range(3)], axis=1)
    np.testing.assert_allclose(standardization.standardized_gradient(matrix.ravel()), expected.ravel(), rtol=1e-14)
    np.testing.assert_allclose(standardization.inverse(15) @ matrix.ravel(), standardization.solve(matrix.ravel()),
                               rtol=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("column", ["offset_1e8", "timestamp", "milliseconds"])
def test_multinomial_solvers_on_an_offset_column(column, storage):
    """A 3-class multinomial model beside a column far from zero: L-BFGS stalled at the intercept-only
    model (its standardization was for one-score losses only); Newton-CG reported convergence at a
    log-loss 0.09 above the optimum (1e8 +- 1; its CG stopped on the raw curvature test) or ran to
    max_iter. Now both reach the optimum of scipy's L-BFGS-B on the standardized features, and
    Newton-CG, preconditioned by the standardization, in a few iterations."""
    from fastml.solvers.newton import NewtonOptions, newton

    X, y = _multinomial_problem(column)
    mean, sd = X.mean(axis=0), X.std(axis=0)
    params, _ = scipy_reference(fastml.LinearObjective("multinomial", (X - mean) / sd, y))
    coef = params.reshape(6, 3)[:5] / sd[:, None]
    intercept = params.reshape(6, 3)[5] - mean @ coef
    design = sp.csr_matrix(X) if storage == "csr" else X
    objective = fastml.LinearObjective("multinomial", design, y)
    reference = objective.value(objective.pack(coef, intercept))
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-7, max_iter=500))
    assert result.converged or "rounding limit" in result.message, result.message
    assert relative_gap(objective.value(result.params), reference) <= 1e-9
    result = newton(objective, options=NewtonOptions(tol=1e-7))
    assert result.converged and result.n_iter <= 10, (result.message, result.n_iter)
    assert result.info["method"] == "newton-cg"
    assert result.info["standardized"] == (column != "timestamp")  # (a timestamp: 4.5 digits lost, not 6)
    assert relative_gap(objective.value(result.params), reference) <= 1e-9


def test_multinomial_estimator_on_a_timestamp_column():
    """``LogisticRegression`` (lbfgs and newton) on 3 classes with a timestamp column: no warning, the
    optimum's log-loss."""
    import warnings

    from sklearn.metrics import log_loss

    X, y = _multinomial_problem("timestamp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models = [fastml.LogisticRegression(C=1e6, solver=solver, tol=1e-6).fit(X, y) for solver in ("lbfgs", "newton")]
    standardized = (X - X.mean(axis=0)) / X.std(axis=0)
    reference = log_loss(y, fastml.LogisticRegression(C=1e6, tol=1e-8).fit(standardized, y).predict_proba(standardized))
    for model in models:
        assert log_loss(y, model.predict_proba(X)) == pytest.approx(reference, rel=1e-6)


def _raw_coordinates_reference(objective, X):
    """The optimum of ``objective`` (penalized, any loss) found by scipy's L-BFGS-B in standardized
    coordinates: ``w = A theta`` (``A`` maps centred unit-variance weights to raw ones, class by class),
    the objective and its gradient evaluated by fastml at ``A theta`` (the penalty stays the raw one)."""
    import scipy.optimize

    mean, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    p, n_outputs = objective.coef_shape[0] - 1, objective.coef_shape[1]
    A = np.eye(p + 1)
    A[:p, :p] = np.diag(1.0 / sd)
    A[p, :p] = -mean / sd
    full = np.kron(A, np.eye(n_outputs))  # the flat (p + 1, K) vector, row-major

    def value_and_gradient(theta):
        value, gradient = objective.value_and_gradient(full @ theta)
        return value, full.T @ gradient

    result = scipy.optimize.minimize(value_and_gradient, np.zeros(objective.n_params), jac=True, method="L-BFGS-B",
                                     options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 50000, "maxcor": 30})
    return result.fun


@pytest.mark.parametrize("driver", ["python", "compiled"])
@pytest.mark.parametrize("dataset", ["wine", "digits"])
def test_multinomial_lbfgs_standardizes_when_slow(dataset, driver):
    """A multinomial model still unsolved after AUTO_PATIENCE iterations goes on in standardized
    coordinates (with the penalty's share of the curvature): the raw wine data did not converge in
    1000 iterations (scikit-learn's lbfgs does not either); the raw digits stopped at its gradient
    test 5 % above the optimum. Both drivers reach the optimum of scipy in standardized coordinates."""
    from sklearn.datasets import load_digits, load_wine

    X, y = {"wine": load_wine, "digits": load_digits}[dataset](return_X_y=True)
    if dataset == "digits":
        X, y = X[::3], y[::3]  # 599 rows: a quick reference
    objective = fastml.LinearObjective("multinomial", X, y.astype(np.float64), l2=1.0 / len(y))
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-9, max_iter=3000, driver=driver))
    assert result.converged and result.info["standardized"], result.message
    assert result.n_iter < 600, result.n_iter
    assert relative_gap(objective.value(result.params), _raw_coordinates_reference(objective, X)) <= 1e-9
    # without the preconditioner (the old path): far more iterations for the same test
    plain = lbfgs(objective, options=LBFGSOptions(tol=1e-9, max_iter=result.n_iter, driver=driver,
                                                  preconditioner="none"))
    assert not plain.converged


def test_multinomial_estimator_on_raw_wine_converges():
    """``LogisticRegression()`` on the raw wine data: no ConvergenceWarning, and the optimum's objective
    to the estimator's tolerance (scikit-learn's lbfgs stops at max_iter with 0.0913; the optimum is
    0.0622)."""
    import warnings

    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastml.LogisticRegression(max_iter=1000).fit(X, y)
    assert model.solver_info_["standardized"]
    objective = fastml.LinearObjective("multinomial", X, y.astype(np.float64), l2=1.0 / len(y))
    assert model.objective(X, y) == pytest.approx(objective.value(objective.pack(model.coef_.T, model.intercept_)),
                                                  rel=1e-12)
    assert relative_gap(model.objective(X, y), _raw_coordinates_reference(objective, X)) <= 1e-4


def test_newton_cg_is_preconditioned_on_dense_features_of_wild_scales():
    """Newton-CG (4 classes) on dense features with scales from 1e-2 to 1e2: preconditioned by the
    standardization it converges in a few iterations to scipy's optimum in standardized coordinates
    (plain CG: 200 iterations without converging at 2e5 x 50, 684 s); the same problem in CSR storage
    (no feature far from zero) keeps plain CG, which the 200 iterations show."""
    from fastml.solvers.newton import NewtonOptions, newton

    rng = np.random.default_rng(6)
    X = rng.standard_normal((2000, 12))
    y = (X @ rng.standard_normal((12, 4)) * 0.5 + rng.gumbel(size=(2000, 4))).argmax(axis=1).astype(np.float64)
    X *= np.logspace(-2, 2, 12)
    objective = fastml.LinearObjective("multinomial", X, y, l2=1e-4)
    result = newton(objective, options=NewtonOptions(tol=1e-8))
    assert result.converged and result.n_iter <= 12, (result.message, result.n_iter)
    assert relative_gap(objective.value(result.params), _raw_coordinates_reference(objective, X)) <= 1e-9
    sparse = newton(fastml.LinearObjective("multinomial", sp.csr_matrix(X), y, l2=1e-4),
                    options=NewtonOptions(tol=1e-8, max_iter=result.n_iter))
    assert not sparse.converged
