"""scikit-learn compatible linear estimators on fastml's compiled solvers."""
from ._coordinate_descent import ElasticNet, ElasticNetCV, Lasso, LassoCV
from ._glm import PoissonRegressor
from ._least_squares import LinearRegression, Ridge, RidgeCV
from ._logistic import LogisticRegression
from ._logistic_cv import LogisticRegressionCV
from ._stochastic_gradient import SGDClassifier, SGDRegressor

__all__ = [
    "ElasticNet",
    "ElasticNetCV",
    "LassoCV",
    "Lasso",
    "LinearRegression",
    "LogisticRegression",
    "LogisticRegressionCV",
    "PoissonRegressor",
    "Ridge",
    "RidgeCV",
    "SGDClassifier",
    "SGDRegressor",
]
