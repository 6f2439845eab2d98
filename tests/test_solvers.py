"""Solvers against closed forms: on a pool with no randomness the largest senior with no loss is
the total collected, and the breakeven income haircut and decay follow from the schedule of
collections, computed here independently of the engine."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, REPO, run_cli, run_cli_in_process, small_deal, write_scenario
from scipy.optimize import brentq

import ipabs
from ipabs.errors import UserError
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
INCOME = 30.0


def quiet_deal():
    data = small_deal(
        licensees=[{"id": "L", "annual_default_probability": 0.0, "recovery_rate": 0.5}],
        assets=[
            {
                "id": "P",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": INCOME,
                "remaining_legal_life_years": 15.0,
                **QUIET_ASSET,
            }
        ],
        tranches=[
            {"name": "A", "balance": 80.0, "coupon": 0.0, "rank": 1},
            {"name": "sub", "balance": 20.0, "coupon": 0.0, "rank": 2},
        ],
        fees={},
        reserve={},
        factors={"names": ["tech"]},
        simulation={"paths": 20, "seed": 3, "block_size": 8},
    )
    return data


def payment_times():
    """Quarterly payment dates from closing to legal final (2027-01-15), in ACT/365F years."""
    dates = []
    y, m = CLOSING.year, CLOSING.month
    for _ in range(12):
        m += 3
        if m > 12:
            y, m = y + 1, m - 12
        dates.append(dt.date(y, m, 15))
    t = np.array([(d - CLOSING).days / 365.0 for d in dates])
    return t, np.diff(np.concatenate([[0.0], t]))


def collected(decay=0.0, haircut=0.0):
    """Total collections: income at each payment date's level times the period's length."""
    t, dt_years = payment_times()
    return float(np.sum(INCOME * (1 - haircut) * np.exp(-decay * t) * dt_years))


def test_largest_senior_with_no_loss_is_everything_collected():
    total = collected()
    r = ipabs.size(validate(quiet_deal()), "A", expected_loss=0.0)
    assert r.met and not r.capped
    assert total - 100 * 1e-4 - 1e-9 <= r.balance <= total + 1e-9
    assert r.absorbing_class == "sub"
    s = r.results.summary.set_index("tranche")
    assert s.loc["A", "expected_loss"] == 0.0
    assert s.loc["sub", "balance"] == pytest.approx(100.0 - r.balance)
    # the answer repeats
    assert ipabs.size(validate(quiet_deal()), "A", expected_loss=0.0).balance == r.balance
    # a rating is met only on the 95% bound of the loss probability: 20 loss-free paths bound it
    # at 1 - 0.05^(1/20) = 13.9%, far above Aaa's limit, so sizing to Aaa is refused, with the
    # paths it would take
    with pytest.raises(UserError, match=r"cannot size 'A' to rating Aaa or better .*: at 20 paths"):
        ipabs.size(validate(quiet_deal()), "A", rating="Aaa")


def test_breakeven_haircut_and_decay_match_the_collections_schedule():
    frame = ipabs.breakeven(
        validate(quiet_deal()),
        stresses=("income_haircut", "decay_increase", "default_multiplier"),
        expected_loss=0.0,
    ).set_index(["tranche", "stress"])
    haircut = 1 - 80.0 / collected()
    got = frame.loc[("A", "income_haircut"), "breakeven"]
    assert haircut - 1e-3 - 1e-9 <= got <= haircut + 1e-9
    decay = brentq(lambda d: collected(decay=d) - 80.0, 0.0, 1.0, xtol=1e-12)
    got = frame.loc[("A", "decay_increase"), "breakeven"]
    assert decay - 1e-3 - 1e-9 <= got <= decay + 1e-9
    # no licensee can default: the multiplier never bites
    assert (
        frame.loc[("A", "default_multiplier"), "status"]
        == "meets the target at the end of the range"
    )
    # the subordinated class is not repaid even unstressed (90 collected for 100 of notes)
    assert frame.loc[("sub", "income_haircut"), "status"] == "misses the target unstressed"
    assert frame.loc[("sub", "income_haircut"), "breakeven"] == 0.0


def test_default_multiplier_breakeven_with_common_random_numbers_is_monotone():
    # a licensee that may default: A's loss can only grow with the multiplier on the same paths
    data = quiet_deal()
    data["licensees"][0]["annual_default_probability"] = 0.02
    data["simulation"]["paths"] = 400
    sc = validate(data)
    # unstressed, A loses on about 5.5% of paths (5.47% +- 0.07% at 100,000 paths): a 10% target
    # leaves a margin of four standard errors at 400 paths
    frame = ipabs.breakeven(sc, stresses=("default_multiplier",), loss_probability=0.10)
    row = frame.set_index("tranche").loc["A"]
    assert row["status"] == "breakeven"
    x = row["breakeven"]
    from ipabs.solvers.common import upper_bound
    from ipabs.solvers.stress import default_multiplier

    def ploss(level, bound=True):
        res = ipabs.simulate(default_multiplier(sc, level))
        summary = res.summary.set_index("tranche").loc["A"]
        return upper_bound(res, summary, "prob_loss") if bound else summary["prob_loss"]

    # the breakeven is where the 95% upper bound of P(loss), not the estimate, reaches 10%
    assert ploss(x) <= 0.10 < ploss(x + 1e-3 * 99 + 1e-6)
    assert ploss(x, bound=False) < 0.10
    # A loses only if the licensee defaults early enough that less than 80 comes in: the
    # binomial count of such paths is what the multiplier moves
    assert ploss(0.0) <= ploss(x / 2) <= ploss(x)


def test_size_and_breakeven_from_the_cli(tmp_path):
    path = write_scenario(tmp_path, quiet_deal())
    proc = run_cli("size", path, "--tranche", "A", "--expected-loss", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["sizes"][0]
    assert abs(out["balance"] - collected()) <= 0.02 and out["met"]
    proc = run_cli("breakeven", path, "--stress", "income_haircut", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["tranche"]: r for r in json.loads(proc.stdout)["breakeven"]}
    assert math.isclose(rows["A"]["breakeven"], 1 - 80 / collected(), abs_tol=2e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deal.toml"]  # nothing written


@pytest.mark.parametrize(
    ("args", "expected", "runner"),
    [
        (["size", "--tranche", "AA", "--expected-loss", "0"], "no tranche is named 'AA'", run_cli),
        (
            ["size", "--tranche", "sub", "--expected-loss", "0"],
            "is the subordinated class",
            run_cli_in_process,
        ),
        (
            ["size", "--tranche", "A", "--expected-loss", "0", "--rating", "Aaa"],
            "give exactly one target",
            run_cli_in_process,
        ),
        (
            ["size", "--tranche", "A", "--rating", "AAA+"],
            "rating 'AAA+' is not in the rating table",
            run_cli_in_process,
        ),
        (
            ["size", "--tranche", "A", "--expected-loss", "2"],
            "a target loss must be a fraction",
            run_cli_in_process,
        ),
        (["breakeven", "--stress", "haircut"], "no stress is named 'haircut'", run_cli_in_process),
        (["breakeven", "--paths", "0"], "--paths must be at least 1", run_cli),
    ],
)
def test_solver_input_errors(tmp_path, args, expected, runner):
    """One case of each command in a new process (the command as run), the others in-process."""
    path = write_scenario(tmp_path, quiet_deal())
    command, *rest = args
    proc = runner(command, path, *rest)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr


# --- pool replay (ipabs.engine.run.PoolCache): sizing runs the pool once ---------------------


def _raw_arrays(results):
    raw = results.raw
    return (raw.tranche, raw.pool, raw.sample_collections, raw.sample_balances, raw.sample_reserve,
            raw.trigger_first, raw.sample_performing, raw.sample_loan_loss)  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "tranche"),
    [
        ("zgc_patent_licence_abs_2022", "senior_A"),  # licensees and two undertakings
        ("nanshan_ip_pledged_loans_abs_2022", "senior"),  # IP-pledged loans and a guarantee
    ],
)
def test_replayed_pool_gives_the_same_numbers_as_simulating_it(scenario, tranche):
    from ipabs.engine.run import PoolCache
    from ipabs.solvers.sizing import resize

    sc = ipabs.load(REPO / "scenarios" / f"{scenario}.toml")
    cache = PoolCache()
    ipabs.simulate(sc, paths=400, seed=11, pool_cache=cache)
    assert cache.key and cache.replays == 0
    balance = next(t.balance for t in sc.tranches if t.name == tranche)
    smaller = resize(sc, tranche, 0.8 * balance)
    replayed = ipabs.simulate(smaller, paths=400, seed=11, pool_cache=cache)
    assert cache.replays == 1
    fresh = ipabs.simulate(smaller, paths=400, seed=11)
    for a, b in zip(_raw_arrays(replayed), _raw_arrays(fresh), strict=True):
        np.testing.assert_array_equal(a, b)
    # the replay really reads the cache: emptying the cached collections empties the deal
    cache.series[:, 0, :] = 0.0
    emptied = ipabs.simulate(smaller, paths=400, seed=11, pool_cache=cache)
    assert cache.replays == 2
    assert emptied.raw.pool[:, 0].sum() == 0.0 < fresh.raw.pool[:, 0].sum()


def test_pool_cache_is_not_replayed_for_another_pool_or_seed_or_a_trust():
    from ipabs.engine.run import PoolCache

    sc = ipabs.load(REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml")
    cache = PoolCache()
    ipabs.simulate(sc, paths=200, seed=3, pool_cache=cache)
    key = cache.key
    other_seed = ipabs.simulate(sc, paths=200, seed=4, pool_cache=cache)
    assert cache.replays == 0 and cache.key != key  # stored afresh
    np.testing.assert_array_equal(
        other_seed.raw.tranche, ipabs.simulate(sc, paths=200, seed=4).raw.tranche
    )
    licensees = tuple(
        lic.model_copy(update={"annual_default_probability": 0.2}) for lic in sc.licensees
    )
    riskier = sc.model_copy(update={"licensees": licensees})
    stressed = ipabs.simulate(riskier, paths=200, seed=4, pool_cache=cache)
    assert cache.replays == 0
    np.testing.assert_array_equal(
        stressed.raw.tranche, ipabs.simulate(riskier, paths=200, seed=4).raw.tranche
    )
    trust_cache = PoolCache()
    ipabs.simulate(REPO / "scenarios" / "beijing_ip_trust.toml", paths=100, pool_cache=trust_cache)
    assert trust_cache.key == ""  # a trust values its IP per period from the pool: never cached


def test_breakeven_without_a_target_keeps_each_class_at_its_current_rating():
    """The issue: on the Beijing trust every class used to "miss the target unstressed" (no
    loss). Now each class's target is the rating its bound supports unstressed, so each meets it
    unstressed and the output says which rating and what the level means."""
    sc = ipabs.load(REPO / "scenarios" / "beijing_ip_trust.toml")
    frame = ipabs.breakeven(sc, stresses=("income_haircut",), paths=500)
    base = ipabs.simulate(sc, paths=500).summary.set_index("tranche")
    for row in frame.itertuples():
        assert row.status != "misses the target unstressed", row.tranche
        assert row.target.startswith(f"rating {base.loc[row.tranche, 'implied_rating']} or better")
        assert row.level_means.startswith("x: share of every asset's base income removed")
