"""Disposal combined with the loss-sharing layers, co-lending and the contract claims (docs/model.md
3.8 "Disposal", "Loss-sharing", "Co-lending"; 3.9-3.10): a spread disposal with a lagged and an
unlagged guarantor, a co-lent loan's auction costs and the buyer's capacity, leases and
receivables under a deal-level auction, and conservation of a co-lent loan's cash on every path,
by hand and by invariant."""

from __future__ import annotations

import numpy as np
import pytest
from test_disposal import defaulted_loan, simulate
from test_leases import deal_data as lease_deal_data
from test_leases import lease, receivable

import ipabs
from ipabs.scenario.load import validate

# 收储 one quarter after default (period 1) at 60% of 800 = 480, in 4 quarterly instalments of
# 120 in periods 2, 3, 4, 5 (the settlement)
INSTALMENTS = {
    "method": "buyout_operate",
    "buyer": {"price_share": 0.6, "payment": "instalments", "years": 1, "months_to_purchase": 3},
}


def test_spread_disposal_repays_a_lagged_and_an_unlagged_guarantor_their_advances_once():
    """Exposure 1,000, recovery 480 by instalments (above), loss 520. Guarantee A (20%, no lag)
    pays 0.2 x 520 = 104 at default (period 0) and advances 0.2 x 480 = 96; guarantee B (40% of
    the remaining 416, claim lag 3 months: period 1) pays 166.4 and advances 0.4 x 480 = 192.
    The advances, 96 + 192 = 288, are repaid pro rata from each instalment: the deal keeps
    1 - 288 / 480 = 40% of each, 48, in periods 2 .. 5. The lender keeps 520 - 104 - 166.4 =
    249.6, and 200 + 358.4 + 4 x 48 = 750.4 = 1,000 - 249.6."""
    layers = [
        {"kind": "guarantee", "share": 0.2},
        {"kind": "guarantee", "share": 0.4, "claim_lag_months": 3},
    ]
    res = simulate([defaulted_loan()], disposal=INSTALMENTS, layers=layers)
    expected = np.zeros(8)
    expected[0] = 104.0 + 96.0
    expected[1] = 166.4 + 192.0
    expected[2:6] = 0.4 * 120.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    assert res.pool_paths["loan_net_loss"].iloc[0] == pytest.approx(249.6, rel=1e-12)


def test_a_co_lent_loan_bears_its_share_of_the_auction_s_fixed_cost():
    """The pool holds 40% of a loan of 1,000 with a pledge of 800 (its share 320). One round, a
    quarter after default (period 1), sells at 70% of the appraisal: the whole sale nets
    800 x 0.7 x (1 - 5%) - 10 = 522, of which the pool receives 40%, 208.8 (its share of the
    price less its share of the fixed cost: 320 x 0.7 x 0.95 - 0.4 x 10)."""
    auction = {"rounds": 1, "start_price": 0.7, "sale_probability": [1.0],
               "months_to_first_round": 3, "cost_share": 0.05, "cost_fixed": 10.0}  # fmt: skip
    res = simulate([defaulted_loan(participation=0.4)],
                   disposal={"method": "auction", "auction": auction})  # fmt: skip
    expected = np.zeros(8)
    expected[1] = 0.4 * (800.0 * 0.7 * 0.95 - 10.0)
    assert expected[1] == pytest.approx(208.8)
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    p = res.pool_paths.iloc[0]
    assert p["loan_gross_loss"] == pytest.approx(400.0 - 208.8, rel=1e-12)
    assert p["co_lenders_gross_loss"] == pytest.approx(600.0 - 0.6 * 522.0, rel=1e-12)


