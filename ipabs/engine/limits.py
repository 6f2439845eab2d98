"""Estimate a run's memory and time before starting it, and refuse runs past the documented limits.

Limits (docs/scenario-format.md, "Resource limits"): 8 GiB of result memory or 30 minutes of
estimated simulation time. Both are overridable (`--allow-large`, `allow_large=True`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ipabs.calendar import payment_dates
from ipabs.engine.compile import CompiledDeal
from ipabs.engine.run import N_POOL_FLOWS, POOL_FIELDS, STATEMENT_PATHS, TRANCHE_FIELDS
from ipabs.errors import Problem, ResourceLimitError
from ipabs.scenario.model import Scenario

MAX_MEMORY_BYTES = 8 * 2**30
MAX_SECONDS = 30 * 60
# Single-thread cost of one (draw + update) per path, period and random variate, in seconds; an
# upper figure from benchmarks/README.md so that the estimate errs on the side of refusing.
SECONDS_PER_VARIATE = 15e-9
# per path and tranche: the kernel's outputs plus the path table built from them (about 3 copies)
BYTES_PER_PATH_TRANCHE = 3 * 8 * (len(TRANCHE_FIELDS) + 2)
# per path: the pool outputs and its weight, and the pool path table built from them
BYTES_PER_PATH = 2 * 8 * (len(POOL_FIELDS) + 1)
# sampled per period, per sample path: the collections received, reserve, performing loans, loan
# loss, debt service, the pool's own income, a trust's holdback and the principal deficiency
# ledger, and each class's balance
SAMPLE_SERIES = 8
# and per statement path (the first STATEMENT_PATHS of them): the waterfall's flows
# (`run.POOL_FLOWS`), each fee's payments and each class's interest and principal
STATEMENT_SERIES = N_POOL_FLOWS


@dataclass(frozen=True)
class Estimate:
    memory_bytes: float
    seconds: float

    def describe(self) -> str:
        return f"about {self.memory_bytes / 2**30:.2f} GiB of memory and {self.seconds / 60:.1f} minutes"


@dataclass(frozen=True)
class Counts:
    """What a run's cost grows with, per path."""

    periods: int
    tranches: int
    factors: int
    licensees: int
    assets: int
    loans: int
    fees: int


def estimate(deal: CompiledDeal, *, paths: int, sample_paths: int, threads: int) -> Estimate:
    """The run's memory and time, from the compiled deal's arrays."""
    pool = deal.pool
    counts = Counts(
        periods=deal.n_periods,
        tranches=deal.n_tranches,
        factors=pool.factor_chol.shape[0],
        licensees=pool.licensee_threshold.shape[1],
        assets=pool.asset_income_weight.shape[1],
        loans=deal.loans.balance0.shape[0],
        fees=deal.waterfall.fee_fixed.shape[0],
    )
    return estimate_counts(counts, paths=paths, sample_paths=sample_paths, threads=threads)


def estimate_scenario(sc: Scenario, *, paths: int, sample_paths: int, threads: int) -> Estimate:
    """The same estimate from the scenario's tables, before compiling it (seconds of work for a
    pool of 100,000 assets), so that a run far past the limits is refused at once."""
    counts = Counts(
        periods=len(payment_dates(sc.deal)),
        tranches=len(sc.tranches),
        factors=len(sc.factors.names),
        licensees=len(sc.licensees),
        assets=len(sc.assets),
        loans=len(sc.loans) + len(sc.leases) + len(sc.receivables),
        fees=len(sc.fee_names()),
    )
    return estimate_counts(counts, paths=paths, sample_paths=sample_paths, threads=threads)


def estimate_counts(c: Counts, *, paths: int, sample_paths: int, threads: int) -> Estimate:
    # per period: the factors' bridge, the assets (a normal and a uniform each) and two uniforms
    # per loan; per path: the horizon factors and one latent per licensee, loan and guarantor
    per_period = c.factors + 2 * c.assets + 2 * c.loans
    per_path = c.factors + c.licensees + (1 + c.loans if c.loans else 0)
    variates = c.periods * per_period + per_path
    seconds = paths * variates * SECONDS_PER_VARIATE / max(threads, 1)
    sample = min(sample_paths, paths) * c.periods * (c.tranches + SAMPLE_SERIES) * 8
    statement_paths = min(sample_paths, paths, STATEMENT_PATHS)
    sample += statement_paths * c.periods * (2 * c.tranches + c.fees + STATEMENT_SERIES) * 8
    memory = paths * (c.tranches * BYTES_PER_PATH_TRANCHE + BYTES_PER_PATH) + sample
    return Estimate(memory, seconds)


def check_limits(est: Estimate, *, paths: int) -> None:
    problems = []
    if est.memory_bytes > MAX_MEMORY_BYTES:
        problems.append(
            Problem(
                "simulation.paths",
                f"needs {est.memory_bytes / 2**30:.2f} GiB, above the {MAX_MEMORY_BYTES / 2**30:.0f} GiB limit",
                paths,
                True,
            )
        )
    if est.seconds > MAX_SECONDS:
        problems.append(
            Problem(
                "simulation.paths",
                f"needs about {est.seconds / 60:.0f} minutes, above the {MAX_SECONDS / 60:.0f}-minute limit",
                paths,
                True,
            )
        )
    if problems:
        raise ResourceLimitError(
            f"run refused: estimated {est.describe()}. Use fewer paths, or pass --allow-large "
            "(allow_large=True in Python) to run it anyway",
            problems=tuple(problems),
        )
