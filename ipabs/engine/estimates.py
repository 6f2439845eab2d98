"""The summaries' Monte Carlo estimates from per-chunk partials (`ipabs.engine.partials`).

`chunk_partials(deal, raw)` turns one chunk's per-path arrays into the small partials of every
estimate the summaries report (`variables` names them: what is averaged, conditioned, divided
or ranked); `Estimates` merges the chunks' partials in chunk order and finishes each estimate
with the formulas of `ipabs.engine.reduce` (docs/model.md 5). A local run cuts its paths at the
same `CHUNK_PATHS` as a cluster run, so both reduce the same partials in the same order and
report the same numbers bit for bit, whatever the threads or workers.

Quantiles need the values themselves: a chunk's `ChunkPartials.ranked` keeps, per ranked
variable, its values (NaN dropped) and weights, and `Estimates.quantile` selects exactly over
the chunks (`partials.select`). Locally those are slices of the run's arrays; on a cluster they
stay on the workers and only the histograms and the few values in the wanted bins move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ipabs.engine import partials as P
from ipabs.engine.compile import CompiledDeal
from ipabs.engine.run import POOL_FIELDS, TRANCHE_FIELDS, RawResults

LOSS_TOLERANCE = 1e-9  # as ipabs.engine.reduce


@dataclass(frozen=True)
class MeanPartial:
    """What reduce.mean_se needs of one chunk, whatever the weights turn out to be."""

    plain: P.Moments  # of x, NaN dropped
    control: P.Moments  # of (w x, w - 1) over every path
    normalised: P.WeightedMoments  # of x with weights w, NaN dropped
    missing: int  # NaN entries

    @staticmethod
    def of(x: np.ndarray, w: np.ndarray) -> MeanPartial:
        keep = ~np.isnan(x)
        return MeanPartial(
            P.Moments.of(x[keep]),
            P.Moments.of(w * x, w - 1.0),
            P.WeightedMoments.of(x[keep], w[keep]),
            int(x.size - keep.sum()),
        )

    def merge(self, other: MeanPartial) -> MeanPartial:
        return MeanPartial(
            self.plain.merge(other.plain),
            self.control.merge(other.control),
            self.normalised.merge(other.normalised),
            self.missing + other.missing,
        )

    def finish(self, weighted: bool) -> tuple[float, float]:
        if not weighted:
            return P.plain_mean_se(self.plain)
        if self.missing:
            return P.self_normalised_se(self.normalised)
        return P.control_variate_mean_se(self.control)


@dataclass(frozen=True)
class ConditionalPartial:
    """reduce.conditional_mean_se: x over the paths in a mask."""

    plain: P.Moments
    normalised: P.WeightedMoments

    @staticmethod
    def of(x: np.ndarray, mask: np.ndarray, w: np.ndarray) -> ConditionalPartial:
        xm, wm = x[mask], w[mask]
        return ConditionalPartial(P.Moments.of(xm[~np.isnan(xm)]), P.WeightedMoments.of(xm, wm))

    def merge(self, other: ConditionalPartial) -> ConditionalPartial:
        return ConditionalPartial(
            self.plain.merge(other.plain), self.normalised.merge(other.normalised)
        )

    def finish(self, weighted: bool) -> tuple[float, float]:
        if weighted:
            return P.self_normalised_se(self.normalised)
        return P.plain_mean_se(self.plain)


@dataclass(frozen=True)
class RatioPartial:
    """reduce.ratio_se: mean(num) / mean(den), of w num and w den with weights."""

    plain: P.Moments
    weighted: P.Moments

    @staticmethod
    def of(num: np.ndarray, den: np.ndarray, w: np.ndarray) -> RatioPartial:
        return RatioPartial(P.Moments.of(num, den), P.Moments.of(w * num, w * den))

    def merge(self, other: RatioPartial) -> RatioPartial:
        return RatioPartial(self.plain.merge(other.plain), self.weighted.merge(other.weighted))

    def finish(self, weighted: bool) -> tuple[float, float]:
        return P.ratio_from(self.weighted if weighted else self.plain)


@dataclass
class ChunkPartials:
    """One chunk's partials: the estimates' partials by name, path counts and least values, and
    the ranked variables' values (NaN dropped) and weights, kept where the chunk was run."""

    paths: int
    unit_weights: bool  # every weight of the chunk is 1 (plain Monte Carlo)
    partial: dict[str, object] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    least: dict[str, float] = field(default_factory=dict)
    ranked: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def small(self) -> ChunkPartials:
        """The same without the ranked values (what a cluster's worker sends back)."""
        return ChunkPartials(self.paths, self.unit_weights, self.partial, self.count, self.least)

    def merge(self, other: ChunkPartials) -> ChunkPartials:
        """This chunk's (or these chunks') partials followed by the next chunk's, without
        ranked values: folded in chunk order, as `Estimates` merges a list of chunks."""
        return ChunkPartials(
            self.paths + other.paths,
            self.unit_weights and other.unit_weights,
            {name: p.merge(other.partial[name]) for name, p in self.partial.items()},
            {name: n + other.count[name] for name, n in self.count.items()},
            {name: min(v, other.least[name]) for name, v in self.least.items()},
        )


