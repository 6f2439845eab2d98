"""Keyed random streams: path p of a run with seed s always draws the same numbers.

Each path gets two xoshiro256** generators (Blackman & Vigna, "Scrambled linear pseudorandom
number generators", ACM TOMS 2021): its period stream and its latent stream (the horizon factors
and every name's default latent, `seed_latent_stream`). Each 256-bit state is filled with four
outputs of SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) taken at counter positions
4p+1 .. 4p+4 of a stream keyed by the seed (the latent stream by a second key). This is the
seeding the xoshiro authors recommend; because the streams are keyed by the path index and not
by a block or a thread, results do not depend on the block size, the thread count or the order
in which blocks run.

Normals use the ziggurat method (see `normal`). A path's period normals come from its 16 shock
lanes (`seed_shock_lanes`, `lane_normals`): xoshiro256** generators stepped together, which LLVM
vectorises, with the ziggurat's rare branches going on from the period stream. Its IP events read
addressed uniforms (`event_key`, `addressed_uniform`): SplitMix64 at a position, no sequence
drawn before them. docs/model.md, section 2.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64

from ipabs.engine.exp import exp1

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


def _ziggurat_tables(blocks: int = 128, r: float = 3.442619855899, v: float = 9.91256303526217e-3):
    """Block edges x_i and ratios x_{i+1}/x_i of the 128-block normal ziggurat (Doornik 2005)."""
    x = np.zeros(blocks + 1)
    f = np.exp(-0.5 * r * r)
    x[0] = v / f  # the bottom block, with the tail, has the same area v as the others
    x[1] = r
    for i in range(2, blocks):
        x[i] = np.sqrt(-2.0 * np.log(v / x[i - 1] + f))
        f = np.exp(-0.5 * x[i] * x[i])
    return x, x[1:] / x[:-1]


_ZIG_R = 3.442619855899
_ZIG_X, _ZIG_RATIO = _ziggurat_tables()
#: the lanes' ziggurat: 1024 blocks, so that 0.43% of words fall outside the boxes (1.5% with
#: Marsaglia & Tsang's 256, 2.8% with 128). r is the root of the ziggurat's closure for 1024
#: blocks of area v = r f(r) + int_r^inf f (f(x) = exp(-x^2 / 2)): the top block's edge x_1023
#: must give x_1023 (1 - f(x_1023)) = v. Solved by bisection in 40-digit arithmetic (mpmath), the
#: same way giving Marsaglia & Tsang's 256-block and Doornik's 128-block r; checked in
#: tests/test_shock_lanes.py. The block's index takes the word's low 10 bits, its uniform the top
#: 53, and bit 10 marks a word outside the boxes. Also the density's height at each edge.
_LANE_BLOCKS = 1024
_LANE_R = 4.0388498461095045
_LANE_V = 1.2263246463530881e-3
_LANE_MASK = uint64(_LANE_BLOCKS - 1)
_LANE_MARK = uint64(_LANE_BLOCKS)
_LANE_X, _LANE_RATIO = _ziggurat_tables(_LANE_BLOCKS, _LANE_R, _LANE_V)
_LANE_F = np.exp(-0.5 * _LANE_X * _LANE_X)


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


#: keys a path's event draws apart from its streams
_EVENT_KEY = uint64(0x8CB92BA72F3D8DD7)
#: an asset's event draws start at position asset << 32 of its path's event sequence
EVENT_ASSET_SHIFT = uint64(32)


@njit(cache=True)
def event_key(latent_state):
    """The key of a path's event draws, taken from its latent stream's state before any draw (so
    from the seed and the path alone; docs/model.md, 2)."""
    return _mix64(latent_state[0] ^ latent_state[3] ^ _EVENT_KEY)


@njit(cache=True, inline="always")
def addressed_uniform(key, position):
    """U[0, 1) at `position` of the SplitMix64 sequence keyed by `key`: the top 53 bits of
    mix(key + (position + 1) * golden), the generator SplitMix64 is (Steele, Lea & Flood 2014),
    read at any position without drawing those before it. The key is read as 64 bits whatever its
    integer type (a key passed from Python arrives as a signed integer)."""
    z = _mix64(uint64(key) + (uint64(position) + uint64(1)) * _GOLDEN)
    return float(z >> uint64(11)) * _TWO_POW_M53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def _seed_from(state, origin, path):
    counter = uint64(path) * uint64(4)
    for i in range(4):
        state[i] = _mix64(origin + (counter + uint64(i + 1)) * _GOLDEN)


@njit(cache=True)
def seed_stream(state, seed, path):
    """Key the generator in `state` (uint64[4]) to (seed, path): the path's period stream."""
    _seed_from(state, _mix64(uint64(seed)), path)


#: keys a path's second stream apart from its period stream
_LATENT_KEY = uint64(0xD1B54A32D192ED03)


@njit(cache=True)
def seed_latent_stream(state, seed, path):
    """Key `state` to path p's latent stream: the horizon factors, the t copula's mixing draw and
    every name's default latent (docs/model.md, 2). Its own SplitMix64 sequence, so these draws
    sit at the same places whatever the calendar: a name's default time at a date is the same
    on a path at any payment frequency."""
    _seed_from(state, _mix64(_mix64(uint64(seed)) ^ _LATENT_KEY), path)


