"""Pool kernel: one path of licence income, licensee defaults and recoveries.

Per period k (equations in docs/model.md, section "Pool"):
    Z_k = R e_k                                   correlated factor shocks, R R^T = C
    A_lk = a_l Z_f(l),k + sqrt(1 - a_l^2) e_lk    licensee l defaults in k if A_lk < Phi^-1(q_lk)
    X_ik = b_i Z_f(i),k + sqrt(1 - b_i^2) e_ik
    log L_ik = log L_i,k-1 + (g_i - s_i^2/2) dt_k + s_i sqrt(dt_k) X_ik
    due_ik = base_i * L_ik * dt_k * live_share_ik
The draws per period are always F + L + A normals, whether or not a licensee has defaulted, so a
path keeps the same random numbers under any change of parameters (common random numbers).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ipabs.engine.rng import normal


@njit(cache=True)
def simulate_pool_path(
    state,
    factor_chol,
    asset_factor,
    asset_loading,
    asset_idiosyncratic,
    asset_licensee,
    asset_log_drift,
    asset_log_vol,
    asset_income_weight,
    licensee_factor,
    licensee_loading,
    licensee_idiosyncratic,
    licensee_threshold,
    licensee_recovery,
    collections,
    lost_income,
    default_period,
    shocks,
    factor_z,
    log_level,
):
    """Simulate one path into `collections[k]` and `lost_income[k]` (income due but not collected
    because its licensee defaulted, net of recovery). `default_period[l]` gets the period of
    licensee l's default, or -1. The last three arguments are scratch. Returns the default count."""
    n_factors = factor_chol.shape[0]
    n_periods, n_assets = asset_income_weight.shape
    n_licensees = licensee_threshold.shape[1]
    for i in range(n_assets):
        log_level[i] = 0.0
    for j in range(n_licensees):
        default_period[j] = -1
    n_defaults = 0
    for k in range(n_periods):
        for f in range(n_factors):
            shocks[f] = normal(state)
        for f in range(n_factors):
            z = 0.0
            for g in range(n_factors):
                z += factor_chol[f, g] * shocks[g]
            factor_z[f] = z
        for j in range(n_licensees):
            e = normal(state)
            if default_period[j] < 0:
                latent = (
                    licensee_loading[j] * factor_z[licensee_factor[j]]
                    + licensee_idiosyncratic[j] * e
                )
                if latent < licensee_threshold[k, j]:
                    default_period[j] = k
                    n_defaults += 1
        collected = 0.0
        lost = 0.0
        for i in range(n_assets):
            e = normal(state)
            x = asset_loading[i] * factor_z[asset_factor[i]] + asset_idiosyncratic[i] * e
            log_level[i] += asset_log_drift[k, i] + asset_log_vol[k, i] * x
            weight = asset_income_weight[k, i]
            if weight == 0.0:
                continue
            due = weight * np.exp(log_level[i])
            j = asset_licensee[i]
            defaulted_in = default_period[j]
            if defaulted_in < 0:
                collected += due
            elif defaulted_in == k:
                recovered = licensee_recovery[j] * due
                collected += recovered
                lost += due - recovered
            else:
                lost += due
        collections[k] = collected
        lost_income[k] = lost
    return n_defaults
