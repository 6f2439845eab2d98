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
