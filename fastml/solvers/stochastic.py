"""Minibatch stochastic solvers: plain SGD, momentum, Nesterov, Adam and AdamW, whole epochs compiled.

The epochs run compiled (``fastml.kernels.stochastic_dense`` / ``stochastic_csr``), with what comes
between them (the row order, the running objective, the stopping rule, the trace row:
``kernels.epoch_control``): several epochs per kernel call (calls of some tens of milliseconds at
most, :data:`MAX_VALUES_PER_CALL`, so that Ctrl-C is heard), or one per call when Python has to see
each epoch (a callback, the exact objective in the trace, a prefetching thread). K columns of
coefficients share each pass over ``X``: K models of a batched :class:`fastml.LinearObjective` (K
penalties, K targets or K sample-weight columns) or the K classes of the multinomial loss;
``learning_rate`` may differ per model.

Choices, stated once:

* The minibatch gradient of model k is ``n / W_k * mean_batch(w_ik dloss_i x_i)`` plus the penalty
  (``W_k``: the sum of the model's sample weights), an unbiased estimate of the gradient of
  :class:`fastml.LinearObjective`; with unit weights and ``batch_size=1`` it is scikit-learn's
  per-sample update, and the "optimal" schedule is scikit-learn's with ``alpha = l2 + l1``.
* L1 (and elastic net): plain SGD uses scikit-learn's cumulative penalty (Tsuruoka et al., 2009),
  lazy on sparse rows; momentum, Nesterov, Adam and AdamW use a proximal soft-threshold step scaled
  by each coordinate's step size. AdamW applies ``l2`` as decoupled weight decay
  (``w <- (1 - eta l2) w``), so its fixed point is not the minimizer of the L2-penalized objective.
* Dense ``X`` must be C-contiguous: rows are read in random order, and an F-ordered row is
  n_features cache lines apart; converting per batch would cost more than one copy, so the driver
  raises and asks for ``np.ascontiguousarray(X)`` (a copy the caller can keep).
* The trace objective is, by default (``trace_objective="full"``), the exact objective of the
  returned parameters from :meth:`LinearObjective.values_and_gradients` (one extra fused pass per
  epoch, counted in the seconds), with its gradient norm. ``"running"`` records, as scikit-learn
  does, the mean loss seen during the epoch (before each step) plus the penalty of the epoch's final
  weights; the gradient norm is then NaN. The stopping rule (``tol``, ``n_iter_no_change``, the
  "adaptive" schedule) uses that same objective, per model, with scikit-learn's rule.
* With averaging, the returned parameters are the averaged iterate once averaging has started.
* Compile time is never counted: the kernel is first run on one row with scratch copies of the state.
"""
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .._objective import LinearObjective
from ..kernels._blas_threads import one_blas_thread_in_fit
from ..kernels.layout import transposed_copy
from ._result import SolverResult, Trace, ask_callback, notify

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "invscaling", "optimal", "adaptive")
_DEFAULT_RATE = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001, "adamw": 0.001}
_MOMENT_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}


class NonFiniteError(FloatingPointError, ValueError):
    """The loss or a weight became NaN or infinite (catchable as FloatingPointError or ValueError)."""


