"""Fused loss+gradient, Hessian-vector and raw-prediction kernels against a plain-numpy reference.

The reference takes the slow, obvious route: ``raw = X @ coef + intercept`` in float64, per-sample
losses, derivatives and second derivatives from numpy formulas written here (independently of
``fastml.kernels.losses``), then ``X.T @ g``. Every kernel is checked for every loss on dense C,
dense F and CSR (int32 and int64 indices) storage, float32 and float64 data; then the properties
the solvers rely on: thread counts, bitwise repeatability, K models in one call, edge sizes.

Inputs are read-only views, as ``fastml.LinearObjective`` passes them (one compiled variant);
``test_writable_inputs_give_the_same_result`` covers writable arrays.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, xlogy

from fastml._objective import frozen_view
from fastml.kernels import losses, objective_csr, objective_dense

RTOL = 1e-10
LOSS_IDS = {
    "squared_error": losses.SQUARED_ERROR, "huber": losses.HUBER,
    "epsilon_insensitive": losses.EPSILON_INSENSITIVE,
    "squared_epsilon_insensitive": losses.SQUARED_EPSILON_INSENSITIVE,
    "absolute_error": losses.ABSOLUTE_ERROR, "log_loss": losses.LOGISTIC, "multinomial": losses.MULTINOMIAL,
    "hinge": losses.HINGE, "squared_hinge": losses.SQUARED_HINGE, "modified_huber": losses.MODIFIED_HUBER,
    "perceptron": losses.PERCEPTRON, "poisson": losses.POISSON,
}
PARAMS = {"huber": 0.8, "epsilon_insensitive": 0.2, "squared_epsilon_insensitive": 0.2}
BINARY = {"log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"}
N_CLASSES = 3
STORAGES = ["dense_C", "dense_F", "csr_int32", "csr_int64"]


# -- numpy reference ----------------------------------------------------------------------------------
def reference_pointwise(name, y, raw):
    """Per-sample (loss, d loss / d raw, d2 loss / d raw2) for the one-score losses, numpy."""
    param = PARAMS.get(name, 0.0)
    r, s = raw - y, 2 * y - 1
    z = s * raw
    if name == "squared_error":
        return 0.5 * r**2, r, np.ones_like(r)
    if name == "huber":
        inside = np.abs(r) <= param
        return np.where(inside, 0.5 * r**2, param * (np.abs(r) - 0.5 * param)), np.clip(r, -param, param), 1.0 * inside
    if name == "epsilon_insensitive":
        return np.maximum(np.abs(r) - param, 0), np.sign(r) * (np.abs(r) > param), 0 * r
    if name == "squared_epsilon_insensitive":
        excess = np.maximum(np.abs(r) - param, 0)
        return excess**2, 2 * excess * np.sign(r), 2.0 * (excess > 0)
    if name == "absolute_error":
        return np.abs(r), np.sign(r), 0 * r
    if name == "log_loss":
        p = expit(raw)
        return np.logaddexp(0, raw) - y * raw, p - y, p * (1 - p)
    if name == "hinge":
        return np.maximum(0, 1 - z), -s * (z < 1), 0 * z
    if name == "squared_hinge":
        return np.maximum(0, 1 - z) ** 2, -2 * s * np.maximum(0, 1 - z), 2.0 * (z < 1)
    if name == "modified_huber":
        middle = (z >= -1) & (z < 1)
        return (np.where(z >= 1, 0, np.where(middle, (1 - z) ** 2, -4 * z)),
                np.where(z >= 1, 0, np.where(middle, -2 * s * (1 - z), -4 * s)), 2.0 * middle)
    if name == "perceptron":
        return np.maximum(0, -z), -s * (z <= 0), 0 * z
    if name == "poisson":
        return np.exp(raw) - y * raw + xlogy(y, y) - y, np.exp(raw) - y, np.exp(raw)
    raise ValueError(name)


def reference(name, X, y, weight, coef, intercept, direction_coef=None, direction_intercept=None):
    """(loss sums, grad coef, grad intercept, hessp coef, hessp intercept) of the weighted loss sum."""
    X = np.asarray(X, dtype=np.float64)
    raw = X @ coef + intercept
    if name == "multinomial":
        labels = y[:, 0].astype(int)
        log_sum_exp = np.logaddexp.reduce(raw, axis=1)
        p = np.exp(raw - log_sum_exp[:, None])
        loss = (log_sum_exp - raw[np.arange(len(labels)), labels])[:, None]
        grad = p - np.eye(coef.shape[1])[labels]
        along = None if direction_coef is None else X @ direction_coef + direction_intercept
        curvature = None if along is None else p * (along - (p * along).sum(axis=1, keepdims=True))
    else:
        loss, grad, hess = reference_pointwise(name, y, raw)
        along = None if direction_coef is None else X @ direction_coef + direction_intercept
        curvature = None if along is None else hess * along
    loss_sum = (weight * loss).sum(axis=0)
    g = weight * grad
    out = [loss_sum, X.T @ g, g.sum(axis=0)]
    if curvature is not None:
        c = weight * curvature
        out += [X.T @ c, c.sum(axis=0)]
    return out


# -- data -----------------------------------------------------------------------------------------------
def make_problem(name, n_samples=300, n_features=7, n_models=1, per_model=False, seed=0):
    """X (float64, ~30% zeros), y, sample_weight, coef, intercept, direction for one loss."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * (rng.random((n_samples, n_features)) < 0.7)
    n_columns = N_CLASSES if name == "multinomial" else n_models
    n_targets = n_models if per_model else 1
    if name == "multinomial":
        y = rng.integers(0, N_CLASSES, (n_samples, 1)).astype(np.float64)
    elif name in BINARY:
        y = rng.integers(0, 2, (n_samples, n_targets)).astype(np.float64)
    elif name == "poisson":
        y = rng.poisson(1.5, (n_samples, n_targets)).astype(np.float64)
    else:
        y = rng.standard_normal((n_samples, n_targets))
    weight = rng.uniform(0.0, 2.0, (n_samples, n_targets)) * (rng.random((n_samples, n_targets)) < 0.9)
    coef = 0.4 * rng.standard_normal((n_features, n_columns))
    intercept = 0.3 * rng.standard_normal(n_columns)
    direction = (rng.standard_normal((n_features, n_columns)), rng.standard_normal(n_columns))
    return X, y, weight, coef, intercept, direction


