"""Mergeable partial reductions: the Monte Carlo estimates of `ipabs.engine.reduce` from small
per-chunk summaries merged in chunk order, and exact quantiles by selection over chunks.

A chunk of paths (`ipabs.engine.distribute.CHUNK_PATHS`, the same cut locally and on a cluster)
is summarised by `Moments` (count, means and co-moments of a few columns) and `WeightedMoments`
(the sums a self-normalised mean and its delta-method error need). Partials merge pairwise with
Chan, Golub & LeVeque's update (Am. Statistician 37, 1983):

    n = n_a + n_b,  d = mean_b - mean_a,  mean = mean_a + d n_b / n,
    C = C_a + C_b + d d' n_a n_b / n,

where C is the matrix of sums of products of deviations from the mean. Merged left to right in
chunk order, the result depends only on the chunk cut, never on how many threads or workers ran
the chunks. The estimates finished from the merged partials are mathematically those of
`ipabs.engine.reduce` (docs/model.md 5); they differ from the one-shot formulas only in the last
bits of floating point.

Quantiles are exact: `select` finds given ranks of values spread over chunks by radix selection
on the order-preserving integer key of each float64 (docs/scale-out.md, "Memory"). Each round
asks every chunk for a histogram of its values over 2^16 fixed bins of the next 16 key bits
(counts, weight sums, squared-weight sums, and each bin's least and greatest value), the driver
adds the histograms in chunk order and finds the bin holding each wanted rank (or weighted
level); a bin whose least and greatest values agree is resolved without fetching anything; a
bin holding at most `FETCH_LIMIT` values is fetched (values and weights), and a larger one is
split by the next 16 bits in the next round. Four rounds cover all 64 bits, so it always ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

#: a bin with at most this many values (over all chunks) is fetched rather than split again
FETCH_LIMIT = 65_536
BIN_BITS = 16
_Z = ndtri(0.975)


# ---------------------------------------------------------------------------------------------
# moments


@dataclass(frozen=True)
class Moments:
    """Count, means and co-moment matrix (sums of products of deviations) of k columns."""

    n: int
    mean: np.ndarray  # (k,)
    comoment: np.ndarray  # (k, k)

    @staticmethod
    def of(*columns: np.ndarray) -> Moments:
        k = len(columns)
        n = int(columns[0].size)
        if n == 0:
            return Moments(0, np.zeros(k), np.zeros((k, k)))
        cols = [np.ascontiguousarray(c, dtype=np.float64) for c in columns]
        mean = np.array([c.sum() / n for c in cols])
        dev = [c - m for c, m in zip(cols, mean, strict=True)]
        comoment = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                comoment[i, j] = comoment[j, i] = float((dev[i] * dev[j]).sum())
        return Moments(n, mean, comoment)

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        d = other.mean - self.mean
        mean = self.mean + d * (other.n / n)
        comoment = self.comoment + other.comoment + np.outer(d, d) * (self.n * other.n / n)
        return Moments(n, mean, comoment)


@dataclass(frozen=True)
class WeightedMoments:
    """For a self-normalised mean sum(w x) / sum(w): the count, W = sum w, the weighted mean m,
    V = sum w^2, A = sum w^2 (x - m) and Q = sum w^2 (x - m)^2 (about this partial's own m)."""

    n: int
    total: float
    mean: float
    square_total: float
    first: float
    second: float

    @staticmethod
    def of(x: np.ndarray, w: np.ndarray) -> WeightedMoments:
        x = np.ascontiguousarray(x, dtype=np.float64)
        w = np.ascontiguousarray(w, dtype=np.float64)
        total = float(w.sum())
        if x.size == 0 or total == 0.0:
            return WeightedMoments(int(x.size), total, 0.0, float((w * w).sum()), 0.0, 0.0)
        mean = float((w * x).sum() / total)
        w2 = w * w
        dev = x - mean
        return WeightedMoments(
            int(x.size),
            total,
            mean,
            float(w2.sum()),
            float((w2 * dev).sum()),
            float((w2 * dev * dev).sum()),
        )

    def shifted(self, mean: float) -> tuple[float, float]:
        """(A, Q) about `mean` instead of this partial's own mean."""
        s = self.mean - mean
        return (
            self.first + s * self.square_total,
            self.second + 2.0 * s * self.first + s * s * self.square_total,
        )

    def merge(self, other: WeightedMoments) -> WeightedMoments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        total = self.total + other.total
        mean = (self.total * self.mean + other.total * other.mean) / total if total != 0.0 else 0.0
        a1, q1 = self.shifted(mean)
        a2, q2 = other.shifted(mean)
        return WeightedMoments(
            self.n + other.n, total, mean, self.square_total + other.square_total, a1 + a2, q1 + q2
        )


def merge_all(parts: Sequence):
    """Partials merged left to right (chunk order)."""
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p)
    return out


