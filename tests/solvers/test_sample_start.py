"""L-BFGS started from a row sample's optimum (``fastml.solvers._sample_start``): same optimum, fewer
full passes, and every way the sample can fail falls back to the plain start.

The thresholds are lowered here (``sample_rows``) so that small problems take the sampled path; at
the defaults it starts from 160 000 rows.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import fastml
from fastml.solvers import _sample_start
from fastml.solvers.lbfgs import LBFGSOptions, lbfgs
from solver_problems import (  # tests/solvers is on sys.path (pytest's default import mode)
    as_storage, check_trace, fold_weights, make_data, model_objective, model_params, relative_gap,
    scipy_reference,
)

N_SAMPLES = 6000


@pytest.fixture
def sample_rows(monkeypatch):
    """A sample of every 12th row (500 rows) for the problems below, and their X treated as large
    enough for threads (the sample start belongs to the Python loop, which small X never runs)."""
    monkeypatch.setattr(_sample_start, "MIN_SAMPLE_ROWS", 500)
    monkeypatch.setattr(_sample_start, "SAMPLE_ROWS_PER_PARAM", 20)
    monkeypatch.setattr(fastml._objective, "SERIAL_WORK", 1000)


def _objective(loss, storage="dense", dtype=np.float64, sample_weight=None, l2=1e-3, n_classes=None):
    X, y = make_data(loss, N_SAMPLES, 10, seed=3)
    extra = {} if n_classes is None else {"n_classes": n_classes}
    return fastml.LinearObjective(loss, as_storage(X, storage, dtype), y, sample_weight, l2=l2, **extra)


@pytest.mark.parametrize("loss", ["log_loss", "poisson"])
def test_reaches_the_optimum_of_the_plain_start_with_fewer_full_passes(loss, storage, dtype, sample_rows):
    plain = _objective(loss, storage, dtype)
    reference = lbfgs(plain, options=LBFGSOptions(tol=1e-10, sample_start="none"))
    sampled = _objective(loss, storage, dtype)
    result = lbfgs(sampled, options=LBFGSOptions(tol=1e-10))
    assert sampled.n_evaluations == result.info["n_evaluations"]  # the sample's passes are counted apart
    start = result.info["sample_start"]
    assert start is not None and start["rows"] == N_SAMPLES // 12 and start["n_iter"] >= 1
    assert result.converged and reference.converged
    _, optimum = scipy_reference(plain)
    assert relative_gap(sampled.value(result.params), optimum) <= 1e-8
    np.testing.assert_allclose(result.params, reference.params, rtol=1e-4, atol=1e-6)
    # fewer passes over the full X
    assert result.info["n_evaluations"] < reference.info["n_evaluations"]
    assert result.info["preconditioned"]  # by the sample's Hessian
    check_trace(result)
    # the trace's clock counts the sample's fit: its first row comes after it
    assert result.trace["seconds"][0] >= start["seconds"] > 0


def test_is_deterministic_and_leaves_small_problems_alone(sample_rows):
    first = lbfgs(_objective("log_loss"))
    second = lbfgs(_objective("log_loss"))
    np.testing.assert_array_equal(first.params, second.params)
    assert first.info["sample_start"] == {**second.info["sample_start"], "seconds": first.info["sample_start"]["seconds"]}
    # at the default thresholds 6000 rows are too few for a sample
    _sample_start.MIN_SAMPLE_ROWS, _sample_start.SAMPLE_ROWS_PER_PARAM = 20_000, 500
    assert lbfgs(_objective("log_loss")).info["sample_start"] is None


def test_batched_models_match_separate_runs(sample_rows):
    weights = fold_weights(N_SAMPLES, n_folds=3)
    objective = _objective("log_loss", sample_weight=weights, l2=np.array([1e-4, 1e-3, 1e-2]))
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-10))
    assert result.info["sample_start"] is not None and np.all(result.converged)
    for k in range(3):
        single = model_objective(objective, k)
        _, optimum = scipy_reference(single)
        assert relative_gap(single.value(model_params(objective, result.params, k)), optimum) <= 1e-8


def test_a_start_point_or_sample_start_none_skips_the_sample(sample_rows):
    objective = _objective("log_loss")
    w0 = objective.initial_parameters()
    assert lbfgs(objective, w0).info["sample_start"] is None
    assert lbfgs(_objective("log_loss"), options=LBFGSOptions(sample_start="none")).info["sample_start"] is None
    with pytest.raises(ValueError, match="sample_start must be 'auto' or 'none'"):
        LBFGSOptions(sample_start="rows")
    assert lbfgs(_objective("log_loss"), options=LBFGSOptions(preconditioner="none")).info["sample_start"] is None
    # squared error: its Hessian is constant, the preconditioner at the start already is the optimum's
    assert lbfgs(_objective("squared_error")).info["sample_start"] is None


@pytest.mark.parametrize("loss", ["multinomial", "huber"])
def test_losses_without_a_useful_sample_hessian_start_as_before(loss, sample_rows):
    """The multinomial loss has no full-Hessian preconditioner, Huber's is zero outside its quadratic
    zone: a sample start measured no gain (multinomial) or more passes (Huber) there."""
    result = lbfgs(_objective(loss), options=LBFGSOptions(tol=1e-10))
    plain = lbfgs(_objective(loss), options=LBFGSOptions(tol=1e-10, sample_start="none"))
    assert result.info["sample_start"] is None
    np.testing.assert_array_equal(result.params, plain.params)


def test_a_sample_fit_that_does_not_converge_is_dropped(sample_rows, monkeypatch):
    monkeypatch.setattr(_sample_start, "MAX_SAMPLE_ITER", 1)
    result = lbfgs(_objective("log_loss"), options=LBFGSOptions(tol=1e-10))
    plain = lbfgs(_objective("log_loss"), options=LBFGSOptions(tol=1e-10, sample_start="none"))
    assert result.info["sample_start"] is None
    np.testing.assert_array_equal(result.params, plain.params)  # exactly the plain run


def test_a_sample_whose_weights_are_all_zero_is_dropped(sample_rows):
    weights = np.ones(N_SAMPLES)
    weights[::12] = 0.0  # exactly the sampled rows
    result = lbfgs(_objective("log_loss", sample_weight=weights))
    assert result.info["sample_start"] is None and result.converged


@pytest.mark.parametrize("layout", ["C", "F", "csr"])
@pytest.mark.parametrize("row", [0, 7], ids=["sampled row", "row outside the sample"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_value_in_X_is_reported_by_the_full_run(layout, row, bad, sample_rows):
    X, y = make_data("log_loss", N_SAMPLES, 10, seed=3)
    X[row, 4] = bad
    X = {"C": X, "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}[layout]
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        lbfgs(fastml.LinearObjective("log_loss", X, y, l2=1e-3))


def test_the_estimator_reports_the_sample_start(sample_rows):
    X, y = make_data("log_loss", N_SAMPLES, 10, seed=3)
    model = fastml.LogisticRegression(C=10.0, tol=1e-8).fit(X, y)
    reference = fastml.LogisticRegression(C=10.0, tol=1e-8, solver="newton").fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-5, atol=1e-7)
    assert model.solver_info_["sample_start"]["rows"] == N_SAMPLES // 12


def test_a_sample_fit_that_overflows_is_dropped_and_other_errors_propagate(sample_rows):
    from fastml.solvers._line_search import ModelView, NonFiniteObjectiveError

    view = ModelView(_objective("log_loss"))

    def overflowing(sample, tol, max_iter, w0):
        raise NonFiniteObjectiveError("overflow in the sample")

    assert _sample_start.fit_sample(view, 1e-6, 100, overflowing) is None

    def broken(sample, tol, max_iter, w0):
        raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        _sample_start.fit_sample(view, 1e-6, 100, broken)

    def invalid(sample, tol, max_iter, w0):  # a ValueError drops the sample only when its rows are not finite
        raise ValueError("a bad option")

    with pytest.raises(ValueError, match="a bad option"):
        _sample_start.fit_sample(view, 1e-6, 100, invalid)


@pytest.mark.parametrize("loss", ["log_loss", "poisson"])
def test_newton_takes_its_first_step_with_the_sample_hessian(loss, storage, dtype, sample_rows, monkeypatch):
    from fastml.solvers.newton import NewtonOptions, newton

    plain = newton(_objective(loss, storage, dtype), options=NewtonOptions(tol=1e-10, sample_start="none"))
    full_hessians = []
    objective = _objective(loss, storage, dtype)
    original = type(objective).hessian
    monkeypatch.setattr(type(objective), "hessian",
                        lambda self, w, row_step=1, gram_precision="double", shift=None: full_hessians.append(
                            self is objective) or original(self, w, row_step, gram_precision, shift))
    result = newton(objective, options=NewtonOptions(tol=1e-10))
    assert result.info["sample_start"]["rows"] == N_SAMPLES // 12 and result.converged
    # one full Hessian fewer than iterations: the first step used the sample's
    assert full_hessians.count(True) == result.n_iter - 1
    _, optimum = scipy_reference(objective)
    assert relative_gap(objective.value(result.params), optimum) <= 1e-8
    np.testing.assert_allclose(result.params, plain.params, rtol=1e-5, atol=1e-7)
    check_trace(result)
    with pytest.raises(ValueError, match="sample_start must be 'auto' or 'none'"):
        NewtonOptions(sample_start="yes")


def test_a_column_the_sample_misses_keeps_its_curvature(sample_rows):
    """A feature present in a few rows, none of them sampled: the sampled Hessian has only the L2
    term for it, and without the curvature floor (``_preconditioner.complete_curvature``) the
    preconditioned steps along it were enormous (67 full passes against 18 from the plain start on
    such a 1e6-row problem; 4 with the floor)."""
    from fastml.solvers._preconditioner import CURVATURE_FLOOR

    X, y = make_data("log_loss", N_SAMPLES, 10, seed=3)
    rare = np.array([5, 1001, 2503, 4007, 5999])  # none is a multiple of the sample's step (12)
    X[:, 3] = 0.0
    X[rare, 3] = 4.0
    y[rare] = 1.0
    y = np.sort(y)  # labels unrelated to X: the flat problem where the missing curvature hurt most
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-8)
    result = lbfgs(objective, options=LBFGSOptions(tol=1e-10))
    assert result.info["sample_start"] is not None and result.converged
    _, optimum = scipy_reference(objective)
    assert relative_gap(objective.value(result.params), optimum) <= 1e-8
    plain = lbfgs(fastml.LinearObjective("log_loss", X, y, l2=1e-8), options=LBFGSOptions(tol=1e-10, sample_start="none"))
    # measured: 13 full passes against the plain start's 32 (67 without the floor)
    assert result.info["n_evaluations"] <= plain.info["n_evaluations"]

    # the floor itself: the missed column gets floor * kappa * mean(x_3^2) (+ l2), the others are kept
    from fastml.solvers._line_search import ModelView

    view = ModelView(objective)
    start = _sample_start.fit_sample(view, 1e-10, 100, lambda sample, tol, max_iter, w0: lbfgs(
        sample, w0, options=LBFGSOptions(tol=tol, max_iter=max_iter, sample_start="none")))
    sampled, completed = start.hessians[0], start.completed_hessians(objective)[0]
    assert sampled[3, 3] == pytest.approx(1e-8)  # the sample has no row with feature 3
    kappa = sampled[-1, -1]
    assert completed[3, 3] == pytest.approx(1e-8 + CURVATURE_FLOOR * kappa * np.mean(X[:, 3] ** 2))
    assert completed[3, 3] > 1e4 * sampled[3, 3]
    others = np.r_[0:3, 4:10]
    np.testing.assert_array_equal(completed[others, others], sampled[others, others])
    np.testing.assert_array_equal(completed - np.diag(np.diag(completed)), sampled - np.diag(np.diag(sampled)))


def test_curvature_floor_without_an_intercept_takes_the_median_column_curvature():
    from fastml.solvers._preconditioner import CURVATURE_FLOOR, complete_curvature

    X, y = make_data("log_loss", 400, 6, seed=2)
    X[:, 2] *= 10.0
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-6, fit_intercept=False)
    mean_squares = np.mean(X ** 2, axis=0)
    kappa = 0.2
    hessian = np.diag(1e-6 + kappa * mean_squares) + 1e-3  # every column at curvature kappa
    hessian[4, 4] = 1e-6  # column 4 missed by a sample
    completed = complete_curvature(hessian[None], objective)[0]
    # the median of (H_jj - l2) / mean(x_j^2): kappa, up to the 1e-3 added to every entry; the
    # missed column does not move it
    median = float(np.median((np.diag(hessian) - 1e-6) / mean_squares))
    expected = hessian.copy()
    expected[4, 4] = 1e-6 + CURVATURE_FLOOR * median * mean_squares[4]
    np.testing.assert_allclose(completed, expected, rtol=1e-12)
    assert abs(median - kappa) < 0.01



def _recording_fit(seen):
    """A sample fit (L-BFGS) that records the dtype of each sample and the start it was given."""
    def fit(sample, tol, max_iter, w0):
        seen.append((sample.X.dtype, None if w0 is None else w0.copy()))
        return lbfgs(sample, w0, options=LBFGSOptions(tol=tol, max_iter=max_iter, sample_start="none"))
    return fit


def test_a_well_conditioned_sample_is_float32_with_a_single_precision_hessian(sample_rows):
    """float64 X: the sample rows rounded to float32, fitted once, its Hessian from float32 Gram blocks:
    within 1e-5 (of the diagonal's scale) of the exact Hessian of those rows."""
    from fastml.solvers._line_search import ModelView

    objective = _objective("log_loss")
    seen = []
    start = _sample_start.fit_sample(ModelView(objective), 1e-10, 100, _recording_fit(seen))
    assert [dtype for dtype, _ in seen] == [np.float32] and seen[0][1] is None
    assert start.gram_precision == "single" and start.summary()["gram_precision"] == "single"
    X, y = make_data("log_loss", N_SAMPLES, 10, seed=3)
    rows = fastml.LinearObjective("log_loss", X[::12].astype(np.float32).astype(np.float64), y[::12], l2=1e-3)
    exact = rows.hessian(start.models.ravel())[0]
    scale = np.sqrt(np.diag(exact))
    assert np.max(np.abs(start.hessians[0] - exact) / np.outer(scale, scale)) <= 1e-5
    # the start is the rounded rows' optimum to the sample fit's tolerance (its sampling error)
    assert np.max(np.abs(rows.value_and_gradient(start.models.ravel())[1])) <= _sample_start.SAMPLE_TOL_FACTOR / np.sqrt(500)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("problem", ["offset_column", "collinear"])
def test_an_ill_conditioned_sample_hessian_is_taken_again_in_float64(problem, dtype, sample_rows):
    """A column of mean 1e4 and spread 1 beside the intercept, or two columns with correlation
    1 - 5e-9: the float32 Gram cannot resolve the Hessian (its scaled smallest eigenvalue is far below
    ``MIN_SCALED_EIGENVALUE``). float64 X: the sample is copied again in float64 and refitted from the
    float32 rows' optimum; float32 X: its rows are exact, only the Gram is redone. Either way the Hessian
    is the exact one of the sample rows, and L-BFGS reaches the optimum."""
    from fastml.solvers._line_search import ModelView

    X, y = make_data("log_loss", N_SAMPLES, 10, seed=3)
    if problem == "offset_column":
        X[:, 0] += 1e4
    else:
        X[:, 1] = X[:, 0] + 1e-4 * X[:, 1]
    X = X.astype(dtype)
    objective = fastml.LinearObjective("log_loss", X, y, l2=1e-6)
    seen = []
    start = _sample_start.fit_sample(ModelView(objective), 1e-10, 100, _recording_fit(seen))
    if dtype == np.float64:
        assert [d for d, _ in seen] == [np.float32, np.float64] and seen[1][1] is not None
    else:
        assert [d for d, _ in seen] == [np.float32]
    assert start.gram_precision == "double"
    exact = fastml.LinearObjective("log_loss", X[::12], y[::12], l2=1e-6).hessian(start.models.ravel())
    np.testing.assert_allclose(start.hessians, exact, rtol=1e-10)
    assert not _sample_start.resolved_in_single_precision(exact)

    result = lbfgs(fastml.LinearObjective("log_loss", X, y, l2=1e-6), options=LBFGSOptions(tol=1e-10))
    assert result.converged and result.info["sample_start"]["gram_precision"] == "double"
    _, optimum = scipy_reference(objective)
    assert relative_gap(objective.value(result.params), optimum) <= 1e-8


def test_resolved_in_single_precision():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((200, 5))
    well = (A.T @ A)[None]
    assert _sample_start.resolved_in_single_precision(well)
    # the same matrix with rows scaled by 1e6: scaling to a unit diagonal undoes it
    scale = np.array([1e6, 1.0, 1e-3, 1.0, 1.0])
    assert _sample_start.resolved_in_single_precision(well * np.outer(scale, scale))
    collinear = A.copy()
    collinear[:, 1] = collinear[:, 0] + 1e-3 * collinear[:, 1]
    assert not _sample_start.resolved_in_single_precision(np.stack([well[0], collinear.T @ collinear]))
    for bad in (np.nan, 0.0):
        broken = well.copy()
        broken[0, 2, 2] = bad
        assert not _sample_start.resolved_in_single_precision(broken)
