"""Payment dates and day counts: the time grid every kernel runs on."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

from ipabs.scenario.model import BusinessDayConvention, DayCount, Deal


def add_months(start: dt.date, months: int) -> dt.date:
    """Same day of month `months` later, clipped to the month's last day (no business-day roll in v1)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def is_business_day(day: dt.date, deal: Deal) -> bool:
    """Monday to Friday, less the deal's holidays, plus its working weekend days."""
    if day in deal.working_weekends:
        return True
    return day.weekday() < 5 and day not in deal.holidays


def adjust(day: dt.date, deal: Deal) -> dt.date:
    """Roll a date that is not a business day by the deal's convention (ISDA 2006, 4.12)."""
    convention = deal.business_day_convention
    if convention is BusinessDayConvention.unadjusted or is_business_day(day, deal):
        return day
    step = -1 if convention is BusinessDayConvention.preceding else 1
    rolled = day
    while not is_business_day(rolled := rolled + dt.timedelta(days=step), deal):
        pass
    if convention is BusinessDayConvention.modified_following and rolled.month != day.month:
        rolled = day
        while not is_business_day(rolled := rolled - dt.timedelta(days=1), deal):
            pass
    return rolled


def payment_dates(deal: Deal) -> list[dt.date]:
    """Dates every 1 or 3 months from closing, strictly before legal final, then legal final,
    each rolled by the business-day convention."""
    dates: list[dt.date] = []
    for day in map(lambda d: adjust(d, deal), _unadjusted_dates(deal)):
        if day <= (dates[-1] if dates else deal.closing_date):
            continue  # rolled onto (or before) the previous date: the two periods merge
        dates.append(day)
    if dates[-1] != adjust(deal.legal_final_date, deal):  # the legal final always ends the grid
        dates[-1] = adjust(deal.legal_final_date, deal)
    return dates


def _unadjusted_dates(deal: Deal) -> list[dt.date]:
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
