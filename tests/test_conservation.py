"""Cash is conserved on every path, checkable from the written outputs alone (docs/model.md, 4.6):
every shipped scenario, and test deals with every step, cover source, principal mode, trigger
condition and effect, credit support kind, the liquidity facility, the clean-up call, revolving
purchases and a trust's holdback and performance fee. Hand-worked cases for the flows the
outputs used to miss: a trust's holdback, the pool's income after a clean-up call and the
liquidity facility's commitment fee."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import QUIET_ASSET, REPO, small_deal
from test_revolving import revolving_loan_deal
from test_trust import riskless_trust_data

import ipabs
from ipabs.engine.conservation import cash_check, worst_relative_gap
from ipabs.scenario.load import validate
from ipabs.structures import waterfall as kernel
from ipabs.structures.program import COVER_SOURCES

SHIPPED = sorted((REPO / "scenarios").glob("*.toml"))
TOLERANCE = 1e-9


def assert_conserved(results) -> pd.DataFrame:
    check = results.cash_check()
    assert len(check) == results.paths_run
    assert worst_relative_gap(check) <= TOLERANCE, check.loc[check["difference"].abs().idxmax()]
    return check


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_path_of_every_shipped_scenario_conserves_cash(path):
    assert_conserved(ipabs.simulate(path, paths=400))


def test_the_written_parquet_files_alone_prove_conservation(tmp_path):
    """A reviewer with only the output folder can check every path."""
    r = ipabs.simulate(REPO / "scenarios" / "music_catalogue_abs.toml", paths=600)
    out = r.write(tmp_path / "run", charts=False)
    pool = pd.read_parquet(out / "pool_paths.parquet")
    paths = pd.read_parquet(out / "paths.parquet")
    check = cash_check(pool, paths)
    assert worst_relative_gap(check) <= TOLERANCE
    # this deal's clean-up call is exercised on some paths: their later income is not counted
    called = pool["clean_up_called"] == 1
    assert called.any()
    assert (pool.loc[called, "collections_after_call"] > 0).all()
    assert (pool.loc[~called, "collections_after_call"] == 0).all()


# -- test deals with every kind of step, support and trigger ------------------------------------


def every_step_deal(principal_mode: str) -> dict:
    data = small_deal(simulation={"paths": 300, "seed": 11, "block_size": 64})
    data["other_fees"] = [{"name": "servicer", "pct_of_pool_per_year": 0.01, "cap_per_year": 2e5}]
    data["collateral"] = {"basis": "trailing_income", "multiple": 3.0, "original_value": 3e7}
    data["liquidity"] = {"limit": 1e6, "interest_rate": 0.05, "commitment_fee": 0.005}
    data["clean_up_call"] = {"threshold": 0.3, "price": 0.95}
    data["tranches"][0]["amortisation"] = [
        {"date": dt.date(2025, 1, 15), "principal": 4e6},
        {"date": dt.date(2026, 1, 15), "principal": 6e6},
    ]
    data["credit_support"] = [
        {
            "kind": "differential_payment",
            "covers": ["B"],
            "cap": 2e6,
            "provider_default_probability": 0.1,
            "factor_loading": 0.3,
        },
        {"kind": "guarantee", "covers": ["A"], "principal": "ultimate"},
    ]
    data["triggers"] = [
        {
            "name": "cdr",
            "condition": "cumulative_default_ratio",
            "threshold": 0.02,
            "effect": "switch_waterfall",
        },
        {
            "name": "clr",
            "condition": "cumulative_loss_ratio",
            "threshold": 0.03,
            "effect": "trap_cash",
            "trap_share": 0.5,
            "curable": True,
        },
        {
            "name": "dscr",
            "condition": "dscr",
            "threshold": 1.2,
            "lookback_periods": 2,
            "classes": ["A"],
            "effect": "rapid_amortisation",
        },
        {
            "name": "icr",
            "condition": "interest_coverage",
            "threshold": 1.5,
            "effect": "trap_cash",
            "breaches_to_trip": 2,
        },
        {"name": "oc", "condition": "oc_ratio", "threshold": 0.9, "effect": "event_of_default"},
        {
            "name": "step",
            "condition": "date",
            "date": dt.date(2026, 4, 15),
            "effect": "switch_waterfall",
        },
    ]
    principal: dict = {"action": "pay_principal", "classes": ["A", "B"], "mode": principal_mode}
    if principal_mode == "borrowing_base":
        principal["advance_rate"] = 0.8
    normal = [
        {
            "action": "pay_fee",
            "fees": ["senior", "servicer"],
            "cover_from": ["reserve", "liquidity"],
        },
        {"action": "pay_interest", "classes": ["A"], "cover_from": ["liquidity", "reserve"]},
        {"action": "pay_interest", "classes": ["B"]},
        {"action": "pay_liquidity"},
        {"action": "fund_reserve"},
        principal,
        {"action": "pay_fee", "fees": ["subordinated"]},
        {"action": "pay_residual"},
    ]
    data["waterfall"] = {
        "normal": normal,
        "triggered": [
            {"action": "pay_fee", "fees": ["senior", "servicer"], "cover_from": ["reserve"]},
            {"action": "pay_interest", "classes": ["A", "B"]},
            {"action": "pay_liquidity"},
            {"action": "pay_principal", "classes": ["A", "B"], "mode": "pro_rata"},
            {"action": "fund_reserve"},
            {"action": "pay_residual"},
        ],
        "accelerated": [
            {"action": "pay_fee", "fees": ["senior", "servicer", "subordinated"]},
            {"action": "pay_liquidity"},
            {"action": "pay_interest", "classes": ["A"]},
            {"action": "pay_principal", "classes": ["A", "B"], "mode": "turbo"},
            {"action": "pay_interest", "classes": ["B"]},
            {"action": "pay_residual"},
        ],
    }
    return data


@pytest.mark.parametrize("mode", ["sequential", "pro_rata", "schedule", "borrowing_base", "turbo"])
def test_deals_with_every_step_support_and_trigger_conserve_cash(mode):
    r = ipabs.simulate(validate(every_step_deal(mode)))
    assert_conserved(r)
    pool = r.pool_paths
    # the deal exercises what it is meant to: draws, releases, the facility, support, triggers
    assert (pool["liquidity_charges_paid"] > 0).all()  # the commitment fee, at least
    assert (pool["reserve_release"] > 0).all()  # at legal final or a call, at least
    assert pool["periods_triggered"].gt(0).any()
    by_class = r.paths.groupby("tranche", observed=True)["credit_support_received"].sum()
    assert by_class["sub"] == 0.0


def test_the_liquidity_facilitys_undrawn_commitment_fee_is_in_the_outputs():
    """An undrawn facility of 10m at 0.5% a year: the fee accrues on the whole limit each
    quarter (ACT/365) and is paid at pay_liquidity; the deal conserves cash only with it."""
    data = small_deal(simulation={"paths": 50, "seed": 2, "block_size": 16})
    for asset in data["assets"]:
        asset.update(QUIET_ASSET)
    for licensee in data["licensees"]:
        licensee["annual_default_probability"] = 0.0
    data["liquidity"] = {"limit": 1e7, "commitment_fee": 0.005}
    data["waterfall"] = {
        "normal": [
            {"action": "pay_liquidity"},
            {"action": "pay_fee", "fees": ["senior"], "cover_from": ["liquidity"]},
            {"action": "pay_interest", "classes": ["A", "B"]},
            {"action": "pay_principal", "classes": ["A", "B"]},
            {"action": "pay_residual"},
        ]
    }
    r = ipabs.simulate(validate(data))
    days = np.diff([d.toordinal() for d in [dt.date(2024, 1, 15), *r.deal.dates]])
    fee = 1e7 * 0.005 * days / 365.0  # never drawn: the commitment fee on the whole limit
    # each period's fee is paid at the next period's pay_liquidity (it accrues in step 1 of
    # the period, before the steps run, so it is paid in the same period)
    assert r.pool_paths["liquidity_drawn"].max() == 0.0
    np.testing.assert_allclose(r.pool_paths["liquidity_charges_paid"], fee.sum(), rtol=1e-12)
    assert (r.pool_paths["liquidity_repaid"] == 0.0).all()
    assert_conserved(r)


# -- a trust's holdback --------------------------------------------------------------------------


def riskless_trust(holdback=0.1, performance=(0.2, 0.05), cover_from=("reserve",), income=50.0):
    """test_trust's deterministic annual trust at `income` a year, with a trustee's fee of 1 a
    year and the standard order's steps written out: a fund_reserve step and no [reserve]."""
    data = riskless_trust_data(
        income=income,
        holdback_share=holdback,
        performance_fee_share=performance[0],
        performance_hurdle=performance[1],
        terminal_value="none",
    )
    data["fees"] = {"fixed_per_year": 1.0}
    data["waterfall"] = {
        "normal": [
            {"action": "pay_fee", "fees": ["senior"], "cover_from": list(cover_from)},
            {"action": "pay_interest", "classes": ["priority"], "cover_from": list(cover_from)},
            {"action": "fund_reserve"},
            {"action": "pay_principal", "classes": ["priority", "subordinated"]},
            {"action": "pay_residual"},
        ]
    }
    return validate(data)


