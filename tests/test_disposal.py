"""Disposal of a defaulted loan's pledged IP (docs/model.md 3.8, "Disposal"): judicial or online
auction rounds with a fall-back (以物抵债 or a buy-out), and a holding institution (收储) that
buys and pays over time, by hand; conservation; the auction's expected recovery and the
buyer's default against closed forms; bad input."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest
from helpers import QUIET_ASSET, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.calendar import add_months
from ipabs.pool.disposal import dispose
from ipabs.report.assumptions import key_assumptions
from ipabs.scenario.load import load, validate
from ipabs.solvers.stress import recovery_cut

CLOSING = dt.date(2024, 1, 15)
FINAL = dt.date(2026, 1, 15)  # 8 quarterly periods


def deal_data(loans, *, disposal=None, assets=(), layers=(), paths=3, seed=1):
    data = small_deal(
        deal={"name": "disposal", "closing_date": CLOSING, "payment_frequency": "quarterly",
              "legal_final_date": FINAL},
        simulation={"paths": paths, "seed": seed, "sample_paths": min(paths, 20_000),
                    "block_size": 256},
        factors={"names": ["m"]},
        licensees=[], assets=list(assets), loans=list(loans), loss_sharing=list(layers),
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={}, reserve={}, pricing={"discount_rate": 0.0}, valuation={"discount_rate": 0.10},
    )  # fmt: skip
    if disposal is not None:
        data["disposal"] = disposal
    return data


def simulate(loans, **kw):
    return ipabs.simulate(validate(deal_data(loans, **kw)))


def defaulted_loan(**kw):
    """Defaults in period 0 (PD 1); no interest (rate 0), so the exposure is the balance."""
    return {"id": "N", "balance": 1_000.0, "rate": 0.0, "term_years": 1.0,
            "annual_default_probability": 1.0, "collateral_value": 800.0, **kw}  # fmt: skip


def accrual():
    dates = [add_months(CLOSING, 3 * n) for n in range(1, 9)]
    starts = [CLOSING, *dates[:-1]]
    return np.array([(e - s).days / 365.0 for s, e in zip(starts, dates, strict=True)])


def test_auction_fails_twice_then_sells_in_round_three():
    """Round 1 two quarters after default (6 months), then one a quarter (3 months): rounds at
    periods 2, 3, 4. Prices 800 x 0.7 = 560, x 0.8 = 448, x 0.8 = 358.4; rounds 1 and 2 never
    sell (probability 0), round 3 always. Net of 5% costs and 10 fixed: 358.4 x 0.95 - 10 =
    330.48, paid in period 4; loss 1,000 - 330.48 = 669.52."""
    auction = {"rounds": 3, "start_price": 0.7, "price_cut": 0.2, "sale_probability": [0, 0, 1],
               "months_to_first_round": 6, "months_between_rounds": 3, "cost_share": 0.05,
               "cost_fixed": 10.0}  # fmt: skip
    res = simulate([defaulted_loan()], disposal={"method": "auction", "auction": auction})
    net = 800.0 * 0.7 * 0.8**2 * 0.95 - 10.0
    assert net == pytest.approx(330.48)
    expected = np.zeros(8)
    expected[4] = net
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12, atol=1e-12)
    pool = res.pool_paths.iloc[0]
    assert pool["loan_recoveries"] == pytest.approx(net, rel=1e-12)
    assert pool["loan_gross_loss"] == pytest.approx(1_000.0 - net, rel=1e-12)
    assert pool["loan_net_loss"] == pytest.approx(1_000.0 - net, rel=1e-12)


def test_auction_failing_every_round_ends_in_take_in_kind():
    """Two rounds at periods 1 and 2 (3 months each), neither sells; the lender takes the IP in
    kind (以物抵债) at round 2 and realises 800 x (1 - 0.3) = 560 six months (two quarters)
    later, in period 4. A per-loan override: loan M keeps the haircut rule (800 x 0.5 = 400,
    12 months later, period 4)."""
    auction = {"rounds": 2, "sale_probability": [0.0], "months_to_first_round": 3,
               "months_between_rounds": 3, "take_in_kind_haircut": 0.3, "take_in_kind_months": 6}  # fmt: skip
    loans = [defaulted_loan(), defaulted_loan(id="M", disposal_method="haircut")]
    res = simulate(loans, disposal={"method": "auction", "auction": auction})
    expected = np.zeros(8)
    expected[4] = 560.0 + 400.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(960.0)


def test_buyout_instalments_by_hand_and_with_a_guarantor():
    """收储: the buyer buys one quarter after default (period 1) at 60% of 800 = 480, paid in 4
    quarterly instalments of 120 over one year, in periods 2, 3, 4, 5. With a 50% guarantee:
    loss 1,000 - 480 = 520; at default the guarantor pays 260 and advances half the recovery,
    240, and is repaid half of each instalment: the deal gets 60 in periods 2, 3, 4 and, at the
    settlement (period 5), 60."""
    buyer = {"price_share": 0.6, "payment": "instalments", "years": 1, "months_to_purchase": 3}
    disposal = {"method": "buyout_operate", "buyer": buyer}
    res = simulate([defaulted_loan()], disposal=disposal)
    expected = np.zeros(8)
    expected[2:6] = 120.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)

    res = simulate(
        [defaulted_loan()], disposal=disposal, layers=[{"kind": "guarantee", "share": 0.5}]
    )
    expected = np.zeros(8)
    expected[0] = 0.5 * 520.0 + 0.5 * 480.0
    expected[2:6] = 60.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    pool = res.pool_paths.iloc[0]
    assert pool["guarantor_paid"] == pytest.approx(260.0)
    assert pool["loan_net_loss"] == pytest.approx(260.0)


def test_instalments_beyond_the_last_period_and_the_buyer_defaulting_mid_plan():
    """Instalments over 2 years from period 5: 8 of 60 (480 / 8) in periods 6 .. 13; the deal has
    8 periods, so periods 6 and 7 are collected and 6 x 60 = 360 is cash after legal final.
    Then `dispose` itself, with the buyer's default threshold set so that it defaults in a
    chosen period whatever its draw."""
    buyer = {"price_share": 0.6, "payment": "instalments", "years": 2, "months_to_purchase": 15}
    res = simulate([defaulted_loan()], disposal={"method": "buyout_operate", "buyer": buyer})
    expected = np.zeros(8)
    expected[6:8] = 60.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    pool = res.pool_paths.iloc[0]
    assert pool["loan_cash_after_legal_final"] == pytest.approx(360.0)
    assert pool["loan_recoveries"] == pytest.approx(480.0)

    loans = res.deal.loans
    schedule = np.zeros(9)  # periods 0 .. 7, then after legal final
    economy = np.array([0.0, 1.0, 1.0])  # M, S, weight
    level, alive = np.zeros((8, 0)), np.zeros((8, 0), np.bool_)
    used = np.zeros(loans.n_budget_years)
    args = (0, 0, 1_000.0, 800.0, economy, level, alive, 7, used, schedule)

    def buyer_defaulting_in(period):  # the cumulative threshold: +inf from `period` on
        threshold = np.where(np.arange(8) >= period, np.inf, -np.inf)
        return loans._replace(buyer_threshold=np.ascontiguousarray(threshold[:, None]))

    # a buyer that defaults in period 7: it pays period 6's instalment, not period 7's; the
    # disposal settles at its default
    recovery, settle = dispose(buyer_defaulting_in(7), *args)
    assert (recovery, settle) == (pytest.approx(60.0), 7)
    np.testing.assert_allclose(schedule, [0, 0, 0, 0, 0, 0, 60.0, 0.0, 0.0])
    # one that never defaults in the deal's periods pays them all, 360 of it after legal final
    recovery, settle = dispose(buyer_defaulting_in(99), *args)
    assert (recovery, settle) == (pytest.approx(480.0), 13)
    np.testing.assert_allclose(schedule, [0, 0, 0, 0, 0, 0, 60.0, 60.0, 360.0])
    # one that has defaulted by the purchase (period 5) does not buy: the lender takes the IP in
    # kind and realises 800 x (1 - 0.3) 12 months (4 quarters) later, period 9: after the deal
    recovery, settle = dispose(buyer_defaulting_in(5), *args)
    assert (recovery, settle) == (pytest.approx(560.0), 9)
    np.testing.assert_allclose(schedule, [0] * 8 + [560.0])


def test_buyer_capacity_refuses_a_second_purchase_in_the_year():
    """Annual capacity 1,000 of pledge value: two loans with pledges of 800 default in period 0
    and are bought in period 0 (lump sum, 50%: 400 each, months_to_purchase 0); the second
    would take the year's intake to 1,600, so the lender takes it in kind: 800 x 0.7 = 560 four
    quarters later (period 4)."""
    buyer = {"price_share": 0.5, "payment": "lump_sum", "months_to_purchase": 0,
             "annual_capacity": 1_000.0}  # fmt: skip
    disposal = {"method": "buyout_operate", "buyer": buyer}
    res = simulate([defaulted_loan(), defaulted_loan(id="M")], disposal=disposal)
    expected = np.zeros(8)
    expected[0], expected[4] = 400.0, 560.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_income_sharing_buyout_pays_a_share_of_the_pledged_assets_income():
    """A pledged patent earning 100 a year with no volatility or events: the buyer buys in
    period 0 and pays half its licence income for one year, 0.5 x 100 x (days / 365) in periods
    1 .. 4; the pledge's value plays no part."""
    asset = {"id": "P", "type": "patent", "base_annual_income": 100.0,
             "remaining_legal_life_years": 10.0, **QUIET_ASSET}  # fmt: skip
    loan = defaulted_loan(collateral_value=None, pledged_assets=["P"])
    buyer = {"payment": "income_share", "income_share": 0.5, "years": 1, "months_to_purchase": 0}
    res = simulate([loan], assets=[asset], disposal={"method": "buyout_operate", "buyer": buyer})
    expected = np.zeros(8)
    expected[1:5] = 0.5 * 100.0 * accrual()[1:5]
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-9)
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(expected.sum(), rel=1e-9)


