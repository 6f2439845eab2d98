"""IP-pledged loans: repayment schedules by hand, default recoveries and loss-sharing by hand, the
Vasicek large-pool distribution, prepayment against the binomial, and bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, run_cli_in_process, small_deal, write_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import ndtri

import ipabs
from ipabs.calendar import add_months
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
QUIET = QUIET_ASSET


def loan_deal(
    loans,
    *,
    assets=(),
    layers=(),
    final=dt.date(2026, 1, 15),
    paths=3,
    seed=1,
    rates=None,
    freq="quarterly",
    subsidies=(),
):
    data = small_deal(
        deal={
            "name": "loans",
            "closing_date": CLOSING,
            "payment_frequency": freq,
            "legal_final_date": final,
        },
        simulation={
            "paths": paths,
            "seed": seed,
            "sample_paths": min(paths, 20_000),
            "block_size": 256,
        },
        factors={"names": ["m"]},
        licensees=[],
        assets=list(assets),
        loans=list(loans),
        loss_sharing=list(layers),
        interest_subsidies=list(subsidies),
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
        valuation={"discount_rate": 0.10},
    )
    if rates:
        data["rates"] = rates
    return ipabs.simulate(validate(data))


def base_loan(**kw):
    return {"id": "N", "balance": 1_000.0, "rate": 0.06, "term_years": 1.0, "annual_default_probability": 0.0,
            "collateral_value": 0.0, **kw}  # fmt: skip


def grid():
    dates = [add_months(CLOSING, 3 * n) for n in range(1, 9)]
    starts = [CLOSING, *dates[:-1]]
    accrual = np.array([(e - s).days / 365.0 for s, e in zip(starts, dates, strict=True)])
    return dates, accrual


def test_interest_only_bullet_level_and_custom_schedules_by_hand():
    _, acc = grid()
    res = loan_deal([base_loan(amortisation="interest_only")])
    expected = 1_000.0 * 0.06 * acc
    expected[3] += 1_000.0  # maturity one year in: the 4th quarterly date
    expected[4:] = 0.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)

    res = loan_deal([base_loan(amortisation="bullet")])
    expected = np.zeros(8)
    expected[3] = 1_000.0 * (1 + 0.06 * acc[:4].sum())
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)

    # level: equal payments of the annuity at 6%/4 over 4 quarters; interest on the actual days
    res = loan_deal([base_loan(amortisation="level")])
    i = 0.06 / 4
    payment = 1_000.0 * i / (1 - (1 + i) ** -4)
    balance, expected = 1_000.0, np.zeros(8)
    for k in range(4):
        principal = payment - balance * i if k < 3 else balance
        expected[k] = principal + balance * 0.06 * acc[k]
        balance -= principal
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)

    schedule = [
        {"date": dt.date(2024, 5, 1), "principal": 300.0},
        {"date": dt.date(2024, 10, 15), "principal": 200.0},
    ]
    res = loan_deal([base_loan(amortisation="custom", schedule=schedule)])
    # 1 May falls due on 15 July (the next payment date), 15 October on 15 October
    balance = np.array([1_000.0, 1_000.0, 700.0, 500.0])  # opening balances
    principal = np.array([0.0, 300.0, 200.0, 500.0])  # the rest at maturity
    expected = np.zeros(8)
    expected[:4] = balance * 0.06 * acc[:4] + principal
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_lpr_loans_reset_each_period():
    rates = {
        "lpr_1y": [
            {"date": dt.date(2023, 8, 21), "rate": 0.0345},
            {"date": dt.date(2024, 6, 20), "rate": 0.0335},
        ]
    }
    res = loan_deal([base_loan(rate=None, rate_type="lpr", spread=0.01)], rates=rates)
    _, acc = grid()
    # periods start 2024-01-15, 04-15, 07-15, 10-15: the cut on 2024-06-20 applies from July
    lpr = np.array([0.0345, 0.0345, 0.0335, 0.0335])
    expected = 1_000.0 * (lpr + 0.01) * acc[:4]
    expected[3] += 1_000.0
    np.testing.assert_allclose(res.raw.sample_collections[0][:4], expected, rtol=1e-12)


def test_renewal_rolls_the_principal_into_an_interest_only_loan():
    res = loan_deal([base_loan(amortisation="bullet", renewal_probability=1.0, term_years=0.5)])
    _, acc = grid()
    c = res.raw.sample_collections[0]
    # bullet to the first maturity (2 quarters): interest only, then renewed every 2 quarters
    np.testing.assert_allclose(c[1], 1_000.0 * 0.06 * acc[:2].sum(), rtol=1e-12)
    np.testing.assert_allclose(c[2:], 1_000.0 * 0.06 * acc[2:], rtol=1e-12)
    pool = res.pool_paths.iloc[0]
    assert pool["loans_renewed"] == 4 and pool["loan_balance_at_legal_final"] == pytest.approx(
        1_000.0
    )


def test_default_recovery_and_loss_sharing_by_hand():
    """PD 1: default in period 1. Exposure = 1,000 + interest; pledge 600 less a 25% haircut = 450,
    floor 500 -> proceeds 500; loss = exposure - 500, shared in order: guarantee 50%, then the
    fund 40% capped at 100, then insurance above a 10 deductible up to 30."""
    _, acc = grid()
    layers = [
        {"kind": "guarantee", "share": 0.5},
        {"kind": "risk_compensation_fund", "share": 0.4, "per_loan_cap": 100.0},
        {"kind": "insurance", "deductible": 10.0, "limit": 30.0},
    ]
    loan = base_loan(annual_default_probability=1.0, collateral_value=600.0, disposal_haircut=0.25,
                     buyout_floor=500.0, disposal_lag_months=6)  # fmt: skip
    res = loan_deal([loan], layers=layers)
    exposure = 1_000.0 + 1_000.0 * 0.06 * acc[0]
    loss = exposure - 500.0
    guarantor = 0.5 * loss
    fund = min(0.4 * (loss - guarantor), 100.0)
    insurer = min(max(loss - guarantor - fund - 10.0, 0.0), 30.0)
    net = loss - guarantor - fund - insurer
    pool = res.pool_paths.iloc[0]
    assert pool["loan_defaults"] == 1
    assert pool["loan_recoveries"] == pytest.approx(500.0)
    assert pool["loan_gross_loss"] == pytest.approx(loss)
    assert (pool["guarantor_paid"], pool["fund_paid"], pool["insurer_paid"]) == pytest.approx(
        (guarantor, fund, insurer)
    )
    assert pool["loan_net_loss"] == pytest.approx(net)
    c = res.raw.sample_collections[0]
    # the guarantor compensates at default: its loss share and half the recovery in advance
    assert c[0] == pytest.approx(guarantor + 0.5 * 500.0)
    # two quarters on: the other half of the proceeds, the fund and the insurer
    assert c[2] == pytest.approx(0.5 * 500.0 + fund + insurer)
    assert c[0] + c[2] == pytest.approx(exposure - net)
    assert np.count_nonzero(c) == 2


def test_fund_budget_runs_out_and_a_defaulted_guarantor_pays_nothing():
    loans = [base_loan(id=f"N{i}", annual_default_probability=1.0, rate=0.0) for i in range(5)]
    layers = [{"kind": "guarantee", "share": 0.5, "guarantor_default_probability": 1.0},
              {"kind": "risk_compensation_fund", "share": 0.5, "annual_budget": 1_200.0}]  # fmt: skip
    pool = loan_deal(loans, layers=layers).pool_paths.iloc[0]
    assert pool["guarantor_paid"] == 0.0  # the guarantor defaults in the first period, first
    assert pool["fund_paid"] == pytest.approx(1_200.0)  # 5 x 500 claimed, the year's budget paid
    assert pool["loan_net_loss"] == pytest.approx(5_000.0 - 1_200.0)


def test_pledged_asset_value_at_default_is_its_remaining_income_value():
    """A patent earning 100 a year for 5 more years, valued at 10%: at the first payment date
    (t1 years in) V = 100 (1 - 1.1^-(5 - t1)) / ln 1.1 (the model integrates monthly; 0.5%)."""
    _, acc = grid()
    t1 = acc[0]
    asset = {
        "id": "P",
        "type": "patent",
        "base_annual_income": 100.0,
        "remaining_legal_life_years": 5.0,
        **QUIET,
    }
    loan = base_loan(annual_default_probability=1.0, pledged_assets=["P"], collateral_value=None, disposal_haircut=0.2,
                     disposal_lag_months=0)  # fmt: skip
    res = loan_deal([loan], assets=[asset])
    value = 100.0 * (1 - 1.1 ** -(5 - t1)) / math.log(1.1)
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(0.8 * value, rel=5e-3)


def test_homogeneous_loan_pool_follows_the_vasicek_distribution():
    """2,000 loans, zero recovery, asset correlation 0.2, default probability 5% in the one period:
    the loss fraction's quantiles at 50/90/99% match the Vasicek large-pool quantile
    Phi((Phi^-1(p) + sqrt(rho) Phi^-1(a)) / sqrt(1 - rho)) within 4 standard errors of the
    empirical quantile plus 0.01 for the finite pool."""
    n, rho, q = 2_000, 0.2, 0.05
    dt_years = (dt.date(2024, 4, 15) - CLOSING).days / 365.0
    pd_annual = 1.0 - (1.0 - q) ** (1.0 / dt_years)
    loans = [base_loan(id=f"N{i}", rate=0.0, annual_default_probability=pd_annual, factor_loading=math.sqrt(rho),
                       term_years=5.0) for i in range(n)]  # fmt: skip
    res = loan_deal(loans, final=dt.date(2024, 4, 15), paths=10_000, seed=30)
    loss = res.pool_paths["loan_net_loss"].to_numpy() / (1_000.0 * n)
    sorted_loss = np.sort(loss)
    for a in (0.5, 0.9, 0.99):
        vasicek = stats.norm.cdf((ndtri(q) + math.sqrt(rho) * ndtri(a)) / math.sqrt(1 - rho))
        k = int(a * loss.size)
        half = 1.96 * math.sqrt(loss.size * a * (1 - a))
        se = (sorted_loss[min(int(k + half), loss.size - 1)] - sorted_loss[int(k - half)]) / (
            2 * 1.96
        )
        assert abs(np.quantile(loss, a) - vasicek) < 4 * se + 0.01, (
            a,
            np.quantile(loss, a),
            vasicek,
        )


def test_prepayments_match_the_binomial():
    """50 loans, annual prepayment rate 20%, no defaults, 2-year deal with 5-year loans: the number
    prepaid is Binomial(50, 1 - 0.8^T). Chi-square at significance 0.001."""
    loans = [base_loan(id=f"N{i}", prepayment_rate=0.2, term_years=5.0) for i in range(50)]
    res = loan_deal(loans, paths=10_000, seed=31)
    p = 1 - 0.8 ** res.deal.t_years[-1]
    counts = np.bincount(res.pool_paths["loans_prepaid"].to_numpy(), minlength=51)
    expected = stats.binom.pmf(np.arange(51), 50, p) * counts.sum()
    lo, hi = np.nonzero(expected >= 5)[0][[0, -1]]
    obs = np.concatenate([[counts[:lo].sum()], counts[lo : hi + 1], [counts[hi + 1 :].sum()]])
    exp = np.concatenate([[expected[:lo].sum()], expected[lo : hi + 1], [expected[hi + 1 :].sum()]])
    keep = exp > 0
    assert stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue > 0.001


@st.composite
def loan_pools(draw):
    n = draw(st.integers(1, 6))
    loans = [
        base_loan(
            id=f"N{i}", balance=draw(st.floats(100.0, 1e6)), rate=draw(st.floats(0.0, 0.1)),
            term_years=draw(st.floats(0.25, 3.0)), amortisation=draw(st.sampled_from(["bullet", "interest_only", "level"])),
            annual_default_probability=draw(st.floats(0.0, 0.9)), prepayment_rate=draw(st.floats(0.0, 0.5)),
            renewal_probability=draw(st.floats(0.0, 1.0)), collateral_value=draw(st.floats(0.0, 1e6)),
            disposal_haircut=draw(st.floats(0.0, 1.0)), disposal_lag_months=draw(st.integers(0, 30)),
            factor_loading=draw(st.floats(0.0, 0.9)),
        )
        for i in range(n)
    ]  # fmt: skip
    layers = [
        {"kind": "guarantee", "share": draw(st.floats(0, 1)), "guarantor_default_probability": draw(st.floats(0, 0.5))},
        {"kind": "risk_compensation_fund", "share": draw(st.floats(0, 1)), "per_loan_cap": draw(st.floats(0, 1e5)),
         "annual_budget": draw(st.floats(0, 3e5))},
        {"kind": "insurance", "deductible": draw(st.floats(0, 1e4)), "limit": draw(st.floats(0, 1e5))},
    ]  # fmt: skip
    return loans, draw(st.permutations(layers))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loan_pools())
def test_loss_is_fully_allocated_and_nothing_is_overpaid(pool):
    loans, layers = pool
    res = loan_deal(loans, layers=layers, paths=50, seed=3)
    p = res.pool_paths
    shared = p["guarantor_paid"] + p["fund_paid"] + p["insurer_paid"] + p["loan_net_loss"]
    np.testing.assert_allclose(shared, p["loan_gross_loss"], rtol=1e-9, atol=1e-6)
    for col in ("guarantor_paid", "fund_paid", "insurer_paid", "loan_net_loss", "loan_recoveries"):
        assert (p[col] >= -1e-9).all()
    # the deal never collects more than principal + the most interest the loans could pay
    most = sum(loan["balance"] * (1 + loan["rate"] * 2.5) for loan in loans)
    assert (p["collections"] + p["loan_cash_after_legal_final"] <= most * (1 + 1e-12) + 1e-6).all()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"rate": None}, "a fixed-rate loan needs its rate"),
        ({"rate": None, "rate_type": "lpr"}, "rates.lpr_1y: required key is missing"),
        (
            {"default_probability_curve": [0.02, 0.03]},
            "give annual_default_probability or default_probability_curve",
        ),
        ({"collateral_value": None, "pledged_assets": ["P9"]}, "no asset has this id"),
        ({"collateral_value": None}, "a loan needs pledged_assets, collateral_value or ltv"),
        ({"ltv": 0.3}, "give collateral_value or ltv, not both"),
        ({"amortisation": "custom"}, 'a schedule goes with amortisation = "custom"'),
        ({"disposal_haircut": 1.5}, "loans[0].disposal_haircut"),
    ],
)
def test_loan_errors(tmp_path, change, expected):
    loan = {k: v for k, v in {**base_loan(), **change}.items() if v is not None}
    data = small_deal(loans=[loan])
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr


def test_pledged_asset_cannot_pay_the_deal(tmp_path):
    loan = base_loan(pledged_assets=["P1"])
    del loan["collateral_value"]
    data = small_deal(loans=[loan])
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "a pledged asset's income belongs to its borrower" in " ".join(
        proc.stderr.split()
    )


def test_insurance_pays_only_for_covered_events_in_the_policy_period():
    """PD 1 defaults in period 1. A policy that starts after it pays nothing; one covering only
    defaults after the pledged IP was lost pays nothing while the patent lives, and everything
    (above the deductible) on exactly the paths where the patent was lost in that period."""
    asset = {
        "id": "P",
        "type": "patent",
        "base_annual_income": 100.0,
        "remaining_legal_life_years": 5.0,
        **QUIET,
    }
    loan = base_loan(
        annual_default_probability=1.0, rate=0.0, collateral_value=0.0, pledged_assets=["P"]
    )
    later = [{"kind": "insurance", "covered_from": dt.date(2024, 6, 1)}]
    assert loan_deal([loan], assets=[asset], layers=later).pool_paths["insurer_paid"].iloc[0] == 0.0
    ip_risk = [
        {"kind": "insurance", "covered_events": ["default_after_ip_lost"], "deductible": 100.0}
    ]
    assert (
        loan_deal([loan], assets=[asset], layers=ip_risk).pool_paths["insurer_paid"].iloc[0] == 0.0
    )
    # hazard 10/year: the right is invalidated in the first quarter on most paths, not all
    lost = {**asset, "invalidation_hazard": 10.0}
    p = loan_deal([loan], assets=[lost], layers=ip_risk, paths=400).pool_paths
    paid = p["insurer_paid"].to_numpy()
    assert set(np.unique(paid)) <= {0.0, 900.0}
    assert np.all(p["ip_rights_lost"].to_numpy()[paid > 0] == 1), (
        "pays only where the right was lost"
    )
    # ... and it must have been lost by the default, in the first quarter: P = 1 - e^(-10 dt1)
    _, acc = grid()
    q = -math.expm1(-10.0 * acc[0])
    assert abs((paid > 0).mean() - q) < 4 * math.sqrt(q * (1 - q) / paid.size)
    anytime = [
        {"kind": "insurance", "covered_until": dt.date(2024, 3, 1)}
    ]  # the default falls in it
    assert loan_deal([loan], assets=[asset], layers=anytime).pool_paths["insurer_paid"].iloc[
        0
    ] == pytest.approx(1_000.0)
