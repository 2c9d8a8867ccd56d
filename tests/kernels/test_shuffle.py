"""``kernels.shuffle.epoch_permutation``: the row order of a stochastic epoch.

Checked against what a uniformly random permutation must satisfy, with independent statistics
from scipy: every output is a permutation, the same (seed, epoch) gives the same one, and over
many seeds each position holds each row equally often (chi-square), consecutive epochs and
neighbouring seeds are unrelated (rank correlation), all 120 orders of 5 rows occur equally often.
"""
import itertools

import numpy as np
from scipy import stats

from fastml.kernels.shuffle import epoch_permutation


def _order(seed, epoch, n):
    return epoch_permutation(np.uint64(seed), np.uint64(epoch), np.empty(n, dtype=np.int64))


def test_a_deterministic_permutation_of_every_size():
    for n in (0, 1, 2, 7, 1000):
        order = _order(3, 1, n)
        assert order.dtype == np.int64
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        np.testing.assert_array_equal(order, _order(3, 1, n))
    assert not np.array_equal(_order(3, 1, 1000), _order(3, 2, 1000))  # another epoch
    assert not np.array_equal(_order(3, 1, 1000), _order(4, 1, 1000))  # another seed
    huge = _order(2**64 - 1, 2**63, 50)  # the whole uint64 range of seeds and epochs
    np.testing.assert_array_equal(np.sort(huge), np.arange(50))


def test_positions_are_uniform_over_seeds():
    n, draws = 10, 20_000
    counts = np.zeros((n, n))  # counts[position, row]
    for seed in range(draws):
        counts[np.arange(n), _order(seed, 0, n)] += 1
    # each position: a chi-square test of the rows it received against uniform
    p_values = [stats.chisquare(counts[position]).pvalue for position in range(n)]
    assert min(p_values) > 1e-4, p_values


def test_all_orders_of_five_rows_are_equally_likely():
    draws = 60_000
    index = {order: k for k, order in enumerate(itertools.permutations(range(5)))}
    counts = np.zeros(len(index))
    for seed in range(draws):
        counts[index[tuple(_order(seed, 7, 5))]] += 1
    assert counts.min() > 0
    assert stats.chisquare(counts).pvalue > 1e-4


def test_epochs_and_neighbouring_seeds_are_unrelated():
    n = 5000
    pairs = [(_order(11, 0, n), _order(11, 1, n)), (_order(11, 0, n), _order(12, 0, n)),
             (_order(0, 0, n), _order(1, 0, n))]
    for first, second in pairs:
        # the position of each row in one order says nothing about its position in the other
        rho = stats.spearmanr(np.argsort(first), np.argsort(second)).statistic
        assert abs(rho) < 4.0 / np.sqrt(n), rho
