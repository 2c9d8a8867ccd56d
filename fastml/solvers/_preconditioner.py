"""Preconditioner of L-BFGS: each model's Hessian at the current point, estimated on a sample of rows.

Why: L-BFGS learns the curvature from its steps, and on badly scaled data (features over several
orders of magnitude, raw breast_cancer) a scaled identity as initial inverse Hessian leaves it
hundreds or thousands of iterations, each a full pass over ``X``. The Hessian of the mean loss is
an average over rows, so a few thousand rows estimate it well; with it as the initial estimate
``H0 = gamma P^-1`` a step is (nearly) a Newton step and the curvature pairs only correct ``P``.
Measured: raw breast_cancer at C=1 converges in 34 iterations instead of not in 2 000; 200k x 50
logistic data with feature scales over three decades in 31 instead of 574. On well-conditioned data
it does not help (1e6 x 100 standardized logistic: 7 passes with or without, the Hessian at the
start overestimating the curvature near the optimum), hence the "auto" rules below.

The sample is systematic (every ``step``-th row: no random state, no bias unless the rows cycle with
that period) and holds at least ``MIN_SAMPLE_ROWS`` and ``SAMPLE_ROWS_PER_PARAM`` rows per parameter.
A model whose sampled Hessian is not positive definite even after a small diagonal shift (or whose
sampled rows carry no weight) runs unpreconditioned; the optimum is the same either way, only the
path changes.
"""
import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

MIN_SAMPLE_ROWS = 2_000
SAMPLE_ROWS_PER_PARAM = 20
# "auto" preconditions models of at most this many parameters: the sampled Hessian costs
# rows * p^2 flops and each iteration a p x p triangular solve
AUTO_MAX_PARAMS = 512
AUTO_MIN_CONDITION = 100.0
# "auto": plain L-BFGS first, the preconditioner only for a problem still unsolved after this many
# iterations (then a restart with it). Measured: well-conditioned problems (1e6 x 100 standardized
# logistic: 6 iterations; standardized breast_cancer: 20) never pay for the sample Hessian (20-60 ms
# of a 0.3 s fit at 1e6 x 100, 0.6 ms of a 0.45 ms solve on breast_cancer); badly scaled data converge
# in 34 iterations instead of more than 2000 (raw breast_cancer) and 31 instead of 574 (200k x 50,
# feature scales over three decades)
AUTO_PATIENCE = 20


# see complete_curvature: each coefficient's curvature is at least this share of what the full data's
# column gives at the mean curvature
CURVATURE_FLOOR = 0.25


def complete_curvature(hessians, objective):
    """Sampled Hessians (n_models, p, p) with each coefficient's curvature at least ``CURVATURE_FLOOR``
    times what the full data's column gives at the sample's mean curvature: ``H_jj >= l2 + floor *
    kappa * mean(x_j^2)``, ``kappa`` the mean pointwise curvature (the intercept's entry; without an
    intercept, the median over the columns of ``(H_jj - l2) / mean(x_j^2)``, which a few missed
    columns do not move).

    Why: a column the sample nearly misses (a feature present in 59 of 1e6 rows, none of them
    sampled) has no curvature in the sampled Hessian but its L2 part, and the preconditioned steps
    along it were enormous: 67 full passes of L-BFGS from a sample start against 18 from the plain
    start, 4 with this floor. A well-sampled column is left as it is (its entry is about ``kappa *
    mean(x_j^2)`` already); increasing a diagonal keeps the matrix positive definite.
    """
    full_squares = objective.column_mean_squares()
    n_features = objective.n_features
    indices = np.arange(n_features)
    completed = np.array(hessians, dtype=np.float64)
    for k, hessian in enumerate(completed):
        l2 = float(objective.l2[k])
        diagonal = hessian[indices, indices]
        if objective.fit_intercept:
            curvature = hessian[-1, -1]
        else:
            present = full_squares[:, k] > 0
            curvature = (float(np.median((diagonal[present] - l2) / full_squares[present, k]))
                         if present.any() else 0.0)
        if np.isfinite(curvature) and curvature > 0:
            hessian[indices, indices] = np.maximum(diagonal, l2 + CURVATURE_FLOOR * curvature * full_squares[:, k])
    return completed


