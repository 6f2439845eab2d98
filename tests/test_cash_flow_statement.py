"""The base case's cash-flow statement (`Results.cash_flows`) and cash-flow coverage: every sample
path's recorded flows balance in every period (sources = uses) on the shipped deals and on test
deals with every step, support, trigger, the liquidity facility, a clean-up call, revolving
purchases and a trust; the statement's totals are the per-path totals' means; a two-period deal
worked by hand; the recorded flows are the same for any thread count or block size."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import FLAGSHIP, QUIET_ASSET, REPO, small_deal
from test_conservation import every_step_deal
from test_revolving import revolving_loan_deal

import ipabs
from ipabs.engine.statement import (
    SOURCES,
    cash_flow_coverage,
    path_flows,
    path_residual,
    statement_residual,
)
from ipabs.scenario.load import validate

TOLERANCE = 1e-9  # relative to the period's cash; the brief's bar is 1e-6


def _sources(flows: dict[str, np.ndarray]) -> np.ndarray:
    return sum(flows[name] for name in SOURCES)


def assert_balanced(r) -> None:
    """Sources = uses on every sample path and period, in the kernel's records and in the
    statement; balances move only by what the flows say."""
    flows = path_flows(r.deal, r.raw)
    scale = np.maximum(_sources(flows), 1.0)
    assert np.abs(path_residual(r.deal, r.raw) / scale).max() < TOLERANCE
    cf = r.cash_flows
    statement_scale = np.maximum(cf[[c for c in SOURCES if c in cf]].sum(axis=1), 1.0)
    assert (statement_residual(cf).abs() / statement_scale).max() < TOLERANCE
    # a class's balance falls by the principal it is paid, and by nothing else
    n = r.raw.sample_flows.shape[0]  # the statement's paths, the first of the sample paths
    balances, reserve = r.raw.sample_balances[:n], r.raw.sample_reserve[:n]
    for t, name in enumerate(r.deal.tranche_names):
        opening = np.concatenate(
            [np.full((n, 1), r.deal.waterfall.balance0[t]), balances[:, t, :-1]], axis=1
        )
        closing = opening - flows[f"principal_{name}"]
        np.testing.assert_allclose(balances[:, t, :], closing, rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(
            cf[f"closing_{name}"], cf[f"opening_{name}"] - cf[f"principal_{name}"], atol=1e-6
        )
    # the reserve by its top-ups, draws and releases
    opening = np.concatenate(
        [np.full((n, 1), r.deal.waterfall.reserve_initial), reserve[:, :-1]], axis=1
    )
    moved = flows["reserve_topup"] - flows["reserve_draw"] - flows["reserve_release"]
    np.testing.assert_allclose(reserve, opening + moved, rtol=1e-12, atol=1e-6)
    # the fees' breakdown adds up to the fees
    fee_parts = [name for name in flows if name.startswith("fee_")]
    np.testing.assert_allclose(sum(flows[n] for n in fee_parts), flows["fees"], atol=1e-6)


def assert_totals_are_the_path_means(r) -> None:
    """With every path a sample path, each flow's total over the periods is the mean of the
    per-path totals in paths.parquet and pool_paths.parquet."""
    assert r.cash_flows["sample_paths"].iloc[0] == r.paths_run
    totals = r.cash_flows.sum(numeric_only=True)
    pool = r.pool_paths.mean(numeric_only=True)
    for column, path_column in {
        "collections": "collections",
        "call_proceeds": "call_proceeds",
        "credit_support": "credit_support_paid",
        "reserve_draw": "reserve_draw",
        "reserve_release": "reserve_release",
        "liquidity_drawn": "liquidity_drawn",
        "holdback_drawn": "holdback_drawn",
        "holdback_released": "holdback_released",
        "fees": "fees_paid",
        "performance_fee": "performance_fee",
        "liquidity_charges": "liquidity_charges_paid",
        "liquidity_repaid": "liquidity_repaid",
        "reserve_topup": "reserve_topup",
        "holdback_in": "holdback_in",
        "revolving_purchases": "revolving_purchases",
        "residual": "residual",
    }.items():
        expected = pool[path_column]
        got = totals.get(column, 0.0)  # a column left out is zero on every path
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6), column
    by_class = r.paths.groupby("tranche", observed=True).mean(numeric_only=True)
    for name in r.deal.tranche_names:
        for kind in ("interest", "principal"):
            expected = by_class.loc[name, f"{kind}_received"]
            assert totals[f"{kind}_{name}"] == pytest.approx(expected, rel=1e-9, abs=1e-6)
        # the closing balance at legal final is the expected principal loss
        expected_loss = by_class.loc[name, "principal_loss"]
        got = r.cash_flows[f"closing_{name}"].iloc[-1]
        assert got == pytest.approx(expected_loss, rel=1e-9, abs=1e-6)


# -- sources = uses on the shipped deals and on deals with every part ----------------------------


@pytest.mark.parametrize(
    "name",
    ["zgc_patent_licence_abs_2022", "nanshan_ip_pledged_loans_abs_2022", "beijing_ip_trust"],
)
def test_the_shipped_deals_balance_every_period_and_path(name):
    r = ipabs.simulate(REPO / "scenarios" / f"{name}.toml", paths=600, sample_paths=600)
    assert_balanced(r)
    assert_totals_are_the_path_means(r)


def test_a_trust_shows_its_holdback_and_each_fee():
    r = ipabs.simulate(REPO / "scenarios" / "beijing_ip_trust.toml", paths=500)
    cf = r.cash_flows
    assert {"holdback_in", "holdback_released", "opening_holdback", "closing_holdback"} <= set(cf)
    assert cf["closing_holdback"].iloc[-1] == pytest.approx(0.0, abs=1e-6)  # paid out at the end
    parts = [c for c in cf if c.startswith("fee_")]
    assert len(parts) >= 2  # the [fees] table's and the [[other_fees]]
    np.testing.assert_allclose(cf[parts].sum(axis=1), cf["fees"], rtol=1e-12)


@pytest.mark.parametrize("mode", ["sequential", "pro_rata", "turbo"])
def test_deals_with_every_step_support_and_trigger_balance(mode):
    r = ipabs.simulate(validate(every_step_deal(mode)))
    assert_balanced(r)
    assert_totals_are_the_path_means(r)
    cf = r.cash_flows
    # the deal uses them, so the statement shows them
    for column in ("credit_support", "call_proceeds", "liquidity_charges", "reserve_release"):
        assert column in cf and cf[column].sum() > 0, column
    assert {"fee_senior", "fee_servicer"} <= set(cf)


def facility_deal() -> dict:
    """Licensees defaulting at 40% a year: fees and interest short of cash draw on a liquidity
    facility, then the reserve; an interest-coverage trigger traps cash into the reserve and a
    DSCR trigger turns on rapid amortisation."""
    data = small_deal(simulation={"paths": 400, "seed": 9, "block_size": 64})
    for licensee in data["licensees"]:
        licensee["annual_default_probability"] = 0.4
    data["liquidity"] = {"limit": 1e6, "interest_rate": 0.06, "commitment_fee": 0.004}
    data["triggers"] = [
        {"name": "icr", "condition": "interest_coverage", "threshold": 3.0, "effect": "trap_cash",
         "trap_share": 0.5},
        {"name": "dscr", "condition": "dscr", "threshold": 1.1, "lookback_periods": 2,
         "classes": ["A"], "effect": "rapid_amortisation"},
    ]  # fmt: skip
    cover = ["liquidity", "reserve"]
    data["waterfall"] = {
        "normal": [
            {"action": "pay_fee", "fees": ["senior"], "cover_from": cover},
            {"action": "pay_interest", "classes": ["A", "B"], "cover_from": cover},
            {"action": "pay_liquidity"},
            {"action": "fund_reserve"},
            {"action": "pay_principal", "classes": ["A", "B", "sub"]},
            {"action": "pay_fee", "fees": ["subordinated"]},
            {"action": "pay_residual"},
        ]
    }
    return data


def test_a_deal_drawing_its_liquidity_facility_and_reserve_under_triggers_balances():
    r = ipabs.simulate(validate(facility_deal()))
    assert (r.triggers["probability"] > 0).all()
    assert_balanced(r)
    assert_totals_are_the_path_means(r)
    cf = r.cash_flows
    for column in ("liquidity_drawn", "liquidity_charges", "liquidity_repaid", "reserve_draw",
                   "reserve_topup", "reserve_release"):  # fmt: skip
        assert column in cf and cf[column].sum() > 0, column


def test_a_revolving_deal_balances_and_shows_its_purchases():
    r = ipabs.simulate(revolving_loan_deal(paths=300, pd=0.05))
    assert_balanced(r)
    assert_totals_are_the_path_means(r)
    assert r.cash_flows["revolving_purchases"].sum() > 0


def test_a_called_deal_shows_the_sale_and_nothing_after_it():
    from test_conservation import declining_pool

    r = ipabs.simulate(validate(declining_pool(call=True)))
    assert_balanced(r)
    cf = r.cash_flows
    k_call = int(np.flatnonzero(cf["call_proceeds"].to_numpy() > 0)[0])
    after = cf.iloc[k_call + 1 :]
    assert len(after) > 0
    flows = [c for c in cf if c not in ("period", "date", "t_years", "sample_paths")]
    flows = [c for c in flows if not c.startswith(("opening_", "closing_"))]
    assert (after[flows] == 0.0).all().all()


def test_a_simple_deal_shows_the_core_columns_and_no_wall_of_zeros():
    r = ipabs.simulate(validate(small_deal(simulation={"paths": 300, "seed": 2})))
    cf = r.cash_flows
    absent = {"liquidity_drawn", "liquidity_charges", "call_proceeds", "holdback_in"}
    absent |= {"revolving_purchases", "performance_fee", "credit_support", "fee_senior"}
    assert not absent & set(cf)
    for core in ("collections", "fees", "interest_sub", "principal_sub", "residual"):
        assert core in cf, core
    assert (cf["interest_sub"] == 0.0).all()  # a class without a coupon still has its column
    assert {"opening_reserve", "closing_reserve"} <= set(cf)
    assert (cf["sample_paths"] == 300).all()
    np.testing.assert_allclose(cf["collections"], r.periods["collections_mean"], rtol=1e-12)


def test_fewer_sample_paths_take_the_means_over_the_first_ones():
    sc = validate(small_deal(simulation={"paths": 400, "seed": 5}))
    every = ipabs.simulate(sc, sample_paths=400)
    few = ipabs.simulate(sc, sample_paths=100)
    assert (few.cash_flows["sample_paths"] == 100).all()
    index = every.deal.tranche_names.index("A")
    first = every.raw.sample_flows[:100]
    np.testing.assert_array_equal(few.raw.sample_flows, first)
    expected = every.raw.sample_balances[:100, index, :].mean(axis=0)
    np.testing.assert_allclose(few.cash_flows["closing_A"], expected, rtol=1e-12)


def test_the_statement_takes_at_most_its_cap_of_paths():
    from ipabs.engine.run import STATEMENT_PATHS

    paths = STATEMENT_PATHS + 300
    r = ipabs.simulate(validate(small_deal(simulation={"paths": paths, "seed": 3})))
    assert r.raw.sample_collections.shape[0] == paths  # the bands keep every sample path
    assert r.raw.sample_flows.shape[0] == STATEMENT_PATHS
    cf = r.cash_flows
    assert (cf["sample_paths"] == STATEMENT_PATHS).all()
    first = slice(0, STATEMENT_PATHS)
    np.testing.assert_allclose(cf["collections"], r.raw.sample_collections[first].mean(axis=0))
    np.testing.assert_allclose(cf["closing_B"], r.raw.sample_balances[first, 1].mean(axis=0))
    assert_balanced(r)


def test_importance_sampled_statement_is_weighted_as_the_bands_are():
    r = ipabs.simulate(FLAGSHIP, paths=1000, importance=[-1.5])
    assert r.importance.enabled
    cf = r.cash_flows
    np.testing.assert_allclose(cf["collections"], r.periods["collections_mean"], rtol=1e-12)
    w = r.raw.weight[: r.raw.sample_flows.shape[0]]
    assert not np.allclose(w, 1.0)
    expected = (w[:, None] * r.raw.sample_balances[:, 0, :]).sum(axis=0) / w.sum()
    np.testing.assert_allclose(cf["closing_senior_A"], expected, rtol=1e-12)
    assert_balanced(r)


# -- a deal worked by hand -----------------------------------------------------------------------


def two_period_deal() -> dict:
    """One licensee that never defaults, one asset paying 400 a year with no volatility, two
    quarters of 91 days; class A 100 at 4%, sub 20; a senior fee of 10 a year; a reserve of 5."""
    data = small_deal(
        deal={
            "name": "two periods",
            "currency": "CNY",
            "closing_date": dt.date(2024, 1, 15),
            "payment_frequency": "quarterly",
            "legal_final_date": dt.date(2024, 7, 15),
        },
        simulation={"paths": 3, "seed": 1, "block_size": 2},
        factors={"names": ["m"]},
        licensees=[{"id": "L", "annual_default_probability": 0.0, "factor_loading": 0.5}],
        assets=[
            {
                "id": "P",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": 400.0,
                "factor_loading": 0.7,
                "remaining_legal_life_years": 10.0,
                **QUIET_ASSET,
            }
        ],
        tranches=[
            {"name": "A", "balance": 100.0, "coupon": 0.04, "rank": 1},
            {"name": "sub", "balance": 20.0, "coupon": 0.0, "rank": 2},
        ],
        fees={"fixed_per_year": 10.0},
        reserve={"initial_balance": 5.0, "target": 5.0},
        pricing={"discount_rate": 0.04},
    )
    return data


def test_a_two_period_deal_by_hand():
    """Standard waterfall: senior fee, interest, reserve, principal by rank, residual. Period 1:
    income 400 x 91/365, the fee 10 x 91/365 and A's interest 100 x 4% x 91/365 paid, the rest
    repays A. Period 2 (legal final): the reserve of 5 is released into the cash; the fee, A's
    interest on what is left of it and its principal, sub's 20, and the rest is residual."""
    r = ipabs.simulate(validate(two_period_deal()))
    a = 91 / 365
    cash1 = 400 * a
    fee = 10 * a
    interest1 = 100 * 0.04 * a
    principal1 = cash1 - fee - interest1
    left = 100 - principal1
    interest2 = left * 0.04 * a
    cash2 = 400 * a + 5.0
    residual = cash2 - fee - interest2 - left - 20.0
    expected = pd.DataFrame(
        {
            "opening_A": [100.0, left],
            "opening_sub": [20.0, 20.0],
            "opening_reserve": [5.0, 5.0],
            "collections": [cash1, 400 * a],
            "reserve_release": [0.0, 5.0],
            "fees": [fee, fee],
            "interest_A": [interest1, interest2],
            "principal_A": [principal1, left],
            "interest_sub": [0.0, 0.0],
            "principal_sub": [0.0, 20.0],
            "residual": [0.0, residual],
            "closing_A": [left, 0.0],
            "closing_sub": [20.0, 0.0],
            "closing_reserve": [5.0, 0.0],
        }
    )
    cf = r.cash_flows
    assert list(cf["period"]) == [1, 2]
    assert list(cf["date"].dt.date) == [dt.date(2024, 4, 15), dt.date(2024, 7, 15)]
    assert [c for c in cf if c not in ("period", "date", "t_years", "sample_paths")] == list(
        expected
    )
    pd.testing.assert_frame_equal(cf[list(expected)], expected, rtol=1e-12, atol=1e-12)
    assert statement_residual(cf).abs().max() < 1e-12

    # coverage over the life: the pool's cash after the fees, over A's balance and interest;
    # then what is left after A's due, over sub's 20
    coverage = r.cash_flow_coverage.set_index("tranche")
    pool_cash = 2 * 400 * a - 2 * fee
    due_a = 100 + interest1 + interest2
    assert coverage.loc["A", "due"] == pytest.approx(due_a, rel=1e-12)
    assert coverage.loc["A", "available"] == pytest.approx(pool_cash, rel=1e-12)
    assert coverage.loc["A", "coverage"] == pytest.approx(pool_cash / due_a, rel=1e-12)
    assert coverage.loc["sub", "coverage"] == pytest.approx((pool_cash - due_a) / 20, rel=1e-12)
    assert list(coverage.index) == ["A", "sub"]


