"""`ipabs report`: a credit committee's report of one scenario and its stresses, in English and
Chinese (docs/report.md): self-contained HTML pages (charts inline as SVG, the CJK font
embedded, no external files or network loads), the Parquet tables every number comes from, PNG
charts and a manifest. `--check` is in `ipabs.report.check`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ipabs.report.contract_words import STRATA as CONTRACT_STRATA
from ipabs.report.contract_words import pool_label
from ipabs.report.i18n import N_, Translator
from ipabs.scenario.model import layer_names, subsidy_names

#: the Parquet files a report may save (data/<name>.parquet), which `--check` compares
DATA_FILES = (
    "summary",
    "pool",
    "periods",
    "triggers",
    "cash_flows",
    "coverage",
    "classes",
    "support",
    "fees",
    "strata",
    "top_obligors",
    "assumptions",
    "stress_comparison",
    "stress_targets",
    "stress_changes",
    "reverse",
)
#: relative tolerance of --check across platforms (same platform: exact)
CROSS_PLATFORM_RTOL = 1e-9
#: the report's sections, in order: (anchor, title)
SECTIONS = (
    ("summary", N_("Summary")),
    ("transaction", N_("Transaction")),
    ("pool", N_("Pool")),
    ("base-case", N_("Base case")),
    ("stresses", N_("Stresses")),
    ("assumptions", N_("Assumptions")),
    ("appendix", N_("Appendix")),
)

#: pool estimates shown in the Pool section: (column, label, kind, applies to)
#: applies to: "all", "licences" (a pool with licence income) or "loans"; a row other than the
#: core ones is shown only where its estimate is non-zero
POOL_ROWS = (
    ("expected_collections", N_("Expected collections"), "amount", "core"),
    ("expected_lost_income", N_("Expected income lost to defaults"), "amount", "licences"),
    ("expected_pool_loss_pct", N_("Expected pool loss, % of income due"), "pct", "licences"),
    ("pool_loss_pct_p95", N_("Pool loss, 95th percentile"), "pct", "licences"),
    ("pool_loss_pct_p99", N_("Pool loss, 99th percentile"), "pct", "licences"),
    ("pool_loss_pct_p99_9", N_("Pool loss, 99.9th percentile"), "pct", "licences"),
    ("expected_licensee_defaults", N_("Expected licensee defaults"), "number", "licences"),
    ("expected_ip_rights_lost", N_("Expected IP rights lost"), "number", "licences"),
    ("expected_annuity_fees_paid", N_("Expected patent annuities paid"), "amount", "licences"),
    ("expected_loan_defaults", N_("Expected loan defaults"), "number", "loans"),
    ("expected_loan_recoveries", N_("Expected loan recoveries"), "amount", "loans"),
    ("expected_loan_gross_loss", N_("Expected gross loan loss"), "amount", "loans"),
    ("expected_guarantor_paid", N_("Expected guarantor payments"), "amount", "loans"),
    ("expected_fund_paid", N_("Expected risk-compensation fund payments"), "amount", "loans"),
    ("expected_insurer_paid", N_("Expected insurer payments"), "amount", "loans"),
    (
        "expected_reguarantor_paid",
        N_("Expected re-guarantor payments to the lender"),
        "amount",
        "loans",
    ),
    (
        "expected_reguarantor_reimbursed",
        N_("Expected re-guarantor reimbursements of guarantors"),
        "amount",
        "loans",
    ),
    ("expected_insurance_premium_paid", N_("Expected insurance premiums paid"), "amount", "loans"),
    (
        "expected_interest_subsidy_paid",
        N_("Expected interest subsidies received"),
        "amount",
        "loans",
    ),
    ("expected_loan_net_loss", N_("Expected net loan loss"), "amount", "loans"),
    ("expected_co_lenders_net_loss", N_("Expected net loss of the co-lenders"), "amount", "loans"),
    ("expected_loan_loss_pct", N_("Expected net loan loss, % of loans"), "pct", "loans"),
    ("loan_loss_pct_p95", N_("Net loan loss, 95th percentile"), "pct", "loans"),
    ("loan_loss_pct_p99", N_("Net loan loss, 99th percentile"), "pct", "loans"),
    ("loan_loss_pct_p99_9", N_("Net loan loss, 99.9th percentile"), "pct", "loans"),
    ("expected_fees_paid", N_("Expected fees paid"), "amount", "core"),
    ("expected_reserve_draw", N_("Expected reserve draws"), "amount", "all"),
    ("expected_credit_support_paid", N_("Expected credit support received"), "amount", "all"),
    ("expected_liquidity_drawn", N_("Expected liquidity drawn"), "amount", "all"),
    ("expected_clean_up_called", N_("Probability of a clean-up call"), "pct", "all"),
    (
        "expected_periods_triggered",
        N_("Expected periods with a trigger in force"),
        "number",
        "all",
    ),
    ("expected_accelerated", N_("Probability of acceleration"), "pct", "all"),
    ("expected_revolving_purchases", N_("Expected revolving purchases"), "amount", "all"),
    ("expected_residual", N_("Expected residual"), "amount", "core"),
)


@dataclass(frozen=True)
class Built:
    """One report in memory: its pages by language, its tables and its charts by language."""

    pages: dict[str, str]  # language -> the HTML page
    data: dict[str, pd.DataFrame]
    charts: dict[str, dict[str, tuple[bytes, str]]]  # language -> name -> (PNG, SVG)


def report_data(sc, results, stress_run=None) -> dict[str, pd.DataFrame]:
    """Every table the report shows, as saved in data/: the same in every language."""
    data: dict[str, pd.DataFrame] = {
        "summary": results.summary,
        "pool": results.pool,
        "periods": results.periods,
        "triggers": results.triggers,
    }
    from ipabs.report import transaction

    data["cash_flows"] = results.cash_flows
    data["coverage"] = results.cash_flow_coverage
    data["classes"] = transaction.classes_table(sc)
    data["support"] = transaction.credit_support_table(sc)
    data["fees"] = transaction.fees_table(sc)
    data["strata"] = strata_table(sc)
    data["top_obligors"] = top_obligors_table(sc)
    data["assumptions"] = assumptions_table(sc)
    if stress_run is not None:
        data["stress_comparison"] = stress_run.comparison
        if stress_run.targets is not None and len(stress_run.targets):
            data["stress_targets"] = stress_run.targets
        data["stress_changes"] = stress_run.changes_frame()
        if stress_run.reverse is not None:
            data["reverse"] = stress_run.reverse
    return data


#: a loss-sharing layer's or an interest subsidy's row in the Pool section, after the kind totals
LAYER_ROW = N_("Expected payments by layer {name}")
SUBSIDY_ROW = N_("Expected interest subsidy {name}")


def pool_rows(sc, pool: pd.DataFrame) -> list[tuple[str, str, str, dict[str, str]]]:
    """The pool estimates that apply to this pool: (column, label, kind, label parameters);
    each loss-sharing layer's and subsidy's payments by name after the payments by kind, when
    there are several layers."""
    has = {
        "core": True,
        "all": True,
        # (a lease or receivables pool's assets are leased IP, not licences)
        "licences": (len(sc.assets) > 0 and not (sc.leases or sc.receivables))
        or any(a.licensee for a in sc.assets),
        "loans": sc.has_claims(),
    }
    rows = []
    for column, label, kind, applies in POOL_ROWS:
        if column == "expected_loan_net_loss" and has["loans"]:
            rows += _named_rows(sc, pool)  # by name, after the payments by kind
        if column not in pool.columns or not has[applies]:
            continue
        value = float(pool[column].iloc[0])
        se = float(pool.get(f"{column}_se", pd.Series([0.0])).iloc[0])
        quantile = "_p9" in column  # a percentile of a loss that applies shows even at zero
        if (
            applies not in ("core",)
            and not (quantile and applies != "all")
            and value == 0.0
            and se == 0.0
        ):
            continue
        rows.append((column, pool_label(sc, column, label), kind, {}))
    return rows


def _named_rows(sc, pool: pd.DataFrame) -> list[tuple[str, str, str, dict[str, str]]]:
    """Each loss-sharing layer's and interest subsidy's row, when there are several of them."""
    rows = []
    layers = getattr(sc, "loss_sharing", ())
    subsidies = getattr(sc, "interest_subsidies", ())
    if len(layers) > 1:
        for name in layer_names(layers):
            if f"expected_layer_{name}_paid" in pool.columns:
                rows.append((f"expected_layer_{name}_paid", LAYER_ROW, "amount", {"name": name}))
    if len(subsidies) > 1:
        for name in subsidy_names(subsidies):
            if f"expected_subsidy_{name}_paid" in pool.columns:
                rows.append((f"expected_subsidy_{name}_paid", SUBSIDY_ROW, "amount", {"name": name}))  # fmt: skip
    return rows


def rank_order(summary: pd.DataFrame) -> list[int]:
    """Row positions of the summary by rank (most senior first; the file's order within a
    rank)."""
    ranks = summary["rank"].to_numpy()
    return sorted(range(len(summary)), key=lambda i: (ranks[i], i))


def build(sc, results, stress_run=None, info: dict | None = None, langs=("en",)) -> Built:
    """The report's pages, tables and charts in each language of `langs`."""
    from ipabs.report import charts as report_charts
    from ipabs.report.render import Page, render

    data = report_data(sc, results, stress_run)
    info = info or {}
    pages: dict[str, str] = {}
    charts: dict[str, dict[str, tuple[bytes, str]]] = {}
    for lang in langs:
        t = Translator(lang)
        shown = sc.display_names(lang)
        drawn = report_charts.draw_all(results, stress_run, t.gettext, shown)
        page = Page(t, data, shown)
        context = _context(sc, results, stress_run, info, page, drawn)
        html_text = render(page, **context)
        pages[lang] = _with_font(html_text)
        charts[lang] = drawn
    return Built(pages, data, charts)


