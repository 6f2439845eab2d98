"""Keyed random streams: path p of a run with seed s always draws the same numbers.

Each path gets its own xoshiro256** generator (Blackman & Vigna, "Scrambled linear pseudorandom
number generators", ACM TOMS 2021), whose 256-bit state is filled with four outputs of
SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) taken at counter positions 4p+1 .. 4p+4 of the
stream keyed by the seed. This is the seeding the xoshiro authors recommend; because the stream is
keyed by the path index and not by a block or a thread, results do not depend on the block size,
the thread count or the order in which blocks run.

Normals use Marsaglia's polar method (Marsaglia & Bray 1964); the second normal of each pair is
kept in `spare`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True)
def seed_stream(state, spare, seed, path):
    """Key the generator in `state` (uint64[4]) to (seed, path); clear the spare normal."""
    origin = _mix64(uint64(seed))
    counter = uint64(path) * uint64(4)
    for i in range(4):
        state[i] = _mix64(origin + (counter + uint64(i + 1)) * _GOLDEN)
    spare[0] = 0.0
    spare[1] = 0.0


@njit(cache=True, inline="always")
def next_u64(state):
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def uniform(state):
    """U(0, 1) with 53 random bits, in [0, 1)."""
    return float(next_u64(state) >> uint64(11)) * _TWO_POW_M53


@njit(cache=True, inline="always")
def normal(state, spare):
    """Standard normal (polar method); `spare` is float64[2]: (has_spare, value)."""
    if spare[0] != 0.0:
        spare[0] = 0.0
        return spare[1]
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            break
    m = np.sqrt(-2.0 * np.log(s) / s)
    spare[0] = 1.0
    spare[1] = v * m
    return u * m


@njit(cache=True)
def fill_normals(seed, path, out):
    """Fill `out` with the first normals of path `path`'s stream (used by tests and benchmarks)."""
    state = np.empty(4, np.uint64)
    spare = np.zeros(2)
    seed_stream(state, spare, seed, path)
    for i in range(out.size):
        out[i] = normal(state, spare)


@njit(cache=True)
def raw_outputs(state, n):
    """The next n raw 64-bit outputs from a given state (for checking against reference vectors)."""
    out = np.empty(n, np.uint64)
    for i in range(n):
        out[i] = next_u64(state)
    return out
