"""Registry entries for the scikit-learn classes a saved pipeline may contain.

Design: only stateless or array-state preprocessors and the two containers (Pipeline,
ColumnTransformer) are supported; their fitted attributes are listed per class (public and the
private ones their ``transform`` reads), as found in scikit-learn 1.6 to 1.9. Names that a given
scikit-learn version does not set simply do not occur. Containers need no special code: their
steps are constructor parameters holding estimators, which the codec describes as nested entries.
"""
from ._registry import ClassSpec


def sklearn_specs():
    """ClassSpecs for StandardScaler, MinMaxScaler, OneHotEncoder, SimpleImputer, MissingIndicator,
    HashingVectorizer, FunctionTransformer (``func=None`` only: callables are refused), Pipeline and
    ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

    table = [
        ("sklearn.preprocessing.StandardScaler", StandardScaler, {"mean_", "var_", "scale_", "n_samples_seen_"}),
        ("sklearn.preprocessing.MinMaxScaler", MinMaxScaler,
         {"min_", "scale_", "data_min_", "data_max_", "data_range_", "n_samples_seen_"}),
        ("sklearn.preprocessing.OneHotEncoder", OneHotEncoder,
         {"categories_", "drop_idx_", "_drop_idx_after_grouping", "_infrequent_enabled", "_infrequent_indices",
          "_default_to_infrequent_mappings", "_n_features_outs", "_missing_indices"}),
        ("sklearn.impute.SimpleImputer", SimpleImputer, {"statistics_", "indicator_", "_fit_dtype", "_fill_dtype"}),
        ("sklearn.impute.MissingIndicator", MissingIndicator, {"features_", "_n_features", "_precomputed"}),
        # stateless: its parameters are the whole model (_stop_words_id: a cache keyed by id(), skipped)
        ("sklearn.feature_extraction.text.HashingVectorizer", HashingVectorizer, set(), {"_stop_words_id"}),
        # ColumnTransformer's remainder="passthrough" is a FunctionTransformer(func=None)
        ("sklearn.preprocessing.FunctionTransformer", FunctionTransformer, set()),
        ("sklearn.pipeline.Pipeline", Pipeline, set()),
        ("sklearn.compose.ColumnTransformer", ColumnTransformer,
         {"transformers_", "_columns", "_transformer_to_input_indices", "_remainder", "sparse_output_",
          "output_indices_", "_n_features", "_transformers_feature_names_out", "_name_to_fitted_passthrough"}),
    ]
    return [ClassSpec(name, cls, frozenset(attributes), frozenset(skipped[0] if skipped else ()))
            for name, cls, attributes, *skipped in table]
