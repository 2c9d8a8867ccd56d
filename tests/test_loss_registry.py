"""The loss registry (``fastml.get_loss`` / ``fastml.LOSSES``): names, aliases, shape parameters,
errors, and metadata that must agree with what the compiled kernels compute."""
import numpy as np
import pytest

from fastml import LOSSES, Loss, get_loss
from fastml._objective import frozen_view
from fastml.kernels import pointwise

ALIASES = {
    "squared": "squared_error", "least_squares": "squared_error", "l2": "squared_error",
    "logistic": "log_loss", "binary_crossentropy": "log_loss", "binomial": "log_loss", "log": "log_loss",
    "softmax": "multinomial", "categorical_crossentropy": "multinomial",
    "l1": "absolute_error", "absolute": "absolute_error",
}
ONE_SCORE = [name for name in LOSSES if name != "multinomial"]


def kernel_values(loss, y, raw):
    """Per-sample (loss, gradient, hessian) from the compiled pointwise kernels."""
    n_samples = raw.shape[0]
    y = frozen_view(np.ascontiguousarray(np.broadcast_to(y, (n_samples,)), dtype=np.float64).reshape(-1, 1))
    weight = frozen_view(np.ones((n_samples, 1)))
    raw = np.ascontiguousarray(raw, dtype=np.float64).reshape(-1, 1)
    loss_out, grad_out, hess_out = np.empty_like(raw), np.empty_like(raw), np.empty_like(raw)
    pointwise.loss_grad_pointwise(y, weight, raw, loss.loss_id, loss.param, loss_out, grad_out)
    pointwise.hessian_pointwise(y, weight, raw, loss.loss_id, loss.param, hess_out)
    return loss_out[:, 0], grad_out[:, 0], hess_out[:, 0]


def typical_target(loss):
    return {"binary": 1.0, "count": 2.0}.get(loss.task, 0.4)


def test_every_loss_is_registered_under_its_own_name():
    assert set(LOSSES) == {
        "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive", "absolute_error",
        "log_loss", "multinomial", "hinge", "squared_hinge", "modified_huber", "perceptron", "poisson"}
    for name, loss in LOSSES.items():
        assert isinstance(loss, Loss) and loss.name == name
        assert get_loss(name) is loss
    assert len({loss.loss_id for loss in LOSSES.values()}) == len(LOSSES)


@pytest.mark.parametrize("alias, name", ALIASES.items())
def test_aliases(alias, name):
    assert get_loss(alias) is LOSSES[name]


def test_a_loss_object_passes_through():
    huber = get_loss("huber", delta=2.0)
    assert get_loss(huber) is huber


@pytest.mark.parametrize("name, params, expected", [
    ("huber", {"delta": 2.5}, 2.5),
    ("huber", {"epsilon": 1.35}, 1.35),  # scikit-learn's SGD spelling
    ("epsilon_insensitive", {"epsilon": 0.0}, 0.0),
    ("squared_epsilon_insensitive", {"epsilon": 0.3}, 0.3),
])
def test_shape_parameters(name, params, expected):
    loss = get_loss(name, **params)
    assert loss.param == expected and loss.name == name and loss.loss_id == LOSSES[name].loss_id
    # the registry's defaults are left alone
    assert (LOSSES["huber"].param, LOSSES["epsilon_insensitive"].param) == (1.0, 0.1)


def test_huber_parameter_reaches_the_kernel():
    loss = get_loss("huber", delta=0.5)
    value, gradient, _ = kernel_values(loss, 0.0, np.array([0.25, 2.0, -2.0]))
    np.testing.assert_allclose(value, [0.03125, 0.5 * 2.0 - 0.125, 0.875])
    np.testing.assert_allclose(gradient, [0.25, 0.5, -0.5])


@pytest.mark.parametrize("name, params, match", [
    ("hinge_loss", {}, "unknown loss 'hinge_loss'"),
    ("huber", {"delta": 0.0}, "positive"),
    ("huber", {"delta": -1.0}, "positive"),
    ("huber", {"delta": np.inf}, "finite"),
    ("huber", {"alpha": 1.0}, "takes"),
    ("huber", {"delta": 1.0, "epsilon": 1.0}, "takes"),
    ("log_loss", {"delta": 1.0}, "no parameters"),
    ("epsilon_insensitive", {"epsilon": -0.1}, "positive"),
])
def test_errors(name, params, match):
    with pytest.raises(ValueError, match=match):
        get_loss(name, **params)


def test_unknown_name_lists_every_choice():
    with pytest.raises(ValueError) as info:
        get_loss("cross_entropy")
    assert all(name in str(info.value) for name in LOSSES)


