"""The leave-one-out error sweep of the ridge path, against the numpy formula it replaces."""
import numpy as np
import pytest

from fastml.kernels.ridge_loo import loo_block_errors


def _reference(quadratic, predictions, centered_y, weights, leverage_per_weight):
    n_rows, n_alphas = quadratic.shape
    n_targets = centered_y.shape[1]
    w = np.ones(n_rows) if weights.size == 0 else weights
    hat = w[:, None] * (quadratic + leverage_per_weight)
    residual = centered_y[:, :, None] - predictions.reshape(n_rows, n_targets, n_alphas)
    with np.errstate(divide="ignore", invalid="ignore"):
        squared = (residual / (1.0 - hat)[:, None, :]) ** 2
    return squared, (w[:, None, None] * squared).sum(axis=0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("leverage_per_weight", [0.0, 1e-3])
def test_errors_and_sums_match_numpy(weighted, n_targets, leverage_per_weight):
    rng = np.random.default_rng(n_targets)
    n_rows, n_alphas = 37, 5
    quadratic = rng.uniform(0.0, 0.5, (n_rows, n_alphas))
    predictions = rng.standard_normal((n_rows, n_targets * n_alphas))
    centered_y = rng.standard_normal((n_rows, n_targets))
    weights = rng.uniform(0.1, 1.5, n_rows) if weighted else np.empty(0)
    expected_values, expected_sums = _reference(quadratic, predictions, centered_y, weights, leverage_per_weight)

    sums = np.full((n_targets, n_alphas), 2.0)  # added to, not overwritten
    values = np.full((n_rows, n_targets, n_alphas), np.nan)
    loo_block_errors(quadratic, predictions, centered_y, weights, leverage_per_weight, sums, values)
    np.testing.assert_allclose(values, expected_values, rtol=1e-13)
    np.testing.assert_allclose(sums, expected_sums + 2.0, rtol=1e-13)

    skipped = np.zeros((n_targets, n_alphas))  # a (0, 0, 0) array: nothing stored, same sums
    loo_block_errors(quadratic, predictions, centered_y, weights, leverage_per_weight, skipped, np.empty((0, 0, 0)))
    np.testing.assert_allclose(skipped, expected_sums, rtol=1e-13)


def test_a_hat_diagonal_of_one_gives_inf_or_nan_like_numpy():
    quadratic = np.array([[1.0, 0.5], [1.0, 0.5]])
    predictions = np.array([[0.0, 0.0], [2.0, 0.0]])
    centered_y = np.array([[1.0], [2.0]])  # row 0: residual 1 at h = 1; row 1: residual 0 at h = 1
    values = np.empty((2, 1, 2))
    sums = np.zeros((1, 2))
    loo_block_errors(quadratic, predictions, centered_y, np.empty(0), 0.0, sums, values)
    assert values[0, 0, 0] == np.inf and np.isnan(values[1, 0, 0])
    np.testing.assert_allclose(values[:, 0, 1], [4.0, 16.0])
