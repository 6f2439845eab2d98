"""Apply a stress to a scenario: key-path changes, then pool presets; the stressed scenario is
validated again, so a bad path or value gets the same clear error as a scenario."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
from ipabs.scenario.model import IPType, Scenario
from ipabs.scenario.paths import KeyPathError, resolve
from ipabs.stress.definitions import (
    Change,
    Grid,
    PresetStress,
    Stress,
    StressFile,
    grid_problems,
    point_name,
)


class StressError(ScenarioError):
    """A stress that cannot be applied, or whose stressed scenario is invalid (exit code 2)."""


def _fail(where: str, message: str, value: Any = None, has_value: bool = False) -> StressError:
    return StressError("invalid stress", problems=(Problem(where, message, value, has_value),))


#: where a scenario names its rating table file, read when the scenario file is loaded
_TABLE_FILE = ("ratings", "table_file")


def _targets(data: dict, path: str, where: str) -> list[tuple[Any, Any]]:
    """(container, key) of every value the path selects (ipabs.scenario.paths)."""
    try:
        selected = resolve(data, path, where)
    except KeyPathError as exc:
        raise StressError("invalid stress", problems=exc.problems) from None
    for s in selected:
        if s.location == _TABLE_FILE:
            raise _fail(
                where,
                "the rating table file is read when the scenario file is loaded, and its table "
                "is in [ratings]: changing the file's name would read nothing. Change the table "
                "itself (ratings.table[...].values, ratings.tenors), or load a scenario that "
                "names the other file",
            )
    return [(s.container, s.key) for s in selected]


def _default(container: Any, key: Any) -> Any:
    """The value a missing (None) asset key takes from its IP type's defaults, if any."""
    if isinstance(container, dict) and container.get("type") in {t.value for t in IPType}:
        defaults = IP_TYPE_DEFAULTS[IPType(container["type"])]
        if hasattr(defaults, key):
            return getattr(defaults, key)
    return None


def _changed(value: Any, change: Change, where: str) -> Any:
    if change.set is not None:
        new = change.set
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, "only a number can be multiplied or added to; use set", value, True)
    elif change.multiply is not None:
        new = value * change.multiply
    else:
        new = value + change.add
    if isinstance(new, int | float) and not isinstance(new, bool):
        if change.min is not None:
            new = max(new, change.min)
        if change.max is not None:
            new = min(new, change.max)
    return new


def apply_change(data: dict, change: Change, where: str) -> None:
    for container, key in _targets(data, change.path, where):
        value = container[key]
        if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
            for i, row in enumerate(value):  # a correlation matrix: its off-diagonal entries
                for j in range(len(row)):
                    if i != j:
                        row[j] = _changed(row[j], change, where)
            continue
        if isinstance(value, list) and all(isinstance(x, int | float) for x in value):
            container[key] = [_changed(x, change, where) for x in value]  # e.g. a PD curve
            continue
        if value is None:
            value = _default(container, key)
            if value is None and change.set is None:
                raise _fail(where, "the key has no value to change (it is unset); use set")
        container[key] = _changed(value, change, where)


def apply_stress(sc: Scenario, stress: Stress, source: str = "", origin: str = "") -> Scenario:
    """The scenario under `stress`: its changes, then its presets; the scenario is validated
    after each, so a value out of range is refused with the stress's name (and `origin`, where
    in the stress file it comes from), the key path and the value."""
    from ipabs.stress.presets import PRESETS

    data = sc.model_dump(mode="json")
    label = f'stress "{stress.name}"' + (f" ({origin})" if origin else "")
    for j, change in enumerate(stress.changes):
        try:
            apply_change(data, change, f"{label} changes[{j}] ({change.path})")
        except StressError as exc:
            exc.source = source or None
            raise
    stressed = _validated(data, label, source)
    if not stress.presets:
        return stressed
    for preset in stress.presets:
        stressed = PRESETS[preset.apply](stressed, preset.level)
    applied = ", ".join(f"{p.apply} {p.level:g}" for p in stress.presets)
    _validated(stressed.model_dump(mode="json"), f"{label} after its presets ({applied})", source)
    return stressed


