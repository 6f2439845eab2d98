"""The report words the Chinese deal mechanics (docs/model.md, 4.9) as the engine runs them:
taxes (税费), fee bases, one-off and waived fees, revenue and principal accounts (收入分账户,
本金分账户) with transfers, cover from principal and the principal deficiency ledger, formula
reserve targets with a cap, and credit support that covers fees; in English and in Chinese."""

from __future__ import annotations

import json
import tomllib
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import REPO, small_deal

from ipabs.report import transaction as tx
from ipabs.report.build import _base_case_context
from ipabs.report.i18n import Translator
from ipabs.report.render import Page
from ipabs.scenario.load import read_toml, validate

NANSHAN = REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml"
#: the tables of a deal's structure: the tests set their own on the Nanshan pool and notes
STRUCTURE = (
    "tax", "accounts", "waterfall", "reserve", "other_fees", "credit_support", "triggers",
    "collateral", "clean_up_call", "liquidity", "sources",
)  # fmt: skip

#: the Nanshan loan deal with the mechanics of a Chinese loan ABS, as a scenario file writes them
MECHANICS = """
[tax]
vat_rate = 0.03
surcharge_rate = 0.12
base = "income"

[accounts]
collections = "revenue_and_principal"
recoveries = "revenue"

[collateral]
basis = "loan_balance"

[clean_up_call]
threshold = 0.1

[reserve]
initial_balance = 1_000_000
target_next_period = ["senior", "subordinated"]   # the subordinated class has no coupon
target_next_period_fees = ["tax", "senior"]
target_cap = 3_000_000

[[other_fees]]
name = "servicer"
pct_of_income = 0.01
floor_per_year = 50_000
cap_per_year = 300_000
carry_unpaid = false

[[other_fees]]
name = "paying_agent"
pct_of_class_payments = 0.00005

[[other_fees]]
name = "rating_agency"
one_off = 150_000
one_off_date = 2023-01-01

[[other_fees]]
name = "trustee"
pct_of_collections = 0.0005

[[credit_support]]
kind = "differential_payment"
provider = "Shenzhen Hi-Tech Investment"
covers = ["senior"]
covers_fees = ["tax", "senior"]
cap = 20_000_000

[[triggers]]
name = "loss_switch"
condition = "cumulative_loss_ratio"
threshold = 0.05
effect = "switch_waterfall"

[[triggers]]
name = "eod"
condition = "cumulative_loss_ratio"
threshold = 0.10
effect = "event_of_default"

[waterfall]
normal = [
  {action = "pay_fee", fees = ["tax"], cover_from = ["reserve", "principal"]},
  {action = "pay_fee", fees = ["senior", "trustee", "rating_agency"], cover_from = ["principal"]},
  {action = "pay_interest", classes = ["senior"], cover_from = ["reserve", "principal"]},
  {action = "fund_reserve"},
  {action = "transfer", amount = "principal_deficiency"},
  {action = "pay_fee", fees = ["servicer"]},
  {action = "transfer"},
  {action = "pay_principal", classes = ["senior"], account = "principal"},
  {action = "pay_principal", classes = ["subordinated"], account = "principal"},
  {action = "pay_fee", fees = ["paying_agent"], account = "principal"},
  {action = "pay_residual"},
]
triggered = [
  {action = "pay_fee", fees = ["tax", "senior"]},
  {action = "pay_interest", classes = ["senior"]},
  {action = "transfer", account = "principal"},
  {action = "pay_principal", classes = ["senior", "subordinated"]},
  {action = "pay_residual"},
]
accelerated = [
  {action = "pay_fee", fees = ["tax"]},
  {action = "pay_interest", classes = ["senior"]},
  {action = "pay_principal", classes = ["senior"], account = "principal"},
  {action = "pay_residual", account = "principal"},
]
"""


def nanshan_loans(**tables) -> dict:
    """The Nanshan loans and notes with one account and the standard order, and `tables`."""
    data = read_toml(NANSHAN)
    for key in STRUCTURE:
        data.pop(key, None)
    data.update(tables)
    return data