def hand_worked_trust(years, income, holdback, share, hurdle):
    """The trust above by hand: the holdback is kept until the last distribution; principal is
    sequential (the subordinated class's 40 once the priority class is repaid)."""
    balances, held = [60.0, 40.0], 0.0
    interest = fee = residual = 0.0
    principal = [0.0, 0.0]
    for k, dt_k in enumerate(years):
        cash = income * dt_k
        held += holdback * cash
        cash -= holdback * cash
        if k == len(years) - 1:
            cash += held
        cash -= 1.0 * dt_k  # the trustee's fee
        due = 0.05 * balances[0] * dt_k
        interest += due
        cash -= due
        for j in range(2):
            paid = min(cash, balances[j])
            balances[j] -= paid
            principal[j] += paid
            cash -= paid
        performance = share * max(cash - hurdle * 40.0 * dt_k, 0.0)
        fee += performance
        residual += cash - performance
    return interest, principal, fee, residual


def test_a_trusts_holdback_is_kept_until_the_final_distribution():
    r = ipabs.simulate(riskless_trust())
    years = np.diff(np.concatenate([[0.0], r.deal.t_years]))
    interest, principal, fee, residual = hand_worked_trust(years, 50.0, 0.1, 0.2, 0.05)
    assert fee > 0.0 and residual > 0.0 and principal[1] == 40.0
    pool = r.pool_paths
    paths = r.paths.set_index(["path", "tranche"])
    np.testing.assert_allclose(paths.loc[(0, "priority"), "interest_received"], interest, rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(paths.loc[(0, "priority"), "principal_received"], principal[0], rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(paths.loc[(0, "subordinated"), "principal_received"], principal[1], rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(pool["performance_fee"], fee, rtol=1e-12)
    np.testing.assert_allclose(pool["residual"], residual, rtol=1e-12)
    # held back each year, none of it released before the end: the holdback is not the reserve
    np.testing.assert_allclose(pool["holdback_in"], 0.1 * 50.0 * years.sum(), rtol=1e-12)
    np.testing.assert_allclose(pool["holdback_released"], pool["holdback_in"], rtol=1e-12)
    assert (pool["reserve_release"] == 0.0).all() and (pool["reserve_topup"] == 0.0).all()
    # the held-back income builds up in its own band and is gone after the last distribution
    held = 0.1 * 50.0 * np.cumsum(years)
    held[-1] = 0.0
    np.testing.assert_allclose(r.periods["holdback_mean"], held, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.periods["reserve_mean"], 0.0, atol=0.0)
    assert_conserved(r)


def test_reserve_cover_cannot_spend_the_holdback_but_holdback_cover_can():
    """No income for the first two years (the licence starts late): the trustee's fee and the
    priority class's yield go unpaid rather than come out of the holdback, unless the steps
    name the holdback as a cover source."""
    kept = ipabs.simulate(riskless_trust(holdback=0.5, performance=(0.0, 0.0)))
    drawn = ipabs.simulate(
        riskless_trust(holdback=0.5, performance=(0.0, 0.0), cover_from=("reserve", "holdback"))
    )
    # 50% held back: year 1 leaves 15 - 1 - 3 = 11 for principal either way, so compare flows
    assert (kept.pool_paths["holdback_drawn"] == 0.0).all()
    assert_conserved(kept)
    assert_conserved(drawn)
    np.testing.assert_allclose(
        drawn.pool_paths["holdback_in"], kept.pool_paths["holdback_in"], rtol=1e-12
    )


def test_holdback_cover_draws_only_what_cash_cannot_pay():
    """Interpreter level: a fee of 4 a quarter, income 2 then 10; 50% held back. With reserve
    cover the fee is short in period 1 and the holdback stays; with holdback cover it pays."""
    from test_structure_steps import structure
    from test_waterfall import execute

    from ipabs.structures.program import FeeSpec, StepSpec

    def run(cover):
        s = structure(
            [1.0, 10.0],
            {"normal": [StepSpec("pay_fee", (0,), cover=cover), StepSpec("pay_residual")]},
            fees=[FeeSpec(fixed=16.0), FeeSpec()],
            trust=(0.5, 0.0, 0.0, False, -1.0),
        )
        return execute(s, [2.0, 10.0, 10.0])

    kept = run(("reserve",))
    # period 1: 1 of 4 paid; period 2: 5 of the 7 owed; period 3: 5 + the 11 held back pays 6
    np.testing.assert_allclose(kept.fees, [1.0, 5.0, 6.0], atol=1e-12)
    np.testing.assert_allclose(kept.holdback, [1.0, 6.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(kept.holdback_release, [0.0, 0.0, 11.0], atol=1e-12)
    np.testing.assert_allclose(kept.residual, [0.0, 0.0, 10.0], atol=1e-12)
    drawn = run(("holdback",))
    # period 1: 1 from cash, 1 from the holdback (all there is), 2 carried; period 2: 5 cash pays
    # 5 of 6 owed, 1 from the holdback
    np.testing.assert_allclose(drawn.fees, [2.0, 6.0, 4.0], atol=1e-12)
    np.testing.assert_allclose(drawn.holdback_drawn, [1.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(drawn.holdback, [0.0, 4.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(drawn.holdback_release, [0.0, 0.0, 9.0], atol=1e-12)
    np.testing.assert_allclose(drawn.residual, [0.0, 0.0, 5.0 + 9.0 - 4.0], atol=1e-12)


def test_holdback_cover_needs_a_holdback():
    data = small_deal()
    data["waterfall"] = {
        "normal": [
            {"action": "pay_fee", "fees": ["senior"], "cover_from": ["holdback"]},
            {"action": "pay_principal", "classes": ["A", "B"]},
            {"action": "pay_residual"},
        ]
    }
    with pytest.raises(ipabs.ScenarioError, match="holdback_share is not given"):
        validate(data)


def test_kernel_cover_codes_follow_the_schema():
    assert COVER_SOURCES.index("reserve") == kernel.COVER_RESERVE
    assert COVER_SOURCES.index("liquidity") == kernel.COVER_LIQUIDITY
    assert COVER_SOURCES.index("holdback") == kernel.COVER_HOLDBACK


# -- the clean-up call ---------------------------------------------------------------------------


def declining_pool(call: bool) -> dict:
    data = small_deal(simulation={"paths": 8, "seed": 3, "block_size": 8})
    data["licensees"] = [{"id": "L", "annual_default_probability": 0.0}]
    data["assets"] = [
        {
            "id": "P",
            "type": "patent",
            "licensee": "L",
            "base_annual_income": 8e6,
            "remaining_legal_life_years": 20,
            **QUIET_ASSET,
        }
    ]
    data["assets"][0]["growth_rate"] = -0.4
    data["collateral"] = {
        "basis": "trailing_income",
        "multiple": 1.0,
        "lookback_periods": 1,
        "original_value": 8e6,
    }
    if call:
        data["clean_up_call"] = {"threshold": 0.4, "price": 1.0}
    return data


def test_collections_stop_at_the_clean_up_call():
    """A deterministic declining pool, called on the first date its annualised income is at or
    below 40% of 8m: the deal receives the income up to and including that period, the buyer
    the rest (the pool's income is the same with or without the call)."""
    income = ipabs.simulate(validate(declining_pool(call=False))).raw.sample_collections[0]
    value = 4.0 * income  # quarterly income annualised, multiple 1
    k_call = int(np.flatnonzero(value[:-1] <= 0.4 * 8e6)[0])
    assert 0 < k_call < income.size - 2
    r = ipabs.simulate(validate(declining_pool(call=True)))
    pool = r.pool_paths
    assert (pool["clean_up_called"] == 1).all()
    np.testing.assert_allclose(pool["collections"], income[: k_call + 1].sum(), rtol=1e-12)
    np.testing.assert_allclose(
        pool["collections_after_call"], income[k_call + 1 :].sum(), rtol=1e-12
    )
    np.testing.assert_allclose(pool["call_proceeds"], value[k_call], rtol=1e-12)
    np.testing.assert_allclose(
        r.pool.loc[0, "expected_collections"], income[: k_call + 1].sum(), rtol=1e-12
    )
    # the collection bands too: nothing after the call
    assert (r.periods["collections_p95"].to_numpy()[k_call + 1 :] == 0.0).all()
    assert_conserved(r)


def test_revolving_deal_with_purchases_conserves_cash():
    r = ipabs.simulate(revolving_loan_deal(paths=300, pd=0.05))
    assert (r.pool_paths["revolving_purchases"] > 0).any()
    assert_conserved(r)
    # no triggers: the revolving periods are not periods in a triggered state
    assert (r.pool_paths["periods_triggered"] == 0).all()


def test_transfer_pricing_reads_the_loans_cash_whatever_the_structure_does():
    """A loan book's buyer receives the loans' cash: a clean-up call in the scenario's structure
    (which ends the notes, not the loans) leaves the transfer price as it was."""
    from ipabs.transfer.pricing import price

    base = REPO / "scenarios" / "beijing_ip_pledge_loan_transfer.toml"
    sc = ipabs.load(base)
    data = sc.model_dump(mode="python", exclude_none=True)
    data["collateral"] = {"basis": "loan_balance"}
    data["clean_up_call"] = {"threshold": 0.3, "price": 1.0}
    called = validate(data, base_dir=base.parent)
    assert ipabs.simulate(called, paths=200, seed=1).pool_paths["clean_up_called"].all()
    without, with_call = price(sc, paths=200, seed=1), price(called, paths=200, seed=1)
    assert with_call.price == without.price


def test_cash_check_catches_a_missing_flow():
    """The check is not vacuous: drop one flow and it fails."""
    r = ipabs.simulate(validate(every_step_deal("sequential")))
    pool = r.pool_paths.copy()
    pool["liquidity_charges_paid"] = 0.0
    assert worst_relative_gap(cash_check(pool, r.paths)) > 1e-6
