"""The report's Transaction section as data: credit enhancement worked by hand for the flagship,
the priority of payments in words read from the program the engine runs, triggers and credit
support, and the msgids the lead translates (literal, named fields only, formattable)."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import string
import typing

import pandas as pd
import pytest
from helpers import FLAGSHIP, REPO, small_deal
from test_conservation import every_step_deal
from test_report_accounts import mechanics_variants, nanshan_loans
from test_revolving import revolving_loan_deal
from test_trust import riskless_trust_data

from ipabs.report import transaction as tx
from ipabs.scenario.load import load, validate
from ipabs.scenario.model import DifferentialPayment, LossSharingLayer
from ipabs.structures.program import ACTIONS, CONDITIONS, EFFECTS, MODES

NANSHAN = REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml"
TRUST = REPO / "scenarios" / "beijing_ip_trust.toml"
M = 1_000_000.0


def rows(frame: pd.DataFrame) -> dict[str, dict]:
    return {r["tranche"]: r for r in frame.to_dict("records")}


# -- classes and credit enhancement ----------------------------------------------------------


def test_flagship_credit_enhancement_is_subordination_plus_reserve():
    table = tx.classes_table(load(FLAGSHIP))
    assert list(table["tranche"]) == ["senior_A", "senior_B", "subordinated"]
    by = rows(table)
    issuance = 73 + 28 + 6  # millions
    a, b, sub = by["senior_A"], by["senior_B"], by["subordinated"]
    assert a["share_of_issuance"] == pytest.approx(73 / issuance, rel=1e-12)
    assert a["subordination"] == pytest.approx((28 + 6) / issuance, rel=1e-12)
    assert a["reserve"] == pytest.approx(0.8 / issuance, rel=1e-12)
    assert a["credit_enhancement"] == pytest.approx((28 + 6) / issuance + 0.8 / issuance, rel=1e-12)
    assert b["credit_enhancement"] == pytest.approx(6 / issuance + 0.8 / issuance, rel=1e-12)
    # the subordinated class takes the residual: no enhancement, the released reserve is its own
    assert (sub["subordination"], sub["reserve"], sub["credit_enhancement"]) == (0.0, 0.0, 0.0)
    # the differential payment undertakings are listed, not added
    assert a["covered_by_support"] == "credit_support[0]"
    assert b["covered_by_support"] == "credit_support[0],credit_support[1]"
    assert sub["covered_by_support"] == ""
    assert (a["coupon_msgid"], json.loads(a["coupon_params_json"])) == (
        "{rate} fixed",
        {"rate": 0.028},
    )
    assert sub["coupon_msgid"] == "No coupon: takes the residual"


def test_pari_passu_classes_share_their_credit_enhancement():
    sc = load(FLAGSHIP).replace({"tranches[name=senior_B].rank": 1})
    by = rows(tx.classes_table(sc))
    expected = 6 / 107 + 0.8 / 107
    assert by["senior_A"]["credit_enhancement"] == pytest.approx(expected, rel=1e-12)
    assert by["senior_B"]["credit_enhancement"] == pytest.approx(expected, rel=1e-12)
    # one step pays both, pro rata
    normal = tx.waterfall_in_words(sc)[0]
    assert (
        tx.Words(
            "Interest on {classes}, pro rata; a shortfall is drawn from {sources}",
            {"classes": ["senior_A", "senior_B"], "sources": ["the reserve"]},
        )
        in normal.steps
    )
    assert (
        tx.Words(
            "Principal on {classes}, sequentially by rank and pro rata within a rank, until repaid",
            {"classes": ["senior_A", "senior_B"]},
        )
        in normal.steps
    )


def test_display_names_are_carried_ids_stay():
    data = small_deal()
    data["tranches"][0]["display_name"] = "优先A级"
    table = tx.classes_table(validate(data))
    assert list(table["tranche"]) == ["A", "B", "sub"]
    assert table["display_name"].iloc[0] == "优先A级"
    assert table["display_name"].iloc[1:].isna().all()  # none given: the report shows the id


def test_floating_and_step_up_coupons_in_words():
    data = small_deal()
    data["rates"] = {"lpr_1y": [{"date": dt.date(2024, 1, 1), "rate": 0.0345}]}
    data["tranches"][0].update(
        coupon_type="lpr", spread=0.004, coupon_floor=0.03, coupon_cap=0.05, coupon=0.0
    )
    data["tranches"][1].update(step_up_date=dt.date(2025, 1, 15), step_up_coupon=0.06)
    by = rows(tx.classes_table(validate(data)))
    a, b = by["A"], by["B"]
    assert a["coupon_type"] == "lpr" and pd.isna(a["coupon"]) and a["spread"] == 0.004
    assert a["coupon_msgid"] == "1-year LPR plus a spread of {spread}, within {floor} and {cap}"
    assert json.loads(a["coupon_params_json"]) == {"spread": 0.004, "floor": 0.03, "cap": 0.05}
    assert b["coupon_msgid"] == "{rate} fixed, stepping up to {step_up} from {date}"
    assert json.loads(b["coupon_params_json"]) == {
        "rate": 0.045,
        "step_up": 0.06,
        "date": "2025-01-15",
    }


# -- the waterfall in words ------------------------------------------------------------------


def test_default_waterfall_in_words_follows_the_program_the_engine_runs():
    sc = load(FLAGSHIP)
    # the standard order (docs/model.md, 4.1), as the engine's compiled program holds it
    program = tx.compiled_program(sc)["normal"]
    assert [(s.action, s.members, s.cover) for s in program] == [
        ("pay_fee", ("senior",), ("reserve",)),
        ("pay_interest", ("senior_A",), ("reserve",)),
        ("pay_interest", ("senior_B",), ("reserve",)),
        ("pay_interest", ("subordinated",), ("reserve",)),
        ("fund_reserve", (), ()),
        ("pay_principal", ("senior_A",), ()),
        ("pay_principal", ("senior_B",), ()),
        ("pay_principal", ("subordinated",), ()),
        ("pay_fee", ("subordinated",), ()),
        ("pay_residual", (), ()),
    ]
    sections = tx.waterfall_in_words(sc)
    assert [s.state for s in sections] == ["normal", "final"]  # no triggers
    reserve = ["the reserve"]
    # the same order; interest on the class without a coupon and the zero subordinated fee
    # pay nothing and are left out
    assert list(sections[0].steps) == [
        ("Fees: {fees}; a shortfall is drawn from {sources}",
         {"fees": ["senior fees"], "sources": reserve}),
        ("Interest on {classes}; a shortfall is drawn from {sources}",
         {"classes": ["senior_A"], "sources": reserve}),
        ("Interest on {classes}; a shortfall is drawn from {sources}",
         {"classes": ["senior_B"], "sources": reserve}),
        ("Top up the reserve to {amount}", {"amount": 800_000.0}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["senior_A"]}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["senior_B"]}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["subordinated"]}),
        ("Residual to {cls}", {"cls": "subordinated"}),
    ]  # fmt: skip
    assert list(sections[1].steps) == [
        ("Every class's whole balance is due; the priority of payments in force pays it", {}),
        ("The reserve is released into the cash", {}),
        ("Principal unpaid after the legal final payment date, {date}, is a loss",
         {"date": "2025-08-26"}),
    ]  # fmt: skip


def custom_deal() -> dict:
    """A deal with its own waterfall per state and one trigger of each effect."""
    data = small_deal()
    data["other_fees"] = [{"name": "servicer", "fixed_per_year": 50_000}]
    data["collateral"] = {"basis": "trailing_income", "multiple": 3.0, "original_value": 3e7}
    data["liquidity"] = {"limit": 1e6, "interest_rate": 0.05, "commitment_fee": 0.005}
    data["waterfall"] = {
        "normal": [
            {"action": "pay_fee", "fees": ["senior", "servicer"], "cover_from": ["reserve"]},
            {"action": "pay_interest", "classes": ["A"], "cover_from": ["liquidity"]},
            {"action": "pay_interest", "classes": ["B"]},
            {"action": "pay_liquidity"},
            {"action": "fund_reserve"},
            {"action": "pay_principal", "classes": ["B", "A"]},  # paid by rank: A, then B
            {"action": "pay_fee", "fees": ["subordinated"]},  # no subordinated fee: pays nothing
            {"action": "pay_residual"},
        ],
        "triggered": [
            {"action": "pay_fee", "fees": ["senior", "servicer"]},
            {"action": "pay_interest", "classes": ["A", "B"]},
            {"action": "pay_principal", "classes": ["A", "B"], "mode": "pro_rata"},
            {"action": "pay_residual"},
        ],
        "accelerated": [
            {"action": "pay_fee", "fees": ["senior"]},
            {"action": "pay_interest", "classes": ["A"]},
            {"action": "pay_principal", "classes": ["B", "A"], "mode": "turbo"},  # as listed
            {"action": "pay_residual"},
        ],
    }
    data["triggers"] = [
        {"name": "dscr_switch", "condition": "dscr", "threshold": 1.25, "lookback_periods": 2,
         "classes": ["A"], "breaches_to_trip": 2, "effect": "switch_waterfall"},
        {"name": "oc_default", "condition": "oc_ratio", "threshold": 1.05,
         "effect": "event_of_default"},
        {"name": "loss_trap", "condition": "cumulative_loss_ratio", "threshold": 0.04,
         "effect": "trap_cash", "trap_share": 0.5, "curable": True},
        {"name": "ard", "condition": "date", "date": dt.date(2026, 1, 15),
         "effect": "rapid_amortisation"},
    ]  # fmt: skip
    return data


def test_a_custom_waterfall_gives_its_own_steps_per_state():
    sections = tx.waterfall_in_words(validate(custom_deal()))
    assert [s.state for s in sections] == ["normal", "triggered", "accelerated", "final"]
    assert [s.title for s in sections] == [
        "Priority of payments",
        "After a trigger event",
        "After an event of default",
        "At legal final or a clean-up call",
    ]
    fees = ["senior fees", "servicer"]
    assert list(sections[0].steps) == [
        ("Fees: {fees}; a shortfall is drawn from {sources}",
         {"fees": fees, "sources": ["the reserve"]}),
        ("Interest on {classes}; a shortfall is drawn from {sources}",
         {"classes": ["A"], "sources": ["the liquidity facility"]}),
        ("Interest on {classes}", {"classes": ["B"]}),
        ("Liquidity facility: its interest and commitment fee, then repayment of its draws", {}),
        ("Top up the reserve to {amount}", {"amount": 300_000.0}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["A", "B"]}),
        ("Residual to {cls}", {"cls": "sub"}),
    ]  # fmt: skip
    assert list(sections[1].steps) == [
        ("Fees: {fees}", {"fees": fees}),
        ("Interest on {classes}, pro rata", {"classes": ["A", "B"]}),
        ("Principal on {classes}, pro rata to balance, until repaid", {"classes": ["A", "B"]}),
        ("Residual to {cls}", {"cls": "sub"}),
    ]
    assert list(sections[2].steps) == [
        ("Fees: {fees}", {"fees": ["senior fees"]}),
        ("Interest on {classes}", {"classes": ["A"]}),
        ("All cash left to principal on {classes}, in the order listed", {"classes": ["B", "A"]}),
        ("Residual to {cls}", {"cls": "sub"}),
    ]


def test_after_an_event_of_default_every_balance_is_due():
    """A state without a list of its own runs the one it falls back to (accelerated: triggered,
    then normal), with every class's whole balance due."""
    data = custom_deal()
    del data["waterfall"]["accelerated"], data["waterfall"]["triggered"]
    data["triggers"] = [t for t in data["triggers"] if t["effect"] != "switch_waterfall"]
    sections = {s.state: s for s in tx.waterfall_in_words(validate(data))}
    assert set(sections) == {"normal", "accelerated", "final"}
    principal = [w for w in sections["accelerated"].steps if "rincipal on" in w.msgid]
    assert principal == [
        ("Principal on {classes}, whole balances due, sequentially", {"classes": ["A", "B"]})
    ]
    # otherwise the normal list
    assert len(sections["accelerated"].steps) == len(sections["normal"].steps)


