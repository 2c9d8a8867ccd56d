"""Loss registry: the metadata the Python layer needs about each compiled loss.

The formulas live once, in ``fastml.kernels.losses``; this module says what each loss *is*: its
kernel id and shape parameter, the link from raw predictions to predictions, which targets are
valid, whether it has a usable second derivative, and the best constant raw prediction (the
intercept-only start of a solver). Loss ids are copied here as plain integers so that importing the
registry does not import Numba; ``tests/kernels`` checks that they match the kernels.
"""
from dataclasses import dataclass, replace

import numpy as np

# ids of fastml.kernels.losses (checked equal by the tests)
_IDS = {
    "squared_error": 0, "huber": 1, "epsilon_insensitive": 2, "squared_epsilon_insensitive": 3,
    "absolute_error": 4, "log_loss": 5, "multinomial": 6, "hinge": 7, "squared_hinge": 8,
    "modified_huber": 9, "perceptron": 10, "poisson": 11,
}

_ALIASES = {
    "squared": "squared_error", "least_squares": "squared_error", "l2": "squared_error",
    "logistic": "log_loss", "binary_crossentropy": "log_loss", "binomial": "log_loss", "log": "log_loss",
    "softmax": "multinomial", "categorical_crossentropy": "multinomial",
    "l1": "absolute_error", "absolute": "absolute_error",
}