class CSR:
    """Read-only CSR arrays as the kernels take them (scipy may narrow int64 indices: not used here)."""

    def __init__(self, data, indices, indptr):
        self.arrays = tuple(frozen_view(np.ascontiguousarray(a)) for a in (data, indices, indptr))


def store(X, storage, dtype):
    """X in the given storage: a read-only ndarray or read-only CSR arrays."""
    X = X.astype(dtype)
    if storage == "dense_C":
        return frozen_view(np.ascontiguousarray(X))
    if storage == "dense_F":
        return frozen_view(np.asfortranarray(X))
    index_dtype = np.int32 if storage == "csr_int32" else np.int64
    csr = sp.csr_matrix(X)
    return CSR(csr.data, csr.indices.astype(index_dtype), csr.indptr.astype(index_dtype))


def run_loss_grad(X, loss_id, param, y, weight, coef, intercept, n_threads=2):
    n_features, n_columns = coef.shape
    n_loss = 1 if loss_id == losses.MULTINOMIAL else n_columns
    loss_out = np.full(n_loss, np.nan)
    grad_coef = np.full((n_features, n_columns), np.nan)
    grad_intercept = np.full(n_columns, np.nan)
    args = (frozen_view(y), frozen_view(weight), coef, intercept, loss_id, param, n_threads,
            loss_out, grad_coef, grad_intercept, np.zeros(1, dtype=np.int64))
    if isinstance(X, CSR):
        objective_csr.loss_grad_csr(*X.arrays, n_features, *args)
    else:
        objective_dense.loss_grad_dense(X, *args, np.zeros((0, 0)))
    return loss_out, grad_coef, grad_intercept


