"""The fixed registry of classes a model file may name, and what of each one's state is saved.

Design: a file names its classes by registry key ("fastml.Ridge", "sklearn.pipeline.Pipeline");
the key is looked up in a dict built here in code, never imported, so a file cannot make fastml
import or call anything. Each entry lists the fitted attributes that are saved (an allow-list:
whatever ``predict``, ``predict_proba``, ``transform``, ``score`` and ``get_feature_names_out``
need, plus the public results such as ``n_iter_``) and the attributes deliberately left out
(``solver_info_``: a solver trace with timings, not model state; SGD's optimizer state, so that
``partial_fit`` after ``load`` starts a fresh optimizer from ``coef_``). ``loss_curve_`` is saved
(a small float array). An attribute in neither list makes ``save`` fail loudly rather than write a
model that would predict differently.
"""
from dataclasses import dataclass, field

# on every class: the input description, set_output's configuration, fastml's drift fingerprint
COMMON_ATTRIBUTES = frozenset({"n_features_in_", "feature_names_in_", "_sklearn_output_config", "fingerprint_"})


@dataclass(frozen=True)
class ClassSpec:
    """How one registered class is saved.

    Attributes
    ----------
    name : str
        The registry key written in the file.
    cls : type
        The class; ``save`` accepts exactly this type (not subclasses).
    attributes : frozenset of str
        Fitted attributes saved and accepted on load (with :data:`COMMON_ATTRIBUTES`).
    skipped : frozenset of str
        Fitted attributes deliberately not saved; listed in the manifest.
    dropped_params : frozenset of str
        Constructor parameters holding callables (``callbacks``) that are saved as None, with a
        warning and a note in the manifest: monitoring hooks, not part of the model.
    """

    name: str
    cls: type
    attributes: frozenset = field(default_factory=frozenset)
    skipped: frozenset = field(default_factory=frozenset)
    dropped_params: frozenset = field(default_factory=frozenset)

    def allows(self, attribute):
        return attribute in self.attributes or attribute in COMMON_ATTRIBUTES


_LINEAR = {"coef_", "intercept_", "loss_curve_"}
_SOLVER_TRACE = {"solver_info_"}
_SGD_STATE = {"_sgd_state", "_sgd_state_key"}

# fastml estimator name -> (extra fitted attributes, skipped attributes)
_FASTML = {
    "LinearRegression": ({"rank_", "singular_"}, _SOLVER_TRACE),
    "Ridge": ({"n_iter_", "solver_"}, _SOLVER_TRACE),
    "RidgeCV": ({"alpha_", "best_score_", "cv_results_", "_cv_scores"}, _SOLVER_TRACE),
    "Lasso": ({"n_iter_", "dual_gap_"}, _SOLVER_TRACE),
    "ElasticNet": ({"n_iter_", "dual_gap_"}, _SOLVER_TRACE),
    "ElasticNetCV": ({"n_iter_", "dual_gap_", "mse_path_", "alpha_", "l1_ratio_", "alphas_", "_model"},
                     _SOLVER_TRACE),
    "LassoCV": ({"n_iter_", "dual_gap_", "mse_path_", "alpha_", "alphas_", "_model"}, _SOLVER_TRACE),
    "LogisticRegression": ({"classes_", "n_iter_", "_class_weights"}, _SOLVER_TRACE),
    "LogisticRegressionCV": ({"classes_", "n_iter_", "_class_weights", "Cs_", "l1_ratios_", "cv_results_",
                              "scores_", "coefs_paths_", "C_", "l1_ratio_"}, _SOLVER_TRACE),
    "PoissonRegressor": ({"n_iter_"}, _SOLVER_TRACE),
    "SGDClassifier": ({"classes_", "n_iter_", "t_", "loss_function_", "_class_weights", "_dtype"},
                      _SOLVER_TRACE | _SGD_STATE),
    "SGDRegressor": ({"n_iter_", "t_", "loss_function_", "_dtype"}, _SOLVER_TRACE | _SGD_STATE),
}

_REGISTRY = None


def registry():
    """The registry, {key: ClassSpec}, built on first use (it imports scikit-learn)."""
    global _REGISTRY
    if _REGISTRY is None:
        from .. import linear_model
        from ._sklearn import sklearn_specs

        specs = {}
        for name, (attributes, skipped) in _FASTML.items():
            cls = getattr(linear_model, name)
            dropped = frozenset({"callbacks"}) if "callbacks" in cls._get_param_names() else frozenset()
            specs[f"fastml.{name}"] = ClassSpec(f"fastml.{name}", cls, frozenset(attributes | _LINEAR),
                                                frozenset(skipped), dropped)
        for spec in sklearn_specs():
            specs[spec.name] = spec
        _REGISTRY = specs
    return _REGISTRY


def spec_for_object(estimator):
    """The ClassSpec of ``estimator``'s exact type; ``TypeError`` naming the supported classes otherwise."""
    for spec in registry().values():
        if type(estimator) is spec.cls:
            return spec
    supported = ", ".join(sorted(spec.cls.__name__ for spec in registry().values()))
    raise TypeError(f"fastml.save cannot save a {type(estimator).__module__}.{type(estimator).__qualname__}: "
                    f"only these classes are supported (exact types, no subclasses): {supported}")


def spec_for_name(name):
    """The ClassSpec registered as ``name``, or None (the caller raises ModelFileError)."""
    if not isinstance(name, str):
        return None
    return registry().get(name)
