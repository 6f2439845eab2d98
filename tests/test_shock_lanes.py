"""The shock lanes (docs/model.md, 2): a path's period normals from 16 xoshiro256** generators
stepped together and a 1024-block ziggurat whose rare branches go on from the period stream.
Checked: the ziggurat's tables close (every block has the same area, the top one too), each lane
is xoshiro256** (against the reference-checked single generator), the lanes' seeding is SplitMix64's reference, the share of words inside the boxes is the ziggurat's exact
acceptance, and the normals' moments, quantiles, tails and correlations are the standard
normal's within stated standard errors."""

from __future__ import annotations

import math

import numpy as np
from helpers import splitmix64
from numba import njit
from scipy import optimize, stats

from ipabs.engine import rng

MASK = 2**64 - 1


def _lanes(seed: int, path: int) -> tuple[np.ndarray, np.ndarray]:
    state = np.empty(4, np.uint64)
    rng.seed_stream(state, seed, path)
    lanes = np.empty((4, rng.SHOCK_LANES), np.uint64)
    rng.seed_shock_lanes(lanes, state)
    return lanes, state


def test_the_lanes_are_seeded_by_splitmix64_from_the_period_stream_state():
    lanes, state = _lanes(5, 17)
    s = [int(w) for w in state]
    origin = splitmix64((s[0] ^ s[2] ^ 0x6A09E667F3BCC909) - 0x9E3779B97F4A7C15 & MASK, 1)[0]
    words = splitmix64(origin, 4 * rng.SHOCK_LANES)
    assert lanes.T.ravel().tolist() == words


def test_each_lane_is_a_xoshiro256starstar_stream():
    lanes, _ = _lanes(1, 3)
    copies = [lanes[:, lane].copy() for lane in range(rng.SHOCK_LANES)]
    rounds = 37
    words = np.empty(rounds * rng.SHOCK_LANES - 5, np.uint64)  # a last, partial round
    rng.lane_words(lanes, words)
    for lane, state in enumerate(copies):
        expected = rng.raw_outputs(state, rounds)
        got = words[lane :: rng.SHOCK_LANES]
        assert got.tolist() == expected[: got.size].tolist()
        assert lanes[:, lane].tolist() == state.tolist()  # every lane stepped 37 times


@njit(cache=True)
def _sample(seed, paths, per_path, chunk):
    out = np.empty(paths * per_path)
    inside = 0
    state = np.empty(4, np.uint64)
    lanes = np.empty((4, rng.SHOCK_LANES), np.uint64)
    words = np.empty(chunk, np.uint64)
    places = np.empty(chunk, np.int64)
    for p in range(paths):
        rng.seed_stream(state, seed, p)
        rng.seed_shock_lanes(lanes, state)
        for first in range(0, per_path, chunk):
            block = out[p * per_path + first : p * per_path + first + chunk]
            rng.lane_words(lanes, words)
            inside += rng._inside_boxes(words, block)
            rng._outside_boxes(state, words, block, places)
    return out, inside


