"""Credit-asset transfer pricing against hand-computed present values: a riskless loan, a loan in
default priced from its pledge, an income-right servicing fee; the price-yield inverse; the
decomposition adding up; the CLI; bad input."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from helpers import run_cli, small_deal, write_scenario

import ipabs
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
B = 1_000_000.0


def transfer_data(transfer, loss_sharing=(), **loan):
    """A one-loan transfer scenario as TOML data: no tranches or pricing (the buyer class and the
    discount rate are supplied by the loader)."""
    data = small_deal(
        factors={"names": ["m"]},
        licensees=[],
        assets=[
            {
                "id": "P1",
                "type": "patent",
                "remaining_legal_life_years": 15.0,
                "base_annual_income": 100_000.0,
            }
        ],
        loans=[
            {
                "id": "L1",
                "balance": B,
                "rate": 0.05,
                "term_years": 2.0,
                "annual_default_probability": 0.0,
                "ltv": 0.5,
                "pledged_assets": ["P1"],
                **loan,
            }
        ],
        simulation={"paths": 50, "seed": 1, "block_size": 16},
    )
    for key in ("tranches", "pricing", "fees", "reserve"):
        data.pop(key)
    if transfer is not None:
        data["transfer"] = transfer
    if loss_sharing:
        data["loss_sharing"] = list(loss_sharing)
    return data


def transfer_deal(transfer, loss_sharing=(), **loan):
    return validate(transfer_data(transfer, loss_sharing, **loan))


def schedule():
    """Quarterly payment dates to legal final and their ACT/365F times and accruals."""
    dates, y, m = [], CLOSING.year, CLOSING.month
    for _ in range(12):
        m += 3
        y, m = (y + 1, m - 12) if m > 12 else (y, m)
        dates.append(dt.date(y, m, 15))
    t = np.array([(d - CLOSING).days / 365.0 for d in dates])
    return dates, t, np.diff(np.concatenate([[0.0], t]))


def riskless_cash_flows():
    """Interest-only 5% for two years: interest each quarter, principal on the first payment
    date on or after closing + 730 days (2026-01-15)."""
    dates, t, accrual = schedule()
    cash = B * 0.05 * accrual
    maturity = dates.index(dt.date(2026, 1, 15))
    cash[maturity] += B
    cash[maturity + 1 :] = 0.0
    return t, cash


def test_riskless_loan_price_is_its_cash_flows_present_value():
    t, cash = riskless_cash_flows()
    r = ipabs.price(transfer_deal({"required_yield": 0.06}))
    expected = float(cash @ (1.06**-t))
    assert r.price == pytest.approx(expected, rel=1e-12)
    assert r.price_se == pytest.approx(0.0, abs=1e-6)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts["expected credit loss"] == pytest.approx(0.0, abs=1e-6)
    assert parts["price"] == pytest.approx(r.price, rel=1e-12)


def test_yield_for_a_price_inverts_the_price_for_a_yield():
    t, cash = riskless_cash_flows()
    at_6 = float(cash @ (1.06**-t)) / B
    r = ipabs.price(transfer_deal({"price": at_6}))
    assert r.yield_ == pytest.approx(0.06, abs=1e-9)


def test_defaulted_loan_is_worth_its_pledge_less_haircut_after_the_lag():
    # pledge 1m / 0.5 = 2m, haircut 60%: proceeds 0.8m < exposure, paid two quarters after the
    # first payment date (a 6-month lag is 2 quarterly periods)
    _, t, _ = schedule()
    r = ipabs.price(
        transfer_deal(
            {"required_yield": 0.08}, defaulted=True, disposal_haircut=0.6, disposal_lag_months=6
        )
    )
    assert r.price == pytest.approx(0.8 * B * 1.08 ** -t[2], rel=1e-12)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)
    assert parts["expected credit loss"] < 0


def test_income_right_servicing_fee_and_seller_loss_share():
    t, cash = riskless_cash_flows()
    _, _, accrual = schedule()
    performing = np.where(t <= t[7] + 1e-12, B, 0.0)  # balance at each period's start
    fee = 0.01 * performing * accrual
    r = ipabs.price(
        transfer_deal({"form": "income_right", "required_yield": 0.06, "servicing_fee": 0.01})
    )
    assert r.price == pytest.approx(float((cash - fee) @ (1.06**-t)), rel=1e-10)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts["servicing kept by the seller"] == pytest.approx(
        -float(fee @ (1.06**-t)), rel=1e-10
    )
    # a certain default: the seller's 30% share of the loss comes back to the buyer at default
    d = ipabs.price(
        transfer_deal(
            {
                "form": "income_right",
                "required_yield": 0.06,
                "seller_risk_share": 0.3,
                "allow_seller_risk_share": True,  # against 82号文: priced for comparison
            },
            defaulted=True,
            disposal_haircut=0.6,
            disposal_lag_months=0,
        )
    )
    exposure = B + B * 0.05 * accrual[0]
    loss = exposure - 0.8 * B
    expected = 0.8 * B * 1.06 ** -t[0] + 0.3 * loss * 1.06 ** -t[0]
    assert d.price == pytest.approx(expected, rel=1e-12)


def test_decomposition_adds_up_on_a_risky_pool_with_a_guarantee():
    sc = transfer_deal(
        {"required_yield": 0.06},
        loss_sharing=[{"kind": "guarantee", "share": 0.5}],
        annual_default_probability=0.2,
        disposal_haircut=0.7,
    )
    r = ipabs.price(sc, paths=400)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)
    support = parts["loss-sharing support (guarantee, risk compensation fund, insurance)"]
    assert parts["expected credit loss"] < 0 < support
    q = r.distribution.set_index("quantile")
    assert q.loc[0.01, "pv"] <= q.loc[0.5, "pv"] <= q.loc[0.99, "pv"]
    assert q.loc[0.99, "buyer_loss"] >= 0


def test_price_from_the_cli(tmp_path):
    data = transfer_data({"required_yield": 0.06})
    data["simulation"]["paths"] = 20
    path = write_scenario(tmp_path, data)
    proc = run_cli("price", path, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    t, cash = riskless_cash_flows()
    assert out["price"] == pytest.approx(float(cash @ (1.06**-t)), rel=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deal.toml"]


@pytest.mark.parametrize(
    ("transfer", "expected"),
    [
        (
            {"required_yield": 0.06, "price": 0.98},
            "give exactly one of required_yield, curve or price",
        ),
        (
            {"required_yield": 0.06, "servicing_fee": 0.01},
            "transfer.servicing_fee = 0.01: only an income_right transfer has it",
        ),
        (
            {"curve": [{"tenor_years": 2.0, "rate": 0.03}, {"tenor_years": 1.0, "rate": 0.02}]},
            "transfer.curve = [2.0, 1.0]: tenors must increase",
        ),
        ({"required_yield": 0.06, "form": "sale"}, "transfer.form"),
    ],
)
def test_bad_transfer_input(tmp_path, transfer, expected):
    from test_bad_input import _run_bad

    data = transfer_data(transfer)
    message, _ = _run_bad(tmp_path, data)
    assert expected in message, message


def test_monte_carlo_price_of_a_one_period_loan_matches_the_binomial_closed_form():
    # a three-month loan: it defaults in its only period with q = 1 - (1 - 20%)^(0.249...), else
    # repays principal and interest; at default the pledge (2m, 70% haircut) recovers 0.6m at once
    _, t, accrual = schedule()
    p_annual, n = 0.2, 4000
    sc = transfer_deal(
        {"required_yield": 0.06},
        term_years=0.25,
        annual_default_probability=p_annual,
        disposal_haircut=0.7,
        disposal_lag_months=0,
    )
    r = ipabs.price(sc, paths=n, seed=11)
    q = 1 - (1 - p_annual) ** t[0]
    repaid = B * (1 + 0.05 * accrual[0])
    recovered = 0.6 * B
    df = 1.06 ** -t[0]
    expected = df * ((1 - q) * repaid + q * recovered)
    se = df * abs(repaid - recovered) * np.sqrt(q * (1 - q) / n)
    assert abs(r.price - expected) < 4 * se
    assert r.price_se == pytest.approx(se, rel=0.15)


def test_price_without_a_transfer_table_exits_2(tmp_path):
    path = write_scenario(tmp_path, small_deal())
    proc = run_cli("price", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "the scenario has no [transfer] table" in " ".join(proc.stderr.split())