def run_hessp(X, loss_id, param, y, weight, coef, intercept, direction, n_threads=2):
    n_features, n_columns = coef.shape
    out_coef = np.full((n_features, n_columns), np.nan)
    out_intercept = np.full(n_columns, np.nan)
    args = (frozen_view(y), frozen_view(weight), coef, intercept, direction[0], direction[1], loss_id, param,
            n_threads, out_coef, out_intercept)
    if isinstance(X, CSR):
        objective_csr.hessp_csr(*X.arrays, n_features, *args)
    else:
        objective_dense.hessp_dense(X, *args)
    return out_coef, out_intercept


def assert_close(got, expected, rtol=RTOL):
    for g, e in zip(got, expected):
        scale = max(1.0, float(np.abs(e).max(initial=0.0)))
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scale)


def bits(arrays):
    return [np.ascontiguousarray(a).view(np.uint64).copy() for a in arrays]


storages = pytest.mark.parametrize("storage", STORAGES)
dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
all_losses = pytest.mark.parametrize("name", list(LOSS_IDS))
one_score_losses = pytest.mark.parametrize("name", [n for n in LOSS_IDS if n != "multinomial"])


# -- every kernel, every loss, every storage and dtype ----------------------------------------------
@all_losses
@dtypes
@storages
def test_loss_grad_matches_numpy(name, storage, dtype):
    X, y, weight, coef, intercept, _ = make_problem(name)
    Xs = store(X, storage, dtype)
    got = run_loss_grad(Xs, LOSS_IDS[name], PARAMS.get(name, 0.0), y, weight, coef, intercept)
    # the reference sees exactly the values the kernel sees (float32 rounded once, then float64)
    assert_close(got, reference(name, X.astype(dtype), y, weight, coef, intercept))


@all_losses
@dtypes
@storages
def test_hessp_matches_numpy(name, storage, dtype):
    X, y, weight, coef, intercept, direction = make_problem(name)
    Xs = store(X, storage, dtype)
    got = run_hessp(Xs, LOSS_IDS[name], PARAMS.get(name, 0.0), y, weight, coef, intercept, direction)
    expected = reference(name, X.astype(dtype), y, weight, coef, intercept, *direction)[3:]
    assert_close(got, expected)


@pytest.mark.parametrize("n_models", [1, 3])
@dtypes
@storages
def test_raw_prediction_matches_numpy(storage, dtype, n_models):
    X, _, _, coef, intercept, _ = make_problem("squared_error", n_models=n_models)
    Xs = store(X, storage, dtype)
    out = np.full((X.shape[0], n_models), np.nan)
    if isinstance(Xs, CSR):
        objective_csr.raw_prediction_csr(*Xs.arrays, coef, intercept, out)
    else:
        objective_dense.raw_prediction_dense(Xs, coef, intercept, out)
    assert_close([out], [X.astype(dtype).astype(np.float64) @ coef + intercept])


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rmatvec_dense_matches_numpy_for_any_thread_count(dtype, order, n_threads):
    """``X.T @ values`` in one pass: float64 sums of float32 X, row chunks (and a partial last block)
    summed in chunk order, so repeated calls agree bitwise."""
    rng = np.random.default_rng(4)
    X = np.asarray(rng.standard_normal((2 * objective_dense.BLOCK_ROWS + 37, 7)).astype(dtype), order=order)
    values = rng.standard_normal((X.shape[0], 3))
    out, again = np.full((7, 3), np.nan), np.full((7, 3), np.nan)
    objective_dense.rmatvec_dense(X, values, n_threads, out)
    objective_dense.rmatvec_dense(X, values, n_threads, again)
    np.testing.assert_allclose(out, X.astype(np.float64).T @ values, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out, again)
    objective_dense.rmatvec_dense(X, values, n_threads, out, True)  # the squares of X
    np.testing.assert_allclose(out, (X.astype(np.float64) ** 2).T @ values, rtol=1e-12, atol=1e-12)


