"""Read a TOML scenario file and validate it into a `Scenario`, or raise one clear `ScenarioError`.

Validation happens here and only here: schema checks (pydantic), then the cross-references and
matrix checks a schema cannot express. Past this boundary the code trusts the scenario.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.model import Scenario, Spec
from ipabs.scenario.tapes import expand_tapes, locate

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_LABEL_KEYS = ("id", "name")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors are reported with line and column."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("file not found", source=path) from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, expected a TOML scenario file", source=path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", source=path) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text (byte {exc.start})", source=path) from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        match = _TOML_POSITION.search(text)
        detail = _TOML_POSITION.sub("", text).strip()
        if match:
            where = f"{path}:{match.group(1)}:{match.group(2)}"
            raise ScenarioError(f"TOML syntax error: {detail}", source=where) from None
        raise ScenarioError(f"TOML syntax error: {detail}", source=path) from None


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario file (tapes are read relative to its folder)."""
    path = Path(path)
    return validate(read_toml(path), source=path, base_dir=path.parent)


def validate(
    data: dict[str, Any], *, source: str | Path = "<scenario>", base_dir: str | Path = "."
) -> Scenario:
    """Validate a scenario given as a plain mapping (as parsed from TOML)."""
    data = copy.deepcopy(data)
    try:
        origins = expand_tapes(data, Path(base_dir))
    except ScenarioError as exc:
        exc.source = exc.source or str(source)
        raise
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = tuple(locate(p, origins) for p in _problems_from_pydantic(exc, data))
        raise _invalid(source, problems) from None
    problems = tuple(locate(p, origins) for p in check_consistency(scenario))
    if problems:
        raise _invalid(source, problems)
    return scenario


def _invalid(source: str | Path, problems: tuple[Problem, ...]) -> ScenarioError:
    n = len(problems)
    return ScenarioError(
        f"invalid scenario ({n} problem{'s' if n != 1 else ''})", source=source, problems=problems
    )


# ---------------------------------------------------------------------------------------------
# pydantic errors -> key paths with "did you mean"


def format_path(loc: Iterable[Any], data: Any = None) -> str:
    """('tranches', 1, 'coupon') -> 'tranches[1].coupon (name = "B")', naming the item if it can."""
    out = ""
    label = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if isinstance(node, dict):
                label = next(
                    (f'{k} = "{node[k]}"' for k in _LABEL_KEYS if isinstance(node.get(k), str)),
                    label,
                )
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return f"{out} ({label})" if label else out


