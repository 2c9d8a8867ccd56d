"""scikit-learn compatible linear estimators on fastml's compiled solvers."""
from ._logistic import LogisticRegression

__all__ = ["LogisticRegression"]