def test_float32_data_is_accumulated_in_float64():
    # 1e8 + 1 - 1e8 style cancellations: float32 accumulation would lose the small terms entirely
    n_samples = 4000
    X = np.ones((n_samples, 2), dtype=np.float32)
    X[::2, 0] = 1e4
    X[1::2, 0] = -1e4
    y = np.zeros((n_samples, 1))
    coef = np.array([[1.0], [1e-4]])
    weight = np.ones((n_samples, 1))
    # raw = +-1e4 + 1e-4: the intercept gradient sum(raw) = 0.4 and the second coefficient's
    # gradient (the same sum) come out of n_samples terms of size 1e4 that cancel
    expected = reference("squared_error", X, y, weight, coef, np.zeros(1))
    assert abs(expected[2][0] - 0.4) < 1e-8
    for storage in ("dense_C", "dense_F", "csr_int64"):
        loss, grad_coef, grad_intercept = run_loss_grad(store(X, storage, np.float32), losses.SQUARED_ERROR, 0.0,
                                                        y, weight, coef, np.zeros(1))
        np.testing.assert_allclose(loss, expected[0], rtol=1e-12)
        np.testing.assert_allclose(grad_coef[:, 0], expected[1][:, 0], rtol=1e-7)
        np.testing.assert_allclose(grad_intercept, expected[2], rtol=1e-7)


def test_writable_inputs_give_the_same_result():
    X, y, weight, coef, intercept, _ = make_problem("log_loss")
    expected = run_loss_grad(frozen_view(X), losses.LOGISTIC, 0.0, y, weight, coef, intercept)
    for Xw in (X, sp.csr_matrix(X)):
        n_features = coef.shape[0]
        loss_out, grad_coef, grad_intercept = np.empty(1), np.empty((n_features, 1)), np.empty(1)
        args = (y, weight, coef, intercept, losses.LOGISTIC, 0.0, 2, loss_out, grad_coef, grad_intercept,
                np.zeros(1, dtype=np.int64))
        if sp.issparse(Xw):
            objective_csr.loss_grad_csr(Xw.data, Xw.indices, Xw.indptr, n_features, *args)
        else:
            objective_dense.loss_grad_dense(Xw, *args, np.zeros((0, 0)))
        assert_close((loss_out, grad_coef, grad_intercept), expected, rtol=1e-12)


# -- threads and determinism -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["squared_error", "log_loss", "multinomial", "hinge"])
@storages
def test_thread_counts_agree_and_repeated_calls_are_bitwise_identical(name, storage):
    X, y, weight, coef, intercept, direction = make_problem(name, n_samples=1000)
    Xs = store(X, storage, np.float64)
    args = (Xs, LOSS_IDS[name], PARAMS.get(name, 0.0), y, weight, coef, intercept)
    results = {}
    for n_threads in (1, 2, 3):
        first = [*run_loss_grad(*args, n_threads=n_threads), *run_hessp(*args, direction, n_threads=n_threads)]
        again = [*run_loss_grad(*args, n_threads=n_threads), *run_hessp(*args, direction, n_threads=n_threads)]
        for a, b in zip(bits(first), bits(again)):
            np.testing.assert_array_equal(a, b)
        results[n_threads] = first
    assert_close(results[2], results[1], rtol=1e-12)
    assert_close(results[3], results[1], rtol=1e-12)