@dataclass(frozen=True)
class StochasticOptions:
    """Settings of :func:`stochastic_gradient`.

    Parameters
    ----------
    optimizer : {"sgd", "momentum", "nesterov", "adam", "adamw"}
    learning_rate : float or array of shape (n_models,), optional
        ``eta0`` of the schedule (default 0.01 for SGD/momentum/Nesterov, 0.001 for Adam/AdamW);
        ignored by the "optimal" schedule.
    schedule : {"constant", "invscaling", "optimal", "adaptive"}
        ``eta0``; ``eta0 / t**power_t``; ``1 / (alpha (t0 + t - 1))`` with scikit-learn's t0;
        ``eta0`` divided by 5 whenever the objective did not improve by ``tol`` for
        ``n_iter_no_change`` epochs (until it is below 1e-6). ``t`` counts steps from 1.
    power_t, momentum, beta1, beta2, epsilon, amsgrad
        Exponent of "invscaling"; momentum of "momentum"/"nesterov"; Adam's moment decays,
        denominator constant and AMSGrad switch.
    batch_size : int
        Rows per step (1: per-sample SGD). The last batch of an epoch may be smaller.
    max_epochs : int
        Epochs of this call.
    tol : float or None
        A model stops after ``n_iter_no_change`` epochs whose objective is not below its best
        minus ``tol`` (None: run ``max_epochs``).
    average : bool or int
        Averaged SGD: False off, True from the first step, an int ``a`` from step ``a`` on.
    clip_norm : float, optional
        Rescale each model's minibatch loss gradient (intercept included, penalty excluded) to
        this norm when it is larger.
    intercept_decay : float
        Plain SGD multiplies each intercept step by it (in (0, 1]). scikit-learn's SGD estimators
        use 0.01 on sparse ``X`` (a damped intercept, for rows that each touch few weights) and 1.0
        on dense ``X``; fastml's estimators do the same. The other optimizers ignore it.
    shuffle : bool
        Visit the rows in a new random order each epoch (else in their order).
    random_state : int, optional
        Seed of the permutations: epoch e's row order depends on ``(random_state, e)`` only
        (``kernels.shuffle.epoch_permutation``), so results are bitwise reproducible and a continued
        run draws the same orders as an uninterrupted one.
    trace_objective : {"full", "running"}
        What the trace and the stopping rule use (see the module docstring).
    """

    optimizer: str = "sgd"
    learning_rate: object = None
    schedule: str = "constant"
    power_t: float = 0.5
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    amsgrad: bool = False
    batch_size: int = 1
    max_epochs: int = 100
    tol: object = 1e-4
    n_iter_no_change: int = 5
    average: object = False
    clip_norm: object = None
    intercept_decay: float = 1.0
    shuffle: bool = True
    random_state: object = None
    trace_objective: str = "full"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.trace_objective not in ("full", "running"):
            raise ValueError(f"trace_objective must be 'full' or 'running', got {self.trace_objective!r}")
        for name in ("batch_size", "max_epochs", "n_iter_no_change"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.epsilon > 0.0 or not self.power_t >= 0.0:
            raise ValueError("epsilon must be positive and power_t non-negative")
        if self.tol is not None and not self.tol >= 0.0:
            raise ValueError(f"tol must be non-negative or None, got {self.tol!r}")
        if self.clip_norm is not None and not self.clip_norm > 0.0:
            raise ValueError(f"clip_norm must be positive or None, got {self.clip_norm!r}")
        if not 0.0 < self.intercept_decay <= 1.0:
            raise ValueError(f"intercept_decay must be in (0, 1], got {self.intercept_decay!r}")
        if not isinstance(self.average, (bool, int, np.integer)) or self.average < 0:
            raise ValueError(f"average must be a bool or a non-negative int, got {self.average!r}")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or not isinstance(self.random_state, (int, np.integer))
                                              or self.random_state < 0):
            raise TypeError(f"random_state must be a non-negative int or None, got {self.random_state!r}")
        if self.learning_rate is not None:
            rate = np.asarray(self.learning_rate, dtype=np.float64)
            if rate.ndim > 1 or not np.all(np.isfinite(rate)) or np.any(rate <= 0):
                raise ValueError(f"learning_rate must be positive (a scalar or one per model), got {self.learning_rate!r}")


@dataclass
class StochasticState:
    """Everything a stochastic run needs to continue exactly where it stopped.

    Pass ``result.info["state"]`` back as ``state=``: two calls of one epoch give bitwise the same
    parameters as one call of two epochs. Arrays are model-major with the intercept appended
    (``(n_columns, n_features + 1)``); after a non-finite error the state holds the diverged values.
    """

    signature: tuple
    seed: int
    params: np.ndarray
    coef_scale: np.ndarray
    moments: np.ndarray
    average: np.ndarray
    l1_total: np.ndarray
    l1_applied: np.ndarray
    learning_rate: np.ndarray          # eta0 per column (the "adaptive" schedule divides it)
    optimal_t0: np.ndarray
    step_count: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    epoch: int = 0
    best_objective: np.ndarray = None  # per model, for the stopping rule
    no_improvement: np.ndarray = None
    converged: np.ndarray = None

    def copy(self):
        """An independent copy (every array copied; ``copy.deepcopy`` took ~40 us of a partial_fit)."""
        return StochasticState(**{name: value.copy() if isinstance(value, np.ndarray) else value
                                  for name, value in vars(self).items()})

    @property
    def n_steps(self):
        return int(self.step_count[0])

    def averaging(self, average_start):
        return average_start > 0 and self.n_steps >= average_start