def test_triggers_in_words():
    table = tx.triggers_table(validate(custom_deal()))
    assert list(table["name"]) == ["dscr_switch", "oc_default", "loss_trap", "ard"]
    words = {
        r["name"]: (
            (r["condition_msgid"], json.loads(r["condition_params_json"])),
            (r["tripping_msgid"], json.loads(r["tripping_params_json"])),
            (r["effect_msgid"], json.loads(r["effect_params_json"])),
        )
        for r in table.to_dict("records")
    }
    first_breach = ("In force from the first breach, for good", {})
    assert words["dscr_switch"] == (
        (
            "Collections over the last {periods} periods fall below {ratio} times their fees and "
            "the interest and scheduled principal of {classes}",
            {"periods": 2, "ratio": 1.25, "classes": ["A"]},
        ),
        ("In force after {count} breaches (not necessarily consecutive), for good", {"count": 2}),
        ("Switch to the priority of payments after a trigger event", {}),
    )
    assert words["oc_default"] == (
        ("The collateral value falls below {ratio} times the classes' balance", {"ratio": 1.05}),
        first_breach,
        (
            "Event of default: the priority of payments after an event of default; every "
            "class's whole balance is due",
            {},
        ),
    )
    assert words["loss_trap"] == (
        ("Cumulative losses exceed {share} of the original collateral value", {"share": 0.04}),
        ("In force while breached; cured when the test passes again", {}),
        ("Trap {share} of the cash left at the reserve step in the reserve", {"share": 0.5}),
    )
    assert words["ard"] == (
        ("The payment date is on or after {date}", {"date": "2026-01-15"}),
        first_breach,
        ("Rapid amortisation: every principal step treats its classes' whole balances as due", {}),
    )
    assert pd.isna(table.set_index("name").loc["ard", "threshold"])  # a date has no level


