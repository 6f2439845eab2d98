"""The pool as a credit committee sees it: stratification tables read from the scenario's inputs
(no simulation).

A licence pool is measured by its licence income at closing (`base_annual_income`, per year), a
loan pool by its loan balances (`balance`, times `participation`: the pool's share of a co-lent
loan); the two are never added together, so a combined pool
has both sets of tables. Each table's `share` is its row's part of that pool's total (0.25 is
25%); rows come largest first, except the rate and loan-to-value bands, which run in order. The
tables have no total row: the report adds it.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pandas as pd

from ipabs.pool.lpr import loan_start, lpr_path, rate_in_force
from ipabs.pool.valuation import loan_to_value, value_assets
from ipabs.report.contract_words import contract_obligors, contract_strata
from ipabs.scenario.model import Loan, Scenario

#: loan-to-value bands (lower bounds); the last runs to infinity
LTV_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: width of the interest-rate bands, in rate units (0.01: one percentage point)
RATE_BAND_WIDTH = 0.01
#: the IP type shown for a loan whose pledge is a given valuation, with no pledged asset named
UNSPECIFIED = "unspecified"


def strata(sc: Scenario) -> dict[str, pd.DataFrame]:
    """The pool's stratification tables, by name, for the pools the deal has:

    - licence income: income_by_ip_type (ip_type, assets, base_annual_income, share),
      income_by_licensee (obligor, assets, base_annual_income, share) and income_by_factor
      (factor, obligors, base_annual_income, share: each licensee's income under the factor its
      default loads on);
    - loans: loans_by_ip_type (ip_type, assets, balance, share: a loan's balance split over its
      pledged rights by their income-method value at closing), loans_by_borrower (obligor,
      pledged_assets, balance, share), loans_by_factor (factor, obligors, balance, share),
      loans_by_rate (rate_from, rate_to, loans, balance, share: the rate at closing, the LPR
      of the loan's tenor in force then under its repricing rule plus the spread for a floating
      loan) and loans_by_ltv (ltv_from, ltv_to, loans,
      balance, share: balance over the pledge's value at closing, ipabs.pool.valuation)."""
    tables: dict[str, pd.DataFrame] = {}
    if any(a.licensee for a in sc.assets):
        tables["income_by_ip_type"] = _income_by_ip_type(sc)
        tables["income_by_licensee"] = _income_by_licensee(sc)
        tables["income_by_factor"] = _income_by_factor(sc)
    if sc.loans:
        tables["loans_by_ip_type"] = _loans_by_ip_type(sc)
        tables["loans_by_borrower"] = _loans_by_borrower(sc)
        tables["loans_by_factor"] = _loans_by_factor(sc)
        tables["loans_by_rate"] = _loans_by_rate(sc)
        tables["loans_by_ltv"] = _loans_by_ltv(sc)
    tables.update(contract_strata(sc))  # leases and receivables (ipabs.report.contract_words)
    return tables


def top_obligors(sc: Scenario, n: int = 10) -> pd.DataFrame:
    """The n largest obligors by their share of their pool: obligor, base_annual_income (a
    licensee's licence income) and/or balance (a borrower's loan), share, annual_default_probability
    (a loan with a curve: its first year's), factor. A combined pool ranks licensees and borrowers
    together by share, each with NaN in the other pool's amount column."""
    if n < 1:
        raise ValueError(f"n is the number of obligors to show, at least 1, not {n}")
    frames = []
    factor_of = _factor_namer(sc)
    if any(a.licensee for a in sc.assets):
        income = _income_by_licensee(sc)
        lic = {x.id: x for x in sc.licensees}
        income["annual_default_probability"] = [
            lic[o].annual_default_probability for o in income["obligor"]
        ]
        income["factor"] = [factor_of(lic[o].factor) for o in income["obligor"]]
        frames.append(income.drop(columns="assets"))
    if sc.loans:
        loans = _loans_by_borrower(sc)
        by_id = {x.id: x for x in sc.loans}
        loans["annual_default_probability"] = [
            _first_year_pd(by_id[o], sc) for o in loans["obligor"]
        ]
        loans["factor"] = [factor_of(by_id[o].factor) for o in loans["obligor"]]
        frames.append(loans.drop(columns="pledged_assets"))
    frames += contract_obligors(sc, factor_of)
    top = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    amounts = [c for c in ("base_annual_income", "balance") if c in top.columns]
    columns = ["obligor", *amounts, "share", "annual_default_probability", "factor"]
    top = top.sort_values(["share", "obligor"], ascending=[False, True], kind="stable")
    return top[columns].head(n).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# licence income


def _income_by_ip_type(sc: Scenario) -> pd.DataFrame:
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for a in sc.assets:
        if a.licensee:
            rows[a.type.value][0] += 1
            rows[a.type.value][1] += a.base_annual_income
    return _table(rows, "ip_type", ("assets", "base_annual_income"))


def _income_by_licensee(sc: Scenario) -> pd.DataFrame:
    rows: dict[str, list[float]] = {x.id: [0, 0.0] for x in sc.licensees}
    for a in sc.assets:
        if a.licensee:
            rows[a.licensee][0] += 1
            rows[a.licensee][1] += a.base_annual_income
    return _table(rows, "obligor", ("assets", "base_annual_income"))


def _income_by_factor(sc: Scenario) -> pd.DataFrame:
    income = _income_by_licensee(sc)
    factor_of = _factor_namer(sc)
    lic = {x.id: x for x in sc.licensees}
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for obligor, amount in zip(income["obligor"], income["base_annual_income"], strict=True):
        f = factor_of(lic[obligor].factor)
        rows[f][0] += 1
        rows[f][1] += amount
    return _table(rows, "factor", ("obligors", "base_annual_income"))


# ---------------------------------------------------------------------------------------------
# loans


def _loans_by_ip_type(sc: Scenario) -> pd.DataFrame:
    value = _pledged_values(sc)
    type_of = {a.id: a.type.value for a in sc.assets}
    balance: dict[str, float] = defaultdict(float)
    assets: dict[str, set[str]] = defaultdict(set)
    for loan in sc.loans:
        pledged = loan.pledged_assets
        if not pledged:
            balance[UNSPECIFIED] += loan.balance * loan.participation
            continue
        total = sum(value[a] for a in pledged)
        for a in pledged:
            weight = value[a] / total if total > 0 else 1.0 / len(pledged)
            balance[type_of[a]] += loan.balance * loan.participation * weight
            assets[type_of[a]].add(a)
    rows = {t: [len(assets.get(t, ())), balance[t]] for t in balance}
    return _table(rows, "ip_type", ("assets", "balance"))


def _loans_by_borrower(sc: Scenario) -> pd.DataFrame:
    rows = {x.id: [len(x.pledged_assets), x.balance * x.participation] for x in sc.loans}
    return _table(rows, "obligor", ("pledged_assets", "balance"))


def _loans_by_factor(sc: Scenario) -> pd.DataFrame:
    factor_of = _factor_namer(sc)
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for loan in sc.loans:
        f = factor_of(loan.factor)
        rows[f][0] += 1
        rows[f][1] += loan.balance * loan.participation
    return _table(rows, "factor", ("obligors", "balance"))


def _rate_at_closing(sc: Scenario, loan: Loan) -> float:
    if loan.rate_type == "fixed":
        return loan.rate
    points = lpr_path(sc, loan.reference_tenor)
    return rate_in_force(points, loan.repricing, loan_start(sc, loan), sc.deal.closing_date) + (
        loan.spread
    )


def _loans_by_rate(sc: Scenario) -> pd.DataFrame:
    bands: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
    for loan in sc.loans:
        # rounded first, so that 0.055 + 0.005 lands in the band of 0.06, as written
        band = math.floor(round(_rate_at_closing(sc, loan) / RATE_BAND_WIDTH, 9))
        bands[band][0] += 1
        bands[band][1] += loan.balance * loan.participation
    total = sum(b[1] for b in bands.values())
    rows = [
        {
            "rate_from": round(k * RATE_BAND_WIDTH, 10),
            "rate_to": round((k + 1) * RATE_BAND_WIDTH, 10),
            "loans": count,
            "balance": amount,
            "share": amount / total,
        }
        for k, (count, amount) in sorted(bands.items())
    ]
    return pd.DataFrame(rows).astype({"loans": "int64"})


def _loans_by_ltv(sc: Scenario) -> pd.DataFrame:
    ltv = loan_to_value(sc, value_assets(sc))
    edges = (*LTV_BANDS, math.inf)
    total = float(ltv["balance"].sum())
    rows = []
    for lo, hi in itertools.pairwise(edges):
        inside = ltv[(ltv["ltv"] >= lo) & (ltv["ltv"] < hi)]
        if len(inside):
            amount = float(inside["balance"].sum())
            rows.append(
                {
                    "ltv_from": lo,
                    "ltv_to": hi,
                    "loans": len(inside),
                    "balance": amount,
                    "share": amount / total,
                }
            )
    return pd.DataFrame(rows).astype({"loans": "int64"})


# ---------------------------------------------------------------------------------------------


def _pledged_values(sc: Scenario) -> dict[str, float]:
    """Each pledged asset's income-method value at closing (what splits a combined pledge)."""
    pledged = {a for loan in sc.loans for a in loan.pledged_assets}
    if not pledged:
        return {}
    values = value_assets(sc)
    # a right worth less than its annuity fees adds nothing to the pledge
    return {
        a: max(v, 0.0)
        for a, v in zip(values["asset"], values["value"], strict=True)
        if a in pledged
    }


def _factor_namer(sc: Scenario):
    """A name's factor as the engine reads it: the first factor when none is given."""
    first = sc.factors.names[0]
    return lambda factor: factor or first


def _first_year_pd(loan: Loan, sc: Scenario) -> float:
    """The annual PD, a curve's first year, or a loan in a category's absorption by one year
    through the roll rates (docs/model.md 3.8)."""
    from ipabs.pool.seasoning import absorption_probability, risk_state

    if loan.annual_default_probability is not None:
        return loan.annual_default_probability
    if loan.default_probability_curve is not None:
        return loan.default_probability_curve[0]
    return float(absorption_probability(sc.roll_rates, risk_state(loan), np.array([1.0]))[0])


def _table(rows: dict[str, list[float]], key: str, columns: tuple[str, str]) -> pd.DataFrame:
    """Rows (key -> [count, amount]) as a frame with the amount's share, largest first (then by
    key, so that ties keep one order)."""
    count, amount = columns
    frame = pd.DataFrame(
        [{key: k, count: int(c), amount: float(a)} for k, (c, a) in rows.items()],
        columns=[key, count, amount],
    ).astype({count: "int64", amount: "float64"})
    total = float(frame[amount].sum())
    frame["share"] = frame[amount] / total if total > 0 else math.nan
    frame = frame.sort_values([amount, key], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)
