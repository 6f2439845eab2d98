"""Payment dates, collection periods and day counts: the time grid every kernel runs on
(docs/model.md, section 1)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from ipabs import holidays
from ipabs.scenario.model import (
    AccrualDates,
    BusinessDayConvention,
    CollectionLagBasis,
    DayCount,
    Deal,
    HolidayCalendar,
)


def add_months(start: dt.date, months: int) -> dt.date:
    """Same day of month `months` later, clipped to the month's last day (no business-day roll)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def is_business_day(day: dt.date, deal: Deal) -> bool:
    """The deal's calendar (`deal.calendar`: Monday to Friday, or a China market's), less the
    deal's holidays, plus its working days."""
    if day in deal.working_weekends:
        return True
    return day not in deal.holidays and holidays.market_open(day, deal.calendar)


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


def payment_schedule(deal: Deal) -> list[tuple[dt.date, dt.date]]:
    """(scheduled, paid) for each payment: dates every 1, 3, 6 or 12 months from closing,
    strictly before legal final, then legal final, each paid on its date rolled by the
    business-day convention. A scheduled date whose payment rolls onto (or before) the previous
    payment is dropped: its period merges into the next. Legal final always ends the grid."""
    schedule: list[tuple[dt.date, dt.date]] = []
    for scheduled in _unadjusted_dates(deal):
        paid = adjust(scheduled, deal)
        if paid <= (schedule[-1][1] if schedule else deal.closing_date):
            continue  # rolled onto (or before) the previous date: the two periods merge
        schedule.append((scheduled, paid))
    final = (deal.legal_final_date, adjust(deal.legal_final_date, deal))
    if schedule[-1] != final:  # the last payment merged into the one before: that one is final
        schedule[-1] = final
    return schedule


def payment_dates(deal: Deal) -> list[dt.date]:
    """The payment dates as paid (see `payment_schedule`)."""
    return [paid for _, paid in payment_schedule(deal)]


def _unadjusted_dates(deal: Deal) -> list[dt.date]:
    step = 12 // deal.payment_frequency.per_year
    dates: list[dt.date] = []
    n = 1
    while (d := add_months(deal.closing_date, n * step)) < deal.legal_final_date:
        dates.append(d)
        n += 1
    dates.append(deal.legal_final_date)
    return dates


def collection_end(paid: dt.date, deal: Deal) -> dt.date:
    """The end of the collection period paid on `paid`: `deal.collection_lag_days` calendar
    days before it, or that many business days of the deal's calendar."""
    lag = deal.collection_lag_days
    if deal.collection_lag_basis == CollectionLagBasis.calendar_days:
        return paid - dt.timedelta(days=lag)
    day = paid
    for _ in range(lag):
        while not is_business_day(day := day - dt.timedelta(days=1), deal):
            pass
    return day


def _year_length(year: int) -> float:
    return 366.0 if calendar.isleap(year) else 365.0


def _leap_days(start: dt.date, end: dt.date) -> int:
    """29 Februaries in (start, end]."""
    return sum(
        1
        for y in range(start.year, end.year + 1)
        if calendar.isleap(y) and start < dt.date(y, 2, 29) <= end
    )


def year_fraction(start: dt.date, end: dt.date, day_count: DayCount) -> float:
    """Accrual fraction between two dates (ISDA 2006, 4.16).

    ACT/365F and ACT/360 divide actual days; 30/360 is the bond basis (4.16(f)); NL/365 divides
    actual days less the 29 Februaries in (start, end] by 365; ACT/ACT is the ISDA rule (4.16(b)):
    the days in each calendar year over that year's length (365 or 366).
    """
    if day_count == DayCount.act_365f:
        return (end - start).days / 365.0
    if day_count == DayCount.act_360:
        return (end - start).days / 360.0
    if day_count == DayCount.nl_365:
        return ((end - start).days - _leap_days(start, end)) / 365.0
    if day_count == DayCount.act_act:
        return _act_act_isda(start, end)
    d1 = min(start.day, 30)
    d2 = min(end.day, 30) if d1 == 30 else end.day
    return (360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)) / 360.0


def _act_act_isda(start: dt.date, end: dt.date) -> float:
    if start == end:
        return 0.0
    if start > end:
        return -_act_act_isda(end, start)
    if start.year == end.year:
        return (end - start).days / _year_length(start.year)
    first = (dt.date(start.year + 1, 1, 1) - start).days / _year_length(start.year)
    last = (end - dt.date(end.year, 1, 1)).days / _year_length(end.year)
    return first + (end.year - start.year - 1) + last


