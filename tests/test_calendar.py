"""Payment dates and day counts, against QuantLib's day counters."""

from __future__ import annotations

import datetime as dt

import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st

from ipabs.calendar import add_months, adjust, payment_dates, year_fraction
from ipabs.scenario.model import DayCount, Deal

QL_DAY_COUNTS = {
    DayCount.act_365f: ql.Actual365Fixed(),
    DayCount.act_360: ql.Actual360(),
    DayCount.thirty_360: ql.Thirty360(ql.Thirty360.BondBasis),
    DayCount.nl_365: ql.Actual365Fixed(ql.Actual365Fixed.NoLeap),
    DayCount.act_act: ql.ActualActual(ql.ActualActual.ISDA),
}


def _ql(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


@given(
    st.dates(dt.date(2000, 1, 1), dt.date(2060, 1, 1)),
    st.integers(1, 4000),
    st.sampled_from(list(DayCount)),
)
def test_year_fraction_matches_quantlib(start, days, day_count):
    end = start + dt.timedelta(days=days)
    expected = QL_DAY_COUNTS[day_count].yearFraction(_ql(start), _ql(end))
    assert abs(year_fraction(start, end, day_count) - expected) < 1e-12


def test_month_end_roll_and_stub_to_legal_final():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 31), 3) == dt.date(2024, 4, 30)
    deal = Deal(
        name="x",
        closing_date=dt.date(2024, 1, 31),
        legal_final_date=dt.date(2025, 2, 15),
        payment_frequency="quarterly",
    )
    assert payment_dates(deal) == [
        dt.date(2024, 4, 30),
        dt.date(2024, 7, 31),
        dt.date(2024, 10, 31),
        dt.date(2025, 1, 31),
        dt.date(2025, 2, 15),  # short last period to legal final
    ]
    monthly = Deal.model_validate(
        {
            **deal.model_dump(),
            "payment_frequency": "monthly",
            "legal_final_date": dt.date(2024, 4, 30),
        }
    )
    assert payment_dates(monthly) == [
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
    ]


CONVENTIONS = {
    "following": ql.Following,
    "modified_following": ql.ModifiedFollowing,
    "preceding": ql.Preceding,
    "unadjusted": ql.Unadjusted,
}


@given(
    st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
    st.sampled_from(sorted(CONVENTIONS)),
    st.lists(st.integers(-10, 10), max_size=6),
    st.lists(st.integers(-10, 10), max_size=2),
)
def test_business_day_roll_matches_quantlib(day, convention, holiday_offsets, weekend_offsets):
    """Weekends and a holiday list, with China-style make-up working weekends, against QuantLib's
    WeekendsOnly calendar with the same holidays added and removed."""
    holidays = sorted(
        {
            day + dt.timedelta(days=o)
            for o in holiday_offsets
            if (day + dt.timedelta(days=o)).weekday() < 5
        }
    )
    weekends = sorted(
        {
            day + dt.timedelta(days=o)
            for o in weekend_offsets
            if (day + dt.timedelta(days=o)).weekday() >= 5
        }
    )
    deal = Deal(name="x", closing_date=dt.date(2019, 1, 1), legal_final_date=dt.date(2031, 6, 30),
                business_day_convention=convention, holidays=holidays, working_weekends=weekends)  # fmt: skip
    cal = ql.WeekendsOnly()  # QuantLib's calendars share their holiday lists: undo in finally
    try:
        for h in holidays:
            cal.addHoliday(_ql(h))
        for w in weekends:
            cal.removeHoliday(_ql(w))
        expected = cal.adjust(_ql(day), CONVENTIONS[convention])
    finally:
        for h in holidays:
            cal.removeHoliday(_ql(h))
        for w in weekends:
            cal.addHoliday(_ql(w))
    got = adjust(day, deal)
    got = adjust(day, deal)
    assert (got.year, got.month, got.day) == (
        expected.year(),
        expected.month(),
        expected.dayOfMonth(),
    )


def test_rolled_schedule_accrues_between_adjusted_dates():
    deal = Deal(
        name="x",
        closing_date=dt.date(2024, 1, 31),
        legal_final_date=dt.date(2025, 1, 31),
        payment_frequency="quarterly",
        business_day_convention="modified_following",
        holidays=[dt.date(2024, 10, 1), dt.date(2024, 10, 2)],
    )
    # 30 Apr 2024 is a Tuesday; 31 Jul a Wednesday; 31 Oct a Thursday; 31 Aug 2024 would roll back
    assert payment_dates(deal) == [
        dt.date(2024, 4, 30),
        dt.date(2024, 7, 31),
        dt.date(2024, 10, 31),
        dt.date(2025, 1, 31),
    ]
    saturday = deal.model_copy(
        update={"legal_final_date": dt.date(2025, 5, 31)}
    )  # a Saturday: rolls back a day
    assert payment_dates(saturday)[-1] == dt.date(2025, 5, 30)


# -- China's market calendars against QuantLib's -----------------------------------------------

