"""The stress file format: named stresses, grids, a reverse stress and the targets each stress is
judged against (docs/scenario-format.md, "Stress files")."""

from __future__ import annotations

import difflib
import itertools
import re
from pathlib import Path
from typing import Literal

import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.base import Identifier, Spec, _field

Preset = Literal[
    "default_multiplier", "income_haircut", "decay_increase", "recovery_cut", "correlation_increase"
]
SearchedPreset = Literal["default_multiplier", "income_haircut", "decay_increase", "recovery_cut"]
TargetMetric = Literal["expected_loss", "prob_loss", "prob_shortfall", "implied_rating"]
#: the metrics a target bounds by a number (`max`); implied_rating takes `at_least`
NUMERIC_METRICS = ("expected_loss", "prob_loss", "prob_shortfall")


class Change(Spec):
    path: str = _field(
        description='Key path of the values to change: tables and keys joined by dots, a list selected by [*] (every item), [2] (one) or [key=value] (items whose key has that value), e.g. "assets[type=patent].volatility". A correlation matrix changes its off-diagonal entries.',
        min_length=1,
    )
    multiply: float | None = _field(None, description="Multiply the value by this.")
    add: float | None = _field(None, description="Add this to the value.")
    set: float | bool | str | None = _field(None, description="Set the value to this.")
    min: float | None = _field(None, description="Floor applied after the change.")
    max: float | None = _field(None, description="Cap applied after the change.")


class PresetStress(Spec):
    apply: Preset = _field(
        description="A pool stress at `level`: default_multiplier, income_haircut, decay_increase, recovery_cut (docs/model.md, section 6) or correlation_increase (loadings a -> sqrt(a^2 + level))."
    )
    level: float = _field(description="Its level (e.g. 1.0 doubles default probabilities).", ge=0)


class Stress(Spec):
    name: Identifier = _field(description="Unique stress name (base is the unstressed case).")
    changes: tuple[Change, ...] = _field((), description="Key-path changes, applied in order.")
    presets: tuple[PresetStress, ...] = _field(
        (), description="Pool stresses applied after the changes."
    )


class Axis(Spec):
    name: Identifier = _field(description="Axis name, used in the stress names of the grid.")
    path: str | None = _field(None, description="Key path the axis changes (as in a change).")
    apply: Preset | None = _field(None, description="Or: a pool stress the axis sets the level of.")
    op: Literal["multiply", "add", "set"] = _field(
        "multiply", description="With path: how each value changes the key."
    )
    values: tuple[float, ...] = _field(description="The axis's values.", min_length=1)


class Grid(Spec):
    name: Identifier = _field(description="Grid name.")
    axes: tuple[Axis, ...] = _field(
        description="Axes; the grid runs their cross product.", min_length=1, max_length=4
    )


class Reverse(Spec):
    stresses: tuple[SearchedPreset, ...] = _field(
        ("default_multiplier", "income_haircut", "decay_increase", "recovery_cut"),
        description="The pool stresses searched for each tranche's breakeven.",
    )
    expected_loss: float | None = _field(
        None,
        description="Target: expected loss at most this (on its 95% bound). Default: each class keeps the rating its bound supports unstressed, or where it supports none, no loss (docs/model.md 6).",
        ge=0,
        le=1,
    )