def _years(starts, ends) -> np.ndarray:
    """ACT/365F years between pairs of dates."""
    return np.array([(e - s).days / 365.0 for s, e in zip(starts, ends, strict=True)])


def _fractions(starts, ends, day_count: DayCount) -> np.ndarray:
    return np.array([year_fraction(s, e, day_count) for s, e in zip(starts, ends, strict=True)])


@dataclass(frozen=True, eq=False)
class TimeGrid:
    """The deal's two time axes, K periods each (docs/model.md, section 1).

    The notes run on the payment dates: `t_years` from closing and `dt_years` (ACT/365F) for
    discounting, WAL and IRR; `accrual` for coupons and fees, between `accrual_starts` and
    `accrual_ends` (the payment dates, or the scheduled dates under accrual_dates =
    "unadjusted"). The pool runs on the collection periods [`collection_starts[k]`,
    `collection_ends[k]`], the first from the cut-off date; what is collected in period k is paid
    out on payment date k: `pool_t_years` (period ends from the cut-off) and `pool_dt_years`
    (ACT/365F) for income, hazards and loan schedules. Without a cut-off date and a collection
    lag the two axes are the same dates and the same numbers."""

    closing: dt.date
    cut_off: dt.date
    dates: tuple[dt.date, ...]
    t_years: np.ndarray
    dt_years: np.ndarray
    accrual: np.ndarray
    accrual_starts: tuple[dt.date, ...]
    accrual_ends: tuple[dt.date, ...]
    collection_starts: tuple[dt.date, ...]
    collection_ends: tuple[dt.date, ...]
    pool_t_years: np.ndarray
    pool_dt_years: np.ndarray
    day_count: DayCount

    @property
    def n_periods(self) -> int:
        return len(self.dates)

    def accrual_for(self, day_count: DayCount) -> np.ndarray:
        """(K,) accrual fractions of the payment periods (as `accrual`) in any day count."""
        if day_count == self.day_count:
            return self.accrual.copy()
        return _fractions(self.accrual_starts, self.accrual_ends, day_count)

    def pool_accrual_for(self, day_count: DayCount) -> np.ndarray:
        """(K,) accrual fractions of the collection periods in a day count (a loan's interest)."""
        return _fractions(self.collection_starts, self.collection_ends, day_count)


def time_grid(deal: Deal) -> TimeGrid:
    """The payment and collection grids of a deal (see `TimeGrid`)."""
    schedule = payment_schedule(deal)
    dates = tuple(paid for _, paid in schedule)
    starts = (deal.closing_date, *dates[:-1])
    if deal.accrual_dates == AccrualDates.unadjusted:
        accrual_ends = tuple(scheduled for scheduled, _ in schedule)
    else:
        accrual_ends = dates
    accrual_starts = (deal.closing_date, *accrual_ends[:-1])
    cut_off = deal.pool_start
    collection_ends = tuple(collection_end(d, deal) for d in dates)
    collection_starts = (cut_off, *collection_ends[:-1])
    return TimeGrid(
        closing=deal.closing_date,
        cut_off=cut_off,
        dates=dates,
        t_years=np.array([(d - deal.closing_date).days / 365.0 for d in dates]),
        dt_years=_years(starts, dates),
        accrual=_fractions(accrual_starts, accrual_ends, deal.day_count),
        accrual_starts=accrual_starts,
        accrual_ends=accrual_ends,
        collection_starts=collection_starts,
        collection_ends=collection_ends,
        pool_t_years=np.array([(d - cut_off).days / 365.0 for d in collection_ends]),
        pool_dt_years=_years(collection_starts, collection_ends),
        day_count=deal.day_count,
    )


def coverage_note(deal: Deal) -> str | None:
    """A note when a China calendar meets years whose holidays it does not know (the deal's
    dates from closing, or the cut-off, to a week past legal final); None otherwise."""
    if deal.calendar == HolidayCalendar.none:
        return None
    years = holidays.uncovered_years(
        min(deal.pool_start, deal.closing_date), deal.legal_final_date + dt.timedelta(days=7)
    )
    if not years:
        return None
    first, last = holidays.COVERED_YEARS
    span = f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}"
    return (
        f"deal.calendar {deal.calendar.value} knows the State Council's holidays for {first}-{last} "
        f"only: in {span} business days are Monday to Friday, less deal.holidays and plus "
        "deal.working_weekends (list that year's public holidays and make-up working days there)"
    )