# ---------------------------------------------------------------------------------------------
# finishing: the estimates of ipabs.engine.reduce from merged partials


def plain_mean_se(m: Moments) -> tuple[float, float]:
    """mean and s / sqrt(n) (reduce.mean_se without weights, NaN dropped before `Moments.of`)."""
    if m.n == 0:
        return np.nan, np.nan
    if m.n == 1:
        return float(m.mean[0]), np.nan
    return float(m.mean[0]), float(np.sqrt(m.comoment[0, 0] / (m.n - 1)) / np.sqrt(m.n))


def control_variate_mean_se(m: Moments) -> tuple[float, float]:
    """reduce.mean_se with weights, from the moments of (w x, w - 1): beta = C_yc / C_cc, the
    mean of y - beta c and sqrt((C_yy - 2 beta C_yc + beta^2 C_cc) / (n - 2)) / sqrt(n)."""
    n = m.n
    if n < 2:
        return (float(m.mean[0]) if n else np.nan), np.nan
    c_yy, c_yc, c_cc = m.comoment[0, 0], m.comoment[0, 1], m.comoment[1, 1]
    beta = float(c_yc / c_cc) if c_cc > 0.0 else 0.0
    mean = float(m.mean[0] - beta * m.mean[1])
    if n < 3:
        return mean, np.nan
    ss = max(c_yy - 2.0 * beta * c_yc + beta * beta * c_cc, 0.0)
    return mean, float(np.sqrt(ss / (n - 2)) / np.sqrt(n))


def self_normalised_se(m: WeightedMoments) -> tuple[float, float]:
    """reduce.self_normalised_mean_se: m and sqrt(Q) / W."""
    if m.n == 0 or m.total <= 0.0:
        return np.nan, np.nan
    if m.n < 2:
        return float(m.mean), np.nan
    return float(m.mean), float(np.sqrt(max(m.second, 0.0)) / m.total)


def ratio_from(m: Moments) -> tuple[float, float]:
    """reduce.ratio_se from the moments of (num, den) (w num, w den with weights): r = mean_num
    / mean_den and sqrt((C_nn - 2 r C_nd + r^2 C_dd) / (n - 1)) / (sqrt(n) |mean_den|)."""
    if m.n == 0 or m.mean[1] == 0.0:
        return np.nan, np.nan
    ratio = m.mean[0] / m.mean[1]
    if m.n < 2:
        return float(ratio), np.nan
    ss = m.comoment[0, 0] - 2.0 * ratio * m.comoment[0, 1] + ratio * ratio * m.comoment[1, 1]
    return float(ratio), float(np.sqrt(max(ss, 0.0) / (m.n - 1)) / (np.sqrt(m.n) * abs(m.mean[1])))


# ---------------------------------------------------------------------------------------------
# exact quantiles by selection over chunks


def sort_key(x: np.ndarray) -> np.ndarray:
    """The order-preserving unsigned 64-bit key of each float64 (negative values: every bit
    flipped; others: the sign bit set), so that key order is value order (-0.0 below 0.0)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    return np.where(bits & sign, ~bits, bits | sign)


@dataclass(frozen=True)
class Histogram:
    """A histogram of values inside a key prefix over the next 16 key bits: the non-empty bins
    (`bins`, increasing) of one chunk, or every bin (dense) once merged."""

    bins: np.ndarray  # int64 bin numbers
    count: np.ndarray  # int64 values in each bin
    weight: np.ndarray  # sum of weights
    square: np.ndarray  # sum of squared weights
    low: np.ndarray  # least value in the bin (+inf if empty)
    high: np.ndarray  # greatest value (-inf if empty)


def merge_histograms(parts) -> Histogram:
    """Chunks' histograms added in chunk order into one dense histogram (2^16 bins)."""
    size = 1 << BIN_BITS
    count = np.zeros(size, np.int64)
    weight, square = np.zeros(size), np.zeros(size)
    low, high = np.full(size, np.inf), np.full(size, -np.inf)
    for h in parts:
        count[h.bins] += h.count
        weight[h.bins] += h.weight
        square[h.bins] += h.square
        low[h.bins] = np.minimum(low[h.bins], h.low)
        high[h.bins] = np.maximum(high[h.bins], h.high)
    return Histogram(np.arange(size), count, weight, square, low, high)


