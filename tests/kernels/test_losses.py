"""The loss library (``fastml.kernels.losses``) against closed forms, finite differences and mpmath.

Every loss is checked three ways:

* value, derivative and second derivative against plain-numpy formulas written here, independently
  of the kernels, on a grid that includes each loss's kinks (at a kink the derivative only has to be
  a subgradient: it must lie between the left and right derivatives);
* derivative against a central finite difference of the value, and second derivative against a
  central finite difference of the derivative (float64, away from kinks);
* extreme raw predictions (logistic margins of +-1e4, +-700, +-30; multinomial scores of +-1e4;
  Poisson overflow) against a 60-digit mpmath reference.
"""
import math

import mpmath
import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, xlogy

from fastml import _loss
from fastml._objective import frozen_view
from fastml.kernels import losses, objective_dense, pointwise
from fastml.kernels._jit import FASTMATH

RTOL = 1e-12

# name in the registry -> kernel constant (the registry copies the ids to avoid importing Numba)
KERNEL_IDS = {
    "squared_error": losses.SQUARED_ERROR,
    "huber": losses.HUBER,
    "epsilon_insensitive": losses.EPSILON_INSENSITIVE,
    "squared_epsilon_insensitive": losses.SQUARED_EPSILON_INSENSITIVE,
    "absolute_error": losses.ABSOLUTE_ERROR,
    "log_loss": losses.LOGISTIC,
    "multinomial": losses.MULTINOMIAL,
    "hinge": losses.HINGE,
    "squared_hinge": losses.SQUARED_HINGE,
    "modified_huber": losses.MODIFIED_HUBER,
    "perceptron": losses.PERCEPTRON,
    "poisson": losses.POISSON,
}
ONE_SCORE = [name for name in KERNEL_IDS if name != "multinomial"]
MARGIN_LOSSES = ["hinge", "squared_hinge", "modified_huber", "perceptron"]
PARAMS = {"huber": 0.7, "epsilon_insensitive": 0.3, "squared_epsilon_insensitive": 0.3}


# The wrapper inlines losses.py, but Numba's cache only tracks the file defining a function, so a
# cached wrapper would keep stale loss code after an edit of losses.py: compile it uncached (~1 s).
@numba.njit(cache=False, fastmath=FASTMATH, nogil=True)
def _point_values(loss_id, y, raw, param, out):
    for i in range(raw.shape[0]):
        value, derivative = losses.loss_grad_point(loss_id, y[i], raw[i], param)
        out[0, i] = losses.loss_point(loss_id, y[i], raw[i], param)
        out[1, i] = losses.grad_point(loss_id, y[i], raw[i], param)
        out[2, i] = losses.hess_point(loss_id, y[i], raw[i], param)
        out[3, i] = value
        out[4, i] = derivative


def kernel_points(name, y, raw, param=None):
    """(loss, gradient, hessian) of the kernel point functions, float64 arrays."""
    y, raw = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(raw, dtype=np.float64))
    y, raw = np.ascontiguousarray(y.ravel()), np.ascontiguousarray(raw.ravel())
    out = np.full((5, raw.shape[0]), np.nan)
    _point_values(KERNEL_IDS[name], y, raw, PARAMS.get(name, 0.0) if param is None else param, out)
    # loss_grad_point agrees with loss_point / grad_point (to the last bits: the ``contract``
    # fastmath flag lets LLVM fuse multiply-adds differently in each inlined copy)
    np.testing.assert_allclose(out[3], out[0], rtol=4e-16, atol=4e-16)
    np.testing.assert_allclose(out[4], out[1], rtol=4e-16, atol=4e-16)
    return out[0], out[1], out[2]