def _with_font(html_text: str) -> str:
    """The page with its CJK font embedded: a subset of exactly the characters it uses."""
    from ipabs.report.fonts import css_font_face

    marker = "/*@font-face*/"
    return html_text.replace(marker, css_font_face(html_text), 1)


def _context(sc, results, stress_run, info: dict, page, drawn) -> dict[str, Any]:
    from ipabs.report.charts import TITLES

    deal = sc.deal
    summary = results.summary
    return {
        "lang": page.t.lang,
        "html_lang": "zh-Hans" if page.t.lang == "zh" else "en",
        "deal": deal,
        "deal_name": sc.deal_name(page.t.lang),
        "sc": sc,
        "sections": SECTIONS,
        "info": info,
        "manifest_rows": manifest_rows(info),
        "regenerate": regenerate_command(info),
        "classes_by_rank": rank_order(summary),
        "pool_rows": pool_rows(sc, results.pool),
        "importance": results.importance is not None and results.importance.enabled,
        "charts": {name: (TITLES[name], svg) for name, (_, svg) in drawn.items()},
        "stress_run": stress_run,
        "stress_names": (
            list(dict.fromkeys(stress_run.comparison["stress"])) if stress_run is not None else []
        ),
        "has_triggers": len(results.triggers) > 0,
        "kind_label": KIND_LABELS["transfer" if sc.transfer is not None else sc.kind],
        "font_stack": _font_stack(),
        "rating": lambda text: page._(RATING_WORDS[text]) if text in RATING_WORDS else text,
        "model_notes": MODEL_NOTES,
        "rating_scale": str(summary["rating_scale"].iloc[0]),
        "rating_notes": (
            SCALE_NOTES.get(str(summary["rating_scale"].iloc[0]), SCALE_NOTES["named"]),
            BASIS_NOTES.get(str(summary["rating_metric"].iloc[0]), BASIS_NOTES["loss_probability"]),
        ),
        **_transaction_context(sc, page),
        **_conventions_context(sc, page),
        **_pool_context(sc, page),
        **_base_case_context(results, page),
        **_stress_context(stress_run, page),
    }


