"""Run a named full-batch or stochastic solver on a LinearObjective (shared by the estimators)."""
import numpy as np

STOCHASTIC_SOLVERS = ("sgd", "adam")


def run_solver(solver, objective, w0, *, max_iter, tol, callback=None, random_state=None, stochastic=None):
    """Minimize ``objective`` with ``solver`` and return the SolverResult.

    ``stochastic`` holds extra :class:`~fastml.solvers.stochastic.StochasticOptions` fields for the
    ``"sgd"``/``"adam"`` solvers (batch size, learning rate...).
    """
    if solver == "lbfgs":
        from ..solvers.lbfgs import LBFGSOptions, lbfgs

        return lbfgs(objective, w0, LBFGSOptions(max_iter=max_iter, tol=tol), callback)
    if solver == "newton":
        from ..solvers.newton import NewtonOptions, newton

        return newton(objective, w0, NewtonOptions(max_iter=max_iter, tol=tol), callback)
    if solver == "cd":
        from ..solvers.proximal_newton import ProximalNewtonOptions, proximal_newton

        return proximal_newton(objective, w0, ProximalNewtonOptions(max_iter=max_iter, tol=tol), callback)
    if solver == "gd":
        from ..solvers.gradient_descent import GradientDescentOptions, gradient_descent

        return gradient_descent(objective, w0, GradientDescentOptions(max_iter=max_iter, tol=tol), callback)
    if solver in STOCHASTIC_SOLVERS:
        from ..solvers.stochastic import StochasticOptions, stochastic_gradient

        settings = {"optimizer": "adam" if solver == "adam" else "sgd", "batch_size": 256 if solver == "adam" else 1,
                    "schedule": "constant" if solver == "adam" else "invscaling", "max_epochs": max_iter,
                    "tol": tol, "random_state": _seed(random_state)}
        settings.update(stochastic or {})
        return stochastic_gradient(objective, w0, StochasticOptions(**settings), callback=callback)
    raise ValueError(f"unknown solver {solver!r}")


def _seed(random_state):
    """An integer seed from scikit-learn's random_state conventions (None, int, RandomState)."""
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(random_state.randint(np.iinfo(np.int32).max))
