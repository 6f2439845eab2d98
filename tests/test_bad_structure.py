"""Bad structure input (waterfall steps, triggers, facility, collateral, call) through the CLI:
exit 2, the key path, the value, what is allowed, a did-you-mean; nothing written."""

from __future__ import annotations

import pytest
from helpers import small_deal
from test_bad_input import _run_bad

STEPS = [
    {"action": "pay_fee", "fees": ["senior"], "cover_from": ["reserve"]},
    {"action": "pay_interest", "classes": ["A"]},
    {"action": "pay_interest", "classes": ["B"]},
    {"action": "pay_principal", "classes": ["A", "B"]},
    {"action": "pay_residual"},
]


def deal(steps=None, **sections):
    data = small_deal()
    data["waterfall"] = {"normal": steps if steps is not None else [dict(s) for s in STEPS]}
    data.update(sections)
    return data


def with_step(i, **changes):
    steps = [dict(s) for s in STEPS]
    steps[i].update(changes)
    return deal(steps)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            with_step(1, classes=["AA"]),
            "waterfall.normal[1].classes[0] = 'AA': no tranche has this id; did you mean 'A'?",
        ),
        (
            with_step(0, fees=["senoir"]),
            "waterfall.normal[0].fees[0] = 'senoir': no fee has this id; did you mean 'senior'?",
        ),
        (with_step(1, action="pay_intrest"), "waterfall.normal[1].action"),
        (with_step(3, mode="sideways"), "waterfall.normal[3].mode"),
        (with_step(3, mode="borrowing_base"), 'advance_rate: goes with mode = "borrowing_base"'),
        (
            with_step(3, mode="borrowing_base", advance_rate=0.5),
            "a borrowing base needs a [collateral] table",
        ),
        (
            with_step(1, cover_from=["liquidity"]),
            "draws on a liquidity facility, but [liquidity] is not given",
        ),
        (with_step(3, cover_from=["reserve"]), "only pay_fee and pay_interest steps draw cover"),
        (
            with_step(4, action="fund_reserve"),
            "waterfall.normal: must end with a pay_residual step",
        ),
        (
            deal([*STEPS[:1], {"action": "pay_residual"}, *STEPS[1:]]),
            "pay_residual takes all cash left, so it must be the last step",
        ),
        (with_step(1, classes=["A", "A"]), "a class is listed twice"),
        (with_step(0, mode="pro_rata"), "only a pay_principal step has a mode"),
        (
            deal(triggers=[{"name": "t", "condition": "dscr", "effect": "trap_cash"}]),
            "threshold: required key is missing",
        ),
        (
            deal(triggers=[{"name": "t", "condition": "date", "effect": "trap_cash"}]),
            "date: required key is missing",
        ),
        (
            deal(
                triggers=[
                    {"name": "t", "condition": "oc_ratio", "threshold": 1.1, "effect": "trap_cash"}
                ]
            ),
            "needs a [collateral] table",
        ),
        (
            deal(
                triggers=[
                    {
                        "name": "t",
                        "condition": "dscr",
                        "threshold": 1.1,
                        "effect": "event_of_default",
                        "curable": True,
                    }
                ]
            ),
            "an event of default cannot be cured",
        ),
        (
            deal(
                triggers=[
                    {
                        "name": "t",
                        "condition": "dscr",
                        "threshold": 1.1,
                        "effect": "switch_waterfall",
                    }
                ]
            ),
            "switch_waterfall needs a waterfall.triggered list",
        ),
        (
            deal(
                triggers=[
                    {
                        "name": "t",
                        "condition": "dscr",
                        "threshold": 1.1,
                        "effect": "trap_cash",
                        "classes": ["Z"],
                    }
                ]
            ),
            "no tranche has this id",
        ),
        (
            deal(
                triggers=[
                    {"name": "t", "condition": "dscr", "threshold": 1.1, "effect": "trap cash"}
                ]
            ),
            "triggers[0].effect",
        ),
        (
            deal(collateral={"basis": "trailing_income", "multiple": 10.0}),
            "collateral.original_value: required key is missing",
        ),
        (deal(collateral={"basis": "loan_balance"}), "loan_balance needs [[loans]]"),
        (deal(clean_up_call={"threshold": 0.1}), "clean_up_call: needs a [collateral] table"),
        (
            deal(
                clean_up_call={"threshold": 1.5},
                collateral={"basis": "trailing_income", "multiple": 8.0, "original_value": 1e8},
            ),
            "clean_up_call.threshold = 1.5",
        ),
        (
            deal(liquidity={"limit": 1e6}),
            "liquidity: the facility is never drawn",
        ),
        (
            deal(other_fees=[{"name": "senior", "fixed_per_year": 1.0}]),
            "reserved: senior and subordinated name the [fees] table's fees",
        ),
        (
            deal(other_fees=[{"name": "tax", "pct_of_income": 0.01}]),
            "other_fees[0].name = 'tax': reserved",
        ),
        (
            with_step(1, account="principal"),
            "waterfall.normal[1].account = 'principal': needs [accounts] collections = \"revenue_and_principal\"",
        ),
        (
            deal([*[dict(s) for s in STEPS[:-1]], {"action": "transfer"}, STEPS[-1]]),
            "waterfall.normal[4].action = 'transfer': a transfer moves cash between accounts",
        ),
        (
            with_step(1, cover_from=["principal"]),
            "waterfall.normal[1].cover_from: draws on the principal account",
        ),
        (
            deal(
                [
                    *[dict(s) for s in STEPS[:-1]],
                    {
                        "action": "transfer",
                        "account": "principal",
                        "amount": "principal_deficiency",
                    },
                    STEPS[-1],
                ],
                accounts={"collections": "revenue_and_principal"},
            ),
            "waterfall.normal[4].account = 'principal': principal_deficiency cures the ledger from the revenue account",
        ),
        (
            deal(accounts={"collections": "revenue_and_principal"}, kind="trust"),
            "accounts.collections = 'revenue_and_principal': an IP trust distributes from one account",
        ),
        (
            {**small_deal(), "accounts": {"collections": "revenue_and_principal"}},
            'waterfall: required key is missing: with [accounts] collections = "revenue_and_principal"',
        ),
        (
            deal(credit_support=[{"kind": "differential_payment"}]),
            "credit_support[0].covers: required key is missing: name the classes (covers) or fees",
        ),
        (
            deal(accounts={"recoveries": "revenue"}),
            "accounts.recoveries = 'revenue': routes recoveries between accounts",
        ),
        (
            deal(accounts={"collections": "revenue_and_principle"}),
            "accounts.collections",
        ),
        (
            deal(reserve={"target_next_period": ["AA"]}),
            "reserve.target_next_period[0] = 'AA': no tranche has this id; did you mean 'A'?",
        ),
        (
            deal(reserve={"target_next_period_fees": ["snior"]}),
            "reserve.target_next_period_fees[0] = 'snior': no fee has this id; did you mean 'senior'?",
        ),
        (
            deal(
                credit_support=[
                    {"kind": "differential_payment", "covers": ["A"], "covers_fees": ["taxx"]}
                ],
                tax={},
            ),
            "credit_support[0].covers_fees[0] = 'taxx': no fee has this id; did you mean 'tax'?",
        ),
        (
            deal(
                credit_support=[
                    {"kind": "differential_payment", "covers": ["A"], "covers_fees": ["tax"]}
                ]
            ),
            "credit_support[0].covers_fees[0] = 'tax': no fee has this id",
        ),
        (
            deal(tax={}),  # the steps never pay the tax
            "waterfall.normal: no pay_fee step pays the [tax] table's tax",
        ),
        (
            deal(other_fees=[{"name": "trustee", "fixed_per_year": 1.0}]),
            "other_fees[0].name = 'trustee': no pay_fee step of the [waterfall] pays this fee",
        ),
        (
            {**small_deal(), "other_fees": [{"name": "trustee", "fixed_per_year": 1.0}]},
            "other_fees[0].name = 'trustee': the standard order pays only the [fees] table's fees",
        ),
        (
            deal(tax={"vat_rate": 0.3}),
            "tax.vat_rate = 0.3",
        ),
        (
            deal(tax={"bsae": "income"}),
            "did you mean 'base'?",
        ),
        (
            deal(other_fees=[{"name": "x", "one_off": 5.0, "one_off_date": "2040-01-01"}]),
            "other_fees[0].one_off_date = 2040-01-01: must fall between closing",
        ),
        (
            deal(other_fees=[{"name": "x", "cap_per_year": 1.0, "floor_per_year": 2.0}]),
            "other_fees[0].cap_per_year = 1.0: is below floor_per_year (2.0)",
        ),
        (
            deal(other_fees=[{"name": "x", "pct_of_pool_per_year": 0.01}]),
            "a fee on the pool needs a [collateral] table",
        ),
        (
            deal(pricing={"discount_rate": 0.04, "curve": [{"tenor_years": 1, "rate": 0.03}]}),
            "pricing: give exactly one of discount_rate or curve (given: discount_rate, curve)",
        ),
        (deal(pricing={"spread": 0.01}), "pricing: give exactly one of discount_rate or curve"),
        (
            deal(
                pricing={
                    "curve": [{"tenor_years": 2, "rate": 0.03}, {"tenor_years": 1, "rate": 0.02}]
                }
            ),
            "pricing.curve = [2.0, 1.0]: tenors must increase",
        ),
        (deal(pricing={"curve": [{"tenor_year": 2, "rate": 0.03}]}), "did you mean 'tenor_years'?"),
        (
            deal(
                pricing={
                    "discount_rate": 0.04,
                    "class_spreads": [{"tranche": "sbu", "spread": 0.1}],
                }
            ),
            "pricing.class_spreads[0].tranche = 'sbu': no tranche has this id; did you mean 'sub'?",
        ),
        (
            deal(
                pricing={
                    "discount_rate": 0.04,
                    "class_spreads": [
                        {"tranche": "A", "spread": 0.0},
                        {"tranche": "A", "spread": 0.1},
                    ],
                }
            ),
            "pricing.class_spreads[1].tranche = 'A': duplicate tranche",
        ),
    ],
)
def test_bad_structure_is_refused_with_its_key_path(tmp_path, data, expected):
    message, _ = _run_bad(tmp_path, data)
    assert expected in message, message


