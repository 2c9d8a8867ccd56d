"""Plumbing shared by the linear estimators: validation, objective, solver dispatch, fitted extras.

Every estimator follows the data flow of ARCHITECTURE.md section 3: hyper-parameters are checked in
``fit`` (never in ``__init__``), data go through scikit-learn's ``validate_data`` (CSR kept, float32
kept, no copy of a float C/F array), a :class:`fastml.LinearObjective` states exactly what is
minimized, a solver returns a :class:`~fastml.solvers._result.SolverResult`, and the fitted attributes
follow scikit-learn's names. Extras on every estimator: ``objective(X, y)``, ``loss_curve_``,
``solver_info_`` and ``callbacks``.
"""
import contextlib
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, assert_all_finite, check_is_fitted, validate_data

from .._objective import LinearObjective

FLOAT_DTYPES = (np.float64, np.float32)


def accepted_dtypes(X):
    """The ``dtype`` argument of ``validate_data`` for ``X``: float32 and float64 arrays keep their dtype.

    scikit-learn keeps float32 for arrays and pandas frames but converts a polars frame of Float32
    columns to float64; asking for float32 explicitly keeps it (and its feature names).
    """
    dtypes = getattr(X, "dtypes", None)
    if (type(X).__module__.startswith("polars") and dtypes is not None and len(dtypes)
            and all(str(dtype) == "Float32" for dtype in dtypes)):
        return np.float32
    return list(FLOAT_DTYPES)


def check_scalar_param(value, name, *, minimum=None, maximum=None, include_minimum=True, integer=False,
                       allow_none=False):
    """Raise ``ValueError``/``TypeError`` naming ``name`` when a hyper-parameter is out of range."""
    if value is None and allow_none:
        return value
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if not np.isfinite(value) and not (maximum is None and value == np.inf and not integer):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (value < minimum or (value == minimum and not include_minimum)):
        bound = ">=" if include_minimum else ">"
        raise ValueError(f"{name} must be {bound} {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(map(str, choices))}, got {value!r}")
    return value


