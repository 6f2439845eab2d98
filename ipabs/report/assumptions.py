"""The key assumptions a credit committee asks about, read from the scenario, with their sources.

Each row is one key path of the scenario (the stress files' language) with the range of its values
over the items it applies to, so that "licensee default probabilities 1.5% to 4.0% a year, 15
licensees, ILLUSTRATIVE: typical of unrated technology SMEs" is one row. Only what the deal has is
listed: a licence pool has no loan rows, a loan pool no licence rows, a deal without a reserve no
reserve row. Values an asset leaves unset are its IP type's defaults (docs/model.md 3.3), as the
engine uses them. The source is the scenario's [sources] entry that covers the key
(`Scenario.source_for`); None when it has none, which the report shows as "not stated".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ipabs.pool.assets import resolve_asset
from ipabs.report.i18n import N_
from ipabs.scenario.model import Scenario
from ipabs.scenario.sources import SourceIndex

Unit = Literal["pct", "pct_per_year", "years", "months", "amount", "ratio", "count"]


@dataclass(frozen=True)
class Assumption:
    """One row of the key assumptions table.

    key: the key path the values are read from (and its source looked up by);
    label: an English label marked with N_ (translated where it is shown);
    value_min, value_max: the range of the values over `items` items (equal for one value; NaN
    for a row whose value is text);
    unit: how to show the numbers (pct: 0.3 is 30%; pct_per_year: a rate or annual probability;
    amount: in the deal's currency); None for a text row;
    items: how many values the range is over;
    source: the scenario's citation for the key, or None (not stated);
    text: the value of a row that is not a number (the copula), an English label marked with N_.
    """

    key: str
    label: str
    value_min: float
    value_max: float
    unit: Unit | None
    items: int
    source: str | None
    text: str | None = None


#: one item of a row: its key path (for the source) and its value or values
Entry = tuple[str, float | Sequence[float] | None]


class _Rows:
    """Collects rows, skipping a key with no values, and finds each row's source."""

    def __init__(self, sc: Scenario):
        self._sc = sc
        self._sources = SourceIndex(sc)
        self.rows: list[Assumption] = []

    def add(self, key: str, label: str, value: float | None, unit: Unit, *, if_any=False) -> None:
        """A row of one value (a key outside the lists: a fee, the copula's degrees of
        freedom); none if it is unset, or zero with if_any (a reserve the deal does not have)."""
        self.add_items(key, label, [(key, value)], unit, if_any=if_any)

    def add_items(
        self, key: str, label: str, entries: Iterable[Entry], unit: Unit, *, if_any=False
    ) -> None:
        """A row over items: (the item's key path, its value or values) for each item it
        applies to; unset values (None) are left out. The source is looked up for exactly the
        items that have a value (for `key` itself when that is every item of its table)."""
        given = [(path, v) for path, v in entries if v is not None]
        values = [float(x) for _, v in given for x in (v if isinstance(v, Sequence) else (v,))]
        if not values or (if_any and not any(values)):
            return
        paths = [path for path, _ in given]
        if "[*]." in key:
            table, field = key.split("[*].", 1)
            items: Any = self._sc
            for part in table.split("."):
                items = getattr(items, part)
            every = [f"{table}[{i}].{field}" for i in range(len(items))]
            paths = [key] if paths == every else paths
        source = self._sources.source_for_all(paths)
        self.rows.append(Assumption(key, label, min(values), max(values), unit, len(given), source))

    def add_text(self, key: str, label: str, text: str) -> None:
        source = self._sources.source_for(key)
        self.rows.append(Assumption(key, label, math.nan, math.nan, None, 1, source, text))


def _each(table: str, field: str, items: Iterable[tuple[int, Any]]) -> list[Entry]:
    """(key path, value) of `field` for the (index, value) items of `table`."""
    return [(f"{table}[{i}].{field}", v) for i, v in items]


def key_assumptions(sc: Scenario) -> list[Assumption]:
    """The deal's key assumptions, in the order a committee reads them: the obligors' credit,
    their dependence, the IP, the licences or loans, loss sharing and credit support, the costs
    of the structure, pricing and valuation, and the simulation."""
    rows = _Rows(sc)
    _licensees(sc, rows)
    _loans(sc, rows)
    _contracts(sc, rows)
    _dependence(sc, rows)
    _ip(sc, rows)
    _licences(sc, rows)
    _loss_sharing_and_support(sc, rows)
    _structure(sc, rows)
    _pricing(sc, rows)
    rows.add("simulation.paths", N_("Monte Carlo paths"), sc.simulation.paths, "count")
    rows.add("simulation.seed", N_("Random seed"), sc.simulation.seed, "count")
    return rows.rows


#: the key assumptions of leases and receivables (docs/model.md 3.9-3.10): (table, field, label, unit)
CONTRACT_ROWS = (
    ("leases", "financed_amount", N_("Lease principal (financed amount)"), "amount"),
    ("leases", "annual_default_probability", N_("Lessee annual default probability"), "pct_per_year"),
    ("leases", "factor_loading", N_("Lessee factor loading"), "ratio"),
    ("leases", "lease_rate", N_("Lease rate"), "pct_per_year"),
    ("leases", "rentals", N_("Rentals still due"), "count"),
    ("leases", "purchase_option_price", N_("Purchase option price"), "amount"),
    ("leases", "prepayment_rate", N_("Lease early buy-out rate"), "pct_per_year"),
    ("leases", "asset_value", N_("Given value of the leased IP"), "amount"),
    ("leases", "disposal_haircut", N_("Haircut on repossessing and re-leasing or selling the leased IP"), "pct"),
    ("leases", "disposal_lag_months", N_("Lag from a lessee's default to the proceeds"), "months"),
    ("receivables", "face_value", N_("Receivable face value"), "amount"),
    ("receivables", "annual_default_probability", N_("Debtor annual default probability"), "pct_per_year"),
    ("receivables", "factor_loading", N_("Debtor factor loading"), "ratio"),
    ("receivables", "dilution", N_("Receivable dilution"), "pct"),
    ("receivables", "recovery_rate", N_("Receivable recovery rate"), "pct"),
    ("receivables", "recovery_lag_months", N_("Receivable recovery lag"), "months"),
)  # fmt: skip


def _contracts(sc: Scenario, rows: _Rows) -> None:
    for table, field, label, unit in CONTRACT_ROWS:
        items = list(enumerate(getattr(sc, table)))
        entries = _each(table, field, ((i, getattr(x, field)) for i, x in items))
        if_any = field in ("prepayment_rate", "dilution")
        rows.add_items(f"{table}[*].{field}", label, entries, unit, if_any=if_any)
    rev = sc.revolving
    if rev is not None and rev.buys == "leases":
        for field, label, unit in (
            ("annual_default_probability", N_("Revolving leases' lessee annual default probability"), "pct_per_year"),
            ("rate", N_("Revolving leases' lease rate"), "pct_per_year"),
            ("term_years", N_("Revolving leases' term"), "years"),
            ("disposal_haircut", N_("Revolving leases' haircut on the leased IP"), "pct"),
        ):  # fmt: skip
            rows.add(f"revolving.{field}", label, getattr(rev, field), unit)
    if rev is not None and rev.buys == "licence_receivables":
        for field, label, unit in (
            ("annual_default_probability", N_("Revolving licence receivables' licensee annual default probability"), "pct_per_year"),
            ("rate", N_("Revolving licence receivables' discount yield"), "pct_per_year"),
            ("term_years", N_("Revolving licence receivables' term"), "years"),
            ("recovery_rate", N_("Revolving licence receivables' recovery rate on unpaid instalments"), "pct"),
        ):  # fmt: skip
            rows.add(f"revolving.{field}", label, getattr(rev, field) or 0.0, unit)


def _licensees(sc: Scenario, rows: _Rows) -> None:
    if not any(a.licensee for a in sc.assets):
        return
    lic = list(enumerate(sc.licensees))
    for field, label, unit in (
        ("annual_default_probability", N_("Licensee annual default probability"), "pct_per_year"),
        ("recovery_rate", N_("Licensee recovery rate"), "pct"),
        ("factor_loading", N_("Licensee factor loading"), "ratio"),
    ):
        entries = _each("licensees", field, ((i, getattr(x, field)) for i, x in lic))
        rows.add_items(f"licensees[*].{field}", label, entries, unit)


def _loans(sc: Scenario, rows: _Rows) -> None:
    if not sc.loans:
        return
    loans = list(enumerate(sc.loans))
    performing = [(i, x) for i, x in loans if not x.defaulted]

    def add(field: str, label: str, items: list, unit: Unit, *, if_any: bool = False) -> None:
        entries = _each("loans", field, ((i, getattr(x, field)) for i, x in items))
        rows.add_items(f"loans[*].{field}", label, entries, unit, if_any=if_any)

    add("balance", N_("Loan balance"), loans, "amount")
    add(
        "annual_default_probability",
        N_("Borrower annual default probability"),
        performing,
        "pct_per_year",
    )
    add(
        "default_probability_curve",
        N_("Borrower annual default probability (by year)"),
        performing,
        "pct_per_year",
    )
    defaulted = [(i, x) for i, x in loans if x.defaulted]
    rows.add_items(
        "loans[*].defaulted",
        N_("Loans in default at closing"),
        _each("loans", "defaulted", ((i, len(defaulted)) for i, _ in defaulted)),
        "count",
    )
    add("factor_loading", N_("Borrower factor loading"), performing, "ratio")
    fixed = [(i, x) for i, x in loans if x.rate_type == "fixed"]
    floating = [(i, x) for i, x in loans if x.rate_type == "lpr"]
    add("rate", N_("Loan interest rate (fixed)"), fixed, "pct_per_year")
    tenors = {x.reference_tenor for _, x in floating}
    if tenors == {"5y"}:
        spread_label = N_("Loan spread over the 5-year LPR")
    elif tenors == {"1y", "5y"}:
        spread_label = N_("Loan spread over its LPR (1-year or 5-year)")
    else:
        spread_label = N_("Loan spread over the 1-year LPR")
    add("spread", spread_label, floating, "pct_per_year")
    for tenor, label in (("1y", N_("1-year LPR")), ("5y", N_("5-year LPR"))):
        if tenor in tenors:
            key = f"rates.lpr_{tenor}"
            path = getattr(sc.rates, f"lpr_{tenor}")
            rows.add_items(
                key, label, _each(key, "rate", enumerate(p.rate for p in path)), "pct_per_year"
            )
    add("term_years", N_("Loan term"), loans, "years")
    add("original_term_years", N_("Loan contract term (seasoned loans)"), loans, "years")
    add("prepayment_rate", N_("Loan prepayment rate"), performing, "pct_per_year", if_any=True)
    add(
        "renewal_probability",
        N_("Probability of renewal without principal repayment"),
        performing,
        "pct",
        if_any=True,
    )
    add("ltv", N_("Loan-to-value at origination"), loans, "ratio")
    method = {i: x.disposal_method or sc.disposal.method for i, x in loans}
    haircut = [(i, x) for i, x in loans if method[i] == "haircut"]
    add("disposal_haircut", N_("Disposal haircut on the pledged IP"), haircut, "pct")
    add("disposal_lag_months", N_("Disposal lag after default"), haircut, "months")
    add("buyout_floor", N_("Buy-out floor under disposal proceeds"), haircut, "amount")
    _disposal(sc, rows, method)
    rev = sc.revolving
    if rev is not None and rev.buys == "loans":  # leases' and licence receivables': _contracts
        for field, label, unit in (
            (
                "annual_default_probability",
                N_("Revolving loans' annual default probability"),
                "pct_per_year",
            ),
            ("rate", N_("Revolving loans' interest rate"), "pct_per_year"),
            ("term_years", N_("Revolving loans' term"), "years"),
            ("disposal_haircut", N_("Revolving loans' disposal haircut"), "pct"),
        ):
            rows.add(f"revolving.{field}", label, getattr(rev, field), unit)


def _disposal(sc: Scenario, rows: _Rows, method: dict[int, str]) -> None:
    """The auction's and the holding institution's (收储) terms, when some loan uses them."""
    d = sc.disposal
    auctioned = [i for i, m in method.items() if m == "auction"]
    bought = [i for i, m in method.items() if m == "buyout_operate"]
    if auctioned:
        a = d.auction
        rows.add("disposal.auction.rounds", N_("Auction rounds before the fall-back"), a.rounds, "count")  # fmt: skip
        rows.add(
            "disposal.auction.start_price",
            N_("Auction starting price (share of the pledge's value)"),
            a.start_price,
            "pct",
        )
        rows.add("disposal.auction.price_cut", N_("Price cut in each later auction round"), a.price_cut, "pct")  # fmt: skip
        rows.add(
            "disposal.auction.sale_probability",
            N_("Probability that an auction round sells"),
            a.sale_probability,
            "pct",
        )
        rows.add("disposal.auction.cost_share", N_("Auction costs (share of the price)"), a.cost_share, "pct", if_any=True)  # fmt: skip
    if auctioned or bought:
        rows.add(
            "disposal.auction.take_in_kind_haircut",
            N_("Haircut on IP the lender takes in kind (以物抵债)"),
            d.auction.take_in_kind_haircut,
            "pct",
        )
    b = d.buyer
    if b is not None and (bought or (d.auction.fallback == "buyout" and auctioned)):
        if b.payment == "income_share":
            rows.add(
                "disposal.buyer.income_share",
                N_("Share of the pledged IP's income the holding institution pays"),
                b.income_share,
                "pct",
            )
        else:
            rows.add(
                "disposal.buyer.price_share",
                N_("Holding institution's price (share of the pledge's value)"),
                b.price_share,
                "pct",
            )
        rows.add("disposal.buyer.years", N_("Years of the holding institution's payments"), b.years, "years")  # fmt: skip
        rows.add(
            "disposal.buyer.default_probability",
            N_("Holding institution's annual default probability"),
            b.default_probability,
            "pct_per_year",
        )


def _dependence(sc: Scenario, rows: _Rows) -> None:
    f = sc.factors
    n = len(f.names)
    if n > 1:
        corr = f.correlation
        off = [corr[i][j] if corr else 0.0 for i in range(n) for j in range(i + 1, n)]
        rows.add_items(
            "factors.correlation",
            N_("Correlation between factors"),
            [("factors.correlation", off)],
            "ratio",
        )
    if f.copula == "student_t":
        rows.add_text("factors.copula", N_("Default copula"), N_("Student t"))
        rows.add(
            "factors.degrees_of_freedom",
            N_("Student t copula degrees of freedom"),
            f.degrees_of_freedom,
            "count",
        )
    else:
        rows.add_text("factors.copula", N_("Default copula"), N_("Gaussian"))


def _ip(sc: Scenario, rows: _Rows) -> None:
    """What drives the IP's income and value: pledged rights' as much as licensed ones'. A value
    an asset leaves unset is its IP type's default, as the engine uses it."""
    if not sc.assets:
        return
    start = sc.deal.pool_start  # the pool's time zero: closing, or the cut-off date
    resolved = [(i, a, resolve_asset(a, start)) for i, a in enumerate(sc.assets)]

    def add(field: str, label: str, values, unit: Unit) -> None:
        rows.add_items(f"assets[*].{field}", label, _each("assets", field, values), unit)

    add(
        "volatility", N_("IP income volatility"), ((i, r.volatility) for i, _, r in resolved), "pct"
    )
    growth = [
        (
            f"assets[{i}].growth_curve" if a.growth_curve else f"assets[{i}].growth_rate",
            r.growth_curve,
        )
        for i, a, r in resolved
    ]
    rows.add_items("assets[*].growth_rate", N_("IP income growth"), growth, "pct_per_year")
    add(
        "obsolescence_hazard",
        N_("IP obsolescence hazard"),
        ((i, r.obsolescence_hazard) for i, _, r in resolved),
        "pct_per_year",
    )
    add(
        "obsolescence_severity",
        N_("Income lost at an obsolescence jump"),
        ((i, r.obsolescence_severity) for i, _, r in resolved if r.obsolescence_hazard > 0),
        "pct",
    )
    add(
        "invalidation_hazard",
        N_("IP invalidation hazard"),
        ((i, r.invalidation_hazard) for i, _, r in resolved),
        "pct_per_year",
    )
    # no lapse while annuities are pre-paid: then that is what the source must cover
    lapse = [
        (
            f"assets[{i}].{_lapse_key(a)}",
            r.lapse_hazard,
        )
        for i, a, r in resolved
    ]
    rows.add_items(
        "assets[*].lapse_hazard", N_("IP lapse hazard (annual fees unpaid)"), lapse, "pct_per_year"
    )
    add(
        "remaining_legal_life_years",
        N_("IP remaining legal life"),
        ((i, r.first_expiry_years) for i, _, r in resolved if math.isfinite(r.first_expiry_years)),
        "years",
    )
    add(
        "factor_loading",
        N_("IP income factor loading"),
        ((i, a.factor_loading) for i, a, _ in resolved),
        "ratio",
    )


def _licences(sc: Scenario, rows: _Rows) -> None:
    licensed = [(i, a) for i, a in enumerate(sc.assets) if a.licensee]
    if not licensed:
        return

    def add(field: str, label: str, items: list, unit: Unit, *, if_any: bool = False) -> None:
        entries = _each("assets", field, ((i, getattr(a, field)) for i, a in items))
        rows.add_items(f"assets[*].{field}", label, entries, unit, if_any=if_any)

    add("base_annual_income", N_("Licence income per year at closing"), licensed, "amount")
    add("licence_term_years", N_("Licence term"), licensed, "years")
    relicensed = [(i, a) for i, a in licensed if a.relicensing_months is not None]
    add(
        "relicensing_months",
        N_("Time to relicense after a licensee default"),
        relicensed,
        "months",
    )
    add(
        "relicensing_share",
        N_("Income of the new licence relative to the old"),
        relicensed,
        "pct",
    )
    add(
        "collection_lag_periods",
        N_("Collection lag (payment periods)"),
        licensed,
        "count",
        if_any=True,
    )


def _loss_sharing_and_support(sc: Scenario, rows: _Rows) -> None:
    for layer in sc.loss_sharing:
        at = (
            f"loss_sharing[name={layer.name}]" if layer.name else f"loss_sharing[kind={layer.kind}]"
        )
        if layer.kind == "guarantee":
            rows.add(f"{at}.share", N_("Guarantee: share of each loss"), layer.share, "pct")
            rows.add(
                f"{at}.guarantor_default_probability",
                N_("Guarantor annual default probability"),
                layer.guarantor_default_probability,
                "pct_per_year",
            )
            rows.add(f"{at}.annual_cap", N_("Guarantee: cap a year"), layer.annual_cap, "amount")
        elif layer.kind == "re_guarantee":
            rows.add(
                f"{at}.share",
                N_("Re-guarantee: share of the guarantor's obligation"),
                layer.share,
                "pct",
            )
        elif layer.kind == "risk_compensation_fund":
            rows.add(
                f"{at}.share", N_("Risk compensation fund: share of each loss"), layer.share, "pct"
            )
            rows.add(
                f"{at}.per_loan_cap",
                N_("Risk compensation fund: cap per loan"),
                layer.per_loan_cap,
                "amount",
            )
            rows.add(
                f"{at}.annual_budget",
                N_("Risk compensation fund: annual budget"),
                layer.annual_budget,
                "amount",
            )
        else:
            rows.add(f"{at}.share", N_("Credit insurance: share of each loss"), layer.share, "pct")
            rows.add(
                f"{at}.deductible",
                N_("Credit insurance: deductible per loan"),
                layer.deductible,
                "amount",
                if_any=True,
            )
            rows.add(f"{at}.limit", N_("Credit insurance: limit per loan"), layer.limit, "amount")
            rows.add(
                f"{at}.premium_rate",
                N_("Credit insurance: annual premium rate"),
                layer.premium_rate,
                "pct_per_year",
                if_any=True,
            )
            rows.add(
                f"{at}.insurer_default_probability",
                N_("Insurer annual default probability"),
                layer.insurer_default_probability,
                "pct_per_year",
                if_any=True,
            )
    for i, subsidy in enumerate(sc.interest_subsidies):
        at = f"interest_subsidies[{i}]"
        rows.add(
            f"{at}.share_of_interest",
            N_("Interest subsidy: share of the interest"),
            subsidy.share_of_interest,
            "pct",
            if_any=True,
        )
        rows.add(
            f"{at}.rate", N_("Interest subsidy: rate on the balance"), subsidy.rate,
            "pct_per_year", if_any=True,
        )  # fmt: skip
    support = list(enumerate(sc.credit_support))
    rows.add_items(
        "credit_support[*].provider_default_probability",
        N_("Credit support providers' annual default probability"),
        _each(
            "credit_support",
            "provider_default_probability",
            ((i, s.provider_default_probability) for i, s in support),
        ),
        "pct_per_year",
    )
    rows.add_items(
        "credit_support[*].cap",
        N_("Credit support cap"),
        _each("credit_support", "cap", ((i, s.cap) for i, s in support)),
        "amount",
    )


def _structure(sc: Scenario, rows: _Rows) -> None:
    fees, reserve = sc.fees, sc.reserve
    for key, label, value, unit in (
        ("fees.fixed_per_year", N_("Senior fees per year"), fees.fixed_per_year, "amount"),
        (
            "fees.pct_of_notes_per_year",
            N_("Senior fees on the notes' balance"),
            fees.pct_of_notes_per_year,
            "pct_per_year",
        ),
        ("fees.cap_per_year", N_("Cap on senior fees per year"), fees.cap_per_year, "amount"),
        (
            "fees.subordinated_per_year",
            N_("Subordinated fees per year"),
            fees.subordinated_per_year,
            "amount",
        ),
        (
            "reserve.initial_balance",
            N_("Cash reserve at closing"),
            reserve.initial_balance,
            "amount",
        ),
        ("reserve.target", N_("Cash reserve target"), reserve.target, "amount"),
        (
            "reserve.target_pct_of_notes",
            N_("Cash reserve target (share of the notes)"),
            reserve.target_pct_of_notes,
            "pct",
        ),
    ):
        rows.add(key, label, value, unit, if_any=True)
    t = sc.transfer
    if t is not None:
        rows.add(
            "transfer.required_yield",
            N_("Buyer's required yield"),
            t.required_yield,
            "pct_per_year",
        )
        rows.add(
            "transfer.servicing_fee",
            N_("Seller's servicing fee"),
            t.servicing_fee,
            "pct_per_year",
            if_any=True,
        )
        rows.add(
            "transfer.seller_risk_share",
            N_("Seller's retained share of each loss"),
            t.seller_risk_share,
            "pct",
            if_any=True,
        )
        rows.add("transfer.risk_weight", N_("Risk weight of the loans"), t.risk_weight, "pct")
        rows.add("transfer.capital_ratio", N_("Seller's capital ratio"), t.capital_ratio, "pct")
        rows.add(
            "transfer.cost_of_capital",
            N_("Seller's cost of capital"),
            t.cost_of_capital,
            "pct_per_year",
            if_any=True,
        )
        rows.add(
            "transfer.registration_fee",
            N_("Registration and transfer fee (share of the price)"),
            t.registration_fee,
            "pct",
            if_any=True,
        )


def _pricing(sc: Scenario, rows: _Rows) -> None:
    p = sc.pricing
    rows.add("pricing.discount_rate", N_("Discount rate"), p.discount_rate, "pct_per_year")
    rows.add_items(
        "pricing.curve",
        N_("Discount curve (zero rates)"),
        [("pricing.curve", [c.rate for c in p.curve])] if p.curve else [],
        "pct_per_year",
    )
    rows.add(
        "pricing.spread", N_("Spread over the discount rate"), p.spread, "pct_per_year", if_any=True
    )
    rows.add_items(
        "pricing.class_spreads[*].spread",
        N_("Class spreads over the discount rate"),
        _each("pricing.class_spreads", "spread", enumerate(c.spread for c in p.class_spreads)),
        "pct_per_year",
    )
    if sc.assets:
        rows.add(
            "valuation.discount_rate",
            N_("IP valuation discount rate (income method)"),
            sc.valuation.discount_rate,
            "pct_per_year",
        )


def _lapse_key(asset) -> str:
    """The key that sets an asset's lapse hazard: the annual fees kept paid, or the hazard."""
    if asset.annuities_paid_by is not None:
        return "annuities_paid_by"
    return "annuities_prepaid" if asset.annuities_prepaid else "lapse_hazard"
