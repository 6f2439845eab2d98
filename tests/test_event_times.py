"""IP events drawn as event times (docs/model.md, 2 and 3.4): each asset's next obsolescence jump,
invalidation or lapse is the first period k whose survival S_k = prod_m<=k (1 - p_m) falls to or
below U S_j (j: the period of its last jump, S_-1 = 1), with U and the event's kind from the
path's addressed uniforms. The law is the per-period one (an event in period k with probability
p_k given none since the last), checked here against closed forms within 4 standard errors; the
addressed uniforms against SplitMix64's reference algorithm and its published outputs."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, pool_scratch, small_deal, splitmix64
from scipy import stats

from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import addressed_uniform, seed_latent_stream, seed_stream
from ipabs.pool.kernels import simulate_pool_path
from ipabs.scenario.load import validate

MASK = 2**64 - 1


def test_the_reference_splitmix64_gives_its_published_outputs():
    # the first outputs from seed 1234567, as printed by splitmix64.c and Java's SplittableRandom
    assert splitmix64(1234567, 5) == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]


@pytest.mark.parametrize("key", [0, 1234567, 0xFFFFFFFFFFFFFFFF, 0x8CB92BA72F3D8DD7])
def test_addressed_uniforms_are_splitmix64_read_at_a_position(key):
    words = splitmix64(key, 9)
    for position in range(9):
        expected = (words[position] >> 11) * 2.0**-53
        assert addressed_uniform(np.uint64(key), np.uint64(position)) == expected
        # the same 64 bits as a signed integer (as a key passed from Python arrives)
        signed = np.int64(key - 2**64 if key >= 2**63 else key)
        assert addressed_uniform(signed, np.uint64(position)) == expected
    # far positions: an asset's draws start at asset << 32
    for position in (1 << 32, (7 << 32) + 5, (49 << 32) + 1_000):
        state = (key + position * 0x9E3779B97F4A7C15) & MASK  # the state before that output
        (word,) = splitmix64(state, 1)
        assert addressed_uniform(np.uint64(key), np.uint64(position)) == (word >> 11) * 2.0**-53


def test_addressed_uniforms_are_uniform_and_uncorrelated_across_events_and_assets():
    key = np.uint64(0x243F6A8885A308D3)
    assets, events = 50, 2_000
    u = np.array(
        [
            [addressed_uniform(key, np.uint64((i << 32) + n)) for n in range(events)]
            for i in range(assets)
        ]
    )
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    z = (u - 0.5) * math.sqrt(12.0)  # mean 0, variance 1
    bound = 4.0 / math.sqrt(assets * events)
    assert abs(np.mean(z[:, 1:] * z[:, :-1])) < bound  # an event's draw and the next one
    assert abs(np.mean(z[1:] * z[:-1])) < bound  # the same event of neighbouring assets
    assert abs(z.mean()) < bound


def _asset(asset_id: str, **hazards: float) -> dict:
    return {
        "id": asset_id,
        "type": "copyright",  # 50 years, no renewal, no annual fees
        "licensee": "L1",
        "base_annual_income": 1_000_000,
        "remaining_legal_life_years": 40,
        **QUIET_ASSET,
        **hazards,
    }


def _deal(*assets: dict) -> dict:
    data = small_deal()
    data["assets"] = [copy.deepcopy(a) for a in assets]
    return data


def pool_paths(data: dict, paths: int, seed: int = 11):
    """(alive, log level, t_years): each asset's status and log level at the end of each
    collection period on each path, from the pool kernel itself (recorded)."""
    deal = compile_scenario(validate(data))
    pool = deal.pool
    n_periods, n_assets = pool.asset_income_weight.shape
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
    scratch = pool_scratch(pool)
    alive = np.zeros((paths, n_periods, n_assets), np.bool_)
    level = np.zeros((paths, n_periods, n_assets))
    for p in range(paths):
        seed_stream(state, seed, p)
        seed_latent_stream(latent_state, seed, p)
        simulate_pool_path(state, latent_state, pool, *scratch, True, level[p], alive[p])
    return alive, level, deal.grid.pool_t_years


def _within(observed: np.ndarray, expected: np.ndarray, paths: int) -> None:
    se = np.sqrt(expected * (1.0 - expected) / paths)
    z = (observed - expected) / np.where(se > 0, se, 1.0)
    assert np.all(np.abs(z) < 4.0), (observed, expected, z)


PATHS = 20_000


def test_a_right_is_lost_at_its_hazard_rate():
    """Invalidation and lapse only: P(alive at t_k) = prod (1 - p_m) = exp(-h t_k), h = 0.6."""
    data = _deal(_asset("X", invalidation_hazard=0.4, lapse_hazard=0.2))
    alive, _, t = pool_paths(data, PATHS)
    _within(alive[:, :, 0].mean(axis=0), np.exp(-0.6 * t), PATHS)


def test_obsolescence_jumps_follow_the_per_period_law():
    """Obsolescence only (severity 0.5), no volatility or growth: the log level at t_k is
    N_k log 0.5, N_k the jumps so far, a sum of independent Bernoulli(p_m), p_m = 1 - e^-h dt_m:
    P(N_k = 0) = e^-h t_k, P(N_k = 1) = e^-h t_k sum_m p_m / (1 - p_m), E N_k = sum_m p_m."""
    h = 0.8
    data = _deal(_asset("J", obsolescence_hazard=h, obsolescence_severity=0.5))
    alive, level, t = pool_paths(data, PATHS)
    assert alive.all()
    jumps = np.rint(level[:, :, 0] / math.log(0.5)).astype(int)
    np.testing.assert_allclose(level[:, :, 0], jumps * math.log(0.5), rtol=0, atol=1e-12)
    dt = np.diff(t, prepend=0.0)
    p = -np.expm1(-h * dt)
    _within((jumps == 0).mean(axis=0), np.exp(-h * t), PATHS)
    _within((jumps == 1).mean(axis=0), np.exp(-h * t) * np.cumsum(p / (1.0 - p)), PATHS)
    mean, var = np.cumsum(p), np.cumsum(p * (1.0 - p))
    assert np.all(np.abs(jumps.mean(axis=0) - mean) < 4.0 * np.sqrt(var / PATHS))


def test_jumps_and_losses_compete_as_the_per_period_law():
    """Obsolescence 0.5 and invalidation 0.3 a year: an event in period m with probability
    p_m = 1 - e^-0.8 dt_m, an invalidation with probability 0.3 / 0.8 of those, so
    P(alive at t_k) = prod_m<=k (1 - p_m 0.3 / 0.8); and the jumps of a right still alive are
    independent of it: P(no jump | alive at t_k) = prod (1 - p_m) / prod (1 - 0.375 p_m)."""
    data = _deal(
        _asset("M", obsolescence_hazard=0.5, obsolescence_severity=0.5, invalidation_hazard=0.3)
    )
    alive, level, t = pool_paths(data, PATHS)
    dt = np.diff(t, prepend=0.0)
    p = -np.expm1(-0.8 * dt)
    survive = np.cumprod(1.0 - 0.375 * p)
    _within(alive[:, :, 0].mean(axis=0), survive, PATHS)
    last = alive[:, -1, 0]
    no_jump = level[last, -1, 0] == 0.0
    expected = np.prod(1.0 - p) / survive[-1]
    _within(np.array([no_jump.mean()]), np.array([expected]), int(last.sum()))


def test_an_asset_s_events_do_not_move_with_another_asset_s_hazards():
    """Common random numbers: each asset's event draws are its own (addressed by the asset),
    so raising one asset's hazards leaves every other asset's path unchanged, path by path."""
    base = _deal(
        _asset("A", obsolescence_hazard=0.4, obsolescence_severity=0.3, invalidation_hazard=0.1),
        _asset("B", obsolescence_hazard=0.2, obsolescence_severity=0.3, lapse_hazard=0.3),
    )
    stressed = copy.deepcopy(base)
    stressed["assets"][0]["obsolescence_hazard"] = 1.5
    stressed["assets"][0]["invalidation_hazard"] = 0.6
    alive0, level0, _ = pool_paths(base, 2_000)
    alive1, level1, _ = pool_paths(stressed, 2_000)
    np.testing.assert_array_equal(alive0[:, :, 1], alive1[:, :, 1])
    np.testing.assert_array_equal(level0[:, :, 1], level1[:, :, 1])
    assert (alive0[:, :, 0] != alive1[:, :, 0]).any()


def test_a_higher_hazard_brings_each_path_s_loss_forward():
    """The event time is the inverse of the survival curve at the path's uniform, so a higher
    hazard can only bring a right's loss forward: on every path it is alive at t_k under the
    higher hazard only if it is under the lower one (not only on average)."""
    low = _deal(_asset("X", invalidation_hazard=0.2))
    high = _deal(_asset("X", invalidation_hazard=0.5))
    alive_low, _, _ = pool_paths(low, 5_000)
    alive_high, _, _ = pool_paths(high, 5_000)
    assert not (alive_high & ~alive_low).any()
    assert (alive_low & ~alive_high).any()


def test_rights_in_force_at_the_end_follow_events_and_renewals():
    """A trademark (renewal decision after 1.3 years, p = 0.7) with obsolescence and invalidation,
    beside a patent with a lapse hazard: P(in force at the end) = prod_k (1 - p_k c_v) x 0.7 for
    the trademark (c_v: the invalidations' share of events) and prod_k (1 - p_k) for the patent,
    p_k from the hazards and the periods' lengths."""
    mark = _asset("T", invalidation_hazard=0.25, obsolescence_hazard=0.5)
    mark.update(type="trademark", remaining_legal_life_years=1.3, renewal_probability=0.7)
    patent = _asset("P", lapse_hazard=0.35)
    patent.update(type="patent", remaining_legal_life_years=15)
    alive, _, t = pool_paths(_deal(mark, patent), PATHS)
    dt = np.diff(t, prepend=0.0)
    in_force_mark = np.prod(1.0 + np.expm1(-0.75 * dt) * (0.25 / 0.75)) * 0.7
    in_force_patent = np.exp(-0.35 * t[-1])
    _within(alive[:, -1].mean(axis=0), np.array([in_force_mark, in_force_patent]), PATHS)