def validate_fit_data(estimator, X, y, *, multi_output=False, y_numeric=True, check_X_finite=True):
    """``validate_data`` for ``fit``: CSR or float32/float64 arrays, kept as they are when possible.

    ``check_X_finite=False`` skips the finiteness pass over ``X`` (``y`` is still checked): only for an
    estimator that hands ``X`` to an objective built with ``check_X=True``, whose first pass settles it.
    """
    X, y = validate_data(estimator, X, y, accept_sparse="csr", dtype=accepted_dtypes(X), order=None,
                         multi_output=multi_output, y_numeric=y_numeric, ensure_min_samples=1,
                         ensure_all_finite=check_X_finite)
    if y_numeric and getattr(y, "dtype", None) is not None and y.dtype.kind in "USO":
        # numbers as strings (a CSV column read as text): scikit-learn's regressors fit them as floats
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric: {exc}") from None
    if sp.issparse(X) and X.indices.dtype != X.indptr.dtype:
        # a new matrix sharing the data: the caller's matrix is never modified
        X = type(X)((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape)
    return X, y


@contextlib.contextmanager
def gram_settles_finiteness(estimator, X):
    """Around a closed-form solve of an ``X`` validated with ``check_X_finite=False``: the solver's
    check of the Gram statistics stands for the pass over ``X`` (see ``check_finite_gram``; 26 ms of
    a ~0.3 s fit at 1e6 x 100), and when it fires scikit-learn's own check raises the error
    ``validate_data`` would have. Finite values whose squares overflow keep the solver's message."""
    from ..solvers._closed_form_base import NonFiniteGramError

    try:
        yield
    except NonFiniteGramError:
        assert_all_finite(X, estimator_name=type(estimator).__name__, input_name="X")
        raise


# Integer labels spanning fewer values than this are counted and looked up in a table instead of
# sorted or hashed: 1e6 labels in ~6 ms instead of ~50 ms (np.unique twice, searchsorted, compare).
SMALL_LABEL_RANGE = 1 << 20


def _integral_floats(values):
    """``values`` (float) as int64 when every one is a whole number that int64 holds exactly, else None
    (a NaN, an infinity, a fraction or a huge value fails the round trip)."""
    with np.errstate(invalid="ignore"):
        as_int = values.astype(np.int64)
    return as_int if np.array_equal(as_int, values) else None


def _small_integer_range(y):
    """``(values, lowest, highest)`` when ``y`` is a 1-d vector of integer labels — an integer or bool
    array, or floats that are all whole numbers (0.0/1.0 targets) — spanning fewer than
    ``SMALL_LABEL_RANGE`` values; ``values`` is an integer array (``y`` itself, bool viewed as uint8,
    floats converted). Else None."""
    if y.ndim != 1 or y.size == 0:
        return None
    if y.dtype.kind == "f":
        values = _integral_floats(y)
        if values is None:
            return None
    elif y.dtype == np.bool_:
        values = y.view(np.uint8)
    elif y.dtype.kind in "iu":
        # narrow integers are widened: label - lowest in int8 wraps (int8 labels -100 and 100 gave a
        # negative count index); 64-bit labels stay as they are (uint64 beyond int64's range included)
        values = y if y.dtype.itemsize == 8 else y.astype(np.int64)
    else:
        return None
    lowest, highest = int(values.min()), int(values.max())
    return (values, lowest, highest) if highest - lowest < SMALL_LABEL_RANGE else None


def finite_class_weights(class_weights):
    """``compute_class_weight``'s result with the weight of a class that carries no sample weight (its
    "balanced" weight divides by zero) set to 0: its rows weigh 0 either way, and 0 times inf is NaN."""
    return np.where(np.isfinite(class_weights), class_weights, 0.0)


def fit_classes(y):
    """The sorted distinct labels of a classifier's training target, checked as scikit-learn's
    ``check_classification_targets`` does (a continuous or multi-output target is an error).

    A 1-d vector of integer labels (integer, bool, or whole-number floats) can only be "binary" or
    "multiclass" for that check, so it is not run there (it hashes every label), and its classes
    come from counting, in ``y``'s dtype as ``np.unique`` gives them.
    """
    y = np.asarray(y)
    small = _small_integer_range(y)
    if small is None:
        check_classification_targets(y)
        return np.unique(y)
    values, lowest, _ = small
    present = np.flatnonzero(np.bincount((values - lowest).astype(np.intp, copy=False)))
    return (present + lowest).astype(y.dtype)


# up to this many distinct labels, labels_among compares Python sets (np.isin cost ~11 us for two)
_FEW_LABELS = 64


def labels_among(labels, classes):
    """Whether every one of the distinct ``labels`` is one of ``classes`` (as ``np.isin``: by value, so
    1 and 1.0 are the same label)."""
    if len(labels) <= _FEW_LABELS and len(classes) <= _FEW_LABELS:
        return set(labels.tolist()) <= set(classes.tolist())
    return bool(np.all(np.isin(labels, classes)))


def encode_labels(classes, y):
    """Each label's index into the sorted ``classes`` (float64); a label not among them is an error."""
    y = np.asarray(y)
    small = _small_integer_range(y)
    class_values = _integral_floats(classes) if classes.dtype.kind == "f" else (
        classes.astype(np.int64) if classes.dtype.kind in "iub" else None)
    if small is not None and class_values is not None and len(classes):
        values, lowest, highest = small
        first, last = int(class_values[0]), int(class_values[-1])
        if lowest >= first and highest <= last and last - first < SMALL_LABEL_RANGE:
            table = np.full(last - first + 1, -1.0)
            table[class_values - first] = np.arange(len(classes))
            indices = table[(values - first).astype(np.intp, copy=False)]
            if not np.any(indices < 0):
                return indices
    indices = np.searchsorted(classes, y)
    unknown = (indices >= len(classes)) | (classes[np.minimum(indices, len(classes) - 1)] != y)
    if np.any(unknown):
        raise ValueError(f"y contains labels not in classes_ {classes[:10].tolist()}: "
                         f"{np.unique(y[unknown])[:5].tolist()}")
    return indices.astype(np.float64)


def prepare_sample_weight(sample_weight, X, dtype=np.float64):
    """Checked float64 weights (ones when None); all-zero weights are an error, as in scikit-learn."""
    if sample_weight is None:  # validated X has rows: ones without scikit-learn's checks (~14 us a partial_fit)
        return np.ones(X.shape[0], dtype=dtype)
    weights = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if weights.sum() <= 0:
        raise ValueError("sample_weight sums to zero: at least one sample must carry a positive weight")
    return weights


def warn_if_not_converged(estimator, result, solver):
    converged = np.all(result.converged)
    if not converged:
        warnings.warn(
            f"{type(estimator).__name__}: the {solver} solver did not converge in {np.max(result.n_iter)} "
            f"iterations ({result.message}). Increase max_iter, loosen tol, or scale the features "
            f"(e.g. with StandardScaler).", ConvergenceWarning, stacklevel=3)


def solver_info(result, solver):
    """The ``solver_info_`` dictionary: solver name, trace, timings and convergence."""
    trace = result.trace
    return {
        "solver": solver,
        "n_iter": result.n_iter,
        "converged": result.converged,
        "message": result.message,
        "seconds": float(trace["seconds"][-1]) if len(trace) else 0.0,
        "trace": trace,
        **{key: value for key, value in result.info.items() if key != "state"},
    }


def progress_callback(estimator, total, user_callbacks=None):
    """Chain the user's ``callbacks`` with a tqdm progress bar when ``verbose`` (tqdm is optional)."""
    callbacks = list(user_callbacks or [])
    bar = None
    if getattr(estimator, "verbose", 0):
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=type(estimator).__name__, leave=False)
            callbacks.append(lambda info: bar.update(1) and False)
        except ImportError:
            callbacks.append(lambda info: print(f"iteration {info.iteration}: objective {info.objective:.6g}, "
                                                f"gradient norm {info.gradient_norm:.3g}") and False)
    if not callbacks:
        return None, bar

    def callback(info):
        stop = False
        for function in callbacks:
            stop = bool(function(info)) or stop
        return stop

    return callback, bar