def mechanics_data(extra: str = MECHANICS) -> dict:
    return nanshan_loans(**tomllib.loads(extra))


def mechanics_deal():
    """Nanshan with [tax], split accounts, transfers, cover from principal, new fee bases, a
    formula reserve with a cap and a 差额支付承诺 that covers the tax and the senior fees."""
    return validate(mechanics_data(), base_dir=NANSHAN.parent)


def mechanics_variants():
    """Variants that between them word the rest: recoveries to principal and no cure, a tax on
    collections, a guarantee of ultimate principal, no clean-up call, every formula target and
    cap."""
    sc = mechanics_deal()
    yield sc
    yield sc.replace(
        {
            "accounts.recoveries": "principal",
            "waterfall.normal[4].amount": "all",  # no transfer cures the ledger
            "tax.base": "collections",
            "credit_support[0].principal": "ultimate",
            "reserve.initial_balance": 0.0,  # released into revenue, never drawn
            "waterfall.normal[0].cover_from": ["principal"],
            "waterfall.normal[2].cover_from": ["principal"],
        }
    )
    yield sc.replace({"credit_support[0].covers": []})  # a support of the fees only
    yield sc.replace({"waterfall.normal[4].amount": "all"})  # recoveries to revenue, no cure
    licence = small_deal()  # a licence-income pool with two accounts: the revenue is income
    licence["accounts"] = {"collections": "revenue_and_principal"}
    licence["waterfall"] = {
        "normal": [
            {"action": "pay_fee", "fees": ["senior"]},
            {"action": "pay_interest", "classes": ["A", "B"]},
            {"action": "transfer"},
            {"action": "pay_principal", "classes": ["A", "B"], "account": "principal"},
            {"action": "pay_residual", "account": "principal"},
        ]
    }
    yield validate(licence)
    for recoveries in ("revenue", "principal"):  # and no clean-up call
        data = mechanics_data()
        del data["clean_up_call"]
        data["accounts"]["recoveries"] = recoveries
        yield validate(data, base_dir=NANSHAN.parent)
    for classes in ([], ["senior"]):
        for fees in ([], ["tax", "servicer"]):
            if not classes and not fees:
                continue
            for floor in ({}, {"reserve.target": 5e5, "reserve.target_pct_of_notes": 0.01}):
                for cap in (None, 3e6):
                    yield sc.replace(
                        {
                            "reserve.target_next_period": classes,
                            "reserve.target_next_period_fees": fees,
                            "reserve.target_cap": cap,
                            **floor,
                        }
                    )
    yield sc.replace(
        {
            "reserve.target_next_period": [],
            "reserve.target_next_period_fees": [],
            "reserve.target": 5e5,
            "reserve.target_pct_of_notes": 0.01,
        }
    )


def show(lang: str, words, sc=None) -> str:
    """A (msgid, params) pair as the report shows it in `lang`."""
    names = {}
    if sc is not None:
        names = {t.name: t.display_name_zh or t.name for t in sc.tranches} if lang == "zh" else {}
    page = Page(Translator(lang), {}, names)
    msgid, params = words
    return page.msg(msgid, params)


# -- the program carries the accounts --------------------------------------------------------


def test_the_compiled_program_carries_each_steps_account_and_transfer():
    normal = tx.compiled_program(mechanics_deal())["normal"]
    assert [(s.action, s.account, s.transfer) for s in normal] == [
        ("pay_fee", "revenue", "all"),
        ("pay_fee", "revenue", "all"),
        ("pay_interest", "revenue", "all"),
        ("fund_reserve", "revenue", "all"),
        ("transfer", "revenue", "principal_deficiency"),
        ("pay_fee", "revenue", "all"),
        ("transfer", "revenue", "all"),
        ("pay_principal", "principal", "all"),
        ("pay_principal", "principal", "all"),
        ("pay_fee", "principal", "all"),
        ("pay_residual", "revenue", "all"),
    ]
    assert normal[0].cover == ("reserve", "principal")
    assert normal[0].members == ("tax",)


