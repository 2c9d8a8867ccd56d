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