class ObjectiveMixin:
    """``objective(X, y, sample_weight)``: the exact value the estimator minimizes, at its fitted
    parameters, so that solvers and libraries can be compared on equal terms."""

    def objective(self, X, y, sample_weight=None):
        check_is_fitted(self)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=accepted_dtypes(X), reset=False,
                             multi_output=True, y_numeric=False)
        objective = self._build_objective(X, self._encode_target(y), prepare_sample_weight(sample_weight, X))
        return float(objective.value(objective.pack(*self._solver_coef())))


class LinearClassifierPredictMixin(LinearClassifierMixin):
    """scikit-learn's ``LinearClassifierMixin`` with ``predict`` in plain numpy.

    Its ``predict`` resolves the array namespace and device of ``X`` and of ``classes_`` on every call
    (scikit-learn's array API support, which fastml's numpy kernels do not offer): measured, 34 us
    of a single-row ``predict`` on breast_cancer where ``decision_function`` takes 9 us. Same
    semantics: class ``classes_[1]`` where the score is positive (two classes), else the arg max.
    """

    def predict(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:
            indices = (scores > 0).astype(np.intp)
        elif scores.size < COMPILED_SCORES_VALUES:
            indices = scores.argmax(axis=1)
        else:  # numpy's arg max of 1e6 x 10 scores ~30 ms, this pass ~5 ms
            from ..kernels import pointwise
            from ..kernels._jit import call_parallel

            indices = np.empty(scores.shape[0], dtype=np.intp)
            call_parallel(pointwise.argmax_pointwise, np.ascontiguousarray(scores), indices)
        return self.classes_[indices]


def class_probabilities(scores, log=False):
    """``predict_proba`` (``log``: ``predict_log_proba``) of a logistic model from its decision scores
    (1-d: two classes, the sigmoid; 2-d: the softmax per row, computed in place in ``scores``).

    Log-probabilities come from the scores (``-|s| - log1p(exp(-|s|))``, ``log_softmax``), finite where
    the probability itself underflows (scikit-learn takes the log of the probabilities: ``-inf`` there).
    Each is one compiled pass over the scores (``kernels.pointwise``; on the kernel threads from
    ``COMPILED_SCORES_VALUES`` scores on): 1e6 x 10 scores took ~140 ms in scipy's softmax (four passes,
    three temporaries), 1e6 binary scores ~12 ms in two ``expit`` and a stacking copy."""
    from ..kernels import pointwise
    from ..kernels._jit import call_parallel

    scores = np.ascontiguousarray(scores)
    serial = scores.size < COMPILED_SCORES_VALUES
    if scores.ndim == 1:  # the negative class from -s, not as 1 - p: no cancellation when p is near 1
        out = np.empty((scores.shape[0], 2), dtype=scores.dtype)
        call_parallel(pointwise.sigmoid_pair_pointwise, scores, out, bool(log), serial=serial)
        return out
    call_parallel(pointwise.softmax_pointwise, scores, scores, bool(log), serial=serial)
    return scores


def fast_dense_rows(estimator, X, check_finite=True):
    """``X`` itself when it is a plain (finite, unless ``check_finite=False``) float ndarray of the
    fitted width, else None.

    The fast path of ``predict``: it skips the conversions of ``validate_data`` but keeps its contract
    (shape, finiteness, no feature-name mismatch).
    """
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in FLOAT_DTYPES
            and X.shape[1] == estimator.n_features_in_ and X.shape[0] > 0
            and not hasattr(estimator, "feature_names_in_") and (not check_finite or np.isfinite(X).all())):
        return X
    return None


# From this many values of X on, linear scores come from one compiled pass (float64 sums, the kernel
# threads) whose non-finite results reveal a NaN or an infinity in X, instead of numpy's finiteness
# pass (which writes a boolean copy of X) and then a BLAS product: 1e6 x 100 float64 ~100 -> ~35 ms.
# Below it numpy's two steps cost less than starting the threads.
COMPILED_SCORES_VALUES = 1 << 18