def test_a_coverage_test_without_classes_names_the_classes_it_counts():
    """dscr with no `classes` counts every class; the subordinated class has no coupon and no
    schedule, so the words name the classes whose debt service it adds."""
    data = custom_deal()
    data["triggers"] = [
        {"name": "icr", "condition": "interest_coverage", "threshold": 1.1,
         "effect": "rapid_amortisation"}
    ]  # fmt: skip
    row = tx.triggers_table(validate(data)).iloc[0]
    assert json.loads(row["condition_params_json"]) == {"ratio": 1.1, "classes": ["A", "B"]}


# -- credit support --------------------------------------------------------------------------


def test_flagship_credit_support_and_reserve():
    table = tx.credit_support_table(load(FLAGSHIP)).set_index("id")
    assert list(table.index) == ["credit_support[0]", "credit_support[1]", "reserve"]
    first, second, reserve = (table.loc[i] for i in table.index)
    assert first["kind_msgid"] == "Differential payment undertaking"
    assert first["provider"] == "originator (Zhongguancun Technology Leasing)"
    assert first["covers"] == "senior_A,senior_B"
    assert pd.isna(first["cap"]) and first["provider_default_probability"] == 0.01
    assert second["covers"] == "senior_B"
    assert second["cap"] == 28 * M and second["provider_default_probability"] == 0.003
    assert reserve["kind_msgid"] == "Cash reserve" and reserve["level"] == "cash"
    # drawn for the interest of the classes that earn interest
    assert reserve["covers"] == "senior_A,senior_B"
    assert json.loads(reserve["terms_params_json"]) == {"amount": 800_000.0}


