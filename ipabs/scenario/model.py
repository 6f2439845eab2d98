"""The scenario schema, format v1: immutable typed objects validated once, at the boundary.

Every field carries its description, unit and default; `docs/scenario-format.md` is generated
from these (see `ipabs.scenario.reference`) and a test keeps the two in step.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ipabs.scenario.base import (  # noqa: F401 (re-exported)
    DISPLAY_NAME_PATTERN,
    IDENTIFIER_PATTERN,
    Amount,
    Balance,
    DisplayName,
    Flag,
    Identifier,
    Loading,
    Probability,
    Spec,
    _field,
    nested_specs,
)
from ipabs.scenario.contracts import Lease, MinimumGuarantee, Receivable
from ipabs.scenario.delinquency import RiskClass, RollRates
from ipabs.scenario.disposal import Disposal, DisposalMethod
from ipabs.scenario.structure import (
    BUILT_IN_FEES,
    TAX_FEE,
    Accounts,
    CleanUpCall,
    Collateral,
    Fee,
    Liquidity,
    Ratings,
    Revolving,
    Tax,
    Trigger,
    Waterfall,
)
from ipabs.scenario.transfer import CurvePoint, Transfer
from ipabs.scenario.trust import TrustTerms

FORMAT_VERSION = 1


class PaymentFrequency(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    semiannual = "semiannual"
    annual = "annual"

    @property
    def per_year(self) -> int:
        return {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}[self.value]


class DayCount(StrEnum):
    act_365f = "ACT/365F"
    act_360 = "ACT/360"
    thirty_360 = "30/360"
    nl_365 = "NL/365"
    act_act = "ACT/ACT"


class HolidayCalendar(StrEnum):
    none = "none"
    china_exchange = "china_exchange"
    china_interbank = "china_interbank"


class AccrualDates(StrEnum):
    adjusted = "adjusted"
    unadjusted = "unadjusted"


class CollectionLagBasis(StrEnum):
    calendar_days = "calendar_days"
    business_days = "business_days"


class Copula(StrEnum):
    gaussian = "gaussian"
    student_t = "student_t"


class BusinessDayConvention(StrEnum):
    unadjusted = "unadjusted"
    following = "following"
    modified_following = "modified_following"
    preceding = "preceding"


class IPType(StrEnum):
    patent = "patent"
    invention_patent = "invention_patent"
    utility_model = "utility_model"
    design_patent = "design_patent"
    trademark = "trademark"
    copyright = "copyright"
    plant_variety = "plant_variety"
    data_rights = "data_rights"
    geographical_indication = "geographical_indication"
    ic_layout = "ic_layout"


class Deal(Spec):
    name: str = _field(
        description="Deal name, shown in tables, charts and the manifest.",
        min_length=1,
        max_length=200,
        pattern=DISPLAY_NAME_PATTERN,
    )
    name_zh: str | None = _field(
        None,
        description="The deal's Chinese name, the title of the Chinese pages of a report (e.g. 中关村科技租赁专利许可资产支持专项计划); default: name.",
        min_length=1,
        max_length=200,
        pattern=DISPLAY_NAME_PATTERN,
    )
    currency: str = _field(
        "CNY",
        description="ISO 4217 currency code of every amount in the file.",
        pattern=r"^[A-Z]{3}$",
    )
    closing_date: dt.date = _field(description="Closing date; time zero of the simulation.")
    payment_frequency: PaymentFrequency = _field(
        PaymentFrequency.quarterly,
        description="Payment (or, in a trust, distribution) dates fall every month, quarter, half-year or year after closing, on the closing day of month (end of month if shorter).",
    )
    legal_final_date: dt.date = _field(
        description="Legal final maturity: the last payment date; principal unpaid after it is a loss."
    )
    day_count: DayCount = _field(
        DayCount.act_365f,
        description="Day count for coupon and fee accrual: ACT/365F, ACT/360, 30/360 (bond basis), NL/365 (actual days less 29 Februaries, over 365) or ACT/ACT (ISDA); docs/model.md, section 1.",
    )
    business_day_convention: BusinessDayConvention = _field(
        BusinessDayConvention.unadjusted,
        description="How a payment date on a non-business day moves: unadjusted, following, modified_following or preceding.",
    )
    accrual_dates: AccrualDates = _field(
        AccrualDates.adjusted,
        description="adjusted: interest accrues between the payment dates as rolled; unadjusted: between the scheduled dates (the last is legal final), so a rolled payment earns no extra interest (顺延不另计息).",
    )
    calendar: HolidayCalendar = _field(
        HolidayCalendar.none,
        description="Business days: none (Monday to Friday); china_exchange (SSE/SZSE: weekdays less the State Council's public holidays and the exchanges' own closures; make-up weekend days stay closed); china_interbank (CFETS: the State Council's working days, make-up weekend days included). The China calendars cover the years of the chinesecalendar package (2004-2026 in 1.11.0); outside them business days are weekdays, and the deal lists that year's holidays and make-up days in holidays and working_weekends (ipabs validate says when a deal's dates pass the covered years). holidays and working_weekends apply on top of every calendar.",
    )
    holidays: tuple[dt.date, ...] = _field(
        (),
        description="Days that are not business days, on top of the calendar (e.g. the mainland China public holidays of years the calendar does not cover).",
    )
    working_weekends: tuple[dt.date, ...] = _field(
        (),
        description="Days that are business days whatever the calendar says (China's make-up working weekend days of years the calendar does not cover).",
    )
    cut_off_date: dt.date | None = _field(
        None,
        description="Cut-off date (封包日), on or before closing: the pool (income, defaults, loan repayments) runs from it, its collections up to closing belong to the deal and arrive with the first collection period's on the first payment date, and loan balances, income levels and the pool's times (terms, remaining lives, default curves) are as at this date. Default: the closing date.",
    )
    collection_lag_days: int = _field(
        0,
        unit="days",
        description="Collection period k ends this many days (collection_lag_basis) before payment date k (计算日 before 兑付日); the first one starts at the cut-off date. The pool runs on the collection periods, the notes on the payment dates. 0: they coincide.",
        ge=0,
        le=92,
    )
    collection_lag_basis: CollectionLagBasis = _field(
        CollectionLagBasis.calendar_days,
        description="How collection_lag_days counts: calendar_days, or business_days of the deal's calendar.",
    )

    @property
    def pool_start(self) -> dt.date:
        """The pool's time zero: the cut-off date, or closing without one."""
        return self.closing_date if self.cut_off_date is None else self.cut_off_date


