"""Each tranche's implied rating: the best rating whose limit at the tranche's WAL is not below
the tranche's expected loss (or probability of loss)."""

from __future__ import annotations

import math

import pandas as pd

from ipabs.ratings.tables import BUILT_IN, RatingTable, label

BELOW = "below table"


def implied_ratings(
    summary: pd.DataFrame,
    table: RatingTable = BUILT_IN,
    *,
    labels: str = "moodys",
    term_years: float,
) -> pd.DataFrame:
    """One row per tranche: the metric used, the tenor (WAL; the deal's term where no principal
    is ever paid), the implied rating and the limit it met. `summary` is Results.summary."""
    column = "expected_loss" if table.metric == "expected_loss" else "prob_loss"
    rows = []
    for row in summary.itertuples():
        value = float(getattr(row, column))
        tenor = float(row.wal_years)
        if not math.isfinite(tenor):
            tenor = term_years
        limits = table.thresholds(tenor)
        rating, limit = BELOW, math.nan
        for name, cap in zip(table.ratings, limits, strict=True):
            if value <= cap:
                rating, limit = name, float(cap)
                break
        rows.append(
            {
                "tranche": row.tranche,
                "rating_metric": table.metric,
                "rating_metric_value": value,
                "rating_tenor_years": tenor,
                "implied_rating": label(rating, labels),
                "rating_limit": limit,
            }
        )
    return pd.DataFrame(rows)
