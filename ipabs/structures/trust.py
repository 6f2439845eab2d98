"""A trust's IP value on one path: what the rights it still holds are worth at each payment date
(the income method at the path's simulated income level; docs/model.md, sections 3.7 and 4.8),
for its final distribution and an early termination."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ipabs.calendar import TimeGrid
from ipabs.pool.valuation import remaining_value_factors
from ipabs.scenario.model import Scenario


class TrustValueArrays(NamedTuple):
    enabled: bool
    value_factor: np.ndarray  # (K, A) income factor of the remaining value at t_k (the end of
    # collection period k, from the cut-off: the income after it is the trust's still)
    fee_pv: np.ndarray  # (K, A) pre-paid fee PV from t_k
    base: np.ndarray  # (A,) base annual income
    licensee: np.ndarray  # (A,) int: the asset's licensee, -1 for none


def compile_trust_value(sc: Scenario, grid: TimeGrid) -> TrustValueArrays:
    """On the pool's grid: at payment date k the trust holds the income earned after collection
    period k ends, valued at the path's income level then."""
    t_years = grid.pool_t_years
    n_periods, n_assets = t_years.size, len(sc.assets)
    terms = sc.trust
    needed = sc.kind == "trust" and (
        terms is None or terms.terminal_value == "income_method" or terms.termination_shortfall
    )
    if not needed:
        return TrustValueArrays(
            False, np.zeros((n_periods, 0)), np.zeros((n_periods, 0)), np.zeros(0),
            np.zeros(0, np.int64),
        )  # fmt: skip
    value_factor = np.zeros((n_periods, n_assets))
    fee_pv = np.zeros((n_periods, n_assets))
    for i, asset in enumerate(sc.assets):
        value_factor[:, i], fee_pv[:, i] = remaining_value_factors(
            asset, sc.deal.pool_start, sc.valuation.discount_rate, t_years
        )
    licensees = [lic.id for lic in sc.licensees]
    return TrustValueArrays(
        True,
        value_factor,
        fee_pv,
        np.array([a.base_annual_income for a in sc.assets], dtype=float),
        np.array([licensees.index(a.licensee) if a.licensee else -1 for a in sc.assets]),
    )


@njit(cache=True)
def ip_values(tv, level_path, alive_path, default_period, out):
    """out[k] = the value at payment date k of the rights still alive whose licensee has not
    defaulted by then: sum of max(B L_k F_k - P_k, 0)."""
    for k in range(out.shape[0]):
        value = 0.0
        for i in range(tv.base.shape[0]):
            if not alive_path[k, i]:
                continue
            j = tv.licensee[i]
            if j >= 0 and 0 <= default_period[j] <= k:
                continue
            v = tv.base[i] * np.exp(level_path[k, i]) * tv.value_factor[k, i] - tv.fee_pv[k, i]
            value += max(v, 0.0)
        out[k] = value