def test_conservation_with_auctions_layers_and_cash_after_legal_final():
    """Every path: what the lender collects (in the deal or after legal final) plus what it keeps
    of the loss is the exposure; recoveries plus the gross loss are the exposure."""
    auction = {"rounds": 3, "sale_probability": [0.4, 0.5], "months_to_first_round": 9,
               "months_between_rounds": 6, "cost_share": 0.1, "fallback": "buyout"}  # fmt: skip
    buyer = {"payment": "instalments", "years": 2, "default_probability": 0.3}
    layers = [{"kind": "guarantee", "share": 0.4},
              {"kind": "risk_compensation_fund", "share": 0.5, "per_loan_cap": 100.0},
              {"kind": "risk_compensation_fund", "share": 0.5, "annual_budget": 150.0,
               "budget_year": "calendar"}]  # fmt: skip
    loans = [defaulted_loan(id=f"N{i}", collateral_value=300.0 + 100.0 * i,
                            annual_default_probability=0.5) for i in range(12)]  # fmt: skip
    res = simulate(loans, disposal={"method": "auction", "auction": auction, "buyer": buyer},
                   layers=layers, paths=400)  # fmt: skip
    p = res.pool_paths
    c = res.raw.sample_collections.sum(axis=1)
    exposure = 1_000.0 * p["loan_defaults"]  # rate 0: each defaulted loan's exposure is 1,000
    principal = 1_000.0 * (12 - p["loan_defaults"])  # the others repay at maturity
    np.testing.assert_allclose(
        c + p["loan_cash_after_legal_final"] + p["loan_net_loss"], exposure + principal, rtol=1e-12
    )
    np.testing.assert_allclose(p["loan_recoveries"] + p["loan_gross_loss"], exposure, rtol=1e-12)
    assert (p["loan_cash_after_legal_final"] > 0).any() and (p["loan_recoveries"] > 0).any()
    # the second fund pays at each disposal's settlement, up to 150 a calendar year. Defaults
    # fall in periods 0 .. 3 (the loans mature in period 3); a disposal settles at most 16
    # quarters later (round 3 at +7, the buyer from +8, 8 instalments to +16), by period 19,
    # paid on 15 January 2029: six calendar years, 2024 .. 2029, of 150; the first fund at most
    # 100 a loan
    assert (p["fund_paid"] <= 100.0 * p["loan_defaults"] + 6 * 150.0 + 1e-9).all()


