"""Asset tapes: pools of hundreds or thousands of assets or licensees read from CSV or Parquet
files that a scenario names in `[[tapes]]`. A tape's columns are the keys of the matching inline
table (`[[assets]]` or `[[licensees]]`); tape rows are appended to the inline definitions and then
validated exactly like them, and every error names the file, the row and the column.

Tapes are read only from the scenario's folder or below it (after resolving symbolic links), only
if they are regular files (never a FIFO, a device or a directory), and only up to `MAX_TAPE_BYTES`
and `MAX_TABLE_ROWS` rows (docs/scenario-format.md, "Tapes").
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ipabs.errors import Problem, ScenarioError

TAPE_KINDS = ("assets", "licensees", "loans")
#: the largest tape file read, in bytes (and the most its Parquet columns may take once decoded)
MAX_TAPE_BYTES = 1 << 30
#: the most rows in each of assets, licensees and loans: inline entries and tape rows together
MAX_TABLE_ROWS = 1_000_000
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_TRUE_FALSE = {"true": True, "false": False}


@dataclass(frozen=True)
class RowOrigin:
    file: str
    row: int  # 1-based data row (CSV: the header is line 1, so data row r is on line r + 1)
    csv: bool

    def where(self) -> str:
        return f"{self.file} line {self.row + 1}" if self.csv else f"{self.file} row {self.row}"


class TapeError(Exception):
    """A tape that cannot be read as a whole (not a row's bad value): `where` is a line or ''."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.message = message
        self.where = where


# ---------------------------------------------------------------------------------------------
# opening files safely


def open_regular(path: Path, max_bytes: int, what: str) -> BinaryIO:
    """Open `path` for reading if it is a regular file of at most `max_bytes`; else raise a
    `ScenarioError` that says what it is. A FIFO or a device is refused without blocking on it or
    reading from it (it is opened non-blocking and checked with fstat before any read)."""
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_NOCTTY", "O_BINARY", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ScenarioError("file not found", source=path) from None
    except IsADirectoryError:
        raise ScenarioError(f"is a directory, expected {what}", source=path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", source=path) from None
    except ValueError:  # an embedded NUL byte
        raise ScenarioError("not a valid file name", source=path) from None
    try:
        mode_size = os.fstat(fd)
        problem = _not_regular(mode_size.st_mode, what)
        if problem is None and mode_size.st_size > max_bytes:
            problem = (
                f"is {mode_size.st_size:,} bytes, above the {max_bytes:,}-byte limit for {what}"
            )
        if problem is not None:
            raise ScenarioError(problem, source=path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _not_regular(mode: int, what: str) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return f"is {kind}, expected {what} (only regular files are read)"


def read_limited(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`)."""
    with open_regular(path, max_bytes, what) as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew after the check
        raise ScenarioError(f"is above the {max_bytes:,}-byte limit for {what}", source=path)
    return raw


def confined(base_dir: Path, relative: str, what: str = "tapes") -> Path:
    """The tape file (or other file of the scenario's, `what`) `relative` names, resolved
    (symbolic links followed); a `TapeError` if it lies outside the scenario's folder
    `base_dir`."""
    try:
        base = base_dir.resolve()
        target = (base / relative).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise TapeError(f"not a usable path ({exc})") from None
    if not target.is_relative_to(base):
        raise TapeError(
            f"must be inside the scenario's folder ({base}) after resolving links: {what} are "
            "read only from that folder or below it"
        )
    return target


# ---------------------------------------------------------------------------------------------
# reading rows


def _bool_columns(kind: str) -> frozenset[str]:
    """The columns of a tape kind that are booleans: only true or false is accepted there."""
    from ipabs.scenario.model import IPAsset, Licensee, Loan

    model = {"assets": IPAsset, "licensees": Licensee, "loans": Loan}[kind]
    return frozenset(k for k, f in model.model_fields.items() if f.annotation is bool)


def _cell(value: str, boolean: bool) -> Any:
    """A CSV cell: empty means 'not given' (the default applies); [..] is a JSON list; in a
    boolean column true/false (any case) is the boolean, anything else is left for the schema
    to refuse."""
    text = value.strip()
    if text == "":
        return None
    if boolean:
        return _TRUE_FALSE.get(text.lower(), text)
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _read_csv(f: BinaryIO, bools: frozenset[str], max_rows: int) -> list[dict[str, Any]]:
    text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader, [])]
        _check_header(header)
        return list(_csv_rows(reader, header, bools, max_rows))
    except UnicodeDecodeError as exc:
        raise TapeError(f"not UTF-8 text (byte {exc.start} of a block)") from None
    except csv.Error as exc:
        raise TapeError(str(exc), f"line {reader.line_num}") from None


def _check_header(header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TapeError(f"column {name!r} appears twice in the header", "line 1")
        seen.add(name)


def _csv_rows(
    reader: Any, header: list[str], bools: frozenset[str], max_rows: int
) -> Iterator[dict[str, Any]]:
    n = 0
    for cells in reader:
        if not cells:  # a blank line
            continue
        n += 1
        if n > max_rows:
            raise TapeError(f"more than {max_rows:,} rows, the limit for a table")
        if len(cells) != len(header):
            raise TapeError(_cell_count(cells, header), f"line {reader.line_num}")
        yield {k: _cell(v, k in bools) for k, v in zip(header, cells, strict=True)}


def _cell_count(cells: list[str], header: list[str]) -> str:
    if len(cells) > len(header):
        return f"{len(cells)} cells for the {len(header)} columns of the header (more cells than columns)"
    missing = ", ".join(header[len(cells) :])
    return (
        f"{len(cells)} cells for the {len(header)} columns of the header: no cell for {missing} "
        "(leave a cell empty to mean 'not given')"
    )


def _read_parquet(f: BinaryIO, bools: frozenset[str], max_rows: int) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f)
    if pf.metadata.num_rows > max_rows:
        raise TapeError(f"{pf.metadata.num_rows:,} rows, above the limit of {max_rows:,}")
    rows: list[dict[str, Any]] = []
    decoded = 0
    for batch in pf.iter_batches(batch_size=8192):
        decoded += batch.nbytes
        if decoded > MAX_TAPE_BYTES:
            raise TapeError(f"takes more than {MAX_TAPE_BYTES:,} bytes once decoded")
        rows += (
            {k: _parquet_value(v, k in bools) for k, v in r.items()} for r in batch.to_pylist()
        )
    return rows


def _parquet_value(value: Any, boolean: bool) -> Any:
    """A Parquet cell as it is: null is 'not given'; NaN is kept for the schema to refuse (the
    format refuses NaN everywhere); a "true"/"false" string in a boolean column is the boolean."""
    if boolean and isinstance(value, str):
        return _TRUE_FALSE.get(value.strip().lower(), value)
    return value


def _read_rows(path: Path, kind: str, max_rows: int) -> tuple[list[dict[str, Any]], bool]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise TapeError("a tape must be a .csv or .parquet file")
    bools = _bool_columns(kind)
    with open_regular(path, MAX_TAPE_BYTES, "a CSV or Parquet tape") as f:
        if suffix == ".csv":
            return _read_csv(f, bools, max_rows), True
        return _read_parquet(f, bools, max_rows), False


# ---------------------------------------------------------------------------------------------
# tapes into the scenario


def expand_tapes(data: dict[str, Any], base_dir: Path) -> dict[tuple[str, int], RowOrigin]:
    """Append each tape's rows to `data[kind]` in place; return where each appended row came from.

    Structural problems (unreadable file, a file outside the scenario's folder, a malformed row)
    raise ScenarioError; bad values are left for the schema to report, with the origin map
    turning `assets[57]` into `file line 12`.
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
            or not tape["path"]
        ):
            continue  # the schema reports it
        kind, relative = tape["kind"], tape["path"]
        table = data.setdefault(kind, [])
        try:
            rows, is_csv = _read_rows(confined(Path(base_dir), relative), kind, MAX_TABLE_ROWS)
        except TapeError as exc:
            problems.append(_tape_problem(t, relative, exc.where, exc.message))
            continue
        except ScenarioError as exc:  # from open_regular: not found, not a regular file, too big
            problems.append(_tape_problem(t, relative, "", exc.message))
            continue
        except Exception as exc:  # a corrupt or unreadable file: say so, without a traceback
            problems.append(_tape_problem(t, relative, "", f"cannot read it: {exc}"))
            continue
        if not rows:
            problems.append(_tape_problem(t, relative, "", "the tape has no rows"))
            continue
        if not isinstance(table, list):
            continue
        for r, row in enumerate(rows, start=1):
            origins[(kind, len(table))] = RowOrigin(relative, r, is_csv)
            table.append({k: v for k, v in row.items() if v is not None})
    if problems:
        raise ScenarioError("invalid scenario (tapes)", problems=tuple(problems))
    return origins


def _tape_problem(t: int, relative: str, where: str, message: str) -> Problem:
    if where:
        return Problem(f"{relative} {where}", message)
    return Problem(f"tapes[{t}].path", message, relative, True)


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