# -- K models in one pass --------------------------------------------------------------------------------
@pytest.mark.parametrize("per_model", [False, True], ids=["shared_y", "per_model_y"])
@one_score_losses
@pytest.mark.parametrize("storage", ["dense_C", "dense_F", "csr_int64"])
def test_k_models_in_one_call_equal_k_single_calls(storage, name, per_model):
    n_models = 3
    X, y, weight, coef, intercept, direction = make_problem(name, n_models=n_models, per_model=per_model)
    Xs = store(X, storage, np.float64)
    loss_id, param = LOSS_IDS[name], PARAMS.get(name, 0.0)
    together = run_loss_grad(Xs, loss_id, param, y, weight, coef, intercept)
    together_hessp = run_hessp(Xs, loss_id, param, y, weight, coef, intercept, direction)
    for k in range(n_models):
        column = slice(k, k + 1) if per_model else slice(0, 1)
        single = run_loss_grad(Xs, loss_id, param, np.ascontiguousarray(y[:, column]),
                               np.ascontiguousarray(weight[:, column]), np.ascontiguousarray(coef[:, k:k + 1]),
                               intercept[k:k + 1])
        assert_close([together[0][k], together[1][:, k], together[2][k]],
                     [single[0][0], single[1][:, 0], single[2][0]], rtol=1e-12)
        single_hessp = run_hessp(Xs, loss_id, param, np.ascontiguousarray(y[:, column]),
                                 np.ascontiguousarray(weight[:, column]), np.ascontiguousarray(coef[:, k:k + 1]),
                                 intercept[k:k + 1],
                                 (np.ascontiguousarray(direction[0][:, k:k + 1]), direction[1][k:k + 1]))
        assert_close([together_hessp[0][:, k], together_hessp[1][k]],
                     [single_hessp[0][:, 0], single_hessp[1][0]], rtol=1e-12)
    # and the reference agrees with the whole batch
    assert_close(together, reference(name, X, y, weight, coef, intercept))


# -- edge sizes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_samples", [0, 1])
@pytest.mark.parametrize("name", ["squared_error", "log_loss", "multinomial"])
@storages
def test_tiny_sample_counts(storage, name, n_samples):
    X, y, weight, coef, intercept, direction = make_problem(name, n_samples=n_samples)
    weight[:] = 1.0
    Xs = store(X, storage, np.float64)
    loss_id = LOSS_IDS[name]
    for n_threads in (1, 2, 4):  # more threads than samples
        got = run_loss_grad(Xs, loss_id, 0.0, y, weight, coef, intercept, n_threads=n_threads)
        got_hessp = run_hessp(Xs, loss_id, 0.0, y, weight, coef, intercept, direction, n_threads=n_threads)
        expected = reference(name, X, y, weight, coef, intercept, *direction)
        assert_close([*got, *got_hessp], expected)
        if n_samples == 0:  # outputs are overwritten with zeros (they start as NaN)
            for array in (*got, *got_hessp):
                np.testing.assert_array_equal(array, 0.0)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("storage", ["dense_C", "dense_F"])
def test_row_counts_around_the_block_size(storage, n_threads):
    block = objective_dense.BLOCK_ROWS
    for n_samples in (block - 1, block, block + 1, 2 * block + 37):
        X, y, weight, coef, intercept, direction = make_problem("log_loss", n_samples=n_samples, seed=n_samples)
        Xs = store(X, storage, np.float64)
        got = run_loss_grad(Xs, losses.LOGISTIC, 0.0, y, weight, coef, intercept, n_threads=n_threads)
        got_hessp = run_hessp(Xs, losses.LOGISTIC, 0.0, y, weight, coef, intercept, direction, n_threads=n_threads)
        assert_close([*got, *got_hessp], reference("log_loss", X, y, weight, coef, intercept, *direction))


@storages
def test_zero_weights_and_weights_scale_linearly(storage):
    X, y, weight, coef, intercept, direction = make_problem("log_loss")
    Xs = store(X, storage, np.float64)
    zero = run_loss_grad(Xs, losses.LOGISTIC, 0.0, y, np.zeros_like(weight), coef, intercept)
    for array in zero:
        np.testing.assert_array_equal(array, 0.0)
    # dropping the zero-weight rows changes nothing
    keep = weight[:, 0] > 0
    assert not keep.all()
    full = run_loss_grad(Xs, losses.LOGISTIC, 0.0, y, weight, coef, intercept)
    kept = run_loss_grad(store(X[keep], storage, np.float64), losses.LOGISTIC, 0.0,
                         np.ascontiguousarray(y[keep]), np.ascontiguousarray(weight[keep]), coef, intercept)
    assert_close(full, kept, rtol=1e-12)
    # integer weights equal repeated rows
    counts = np.random.default_rng(3).integers(0, 3, X.shape[0])
    weighted = run_loss_grad(Xs, losses.LOGISTIC, 0.0, y, counts[:, None].astype(np.float64), coef, intercept)
    repeated = np.repeat(np.arange(X.shape[0]), counts)
    expanded = run_loss_grad(store(X[repeated], storage, np.float64), losses.LOGISTIC, 0.0,
                             np.ascontiguousarray(y[repeated]), np.ones((len(repeated), 1)), coef, intercept)
    assert_close(weighted, expanded, rtol=1e-12)


