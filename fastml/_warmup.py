"""Compile (or load from the cache) the kernels a session will use, before timing-sensitive work."""
import time

import numpy as np
import scipy.sparse as sp


def warmup(dtypes=("float64", "float32"), sparse=True, losses=("squared_error", "log_loss", "multinomial")):
    """Compile or load the fused kernels for the given dtypes and storage; return seconds spent.

    The first call in a fresh environment compiles (a few seconds per dtype and storage) and
    fills Numba's on-disk cache; later processes load from the cache in milliseconds. One
    compiled kernel serves every loss, so ``losses`` only chooses what is exercised.
    """
    from ._objective import LinearObjective

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        X = rng.standard_normal((8, 3)).astype(dtype)
        layouts = [X, np.asfortranarray(X)] + ([sp.csr_matrix(X)] if sparse else [])
        for data in layouts:
            for name in losses:
                y = np.arange(8) % (3 if name == "multinomial" else 2)
                objective = LinearObjective(name, data, y)
                w = objective.initial_parameters()
                objective.value_and_gradient(w)
                objective.hessp(w, w)
    return time.perf_counter() - start
