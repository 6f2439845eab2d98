"""Payment dates and day counts, against QuantLib's day counters."""

from __future__ import annotations

import datetime as dt

import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st

from ipabs.calendar import add_months, payment_dates, year_fraction
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