class HessianPreconditioner:
    """Cholesky factors of the sampled Hessians, one per model (None where unavailable)."""

    def __init__(self, factors):
        self.factors = factors

    @classmethod
    def build(cls, view, models, skip_well_conditioned=False):
        """The preconditioner of every model of ``view`` at the points ``models`` (n_models, model_size).

        ``skip_well_conditioned``: leave out models whose sampled Hessian has a condition number
        below ``AUTO_MIN_CONDITION``; there the scaled identity of plain L-BFGS is as good, and a
        sampled Hessian only adds its sampling error (measured on 2e5 x 100 standard-normal
        logistic data: the same 7 passes either way).
        """
        objective = view.objective
        step = sample_step(view)
        from ..kernels._blas_threads import limit_blas_threads

        # one BLAS thread: the sample is small, and OpenBLAS threads left spinning after a call can
        # slow the next pass of the objective's own (OpenMP) threads on a 2-core machine.
        # A start where the loss overflows gives no preconditioner (the solver then says why).
        with np.errstate(all="ignore"), limit_blas_threads(1):
            hessians = objective.hessian(view.join(models), row_step=step)
            if step > 1:  # restore the curvature of columns the sample under-represents
                hessians = complete_curvature(hessians, objective)
        factors = []
        for hessian in hessians:
            if skip_well_conditioned and _condition_number(hessian) < AUTO_MIN_CONDITION:
                factors.append(None)
            else:
                factors.append(_factor(hessian))
        return cls(factors)

    @classmethod
    def from_hessians(cls, hessians):
        """The preconditioner of Hessians formed elsewhere (one per model), none left out."""
        return cls([_factor(hessian) for hessian in hessians])

    def available(self, k):
        return self.factors[k] is not None

    def inverse(self, k, size=None):
        """``P_k^-1`` as a dense matrix (for the compiled loop, which applies it by a matrix-vector product);
        ``size``: the model's vector length where it has several outputs (a standardized multinomial model)."""
        factor = self.factors[k]
        if isinstance(factor, Standardization):
            return factor.inverse(size)
        return cho_solve(factor, np.eye(len(factor[0])), check_finite=False)

    def solve(self, k, vector):
        """``P_k^-1 vector``."""
        factor = self.factors[k]
        if isinstance(factor, Standardization):
            return factor.solve(vector)
        return cho_solve(factor, vector, check_finite=False)

    def standardized(self, k):
        """Whether model ``k`` runs on :class:`Standardization` (see :func:`with_standardization`)."""
        return isinstance(self.factors[k], Standardization)

    def standardizations(self):
        """Per model its :class:`Standardization`, or None."""
        return [factor if isinstance(factor, Standardization) else None for factor in self.factors]


# rows of the sample behind a Standardization's column means and variances (all rows below)
STANDARDIZATION_ROWS = 20_000
# ... and at most this many values of dense X (32 MB of float64: Newton-CG takes one at the start of
# every fit, for any width), but at least STANDARDIZATION_MIN_ROWS rows
STANDARDIZATION_VALUES = 4_000_000
STANDARDIZATION_MIN_ROWS = 500
# a column whose centred share of its mean square is below this is "far from zero": beside the
# intercept, float64 sums of it lose ~6 of their 16 digits of its spread (a timestamp: all of them)
OFFSET_SHARE = 1e-6