CALENDAR_LABELS = {
    "china_exchange": N_("China exchange calendar (SSE/SZSE, State Council holidays)"),
    "china_interbank": N_("China interbank calendar (State Council holidays and make-up working days)"),
    "none": N_("weekdays, less the scenario's holidays"),
}  # fmt: skip
CONVENTION_LABELS = {
    "unadjusted": N_("payment dates not rolled"),
    "following": N_("following business day"),
    "modified_following": N_("modified following business day"),
    "preceding": N_("preceding business day"),
}


def _conventions_context(sc, page) -> dict[str, Any]:
    """The deal's conventions beyond its day count, as a committee reads them: other legs' day
    counts, unadjusted accrual, the calendar and the business-day rule, the cut-off date and the
    collection periods (docs/model.md, section 1)."""
    deal = sc.deal
    conventions: list[tuple[str, str]] = []
    loan_counts = sorted({str((loan.day_count or deal.day_count).value) for loan in sc.loans})
    if loan_counts and loan_counts != [deal.day_count.value]:
        conventions.append((N_("loans {value}"), ", ".join(loan_counts)))
    own = [
        f"{sc.display_names(page.t.lang)[t.name]} {t.day_count.value}"
        for t in sc.tranches_by_rank()
        if t.day_count is not None and t.day_count != deal.day_count
    ]
    if own:
        conventions.append((N_("classes {value}"), ", ".join(own)))
    if deal.accrual_dates == "unadjusted":
        conventions.append((N_("accrual between the unadjusted dates (顺延不另计息)"), ""))
    calendar = str(getattr(deal.calendar, "value", deal.calendar))
    convention = str(getattr(deal.business_day_convention, "value", deal.business_day_convention))
    calendar_words = ""
    if calendar != "none" or convention != "unadjusted":
        calendar_words = (
            page._(CALENDAR_LABELS[calendar]) + page._("; ") + page._(CONVENTION_LABELS[convention])
        )
    collection_words = ""
    cut_off = deal.cut_off_date or deal.closing_date
    if cut_off != deal.closing_date or deal.collection_lag_days:
        parts = []
        if cut_off != deal.closing_date:
            parts.append(page._("cut-off date {date}", date=page.t.date(cut_off)))
        if deal.collection_lag_days:
            msgid = (
                N_("each collection period ends {n} business days before its payment date")
                if deal.collection_lag_basis == "business_days"
                else N_("each collection period ends {n} days before its payment date")
            )
            parts.append(page._(msgid, n=deal.collection_lag_days))
        collection_words = page._("; ").join(parts)
    return {
        "conventions": conventions,
        "calendar_words": calendar_words,
        "collection_words": collection_words,
        "deal_taxed": sc.tax is not None,
    }


def _font_stack():
    from markupsafe import Markup

    from ipabs.report.fonts import CSS_FONT_STACK

    return Markup(CSS_FONT_STACK)  # our own constant (quoted family names), not user text


#: the rating words that are not a grade (ipabs.ratings.implied), as the page names them
RATING_WORDS = {"below table": N_("below table"), "not resolved": N_("not resolved")}

#: what the ratings are on: the table's scale and the metric rated (issue #16)
SCALE_NOTES = {
    "global": N_(
        "Scale: global. The built-in table is Moody's global corporate default rates, a global-scale equivalent, not a Chinese domestic sf scale."
    ),
    "scenario": N_("Scale: the scenario's own rating table."),
    # a table the scenario gives, inline or in a shared table file, under the name it gives
    "named": N_("Scale: {scale} (the scenario's rating table, not the built-in one)."),
}
BASIS_NOTES = {
    "loss_probability": N_("Rated on ultimate principal: the probability of a principal loss by legal final, against the table at the deal's term."),
    "timely_interest_probability": N_("Rated on timely interest and ultimate principal: the probability of any interest shortfall or a principal loss by legal final."),
    "expected_loss": N_("Rated on expected loss, against the table at each class's WAL."),
}  # fmt: skip