class Simulation(Spec):
    paths: int = _field(10_000, unit="paths", description="Number of Monte Carlo paths.", ge=1)
    seed: int = _field(
        20_220_826,
        description="Seed of the random streams; path p always gets the stream keyed by (seed, p).",
        ge=0,
        lt=2**63,
    )
    block_size: int = _field(
        1024,
        unit="paths",
        description=(
            "Paths per work block handed to a thread, at most: a run that would give a thread "
            "fewer than 8 blocks cuts them smaller, down to 256 paths (or this size if smaller), "
            "so that the threads finish together. Changes speed only, never results."
        ),
        ge=1,
        le=1_048_576,
    )
    sample_paths: int = _field(
        10_000,
        unit="paths",
        description="Paths (the first ones) whose per-period cash flows are kept for the per-period bands and fan charts; per-path metrics always use every path.",
        ge=1,
        le=200_000,
    )
    importance: Literal["none", "auto"] | tuple[float, ...] = _field(
        "none",
        description="Importance sampling of the horizon factors (docs/model.md, 5.2): none; auto, a mean shift chosen by a cross-entropy pilot run for importance_target; or the shift itself, one number per factor (in standard deviations; negative is a bad economy for positive loadings). Every estimate is then weighted by each path's likelihood ratio.",
    )
    importance_target: Identifier | None = _field(
        None,
        description="The class (tranche name) whose loss importance = auto aims at. Required with auto.",
    )
    importance_pilot_paths: int = _field(
        2_000,
        unit="paths",
        description="Paths per pilot run of the cross-entropy search for importance = auto (up to 8 runs, on streams apart from the main run's).",
        ge=200,
        le=1_000_000,
    )


class Factors(Spec):
    names: tuple[Identifier, ...] = _field(
        ("market",),
        description="Systematic factors (e.g. sectors); assets and licensees load on one each. At most 100.",
        min_length=1,
        max_length=100,
    )
    correlation: tuple[tuple[float, ...], ...] | None = _field(
        None,
        description="Correlation matrix of the factors (their per-period income shocks and their values at the deal's horizon, which drive defaults), one row per factor; symmetric, unit diagonal, positive semi-definite. Default: identity.",
    )
    copula: Copula = _field(
        Copula.gaussian,
        description="Default dependence of the default-time copula: gaussian, or student_t (fatter joint tails; every name's latent scaled by one chi-square draw per path).",
    )
    degrees_of_freedom: int | None = _field(
        None,
        description="Degrees of freedom of the student_t copula (required with it, not allowed without).",
        ge=1,
        le=200,
    )


class IPAsset(Spec):
    id: Identifier = _field(description="Unique asset id.")
    type: IPType = _field(
        description="IP type: patent (an invention patent with a flat annual fee, as before), invention_patent, utility_model or design_patent (Chinese patents with CNIPA's annual fees by patent year), trademark, copyright, plant_variety, data_rights, geographical_indication or ic_layout."
    )
    licensee: Identifier | None = _field(
        None,
        description="Id of the licensee that pays this asset's income to the deal. None: the asset only serves as pledged collateral for loans.",
    )
    base_annual_income: Amount = _field(
        unit="currency/year",
        description="Licence income per year at closing, or at deal.cut_off_date if one is given (the level the income process starts from).",
    )
    growth_rate: float | None = _field(
        None,
        unit="1/year",
        description="Expected growth of income per year, continuously compounded; negative for decay. Default: the IP type's (docs/model.md).",
        ge=-1,
        le=1,
    )
    growth_curve: tuple[Annotated[float, Field(ge=-1, le=1)], ...] | None = _field(
        None,
        unit="1/year",
        description="Growth rate for each year after closing (year 1, 2, ...); the last applies after. Replaces growth_rate.",
        min_length=1,
    )
    volatility: float | None = _field(
        None,
        unit="1/sqrt(year)",
        description="Lognormal volatility of the income level. Default: the IP type's.",
        ge=0,
        le=2,
    )
    factor: Identifier | None = _field(
        None,
        description="Factor whose shocks drive this asset's income. Default: the first factor.",
    )
    factor_loading: Loading = _field(
        0.0, description="Weight b of the factor in the income shock: X = b*Z + sqrt(1-b^2)*e."
    )
    remaining_legal_life_years: float | None = _field(
        None,
        unit="years",
        description="Years from closing until the right expires (or, for a renewable right, until its next renewal). Default: from protection_start_date and the legal term; none for types without expiry.",
        gt=0,
        le=200,
    )
    protection_start_date: dt.date | None = _field(
        None,
        description="Date the legal term runs from (filing, registration, grant or publication, by type); used when remaining_legal_life_years is not given. For patents the filing date (申请日), from which the patent years of the annual fees count too.",
    )
    grant_date: dt.date | None = _field(
        None,
        description="Date a patent was granted (授权公告日): annual fees are due from the patent year it falls in, and fee_reduction runs for the six patent years from that one. Needed with fee_reduction.",
    )
    legal_term_years: float | None = _field(
        None,
        unit="years",
        description="Statutory term from protection_start_date. Default: the IP type's (patent 20, utility_model 10, design_patent 15, or 10 if filed before 2021-06-01, trademark 10, ...).",
        gt=0,
        le=200,
    )
    renewal_term_years: float | None = _field(
        None,
        unit="years",
        description="Length of each renewal of a renewable right. Default: the IP type's (trademark 10; others not renewable).",
        gt=0,
        le=100,
    )
    renewal_probability: Probability | None = _field(
        None,
        description="Probability that the right is renewed at each expiry before the licence ends. Default: the IP type's (trademark 0.9).",
    )
    licence_term_years: float | None = _field(
        None,
        unit="years",
        description="Years from closing until the licence ends; income stops then. Default: no end before the right expires.",
        gt=0,
        le=200,
    )
    obsolescence_hazard: float | None = _field(
        None,
        unit="1/year",
        description="Hazard of an obsolescence jump, which cuts the income level by obsolescence_severity. Default: the IP type's.",
        ge=0,
        le=10,
    )
    obsolescence_severity: Probability | None = _field(
        None, description="Share of income lost at each obsolescence jump. Default: the IP type's."
    )
    cliff_date: dt.date | None = _field(
        None, description="Date of a known income cliff (e.g. generic entry, a competing standard)."
    )
    cliff_severity: Probability = _field(
        0.0, description="Share of income lost at cliff_date (1 ends the income)."
    )
    invalidation_hazard: float | None = _field(
        None,
        unit="1/year",
        description="Hazard that the right is invalidated; income stops. Default: the IP type's.",
        ge=0,
        le=10,
    )
    lapse_hazard: float | None = _field(
        None,
        unit="1/year",
        description="Hazard that the right lapses for unpaid annual fees; income stops. Zero while the fees are kept paid (annuities_prepaid or annuities_paid_by). Default: the IP type's (patent 0.055, utility_model and design_patent 0.10).",
        ge=0,
        le=10,
    )
    annuities_prepaid: Flag = _field(
        False,
        description="Annual fees are kept paid (as the pilot proposes for pledged patents): no lapse. Who pays is annuities_paid_by (default: the deal, out of collections).",
    )
    annuities_paid_by: Literal["deal", "enterprise"] | None = _field(
        None,
        description='Who keeps the annual fees paid, so the right cannot lapse: "deal" (out of collections, as annuities_prepaid alone) or "enterprise" (企业预缴年费: the enterprise pre-pays them, and the deal bears no fee). Giving it implies annuities_prepaid. Default: the deal if annuities_prepaid, else nobody (the right may lapse).',
    )
    annual_fee: Amount | None = _field(
        None,
        unit="currency/year",
        description="Flat annual fee paid from collections while the deal pays the annuities and the right is alive; replaces the type's CNIPA schedule by patent year. Default: the IP type's (patent 4,000 flat; invention_patent, utility_model and design_patent by patent year).",
    )
    fee_reduction: Probability = _field(
        0.0,
        description="Share of the annual fee waived for the six patent years from the year of grant (专利收费减缴办法, 财税〔2016〕78号: 0.85 for one individual or small enterprise meeting its conditions, 0.7 for two or more joint owners). Needs grant_date.",
    )
    economic_life_years: float | None = _field(
        None,
        unit="years",
        description="Caps the remaining life used to value the asset (ipabs value, collateral). Default: its legal life (no cap for rights that do not expire, up to 100 years).",
        gt=0,
        le=100,
    )
    collection_lag_periods: int = _field(
        0,
        unit="periods",
        description="Payment periods between the period income is earned and the one it is collected in; income collected after legal final is lost to the deal.",
        ge=0,
        le=24,
    )
    relicensing_months: int | None = _field(
        None,
        unit="months",
        description="After its licensee defaults, the right is licensed again and pays relicensing_share of its income from this many months later (rounded up to payment periods). Default: never (the income ends).",
        ge=0,
        le=120,
    )
    relicensing_share: Probability = _field(
        1.0,
        description="Share of the income the new licence pays, relative to the old (with relicensing_months).",
    )
    minimum_guarantees: tuple[MinimumGuarantee, ...] = _field(
        (),
        description="The licence's fixed schedule of minimum guaranteed payments (保底许可费), combined with the running royalty (the simulated income) as minimum_guarantee_mode says. The licensee's default stops both; so does the loss of the right (the licence ends). docs/model.md 3.11.",
    )
    minimum_guarantee_mode: Literal["greater_of", "plus"] = _field(
        "greater_of",
        description="greater_of: the royalty is credited against the minimum, the licensee pays max(minimum, royalty) in a period with a minimum due; plus: the minimum on top of the royalty.",
    )