def test_pari_passu_classes_share_one_coverage_ratio():
    """Two classes of rank 2 (B1 40 paid 2 interest, B2 10 paid 1) under A (100 + 5): the pool's
    300 less fees 15 less A's 105 is 180 for rank 2, due 53: 180 / 53 for both; the junior
    class gets 180 - 53 = 127 over its 30."""
    statement = pd.DataFrame(
        {
            "collections": [200.0, 100.0],
            "fees": [10.0, 5.0],
            "opening_A": [100.0, 0.0],
            "interest_A": [5.0, 0.0],
            "principal_A": [100.0, 0.0],
            "opening_B1": [40.0, 40.0],
            "interest_B1": [1.0, 1.0],
            "principal_B1": [0.0, 40.0],
            "opening_B2": [10.0, 10.0],
            "interest_B2": [0.5, 0.5],
            "principal_B2": [0.0, 10.0],
            "opening_C": [30.0, 30.0],
            "interest_C": [0.0, 0.0],
            "principal_C": [0.0, 30.0],
        }
    )
    coverage = cash_flow_coverage(statement, {"C": 3, "B2": 2, "A": 1, "B1": 2}).set_index(
        "tranche"
    )
    assert coverage["rank"].tolist() == [1, 2, 2, 3]  # by rank
    assert coverage.loc["A", "coverage"] == pytest.approx(285 / 105)
    assert coverage.loc["B1", "coverage"] == pytest.approx(180 / 53)
    assert coverage.loc["B2", "coverage"] == pytest.approx(180 / 53)
    assert coverage.loc["C", "coverage"] == pytest.approx(127 / 30)


# -- determinism ---------------------------------------------------------------------------------


def test_recorded_flows_are_the_same_for_any_thread_count_or_block_size():
    data = every_step_deal("sequential")
    data["simulation"] = {"paths": 600, "seed": 4, "block_size": 64, "sample_paths": 450}
    sc = validate(data)
    base = ipabs.simulate(sc, threads=1)
    for kwargs in ({"threads": 2}, {"block_size": 7, "threads": 2}, {"block_size": 4096}):
        other = ipabs.simulate(sc, **kwargs)
        assert np.array_equal(base.raw.sample_flows, other.raw.sample_flows), kwargs
        pd.testing.assert_frame_equal(base.cash_flows, other.cash_flows, check_exact=True)