#: payment frequencies as the page names them
FREQUENCIES = (N_("monthly"), N_("quarterly"), N_("semiannual"), N_("annual"))

KIND_LABELS = {
    "abs": N_("Asset-backed securities (notes)"),
    "trust": N_("IP trust"),
    "transfer": N_("Credit-asset transfer"),
}

MODEL_NOTES = (
    N_("Income levels are lognormal around their growth path, with factor-driven shocks; licensees, borrowers and support providers have default times from a one-factor Gaussian or Student-t copula at their horizon, on the same factors that move the income (docs/model.md, section 3)."),
    N_("The waterfall is the scenario's program of steps per deal state; triggers are tested each period on that period's collections, before its payments (section 4)."),
    N_("Interest shortfalls are carried without compounding unless a class says otherwise; a class's principal loss is its balance after the legal-final payment."),
    N_("Prices discount each path's cash flows at the scenario's discount rate (annual effective, ACT/365F years, unless the scenario asks for the interbank convention); implied ratings read a probability table at the classes' final maturity and an expected-loss table at each class's WAL (section 5.1). The built-in table is a global-scale corporate default-rate equivalent, not a Chinese domestic sf scale."),
    N_("Stresses run on the same random draws as the base case (common random numbers)."),
)  # fmt: skip


def _transaction_context(sc, page) -> dict[str, Any]:
    """The order of payments in words per deal state, credit support and triggers."""
    from ipabs.report import transaction

    support = page.data["support"]
    providers = {
        row.id: (row.provider if isinstance(row.provider, str) else page._(row.kind_msgid))
        for row in support.itertuples()
    }
    waterfall = [
        ((section.title, None), [(w.msgid, w.params) for w in section.steps])
        for section in transaction.waterfall_in_words(sc)
    ]
    triggers = [
        (
            row.name,
            page.msg(row.condition_msgid, row.condition_params_json),
            page.msg(row.effect_msgid, row.effect_params_json),
            page.msg(row.tripping_msgid, row.tripping_params_json),
        )
        for row in transaction.triggers_table(sc).itertuples()
    ]
    fee_lines: dict[str, tuple[str, list[tuple[str, str]], str]] = {}
    for row in page.data["fees"].itertuples():
        _, parts, _ = fee_lines.setdefault(row.fee, (row.name_msgid, [], row.covered_by_support))
        parts.append((row.terms_msgid, row.terms_params_json))
    return {
        "waterfall": waterfall,
        "fee_lines": list(fee_lines.values()),
        "support_rows": page.rows("support"),
        "trigger_rows": triggers,
        "support_of": lambda ids: page._(", ").join(
            providers.get(i, i) for i in str(ids or "").split(",") if i
        ),
    }


#: the stratification tables: name -> (title, first column, count column)
STRATA = {
    "income_by_ip_type": (N_("Licence income by IP type"), N_("IP type"), N_("Assets")),
    "income_by_licensee": (N_("Licence income by licensee"), N_("Licensee"), N_("Assets")),
    "income_by_factor": (
        N_("Licence income by systematic factor"),
        N_("Factor"),
        N_("Licensees"),
    ),
    "loans_by_ip_type": (N_("Loans by pledged IP type"), N_("IP type"), N_("Pledged assets")),
    "loans_by_borrower": (N_("Loans by borrower"), N_("Borrower"), N_("Pledged assets")),
    "loans_by_factor": (N_("Loans by systematic factor"), N_("Factor"), N_("Borrowers")),
    "loans_by_rate": (N_("Loans by interest rate at closing"), N_("Rate"), N_("Loans")),
    "loans_by_ltv": (N_("Loans by loan-to-value at closing"), N_("Loan-to-value"), N_("Loans")),
    **CONTRACT_STRATA,
}
#: the amount a table measures, by its column
AMOUNTS = {"base_annual_income": N_("Licence income per year ({cur})"), "balance": N_("Balance ({cur})")}  # fmt: skip
#: IP types as the page names them
IP_TYPES = {
    "patent": N_("patent"),
    "invention_patent": N_("invention patent"),
    "utility_model": N_("utility model"),
    "design_patent": N_("design patent"),
    "trademark": N_("trademark"),
    "copyright": N_("copyright"),
    "plant_variety": N_("plant variety"),
    "data_rights": N_("data rights"),
    "geographical_indication": N_("geographical indication"),
    "ic_layout": N_("IC layout design"),
    "unspecified": N_("unspecified"),
}