def test_a_custom_deal_lists_its_facility_and_class_guarantee():
    data = custom_deal()
    data["credit_support"] = [{"kind": "guarantee", "covers": ["A"], "principal": "ultimate"}]
    table = tx.credit_support_table(validate(data)).set_index("id")
    assert list(table.index) == ["credit_support[0]", "reserve", "liquidity"]
    assert table.loc["credit_support[0]", "kind_msgid"] == "Financial guarantee"
    assert table.loc["credit_support[0]", "terms_msgid"].startswith(
        "Tops up the interest shortfalls of {classes} each period"
    )
    facility = table.loc["liquidity"]
    assert facility["cap"] == 1e6 and facility["covers"] == "A"
    assert json.loads(facility["terms_params_json"]) == {
        "amount": 1e6,
        "rate": 0.05,
        "commitment_fee": 0.005,
    }
    # the reserve covers the fees only: no interest step draws on it
    assert table.loc["reserve", "covers"] == ""


def test_a_loan_pool_lists_its_loss_sharing_and_mentions_no_reserve_it_lacks():
    sc = validate(nanshan_loans(), base_dir=NANSHAN.parent)  # one account, the standard order
    by = rows(tx.classes_table(sc))
    assert by["senior"]["credit_enhancement"] == pytest.approx(10.3 / 206, rel=1e-12)
    assert by["senior"]["reserve"] == 0.0
    table = tx.credit_support_table(sc)
    assert list(table["id"]) == ["loss_sharing[0]"]
    guarantee = table.iloc[0]
    assert guarantee["kind_msgid"] == "Loan loss guarantee" and guarantee["level"] == "loans"
    assert guarantee["provider_default_probability"] == 0.001
    assert json.loads(guarantee["terms_params_json"]) == {
        "share": 1.0,
        "loss": ["loss left by the layers before it"],
    }
    # the standard order names the reserve as a cover source; this deal has none
    for section in tx.waterfall_in_words(sc):
        for words in section.steps:
            assert "reserve" not in words.msgid
            assert "the reserve" not in words.params.get("sources", [])


