"""Epoch kernels of the stochastic solvers against plain-numpy reference loops and scikit-learn.

The references below re-implement each optimizer step by step in numpy (PyTorch's conventions for
momentum, Nesterov, Adam and AdamW; scikit-learn's for plain SGD), with the losses written out
independently, over the same permutations the driver draws.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit

from fastml import LinearObjective
from fastml.solvers.stochastic import StochasticOptions, stochastic_gradient

N_SAMPLES, N_FEATURES = 60, 4


def _data(task="binary", seed=0, n=N_SAMPLES, p=N_FEATURES):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    truth = rng.standard_normal(p)
    raw = X @ truth + 0.3 * rng.standard_normal(n)
    y = (raw > 0).astype(float) if task == "binary" else raw
    return X, y


def _orders(seed, n, epochs, shuffle=True):
    if not shuffle:
        return [np.arange(n)] * epochs
    from fastml.kernels.shuffle import epoch_permutation

    return [epoch_permutation(np.uint64(seed), np.uint64(e), np.empty(n, dtype=np.int64)) for e in range(epochs)]


def _loss_derivative(loss, y, raw):
    if loss == "log_loss":
        return expit(raw) - y
    if loss == "squared_error":
        return raw - y
    raise AssertionError(loss)


def _reference(X, y, loss, options, epochs, l2=0.0, l1=0.0, sample_weight=None, seed=0):
    """A per-step numpy loop of the minibatch optimizers (no scaled weights, no lazy penalties)."""
    n, p = X.shape
    sw = np.ones(n) if sample_weight is None else sample_weight
    scale = n / sw.sum()
    w = np.zeros(p + 1)               # coefficients then intercept
    m, v, vmax = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1)
    penalized = np.r_[np.ones(p, bool), False]
    l1_total, l1_applied = 0.0, np.zeros(p)
    t = 0
    for order in _orders(seed, n, epochs, options.shuffle):
        for start in range(0, n, options.batch_size):
            rows = order[start:start + options.batch_size]
            t += 1
            eta = options.learning_rate
            if options.schedule == "invscaling":
                eta = options.learning_rate / t ** options.power_t
            raw = X[rows] @ w[:p] + w[p]
            d = sw[rows] * _loss_derivative(loss, y[rows], raw) * scale / len(rows)
            g = np.r_[X[rows].T @ d, d.sum()]
            if options.clip_norm is not None and np.linalg.norm(g) > options.clip_norm:
                g *= options.clip_norm / np.linalg.norm(g)
            if options.optimizer == "sgd":
                w[:p] *= max(0.0, 1 - eta * l2)
                w -= eta * g
                if l1 > 0:  # Tsuruoka's cumulative penalty, applied to every feature
                    l1_total += eta * l1
                    for j in range(p):
                        before = w[j]
                        if before > 0:
                            w[j] = max(0.0, before - (l1_total + l1_applied[j]))
                        elif before < 0:
                            w[j] = min(0.0, before + (l1_total - l1_applied[j]))
                        l1_applied[j] += w[j] - before
                continue
            step = eta
            if options.optimizer in ("momentum", "nesterov"):
                g = g + l2 * w * penalized
                m = options.momentum * m + g
                direction = g + options.momentum * m if options.optimizer == "nesterov" else m
                w = w - eta * direction
            else:
                if options.optimizer == "adamw":
                    w = np.where(penalized, w * (1 - eta * l2), w)
                else:
                    g = g + l2 * w * penalized
                m = options.beta1 * m + (1 - options.beta1) * g
                v = options.beta2 * v + (1 - options.beta2) * g * g
                second = np.maximum(vmax, v) if options.amsgrad else v
                vmax = second
                denominator = np.sqrt(second) / np.sqrt(1 - options.beta2 ** t) + options.epsilon
                step = eta / (1 - options.beta1 ** t) / denominator
                w = w - step * m
            if l1 > 0:
                threshold = step * l1 * penalized
                w = np.sign(w) * np.maximum(np.abs(w) - threshold, 0.0)
    return w


def _run(X, y, loss, options, l2=0.0, l1=0.0, sample_weight=None):
    objective = LinearObjective(loss, X, y, sample_weight, l2=l2, l1=l1)
    return stochastic_gradient(objective, w0=np.zeros(objective.n_params), options=options)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sgd_batch_size_one_is_per_sample_sgd(loss, weighted):
    X, y = _data("binary" if loss == "log_loss" else "regression")
    sample_weight = np.random.default_rng(3).uniform(0.5, 2.0, len(y)) if weighted else None
    options = StochasticOptions(learning_rate=0.1, schedule="invscaling", max_epochs=3, tol=None,
                                random_state=0)
    result = _run(X, y, loss, options, l2=0.05, sample_weight=sample_weight)
    expected = _reference(X, y, loss, options, 3, l2=0.05, sample_weight=sample_weight)
    assert_allclose(result.params, expected, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", {"clip_norm": 0.3}),
    ("sgd", {}),
    ("momentum", {}),
    ("nesterov", {"clip_norm": 0.5}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "clip_norm": 0.5}),
    ("adamw", {}),
])
@pytest.mark.parametrize("l1", [0.0, 0.02])
def test_minibatch_optimizers_match_numpy_reference(optimizer, extra, l1):
    X, y = _data()
    options = StochasticOptions(optimizer=optimizer, learning_rate=0.05, batch_size=7, max_epochs=3,
                                tol=None, random_state=4, schedule="invscaling", power_t=0.3, **extra)
    result = _run(X, y, "log_loss", options, l2=0.1, l1=l1)
    expected = _reference(X, y, "log_loss", options, 3, l2=0.1, l1=l1, seed=4)
    assert_allclose(result.params, expected, rtol=1e-10, atol=1e-12)


def test_adamw_decay_is_decoupled_one_step_by_hand():
    X, y = _data()
    w0 = np.r_[np.full(N_FEATURES, 0.5), 0.0]
    lr, l2, eps = 0.1, 0.3, 1e-8
    objective = LinearObjective("log_loss", X, y, l2=l2)
    # one step over the whole data: m_hat = g, v_hat = g^2, so each coordinate moves by lr g / (|g| + eps)
    loss_gradient = objective.gradient(w0) - l2 * np.r_[w0[:-1], 0.0]
    options = dict(learning_rate=lr, batch_size=N_SAMPLES, max_epochs=1, tol=None, shuffle=False, epsilon=eps)
    adam = stochastic_gradient(objective, w0=w0, options=StochasticOptions(optimizer="adam", **options))
    adamw = stochastic_gradient(objective, w0=w0, options=StochasticOptions(optimizer="adamw", **options))
    with_l2 = loss_gradient + l2 * np.r_[w0[:-1], 0.0]
    assert_allclose(adam.params, w0 - lr * with_l2 / (np.abs(with_l2) + eps), rtol=1e-12)
    decayed = np.r_[w0[:-1] * (1 - lr * l2), w0[-1]]
    assert_allclose(adamw.params, decayed - lr * loss_gradient / (np.abs(loss_gradient) + eps), rtol=1e-12)
    assert np.abs(adam.params - adamw.params).max() > 1e-3


def _sklearn_fit(estimator, X, y, epochs):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(max_iter=epochs, tol=None, shuffle=False)
        estimator.fit(X, y, coef_init=np.zeros(X.shape[1]), intercept_init=0.0)
    return np.r_[estimator.coef_.ravel(), estimator.intercept_]


@pytest.mark.parametrize("case", ["log_l1_optimal", "hinge_l2_optimal_averaged", "squared_elasticnet_invscaling"])
def test_sgd_matches_scikit_learn(case):
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    alpha, epochs = 0.01, 3
    if case == "log_l1_optimal":
        X, y = _data()
        estimator = SGDClassifier(loss="log_loss", penalty="l1", alpha=alpha, learning_rate="optimal")
        loss, penalties, options = "log_loss", dict(l1=alpha), dict(schedule="optimal")
    elif case == "hinge_l2_optimal_averaged":
        X, y = _data()
        estimator = SGDClassifier(loss="hinge", penalty="l2", alpha=alpha, learning_rate="optimal", average=True)
        loss, penalties, options = "hinge", dict(l2=alpha), dict(schedule="optimal", average=True)
    else:
        X, y = _data("regression")
        l1_ratio = 0.3
        estimator = SGDRegressor(loss="squared_error", penalty="elasticnet", alpha=alpha, l1_ratio=l1_ratio,
                                 learning_rate="invscaling", eta0=0.05, power_t=0.25)
        loss = "squared_error"
        penalties = dict(l2=alpha * (1 - l1_ratio), l1=alpha * l1_ratio)
        options = dict(schedule="invscaling", learning_rate=0.05, power_t=0.25)
    expected = _sklearn_fit(estimator, X, y, epochs)
    options = StochasticOptions(max_epochs=epochs, tol=None, shuffle=False, **options)
    result = _run(X, y, loss, options, **penalties)
    assert_allclose(result.params, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer, penalties, average", [
    ("sgd", dict(l2=0.05), 2),
    ("sgd", dict(l1=0.01), False),  # lazy L1 on CSR rows == L1 on every feature (not with L2 or averaging)
    ("adam", dict(l1=0.01), 2),
    ("momentum", dict(l2=0.05), 2),
])
@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
def test_dense_and_csr_rows_agree(optimizer, penalties, average, loss):
    X, y = _data()
    if loss == "multinomial":
        y = (np.abs(X[:, 0] + X[:, 1]) * 1.5).astype(int) % 3
    X[np.abs(X) < 0.6] = 0.0  # a genuinely sparse matrix, explicit zeros dropped by CSR
    options = StochasticOptions(optimizer=optimizer, learning_rate=0.05, batch_size=3, max_epochs=3, tol=None,
                                random_state=2, average=average)
    dense = stochastic_gradient(LinearObjective(loss, X, y, **penalties), options=options)
    csr = stochastic_gradient(LinearObjective(loss, sp.csr_matrix(X), y, **penalties), options=options)
    assert_allclose(csr.params, dense.params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_rows_close_to_float64(sparse):
    X, y = _data()
    options = StochasticOptions(optimizer="adam", learning_rate=0.05, batch_size=4, max_epochs=3, tol=None,
                                random_state=1)
    convert = sp.csr_matrix if sparse else np.asarray
    single = stochastic_gradient(LinearObjective("log_loss", convert(X.astype(np.float32)), y, l2=0.01),
                                 options=options)
    double = stochastic_gradient(LinearObjective("log_loss", convert(X.astype(np.float32).astype(np.float64)),
                                                 y, l2=0.01), options=options)
    # the same float32 values widened: float64 accumulation makes the two runs identical
    assert_allclose(single.params, double.params, rtol=1e-10, atol=1e-12)
    rounded = stochastic_gradient(LinearObjective("log_loss", convert(X), y, l2=0.01), options=options)
    assert_allclose(single.params, rounded.params, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_size, average", [(1, True), (1, 7), (3, True)])
@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
def test_lazy_average_on_csr_rows_is_the_dense_running_mean(batch_size, average, loss):
    """Plain SGD on CSR rows keeps its averaged weights lazily (two numbers per model); the dense kernel
    updates the mean of every weight at every step. Steps of eta * l2 = 0.5 halve the L2 scale each
    step, so it falls below the fold threshold (1e-9) and is folded into the weights every ~30 steps."""
    X, y = _data()
    if loss == "multinomial":
        y = (np.abs(X[:, 0] + X[:, 1]) * 1.5).astype(int) % 3
    X[np.abs(X) < 0.6] = 0.0
    options = StochasticOptions(learning_rate=0.5, batch_size=batch_size, max_epochs=3, tol=None, random_state=5,
                                average=average)
    dense = stochastic_gradient(LinearObjective(loss, X, y, l2=1.0), options=options)
    csr = stochastic_gradient(LinearObjective(loss, sp.csr_matrix(X), y, l2=1.0), options=options)
    assert np.abs(dense.params).max() > 1e-3
    assert_allclose(csr.params, dense.params, rtol=1e-9, atol=1e-13)


def _csr_sgd_reference(X, y, eta, l2, l1, epochs, intercept_decay):
    """Per-sample plain SGD over CSR rows in order (log loss, constant rate), in numpy: the L2 shrink
    on the weights themselves, the cumulative L1 penalty of Tsuruoka et al. on a row's features before
    the row is read and after its step and on every feature at the end of an epoch, the running mean
    of the iterates (coefficients and intercept) updated in full after every step."""
    n, p = X.shape
    w, intercept, mean = np.zeros(p), 0.0, np.zeros(p + 1)
    owed_total, applied = 0.0, np.zeros(p)

    def penalize(j):
        before = w[j]
        if before > 0:
            w[j] = max(0.0, before - (owed_total + applied[j]))
        elif before < 0:
            w[j] = min(0.0, before + (owed_total - applied[j]))
        applied[j] += w[j] - before

    t = 0
    for _ in range(epochs):
        for i in range(n):
            t += 1
            columns, values = X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]]
            if owed_total > 0:
                for j in columns:
                    penalize(j)
            derivative = expit(values @ w[columns] + intercept) - y[i]
            w *= 1.0 - eta * l2
            w[columns] -= eta * derivative * values
            intercept -= eta * derivative * intercept_decay
            owed_total += eta * l1
            for j in columns:
                penalize(j)
            mean += (np.r_[w, intercept] - mean) / t
        for j in range(p):
            penalize(j)
    return mean


def test_lazy_average_with_cumulative_l1_is_the_running_mean_of_the_iterates():
    X, y = _data(n=50, p=8)
    X[np.abs(X) < 0.7] = 0.0
    X = sp.csr_matrix(X)
    options = StochasticOptions(learning_rate=0.1, max_epochs=3, tol=None, shuffle=False, average=True,
                                intercept_decay=0.01)
    result = _run(X, y, "log_loss", options, l2=0.05, l1=0.02)
    expected = _csr_sgd_reference(X, y, 0.1, 0.05, 0.02, 3, 0.01)
    assert np.abs(expected - _csr_sgd_reference(X, y, 0.1, 0.05, 0.0, 3, 0.01)).max() > 0.05  # L1 matters here
    assert_allclose(result.params, expected, rtol=1e-10, atol=1e-13)


def test_intercept_decay_damps_only_plain_sgd_intercept_steps():
    X, y = _data()
    plain = dict(learning_rate=0.1, max_epochs=2, tol=None, shuffle=False)
    damped = _run(X, y, "log_loss", StochasticOptions(intercept_decay=0.01, **plain))
    undamped = _run(X, y, "log_loss", StochasticOptions(**plain))
    assert abs(damped.params[-1]) < 0.2 * abs(undamped.params[-1])
    adam = dict(optimizer="adam", batch_size=5, **plain)
    assert_allclose(_run(X, y, "log_loss", StochasticOptions(intercept_decay=0.01, **adam)).params,
                    _run(X, y, "log_loss", StochasticOptions(**adam)).params, rtol=0, atol=0)
    with pytest.raises(ValueError, match="intercept_decay"):
        StochasticOptions(intercept_decay=0.0)
