"""Importance sampling of the horizon factors (docs/model.md, 5.2).

Every path's economy is m ~ N(0, I_F) (ipabs.pool.kernels). Under importance sampling the engine
draws m + mu instead and weighs the path by the likelihood ratio
    w = phi(m + mu) / phi(m) = exp(-mu . (m + mu) + |mu|^2 / 2),
so E[w X] under the shifted draws is E[X] under the model for any path output X (Glasserman,
Heidelberger & Shahabuddin, Math. Finance 1999; Glasserman & Li, Management Science 2005). The
income shocks are bridged to the shifted m, so a shifted path is a whole bad economy: more
defaults and less income.

The shift is given (`[simulation] importance = [..]`) or chosen for a class by the cross-entropy
method (Rubinstein & Kroese, The Cross-Entropy Method, 2004; de Boer et al., Ann. Oper. Res.
2005): pilot runs on streams apart from the main run's, each moving mu to the weighted mean of
m over the pilot's elite paths,
    mu <- sum_i w_i f_i m_i / sum_i w_i f_i,
with f_i the class's loss fraction (expected-loss target) or loss indicator (loss-probability
target) once at least MIN_HITS pilot paths lose, and before that (multi-level) the indicator of
the ELITE_SHARE of paths closest to a loss (the class's loss, then the deal's lowest collections).
If no pilot run sees MIN_HITS losses the search gives up and the run stays plain Monte Carlo:
a shift learnt from the proxy alone can weigh the target's rare paths badly and under-report
the error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ipabs.engine.compile import CompiledDeal, compile_scenario, with_factor_shift
from ipabs.engine.rng import latent_normals
from ipabs.engine.run import POOL_FIELDS, TRANCHE_FIELDS, run_paths
from ipabs.scenario.model import Scenario

PILOT_RUNS = 8
ELITE_SHARE = 0.1
MIN_HITS = 50
MAX_SHIFT = 6.0  # standard deviations: a larger shift would leave almost every weight at 0
_PILOT_KEY = 0x9E3779B97F4A7C15


@dataclass(frozen=True)
class ImportancePlan:
    """How a run sampled its horizon factors."""

    shift: np.ndarray  # (F,) mean shift; zeros for plain Monte Carlo
    method: str  # "none", "explicit" or "cross_entropy"
    target: str | None = None  # the class the cross-entropy search aimed at
    metric: str | None = None  # "expected_loss" or "loss_probability"
    pilot_runs: int = 0
    pilot_paths: int = 0
    pilot_hits: tuple[int, ...] = field(default=())  # loss paths of the target in each pilot run

    @property
    def enabled(self) -> bool:
        return bool(np.any(self.shift != 0.0))

    def record(self) -> dict[str, object]:
        """For the manifest and JSON output."""
        return {
            "method": self.method,
            "shift": [float(x) for x in self.shift],
            "target": self.target,
            "metric": self.metric,
            "pilot_runs": self.pilot_runs,
            "pilot_paths": self.pilot_paths,
            "pilot_hits": list(self.pilot_hits),
        }


def pilot_seed(seed: int, run: int) -> int:
    """The seed of pilot run `run`: a stream family apart from the main run's (and reproducible
    from its seed)."""
    return (seed * 6364136223846793005 + _PILOT_KEY * (run + 1)) % (1 << 63)


def plan_importance(
    scenario: Scenario,
    *,
    threads: int | None = None,
    metric: str | None = None,
    deal: CompiledDeal | None = None,
) -> ImportancePlan:
    """The importance plan the scenario's `[simulation]` asks for (`deal`: the scenario already
    compiled, if the caller has it)."""
    sim = scenario.simulation
    n_factors = len(scenario.factors.names)
    if isinstance(sim.importance, tuple):
        return ImportancePlan(np.asarray(sim.importance, float), "explicit")
    if sim.importance == "none":
        return ImportancePlan(np.zeros(n_factors), "none")
    if metric is None:
        from ipabs.ratings.tables import table_for

        metric = table_for(scenario.ratings).metric
    return cross_entropy_shift(
        scenario,
        sim.importance_target,
        metric=metric,
        pilot_paths=sim.importance_pilot_paths,
        threads=threads,
        deal=deal,
    )


def cross_entropy_shift(
    scenario: Scenario,
    target: str,
    *,
    metric: str = "loss_probability",
    pilot_paths: int = 2000,
    threads: int | None = None,
    deal: CompiledDeal | None = None,
) -> ImportancePlan:
    """The cross-entropy search of the module doc, for the class named `target`."""
    base = compile_scenario(scenario) if deal is None else deal
    n_factors = base.pool.factor_chol.shape[0]
    t = base.tranche_names.index(target)
    balance = float(base.waterfall.balance0[t])
    seed = scenario.simulation.seed
    shift = np.zeros(n_factors)
    hits_seen: list[int] = []
    settled = 0
    for run in range(PILOT_RUNS):
        shifted = base if run == 0 else with_factor_shift(base, shift)
        run_seed = pilot_seed(seed, run)
        raw = run_paths(
            shifted,
            paths=pilot_paths,
            seed=run_seed,
            block_size=scenario.simulation.block_size,
            sample_paths=1,
            threads=threads,
        )
        m = np.empty((pilot_paths, n_factors))
        latent_normals(run_seed, 0, m)
        m += shift
        w = raw.weight
        loss = raw.tranche[:, t, TRANCHE_FIELDS.index("principal_loss")] / balance
        hit = loss > 1e-9
        hits_seen.append(int(hit.sum()))
        if hit.sum() >= MIN_HITS:
            f = np.where(hit, loss if metric == "expected_loss" else 1.0, 0.0) * w
            settled += 1
        else:
            # multi-level: the elite are the paths with a loss, then the lowest collections
            collections = raw.pool[:, POOL_FIELDS.index("collections")]
            order = np.lexsort((collections, -loss))
            elite = order[: max(int(ELITE_SHARE * pilot_paths), int(hit.sum()))]
            f = np.zeros(pilot_paths)
            f[elite] = w[elite]
        if f.sum() <= 0.0:
            break
        updated = (f[:, None] * m).sum(axis=0) / f.sum()
        norm = float(np.linalg.norm(updated))
        if norm > MAX_SHIFT:
            updated *= MAX_SHIFT / norm
        moved = float(np.linalg.norm(updated - shift))
        shift = updated
        if settled >= 2 and moved < 0.05:
            break
    if settled == 0:
        # the pilot never saw MIN_HITS losses of the target: a shift from its proxy elite alone
        # can leave the target's rare paths with heavy weights and a misleading error, so the
        # run stays plain Monte Carlo and says so
        shift = np.zeros(n_factors)
    return ImportancePlan(
        shift,
        "cross_entropy" if settled else "cross_entropy: no shift (the pilot saw too few losses)",
        target=target,
        metric=metric,
        pilot_runs=len(hits_seen),
        pilot_paths=pilot_paths,
        pilot_hits=tuple(hits_seen),
    )


def fixed_shift(
    scenario: Scenario, *, paths: int | None = None, seed: int | None = None
) -> Scenario:
    """The scenario with an `importance = "auto"` replaced by the shift its pilot chooses, so
    that several runs (stresses, breakeven levels) share one shift and so their paths (common
    random numbers); any other setting is returned as it is."""
    if scenario.simulation.importance != "auto":
        return scenario
    from ipabs.api import with_simulation

    aimed = with_simulation(scenario, paths=paths, seed=seed)
    shift = tuple(float(x) for x in plan_importance(aimed).shift)
    simulation = scenario.simulation.model_copy(update={"importance": shift})
    return scenario.model_copy(update={"simulation": simulation})
