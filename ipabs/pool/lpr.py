"""The Loan Prime Rate a floating loan or class pays: which tenor, and when it resets.

Rules in docs/model.md, sections 3.8 (loans) and 4.1 (classes).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np

from ipabs.calendar import add_months
from ipabs.scenario.model import Loan, RatePoint, Repricing, Scenario


def lpr_path(sc: Scenario, tenor: str) -> tuple[RatePoint, ...]:
    return sc.rates.lpr_5y if tenor == "5y" else sc.rates.lpr_1y


def path_at(points: Sequence[RatePoint], dates: Sequence[dt.date]) -> np.ndarray:
    """The path's rate in force on each date (the first point also applies before it)."""
    points = sorted(points, key=lambda p: p.date)
    out = np.empty(len(dates))
    for k, d in enumerate(dates):
        applicable = [p.rate for p in points if p.date <= d]
        out[k] = applicable[-1] if applicable else points[0].rate
    return out


def fixing_date(repricing_date: dt.date) -> dt.date:
    """The day whose LPR applies from a repricing date: the last day of the month before it (the
    LPR is published on the 20th; the latest one published before the repricing date's month)."""
    return repricing_date.replace(day=1) - dt.timedelta(days=1)


def repricing_dates(repricing: Repricing, anchor: dt.date, until: dt.date) -> list[dt.date]:
    """The start `anchor` (the first fixing) and every repricing date after it up to `until`:
    its anniversaries, or each 1 January."""
    out = [anchor]
    n = 1
    while True:
        if repricing == Repricing.annual_anniversary:
            d = add_months(anchor, 12 * n)
        else:
            d = dt.date(anchor.year + n, 1, 1)
        if d > until:
            return out
        out.append(d)
        n += 1


def floating_rates(
    points: Sequence[RatePoint],
    repricing: Repricing,
    anchor: dt.date,
    starts: Sequence[dt.date],
    ends: Sequence[dt.date],
    spread: float,
    floor: float | None = None,
    cap: float | None = None,
) -> np.ndarray:
    """(K,) the rate of each period [starts[k], ends[k]): the LPR plus spread, within floor and
    cap. each_period: the path at the period's start. Otherwise the rate is fixed from each
    repricing date (the anchor first) at the path on fixing_date, and a period holding a
    repricing date pays the calendar-day-weighted average of the rates in force over it."""
    lo = -np.inf if floor is None else floor
    hi = np.inf if cap is None else cap
    if repricing == Repricing.each_period:
        return np.clip(path_at(points, starts) + spread, lo, hi)
    resets = repricing_dates(repricing, anchor, max(ends[-1], starts[-1]))
    fixed = np.clip(path_at(points, [fixing_date(d) for d in resets]) + spread, lo, hi)
    out = np.empty(len(starts))
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        # the fixing in force at the period's start (the anchor's before it), then each reset inside
        first = max(0, sum(d <= start for d in resets) - 1)
        inside = [i for i in range(first + 1, len(resets)) if resets[i] < end]
        rates = [fixed[i] for i in (first, *inside)]
        if len(set(rates)) == 1:
            out[k] = rates[0]
            continue
        bounds = [start, *(resets[i] for i in inside), end]
        days = np.array([(b - a).days for a, b in itertools.pairwise(bounds)])
        out[k] = float(np.dot(rates, days) / days.sum())
    return out


def loan_start(sc: Scenario, loan: Loan) -> dt.date:
    """The date whose anniversaries reprice a loan: its origination_date if given (a seasoned
    loan), else the pool's time zero (the cut-off date, else closing; docs/model.md 3.8)."""
    return loan.origination_date or sc.deal.pool_start


def loan_lpr(
    sc: Scenario,
    loan: Loan,
    starts: Sequence[dt.date],
    ends: Sequence[dt.date],
    cache: dict | None = None,
) -> np.ndarray:
    """(K,) the LPR (without spread) a floating loan pays in each collection period; loans of
    the same tenor, rule and start share one computation through `cache`."""
    key = (loan.reference_tenor, loan.repricing, loan_start(sc, loan))
    if cache is not None and key in cache:
        return cache[key]
    out = floating_rates(lpr_path(sc, key[0]), key[1], key[2], starts, ends, 0.0)
    if cache is not None:
        cache[key] = out
    return out


def rate_in_force(
    points: Sequence[RatePoint], repricing: Repricing, anchor: dt.date, day: dt.date
) -> float:
    """The LPR a loan or class pays on `day` (no spread)."""
    if repricing == Repricing.each_period:
        return float(path_at(points, [day])[0])
    resets = repricing_dates(repricing, anchor, day)
    return float(path_at(points, [fixing_date(resets[-1])])[0])