def test_loss_sharing_layers_of_every_kind():
    sc = load(REPO / "scenarios" / "beijing_combined_pledge_loans.toml")
    table = tx.credit_support_table(sc).set_index("id")
    fund = table.loc["loss_sharing[2]"]  # the municipal fund of a 2:4:4 政银担 split
    assert fund["kind_msgid"] == "Risk-compensation fund" and fund["cap"] == 1 * M
    assert fund["provider"] == "municipal_fund"
    assert json.loads(fund["terms_params_json"]) == {
        "share": 0.2,
        "amount": 10 * M,
        "loss": ["whole loss of principal (pro rata)"],
    }
    # sequential on the exposure: the loss the layers before it left
    sequential = sc.replace(
        {"loss_sharing[2].share_of": "remaining", "loss_sharing[2].basis": "exposure"}
    )
    terms = tx.credit_support_table(sequential).set_index("id").loc["loss_sharing[2]"]
    assert json.loads(terms["terms_params_json"])["loss"] == ["loss left by the layers before it"]
    # the re-guarantee of the guarantor
    again = table.loc["loss_sharing[1]"]
    assert again["kind_msgid"] == "Re-guarantee (再担保)"
    assert json.loads(again["terms_params_json"]) == {"share": 0.25, "guarantee": "guarantor"}
    # the insurer that can default
    assert table.loc["loss_sharing[4]", "provider_default_probability"] == 0.002
    policy = {
        "kind": "insurance",
        "share": 0.8,
        "deductible": 100_000,
        "limit": 5e6,
        "covered_events": ["default_after_ip_lost"],
        "covered_until": dt.date(2027, 1, 1),
    }
    row = tx.credit_support_table(sc.replace({"loss_sharing": [policy]})).iloc[0]
    assert row["kind_msgid"] == "Credit insurance" and row["cap"] == 5e6
    assert json.loads(row["terms_params_json"]) == {
        "share": 0.8,
        "amount": 100_000.0,
        "start": sc.deal.closing_date.isoformat(),
        "end": "2027-01-01",
    }


