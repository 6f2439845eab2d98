"""Keyed random streams: path p of a run with seed s always draws the same numbers.

Each path gets two xoshiro256** generators (Blackman & Vigna, "Scrambled linear pseudorandom
number generators", ACM TOMS 2021): its period stream and its latent stream (the horizon factors
and every name's default latent, `seed_latent_stream`). Each 256-bit state is filled with four
outputs of SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) taken at counter positions
4p+1 .. 4p+4 of a stream keyed by the seed (the latent stream by a second key). This is the
seeding the xoshiro authors recommend; because the streams are keyed by the path index and not
by a block or a thread, results do not depend on the block size, the thread count or the order
in which blocks run.

Normals use the ziggurat method (see `normal`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

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
    read at any position without drawing those before it."""
    z = _mix64(key + (uint64(position) + uint64(1)) * _GOLDEN)
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
def _normal_tail(state, negative):
    while True:
        x = np.log(_open_uniform(state)) / _ZIG_R
        y = np.log(_open_uniform(state))
        if -2.0 * y >= x * x:
            break
    return x - _ZIG_R if negative else _ZIG_R - x


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
            return _normal_tail(state, u < 0.0)
        x = u * _ZIG_X[i]
        f0 = np.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
        f1 = np.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
        if f1 + uniform(state) * (f0 - f1) < 1.0:
            return x


@njit(cache=True)
def _normal_slow_path(state, u, i):
    """The ziggurat's rare branches (about 1% of draws): (value, accepted)."""
    if i == 0:
        return _normal_tail(state, u < 0.0), True
    x = u * _ZIG_X[i]
    f0 = np.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
    f1 = np.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
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
