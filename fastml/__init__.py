"""fastml: a fast, trustworthy optimization core for classical machine learning.

Importing ``fastml`` is cheap: Numba, the kernels and scikit-learn load on first use of what needs
them (estimators are resolved lazily by name).
"""
__version__ = "0.1.0"

from ._config import config_context, get_config, get_n_threads, set_config, set_n_threads  # noqa: E402
from ._loss import LOSSES, Loss, get_loss  # noqa: E402

_ESTIMATORS = {
    "LinearRegression": "_least_squares",
    "Ridge": "_least_squares",
    "RidgeCV": "_least_squares",
    "Lasso": "_coordinate_descent",
    "ElasticNet": "_coordinate_descent",
    "ElasticNetCV": "_coordinate_descent",
    "LassoCV": "_coordinate_descent",
    "LogisticRegression": "_logistic",
    "LogisticRegressionCV": "_logistic_cv",
    "SGDClassifier": "_stochastic_gradient",
    "SGDRegressor": "_stochastic_gradient",
    "PoissonRegressor": "_glm",
}


_LAZY = {
    "LinearObjective": "._objective",
    "warmup": "._warmup",
    # lifecycle
    "evaluate": ".evaluation",
    "save": ".persistence",
    "load": ".persistence",
    "inspect": ".persistence",
    "ModelFileError": ".persistence",
    "check_drift": ".drift",
    "Fingerprint": ".drift",
    "PageHinkley": ".drift",
    "ADWIN": ".drift",
    "DDM": ".drift",
    "DriftMonitor": ".drift",
    "retrain": ".retraining",
    "refit_if_drift": ".retraining",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in _ESTIMATORS:
        import importlib

        module = importlib.import_module(f".linear_model.{_ESTIMATORS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'fastml' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY) + list(_ESTIMATORS))


__all__ = [
    "LOSSES",
    "LinearObjective",
    "Loss",
    "config_context",
    "get_config",
    "get_loss",
    "get_n_threads",
    "set_config",
    "set_n_threads",
    "warmup",
    *_ESTIMATORS,
    *[name for name in _LAZY if name not in ("LinearObjective", "warmup")],
]
