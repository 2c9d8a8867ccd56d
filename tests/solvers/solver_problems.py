"""Problem generators and independent references shared by the solver tests.

References never use fastml's solvers: scipy's L-BFGS-B at tight tolerance on the objective (and on a
bound-constrained split ``coef = u - v`` for L1, which makes the problem smooth), or scikit-learn
estimators with matched scalings:

* ``LogisticRegression(C=1 / (l2 * n))``: scikit-learn minimizes ``C * sum loss + ||w||^2 / 2``;
* ``PoissonRegressor(alpha=l2)`` and ``Lasso(alpha=l1)``: the same mean-loss scaling as fastml;
* ``Ridge(alpha=l2 * n)``: ``||y - Xw||^2 + alpha ||w||^2`` is ``2 n`` times fastml's objective.
"""
import numpy as np
import scipy.optimize
import scipy.sparse as sp

import fastml

SMOOTH_LOSSES = ("squared_error", "log_loss", "multinomial", "poisson", "huber")
HESSIAN_LOSSES = ("squared_error", "log_loss", "multinomial", "poisson")


def make_data(loss, n_samples=300, n_features=8, seed=0, n_classes=3):
    """Features of mixed scales and a target drawn from a matching model for ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.5, 2.0, n_features)
    X[rng.random(X.shape) < 0.3] = 0.0  # some zeros, so CSR is a real sparse matrix
    true_coef = rng.standard_normal(n_features) * 0.5
    raw = X @ true_coef
    if loss == "log_loss":
        y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-raw))).astype(np.float64)
    elif loss == "multinomial":
        scores = X @ rng.standard_normal((n_features, n_classes)) * 0.5
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        y = np.array([rng.choice(n_classes, p=row) for row in probabilities], dtype=np.float64)
    elif loss == "poisson":
        y = rng.poisson(np.exp(0.5 * raw / max(np.abs(raw).max(), 1.0))).astype(np.float64)
    elif loss == "huber":
        y = raw + rng.standard_t(2, n_samples)  # heavy tails: many samples in the linear part
    else:
        y = raw + 0.5 * rng.standard_normal(n_samples)
    return X, y


def as_storage(X, storage, dtype):
    X = X.astype(dtype)
    return sp.csr_matrix(X) if storage == "csr" else X


def make_objective(loss, storage="dense", dtype=np.float64, l2=1e-2, l1=0.0, sample_weight=None,
                   n_samples=300, n_features=8, seed=0, fit_intercept=True):
    X, y = make_data(loss, n_samples, n_features, seed)
    return fastml.LinearObjective(loss, as_storage(X, storage, dtype), y, sample_weight, l2=l2, l1=l1,
                                  fit_intercept=fit_intercept)


def scipy_reference(objective, w0=None):
    """Minimum of a smooth objective by scipy's L-BFGS-B at gtol=1e-12, ftol=0: (params, value)."""
    w0 = objective.initial_parameters() if w0 is None else w0
    result = scipy.optimize.minimize(objective.value_and_gradient, w0, jac=True, method="L-BFGS-B",
                                     options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 20000, "maxcor": 30})
    return result.x, result.fun


def l1_reference(objective):
    """Minimum of ``smooth + l1 ||coef||_1`` by L-BFGS-B on the split ``coef = u - v``, ``u, v >= 0``.

    On the split the objective ``f(u - v) + l1 * sum(u + v)`` is smooth, so a bound-constrained
    quasi-Newton method reaches it tightly: an independent reference for the proximal solvers.
    """
    n_params = objective.n_params
    penalized = np.zeros(objective.coef_shape, dtype=bool)
    penalized[: objective.n_features] = True
    penalized = penalized.ravel()
    l1 = np.broadcast_to(objective._model_columns(objective.l1), objective.coef_shape).ravel()

    def split_objective(z):
        u, v = z[:n_params], z[n_params:]
        w = u - v
        value, gradient = objective.smooth_value_and_gradient(w)
        value += np.sum(l1[penalized] * (u + v)[penalized])
        extra = np.where(penalized, l1, 0.0)
        return value, np.concatenate([gradient + extra, -gradient + extra])

    w0 = objective.initial_parameters()
    z0 = np.concatenate([np.maximum(w0, 0.0), np.maximum(-w0, 0.0)])
    bounds = [(0.0, None) if flag else (None, None) for flag in penalized]
    bounds = bounds + [(0.0, None) if flag else (0.0, 0.0) for flag in penalized]  # intercept only in u
    result = scipy.optimize.minimize(split_objective, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                                     options={"gtol": 1e-13, "ftol": 0.0, "maxiter": 50000, "maxcor": 30})
    w = result.x[:n_params] - result.x[n_params:]
    return w, objective.value(w)


def relative_gap(value, reference):
    return (value - reference) / max(abs(reference), 1e-300)


def model_objective(objective, k):
    """Model ``k`` of a batched objective, built as its own single-model objective."""
    X = objective.X.csr if objective.X.is_sparse else objective.X.dense
    if objective.X.is_sparse:
        X = sp.csr_matrix((X[0], X[1], X[2]), shape=objective.X.shape)
    y = objective.y[:, k if objective.y.shape[1] > 1 else 0]
    weights = objective.sample_weight[:, k if objective.sample_weight.shape[1] > 1 else 0]
    return fastml.LinearObjective(objective.loss, X, y, weights, l2=objective.l2[k], l1=objective.l1[k],
                                  fit_intercept=objective.fit_intercept)


def model_params(objective, params, k):
    """Flat parameters of model ``k`` taken from a batched objective's flat parameters."""
    return params.reshape(objective.coef_shape)[:, k].copy()


def fold_weights(n_samples, n_folds=3, seed=0):
    """(n_samples, n_folds) 0/1 weights: column k leaves out fold k (K cross-validation fits)."""
    folds = np.random.default_rng(seed).integers(0, n_folds, n_samples)
    return np.stack([(folds != k).astype(np.float64) for k in range(n_folds)], axis=1)


def check_trace(result):
    """The trace protocol every solver follows: rows 0..n_iter, seconds start at 0 and never decrease."""
    trace = result.trace
    iterations = trace["iteration"]
    assert iterations[0] == 0 and np.all(np.diff(iterations) == 1)
    n_iter = np.max(result.n_iter)
    assert len(trace) == n_iter + 1
    seconds = trace["seconds"]
    assert seconds[0] >= 0 and np.all(np.diff(seconds) >= 0)
    assert np.all(np.isfinite(trace["objective"])) and np.all(np.isfinite(trace["gradient_norm"]))