# -- independent numpy references -----------------------------------------------------------------
def reference(name, y, raw, param=None):
    """(loss, gradient, hessian) in plain numpy, away from kinks."""
    param = PARAMS.get(name, 0.0) if param is None else param
    r = raw - y
    s = 2 * y - 1
    z = s * raw
    one = np.ones_like(raw)
    if name == "squared_error":
        return 0.5 * r**2, r, one
    if name == "huber":
        inside = np.abs(r) <= param
        return (np.where(inside, 0.5 * r**2, param * (np.abs(r) - 0.5 * param)),
                np.clip(r, -param, param), inside * one)
    if name == "epsilon_insensitive":
        return np.maximum(np.abs(r) - param, 0), np.sign(r) * (np.abs(r) > param), 0 * one
    if name == "squared_epsilon_insensitive":
        excess = np.maximum(np.abs(r) - param, 0)
        return excess**2, 2 * excess * np.sign(r), 2.0 * (np.abs(r) > param)
    if name == "absolute_error":
        return np.abs(r), np.sign(r), 0 * one
    if name == "log_loss":
        p = expit(raw)
        return np.logaddexp(0, raw) - y * raw, p - y, p * (1 - p)
    if name == "hinge":
        return np.maximum(0, 1 - z), -s * (z < 1), 0 * one
    if name == "squared_hinge":
        return np.maximum(0, 1 - z) ** 2, -2 * s * np.maximum(0, 1 - z), 2.0 * (z < 1)
    if name == "modified_huber":
        quadratic = (z >= -1) & (z < 1)
        value = np.where(z >= 1, 0, np.where(quadratic, (1 - z) ** 2, -4 * z))
        slope = np.where(z >= 1, 0, np.where(quadratic, -2 * s * (1 - z), -4 * s))
        return value, slope, 2.0 * quadratic
    if name == "perceptron":
        return np.maximum(0, -z), -s * (z < 0), 0 * one
    if name == "poisson":
        mean = np.exp(raw)
        return mean - y * raw + xlogy(y, y) - y, mean - y, mean
    raise ValueError(name)


def kinks(name, y, param=None):
    """Raw predictions where the loss's derivative (or second derivative) jumps, for target y."""
    param = PARAMS.get(name, 0.0) if param is None else param
    s = 2 * y - 1
    return {
        "huber": [y - param, y + param],
        "epsilon_insensitive": [y - param, y + param],
        "squared_epsilon_insensitive": [y - param, y + param],
        "absolute_error": [y],
        "hinge": [s * 1.0],
        "squared_hinge": [s * 1.0],
        "modified_huber": [s * 1.0, -s * 1.0],
        "perceptron": [0.0],
    }.get(name, [])


def targets(name):
    if name in MARGIN_LOSSES or name == "log_loss":
        return [0.0, 1.0]
    if name == "poisson":
        return [0.0, 1.0, 3.5]
    return [-1.3, 0.0, 0.4]


def raw_grid(name, y):
    """Raw predictions on both sides of every kink and far from it."""
    base = np.concatenate([np.linspace(-4, 4, 41) + 0.013, [-25.0, -7.3, 7.3, 25.0]])
    if name == "poisson":
        base = np.concatenate([np.linspace(-6, 5, 45) + 0.013])
    near = [k + d for k in kinks(name, y) for d in (-0.37, -1e-3, 1e-3, 0.37)]
    return np.sort(np.concatenate([base, near]))


def _loss_cases():
    return [(name, y) for name in ONE_SCORE for y in targets(name)]


# -- ids --------------------------------------------------------------------------------------------
def test_registry_ids_equal_kernel_constants():
    assert _loss._IDS == KERNEL_IDS
    assert {loss.name: loss.loss_id for loss in _loss.LOSSES.values()} == KERNEL_IDS
    assert sorted(KERNEL_IDS.values()) == list(range(losses.N_LOSSES))