def _compiled_scores(estimator, rows, coef, intercept):
    from ..kernels import objective_dense
    from ..kernels._jit import call_parallel
    from ..kernels._parallel import empty_for_threads

    coef_columns = np.ascontiguousarray(coef.T, dtype=np.float64)  # (n_features, n_outputs)
    scores = empty_for_threads((rows.shape[0], coef_columns.shape[1]))
    call_parallel(objective_dense.raw_prediction_dense, rows, coef_columns,
                  np.ascontiguousarray(intercept, dtype=np.float64), scores)
    if np.isfinite(scores).all():
        return scores.astype(rows.dtype, copy=False)
    # x * 0 is NaN for a NaN or infinite x, so a row holding one never gets a finite score: only now
    # is X checked, by scikit-learn's validation (its error); finite X whose scores overflowed gets
    # numpy's product, as smaller batches do (the order of the sums decides between inf and NaN)
    return _numpy_scores(estimator, rows, coef, intercept)


def _numpy_scores(estimator, X, coef, intercept):
    rows = fast_dense_rows(estimator, X)
    if rows is None:
        rows = validate_data(estimator, X, accept_sparse="csr", dtype=accepted_dtypes(X), reset=False)
    coef = coef.astype(rows.dtype, copy=False)
    scores = rows @ coef.T
    scores += intercept.astype(rows.dtype, copy=False)
    return scores


def linear_scores(estimator, X, coef, intercept):
    """``X @ coef.T + intercept`` in ``X``'s dtype, with the validation of scikit-learn's contract."""
    rows = fast_dense_rows(estimator, X, check_finite=False)
    # C or F order only: a strided view would compile another kernel variant on first use
    if (rows is not None and rows.size >= COMPILED_SCORES_VALUES
            and (rows.flags.c_contiguous or rows.flags.f_contiguous)):
        return _compiled_scores(estimator, rows, coef, intercept)
    return _numpy_scores(estimator, X, coef, intercept)


def kernel_threads(n_jobs):
    """Kernel threads for scikit-learn's ``n_jobs`` convention: None -> fastml's default, -1 -> all
    CPUs, -2 -> all but one, k > 0 -> k."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    if n_jobs > 0:
        return int(n_jobs)
    from .._config import _available_cpus

    return max(1, _available_cpus() + 1 + int(n_jobs))


def make_objective(loss, X, y, sample_weight, *, l2, l1, fit_intercept, n_classes=None, n_threads=None,
                   check_X=False):
    """A LinearObjective on already validated data. ``check_X=True`` when validation skipped ``X``'s
    finiteness (``validate_fit_data(check_X_finite=False)``): the objective then owes that check and
    its first pass at zero coefficients settles it (see ``fastml._objective.DesignMatrix``)."""
    return LinearObjective(loss, X, y, sample_weight, l2=l2, l1=l1, fit_intercept=fit_intercept,
                           n_classes=n_classes, n_threads=n_threads, check_input=False, check_X=check_X)


def settle_finite_check(objective):
    """Run the owed finiteness check of the objective's ``X`` if the solver never read ``X`` (a no-op
    once its first pass settled it); called before anything else reads the training ``X``."""
    if objective.X.finite_check_owed:
        objective.X.check_finite()


def record_fingerprint(estimator, X):
    """Store the drift reference ``fingerprint_`` of the training ``X`` (see fastml.drift); returns the
    estimator. Called as the last step of ``fit``."""
    from ..drift._fingerprint import record_fingerprint as record

    return record(estimator, X)


def start_fingerprint(X, *, gram=False, one_thread_fit=False):
    """Begin the drift reference of the validated training ``X``; ``.finish(self)`` as the last step
    of ``fit`` stores it as ``fingerprint_`` and returns the estimator. Small fits take its feature
    half on a second thread meanwhile (``fastml.drift._fingerprint.start_fingerprint``): below the
    size where the fit's own passes go parallel, ``gram=True`` for fits whose passes over ``X`` form
    Gram matrices in row chunks (``kernels._parallel.map_row_chunks``), else the objective's
    kernels (``fastml._objective.SERIAL_WORK``); ``one_thread_fit=True`` for fits on one thread at
    any size (per-sample SGD: a second thread there only prefetches rows, see
    ``kernels.stochastic_dense``)."""
    from ..drift._fingerprint import start_fingerprint as start

    if one_thread_fit:
        serial_below = np.inf
    elif gram:  # map_row_chunks splits the rows once each of two threads gets MIN_VALUES_PER_THREAD
        from ..kernels._parallel import MIN_VALUES_PER_THREAD

        serial_below = 2 * MIN_VALUES_PER_THREAD
    else:
        from .._objective import SERIAL_WORK as serial_below
    return start(X, serial_fit_below=serial_below)