# -- the waterfall in words ------------------------------------------------------------------


def test_split_accounts_give_a_revenue_and_a_principal_priority_of_payments():
    sc = mechanics_deal()
    sections = tx.waterfall_in_words(sc)
    assert [(s.state, s.account, s.title) for s in sections] == [
        ("normal", "revenue", "Revenue priority of payments"),
        ("normal", "principal", "Principal priority of payments"),
        ("triggered", "revenue", "After a trigger event: revenue priority of payments"),
        ("triggered", "principal", "After a trigger event: principal priority of payments"),
        ("triggered", "revenue", "After a trigger event: revenue priority of payments"),
        ("accelerated", "revenue", "After an event of default: revenue priority of payments"),
        ("accelerated", "principal", "After an event of default: principal priority of payments"),
        ("final", None, "At legal final or a clean-up call"),
    ]
    revenue, principal = sections[0].steps, sections[1].steps
    assert list(revenue) == [
        ("Taxes (VAT and surcharges); a shortfall is drawn from {sources}",
         {"sources": ["the reserve", "the principal account"]}),
        ("Fees: {fees}; a shortfall is drawn from {sources}",
         {"fees": ["senior fees", "trustee", "rating_agency"], "sources": ["the principal account"]}),
        ("Interest on {classes}; a shortfall is drawn from {sources}",
         {"classes": ["senior"], "sources": ["the reserve", "the principal account"]}),
        ("Top up the reserve to the next period's interest on {classes} plus this period's "
         "amounts of {fees}, capped at {ceiling}, releasing any excess",
         {"classes": ["senior"], "fees": ["taxes (VAT and surcharges)", "senior fees"],
          "ceiling": 3_000_000.0}),
        ("Make good the principal deficiency ledger: move cash from the revenue account to the "
         "principal account, up to the ledger's balance", {}),
        ("Fees: {fees}", {"fees": ["servicer"]}),
        ("Move the revenue account's cash left to the principal account", {}),
    ]  # fmt: skip
    assert list(principal) == [
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["senior"]}),
        ("Principal on {classes}, sequentially, until repaid", {"classes": ["subordinated"]}),
        ("Fees: {fees}", {"fees": ["paying_agent"]}),
        ("Residual of every account to {cls}", {"cls": "subordinated"}),  # joins the run
    ]
    # a principal step between revenue steps: the runs keep the order the engine runs
    assert list(sections[3].steps) == [
        ("Move the principal account's cash left to the revenue account", {})
    ]
    assert sections[4].steps[0] == (
        "Principal on {classes}, sequentially, until repaid",
        {"classes": ["senior", "subordinated"]},
    )
    assert sections[5].steps[0] == ("Taxes (VAT and surcharges)", {})
    assert [w.msgid for w in sections[-1].steps][1:3] == [
        "The reserve is released into the revenue account",
        "Clean-up call: on the first payment date the collateral value is at or below {share} of "
        "its original value, the pool is sold at {price} of its value into the principal account "
        "and every class is due",
    ]


def test_the_waterfall_in_chinese_names_the_accounts_and_the_taxes():
    sc = mechanics_deal()
    sections = tx.waterfall_in_words(sc)
    zh = Translator("zh")
    assert [zh.gettext(s.title) for s in sections[:2]] == [
        "收入分账户分配顺序",
        "本金分账户分配顺序",
    ]
    revenue = [show("zh", w, sc) for w in sections[0].steps]
    assert revenue[0] == "税费（增值税及附加）；不足部分由储备金、本金分账户补足"
    assert revenue[1] == "费用：优先费用、trustee、rating_agency；不足部分由本金分账户补足"
    assert revenue[2] == "优先级利息；不足部分由储备金、本金分账户补足"
    assert revenue[3] == (
        "将储备金补足至下一期优先级应付利息与本期税费（增值税及附加）、优先费用金额之和，"
        "以3,000,000为上限，超出部分释放"
    )
    assert revenue[4] == "弥补本金亏损账：将收入分账户资金转入本金分账户，以该账余额为限"
    assert revenue[6] == "将收入分账户剩余资金转入本金分账户"
    assert show("zh", sections[1].steps[-1], sc) == "各账户剩余资金归次级"
    assert show("zh", sections[3].steps[0], sc) == "将本金分账户剩余资金转入收入分账户"
    en = [show("en", w, sc) for w in sections[0].steps]
    assert en[0] == (
        "Taxes (VAT and surcharges); a shortfall is drawn from the reserve, the principal account"
    )


