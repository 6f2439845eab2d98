"""`ipabs report --check`: regenerate a report from its manifest and compare it with the saved
one: every number, the manifest, the HTML and the charts, and the manifest's file hashes against
the files (docs/scenario-format.md, Reports)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.report.build import CROSS_PLATFORM_RTOL, DATA_FILES, build, page_name, run_info

#: manifest keys that say where and by which ipabs version a report was written, not what it
#: says: --check does not compare them with its own (the platform decides how it compares)
VARYING_KEYS = ("platform", "ipabs_version")
#: manifest keys about the input files; --check cannot regenerate them, so it compares them
#: with the files themselves when it finds them (paths relative to the current folder)
PROVENANCE_KEYS = (
    "scenario_file",
    "scenario_sha256",
    "tape_sha256",
    "stress_file",
    "stress_file_sha256",
)
#: the keys every report manifest has, and their JSON types
_REQUIRED_KEYS: dict[str, tuple[type, ...]] = {
    "command": (str,),
    "ipabs_version": (str,),
    "platform": (dict,),
    "scenario_file": (str, type(None)),
    "scenario_sha256": (str, type(None)),
    "tape_sha256": (dict,),
    "resolved_scenario": (dict,),
    "seed": (int,),
    "paths": (int,),
}
_STRESS_KEYS: dict[str, tuple[type, ...]] = {
    "stress_file": (str,),
    "stress_file_sha256": (str,),
    "stress_spec": (dict,),
}
_JSON_TYPES = {str: "a string", dict: "a table (JSON object)", int: "a whole number", type(None): "null"}  # fmt: skip


@dataclass
class CheckResult:
    """What `ipabs report --check` found: every difference (any means exit 1), notes on what it
    could not check, and whether it compared as on the platform that wrote the report."""

    differences: list[str]
    notes: list[str]
    same_platform: bool
    languages: tuple[str, ...] = ("en",)


def check_report(folder: Path) -> CheckResult:
    """Regenerate a report from its manifest and compare it with the saved one: every value of
    every Parquet file, the manifest, report.html and the PNG charts, and the manifest's scenario
    and stress file hashes against those files, when found. Bad input (a missing, invalid or
    incomplete manifest, an unreadable Parquet file) is a UserError naming the file."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    saved = _read_manifest(folder)
    if "languages" not in saved and (folder / "report.html").is_file():
        return CheckResult(
            [
                "the report was written by an older ipabs (one report.html, no languages in its "
                "manifest): write it again with `ipabs report`, which writes report.<lang>.html"
            ],
            [],
            False,
        )
    sc = _saved_scenario(saved, manifest_path)
    spec = _saved_stress_spec(saved, manifest_path)
    saved_data = {name: _read_saved_frame(folder / "data" / f"{name}.parquet") for name in DATA_FILES}  # fmt: skip
    unknown = sorted(p.stem for p in (folder / "data").glob("*.parquet") if p.stem not in DATA_FILES)  # fmt: skip
    results, stress_run = _regenerate(sc, spec, saved, manifest_path)
    langs = _languages(saved, manifest_path)
    built = build(sc, results, stress_run, saved, langs)
    fresh = _fresh_manifest(saved, sc, results, spec)
    numbers_exact = {k: v for k, v in saved["platform"].items() if k not in PAGE_LIBRARIES} == _writer_platform()  # fmt: skip
    same_platform = saved["platform"] == fresh["platform"]
    differences = [f"data/{name}.parquet: not a table of a report" for name in unknown]
    differences += _data_differences(saved_data, built.data, saved, numbers_exact)
    differences += _manifest_differences(saved, fresh)
    found, notes = _file_differences(saved, fresh)
    differences += found
    for lang in langs:
        page = built.pages[lang].encode("utf-8")
        differences += _html_differences(folder / page_name(lang), page, same_platform)
        differences += _chart_differences(folder / "charts" / lang, built.charts[lang], same_platform, f"charts/{lang}")  # fmt: skip
    if not numbers_exact:
        notes.append(f"the report was written on another platform: its numbers are compared to a relative {CROSS_PLATFORM_RTOL:g}")  # fmt: skip
    if not same_platform:
        notes.append("the report was written on another platform or Matplotlib version: the HTML is compared without its chart drawings, and the PNG charts by name only")  # fmt: skip
    return CheckResult(differences, notes, same_platform, tuple(langs))