def _in_prefix(key: np.ndarray, depth: int, prefix: int) -> np.ndarray:
    if depth == 0:
        return np.ones(key.shape, bool)
    return (key >> np.uint64(64 - BIN_BITS * depth)) == np.uint64(prefix)


def _bin(key: np.ndarray, depth: int) -> np.ndarray:
    shift = np.uint64(64 - BIN_BITS * (depth + 1))
    return ((key >> shift) & np.uint64((1 << BIN_BITS) - 1)).astype(np.int64)


def chunk_histogram(x: np.ndarray, w: np.ndarray, depth: int, prefix: int) -> Histogram:
    """The histogram of a chunk's values (NaN already dropped) whose key starts with `prefix`
    (depth x 16 bits), over the next 16 bits: only its non-empty bins, so a few kilobytes."""
    key = sort_key(x)
    inside = _in_prefix(key, depth, prefix)
    xs, ws, bins = x[inside], w[inside], _bin(key[inside], depth)
    order = np.argsort(bins, kind="stable")
    xs, ws, bins = xs[order], ws[order], bins[order]
    used, start = np.unique(bins, return_index=True)
    if used.size == 0:
        empty = np.zeros(0)
        return Histogram(used, np.zeros(0, np.int64), empty, empty, empty, empty)
    return Histogram(
        used,
        np.diff(np.append(start, bins.size)).astype(np.int64),
        np.add.reduceat(ws, start),
        np.add.reduceat(ws * ws, start),
        np.minimum.reduceat(xs, start),
        np.maximum.reduceat(xs, start),
    )


def chunk_values(
    x: np.ndarray, w: np.ndarray, depth: int, prefix: int, b: int
) -> tuple[np.ndarray, np.ndarray]:
    """The values and weights of a chunk in bin `b` under `prefix`, in path order."""
    key = sort_key(x)
    inside = _in_prefix(key, depth, prefix)
    inside[inside] = _bin(key[inside], depth) == b
    return x[inside], w[inside]