def test_the_buyer_s_capacity_counts_a_co_lent_loan_s_whole_pledge():
    """Annual capacity 1,000 of pledge value. Two loans of which the pool holds half, each
    pledging 800 (the pool's share 400), default in period 0; the buyer takes in the whole
    pledge, so the second would bring the year's intake to 1,600 and is refused. The first is
    bought at once for half of the pool's share, 0.5 x 400 = 200 (period 0); of the second the
    lender takes the pool's share in kind and realises 400 x (1 - 0.3) = 280 four quarters later
    (period 4)."""
    buyer = {"price_share": 0.5, "payment": "lump_sum", "months_to_purchase": 0,
             "annual_capacity": 1_000.0}  # fmt: skip
    loans = [defaulted_loan(participation=0.5), defaulted_loan(id="M", participation=0.5)]
    res = simulate(loans, disposal={"method": "buyout_operate", "buyer": buyer})
    expected = np.zeros(8)
    expected[0], expected[4] = 200.0, 280.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_leases_and_receivables_keep_their_recovery_rule_under_a_deal_level_auction():
    """[disposal] sets the method of the [[loans]]' pledges; a lease's repossessed IP and a
    receivable's recovery keep their own rules (3.9, 3.10). Lease: exposure 1,000 plus the
    quarter's interest, leased IP worth 600 at a 50% haircut, 300 two quarters after its default
    (period 2); receivable: 40% of 100 = 40, also in period 2; the loan (no default) repays 1,000
    in period 3. An auction that never sells, with a 50% take-in-kind haircut, would give them
    300 x ... less and earlier."""
    loan = {"id": "N", "balance": 1_000.0, "rate": 0.0, "term_years": 1.0,
            "annual_default_probability": 0.0, "collateral_value": 800.0}  # fmt: skip
    auction = {"rounds": 1, "sale_probability": [0.0], "months_to_first_round": 3,
               "take_in_kind_haircut": 0.5, "take_in_kind_months": 3}  # fmt: skip
    data = lease_deal_data(
        receivables=[receivable(annual_default_probability=1.0, recovery_rate=0.4)],
        leases=[lease(annual_default_probability=1.0, asset_value=600.0, disposal_haircut=0.5,
                      disposal_lag_months=6)],
        loans=[loan], disposal={"method": "auction", "auction": auction},
    )  # fmt: skip
    res = ipabs.simulate(validate(data))
    expected = np.zeros(8)
    expected[2] = 0.5 * 600.0 + 0.4 * 100.0
    expected[3] = 1_000.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_a_co_lent_pool_conserves_cash_on_every_path_with_auctions_buyers_and_lagged_layers():
    """The pool holds 40% of 12 loans of 1,000 at rate 0 (exposure 400 each at default, 400 of
    principal at maturity otherwise), auctioned with a fixed cost and a buy-out fall-back paid by
    a buyer that can default, shared by a lagged and an unlagged guarantee, a lagged fund with a
    per-loan cap, an insurer that can default and a re-guarantee. On every path: what the pool
    collects (in the deal or after legal final) plus what it keeps of the loss is 400 a loan; no
    period's cash is negative; recoveries plus the gross loss are the exposure; the other
    lenders bear 0.6 / 0.4 of the pool's gross loss."""
    auction = {"rounds": 3, "sale_probability": [0.4, 0.5], "months_to_first_round": 9,
               "months_between_rounds": 6, "cost_share": 0.1, "cost_fixed": 20.0,
               "fallback": "buyout"}  # fmt: skip
    buyer = {"payment": "instalments", "years": 2, "default_probability": 0.3}
    layers = [{"kind": "guarantee", "share": 0.3},
              {"kind": "guarantee", "share": 0.4, "claim_lag_months": 6},
              {"kind": "risk_compensation_fund", "share": 0.5, "per_loan_cap": 100.0,
               "claim_lag_months": 3},
              {"kind": "insurance", "share": 0.5, "insurer_default_probability": 0.2},
              {"kind": "re_guarantee", "guarantee": "guarantee_2", "share": 0.5}]  # fmt: skip
    loans = [defaulted_loan(id=f"N{i}", collateral_value=300.0 + 100.0 * i, participation=0.4,
                            annual_default_probability=0.5) for i in range(12)]  # fmt: skip
    res = simulate(loans, disposal={"method": "auction", "auction": auction, "buyer": buyer},
                   layers=layers, paths=300)  # fmt: skip
    p = res.pool_paths
    cash = res.raw.sample_collections
    assert (cash >= 0.0).all()
    np.testing.assert_allclose(
        cash.sum(axis=1) + p["loan_cash_after_legal_final"] + p["loan_net_loss"],
        400.0 * 12, rtol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        p["loan_recoveries"] + p["loan_gross_loss"], 400.0 * p["loan_defaults"], rtol=1e-12
    )
    np.testing.assert_allclose(p["co_lenders_gross_loss"], 1.5 * p["loan_gross_loss"], rtol=1e-12)
    paid = p[["guarantor_paid", "fund_paid", "insurer_paid", "reguarantor_paid"]].sum(axis=1)
    np.testing.assert_allclose(paid + p["loan_net_loss"], p["loan_gross_loss"], rtol=1e-12)
    assert (p["loan_cash_after_legal_final"] > 0).any() and (p["reguarantor_paid"] >= 0).all()