#: platform keys on which only the page's bytes depend, not the numbers
PAGE_LIBRARIES = ("matplotlib", "babel", "jinja2", "fonttools")


def _languages(saved: dict, manifest_path: Path) -> tuple[str, ...]:
    from ipabs.report.i18n import LANGUAGES

    langs = saved.get("languages", ["en"])
    if not isinstance(langs, list) or not langs or any(lang not in LANGUAGES for lang in langs):
        raise _manifest_error(
            manifest_path,
            "invalid report manifest",
            [_problem("languages", f"a list of report languages ({', '.join(LANGUAGES)})", langs)],
        )
    return tuple(langs)


def _regenerate(sc, spec, saved: dict, manifest_path: Path):
    """(results, stress run or None) of the manifest's scenario, stresses, paths and seed."""
    from ipabs.api import simulate
    from ipabs.errors import UserError
    from ipabs.stress.run import run_stresses

    paths, seed = saved["paths"], saved["seed"]
    try:
        if spec is None:
            return simulate(sc, paths=paths, seed=seed, progress=False), None
        run = run_stresses(sc, spec, paths=paths, seed=seed, source=manifest_path)
    except UserError as exc:  # e.g. a seed out of range, or a run above the resource limits
        exc.source = exc.source or str(manifest_path)
        raise
    return run.results["base"], run


def _writer_platform() -> dict[str, str]:
    from ipabs.outputs.writer import _platform

    return _platform()


def _manifest_error(manifest_path: Path, message: str, problems=()) -> Exception:
    from ipabs.errors import UserError

    return UserError(message, source=manifest_path, problems=tuple(problems))


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The report's manifest, or a UserError naming the file: not there, not JSON, not a
    report's, or missing a key (or with a key of the wrong type)."""
    from ipabs.errors import UserError

    path = folder / "manifest.json"
    if not path.is_file():
        raise UserError("not an ipabs report folder (no manifest.json)", source=folder)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise _manifest_error(path, f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None  # fmt: skip
    except RecursionError:
        raise _manifest_error(path, "not a manifest: its JSON is nested too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _manifest_error(path, f"cannot read the manifest: {exc}") from None
    if not isinstance(info, dict):
        raise _manifest_error(path, f"a manifest is a JSON object, not {type(info).__name__}")
    if info.get("command") != "report":
        raise UserError("the folder is not an ipabs report (its manifest's command is not report)", source=folder)  # fmt: skip
    problems = _key_problems(info, _REQUIRED_KEYS)
    if any(k in info for k in _STRESS_KEYS):
        problems += _key_problems(info, _STRESS_KEYS, " (a report with stresses has all three)")
    if not problems and info["paths"] < 1:
        problems.append(_problem("paths", "at least 1", info["paths"]))
    if not problems:
        problems += [
            _problem(f"tape_sha256.{name}", "must be a string (a SHA-256 in hex)", digest)
            for name, digest in info["tape_sha256"].items()
            if not isinstance(digest, str)
        ]
    if problems:
        raise _manifest_error(path, "incomplete or invalid report manifest", problems)
    return info


def _problem(key: str, message: str, value: Any = None, has_value: bool = True):
    from ipabs.errors import Problem

    return Problem(key, message, value, has_value)


def _key_problems(info: dict, required: dict[str, tuple[type, ...]], note: str = "") -> list:
    problems = []
    for key, types in required.items():
        allowed = " or ".join(_JSON_TYPES[t] for t in types)
        if key not in info:
            problems.append(_problem(key, f"missing: a report's manifest has it ({allowed}){note}", has_value=False))  # fmt: skip
        elif isinstance(info[key], bool) or not isinstance(info[key], types):
            problems.append(_problem(key, f"must be {allowed}", info[key]))
    return problems


def _saved_scenario(info: dict, manifest_path: Path):
    """The manifest's resolved scenario, validated (its tapes' rows are already in its tables,
    and its rating table file's table in [ratings])."""
    from ipabs.scenario.load import validate

    resolved = dict(info["resolved_scenario"])
    resolved.pop("tapes", None)
    if isinstance(resolved.get("ratings"), dict):
        resolved["ratings"] = {k: v for k, v in resolved["ratings"].items() if k != "table_file"}
    return validate(resolved, source=f"{manifest_path} (resolved_scenario)")


def _saved_stress_spec(info: dict, manifest_path: Path):
    """The manifest's stress_spec as a StressFile, or None; a UserError if it is not valid."""
    import pydantic

    from ipabs.scenario.load import problems_from_pydantic
    from ipabs.stress.definitions import StressFile

    if "stress_spec" not in info:
        return None
    data = info["stress_spec"]
    try:
        return StressFile.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            _problem(f"stress_spec.{p.path}", p.message, p.value, p.has_value)
            for p in problems_from_pydantic(exc, data, StressFile)
        ]
        raise _manifest_error(manifest_path, "invalid stress_spec in the manifest", problems) from None  # fmt: skip


def _read_saved_frame(path: Path) -> tuple[pd.DataFrame, dict | None] | None:
    """(table, the manifest in its metadata) of a saved Parquet file, None if there is none; a
    UserError naming the file if it cannot be read."""
    import pyarrow.parquet as pq

    from ipabs.errors import UserError
    from ipabs.outputs.writer import MANIFEST_KEY

    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path)
        meta = (pq.read_schema(path).metadata or {}).get(MANIFEST_KEY)
    except Exception as exc:  # pyarrow raises several kinds for a corrupt file
        raise UserError(f"not a readable Parquet file ({type(exc).__name__}: {exc})", source=path) from None  # fmt: skip
    try:
        embedded = json.loads(meta) if meta is not None else None
    except ValueError:
        embedded = None
    return frame, embedded