@dataclass(frozen=True)
class Loss:
    """What the solvers and estimators need to know about one loss.

    Attributes
    ----------
    name : str
        Canonical name (a key of :data:`LOSSES`).
    loss_id : int
        Integer id selecting the formula in the compiled kernels.
    param : float
        Shape parameter: Huber's ``delta`` or the ``epsilon`` of the epsilon-insensitive losses.
    link : {"identity", "logit", "softmax", "log"}
        Maps raw predictions to predictions (the mean of ``y``, a probability, ...).
    task : {"regression", "binary", "multiclass", "count"}
        ``binary`` losses take ``y`` in {0, 1}; ``multiclass`` takes class indices 0..K-1.
    smooth : bool
        Whether the loss has a continuous gradient (L-BFGS and gradient descent converge to tight
        tolerances); hinge, perceptron and absolute-type losses do not.
    has_hessian : bool
        Whether the second derivative is positive somewhere and informative (Newton applies).
    """

    name: str
    loss_id: int
    param: float = 0.0
    link: str = "identity"
    task: str = "regression"
    smooth: bool = True
    has_hessian: bool = True

    @property
    def is_multiclass(self):
        return self.task == "multiclass"

    def check_y(self, y):
        """Raise ``ValueError`` naming the problem when ``y`` is not valid for this loss."""
        y = np.asarray(y)
        # binary: values of 0 or 1 are finite, the separate finiteness pass only names a failure
        # (~0.4 ms of the objective's construction at 1e6 rows)
        binary_ok = self.task == "binary" and (y.size == 0 or bool(np.all((y == 0) | (y == 1))))
        if not binary_ok and y.size and not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: y contains NaN or infinity")
        if self.task == "binary" and not binary_ok:
            bad = y[(y != 0) & (y != 1)][:3]
            raise ValueError(f"{self.name}: y must be 0 or 1 (encode the two classes), found {bad.tolist()}")
        if self.task == "multiclass" and y.size:
            if np.any(y < 0) or np.any(y != np.floor(y)):
                raise ValueError(f"{self.name}: y must hold class indices 0..n_classes-1")
        if self.task == "count" and y.size and np.any(y < 0):
            raise ValueError(f"{self.name}: y must be non-negative, found min(y) = {y.min()!r}")

    def intercept_only(self, y, sample_weight=None, n_classes=None):
        """The best constant raw prediction: the start of a solver and the null model.

        Returns an array of one value per model column (``n_classes`` values for the multinomial
        loss, centred so that they sum to zero).
        """
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if w.ndim == 1:
            w = np.broadcast_to(w[:, None], (len(w), 1 if self.is_multiclass else y.shape[1]))
        total = w.sum(axis=0)
        if self.is_multiclass:
            labels = y[:, 0].astype(np.intp)
            counts = np.bincount(labels, weights=w[:, 0], minlength=n_classes or labels.max() + 1)
            share = np.clip(counts / max(total[0], np.finfo(float).tiny), 1e-12, None)
            log_share = np.log(share)
            return log_share - log_share.mean()
        mean = (w * y).sum(axis=0) / np.where(total > 0, total, 1.0)
        if self.name in ("absolute_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
            return np.array([_weighted_median(y[:, k % y.shape[1]], w[:, k % w.shape[1]])
                             for k in range(max(y.shape[1], w.shape[1]))])
        if self.link == "logit":
            p = np.clip(mean, 1e-12, 1 - 1e-12)
            return np.log(p) - np.log1p(-p)
        if self.link == "log":
            return np.log(np.clip(mean, 1e-12, None))
        if self.task == "binary":  # margin losses: 0 is the neutral score
            return np.zeros_like(mean)
        return mean

    def with_param(self, param):
        return replace(self, param=float(param))


def _weighted_median(values, weights):
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    if cumulative[-1] <= 0:
        return 0.0
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


LOSSES = {
    "squared_error": Loss("squared_error", _IDS["squared_error"]),
    "huber": Loss("huber", _IDS["huber"], param=1.0, smooth=True),
    "epsilon_insensitive": Loss("epsilon_insensitive", _IDS["epsilon_insensitive"], param=0.1,
                                smooth=False, has_hessian=False),
    "squared_epsilon_insensitive": Loss("squared_epsilon_insensitive",
                                        _IDS["squared_epsilon_insensitive"], param=0.1),
    "absolute_error": Loss("absolute_error", _IDS["absolute_error"], smooth=False, has_hessian=False),
    "log_loss": Loss("log_loss", _IDS["log_loss"], link="logit", task="binary"),
    "multinomial": Loss("multinomial", _IDS["multinomial"], link="softmax", task="multiclass"),
    "hinge": Loss("hinge", _IDS["hinge"], task="binary", smooth=False, has_hessian=False),
    "squared_hinge": Loss("squared_hinge", _IDS["squared_hinge"], task="binary"),
    "modified_huber": Loss("modified_huber", _IDS["modified_huber"], task="binary"),
    "perceptron": Loss("perceptron", _IDS["perceptron"], task="binary", smooth=False,
                       has_hessian=False),
    "poisson": Loss("poisson", _IDS["poisson"], link="log", task="count"),
}
"""Every loss by canonical name, with its default shape parameter."""

_PARAM_NAMES = {"huber": ("delta", "epsilon"), "epsilon_insensitive": ("epsilon",),
                "squared_epsilon_insensitive": ("epsilon",)}


def get_loss(name, **params):
    """Look up a loss by name (or alias) and set its shape parameter.

    Parameters
    ----------
    name : str or Loss
        ``"squared_error"``, ``"huber"``, ``"epsilon_insensitive"``, ``"squared_epsilon_insensitive"``,
        ``"absolute_error"``, ``"log_loss"``, ``"multinomial"``, ``"hinge"``, ``"squared_hinge"``,
        ``"modified_huber"``, ``"perceptron"``, ``"poisson"``, or an alias such as ``"logistic"``.
    **params
        ``delta`` (Huber; ``epsilon`` is accepted as in scikit-learn's SGD) or ``epsilon``.
    """
    if isinstance(name, Loss):
        loss = name
    else:
        key = _ALIASES.get(name, name)
        if key not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
        loss = LOSSES[key]
    if params:
        allowed = _PARAM_NAMES.get(loss.name, ())
        unknown = set(params) - set(allowed)
        if unknown or len(params) > 1:
            raise ValueError(f"loss {loss.name!r} takes {allowed or 'no parameters'}, got {sorted(params)}")
        value = float(next(iter(params.values())))
        if not np.isfinite(value) or value < 0 or (loss.name == "huber" and value == 0):
            raise ValueError(f"loss {loss.name!r}: parameter must be finite and positive, got {value!r}")
        loss = loss.with_param(value)
    return loss
