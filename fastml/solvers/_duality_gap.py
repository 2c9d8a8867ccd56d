"""Duality gap of L1-penalized logistic regression: a certificate that a model's objective is within a
relative ``tol`` of its optimum, part of the stopping rule of the proximal solvers.

Why: the minimum-norm subgradient test alone (every entry at most ``tol`` times its feature's scale)
is met far from the optimum where the objective is flat: on 80 x 300 data at ``C = 100`` the
proximal gradient solver stopped 6.3 % above the optimum with twice its nonzeros (127 for 65), and
proximal Newton 0.6 % above, both reporting convergence at the default ``tol = 1e-4``. The gap
bounds ``F(w) - F*`` from the current point alone, so "converged" now means both tests.

The problem, per model (weights ``c_i = w_i / sum(w)``, labels ``y_i`` in {0, 1})::

    F(beta, b) = sum_i c_i l(y_i, x_i beta + b) + l2 / 2 ||beta||^2 + l1 ||beta||_1,
    l(y, z) = log(1 + e^z) - y z.

Its Fenchel dual, with ``theta_i = c_i (p_i - y_i)`` for probabilities ``p_i`` (the gradient of the
loss terms: ``X^T theta`` is the smooth gradient less ``l2 beta``), is::

    D(theta) = -sum_i c_i h(p_i) - sum_j (|X^T theta|_j - l1)_+^2 / (2 l2),   h(p) = p log p + (1-p) log(1-p),

subject to ``sum_i theta_i = 0`` with an intercept, and to ``||X^T theta||_inf <= l1`` (instead of the
second sum) when ``l2 = 0``. At the current point ``p_i = sigmoid(z_i)``; the intercept constraint is
met by shifting every ``p_i`` by the intercept's gradient (``X^T theta`` moves by that times the
weighted column means, one cached pass over ``X`` per model), and the ``l2 = 0`` constraint by scaling
``theta`` (``p_i`` moves towards ``y_i``, staying a probability). ``F - D >= F - F* >= 0``, and it
tends to 0 at the optimum. Each evaluation costs one pass over ``X`` (the raw predictions); the
solvers ask for it only for models that pass the subgradient test, and only where it is informative
(:meth:`LogisticL1Gap.applies`: an L2 part, or ``l1 >= tol``).
"""
import numpy as np
from scipy.special import expit, xlogy

# the smallest relative gap asked for: F and D are sums of n terms of the size of the intercept-only
# objective, and F itself can be ~1e-3 of that (nearly separable data); at optima reached with
# tol = 1e-13 the gaps measured 1e-15 to 1.7e-11
MIN_RELATIVE_GAP = 1e-9


class LogisticL1Gap:
    """Relative duality gaps ``(F - D) / F`` of the L1 logistic models of one objective."""

    def __init__(self, view):
        self.view = view
        self._column_means = {}  # model -> X^T c (n_features,), for the intercept shift

    @classmethod
    def for_view(cls, view):
        """The certificate for ``view``'s models, or None when none of them is an L1 logistic model."""
        objective = view.objective
        if objective.loss.name != "log_loss" or not np.any(view.l1 > 0):
            return None
        return cls(view)

    def applies(self, k, tol):
        """Whether model ``k``'s gap is informative at ``tol``: an L1 part, and either an L2 part or
        ``l1 >= tol``. Without L2 the dual point is scaled by ``l1 / ||X^T theta||_inf``, and where the
        subgradient test passes ``||X^T theta||_inf`` can be ``l1 + tol``: for ``l1 << tol`` the scaled
        point (and the gap) says nothing, while the penalty is then below what the test resolves
        anyway (a test with l1 = 1e-9 and tol = 1e-3 ran 20 000 iterations at a gap of 2 %)."""
        l1 = self.view.l1[k]
        return l1 > 0 and (self.view.objective.l2[k] > 0 or l1 >= tol)

    def relative_gaps(self, models, smooth_gradients, values, rows):
        """``(F - D) / max(F, tiny)`` for the models ``rows`` at ``models`` (n_models, model_size), with
        ``smooth_gradients`` there (without the L1 term) and ``values`` the full objective (with it)."""
        view, objective = self.view, self.view.objective
        rows = np.asarray(rows, dtype=np.int64)
        penalized = view.penalized
        coefs = models[rows][:, penalized]  # (len(rows), n_features)
        intercepts = models[rows][:, ~penalized][:, 0] if objective.fit_intercept else np.zeros(len(rows))
        raw = objective.X.raw_prediction(coefs.T, intercepts, objective.n_threads)  # one pass
        gaps = np.empty(len(rows))
        for index, k in enumerate(rows):
            gaps[index] = self._relative_gap(k, raw[:, index], coefs[index], smooth_gradients[k], values[k])
        return gaps

    def _relative_gap(self, k, raw, coef, smooth_gradient, value):
        view, objective = self.view, self.view.objective
        weights = objective.sample_weight[:, k if objective.sample_weight.shape[1] > 1 else 0]
        y = objective.y[:, k if objective.y.shape[1] > 1 else 0]
        c = weights / objective.weight_sum[k]
        l1, l2 = float(view.l1[k]), float(objective.l2[k])
        probabilities = expit(raw)
        # X^T theta: the smooth gradient less the L2 term
        correlation = smooth_gradient[view.penalized] - l2 * coef
        if objective.fit_intercept:
            shift = float(smooth_gradient[~view.penalized][0])  # sum_i theta_i
            if shift != 0.0:
                probabilities = probabilities - shift
                correlation = correlation - shift * self._weighted_column_means(k, c)
        carried = c > 0
        if np.any((probabilities[carried] < 0.0) | (probabilities[carried] > 1.0)):
            return np.inf  # the shifted point is not a probability: no certificate here yet
        if l2 > 0:
            conjugate = float(np.sum(np.maximum(np.abs(correlation) - l1, 0.0) ** 2)) / (2.0 * l2)
        else:
            largest = float(np.max(np.abs(correlation), initial=0.0))
            if largest > l1:  # scale theta into the dual's box: p moves towards y
                probabilities = y + (l1 / largest) * (probabilities - y)
            conjugate = 0.0
        entropy = xlogy(probabilities, probabilities) + xlogy(1.0 - probabilities, 1.0 - probabilities)
        dual = -float(np.dot(c[carried], entropy[carried])) - conjugate
        return (value - dual) / max(value, np.finfo(np.float64).tiny)

    def _weighted_column_means(self, k, c):
        """``X^T c`` of model ``k`` (one pass over ``X`` the first time)."""
        if k not in self._column_means:
            self._column_means[k] = self.view.objective.X.transpose_times(
                c[:, None], self.view.objective.n_threads)[:, 0]
        return self._column_means[k]


def certify(gap, models, smooth_gradients, values, passed, tol, gaps_out):
    """``passed`` (the models that met the subgradient test) less the L1 logistic models whose relative
    duality gap is above ``max(tol, MIN_RELATIVE_GAP)``; unchanged when ``gap`` is None. The gaps
    computed are written to ``gaps_out`` (per model)."""
    if gap is None:
        return passed
    rows = [k for k in np.flatnonzero(passed) if gap.applies(k, tol)]
    if not rows:
        return passed
    certified = passed.copy()
    relative = gap.relative_gaps(models, smooth_gradients, values, rows)
    gaps_out[rows] = relative
    certified[rows] = relative <= max(tol, MIN_RELATIVE_GAP)
    return certified
