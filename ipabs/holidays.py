"""Business days of China's bond markets, from the State Council's holiday notices.

The public holidays and make-up working days (调休) of each year are those of the State Council
General Office's notices (国务院办公厅关于...部分节假日安排的通知), as the `chinesecalendar`
package records them (years `COVERED_YEARS`). On top of them:

- the exchanges (SSE/SZSE) trade Monday to Friday only, so a make-up weekend day stays closed,
  and they close on a few weekdays of their own (`EXCHANGE_CLOSURES`);
- the interbank market (CFETS) follows the working days, make-up weekend days included;
  `INTERBANK_WORKING_DAYS` adds a make-up day the package misses.

Outside the covered years no holiday is known: business days are Monday to Friday there, and a
deal lists that year's holidays and make-up days itself (`deal.holidays`,
`deal.working_weekends`). docs/model.md, section 1, gives the sources and the cross-check
against QuantLib's China calendars.
"""

from __future__ import annotations

import datetime as dt

from chinese_calendar import constants as _notices

from ipabs.scenario.model import HolidayCalendar

#: the years the State Council's notices are known for (those of the chinesecalendar package)
COVERED_YEARS = (
    min(d.year for d in _notices.holidays),
    max(d.year for d in _notices.holidays),
)
_PUBLIC_HOLIDAYS = frozenset(_notices.holidays)  # rest days of each holiday, weekends included
#: weekdays the exchanges closed although they were working days: the Spring Festival closures
#: of 2004-2006 (a few weekdays before the holiday began: QuantLib's SSE table; a press report of
#: the exchanges' 2007 schedule counts 7 trading days closed for Spring Festival 2006) and New
#: Year's Eve 2024 (SSE notice of 26 December 2023: closed 9-17 February 2024)
EXCHANGE_CLOSURES = frozenset(
    {
        dt.date(2004, 1, 19),
        dt.date(2004, 1, 20),
        dt.date(2004, 1, 21),
        dt.date(2005, 2, 7),
        dt.date(2005, 2, 8),
        dt.date(2006, 1, 26),
        dt.date(2006, 1, 27),
        dt.date(2024, 2, 9),
    }
)
#: make-up working days the package misses: Saturday 31 December 2005 (国办发明电〔2005〕35号,
#: the 2006 notice: "12月31日(星期六)上班")
INTERBANK_WORKING_DAYS = frozenset({dt.date(2005, 12, 31)})
_WORKING_DAYS = frozenset(_notices.workdays) | INTERBANK_WORKING_DAYS


def covered(day: dt.date) -> bool:
    """Whether the State Council's notice for the day's year is known."""
    return COVERED_YEARS[0] <= day.year <= COVERED_YEARS[1]


def market_open(day: dt.date, calendar: HolidayCalendar) -> bool:
    """Whether the market is open on `day`, before the deal's own holidays and working days;
    Monday to Friday outside the covered years and for calendar none."""
    if calendar == HolidayCalendar.none or not covered(day):
        return day.weekday() < 5
    if calendar == HolidayCalendar.china_interbank and day in _WORKING_DAYS:
        return True
    if day.weekday() >= 5 or day in _PUBLIC_HOLIDAYS:
        return False
    return calendar != HolidayCalendar.china_exchange or day not in EXCHANGE_CLOSURES


def uncovered_years(first: dt.date, last: dt.date) -> list[int]:
    """The years from `first` to `last` whose holidays the China calendars do not know."""
    return [
        y for y in range(first.year, last.year + 1) if not COVERED_YEARS[0] <= y <= COVERED_YEARS[1]
    ]
