"""The duality gap of L1 logistic regression (``fastml.solvers._duality_gap``) against an independent
optimum (L-BFGS-B on the split ``coef = u - v``), and the proximal solvers' stopping rule that uses it."""
import numpy as np
import pytest
from sklearn.datasets import make_classification

import fastml
from fastml.solvers._duality_gap import LogisticL1Gap
from fastml.solvers._line_search import ModelView
from fastml.solvers.gradient_descent import GradientDescentOptions, gradient_descent
from fastml.solvers.proximal_newton import ProximalNewtonOptions, proximal_newton
from solver_problems import as_storage, l1_reference, make_data, relative_gap  # tests/solvers is on sys.path


def _gap_at(objective, params):
    view = ModelView(objective)
    models = view.split(params)
    smooth, gradients = view.evaluate(models, include_l1=False)
    return LogisticL1Gap(view).relative_gaps(models, gradients, smooth + view.l1_values(models), [0])[0]


@pytest.mark.parametrize("l2", [0.0, 1e-3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_gap_vanishes_at_the_optimum_and_bounds_the_suboptimality(storage, l2, fit_intercept, weighted):
    X, y = make_data("log_loss", 200, 8, seed=4)
    weights = np.random.default_rng(0).uniform(0.2, 2.0, len(y)) if weighted else None
    objective = fastml.LinearObjective("log_loss", as_storage(X, storage, np.float64), y, weights, l2=l2,
                                       l1=0.02, fit_intercept=fit_intercept)
    _, best = l1_reference(objective)
    # the optimum to the last digits (L-BFGS-B on the split form stops a little short of it)
    optimum = proximal_newton(objective, options=ProximalNewtonOptions(tol=1e-13, max_iter=1000)).params
    assert abs(relative_gap(objective.value(optimum), best)) <= 1e-9
    assert abs(_gap_at(objective, optimum)) <= 1e-10
    rng = np.random.default_rng(1)
    for scale in (1e-3, 1e-1):
        point = optimum + scale * rng.standard_normal(optimum.shape)
        suboptimality = relative_gap(objective.value(point), best)
        assert _gap_at(objective, point) >= suboptimality * (1 - 1e-9) > 0


def test_a_gap_computed_where_the_intercept_is_off_is_still_an_upper_bound():
    X, y = make_data("log_loss", 200, 8, seed=4)
    objective = fastml.LinearObjective("log_loss", X, y, l1=0.02)
    _, best = l1_reference(objective)
    point = proximal_newton(objective, options=ProximalNewtonOptions(tol=1e-13, max_iter=1000)).params
    point[-1] += 0.5  # the intercept's gradient is far from zero: p shifted by it
    gap = _gap_at(objective, point)
    assert gap >= relative_gap(objective.value(point), best) > 0


def _wide_problem():
    """80 x 300 at C = 100: flat near the optimum, where the subgradient test alone stopped proximal
    gradient 6.3 % and proximal Newton 0.6 % above the optimum at tol 1e-4."""
    X, y = make_classification(80, 300, n_informative=10, random_state=0)
    return fastml.LinearObjective("log_loss", X, y.astype(np.float64), l1=1.0 / (100 * 80))


@pytest.mark.parametrize("solver", ["proximal_newton", "gradient_descent"])
def test_wide_l1_logistic_stops_only_within_tol_of_the_optimum(solver):
    objective = _wide_problem()
    best = proximal_newton(objective, options=ProximalNewtonOptions(tol=1e-13, max_iter=1000)).info["objective_values"][0]
    if solver == "proximal_newton":
        result = proximal_newton(objective, options=ProximalNewtonOptions(tol=1e-4))
    else:
        result = gradient_descent(objective, options=GradientDescentOptions(tol=1e-4, max_iter=5000))
    assert result.converged
    assert 0 <= result.info["relative_duality_gap"] <= 1e-4
    assert relative_gap(objective.value(result.params), best) <= 1e-4


def test_batched_models_are_certified_one_by_one():
    X, y = make_data("log_loss", 200, 8, seed=4)
    l1 = np.array([0.0, 0.005, 0.05])
    objective = fastml.LinearObjective("log_loss", X, np.column_stack([y] * 3), l1=l1, l2=1e-3)
    result = gradient_descent(objective, options=GradientDescentOptions(tol=1e-8, max_iter=20000))
    assert np.all(result.converged)
    gaps = result.info["relative_duality_gap"]
    assert np.isnan(gaps[0])  # no L1 part: the gradient test is the certificate
    assert np.all((gaps[1:] >= -1e-12) & (gaps[1:] <= 1e-8))
    for k in (1, 2):
        single = fastml.LinearObjective("log_loss", X, y, l1=l1[k], l2=1e-3)
        _, best = l1_reference(single)
        assert relative_gap(single.value(result.params.reshape(objective.coef_shape)[:, k]), best) <= 1e-8


def test_other_losses_and_smooth_models_have_no_gap():
    X, y = make_data("log_loss", 100, 5)
    assert LogisticL1Gap.for_view(ModelView(fastml.LinearObjective("log_loss", X, y, l2=1e-2))) is None
    assert LogisticL1Gap.for_view(ModelView(fastml.LinearObjective("squared_error", X, y, l1=0.1))) is None
    result = proximal_newton(fastml.LinearObjective("squared_error", X, y, l1=0.1))
    assert "relative_duality_gap" not in result.info


def test_a_penalty_below_tol_without_l2_is_left_to_the_subgradient_test():
    """l1 << tol and no L2: the scaled dual point says nothing (see LogisticL1Gap.applies)."""
    X, y = make_data("log_loss", 100, 5)
    gap = LogisticL1Gap.for_view(ModelView(fastml.LinearObjective("log_loss", X, y, l1=1e-9)))
    assert not gap.applies(0, 1e-3) and gap.applies(0, 1e-10)
    gap = LogisticL1Gap.for_view(ModelView(fastml.LinearObjective("log_loss", X, y, l1=1e-9, l2=1e-3)))
    assert gap.applies(0, 1e-3)

