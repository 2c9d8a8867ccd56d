"""The batched L-BFGS memory against the textbook two-loop recursion run model by model."""
import numpy as np

from fastml.solvers._curvature_memory import CurvatureMemory


def reference_direction(gradient, pairs, scale):
    """Nocedal & Wright, algorithm 7.4, with H0 = scale * I; ``pairs`` oldest first."""
    q = gradient.copy()
    alphas = []
    for s, y in reversed(pairs):
        alpha = (s @ q) / (s @ y)
        q -= alpha * y
        alphas.append(alpha)
    q *= scale
    for (s, y), alpha in zip(pairs, reversed(alphas)):
        q += (alpha - (y @ q) / (s @ y)) * s
    return -q


def test_directions_match_the_two_loop_recursion_per_model():
    rng = np.random.default_rng(0)
    n_models, size, memory = 5, 7, 3
    store = CurvatureMemory(n_models, size, memory)
    pairs = [[] for _ in range(n_models)]
    for step in range(6):  # more pairs than memory: the ring wraps
        for k in range(n_models):
            if step >= k:  # model k starts k steps late: every count from 0 to memory
                s = rng.standard_normal(size)
                y = s + 0.1 * rng.standard_normal(size)  # s.y > 0
                store.add(np.array([k]), s[None], y[None], np.array([1.0 / (s @ y)]))
                pairs[k] = (pairs[k] + [(s, y)])[-memory:]
    store.clear([1])
    pairs[1] = []
    scales = rng.uniform(0.5, 2.0, n_models)
    gradients = rng.standard_normal((n_models, size))
    models = np.array([4, 0, 1, 3])  # any subset, in any order
    got = store.directions(models, gradients[models], lambda q, rows: scales[rows, None] * q)
    assert list(store.count) == [3, 0, 3, 3, 2]
    for row, k in enumerate(models):
        np.testing.assert_allclose(got[row], reference_direction(gradients[k], pairs[k], scales[k]), rtol=1e-12)
    # one model with H0 = scale * I: the compiled recursion (every count, the ring wrapped or not)
    for k in (0, 2, 3, 4):
        one = store.directions(np.array([k]), gradients[k][None], lambda q, rows: scales[rows, None] * q,
                               identity_scales=scales)
        np.testing.assert_allclose(one[0], reference_direction(gradients[k], pairs[k], scales[k]), rtol=1e-12)


def test_compiled_recursion_with_one_pair_and_a_full_ring():
    rng = np.random.default_rng(1)
    for n_pairs in (1, 4, 9):
        store = CurvatureMemory(1, 5, 4)
        pairs = []
        for _ in range(n_pairs):
            s = rng.standard_normal(5)
            y = s + 0.2 * rng.standard_normal(5)
            store.add(np.array([0]), s[None], y[None], np.array([1.0 / (s @ y)]))
            pairs = (pairs + [(s, y)])[-4:]
        gradient = rng.standard_normal(5)
        got = store.directions(np.array([0]), gradient[None], None, identity_scales=np.array([0.7]))
        np.testing.assert_allclose(got[0], reference_direction(gradient, pairs, 0.7), rtol=1e-12)