# -- trusts and revolving deals --------------------------------------------------------------


def test_a_trusts_beneficiary_classes_and_distribution_order():
    sc = load(TRUST)
    by = rows(tx.classes_table(sc))
    capital = 60 + 20 + 30
    assert by["priority_A"]["credit_enhancement"] == pytest.approx((20 + 30) / capital)
    assert by["priority_B"]["credit_enhancement"] == pytest.approx(30 / capital)
    assert by["priority_A"]["coupon_msgid"] == "Expected yield {rate}"
    sections = tx.waterfall_in_words(sc)
    normal, final = sections
    assert list(normal.steps) == [
        ("Fees: {fees}; a shortfall is drawn from {sources}",
         {"fees": ["senior fees", "custodian"], "sources": ["the held-back income"]}),
        ("Expected yield on {classes}", {"classes": ["priority_A"]}),
        ("Expected yield on {classes}", {"classes": ["priority_B"]}),
        ("Principal on {classes}, sequentially, until repaid",
         {"classes": ["priority_A", "priority_B"]}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["subordinated"]}),
        ("Performance fee to the manager: {share} of the residual above a hurdle of {hurdle} a "
         "year on the capital of {cls}; the rest to {cls}",
         {"share": 0.2, "hurdle": 0.08, "cls": "subordinated"}),
    ]  # fmt: skip
    assert final.title == "At the final distribution or an early termination"
    assert [w.msgid for w in final.steps] == [
        "Every class's whole balance is due; the priority of payments in force pays it",
        "The held-back income is paid out into the cash",
        "The income-method value of the IP the trust still holds is distributed",
        "Early termination: when the priority classes' unpaid expected yield exceeds {share} of "
        "their capital, the IP is sold at its value and everything is distributed",
        "Capital unpaid at the final distribution, {date}, is a loss",
    ]
    holdback = tx.credit_support_table(sc).set_index("id").loc["trust.holdback_share"]
    assert holdback["kind_msgid"] == "Income holdback"
    assert json.loads(holdback["terms_params_json"]) == {"share": 0.05}


def test_a_revolving_deal_buys_loans_before_it_amortises():
    sections = tx.waterfall_in_words(revolving_loan_deal())
    assert [s.state for s in sections] == ["revolving", "normal", "final"]
    assert sections[0].steps[1] == (
        "Buy eligible loans to restore the performing balance to {amount}",
        {"amount": 10 * M},  # the ten loans' balance at closing
    )


# -- every kind has words; every msgid is a literal, formattable ----------------------------


def test_every_step_kind_condition_effect_and_support_kind_has_words():
    assert set(tx.STEP_WORDS) == set(ACTIONS)
    assert set(tx.PRINCIPAL_WORDS) == set(MODES)
    assert {c for c, _ in tx.CONDITION_WORDS} == set(CONDITIONS)
    assert set(tx.EFFECT_WORDS) == set(EFFECTS)
    kinds = set(typing.get_args(DifferentialPayment.model_fields["kind"].annotation))
    layers = {
        typing.get_args(layer.model_fields["kind"].annotation)[0]
        for layer in typing.get_args(typing.get_args(LossSharingLayer)[0])
    }
    assert kinds | (layers - {"guarantee"}) | {"loss_guarantee"} <= set(tx.KIND_WORDS)


def literal_msgids() -> set[str]:
    """Every N_() argument in the module: each must be one string literal."""
    found = set()
    for node in ast.walk(ast.parse(inspect.getsource(tx))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_":
            (arg,) = node.args
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), ast.dump(node)
            found.add(arg.value)
    return found


def fields(msgid: str) -> set[str]:
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(msgid):
        if name is None:
            continue
        assert name.isidentifier(), f"{msgid!r}: field {name!r} is not a plain name"
        assert not spec and not conversion, f"{msgid!r}: no format spec or conversion"
        names.add(name)
    return names


