"""Seasoned and delinquent loans at the pool's start (the transfer date): maturity from
origination, interest accrued since the last payment date, the five-category state and the
roll-rate chain that gives its cumulative default probability (docs/model.md, 3.8).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ipabs.calendar import add_months, year_fraction
from ipabs.scenario.delinquency import RISK_CLASSES, RollRates
from ipabs.scenario.model import Amortisation, Loan

#: days past due above which a loan is at least in a category (商业银行金融资产风险分类办法,
#: 2023: overdue at all -> special mention, over 90 days -> substandard, over 270 -> doubtful,
#: over 360 -> loss; from memory, docs/model.md 3.8)
DPD_FLOORS = ((360, "loss"), (270, "doubtful"), (90, "substandard"), (0, "special_mention"))

#: a maturity from origination is given in whole months when the term is (within this)
_WHOLE_MONTHS = 1e-9


def maturity_date(loan: Loan, pool_start: dt.date) -> dt.date:
    """origination_date + original_term_years (whole months by the calendar, else days), or
    pool_start + term_years (days, round(365 term))."""
    if loan.origination_date is not None and loan.original_term_years is not None:
        months = 12.0 * loan.original_term_years
        if abs(months - round(months)) < _WHOLE_MONTHS:
            return add_months(loan.origination_date, round(months))
        return loan.origination_date + dt.timedelta(days=round(loan.original_term_years * 365))
    return pool_start + dt.timedelta(days=round(loan.term_years * 365))


def last_payment_date(loan: Loan, pool_start: dt.date, per_year: int) -> dt.date:
    """The date interest was last paid on or before pool_start: given, or the last of
    origination_date + m (12 / per_year) months on or before it (a bullet loan pays no interest
    before maturity: origination_date); pool_start without an origination date."""
    if loan.last_payment_date is not None:
        return loan.last_payment_date
    if loan.origination_date is None:
        return pool_start
    if loan.amortisation == Amortisation.bullet:
        return loan.origination_date
    step, m = 12 // per_year, 0
    while add_months(loan.origination_date, step * (m + 1)) <= pool_start:
        m += 1
    return add_months(loan.origination_date, step * m)


def accrued_interest(
    loan: Loan, pool_start: dt.date, per_year: int, rate: float, day_count
) -> float:
    """Interest accrued from the last payment date to pool_start: B r alpha(L, T) in the loan's
    day count, at the rate of the first period (simple interest)."""
    last = last_payment_date(loan, pool_start, per_year)
    if last >= pool_start:
        return 0.0
    return loan.balance * rate * year_fraction(last, pool_start, day_count)


def risk_state(loan: Loan) -> int | None:
    """Index in RISK_CLASSES of the loan's state at the pool's start: the worse of risk_class
    and the category its days past due imply; None if neither is given."""
    states = []
    if loan.risk_class is not None:
        states.append(RISK_CLASSES.index(loan.risk_class))
    if loan.days_past_due is not None:
        implied = next((c for d, c in DPD_FLOORS if loan.days_past_due > d), "normal")
        states.append(RISK_CLASSES.index(implied))
    return max(states) if states else None


def transition_matrix(roll: RollRates) -> np.ndarray:
    """(5, 5) one-step matrix, loss absorbing."""
    m = np.zeros((5, 5))
    m[:4] = np.asarray(roll.rows(), float)
    m[4, 4] = 1.0
    return m


def absorption_probability(roll: RollRates, state: int, t_years: np.ndarray) -> np.ndarray:
    """P(t): probability that the chain started in `state` has reached loss by t (years): the
    last column of M^m at whole steps m = t 12 / period_months, linear between them; times the
    stress's default_multiplier, capped at 1."""
    t_years = np.asarray(t_years, float)
    if state == 4:
        return np.ones_like(t_years)
    steps = t_years * 12.0 / roll.period_months
    n = int(np.ceil(steps.max(initial=0.0))) + 1
    m = transition_matrix(roll)
    row = np.zeros(5)
    row[state] = 1.0
    absorbed = np.empty(n + 1)
    for i in range(n + 1):
        absorbed[i] = row[4]
        row = row @ m
    lo = np.floor(steps).astype(np.int64)
    w = steps - lo
    p = (1.0 - w) * absorbed[lo] + w * absorbed[np.minimum(lo + 1, n)]
    return np.minimum(p * roll.default_multiplier, 1.0)