def test_one_account_reads_as_before():
    """Without [accounts] the sections and words are the ones a v1 deal always had."""
    sc = validate(nanshan_loans(), base_dir=NANSHAN.parent)
    sections = tx.waterfall_in_words(sc)
    assert [(s.state, s.account) for s in sections] == [("normal", None), ("final", None)]
    assert sections[0].title == "Priority of payments"
    assert sections[0].steps[-1] == ("Residual to {cls}", {"cls": "subordinated"})
    assert all("account" not in w.msgid for s in sections for w in s.steps)


def test_a_tax_in_the_standard_order_is_paid_first():
    data = nanshan_loans(tax={})  # the defaults: 3% VAT, 12% surcharges, on income
    sc = validate(data, base_dir=NANSHAN.parent)
    program = tx.compiled_program(sc)["normal"]
    assert (program[0].action, program[0].members) == ("pay_fee", ("tax",))
    first = tx.waterfall_in_words(sc)[0].steps[0]
    assert first == ("Taxes (VAT and surcharges)", {})  # no reserve to draw
    assert show("zh", first) == "税费（增值税及附加）"


# -- fees and taxes --------------------------------------------------------------------------


def fee_terms(sc) -> dict[str, list[tuple[str, dict]]]:
    terms: dict[str, list] = {}
    for r in tx.fees_table(sc).to_dict("records"):
        terms.setdefault(r["fee"], []).append(
            (r["terms_msgid"], json.loads(r["terms_params_json"]))
        )
    return terms


def test_fees_and_taxes_with_their_terms():
    sc = mechanics_deal()
    table = tx.fees_table(sc)
    # in the waterfall's fee order; the subordinated fee accrues nothing and is left out
    assert list(dict.fromkeys(table["fee"])) == [
        "senior", "tax", "servicer", "paying_agent", "rating_agency", "trustee",
    ]  # fmt: skip
    names = dict(zip(table["fee"], table["name_msgid"], strict=True))
    assert names["tax"] == "taxes (VAT and surcharges)" and names["servicer"] == "servicer"
    terms = fee_terms(sc)
    rate = 0.03 / 1.03 * 1.12
    ((msgid, params),) = terms["tax"]
    assert msgid.startswith("VAT at {rate}, included in the price, and surcharges of {share}")
    assert "each period's income" in msgid
    assert params == {"rate": 0.03, "share": 0.12, "effective": pytest.approx(rate, rel=1e-12)}
    assert terms["senior"] == [
        ("{amount} a year", {"amount": 200_000.0}),
        ("{rate} a year of the notes' balance", {"rate": 0.001}),
    ]
    assert terms["servicer"] == [
        ("{share} of each period's income (interest and licence income)", {"share": 0.01}),
        ("capped at {amount} a year", {"amount": 300_000.0}),
        ("at least {amount} a year", {"amount": 50_000.0}),
        ("what a period's cash does not pay is waived, not carried", {}),
    ]
    assert terms["paying_agent"] == [
        ("{share} of the interest and principal paid to the classes", {"share": 0.00005})
    ]
    # due on the first payment date on or after 2023-01-01
    assert terms["rating_agency"] == [
        ("a one-off {amount} on {date}", {"amount": 150_000.0, "date": "2023-02-28"})
    ]
    assert terms["trustee"] == [("{share} of each period's collections", {"share": 0.0005})]
    covered = dict(zip(table["fee"], table["covered_by_support"], strict=True))
    assert covered["tax"] == covered["senior"] == "credit_support[0]"
    assert covered["servicer"] == ""


