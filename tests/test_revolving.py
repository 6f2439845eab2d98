"""Revolving period: the replenishment loans per unit of balance (hand-worked, and the level
annuity in closed form), the buy_assets step (hand-worked), and a loan pool that revolves (API)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from helpers import small_deal
from test_structure_steps import close, structure
from test_waterfall import execute

import ipabs
from ipabs.engine.rng import seed_stream
from ipabs.scenario.load import validate
from ipabs.structures.program import StepSpec, TriggerSpec
from ipabs.structures.revolving import RevolvingArrays, simulate_vintages_path


def vintages(
    n_vintages,
    n_periods,
    *,
    rate=0.08,
    term=2,
    level=False,
    threshold=None,
    ltv=0.5,
    haircut=0.5,
    lag=0,
):
    rv = RevolvingArrays(
        n_vintages=n_vintages,
        rate=rate,
        term_periods=term,
        amortisation=1 if level else 0,
        # cumulative default thresholds by period, the same for every vintage (K, V)
        threshold=np.full((n_periods, n_vintages), -np.inf)
        if threshold is None
        else np.repeat(np.asarray(threshold, float)[:, None], n_vintages, axis=1),
        prepay_prob=np.zeros(n_periods),
        recovery_per_unit=(1 - haircut) / ltv,
        lag_periods=lag,
        factor=0,
        loading=0.0,
        idiosyncratic=1.0,
        periods_per_year=4,
        accrual=np.full(n_periods, 0.25),
    )
    out = [np.empty((n_vintages, n_periods)) for _ in range(4)]
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
    seed_stream(state, 1, 0)
    seed_stream(latent_state, 2, 0)
    economy = np.array([0.0, 1.0, 1.0])  # the factor at the horizon, the copula's scale, weight
    default_at = np.empty(n_vintages, np.int64)
    simulate_vintages_path(state, latent_state, rv, economy, default_at, *out)
    return out


def test_interest_only_replenishment_loan_per_unit_of_balance():
    cash, defaulted, _loss, performing = vintages(2, 4)
    close(cash, [[0.0, 0.02, 1.02, 0.0], [0.0, 0.0, 0.02, 1.02]])
    close(performing, [[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    close(defaulted, np.zeros((2, 4)))


def test_level_replenishment_loan_repays_the_annuity():
    cash, _, _, performing = vintages(1, 6, rate=0.08, term=4, level=True)
    i = 0.02
    annuity = i / (1 - (1 + i) ** -4)  # closed form
    close(cash[0, 1:5], [annuity] * 3 + [performing[0, 3] * (1 + i)])
    close(cash[0, 1:5].sum(), 4 * annuity)


def test_default_recovers_the_pledge_less_haircut_after_the_lag():
    # certain default in period 2: exposure 1 + 0.02, proceeds (1 - 0.5) / 0.8 = 0.625, a period later
    cash, defaulted, loss, performing = vintages(
        1, 4, term=3, threshold=[-np.inf, -np.inf, np.inf, np.inf], ltv=0.8, lag=1
    )
    close(defaulted[0], [0.0, 0.0, 1.02, 0.0])
    close(loss[0], [0.0, 0.0, 1.02 - 0.625, 0.0])
    close(cash[0], [0.0, 0.02, 0.0, 0.625])
    close(performing[0], [1.0, 1.0, 0.0, 0.0])


def _revolving_structure(triggers=()):
    return structure(
        [100.0, 1.0],
        {
            "normal": [StepSpec("pay_principal", (0,)), StepSpec("pay_residual")],
            "revolving": [StepSpec("buy_assets"), StepSpec("pay_residual")],
        },
        k=4,
        collateral_original=100.0,
        revolving=(2, 100.0, 1.0),
        triggers=list(triggers),
    )


def test_buy_assets_restores_the_pool_balance_and_adds_the_loans_cash():
    cash, defaulted, loss, performing = vintages(2, 4)
    out = execute(
        _revolving_structure(),
        [30.0, 30.0, 10.0, 10.0],
        collateral=[80.0, 60.0, 60.0, 0.0],
        vintages=(cash, defaulted, loss, performing),
    )
    # period 1 buys 20 (100 - 80); period 2 buys 20 (100 - 60 - the 20 bought); the loans pay
    # 0.02 interest a period and their principal two periods after purchase
    close(out.purchases, [20.0, 20.0, 0.0, 0.0])
    close(out.residual, [10.0, 10.4, 0.0, 0.0])
    close(out.principal[0], [0.0, 0.0, 10 + 20.4 + 0.4, 10 + 20.4])
    assert list(out.state) == [3, 3, 0, 0]


def test_a_trigger_in_force_ends_the_revolving_period_for_good():
    cash, defaulted, loss, performing = vintages(2, 4)
    out = execute(
        _revolving_structure([TriggerSpec("date", "rapid_amortisation", period=1, curable=True)]),
        [30.0, 30.0, 10.0, 10.0],
        collateral=[80.0, 60.0, 60.0, 0.0],
        vintages=(cash, defaulted, loss, performing),
    )
    close(out.purchases, [20.0, 0.0, 0.0, 0.0])
    assert list(out.state) == [3, 0, 0, 0]


def revolving_loan_deal(paths=200, pd=0.02, end=dt.date(2025, 7, 15)):
    data = small_deal(
        deal={
            "name": "revolving loans",
            "closing_date": dt.date(2024, 1, 15),
            "legal_final_date": dt.date(2027, 1, 15),
        },
        simulation={"paths": paths, "seed": 3, "block_size": 64},
        factors={"names": ["m"]},
        licensees=[],
        assets=[],
        loans=[
            {
                "id": f"L{i}",
                "balance": 1_000_000.0,
                "rate": 0.05,
                "term_years": 1.0,
                "annual_default_probability": pd,
                "ltv": 0.5,
                "disposal_haircut": 0.6,
            }
            for i in range(10)
        ],
        tranches=[
            {"name": "A", "balance": 8_000_000.0, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 2_000_000.0, "coupon": 0.0, "rank": 2},
        ],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.03},
    )
    data["collateral"] = {"basis": "loan_balance"}
    data["revolving"] = {
        "end_date": end,
        "rate": 0.05,
        "term_years": 1.0,
        "annual_default_probability": pd,
        "ltv": 0.5,
        "disposal_haircut": 0.6,
    }
    data["waterfall"] = {
        "normal": [
            {"action": "pay_interest", "classes": ["A"]},
            {"action": "pay_principal", "classes": ["A", "sub"]},
            {"action": "pay_residual"},
        ],
        "revolving": [
            {"action": "pay_interest", "classes": ["A"]},
            {"action": "buy_assets"},
            {"action": "pay_residual"},
        ],
    }
    return validate(data)


def test_a_loan_pool_revolves_until_the_end_date_then_amortises():
    sc = revolving_loan_deal(pd=0.0)
    r = ipabs.simulate(sc)
    # without defaults every loan repays at par after a year: during the revolving period the
    # pool is topped back up to 10m each time a vintage matures, so purchases are exactly the
    # maturing principal: 10m at the end of year 1, nothing else before the end date
    purchases = r.pool_paths["revolving_purchases"]
    np.testing.assert_allclose(purchases, 10_000_000.0, rtol=1e-12)
    # afterwards everything is repaid: the notes in full, no losses
    loss = r.paths.pivot(index="path", columns="tranche", values="principal_loss")
    assert (loss["A"] == 0).all()
    # revolving longer keeps the pool (and its interest) for longer: more total collections
    longer = ipabs.simulate(revolving_loan_deal(pd=0.0, end=dt.date(2026, 7, 15)))
    assert (longer.pool_paths["collections"] > r.pool_paths["collections"]).all()


def compile_revolving_arrays(scenario) -> RevolvingArrays:
    from ipabs.engine.compile import compile_scenario

    return compile_scenario(scenario).revolving


def test_replenishment_loan_defaults_follow_the_binomial():
    # annual PD 8%, one-year term bought at the end of period 0: P(default within the term)
    # = 1 - (1 - 0.08) = 0.08, from the cumulative thresholds the compiler builds (4.7)
    n_periods, n = 12, 4000
    scenario = revolving_loan_deal(pd=0.08, end=dt.date(2024, 4, 20))  # buys on the first date
    rv = compile_revolving_arrays(scenario)
    assert rv.n_vintages == 1 and rv.threshold.shape == (n_periods, 1)
    out = [np.empty((1, n_periods)) for _ in range(4)]
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
    default_at = np.empty(1, np.int64)
    hits = 0
    for path in range(n):
        seed_stream(state, 11, path)
        seed_stream(latent_state, 12, path)
        simulate_vintages_path(
            state, latent_state, rv, np.array([0.0, 1.0, 1.0]), default_at,
            *out,
        )  # fmt: skip
        hits += out[1][0].sum() > 0
    se = np.sqrt(0.08 * 0.92 / n)
    assert abs(hits / n - 0.08) < 4 * se
