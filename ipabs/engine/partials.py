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
Every wanted position of every ranked variable is searched in the same rounds (`select_all`):
a round asks each chunk once (`Chunks.ask`; on a cluster one task per chunk) for the histograms
of every key still searched and the values of every bin to fetch, and merges the answers in
chunk order as they come (`RoundSum`), so the merged numbers are those of one search at a time.
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


class HistogramSum:
    """Chunks' histograms added in chunk order into one dense histogram (2^16 bins)."""

    def __init__(self):
        size = 1 << BIN_BITS
        self.count = np.zeros(size, np.int64)
        self.weight, self.square = np.zeros(size), np.zeros(size)
        self.low, self.high = np.full(size, np.inf), np.full(size, -np.inf)

    def add(self, h: Histogram) -> None:
        self.count[h.bins] += h.count
        self.weight[h.bins] += h.weight
        self.square[h.bins] += h.square
        self.low[h.bins] = np.minimum(self.low[h.bins], h.low)
        self.high[h.bins] = np.maximum(self.high[h.bins], h.high)

    def histogram(self) -> Histogram:
        bins = np.arange(self.count.size)
        return Histogram(bins, self.count, self.weight, self.square, self.low, self.high)


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


#: a histogram asked for: (ranked variable, depth, key prefix)
Key = tuple[str, int, int]
#: a bin's values asked for: (ranked variable, depth, key prefix, bin)
Fetch = tuple[str, int, int, int]


def chunk_answer(
    ranked: dict[str, tuple[np.ndarray, np.ndarray]], keys: Sequence[Key], fetches: Sequence[Fetch]
) -> tuple[list[Histogram], list[tuple[np.ndarray, np.ndarray]]]:
    """One chunk's answer to a selection round: its histogram for each key and its values and
    weights in each fetched bin (`ranked`: the chunk's values and weights by variable)."""
    hists = [chunk_histogram(*ranked[name], depth, prefix) for name, depth, prefix in keys]
    values = [chunk_values(*ranked[name], depth, prefix, b) for name, depth, prefix, b in fetches]
    return hists, values


class RoundSum:
    """A selection round's chunk answers (`chunk_answer`) merged in chunk order: a dense
    histogram per key and the fetched bins' values and weights end to end. `add` one chunk's
    answer at a time; only the merged state is kept (the chunk's own arrays can go)."""

    def __init__(self, keys: Sequence[Key], fetches: Sequence[Fetch]):
        self.keys, self.fetches = list(keys), list(fetches)
        self.sums = [HistogramSum() for _ in self.keys]
        self.parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in self.fetches]

    def add(self, answer) -> None:
        hists, values = answer
        for total, h in zip(self.sums, hists, strict=True):
            total.add(h)
        for parts, (x, w) in zip(self.parts, values, strict=True):
            if x.size:  # only the chunks that hold values of the bin
                parts.append((x, w))

    def result(self) -> tuple[dict[Key, Histogram], dict[Fetch, tuple[np.ndarray, np.ndarray]]]:
        hists = {k: total.histogram() for k, total in zip(self.keys, self.sums, strict=True)}
        values = {}
        for f, parts in zip(self.fetches, self.parts, strict=True):
            if parts:
                values[f] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))  # fmt: skip
            else:
                values[f] = (np.zeros(0), np.zeros(0))
        return hists, values


class Chunks:
    """The chunks' values and weights of ranked variables as `select` sees them, here in memory:
    `parts` maps each variable to its chunks' (values, weights) in chunk order (a list is one
    variable, named ""). `ask` answers a selection round: on a cluster the same round runs as one
    task per chunk where the chunks are (`ipabs.engine.distribute.ClusterChunks`)."""

    def __init__(self, parts):
        self.parts = parts if isinstance(parts, dict) else {"": list(parts)}

    def ask(self, keys: Sequence[Key], fetches: Sequence[Fetch]):
        total = RoundSum(keys, fetches)
        names = self.parts
        count = len(next(iter(names.values()))) if names else 0
        for c in range(count):
            total.add(chunk_answer({n: names[n][c] for n in names}, keys, fetches))
        return total.result()