class Standardization:
    """``P^-1 = A D A^T``: L-BFGS in the coordinates of centred, unit-variance features.

    Why: steepest descent is useless on a column far from zero relative to its spread (a timestamp,
    1.7e9 +- 1e7; in the tests 1e8 +- 1): from the intercept-only start its gradient is the useful
    signal, but any step along it shifts every score by ~1e8 times the step, and the decrease the
    line search can see is below the objective's rounding (condition number ~1e16). Its sampled
    Hessian is singular in floating point too (``E[x^2] = 1e16 + 1``). scikit-learn's L-BFGS from
    zero coefficients gets away with using that column as a second intercept; fastml's stalled at
    the intercept-only model. In centred, scaled coordinates ``x' = (x - mean) / sd`` (the intercept
    absorbing the means, ``b = b' - mean . w``) the problem is as well-conditioned as standardized data,
    and L-BFGS with this ``P^-1`` as its first inverse Hessian takes the steps it would take there.

    ``mean`` and ``variance`` per feature (weighted, from a row sample); without an intercept there
    is no centring and ``variance`` is the mean square. ``P^-1 q``: ``u = A^T q`` (``u_w = q_w - mean
    q_b``), ``v = u / variance`` (``v_b = u_b``), ``A v`` (``b -= mean . v_w``). A multinomial model's
    vector (the ``(n_features + fit_intercept, n_classes)`` matrix, flat) is transformed class by class.
    ``offset_columns``: the features whose spread is below ``OFFSET_SHARE`` of their root mean square
    (float64 loses ~6 of its digits of them beside an intercept; see :meth:`of`).
    """

    def __init__(self, mean, variance, fit_intercept, penalty_variance=0.0, centred_share=None):
        self.mean = np.asarray(mean, dtype=np.float64)
        variance = np.asarray(variance, dtype=np.float64)
        # the convergence test's units: the features' own spread
        self.inverse_sd = 1.0 / np.sqrt(variance)
        # P's diagonal: the spread plus the L2 penalty's curvature in the same units (l2 / the loss's
        # mean curvature): in standardized coordinates the penalty weighs a column by 1 / variance, and
        # a column of small spread (a rare pixel) is held by it more than by the data
        self.inverse_variance = 1.0 / (variance + penalty_variance)
        self.fit_intercept = bool(fit_intercept)
        # each column's variance / mean square (1: unknown, or no intercept)
        self.centred_share = np.ones(len(self.mean)) if centred_share is None else centred_share

    @property
    def offset_columns(self):
        """The columns whose spread is below ``OFFSET_SHARE`` of their root mean square."""
        return np.flatnonzero(self.centred_share < OFFSET_SHARE)

    def _as_matrix(self, vector):
        """The flat vector as (n_features + fit_intercept, n_outputs)."""
        vector = np.asarray(vector, dtype=np.float64)
        return vector.reshape(len(self.mean) + self.fit_intercept, -1)

    def solve(self, vector):
        matrix = self._as_matrix(vector)
        n_features = len(self.mean)
        out = np.empty_like(matrix)
        if not self.fit_intercept:
            out[:] = matrix * self.inverse_variance[:, None]
            return out.reshape(np.shape(vector))
        coef_part = (matrix[:n_features] - np.outer(self.mean, matrix[n_features])) * self.inverse_variance[:, None]
        out[:n_features] = coef_part
        out[n_features] = matrix[n_features] - self.mean @ coef_part
        return out.reshape(np.shape(vector))

    def inverse(self, size=None):
        """``P^-1`` as a dense matrix, for a model vector of ``size`` entries (default one output)."""
        size = len(self.mean) + self.fit_intercept if size is None else size
        return np.stack([self.solve(column) for column in np.eye(size)], axis=1)

    def standardized_gradient(self, gradient):
        """The gradient in the standardized coordinates ``w' = sd * w``: ``(g_w - mean g_b) / sd`` and ``g_b``.

        Why the convergence test of a standardized model takes this one: the raw gradient of a 1e8 +- 1
        column is ``1e8`` times the intercept's plus its own signal, and the intercept's cannot go
        below the rounding of the scores (the intercept is ~1e8 times a coefficient, its last bit
        moves the gradient by ~1e-10): the raw test stays out of reach at the optimum."""
        matrix = self._as_matrix(gradient)
        n_features = len(self.mean)
        out = matrix.copy()
        if self.fit_intercept:
            out[:n_features] = matrix[:n_features] - np.outer(self.mean, matrix[n_features])
        # divided by sd, as the raw test divides by the feature's scale: times sd it was sd^2 too strict
        # (1e14 for a timestamp's spread of 1e7, whose models then ended on the rounding rule instead)
        out[:n_features] *= self.inverse_sd[:, None]
        return out.reshape(np.shape(gradient))

    @classmethod
    def of(cls, objective, k, at=None):
        """Model ``k``'s standardization, from every ``step``-th row (at least ``STANDARDIZATION_ROWS``
        rows, or ``STANDARDIZATION_VALUES`` values of a wide X) and its sample weights. Variances in
        two passes (``E[x^2] - mean^2`` loses a timestamp's spread entirely); a column without a spread
        that float64 resolves (a constant one) keeps its mean square instead, and an all-zero column 1.
        ``at`` (a single model's parameters, with an intercept and L2): the penalty's share of the
        curvature is added to ``P`` (``penalty_variance``), the loss's mean curvature measured on the same
        rows at ``at``."""
        n_samples = objective.X.n_samples
        rows_wanted = max(STANDARDIZATION_MIN_ROWS,
                          min(STANDARDIZATION_ROWS, STANDARDIZATION_VALUES // max(objective.n_features, 1)))
        step = max(1, n_samples // rows_wanted)
        design = objective.X.every_nth_row(step)  # the full finiteness check if it is still owed
        weights = np.ascontiguousarray(objective.sample_weight[::step, min(k, objective.sample_weight.shape[1] - 1)])
        total = weights.sum()
        if not total > 0:
            weights, total = np.ones_like(weights), float(len(weights))
        if design.is_sparse:
            data, indices, indptr = design.csr
            n_features = design.n_features
            entry_weights = np.repeat(weights, np.diff(indptr))
            data = data.astype(np.float64)
            mean = np.bincount(indices, entry_weights * data, minlength=n_features) / total
            mean_square = np.bincount(indices, entry_weights * data * data, minlength=n_features) / total
            # stored entries' squared deviations, and the unstored zeros' mean^2 each
            stored_weight = np.bincount(indices, entry_weights, minlength=n_features)
            # a column stored in every row has no zeros: total - stored_weight would be rounding only,
            # times a mean^2 of up to 1e16 (a timestamp)
            full = np.bincount(indices, minlength=n_features) == design.n_samples
            unstored_weight = np.where(full, 0.0, np.maximum(total - stored_weight, 0.0))
            deviations = np.bincount(indices, entry_weights * (data - mean[indices]) ** 2, minlength=n_features)
            variance = (deviations + unstored_weight * mean * mean) / total
        else:
            rows = design.dense.astype(np.float64, copy=False)
            mean = weights @ rows / total
            mean_square = weights @ (rows * rows) / total
            variance = weights @ (rows - mean) ** 2 / total
        if not objective.fit_intercept:
            mean, variance = np.zeros_like(mean), mean_square
        # each column's spread as a share of its mean square (1: centred or no intercept)
        centred_share = np.where(mean_square > 0, variance / np.where(mean_square > 0, mean_square, 1.0), 1.0) \
            if objective.fit_intercept else np.ones_like(mean_square)
        unresolved = ~(variance > (64 * np.finfo(np.float64).eps) ** 2 * mean_square)
        variance = np.where(unresolved, mean_square, variance)
        penalty_variance = 0.0
        l2 = float(objective.l2[min(k, len(objective.l2) - 1)])
        if at is not None and objective.fit_intercept and objective.n_models == 1 and l2 > 0:
            curvature = _mean_curvature(objective, design, np.ascontiguousarray(objective.y[::step]), weights, at)
            if curvature > 0:
                penalty_variance = l2 / curvature
        variance = np.where(variance > 0, variance, 1.0)
        return cls(mean, variance, objective.fit_intercept, penalty_variance, centred_share)


def _mean_curvature(objective, design, y, weights, at):
    """The loss's weighted mean second derivative in the raw score at the parameters ``at`` (one model),
    over the rows of ``design``: the Hessian's intercept entry of each class, averaged over classes
    (Hessian-vector products of the rows' objective, so every loss's own definition)."""
    from .._objective import LinearObjective

    rows = LinearObjective(objective.loss, design, y, weights, l2=0.0, fit_intercept=True,
                           n_classes=getattr(objective, "n_classes", None), n_threads=1, check_input=False,
                           check_X=False)
    n_outputs = rows.coef_shape[1]
    first_intercept = objective.n_features * n_outputs
    curvatures = []
    with np.errstate(all="ignore"):
        for c in range(n_outputs):
            direction = np.zeros(rows.n_params)
            direction[first_intercept + c] = 1.0
            curvatures.append(rows.hessp(at, direction)[first_intercept + c])
    curvature = float(np.mean(curvatures))
    return curvature if np.isfinite(curvature) else 0.0


def within_tolerance(view, gradients, tol, standardizations):
    """``view.within_tolerance``, except for a model with a :class:`Standardization` (None for the
    others): its gradient in the standardized coordinates at most ``tol`` (see
    ``Standardization.standardized_gradient``)."""
    passed = view.within_tolerance(gradients, tol)
    for k, standardization in enumerate(standardizations):
        if standardization is not None:
            passed[k] = np.max(np.abs(standardization.standardized_gradient(gradients[k]))) <= tol
    return passed


def with_standardization(preconditioner, objective, n_models, k, at=None):
    """``preconditioner`` (or a new one, None for every other model) with model ``k`` on its
    :class:`Standardization` (``at``: see ``Standardization.of``)."""
    if preconditioner is None:
        preconditioner = HessianPreconditioner([None] * n_models)
    preconditioner.factors[k] = Standardization.of(objective, k, at)
    return preconditioner


def _factor(hessian):
    """Cholesky factor of ``hessian``, shifted slightly when it is only semi-definite; None if that fails."""
    if not np.all(np.isfinite(hessian)):
        return None
    scale = float(np.mean(np.diag(hessian)))
    if not scale > 0:
        return None
    for shift in (0.0, 1e-10 * scale, 1e-6 * scale):
        try:
            return cho_factor(hessian + shift * np.eye(len(hessian)), lower=True, check_finite=False)
        except LinAlgError:
            continue
    return None


def _condition_number(hessian):
    """Ratio of the extreme eigenvalues of a symmetric matrix (inf when not positive definite or not finite)."""
    if not np.all(np.isfinite(hessian)):
        return np.inf
    eigenvalues = np.linalg.eigvalsh(hessian)
    return eigenvalues[-1] / eigenvalues[0] if eigenvalues[0] > 0 else np.inf


def sample_step(view):
    """Every how many rows the Hessian sample takes one (1: all rows, the exact Hessian)."""
    rows_wanted = max(MIN_SAMPLE_ROWS, SAMPLE_ROWS_PER_PARAM * view.model_size)
    return max(1, view.objective.X.n_samples // rows_wanted)


def wants_preconditioner(setting, objective, model_size):
    """Whether :func:`fastml.solvers.lbfgs` should build the preconditioner (``setting``: auto/hessian/none)."""
    if setting == "none" or objective.loss.is_multiclass:
        return False
    return setting == "hessian" or model_size <= AUTO_MAX_PARAMS
