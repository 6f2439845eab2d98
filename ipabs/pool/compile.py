"""Compile the pool part of a scenario (factors, IP assets, licensees) to flat arrays for the kernels."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ipabs.calendar import TimeGrid
from ipabs.pool.assets import ResolvedAsset, resolve_asset
from ipabs.pool.default_times import cumulative_probability, thresholds
from ipabs.scenario.model import Scenario


class PoolArrays(NamedTuple):
    """Everything the pool kernel needs, as arrays (F factors, A assets, L licensees, K periods).
    Per-period arrays are (K, A) or (K, L): the kernel walks assets within a period. Period k is
    collection period k (t_k: its end in years from the cut-off date; docs/model.md, section 1),
    paid out on payment date k."""

    factor_chol: np.ndarray  # (F, F) Z = factor_chol @ e
    copula_dof: int  # 0: Gaussian copula; nu > 0: Student t with nu degrees of freedom
    asset_factor: np.ndarray  # (A,) int64
    asset_loading: np.ndarray  # (A,) b
    asset_idiosyncratic: np.ndarray  # (A,) sqrt(1 - b^2)
    asset_licensee: np.ndarray  # (A,) int64
    asset_lag: np.ndarray  # (A,) int64, collection lag in periods
    asset_log_drift: np.ndarray  # (K, A) G(t_k) - G(t_k-1) - sigma^2 dt_k / 2 (+ log(1 - cliff))
    asset_log_vol: np.ndarray  # (K, A) sigma * sqrt(dt_k)
    asset_income_weight: np.ndarray  # (K, A) base * dt_k * share of period k before income ends
    asset_event_prob: np.ndarray  # (K, A) P(obsolescence, invalidation or lapse in period k)
    # (K, A) the product of 1 - asset_event_prob over periods 0 .. k: P(no event by the end of k)
    asset_survival: np.ndarray
    asset_obsolescence_cut: np.ndarray  # (A,) share of events that are obsolescence jumps
    asset_invalidation_cut: np.ndarray  # (A,) ... plus invalidations (the rest are lapses)
    asset_log_keep: np.ndarray  # (A,) log(1 - obsolescence severity)
    asset_renewal_share: np.ndarray  # (K, A) share of period k before a renewal date; -1: none
    period_renewals: np.ndarray  # (K,) int64: the assets with a renewal date in period k
    asset_renewal_prob: np.ndarray  # (A,)
    asset_annuity_cost: np.ndarray  # (K, A) the deal's annual fees of period k while it pays them
    licensee_factor: np.ndarray  # (L,) int64
    licensee_loading: np.ndarray  # (L,) a
    licensee_idiosyncratic: np.ndarray  # (L,) sqrt(1 - a^2)
    licensee_threshold: np.ndarray  # (K, L) F^-1(P(t_k)), P(t) = 1 - (1 - PD)^t: cumulative
    licensee_recovery: np.ndarray  # (L,)
    asset_relicense_lag: np.ndarray  # (A,) int64 periods from the licensee's default; -1: never
    asset_relicense_share: np.ndarray  # (A,) share of the income the new licence pays
    # the factors' Brownian bridge to the horizon H = t_K (docs/model.md, 3.1), in units of
    # U(t) = B(t) / sqrt(H): U_k = U_k-1 + drift_k (m - U_k-1) + vol_k xi_k, e_k = dU_k * to_shock_k
    bridge_drift: np.ndarray  # (K,) dt_k / (H - t_k-1)
    bridge_vol: np.ndarray  # (K,) sqrt(dt_k (H - t_k) / ((H - t_k-1) H))
    bridge_to_shock: np.ndarray  # (K,) sqrt(H / dt_k)
    # importance sampling (docs/model.md, 5.2): the horizon factors are drawn as m + shift, and
    # each path carries the likelihood ratio exp(-shift . (m + shift) + |shift|^2 / 2)
    factor_shift: np.ndarray  # (F,) zeros: plain Monte Carlo
    # minimum guarantees (docs/model.md, 3.11): with has_minimum the licence pays
    # max(minimum, royalty) (minimum_greater_of) or minimum + royalty; else only the royalty
    has_minimum: bool
    asset_minimum: np.ndarray  # (K, A) minimum guaranteed payment due in period k; (K, 0) if none
    minimum_greater_of: np.ndarray  # (A,) bool


def factor_root(correlation: np.ndarray) -> np.ndarray:
    """A matrix R with R R^T = C: Cholesky when C is positive definite, else the symmetric
    eigen-root with negative rounding noise clipped (C is checked PSD at load)."""
    try:
        return np.linalg.cholesky(correlation)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(correlation)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def _log_keep(severity: float) -> float:
    return -np.inf if severity >= 1.0 else float(np.log1p(-severity))


def _asset_columns(
    r: ResolvedAsset, base: float, t_years: np.ndarray, dt_years: np.ndarray
) -> dict:
    start = t_years - dt_years
    growth = r.integrated_growth(t_years) - r.integrated_growth(start)
    drift = growth - 0.5 * r.volatility**2 * dt_years
    in_period = (start < r.cliff_years) & (r.cliff_years <= t_years)
    drift = np.where(in_period, drift + _log_keep(r.cliff_severity), drift)
    live = np.clip((r.income_end_years - start) / dt_years, 0.0, 1.0)
    hazard = r.obsolescence_hazard + r.invalidation_hazard + r.lapse_hazard
    renewal_share = np.full(t_years.size, -1.0)
    for point in r.renewal_points(t_years[-1]):
        k = int(np.searchsorted(t_years, point, side="left"))
        renewal_share[k] = (point - start[k]) / dt_years[k]
    if r.fee_steps is None:
        annuity = r.annual_fee * dt_years * live
    else:  # the fee by patent year, integrated over the part of the period the right earns in
        annuity = r.fees_between(start, np.minimum(t_years, np.maximum(r.income_end_years, start)))
    return {
        "drift": drift,
        "vol": r.volatility * np.sqrt(dt_years),
        "weight": base * dt_years * live,
        "event": -np.expm1(-hazard * dt_years),
        "renewal": renewal_share,
        "annuity": annuity,
    }


def bridge_coefficients(
    t_years: np.ndarray, dt_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-period coefficients of the Brownian bridge from 0 to the horizon H = t_K (the last
    payment date): see `PoolArrays`. The last period's drift is 1 and its volatility 0, so the
    bridge ends exactly at the path's horizon factor."""
    t_years = np.asarray(t_years, float)
    dt_years = np.asarray(dt_years, float)
    if t_years.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    horizon = t_years[-1]
    remaining = horizon - (t_years - dt_years)  # H - t_k-1 > 0
    drift = dt_years / remaining
    drift[-1] = 1.0
    vol = np.sqrt(np.clip(dt_years * (horizon - t_years) / (remaining * horizon), 0.0, None))
    vol[-1] = 0.0
    return drift, vol, np.sqrt(horizon / dt_years)


