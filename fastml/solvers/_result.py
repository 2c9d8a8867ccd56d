"""What every solver returns and records: the result, the trace, the callback protocol.

Every solver takes ``(objective, w0, options, callback)`` and returns a :class:`SolverResult`. The
trace holds one row per iteration (iteration, seconds since the start, objective value, gradient
norm, step size); the clock starts after the first evaluation of the objective, so a kernel's
compile time is never counted. A callback receives an :class:`IterationInfo` after every iteration
and stops the solver by returning ``True``.
"""
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class IterationInfo:
    """The state a callback sees after an iteration (``params`` is the flat parameter vector)."""

    iteration: int
    seconds: float
    objective: float
    gradient_norm: float
    step: float
    params: np.ndarray


class Trace:
    """Per-iteration record of a solver run: iteration, seconds, objective, gradient norm, step."""

    columns = ("iteration", "seconds", "objective", "gradient_norm", "step")

    def __init__(self):
        self._rows = []
        self._start = None

    def start(self, already_elapsed=0.0):
        """Start the clock; ``already_elapsed`` seconds of earlier work (a warm-up phase) count as spent."""
        self._start = time.perf_counter() - already_elapsed

    def start_at(self, origin):
        """Start the clock at the ``time.perf_counter()`` reading ``origin`` (taken by a compiled loop)."""
        self._start = float(origin)

    @property
    def elapsed(self):
        return 0.0 if self._start is None else time.perf_counter() - self._start

    @property
    def origin(self):
        """The ``time.perf_counter()`` reading the seconds count from (for compiled loops that time
        their own iterations)."""
        return self._start

    def record(self, iteration, objective, gradient_norm, step=np.nan):
        self._rows.append((int(iteration), self.elapsed, float(objective), float(gradient_norm), float(step)))

    def add_row(self, iteration, seconds, objective, gradient_norm, step=np.nan):
        """Append a row timed elsewhere (by a compiled solver loop)."""
        self._rows.append((int(iteration), float(seconds), float(objective), float(gradient_norm), float(step)))

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, column):
        """One column as an array, e.g. ``trace["objective"]``."""
        if column not in self.columns:
            raise KeyError(f"a trace has the columns {', '.join(self.columns)}, not {column!r}")
        index = self.columns.index(column)
        return np.array([row[index] for row in self._rows])

    def __contains__(self, column):
        """``"step" in trace``: whether ``column`` is one of the trace's columns."""
        return column in self.columns

    def to_dict(self):
        return {column: self[column] for column in self.columns}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self._rows, columns=list(self.columns))

    def __repr__(self):
        return f"Trace({len(self)} iterations)"


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    params : ndarray
        Final flat parameters (see :class:`fastml.LinearObjective`; closed-form solvers return the
        coefficient matrix ``(n_features + fit_intercept, n_outputs)`` raveled the same way).
    n_iter : int or ndarray
        Iterations (epochs for stochastic solvers); an array of one entry per model for batched runs.
    converged : bool or ndarray
        Whether the stopping rule was met (per model for batched runs).
    trace : Trace
        One row per iteration.
    message : str
        Why the solver stopped.
    info : dict
        Solver-specific extras (rank of a least-squares system, duality gaps, optimizer state...).
    """

    params: np.ndarray
    n_iter: object
    converged: object
    trace: Trace = field(default_factory=Trace)
    message: str = ""
    info: dict = field(default_factory=dict)


def notify(callback, trace, iteration, objective, gradient_norm, step, params):
    """Record an iteration in ``trace`` and ask ``callback`` whether to stop (True means stop)."""
    trace.record(iteration, objective, gradient_norm, step)
    return ask_callback(callback, trace, params)


def ask_callback(callback, trace, params):
    """Ask ``callback`` about the last iteration recorded in ``trace`` (True means stop)."""
    if callback is None:
        return False
    return bool(callback(IterationInfo(*trace._rows[-1], params)))


def closing_message(message, converged, stalled):
    """A line-search solver's final message: the loop's own ("stopped by callback", "reached
    max_iter=..."), "converged" when every model converged, or which models stalled."""
    if message == "stopped by callback":
        return message
    if converged.all():
        return "converged"
    if stalled.any():
        return (f"line search found no decrease for model(s) {np.flatnonzero(stalled).tolist()} "
                "(the objective may be at its rounding limit; loosen tol)")
    return message