class StressTarget(Spec):
    """A criterion a class must meet under the stresses it names: the committee's pass/fail
    (ipabs.stress.targets states the verdict rule)."""

    tranche: Identifier | None = _field(
        None,
        description="The class the target is on, by its id (tranches[].name). Give tranche or rank, one of them; a class the scenario does not have is an error before anything runs.",
    )
    rank: int | None = _field(
        None,
        description="Or: every class of this payment rank (tranches[].rank; 1 is the most senior), so that one stress file serves deals whose class ids differ.",
        ge=1,
    )
    metric: TargetMetric = _field(
        description="What is judged, on the class's Monte Carlo estimate under each stress: expected_loss (principal lost, a fraction of the class's balance), prob_loss (probability of any principal loss), prob_shortfall (probability that interest due is ever not paid in full when due), or implied_rating (the rating the estimate's one-sided 95% upper bound supports, in the scenario's rating table and labels). A numeric metric passes when its estimate is at most `max`; max = 0 (\"no loss\") passes when no simulated path lost (a loss above 1e-9 of the balance; for prob_shortfall, fell short), an exact statement about these paths that more paths can overturn. Otherwise a verdict is \"resolved\" when max and the estimate are more than 2 standard errors apart, once 10 paths or more lost; with fewer, the exact 95% bounds from the count decide (a pass when the upper bound, 1 - 0.05^(1/paths) with no losing path, is within max; a fail on a probability when its lower bound is above max), and under importance sampling nothing is resolved from fewer than 10 (as for ratings). An unresolved verdict is still given, marked not resolved at these paths. implied_rating passes when that rating is at_least or better; a pass is resolved (the 95% bound supports it), a fail is resolved when even the rating of the estimate's lower bound is worse than at_least.",
    )
    max: float | None = _field(
        None,
        description='For expected_loss, prob_loss and prob_shortfall: the largest estimate that passes, a fraction (0.005 = 0.5%); 0 means "no loss" on any simulated path.',
        ge=0,
        le=1,
    )
    at_least: str | None = _field(
        None,
        description='For implied_rating: the worst rating that passes, a rating of the scenario\'s rating table, by its name there (e.g. "A" in the built-in table) or its label (e.g. "Asf" with ratings.labels = "china").',
        min_length=1,
        max_length=64,
    )
    stresses: tuple[Identifier, ...] | None = _field(
        None,
        description='The stresses the target applies to, by name ("base" is the unstressed case; a grid point by its generated name). Default: every stress and the base case.',
        min_length=1,
    )


class StressFile(Spec):
    stress: tuple[Stress, ...] = _field((), description="Named stresses.")
    grid: tuple[Grid, ...] = _field((), description="Grids of stresses.")
    reverse: Reverse | None = _field(
        None, description="A reverse stress: the breakeven level of each pool stress per tranche."
    )
    target: tuple[StressTarget, ...] = _field(
        (),
        description="Targets: what each class must meet under which stresses; each (stress, target) gets pass/fail in the stress run's targets table.",
    )


def load_stress_file(path: str | Path) -> StressFile:
    """Read and check a stress file: its schema, then what the schema cannot say (one operation
    per change, a path or a preset per axis, levels of at least 0, unique stress names)."""
    from ipabs.scenario.load import problems_from_pydantic, read_toml
    from ipabs.stress.apply import name_problems, planned_stresses

    path = Path(path)
    data = read_toml(path)
    try:
        spec = StressFile.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = tuple(with_hint(p) for p in problems_from_pydantic(exc, data, StressFile))
        raise ScenarioError(
            f"invalid stress file ({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            source=path,
            problems=problems,
        ) from None
    problems = spec_problems(spec)
    if not problems:  # the grids expand only when their values are valid
        planned = planned_stresses(spec)
        problems = name_problems(planned) + target_name_problems(spec, planned)
    if problems:
        raise ScenarioError("invalid stress file", source=path, problems=tuple(problems))
    return spec


def with_hint(problem: Problem) -> Problem:
    """A "must be one of" problem (an unknown metric or preset) with the closest allowed value
    as a did-you-mean."""
    if not (problem.has_value and isinstance(problem.value, str)):
        return problem
    if not problem.message.startswith("must be one of"):
        return problem
    allowed = re.findall(r"'([^']*)'", problem.message)
    hint = difflib.get_close_matches(problem.value, allowed, n=1, cutoff=0.6)
    if not hint:
        return problem
    return Problem(
        problem.path, f"{problem.message}; did you mean '{hint[0]}'?", problem.value, True
    )


