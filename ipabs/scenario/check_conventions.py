"""Checks of the deal's market conventions a schema cannot express: the cut-off date and the
collection periods (docs/model.md, section 1)."""

from __future__ import annotations

from collections.abc import Iterator

from ipabs.errors import Problem
from ipabs.scenario.model import Deal


def pool_start_words(deal: Deal) -> str:
    """How messages name the pool's time zero: closing, or the cut-off date."""
    return "closing" if deal.cut_off_date is None else "the cut-off date"


def check_conventions(deal: Deal, max_years: int) -> Iterator[Problem]:
    """The cut-off date on or before closing and at most `max_years` before legal final; every
    collection period ending after it starts. Needs valid closing and legal final dates."""
    from ipabs.calendar import collection_end, payment_dates

    cut_off = deal.cut_off_date
    if cut_off is not None:
        if cut_off > deal.closing_date:
            yield Problem(
                "deal.cut_off_date",
                f"must be on or before deal.closing_date ({deal.closing_date}): the pool is cut "
                "off (封包日) before the notes are issued, and collections from the cut-off date "
                "on belong to the deal",
                value=cut_off.isoformat(),
                has_value=True,
            )
            return
        if (deal.legal_final_date - cut_off).days > max_years * 365.25:
            yield Problem(
                "deal.cut_off_date",
                f"must be at most {max_years} years before deal.legal_final_date "
                f"({deal.legal_final_date})",
                value=cut_off.isoformat(),
                has_value=True,
            )
            return
    if deal.collection_lag_days == 0:
        return
    start = deal.pool_start
    for k, paid in enumerate(payment_dates(deal)):
        end = collection_end(paid, deal)
        if end <= start:
            first = "the first" if k == 0 else f"collection period {k + 1}"
            yield Problem(
                "deal.collection_lag_days",
                f"{first} collection period would end on {end}, {deal.collection_lag_days} "
                f"{deal.collection_lag_basis.value.replace('_', ' ')} before its payment date "
                f"{paid}, not after it starts ({start}): the lag must be shorter than each "
                "period",
                value=deal.collection_lag_days,
                has_value=True,
            )
            return
        start = end
