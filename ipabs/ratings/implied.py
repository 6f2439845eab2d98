"""Each tranche's implied rating, with the confidence the paths support (docs/model.md, 5.1).

The point rating is the best rating whose limit at the tranche's WAL is not below the estimate
of the metric (expected loss or probability of loss). The rating printed (`implied_rating`) is
the one its one-sided 95% upper confidence bound supports, so a class whose losses the run did
not see is never given a grade on no evidence:

- with at least MIN_LOSS_PATHS paths that lose, the bound is estimate + 1.645 standard errors
  (the central limit theorem; under importance sampling, of the weighted estimator);
- with fewer, in plain Monte Carlo, the exact Clopper-Pearson upper bound on the probability of
  loss from the count of paths that lose (it bounds the expected loss too: a class cannot lose
  more than its balance);
- with fewer under importance sampling, no bound is claimed: the rating is "not resolved".
"""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import beta

from ipabs.ratings.tables import BUILT_IN, RatingTable, label

BELOW = "below table"
NOT_RESOLVED = "not resolved"
CONFIDENCE = 0.95
Z_ONE_SIDED = 1.6448536269514722  # the standard normal's 95% quantile
MIN_LOSS_PATHS = 10  # below this count the normal bound is not trusted


def clopper_pearson_upper(events: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided upper bound on a probability from `events` in `n` trials (Clopper & Pearson,
    Biometrika 1934): 1 - (1 - confidence)^(1/n) when there are none."""
    if events >= n:
        return 1.0
    return float(beta.ppf(confidence, events + 1, n - events))


def clopper_pearson_lower(events: int, n: int, confidence: float = CONFIDENCE) -> float:
    if events <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, events, n - events + 1))


def _grade(value: float, table: RatingTable, limits) -> tuple[str, float]:
    if not math.isfinite(value):
        return NOT_RESOLVED, math.nan
    for name, cap in zip(table.ratings, limits, strict=True):
        if value <= cap:
            return name, float(cap)
    return BELOW, math.nan


def rating_bounds(
    value: float, se: float, loss_paths: int, paths: int, weighted: bool
) -> tuple[float, float]:
    """(lower, upper) one-sided 95% bounds on the metric (module doc)."""
    if loss_paths >= MIN_LOSS_PATHS and math.isfinite(se):
        return max(value - Z_ONE_SIDED * se, 0.0), value + Z_ONE_SIDED * se
    if weighted:
        return 0.0, math.inf
    return clopper_pearson_lower(loss_paths, paths), clopper_pearson_upper(loss_paths, paths)


def paths_to_resolve(
    value: float, se: float, loss_paths: int, paths: int, cap: float, weighted: bool
) -> float:
    """Roughly how many paths (of the same kind of run) the upper bound needs to fall within the
    point rating's limit `cap`: with no loss seen, the n whose zero-loss bound
    1 - 0.05^(1/n) ~ 3 / n meets it; else the n at which 1.645 standard errors, shrinking as
    1 / sqrt(n), fit under the gap between the estimate and the limit. NaN when it cannot be
    said (the estimate is at the limit, or no loss was seen under importance sampling)."""
    if not math.isfinite(cap) or cap <= 0.0 or value >= cap:
        return math.nan
    if loss_paths == 0:
        return math.nan if weighted else float(math.ceil(-math.log(1 - CONFIDENCE) / cap))
    if not (math.isfinite(se) and se > 0.0):
        if weighted:
            return math.nan
        se = math.sqrt(value * (1 - value) / paths)
    return float(math.ceil(paths * (Z_ONE_SIDED * se / (cap - value)) ** 2))


def implied_ratings(
    summary: pd.DataFrame,
    table: RatingTable = BUILT_IN,
    *,
    labels: str = "moodys",
    term_years: float,
    paths: int | None = None,
    weighted: bool = False,
) -> pd.DataFrame:
    """One row per tranche: the metric used, its one-sided 95% upper bound, the tenor (WAL; the
    deal's term where no principal is ever paid), the rating the bound supports
    (`implied_rating`), the point rating, the best rating the lower bound allows, and the paths
    the bound would need to reach the point rating. `summary` is Results.summary."""
    column = "expected_loss" if table.metric == "expected_loss" else "prob_loss"
    rows = []
    for row in summary.itertuples():
        value = float(getattr(row, column))
        se = float(getattr(row, f"{column}_se", math.nan))
        loss_paths = int(getattr(row, "paths_with_loss", 0))
        n = paths if paths is not None else 0
        tenor = float(row.wal_years)
        if not math.isfinite(tenor):
            tenor = term_years
        limits = table.thresholds(tenor)
        if paths is None:  # no path count: the point rating only (a caller's own summary)
            lower, upper = value, value
        else:
            lower, upper = rating_bounds(value, se, loss_paths, n, weighted)
        point, point_cap = _grade(value, table, limits)
        supported, supported_cap = _grade(upper, table, limits)
        best, _ = _grade(lower, table, limits)
        resolved = supported == point
        needed = (
            math.nan
            if resolved or paths is None
            else paths_to_resolve(value, se, loss_paths, n, point_cap, weighted)
        )
        rows.append(
            {
                "tranche": row.tranche,
                "rating_metric": table.metric,
                "rating_metric_value": value,
                "rating_metric_upper_95": upper,
                "rating_tenor_years": tenor,
                "implied_rating": label(supported, labels),
                "implied_rating_point": label(point, labels),
                "implied_rating_best": label(best, labels),
                "rating_resolved": resolved,
                "paths_to_resolve": needed,
                "rating_limit": supported_cap,
            }
        )
    return pd.DataFrame(rows)


def rating_statement(row) -> str:
    """e.g. "A (point Aaa; 90%: A to Aaa)"; the point alone when the bound supports it."""
    supported = str(row["implied_rating"])
    point = str(row["implied_rating_point"])
    best = str(row["implied_rating_best"])
    if bool(row["rating_resolved"]) and best == supported:
        return supported
    return f"{supported} (point {point}; 90%: {supported} to {best})"


def supported_rating(row, table: RatingTable) -> str | None:
    """The table's own name of the rating a summary row's 95% upper bound supports (None below
    the table or when not resolved)."""
    grade, _ = _grade(
        float(row["rating_metric_upper_95"]),
        table,
        table.thresholds(float(row["rating_tenor_years"])),
    )
    return None if grade in (BELOW, NOT_RESOLVED) else grade