def _validated(data: dict, label: str, source: str) -> Scenario:
    """`data` as a Scenario, or a StressError whose problems are labelled with the stress."""
    from ipabs.scenario.load import check_consistency, problems_from_pydantic
    from ipabs.scenario.sources import live_sources

    if data.get("sources"):
        data = {**data, "sources": live_sources(data)}
    try:
        stressed = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = tuple(
            Problem(f"{label}: {p.path}", p.message, p.value, p.has_value)
            for p in problems_from_pydantic(exc, data)
        )
        raise StressError(
            "the stressed scenario is invalid", source=source or None, problems=problems
        ) from None
    problems = tuple(
        Problem(f"{label}: {p.path}", p.message, p.value, p.has_value)
        for p in check_consistency(stressed)
    )
    if problems:
        raise StressError(
            "the stressed scenario is invalid", source=source or None, problems=problems
        )
    return stressed


def replaced(sc: Scenario, changes: dict[str, Any]) -> Scenario:
    """Scenario.replace: each path set to its value, then the whole scenario validated."""
    if not isinstance(changes, dict) or not changes:
        raise ScenarioError(
            'replace takes a dict of key paths and values, e.g. {"tranches[name=A].balance": 7e7}'
        )
    data = sc.model_dump(mode="json")
    try:
        for path, value in changes.items():
            if not isinstance(path, str) or not path.strip():
                raise ScenarioError(f"a key path is a string such as 'deal.name', not {path!r}")
            for container, key in _targets(data, path, path):
                container[key] = list(value) if isinstance(value, tuple) else value
        return _validated(data, "replace", "")
    except StressError as exc:  # the same problems, without the stress files' wording
        raise ScenarioError("invalid scenario change", problems=exc.problems) from None


@dataclass(frozen=True)
class PlannedStress:
    """A stress of a stress file and where it comes from, for messages."""

    stress: Stress
    origin: str  # e.g. 'stress[2]' or 'grid[0] "g" (pd = 1.0, vol = 1.5)'


def _grid_points(grid: Grid) -> list[tuple[Stress, str]]:
    """(stress, its axis values) for every point of the grid's cross product."""
    problems = grid_problems(grid)
    if problems:
        raise StressError("invalid stress grid", problems=tuple(problems))
    points = []
    for combo in itertools.product(*(axis.values for axis in grid.axes)):
        changes, presets, where = [], [], []
        for axis, value in zip(grid.axes, combo, strict=True):
            where.append(f"{axis.name} = {value!r}")
            if axis.path is not None:
                changes.append(Change(path=axis.path, **{axis.op: value}))
            else:
                presets.append(PresetStress(apply=axis.apply, level=value))
        stress = Stress(
            name=point_name(grid, combo), changes=tuple(changes), presets=tuple(presets)
        )
        points.append((stress, ", ".join(where)))
    return points


def expand_grid(grid: Grid) -> list[Stress]:
    """The cross product of the grid's axes, one stress each, named grid_axis<value>_... (cut to
    64 characters); a preset level below 0 is a StressError."""
    return [stress for stress, _ in _grid_points(grid)]


def planned_stresses(spec: StressFile) -> list[PlannedStress]:
    """Every stress of a stress file, in order: the named ones, then each grid's points."""
    planned = [PlannedStress(s, f"stress[{i}]") for i, s in enumerate(spec.stress)]
    for i, grid in enumerate(spec.grid):
        planned += [
            PlannedStress(s, f'grid[{i}] "{grid.name}" ({where})')
            for s, where in _grid_points(grid)
        ]
    return planned


def name_problems(planned: list[PlannedStress]) -> list[Problem]:
    """Stress names that repeat, or repeat "base" (the unstressed case): each names a result and
    an output folder (summary/stress=<name>), so one would silently replace the other. Names
    that differ only in case collide too (the folders are one on macOS and Windows)."""
    seen: dict[str, PlannedStress | None] = {"base": None}
    problems = []
    for p in planned:
        key = p.stress.name.casefold()
        if key not in seen:
            seen[key] = p
            continue
        first = seen[key]
        other = 'the base case "base"' if first is None else f'{first.origin} "{first.stress.name}"'
        hint = (
            " (a grid writes its values in names to 6 significant digits)"
            if first is not None and first.origin.startswith("grid") and p.origin.startswith("grid")
            else ""
        )
        problems.append(
            Problem(
                p.origin,
                f'stress name "{p.stress.name}" is also the name of {other}; stress names must '
                f"be unique, ignoring case{hint}",
            )
        )
    return problems
