"""The row order of a stochastic epoch: a uniformly random permutation that depends on (seed, epoch) only.

Why not numpy: ``numpy.random.default_rng([seed, epoch]).permutation(n)`` builds a generator from a
seed sequence (~18 us) and shuffles at ~20 ns a row: 42 us an epoch for 1 000 rows (as long as the
epoch itself), 19.8 ms for 1e6 rows (a tenth of a shuffled SGD epoch there), on the 2-core Intel VM
of the 2026-11-28 session note. Here: Fisher-Yates in one compiled pass, 4.6 us for 1 000 rows,
6.0 ms for 1e6.

Generator: SplitMix64 (Steele, Lea, Flood 2014: a Weyl sequence of step 0x9E3779B97F4A7C15 through
a 64-bit finalizer; passes BigCrush), its state started from the seed and the epoch through the
same finalizer, so that neighbouring seeds and epochs give unrelated streams. Swap index ``j`` for
position ``i`` is the top 53 bits of an output modulo ``i + 1``: a bias below ``n / 2^53``.
"""
import numpy as np

from ._jit import jit_inline, jit_kernel

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


@jit_inline
def _finalize(z):
    """SplitMix64's output function (a bijection of 64-bit words)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@jit_kernel
def epoch_permutation(seed, epoch, order_out):
    """Fill ``order_out`` (int64, n) with a random permutation of ``0 .. n - 1`` drawn from
    ``(seed, epoch)`` (uint64) alone; returns it."""
    n = order_out.shape[0]
    for i in range(n):
        order_out[i] = i
    state = _finalize(np.uint64(seed) * _GOLDEN_GAMMA + _finalize(np.uint64(epoch) + _GOLDEN_GAMMA))
    for i in range(n - 1, 0, -1):
        state += _GOLDEN_GAMMA
        j = np.int64((_finalize(state) >> np.uint64(11)) % np.uint64(i + 1))
        value = order_out[i]
        order_out[i] = order_out[j]
        order_out[j] = value
    return order_out


__all__ = ["epoch_permutation"]
