"""Scenario tables for the deal's structure: named fees, the waterfall as data, triggers, the
liquidity facility, the collateral measure and the clean-up call (docs/model.md, section 4)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from ipabs.scenario.base import (
    DISPLAY_NAME_PATTERN,
    Amount,
    DisplayName,
    Flag,
    Identifier,
    Probability,
    Spec,
    _field,
)

Action = Literal[
    "pay_fee",
    "pay_interest",
    "pay_principal",
    "fund_reserve",
    "pay_liquidity",
    "pay_residual",
    "buy_assets",
    "transfer",
]
PrincipalMode = Literal["sequential", "pro_rata", "schedule", "borrowing_base", "turbo"]
CoverSource = Literal["reserve", "liquidity", "holdback", "principal"]
Account = Literal["revenue", "principal"]
TransferAmount = Literal["all", "principal_deficiency"]
Condition = Literal[
    "cumulative_default_ratio",
    "cumulative_loss_ratio",
    "dscr",
    "interest_coverage",
    "oc_ratio",
    "date",
]
Effect = Literal["switch_waterfall", "trap_cash", "rapid_amortisation", "event_of_default"]

#: the fees of the v1 [fees] table, by the names steps use for them
BUILT_IN_FEES = ("senior", "subordinated")
#: the fee a [tax] table compiles to, by the name steps use for it
TAX_FEE = "tax"


class Fee(Spec):
    name: Identifier = _field(
        description="Unique fee name, used by pay_fee steps (senior and subordinated name the [fees] table's two fees)."
    )
    fixed_per_year: Amount = _field(
        0.0, unit="currency/year", description="Fixed amount per year, accrued by the day count."
    )
    pct_of_notes_per_year: float = _field(
        0.0,
        unit="1/year",
        description="Rate on the notes' balance at the start of the period.",
        ge=0,
        le=0.2,
    )
    pct_of_pool_per_year: float = _field(
        0.0,
        unit="1/year",
        description="Rate on the collateral value at the start of the period (needs [collateral]).",
        ge=0,
        le=0.2,
    )
    pct_of_income: float = _field(
        0.0,
        unit="share",
        description="Share of the period's income collections: the pool's interest and licence income, without principal and without recoveries of defaulted loans (e.g. a servicing fee on interest collected).",
        ge=0,
        le=1,
    )
    pct_of_collections: float = _field(
        0.0,
        unit="share",
        description="Share of the period's collections, all of them (interest, income, principal and recoveries).",
        ge=0,
        le=1,
    )
    pct_of_class_payments: float = _field(
        0.0,
        unit="share",
        description="Share of the interest and principal paid to the classes (a paying agent's 兑付兑息手续费, e.g. 0.00005). It accrues as the classes are paid, so a pay_fee step placed before the class payments pays the previous period's (in arrear); it is not part of the debt service that coverage triggers count.",
        ge=0,
        le=0.1,
    )
    cap_per_year: Amount | None = _field(
        None,
        unit="currency/year",
        description="Cap on the amount accrued per year (the periodic amount: fixed, notes, pool, income and collections bases), pro rata to the period's accrual. Default: no cap.",
    )
    floor_per_year: Amount = _field(
        0.0,
        unit="currency/year",
        description="Floor on the same periodic amount per year (a minimum fee), pro rata to the period's accrual.",
    )
    one_off: Amount = _field(
        0.0,
        unit="currency",
        description="A one-off amount, due on the first payment date on or after one_off_date (a fee paid at closing from the issue's proceeds is outside the waterfall: leave it out).",
    )
    one_off_date: dt.date | None = _field(
        None,
        description="The date the one-off amount is due from. Default: closing (due on the first payment date).",
    )
    carry_unpaid: Flag = _field(
        True,
        description="If true (the default) what a period's cash does not pay is carried and owed in the next period; if false it is waived at the period's end.",
    )


class Tax(Spec):
    vat_rate: float = _field(
        0.03,
        unit="share",
        description="VAT rate. Default: the 3% simplified-method rate of asset-management products (财税〔2017〕56号, art. 1).",
        ge=0,
        le=0.2,
    )
    surcharge_rate: float = _field(
        0.12,
        unit="share",
        description="Local surcharges as a share of the VAT: urban maintenance and construction tax 7% (urban districts), education surcharge 3% and local education surcharge 2%, so 0.12; 0.10 outside a city (county or town: 5%).",
        ge=0,
        le=0.2,
    )
    base: Literal["income", "collections"] = _field(
        "income",
        description="The taxable income: income (the period's interest and licence income, the taxable part of a loan pool's collections; principal is not taxable) or collections (all of the period's collections). Prices include VAT, so the tax is base x vat_rate / (1 + vat_rate) x (1 + surcharge_rate).",
    )


class Step(Spec):
    action: Action = _field(
        description="pay_fee, pay_interest, pay_principal, fund_reserve (top up the reserve to its target, or release the excess), pay_liquidity (the facility's fee and interest, then repayment of draws), pay_residual (all cash left, in every account, to the subordinated class; must be last), buy_assets (revolving state only: buys eligible loans, lease receivables or licence receivables (revolving.buys) until the pool is back at its target balance), transfer (with [accounts] split: moves cash from the step's account to the other one)."
    )
    fees: tuple[Identifier, ...] = _field(
        (), description="pay_fee: the fees paid, pro rata to what each is owed."
    )
    classes: tuple[Identifier, ...] = _field(
        (),
        description="pay_interest: the classes paid, pro rata to what each is owed. pay_principal: the classes the step pays.",
    )
    mode: PrincipalMode = _field(
        "sequential",
        description="pay_principal: sequential (a class with a schedule to its schedule; any other class all cash once every higher-ranked class is repaid; equal ranks pro rata), pro_rata (all the classes' balances, pro rata to balance), schedule (only scheduled amounts), borrowing_base (the classes' combined balance down to advance_rate x collateral value, in rank order), turbo (all cash, in the order listed).",
    )
    advance_rate: float | None = _field(
        None,
        unit="share",
        description="pay_principal with mode borrowing_base: the borrowing base is advance_rate x collateral value.",
        gt=0,
        le=2,
    )
    cover_from: tuple[CoverSource, ...] = _field(
        (),
        description="pay_fee and pay_interest: sources drawn, in order, for what cash cannot pay (reserve, liquidity; holdback: a trust's held-back income, which is otherwise kept for the final distribution; principal: the principal account, for a revenue-account step of a deal with [accounts], the draw booked in the principal deficiency ledger).",
    )
    account: Account = _field(
        "revenue",
        description="With [accounts] split: the account the step pays from (revenue, or principal); a transfer step's source. Without it every step pays from the one account of collections.",
    )
    amount: TransferAmount = _field(
        "all",
        description="transfer: all (the source account's cash) or principal_deficiency (up to the principal deficiency ledger's balance, which it cures: revenue to principal).",
    )


class Waterfall(Spec):
    normal: tuple[Step, ...] = _field(
        description="Priority of payments while no trigger is in force.", min_length=1
    )
    triggered: tuple[Step, ...] | None = _field(
        None,
        description="Priority of payments while a switch_waterfall trigger is in force. Default: normal.",
        min_length=1,
    )
    accelerated: tuple[Step, ...] | None = _field(
        None,
        description="Priority of payments after an event of default (every class's whole balance is then due). Default: triggered, else normal.",
        min_length=1,
    )
    revolving: tuple[Step, ...] | None = _field(
        None,
        description="Priority of payments during the revolving period (required with [revolving]; the only list where buy_assets may appear).",
        min_length=1,
    )


class Trigger(Spec):
    name: Identifier = _field(description="Unique trigger name, shown in outputs.")
    condition: Condition = _field(
        description="cumulative_default_ratio or cumulative_loss_ratio (over the original collateral value; breached above threshold), dscr or interest_coverage (collections over debt service due across the look-back; breached below threshold), oc_ratio (collateral value over the notes; breached below threshold), date (breached from the first payment date on or after `date`)."
    )
    threshold: float | None = _field(
        None,
        description="Level the condition is tested against (a ratio; not for date).",
        ge=0,
    )
    date: dt.date | None = _field(None, description="date condition: the date it takes effect.")
    lookback_periods: int = _field(
        1,
        unit="periods",
        description="dscr and interest_coverage: number of payment periods summed (the current one and those before it).",
        ge=1,
        le=24,
    )
    classes: tuple[Identifier, ...] = _field(
        (),
        description="dscr and interest_coverage: the classes whose interest (and, for dscr, scheduled principal) count as debt service, with all fees. Default: every class. A senior coverage test names the senior class; a mezzanine test the senior and mezzanine classes.",
    )
    breaches_to_trip: int = _field(
        1,
        description="Number of breaches (not necessarily consecutive) after which the trigger is in force; a curable trigger counts consecutive breaches.",
        ge=1,
        le=1200,
    )
    effect: Effect = _field(
        description="switch_waterfall (use waterfall.triggered), trap_cash (all cash left at fund_reserve goes into the reserve), rapid_amortisation (every pay_principal step treats its classes' whole balances as due), event_of_default (use waterfall.accelerated; all principal due)."
    )
    trap_share: float = _field(
        1.0,
        unit="share",
        description="trap_cash: share of the cash left at the fund_reserve step that is trapped (e.g. 0.5); the rest flows on.",
        gt=0,
        le=1,
    )
    curable: Flag = _field(
        False,
        description="If true the effect ends in the first period the condition is no longer breached; otherwise it stays in force. An event of default is never curable.",
    )


class Liquidity(Spec):
    limit: Amount = _field(unit="currency", description="Most that can be drawn at any time.")
    interest_rate: float = _field(
        0.0, unit="1/year", description="Interest on drawn amounts.", ge=0, le=1
    )
    commitment_fee: float = _field(
        0.0, unit="1/year", description="Fee on the undrawn limit.", ge=0, le=0.2
    )


class Collateral(Spec):
    basis: Literal["trailing_income", "loan_balance"] = _field(
        description="How the collateral is valued each period: trailing_income (multiple x the annualised collections of the last lookback_periods, e.g. a catalogue valued at a multiple of its income) or loan_balance (the performing loans' balance; in a licence pool that buys licence receivables, their carrying value at the discount yield)."
    )
    multiple: float | None = _field(
        None,
        description="trailing_income: the valuation multiple of annual income.",
        gt=0,
        le=100,
    )
    lookback_periods: int = _field(
        4,
        unit="periods",
        description="trailing_income: periods of collections used.",
        ge=1,
        le=120,
    )
    original_value: Amount | None = _field(
        None,
        unit="currency",
        description="Collateral value at closing, the base of the cumulative ratios and the clean-up call. Required for trailing_income; for loan_balance the loans' balance at closing.",
    )


class CleanUpCall(Spec):
    threshold: Probability = _field(
        description="The call is exercised on the first payment date the collateral value is at or below this share of its original value (while notes are outstanding)."
    )
    price: float = _field(
        1.0,
        unit="share",
        description="Price paid for the remaining pool, as a share of its collateral value; every class is then due in full and the deal ends.",
        gt=0,
        le=2,
    )


class Revolving(Spec):
    end_date: dt.date = _field(
        description="Last day of the revolving period: payment dates before it may buy. A trigger in force (other than trap_cash) ends it earlier, for good."
    )
    buys: Literal["loans", "leases", "licence_receivables"] = _field(
        "loans",
        description='What the period buys: "loans" (IP-pledged loans), "leases" (IP lease receivables with equal rentals, amortisation = "level"; rate is the lease rate, ltv the financed amount over the leased IP\'s value; needs [[leases]] in the pool) or "licence_receivables" (the fixed licence fees, in equal instalments, that licensees owe under signed licences, bought at a discount: rate is the discount yield, amortisation = "level", recovery_rate the share of the unpaid instalments recovered after the licensee\'s default; needs a licence pool: assets with a licensee, and no loans, leases or receivables; docs/model.md 4.7). Revolving purchases of trade receivables are not modelled (docs/model.md section 8).',
    )
    target_balance: Amount | None = _field(
        None,
        unit="currency",
        description="Performing loan balance that purchases restore. Default: collateral.original_value.",
    )
    price: float = _field(
        1.0,
        unit="share",
        description="Price paid per unit of loan balance bought (licence receivables: 1, their discount is the rate).",
        gt=0,
        le=2,
    )
    rate: float = _field(
        unit="1/year",
        description="Eligibility: the lowest fixed rate an eligible loan may carry; loans are bought at it. Licence receivables: the lowest discount yield they are bought at (the price per unit of face is the instalments' present value at it).",
        ge=0,
        le=1,
    )
    term_years: float = _field(
        unit="years",
        description="Eligibility: the longest term; loans are bought with it.",
        gt=0,
        le=30,
    )
    amortisation: Literal["interest_only", "level"] = _field(
        "interest_only",
        description="interest_only (principal at maturity) or level (annuity) repayment.",
    )
    annual_default_probability: Probability = _field(
        description="Eligibility: the highest annual default probability (e.g. of the lowest internal grade allowed)."
    )
    prepayment_rate: Probability = _field(0.0, description="Annual prepayment probability.")
    ltv: float | None = _field(
        None,
        description="Eligibility: the highest loan-to-value; the pledge is valued at balance / ltv. Required for loans and leases; licence receivables have no pledge and take none.",
        gt=0,
        le=2,
    )
    disposal_haircut: Probability = _field(
        0.0, description="Share of the pledge's value lost when it is sold after a default."
    )
    disposal_lag_months: int = _field(
        0,
        unit="months",
        description="Months from default to the disposal proceeds (licence receivables: to the recovery).",
        ge=0,
        le=120,
    )
    recovery_rate: Probability | None = _field(
        None,
        description="Licence receivables only: share of a defaulted licensee's unpaid instalments (their face) recovered, disposal_lag_months after the default. Default: 0.",
    )
    factor: Identifier | None = _field(
        None, description="Factor the loans' defaults load on. Default: the first."
    )
    factor_loading: Probability = _field(0.0, description="Weight of the factor.")


class Accounts(Spec):
    collections: Literal["single", "revenue_and_principal"] = _field(
        "single",
        description="single: one account receives all collections (the v1 model); revenue_and_principal: a revenue account (收入账) receives interest and licence income, a principal account (本金账) scheduled and prepaid principal, and each step names the account it pays from (docs/model.md, 4.9).",
    )
    recoveries: Account = _field(
        "principal",
        description="revenue_and_principal: where a defaulted loan's recoveries and loss-sharing payments go. principal: to the principal account up to the principal deficiency ledger (the defaulted principal not yet made good), which they reduce, the rest (interest recovered) to revenue; revenue: all to the revenue account, which then makes good defaulted principal only by principal_deficiency transfers (违约本金转入本金账).",
    )


class RatingRow(Spec):
    rating: str = _field(description="Rating name (e.g. Aaa, Aa1, AAA).", min_length=1)
    values: tuple[Annotated[float, Field(ge=0, le=1)], ...] = _field(
        description="The most a tranche with this rating may have of the metric at each tenor (fractions, e.g. 0.0016 for 0.16%).",
        min_length=1,
    )


#: a rating table's citation: one line of at most 300 characters (as a [sources] entry)
Citation = Annotated[str, Field(min_length=1, max_length=300, pattern=DISPLAY_NAME_PATTERN)]
#: the names a rating table may not take: the summary's rating_scale for the built-in table
#: ("global") and for a table of the scenario's that gives no name ("scenario")
RESERVED_SCALE_NAMES = ("global", "scenario")


class RatingScale(Spec):
    """A rating table's own keys, the same in [ratings] (rows in `table`) and in a rating table
    file (rows in [[row]]): its name, its source, what it limits, its tenors and its labels."""

    name: DisplayName | None = _field(
        None,
        description='The scale\'s name, shown as the summary\'s rating_scale and on the report (e.g. "China domestic sf, agency X 2024"). Default: "scenario" for a table given inline; "global" (the built-in table) and "scenario" are reserved. Required in a table file.',
    )
    source: Citation | None = _field(
        None,
        description="Where the table's numbers come from (one line, at most 300 characters), shown with the ratings. Default: \"the scenario's [ratings] table\". Required in a table file.",
    )
    metric: Literal["expected_loss", "loss_probability"] | None = _field(
        None,
        description="What the table limits: expected_loss (Moody's-style idealised tables) or loss_probability. Required with a table; the built-in table is loss_probability.",
    )
    tenors: tuple[Annotated[float, Field(gt=0, le=50)], ...] | None = _field(
        None, unit="years", description="The table's tenors (increasing), with `table`."
    )
    labels: Literal["moodys", "china"] = _field(
        "moodys",
        description="moodys: ratings as named in the table; china: the Chinese market's structured-finance labels (AAAsf, AA+sf, ...), for a domestic-scale table given here or in a table file only: the built-in table is a global scale, and relabelling it would read a global grade as a Chinese one.",
    )


class RatingTableFile(RatingScale):
    """A rating table kept in its own TOML file ([ratings] table_file), to be shared by
    scenarios: the keys of RatingScale at the top level and the rows as [[row]] tables."""

    row: tuple[RatingRow, ...] = _field(
        description="Rows from the best rating down, as `ratings.table`'s.", min_length=1
    )


class Ratings(RatingScale):
    table_file: str | None = _field(
        None,
        description='A TOML file holding the table (its name, source, metric, tenors, labels and [[row]] rows), relative to the scenario file and inside its folder, as tapes are, e.g. "ratings/china_domestic_illustrative.toml" (docs/model.md 5.1). Instead of an inline table: with it [ratings] gives only what is about the deal (basis). The validated scenario holds the file\'s table, as if given inline.',
        min_length=1,
    )
    table: tuple[RatingRow, ...] | None = _field(
        None,
        description="Rows from the best rating down. Default: the built-in table (docs/model.md, section 5.1).",
        min_length=1,
    )
    basis: Literal["ultimate_principal", "timely_interest"] = _field(
        "ultimate_principal",
        description="What a probability table rates: ultimate_principal (the probability of a principal loss) or timely_interest (timely interest and ultimate principal, as Chinese senior classes are rated: the probability of any interest shortfall or a principal loss). timely_interest needs a loss_probability table.",
    )


__all__ = [
    "BUILT_IN_FEES",
    "TAX_FEE",
    "Accounts",
    "CleanUpCall",
    "Collateral",
    "Fee",
    "Liquidity",
    "RatingScale",
    "RatingTableFile",
    "Ratings",
    "Revolving",
    "Step",
    "Tax",
    "Trigger",
    "Waterfall",
]