def produced_words(sc) -> list[tuple[str, dict]]:
    words = [(s.title, {}) for s in tx.waterfall_in_words(sc)]
    words += [w for s in tx.waterfall_in_words(sc) for w in s.steps]
    for frame, columns in (
        (tx.classes_table(sc), ["coupon"]),
        (tx.triggers_table(sc), ["condition", "tripping", "effect"]),
        (tx.credit_support_table(sc), ["terms"]),
    ):
        for record in frame.to_dict("records"):
            words += [
                (record[f"{c}_msgid"], json.loads(record[f"{c}_params_json"])) for c in columns
            ]
    words += [(m, {}) for m in tx.credit_support_table(sc)["kind_msgid"]]
    fees = tx.fees_table(sc)
    words += [(r["terms_msgid"], json.loads(r["terms_params_json"])) for _, r in fees.iterrows()]
    words += [(m, {}) for m in fees["name_msgid"]]
    for params in [p for _, p in words]:
        for key in ("fees", "sources", "loss"):
            words += [(m, {}) for m in params.get(key, [])]
    return words


def floating_deal(floor: float | None, cap: float | None, tenor: str = "1y") -> dict:
    data = small_deal()
    data["rates"] = {f"lpr_{tenor}": [{"date": dt.date(2024, 1, 1), "rate": 0.0345}]}
    data["tranches"][0].update(coupon_type="lpr", spread=0.004, coupon=0.0, lpr_tenor=tenor)
    if floor is not None:
        data["tranches"][0]["coupon_floor"] = floor
    if cap is not None:
        data["tranches"][0]["coupon_cap"] = cap
    data["tranches"][1].update(step_up_date=dt.date(2025, 1, 15), step_up_coupon=0.06)
    return data


def trust_deal() -> dict:
    """A trust whose steps pay expected yield pro rata, alone, and drawn from its holdback."""
    data = small_deal()
    data["kind"] = "trust"
    data["trust"] = {"holdback_share": 0.05}
    data["tranches"][1].update(step_up_date=dt.date(2025, 1, 15), step_up_coupon=0.06)
    data["waterfall"] = {
        "normal": [
            {"action": "pay_interest", "classes": ["A", "B"], "cover_from": ["holdback"]},
            {"action": "pay_interest", "classes": ["A"], "cover_from": ["holdback"]},
            {"action": "pay_interest", "classes": ["A", "B"]},
            {"action": "pay_principal", "classes": ["A", "B"]},
            {"action": "pay_residual"},
        ]
    }
    return data


def shared_rank_deal() -> dict:
    """Two classes of rank 1, and principal of every mode after an event of default."""
    data = small_deal()
    data["tranches"].insert(1, {"name": "A2", "balance": 2e6, "coupon": 0.03, "rank": 1})
    data["collateral"] = {"basis": "trailing_income", "multiple": 3.0, "original_value": 3e7}
    data["reserve"] = {"initial_balance": 300_000, "target": 0.0}  # released at its step
    data["waterfall"] = {
        "normal": [
            {"action": "pay_interest", "classes": ["A", "A2"], "cover_from": ["reserve"]},
            {"action": "pay_interest", "classes": ["B"]},
            {"action": "fund_reserve"},
            {"action": "pay_principal", "classes": ["A", "A2", "B"]},
            {"action": "pay_residual"},
        ],
        "accelerated": [
            {"action": "pay_principal", "classes": ["A", "A2"]},
            {"action": "pay_principal", "classes": ["A", "B"], "mode": "borrowing_base",
             "advance_rate": 0.5},
            {"action": "pay_principal", "classes": ["B"], "mode": "schedule"},
            {"action": "pay_residual"},
        ],
    }  # fmt: skip
    data["triggers"] = [
        {"name": "icr", "condition": "interest_coverage", "threshold": 1.1, "lookback_periods": 2,
         "breaches_to_trip": 3, "curable": True, "effect": "trap_cash"},
        {"name": "eod", "condition": "date", "date": dt.date(2026, 1, 15),
         "effect": "event_of_default"},
    ]  # fmt: skip
    return data