class Chunks:
    """The chunks' values of one variable as `select` sees them: `histogram(depth, prefix)` and
    `values(depth, prefix, bin)` of every chunk, in chunk order. Here the arrays are in memory;
    on a cluster the same calls run on the workers that hold the chunks."""

    def __init__(self, parts: Sequence[tuple[np.ndarray, np.ndarray]]):
        self.parts = parts

    def histograms(self, depth: int, prefix: int):
        return (chunk_histogram(x, w, depth, prefix) for x, w in self.parts)

    def values(self, depth: int, prefix: int, b: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [chunk_values(x, w, depth, prefix, b) for x, w in self.parts]


@dataclass(frozen=True)
class Found:
    """What `select` found for one wanted position: the value and the weight (sum, sum of
    squares) of the values strictly below it and of those equal to it."""

    value: float
    weight_below: float
    weight_at: float
    square_below: float
    square_at: float


def select(
    chunks: Chunks,
    wanted: Sequence[float],
    *,
    weighted: bool,
    total: float,
) -> list[Found]:
    """The value at each wanted position: with `weighted` False a 0-based rank r (the value with
    r values below it in sorted order); with `weighted` True a weighted level L, the least value
    whose weight share, sum of w over values <= it divided by `total`, is >= L (the first sorted
    position where the running weight share reaches L, as reduce.quantile_se; the last value if
    none does)."""
    found: dict[int, Found] = {}
    # each pending search: (index into wanted, depth, prefix, weight/count below the prefix,
    # squared weight below)
    pending = [(i, 0, 0, 0.0, 0.0) for i in range(len(wanted))]
    cache: dict[tuple[int, int], Histogram] = {}
    while pending:
        nxt = []
        for i, depth, prefix, below, below2 in pending:
            if (depth, prefix) not in cache:
                cache[(depth, prefix)] = merge_histograms(chunks.histograms(depth, prefix))
            h = cache[(depth, prefix)]
            mass = h.count.astype(float) if not weighted else h.weight
            running = below + np.cumsum(mass)
            target = wanted[i]
            if weighted:
                share = running / total
                hits = np.flatnonzero((share >= target) & (h.count > 0))
            else:
                hits = np.flatnonzero((running > target) & (h.count > 0))
            if hits.size == 0:  # past every value: the greatest (weighted levels above 1)
                b = int(np.flatnonzero(h.count > 0)[-1])
            else:
                b = int(hits[0])
            before = below + (float(mass[:b].sum()) if b else 0.0)
            before2 = below2 + (float(h.square[:b].sum()) if b else 0.0)
            if h.low[b] == h.high[b]:  # one value in the bin: found without fetching
                at = float(mass[b])
                found[i] = Found(float(h.low[b]), before, at, before2, float(h.square[b]))
            elif h.count[b] <= FETCH_LIMIT or depth == 64 // BIN_BITS - 1:
                found[i] = _finish(
                    chunks.values(depth, prefix, b), target, before, before2, weighted, total
                )
            else:
                nxt.append((i, depth + 1, (prefix << BIN_BITS) | b, before, before2))
        pending = nxt
    return [found[i] for i in range(len(wanted))]


def _finish(parts, target, below, below2, weighted, total) -> Found:
    x = np.concatenate([p[0] for p in parts])
    w = np.concatenate([p[1] for p in parts])
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    if weighted:
        share = (below + np.cumsum(w)) / total
        k = min(int(np.searchsorted(share, target, side="left")), x.size - 1)
    else:
        k = int(target - below)
    value = x[k]
    lo = int(np.searchsorted(x, value, "left"))
    hi = int(np.searchsorted(x, value, "right"))
    if weighted:
        mass, mass2 = w, w * w
    else:
        mass = mass2 = np.ones(x.size)
    return Found(
        float(value),
        below + float(mass[:lo].sum()),
        float(mass[lo:hi].sum()),
        below2 + float(mass2[:lo].sum()),
        float(mass2[lo:hi].sum()),
    )


def _lerp(a: float, b: float, t: float) -> float:
    """NumPy's linear interpolation (numpy.lib._function_base_impl._lerp), for bit-equal
    quantiles."""
    diff = b - a
    out = a + diff * t
    if t >= 0.5:
        out = b - diff * (1 - t)
    return float(out)


def quantile_se_exact(
    chunks: Chunks, q: float, *, n: int, weighted: bool, total: float, square_total: float = 0.0
) -> tuple[float, float]:
    """reduce.quantile_se over chunks (NaN already dropped; `n` values, `total` their weight):
    unweighted, numpy's linear quantile and the order statistics at n q -/+ 1.96 sqrt(n q (1-q))
    in one selection; weighted, the weighted CDF's q-level, then the delta-method error of the
    CDF there, sqrt(sum w^2 (1{X <= x_q} - F)^2) / W (`square_total` the sum of w^2), then its levels q -/+ 1.96 se in a second
    selection."""
    if n == 0 or (weighted and total <= 0.0):
        return np.nan, np.nan
    if not weighted:
        index = q * (n - 1)
        below = int(np.floor(index))
        above = min(below + 1, n - 1)
        half = _Z * np.sqrt(n * q * (1 - q))
        lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
        hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
        a, b, x_lo, x_hi = (
            f.value for f in select(chunks, [below, above, lo, hi], weighted=False, total=n)
        )
        value = _lerp(a, b, index - below) if above != below else a
        return value, float((x_hi - x_lo) / (2 * _Z))
    [at] = select(chunks, [q], weighted=True, total=total)
    if n < 2:
        return at.value, np.nan
    share = (at.weight_below + at.weight_at) / total
    inside = at.square_below + at.square_at  # sum of w^2 over X <= x_q
    se_p = float(
        np.sqrt(max((1.0 - share) ** 2 * inside + share**2 * (square_total - inside), 0.0)) / total
    )
    up, down = select(
        chunks, [min(q + _Z * se_p, 1.0), max(q - _Z * se_p, 0.0)], weighted=True, total=total
    )
    return at.value, (up.value - down.value) / (2 * _Z)


def chunked(values: np.ndarray, size: int) -> list[np.ndarray]:
    """`values` cut along axis 0 into pieces of `size` (the last shorter)."""
    return [values[i : i + size] for i in range(0, max(values.shape[0], 1), size)]