def _data_differences(saved_data: dict, now: dict, manifest: dict, exact: bool) -> list[str]:
    """Every saved table's values against the regenerated ones: exact on the platform that
    wrote them, within CROSS_PLATFORM_RTOL otherwise; and its embedded manifest."""
    differences = []
    for name in DATA_FILES:
        fresh = now.get(name)
        if saved_data[name] is None:
            if fresh is not None and name != "triggers":
                differences.append(f"{name}: missing from the report")
            continue
        saved, embedded = saved_data[name]
        if embedded is not None and embedded != manifest:
            differences.append(f"data/{name}.parquet: the manifest in its metadata differs from manifest.json")  # fmt: skip
        if fresh is None or saved.shape != fresh.shape or list(saved.columns) != list(fresh.columns):  # fmt: skip
            differences.append(f"{name}: the table's shape or columns differ")
            continue
        differences += _column_differences(name, saved, fresh, exact)
    return differences


def _column_differences(name: str, saved: pd.DataFrame, fresh: pd.DataFrame, exact: bool) -> list[str]:  # fmt: skip
    differences = []
    for col in saved.columns:
        a, b = saved[col].to_numpy(), fresh[col].to_numpy()
        if saved[col].dtype.kind == "M" or fresh[col].dtype.kind == "M":
            a = pd.to_datetime(saved[col]).dt.strftime("%Y-%m-%d").to_numpy()
            b = pd.to_datetime(fresh[col]).dt.strftime("%Y-%m-%d").to_numpy()
        if saved[col].dtype.kind in "fiu" and fresh[col].dtype.kind in "fiu":
            a, b = a.astype(float), b.astype(float)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            if not exact:
                same |= np.isclose(a, b, rtol=CROSS_PLATFORM_RTOL, atol=0.0)
        else:
            same = np.array([str(x) == str(y) for x, y in zip(a, b, strict=True)], dtype=bool)
        for row in np.nonzero(~same)[0]:
            differences.append(f"{name} row {row} {col}: saved {a[row]!r}, now {b[row]!r}")
    return differences


def _fresh_manifest(saved: dict, sc, results, spec) -> dict[str, Any]:
    """The manifest `ipabs report` writes for this regeneration: the keys it regenerates, and
    the saved provenance keys (checked against the files by _file_differences)."""
    from ipabs.outputs.writer import scenario_manifest

    info = {**scenario_manifest(sc, None, command="report"), **run_info(results, spec)}
    for key in (*PROVENANCE_KEYS, "languages", "out_dir"):
        if key in saved:
            info[key] = saved[key]
    if "tapes" in saved["resolved_scenario"]:  # the tape files; their rows are in the tables
        info["resolved_scenario"]["tapes"] = saved["resolved_scenario"]["tapes"]
    saved_ratings = saved["resolved_scenario"].get("ratings")
    if isinstance(saved_ratings, dict) and "table_file" in saved_ratings:  # its table is there
        info["resolved_scenario"]["ratings"]["table_file"] = saved_ratings["table_file"]
    return info