def test_fee_terms_in_chinese():
    terms = fee_terms(mechanics_deal())
    assert show("zh", terms["tax"][0]) == (
        "增值税按3.00%征收率简易计税（含税销售额价税分离），附加税费为增值税的12.00%："
        "合计为每期收入回收款（利息及许可收入；本金不征税）的3.26%"
    )
    assert show("zh", terms["servicer"][0]) == "每期收入回收款（利息及许可收入）的1.00%"
    assert show("zh", terms["servicer"][-1]) == "当期未付部分予以豁免，不结转至下期"
    assert show("zh", terms["paying_agent"][0]) == "各档证券兑付本息金额的0.0050%"
    assert show("zh", terms["rating_agency"][0]) == "于2023年2月28日一次性支付150,000"
    assert show("en", terms["tax"][0]).endswith(
        "3.26% of each period's income (interest and licence income; principal is not taxed)"
    )
    on_collections = mechanics_deal().replace({"tax.base": "collections"})
    assert show("zh", fee_terms(on_collections)["tax"][0]).endswith("合计为每期全部回收款的3.26%")


def test_new_fee_bases_make_a_fee_step_pay_something():
    """A fee step whose only fee accrues on income, collections, class payments, a floor or a
    one-off amount is not left out as paying nothing."""
    sc = mechanics_deal()
    for fee in ("servicer", "paying_agent", "rating_agency", "trustee", "tax"):
        assert tx._fee_accrues(sc, fee), fee
    floor_only = sc.replace(
        {
            "other_fees[name=servicer].pct_of_income": 0.0,
            "other_fees[name=servicer].cap_per_year": None,
        }
    )
    assert tx._fee_accrues(floor_only, "servicer")
    assert fee_terms(floor_only)["servicer"][0] == (
        "at least {amount} a year",
        {"amount": 50_000.0},
    )


# -- credit support and accounts -------------------------------------------------------------


def test_accounts_ledger_and_support_that_covers_taxes_and_fees():
    sc = mechanics_deal()
    table = tx.credit_support_table(sc).set_index("id")
    assert list(table.index) == [
        "credit_support[0]", "loss_sharing[0]", "revenue_account", "principal_account",
        "principal_deficiency_ledger", "reserve",
    ]  # fmt: skip
    support = table.loc["credit_support[0]"]
    assert support["covers"] == "senior"
    assert support["terms_msgid"] == (
        "Tops up the shortfalls of {fees}, the interest and scheduled principal shortfalls of "
        "{classes}, and their principal unpaid at legal final, until the provider defaults"
    )
    assert json.loads(support["terms_params_json"]) == {
        "classes": ["senior"],
        "fees": ["taxes (VAT and surcharges)", "senior fees"],
    }
    assert show("zh", (support["terms_msgid"], support["terms_params_json"]), sc) == (
        "补足税费（增值税及附加）、优先费用的差额、优先级的利息和计划本金差额，以及法定到期日未付本金，"
        "直至提供方违约"
    )
    revenue, principal, ledger = (
        table.loc[i]
        for i in ("revenue_account", "principal_account", "principal_deficiency_ledger")
    )
    assert (revenue["kind_msgid"], revenue["level"]) == ("Revenue account", "cash")
    # recoveries to revenue (the ledger is cured from revenue)
    assert "recoveries" in revenue["terms_msgid"] and "recoveries" not in principal["terms_msgid"]
    assert principal["kind_msgid"] == "Principal account"
    assert principal["covers"] == "senior"  # its interest step draws the principal account
    assert ledger["kind_msgid"] == "Principal deficiency ledger"
    assert ledger["terms_msgid"].endswith(
        "made good from the revenue account by the principal deficiency transfer"
    )
    assert table.loc["reserve", "terms_msgid"].endswith(
        "released into the revenue account at legal final"
    )
    zh = Translator("zh")
    assert [zh.gettext(r["kind_msgid"]) for r in (revenue, principal, ledger)] == [
        "收入分账户",
        "本金分账户",
        "本金亏损账（PDL）",
    ]
    assert zh.gettext(revenue["terms_msgid"]) == (
        "归集每期回收款中的利息，以及违约贷款的全部回收款和风险分担款项"
    )
    assert "以收入分账户资金转入本金分账户予以弥补" in zh.gettext(ledger["terms_msgid"])