@dataclass(frozen=True)
class Found:
    """What `select` found for one wanted position: the value and the weight (sum, sum of
    squares) of the values strictly below it and of those equal to it."""

    value: float
    weight_below: float
    weight_at: float
    square_below: float
    square_at: float


#: the most histograms merged at once (each 2^16 bins, 2.5 MiB): a round with more keys asks
#: the chunks again for the rest
ROUND_KEYS = 8


@dataclass
class Search:
    """One wanted position of one ranked variable (`select`), narrowed round by round: the key
    prefix it is under and the weight (or count) and squared weight below that prefix; then the
    bin to fetch, then what was found."""

    name: str
    target: float
    weighted: bool
    total: float
    depth: int = 0
    prefix: int = 0
    below: float = 0.0
    below2: float = 0.0
    bin: int = -1
    found: Found | None = None

    @property
    def key(self) -> Key:
        return (self.name, self.depth, self.prefix)

    @property
    def fetch(self) -> Fetch:
        return (self.name, self.depth, self.prefix, self.bin)

    def step(self, h: Histogram) -> None:
        """Find the bin of `h` (this search's key's merged histogram) holding the target: found
        if the bin holds one value, else the bin to fetch, else the prefix of the next round."""
        mass = h.count.astype(float) if not self.weighted else h.weight
        running = self.below + np.cumsum(mass)
        target = self.target
        if self.weighted:
            share = running / self.total
            hits = np.flatnonzero((share >= target) & (h.count > 0))
        else:
            hits = np.flatnonzero((running > target) & (h.count > 0))
        if hits.size == 0:  # past every value: the greatest (weighted levels above 1)
            b = int(np.flatnonzero(h.count > 0)[-1])
        else:
            b = int(hits[0])
        before = self.below + (float(mass[:b].sum()) if b else 0.0)
        before2 = self.below2 + (float(h.square[:b].sum()) if b else 0.0)
        self.below, self.below2 = before, before2
        if h.low[b] == h.high[b]:  # one value in the bin: found without fetching
            self.found = Found(float(h.low[b]), before, float(mass[b]), before2, float(h.square[b]))
        elif h.count[b] <= FETCH_LIMIT or self.depth == 64 // BIN_BITS - 1:
            self.bin = b
        else:
            self.depth, self.prefix = self.depth + 1, (self.prefix << BIN_BITS) | b


def select_all(chunks, searches: Sequence[Search]) -> None:
    """Every search narrowed until found, all in the same rounds: each round asks the chunks
    once (`ask`: one task per chunk on a cluster) for the histograms of every key still searched
    (at most `ROUND_KEYS` at a time) and the values of every bin to fetch."""
    pending = [s for s in searches if s.found is None]
    fetching: list[Search] = []
    while pending or fetching:
        by_key: dict[Key, list[Search]] = {}
        for s in pending:
            by_key.setdefault(s.key, []).append(s)
        keys = list(by_key)
        groups = [keys[i : i + ROUND_KEYS] for i in range(0, len(keys), ROUND_KEYS)] or [[]]
        later: list[Search] = []
        for g, group in enumerate(groups):
            fetches = list(dict.fromkeys(s.fetch for s in fetching)) if g == 0 else []
            hists, values = chunks.ask(group, fetches)
            if g == 0:
                for s in fetching:
                    x, w = values[s.fetch]
                    s.found = _finish(x, w, s.target, s.below, s.below2, s.weighted, s.total)
                fetching = []
            for key in group:
                for s in by_key[key]:
                    s.step(hists[key])
                    if s.found is None:
                        later.append(s)
            del hists, values
        fetching = [s for s in later if s.bin >= 0]
        pending = [s for s in later if s.bin < 0]


def select(
    chunks: Chunks,
    wanted: Sequence[float],
    *,
    weighted: bool,
    total: float,
    name: str = "",
) -> list[Found]:
    """The value at each wanted position of variable `name`: with `weighted` False a 0-based
    rank r (the value with r values below it in sorted order); with `weighted` True a weighted
    level L, the least value whose weight share, sum of w over values <= it divided by `total`,
    is >= L (the first sorted position where the running weight share reaches L, as
    reduce.quantile_se; the last value if none does)."""
    searches = [Search(name, target, weighted, total) for target in wanted]
    select_all(chunks, searches)
    return [s.found for s in searches]


