"""Compile the pool part of a scenario (factors, IP assets, licensees) to flat arrays for the kernels."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from ipabs.scenario.model import Scenario


class PoolArrays(NamedTuple):
    """Everything the pool kernel needs, as arrays (F factors, A assets, L licensees, K periods)."""

    factor_chol: np.ndarray  # (F, F) lower factor of the correlation matrix: Z = factor_chol @ e
    asset_factor: np.ndarray  # (A,) int64
    asset_loading: np.ndarray  # (A,) b
    asset_idiosyncratic: np.ndarray  # (A,) sqrt(1 - b^2)
    asset_licensee: np.ndarray  # (A,) int64
    asset_log_drift: np.ndarray  # (A, K) (g - sigma^2/2) * dt_k
    asset_log_vol: np.ndarray  # (A, K) sigma * sqrt(dt_k)
    asset_income_weight: (
        np.ndarray
    )  # (A, K) base * dt_k * share of period k within the income's life
    licensee_factor: np.ndarray  # (L,) int64
    licensee_loading: np.ndarray  # (L,) a
    licensee_idiosyncratic: np.ndarray  # (L,) sqrt(1 - a^2)
    licensee_threshold: np.ndarray  # (K, L) Phi^-1(q_k), q_k = 1 - (1 - PD)^dt_k
    licensee_recovery: np.ndarray  # (L,)


def factor_root(correlation: np.ndarray) -> np.ndarray:
    """A matrix R with R R^T = C: Cholesky when C is positive definite, else the symmetric
    eigen-root with negative rounding noise clipped (C is checked PSD at load)."""
    try:
        return np.linalg.cholesky(correlation)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(correlation)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def compile_pool(sc: Scenario, t_years: np.ndarray, dt_years: np.ndarray) -> PoolArrays:
    n_factors = len(sc.factors.names)
    corr = (
        np.eye(n_factors)
        if sc.factors.correlation is None
        else np.asarray(sc.factors.correlation, float)
    )
    licensee_index = {lic.id: i for i, lic in enumerate(sc.licensees)}
    period_start = t_years - dt_years

    assets = sc.assets
    growth = np.array([a.growth_rate for a in assets])[:, None]
    vol = np.array([a.volatility for a in assets])[:, None]
    base = np.array([a.base_annual_income for a in assets])[:, None]
    end = np.array(
        [min(a.remaining_legal_life_years, a.licence_term_years or np.inf) for a in assets]
    )[:, None]
    # share of each period that lies before the income stops (legal expiry or licence end)
    live_share = np.clip((end - period_start[None, :]) / dt_years[None, :], 0.0, 1.0)

    pd_annual = np.array([lic.annual_default_probability for lic in sc.licensees])[:, None]
    q = 1.0 - (1.0 - pd_annual) ** dt_years[None, :]
    threshold = ndtri(q)  # -inf where PD = 0, +inf where PD = 1: the comparison stays exact

    asset_loading = np.array([a.factor_loading for a in assets])
    licensee_loading = np.array([lic.factor_loading for lic in sc.licensees])
    return PoolArrays(
        factor_chol=np.ascontiguousarray(factor_root(corr)),
        asset_factor=np.array([sc.factor_index(a.factor) for a in assets], dtype=np.int64),
        asset_loading=asset_loading,
        asset_idiosyncratic=np.sqrt(1.0 - asset_loading**2),
        asset_licensee=np.array([licensee_index[a.licensee] for a in assets], dtype=np.int64),
        asset_log_drift=np.ascontiguousarray(((growth - 0.5 * vol**2) * dt_years[None, :]).T),
        asset_log_vol=np.ascontiguousarray((vol * np.sqrt(dt_years)[None, :]).T),
        asset_income_weight=np.ascontiguousarray((base * dt_years[None, :] * live_share).T),
        licensee_factor=np.array(
            [sc.factor_index(lic.factor) for lic in sc.licensees], dtype=np.int64
        ),
        licensee_loading=licensee_loading,
        licensee_idiosyncratic=np.sqrt(1.0 - licensee_loading**2),
        licensee_threshold=np.ascontiguousarray(threshold.T),
        licensee_recovery=np.array([lic.recovery_rate for lic in sc.licensees]),
    )
