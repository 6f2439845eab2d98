"""Asset tapes: pools of hundreds or thousands of assets or licensees read from CSV or Parquet
files that a scenario names in `[[tapes]]`. A tape's columns are the keys of the matching inline
table (`[[assets]]` or `[[licensees]]`); tape rows are appended to the inline definitions and then
validated exactly like them, and every error names the file, the row and the column.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipabs.errors import Problem, ScenarioError

TAPE_KINDS = ("assets", "licensees", "loans")


@dataclass(frozen=True)
class RowOrigin:
    file: str
    row: int  # 1-based data row (CSV: the header is line 1, so data row r is on line r + 1)
    csv: bool

    def where(self) -> str:
        return f"{self.file} line {self.row + 1}" if self.csv else f"{self.file} row {self.row}"


def _cell(value: str) -> Any:
    """A CSV cell: empty means 'not given' (the default applies); [..] is a JSON list."""
    text = value.strip()
    if text == "":
        return None
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], bool]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = []
            for line in reader:
                if None in line:  # more cells than header names
                    raise ScenarioError(
                        f"line {reader.line_num}: more cells than columns in the header",
                        source=path,
                    )
                rows.append({k.strip(): _cell(v) for k, v in line.items() if k is not None})
            return rows, True
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
        return [
            {
                k: v
                for k, v in r.items()
                if not (v is None or (isinstance(v, float) and math.isnan(v)))
            }
            for r in records
        ], False
    raise ScenarioError("a tape must be a .csv or .parquet file", source=path)


def expand_tapes(data: dict[str, Any], base_dir: Path) -> dict[tuple[str, int], RowOrigin]:
    """Append each tape's rows to `data[kind]` in place; return where each appended row came from.

    Structural problems (unreadable file, unknown kind) raise ScenarioError; bad values are left
    for the schema to report, with the origin map turning `assets[57]` into `file line 12`.
    """
    tapes = data.get("tapes")
    origins: dict[tuple[str, int], RowOrigin] = {}
    if not isinstance(tapes, list):
        return origins
    problems = []
    for t, tape in enumerate(tapes):
        if (
            not isinstance(tape, dict)
            or tape.get("kind") not in TAPE_KINDS
            or not isinstance(tape.get("path"), str)
        ):
            continue  # the schema reports it
        path = base_dir / tape["path"]
        try:
            rows, is_csv = _read_rows(path)
        except FileNotFoundError:
            problems.append(
                Problem(f"tapes[{t}].path", f"file not found ({path})", tape["path"], True)
            )
            continue
        except ScenarioError:
            raise
        except Exception as exc:  # a corrupt or unreadable file: say so, without a traceback
            problems.append(
                Problem(f"tapes[{t}].path", f"cannot read {path}: {exc}", tape["path"], True)
            )
            continue
        if not rows:
            problems.append(Problem(f"tapes[{t}].path", "the tape has no rows", tape["path"], True))
            continue
        kind = tape["kind"]
        table = data.setdefault(kind, [])
        if not isinstance(table, list):
            continue
        for r, row in enumerate(rows, start=1):
            origins[(kind, len(table))] = RowOrigin(tape["path"], r, is_csv)
            table.append({k: v for k, v in row.items() if v is not None})
    if problems:
        raise ScenarioError("invalid scenario (tapes)", problems=tuple(problems))
    return origins


_ITEM = re.compile(r"^(assets|licensees|loans)\[(\d+)\](?:\.([A-Za-z_]+))?(.*)$")


def locate(problem: Problem, origins: dict[tuple[str, int], RowOrigin]) -> Problem:
    """Rewrite `assets[57].licensee ...` as `tape.csv line 12, column licensee ...` for tape rows."""
    m = _ITEM.match(problem.path)
    if not m or (m.group(1), int(m.group(2))) not in origins:
        return problem
    where = origins[(m.group(1), int(m.group(2)))].where()
    if m.group(3):
        where += f", column {m.group(3)}"
    return Problem(where + m.group(4), problem.message, problem.value, problem.has_value)