def test_a_co_lent_loan_s_interest_subsidy_spends_the_budget_of_the_whole_loan():
    """1,000 interest-only at 6% for two quarters (fractions a0, a1), the pool holding half. A
    subsidy of 25% of the interest plus 1% a year on the balance pays the whole loan 25 a each
    quarter, the pool half of it, 12.5 a. With a budget of 8 a year from closing, the whole loan
    uses 25 a0 (about 6.2) and then the 8 - 25 a0 left: the pool receives half of the 8, 4 (not
    12.5 (a0 + a1), about 6.2, as if the budget were its own)."""
    from test_loans import base_loan, grid
    from test_loss_sharing_mechanisms import subsidy_deal

    _, acc = grid()
    loan = base_loan(term_years=0.49, amortisation="interest_only", participation=0.5)
    subsidy = {"name": "district", "share_of_interest": 0.25, "rate": 0.01}
    res, p = subsidy_deal([loan], [subsidy])
    assert p["interest_subsidy_paid"] == pytest.approx(12.5 * (acc[0] + acc[1]), rel=1e-12)
    res, p = subsidy_deal([loan], [{**subsidy, "annual_budget": 8.0}])
    assert 25.0 * acc[0] < 8.0 < 25.0 * (acc[0] + acc[1])
    expected = np.zeros(8)
    expected[0] = 500.0 * 0.06 * acc[0] + 12.5 * acc[0]
    expected[1] = 500.0 + 500.0 * 0.06 * acc[1] + 0.5 * (8.0 - 25.0 * acc[0])
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    assert p["interest_subsidy_paid"] == pytest.approx(4.0, rel=1e-12)


def test_each_layer_s_part_of_a_transfer_price_keeps_the_insurer_s_default_draw():
    """A loan of 1m in default at closing (pledge 2m, haircut 60%: 0.8m at once), priced at 8%:
    loss L = 1m + the first quarter's interest - 0.8m, all paid in period 0 (no lags). Pro rata
    on L: a guarantee of 40%, an insurer of 30% that defaults with probability 50% a year (it
    pays on the paths where it survives to period 0), and a second guarantee of 10% that never
    defaults. With shares of the original loss none changes what the others pay, so the second
    guarantee's part of the price is exactly 0.1 L v(t0) on every path, whatever the insurer
    does; the insurer's default draw (its latent, after every guarantor's) must be the same in
    the runs that add the layers one by one."""
    from test_transfer import B, schedule, transfer_deal

    import ipabs

    _, t, accrual = schedule()
    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.4, "share_of": "original"},
        {"kind": "insurance", "name": "ins", "share": 0.3, "share_of": "original",
         "insurer_default_probability": 0.5},
        {"kind": "guarantee", "name": "g2", "share": 0.1, "share_of": "original"},
    ]  # fmt: skip
    r = ipabs.price(
        transfer_deal({"required_yield": 0.08}, loss_sharing=layers, defaulted=True,
                      disposal_haircut=0.6, disposal_lag_months=0), paths=400,
    )  # fmt: skip
    loss = B + B * 0.05 * accrual[0] - 0.8 * B
    by_layer = r.layer_support.set_index("layer")["amount"]
    assert by_layer["g"] == pytest.approx(0.4 * loss * 1.08 ** -t[0], rel=1e-10)
    assert by_layer["g2"] == pytest.approx(0.1 * loss * 1.08 ** -t[0], rel=1e-10)
    # the insurer survives period 0 (t0 years) with probability 0.5^t0, within 4 standard errors
    survive = 0.5 ** t[0]
    se = 0.3 * loss * 1.08 ** -t[0] * np.sqrt(survive * (1 - survive) / 400)
    assert abs(by_layer["ins"] - 0.3 * loss * 1.08 ** -t[0] * survive) < 4 * se


