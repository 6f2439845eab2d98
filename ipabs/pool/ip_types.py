"""The seven IP types of the Beijing pilot and their defaults: legal term and how it runs, renewal,
the hazards that end a right early, and typical income behaviour.

Statutory terms cite the PRC statute; every behavioural number (hazards, growth, volatility,
obsolescence) is ILLUSTRATIVE, a documented starting point that a scenario should override with
deal evidence. docs/model.md reproduces this table (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from ipabs.scenario.model import IPType


@dataclass(frozen=True)
class IPTypeDefaults:
    legal_term_years: float | None  # None: no statutory expiry
    term_runs_from: str
    renewal_term_years: float | None  # None: not renewable
    renewal_probability: float
    lapse_hazard: float  # per year, for unpaid annual fees; 0 while annuities are pre-paid
    annual_fee: float  # currency per year, the cost of pre-paying annuities
    invalidation_hazard: float  # per year
    growth_rate: float
    volatility: float
    obsolescence_hazard: float  # per year
    obsolescence_severity: float  # share of income lost at a jump
    source: str
    # no statutory term: the right lasts as long as its contract, so licence_term_years is also
    # its legal life (income and value stop then; docs/model.md 3.4)
    term_is_contract: bool = False


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
        source="PRC Patent Law (2020) art. 42: invention patents 20 years from filing; art. 44: lapse for unpaid annual fees",
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
        renewal = (
            "no"
            if d.renewal_term_years is None
            else f"{d.renewal_term_years:g} y, p = {d.renewal_probability:g}"
        )
        rows.append(
            f"| `{ip_type.value}` | {term} | {d.term_runs_from} | {renewal} | {d.lapse_hazard:g}/y | "
            f"{d.annual_fee:,.0f}/y | {d.invalidation_hazard:g}/y | {d.growth_rate:g}/y | {d.volatility:g} | "
            f"{d.obsolescence_hazard:g}/y / {d.obsolescence_severity:g} | {d.source} |"
        )
    return "\n".join([head, *rows])
