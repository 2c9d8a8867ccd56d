"""Newton's method on features far from zero: the coordinates ``(coef, b' = b + shift . coef)``.

Why: a column of 1e8 +- 1 (or a timestamp, 1.7e9 +- 1e7) beside the intercept makes the raw Hessian
singular in float64: its entries ``sum h x^2`` (~1e16) and ``sum h x`` (~1e8) hold the column's
spread below their last bit, Cholesky fails, and the shifted or least-squares solves that replace it
gave steps that crawled: Newton ran to ``max_iter``. In the coordinates of the features ``X - shift``
(the intercept absorbing ``shift . coef``), with ``shift`` near the column's mean, the same Hessian
is as well-conditioned as on centred data, and the objective is the same function: only the Newton
system changes coordinates. Such a model's convergence test is on its gradient in standardized
units (``Standardization.standardized_gradient``; the raw test of a 1e8 column is 1e8 times too
loose on its coefficient and out of reach on the intercept), as for L-BFGS.
"""
import numpy as np

from ._offset_columns import offset_columns
from ._preconditioner import OFFSET_SHARE, Standardization


class ShiftedCoordinates:
    """Per model: the shift of each feature (0 for most) and its :class:`Standardization` (None when
    the model has no shifted feature). Gradients and directions are (n_models, model_size) rows,
    the intercept last."""

    def __init__(self, objective):
        self.objective = objective
        self.shifts = np.zeros((objective.n_models, objective.n_features))
        self.standardizations = [None] * objective.n_models

    def detect(self, hessians, models):
        """Shift the features far from zero of the ``models`` (indices) not shifted yet, found from their
        raw ``hessians``; returns whether any model changed (its Hessian must then be formed again)."""
        objective = self.objective
        if not objective.fit_intercept:
            return False
        n_features = objective.n_features
        changed = False
        for k in models:
            hessian = hessians[k]
            if self.standardizations[k] is not None or not hessian[n_features, n_features] > 0:
                continue
            raw_diagonal = np.diag(hessian)[:n_features] - objective.l2[k]
            # (the centred share of the Hessian's diagonal, a column's curvature-weighted spread)
            columns = offset_columns(raw_diagonal, hessian[:n_features, n_features],
                                     hessian[n_features, n_features], OFFSET_SHARE)
            if columns.size:
                standardization = Standardization.of(objective, k)
                self.standardizations[k] = standardization
                self.shifts[k, columns] = standardization.mean[columns]
                changed = True
        return changed

    def to_shifted(self, gradients):
        """Raw gradients -> gradients in the shifted coordinates: ``g_coef - shift g_b``, ``g_b``."""
        n_features = self.objective.n_features
        out = np.array(gradients, dtype=np.float64)
        if self.objective.fit_intercept:
            out[:, :n_features] -= self.shifts * out[:, n_features:n_features + 1]
        return out

    def to_raw(self, directions):
        """Directions in the shifted coordinates -> raw: ``b = b' - shift . coef``."""
        n_features = self.objective.n_features
        out = np.array(directions, dtype=np.float64)
        if self.objective.fit_intercept:
            out[:, n_features] -= np.einsum("kf,kf->k", self.shifts, out[:, :n_features])
        return out
