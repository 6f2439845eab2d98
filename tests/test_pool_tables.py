"""The pool as the report shows it, from the scenario's inputs: stratification tables, the largest
obligors and the key assumptions with their sources. Hand-worked on small deals; invariants on
the shipped Beijing scenarios."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import pytest
from helpers import QUIET_ASSET, REPO, small_deal

import ipabs
from ipabs.report.assumptions import key_assumptions
from ipabs.report.pool_tables import strata, top_obligors
from ipabs.scenario.load import validate

LICENCE_TABLES = {"income_by_ip_type", "income_by_licensee", "income_by_factor"}
LOAN_TABLES = {
    "loans_by_ip_type",
    "loans_by_borrower",
    "loans_by_factor",
    "loans_by_rate",
    "loans_by_ltv",
}
BEIJING = sorted(
    p
    for p in (REPO / "scenarios").glob("*.toml")
    if p.stem.startswith(("beijing_", "zgc_", "nanshan_"))
)
VALUATION_RATE = 0.10


def _pledged(asset_id: str, ip_type: str, income: float, **kw) -> dict:
    """A pledged right with deterministic income and a three-year economic life, so that its
    value at closing is income * a(3), a(3) the three-year continuous annuity at 10%."""
    return {
        "id": asset_id,
        "type": ip_type,
        "base_annual_income": income,
        "remaining_legal_life_years": 5,
        "economic_life_years": 3,
        **QUIET_ASSET,
        **kw,
    }


def loan_pool(**extra) -> dict:
    """Three loans: A (4m, fixed 5.5%, pledging a patent and a trademark of equal income), B (8m,
    LPR 3.0% + 1.2%, pledging a patent with three times the trademark's income) and C (2m, fixed
    6%, a given pledge valuation of 4m, a default-probability curve)."""
    return small_deal(
        licensees=[],
        assets=[
            _pledged("PA", "patent", 1_000_000),
            _pledged("TA", "trademark", 1_000_000),
            _pledged("PB", "patent", 3_000_000),
            _pledged("TB", "trademark", 1_000_000),
        ],
        loans=[
            {
                "id": "A",
                "balance": 4_000_000,
                "rate": 0.055,
                "term_years": 2.0,
                "annual_default_probability": 0.02,
                "pledged_assets": ["PA", "TA"],
                "factor": "media",
                "factor_loading": 0.3,
            },
            {
                "id": "B",
                "balance": 8_000_000,
                "rate_type": "lpr",
                "spread": 0.012,
                "term_years": 3.0,
                "annual_default_probability": 0.05,
                "pledged_assets": ["PB", "TB"],
                "disposal_haircut": 0.7,
                "factor_loading": 0.4,
            },
            {
                "id": "C",
                "balance": 2_000_000,
                "rate": 0.06,
                "term_years": 1.0,
                "default_probability_curve": [0.02, 0.04],
                "collateral_value": 4_000_000,
                "factor": "tech",
                "disposal_lag_months": 18,
            },
        ],
        rates={"lpr_1y": [{"date": dt.date(2023, 8, 21), "rate": 0.03}]},
        valuation={"discount_rate": VALUATION_RATE},
        **extra,
    )


def annuity(years: float, rate: float) -> float:
    """Present value of 1 a year paid continuously for `years` at annual rate `rate`."""
    return (1 - (1 + rate) ** -years) / math.log(1 + rate)


def rows_by(frame: pd.DataFrame, key: str) -> dict:
    return {r[key]: r for r in frame.to_dict("records")}


# ---------------------------------------------------------------------------------------------
# a licence pool: small_deal's 4 assets (P1 4m, P2 2m patents of L1; C1 3m copyright of L2;
# T1 1.5m trademark of L3), 10.5m a year


def test_licence_pool_strata_by_hand():
    tables = strata(validate(small_deal()))
    assert set(tables) == LICENCE_TABLES
    by_type = tables["income_by_ip_type"]
    assert list(by_type["ip_type"]) == ["patent", "copyright", "trademark"]
    assert list(by_type["assets"]) == [2, 1, 1]
    assert list(by_type["base_annual_income"]) == [6e6, 3e6, 1.5e6]
    assert by_type["share"].tolist() == pytest.approx([6 / 10.5, 3 / 10.5, 1.5 / 10.5])
    by_licensee = tables["income_by_licensee"]
    assert list(by_licensee["obligor"]) == ["L1", "L2", "L3"]
    assert list(by_licensee["assets"]) == [2, 1, 1]
    # L3 gives no factor, so its default loads on the first one, tech: 4m + 2m + 1.5m
    by_factor = rows_by(tables["income_by_factor"], "factor")
    assert by_factor["tech"]["obligors"] == 2 and by_factor["tech"]["base_annual_income"] == 7.5e6
    assert by_factor["media"]["share"] == pytest.approx(3 / 10.5)


def test_licence_pool_top_obligors_by_hand():
    top = top_obligors(validate(small_deal()))
    assert list(top.columns) == [
        "obligor", "base_annual_income", "share", "annual_default_probability", "factor"
    ]  # fmt: skip
    assert list(top["obligor"]) == ["L1", "L2", "L3"]
    assert list(top["annual_default_probability"]) == [0.05, 0.03, 0.08]
    assert list(top["factor"]) == ["tech", "media", "tech"]
    assert len(top_obligors(validate(small_deal()), n=2)) == 2
    with pytest.raises(ValueError, match="at least 1"):
        top_obligors(validate(small_deal()), n=0)


# ---------------------------------------------------------------------------------------------
# a loan pool


def test_loan_pool_has_loan_tables_only():
    tables = strata(validate(loan_pool()))
    assert set(tables) == LOAN_TABLES
    for frame in tables.values():
        assert "base_annual_income" not in frame.columns


def test_loan_pool_ip_types_split_each_loan_by_its_pledges_values():
    """Two rights of equal income and life are worth the same, whatever their type: A's 4m is
    half patent, half trademark; B's patent earns three times its trademark, so B's 8m is 6m
    patent, 2m trademark; C names no right (a given valuation)."""
    by_type = rows_by(strata(validate(loan_pool()))["loans_by_ip_type"], "ip_type")
    assert by_type["patent"]["balance"] == pytest.approx(8e6, rel=1e-12)
    assert by_type["trademark"]["balance"] == pytest.approx(4e6, rel=1e-12)
    assert by_type["unspecified"]["balance"] == 2e6
    assert [by_type[t]["assets"] for t in ("patent", "trademark", "unspecified")] == [2, 2, 0]
    assert by_type["patent"]["share"] == pytest.approx(8 / 14)


def test_loan_pool_borrowers_factors_and_rate_bands_by_hand():
    tables = strata(validate(loan_pool()))
    borrowers = tables["loans_by_borrower"]
    assert list(borrowers["obligor"]) == ["B", "A", "C"]
    assert list(borrowers["pledged_assets"]) == [2, 2, 0]
    assert borrowers["share"].tolist() == pytest.approx([8 / 14, 4 / 14, 2 / 14])
    factors = rows_by(tables["loans_by_factor"], "factor")  # B has none: the first, tech
    assert (factors["tech"]["obligors"], factors["tech"]["balance"]) == (2, 10e6)
    assert (factors["media"]["obligors"], factors["media"]["balance"]) == (1, 4e6)
    # rates at closing: A 5.5%, B 3.0% + 1.2% = 4.2%, C 6% (the lower edge of its band)
    rates = tables["loans_by_rate"]
    assert rates["rate_from"].tolist() == pytest.approx([0.04, 0.05, 0.06])
    assert rates["rate_to"].tolist() == pytest.approx([0.05, 0.06, 0.07])
    assert list(rates["balance"]) == [8e6, 4e6, 2e6]


def test_loan_pool_ltv_bands_from_the_income_method_value():
    """A pledges 2m a year for 3 years, B 4m: worth 2m * a(3) and 4m * a(3) at 10% (about
    5.2m and 10.4m), so both lend about 0.77 of value; C lends 2m on a given 4m: 0.5."""
    value = annuity(3, VALUATION_RATE)
    assert 0.6 < 4 / (2 * value) < 0.8 and 0.6 < 8 / (4 * value) < 0.8  # not near a band edge
    ltv = strata(validate(loan_pool()))["loans_by_ltv"]
    assert ltv[["ltv_from", "ltv_to"]].values.tolist() == [[0.4, 0.6], [0.6, 0.8]]
    assert list(ltv["loans"]) == [1, 2] and list(ltv["balance"]) == [2e6, 12e6]


def test_loan_pool_top_obligors_take_a_curves_first_year():
    top = top_obligors(validate(loan_pool()))
    assert list(top.columns) == [
        "obligor",
        "balance",
        "share",
        "annual_default_probability",
        "factor",
    ]
    assert list(top["obligor"]) == ["B", "A", "C"]
    assert list(top["annual_default_probability"]) == [0.05, 0.02, 0.02]
    assert list(top["factor"]) == ["tech", "media", "tech"]


def test_a_combined_pool_has_both_sets_and_ranks_obligors_by_their_pools_share():
    data = small_deal()
    data["assets"].append(_pledged("PX", "patent", 500_000))
    data["loans"] = [
        {"id": "X", "balance": 1_000_000, "rate": 0.05, "term_years": 1.0,
         "annual_default_probability": 0.1, "pledged_assets": ["PX"]},
    ]  # fmt: skip
    sc = validate(data)
    tables = strata(sc)
    assert set(tables) == LICENCE_TABLES | LOAN_TABLES
    # the pledged right is not licence income
    assert tables["income_by_ip_type"]["base_annual_income"].sum() == 10.5e6
    top = top_obligors(sc)
    assert list(top["obligor"]) == ["X", "L1", "L2", "L3"]  # X is all of its pool
    assert math.isnan(top.loc[0, "base_annual_income"]) and top.loc[0, "balance"] == 1e6
    assert math.isnan(top.loc[1, "balance"]) and top.loc[1, "base_annual_income"] == 6e6


# ---------------------------------------------------------------------------------------------
# invariants on the shipped scenarios


@pytest.mark.parametrize("path", BEIJING, ids=lambda p: p.stem)
def test_strata_of_shipped_scenarios_add_up_to_the_pool(path):
    sc = ipabs.load(path)
    income = sum(a.base_annual_income for a in sc.assets if a.licensee)
    balance = sum(x.balance for x in sc.loans)
    tables = strata(sc)
    assert tables
    for name, frame in tables.items():
        assert len(frame) and "total" not in frame.iloc[:, 0].astype(str).str.lower().tolist()
        assert frame["share"].sum() == pytest.approx(1.0, rel=1e-12), name
        assert all(re.fullmatch(r"[a-z_]+", c) for c in frame.columns), name
        amount = "balance" if name.startswith("loans") else "base_annual_income"
        assert frame[amount].sum() == pytest.approx(balance if amount == "balance" else income)
        for column in frame.columns[1:]:
            assert pd.api.types.is_numeric_dtype(frame[column]), (name, column)
        if name.endswith(("ip_type", "factor", "borrower", "licensee")):
            assert frame[amount].is_monotonic_decreasing, name
        else:  # bands run in order
            assert frame.iloc[:, 0].is_monotonic_increasing, name


@pytest.mark.parametrize("path", BEIJING, ids=lambda p: p.stem)
def test_top_obligors_of_shipped_scenarios_are_the_largest_ten(path):
    sc = ipabs.load(path)
    top = top_obligors(sc)
    obligors = len(sc.loans) + (len(sc.licensees) if any(a.licensee for a in sc.assets) else 0)
    assert len(top) == min(10, obligors)
    assert top["share"].is_monotonic_decreasing
    table = next(t for n, t in strata(sc).items() if n.endswith(("licensee", "borrower")))
    assert top["share"].tolist() == table["share"].head(10).tolist()


# ---------------------------------------------------------------------------------------------
# key assumptions


def by_key(sc) -> dict:
    rows = key_assumptions(sc)
    assert len({r.key for r in rows}) == len(rows)
    return {r.key: r for r in rows}


def test_licence_pool_key_assumptions_with_their_sources():
    sc = validate(
        small_deal(
            sources={
                "licensees[*].annual_default_probability": "ILLUSTRATIVE: unrated SMEs",
                "assets[type=patent].volatility": "patent royalty study",
                "assets": "licence contracts",
                "fees": "trustee's fee letter",
            }
        )
    )
    rows = by_key(sc)
    assert not [k for k in rows if k.startswith(("loans", "loss_sharing", "rates"))]
    pd_row = rows["licensees[*].annual_default_probability"]
    assert (pd_row.value_min, pd_row.value_max, pd_row.items) == (0.03, 0.08, 3)
    assert pd_row.unit == "pct_per_year" and pd_row.source == "ILLUSTRATIVE: unrated SMEs"
    # L3 gives no recovery rate: the schema's default, 0
    rec = rows["licensees[*].recovery_rate"]
    assert (rec.value_min, rec.value_max, rec.source) == (0.0, 0.3, None)
    # the trademark's volatility is its type's default, 0.15; the patents' source is their own
    vol = rows["assets[*].volatility"]
    assert (vol.value_min, vol.value_max, vol.items, vol.unit) == (0.1, 0.3, 4, "pct")
    assert vol.source == "patent royalty study; licence contracts"
    income = rows["assets[*].base_annual_income"]
    assert (income.value_min, income.value_max, income.unit) == (1.5e6, 4e6, "amount")
    # only P1 has a licence term
    term = rows["assets[*].licence_term_years"]
    assert (term.value_min, term.value_max, term.items, term.unit) == (3, 3, 1, "years")
    corr = rows["factors.correlation"]
    assert (corr.value_min, corr.value_max, corr.items) == (0.3, 0.3, 1)
    copula = rows["factors.copula"]
    assert copula.text == "Gaussian" and copula.unit is None and math.isnan(copula.value_min)
    assert "factors.degrees_of_freedom" not in rows
    assert rows["fees.fixed_per_year"].value_max == 100_000
    assert rows["fees.fixed_per_year"].source == "trustee's fee letter"
    assert rows["reserve.initial_balance"].value_max == 300_000
    assert rows["pricing.discount_rate"].value_max == 0.035
    assert (rows["simulation.seed"].value_max, rows["simulation.paths"].value_max) == (7, 200)
    assert "credit_support[*].provider_default_probability" not in rows  # the deal has none


def test_loan_pool_key_assumptions():
    layers = [
        {"kind": "guarantee", "share": 0.6, "guarantor_default_probability": 0.003},
        {"kind": "risk_compensation_fund", "share": 0.4, "per_loan_cap": 500_000},
    ]
    sources = {
        "loans[*].disposal_haircut": "bank's disposal record",
        "loans[id=B]": "loan file B",
        "rates.lpr_1y": "PBOC announcement",
    }
    rows = by_key(validate(loan_pool(loss_sharing=layers, sources=sources)))
    assert not [k for k in rows if k.startswith("licensees")]
    assert "assets[*].base_annual_income" not in rows  # no licence income
    assert "assets[*].licence_term_years" not in rows
    bal = rows["loans[*].balance"]
    assert (bal.value_min, bal.value_max, bal.items, bal.unit) == (2e6, 8e6, 3, "amount")
    assert rows["loans[*].annual_default_probability"].items == 2  # C has a curve instead
    curve = rows["loans[*].default_probability_curve"]
    assert (curve.value_min, curve.value_max, curve.items) == (0.02, 0.04, 1)
    # the fixed rates are A's and C's; B floats: its spread, and the LPR, have their own rows
    fixed = rows["loans[*].rate"]
    assert (fixed.value_min, fixed.value_max, fixed.items) == (0.055, 0.06, 2)
    spread = rows["loans[*].spread"]
    assert (spread.value_max, spread.items, spread.source) == (0.012, 1, "loan file B")
    assert rows["rates.lpr_1y"].value_max == 0.03
    assert rows["rates.lpr_1y"].source == "PBOC announcement"
    haircut = rows["loans[*].disposal_haircut"]  # A and C take the schema's default, 0.5
    assert (haircut.value_min, haircut.value_max, haircut.source) == (
        0.5,
        0.7,
        "bank's disposal record",
    )
    lag = rows["loans[*].disposal_lag_months"]
    assert (lag.value_min, lag.value_max, lag.unit) == (12, 18, "months")
    assert rows["loss_sharing[kind=guarantee].share"].value_max == 0.6
    assert rows["loss_sharing[kind=guarantee].guarantor_default_probability"].value_max == 0.003
    assert rows["loss_sharing[kind=risk_compensation_fund].per_loan_cap"].value_max == 500_000
    assert "loss_sharing[kind=risk_compensation_fund].annual_budget" not in rows  # no limit
    assert rows["valuation.discount_rate"].value_max == VALUATION_RATE
    # the pledged rights' own behaviour still matters: it values the pledge
    assert rows["assets[*].volatility"].value_max == 0.0


def test_a_student_t_copula_shows_its_degrees_of_freedom():
    data = small_deal()
    data["factors"].update(copula="student_t", degrees_of_freedom=4)
    data["sources"] = {"factors.copula": "ILLUSTRATIVE: fat joint tails"}
    rows = by_key(validate(data))
    assert rows["factors.copula"].text == "Student t"
    assert rows["factors.copula"].source == "ILLUSTRATIVE: fat joint tails"
    df = rows["factors.degrees_of_freedom"]
    assert (df.value_min, df.unit, df.source) == (4, "count", None)


def test_lapse_while_annuities_are_prepaid_is_sourced_by_the_prepayment():
    data = small_deal(sources={"assets[*].annuities_prepaid": "lessor pays the annuities"})
    for asset in data["assets"]:
        asset["annuities_prepaid"] = True
    lapse = by_key(validate(data))["assets[*].lapse_hazard"]
    assert (lapse.value_max, lapse.source) == (0.0, "lessor pays the annuities")


@pytest.mark.parametrize("path", BEIJING, ids=lambda p: p.stem)
def test_shipped_scenarios_key_assumptions_cite_most_rows(path):
    sc = ipabs.load(path)
    rows = key_assumptions(sc)
    has_loans, has_licences = bool(sc.loans), any(a.licensee for a in sc.assets)
    assert any(r.key.startswith("loans[") for r in rows) == has_loans
    assert any(r.key.startswith("licensees[") for r in rows) == has_licences
    for r in rows:
        assert r.value_min <= r.value_max or r.text is not None
    cited = [r for r in rows if r.source is not None]
    assert len(cited) >= len(rows) / 2