def chunk_partials(deal: CompiledDeal, raw: RawResults) -> ChunkPartials:
    """Every summary estimate's partial over one chunk's paths (`Estimates` names them)."""
    w = np.ascontiguousarray(raw.weight, dtype=np.float64)
    out = ChunkPartials(int(w.size), bool(np.all(w == 1.0)))

    def mean(name: str, x: np.ndarray) -> None:
        out.partial[name] = MeanPartial.of(np.ascontiguousarray(x, dtype=np.float64), w)

    def ranked(name: str, x: np.ndarray) -> None:
        mean(name, x)
        keep = ~np.isnan(x)
        out.ranked[name] = (np.ascontiguousarray(x[keep]), np.ascontiguousarray(w[keep]))

    tf = {name: i for i, name in enumerate(TRANCHE_FIELDS)}
    for t, tranche in enumerate(deal.scenario.tranches_by_rank()):
        data = raw.tranche[:, t, :]
        b0 = tranche.balance
        loss = data[:, tf["principal_loss"]] / b0
        has_loss = loss > LOSS_TOLERANCE
        mean(f"{t}.loss", loss)
        mean(f"{t}.has_loss", has_loss.astype(float))
        out.count[f"{t}.has_loss"] = int(has_loss.sum())
        out.partial[f"{t}.loss_given_loss"] = ConditionalPartial.of(loss, has_loss, w)
        mean(f"{t}.wal", data[:, tf["wal_years"]])
        ranked(f"{t}.irr", data[:, tf["irr"]])
        pv = data[:, tf["pv"]]
        mean(f"{t}.price", pv / b0)
        out.partial[f"{t}.duration"] = RatioPartial.of(data[:, tf["pv_time"]], pv, w)
        mean(f"{t}.unpaid", data[:, tf["unpaid_interest"]])
        received = (
            data[:, tf["interest_received"]]
            + data[:, tf["principal_received"]]
            + data[:, tf["residual_received"]]
        )
        mean(f"{t}.multiple", received / b0)
        with np.errstate(divide="ignore", invalid="ignore"):
            distribution_yield = (
                data[:, tf["interest_received"]] + data[:, tf["residual_received"]]
            ) / data[:, tf["capital_years"]]
        ranked(f"{t}.distribution_yield", distribution_yield)
        shortfall = data[:, tf["max_shortfall"]] / b0
        mean(f"{t}.has_shortfall", (shortfall > LOSS_TOLERANCE).astype(float))
        mean(f"{t}.shortfall", shortfall)
        impaired = has_loss | (shortfall > LOSS_TOLERANCE)
        mean(f"{t}.impaired", impaired.astype(float))
        out.count[f"{t}.impaired"] = int(impaired.sum())

    pf = {name: i for i, name in enumerate(POOL_FIELDS)}
    collections = raw.pool[:, pf["collections"]]
    lost = raw.pool[:, pf["lost_income"]]
    due = collections + raw.pool[:, pf["collections_after_call"]] + lost
    loss_pct = np.divide(lost, due, out=np.zeros_like(lost), where=due > 0)
    mean("pool.collections", collections)
    mean("pool.lost_income", lost)
    ranked("pool.loss_pct", loss_pct)
    for name in POOL_FIELDS[POOL_FIELDS.index("licensee_defaults") :]:
        mean(f"pool.{name}", raw.pool[:, pf[name]])
    for j in range(raw.layer_paid.shape[1]):
        mean(f"pool.layer.{j}", raw.layer_paid[:, j])
    loan_total = float(deal.loans.balance0.sum())
    if loan_total > 0:
        ranked("pool.loan_loss_pct", raw.pool[:, pf["loan_net_loss"]] / loan_total)
    mean("weight", np.ones(w.size))

    years = np.asarray(deal.t_years)
    for r in range(len(deal.scenario.triggers)):
        first = raw.trigger_first[:, r]
        hit = first >= 0
        mean(f"trigger.{r}", hit.astype(float))
        out.count[f"trigger.{r}"] = int(hit.sum())
        out.partial[f"trigger.{r}.years"] = ConditionalPartial.of(
            years[np.maximum(first, 0)], hit, w
        )
        out.least[f"trigger.{r}"] = float(first[hit].min()) if hit.any() else np.inf
    return out