def _closure(r: float, blocks: int) -> float:
    """The ziggurat's closure for a base strip edge r: the top block's area less v, where every
    block (the base strip with the tail, and blocks-1 rectangles) has area v = r f(r) + the tail's
    integral, f(x) = exp(-x^2 / 2). Zero at the right r."""
    v = r * math.exp(-0.5 * r * r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    x = r
    for _ in range(2, blocks):
        height = v / x + math.exp(-0.5 * x * x)
        if height >= 1.0:  # the rectangles reach the density's top before the last block
            return -v
        x = math.sqrt(-2.0 * math.log(height))
    return x * (1.0 - math.exp(-0.5 * x * x)) - v


def test_the_ziggurat_tables_close():
    """r solves the closure (found here independently, by Brent's method in double precision); the
    same solver gives Marsaglia & Tsang's published 256-block r; and the tables' blocks all have
    the area v."""
    published_256 = 3.6541528853610088
    assert abs(optimize.brentq(_closure, 3.0, 4.0, args=(256,), xtol=1e-15) - published_256) < 1e-9
    blocks = rng._LANE_BLOCKS
    r = optimize.brentq(_closure, 3.5, 4.5, args=(blocks,), xtol=1e-15)
    assert abs(r - rng._LANE_R) < 1e-9
    v = r * math.exp(-0.5 * r * r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    assert abs(rng._LANE_V / v - 1.0) < 1e-12
    x = rng._LANE_X
    assert x.shape == (blocks + 1,) and x[1] == rng._LANE_R and x[blocks] == 0.0
    f = np.exp(-0.5 * x * x)
    # each rectangle's area x_i (f(x_i+1) - f(x_i)), the top one's with f(0) = 1
    areas = x[1:blocks] * (f[2 : blocks + 1] - f[1:blocks])
    assert np.max(np.abs(areas / v - 1.0)) < 1e-6
    # the block's index and the outside mark sit below the uniform's bits (11 on)
    assert int(rng._LANE_MASK) == blocks - 1 and int(rng._LANE_MARK) == blocks
    assert (int(rng._LANE_MASK) | int(rng._LANE_MARK)) < 1 << 11
    assert blocks & (blocks - 1) == 0


def test_the_share_of_words_inside_the_boxes_is_the_ziggurat_s():
    """Each word's block is uniform over 1024 and its |u| uniform, so P(inside) is the mean of
    x_i+1 / x_i over the blocks (about 99.57%)."""
    _, inside = _sample(3, 200, 1_000, 1_000)
    n = 200_000
    p = float(np.mean(rng._LANE_RATIO))
    assert abs(inside / n - p) < 4.0 * math.sqrt(p * (1 - p) / n)


def test_lane_normals_match_the_normal_distribution():
    x, _ = _sample(2026, 400, 5_000, 1_000)  # 2 million
    n = x.size
    assert abs(x.mean()) < 4.0 / math.sqrt(n)
    assert abs(x.var() - 1.0) < 4.0 * math.sqrt(2.0 / n)
    assert abs(stats.skew(x)) < 4.0 * math.sqrt(6.0 / n)
    assert abs(stats.kurtosis(x)) < 4.0 * math.sqrt(24.0 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # 200 equiprobable bins: the boxes, the wedges and the tail all sit in some
    edges = stats.norm.ppf(np.linspace(0.0, 1.0, 201))
    counts = np.histogram(x, edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-3
    # the tail block (beyond r = 4.039) and the outer wedges, whose normals come from the
    # period stream's draws
    for cut in (2.5, 3.0, 3.654, 4.0, 4.039):
        p = 2 * stats.norm.sf(cut)
        count = np.count_nonzero(np.abs(x) > cut)
        assert abs(count - p * n) < 4.0 * math.sqrt(n * p * (1 - p)), (cut, count, p * n)


def test_lane_normals_are_uncorrelated_along_and_across_lanes_and_paths():
    x, _ = _sample(7, 100, 4_800, 960)  # whole rounds of 16 words
    bound = 4.0 / math.sqrt(x.size)
    assert abs(np.mean(x[1:] * x[:-1])) < bound  # neighbours: two lanes, or a lane's rounds
    by_round = x.reshape(-1, rng.SHOCK_LANES)
    assert abs(np.mean(by_round[1:] * by_round[:-1])) < bound  # a lane and its next word
    paths = x.reshape(100, -1)
    assert abs(np.mean(paths[1:] * paths[:-1])) < bound  # neighbouring paths
    # x_j^2 x_j-1^2 of independent normals: mean 1, variance E x^4 E y^4 - 1 = 8, and
    # neighbouring terms share a factor (covariance E x^4 - 1 = 2): the mean's variance is 12/n
    assert abs(np.mean(x * x * np.roll(x, 1) ** 2) - 1.0) < 4.0 * math.sqrt(12.0 / x.size)


@njit(cache=True)
def _path_alone(seed, path, per_path, chunk):
    """Path `path`'s normals, seeded directly (no other path drawn in this process call)."""
    out = np.empty(per_path)
    state = np.empty(4, np.uint64)
    lanes = np.empty((4, rng.SHOCK_LANES), np.uint64)
    words = np.empty(chunk, np.uint64)
    places = np.empty(chunk, np.int64)
    rng.seed_stream(state, seed, path)
    rng.seed_shock_lanes(lanes, state)
    for first in range(0, per_path, chunk):
        rng.lane_normals(lanes, state, words, out[first : first + chunk], places)
    return out


def test_a_path_s_normals_come_from_its_seed_and_number_alone():
    a, _ = _sample(11, 3, 2_000, 1_000)
    paths = a.reshape(3, -1)
    for path in range(3):  # the same, drawn after other paths or alone
        np.testing.assert_array_equal(paths[path], _path_alone(11, path, 2_000, 1_000))
    assert not np.any(paths[0] == paths[1]) and not np.any(paths[1] == paths[2])
    assert not np.any(_path_alone(12, 2, 2_000, 1_000) == paths[2])  # another seed


def test_the_words_outside_the_boxes_go_on_in_order_wherever_they_fall():
    # `_outside_boxes` tests eight words at a time and walks only a group holding a word left;
    # against the plain walk of every word, in order: the same normals and the same state after,
    # with words left at group edges, in the last whole group, in the tail and next to each other
    # (bit 10 set marks a word left, as `_inside_boxes` leaves it; 0 is a word inside)
    def plain(state, words, out):
        for j in range(words.shape[0]):
            if words[j] != 0:
                bits = int(words[j])
                u = 2.0 * ((bits >> 11) * 2.0**-53) - 1.0
                value, accepted = rng._lane_slow_path(state, u, bits & 1023)
                out[j] = value if accepted else rng.normal(state)

    generator = np.random.default_rng(5)
    for n, left in [
        (8, [0]), (8, [7]), (9, [8]), (16, [7, 8]), (23, [15, 16, 22]), (61, [0, 31, 55, 56, 60]),
        (64, list(range(64))), (40, []),
    ]:  # fmt: skip
        words = np.zeros(n, np.uint64)
        for j in left:  # a random uniform and block, the mark set
            words[j] = np.uint64(
                int(generator.integers(0, 2**53)) << 11 | 1 << 10 | int(generator.integers(0, 1024))
            )
        state_a, state_b = np.empty(4, np.uint64), np.empty(4, np.uint64)
        rng.seed_stream(state_a, 17, n)
        rng.seed_stream(state_b, 17, n)
        out_a, out_b = np.full(n, -9.0), np.full(n, -9.0)
        rng._outside_boxes(state_a, words.copy(), out_a, np.empty(n, np.int64))
        plain(state_b, words, out_b)
        np.testing.assert_array_equal(out_a, out_b)
        np.testing.assert_array_equal(state_a, state_b)
        assert (out_a != -9.0).sum() == len(left)  # each word left, and no other, written