def _manifest_differences(saved: dict, fresh: dict) -> list[str]:
    """The saved manifest against the regenerated one, key by key (all but VARYING_KEYS)."""
    differences = []
    for key in sorted((set(saved) | set(fresh)) - set(VARYING_KEYS)):
        if key not in saved:
            differences.append(f"manifest.json: no {key} (a report's manifest has one)")
        elif key not in fresh:
            differences.append(f"manifest.json: {key} is not a key of a report's manifest")
        else:
            found = _first_difference(saved[key], fresh[key], key)
            if found is not None:
                where, a, b = found
                differences.append(f"manifest.json {where}: saved {_short(a)}, now {_short(b)}")
    return differences


_ABSENT = object()


def _first_difference(a: Any, b: Any, where: str) -> tuple[str, Any, Any] | None:
    """(key path, a's value, b's value) of the first place two JSON values differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if a == b and type(a) is type(b):
        return None
    return where, a, b


def _short(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _file_differences(saved: dict, fresh: dict) -> tuple[list[str], list[str]]:
    """(differences, notes): the manifest's scenario and stress file hashes against the files,
    and what they resolve to against the manifest; a note for a file not found from here."""
    differences, notes = _scenario_file_differences(saved, fresh)
    if "stress_file" in saved:
        found, missing = _stress_file_differences(saved, fresh)
        differences += found
        notes += missing
    return differences, notes


def _hash_differences(saved: dict, file_key: str, hash_key: str) -> tuple[Path | None, list[str], list[str]]:  # fmt: skip
    """(the file if found with the saved hash, differences, notes) of one input file."""
    from ipabs.outputs.writer import file_sha256

    name = saved[file_key]
    path = Path(name) if name else None
    if path is None or not path.is_file():
        note = f"{file_key} {name!r} is not found from {Path.cwd()}: its {hash_key} is not checked"
        return None, [], [note]
    digest = file_sha256(path)
    if digest != saved[hash_key]:
        return None, [f"manifest.json {hash_key}: saved {saved[hash_key]!r}, but {name} has {digest!r} (the file changed, or the manifest was edited)"], []  # fmt: skip
    return path, [], []


def _scenario_file_differences(saved: dict, fresh: dict) -> tuple[list[str], list[str]]:
    from ipabs.api import load
    from ipabs.outputs.writer import scenario_manifest

    path, differences, notes = _hash_differences(saved, "scenario_file", "scenario_sha256")
    if path is None:
        return differences, notes
    from_file = scenario_manifest(load(path), path, command="report")
    for key in ("tape_sha256", "resolved_scenario"):
        found = _first_difference(fresh[key], from_file[key], key)
        if found is not None:
            where, a, b = found
            differences.append(f"manifest.json {where}: saved {_short(a)}, but {path} gives {_short(b)}")  # fmt: skip
    return differences, notes


def _stress_file_differences(saved: dict, fresh: dict) -> tuple[list[str], list[str]]:
    from ipabs.stress.definitions import load_stress_file

    path, differences, notes = _hash_differences(saved, "stress_file", "stress_file_sha256")
    if path is None:
        return differences, notes
    found = _first_difference(fresh["stress_spec"], load_stress_file(path).model_dump(mode="json"), "stress_spec")  # fmt: skip
    if found is not None:
        where, a, b = found
        differences.append(f"manifest.json {where}: saved {_short(a)}, but {path} gives {_short(b)}")  # fmt: skip
    return differences, notes


def _html_differences(path: Path, fresh: bytes, same_platform: bool) -> list[str]:
    """report.html against the regenerated page. On the platform that wrote it: the same bytes.
    Elsewhere (chart drawings depend on the platform's libraries): the page without the charts'
    <svg> drawings, its numbers compared to CROSS_PLATFORM_RTOL (or one unit of the last printed
    digit, as a difference that small can round the other way) and the rest as text."""
    if not path.is_file():
        return [f"{path.name}: missing from the report"]
    saved = path.read_bytes()
    if saved == fresh:
        return []
    if same_platform:
        found = _first_line_difference(saved, fresh)
    else:
        found = _loose_html_difference(saved.decode("utf-8", "replace"), fresh.decode("utf-8", "replace"))  # fmt: skip
    return [] if found is None else [found.replace("report.html", path.name, 1)]


def _first_line_difference(saved: bytes, fresh: bytes) -> str:
    a, b = saved.decode("utf-8", "replace").split("\n"), fresh.decode("utf-8", "replace").split("\n")  # fmt: skip
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            col = next((j for j, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), min(len(x), len(y)))  # fmt: skip
            return f"report.html line {i + 1}, column {col + 1}: saved {_excerpt(x, col)!r}, now {_excerpt(y, col)!r}"  # fmt: skip
    return f"report.html: saved {len(a)} lines, now {len(b)} lines"


def _excerpt(line: str, col: int, width: int = 40) -> str:
    start = max(col - width, 0)
    return ("..." if start else "") + line[start : col + width] + ("..." if col + width < len(line) else "")  # fmt: skip


_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _without_drawings(text: str) -> str:
    """The page with each chart's <svg> replaced by <svg/>, keeping its line breaks (and with
    Windows line ends read as \\n, as a checkout may convert them)."""
    text = text.replace("\r\n", "\n")
    return _SVG.sub(lambda m: "<svg/>" + "\n" * m.group().count("\n"), text)


def _loose_html_difference(saved: str, fresh: str) -> str | None:
    """The first difference of two pages without their drawings: text exactly, numbers loosely."""
    a, b = _without_drawings(saved), _without_drawings(fresh)
    a_parts, b_parts = _NUMBER.split(a), _NUMBER.split(b)
    a_nums, b_nums = _NUMBER.findall(a), _NUMBER.findall(b)
    offset = 0
    for i, (x, y) in enumerate(zip(a_parts, b_parts, strict=False)):
        if x != y:
            col = next((j for j, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), min(len(x), len(y)))  # fmt: skip
            line = a.count("\n", 0, offset + col) + 1
            return f"report.html line {line}: the text differs: saved {_excerpt(x, col)!r}, now {_excerpt(y, col)!r}"  # fmt: skip
        offset += len(x)
        if i < min(len(a_nums), len(b_nums)):
            if not _close(a_nums[i], b_nums[i]):
                line = a.count("\n", 0, offset) + 1
                return f"report.html line {line}: a number differs: saved {a_nums[i]}, now {b_nums[i]}"  # fmt: skip
            offset += len(a_nums[i])
    if len(a_nums) != len(b_nums) or len(a_parts) != len(b_parts):
        return f"report.html: saved {len(a_nums)} numbers, now {len(b_nums)}"
    return None


def _close(saved: str, fresh: str) -> bool:
    """Two printed numbers agree: the same text, within CROSS_PLATFORM_RTOL, or one unit of the
    last printed digit apart (a difference that small can round the other way)."""
    if saved == fresh:
        return True
    x, y = float(saved.replace(",", "")), float(fresh.replace(",", ""))
    if math.isclose(x, y, rel_tol=CROSS_PLATFORM_RTOL, abs_tol=0.0):
        return True
    return abs(x - y) <= max(_last_digit(saved), _last_digit(fresh)) * (1 + 1e-9)


def _last_digit(text: str) -> float:
    """The value of one unit of the last digit printed: 0.01 for 1,234.56, 1 for 1,234 (an
    amount rounded to whole units), 1e-11 for 1.4E-10; 0 for a plain whole number such as a seed
    or a count, which is printed exactly."""
    if not any(mark in text for mark in ".,eE"):
        return 0.0
    mantissa, _, exponent = text.replace(",", "").upper().partition("E")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _chart_differences(folder: Path, charts: dict[str, tuple[bytes, str]], same_platform: bool, shown: str = "charts") -> list[str]:  # fmt: skip
    """The PNG charts: the same names, and on the platform that wrote them the same bytes."""
    saved = {p.stem for p in folder.glob("*.png")} if folder.is_dir() else set()
    differences = [f"{shown}/{n}.png: missing from the report" for n in sorted(set(charts) - saved)]  # fmt: skip
    differences += [f"{shown}/{n}.png: not a chart of this report" for n in sorted(saved - set(charts))]  # fmt: skip
    if same_platform:
        for name in sorted(saved & set(charts)):
            if (folder / f"{name}.png").read_bytes() != charts[name][0]:
                differences.append(f"{shown}/{name}.png: the image differs from the regenerated one")  # fmt: skip
    return differences