def every_scenario():
    """The shipped deals and test deals that between them produce every sentence."""
    shipped = sorted((REPO / "scenarios").glob("*.toml"))
    yield from (load(path) for path in shipped)
    yield from (validate(every_step_deal(mode)) for mode in MODES)
    yield validate(custom_deal())
    yield revolving_loan_deal()
    from test_leases import revolving_lease_deal

    yield revolving_lease_deal()  # buys lease receivables (docs/model.md 4.7)
    from test_revolving_licences import licence_deal

    yield validate(licence_deal())  # buys licence receivables (docs/model.md 4.7)
    yield validate(riskless_trust_data(holdback_share=0.1, performance_fee_share=0.2))
    yield validate(trust_deal())
    shared = validate(shared_rank_deal())
    yield shared
    yield shared.replace({"reserve.target_pct_of_notes": 0.02})  # pct of the notes only
    yield shared.replace({"reserve.target": 1e5, "reserve.target_pct_of_notes": 0.02})
    custom = validate(custom_deal())
    yield custom.replace({"waterfall.normal[0].cover_from": []})  # the reserve is never drawn
    for floor, cap in ((None, None), (0.03, None), (None, 0.05), (0.03, 0.05)):
        for tenor in ("1y", "5y"):
            yield validate(floating_deal(floor, cap, tenor))
    loans = load(REPO / "scenarios" / "beijing_combined_pledge_loans.toml")
    fund = {"kind": "risk_compensation_fund", "share": 0.5}
    insurance = {"kind": "insurance", "share": 0.8, "deductible": 1e5}
    after_ip_lost = {"covered_events": ["default_after_ip_lost"]}
    for policy in (
        insurance,
        {**insurance, "covered_from": dt.date(2024, 1, 1)},
        {**insurance, **after_ip_lost},
        {**insurance, **after_ip_lost, "limit": 1e6, "covered_until": dt.date(2027, 1, 1)},
    ):  # one layer of each kind per deal
        yield loans.replace({"loss_sharing": [fund, policy]})
    for share_of in ("remaining", "original"):  # the loss each layer shares (3.8)
        for basis in ("exposure", "principal"):
            layer = {**fund, "share_of": share_of, "basis": basis}
            yield loans.replace({"loss_sharing": [layer]})
    # taxes, fee bases, revenue and principal accounts, formula reserves (docs/model.md, 4.9)
    yield from mechanics_variants()
    yield custom.replace({"other_fees[name=servicer].pct_of_pool_per_year": 0.001})


def test_every_msgid_is_a_literal_with_named_fields_that_its_params_fill():
    literals = literal_msgids()
    for msgid in literals:
        fields(msgid)
    # [[other_fees]] names: shown as they are
    named_fees = {"servicer", "custodian", "paying_agent", "rating_agency", "trustee"}
    seen = set()
    for sc in every_scenario():
        for msgid, params in produced_words(sc):
            if msgid in named_fees:
                continue
            assert msgid in literals, msgid
            assert fields(msgid) == set(params), (msgid, params)
            assert set(params) <= set(tx.PARAM_KINDS), params
            msgid.format(**params)  # no KeyError, no IndexError
            seen.add(msgid)
    # and between them they use every sentence the module has
    assert seen == literals - named_fees, sorted(literals - seen)


def test_tables_are_parquet_friendly(tmp_path):
    for sc in (load(FLAGSHIP), load(TRUST), validate(custom_deal()), load(NANSHAN)):
        for name, frame in (
            ("classes", tx.classes_table(sc)),
            ("triggers", tx.triggers_table(sc)),
            ("support", tx.credit_support_table(sc)),
            ("fees", tx.fees_table(sc)),
        ):
            path = tmp_path / f"{name}.parquet"
            frame.to_parquet(path)
            pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