def test_auction_expected_recovery_matches_the_closed_form():
    """E[R] = sum_r P(sells in round r) net_r + P(no round sells) V (1 - h_k), with
    P(sells in round r) = q_r prod_{s<r} (1 - q_s), net_r = V s (1 - c)^(r-1) (1 - cost share)
    - fixed. 300 loans a path, 60 paths; each path's mean recovery per loan has the spread of
    the sample; within 4 standard errors."""
    v, q = 800.0, [0.3, 0.5, 0.4]
    auction = {"rounds": 3, "start_price": 0.8, "price_cut": 0.15, "sale_probability": q,
               "cost_share": 0.05, "cost_fixed": 5.0, "take_in_kind_haircut": 0.6}  # fmt: skip
    net = [v * 0.8 * 0.85**r * 0.95 - 5.0 for r in range(3)]
    sold = [q[0], (1 - q[0]) * q[1], (1 - q[0]) * (1 - q[1]) * q[2]]
    expected = sum(s * x for s, x in zip(sold, net, strict=True)) + (1 - sum(sold)) * v * 0.4
    second = (
        sum(s * x * x for s, x in zip(sold, net, strict=True)) + (1 - sum(sold)) * (v * 0.4) ** 2
    )
    sd = np.sqrt(second - expected**2)  # one loan's recovery
    n_loans, paths = 300, 60
    loans = [defaulted_loan(id=f"N{i}") for i in range(n_loans)]
    res = simulate(loans, disposal={"method": "auction", "auction": auction}, paths=paths)
    per_loan = res.pool_paths["loan_recoveries"].to_numpy() / n_loans
    se = sd / np.sqrt(n_loans * paths)
    assert abs(per_loan.mean() - expected) < 4 * se, (per_loan.mean(), expected, se)
    # and the paths differ (the draws are the path's), while the defaults are the same
    assert per_loan.std() > 0