def _average_start(average):
    return 1 if average is True else int(average)


def _signature(objective, options):
    return (options.optimizer, objective.loss.name, objective.n_features, objective.n_outputs,
            objective.fit_intercept, bool(options.amsgrad), _average_start(options.average) > 0)


def _column_models(objective):
    """Model index of each coefficient column (all zeros for the K classes of one multinomial model)."""
    if objective.loss.is_multiclass:
        return np.zeros(objective.n_outputs, dtype=np.intp)
    return np.arange(objective.n_outputs)


def _optimal_t0(objective, alpha):
    """scikit-learn's t0 of the "optimal" schedule: the first rate is ``typw / max(1, dloss(-typw))``."""
    from ..kernels import losses

    typw = math.sqrt(1.0 / math.sqrt(alpha))
    dloss = 1.0 if objective.loss.is_multiclass else losses.grad_point(
        objective.loss.loss_id, 1.0, -typw, objective.loss.param)
    initial_eta0 = typw / max(1.0, dloss)
    return 1.0 / (initial_eta0 * alpha)


def _new_state(objective, options, w0):
    n_features, n_columns = objective.n_features, objective.n_outputs
    models = _column_models(objective)
    width = n_features + 1
    coef, intercept = objective.unpack(w0)
    params = np.empty((n_columns, width))
    transposed_copy(coef, params[:, :n_features])
    params[:, n_features] = intercept
    rate = options.learning_rate if options.learning_rate is not None else _DEFAULT_RATE[options.optimizer]
    rate = np.asarray(rate, dtype=np.float64)
    if rate.ndim == 1 and rate.shape != (objective.n_models,):
        raise ValueError(f"learning_rate has {rate.shape[0]} entries but the objective has {objective.n_models} models")
    rate = np.broadcast_to(rate, (objective.n_models,))[models].copy()
    alpha = (objective.l2 + objective.l1)[models]
    if options.schedule == "optimal":
        if np.any(alpha <= 0):
            raise ValueError("the 'optimal' schedule needs a penalty: l2 + l1 > 0 for every model")
        optimal_t0 = np.array([_optimal_t0(objective, a) for a in alpha])
    else:
        optimal_t0 = np.zeros(n_columns)
    n_slots = _MOMENT_SLOTS[options.optimizer] + (1 if options.amsgrad and options.optimizer in ("adam", "adamw") else 0)
    any_l1 = options.optimizer == "sgd" and np.any(objective.l1 > 0)
    seed = options.random_state
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    n_models = objective.n_models
    return StochasticState(
        signature=_signature(objective, options), seed=int(seed), params=params,
        coef_scale=np.ones(n_columns), moments=np.zeros((n_slots, n_columns, width)),
        average=np.zeros((n_columns if _average_start(options.average) > 0 else 0, width)),
        l1_total=np.zeros(n_columns), l1_applied=np.zeros((n_columns if any_l1 else 0, width)),
        learning_rate=rate, optimal_t0=optimal_t0,
        best_objective=np.full(n_models, np.inf), no_improvement=np.zeros(n_models, dtype=np.int64),
        converged=np.zeros(n_models, dtype=bool))


def _scratch_state(state, width=None, narrow_to=None):
    """A copy of ``state`` for a compiling call; with ``narrow_to``, its arrays whose last axis is the
    weights' ``width`` are zeros ``narrow_to`` wide instead (same types, almost no memory)."""
    def scratch(value):
        if not isinstance(value, np.ndarray):
            return value
        if narrow_to is not None and value.ndim >= 2 and value.shape[-1] == width:
            return np.zeros(value.shape[:-1] + (narrow_to,), dtype=value.dtype)
        return value.copy()

    return StochasticState(**{name: scratch(value) for name, value in vars(state).items()})


def _returned_weights(state, options):
    """The weights the solver answers with, model-major: the averaged iterate once averaging started."""
    return state.average if state.averaging(_average_start(options.average)) else state.params


def _flat_params(objective, state, options):
    """The solver's answer as flat parameters (:func:`_returned_weights` in ``objective.pack``'s layout)."""
    source = _returned_weights(state, options)
    n_features = objective.n_features
    matrix = np.empty(objective.coef_shape)  # objective.pack's layout, filled without numpy's slow transpose
    transposed_copy(source[:, :n_features], matrix[:n_features])
    if objective.fit_intercept:
        matrix[n_features] = source[:, n_features]
    return matrix.ravel()


