"""`ipabs.sweep`: a grid of scenario changes run on common random numbers, as one tidy table.

Every grid point is the scenario with each axis's key path set to one of its values
(`Scenario.replace`, validated), run with the same seed and paths, so differences across the grid
are the changes' effects and not Monte Carlo noise. Under `importance = "auto"` the shift is
chosen once, on the unchanged scenario, and kept for every point.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from functools import partial
from typing import Any

import pandas as pd

from ipabs.engine.distribute import run_all, with_client
from ipabs.errors import ScenarioError
from ipabs.outputs.display import display_frame, html_table, in_units, with_se
from ipabs.outputs.progress import resolve as resolve_progress
from ipabs.outputs.progress import valid as valid_progress
from ipabs.scenario.model import Scenario

#: the summary columns a sweep keeps per class (each with its standard error where it has one)
COLUMNS = (
    "expected_loss",
    "prob_loss",
    "wal_years",
    "irr_mean",
    "price_pct_par",
    "distribution_yield_mean",
    "prob_shortfall",
)


#: shown only for an IP trust
TRUST_ONLY = ("distribution_yield_mean", "prob_shortfall")


@with_client
def sweep(
    scenario: Scenario | str,
    axes: dict[str, Sequence[Any]],
    *,
    paths: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    progress: Any = "auto",
) -> pd.DataFrame:
    """One row per grid point and class: the axes' values, then the class's estimates with their
    standard errors and its implied rating (the one its 95% bound supports, and the point one).
    `axes` maps key paths (as in `Scenario.replace`) to the values to try; the grid is their
    product, in the order given. `progress` as in `simulate`, counted in grid points. In a
    notebook the table shows with units; it is a plain DataFrame otherwise."""
    from ipabs.api import load, simulate, with_simulation
    from ipabs.engine.importance import fixed_shift

    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    if not isinstance(axes, dict) or not axes:
        raise ScenarioError('sweep takes a dict of key paths and values, e.g. {"deal.name": ["a"]}')
    for path, values in axes.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ScenarioError(
                f"sweep axis {path!r} needs a non-empty list of values, not {values!r}"
            )
    if not valid_progress(progress):
        resolve_progress(progress, 0)  # raises the ScenarioError that says what is allowed
    sc = fixed_shift(with_simulation(sc, paths=paths, seed=seed))
    names = list(axes)
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]
    scenarios = [sc.replace(point) for point in points]  # every point validated before any run
    frames = []
    bar, callback = resolve_progress(progress, len(points), what="grid points", label="sweeping")
    with bar or contextlib.nullcontext():
        # on a cluster every point's chunks are tasks at once (`run_all`); the same numbers
        runs = run_all(lambda s: simulate(s, threads=threads, progress=False), scenarios)
        for i, (point, results) in enumerate(zip(points, runs, strict=True)):
            frames.append(_point(results, names, point))
            if callback is not None:
                callback(i + 1, len(points))
    table = pd.concat(frames, ignore_index=True)
    title = (
        f"Sweep of {sc.deal.name}: {len(points)} grid points, {sc.simulation.paths:,} paths each, "
        f"seed {sc.simulation.seed}"
    )
    return display_frame(
        table, partial(_render, title=title, names=sc.display_names(), trust=sc.kind == "trust")
    )


def _render(frame: pd.DataFrame, *, title: str, names: dict[str, str], trust: bool) -> str:
    """The sweep's table in a notebook: units, value ± standard error, display names; trust
    metrics only for a trust."""
    hidden = [] if trust else [f"{c}{s}" for c in TRUST_ONLY for s in ("", "_se")]
    shown = in_units(frame.drop(columns=hidden, errors="ignore"), names)
    notes = ["Every point runs on the same random numbers (value ± one standard error)."]
    return html_table(with_se(shown), index=False, title=title, notes=notes)


def _point(results, names: list[str], point: dict[str, Any]) -> pd.DataFrame:
    """One grid point's rows: its axis values, then each class's estimates."""
    keep = ["tranche", "rank"]
    for column in COLUMNS:
        keep += [column, f"{column}_se"]
    keep += ["implied_rating", "implied_rating_point"]
    frame = results.summary[keep].reset_index(drop=True)
    for i, name in enumerate(names):
        frame.insert(i, name, [point[name]] * len(frame))
    return frame


def plot_sweep(frame: pd.DataFrame, x: str, *, metric: str = "expected_loss", hue: str | None = None, ax=None):  # fmt: skip
    """Each class's `metric` against axis `x` (one line per class, or per value of a second axis
    `hue` for each class), with +/- 2 standard error bars. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    groups = ["tranche"] + ([hue] if hue else [])
    for key, part in frame.groupby(groups, sort=False):
        label = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.errorbar(part[x], part[metric], yerr=2 * part[f"{metric}_se"], marker="o", label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric.replace("_", " "))
    ax.legend(fontsize=7)
    return ax