def test_buyer_default_against_the_survival_closed_form():
    """A buyer with annual PD 20% (no factor loading) pays 4 instalments of 120 (480 over one
    year from period 0) in periods 1 .. 4 only while it survives: E[R] = sum_m 120
    (1 - 0.2)^{t_m}, t_m the years from closing to the end of period m (it buys in period 0
    only if it survives period 0, which surviving period m implies); if it has defaulted in
    period 0 (probability 1 - 0.8^{t_0}) it does not buy and the lender takes the IP in kind,
    realising 800 x (1 - 0.3) = 560. The buyer is one name per path: the per-path recoveries
    are independent across paths; 4 standard errors."""
    buyer = {"price_share": 0.6, "years": 1, "months_to_purchase": 0, "default_probability": 0.2}
    paths = 4_000
    res = simulate([defaulted_loan()], disposal={"method": "buyout_operate", "buyer": buyer},
                   paths=paths)  # fmt: skip
    t = np.cumsum(accrual())
    survive = 0.8 ** t[1:5]
    expected = 120.0 * survive.sum() + (1.0 - 0.8 ** t[0]) * 560.0
    r = res.pool_paths["loan_recoveries"].to_numpy()
    se = r.std(ddof=1) / np.sqrt(paths)
    assert abs(r.mean() - expected) < 4 * se, (r.mean(), expected, se)


