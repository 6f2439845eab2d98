"""Compile a validated scenario to the flat arrays the kernels read (no Python objects in kernels)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from ipabs.calendar import TimeGrid, time_grid
from ipabs.engine.metrics import pricing_factors
from ipabs.pool.compile import PoolArrays, compile_pool
from ipabs.pool.leases import with_contract_claims
from ipabs.pool.loans import LoanArrays, compile_loans
from ipabs.scenario.model import Scenario
from ipabs.structures.credit_support import SupportArrays, compile_support
from ipabs.structures.program import WaterfallArrays, compile_waterfall
from ipabs.structures.revolving import RevolvingArrays, compile_revolving
from ipabs.structures.trust import TrustValueArrays, compile_trust_value


@dataclass(frozen=True)
class CompiledDeal:
    scenario: Scenario
    grid: TimeGrid  # payment dates and collection periods (docs/model.md, section 1)
    dates: list[dt.date]  # the payment dates: grid.dates
    t_years: np.ndarray  # grid.t_years, from closing
    dt_years: np.ndarray  # grid.dt_years
    pool: PoolArrays
    loans: LoanArrays
    waterfall: WaterfallArrays
    support: SupportArrays
    revolving: RevolvingArrays
    trust_value: TrustValueArrays
    tranche_names: tuple[str, ...]
    discount: np.ndarray  # (T, K) each class's discount factor at each payment date ([pricing])
    duration_weight: np.ndarray  # (T, K) t_k / (1 + z_jk), for the modified duration

    @property
    def n_periods(self) -> int:
        return len(self.dates)

    @property
    def n_tranches(self) -> int:
        return len(self.tranche_names)


def compile_scenario(sc: Scenario) -> CompiledDeal:
    """The pool stage (pool, loans, revolving vintages, the trust's IP values) runs on the
    collection periods, the notes (waterfall, credit support, pricing) on the payment dates."""
    grid = time_grid(sc.deal)
    names = tuple(t.name for t in sc.tranches_by_rank())
    discount, duration_weight = pricing_factors(
        grid.t_years, sc.pricing, names, sc.deal.payment_frequency.per_year
    )
    return CompiledDeal(
        scenario=sc,
        grid=grid,
        dates=list(grid.dates),
        t_years=grid.t_years,
        dt_years=grid.dt_years,
        pool=compile_pool(sc, grid),
        loans=compile_loans(with_contract_claims(sc, grid), grid),
        waterfall=compile_waterfall(sc, grid),
        support=compile_support(sc, grid.t_years),
        revolving=compile_revolving(sc, grid),
        trust_value=compile_trust_value(sc, grid),
        tranche_names=names,
        discount=discount,
        duration_weight=duration_weight,
    )


def with_factor_shift(deal: CompiledDeal, shift: np.ndarray) -> CompiledDeal:
    """The compiled deal with an importance sampling mean shift of the horizon factors (one
    number per factor; docs/model.md, 5.2): only the pool's shift changes, nothing is compiled
    again."""
    shift = np.ascontiguousarray(shift, dtype=float)
    return dataclasses.replace(deal, pool=deal.pool._replace(factor_shift=shift))
