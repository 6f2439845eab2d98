"""Each tranche's implied rating, with the confidence the paths support (docs/model.md, 5.1).

The point rating is the best rating whose limit at the tranche's WAL is not below the estimate
of the metric (expected loss or probability of loss). The rating printed (`implied_rating`) is
the one its one-sided 95% upper confidence bound supports, so a class whose losses the run did
not see is never given a grade on no evidence:

- in plain Monte Carlo, a loss probability takes the exact Clopper-Pearson bound from the count
  of paths that lose; an expected loss takes estimate + 1.645 standard errors from
  MIN_LOSS_PATHS losing paths, and below that the Clopper-Pearson bound of its loss
  probability (a class cannot lose more than its balance);
- under importance sampling, estimate + 1.645 standard errors of the weighted estimator from
  MIN_LOSS_PATHS losing paths; with fewer no bound is claimed: the rating is "not resolved".
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
    value: float,
    se: float,
    loss_paths: int,
    paths: int,
    weighted: bool,
    metric: str = "loss_probability",
) -> tuple[float, float]:
    """(lower, upper) one-sided 95% bounds on the metric (module doc). In plain Monte Carlo a
    loss probability always takes the exact Clopper-Pearson bounds (never looser than the normal
    ones below 10 losses and right at any count); an expected loss takes the normal bound from
    10 losing paths, and below that the Clopper-Pearson upper bound of its loss probability,
    with 0 as its lower bound."""
    enough = loss_paths >= MIN_LOSS_PATHS and math.isfinite(se)
    if weighted:
        if not enough:
            return 0.0, math.inf
        return max(value - Z_ONE_SIDED * se, 0.0), value + Z_ONE_SIDED * se
    if metric == "loss_probability":
        return clopper_pearson_lower(loss_paths, paths), clopper_pearson_upper(loss_paths, paths)
    if enough:
        return max(value - Z_ONE_SIDED * se, 0.0), value + Z_ONE_SIDED * se
    return 0.0, clopper_pearson_upper(loss_paths, paths)


def paths_to_resolve(
    value: float,
    se: float,
    loss_paths: int,
    paths: int,
    cap: float,
    weighted: bool,
    metric: str = "loss_probability",
) -> float:
    """Roughly how many paths (of the same kind of run) the upper bound needs to fall within the
    point rating's limit `cap`, if the estimate stayed where it is: for a loss probability in
    plain Monte Carlo, the smallest n (searched in steps of 10%) whose Clopper-Pearson bound at
    the same loss rate meets it; else the n at which 1.645 standard errors, shrinking as
    1 / sqrt(n), fit under the gap between the estimate and the limit. NaN when it cannot be
    said: the estimate is at the limit, the limit is 0 (no run can show a probability of 0), or
    fewer than 10 losses were seen under importance sampling."""
    if not math.isfinite(cap) or cap <= 0.0 or value >= cap:
        return math.nan
    if weighted and loss_paths < MIN_LOSS_PATHS:
        return math.nan
    if not weighted and (metric == "loss_probability" or loss_paths < MIN_LOSS_PATHS):
        rate = loss_paths / paths
        n = max(paths, math.ceil(-math.log(1 - CONFIDENCE) / cap))
        while n < 1e13:
            if clopper_pearson_upper(round(rate * n), n) <= cap:
                return float(n)
            n = math.ceil(n * 1.1)
        return math.nan
    if not (math.isfinite(se) and se > 0.0):
        return math.nan
    return float(math.ceil(paths * (Z_ONE_SIDED * se / (cap - value)) ** 2))


def implied_ratings(
    summary: pd.DataFrame,
    table: RatingTable = BUILT_IN,
    *,
    labels: str = "moodys",
    term_years: float,
    paths: int | None = None,
    weighted: bool = False,
    basis: str = "ultimate_principal",
) -> pd.DataFrame:
    """One row per tranche: the metric used, its one-sided 95% upper bound, the tenor (the
    deal's term for a probability table, the WAL for an expected-loss one: RatingTable.tenor),
    the rating the bound supports (`implied_rating`), the point rating, the best rating the
    lower bound allows, and the paths the bound would need to reach the point rating; and the
    table's scale and the basis rated. `summary` is Results.summary. With basis
    "timely_interest" a probability table rates the probability of any interest shortfall or a
    principal loss (`prob_impaired`), not of a principal loss alone."""
    timely = basis == "timely_interest" and table.metric == "loss_probability"
    if table.metric == "expected_loss":
        column, count = "expected_loss", "paths_with_loss"
    else:
        column, count = ("prob_impaired", "paths_impaired") if timely else ("prob_loss", "paths_with_loss")  # fmt: skip
    rows = []
    for row in summary.itertuples():
        value = float(getattr(row, column))
        se = float(getattr(row, f"{column}_se", math.nan))
        loss_paths = int(getattr(row, count, 0))
        n = paths if paths is not None else 0
        tenor = table.tenor(float(row.wal_years), term_years)
        limits = table.thresholds(tenor)
        if paths is None:  # no path count: the point rating only (a caller's own summary)
            lower, upper = value, value
        else:
            lower, upper = rating_bounds(value, se, loss_paths, n, weighted, table.metric)
        point, point_cap = _grade(value, table, limits)
        supported, supported_cap = _grade(upper, table, limits)
        best, _ = _grade(lower, table, limits)
        resolved = supported == point
        needed = (
            math.nan
            if resolved or paths is None
            else paths_to_resolve(value, se, loss_paths, n, point_cap, weighted, table.metric)
        )
        rows.append(
            {
                "tranche": row.tranche,
                "rating_metric": "timely_interest_probability" if timely else table.metric,
                "rating_scale": table.scale,
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