def test_haircut_default_keeps_the_numbers_of_a_deal_without_disposal_table():
    """[disposal] method = "haircut" written out gives the same collections as no table."""
    loan = defaulted_loan(annual_default_probability=0.4, disposal_haircut=0.3, buyout_floor=100.0)
    loans = [dict(loan, id=f"N{i}") for i in range(5)]
    a = simulate(loans, paths=50)
    b = simulate(loans, paths=50, disposal={"method": "haircut"})
    np.testing.assert_array_equal(a.raw.sample_collections, b.raw.sample_collections)


@pytest.mark.parametrize(
    ("disposal", "loan", "expected"),
    [
        (
            {"method": "buyout_operate"},
            {},
            'disposal.buyer: required key is missing: loans[0] (id = "N") uses disposal method buyout_operate',
        ),
        (
            {"method": "auction", "auction": {"fallback": "buyout"}},
            {},
            'is auctioned with fallback = "buyout"',
        ),
        (
            {"method": "auction"},
            {"buyout_floor": 100.0},
            'loans[0].buyout_floor (id = "N") = 100.0: a buy-out floor goes with disposal method haircut',
        ),
        (
            {"auction": {"rounds": 2, "sale_probability": [0.1, 0.2, 0.3]}},
            {},
            "disposal.auction.sale_probability = [0.1, 0.2, 0.3]: one probability per round at most",
        ),
        (
            {"method": "buyout_operate", "buyer": {"factor": "mm"}},
            {},
            "disposal.buyer.factor = 'mm': no factor has this id",
        ),
        (
            {"method": "buyout_operate", "buyer": {"payment": "income_share"}},
            {},
            'loans[0].pledged_assets (id = "N"): the buyer pays a share of the pledged assets\' income',
        ),
        ({}, {"disposal_method": "fire_sale"}, "loans[0].disposal_method"),
        (
            {"method": "auction", "auction": {"start_price": 0.0}},
            {},
            "disposal.auction.start_price",
        ),
        ({"auction": {"price_cut": 1.0}}, {}, "disposal.auction.price_cut"),
        ({"buyer": {"years": 0}}, {}, "disposal.buyer.years"),
    ],
)
def test_bad_disposal_input(tmp_path, disposal, loan, expected):
    data = deal_data([defaulted_loan(**loan)], disposal=disposal)
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr


def test_loan_tape_sets_each_loans_disposal_method(tmp_path):
    """A loans tape's disposal_method column overrides the deal's [disposal] method per row; an
    empty cell takes it."""
    rows = [defaulted_loan(id="T1", disposal_method="auction"), defaulted_loan(id="T2")]
    columns = ["id", "balance", "rate", "term_years", "annual_default_probability",
               "collateral_value", "disposal_method"]  # fmt: skip
    with open(tmp_path / "loans.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in columns})
    data = deal_data([], disposal={"method": "haircut"})
    data["tapes"] = [{"kind": "loans", "path": "loans.csv"}]
    sc = load(write_scenario(tmp_path, data))
    assert [x.disposal_method for x in sc.loans] == ["auction", None]


def test_report_key_assumptions_describe_the_disposal_used():
    """Auctioned loans: the auction's terms and the in-kind haircut, not the haircut rule's rows
    (no loan uses it); the buyer's terms when it buys (the auction's fall-back)."""
    auction = {"rounds": 2, "start_price": 0.7, "price_cut": 0.2, "sale_probability": [0.2, 0.4],
               "fallback": "buyout"}  # fmt: skip
    buyer = {"price_share": 0.6, "years": 3, "default_probability": 0.05}
    sc = validate(deal_data([defaulted_loan()], disposal={"method": "auction", "auction": auction,
                                                          "buyer": buyer}))  # fmt: skip
    rows = {r.key: r for r in key_assumptions(sc)}
    assert "loans[*].disposal_haircut" not in rows and "loans[*].disposal_lag_months" not in rows
    assert (rows["disposal.auction.start_price"].value_min, rows["disposal.auction.rounds"].value_min) == (0.7, 2)  # fmt: skip
    p = rows["disposal.auction.sale_probability"]
    assert (p.value_min, p.value_max) == (0.2, 0.4)
    assert rows["disposal.buyer.price_share"].value_min == 0.6
    assert rows["disposal.buyer.default_probability"].value_min == 0.05
    # the haircut rule's rows stay for a deal that uses it
    rows = {r.key: r for r in key_assumptions(validate(deal_data([defaulted_loan()])))}
    assert rows["loans[*].disposal_haircut"].value_min == 0.5
    assert not any(k.startswith("disposal.") for k in rows)


def test_spread_recoveries_reach_the_principal_account():
    """Revenue and principal accounts, recoveries to the principal account: the instalments of a
    收储 buyer (120 in periods 2 .. 5, as above) are recoveries of a loan whose 1,000 of
    principal defaulted, so all 480 go to the principal account (the ledger falls from 1,000 to
    520), none to revenue."""
    buyer = {"price_share": 0.6, "payment": "instalments", "years": 1, "months_to_purchase": 3}
    data = deal_data([defaulted_loan()], disposal={"method": "buyout_operate", "buyer": buyer})
    data["accounts"] = {"collections": "revenue_and_principal", "recoveries": "principal"}
    data["waterfall"] = {"normal": [
        {"action": "pay_interest", "classes": ["A"]},
        {"action": "pay_principal", "classes": ["A"], "account": "principal"},
        {"action": "pay_residual", "account": "principal"},
    ]}  # fmt: skip
    res = ipabs.simulate(validate(data))
    pool = res.pool_paths.iloc[0]
    assert pool["principal_account_in"] == pytest.approx(480.0, rel=1e-12)
    assert pool["principal_deficiency"] == pytest.approx(520.0, rel=1e-12)


def test_recovery_cut_stress_cuts_auction_and_buyer_proceeds():
    """recovery_cut x = 0.25 keeps 75% of every price: the round-3 sale of the first test nets
    800 x (0.7 x 0.75) x 0.8^2 x 0.95 - 10; IP taken in kind realises 800 x (0.7 x 0.75); a
    buyer's instalments are 0.6 x 0.75 x 800 / 4 = 90."""
    auction = {"rounds": 3, "start_price": 0.7, "price_cut": 0.2, "sale_probability": [0, 0, 1],
               "months_to_first_round": 6, "months_between_rounds": 3, "cost_share": 0.05,
               "cost_fixed": 10.0}  # fmt: skip
    sc = validate(deal_data([defaulted_loan()], disposal={"method": "auction", "auction": auction}))
    res = ipabs.simulate(recovery_cut(sc, 0.25))
    net = 800.0 * 0.7 * 0.75 * 0.8**2 * 0.95 - 10.0
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(net, rel=1e-12)
    sc = sc.replace({"disposal.auction.sale_probability": [0.0]})
    res = ipabs.simulate(recovery_cut(sc, 0.25))
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(800.0 * 0.7 * 0.75)
    buyer = {"price_share": 0.6, "payment": "instalments", "years": 1, "months_to_purchase": 3}
    sc = validate(
        deal_data([defaulted_loan()], disposal={"method": "buyout_operate", "buyer": buyer})
    )
    res = ipabs.simulate(recovery_cut(sc, 0.25))
    expected = np.zeros(8)
    expected[2:6] = 90.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
