"""fastml: a fast, trustworthy optimization core for classical machine learning.

Importing ``fastml`` is cheap: Numba and the kernels load on first use.
"""
__version__ = "0.1.0"

from ._config import get_n_threads, set_n_threads  # noqa: E402
from ._loss import LOSSES, Loss, get_loss  # noqa: E402
from ._objective import LinearObjective  # noqa: E402
from ._warmup import warmup  # noqa: E402

__all__ = [
    "LOSSES",
    "LinearObjective",
    "Loss",
    "get_loss",
    "get_n_threads",
    "set_n_threads",
    "warmup",
]
