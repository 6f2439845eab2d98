"""Payment dates and day counts: the time grid every kernel runs on."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

from ipabs.scenario.model import DayCount, Deal


def add_months(start: dt.date, months: int) -> dt.date:
    """Same day of month `months` later, clipped to the month's last day (no business-day roll in v1)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def payment_dates(deal: Deal) -> list[dt.date]:
    """Regular dates every 1 or 3 months from closing, strictly before legal final, then legal final."""
    step = 12 // deal.payment_frequency.per_year
    dates: list[dt.date] = []
    n = 1
    while (d := add_months(deal.closing_date, n * step)) < deal.legal_final_date:
        dates.append(d)
        n += 1
    dates.append(deal.legal_final_date)
    return dates


def year_fraction(start: dt.date, end: dt.date, day_count: DayCount) -> float:
    """Accrual fraction between two dates.

    ACT/365F and ACT/360 divide actual days; 30/360 is the bond basis (ISDA 2006, 4.16(f)).
    """
    if day_count is DayCount.act_365f:
        return (end - start).days / 365.0
    if day_count is DayCount.act_360:
        return (end - start).days / 360.0
    d1 = min(start.day, 30)
    d2 = min(end.day, 30) if d1 == 30 else end.day
    return (360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)) / 360.0


def time_grid(deal: Deal) -> tuple[list[dt.date], np.ndarray, np.ndarray, np.ndarray]:
    """(dates, t_years, dt_years, accrual): times from closing and period lengths in ACT/365F years,
    and each period's accrual fraction in the deal's day count."""
    dates = payment_dates(deal)
    starts = [deal.closing_date, *dates[:-1]]
    t_years = np.array([(d - deal.closing_date).days / 365.0 for d in dates])
    dt_years = np.array([(e - s).days / 365.0 for s, e in zip(starts, dates, strict=True)])
    accrual = np.array(
        [year_fraction(s, e, deal.day_count) for s, e in zip(starts, dates, strict=True)]
    )
    return dates, t_years, dt_years, accrual
