"""The IP types of the Beijing pilot and their defaults: legal term and how it runs, renewal,
the hazards that end a right early, annual fees, and typical income behaviour.

Statutory terms and CNIPA's annual fees cite their source; every behavioural number (hazards,
growth, volatility, obsolescence) is ILLUSTRATIVE, a documented starting point that a scenario
should override with deal evidence. docs/model.md reproduces this table (a test keeps the two in
step).

Chinese patents come in three kinds (PRC Patent Law (2020) art. 2): invention patents (发明, 20
years from filing, substantively examined), utility models (实用新型, 10 years) and designs (外观设计,
15 years for applications filed from 1 June 2021, 10 before; art. 42). Utility models and designs
are granted after preliminary examination only (art. 40), so a challenged one falls more often.
`patent` is the type ipabs has always had: an invention patent with a flat annual fee of 4,000 a
year, kept exactly so that existing scenarios keep their numbers; `invention_patent` is the same
right with CNIPA's annual fee by patent year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ipabs.scenario.model import IPType


@dataclass(frozen=True)
class IPTypeDefaults:
    legal_term_years: float | None  # None: no statutory expiry
    term_runs_from: str
    renewal_term_years: float | None  # None: not renewable
    renewal_probability: float
    lapse_hazard: float  # per year, for unpaid annual fees; 0 while annuities are pre-paid
    annual_fee: float  # currency per year, the cost of pre-paying annuities (flat)
    invalidation_hazard: float  # per year
    growth_rate: float
    volatility: float
    obsolescence_hazard: float  # per year
    obsolescence_severity: float  # share of income lost at a jump
    source: str
    # no statutory term: the right lasts as long as its contract, so licence_term_years is also
    # its legal life (income and value stop then; docs/model.md 3.4)
    term_is_contract: bool = False
    # CNIPA's annual fee by patent year (counted from the filing date): (first patent year of the
    # band, fee a year), replacing the flat annual_fee; the last band runs to the end of the term
    annual_fee_schedule: tuple[tuple[int, float], ...] | None = None
    # (date, term): a right filed before the date has this shorter statutory term instead
    earlier_term: tuple[dt.date, float] | None = None


def legal_term_years(ip_type: IPType, protection_start: dt.date | None) -> float | None:
    """The type's statutory term for a right whose term runs from `protection_start` (designs
    filed before 1 June 2021 keep the 10-year term; unknown start: the current term)."""
    d = IP_TYPE_DEFAULTS[ip_type]
    if d.earlier_term is not None and protection_start is not None:
        before, term = d.earlier_term
        if protection_start < before:
            return term
    return d.legal_term_years


# CNIPA annual fees (年费) by patent year, in yuan, as CNIPA's published fee schedule (国家知识产权局
# 专利收费标准, the prices of 发改价格〔2017〕270号), with the design patent's years 11-15 at 3,000 a
# year for the 15-year design term of the 2020 Patent Law. Only secondary copies of the schedule
# could be checked when this was written: they agree on every band of invention patents (years
# 1-20) and of utility models and designs (years 1-10); the design's 3,000 for years 11-15 and the
# instrument numbers were not checked against the official text.
INVENTION_ANNUAL_FEES = ((1, 900.0), (4, 1_200.0), (7, 2_000.0), (10, 4_000.0), (13, 6_000.0), (16, 8_000.0))  # fmt: skip
UTILITY_MODEL_ANNUAL_FEES = ((1, 600.0), (4, 900.0), (6, 1_200.0), (9, 2_000.0))
DESIGN_ANNUAL_FEES = (*UTILITY_MODEL_ANNUAL_FEES, (11, 3_000.0))
#: 专利收费减缴办法 (财税〔2016〕78号, from 1 September 2016): the annual fees of the six years from
#: the year of grant (自授予专利权当年起六年内的年费) are reduced by 85% for an individual, enterprise or
#: institution meeting its income conditions, or 70% for two or more joint owners (the income
#: thresholds have since been raised; the rates and the six years are what the model uses)
FEE_REDUCTION_YEARS = 6
#: Patent Law (2020) art. 42 as amended: 15-year design term for applications from 1 June 2021
DESIGN_TERM_CHANGE = dt.date(2021, 6, 1)


IP_TYPE_DEFAULTS: dict[IPType, IPTypeDefaults] = {
    IPType.patent: IPTypeDefaults(
        legal_term_years=20.0,
        term_runs_from="filing date",
        renewal_term_years=None,
        renewal_probability=0.0,
        # US grant survival of about 84% to year 4, 63% to year 8 and 49% to year 12 (docs/DESIGN
        # brief) is close to exp(-0.055 t); it is mostly lapse for unpaid maintenance fees
        lapse_hazard=0.055,
        annual_fee=4_000.0,  # CNIPA invention-patent annuity for years 10-12 is 4,000 yuan
        invalidation_hazard=0.01,
        growth_rate=-0.05,
        volatility=0.25,
        obsolescence_hazard=0.03,
        obsolescence_severity=0.5,
        source="PRC Patent Law (2020) art. 42: invention patents 20 years from filing; art. 44: lapse for unpaid annual fees. An invention patent with the flat fee ipabs has always used (invention_patent: the fee by patent year)",
    ),
    IPType.invention_patent: IPTypeDefaults(
        legal_term_years=20.0,
        term_runs_from="filing date",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.055,  # as patent
        annual_fee=0.0,
        annual_fee_schedule=INVENTION_ANNUAL_FEES,
        invalidation_hazard=0.01,  # as patent: substantively examined
        growth_rate=-0.05,
        volatility=0.25,
        obsolescence_hazard=0.03,
        obsolescence_severity=0.5,
        source="PRC Patent Law (2020) arts. 42, 44; annual fees: 发改价格〔2017〕270号 (CNIPA 专利收费标准), fee reduction 财税〔2016〕78号",
    ),
    IPType.utility_model: IPTypeDefaults(
        legal_term_years=10.0,
        term_runs_from="filing date",
        renewal_term_years=None,
        renewal_probability=0.0,
        # ILLUSTRATIVE: utility models are kept up for fewer years than inventions (cheap to file,
        # often filed for subsidies and counts); 0.10 a year leaves half alive after 7 years
        lapse_hazard=0.10,
        annual_fee=0.0,
        annual_fee_schedule=UTILITY_MODEL_ANNUAL_FEES,
        # ILLUSTRATIVE: twice the invention patent's, as it is granted without substantive
        # examination (art. 40) and a challenged one falls more often; no per-type rate of
        # invalidation per granted right is published that could replace it
        invalidation_hazard=0.02,
        growth_rate=-0.05,
        volatility=0.25,
        obsolescence_hazard=0.03,
        obsolescence_severity=0.5,
        source="PRC Patent Law (2020) art. 42: utility models 10 years from filing; art. 40: no substantive examination; annual fees: 发改价格〔2017〕270号, fee reduction 财税〔2016〕78号",
    ),
    IPType.design_patent: IPTypeDefaults(
        legal_term_years=15.0,
        earlier_term=(DESIGN_TERM_CHANGE, 10.0),
        term_runs_from="filing date (10 years for applications filed before 2021-06-01)",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.10,  # ILLUSTRATIVE: as utility_model
        annual_fee=0.0,
        annual_fee_schedule=DESIGN_ANNUAL_FEES,
        invalidation_hazard=0.02,  # ILLUSTRATIVE: as utility_model (no substantive examination)
        # ILLUSTRATIVE: a product's looks date faster than its technology
        growth_rate=-0.08,
        volatility=0.25,
        obsolescence_hazard=0.05,
        obsolescence_severity=0.5,
        source="PRC Patent Law (2020) art. 42: designs 15 years from filing (applications from 2021-06-01; 10 before); art. 40; annual fees: 发改价格〔2017〕270号 (years 11-15: 3,000), fee reduction 财税〔2016〕78号",
    ),
    IPType.trademark: IPTypeDefaults(
        legal_term_years=10.0,
        term_runs_from="registration date",
        renewal_term_years=10.0,
        renewal_probability=0.9,
        lapse_hazard=0.0,
        annual_fee=0.0,
        invalidation_hazard=0.002,
        growth_rate=0.0,
        volatility=0.15,
        obsolescence_hazard=0.01,
        obsolescence_severity=0.3,
        source="PRC Trademark Law (2019) arts. 39-40: 10 years from registration, renewable for 10 years each time",
    ),
    IPType.copyright: IPTypeDefaults(
        legal_term_years=50.0,
        term_runs_from="first publication (works of legal persons)",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.0,
        annual_fee=0.0,
        invalidation_hazard=0.0,
        growth_rate=-0.06,  # music catalogues decay 3-10% a year (DESIGN brief)
        volatility=0.20,
        obsolescence_hazard=0.0,
        obsolescence_severity=0.0,
        source="PRC Copyright Law (2020) art. 23: 50 years from first publication for works of legal persons",
    ),
    IPType.plant_variety: IPTypeDefaults(
        legal_term_years=15.0,
        term_runs_from="grant date (20 years for vines and trees: override legal_term_years)",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.0,  # annual fees for plant variety rights were abolished in 2017
        annual_fee=0.0,
        invalidation_hazard=0.005,
        growth_rate=-0.03,
        volatility=0.20,
        obsolescence_hazard=0.02,
        obsolescence_severity=0.4,
        source="PRC Regulations on the Protection of New Varieties of Plants art. 34: 20 years for vines and trees, 15 for others",
    ),
    IPType.data_rights: IPTypeDefaults(
        legal_term_years=None,
        term_runs_from="no statutory term: the contract's term (give licence_term_years)",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.0,
        annual_fee=0.0,
        invalidation_hazard=0.0,
        growth_rate=0.0,
        volatility=0.30,
        obsolescence_hazard=0.05,
        obsolescence_severity=0.5,
        source="no statute: data property rights are contractual (CPC/State Council 'Data 20 Measures', 2022)",
        term_is_contract=True,
    ),
    IPType.geographical_indication: IPTypeDefaults(
        legal_term_years=None,
        term_runs_from="no expiry",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.0,
        annual_fee=0.0,
        invalidation_hazard=0.0,
        growth_rate=0.02,
        volatility=0.10,
        obsolescence_hazard=0.0,
        obsolescence_severity=0.0,
        source="CNIPA Measures for the Protection of Geographical Indication Products (2023): protection has no fixed term",
    ),
    IPType.ic_layout: IPTypeDefaults(
        legal_term_years=10.0,
        term_runs_from="filing date or first commercial exploitation, whichever is earlier (at most 15 years from creation)",
        renewal_term_years=None,
        renewal_probability=0.0,
        lapse_hazard=0.0,
        annual_fee=0.0,
        invalidation_hazard=0.01,
        growth_rate=-0.15,
        volatility=0.30,
        obsolescence_hazard=0.05,
        obsolescence_severity=0.5,
        source="PRC Regulations on the Protection of Layout-Designs of Integrated Circuits (2001) art. 12",
    ),
}


DOC_BEGIN = "<!-- BEGIN IP TYPE DEFAULTS: ipabs/pool/ip_types.py -->"
DOC_END = "<!-- END IP TYPE DEFAULTS -->"


def defaults_table_markdown() -> str:
    """The defaults as a Markdown table, embedded in docs/model.md between DOC_BEGIN and DOC_END."""
    head = (
        "| type | legal term | runs from | renewal | lapse hazard (fees unpaid) | annuity pre-payment | "
        "invalidation hazard | growth | volatility | obsolescence hazard / severity | statute |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for ip_type, d in IP_TYPE_DEFAULTS.items():
        term = "none" if d.legal_term_years is None else f"{d.legal_term_years:g} y"
        fee = f"{d.annual_fee:,.0f}/y"
        if d.annual_fee_schedule is not None:
            fee = "by patent year: " + ", ".join(
                f"{f:,.0f} (y{a}-{b - 1})" if b - 1 > a else f"{f:,.0f} (y{a})"
                for (a, f), b in zip(
                    d.annual_fee_schedule,
                    [*(a for a, _ in d.annual_fee_schedule[1:]), int(d.legal_term_years) + 1],
                    strict=True,
                )
            )
        renewal = (
            "no"
            if d.renewal_term_years is None
            else f"{d.renewal_term_years:g} y, p = {d.renewal_probability:g}"
        )
        rows.append(
            f"| `{ip_type.value}` | {term} | {d.term_runs_from} | {renewal} | {d.lapse_hazard:g}/y | "
            f"{fee} | {d.invalidation_hazard:g}/y | {d.growth_rate:g}/y | {d.volatility:g} | "
            f"{d.obsolescence_hazard:g}/y / {d.obsolescence_severity:g} | {d.source} |"
        )
    return "\n".join([head, *rows])