def strata_table(sc) -> pd.DataFrame:
    """The pool's stratification tables (ipabs.report.pool_tables) in one long table: its name,
    the row's label (an IP type, obligor or factor) or band (band_from, band_to), the count, the
    amount (licence income a year or loan balance, per amount_kind) and the share."""
    from ipabs.report.pool_tables import strata

    rows = []
    for name, frame in strata(sc).items():
        amount = "base_annual_income" if "base_annual_income" in frame.columns else "balance"
        count = next(c for c in ("assets", "obligors", "pledged_assets", "loans", "leased_assets", "receivables") if c in frame.columns)  # fmt: skip
        first = frame.columns[0]
        banded = first.endswith("_from")
        for row in frame.itertuples(index=False):
            values = row._asdict()
            rows.append({
                "table": name,
                "label": "" if banded else str(values[first]),
                "band_from": float(values[first]) if banded else float("nan"),
                "band_to": float(values[frame.columns[1]]) if banded else float("nan"),
                "count": int(values[count]),
                "amount_kind": amount,
                "amount": float(values[amount]),
                "share": float(values["share"]),
            })  # fmt: skip
    columns = ["table", "label", "band_from", "band_to", "count", "amount_kind", "amount", "share"]
    return pd.DataFrame(rows, columns=columns)


def top_obligors_table(sc) -> pd.DataFrame:
    """The ten largest obligors: obligor, amount (licence income a year or loan balance, per
    amount_kind), share, annual default probability, factor."""
    from ipabs.report.pool_tables import top_obligors

    frame = top_obligors(sc)
    rows = []
    for row in frame.to_dict("records"):
        kind = "balance" if pd.notna(row.get("balance", float("nan"))) else "base_annual_income"
        rows.append({
            "obligor": str(row["obligor"]),
            "amount_kind": kind,
            "amount": float(row[kind]),
            "share": float(row["share"]),
            "annual_default_probability": float(row["annual_default_probability"]),
            "factor": str(row["factor"]),
        })  # fmt: skip
    columns = ["obligor", "amount_kind", "amount", "share", "annual_default_probability", "factor"]
    return pd.DataFrame(rows, columns=columns)


def _fixed_coupons(sc) -> list[float]:
    return [t.coupon for t in sc.tranches if t.coupon_type == "fixed"]


CLASS_BALANCES = N_("Class balances at issue")
CLASS_COUPONS = N_("Class coupons (fixed)")


def assumptions_table(sc) -> pd.DataFrame:
    """The key assumptions read from the scenario (ipabs.report.assumptions), with sources."""
    from ipabs.report.assumptions import key_assumptions

    rows = [
        {
            "key": key,
            "label": label,
            "value_min": float(low),
            "value_max": float(high),
            "unit": unit,
            "items": len(values),
            "source": sc.source_for(key) or "",
            "text": "",
        }
        for key, label, unit, values in (
            ("tranches[*].balance", CLASS_BALANCES, "amount", [t.balance for t in sc.tranches]),
            ("tranches[*].coupon", CLASS_COUPONS, "pct_per_year", _fixed_coupons(sc)),
        )
        if values
        for low, high in [(min(values), max(values))]
    ]
    # the run's paths and seed are in the Summary (they may differ from the file's [simulation])
    rows += [
        {
            "key": a.key,
            "label": a.label,
            "value_min": float(a.value_min),
            "value_max": float(a.value_max),
            "unit": a.unit or "",
            "items": int(a.items),
            "source": a.source or "",
            "text": a.text or "",
        }
        for a in key_assumptions(sc)
        if not a.key.startswith("simulation.")
    ]
    columns = ["key", "label", "value_min", "value_max", "unit", "items", "source", "text"]
    return pd.DataFrame(rows, columns=columns)


#: how an assumption's unit is shown: the page's number kind
UNIT_KINDS = {"pct": "pct", "pct_per_year": "pct_per_year", "years": "years", "months": "months",
              "amount": "amount", "ratio": "number", "count": "integer"}  # fmt: skip


def _pool_context(sc, page) -> dict[str, Any]:
    from markupsafe import Markup, escape

    frame = page.data["strata"]
    tables = []
    for name in dict.fromkeys(frame["table"]):
        title, first, count = STRATA[name]
        positions = [i for i, t in enumerate(frame["table"]) if t == name]
        rows = []
        for i in positions:
            label = frame["label"].iloc[i]
            if name.endswith("ip_type"):
                label = page._(IP_TYPES.get(label, label))
            elif not label:
                label = page.num("strata", i, "band_from", "pct") + Markup("–") + page.num("strata", i, "band_to", "pct")  # fmt: skip
            rows.append((i, label))
        amount = AMOUNTS[frame["amount_kind"].iloc[positions[0]]]
        tables.append((name, title, first, count, amount, rows))
    top = page.data["top_obligors"]
    top_amount = AMOUNTS[top["amount_kind"].iloc[0]] if len(top) else AMOUNTS["balance"]

    def assumption_value(i: int):
        row = page.data["assumptions"].iloc[i]
        if row["text"]:
            return page._(row["text"])
        kind = UNIT_KINDS[row["unit"]]
        if row["value_min"] == row["value_max"]:
            return page.num("assumptions", i, "value_min", kind)
        if kind == "pct_per_year":  # the unit once: "1.50% – 4.00% a year"
            marker = "\x00"
            before, _, after = page._("{n} a year", n=marker).partition(marker)
            span = page.num("assumptions", i, "value_min", "pct") + Markup(" – ") + page.num("assumptions", i, "value_max", "pct")  # fmt: skip
            return escape(before) + span + escape(after)
        low = page.num("assumptions", i, "value_min", kind)
        return low + Markup(" – ") + page.num("assumptions", i, "value_max", kind)

    return {"strata": tables, "top_amount_label": top_amount, "assumption_value": assumption_value}


