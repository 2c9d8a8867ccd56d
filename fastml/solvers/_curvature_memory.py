"""The L-BFGS curvature pairs of many models in arrays, and the two-loop recursion for all at once.

Design: a batched L-BFGS run (K penalty strengths, K folds) used to keep a deque of (s, y, rho) per
model and run the two-loop recursion model by model: with many models that Python loop, not the pass
over ``X``, set the time on small data (50 penalty strengths on breast_cancer: 117-134 ms per batched
fit that way, 74 ms this way). Here the pairs of every model live in ring buffers of shape
(n_models, memory, size) and each step of the recursion is one vectorized operation over the models
being updated; a model with fewer pairs than another simply skips the missing steps (its
coefficient is masked to zero). Each model's direction is the one its own history gives.
"""
import numpy as np


class CurvatureMemory:
    """The newest ``memory`` pairs ``(s, y, 1 / s.y)`` of each of ``n_models`` models.

    Parameters
    ----------
    n_models, size, memory : int
        Models, parameters per model, pairs kept per model (older ones are overwritten).
    """

    def __init__(self, n_models, size, memory):
        self.memory = int(memory)
        self.s = np.zeros((n_models, self.memory, size))
        self.y = np.zeros((n_models, self.memory, size))
        self.rho = np.zeros((n_models, self.memory))
        self.count = np.zeros(n_models, dtype=np.int64)
        self.newest = np.full(n_models, -1, dtype=np.int64)

    def clear(self, models):
        """Forget the pairs of ``models`` (indices or a boolean mask)."""
        self.count[models] = 0
        self.newest[models] = -1

    def add(self, models, s, y, rho):
        """Append one pair to each of ``models`` (int array): rows of ``s``, ``y`` and ``rho``."""
        slots = (self.newest[models] + 1) % self.memory
        self.s[models, slots] = s
        self.y[models, slots] = y
        self.rho[models, slots] = rho
        self.newest[models] = slots
        self.count[models] = np.minimum(self.count[models] + 1, self.memory)

    def directions(self, models, gradients, initial_inverse, identity_scales=None):
        """``-H_k g_k`` for each of ``models`` (int array) with ``gradients`` their rows (n, size).

        ``initial_inverse(q, models)`` applies each model's initial estimate H0 to the rows of ``q``.
        Models without pairs get ``-H0 g``. ``identity_scales`` (per model, optional) says that H0 is
        that multiple of the identity: one such model runs the compiled two-loop recursion.
        """
        if identity_scales is not None and len(models) == 1 and self.count[models[0]] > 0:
            from ..kernels.lbfgs_loop import two_loop_direction

            k = models[0]
            out = np.empty((1, self.s.shape[2]))
            two_loop_direction(self.s[k], self.y[k], self.rho[k], int(self.newest[k]), int(self.count[k]),
                               np.ascontiguousarray(gradients[0], dtype=np.float64), float(identity_scales[k]),
                               out[0])
            return out
        q = np.array(gradients, dtype=np.float64)
        counts = self.count[models]
        depth = int(counts.max(initial=0))
        # each model's pairs newest first; a missing pair gets rho = 0, which zeroes its alpha and
        # beta (its stale s, y are finite)
        ages = (self.newest[models, None] - np.arange(depth)) % self.memory
        rho = np.where(np.arange(depth) < counts[:, None], np.take_along_axis(self.rho[models], ages, axis=1), 0.0)
        alphas = np.empty((len(models), depth))
        for i in range(depth):  # newest pair first
            s, y = self._pair(models, ages[:, i])
            alphas[:, i] = alpha = rho[:, i] * np.einsum("kn,kn->k", s, q)
            q -= alpha[:, None] * y
        q = initial_inverse(q, models)
        for i in range(depth - 1, -1, -1):  # oldest pair first
            s, y = self._pair(models, ages[:, i])
            beta = rho[:, i] * np.einsum("kn,kn->k", y, q)
            q += (alphas[:, i] - beta)[:, None] * s
        return -q

    def _pair(self, models, slots):
        """``(s, y)`` of one age for ``models``, each (len(models), size): views of the ring buffers
        when the models are a run of consecutive indices at the same slot (always so for one model),
        else gathered copies. Gathering the whole history up front copied memory x size x models
        twice per direction: 40 % of an iteration for one model of 2^18 features."""
        first, slot = models[0], slots[0]
        if np.all(slots == slot) and np.array_equal(models, np.arange(first, first + len(models))):
            rows = slice(first, first + len(models))
            return self.s[rows, slot], self.y[rows, slot]
        return self.s[models, slots], self.y[models, slots]


_warmed = False


def warm_direction_kernels():
    """Compile (or load) the compiled pieces a Python L-BFGS loop calls after its first evaluation
    (the two-loop recursion, the feature scales of the convergence test) on tiny inputs, once per
    process: without it their cold compile (about 1 s) fell inside the trace of a large fit."""
    global _warmed
    if _warmed:
        return
    from ..kernels.lbfgs_loop import feature_scales_from_squares, two_loop_direction

    pairs = np.ones((1, 1, 2))
    two_loop_direction(pairs[0], pairs[0].copy(), np.ones((1, 1))[0], 0, 1, np.ones(2), 1.0, np.empty((1, 2))[0])
    feature_scales_from_squares(np.ones((2, 1)), np.ones(1), 1e-3, np.empty((2, 1)))
    _warmed = True