def _minibatch_threads(objective, options):
    """Threads for the rows of one dense minibatch: the objective's threads when the optimizer forms
    the dense minibatch gradient and each thread's share of a batch holds enough values to pay for a
    parallel region per step (see ``kernels.stochastic_dense``), else 1."""
    from ..kernels._optimizers import MIN_BATCH_VALUES_PER_THREAD

    threads = objective.n_threads
    sparse_updates = options.optimizer == "sgd" and not options.clip_norm
    if sparse_updates or threads <= 1:
        return 1
    rows_per_thread = options.batch_size // threads
    return threads if rows_per_thread * objective.n_features >= MIN_BATCH_VALUES_PER_THREAD else 1


def _csr_step_threads(objective, options):
    """Threads for the step of a CSR minibatch: the objective's threads when the optimizer updates
    every coordinate each step and each thread gets enough of them to pay for a parallel region per
    step (see ``kernels.stochastic_csr``), else 1."""
    from ..kernels._optimizers import MIN_STEP_COORDINATES_PER_THREAD

    threads = objective.n_threads
    sparse_updates = options.optimizer == "sgd" and not options.clip_norm
    if sparse_updates or threads <= 1:
        return 1
    coordinates = (objective.n_features + 1) * objective.n_outputs
    return threads if coordinates >= MIN_STEP_COORDINATES_PER_THREAD * threads else 1


# Per-sample SGD over shuffled rows larger than this (bytes of X) gets a prefetching thread (see
# ``kernels.stochastic_dense.prefetch_rows_ahead``); smaller data stays in the caches after one epoch.
PREFETCH_THREAD_MIN_BYTES = 1 << 25
# how far ahead of the epoch the prefetching thread asks for rows, and how many polls without progress
# it waits before giving up. Measured (1e6 x 100 float64 shuffled epoch, log loss, interleaved runs):
# 0.24-0.26 s without the thread, 0.165-0.17 s with it 200 to 700 rows ahead, 0.18-0.26 s 1 024 ahead
# (the rows start falling out of the caches before use).
PREFETCH_LEAD_ROWS = 256
PREFETCH_PATIENCE = 20_000_000


def _prefetch_thread_possible(objective, options, n_rows):
    """The part of :func:`_use_prefetch_thread` that does not depend on the epoch's active columns:
    shuffled rows of a large dense X, and a second thread allowed."""
    return (options.shuffle and objective.n_threads >= 2 and n_rows > PREFETCH_LEAD_ROWS
            and objective.X.dense.nbytes >= PREFETCH_THREAD_MIN_BYTES)


def _use_prefetch_thread(objective, options, n_rows, columns):
    """Whether a per-sample epoch runs with a prefetching thread: plain SGD one row at a time on models
    of a one-score loss (the epoch kernel's per-sample loops, the ones that report their position),
    shuffled rows of a large dense X, and a second thread allowed."""
    from ..kernels._optimizers import runs_per_sample_loop

    if not _prefetch_thread_possible(objective, options, n_rows):
        return False
    n_loss = 1 if objective.loss.is_multiclass else objective.n_outputs
    return bool(runs_per_sample_loop.py_func(OPTIMIZERS.index(options.optimizer), options.clip_norm or 0.0,
                                             options.batch_size, columns, n_loss))


# Several epochs to a kernel call run at most this many values of X (rows x features, or CSR
# nonzeros) and MAX_EPOCHS_PER_CALL epochs: a call's epochs cannot be interrupted (Ctrl-C waits for the
# compiled call), so a call is kept to some tens of milliseconds (2^24 values: ~20-60 ms here); a fit on
# breast_cancer (17 000 values) runs its epochs in one call.
MAX_VALUES_PER_CALL = 1 << 24
MAX_EPOCHS_PER_CALL = 1024