#: the cash-flow statement's flows as the page names them (ipabs.engine.statement), in order
FLOW_LABELS = {
    "collections": N_("Collections"),
    "call_proceeds": N_("Sale proceeds (call or termination)"),
    "credit_support": N_("Credit support received"),
    "reserve_draw": N_("Reserve drawn"),
    "reserve_release": N_("Reserve released"),
    "liquidity_drawn": N_("Liquidity drawn"),
    "holdback_drawn": N_("Holdback drawn"),
    "holdback_released": N_("Holdback released"),
    "fees": N_("Fees"),  # with a [tax] table: TAXES_AND_FEES
    "performance_fee": N_("Performance fee"),
    "liquidity_charges": N_("Liquidity facility charges"),
    "liquidity_repaid": N_("Liquidity repaid"),
    "interest": N_("{cls} interest"),
    "principal": N_("{cls} principal"),
    "reserve_topup": N_("Reserve top-up"),
    "holdback_in": N_("Held back"),
    "revolving_purchases": N_("Revolving purchases"),
    "residual": N_("Residual"),
}
#: the statement's account balances at each period's end
BALANCE_LABELS = {"reserve": N_("Reserve"), "holdback": N_("Holdback")}
#: the fees column of a deal with a [tax] table: the tax is paid as one of its fees
TAXES_AND_FEES = N_("Taxes and fees")
#: fees by name (the [fees] table's two; other fees show their own names)
FEE_LABELS = {"senior": N_("senior fees"), "subordinated": N_("subordinated fees")}
#: the [tax] table's fee (named tax), as its own column
TAX_LABEL = N_("Taxes (VAT and surcharges)")
COVERAGE_COLUMNS = (
    ("initial_balance", N_("Balance at issue ({cur})")),
    ("interest_paid", N_("Expected interest ({cur})")),
    ("due", N_("Due ({cur})")),
    ("available", N_("Available ({cur})")),
    ("coverage", N_("Coverage")),
)
COVERAGE_NOTE = N_(
    "Coverage = the pool's expected cash after fees and after what every more senior class is due, over what this class is due (its balance at issue and its expected interest), over the deal's life; credit support, the reserve and the liquidity facility are not counted. Classes of one rank share a ratio. A ratio of expected amounts says nothing of the tail: read it with the class's expected loss and probability of loss."
)


def _base_case_context(results, page) -> dict[str, Any]:
    """The statement's columns as the page shows them: (column, label), the flows that are not
    zero in every period (collections, fees and residual always), then each class's and
    account's balance at the period's end; and the coverage table's."""
    frame = page.data["cash_flows"]
    shown = page.shown_names
    taxed = results.scenario.tax is not None
    has_fee_parts = any(c.startswith("fee_") for c in frame.columns)
    flows, balances = [], []
    for column in frame.columns:
        kind, _, rest = column.partition("_")
        if column in ("period", "date", "t_years", "sample_paths") or kind == "opening":
            continue
        if kind == "closing":
            label = BALANCE_LABELS.get(rest)
            balances.append((column, page._(label) if label else page._("{cls} balance", cls=shown.get(rest, rest))))  # fmt: skip
            continue
        always = column in ("collections", "fees", "residual")
        if not always and not (frame[column] != 0.0).any():
            continue
        if column == "fees" and has_fee_parts:
            continue  # its parts are shown instead
        if kind == "fee":
            name = column[len("fee_") :]
            if name == "tax" and taxed:
                flows.append((column, page._(TAX_LABEL)))
            else:
                flows.append((column, page._("Fee: {name}", name=page._(FEE_LABELS[name]) if name in FEE_LABELS else name)))  # fmt: skip
        elif column == "fees" and taxed:
            flows.append((column, page._(TAXES_AND_FEES)))
        elif column.startswith(("interest_", "principal_")):
            flows.append((column, page._(FLOW_LABELS[kind], cls=shown.get(rest, rest))))
        else:
            flows.append((column, page._(FLOW_LABELS[column])))
    return {
        "statement_paths": int(frame["sample_paths"].iloc[0]) if len(frame) else 0,
        "statement_columns": flows,
        "balance_columns": balances,
        "coverage_columns": COVERAGE_COLUMNS,
        "coverage_note": COVERAGE_NOTE,
    }


#: the pool stresses of the reverse stress, as the page names them
PRESETS = {
    "default_multiplier": N_("Default probabilities × (1 + level)"),
    "income_haircut": N_("Income haircut (share of income removed)"),
    "decay_increase": N_("Income decay increase (a year)"),
    "recovery_cut": N_("Recovery cut (share of recoveries removed)"),
    "correlation_increase": N_("Correlation increase"),
}
#: the reverse stress's outcomes (ipabs.solvers.breakevens), as the page names them
STATUSES = {
    "breakeven": N_("breakeven found"),
    "meets the target at the end of the range": N_("meets the target at the end of the range"),
    "misses the target unstressed": N_("misses the target unstressed"),
    "not applicable": N_("not applicable"),
}
#: a target's metric as the page names it
METRICS = {
    "expected_loss": N_("expected loss ≤ {limit}"),
    "prob_loss": N_("probability of loss ≤ {limit}"),
    "prob_shortfall": N_("probability of an interest shortfall ≤ {limit}"),
    "implied_rating": N_("rating {rating} or better"),
}
TARGET_RULE = N_(
    "A target passes when its estimate is within the limit (a rating: at least the target rating, read from the one-sided 95% upper bound). It is resolved when the paths support the verdict: the estimate lies more than two standard errors from the limit with 10 or more losing paths, or the exact 95% Clopper-Pearson bound is on the same side with fewer; a target of no loss passes only when no path lost. An unresolved verdict needs more paths."
)


