"""Solvers on the fused objective kernels.

Every solver takes a problem, a start point, a frozen options dataclass and an optional callback, and
returns a :class:`SolverResult` whose trace records iteration, seconds (compile time excluded),
objective, gradient norm and step.

* :func:`solve_least_squares`, :func:`ridge_path`, :func:`ridge_kfold` — closed form (normal equations,
  many alphas from one eigendecomposition, exact leave-one-out / GCV, k folds by subtraction);
* :func:`lbfgs`, :func:`newton`, :func:`gradient_descent` — full-batch, batched over K models;
* :func:`stochastic_gradient` — compiled minibatch SGD / momentum / Nesterov / Adam / AdamW epochs;
* :func:`coordinate_descent`, :func:`coordinate_descent_path` — Lasso / elastic net with a duality gap;
* :func:`proximal_newton` — smooth one-score losses with L1 / elastic net: coordinate descent on each
  Newton model (glmnet's scheme; ``LogisticRegression(solver="cd")``).
"""
from ._result import IterationInfo, SolverResult, Trace
from .closed_form import (
    ClosedFormOptions, RankDeficientWarning, RidgeKFoldResult, RidgePathResult, ridge_kfold, ridge_path,
    solve_least_squares,
)
from .coordinate_descent import (
    CoordinateDescentOptions, alpha_max, coordinate_descent, coordinate_descent_objective, coordinate_descent_path,
)
from .gradient_descent import GradientDescentOptions, gradient_descent
from .lbfgs import LBFGSOptions, lbfgs
from .newton import NewtonOptions, newton
from .proximal_newton import ProximalNewtonOptions, proximal_newton
from .stochastic import NonFiniteError, StochasticOptions, StochasticState, stochastic_gradient

__all__ = [
    "ClosedFormOptions", "CoordinateDescentOptions", "GradientDescentOptions", "IterationInfo", "LBFGSOptions",
    "NewtonOptions", "NonFiniteError", "ProximalNewtonOptions", "RankDeficientWarning", "RidgeKFoldResult",
    "RidgePathResult", "SolverResult", "StochasticOptions", "StochasticState", "Trace", "alpha_max",
    "coordinate_descent", "coordinate_descent_objective", "coordinate_descent_path", "gradient_descent", "lbfgs",
    "newton", "proximal_newton", "ridge_kfold", "ridge_path", "solve_least_squares", "stochastic_gradient",
]