def test_a_fund_s_budget_binds_on_a_disposal_settling_decades_after_legal_final():
    """A monthly deal of 24 periods; a loan of 1,000 (rate 0) defaults in period 0 and its pledge
    of 800 is auctioned in 10 rounds, the first 120 months after default and one every 60 months
    (the limits): only round 10 sells, in period 120 + 9 x 60 = 660 (year 55 from closing), at
    800 x 0.7 x 0.8^9, all after legal final. A fund of 100% of the loss with an annual budget of
    100 pays then, at most its budget: 100, not the whole loss."""
    from test_disposal import CLOSING as closing

    from ipabs.calendar import add_months

    data = lease_deal_data()  # a small deal, re-dated below
    data["deal"] = {**data["deal"], "closing_date": closing, "payment_frequency": "monthly",
                    "legal_final_date": add_months(closing, 24)}  # fmt: skip
    data["loans"] = [defaulted_loan()]
    data["leases"] = []
    data["loss_sharing"] = [
        {"kind": "risk_compensation_fund", "share": 1.0, "annual_budget": 100.0}
    ]
    data["disposal"] = {"method": "auction", "auction": {
        "rounds": 10, "start_price": 0.7, "price_cut": 0.2, "sale_probability": [0.0] * 9 + [1.0],
        "months_to_first_round": 120, "months_between_rounds": 60}}  # fmt: skip
    p = ipabs.simulate(validate(data)).pool_paths.iloc[0]
    net = 800.0 * 0.7 * 0.8**9
    assert p["loan_recoveries"] == pytest.approx(net, rel=1e-12)
    assert p["fund_paid"] == pytest.approx(100.0, rel=1e-12)
    assert p["loan_net_loss"] == pytest.approx(1_000.0 - net - 100.0, rel=1e-12)
    assert p["loan_cash_after_legal_final"] == pytest.approx(net + 100.0, rel=1e-12)


def test_a_transfer_price_adds_up_with_seasoning_co_lending_subsidies_premiums_and_disposal():
    """A seasoned co-lent loan (the pool's 60%; interest last paid a month before closing) with a
    20% default probability, disposed of by a 收储 buyer paying instalments and able to default,
    shared by a lagged guarantee, an insurer that can default with a premium, and a fund; an
    interest subsidy. The decomposition's parts add up to the price, the layers' parts to the
    loss-sharing support, and the accrued interest is the pool's share of 1m x 5% x 31 / 365
    (ACT/365F, 15 Dec 2023 to 15 Jan 2024)."""
    import datetime as dt

    from test_transfer import B, transfer_data

    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.3, "claim_lag_months": 6,
         "guarantor_default_probability": 0.1},
        {"kind": "insurance", "name": "ins", "share": 0.5, "premium_rate": 0.01,
         "insurer_default_probability": 0.2},
        {"kind": "risk_compensation_fund", "name": "fund", "share": 0.5, "annual_budget": 5e4},
    ]  # fmt: skip
    data = transfer_data({"required_yield": 0.06}, layers, participation=0.6,
                         annual_default_probability=0.2, last_payment_date=dt.date(2023, 12, 15),
                         amortisation="interest_only")  # fmt: skip
    data["disposal"] = {"method": "buyout_operate", "buyer": {
        "payment": "instalments", "years": 2, "default_probability": 0.2}}  # fmt: skip
    data["interest_subsidies"] = [{"name": "s", "share_of_interest": 0.2}]
    data["simulation"] = {**data["simulation"], "paths": 200}
    r = ipabs.price(validate(data))
    assert r.accrued_interest == pytest.approx(0.6 * B * 0.05 * 31 / 365, rel=1e-12)
    assert r.par == pytest.approx(0.6 * B)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)
    assert parts["price"] == pytest.approx(r.price, rel=1e-12)
    support = parts["loss-sharing support (guarantee, risk compensation fund, insurance)"]
    assert r.layer_support["amount"].sum() == pytest.approx(support, rel=1e-12)
    assert parts["interest subsidies (贴息)"] > 0 and support > 0


