"""`ipabs breakeven`: for each tranche and stress, the largest stress level at which the tranche
still takes no loss (or stays within a target), on common random numbers.

Each level runs the same paths (same seed); one simulation serves every tranche. The boundary
is found by Brent's method (scipy.optimize.brentq), and the largest level evaluated that met
the target is reported. Stresses and their ranges: ipabs.solvers.stress.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
from scipy.optimize import brentq

from ipabs.engine.distribute import with_client
from ipabs.engine.importance import fixed_shift
from ipabs.errors import UserError
from ipabs.outputs.display import display_frame, html_table, in_units
from ipabs.scenario.model import Scenario
from ipabs.solvers.common import Target
from ipabs.solvers.stress import STRESS_FUNCTIONS, STRESS_UNITS

STRESSES = tuple(STRESS_FUNCTIONS)


@with_client
def breakeven(
    scenario: Scenario | str,
    *,
    stresses: tuple[str, ...] = STRESSES,
    expected_loss: float | None = None,
    loss_probability: float | None = None,
    rating: str | None = None,
    paths: int | None = None,
    seed: int | None = None,
    tolerance: float = 1e-3,
) -> pd.DataFrame:
    """One row per tranche and stress: the breakeven level (0 when the tranche misses the target
    unstressed; the range's end, flagged, when it never does). Without a target, each class's
    own: keeping the rating it has unstressed (the one its 95% bound supports), or, for a class
    with none (below the table, or not resolved), no loss at all."""
    from ipabs.api import load, simulate

    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    sc = fixed_shift(sc, paths=paths, seed=seed)  # one importance shift for every level
    if rating is None and expected_loss is None and loss_probability is None:
        targets = _current_ratings(simulate(sc, paths=paths, seed=seed, progress=False))
    else:
        given = Target.of(
            rating=rating, expected_loss=expected_loss, loss_probability=loss_probability
        )
        targets = {t.name: given for t in sc.tranches}
    for name in stresses:
        if name not in STRESS_FUNCTIONS:
            raise UserError(f"no stress is named {name!r}; the stresses are: {', '.join(STRESSES)}")
    tranches = [t.name for t in sc.tranches_by_rank()]
    rows = []
    for name in stresses:
        apply, top = STRESS_FUNCTIONS[name]
        cache: dict[float, object] = {}

        def run(level: float, apply=apply, cache=cache):
            if level not in cache:
                cache[level] = simulate(apply(sc, level), paths=paths, seed=seed, progress=False)
            return cache[level]

        for tranche in tranches:
            seen: dict[float, float] = {}

            target = targets[tranche]

            def excess(level: float, tranche=tranche, seen=seen, target=target) -> float:
                seen[level] = target.excess(run(level), tranche)
                return seen[level]

            base, end = excess(0.0), excess(top)
            if base > 0.0:
                level, status = 0.0, "misses the target unstressed"
            elif end <= 0.0:
                level, status = top, "meets the target at the end of the range"
            else:
                brentq(lambda x: excess(x) - 1e-15, 0.0, top, xtol=tolerance * top, rtol=1e-12)
                level = max(x for x, e in seen.items() if e <= 0.0)
                status = "breakeven"
            res = run(level)
            row = res.summary.set_index("tranche").loc[tranche]
            rows.append(
                {
                    "tranche": tranche,
                    "stress": name,
                    "breakeven": level,
                    "status": status,
                    "target": target.describe(),
                    # the target as fields, for outputs that word it themselves (the report)
                    "target_metric": target.metric,
                    "target_limit": target.limit,
                    "target_rating": target.rating or "",
                    "level_means": STRESS_UNITS[name],
                    "expected_loss_at_breakeven": float(row["expected_loss"]),
                    "prob_loss_at_breakeven": float(row["prob_loss"]),
                    "evaluations": len(seen),
                }
            )
    return display_frame(pd.DataFrame(rows), partial(_render, names=sc.display_names()))


def _render(frame: pd.DataFrame, names: dict[str, str]) -> str:
    notes = [
        "breakeven: the largest stress level at which the class still meets its target with 95% "
        "confidence, in the units of level_means; 0 when it misses the target unstressed.",
    ]
    return html_table(
        in_units(frame, names), title="Breakeven stress levels", notes=notes, index=False
    )


def _current_ratings(results) -> dict[str, Target]:
    """Each class's target for a breakeven without one: its unstressed rating (as the 95% bound
    supports it, in the table's own names), else no loss."""
    from ipabs.ratings.implied import supported_rating
    from ipabs.ratings.tables import table_for

    table = table_for(results.scenario.ratings)
    out = {}
    for _, row in results.summary.iterrows():
        grade = supported_rating(row, table)
        out[row.tranche] = (
            Target(metric="rating", rating=grade)
            if grade is not None
            else Target(metric="expected_loss", limit=0.0)
        )
    return out
