"""A typical 专项计划 waterfall written in TOML from the format reference (docs/model.md, 4.9):
taxes (税费) → senior fees → senior interest → defaulted principal cured → revenue left to the
principal account → senior principal → subordinated principal → residual. A riskless loan pool,
so every path is the hand-worked schedule; then a defaulting pool, whose principal deficiency
ledger and accounts are checked against their definitions on every path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import ipabs
from ipabs.calendar import payment_dates
from ipabs.scenario.model import Deal

VAT, SURCHARGE = 0.03, 0.12
TAX_RATE = VAT / (1 + VAT) * (1 + SURCHARGE)

DEAL = """\
format_version = 1

[deal]
name = "Zhuanxiang test plan"
closing_date = 2024-01-15
payment_frequency = "quarterly"
legal_final_date = 2025-01-15

[simulation]
paths = {paths}
seed = 7
sample_paths = {paths}

[pricing]
discount_rate = 0.04

[tax]                      # 财税〔2017〕56号: 3% simplified VAT, surcharges 12% of the VAT
base = "income"

[accounts]
collections = "revenue_and_principal"
recoveries = "principal"

[fees]
fixed_per_year = 100_000

[[loss_sharing]]
kind = "guarantee"
share = {guarantee}
guarantor_default_probability = 0.0

[[tranches]]
name = "senior"
balance = 90_000_000
coupon = 0.04
rank = 1
day_count = "{senior_dc}"

[[tranches]]
name = "sub"
balance = 10_000_000
rank = 2

[[loans]]
id = "L1"
balance = 60_000_000
rate = 0.06
day_count = "{loan_dc}"
term_years = 1.0
annual_default_probability = {pd}
collateral_value = 30_000_000
disposal_haircut = 0.5
disposal_lag_months = 3

[[loans]]
id = "L2"
balance = 40_000_000
rate = 0.06
day_count = "{loan_dc}"
term_years = 1.0
annual_default_probability = {pd}
collateral_value = 20_000_000
disposal_haircut = 0.5
disposal_lag_months = 3

[waterfall]
normal = [
  {{ action = "pay_fee", fees = ["tax"], cover_from = ["principal"] }},
  {{ action = "pay_fee", fees = ["senior"], cover_from = ["principal"] }},
  {{ action = "pay_interest", classes = ["senior"], cover_from = ["principal"] }},
  {{ action = "transfer", amount = "principal_deficiency" }},
  {{ action = "transfer" }},
  {{ action = "pay_principal", classes = ["senior"], account = "principal" }},
  {{ action = "pay_principal", classes = ["sub"], account = "principal" }},
  {{ action = "pay_residual", account = "principal" }},
]
"""


def scenario(tmp_path, *, paths=64, pd=0.0, guarantee=0.0, loan_dc="ACT/365F", senior_dc="ACT/365F"):  # fmt: skip
    path = tmp_path / "plan.toml"
    text = DEAL.format(
        paths=paths, pd=pd, guarantee=guarantee, loan_dc=loan_dc, senior_dc=senior_dc
    )
    path.write_text(text, encoding="utf-8")
    return ipabs.load(path)


def hand_worked(loan_days=365, senior_days=365):
    """The riskless plan period by period: interest on 100m at 6%, the tax on it, the fee, the
    senior interest; what revenue has left moves to the principal account and repays the senior
    class; the loans' 100m of principal arrives at the fourth payment date."""
    deal = Deal(name="x", closing_date=dt.date(2024, 1, 15), legal_final_date=dt.date(2025, 1, 15))
    dates = payment_dates(deal)
    starts = [deal.closing_date, *dates[:-1]]
    senior, sub = 90e6, 10e6
    rows = []
    for k, (s, e) in enumerate(zip(starts, dates, strict=True)):
        days = (e - s).days
        income = 100e6 * 0.06 * days / loan_days  # loans: the annual rate / 360 a day, or 365
        tax = income * TAX_RATE
        fee = 100_000 * days / 365  # fees in the deal's day count (ACT/365F)
        interest = senior * 0.04 * days / senior_days
        principal_cash = income - tax - fee - interest + (100e6 if k == len(dates) - 1 else 0.0)
        pay_senior = min(principal_cash, senior)
        senior -= pay_senior
        pay_sub = min(principal_cash - pay_senior, sub)
        sub -= pay_sub
        rows.append((income, tax, fee, interest, pay_senior, pay_sub, principal_cash - pay_senior - pay_sub))  # fmt: skip
    return np.array(rows)


