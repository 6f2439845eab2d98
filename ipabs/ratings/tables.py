"""Rating tables: cumulative expected loss or probability of loss, by rating and tenor.

The built-in table is Moody's average cumulative issuer-weighted global default rates of
corporate issuers, 1920-2009, by letter rating at 1, 5 and 10 years (Moody's Investors Service,
"Corporate Default and Recovery Rates, 1920-2009", Special Comment, February 2010), as quoted in
Falkenblog, "What's the Difference between AAA and AA+?" (August 2011). It is a table of default
probabilities, so it rates a tranche by its probability of loss. It is not Moody's idealised
expected-loss table; a user who has an agency's idealised table gives it in [ratings]
(docs/scenario-format.md) with metric = "expected_loss".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Metric = Literal["expected_loss", "loss_probability"]


@dataclass(frozen=True)
class RatingTable:
    """`values[i, j]`: the most a tranche rated `ratings[i]` may have of `metric` over a tenor
    of `tenors[j]` years (fractions). Ratings run from the best down."""

    ratings: tuple[str, ...]
    tenors: np.ndarray
    values: np.ndarray
    metric: Metric
    source: str
    #: "global": the built-in table, a global-scale corporate default-rate equivalent (not a
    #: Chinese domestic sf scale); else a table the scenario gives, inline or in a table file:
    #: its name ([ratings] name, or the file's), "scenario" when it has none
    scale: str = "scenario"

    def tenor(self, wal_years: float, term_years: float) -> float:
        """The horizon the table is read at: a probability table (cumulative default rates) at
        the class's final maturity, the deal's term; an expected-loss table (Moody's idealised
        style) at the class's WAL, the term where no principal is ever paid."""
        if self.metric == "loss_probability" or not math.isfinite(wal_years):
            return term_years
        return wal_years

    def thresholds(self, tenor: float) -> np.ndarray:
        """Each rating's limit at `tenor` years: linear in tenor between the table's columns,
        from 0 at tenor 0 (a cumulative rate), flat beyond the last column."""
        t = np.concatenate([[0.0], self.tenors])
        out = np.empty(len(self.ratings))
        for i, row in enumerate(self.values):
            out[i] = np.interp(tenor, t, np.concatenate([[0.0], row]))
        return out


BUILT_IN = RatingTable(
    ratings=("Aaa", "Aa", "A", "Baa", "Ba", "B", "Caa-C"),
    tenors=np.array([1.0, 5.0, 10.0]),
    values=np.array(
        [
            [0.00, 0.16, 0.85],
            [0.07, 0.72, 2.22],
            [0.09, 1.26, 3.30],
            [0.29, 3.14, 7.21],
            [1.36, 9.90, 19.22],
            [4.03, 22.42, 36.37],
            [14.28, 41.18, 52.80],
        ]
    )
    / 100.0,
    metric="loss_probability",
    source=(
        "Moody's average cumulative issuer-weighted global default rates 1920-2009 (Corporate "
        "Default and Recovery Rates, 1920-2009, February 2010), as quoted by Falkenblog, August 2011"
    ),
    scale="global",
)

#: Moody's alphanumeric and letter ratings -> the Chinese market's structured-finance labels
CHINA_LABELS = {
    "Aaa": "AAAsf",
    "Aa1": "AA+sf",
    "Aa2": "AAsf",
    "Aa3": "AA-sf",
    "Aa": "AAsf",
    "A1": "A+sf",
    "A2": "Asf",
    "A3": "A-sf",
    "A": "Asf",
    "Baa1": "BBB+sf",
    "Baa2": "BBBsf",
    "Baa3": "BBB-sf",
    "Baa": "BBBsf",
    "Ba1": "BB+sf",
    "Ba2": "BBsf",
    "Ba3": "BB-sf",
    "Ba": "BBsf",
    "B1": "B+sf",
    "B2": "Bsf",
    "B3": "B-sf",
    "B": "Bsf",
    "Caa1": "CCC+sf",
    "Caa2": "CCCsf",
    "Caa3": "CCC-sf",
    "Caa": "CCCsf",
    "Caa-C": "CCCsf",
    "Ca": "CCsf",
    "C": "Csf",
}


def label(rating: str, labels: str) -> str:
    """The rating as shown: as in the table, or the Chinese structured-finance label (an
    unknown name is shown as given)."""
    return CHINA_LABELS.get(rating, rating) if labels == "china" else rating


def table_for(ratings) -> RatingTable:
    """The scenario's [ratings] table (given inline or read from its table file), or the
    built-in one. Its scale is the table's name ("scenario" when it gives none)."""
    if ratings.table is None:
        return BUILT_IN
    return RatingTable(
        ratings=tuple(row.rating for row in ratings.table),
        tenors=np.array(ratings.tenors, dtype=float),
        values=np.array([row.values for row in ratings.table], dtype=float),
        metric=ratings.metric,
        source=ratings.source or "the scenario's [ratings] table",
        scale=ratings.name or "scenario",
    )


def table_source(ratings) -> str:
    """Where the scenario's rating table comes from, for outputs."""
    return table_for(ratings).source