def _reverse_target(row):
    """The reverse stress's target (the breakeven rows' target fields) as a message."""
    if row.target_metric == "rating":
        return N_("rating {rating} or better (95% upper bound)"), {"rating": row.target_rating}
    if row.target_metric not in ("expected_loss", "prob_loss"):
        return "–", {}  # no class searched: nothing to target
    if row.target_limit == 0.0:
        return N_("no loss on any path"), {}
    if row.target_metric == "expected_loss":
        return N_("expected loss at most {limit} (95% upper bound)"), {"limit": row.target_limit}
    return N_("probability of loss at most {limit} (95% upper bound)"), {"limit": row.target_limit}


def _stress_context(stress_run, page) -> dict[str, Any]:
    from markupsafe import Markup, escape

    context: dict[str, Any] = {
        "target_overview": [],
        "stress_label": lambda name: name,
        "stress_changes": [],
        "matrix_classes": [],
        "matrix": [],
        "target_rule": TARGET_RULE,
        "no_effect": {},
        "target_text": lambda i: "",
        "reverse_rows": [],
        "applicability": [],
        "preset_label": lambda name: PRESETS.get(name, name),
    }
    if stress_run is None:
        return context
    comparison = stress_run.comparison
    ranks = dict(zip(comparison["tranche"], comparison["rank"], strict=False))
    classes = sorted(dict.fromkeys(comparison["tranche"]), key=lambda c: ranks[c])  # stable
    names = list(dict.fromkeys(comparison["stress"]))
    positions = {
        (s, c): i for i, (s, c) in enumerate(zip(comparison["stress"], comparison["tranche"], strict=True))
    }  # fmt: skip
    targets = page.data.get("stress_targets")
    verdicts: dict[tuple[str, str], tuple[str, str]] = {}
    no_effect = stress_run.no_effect
    context["no_effect"] = no_effect
    if targets is not None:
        for name in names:
            rows = targets[targets["stress"] == name]
            if len(rows):
                met = int(rows["passed"].sum())
                unresolved = int((~rows["resolved"]).sum())
                context["target_overview"].append(
                    (name, met, len(rows), unresolved, bool(no_effect.get(name, False)))
                )
            for tranche in classes:
                mine = rows[(rows["tranche"] == tranche) & (rows["metric"] == "expected_loss")]
                if len(mine) and not no_effect.get(name, False):
                    ok = bool(mine["passed"].all())
                    word = page._("pass") if ok else page._("fail")
                    if not mine["resolved"].all():
                        word += page._(" (not resolved)")
                    where = ",".join(f"stress_targets:{k}" for k in mine.index)
                    verdicts[(name, tranche)] = ("pass" if ok else "fail", word, where)

        def target_text(i: int):
            row = targets.iloc[i]
            if row["metric"] == "implied_rating":
                return page._(METRICS["implied_rating"], rating=row["limit_rating"])
            if row["limit_value"] == 0.0:
                return page._("no loss on any path")
            # the limit as a tagged number: the message is translated, then the tag put in
            marker = "\x00"
            text = page._(METRICS[row["metric"]], limit=marker)
            before, _, after = text.partition(marker)
            return (
                escape(before) + page.num("stress_targets", i, "limit_value", "pct") + escape(after)
            )

        context["target_text"] = target_text
    context["matrix_classes"] = classes
    context["matrix"] = [(n, [(positions[(n, c)], verdicts.get((n, c))) for c in classes]) for n in names]  # fmt: skip
    changes = page.data["stress_changes"]
    for name in names[1:]:
        rows = []
        for i in [k for k, s in enumerate(changes["stress"]) if s == name]:
            row = changes.iloc[i]

            def span(lo: str, hi: str, text: str, i=i, row=row):
                if row["kind"] != "number":
                    return row[text]
                low = page.num("stress_changes", i, lo, "plain")
                if row[lo] == row[hi]:
                    return low
                return low + Markup(" – ") + page.num("stress_changes", i, hi, "plain")

            rows.append((row["key"], span("from_min", "from_max", "from_text"),
                         span("to_min", "to_max", "to_text"), page.num("stress_changes", i, "changed_values", "integer")))  # fmt: skip
        context["stress_changes"].append((name, rows))
    reverse = page.data.get("reverse")
    if reverse is not None:
        for i, row in enumerate(reverse.itertuples(index=False)):
            msgid, params = _reverse_target(row)
            target = page.msg(msgid, params)
            status = page._(STATUSES.get(row.status, row.status))
            note = "" if row.applies else page.msg(row.reason)
            context["reverse_rows"].append((i, row, target, status, note))
        applicability = stress_run.reverse_applicability
        for row in applicability.itertuples(index=False) if applicability is not None else ():
            keys = page._(", ").join(k for k in str(row.changed_keys).split(", ") if k)
            context["applicability"].append((row.preset, bool(row.applies), page.msg(row.reason, {"keys": keys} if "{keys}" in row.reason else None)))  # fmt: skip
    return context