class Licensee(Spec):
    id: Identifier = _field(description="Unique licensee id.")
    annual_default_probability: Probability = _field(
        description="Probability of default within one year (constant hazard)."
    )
    recovery_rate: Probability = _field(
        0.0, description="Share of the income due in the default period that is still collected."
    )
    factor: Identifier | None = _field(
        None, description="Factor this licensee's default loads on. Default: the first factor."
    )
    factor_loading: Loading = _field(
        0.0,
        description="Weight a of the factor in the default latent: A = a*M + sqrt(1-a^2)*e, M the factor at the deal's horizon (asset correlation a^2).",
    )


class ScheduledPrincipal(Spec):
    date: dt.date = _field(
        description="Date the payment is scheduled; applies on the first payment date on or after it."
    )
    principal: Amount = _field(unit="currency", description="Principal scheduled for that date.")


class Repricing(StrEnum):
    each_period = "each_period"
    annual_anniversary = "annual_anniversary"
    annual_january = "annual_january"


class LprTenor(StrEnum):
    auto = "auto"
    one_year = "1y"
    five_year = "5y"


class Tranche(Spec):
    name: Identifier = _field(description="Unique tranche name (e.g. A, B, sub).")
    display_name: DisplayName | None = _field(
        None,
        description='The class as tables and charts show it, in any script (e.g. "优先A级"); default: name. Files, JSON and key paths keep name.',
    )
    display_name_zh: DisplayName | None = _field(
        None,
        description='The class on the Chinese pages of a report (e.g. "优先A级"), where display_name is English; default: display_name, else name.',
    )
    balance: Balance = _field(unit="currency", description="Original principal balance.")
    coupon: float = _field(
        0.0,
        unit="1/year",
        description="Fixed coupon rate, accrued on the period's opening balance.",
        ge=0,
        le=1,
    )
    coupon_type: Literal["fixed", "lpr"] = _field(
        "fixed",
        description="fixed (coupon, with an optional step-up), or lpr: the LPR of lpr_tenor (reset as repricing says) plus spread, within the floor and cap.",
    )
    spread: float = _field(
        0.0,
        unit="1/year",
        description="Spread over the LPR (coupon_type lpr).",
        ge=-0.05,
        le=0.5,
    )
    lpr_tenor: Literal["1y", "5y"] = _field(
        "1y",
        description="The LPR a floating coupon references (coupon_type lpr): 1y ([rates] lpr_1y) or 5y (the 5-year-and-over LPR, [rates] lpr_5y).",
    )
    repricing: Repricing = _field(
        Repricing.each_period,
        description="When a floating coupon resets (coupon_type lpr): each_period (the LPR in force at each period's start), annual_anniversary (each anniversary of closing) or annual_january (each 1 January), at the LPR of the month before (docs/model.md 4.1).",
    )
    coupon_floor: float | None = _field(
        None, unit="1/year", description="Floor of a floating coupon.", ge=0, le=1
    )
    coupon_cap: float | None = _field(
        None, unit="1/year", description="Cap of a floating coupon.", ge=0, le=1
    )
    step_up_date: dt.date | None = _field(
        None,
        description="From the first period starting on or after this date the coupon is step_up_coupon.",
    )
    step_up_coupon: float | None = _field(
        None, unit="1/year", description="The coupon after the step-up date.", ge=0, le=1
    )
    rank: int = _field(
        description="Payment rank: 1 is most senior. Classes sharing a rank are paid pro rata (interest by what each is owed, principal likewise); the lowest rank holds one class, the subordinated one.",
        ge=1,
    )
    day_count: DayCount | None = _field(
        None,
        description="Day count of this class's coupon (ACT/365F, ACT/360, 30/360, NL/365 or ACT/ACT). Default: deal.day_count.",
    )
    compound_shortfalls: Flag = _field(
        False,
        description="If true, unpaid interest (a trust's unpaid expected yield) itself earns the coupon until paid; by default shortfalls are carried without compounding.",
    )
    amortisation: tuple[ScheduledPrincipal, ...] | None = _field(
        None,
        description="Scheduled principal payments. Without one the tranche takes all cash left in its turn (turbo). All principal is due at legal final.",
    )