@pytest.mark.parametrize(
    ("loan_dc", "senior_dc"),
    [("ACT/365F", "ACT/365F"), ("ACT/360", "ACT/365F"), ("ACT/365F", "ACT/360")],
)
def test_riskless_plan_pays_the_hand_worked_schedule_on_every_path(tmp_path, loan_dc, senior_dc):
    # the loans' and the senior class's day counts are their own (docs/model.md 1, 4.9)
    res = ipabs.simulate(scenario(tmp_path, loan_dc=loan_dc, senior_dc=senior_dc), threads=1)
    expected = hand_worked(int(loan_dc[4:7]), int(senior_dc[4:7]))
    _, tax, fee, interest, pay_senior, pay_sub, residual = expected.sum(axis=0)
    assert pay_senior == pytest.approx(90e6) and pay_sub == pytest.approx(10e6)
    paths = res.paths
    senior = paths[paths["tranche"] == "senior"]
    sub = paths[paths["tranche"] == "sub"]
    np.testing.assert_allclose(senior["interest_received"], interest, rtol=1e-12)
    np.testing.assert_allclose(senior["principal_received"], 90e6, rtol=1e-12)
    np.testing.assert_allclose(sub["principal_received"], 10e6, rtol=1e-12)
    np.testing.assert_allclose(sub["residual_received"], residual, rtol=1e-9)
    np.testing.assert_allclose(res.pool_paths["fees_paid"], tax + fee, rtol=1e-12)
    np.testing.assert_allclose(res.pool_paths["principal_account_in"], 100e6, rtol=1e-12)
    # per period, from the statement: the tax is 3% VAT in the price plus 12% surcharges
    flows = res.cash_flows
    np.testing.assert_allclose(flows["fee_tax"], expected[:, 1], rtol=1e-12)
    np.testing.assert_allclose(flows["fee_senior"], expected[:, 2], rtol=1e-12)
    np.testing.assert_allclose(flows["principal_senior"], expected[:, 4], rtol=1e-9, atol=1e-6)
    # the senior class is repaid early by the revenue moved to the principal account
    assert (flows["principal_senior"].to_numpy()[:-1] > 0).all()


def test_defaulting_plan_conserves_cash_and_keeps_the_ledger(tmp_path):
    res = ipabs.simulate(scenario(tmp_path, paths=400, pd=0.3), threads=1)
    check = res.cash_check()
    assert check["difference"].abs().max() <= 1e-6 * 100e6
    pool = res.pool_paths
    assert (pool["loan_defaults"] > 0).any()
    assert (pool["principal_deficiency"] >= 0).all()
    periods = res.periods
    assert (periods["pdl_p05"] >= 0).all() and "pdl_mean" in periods
    # the principal account received principal and the recoveries only: at most the loans'
    # principal plus what was recovered (interest included)
    assert (pool["principal_account_in"] <= 100e6 + pool["loan_recoveries"] + 1e-6).all()


def test_a_full_guarantee_keeps_the_ledger_empty(tmp_path):
    """The guarantor pays each loss at default into the principal account, so defaulted
    principal is made good at once and nothing is left to cure."""
    res = ipabs.simulate(scenario(tmp_path, paths=200, pd=0.3, guarantee=1.0), threads=1)
    assert (res.pool_paths["loan_defaults"] > 0).any()
    np.testing.assert_allclose(res.periods["pdl_mean"], 0.0, atol=1e-6)
    senior = res.paths[res.paths["tranche"] == "senior"]
    np.testing.assert_allclose(senior["principal_loss"], 0.0, atol=1e-6)


def test_the_plan_reads_as_written_in_the_format_reference():
    reference = open("docs/scenario-format.md", encoding="utf-8").read()
    for key in ("[tax]", "[accounts]", "transfer", "principal_deficiency", "target_next_period"):
        assert key in reference, key