#: days on which QuantLib 1.44's China calendars and ours differ, with the reason (docs/model.md,
#: section 1): (day, QuantLib's SSE says open, QuantLib's IB says open)
QL_SSE_WRONG = {
    # QuantLib's `y <= 2008` rules put 2008's Qingming (4 April), Dragon Boat (9 June) and
    # Mid-Autumn (15 September) holidays on every earlier year; those festivals became public
    # holidays in 2008 (the State Council's amended holiday rules of December 2007)
    dt.date(2004, 6, 9), dt.date(2004, 9, 15), dt.date(2005, 4, 4), dt.date(2005, 6, 9),
    dt.date(2005, 9, 15), dt.date(2006, 4, 4), dt.date(2006, 6, 9), dt.date(2006, 9, 15),
    dt.date(2007, 4, 4),
}  # fmt: skip
QL_IB_MISSING_WORKING_DAYS = {
    # make-up working weekend days of the State Council's notices missing from QuantLib's IB
    # table: 2004 (its table starts in 2005), and 5 February and 8 October 2006 (国办发明电
    # 〔2005〕35号: "1月28日、2月5日上班", "9月30日、10月8日上班")
    dt.date(2004, 1, 17), dt.date(2004, 1, 18), dt.date(2004, 5, 8), dt.date(2004, 5, 9),
    dt.date(2004, 10, 9), dt.date(2004, 10, 10), dt.date(2006, 2, 5), dt.date(2006, 10, 8),
}  # fmt: skip


def _each_day(first: int, last: int):
    day = dt.date(first, 1, 1)
    while day.year <= last:
        yield day
        day += dt.timedelta(days=1)


def test_china_calendars_match_quantlib_but_for_documented_days():
    """Every day of the years both cover (2004-2026): exchange against ql.China(SSE), interbank
    against ql.China(IB). Where they differ the State Council's notices side with ours, except
    on the exchanges' Spring Festival closures of 2004-2006, where QuantLib's IB calendar (its
    SSE calendar plus working weekends) is shut and ours is open, as the interbank market
    follows the State Council's working days: no source at hand says whether it closed."""
    from ipabs.holidays import COVERED_YEARS, EXCHANGE_CLOSURES, market_open
    from ipabs.scenario.model import HolidayCalendar

    sse, ib = ql.China(ql.China.SSE), ql.China(ql.China.IB)
    assert COVERED_YEARS == (2004, 2026)
    sse_differ, ib_differ = set(), set()
    for day in _each_day(2004, 2026):
        if market_open(day, HolidayCalendar.china_exchange) != sse.isBusinessDay(_ql(day)):
            sse_differ.add(day)
        if market_open(day, HolidayCalendar.china_interbank) != ib.isBusinessDay(_ql(day)):
            ib_differ.add(day)
    assert sse_differ == QL_SSE_WRONG
    early_closures = {d for d in EXCHANGE_CLOSURES if d.year < 2007}
    assert ib_differ == QL_SSE_WRONG | QL_IB_MISSING_WORKING_DAYS | early_closures
    # the exchange-only closures are QuantLib's SSE data (and the SSE's 2024 notice); on New
    # Year's Eve 2024 QuantLib's interbank market is open, as ours
    assert all(not sse.isBusinessDay(_ql(d)) for d in EXCHANGE_CLOSURES)
    assert ib.isBusinessDay(_ql(dt.date(2024, 2, 9)))


def test_china_calendars_in_the_holiday_weeks():
    from ipabs.holidays import market_open
    from ipabs.scenario.model import HolidayCalendar

    exchange, interbank = HolidayCalendar.china_exchange, HolidayCalendar.china_interbank
    # Spring Festival 2025: 28 January - 4 February off, Sunday 26 January and Saturday
    # 8 February worked
    for day in (dt.date(2025, 1, 26), dt.date(2025, 2, 8)):
        assert market_open(day, interbank) and not market_open(day, exchange)
    for day in (dt.date(2025, 1, 28), dt.date(2025, 2, 4)):
        assert not market_open(day, interbank) and not market_open(day, exchange)
    # 31 December 2005, a make-up Saturday the chinesecalendar package misses
    assert market_open(dt.date(2005, 12, 31), interbank)
    # New Year's Eve 2024: a working day, but the exchanges closed
    assert market_open(dt.date(2024, 2, 9), interbank)
    assert not market_open(dt.date(2024, 2, 9), exchange)


def test_beyond_the_covered_years_a_deal_lists_its_own_holidays():
    """2027 is not covered: weekdays are business days until the deal lists the holidays."""
    deal = Deal(name="x", closing_date=dt.date(2026, 7, 1), legal_final_date=dt.date(2027, 10, 1),
                payment_frequency="quarterly", business_day_convention="following",
                calendar="china_interbank")  # fmt: skip
    assert payment_dates(deal)[-1] == dt.date(2027, 10, 1)  # a Friday, National Day
    listed = Deal.model_validate(
        {**deal.model_dump(), "holidays": [dt.date(2027, 10, d) for d in (1, 4, 5, 6, 7)]}
    )
    assert payment_dates(listed)[-1] == dt.date(2027, 10, 8)
    # the deal's lists apply on top of a covered year too: a holiday added, a day worked
    covered = Deal.model_validate(
        {**deal.model_dump(), "legal_final_date": dt.date(2026, 10, 9),
         "holidays": [dt.date(2026, 10, 9)], "working_weekends": [dt.date(2026, 10, 10)]}
    )  # fmt: skip
    assert payment_dates(covered)[-1] == dt.date(2026, 10, 10)