class Estimates:
    """Chunks' partials merged in chunk order, finished as ipabs.engine.reduce's estimates.
    `parts` may be the chunks' own partials or their fold in chunk order (`ChunkPartials.merge`):
    the merged partials are the same. `source` answers the quantiles' selection rounds over the
    chunks' ranked values (`partials.Chunks`, or on a cluster `distribute.ClusterChunks`)."""

    def __init__(self, parts: list[ChunkPartials], source: object = None):
        self.parts = parts
        self.cash_gap: float | None = None  # a cluster run's worst cash-check gap (per chunk)
        self.found: dict[tuple[str, float], tuple[float, float]] = {}
        self.paths = sum(p.paths for p in parts)
        self.weighted = not all(p.unit_weights for p in parts)
        self.merged = {
            name: P.merge_all([p.partial[name] for p in parts]) for name in parts[0].partial
        }
        self.counts = {name: sum(p.count[name] for p in parts) for name in parts[0].count}
        self.leasts = {name: min(p.least[name] for p in parts) for name in parts[0].least}
        self.source = source

    def mean(self, name: str) -> tuple[float, float]:
        return self.merged[name].finish(self.weighted)

    def count(self, name: str) -> int:
        return self.counts[name]

    def least(self, name: str) -> float:
        return self.leasts[name]

    def has(self, name: str) -> bool:
        return name in self.merged

    def _wanted(self, name: str, q: float) -> P.Wanted:
        normalised = self.merged[name].normalised
        return P.Wanted(
            name, q, normalised.n, self.weighted, normalised.total, normalised.square_total
        )

    def quantile(self, name: str, q: float) -> tuple[float, float]:
        """reduce.quantile_se of a ranked variable, exactly (partials.quantiles)."""
        if (name, q) not in self.found:
            [self.found[(name, q)]] = P.quantiles(self.source, [self._wanted(name, q)])
        return self.found[(name, q)]

    def settle(self, wanted: dict[str, tuple[float, ...]]) -> Estimates:
        """Every wanted quantile found now, all in the same selection rounds, so that the
        chunks' values can go (a cluster run releases its workers' chunks after this)."""
        asked = [
            self._wanted(name, q)
            for name, levels in wanted.items()
            if name in self.merged and self.source is not None
            for q in levels
            if (name, q) not in self.found
        ]
        for w, out in zip(asked, P.quantiles(self.source, asked), strict=True):
            self.found[(w.name, w.q)] = out
        self.source = None
        return self

    def effective_sample_size(self) -> float:
        """(sum w)^2 / sum w^2 (Kong 1992): the paths for plain Monte Carlo."""
        if not self.weighted:
            return float(self.paths)
        m = self.merged["weight"].normalised
        return float(m.total**2 / m.square_total)


def local_estimates(
    deal: CompiledDeal,
    raw: RawResults,
    chunk: int | None = None,
    batches: tuple[int, ...] | None = None,
) -> Estimates:
    """`Estimates` of a run held in memory, cut as a cluster cuts it: each batch (`batches`,
    their path counts; default one) from its first path into chunks of `chunk` (default
    `CHUNK_PATHS`)."""
    from ipabs.engine.distribute import CHUNK_PATHS

    size = chunk or CHUNK_PATHS
    cuts: list[tuple[int, int]] = []
    offset = 0
    for batch in batches or (raw.weight.shape[0],):
        stop = offset + batch
        cuts += [(a, min(a + size, stop)) for a in range(offset, offset + max(batch, 1), size)]
        offset = stop
    parts = [chunk_partials(deal, slice_paths(raw, a, b)) for a, b in cuts]
    source = P.Chunks({name: [p.ranked[name] for p in parts] for name in parts[0].ranked})
    return Estimates([p.small() for p in parts], source)


def slice_paths(raw: RawResults, start: int, stop: int) -> RawResults:
    """The per-path arrays of paths start .. stop - 1 (the per-period samples left empty)."""
    return RawResults(
        tranche=raw.tranche[start:stop],
        pool=raw.pool[start:stop],
        sample_collections=raw.sample_collections[:0],
        sample_balances=raw.sample_balances[:0],
        sample_reserve=raw.sample_reserve[:0],
        trigger_first=raw.trigger_first[start:stop],
        sample_performing=raw.sample_performing[:0],
        sample_loan_loss=raw.sample_loan_loss[:0],
        sample_debt_service=raw.sample_debt_service[:0],
        sample_pool_income=raw.sample_pool_income[:0],
        sample_holdback=raw.sample_holdback[:0],
        weight=raw.weight[start:stop],
        sample_flows=raw.sample_flows[:0],
        sample_pdl=raw.sample_pdl[:0],
        layer_paid=raw.layer_paid[start:stop],
    )