class Fees(Spec):
    fixed_per_year: Amount = _field(
        0.0,
        unit="currency/year",
        description="Senior fees per year, accrued by the deal's day count.",
    )
    pct_of_notes_per_year: float = _field(
        0.0,
        unit="1/year",
        description="Senior fees as a rate on the notes' opening balance.",
        ge=0,
        le=0.2,
    )
    cap_per_year: Amount | None = _field(
        None,
        unit="currency/year",
        description="Cap on the senior fees accrued per year (fixed plus rate). Default: no cap.",
    )
    subordinated_per_year: Amount = _field(
        0.0,
        unit="currency/year",
        description="Subordinated fees per year (e.g. a servicer's incentive fee), paid after principal and before the residual, never from the reserve; unpaid amounts are carried.",
    )


class Reserve(Spec):
    initial_balance: Amount = _field(
        0.0, unit="currency", description="Cash reserve funded at closing."
    )
    target: Amount = _field(
        0.0,
        unit="currency",
        description="Balance the reserve is topped up to from excess cash while notes are outstanding (with target_pct_of_notes: the floor).",
    )
    target_pct_of_notes: float = _field(
        0.0,
        unit="share",
        description="Target as a share of the notes' balance at the start of each period; the reserve's target is the larger of this and `target`, and an excess over it is released.",
        ge=0,
        le=1,
    )
    target_next_period: tuple[Identifier, ...] = _field(
        (),
        description="A formula target: the classes (e.g. [\"senior_A\"]) whose next period's interest counts, on each one's balance after this period's payments so far at the next period's coupon and accrual. With target_next_period_fees, the target is the greatest of their sum, `target` and target_pct_of_notes.",
    )
    target_next_period_fees: tuple[Identifier, ...] = _field(
        (),
        description='The fees (e.g. ["tax", "senior"]) whose amount this period counts in the formula target, as the estimate of the next period\'s (one-off amounts excluded).',
    )
    target_cap: Amount | None = _field(
        None,
        unit="currency",
        description="Cap on the target (the lesser of it and the greatest of the above). Default: no cap.",
    )


class ClassSpread(Spec):
    tranche: Identifier = _field(description="The tranche (class) name.")
    spread: float = _field(
        unit="1/year", description="Its spread over the discount rate or curve.", ge=-0.05, le=1
    )


class Pricing(Spec):
    discount_rate: float | None = _field(
        None,
        unit="1/year",
        description="Annual effective rate that prices each tranche: a cash flow at t years (ACT/365F) is discounted by (1 + r + spread)^-t. One of discount_rate or curve.",
        ge=-0.05,
        le=1,
    )
    curve: tuple[CurvePoint, ...] | None = _field(
        None,
        description="Zero curve that prices each tranche instead (annual compounding, linear in tenor, flat outside it): a cash flow at t years is discounted by (1 + z(t) + spread)^-t. One of discount_rate or curve.",
        min_length=1,
    )
    spread: float = _field(
        0.0,
        unit="1/year",
        description="Added to the discount rate or to every point of the curve.",
        ge=-0.05,
        le=1,
    )
    class_spreads: tuple[ClassSpread, ...] = _field(
        (),
        description='Spreads for named classes instead of spread, e.g. [{ tranche = "subordinated", spread = 0.12 }] to price the equity at an equity-like rate.',
    )
    compounding: Literal["annual", "interbank"] = _field(
        "annual",
        description="How the discount rate (or curve) compounds: annual (annual effective, (1 + z)^-t, t in ACT/365F years) or interbank (China's interbank / ChinaBond convention at issue: compounded once a coupon period at the deal's payment frequency f, the k-th payment date discounted by (1 + z/f)^-k; a one-period deal, in its final coupon period, by simple interest 1/(1 + z t)). Price and modified duration follow it; IRRs stay annual effective.",
    )

    def spread_of(self, tranche: str) -> float:
        return next((c.spread for c in self.class_spreads if c.tranche == tranche), self.spread)


class Valuation(Spec):
    discount_rate: float = _field(
        0.15,
        unit="1/year",
        description="Annual effective rate for the income-method value of each IP asset (ILLUSTRATIVE default: IP is valued at equity-like rates).",
        ge=0,
        le=1,
    )


class RatePoint(Spec):
    date: dt.date = _field(description="Date from which the rate applies (until the next point).")
    rate: float = _field(unit="1/year", description="The rate from that date.", ge=-0.05, le=1)


class Rates(Spec):
    lpr_1y: tuple[RatePoint, ...] = _field(
        (),
        description="1-year Loan Prime Rate path, a step function: each point applies from its date; the first also before it. Required by floating loans and classes that reference the 1-year LPR.",
    )
    lpr_5y: tuple[RatePoint, ...] = _field(
        (),
        description="5-year-and-over (5年期以上) Loan Prime Rate path, in the same form as lpr_1y. Required by floating loans and classes that reference it (lpr_tenor 5y, or a loan of over five years under auto).",
    )


class RateType(StrEnum):
    fixed = "fixed"
    lpr = "lpr"


class Amortisation(StrEnum):
    bullet = "bullet"
    interest_only = "interest_only"
    level = "level"
    custom = "custom"


