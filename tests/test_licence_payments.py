"""What each licence pays, worked by hand from a path's recorded levels and default periods
(docs/model.md 3.5 and 3.11): before its licensee's default the licence pays what it owes (the
royalty, or the minimum guarantee plus the royalty, or the greater of the two); in the default
period the recovery rate times that; then nothing or, once re-licensed, the re-licensing share
of the royalty (not of the minimum). Lost income is what was owed less what was paid; a lagged
licence's payment arrives `lag` periods later; the deal's annuities come out of each period's
collections. Checked on deals with and without a collection lag (the pool kernel pays
lag-free deals in one loop and lagged deals in passes)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from helpers import pool_scratch, small_deal

from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.kernels import simulate_pool_path
from ipabs.scenario.load import validate


def _deal(lag: int):
    data = small_deal()
    for licensee in data["licensees"]:
        licensee["annual_default_probability"] = 0.4
    for asset in data["assets"]:
        asset["remaining_legal_life_years"] = 30  # no renewal date within the deal
    patent, _, copyright_, trademark = data["assets"]
    patent["collection_lag_periods"] = lag
    patent.update(relicensing_months=0, relicensing_share=0.3)
    copyright_.update(relicensing_months=6, relicensing_share=0.6)
    payments = [
        {"date": date(2024, 9, 30), "amount": 400_000.0},
        {"date": date(2025, 9, 30), "amount": 900_000.0},
    ]
    trademark.update(minimum_guarantees=payments, minimum_guarantee_mode="plus")
    copyright_.update(minimum_guarantees=payments, minimum_guarantee_mode="greater_of")
    return compile_scenario(validate(data)).pool


def _by_hand(pool, default_period, log_level, alive):
    n_periods, n_assets = pool.asset_income_weight.shape
    gross, lost, costs = np.zeros(n_periods), np.zeros(n_periods), np.zeros(n_periods)
    for i in range(n_assets):
        j = pool.asset_licensee[i]
        defaulted = default_period[j] if j >= 0 and default_period[j] >= 0 else n_periods
        lag = pool.asset_lag[i]
        for k in range(n_periods):
            share = 1.0 if alive[k, i] else 0.0
            royalty = pool.asset_income_weight[k, i] * share * math.exp(log_level[k, i])
            minimum = pool.asset_minimum[k, i] * share if pool.has_minimum else 0.0
            if pool.has_minimum and pool.minimum_greater_of[i]:
                due = max(minimum, royalty)
            else:
                due = minimum + royalty
            if k < defaulted:
                paid = due
            elif k == defaulted:
                paid = pool.licensee_recovery[j] * due
            elif 0 <= pool.asset_relicense_lag[i] <= k - defaulted:
                paid = pool.asset_relicense_share[i] * royalty
            else:
                paid = 0.0
            if k >= defaulted:
                lost[k] += due - paid
            if k + lag < n_periods:
                gross[k + lag] += paid
            costs[k] += pool.asset_annuity_cost[k, i] * share
    return gross - np.minimum(gross, costs), lost


@pytest.mark.parametrize("lag", [0, 1])
def test_each_licence_pays_what_the_rules_say(lag):
    pool = _deal(lag)
    assert (pool.asset_renewal_share < 0.0).all() and pool.has_minimum
    assert pool.minimum_greater_of.any() and not pool.minimum_greater_of.all()
    assert (pool.asset_lag.max() == lag) and (pool.asset_relicense_lag >= 0).sum() == 2
    n_periods, n_assets = pool.asset_income_weight.shape
    seen = {"defaults": 0, "relicensed": 0, "minimum paid": 0}
    for path in range(60):
        state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
        seed_stream(state, 9, path)
        seed_latent_stream(latent_state, 9, path)
        scratch = pool_scratch(pool)
        log_level = np.zeros((n_periods, n_assets))
        alive = np.zeros((n_periods, n_assets), np.bool_)
        simulate_pool_path(state, latent_state, pool, *scratch, True, log_level, alive)
        collections, lost, default_period = scratch[0], scratch[1], scratch[2]
        expected, expected_lost = _by_hand(pool, default_period, log_level, alive)
        scale = expected.max()
        np.testing.assert_allclose(collections, expected, rtol=1e-12, atol=1e-9 * scale)
        np.testing.assert_allclose(lost, expected_lost, rtol=1e-12, atol=1e-9 * scale)
        defaults = default_period[default_period >= 0]
        seen["defaults"] += defaults.size
        seen["relicensed"] += int((defaults < n_periods - 7).sum())
        seen["minimum paid"] += int(pool.asset_minimum.sum() > 0)
    # the paths reached every rule: defaults early enough for re-licensing, and minimums
    assert seen["defaults"] > 30 and seen["relicensed"] > 20 and seen["minimum paid"] == 60