def target_problems(spec: StressFile) -> list[Problem]:
    """A target's shape: a class by tranche or by rank (one of them), and the limit its metric
    takes (max for a numeric metric, at_least for a rating), not the other."""
    problems = []
    for i, t in enumerate(spec.target):
        where = f"target[{i}]"
        if (t.tranche is None) == (t.rank is None):
            message = "give the class as tranche (its id) or rank (1 = most senior), one of them"
            problems.append(Problem(where, message))
        if t.metric in NUMERIC_METRICS:
            needed, unwanted, value = "max", "at_least", t.at_least
            example = 'the largest estimate that passes, a fraction (0 = "no loss")'
        else:
            needed, unwanted, value = "at_least", "max", t.max
            example = 'the worst rating that passes, e.g. "A"'
        if getattr(t, needed) is None:
            message = f"a target on {t.metric} needs {needed}: {example}"
            problems.append(Problem(f"{where}.{needed}", message))
        if value is not None:
            message = f"{unwanted} is not a limit of {t.metric}, which takes {needed}"
            problems.append(Problem(f"{where}.{unwanted}", message, value, True))
    return problems


def target_name_problems(spec: StressFile, planned: list) -> list[Problem]:
    """A target's `stresses` that name no stress of the file (nor "base"), with the closest
    name as a did-you-mean. `planned`: the file's stresses (ipabs.stress.apply.planned_stresses)."""
    names = ["base", *(p.stress.name for p in planned)]
    known = set(names)
    problems = []
    for i, t in enumerate(spec.target):
        for j, name in enumerate(t.stresses or ()):
            if name in known:
                continue
            hint = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            problems.append(
                Problem(
                    f"target[{i}].stresses[{j}]",
                    f"no stress is named {name!r}"
                    + (f"; did you mean '{hint[0]}'?" if hint else "")
                    + f" The stresses: {shown}",
                    name,
                    True,
                )
            )
    return problems


def spec_problems(spec: StressFile) -> list[Problem]:
    """What a valid StressFile can still get wrong: a change with not exactly one operation, an
    axis with both or neither of path and apply, a pool stress's level below 0 on an axis, a
    target without its class or its limit."""
    problems = []
    for i, s in enumerate(spec.stress):
        for j, c in enumerate(s.changes):
            given = [k for k in ("multiply", "add", "set") if getattr(c, k) is not None]
            if len(given) != 1:
                problems.append(
                    Problem(f"stress[{i}].changes[{j}]", "give exactly one of multiply, add, set")
                )
    for i, g in enumerate(spec.grid):
        problems += grid_problems(g, f"grid[{i}]")
    return problems + target_problems(spec)


def grid_problems(grid: Grid, where: str = "grid") -> list[Problem]:
    """A grid's axes: each has a path or a preset to apply (one of them), and a preset's levels
    are at least 0 (as in a stress's presets)."""
    problems = []
    for j, a in enumerate(grid.axes):
        if (a.path is None) == (a.apply is None):
            problems.append(
                Problem(f"{where}.axes[{j}]", "give a path or a preset to apply (one of them)")
            )
            continue
        if a.apply is None:
            continue
        for k, value in enumerate(a.values):
            if value < 0:
                names = _names_with(grid, j, value)
                shown = f'"{names[0]}"' + (f" and {len(names) - 1} more" if len(names) > 1 else "")
                problems.append(
                    Problem(
                        f"{where}.axes[{j}].values[{k}]",
                        f"a level of {a.apply} is at least 0 (stress {shown})",
                        value,
                        True,
                    )
                )
    return problems


def value_label(value: float) -> str:
    """A grid value as it appears in a stress name: %g (6 significant digits), without a '+'
    (1e+20 -> 1e20, as a name allows letters, digits, '_', '.' and '-')."""
    return f"{value:g}".replace("+", "")


def point_name(grid: Grid, combo: tuple[float, ...]) -> str:
    """The stress name of one grid point: grid_axis<value>_..., cut to 64 characters."""
    parts = [f"{axis.name}{value_label(v)}" for axis, v in zip(grid.axes, combo, strict=True)]
    return "_".join([grid.name, *parts])[:64]


def _names_with(grid: Grid, axis: int, value: float) -> list[str]:
    """The names of the grid's points whose `axis` takes `value`."""
    values = [a.values if i != axis else (value,) for i, a in enumerate(grid.axes)]
    return [point_name(grid, combo) for combo in itertools.product(*values)]