def _epochs_per_call(objective, max_epochs):
    """How many epochs one kernel call runs when nothing in Python has to see each epoch."""
    values = objective.X.unchecked_arrays()[0].size  # the dense values, or the CSR nonzeros
    return int(max(1, min(max_epochs, MAX_EPOCHS_PER_CALL, MAX_VALUES_PER_CALL // max(values, 1))))


@one_blas_thread_in_fit
def stochastic_gradient(objective, w0=None, options=StochasticOptions(), state=None, callback=None):
    """Minimize a :class:`fastml.LinearObjective` with minibatch SGD, momentum, Nesterov, Adam or AdamW.

    Parameters
    ----------
    objective : LinearObjective
        Loss, data (dense C-ordered float32/float64 or CSR), sample weights, penalties and intercept.
    w0 : ndarray, optional
        Flat start parameters (default: ``objective.initial_parameters()``); not with ``state``.
    options : StochasticOptions
    state : StochasticState, optional
        ``result.info["state"]`` of a previous call: continue exactly where it stopped.
    callback : callable, optional
        Called with an :class:`IterationInfo` after every epoch; returning True stops.

    Returns
    -------
    SolverResult
        ``n_iter`` counts the epochs of this call (per model for a batched objective), ``converged``
        says whether the stopping rule was met; ``info`` holds ``state``, ``learning_rate`` (current
        eta0 per model) and ``n_steps`` (optimizer steps so far).

    Raises
    ------
    NonFiniteError
        (a FloatingPointError and a ValueError) when the loss or a weight stops being finite.
    """
    from ..kernels import _optimizers as ids
    from ..kernels import epoch_control as control
    from ..kernels._jit import call_parallel
    from ..kernels.stochastic_csr import stochastic_epochs_csr, unsigned_index_views
    from ..kernels.stochastic_dense import prefetch_rows_ahead, stochastic_epochs_dense

    if not isinstance(objective, LinearObjective):
        raise TypeError(f"stochastic_gradient takes a fastml.LinearObjective, got {type(objective).__name__}")
    if not isinstance(options, StochasticOptions):
        raise TypeError(f"options must be a StochasticOptions, got {type(options).__name__}")
    design = objective.X
    if not design.is_sparse and not design.dense.flags.c_contiguous:
        raise ValueError("stochastic solvers read the rows of X in random order and need a C-contiguous X; "
                         "got an F-ordered array: pass np.ascontiguousarray(X)")
    if state is None:
        w0 = objective.initial_parameters() if w0 is None else np.asarray(w0, dtype=np.float64)
        if w0.shape != (objective.n_params,):
            raise ValueError(f"w0 must have shape ({objective.n_params},), got {w0.shape}")
        if not np.all(np.isfinite(w0)):
            raise ValueError("w0 contains NaN or infinity")
        state = _new_state(objective, options, w0)
    else:
        if w0 is not None:
            raise ValueError("pass either w0 or state: a state already holds the parameters")
        if not isinstance(state, StochasticState) or state.signature != _signature(objective, options):
            raise ValueError("state does not match this objective and options (optimizer, loss, shape, "
                             "fit_intercept, amsgrad and averaging must be the same as when it was created)")

    models = _column_models(objective)
    n_models, n_samples = objective.n_models, design.n_samples
    average_start = _average_start(options.average)
    hyper = np.zeros(ids.N_HYPER)
    hyper[ids.POWER_T] = options.power_t
    hyper[ids.MOMENTUM_DECAY] = options.momentum
    hyper[ids.BETA1], hyper[ids.BETA2], hyper[ids.EPSILON] = options.beta1, options.beta2, options.epsilon
    hyper[ids.CLIP_NORM] = options.clip_norm or 0.0
    hyper[ids.AVERAGE_START] = average_start
    hyper[ids.AMSGRAD] = float(options.amsgrad)
    hyper[ids.INTERCEPT_DECAY] = options.intercept_decay
    columns = np.zeros((ids.N_COLUMN_SETTINGS, objective.n_outputs))
    columns[ids.L2], columns[ids.L1] = objective.l2[models], objective.l1[models]
    columns[ids.SCALE] = n_samples / objective.weight_sum[models]
    columns[ids.OPTIMAL_T0] = state.optimal_t0
    optimizer_id = OPTIMIZERS.index(options.optimizer)
    schedule_id = SCHEDULES.index(options.schedule)
    loss_sum = np.zeros(1 if objective.loss.is_multiclass else objective.n_outputs)
    eta = np.zeros(objective.n_outputs)
    full_trace = options.trace_objective == "full"
    stop_rule = np.zeros(control.N_STOP_RULE)
    stop_rule[control.STOP_TOL] = -1.0 if options.tol is None else options.tol
    stop_rule[control.STOP_PATIENCE] = options.n_iter_no_change
    stop_rule[control.STOP_ADAPTIVE] = float(options.schedule == "adaptive")
    # the kernel applies the rule to the running objective; the exact one is only known here
    kernel_stop_rule = stop_rule.copy()
    if full_trace:
        kernel_stop_rule[control.STOP_TOL] = -1.0
    weight_sum = np.ascontiguousarray(objective.weight_sum, dtype=np.float64)
    seed = np.uint64(state.seed % 2**64)
    if design.is_sparse:
        step_threads = _csr_step_threads(objective, options)
        data, indices, indptr = design.csr
        csr = (data, *unsigned_index_views(indices, indptr))
        prefetching = False

        def run_epochs(order, arrays, settings):
            return call_parallel(stochastic_epochs_csr, *csr, objective.n_features, *common, order, *fixed,
                                 *arrays, step_threads, *settings, serial=step_threads == 1)
    else:
        threads = _minibatch_threads(objective, options)
        progress = np.zeros(1, dtype=np.int64)  # the epoch's position, for the prefetching thread
        prefetching = _use_prefetch_thread(objective, options, n_samples, columns)

        def run_epochs(order, arrays, settings):
            helper = None
            if prefetching and order.shape[0] == n_samples:
                helper = threading.Thread(target=prefetch_rows_ahead, daemon=True, name="fastml-prefetch",
                                          args=(design.dense, *common, order, progress, PREFETCH_LEAD_ROWS,
                                                PREFETCH_PATIENCE))
                progress[0] = 0
                helper.start()
            try:
                return call_parallel(stochastic_epochs_dense, design.dense, *common, order, *fixed, *arrays,
                                     progress, threads, *settings, serial=threads == 1)
            finally:
                if helper is not None:
                    progress[0] = order.shape[0]  # the helper stops even if the epoch did not finish
                    helper.join()
    common = (objective.y, objective.sample_weight)
    fixed = (objective.loss.loss_id, objective.loss.param, optimizer_id, schedule_id, options.batch_size,
             objective.fit_intercept, objective.loss.is_multiclass, hyper)

    def kernel_arrays(target):
        return (columns, target.params, target.coef_scale, target.moments, target.average, target.l1_total,
                target.l1_applied, target.step_count, loss_sum, eta)

    def epoch_settings(target, n_epochs, n_iter, values, trace_out, trace_start):
        return (seed, np.int64(target.epoch), np.int64(n_epochs), bool(options.shuffle), models, weight_sum,
                kernel_stop_rule, target.learning_rate, target.best_objective, target.no_improvement,
                target.converged, n_iter, values, trace_out, float(trace_start))

    # Epochs run several to a kernel call unless Python has to see each one: a callback, the exact
    # objective in the trace (a fused pass evaluated here), or a prefetching thread (started per epoch).
    one_epoch_per_call = callback is not None or full_trace or prefetching
    epochs_per_call = 1 if one_epoch_per_call else _epochs_per_call(objective, options.max_epochs)
    n_iter = np.zeros(n_models, dtype=np.int64)
    values = np.zeros(n_models)
    trace_out = np.zeros((epochs_per_call, control.N_TRACE))

    # Compile (or load) the kernel on scratch state, so the clock never counts it, where the clock starts
    # here: one epoch per call. Several epochs per call start it at the kernel's entry instead (a
    # negative trace start, see kernels.epoch_control): ~20 us less per 50-row partial_fit.
    if one_epoch_per_call:
        scratch_settings = (np.zeros(n_models, dtype=np.int64), np.zeros(n_models), np.zeros((1, control.N_TRACE)))
        if design.is_sparse:
            # on an empty CSR matrix one feature wide (the same array types): at full width the call's fixed
            # work (the weights' feature-major copies, the final L1 and averaging passes) and the scratch
            # copies cost ~25 ms at 10 classes x 2^18 features
            scratch = _scratch_state(state, objective.n_features + 1, narrow_to=2)
            call_parallel(stochastic_epochs_csr, csr[0][:0], csr[1][:0], csr[2][:1], 1, *common,
                          np.zeros(0, dtype=np.int64), *fixed, *kernel_arrays(scratch), step_threads,
                          *epoch_settings(scratch, 1, *scratch_settings, 0.0), serial=step_threads == 1)
        else:  # one row: the weights' width is X's
            scratch = _scratch_state(state)
            run_epochs(np.zeros(min(1, n_samples), dtype=np.int64), kernel_arrays(scratch),
                       epoch_settings(scratch, 1, *scratch_settings, 0.0))
    if prefetching:
        one_row, done = np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)  # compiles (or loads) only
        prefetch_rows_ahead(design.dense, *common, one_row, done, 1, 1)

    trace = Trace()
    if full_trace:  # also compiles the objective kernel (and the Python side's stopping rule) before the clock
        w = _flat_params(objective, state, options)
        start_values, gradient = objective.values_and_gradients(w)
        control.apply_stopping_rule(start_values, np.full(control.N_STOP_RULE, -1.0), models,
                                    state.learning_rate.copy(), state.best_objective.copy(),
                                    state.no_improvement.copy(), state.converged.copy())
        trace.start()
        notify(None, trace, state.epoch, start_values.sum(), np.linalg.norm(gradient), np.nan, w)
    elif one_epoch_per_call:
        trace.start()

    order = np.empty(n_samples, dtype=np.int64)
    epochs_left = options.max_epochs
    stopped_by_callback = False
    while epochs_left > 0:
        n_epochs = min(epochs_per_call, epochs_left)
        first_epoch = state.epoch
        clock_started = trace.origin is not None
        status, epochs_run = run_epochs(order, kernel_arrays(state), epoch_settings(
            state, n_epochs, n_iter, values, trace_out, trace.origin if clock_started else -1.0))
        if not clock_started:  # the kernel's entry, or now when it ran no epoch
            trace.start_at(trace_out[0, control.TRACE_ORIGIN] if epochs_run else time.perf_counter())
        state.epoch += epochs_run
        epochs_left -= epochs_run
        if status == ids.NON_FINITE:
            raise NonFiniteError(
                f"the loss or the weights became NaN or infinite during epoch {state.epoch} "
                f"({options.optimizer}, learning rate {state.learning_rate.max():.3g}): scale the features "
                "(e.g. StandardScaler) or lower the learning rate")
        if status == ids.NON_FINITE_OBJECTIVE:
            raise NonFiniteError(f"the objective is not finite after epoch {state.epoch}: scale the features "
                                 "(e.g. StandardScaler) or lower the learning rate")
        if not one_epoch_per_call:
            for row in range(epochs_run):
                trace.add_row(first_epoch + row + 1, trace_out[row, control.TRACE_SECONDS],
                              trace_out[row, control.TRACE_OBJECTIVE], np.nan, trace_out[row, control.TRACE_STEP])
            if epochs_run < n_epochs:  # every model has converged
                break
            continue
        if epochs_run == 0:  # every model had converged
            break
        # one epoch: the trace row of the returned parameters (flat ones only for the full objective or
        # a callback: a transposing copy of the weights)
        w = _flat_params(objective, state, options) if full_trace or callback is not None else None
        if full_trace:
            exact_values, gradient = objective.values_and_gradients(w)
            if not np.all(np.isfinite(exact_values)):
                raise NonFiniteError(f"the objective is not finite after epoch {state.epoch}: scale the "
                                     "features (e.g. StandardScaler) or lower the learning rate")
            control.apply_stopping_rule(exact_values, stop_rule, models, state.learning_rate, state.best_objective,
                                        state.no_improvement, state.converged)
            trace.record(state.epoch, exact_values.sum(), np.linalg.norm(gradient), trace_out[0, control.TRACE_STEP])
        else:
            trace.add_row(state.epoch, trace_out[0, control.TRACE_SECONDS], trace_out[0, control.TRACE_OBJECTIVE],
                          np.nan, trace_out[0, control.TRACE_STEP])
        if ask_callback(callback, trace, w):
            stopped_by_callback = True
            break

    converged = state.converged.copy()
    if stopped_by_callback:
        message = "stopped by the callback"
    elif converged.all():
        message = f"objective improved by less than tol={options.tol} for {options.n_iter_no_change} epochs"
    else:
        message = f"reached max_epochs={options.max_epochs}"
    batched = n_models > 1
    return SolverResult(
        params=_flat_params(objective, state, options),
        n_iter=n_iter if batched else int(n_iter[0]),
        converged=converged if batched else bool(converged[0]),
        trace=trace, message=message,
        info={"state": state, "learning_rate": state.learning_rate.copy(), "n_steps": state.n_steps,
              "epoch": state.epoch})
