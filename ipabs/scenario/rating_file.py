"""Rating table files: a rating scale kept in its own TOML file, which scenarios name in
`[ratings] table_file` and so share (docs/model.md 5.1).

The file is read relative to the scenario's folder, and only from that folder or below it after
resolving links, only if it is a regular file of at most MAX_TABLE_FILE_BYTES, as tapes are. It
holds a rating table's own keys (`RatingScale`: name, source, metric, tenors, labels) and its
rows as `[[row]]` tables; it is validated on its own, so that every error names the file and the
key in it. Its table is then put in `[ratings]` as if it had been given inline, beside
`table_file`: the validated scenario holds the table, and a scenario validated again (a stress,
`Scenario.replace`, a what-if) needs no file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.check_structure import rating_table_problems
from ipabs.scenario.load import _invalid, parse_toml, problems_from_pydantic
from ipabs.scenario.structure import Ratings, RatingScale, RatingTableFile
from ipabs.scenario.tapes import TapeError, confined, read_limited

#: the largest rating table file read, in bytes (a table of a few dozen rows takes a few KB)
MAX_TABLE_FILE_BYTES = 1 << 20
#: the keys of [ratings] that are the table's own: with table_file, the file gives them
TABLE_KEYS = (*RatingScale.model_fields, "table")
#: the keys a table file must give: a shared scale says what it is and where it comes from
REQUIRED = ("name", "source", "tenors")


def expand_rating_file(data: dict[str, Any], base_dir: Path, source: str | Path) -> None:
    """Read the table file `data["ratings"]["table_file"]` names (relative to `base_dir`, the
    scenario's folder) and put its table in `data["ratings"]` in place. A ScenarioError (exit
    code 2) when [ratings] also gives the table's keys, or the file cannot be read, is not
    TOML, or is not a valid table: each names the file and the key in it. Values of the wrong
    type in [ratings] itself are left for the schema to report."""
    ratings = data.get("ratings")
    if not isinstance(ratings, dict):
        return
    relative = ratings.get("table_file")
    if not isinstance(relative, str) or not relative:
        return
    both = [key for key in TABLE_KEYS if key in ratings]
    if both:
        problems = tuple(
            Problem(
                f"ratings.{key}",
                f"the table file (ratings.table_file = {relative!r}) gives the table's {key}: "
                "a table is given inline or in a file, not both. With table_file, [ratings] "
                f"gives only what is about the deal ({', '.join(_deal_keys())})",
            )
            for key in both
        )
        raise _invalid(source, problems)
    shown = Path(base_dir) / relative
    table = _read(shown, Path(base_dir), relative, source)
    try:
        spec = RatingTableFile.model_validate(table)
    except pydantic.ValidationError as exc:
        problems = tuple(problems_from_pydantic(exc, table, RatingTableFile))
        raise _file_invalid(shown, problems, source) from None
    problems = tuple(_file_problems(spec))
    if problems:
        raise _file_invalid(shown, problems, source)
    inline = spec.model_dump(mode="json")
    inline["table"] = inline.pop("row")
    data["ratings"] = {**ratings, **inline}


def _deal_keys() -> list[str]:
    return [k for k in Ratings.model_fields if k not in TABLE_KEYS and k != "table_file"]


def _read(shown: Path, base_dir: Path, relative: str, source: str | Path) -> dict[str, Any]:
    """The table file's TOML as a mapping. A file that cannot be opened is a problem of
    ratings.table_file (in the scenario); one that is not TOML is named with its line."""

    def problem(message: str) -> ScenarioError:
        return _invalid(source, (Problem("ratings.table_file", message, relative, True),))

    if Path(relative).suffix.lower() != ".toml":
        raise problem("a rating table file is a .toml file")
    try:
        path = confined(base_dir, relative, "rating table files")
    except TapeError as exc:
        raise problem(exc.message) from None
    try:
        raw = read_limited(path, MAX_TABLE_FILE_BYTES, "a TOML rating table file")
    except ScenarioError as exc:
        if exc.message == "file not found":
            raise problem(
                f"file not found: looked for {shown} (relative to the scenario's folder)"
            ) from None
        raise problem(f"{exc.message} ({shown})") from None
    try:
        return parse_toml(raw, shown)
    except ScenarioError as exc:
        raise ScenarioError(
            f"{exc.message} (the rating table file ratings.table_file names in {source})",
            source=exc.source,
        ) from None


def _file_problems(spec: RatingTableFile) -> list[Problem]:
    missing = [
        Problem(key, "required key is missing: a shared rating table says what it is")
        for key in REQUIRED
        if getattr(spec, key) is None
    ]
    if spec.tenors is None:
        return missing
    return [*missing, *rating_table_problems(spec, spec.row, "", "row")]


def _file_invalid(shown: Path, problems: tuple[Problem, ...], source: str | Path) -> ScenarioError:
    return _invalid(shown, problems, f"invalid rating table file (ratings.table_file of {source})")
