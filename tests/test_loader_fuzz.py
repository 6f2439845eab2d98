"""Property-based fuzzing of the loader (issue 11): the shipped scenarios and stress files, mutated
with wrong types, extreme values, deleted keys, duplicated entries and deep nesting, either load
or raise a `UserError` (exit 2 from the CLI) with a message, never another exception; and
`ipabs run` writes nothing when it refuses a file.

Deterministic: hypothesis is derandomized and the CLI cases come from a fixed seed."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipabs.errors import UserError
from ipabs.scenario.load import validate
from ipabs.stress.definitions import load_stress_file

SCENARIOS = sorted((REPO / "scenarios").glob("*.toml"))
STRESS_FILES = sorted((REPO / "scenarios" / "stress").glob("*.toml"))
PARSED = {p: tomllib.loads(p.read_text()) for p in SCENARIOS + STRESS_FILES}

EXTREMES: list[Any] = [
    0, -1, 1, 2**63, -(2**63) - 1, 10**30,
    0.0, -1.0, 1e-320, 1e15, 1.0000001e15, 1e308, -1e308,
    math.nan, math.inf, -math.inf,
    "", "x", "x" * 100_000, "名字", "../../etc/passwd", "/dev/zero", "true", "yes", "nan",
    True, False, dt.date(1, 1, 1), dt.date(9999, 12, 31),
    [], [1, "a"], [math.nan], {}, {"unknown_key": 1},
]  # fmt: skip
OPERATIONS = ("replace", "replace", "replace", "delete", "duplicate", "nest", "add_key")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in the parsed data (a key of a table or an index of an array)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, dict | list):
            out.extend(_paths(value, (*prefix, key)))
    return out


PATHS = {p: _paths(data) for p, data in PARSED.items()}


def _nested(value: Any, depth: int) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def mutate(data: dict[str, Any], path: tuple[Any, ...], op: str, extra: Any) -> dict[str, Any]:
    """`data` (a copy) with one mutation at `path`."""
    data = copy.deepcopy(data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if op == "replace":
        parent[key] = copy.deepcopy(extra)
    elif op == "delete":
        del parent[key]
    elif op == "duplicate":
        target = parent[key]
        if isinstance(target, list) and target:
            target.append(copy.deepcopy(target[0]))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[key] = [target, copy.deepcopy(target)]
    elif op == "nest":
        parent[key] = _nested(parent[key], extra)
    elif op == "add_key" and isinstance(parent[key], dict):
        parent[key]["zz_not_a_key"] = extra
    return data


@st.composite
def mutations(draw: st.DrawFn, files: list[Path]) -> tuple[Path, dict[str, Any]]:
    """A shipped file and its parsed data after one to three mutations."""
    path = draw(st.sampled_from(files))
    data = PARSED[path]
    for _ in range(draw(st.integers(1, 3))):
        positions = _paths(data)
        if not positions:
            break
        where = positions[draw(st.integers(0, len(positions) - 1))]
        op = draw(st.sampled_from(OPERATIONS))
        extra = (
            draw(st.sampled_from([3, 40, 2000]))
            if op == "nest"
            else draw(st.sampled_from(EXTREMES))
        )
        data = mutate(data, where, op, extra)
        if op == "nest":  # the last one: deeper data is not walked again
            break
    return path, data


def _assert_refused_cleanly(exc: UserError) -> None:
    text = exc.render()
    assert text.strip() and exc.exit_code == 2


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutations(SCENARIOS))
def test_a_mutated_scenario_loads_or_is_refused_with_a_user_error(case):
    path, data = case
    try:
        validate(data, source=path.name, base_dir=path.parent)
    except UserError as exc:
        _assert_refused_cleanly(exc)


# ---------------------------------------------------------------------------------------------
# files: a small TOML writer (everything as inline values), for stress files and the CLI


def _toml(value: Any) -> str:
    """An inline TOML value; a chain of one-item arrays and tables (deep nesting) is written
    without recursion."""
    opening, closing = [], []
    while isinstance(value, list | dict) and len(value) == 1:
        inner = value[0] if isinstance(value, list) else next(iter(value.values()))
        if not isinstance(inner, list | dict):
            break
        if isinstance(value, list):
            opening.append("[")
            closing.append("]")
        else:
            opening.append("{ " + json.dumps(next(iter(value))) + " = ")
            closing.append(" }")
        value = inner
    return "".join(opening) + _flat_toml(value) + "".join(reversed(closing))


def _flat_toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in data.items())


def test_the_writer_round_trips_every_shipped_file():
    for data in PARSED.values():
        assert tomllib.loads(to_toml(data)) == data


@FUZZ
@given(mutations(STRESS_FILES))
def test_a_mutated_stress_file_loads_or_is_refused_with_a_user_error(tmp_path_factory, case):
    _, data = case
    path = tmp_path_factory.mktemp("stress") / "stress.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    try:
        load_stress_file(path)
    except UserError as exc:
        _assert_refused_cleanly(exc)


# ---------------------------------------------------------------------------------------------
# the CLI: exit 0 or 2 with a message, no traceback, nothing written on refusal


def _cli_cases(n: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(20_251_111)
    cases = []
    for i in range(n):
        path = SCENARIOS[i % len(SCENARIOS)]
        where = rng.choice(PATHS[path])
        op = rng.choice(("replace", "delete", "duplicate"))
        data = mutate(PARSED[path], where, op, rng.choice(EXTREMES))
        cases.append((f"{i}_{path.name}", data))
    deep = copy.deepcopy(PARSED[SCENARIOS[0]])
    deep["deal"] = _nested(deep["deal"], 3000)
    cases.append(("deep.toml", deep))
    transfer = copy.deepcopy(PARSED[REPO / "scenarios" / "beijing_ip_pledge_loan_transfer.toml"])
    transfer["loans"][0]["balance"] = "1e6"
    cases.append(("text_balance.toml", transfer))
    return cases


def test_the_cli_exits_0_or_2_without_a_traceback_and_writes_nothing_on_refusal(tmp_path):
    scenarios = tmp_path / "scenarios"
    (scenarios / "data").mkdir(parents=True)
    for tape in (REPO / "scenarios" / "data").iterdir():  # tapes are read beside the scenario
        (scenarios / "data" / tape.name).write_bytes(tape.read_bytes())
    files = []
    for name, data in _cli_cases(6):
        files.append(scenarios / name)
        files[-1].write_text(to_toml(data), encoding="utf-8")
    proc = run_cli("validate", *files)
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr + proc.stdout
    refused = [f for f in files if f"{f.name}: ok" not in proc.stdout]
    messages = proc.stderr.replace("\n", "")  # the console may fold a long path
    assert messages.count("error: ") == len(refused)
    assert all(f.name in messages for f in refused)
    assert refused, "every mutation was accepted: the cases test nothing"
    out = tmp_path / "out"
    run = run_cli("run", refused[0], "--out", out, "--paths", "100", "--quiet", "--no-charts")
    assert run.returncode == 2 and "Traceback" not in run.stderr and run.stderr.strip()
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("scenarios",)]


@pytest.mark.parametrize("path", SCENARIOS + STRESS_FILES, ids=lambda p: p.name)
def test_every_shipped_file_is_valid_as_shipped(path):
    if path in STRESS_FILES:
        load_stress_file(path)
    else:
        validate(PARSED[path], source=path.name, base_dir=path.parent)