def test_recoveries_to_principal_and_a_ledger_nothing_cures():
    sc = mechanics_deal().replace(
        {"accounts.recoveries": "principal", "waterfall.normal[4].amount": "all"}
    )
    table = tx.credit_support_table(sc).set_index("id")
    # recoveries make good the ledger first (principal account); only the rest is revenue
    assert "beyond the principal deficiency ledger" in table.loc["revenue_account", "terms_msgid"]
    assert "up to the principal deficiency ledger" in table.loc["principal_account", "terms_msgid"]
    assert table.loc["principal_deficiency_ledger", "terms_msgid"].endswith("no step makes it good")
    normal = tx.waterfall_in_words(sc)[0].steps
    assert ("Move the revenue account's cash left to the principal account", {}) in normal


def test_a_formula_reserve_without_an_initial_balance_is_still_worded():
    sc = mechanics_deal().replace(
        {"reserve.initial_balance": 0.0, "reserve.target_cap": None,
         "reserve.target_next_period": [], "reserve.target_next_period_fees": ["tax"]}
    )  # fmt: skip
    steps = tx.waterfall_in_words(sc)[0].steps
    assert (
        "Top up the reserve to this period's amounts of {fees}, releasing any excess",
        {"fees": ["taxes (VAT and surcharges)"]},
    ) in steps
    floored = sc.replace({"reserve.target": 5e5, "reserve.target_pct_of_notes": 0.01})
    words = next(w for w in tx.waterfall_in_words(floored)[0].steps if "reserve" in w.msgid)
    assert show("zh", words) == (
        "将储备金补足至500,000、证券余额的1.00%与本期税费（增值税及附加）金额三者中的最大者，超出部分释放"
    )


# -- the cash-flow statement -----------------------------------------------------------------


@pytest.mark.parametrize("taxed", [False, True])
def test_the_statements_fee_column_says_taxes_when_a_tax_is_modelled(taxed):
    data = nanshan_loans(tax={}) if taxed else nanshan_loans()
    sc = validate(data, base_dir=NANSHAN.parent)
    frame = pd.DataFrame(
        {"period": [1], "date": ["2022-11-30"], "sample_paths": [10], "collections": [1.0],
         "fees": [0.3], "fee_senior": [0.2], "fee_tax": [0.1], "residual": [0.7]}
    )  # fmt: skip
    for lang, fees, tax in (
        ("en", "Taxes and fees", "Taxes (VAT and surcharges)"),
        ("zh", "税费及各项费用", "税费（增值税及附加）"),
    ):
        page = Page(Translator(lang), {"cash_flows": frame}, {})
        labels = dict(_base_case_context(SimpleNamespace(scenario=sc), page)["statement_columns"])
        assert "fees" not in labels  # its parts are shown
        if taxed:
            assert labels["fee_tax"] == tax
        page = Page(Translator(lang), {"cash_flows": frame.drop(columns=["fee_senior", "fee_tax"])}, {})  # fmt: skip
        labels = dict(_base_case_context(SimpleNamespace(scenario=sc), page)["statement_columns"])
        assert labels["fees"] == (fees if taxed else Translator(lang).gettext("Fees"))


def test_the_fees_table_is_parquet_friendly(tmp_path):
    frame = tx.fees_table(mechanics_deal())
    frame.to_parquet(tmp_path / "fees.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "fees.parquet"), frame)
    empty = tx.fees_table(mechanics_deal().replace({"fees.fixed_per_year": 0.0}))
    assert "senior" in set(empty["fee"])  # its share of the notes still accrues