def test_a_liquidity_facility_without_a_waterfall_is_refused(tmp_path):
    data = small_deal()
    data["liquidity"] = {"limit": 1e6}
    message, _ = _run_bad(tmp_path, data)
    assert "liquidity: the facility is never drawn" in message


def _revolving(**changes):
    data = small_deal()
    data["waterfall"] = {"normal": [dict(x) for x in STEPS]}
    data["revolving"] = {
        "end_date": "2025-01-15",
        "rate": 0.05,
        "term_years": 1.0,
        "annual_default_probability": 0.02,
        "ltv": 0.5,
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "waterfall.revolving: required key is missing"),
        (
            {
                "waterfall": {
                    "normal": [dict(x) for x in STEPS],
                    "revolving": [{"action": "pay_residual"}],
                }
            },
            "no buy_assets step",
        ),
        (
            {
                "waterfall": {
                    "normal": [{"action": "buy_assets"}, {"action": "pay_residual"}],
                    "revolving": [{"action": "buy_assets"}, {"action": "pay_residual"}],
                }
            },
            "buy_assets belongs in the waterfall.revolving list",
        ),
        (
            {
                "waterfall": {
                    "normal": [dict(x) for x in STEPS],
                    "revolving": [{"action": "buy_assets"}, {"action": "pay_residual"}],
                }
            },
            'revolving: needs [collateral] with basis = "loan_balance"',
        ),
        (
            {
                "revolving": None,
                "waterfall": {
                    "normal": [dict(x) for x in STEPS],
                    "revolving": [{"action": "buy_assets"}, {"action": "pay_residual"}],
                },
            },
            "waterfall.revolving: there is no [revolving] period",
        ),
    ],
)
def test_bad_revolving_period(tmp_path, changes, expected):
    message, _ = _run_bad(tmp_path, _revolving(**changes))
    assert expected in message, message