@njit(cache=True, inline="always")
def _step(s0, s1, s2, s3):
    """One xoshiro256** step on state held in local variables (so it can live in registers)."""
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline="always")
def next_u64(state):
    result, s0, s1, s2, s3 = _step(state[0], state[1], state[2], state[3])
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def uniform(state):
    """U(0, 1) with 53 random bits, in [0, 1)."""
    return float(next_u64(state) >> uint64(11)) * _TWO_POW_M53


@njit(cache=True, inline="always")
def _open_uniform(state):
    """U(0, 1) excluding 0 (safe to take the log of)."""
    return (float(next_u64(state) >> uint64(11)) + 0.5) * _TWO_POW_M53


@njit(cache=True)
def _normal_tail(state, negative, r):
    """The normal's tail beyond r (Marsaglia 1964, as in the ziggurat papers)."""
    while True:
        x = math.log(_open_uniform(state)) / r
        y = math.log(_open_uniform(state))
        if -2.0 * y >= x * x:
            break
    return x - r if negative else r - x


@njit(cache=True, inline="always")
def normal(state):
    """Standard normal by the ziggurat method in Doornik's ZIGNOR form, 128 blocks (Doornik, "An
    improved ziggurat method to generate normal random samples", 2005; Marsaglia & Tsang, J. Stat.
    Software 5(8), 2000). One 64-bit draw gives both the uniform (top 53 bits) and the block
    (low 7 bits) in about 99% of calls."""
    while True:
        bits = next_u64(state)
        u = 2.0 * (float(bits >> uint64(11)) * _TWO_POW_M53) - 1.0
        i = int(bits & uint64(0x7F))
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i]
        if i == 0:
            return _normal_tail(state, u < 0.0, _ZIG_R)
        x = u * _ZIG_X[i]
        f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
        f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
        if f1 + uniform(state) * (f0 - f1) < 1.0:
            return x


@njit(cache=True)
def _normal_slow_path(state, u, i):
    """The ziggurat's rare branches (about 1% of draws): (value, accepted)."""
    if i == 0:
        return _normal_tail(state, u < 0.0, _ZIG_R), True
    x = u * _ZIG_X[i]
    f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
    f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
    return x, f1 + uniform(state) * (f0 - f1) < 1.0


@njit(cache=True)
def draw_block(state, normals, uniforms):
    """Fill `normals` then `uniforms` from the stream: exactly the numbers that calling `normal`
    and then `uniform` that many times would give, but with the generator's state in registers
    for the common path, which makes a batch about twice as fast as single calls."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    for j in range(normals.shape[0]):
        while True:
            bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
            u = 2.0 * (float(bits >> uint64(11)) * _TWO_POW_M53) - 1.0
            i = int(bits & uint64(0x7F))
            if abs(u) < _ZIG_RATIO[i]:
                normals[j] = u * _ZIG_X[i]
                break
            state[0], state[1], state[2], state[3] = s0, s1, s2, s3
            value, accepted = _normal_slow_path(state, u, i)
            s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
            if accepted:
                normals[j] = value
                break
    for j in range(uniforms.shape[0]):
        bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        uniforms[j] = float(bits >> uint64(11)) * _TWO_POW_M53
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


#: lanes of a path's shock stream, stepped together: LLVM holds them in vector registers
SHOCK_LANES = 16
#: keys a path's shock lanes apart from its period stream
_SHOCK_KEY = uint64(0x6A09E667F3BCC909)


@njit(cache=True)
def seed_shock_lanes(lanes, state):
    """Key the (4, SHOCK_LANES) xoshiro256** states in `lanes` from a path's period stream state
    before its first draw (so from the seed and the path alone): lane l's words are those at
    positions 4l .. 4l + 3 (as `addressed_uniform` counts: position q is mix(key + (q + 1) golden))
    of the SplitMix64 sequence keyed by mix(s_0 ^ s_2 ^ 0x6A09E667F3BCC909) (docs/model.md, 2)."""
    origin = _mix64(state[0] ^ state[2] ^ _SHOCK_KEY)
    for lane in range(lanes.shape[1]):
        for w in range(4):
            lanes[w, lane] = _mix64(origin + uint64(4 * lane + w + 1) * _GOLDEN)


@njit(cache=True, error_model="numpy")
def lane_words(lanes, words):
    """Fill `words` with the lanes' next outputs, lane by lane within each round (word
    L r + l is lane l's r-th); a last, partial round still steps every lane, its other outputs
    unused. The lanes' loop has no dependence between lanes, so LLVM steps them in vectors."""
    n_lanes = lanes.shape[1]
    n = words.shape[0]
    rounds = (n + n_lanes - 1) // n_lanes
    for r in range(rounds):
        first = r * n_lanes
        if first + n_lanes <= n:
            for lane in range(n_lanes):  # a whole round: no test in the loop, so it vectorises
                result, s0, s1, s2, s3 = _step(
                    lanes[0, lane], lanes[1, lane], lanes[2, lane], lanes[3, lane]
                )
                lanes[0, lane], lanes[1, lane], lanes[2, lane], lanes[3, lane] = s0, s1, s2, s3
                words[first + lane] = result
        else:
            for lane in range(n_lanes):
                result, s0, s1, s2, s3 = _step(
                    lanes[0, lane], lanes[1, lane], lanes[2, lane], lanes[3, lane]
                )
                lanes[0, lane], lanes[1, lane], lanes[2, lane], lanes[3, lane] = s0, s1, s2, s3
                if first + lane < n:
                    words[first + lane] = result


