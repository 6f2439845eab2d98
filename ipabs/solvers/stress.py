"""Stresses of a scenario's pool, each a function of one level x >= 0 (0: the scenario itself).

- default_multiplier: every licensee's and loan's default probability (and the revolving
  period's eligibility limit) times (1 + x), capped at 1 (a loan in a five-category state: its
  cumulative default probability from the roll rates); credit-support providers are unchanged;
- income_haircut: every asset's base income times (1 - x);
- decay_increase: every asset's growth rate (each year of a growth curve) minus x;
- recovery_cut: licensee recoveries times (1 - x); the income of rights licensed again after a
  default (relicensing_share) times (1 - x); loan disposal proceeds times (1 - x) (the haircut h
  becomes 1 - (1 - h)(1 - x); an auction's prices and the value realised in kind, a holding
  institution's price or income share, times (1 - x): docs/model.md 3.8).
"""

from __future__ import annotations

from collections.abc import Callable

from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
from ipabs.scenario.model import Scenario


def _pd(p: float | None, factor: float) -> float | None:
    return None if p is None else min(p * factor, 1.0)


def default_multiplier(sc: Scenario, x: float) -> Scenario:
    f = 1.0 + x
    licensees = tuple(
        lic.model_copy(
            update={"annual_default_probability": _pd(lic.annual_default_probability, f)}
        )
        for lic in sc.licensees
    )
    loans = tuple(
        loan.model_copy(
            update={
                "annual_default_probability": _pd(loan.annual_default_probability, f),
                "default_probability_curve": None
                if loan.default_probability_curve is None
                else tuple(min(p * f, 1.0) for p in loan.default_probability_curve),
            }
        )
        for loan in sc.loans
    )
    update = {"licensees": licensees, "loans": loans}
    for table in ("leases", "receivables"):  # lessees and debtors (docs/model.md 3.9-3.10)
        update[table] = tuple(
            x.model_copy(
                update={"annual_default_probability": _pd(x.annual_default_probability, f)}
            )
            for x in getattr(sc, table)
        )
    if sc.roll_rates is not None:  # loans in a category: their cumulative PD times f (3.8)
        update["roll_rates"] = sc.roll_rates.model_copy(
            update={"default_multiplier": sc.roll_rates.default_multiplier * f}
        )
    if sc.revolving is not None:
        update["revolving"] = sc.revolving.model_copy(
            update={"annual_default_probability": _pd(sc.revolving.annual_default_probability, f)}
        )
    return sc.model_copy(update=update)


def income_haircut(sc: Scenario, x: float) -> Scenario:
    keep = max(1.0 - x, 0.0)
    assets = tuple(
        a.model_copy(update={"base_annual_income": a.base_annual_income * keep}) for a in sc.assets
    )
    return sc.model_copy(update={"assets": assets})


def decay_increase(sc: Scenario, x: float) -> Scenario:
    assets = []
    for a in sc.assets:
        if a.growth_curve is not None:
            update = {"growth_curve": tuple(g - x for g in a.growth_curve)}
        else:
            base = IP_TYPE_DEFAULTS[a.type].growth_rate if a.growth_rate is None else a.growth_rate
            update = {"growth_rate": base - x}
        assets.append(a.model_copy(update=update))
    return sc.model_copy(update={"assets": tuple(assets)})


def recovery_cut(sc: Scenario, x: float) -> Scenario:
    keep = max(1.0 - x, 0.0)
    licensees = tuple(
        lic.model_copy(update={"recovery_rate": lic.recovery_rate * keep}) for lic in sc.licensees
    )
    loans = tuple(
        loan.model_copy(update={"disposal_haircut": 1.0 - (1.0 - loan.disposal_haircut) * keep})
        for loan in sc.loans
    )
    assets = tuple(
        a.model_copy(update={"relicensing_share": a.relicensing_share * keep}) for a in sc.assets
    )
    update = {"licensees": licensees, "loans": loans, "assets": assets}
    update["leases"] = tuple(  # the leased IP's repossession and re-leasing or sale
        lease.model_copy(update={"disposal_haircut": 1.0 - (1.0 - lease.disposal_haircut) * keep})
        for lease in sc.leases
    )
    update["receivables"] = tuple(
        r.model_copy(update={"recovery_rate": r.recovery_rate * keep}) for r in sc.receivables
    )
    # the auction's prices, IP taken in kind and a holding institution's price or income share,
    # where some loan is disposed of that way (leases and receivables keep their own rule, 3.9):
    # a deal whose loans all use the haircut rule keeps its [disposal] table as it is
    d = sc.disposal
    methods = {loan.disposal_method or d.method for loan in sc.loans}
    auctioned = "auction" in methods
    bought = "buyout_operate" in methods or (auctioned and d.auction.fallback == "buyout")
    if auctioned or bought:
        a = d.auction  # its in-kind haircut also applies when a buyer does not buy
        auction = a.model_copy(
            update={
                "start_price": a.start_price * keep if auctioned else a.start_price,
                "take_in_kind_haircut": 1.0 - (1.0 - a.take_in_kind_haircut) * keep,
            }
        )
        buyer = d.buyer
        if buyer is not None and bought:
            buyer = buyer.model_copy(
                update={
                    "price_share": buyer.price_share * keep,
                    "income_share": buyer.income_share * keep,
                }
            )
        update["disposal"] = d.model_copy(update={"auction": auction, "buyer": buyer})
    if sc.revolving is not None:
        h = sc.revolving.disposal_haircut
        update["revolving"] = sc.revolving.model_copy(
            update={"disposal_haircut": 1.0 - (1.0 - h) * keep}
        )
    rv = sc.revolving
    if rv is not None and rv.buys == "licence_receivables":  # no pledge: the recovery on the
        # unpaid instalments is cut instead (and the haircut left alone)
        cut = {} if rv.recovery_rate is None else {"recovery_rate": rv.recovery_rate * keep}
        update["revolving"] = rv.model_copy(update=cut)
    return sc.model_copy(update=update)


#: name -> (apply(scenario, level), the largest level searched)
STRESS_FUNCTIONS: dict[str, tuple[Callable[[Scenario, float], Scenario], float]] = {
    "default_multiplier": (default_multiplier, 99.0),
    "income_haircut": (income_haircut, 1.0),
    "decay_increase": (decay_increase, 1.0),
    "recovery_cut": (recovery_cut, 1.0),
}

#: what a breakeven level of each stress means, for the outputs (docs/model.md, 6)
STRESS_UNITS: dict[str, str] = {
    "default_multiplier": "x: every default probability times (1 + x), capped at 1",
    "income_haircut": "x: share of every asset's base income removed (0-1)",
    "decay_increase": "x: subtracted from every growth rate, per year (0.05 = 5 points)",
    "recovery_cut": "x: share of every recovery removed (0-1)",
}