def test_losses_are_frozen():
    with pytest.raises(AttributeError):
        LOSSES["huber"].param = 3.0


# -- metadata consistent with the kernels ------------------------------------------------------------------
@pytest.mark.parametrize("name", ONE_SCORE)
def test_has_hessian_agrees_with_the_kernel(name):
    loss = LOSSES[name]
    raw = np.random.default_rng(0).uniform(-3, 3, 500)
    _, _, hessian = kernel_values(loss, typical_target(loss), raw)
    assert np.all(hessian >= 0)  # every loss here is convex
    if loss.has_hessian:
        assert np.mean(hessian > 0) > 0.2
    else:  # piecewise linear: zero curvature almost everywhere
        np.testing.assert_array_equal(hessian, 0.0)


@pytest.mark.parametrize("name", ONE_SCORE)
def test_smooth_agrees_with_a_continuous_kernel_gradient(name):
    loss = LOSSES[name]
    y = typical_target(loss)
    raw = np.linspace(-3, 3, 600001)  # step 1e-5: a continuous gradient moves by O(1e-5) per step
    _, gradient, _ = kernel_values(loss, y, raw)
    largest_jump = np.abs(np.diff(gradient)).max()
    if loss.smooth:
        assert largest_jump < 1e-3, largest_jump
    else:
        assert largest_jump > 0.5, largest_jump


@pytest.mark.parametrize("name, raw, expected", [
    ("squared_error", np.array([-1.0, 2.0]), np.array([-1.0, 2.0])),
    ("log_loss", np.array([0.0, np.log(3.0)]), np.array([0.5, 0.75])),
    ("poisson", np.array([0.0, np.log(2.5)]), np.array([1.0, 2.5])),
])
def test_link_maps_the_minimizer_of_the_loss(name, raw, expected):
    # for a canonical link the loss gradient is mean - y: zero exactly when y equals the link's inverse
    loss = LOSSES[name]
    for r, mean in zip(raw, expected):
        _, gradient, _ = kernel_values(loss, mean, np.array([r]))
        np.testing.assert_allclose(gradient, 0.0, atol=1e-15)
    assert loss.link == {"squared_error": "identity", "log_loss": "logit", "poisson": "log"}[name]


def test_tasks_and_links():
    for name, loss in LOSSES.items():
        assert loss.task in {"regression", "binary", "multiclass", "count"}
        assert loss.link in {"identity", "logit", "softmax", "log"}
    assert LOSSES["multinomial"].is_multiclass and LOSSES["multinomial"].link == "softmax"
    assert {n for n, loss in LOSSES.items() if loss.task == "binary"} == {
        "log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"}


@pytest.mark.parametrize("name, y, ok", [
    ("log_loss", [0, 1, 1], True), ("log_loss", [0, 2], False), ("hinge", [-1, 1], False),
    ("poisson", [0, 3.5], True), ("poisson", [-0.5], False), ("squared_error", [-3.0, 1e9], True),
    ("squared_error", [np.nan], False), ("multinomial", [0, 2, 1], True), ("multinomial", [0, 1.5], False),
    ("multinomial", [-1, 0], False), ("log_loss", [], True),
])
def test_check_y(name, y, ok):
    if ok:
        LOSSES[name].check_y(np.array(y, dtype=float))
    else:
        with pytest.raises(ValueError, match=name):
            LOSSES[name].check_y(np.array(y, dtype=float))


@pytest.mark.parametrize("name", ["squared_error", "log_loss", "poisson", "absolute_error"])
def test_intercept_only_minimizes_the_constant_model(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(1)
    y = {"binary": (rng.random(301) < 0.3) * 1.0, "count": rng.poisson(2.0, 301) * 1.0}.get(
        loss.task, rng.standard_normal(301))
    weight = rng.uniform(0.5, 1.5, 301)
    best = loss.intercept_only(y, weight)
    assert best.shape == (1,)
    grid = best[0] + np.linspace(-0.05, 0.05, 11)
    totals = [np.sum(weight * kernel_values(loss, y, np.full(301, c))[0]) for c in grid]
    assert np.argmin(totals) == 5


def test_multinomial_intercept_only_gives_the_class_shares():
    y = np.array([0, 0, 1, 2, 2, 2], dtype=float)
    start = LOSSES["multinomial"].intercept_only(y, n_classes=4)
    assert start.shape == (4,)
    np.testing.assert_allclose(start.sum(), 0.0, atol=1e-12)
    share = np.exp(start) / np.exp(start).sum()
    np.testing.assert_allclose(share[:3], [2 / 6, 1 / 6, 3 / 6], rtol=1e-9)
    assert share[3] < 1e-10  # an unseen class gets a vanishing (finite) score
