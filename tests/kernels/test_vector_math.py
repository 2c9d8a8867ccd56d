"""The vectorizable exp / log1p of the logistic loss against numpy (the C library) over their whole
ranges, special values included."""
import numba
import numpy as np
import pytest

from fastml.kernels._vector_math import EXP_UNDERFLOW, exp_nonpositive, log1p_unit

ULP = np.finfo(np.float64).eps


@numba.njit
def _map_exp(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])


@numba.njit
def _map_log1p(x, out):
    for i in range(x.shape[0]):
        out[i] = log1p_unit(x[i])


def apply(kernel, x):
    out = np.empty_like(x)
    kernel(x, out)
    return out


def test_exp_within_one_ulp_on_nonpositive_range():
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.random(200_000) * -EXP_UNDERFLOW, 10.0 ** rng.uniform(-300, 0, 50_000),
                         np.arange(0, 709) * np.log(2.0), [0.0, 1e-320, 0.5, 354.0, 707.999]])
    relative = np.abs(apply(_map_exp, x) / np.exp(x) - 1.0)
    assert relative.max() <= 1.5 * ULP, relative.max()


def test_exp_special_values():
    x = np.array([0.0, -0.0, -708.5, -745.2, -1e4, -np.inf, np.nan])
    out = apply(_map_exp, x)
    assert out[0] == 1.0 and out[1] == 1.0
    np.testing.assert_array_equal(out[2:6], 0.0)  # below -708: exp < 3.3e-308, flushed to zero
    assert np.isnan(out[6])


def test_log1p_within_one_ulp_on_unit_interval():
    rng = np.random.default_rng(1)
    t = np.concatenate([rng.random(200_000), 10.0 ** rng.uniform(-320, 0, 200_000),
                        np.sqrt(2.0) - 1.0 + np.array([-1e-16, 0.0, 1e-16]), [0.0, 1.0, 1e-17, ULP, 2 * ULP]])
    out = apply(_map_log1p, t)
    reference = np.log1p(t)
    positive = reference > 0
    relative = np.abs(out[positive] / reference[positive] - 1.0)
    assert relative.max() <= 1.0 * ULP, relative.max()
    assert out[~positive].tolist() == [0.0] * int((~positive).sum())
    assert np.isnan(apply(_map_log1p, np.array([np.nan]))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_logistic_block_matches_pointwise_formula(dtype):
    """The vectorized block path of the fused kernel gives the loss and gradient of the plain numpy
    formulas (independent of the kernels), margins of every size included."""
    from fastml.kernels import losses
    from fastml.kernels.objective_dense import loss_grad_dense

    rng = np.random.default_rng(2)
    n = 1000
    X = rng.standard_normal((n, 3)).astype(dtype)
    coef = np.array([[30.0], [-2.0], [0.5]])
    intercept = np.array([0.25])
    y = (rng.random((n, 1)) < 0.4).astype(np.float64)
    weights = rng.uniform(0.5, 2.0, (n, 1))
    loss, grad, grad_intercept = np.zeros(1), np.zeros((3, 1)), np.zeros(1)
    loss_grad_dense(X, y, weights, coef, intercept, losses.LOGISTIC, 0.0, 1, loss, grad, grad_intercept,
                    np.zeros(1, dtype=np.int64), np.zeros((0, 0)))
    raw = X.astype(np.float64) @ coef[:, 0] + intercept[0]
    expected_loss = np.sum(weights[:, 0] * (np.logaddexp(0.0, raw) - y[:, 0] * raw))
    derivative = weights[:, 0] * (0.5 * (1.0 + np.tanh(0.5 * raw)) - y[:, 0])
    np.testing.assert_allclose(loss[0], expected_loss, rtol=1e-13)
    np.testing.assert_allclose(grad[:, 0], X.astype(np.float64).T @ derivative, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_intercept[0], derivative.sum(), rtol=1e-12, atol=1e-12)


def test_is_finite_survives_fast_math_reassociation():
    """Numba's isfinite is "x - x is not NaN"; under "reassoc" LLVM cancels x - x for a sum or a
    difference x, so isfinite(a - b) said True for inf - (-inf). kernels._jit.is_finite must not."""
    import numba

    from fastml.kernels._jit import FASTMATH, is_finite

    @numba.njit(fastmath=FASTMATH)
    def finite_difference_and_sum(a, b):
        return is_finite(a - b), is_finite(a * a - 3.0 * b), is_finite(a + b)

    assert finite_difference_and_sum(1.0, 2.0) == (True, True, True)
    assert finite_difference_and_sum(np.inf, -np.inf) == (False, False, False)
    assert finite_difference_and_sum(np.inf, np.inf) == (False, False, False)  # NaN differences
    assert finite_difference_and_sum(np.nan, 0.0) == (False, False, False)
    assert finite_difference_and_sum(1e200, -1e200) == (True, False, True)  # the square overflows
    assert finite_difference_and_sum(1e308, -1e308)[0] is False  # the difference overflows