def _finish(x, w, target, below, below2, weighted, total) -> Found:
    """The wanted position among the values `x` (weights `w`, in chunk order) of the fetched
    bin, `below` (`below2`) the weight (squared) of the values under the bin."""
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


@dataclass(frozen=True)
class Wanted:
    """A quantile asked of ranked variable `name`: `n` values (NaN dropped), `total` and
    `square_total` their weights' sum and sum of squares."""

    name: str
    q: float
    n: int
    weighted: bool
    total: float
    square_total: float = 0.0


def quantiles(chunks, wanted: Sequence[Wanted]) -> list[tuple[float, float]]:
    """reduce.quantile_se of each wanted quantile over chunks (module doc), every one in the
    same selection rounds: unweighted, numpy's linear quantile and the order statistics at
    n q -/+ 1.96 sqrt(n q (1-q)) in one selection; weighted, the weighted CDF's q-level, then
    the delta-method error of the CDF there, sqrt(sum w^2 (1{X <= x_q} - F)^2) / W, then its
    levels q -/+ 1.96 se in a second selection."""
    out: list[tuple[float, float]] = [(np.nan, np.nan)] * len(wanted)
    first: dict[int, list[Search]] = {}
    for i, r in enumerate(wanted):
        if r.n == 0 or (r.weighted and r.total <= 0.0):
            continue
        if r.weighted:
            first[i] = [Search(r.name, r.q, True, r.total)]
        else:
            first[i] = [Search(r.name, rank, False, r.n) for rank in _ranks(r.q, r.n)]
    select_all(chunks, [s for group in first.values() for s in group])
    second: dict[int, list[Search]] = {}
    for i, searches in first.items():
        r = wanted[i]
        if not r.weighted:
            below, above, _, _ = _ranks(r.q, r.n)
            a, b, x_lo, x_hi = (s.found.value for s in searches)
            index = r.q * (r.n - 1)
            value = _lerp(a, b, index - below) if above != below else a
            out[i] = (value, float((x_hi - x_lo) / (2 * _Z)))
            continue
        at = searches[0].found
        if r.n < 2:
            out[i] = (at.value, np.nan)
            continue
        share = (at.weight_below + at.weight_at) / r.total
        inside = at.square_below + at.square_at  # sum of w^2 over X <= x_q
        spread = (1.0 - share) ** 2 * inside + share**2 * (r.square_total - inside)
        se_p = float(np.sqrt(max(spread, 0.0)) / r.total)
        levels = (min(r.q + _Z * se_p, 1.0), max(r.q - _Z * se_p, 0.0))
        second[i] = [Search(r.name, level, True, r.total) for level in levels]
    select_all(chunks, [s for group in second.values() for s in group])
    for i, (up, down) in second.items():
        out[i] = (first[i][0].found.value, (up.found.value - down.found.value) / (2 * _Z))
    return out


def _ranks(q: float, n: int) -> tuple[int, int, int, int]:
    """The order statistics an unweighted quantile needs: those either side of q (n - 1) and
    those at n q -/+ 1.96 sqrt(n q (1 - q))."""
    index = q * (n - 1)
    below = int(np.floor(index))
    above = min(below + 1, n - 1)
    half = _Z * np.sqrt(n * q * (1 - q))
    lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
    hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
    return below, above, lo, hi


def quantile_se_exact(
    chunks: Chunks, q: float, *, n: int, weighted: bool, total: float, square_total: float = 0.0
) -> tuple[float, float]:
    """reduce.quantile_se over the chunks of one variable (`quantiles`)."""
    [out] = quantiles(chunks, [Wanted("", q, n, weighted, total, square_total)])
    return out


def chunked(values: np.ndarray, size: int) -> list[np.ndarray]:
    """`values` cut along axis 0 into pieces of `size` (the last shorter)."""
    return [values[i : i + size] for i in range(0, max(values.shape[0], 1), size)]