def compile_pool(sc: Scenario, grid: TimeGrid) -> PoolArrays:
    """The pool on the collection periods: times from the cut-off date (grid.pool_t_years)."""
    t_years, dt_years = grid.pool_t_years, grid.pool_dt_years
    n_factors = len(sc.factors.names)
    n_periods = t_years.size
    corr = (
        np.eye(n_factors)
        if sc.factors.correlation is None
        else np.asarray(sc.factors.correlation, float)
    )
    licensee_index = {lic.id: i for i, lic in enumerate(sc.licensees)}
    resolved = [resolve_asset(a, sc.deal.pool_start) for a in sc.assets]
    columns = []
    for r, a in zip(resolved, sc.assets, strict=True):
        c = _asset_columns(r, a.base_annual_income, t_years, dt_years)
        if (
            a.licensee is None
        ):  # pledged collateral: simulated for its value, earns nothing for the deal
            c["weight"] = np.zeros(n_periods)
            c["annuity"] = np.zeros(n_periods)
        columns.append(c)

    def stack(key: str) -> np.ndarray:
        if not columns:
            return np.zeros((n_periods, 0))
        return np.ascontiguousarray(np.stack([c[key] for c in columns], axis=1))

    hazards = np.array(
        [[r.obsolescence_hazard, r.invalidation_hazard, r.lapse_hazard] for r in resolved]
    ).reshape(-1, 3)
    total = hazards.sum(axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    obsolescence_cut = np.where(total > 0, hazards[:, 0] / safe_total, 0.0)
    invalidation_cut = np.where(total > 0, (hazards[:, 0] + hazards[:, 1]) / safe_total, 0.0)

    dof = sc.factors.degrees_of_freedom if sc.factors.copula == "student_t" else 0
    pd_annual = np.array([lic.annual_default_probability for lic in sc.licensees], dtype=float)
    # -inf where PD = 0 and +inf where PD = 1: the comparison in the kernel stays exact
    threshold = thresholds(cumulative_probability(pd_annual, t_years), dof)
    drift, vol, to_shock = bridge_coefficients(t_years, dt_years)
    asset_loading = np.array([a.factor_loading for a in sc.assets], dtype=float)
    renewal_share = stack("renewal")
    licensee_loading = np.array([lic.factor_loading for lic in sc.licensees], dtype=float)
    return PoolArrays(
        factor_chol=np.ascontiguousarray(factor_root(corr)),
        copula_dof=int(dof),
        asset_factor=np.array([sc.factor_index(a.factor) for a in sc.assets], dtype=np.int64),
        asset_loading=asset_loading,
        asset_idiosyncratic=np.sqrt(1.0 - asset_loading**2),
        asset_licensee=np.array(
            [licensee_index.get(a.licensee, -1) for a in sc.assets], dtype=np.int64
        ),
        asset_lag=np.array([r.collection_lag_periods for r in resolved], dtype=np.int64),
        asset_log_drift=stack("drift"),
        asset_log_vol=stack("vol"),
        asset_income_weight=stack("weight"),
        asset_event_prob=stack("event"),
        asset_survival=np.ascontiguousarray(np.cumprod(1.0 - stack("event"), axis=0)),
        asset_obsolescence_cut=obsolescence_cut,
        asset_invalidation_cut=invalidation_cut,
        asset_log_keep=np.array(
            [_log_keep(r.obsolescence_severity) for r in resolved], dtype=float
        ),
        asset_renewal_share=renewal_share,
        period_renewals=np.count_nonzero(renewal_share >= 0.0, axis=1).astype(np.int64),
        asset_renewal_prob=np.array([r.renewal_probability for r in resolved], dtype=float),
        asset_annuity_cost=stack("annuity"),
        licensee_factor=np.array(
            [sc.factor_index(lic.factor) for lic in sc.licensees], dtype=np.int64
        ),
        licensee_loading=licensee_loading,
        licensee_idiosyncratic=np.sqrt(1.0 - licensee_loading**2),
        licensee_threshold=np.ascontiguousarray(threshold),
        licensee_recovery=np.array([lic.recovery_rate for lic in sc.licensees], dtype=float),
        asset_relicense_lag=np.array(
            [
                -1
                if a.relicensing_months is None
                else math.ceil(a.relicensing_months * sc.deal.payment_frequency.per_year / 12)
                for a in sc.assets
            ],
            dtype=np.int64,
        ),
        asset_relicense_share=np.array([a.relicensing_share for a in sc.assets], dtype=float),
        bridge_drift=drift,
        bridge_vol=vol,
        bridge_to_shock=to_shock,
        factor_shift=np.zeros(n_factors),  # ipabs.engine.compile.with_factor_shift sets it
        **minimum_guarantees(sc, grid, resolved),
    )


def minimum_guarantees(sc: Scenario, grid: TimeGrid, resolved: list[ResolvedAsset]) -> dict:
    """Each licence's minimum guaranteed payments on the collection periods: a payment applies to
    the period that holds its date, if the licence still runs at the period's start."""
    n_periods = grid.n_periods
    if not any(a.minimum_guarantees for a in sc.assets):
        return {
            "has_minimum": False,
            "asset_minimum": np.zeros((n_periods, 0)),
            "minimum_greater_of": np.zeros(0, dtype=np.bool_),
        }
    ends = list(grid.collection_ends)
    start = grid.pool_t_years - grid.pool_dt_years
    minimum = np.zeros((n_periods, len(sc.assets)))
    for i, (a, r) in enumerate(zip(sc.assets, resolved, strict=True)):
        for item in a.minimum_guarantees:
            k = next((k for k, d in enumerate(ends) if d >= item.date), None)
            if k is not None and start[k] < r.income_end_years:
                minimum[k, i] += item.amount
    return {
        "has_minimum": True,
        "asset_minimum": minimum,
        "minimum_greater_of": np.array(
            [a.minimum_guarantee_mode == "greater_of" for a in sc.assets], dtype=np.bool_
        ),
    }