@njit(cache=True)
def _lane_slow_path(state, u, i):
    """The lanes' ziggurat's rare branches (0.43% of words), drawing from `state`: the tail
    (block 0), or the wedge test of block i, f(x_i+1) + U (f(x_i) - f(x_i+1)) < f(x) with
    f(x) = exp(-x^2 / 2) (Doornik's test times f(x): one exponential, the engine's own).
    (value, accepted)."""
    if i == 0:
        return _normal_tail(state, u < 0.0, _LANE_R), True
    x = u * _LANE_X[i]
    height = _LANE_F[i + 1] + uniform(state) * (_LANE_F[i] - _LANE_F[i + 1])
    return x, height < exp1(-0.5 * x * x)


@njit(cache=True, error_model="numpy")
def lane_normals(lanes, state, words, out, places):
    """Fill `out` with normals: normal j is a 1024-block ziggurat (Marsaglia & Tsang 2000, in
    Doornik's form) started from the lanes' word j, its uniform from the top 53 bits and its block
    from the low 10. In the 0.43% of cases where that word falls outside the boxes, the algorithm
    goes on from the period stream `state`, in the order of j: the tail, or the wedge test's
    uniform and, if the wedge rejects, a fresh normal (`normal`). Every draw is an independent
    uniform and a rejection only starts again, so each normal is exact and independent of the
    others (docs/model.md, 2). `words` is uint64 and `places` int64 scratch of out's length (or
    longer)."""
    lane_words(lanes, words)
    if _inside_boxes(words, out) < out.shape[0]:
        _outside_boxes(state, words, out, places)


@njit(cache=True, error_model="numpy")
def _inside_boxes(words, out):
    """The ziggurat's fast path for every word, in a loop LLVM vectorises: out[j] = u x_i, and
    words[j] set to 0 where that is the normal (|u| < x_i+1 / x_i), else kept (nonzero). The
    count of the normals found."""
    inside = 0
    for j in range(out.shape[0]):
        bits = words[j]
        u = 2.0 * (float(bits >> uint64(11)) * _TWO_POW_M53) - 1.0
        i = bits & _LANE_MASK
        out[j] = u * _LANE_X[i]
        outside = uint64(abs(u) >= _LANE_RATIO[i])
        # bit 10 is used by neither u nor i: set, it keeps a word outside the boxes nonzero
        words[j] = (bits | _LANE_MARK) & (uint64(0) - outside)
        inside += 1 - int(outside)
    return inside


@njit(cache=True)
def _outside_boxes(state, words, out, places):
    """The words left (nonzero), in order: the ziggurat goes on from `state`. Their places are
    gathered first (into `places`): eight words at a time are tested together (one in about 30
    such groups holds a word left), and only a group that holds one is walked, without a branch
    per word (one would be mispredicted at each such word)."""
    n = out.shape[0]
    count = 0
    whole = n - n % 8
    for first in range(0, whole, 8):
        left = ((words[first] | words[first + 1]) | (words[first + 2] | words[first + 3])) | (
            (words[first + 4] | words[first + 5]) | (words[first + 6] | words[first + 7])
        )
        if left != uint64(0):
            for j in range(first, first + 8):
                places[count] = j
                count += words[j] != uint64(0)
    for j in range(whole, n):
        places[count] = j
        count += words[j] != uint64(0)
    for m in range(count):
        j = places[m]
        bits = words[j]
        u = 2.0 * (float(bits >> uint64(11)) * _TWO_POW_M53) - 1.0
        value, accepted = _lane_slow_path(state, u, int(bits & _LANE_MASK))
        out[j] = value if accepted else normal(state)


@njit(cache=True)
def fill_normals(seed, path, out):
    """Fill `out` with the first normals of path `path`'s stream (used by tests and benchmarks)."""
    state = np.empty(4, np.uint64)
    seed_stream(state, seed, path)
    for i in range(out.size):
        out[i] = normal(state)


@njit(cache=True)
def raw_outputs(state, n):
    """The next n raw 64-bit outputs from a given state (for checking against reference vectors)."""
    out = np.empty(n, np.uint64)
    for i in range(n):
        out[i] = next_u64(state)
    return out


@njit(cache=True)
def latent_normals(seed, first_path, out):
    """out[i, :] = the first out.shape[1] normals of path first_path + i's latent stream: the
    horizon factors m before any importance shift (for the cross-entropy search)."""
    state = np.empty(4, np.uint64)
    for i in range(out.shape[0]):
        seed_latent_stream(state, seed, first_path + i)
        for j in range(out.shape[1]):
            out[i, j] = normal(state)