def _problems_from_pydantic(exc: pydantic.ValidationError, data: Any) -> Iterable[Problem]:
    errors = exc.errors()
    failing = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(err["loc"])
        # pydantic adds "tuple too short" on a parent whose items failed; it is noise
        if err["type"] == "too_short" and any(
            len(f) > len(loc) and f[: len(loc)] == loc for f in failing
        ):
            continue
        path = format_path(loc, data)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            key = str(loc[-1])
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = "unknown key"
            msg += f"; did you mean '{hint[0]}'?" if hint else ""
            msg += f" Allowed here: {', '.join(allowed)}" if allowed else ""
            yield Problem(path, msg)
        elif err["type"] == "missing":
            yield Problem(path, "required key is missing")
        else:
            message = err["msg"]
            ctx = err.get("ctx") or {}
            if "expected" in ctx and err["type"] in ("enum", "literal_error"):
                message = f"must be one of {ctx['expected']}"
            yield Problem(path, message, value=err.get("input"), has_value=True)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if (
            not (isinstance(model, type) and issubclass(model, Spec))
            or part not in model.model_fields
        ):
            return []
        model = _inner_model(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, Spec):
        return list(model.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """Unwrap Optional[...] and tuple[X, ...] down to a model class, if there is one."""
    if isinstance(annotation, type) and issubclass(annotation, Spec):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------------------------
# checks a schema cannot express


def check_consistency(sc: Scenario) -> Iterable[Problem]:
    deal = sc.deal
    if deal.legal_final_date <= deal.closing_date:
        yield Problem(
            "deal.legal_final_date",
            f"must be after deal.closing_date ({deal.closing_date})",
            value=deal.legal_final_date,
            has_value=True,
        )
    yield from _duplicates("factors.names", sc.factors.names)
    yield from _check_correlation(sc)
    yield from _duplicates_of("assets", [a.id for a in sc.assets], "id")
    yield from _duplicates_of("licensees", [lic.id for lic in sc.licensees], "id")
    yield from _duplicates_of("tranches", [t.name for t in sc.tranches], "name")
    yield from _duplicates_of("tranches", [t.rank for t in sc.tranches], "rank")

    yield from _check_copula(sc)
    licensee_ids = [lic.id for lic in sc.licensees]
    for i, asset in enumerate(sc.assets):
        yield from _check_asset_terms(i, asset, deal.closing_date)
        if asset.licensee not in licensee_ids:
            yield _unknown_reference(
                f'assets[{i}].licensee (id = "{asset.id}")',
                asset.licensee,
                licensee_ids,
                "licensee",
            )
        if asset.factor is not None and asset.factor not in sc.factors.names:
            yield _unknown_reference(
                f'assets[{i}].factor (id = "{asset.id}")', asset.factor, sc.factors.names, "factor"
            )
    for i, lic in enumerate(sc.licensees):
        if lic.factor is not None and lic.factor not in sc.factors.names:
            yield _unknown_reference(
                f'licensees[{i}].factor (id = "{lic.id}")', lic.factor, sc.factors.names, "factor"
            )

    for i, tranche in enumerate(sc.tranches):
        if not tranche.amortisation:
            continue
        base = f"tranches[{i}].amortisation"
        dates = [s.date for s in tranche.amortisation]
        for j, d in enumerate(dates):
            if not deal.closing_date < d <= deal.legal_final_date:
                yield Problem(
                    f"{base}[{j}].date",
                    f"must be after closing ({deal.closing_date}) and no later than legal final ({deal.legal_final_date})",
                    value=d,
                    has_value=True,
                )
            if j and d <= dates[j - 1]:
                yield Problem(f"{base}[{j}].date", "dates must increase", value=d, has_value=True)
        total = sum(s.principal for s in tranche.amortisation)
        if total > tranche.balance * (1 + 1e-12):
            yield Problem(
                base,
                f"scheduled principal adds up to {total:,.2f}, more than the balance {tranche.balance:,.2f}",
            )


def _check_copula(sc: Scenario) -> Iterable[Problem]:
    f = sc.factors
    if f.copula == "student_t" and f.degrees_of_freedom is None:
        yield Problem(
            "factors.degrees_of_freedom", "required key is missing: the student_t copula needs it"
        )
    if f.copula == "gaussian" and f.degrees_of_freedom is not None:
        yield Problem(
            "factors.degrees_of_freedom",
            'only used with copula = "student_t"; remove it or set the copula',
            value=f.degrees_of_freedom,
            has_value=True,
        )


def _check_asset_terms(i: int, asset: Any, closing: Any) -> Iterable[Problem]:
    from ipabs.pool.ip_types import IP_TYPE_DEFAULTS

    where = f"assets[{i}]"
    label = f'(id = "{asset.id}")'
    term = asset.legal_term_years or IP_TYPE_DEFAULTS[asset.type].legal_term_years
    if asset.remaining_legal_life_years is None and term is not None:
        if asset.protection_start_date is None:
            yield Problem(
                f"{where} {label}",
                f"a {asset.type.value} has a legal term: give remaining_legal_life_years, or protection_start_date "
                f"(the term of {term:g} years runs from it)",
            )
        elif asset.protection_start_date > closing:
            yield Problem(
                f"{where}.protection_start_date {label}",
                f"must be on or before the closing date ({closing})",
                value=asset.protection_start_date,
                has_value=True,
            )
        elif (closing - asset.protection_start_date).days / 365.0 >= term and not _renewable(asset):
            yield Problem(
                f"{where}.protection_start_date {label}",
                f"the {term:g}-year term has ended before closing ({closing})",
                value=asset.protection_start_date,
                has_value=True,
            )
    if (
        asset.type.value == "data_rights"
        and asset.licence_term_years is None
        and asset.remaining_legal_life_years is None
    ):
        yield Problem(
            f"{where} {label}",
            "data rights have no statutory term: give licence_term_years (the contract's term)",
        )
    if asset.growth_rate is not None and asset.growth_curve is not None:
        yield Problem(f"{where}.growth_curve {label}", "give growth_rate or growth_curve, not both")
    if (asset.cliff_date is None) != (asset.cliff_severity == 0.0):
        yield Problem(f"{where} {label}", "cliff_date and a cliff_severity above 0 go together")
    elif asset.cliff_date is not None and asset.cliff_date <= closing:
        yield Problem(
            f"{where}.cliff_date {label}",
            f"must be after closing ({closing})",
            value=asset.cliff_date,
            has_value=True,
        )


def _renewable(asset: Any) -> bool:
    from ipabs.pool.ip_types import IP_TYPE_DEFAULTS

    d = IP_TYPE_DEFAULTS[asset.type]
    return (asset.renewal_term_years or d.renewal_term_years) is not None


def _duplicates(path: str, values: Iterable[Any]) -> Iterable[Problem]:
    seen: set[Any] = set()
    for i, v in enumerate(values):
        if v in seen:
            yield Problem(f"{path}[{i}]", "duplicate; each must be unique", value=v, has_value=True)
        seen.add(v)


def _duplicates_of(table: str, values: list[Any], key: str) -> Iterable[Problem]:
    first: dict[Any, int] = {}
    for i, v in enumerate(values):
        if v in first:
            yield Problem(
                f"{table}[{i}].{key}",
                f"duplicate {key}; already used by {table}[{first[v]}]",
                value=v,
                has_value=True,
            )
        else:
            first[v] = i


def _unknown_reference(path: str, value: str, known: Iterable[str], what: str) -> Problem:
    known = list(known)
    hint = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    msg = f"no {what} has this id"
    msg += f"; did you mean '{hint[0]}'?" if hint else ""
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    msg += f" Known {what}s: {shown}"
    return Problem(path, msg, value=value, has_value=True)


def _check_correlation(sc: Scenario) -> Iterable[Problem]:
    corr = sc.factors.correlation
    if corr is None:
        return
    n = len(sc.factors.names)
    path = "factors.correlation"
    if len(corr) != n or any(len(row) != n for row in corr):
        yield Problem(
            path, f"must be a {n}x{n} matrix (one row and column per factor in factors.names)"
        )
        return
    m = np.asarray(corr, dtype=float)
    for i in range(n):
        if m[i, i] != 1.0:
            yield Problem(
                f"{path}[{i}][{i}]", "diagonal entries must be 1", value=m[i, i], has_value=True
            )
        for j in range(n):
            if not -1.0 <= m[i, j] <= 1.0:
                yield Problem(
                    f"{path}[{i}][{j}]", "must lie in [-1, 1]", value=m[i, j], has_value=True
                )
            elif j > i and m[i, j] != m[j, i]:
                yield Problem(
                    f"{path}[{i}][{j}]",
                    f"matrix must be symmetric; [{j}][{i}] is {m[j, i]}",
                    value=m[i, j],
                    has_value=True,
                )
    if np.allclose(m, m.T):
        smallest = float(np.linalg.eigvalsh(m).min())
        if smallest < -1e-10:
            yield Problem(
                path,
                f"not positive semi-definite (smallest eigenvalue {smallest:.4g}); no set of factors can have these correlations",
            )