def test_price_out_writes_each_layer_s_part(tmp_path):
    """`ipabs price --out` writes each layer's part of the price (price_layer_support.parquet),
    as the table and the JSON show it: the parts add up to the decomposition's support."""
    import pandas as pd
    from helpers import run_cli, write_scenario
    from test_transfer import transfer_data

    layers = [{"kind": "guarantee", "name": "g", "share": 0.4, "share_of": "original"},
              {"kind": "risk_compensation_fund", "name": "fund", "share": 0.3,
               "share_of": "original"}]  # fmt: skip
    data = transfer_data({"required_yield": 0.08}, layers, defaulted=True, disposal_haircut=0.6)
    data["simulation"] = {**data["simulation"], "paths": 8}
    proc = run_cli("price", write_scenario(tmp_path, data), "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(tmp_path / "out" / "price_layer_support.parquet")
    parts = pd.read_parquet(tmp_path / "out" / "price_decomposition.parquet")
    support = parts.set_index("component").loc[
        "loss-sharing support (guarantee, risk compensation fund, insurance)", "amount"
    ]
    assert list(table["layer"]) == ["g", "fund"]
    assert table["amount"].sum() == pytest.approx(support, rel=1e-12)


def test_an_interest_subsidy_is_paid_on_the_loans_not_on_leases_or_receivables():
    """A deal of a loan (1,000 interest-only at 6% for two quarters, 30/360: accruals of 0.25),
    a lease and a receivable, none defaulting, with a subsidy of 25% of the interest plus 1% a
    year on the balance: it is the loans' subsidy (3.8), 0.25 x 60 x 0.25 + 10 x 0.25 = 6.25 a
    quarter for the loan's two quarters, 12.5 in all; the lease's interest and the receivable's
    balance earn none."""
    loan = {"id": "N", "balance": 1_000.0, "rate": 0.06, "term_years": 0.49,
            "amortisation": "interest_only", "annual_default_probability": 0.0,
            "collateral_value": 0.0}  # fmt: skip
    data = lease_deal_data(leases=[lease()], receivables=[receivable()], loans=[loan],
                           interest_subsidies=[{"share_of_interest": 0.25, "rate": 0.01}])  # fmt: skip
    p = ipabs.simulate(validate(data)).pool_paths.iloc[0]
    assert p["interest_subsidy_paid"] == pytest.approx(2 * (0.25 * 60.0 + 10.0) * 0.25, rel=1e-12)


def test_a_re_guarantee_pays_the_lender_no_earlier_than_the_guarantor_was_due():
    """Loss 1,000 at default in period 0 (no recovery). The guarantee "g" of 60% has a claim lag
    of 6 months (due in period 2) and its guarantor has defaulted (PD 1); the re-guarantee of half
    of its obligation, without a lag of its own, pays the lender 0.5 x 600 = 300 when the
    guarantor fails to pay, in period 2, not at the loan's default."""
    from test_loans import base_loan, loan_deal
    from test_loss_sharing_mechanisms import DEFAULTED

    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.6, "guarantor_default_probability": 1.0,
         "claim_lag_months": 6},
        {"kind": "re_guarantee", "name": "national", "guarantee": "g", "share": 0.5},
    ]  # fmt: skip
    res = loan_deal([base_loan(**DEFAULTED)], layers=layers)
    expected = np.zeros(8)
    expected[2] = 300.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    p = res.pool_paths.iloc[0]
    assert (p["reguarantor_paid"], p["loan_net_loss"]) == pytest.approx((300.0, 700.0))