# -- closed forms -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, y", _loss_cases())
def test_point_functions_match_numpy_away_from_kinks(name, y):
    raw = raw_grid(name, y)
    value, gradient, hessian = kernel_points(name, y, raw)
    ref_value, ref_gradient, ref_hessian = reference(name, y, raw)
    np.testing.assert_allclose(value, ref_value, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(gradient, ref_gradient, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(hessian, ref_hessian, rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name, y", [(n, y) for n, y in _loss_cases() if kinks(n, y)])
def test_at_kinks_value_is_continuous_and_derivatives_are_between_one_sided_limits(name, y):
    points = np.array(kinks(name, y))
    value, gradient, hessian = kernel_points(name, y, points)
    tiny = 1e-9
    left = reference(name, y, points - tiny)
    right = reference(name, y, points + tiny)
    np.testing.assert_allclose(value, 0.5 * (left[0] + right[0]), atol=1e-8)
    for got, lo, hi in ((gradient, left[1], right[1]), (hessian, left[2], right[2])):
        low, high = np.minimum(lo, hi), np.maximum(lo, hi)
        assert np.all((got >= low - 1e-8) & (got <= high + 1e-8)), (got, low, high)


@pytest.mark.parametrize("name, y", _loss_cases())
def test_gradient_is_finite_difference_of_loss(name, y):
    step = 1e-6
    raw = raw_grid(name, y)
    raw = raw[np.all(np.abs(raw[:, None] - np.array(kinks(name, y) or [np.inf])) > 10 * step, axis=1)]
    _, gradient, hessian = kernel_points(name, y, raw)
    plus, grad_plus, _ = kernel_points(name, y, raw + step)
    minus, grad_minus, _ = kernel_points(name, y, raw - step)
    scale = np.maximum(1.0, np.abs(gradient))
    np.testing.assert_allclose((plus - minus) / (2 * step), gradient, rtol=0, atol=1e-6 * scale.max())
    curvature_scale = np.maximum(1.0, np.abs(hessian))
    np.testing.assert_allclose((grad_plus - grad_minus) / (2 * step), hessian, rtol=0,
                               atol=1e-6 * curvature_scale.max())


def test_multinomial_row_matches_numpy():
    rng = np.random.default_rng(0)
    n_samples, n_classes = 50, 4
    raw = 3 * rng.standard_normal((n_samples, n_classes))
    labels = rng.integers(0, n_classes, n_samples).astype(np.float64)
    loss, grad = _pointwise_multinomial(raw, labels)
    log_sum_exp = np.logaddexp.reduce(raw, axis=1)
    probability = np.exp(raw - log_sum_exp[:, None])
    np.testing.assert_allclose(loss, log_sum_exp - raw[np.arange(n_samples), labels.astype(int)], rtol=RTOL)
    np.testing.assert_allclose(grad, probability - np.eye(n_classes)[labels.astype(int)], rtol=RTOL, atol=1e-15)
    # finite differences of the loss in every score
    step = 1e-6
    for k in range(n_classes):
        shift = np.zeros(n_classes)
        shift[k] = step
        plus, _ = _pointwise_multinomial(raw + shift, labels)
        minus, _ = _pointwise_multinomial(raw - shift, labels)
        np.testing.assert_allclose((plus - minus) / (2 * step), grad[:, k], atol=1e-7)


def _pointwise_multinomial(raw, labels, weights=None):
    n_samples = raw.shape[0]
    y = frozen_view(np.ascontiguousarray(labels, dtype=np.float64).reshape(n_samples, 1))
    weight = np.ones((n_samples, 1)) if weights is None else weights.reshape(n_samples, 1)
    loss_out = np.full((n_samples, 1), np.nan)
    grad_out = np.full(raw.shape, np.nan)
    pointwise.loss_grad_pointwise(y, frozen_view(weight), np.ascontiguousarray(raw), losses.MULTINOMIAL,
                                  0.0, loss_out, grad_out)
    return loss_out[:, 0], grad_out


@pytest.mark.parametrize("name", ONE_SCORE)
def test_pointwise_kernels_use_the_point_functions_with_weights(name):
    rng = np.random.default_rng(1)
    y_value = targets(name)[-1]
    raw = raw_grid(name, y_value)[:, None] * np.ones((1, 2))
    raw[:, 1] += 0.05
    n_samples = raw.shape[0]
    y = frozen_view(np.full((n_samples, 1), y_value))
    weight = frozen_view(rng.uniform(0, 2, (n_samples, 2)))
    loss_out = np.full((n_samples, 2), np.nan)
    grad_out = np.full((n_samples, 2), np.nan)
    hess_out = np.full((n_samples, 2), np.nan)
    loss_id, param = KERNEL_IDS[name], PARAMS.get(name, 0.0)
    pointwise.loss_grad_pointwise(y, weight, raw, loss_id, param, loss_out, grad_out)
    pointwise.hessian_pointwise(y, weight, raw, loss_id, param, hess_out)
    for k in range(2):
        value, gradient, hessian = kernel_points(name, y_value, raw[:, k])
        # atol: the last bits of tiny logistic gradients depend on the inlining context (see the
        # mpmath tests, which check their precision)
        np.testing.assert_allclose(loss_out[:, k], weight[:, k] * value, rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(grad_out[:, k], weight[:, k] * gradient, rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(hess_out[:, k], weight[:, k] * hessian, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("name", ONE_SCORE)
def test_pointwise_kernels_with_a_target_per_model_and_shared_weights(name):
    """The one-vs-all layout: y (n, K) with a target per model, one weight per row (the logistic loss
    takes a loop of its own there, vectorized over the models)."""
    rng = np.random.default_rng(2)
    y_values = np.asarray(targets(name), dtype=float)[-2:]
    y_values = np.resize(y_values, 2)
    raw = np.column_stack([raw_grid(name, y_values[0]), raw_grid(name, y_values[1]) + 0.05])
    n_samples = raw.shape[0]
    y = frozen_view(np.tile(y_values, (n_samples, 1)))
    weight = frozen_view(rng.uniform(0, 2, (n_samples, 1)))
    loss_out = np.full((n_samples, 2), np.nan)
    grad_out = np.full((n_samples, 2), np.nan)
    loss_id, param = KERNEL_IDS[name], PARAMS.get(name, 0.0)
    pointwise.loss_grad_pointwise(y, weight, raw, loss_id, param, loss_out, grad_out)
    for k in range(2):
        value, gradient, _ = kernel_points(name, y_values[k], raw[:, k])
        np.testing.assert_allclose(loss_out[:, k], weight[:, 0] * value, rtol=RTOL, atol=1e-15)
        np.testing.assert_allclose(grad_out[:, k], weight[:, 0] * gradient, rtol=RTOL, atol=1e-15)


# -- extreme values against mpmath --------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _sixty_digits():
    """mpmath references in 60-digit arithmetic (restored afterwards for other tests)."""
    with mpmath.workdps(60):
        yield


EXTREME_RAW = [1e4, -1e4, 700.0, -700.0, 30.0, -30.0, 36.7, -36.7, 1e-8, -1e-8, 0.0]


def _mp_logistic(y, raw):
    """(loss, gradient, hessian) in 60-digit arithmetic, written without cancellation for y in {0, 1}
    (``log1p(exp(259)) - 259`` would need 113 digits to show its value ~3e-113)."""
    raw = mpmath.mpf(raw)
    e = mpmath.exp(-abs(raw))
    p_far, p_near = 1 / (1 + e), e / (1 + e)  # sigmoid of |raw| and of -|raw|
    p, q = (p_far, p_near) if raw >= 0 else (p_near, p_far)  # sigmoid(raw), 1 - sigmoid(raw)
    loss = mpmath.log1p(e) + (1 - y) * max(raw, 0) + y * max(-raw, 0)
    return loss, (1 - y) * p - y * q, p * q


def _assert_matches_mp(got, expected, rtol):
    """``got`` equals the float nearest ``expected`` to ``rtol`` (exact zero only where it underflows)."""
    nearest = float(expected)  # 0.0 where the true value is below the float64 range
    assert math.isfinite(got), got
    assert abs(got - nearest) <= rtol * abs(nearest) + 1e-300, (got, nearest)


@pytest.mark.parametrize("y", [0.0, 1.0])
@pytest.mark.parametrize("raw", EXTREME_RAW)
def test_logistic_extreme_margins_match_mpmath(y, raw):
    value, gradient, hessian = kernel_points("log_loss", y, [raw])
    ref = _mp_logistic(y, raw)
    _assert_matches_mp(value[0], ref[0], RTOL)
    _assert_matches_mp(gradient[0], ref[1], RTOL)
    _assert_matches_mp(hessian[0], ref[2], 1e-11)
    # the same point functions inlined into the pointwise kernels (scoring, Newton weights)
    loss_out, grad_out, hess_out = np.full((1, 1), np.nan), np.full((1, 1), np.nan), np.full((1, 1), np.nan)
    args = (frozen_view(np.full((1, 1), y)), frozen_view(np.ones((1, 1))), np.full((1, 1), raw), losses.LOGISTIC, 0.0)
    pointwise.loss_grad_pointwise(*args, loss_out, grad_out)
    pointwise.hessian_pointwise(*args, hess_out)
    _assert_matches_mp(loss_out[0, 0], ref[0], RTOL)
    _assert_matches_mp(grad_out[0, 0], ref[1], RTOL)
    _assert_matches_mp(hess_out[0, 0], ref[2], 1e-11)


def test_logistic_tiny_loss_keeps_full_precision():
    # log1p(exp(-30)) ~ 9.4e-14: a naive log(1 + exp(-30)) keeps no correct digit
    value, _, _ = kernel_points("log_loss", 1.0, [30.0, 36.7, 700.0])
    for got, raw in zip(value, [30.0, 36.7, 700.0]):
        _assert_matches_mp(got, mpmath.log1p(mpmath.exp(-mpmath.mpf(raw))), RTOL)
    assert value[2] > 0  # exp(-700) ~ 1e-304 is still a normal float64


@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("coef", [1.0, 0.37])
def test_logistic_extreme_margins_through_fused_kernel_match_mpmath(coef, dtype, rtol):
    # one feature: raw = x * coef is computed in float64 inside the kernel, also for float32 X
    x = np.array(EXTREME_RAW, dtype=dtype)
    for y_value in (0.0, 1.0):
        for row in range(x.shape[0]):
            X = frozen_view(x[row: row + 1, None].copy())
            y = frozen_view(np.full((1, 1), y_value))
            weight = frozen_view(np.ones((1, 1)))
            loss_out, grad_coef, grad_intercept = np.full(1, np.nan), np.full((1, 1), np.nan), np.full(1, np.nan)
            objective_dense.loss_grad_dense(X, y, weight, np.full((1, 1), coef), np.zeros(1), losses.LOGISTIC,
                                            0.0, 1, loss_out, grad_coef, grad_intercept,
                                            np.zeros(1, dtype=np.int64), np.zeros((0, 0)))
            raw = mpmath.mpf(float(x[row])) * mpmath.mpf(coef)
            loss, gradient, _ = _mp_logistic(y_value, raw)
            _assert_matches_mp(loss_out[0], loss, rtol)
            _assert_matches_mp(grad_intercept[0], gradient, rtol)
            _assert_matches_mp(grad_coef[0, 0], gradient * mpmath.mpf(float(x[row])), rtol)


@pytest.mark.parametrize("scores, label", [
    ([1e4, -1e4, 0.0], 0), ([1e4, -1e4, 0.0], 1), ([1e4, -1e4, 0.0], 2),
    ([30.0, 0.0, -30.0, 0.0], 0), ([30.0, 0.0, -30.0, 0.0], 1),
    ([-1e4, -1e4 + 1e-3, -1e4 - 5.0], 0), ([700.0, 700.0, -700.0], 2), ([0.0, 0.0], 1),
])
def test_multinomial_extreme_scores_match_mpmath(scores, label):
    raw = np.array([scores])
    loss, grad = _pointwise_multinomial(raw, np.array([label]))
    mp_scores = [mpmath.mpf(s) for s in scores]
    log_sum_exp = mpmath.log(mpmath.fsum(mpmath.exp(s) for s in mp_scores))
    _assert_matches_mp(loss[0], log_sum_exp - mp_scores[label], RTOL)
    for k, s in enumerate(mp_scores):
        _assert_matches_mp(grad[0, k], mpmath.exp(s - log_sum_exp) - (k == label), RTOL)


def test_poisson_overflow_gives_inf_not_nan_and_zero_target_works():
    value, gradient, hessian = kernel_points("poisson", [0.0, 2.0, 0.0, 2.0], [800.0, 800.0, -800.0, -800.0])
    # exp(800) overflows: the loss and its derivatives are +inf, never NaN
    assert np.all(np.isposinf(value[:2])) and np.all(np.isposinf(gradient[:2])) and np.all(np.isposinf(hessian[:2]))
    # exp(-800) underflows to 0: the loss is y * 800 + y log y - y, finite
    np.testing.assert_allclose(value[2:], [0.0, 1600.0 + 2 * math.log(2.0) - 2.0], rtol=RTOL)
    np.testing.assert_allclose(gradient[2:], [0.0, -2.0], rtol=RTOL)
    # y = 0: the loss is exp(raw) (y log y = 0), zero derivative at raw -> -inf
    value, gradient, _ = kernel_points("poisson", 0.0, [0.0, 1.5])
    np.testing.assert_allclose(value, np.exp([0.0, 1.5]), rtol=RTOL)
    np.testing.assert_allclose(gradient, np.exp([0.0, 1.5]), rtol=RTOL)


@pytest.mark.parametrize("name", ["squared_error", "huber", "hinge", "squared_hinge", "modified_huber",
                                  "perceptron", "epsilon_insensitive", "absolute_error"])
def test_large_raw_predictions_stay_finite(name):
    y = 1.0
    value, gradient, hessian = kernel_points(name, y, [1e150, -1e150, 1e4, -1e4])
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("parallel", [False, True])
def test_softmax_pointwise_is_scipys_softmax_in_place(dtype, log, parallel):
    from scipy.special import log_softmax, softmax

    rng = np.random.default_rng(4)
    scales = np.array([0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 0.0])
    raw = rng.standard_normal((300, 7)) * scales[rng.integers(0, 7, 300), None]
    raw[0] = [800.0, -800.0, 0.0, 700.0, 799.0, -1e30, 1.0]  # probabilities far below 1e-300
    raw[1] = 0.0  # all tied
    scores = raw.astype(dtype)
    reference = (log_softmax if log else softmax)(scores.astype(np.float64), axis=1)
    kernel = pointwise.softmax_pointwise if parallel else pointwise.softmax_pointwise.serial
    out = scores.copy()
    kernel(out, out, log)  # in place
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    if log:  # raw - max is rounded in the scores' precision: an error relative to both of them
        eps = np.finfo(dtype).eps
        magnitude = np.abs(scores.astype(np.float64))
        bound = 4 * eps * (magnitude + magnitude.max(axis=1)[:, None] + 1)
        assert np.all(np.abs(out - reference) <= bound)
    else:
        tolerance = 1e-6 if dtype == np.float32 else 1e-14
        assert_allclose(out, reference, rtol=tolerance, atol=tolerance)
    separate = np.empty_like(scores)
    kernel(scores, separate, log)
    assert_array_equal(separate, out)
    if log:  # every log-probability finite, where the log of the probability is -inf
        with np.errstate(divide="ignore"):
            assert np.isneginf(np.log(softmax(raw[0]))).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("parallel", [False, True])
def test_sigmoid_pair_pointwise_against_mpmath(dtype, log, parallel):
    scores = np.array([0.0, -0.0, 1e-20, -3.0, 3.0, 17.5, -36.0, 40.0, -700.0, 745.0, 1e4, -1e4, 0.3], dtype=dtype)
    kernel = pointwise.sigmoid_pair_pointwise if parallel else pointwise.sigmoid_pair_pointwise.serial
    out = np.empty((scores.size, 2), dtype=dtype)
    kernel(scores, out, log)
    mpmath.mp.dps = 60
    for s, (negative, positive) in zip(scores.astype(np.float64), out.astype(np.float64)):
        for value, sign in ((negative, -1), (positive, 1)):
            tail = mpmath.exp(-sign * mpmath.mpf(s))
            exact = -mpmath.log1p(tail) if log else 1 / (1 + tail)  # log1p: log(1 - 1e-304) is not 0
            tolerance = 4 * float(np.finfo(dtype).eps)
            if not log and float(exact) < np.finfo(dtype).tiny:  # underflows in dtype
                assert value == 0.0 or abs(value - float(exact)) <= float(exact)
                continue
            # a log-probability of the size of exp(-708) or less may come out as 0 (exp underflows there)
            slack = 1e-300 if log else 0.0
            assert abs(value - float(exact)) <= tolerance * abs(float(exact)) + slack, (s, sign, value)


def test_softmax_pointwise_infinite_and_nan_scores():
    raw = np.array([[np.inf, 0.0, -np.inf], [np.inf, np.inf, 1.0], [np.nan, 0.0, 1.0], [-np.inf, 0.0, 0.0]])
    out = np.empty_like(raw)
    pointwise.softmax_pointwise.serial(raw, out, False)
    assert_array_equal(out[0], [1.0, 0.0, 0.0])  # an infinite score takes all the probability
    assert_array_equal(out[1], [0.5, 0.5, 0.0])
    assert np.all(np.isnan(out[2]))  # a NaN score makes its row NaN, as in scipy
    assert_array_equal(out[3], [0.0, 0.5, 0.5])


@pytest.mark.parametrize("parallel", [False, True])
def test_argmax_pointwise_is_numpys(parallel):
    rng = np.random.default_rng(5)
    scores = rng.integers(-3, 3, size=(500, 6)).astype(np.float64)  # many ties
    scores[7, 2] = np.nan
    scores[8, [0, 4]] = np.nan
    scores[9] = -np.inf
    scores[10, 5] = np.inf
    kernel = pointwise.argmax_pointwise if parallel else pointwise.argmax_pointwise.serial
    for values in (scores, scores.astype(np.float32)):
        out = np.empty(len(values), dtype=np.intp)
        kernel(values, out)
        assert_array_equal(out, values.argmax(axis=1))