class Loan(Spec):
    id: Identifier = _field(description="Unique loan id.")
    balance: Balance = _field(
        unit="currency",
        description="Outstanding principal at closing (at deal.cut_off_date if one is given).",
    )
    rate_type: RateType = _field(
        RateType.fixed,
        description="fixed (rate), or lpr (the LPR of lpr_tenor from [rates] plus spread, reset as repricing says).",
    )
    rate: float | None = _field(
        None, unit="1/year", description="Fixed interest rate (rate_type fixed).", ge=0, le=1
    )
    spread: float = _field(
        0.0,
        unit="1/year",
        description="Spread over the LPR (rate_type lpr).",
        ge=-0.05,
        le=0.5,
    )
    lpr_tenor: LprTenor = _field(
        LprTenor.auto,
        description="The LPR a floating loan references (rate_type lpr): 1y ([rates] lpr_1y), 5y ([rates] lpr_5y), or auto: 5y for a contract term (original_term_years, else term_years) over 5, else 1y (PBOC announcement 2019 No. 15; docs/model.md 3.8).",
    )
    repricing: Repricing = _field(
        Repricing.each_period,
        description="When a floating loan's rate resets (rate_type lpr): each_period (the LPR in force at each collection period's start), annual_anniversary (each anniversary of the loan's start) or annual_january (each 1 January); between repricing dates the rate is fixed at the LPR of the month before (docs/model.md 3.8).",
    )
    term_years: float | None = _field(
        None,
        unit="years",
        description="Remaining term from closing (from deal.cut_off_date if one is given) to maturity. Give it, or origination_date and original_term_years (a seasoned loan), or all three if they agree.",
        gt=0,
        le=30,
    )
    origination_date: dt.date | None = _field(
        None,
        description="Date the loan was drawn, on or before the pool's start (a seasoned loan): its maturity is origination_date + original_term_years, its LPR reprices on its anniversaries, and its interest accrued since the last payment date is paid to the buyer (docs/model.md 3.8).",
    )
    original_term_years: float | None = _field(
        None,
        unit="years",
        description="Contract term from origination_date to maturity (with origination_date).",
        gt=0,
        le=30,
    )
    last_payment_date: dt.date | None = _field(
        None,
        description="Date interest was last paid, on or before the pool's start: interest accrues from it (accrued interest at transfer). Default: origination_date stepped on by the deal's payment frequency (a bullet loan: origination_date); without origination_date, no accrued interest.",
    )
    risk_class: RiskClass | None = _field(
        None,
        description="Five-category classification (五级分类) at the pool's start: normal (正常), special_mention (关注), substandard (次级), doubtful (可疑) or loss (损失, in default). Its default time follows [roll_rates] from this state, instead of annual_default_probability (docs/model.md 3.8).",
    )
    days_past_due: int | None = _field(
        None,
        unit="days",
        description="Days past due (逾期天数) at the pool's start: at least special_mention if over 0, substandard if over 90, doubtful if over 270, loss if over 360 (the worse of this and risk_class; docs/model.md 3.8). Needs [roll_rates].",
        ge=0,
        le=10_000,
    )
    day_count: DayCount | None = _field(
        None,
        description="Day count of the loan's interest over each collection period (ACT/365F, ACT/360, 30/360, NL/365 or ACT/ACT). Default: deal.day_count.",
    )
    amortisation: Amortisation = _field(
        Amortisation.interest_only,
        description="bullet (principal and all interest at maturity), interest_only (interest each period, principal at maturity), level (equal payments each period), custom (schedule).",
    )
    schedule: tuple[ScheduledPrincipal, ...] | None = _field(
        None,
        description="Principal payments of a custom amortisation; what is left is due at maturity.",
    )
    annual_default_probability: Probability | None = _field(
        None, description="Probability of default within one year (constant hazard)."
    )
    default_probability_curve: tuple[Probability, ...] | None = _field(
        None,
        description="Annual default probabilities for year 1, 2, ... after closing (the last applies after); instead of annual_default_probability.",
        min_length=1,
    )
    defaulted: Flag = _field(
        False,
        description="Already in default at closing (a non-performing loan): it defaults in the first period and is worth the disposal of its pledge, after the lag, through the loss-sharing layers.",
    )
    prepayment_rate: Probability = _field(
        0.0, unit="1/year", description="Annual probability that the loan is repaid early in full."
    )
    renewal_probability: Probability = _field(
        0.0,
        description="Probability that the principal due at maturity is rolled into a new interest-only loan of the same term instead of being repaid (renewal without principal repayment).",
    )
    pledged_assets: tuple[Identifier, ...] = _field(
        (), description="Ids of the [[assets]] pledged for this loan (several: a combined pledge)."
    )
    collateral_value: Amount | None = _field(
        None,
        unit="currency",
        description="A given valuation of the pledge, used at default instead of the simulated value of the pledged assets.",
    )
    ltv: float | None = _field(
        None,
        description="Loan-to-value at origination: the pledge's valuation is balance / ltv (instead of collateral_value).",
        gt=0,
        le=2,
    )
    disposal_haircut: Probability = _field(
        0.5, description="Share of the pledge's value lost in disposal (ILLUSTRATIVE default)."
    )
    disposal_lag_months: int = _field(
        12,
        unit="months",
        description="Months from default to the disposal proceeds (rounded up to payment periods).",
        ge=0,
        le=120,
    )
    buyout_floor: Amount | None = _field(
        None,
        unit="currency",
        description="Price at which an institution buys the pledged IP out for operation, a floor under disposal proceeds.",
    )
    disposal_method: DisposalMethod | None = _field(
        None,
        description="How this loan's pledge is disposed of: haircut, auction or buyout_operate (see [disposal]). Default: [disposal] method.",
    )
    participation: float = _field(
        1.0,
        description="The pool's share of a co-lent loan (共贷): balance, interest, recoveries and loss-sharing payments are the whole loan's (balance, collateral_value, buyout_floor and schedule give the whole loan) times this share; the other lenders hold the rest. Default: 1 (not co-lent).",
        gt=0,
        le=1,
    )
    factor: Identifier | None = _field(
        None, description="Factor the borrower's default loads on. Default: the first factor."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the borrower's default latent."
    )

    @property
    def reference_tenor(self) -> str:
        """ "1y" or "5y": lpr_tenor, or under auto 5y for a term over five years, else 1y (PBOC
        announcement 2019 No. 15: the LPR has a 1-year and an over-5-year tenor)."""
        if self.lpr_tenor != LprTenor.auto:
            return self.lpr_tenor.value
        return "5y" if (self.contract_term_years or 0.0) > 5 else "1y"

    @property
    def contract_term_years(self) -> float | None:
        """The contract's term: original_term_years if given (a seasoned loan), else term_years."""
        return self.original_term_years if self.original_term_years is not None else self.term_years


