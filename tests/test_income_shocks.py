"""Each asset's income shock reads the normals docs/model.md (sections 2 and 3) says it reads.

Per period k the shock lanes give F + A normals, a chunk of whole periods at a time: the F
factors' first (the Brownian bridge to the path's horizon factors m turns them into the period's
independent shocks e_k, then Z_k = R e_k), then one for each asset, in asset order:

    x_ik = b_i Z_f(i),k + sqrt(1 - b_i^2) eps_ik
    log L_ik = log L_i,k-1 + mu_ik + s_ik x_ik

The check redraws the path's numbers from its seed with the generator's own functions, works every
asset's log level out in NumPy, and compares it with the kernel's recorded log level in every
period, across chunk boundaries. Distribution tests would not see an asset reading a neighbour's
normal (every marginal stays standard normal); this does. IP events and renewal dates are turned
off so that the log level is the shocks' sum alone (the events are checked elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, pool_scratch

from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import (
    SHOCK_LANES,
    draw_block,
    lane_normals,
    seed_latent_stream,
    seed_shock_lanes,
    seed_stream,
)
from ipabs.pool.kernels import CHUNK_NORMALS, simulate_pool_path
from ipabs.scenario.load import load


def _without_events(pool):
    """The pool with no IP event and no renewal date (each would move the log level)."""
    return pool._replace(
        asset_survival=np.ones_like(pool.asset_survival),
        asset_renewal_share=np.full_like(pool.asset_renewal_share, -1.0),
        period_renewals=np.zeros_like(pool.period_renewals),
    )


def _expected_log_levels(pool, seed, path):
    """Every asset's log level in every period, from the path's draws redrawn here."""
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
    seed_stream(state, seed, path)
    seed_latent_stream(latent_state, seed, path)
    # the path's latent normals: the horizon factors first (then the t scale's, the licensees')
    latent = np.empty(n_factors + pool.copula_dof + n_licensees)
    draw_block(latent_state, latent, np.empty(0))
    horizon = latent[:n_factors] + pool.factor_shift
    lanes = np.empty((4, SHOCK_LANES), np.uint64)
    seed_shock_lanes(lanes, state)
    n_draws = n_factors + n_assets
    chunk = max(1, CHUNK_NORMALS // n_draws)
    bridge = np.zeros(n_factors)
    log_level = np.zeros(n_assets)
    out = np.empty((n_periods, n_assets))
    for first in range(0, n_periods, chunk):
        periods = min(chunk, n_periods - first)
        m = periods * n_draws
        normals = np.empty(m)
        lane_normals(lanes, state, np.empty(m, np.uint64), normals, np.empty(m, np.int64))
        for k in range(first, first + periods):
            draws = normals[(k - first) * n_draws : (k - first + 1) * n_draws]
            step = (
                pool.bridge_drift[k] * (horizon - bridge) + pool.bridge_vol[k] * draws[:n_factors]
            )
            bridge += step
            z = pool.factor_chol @ (step * pool.bridge_to_shock[k])
            x = (
                pool.asset_loading * z[pool.asset_factor]
                + pool.asset_idiosyncratic * draws[n_factors:]
            )
            log_level += pool.asset_log_drift[k] + pool.asset_log_vol[k] * x
            out[k] = log_level
    return out


@pytest.mark.parametrize(
    "scenario",
    [
        REPO / "benchmarks" / "standard.toml",  # 3 factors, 50 assets: 19 periods a chunk
        REPO / "scenarios" / "beijing_combined_pledge_loans.toml",  # 4 factors, 70 assets
    ],
)
def test_each_asset_reads_its_own_normal_after_the_factors(scenario):
    pool = _without_events(compile_scenario(load(scenario)).pool)
    n_periods, n_assets = pool.asset_income_weight.shape
    assert pool.factor_chol.shape[0] > 1
    assert n_periods > max(1, CHUNK_NORMALS // (pool.factor_chol.shape[0] + n_assets))
    for path in (0, 1, 7):
        state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
        seed_stream(state, 11, path)
        seed_latent_stream(latent_state, 11, path)
        recorded = np.zeros((n_periods, n_assets)), np.zeros((n_periods, n_assets), np.bool_)
        simulate_pool_path(state, latent_state, pool, *pool_scratch(pool), True, *recorded)
        assert recorded[1].all()  # no asset died: the log level is the shocks' sum
        np.testing.assert_allclose(
            recorded[0], _expected_log_levels(pool, 11, path), rtol=1e-12, atol=1e-12
        )