#: the manifest keys the page shows, in order
SHOWN_MANIFEST = ("ipabs_version", "scenario_file", "scenario_sha256", "stress_file",
                  "stress_file_sha256", "seed", "paths", "languages", "out_dir")  # fmt: skip


def manifest_rows(info: dict) -> list[tuple[str, str]]:
    rows = []
    for key in SHOWN_MANIFEST:
        if key in info:
            value = info[key]
            rows.append((key, ", ".join(value) if isinstance(value, list) else str(value)))
    return rows


def regenerate_command(info: dict) -> str:
    """The command that writes this report again, from the folder it was written from."""
    import shlex

    parts = ["ipabs", "report", str(info.get("scenario_file") or "SCENARIO.toml")]
    if info.get("stress_file"):
        parts += ["--stress", str(info["stress_file"])]
    parts += ["--paths", str(info.get("paths", "")), "--seed", str(info.get("seed", ""))]
    langs = info.get("languages") or ["en"]
    parts += ["--lang", ",".join(langs)]
    if info.get("out_dir"):
        parts += ["--out", str(info["out_dir"])]
    return shlex.join(parts)


def portable(path: str | Path | None) -> str | None:
    """A path as the manifest keeps it: relative to the current folder, with forward slashes (an
    absolute path only where no relative one exists, as across Windows drives)."""
    if path is None:
        return None
    try:
        rel = os.path.relpath(Path(path).absolute(), Path.cwd())
    except ValueError:
        return Path(path).absolute().as_posix()
    return Path(rel).as_posix()


def report_platform() -> dict[str, str]:
    """A report manifest's platform: the run manifest's (ipabs.outputs.writer) and the versions
    of the libraries the page's bytes depend on (Matplotlib draws the charts; Babel formats the
    numbers; Jinja2 renders the page; fontTools subsets the font)."""
    import babel
    import fontTools
    import jinja2
    import matplotlib

    from ipabs.outputs.writer import _platform

    return {
        **_platform(),
        "matplotlib": matplotlib.__version__,
        "babel": babel.__version__,
        "jinja2": jinja2.__version__,
        "fonttools": fontTools.version,
    }


def run_info(results, spec) -> dict[str, Any]:
    """The manifest keys a report takes from its run: platform, seed, paths and the stresses."""
    info: dict[str, Any] = {
        "platform": report_platform(),
        "seed": results.scenario.simulation.seed,
        "paths": results.paths_run,
    }
    if spec is not None:
        info["stress_spec"] = spec.model_dump(mode="json")
    if results.importance is not None and results.importance.enabled:
        info["importance"] = results.importance.record()
    return info


def page_name(lang: str) -> str:
    return f"report.{lang}.html"


def write_report(
    sc,
    source: Path,
    out_dir: Path,
    *,
    paths=None,
    seed=None,
    stress_file=None,
    langs=("en",),
    pdf: bool = False,
) -> list[Path]:
    """Write the report folder (atomically: all of it or nothing) and return its pages (and
    PDFs)."""
    from ipabs.api import simulate
    from ipabs.outputs.writer import (
        atomic_folder,
        file_sha256,
        scenario_manifest,
        write_manifest,
        write_parquet,
    )
    from ipabs.stress.definitions import load_stress_file
    from ipabs.stress.run import run_stresses

    spec = load_stress_file(stress_file) if stress_file is not None else None
    stress_run = None
    if spec is not None:
        stress_run = run_stresses(sc, spec, paths=paths, seed=seed, source=stress_file)
        results = stress_run.results["base"]
    else:
        results = simulate(sc, paths=paths, seed=seed, progress=False)
    info = {**scenario_manifest(sc, source, command="report"), **run_info(results, spec)}
    info["scenario_file"] = portable(source)
    info["languages"] = list(langs)
    info["out_dir"] = portable(out_dir)
    if spec is not None:
        info["stress_file"] = portable(stress_file)
        info["stress_file_sha256"] = file_sha256(stress_file)
    built = build(sc, results, stress_run, info, langs)
    meta = json.dumps(info, sort_keys=True).encode()
    written = []
    with atomic_folder(out_dir) as tmp:
        (tmp / "data").mkdir()
        for name, frame in built.data.items():
            write_parquet(frame, tmp / "data" / f"{name}.parquet", meta)
        for lang, drawn in built.charts.items():
            folder = tmp / "charts" / lang
            folder.mkdir(parents=True)
            for name, (png, _) in drawn.items():
                (folder / f"{name}.png").write_bytes(png)
        for lang, page in built.pages.items():
            # bytes, not text: the same file on every OS (no newline translation)
            (tmp / page_name(lang)).write_bytes(page.encode("utf-8"))
            written.append(Path(out_dir) / page_name(lang))
        if pdf:
            from ipabs.report.pdf import print_pdf

            for lang in built.pages:
                target = tmp / page_name(lang).replace(".html", ".pdf")
                print_pdf(tmp / page_name(lang), target)
                written.append(Path(out_dir) / target.name)
        write_manifest(tmp, info)
    return written