_SHARE_OF = 'What the share applies to: "remaining" (the loss the layers before it left: sequential sharing) or "original" (the loan\'s whole loss, whatever the layers before it paid: pro-rata sharing, as in a 政银担 2:4:4 split); either way the layer pays at most what remains of the loss.'
_BASIS = 'The loss the layer covers: "exposure" (balance plus unpaid interest, less the recovery) or "principal" (本金损失: the principal part of the loss, min(loss, balance at default), and of what remains of it the same proportion).'
_BUDGET_YEAR = 'How the annual budget\'s or cap\'s years are counted: "from_closing" (years from closing, by payment period) or "calendar" (the fiscal year: the calendar year of the payment date the layer pays on).'


class _Layer(Spec):
    """What every loss-sharing layer has: a name, a claim lag, and per-loan and per-year caps."""

    name: Identifier | None = _field(
        None,
        description='The layer\'s name in outputs (layer_<name>_paid) and for a re_guarantee to name its guarantee, e.g. "municipal_fund". Default: its kind and its place among the layers of that kind, from 1 ("risk_compensation_fund_2").',
    )
    claim_lag_months: int | None = _field(
        None,
        unit="months",
        description="Months from the loan's default to the layer's payment (rounded up to payment periods). Default: a guarantee or re-guarantee pays at default, a fund or insurer with the disposal proceeds (the loan's disposal_lag_months).",
        ge=0,
        le=120,
    )
    budget_year: Literal["from_closing", "calendar"] = _field(
        "from_closing", description=_BUDGET_YEAR
    )


class Guarantee(_Layer):
    kind: Literal["guarantee"] = _field(
        description="A guarantor pays a share of each loss; it can default."
    )
    share: Probability = _field(description="Share of the loss the guarantor pays (see share_of).")
    share_of: Literal["remaining", "original"] = _field("remaining", description=_SHARE_OF)
    basis: Literal["exposure", "principal"] = _field("exposure", description=_BASIS)
    per_loan_cap: Amount | None = _field(
        None, unit="currency", description="Most the guarantor pays for one loan. Default: no cap."
    )
    annual_cap: Amount | None = _field(
        None,
        unit="currency",
        description="Most the guarantor pays across the pool in each budget year (see budget_year); claims beyond it go unpaid. Default: no limit.",
    )
    guarantor_default_probability: Probability = _field(
        0.0,
        description="Annual default probability of the guarantor; after its default it pays nothing.",
    )
    factor: Identifier | None = _field(
        None, description="Factor the guarantor's default loads on. Default: the first."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the guarantor's default latent."
    )


class RiskCompensationFund(_Layer):
    kind: Literal["risk_compensation_fund"] = _field(
        description="A public fund that reimburses a share of each loss, with a per-loan cap and an annual budget."
    )
    share: Probability = _field(description="Share of the loss the fund reimburses (see share_of).")
    share_of: Literal["remaining", "original"] = _field("remaining", description=_SHARE_OF)
    basis: Literal["exposure", "principal"] = _field("exposure", description=_BASIS)
    per_loan_cap: Amount | None = _field(
        None, unit="currency", description="Most the fund pays for one loan. Default: no cap."
    )
    annual_budget: Amount | None = _field(
        None,
        unit="currency",
        description="Most this fund pays across the pool in each budget year (see budget_year); claims beyond it go unpaid. Each fund layer has its own budget. Default: no limit.",
    )


class Insurance(_Layer):
    kind: Literal["insurance"] = _field(
        description="Credit insurance of each loan's loss, after a deductible and up to a limit."
    )
    share: Probability = _field(
        1.0, description="Share of the loss above the deductible that is insured."
    )
    share_of: Literal["remaining", "original"] = _field("remaining", description=_SHARE_OF)
    basis: Literal["exposure", "principal"] = _field("exposure", description=_BASIS)
    deductible: Amount = _field(
        0.0, unit="currency", description="Loss per loan the insurer does not cover."
    )
    limit: Amount | None = _field(
        None, unit="currency", description="Most the insurer pays per loan. Default: no limit."
    )
    annual_cap: Amount | None = _field(
        None,
        unit="currency",
        description="Most the insurer pays across the pool in each budget year (see budget_year); claims beyond it go unpaid. Default: no limit.",
    )
    premium_rate: Probability = _field(
        0.0,
        description="Annual premium on the insured balance (the performing balance at each period's start, accrued in each loan's day count), paid by the lender out of the period's interest collections while the policy is in force and the insurer has not defaulted. Default: none.",
    )
    insurer_default_probability: Probability = _field(
        0.0,
        description="Annual default probability of the insurer; a claim payable after its default is not paid, and no premium is due after it.",
    )
    factor: Identifier | None = _field(
        None, description="Factor the insurer's default loads on. Default: the first."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the insurer's default latent."
    )
    covered_events: tuple[Literal["default", "default_after_ip_lost"], ...] = _field(
        ("default",),
        description='Which defaults the policy pays on: "default" (any borrower default), or "default_after_ip_lost" (only defaults of loans whose pledged IP has been invalidated or has lapsed, as an IP-risk policy). Give one.',
        min_length=1,
        max_length=1,
    )
    covered_from: dt.date | None = _field(
        None, description="First day of the policy period. Default: closing."
    )
    covered_until: dt.date | None = _field(
        None,
        description="Last day of the policy period; defaults after it are not covered. Default: no end.",
    )


class ReGuarantee(_Layer):
    kind: Literal["re_guarantee"] = _field(
        description="A re-guarantee (再担保) of a named guarantee layer: it reimburses the guarantor a share of each payment it makes, and after the guarantor's default pays the lender that share of the guarantor's obligation."
    )
    guarantee: Identifier = _field(
        description="The name of the guarantee layer it re-guarantees (an earlier layer)."
    )
    share: Probability = _field(description="Share of the guarantee's obligation it bears.")
    per_loan_cap: Amount | None = _field(
        None,
        unit="currency",
        description="Most the re-guarantor pays for one loan. Default: no cap.",
    )
    annual_cap: Amount | None = _field(
        None,
        unit="currency",
        description="Most the re-guarantor pays (to guarantors and lenders together) in each budget year (see budget_year). Default: no limit.",
    )


