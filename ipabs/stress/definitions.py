"""The stress file format: named stresses, grids and a reverse stress (docs/scenario-format.md,
"Stress files")."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.base import Identifier, Spec, _field

Preset = Literal[
    "default_multiplier", "income_haircut", "decay_increase", "recovery_cut", "correlation_increase"
]
SearchedPreset = Literal["default_multiplier", "income_haircut", "decay_increase", "recovery_cut"]


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
        None, description="Target: expected loss at most this (default: no loss).", ge=0, le=1
    )


class StressFile(Spec):
    stress: tuple[Stress, ...] = _field((), description="Named stresses.")
    grid: tuple[Grid, ...] = _field((), description="Grids of stresses.")
    reverse: Reverse | None = _field(
        None, description="A reverse stress: the breakeven level of each pool stress per tranche."
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
        problems = tuple(problems_from_pydantic(exc, data, StressFile))
        raise ScenarioError(
            f"invalid stress file ({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            source=path,
            problems=problems,
        ) from None
    problems = spec_problems(spec)
    if not problems:  # the grids expand only when their values are valid
        problems = name_problems(planned_stresses(spec))
    if problems:
        raise ScenarioError("invalid stress file", source=path, problems=tuple(problems))
    return spec


def spec_problems(spec: StressFile) -> list[Problem]:
    """What a valid StressFile can still get wrong: a change with not exactly one operation, an
    axis with both or neither of path and apply, a pool stress's level below 0 on an axis."""
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
    return problems


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
