"""Safe model files: ``fastml.save``, ``fastml.load`` and ``fastml.inspect``, without pickle.

A model file is one zip archive::

    manifest.json       format and version, library versions, the estimator tree (registry class
                        names, constructor parameters, fitted attributes), feature names, classes,
                        training summary, drift fingerprint, and for every array: name, shape,
                        dtype, sha256
    array_00000.npy     one member per array, written with np.save(allow_pickle=False)
    ...

Guarantees: no pickle anywhere (object arrays are stored as JSON items of None/bool/int/float/str);
no class or function named in a file is ever imported (classes come from a fixed registry, see
``_registry.py``); saving is atomic (temporary file in the same directory + ``os.replace``);
reading checks member names, sizes (:class:`Limits`), checksums, shapes and dtypes before building
anything, and every defect of the file raises :class:`ModelFileError`. Supported: the eleven fastml
estimators, fitted or not, and scikit-learn Pipelines/ColumnTransformers of fastml estimators and
StandardScaler, MinMaxScaler, OneHotEncoder, SimpleImputer (with MissingIndicator),
HashingVectorizer and FunctionTransformer(func=None).

Choices: ``callbacks`` (callables) are saved as None with a warning and a ``dropped`` note in the
manifest; any other callable (a column selector, a FunctionTransformer function, an analyzer) makes
``save`` raise ``TypeError``. ``solver_info_`` (a solver trace) and SGD's optimizer state are not
saved (listed under ``skipped_attributes``); ``loss_curve_`` is saved as an array. A loaded SGD
model's ``partial_fit`` continues from ``coef_`` with a fresh optimizer state.
"""
import json
import os
import warnings

from ._codec import Decoder, Encoder
from ._errors import ModelFileError
from ._fitted_check import check_fitted_linear_models
from ._format import FORMAT_NAME, FORMAT_VERSION, Limits, ModelFileReader, write_model_file
from ._summary import summary, versions

__all__ = ["FORMAT_VERSION", "Limits", "ModelFileError", "inspect", "load", "save"]


def save(model, path, *, compress=True, **limits):
    """Save ``model`` to ``path`` as a fastml model file (atomically; no pickle).

    Parameters
    ----------
    model : estimator
        A fastml estimator or a supported scikit-learn Pipeline/ColumnTransformer, fitted or not.
    path : str or os.PathLike
        Target file; replaced atomically if it exists. Its directory must exist.
    compress : bool, default=True
        Deflate the members (``False``: stored, faster to write and read, larger).
    **limits
        Size caps, as :class:`Limits` (``max_total_bytes``, ``max_array_bytes``,
        ``max_manifest_bytes``, ``max_members``): a model over them is not written, so that every
        file written loads with the same limits.

    Returns
    -------
    manifest : dict
        The manifest written in the file (as :func:`inspect` returns it).

    Raises
    ------
    TypeError
        The model holds something a model file cannot describe: an unsupported class, a callable
        (other than ``callbacks``), an unknown fitted attribute.
    ValueError
        The model is over a size limit.
    """
    limits = Limits(**limits)
    encoder = Encoder()
    tree = encoder.value(model, "model")
    if not (isinstance(tree, dict) and "$estimator" in tree):
        raise TypeError(f"fastml.save expects an estimator, got {type(model).__name__}")
    description = tree["$estimator"]
    fingerprint = encoder.fingerprints[-1][1] if encoder.fingerprints else None  # outermost is encoded last
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_by": versions(),
        "estimator": description["class"],
        "fitted": _is_fitted(model),
        **summary(model, _plain_state(fingerprint)),
        "fingerprint": fingerprint,
        "dropped": encoder.dropped,
        "skipped_attributes": encoder.skipped,
        "model": description,
        "arrays": encoder.table,
    }
    write_model_file(path, manifest, encoder.arrays, limits, compress=compress)
    return json.loads(json.dumps(manifest))


def load(path, **limits):
    """Load a model saved by :func:`save`; never unpickles, imports or executes anything from the file.

    Parameters
    ----------
    path : str or os.PathLike
    **limits
        Size caps, as :class:`Limits`; defaults: 2 GiB in all, 1 GiB per array, 64 MiB manifest,
        100 000 members.

    Returns
    -------
    model : estimator
        A new estimator (or pipeline) whose predictions are bitwise identical to the saved one's.

    Raises
    ------
    ModelFileError
        For every defect of the file (not a zip, pickle, truncated, corrupted, unsafe member names,
        over the limits, unknown class, newer format, missing or extra arrays). Nothing is built.
    OSError
        The path cannot be opened.
    """
    limits = Limits(**limits)
    description = f"model file {os.fspath(path)!r}"
    with open(path, "rb") as handle:
        try:
            reader = ModelFileReader(handle, limits, description=description)
            manifest = reader.read_manifest()
            arrays = reader.read_arrays(manifest)
            _warn_on_version_change(manifest)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # deprecated parameters of the saved version
                model = Decoder(arrays).estimator(manifest["model"], "model")
            check_fitted_linear_models(model, "model", lambda message: ModelFileError(f"{description}: {message}"))
            return model
        except ModelFileError:
            raise
        except Exception as exc:  # anything else a crafted file could trigger is still a file defect
            raise ModelFileError(f"{description} is invalid: {type(exc).__name__}: {exc}") from exc


def inspect(path, **limits):
    """The manifest of a model file (a dict), read and checked without loading any array.

    Raises :class:`ModelFileError` as :func:`load` does for the listing and the manifest; array
    checksums are verified only by :func:`load`.
    """
    limits = Limits(**limits)
    description = f"model file {os.fspath(path)!r}"
    with open(path, "rb") as handle:
        try:
            return ModelFileReader(handle, limits, description=description).read_manifest()
        except ModelFileError:
            raise
        except Exception as exc:
            raise ModelFileError(f"{description} is invalid: {type(exc).__name__}: {exc}") from exc


def _is_fitted(model):
    """scikit-learn's notion of fitted: a Pipeline is fitted when its last step is (it has no fitted
    attributes of its own), an estimator when it holds fitted attributes."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    return True


def _plain_state(encoded_state):
    """The fingerprint's JSON state with "$dict" pairs turned back into a dict, for the summary."""
    if isinstance(encoded_state, dict) and "$dict" in encoded_state:
        return {key: value for key, value in encoded_state["$dict"] if isinstance(key, str)}
    return encoded_state


def _warn_on_version_change(manifest):
    import sklearn

    saved = manifest.get("created_by", {}).get("scikit-learn") if isinstance(manifest.get("created_by"), dict) \
        else None
    if isinstance(saved, str) and saved.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        warnings.warn(f"this model was saved with scikit-learn {saved} and is loaded with {sklearn.__version__}: "
                      "predictions are bitwise identical only with the same versions", UserWarning, stacklevel=3)