class InterestSubsidy(Spec):
    """A government interest subsidy (贴息) paid to the lender on the pool's loans."""

    name: Identifier | None = _field(
        None,
        description='Its name in outputs (subsidy_<name>_paid). Default: "interest_subsidy_" and its place in the list, from 1.',
    )
    share_of_interest: Probability = _field(
        0.0,
        description="Share of each period's interest on the loans performing through it that the subsidy pays.",
    )
    rate: Probability = _field(
        0.0,
        unit="1/year",
        description="Annual rate it pays on the balance of the loans performing through each period (accrued in each loan's day count).",
    )
    annual_budget: Amount | None = _field(
        None,
        unit="currency",
        description="Most it pays in each budget year (see budget_year); what is beyond is not paid. Default: no limit.",
    )
    budget_year: Literal["from_closing", "calendar"] = _field(
        "from_closing", description=_BUDGET_YEAR
    )
    lag_months: int = _field(
        0,
        unit="months",
        description="Months from the period the interest is for to the subsidy's payment (rounded up to payment periods).",
        ge=0,
        le=120,
    )


LossSharingLayer = Annotated[
    Guarantee | RiskCompensationFund | Insurance | ReGuarantee, Field(discriminator="kind")
]


def layer_names(layers: tuple[Any, ...] | list[Any]) -> list[str]:
    """Each loss-sharing layer's name: its `name`, else its kind and its place among the layers of
    that kind, from 1 ("risk_compensation_fund_2")."""
    out, count = [], {}  # type: ignore[var-annotated]
    for layer in layers:
        count[layer.kind] = count.get(layer.kind, 0) + 1
        out.append(layer.name or f"{layer.kind}_{count[layer.kind]}")
    return out


def subsidy_names(subsidies: tuple[Any, ...] | list[Any]) -> list[str]:
    """Each interest subsidy's name: its `name`, else "interest_subsidy_" and its place, from 1."""
    return [x.name or f"interest_subsidy_{i + 1}" for i, x in enumerate(subsidies)]


class DifferentialPayment(Spec):
    kind: Literal["differential_payment", "guarantee"] = _field(
        description="differential_payment: a sponsor's undertaking (差额支付承诺); guarantee: a financial guarantee of the covered classes (timely interest, scheduled and ultimate principal). Both top up the covered classes' shortfalls, up to a cap, until the provider defaults."
    )
    provider: str = _field(
        "sponsor",
        description="Who gives the undertaking (shown in outputs).",
        min_length=1,
        max_length=200,
        pattern=DISPLAY_NAME_PATTERN,
    )
    covers: tuple[Identifier, ...] = _field(
        (),
        description="Names of the tranches whose shortfalls it tops up: interest each period, scheduled principal, and all principal at legal final. It covers at least one class or one fee (covers_fees).",
    )
    covers_fees: tuple[Identifier, ...] = _field(
        (),
        description='Names of the fees (tax for the [tax] table\'s, senior and subordinated for the [fees] table\'s) whose shortfalls it pays at pay_fee steps, after cash and the step\'s cover, e.g. ["tax", "senior"] for a 差额支付承诺 that covers 税费 and senior fees. Default: none.',
    )
    cap: Amount | None = _field(
        None, unit="currency", description="Most it pays over the deal's life. Default: no cap."
    )
    principal: Literal["scheduled", "ultimate"] = _field(
        "scheduled",
        description="Principal it guarantees: scheduled (each scheduled payment, and all at legal final) or ultimate (only what is unpaid at legal final, as a financial-guarantee insurer's wrap of timely interest and ultimate principal).",
    )
    provider_default_probability: Probability = _field(
        0.0,
        description="Annual default probability of the provider; from its default it pays nothing.",
    )
    factor: Identifier | None = _field(
        None, description="Factor the provider's default loads on. Default: the first."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the provider's default latent."
    )


class Tape(Spec):
    kind: Literal["assets", "licensees", "loans"] = _field(
        description="What each row is: an [[assets]], [[licensees]] or [[loans]] entry; the columns are that table's keys."
    )
    path: str = _field(
        description="CSV (header row, UTF-8) or Parquet file, relative to the scenario file. Empty cells take the default; list cells are JSON ([0.1, 0.05]).",
        min_length=1,
    )