# -- CSR rows with unsorted and duplicated column indices -----------------------------------------------
MESSY_ROWS = [[], [3, 0, 3, 5], [1], [5, 4, 3, 2, 1, 0, 0], [2, 2, 2], [], [0, 5, 0, 5, 1], [4]]


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("name", ["squared_error", "log_loss", "multinomial", "poisson"])
def test_csr_with_unsorted_and_duplicate_indices(name, index_dtype):
    rng = np.random.default_rng(4)
    n_samples, n_features = len(MESSY_ROWS), 6
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in MESSY_ROWS])]).astype(index_dtype)
    indices = np.array([j for r in MESSY_ROWS for j in r], dtype=index_dtype)
    data = rng.standard_normal(len(indices))
    dense = np.zeros((n_samples, n_features))
    np.add.at(dense, (np.repeat(np.arange(n_samples), np.diff(indptr)), indices), data)
    Xs = CSR(data, indices, indptr)
    _, y, weight, coef, intercept, direction = make_problem(name, n_samples=n_samples, n_features=n_features)
    got = run_loss_grad(Xs, LOSS_IDS[name], 0.0, y, weight, coef, intercept)
    got_hessp = run_hessp(Xs, LOSS_IDS[name], 0.0, y, weight, coef, intercept, direction)
    assert_close([*got, *got_hessp], reference(name, dense, y, weight, coef, intercept, *direction))


@pytest.mark.parametrize("n_models, n_weight_columns", [(1, 1), (3, 1), (3, 3)])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_pass_forms_weighted_column_sums_of_squares(dtype, order, n_threads, n_models, n_weight_columns):
    """``square_sums_out`` of the fused pass: ``(X**2).T @ sample_weight`` per weight column, with
    the loss and gradient unchanged (and (0, 0) asks for none). One model, one weight column, C order:
    the squares are summed in the gradient's sweep over each block
    (``block_add_rmatvec_and_squares_dense``), the rows left over by its four-row steps included."""
    rng = np.random.default_rng(6)
    X = np.asarray(rng.standard_normal((2 * objective_dense.BLOCK_ROWS + 11, 5)).astype(dtype), order=order)
    weight = rng.uniform(0.0, 2.0, (X.shape[0], n_weight_columns))
    weight[::7] = 0.0  # rows without weight are skipped, as in the gradient
    y = (rng.random((X.shape[0], 1)) < 0.5).astype(np.float64)
    coef, intercept = 0.1 * rng.standard_normal((5, n_models)), np.zeros(n_models)
    if n_models > 1:
        coef[:, 1] = 0.0
        intercept[1] = 40.0  # the second model's log-loss gradient underflows to 0 on the y = 0 rows
    outputs = []
    for squares in (np.full((5, n_weight_columns), np.nan), np.zeros((0, 0))):
        loss, grad, grad_intercept = np.empty(n_models), np.empty((5, n_models)), np.empty(n_models)
        objective_dense.loss_grad_dense(X, y, weight, coef, intercept, losses.LOGISTIC, 0.0, n_threads, loss, grad,
                                        grad_intercept, np.zeros(1, dtype=np.int64), squares)
        outputs.append((loss, grad, grad_intercept))
        if squares.size:
            np.testing.assert_allclose(squares, (X.astype(np.float64) ** 2).T @ weight, rtol=1e-12)
    for with_squares, without in zip(*outputs):
        np.testing.assert_array_equal(with_squares, without)
