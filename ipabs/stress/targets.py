"""Pass/fail of each stress against the targets a stress file states, honest about Monte Carlo
error.

The verdict rule (one row per stress and target class):

- expected_loss, prob_loss, prob_shortfall with `max` > 0: pass when the estimate is at most
  `max`. The row also carries the estimate's standard error and `margin_se` = (max - estimate)
  / se (+inf or -inf when se = 0 and the two differ, NaN when they are equal or se is unknown).
  The verdict is *resolved* when max and the estimate are more than 2 standard errors apart (a
  two-sided 95% statement), once at least MIN_LOSS_PATHS (10) paths lost (or fell short): the
  same count below which ipabs.ratings does not trust a normal bound. With fewer, in plain Monte
  Carlo, the count k of n paths decides, by its exact one-sided 95% Clopper-Pearson bounds: a
  pass is resolved when the upper bound (1 - 0.05^(1/n), about 3/n, when k = 0) is at most
  `max` (it bounds a probability, and so an expected loss, which is at most the probability of
  a loss); a fail on a probability when the lower bound exceeds `max`; a fail on an expected
  loss is not resolved (a few losses bound it from above only). Under importance sampling no
  bound is claimed from fewer than 10 losing paths, as for ratings: not resolved. `max` = 1
  always passes, resolved. (The count of paths that fell short is read from the estimate,
  k = estimate x n, in plain Monte Carlo; under importance sampling the standard errors are used
  whatever the count, as the summary does not count them.)
- the same with `max` = 0 ("no loss"): pass when no path lost (a loss above 1e-9 of the class's
  balance, the engine's rounding tolerance; for prob_shortfall, no path fell short of interest).
  That is an exact statement about the paths run, so it is always resolved; it is not a
  statement that the probability is 0, and more paths can turn it into a fail.
- implied_rating: the rating is `implied_rating`, the one the estimate's one-sided 95% upper
  bound supports (ipabs.ratings.implied), and it passes when it is `at_least` or better on the
  scenario's rating scale (its table from the best down, then "below table"). A pass is
  resolved (the bound supports it); a fail is resolved when the rating of the estimate's lower
  bound (`implied_rating_best`) is also worse than `at_least`, and not resolved when the 90%
  interval straddles it (more paths may show a pass). "not resolved" (too few losing paths
  under importance sampling to bound) fails, not resolved.

A failed verdict that is not resolved says "fails at these paths"; the report shows both flags.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence

import pandas as pd

from ipabs.errors import Problem, UserError
from ipabs.ratings.implied import (
    BELOW,
    MIN_LOSS_PATHS,
    clopper_pearson_lower,
    clopper_pearson_upper,
)
from ipabs.ratings.tables import label, table_for
from ipabs.scenario.model import Scenario
from ipabs.stress.definitions import NUMERIC_METRICS, StressFile, StressTarget

#: standard errors between max and the estimate for a resolved verdict
RESOLVED_SE = 2.0
#: the comparison columns the verdicts are computed from
NEEDED = (
    "stress",
    "paths",
    "importance_sampling",
    "tranche",
    "rank",
    "expected_loss",
    "expected_loss_se",
    "prob_loss",
    "prob_loss_se",
    "paths_with_loss",
    "prob_shortfall",
    "prob_shortfall_se",
    "implied_rating",
    "implied_rating_best",
)
COLUMNS = (
    "stress",
    "target",
    "tranche",
    "rank",
    "metric",
    "limit_value",
    "limit_rating",
    "estimate",
    "estimate_rating",
    "estimate_se",
    "margin_se",
    "passed",
    "resolved",
)


def rating_scale(sc: Scenario) -> tuple[str, ...]:
    """The scenario's ratings from the best down, as its results show them (the table's names,
    or their labels with ratings.labels = "china")."""
    table = table_for(sc.ratings)
    return tuple(label(r, sc.ratings.labels) for r in table.ratings)


def rating_position(rating: str, sc: Scenario) -> int | None:
    """Where `rating` (a table name or its label) stands on the scale: 0 is the best; None if it
    is not on it."""
    table = table_for(sc.ratings)
    for i, name in enumerate(table.ratings):
        if rating in (name, label(name, sc.ratings.labels)):
            return i
    return None


def scenario_target_problems(spec: StressFile, sc: Scenario) -> list[Problem]:
    """The targets against this scenario: a class id it has, a rank one of its classes holds, a
    rating of its rating table. Checked before any simulation runs."""
    names = [t.name for t in sc.tranches_by_rank()]
    ranks = sorted({t.rank for t in sc.tranches})
    problems = []
    for i, t in enumerate(spec.target):
        where = f"target[{i}]"
        if t.tranche is not None and t.tranche not in names:
            hint = difflib.get_close_matches(t.tranche, names, n=1, cutoff=0.6)
            message = "the scenario has no class with this id" + (
                f"; did you mean '{hint[0]}'?" if hint else ""
            )
            message += f" Its classes: {', '.join(names)}"
            problems.append(Problem(f"{where}.tranche", message, t.tranche, True))
        if t.rank is not None and t.rank not in ranks:
            shown = ", ".join(map(str, ranks))
            message = f"no class of the scenario has this rank; its ranks: {shown}"
            problems.append(Problem(f"{where}.rank", message, t.rank, True))
        if t.at_least is not None and rating_position(t.at_least, sc) is None:
            table = table_for(sc.ratings)
            known = [*table.ratings, *rating_scale(sc)]
            hint = difflib.get_close_matches(t.at_least, known, n=1, cutoff=0.5)
            message = "not a rating of the scenario's rating table" + (
                f"; did you mean '{hint[0]}'?" if hint else ""
            )
            message += f" Its ratings, best first: {', '.join(table.ratings)}"
            problems.append(Problem(f"{where}.at_least", message, t.at_least, True))
    return problems


def margin_in_se(limit: float, estimate: float, se: float) -> float:
    """(limit - estimate) / se: +-inf when se is 0 and they differ, NaN when equal or se unknown."""
    gap = limit - estimate
    if not (math.isfinite(se) and math.isfinite(gap)):
        return math.nan
    if se > 0.0:
        return gap / se
    if gap == 0.0:
        return math.nan
    return math.inf if gap > 0.0 else -math.inf


def numeric_verdict(
    estimate: float,
    se: float,
    limit: float,
    events: int | None,
    paths: int,
    *,
    weighted: bool = False,
    bounded_below: bool = True,
) -> tuple[bool, bool]:
    """(passed, resolved) of "estimate <= limit" (module doc). `events`: the paths that lost (or
    fell short), None when not counted (then some did); `weighted`: importance sampling;
    `bounded_below`: the metric is a probability, which a count bounds from below too."""
    if limit == 0.0:
        return events == 0, True
    passed = estimate <= limit
    if limit >= 1.0:
        return True, True
    if events is None or (events >= MIN_LOSS_PATHS and math.isfinite(se)):
        return passed, math.isfinite(se) and abs(limit - estimate) > RESOLVED_SE * se
    if weighted:
        return passed, False
    if passed:
        return passed, clopper_pearson_upper(events, paths) <= limit
    return passed, bounded_below and clopper_pearson_lower(events, paths) > limit


def rating_verdict(rating: str, best: str, at_least: int, sc: Scenario) -> tuple[bool, bool]:
    """(passed, resolved) of "rating at least the scale's `at_least`-th" (module doc)."""
    below = len(table_for(sc.ratings).ratings)

    def position(text: str) -> int | None:
        return below if text == BELOW else rating_position(text, sc)

    supported, optimistic = position(rating), position(best)
    passed = supported is not None and supported <= at_least
    resolved = passed or (optimistic is not None and optimistic > at_least)
    return passed, resolved


def _classes(target: StressTarget, frame: pd.DataFrame) -> list[str]:
    """The classes of one stress's rows that `target` names, in the rows' order (by rank)."""
    if target.tranche is not None:
        return [t for t in frame["tranche"] if t == target.tranche]
    return [t for t, r in zip(frame["tranche"], frame["rank"], strict=True) if r == target.rank]


def events(metric: str, row: pd.Series) -> int | None:
    """The paths on which the metric's event happened: those with a loss, or, for
    prob_shortfall, estimate x paths in plain Monte Carlo (0 exactly when the estimate is 0, as
    weights are positive); None when that cannot be read (a weighted estimate above 0)."""
    if metric != "prob_shortfall":
        return int(row["paths_with_loss"])
    estimate = float(row["prob_shortfall"])
    if estimate == 0.0:
        return 0
    if bool(row["importance_sampling"]):
        return None
    return round(estimate * int(row["paths"]))


def targets_table(
    source, spec: StressFile | Sequence[StressTarget], *, scenario: Scenario | None = None
) -> pd.DataFrame:
    """One row per stress and target class: the verdict of the module doc. `source` is a
    StressRun, its `comparison` frame (as saved: comparison.parquet), or its results by stress
    name; `scenario` (the base case; a StressRun's own by default) gives the rating scale and is
    needed for implied_rating targets only. Stresses in the comparison's order, then targets in
    the file's order (`target`: the index in the file), then classes by rank. Columns: stress,
    target, tranche, rank, metric, limit_value (NaN for a rating), limit_rating ("" for a
    number), estimate and estimate_se (NaN for a rating), estimate_rating (the implied rating,
    "" for a number), margin_se, passed, resolved."""
    comparison, scenario = _comparison_of(source, scenario)
    targets = tuple(spec.target if isinstance(spec, StressFile) else spec)
    missing = [c for c in NEEDED if c not in comparison.columns]
    if missing:
        raise UserError(f"the stress comparison lacks the columns {', '.join(missing)}")
    if scenario is not None:
        problems = scenario_target_problems(StressFile(target=targets), scenario)
        if problems:
            raise UserError("the targets do not fit the scenario", problems=tuple(problems))
    rows = []
    for stress, frame in comparison.groupby("stress", sort=False):
        frame = frame.set_index("tranche", drop=False)
        for i, target in enumerate(targets):
            if target.stresses is not None and stress not in target.stresses:
                continue
            classes = _classes(target, frame)
            if not classes:
                where = f"target[{i}]"
                raise UserError(f"{where} names no class of the stress comparison ({stress})")
            for tranche in classes:
                rows.append(_row(stress, i, target, frame.loc[tranche], scenario))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    texts = ("stress", "tranche", "metric", "limit_rating", "estimate_rating")
    return out.astype(
        {
            **dict.fromkeys(texts, str),
            "target": "int64",
            "rank": "int64",
            "limit_value": "float64",
            "estimate": "float64",
            "estimate_se": "float64",
            "margin_se": "float64",
            "passed": "bool",
            "resolved": "bool",
        }
    )


def _row(stress: str, i: int, target: StressTarget, row: pd.Series, sc: Scenario | None) -> dict:
    out = {
        "stress": str(stress),
        "target": i,
        "tranche": str(row["tranche"]),
        "rank": int(row["rank"]),
        "metric": target.metric,
    }
    if target.metric in NUMERIC_METRICS:
        estimate = float(row[target.metric])
        se = float(row[f"{target.metric}_se"])
        passed, resolved = numeric_verdict(
            estimate,
            se,
            float(target.max),
            events(target.metric, row),
            int(row["paths"]),
            weighted=bool(row["importance_sampling"]),
            bounded_below=target.metric != "expected_loss",
        )
        return {
            **out,
            "limit_value": float(target.max),
            "limit_rating": "",
            "estimate": estimate,
            "estimate_rating": "",
            "estimate_se": se,
            "margin_se": margin_in_se(float(target.max), estimate, se),
            "passed": passed,
            "resolved": resolved,
        }
    if sc is None:
        raise UserError("a target on implied_rating needs the scenario, for its rating scale")
    at_least = rating_position(target.at_least, sc)
    rating = str(row["implied_rating"])
    passed, resolved = rating_verdict(rating, str(row["implied_rating_best"]), at_least, sc)
    return {
        **out,
        "limit_value": math.nan,
        "limit_rating": rating_scale(sc)[at_least],
        "estimate": math.nan,
        "estimate_rating": rating,
        "estimate_se": math.nan,
        "margin_se": math.nan,
        "passed": passed,
        "resolved": resolved,
    }


def _comparison_of(source, scenario: Scenario | None) -> tuple[pd.DataFrame, Scenario | None]:
    from ipabs.stress.run import StressRun, compare

    if isinstance(source, StressRun):
        return source.comparison, scenario or source.results["base"].scenario
    if isinstance(source, pd.DataFrame):
        return source, scenario
    if isinstance(source, dict):
        base = source.get("base")
        return compare(source), scenario or (base.scenario if base is not None else None)
    raise TypeError("targets_table takes a StressRun, its comparison frame or its results")


def verdict_text(passed: bool, resolved: bool) -> str:
    """The verdict as `ipabs stress` prints it (the report translates its own)."""
    word = "pass" if passed else "FAIL"
    return word if resolved else f"{word} (not resolved at these paths)"


def targets_rich_table(frame: pd.DataFrame):
    """The targets table for the terminal (`ipabs stress`)."""
    from rich.table import Table

    table = Table(title="targets (pass/fail per stress)", title_justify="left")
    for col in ("stress", "tranche", "metric", "limit", "estimate", "margin (se)", "verdict"):
        table.add_column(col, justify="left" if col in ("stress", "tranche", "metric") else "right")
    for row in frame.itertuples():
        if row.metric in NUMERIC_METRICS:
            limit = f"<= {row.limit_value:.4%}"
            estimate = f"{row.estimate:.4%} ± {row.estimate_se:.4%}"
            margin = "" if math.isnan(row.margin_se) else f"{row.margin_se:+.1f}"
        else:
            limit, estimate, margin = f">= {row.limit_rating}", row.estimate_rating, ""
        verdict = verdict_text(bool(row.passed), bool(row.resolved))
        table.add_row(row.stress, row.tranche, row.metric, limit, estimate, margin, verdict)
    return table