class ReadOnlyTable(dict[str, str]):
    """A table of strings (the [sources] table) as validated: read-only and hashable, as every
    other part of the frozen scenario is (the rest is tuples)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle without __setitem__
        return (type(self), (dict(self),))

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a scenario cannot change; Scenario.replace makes a changed copy")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]


class Scenario(Spec):
    format_version: Literal[1] = _field(
        1, description="Scenario format version; 1 for this reference."
    )
    kind: Literal["abs", "trust"] = _field(
        "abs",
        description="abs: notes paid through the waterfall; trust: an IP trust whose classes are beneficiary classes (see [trust]).",
    )
    deal: Deal = _field(description="The deal's identity and calendar.")
    simulation: Simulation = _field(Simulation(), description="Monte Carlo settings.")
    factors: Factors = _field(Factors(), description="Systematic factors.")
    tapes: tuple[Tape, ...] = _field(
        (), description="Asset or licensee tapes whose rows are added to the inline tables."
    )
    assets: tuple[IPAsset, ...] = _field(
        (),
        description="The IP assets: licensed ones earn the pool's income; others are pledged collateral.",
    )
    loans: tuple[Loan, ...] = _field(
        (), description="IP-pledged loans whose repayments the deal collects."
    )
    leases: tuple[Lease, ...] = _field(
        (),
        description="IP finance leases (知识产权融资租赁, usually sale-and-leaseback) whose rentals the deal collects (docs/model.md 3.9).",
    )
    receivables: tuple[Receivable, ...] = _field(
        (),
        description="Trade receivables (应收账款, supply-chain) the deal collects on their due dates (docs/model.md 3.10).",
    )
    loss_sharing: tuple[LossSharingLayer, ...] = _field(
        (),
        description="Loss-sharing layers applied to each defaulted loan's loss, in this order.",
    )
    disposal: Disposal = _field(
        Disposal(),
        description="How defaulted loans' pledged IP is disposed of (a default for every loan; docs/model.md 3.8).",
    )
    interest_subsidies: tuple[InterestSubsidy, ...] = _field(
        (),
        description="Government interest subsidies (贴息) paid to the lender on the loans, until each loan's default.",
    )
    rates: Rates = _field(
        Rates(), description="Reference rate paths (the 1-year and 5-year-and-over LPR)."
    )
    licensees: tuple[Licensee, ...] = _field((), description="The licensees that pay the income.")
    tranches: tuple[Tranche, ...] = _field(
        description="Note classes; the lowest rank is the subordinated class and takes the residual.",
        min_length=1,
    )
    fees: Fees = _field(Fees(), description="Senior fees, paid first.")
    credit_support: tuple[DifferentialPayment, ...] = _field(
        (), description="Credit support for the notes, applied in this order within each step."
    )
    reserve: Reserve = _field(
        Reserve(), description="Cash reserve that covers fee and interest shortfalls."
    )
    other_fees: tuple[Fee, ...] = _field(
        (), description="Further named fees, paid where a pay_fee step names them."
    )
    tax: Tax | None = _field(
        None,
        description="Taxes of the plan or trust (税费): VAT and surcharges on its taxable income, a fee named tax that pay_fee steps pay (the default waterfall pays it first). Default: no tax.",
    )
    accounts: Accounts = _field(
        Accounts(),
        description="The deal's accounts: one for all collections, or revenue and principal accounts with a principal deficiency ledger.",
    )
    waterfall: Waterfall | None = _field(
        None,
        description="Priority of payments as data, one list of steps per deal state. Default: the standard order (docs/model.md, section 4.1) built from [fees], [reserve] and the tranches.",
    )
    triggers: tuple[Trigger, ...] = _field(
        (), description="Tests run each period before the waterfall; in force, they change it."
    )
    liquidity: Liquidity | None = _field(
        None, description="A liquidity facility that steps may draw on (cover_from)."
    )
    collateral: Collateral | None = _field(
        None,
        description="How the pool is valued each period, for OC tests, borrowing bases, pool-based fees, cumulative ratios and the clean-up call.",
    )
    revolving: Revolving | None = _field(
        None,
        description="A revolving period in which collections buy eligible loans, lease receivables or licence receivables (revolving.buys; needs [collateral] basis = loan_balance and waterfall.revolving).",
    )
    clean_up_call: CleanUpCall | None = _field(
        None, description="Clean-up call when the pool falls below a share of its original value."
    )
    trust: TrustTerms | None = _field(
        None, description='Terms of an IP trust (kind = "trust"); default: all off.'
    )
    roll_rates: RollRates | None = _field(
        None,
        description="Roll rates between the five loan categories (五级分类), one step a period_months: the default-time distribution of each loan with a risk_class or days_past_due (docs/model.md 3.8).",
    )
    transfer: Transfer | None = _field(
        None,
        description="Credit-asset transfer of the loans (ipabs price). Without [[tranches]] the buyer holds the pool as one class named buyer.",
    )
    ratings: Ratings = _field(
        Ratings(), description="The table implied ratings are read from, and how they are shown."
    )
    pricing: Pricing = _field(description="Pricing inputs.")
    valuation: Valuation = _field(Valuation(), description="IP valuation inputs (income method).")
    sources: Annotated[dict[str, str], AfterValidator(ReadOnlyTable)] = _field(
        {},
        validate_default=True,
        description='Where the numbers come from: a table from key paths (the stress files\' language: tables and keys joined by dots, list items selected by [*], [index] or [key=value]) to a short citation (one line of at most 300 characters; at most 500 entries), e.g. "tranches[*].balance" = "Issue announcement, Aug 2022", "licensees[*].annual_default_probability" = "ILLUSTRATIVE: typical of unrated technology SMEs". Each path must select a value of the scenario. A source covers everything under the values it selects; the report shows each key assumption\'s most specific source, or "not stated". Sources change no number.',
    )

    def has_claims(self) -> bool:
        """Scheduled claims on obligors: loans, leases or receivables (the loan kernel's pool)."""
        return bool(self.loans or self.leases or self.receivables)

    def claims_word(self) -> str:
        """What the pool's claims are called where a user reads them: "loans", "leases",
        "receivables", or "claims" for a mix."""
        kinds = [w for w, t in (("loans", self.loans), ("leases", self.leases),
                                ("receivables", self.receivables)) if t]  # fmt: skip
        return kinds[0] if len(kinds) == 1 else "claims"

    def factor_index(self, name: str | None) -> int:
        return 0 if name is None else self.factors.names.index(name)

    def fee_names(self) -> tuple[str, ...]:
        """The fees pay_fee steps can name, in the waterfall's fee order: the [fees] table's
        senior and subordinated, the [tax] table's tax, then [[other_fees]]."""
        tax = (TAX_FEE,) if self.tax is not None else ()
        return (*BUILT_IN_FEES, *tax, *(f.name for f in self.other_fees))

    def tranches_by_rank(self) -> tuple[Tranche, ...]:
        return tuple(sorted(self.tranches, key=lambda t: t.rank))

    def display_names(self, lang: str | None = None) -> dict[str, str]:
        """Each class's name as tables and charts show it (`display_name`, else `name`); on a
        report's Chinese pages (`lang="zh"`) `display_name_zh` first."""
        if lang == "zh":
            return {t.name: t.display_name_zh or t.display_name or t.name for t in self.tranches}
        return {t.name: t.display_name or t.name for t in self.tranches}

    def deal_name(self, lang: str | None = None) -> str:
        """The deal's name as a report page in `lang` shows it."""
        return (self.deal.name_zh or self.deal.name) if lang == "zh" else self.deal.name

    def replace(self, changes: dict[str, Any]) -> Scenario:
        """A new scenario with values set by key path, validated as a scenario file is:
        `sc.replace({"tranches[name=senior_A].balance": 7e7,
        "licensees[*].annual_default_probability": 0.03})`. Paths use the stress files'
        language (tables and keys joined by dots; a list item by [index], [*] or [key=value]).
        A bad path or value raises `ipabs.ScenarioError` naming the key path. The scenario is
        immutable; `model_copy(update=...)` skips validation and is not the way to change it."""
        from ipabs.stress.apply import replaced

        return replaced(self, changes)

    def source_for(self, path: str) -> str | None:
        """The citation [sources] gives for the values `path` selects (a key path, e.g.
        `licensees[id=CY03].annual_default_probability` or `licensees[*].recovery_rate`): for
        each value, the most specific source that covers it (a source on
        `licensees[*].annual_default_probability` covers every licensee's; one on `licensees`
        covers everything under it). None when some selected value has no source, or the path
        selects nothing in this deal; a path that names no key of the format is a
        ScenarioError."""
        from ipabs.scenario.sources import SourceIndex

        return SourceIndex(self).source_for(path)
