"""Read a TOML scenario file and validate it into a `Scenario`, or raise one clear `ScenarioError`.

Validation happens here and only here: schema checks (pydantic), then the cross-references and
matrix checks a schema cannot express. Past this boundary the code trusts the scenario.
"""

from __future__ import annotations

import contextvars
import copy
import datetime as dt
import difflib
import json
import math
import re
import tomllib
import typing
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.base import DISPLAY_NAME_PATTERN, IDENTIFIER_PATTERN, MAX_AMOUNT, Names
from ipabs.scenario.check_contracts import check_contracts, leased_asset_ids
from ipabs.scenario.check_conventions import check_conventions, pool_start_words
from ipabs.scenario.check_disposal import check_disposal
from ipabs.scenario.check_structure import check_structure
from ipabs.scenario.model import Scenario, Spec, layer_names, nested_specs, subsidy_names
from ipabs.scenario.sources import check_sources
from ipabs.scenario.tapes import MAX_TABLE_ROWS, TAPE_KINDS, expand_tapes, locate, read_limited

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_LABEL_KEYS = ("id", "name", "rating")
#: the largest scenario file read, in bytes (a pool bigger than this belongs in tapes)
MAX_SCENARIO_BYTES = 64 * 2**20
#: the deepest nesting of tables and arrays accepted; the format itself needs at most 4 levels
MAX_NESTING = 32
#: the longest deal: legal final at most this many years after closing
MAX_DEAL_YEARS = 100
#: the closing dates accepted (date arithmetic past the year 9999 would overflow)
CLOSING_RANGE = (dt.date(1900, 1, 1), dt.date(2200, 12, 31))
#: problems collected before validation stops looking for more
MAX_PROBLEMS = 1000
#: "did you mean" hints are looked for among at most this many known ids (the search is linear)
HINT_LIMIT = 2000
#: ... and for the first this many unknown references of a validation (the ones a message shows)
MAX_HINTS = 50
_hints_left: contextvars.ContextVar[int] = contextvars.ContextVar("hints_left", default=MAX_HINTS)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors are reported with line and column."""
    path = Path(path)
    return parse_toml(read_limited(path, MAX_SCENARIO_BYTES, "a TOML scenario file"), path)


def parse_toml(raw: bytes, path: str | Path) -> dict[str, Any]:
    """Parse a TOML file's bytes; an error names `path` (with line and column for a syntax
    error)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ScenarioError(_too_deep(), source=path) from None
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
    check_nesting(data, source=path)
    return data


def _too_deep() -> str:
    return (
        f"tables or arrays nested more than {MAX_NESTING} levels deep (a scenario needs at most 4)"
    )


def check_nesting(data: Any, *, source: str | Path = "<scenario>") -> None:
    """Refuse data nested deeper than MAX_NESTING levels (walked without recursion), so that no
    later step can run out of stack on it."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ScenarioError(_too_deep(), source=source)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list | tuple))


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario file (tapes and a rating table file are read relative to
    its folder)."""
    path = Path(path)
    return validate(read_toml(path), source=path, base_dir=path.parent)


def validate(
    data: dict[str, Any], *, source: str | Path = "<scenario>", base_dir: str | Path = "."
) -> Scenario:
    """Validate a scenario given as a plain mapping (as parsed from TOML).

    Cheap checks come first: the shape (a table, nested at most MAX_NESTING deep) and the size
    of each table (at most MAX_TABLE_ROWS entries, tapes included), so that a huge scenario is
    refused before the schema and consistency checks, which are linear in its size."""
    if not isinstance(data, dict):
        raise ScenarioError(
            f"a scenario is a table of keys (a dict), not {type(data).__name__}", source=source
        )
    check_nesting(data, source=source)
    data = copy.deepcopy(data)
    try:
        origins = expand_tapes(data, Path(base_dir))
    except ScenarioError as exc:
        exc.source = exc.source or str(source)
        raise
    from ipabs.scenario.rating_file import expand_rating_file

    expand_rating_file(data, Path(base_dir), source)
    _check_table_sizes(data, source)
    _default_buyer_class(data)
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = _first(locate(p, origins) for p in problems_from_pydantic(exc, data))
        raise _invalid(source, problems) from None
    problems = _first(locate(p, origins) for p in check_consistency(scenario))
    if problems:
        raise _invalid(source, problems)
    return scenario


def _check_table_sizes(data: dict[str, Any], source: str | Path) -> None:
    problems = tuple(
        Problem(kind, f"{len(data[kind]):,} entries, above the limit of {MAX_TABLE_ROWS:,}")
        for kind in TAPE_KINDS
        if isinstance(data.get(kind), list) and len(data[kind]) > MAX_TABLE_ROWS
    )
    if problems:
        raise ScenarioError("scenario too large (tapes included)", source=source, problems=problems)


def _first(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """At most MAX_PROBLEMS + 1 problems (the extra one only tells that there are more)."""
    out = []
    for p in problems:
        out.append(p)
        if len(out) > MAX_PROBLEMS:
            break
    if hasattr(problems, "close"):
        problems.close()  # end the checks now (and run their cleanup)
    return tuple(out)


def _invalid(
    source: str | Path, problems: tuple[Problem, ...], what: str = "invalid scenario"
) -> ScenarioError:
    n = len(problems)
    if n > MAX_PROBLEMS:
        count = f"more than {MAX_PROBLEMS} problems"
        problems = problems[:MAX_PROBLEMS]
    else:
        count = f"{n} problem{'s' if n != 1 else ''}"
    return ScenarioError(f"{what} ({count})", source=source, problems=problems)


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
            # a key that is not a bare word (a [sources] entry's key path) is quoted
            key = str(part) if _BARE_KEY.match(str(part)) else json.dumps(part, ensure_ascii=False)
            out += f".{key}" if out else key
            node = node.get(part) if isinstance(node, dict) else None
    return f"{out} ({label})" if label else out


def problems_from_pydantic(
    exc: pydantic.ValidationError, data: Any, root: Any = None
) -> Iterable[Problem]:
    errors = exc.errors()
    failing = [_clean_loc(tuple(e["loc"]), root)[0] for e in errors]
    for err in errors:
        loc, model = _clean_loc(tuple(err["loc"]), root)
        # pydantic adds "tuple too short" on a parent whose items failed; it is noise
        if err["type"] == "too_short" and any(
            len(f) > len(loc) and f[: len(loc)] == loc for f in failing
        ):
            continue
        path = format_path(loc, data)
        ctx = err.get("ctx") or {}
        if err["type"] == "extra_forbidden":
            allowed = list(model.model_fields) if model is not None else []
            key = str(loc[-1])
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = "unknown key"
            msg += f"; did you mean '{hint[0]}'?" if hint else ""
            msg += f" Allowed here: {', '.join(allowed)}" if allowed else ""
            yield Problem(path, msg)
        elif err["type"] == "missing":
            yield Problem(path, "required key is missing")
        elif err["type"] == "union_tag_invalid":
            key = str(ctx.get("discriminator", "kind")).strip("'")
            yield Problem(
                format_path((*loc, key), data),
                f"must be one of {ctx.get('expected_tags')}",
                ctx.get("tag"),
                True,
            )
        else:
            message = err["msg"]
            if "expected" in ctx and err["type"] in ("enum", "literal_error"):
                message = f"must be one of {ctx['expected']}"
            elif err["type"] == "bool_type":
                message = "must be true or false"
            elif (
                err["type"] == "string_pattern_mismatch"
                and ctx.get("pattern") == IDENTIFIER_PATTERN
            ):
                message = (
                    "must use only ASCII letters, digits, '_', '.' and '-' (an id for files, "
                    "JSON and key paths)"
                )
                if err["loc"][:1] == ("tranches",) and err["loc"][-1] == "name":
                    message += "; a class's name as tables and charts show it (Chinese too) goes in display_name"
            elif (
                err["type"] == "string_pattern_mismatch"
                and ctx.get("pattern") == DISPLAY_NAME_PATTERN
            ):
                message = (
                    "must not contain control characters (a line break, a tab) or "
                    "bidirectional overrides (U+202A-U+202E, U+2066-U+2069)"
                )
            elif err["type"] == "less_than_equal" and ctx.get("le") == MAX_AMOUNT:
                message = (
                    f"must be at most {MAX_AMOUNT:.0e} ({MAX_AMOUNT:_}), the largest amount a "
                    "scenario may give, in the deal's currency units"
                )
            yield Problem(path, message, value=err.get("input"), has_value=True)


def _clean_loc(loc: tuple[Any, ...], root: Any = None) -> tuple[tuple[Any, ...], Any]:
    """Drop the tags pydantic inserts for tagged unions (loss_sharing[0].guarantee.share) and
    return the cleaned location with the model that holds its last key."""
    model: Any = root or Scenario
    holder: Any = model
    clean: list[Any] = []
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            continue
        if isinstance(model, list):  # a tagged union: this part names the variant
            variant = next((m for m in model if _tag(m) == part), None)
            if variant is not None:
                model = variant
                continue
            model = None
        clean.append(part)
        holder = model
        if isinstance(model, type) and issubclass(model, Spec) and part in model.model_fields:
            model = _inner_models(model.model_fields[part].annotation)
        else:
            model = None
    return tuple(clean), holder if isinstance(holder, type) else None


def _tag(model: type[Spec]) -> Any:
    field = model.model_fields.get("kind")
    args = typing.get_args(field.annotation) if field is not None else ()
    return args[0] if args else None


def _inner_models(annotation: Any) -> Any:
    """The model class (or list of union variants) a field holds."""
    found = nested_specs(annotation)
    if not found:
        return None
    return found[0] if len(found) == 1 else found


# ---------------------------------------------------------------------------------------------
# checks a schema cannot express


def _rating_problems(sc: Scenario) -> Iterator[Problem]:
    """Ratings that say what they are: the built-in table is a global scale (Moody's corporate
    default rates), so Chinese sf labels on it are refused; timely interest is a probability."""
    r = sc.ratings
    if r.labels == "china" and r.table is None:
        yield Problem(
            "ratings.labels",
            "the built-in table is a global-scale corporate default-rate equivalent (Moody's "
            "global default rates), not a Chinese domestic sf scale: relabelling it AAAsf, "
            "AA+sf, ... would read a global grade as a domestic one. Give a domestic-scale "
            "table, in [ratings] (metric, tenors, table) or in a shared file (table_file; "
            'docs/model.md 5.1), to use labels = "china"',
            "china",
            True,
        )
    if r.basis == "timely_interest" and r.table is not None and r.metric == "expected_loss":
        yield Problem(
            "ratings.basis",
            "timely_interest rates the probability of any interest shortfall or a principal "
            "loss, so it needs a loss_probability table (this one is expected_loss)",
            "timely_interest",
            True,
        )


def check_consistency(sc: Scenario) -> Iterator[Problem]:
    """Cross-references and rules a schema cannot express; linear in the scenario's size (ids
    are looked up in sets, never in lists, and "did you mean" is searched for a few only)."""
    token = _hints_left.set(MAX_HINTS)
    try:
        yield from _check_consistency(sc)
    finally:
        _hints_left.reset(token)


def _check_consistency(sc: Scenario) -> Iterable[Problem]:
    deal = sc.deal
    if not CLOSING_RANGE[0] <= deal.closing_date <= CLOSING_RANGE[1]:
        yield Problem(
            "deal.closing_date",
            f"must be from {CLOSING_RANGE[0]} to {CLOSING_RANGE[1]}",
            value=deal.closing_date,
            has_value=True,
        )
        return  # the other checks do date arithmetic from closing
    if deal.legal_final_date <= deal.closing_date:
        yield Problem(
            "deal.legal_final_date",
            f"must be after deal.closing_date ({deal.closing_date})",
            value=deal.legal_final_date,
            has_value=True,
        )
    elif (deal.legal_final_date - deal.closing_date).days > MAX_DEAL_YEARS * 365.25:
        yield Problem(
            "deal.legal_final_date",
            f"must be at most {MAX_DEAL_YEARS} years after deal.closing_date ({deal.closing_date})",
            value=deal.legal_final_date,
            has_value=True,
        )
    else:
        yield from check_conventions(deal, MAX_DEAL_YEARS)
    yield from _duplicates("factors.names", sc.factors.names)
    yield from _check_correlation(sc)
    yield from _duplicates_of("assets", [a.id for a in sc.assets], "id")
    yield from _duplicates_of("licensees", [lic.id for lic in sc.licensees], "id")
    yield from _duplicates_of("tranches", [t.name for t in sc.tranches], "name")
    yield from _ambiguous_display_names(sc)
    yield from _rating_problems(sc)
    lowest = max(t.rank for t in sc.tranches)
    subordinated = [i for i, t in enumerate(sc.tranches) if t.rank == lowest]
    if len(subordinated) > 1 and len(sc.tranches) > 1:
        yield Problem(
            f"tranches[{subordinated[1]}].rank",
            f"the lowest rank takes the residual and must hold one class; already used by tranches[{subordinated[0]}]",
            lowest,
            True,
        )

    yield from _check_copula(sc)
    tranche_names = Names(t.name for t in sc.tranches)
    yield from check_importance(sc, tranche_names)
    factor_names = Names(sc.factors.names)
    for i, tranche in enumerate(sc.tranches):
        where = f'tranches[{i}] (name = "{tranche.name}")'
        if tranche.coupon_type == "lpr":
            key, words = _LPR_PATHS[tranche.lpr_tenor]
            if not getattr(sc.rates, key):
                yield Problem(
                    f"rates.{key}",
                    f"required key is missing: tranche {tranche.name} floats on the {words}",
                )
        else:
            for field, default in (("lpr_tenor", "1y"), ("repricing", "each_period")):
                if getattr(tranche, field) != default:
                    yield Problem(
                        f'tranches[{i}].{field} (name = "{tranche.name}")',
                        'a fixed coupon does not reprice: this key goes with coupon_type = "lpr"',
                        getattr(tranche, field),
                        True,
                    )
        if (tranche.step_up_date is None) != (tranche.step_up_coupon is None):
            yield Problem(where, "step_up_date and step_up_coupon go together")
        if tranche.step_up_date is not None and tranche.coupon_type == "lpr":
            yield Problem(
                where, "a step-up applies to a fixed coupon; an LPR coupon moves with the LPR"
            )
    fee_names = Names(sc.fee_names())
    for i, support in enumerate(sc.credit_support):
        if not support.covers and not support.covers_fees:
            yield Problem(
                f"credit_support[{i}].covers",
                "required key is missing: name the classes (covers) or fees (covers_fees) it covers",
            )
        for j, name in enumerate(support.covers):
            if name not in tranche_names:
                yield _unknown_reference(
                    f"credit_support[{i}].covers[{j}]", name, tranche_names, "tranche"
                )
        for j, name in enumerate(support.covers_fees):
            if name not in fee_names:
                yield _unknown_reference(
                    f"credit_support[{i}].covers_fees[{j}]", name, fee_names, "fee"
                )
        yield from _check_factor(f"credit_support[{i}].factor", support.factor, factor_names)
    yield from check_structure(sc, _unknown_reference, _duplicates_of)
    licensee_ids = Names(lic.id for lic in sc.licensees)
    pledged = {a for loan in sc.loans for a in loan.pledged_assets} | leased_asset_ids(sc)
    yield from _check_loans(sc, factor_names)
    yield from check_disposal(sc, _unknown_reference)
    yield from check_contracts(sc, _unknown_reference, _check_factor)
    if not sc.has_claims() and not any(a.licensee for a in sc.assets):
        yield Problem(
            "assets",
            "the pool is empty: give assets with a licensee, or loans (leases, receivables)",
        )
    for i, asset in enumerate(sc.assets):
        yield from _check_asset_terms(i, asset, deal)
        if asset.licensee is None:
            if asset.id not in pledged:
                yield Problem(
                    f'assets[{i}].licensee (id = "{asset.id}")',
                    "required key is missing: an asset without a licensee must be pledged by a loan (or leased by a lease)",
                )
        elif asset.id in pledged:
            yield Problem(
                f'assets[{i}].licensee (id = "{asset.id}")',
                "a pledged asset's income belongs to its borrower: remove the licensee or the pledge",
                value=asset.licensee,
                has_value=True,
            )
        elif asset.licensee not in licensee_ids:
            yield _unknown_reference(
                f'assets[{i}].licensee (id = "{asset.id}")',
                asset.licensee,
                licensee_ids,
                "licensee",
            )
        yield from _check_factor(
            f'assets[{i}].factor (id = "{asset.id}")', asset.factor, factor_names
        )
    for i, lic in enumerate(sc.licensees):
        yield from _check_factor(
            f'licensees[{i}].factor (id = "{lic.id}")', lic.factor, factor_names
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
    yield from check_sources(sc)


_LPR_PATHS = {"1y": ("lpr_1y", "1-year LPR"), "5y": ("lpr_5y", "5-year LPR")}


def _check_loans(sc: Scenario, factor_names: Names) -> Iterable[Problem]:
    yield from _duplicates_of("loans", [loan.id for loan in sc.loans], "id")
    asset_ids = Names(a.id for a in sc.assets)
    closing, at = sc.deal.pool_start, pool_start_words(sc.deal)  # the pool's time zero
    for i, loan in enumerate(sc.loans):
        where, label = f"loans[{i}]", f'(id = "{loan.id}")'
        if loan.rate_type == "fixed" and loan.rate is None:
            yield Problem(
                f"{where}.rate {label}", "required key is missing: a fixed-rate loan needs its rate"
            )
        if loan.rate_type == "lpr":
            if loan.rate is not None:
                yield Problem(
                    f"{where}.rate {label}", "an LPR loan takes spread, not rate", loan.rate, True
                )
            key, words = _LPR_PATHS[loan.reference_tenor]
            if not getattr(sc.rates, key):
                auto = loan.lpr_tenor == "auto" and key == "lpr_5y"
                why = (
                    f" (lpr_tenor auto: a term of {loan.contract_term_years:g} years, over 5)"
                    if auto
                    else ""
                )
                yield Problem(
                    f"rates.{key}",
                    f"required key is missing: loan {loan.id} floats on the {words}{why}",
                )
        else:
            for field, default in (("lpr_tenor", "auto"), ("repricing", "each_period")):
                if getattr(loan, field) != default:
                    yield Problem(
                        f"{where}.{field} {label}",
                        'a fixed-rate loan does not reprice: this key goes with rate_type = "lpr"',
                        getattr(loan, field).value,
                        True,
                    )
        yield from _check_seasoning(sc, loan, where, label)
        if (loan.amortisation == "custom") != (loan.schedule is not None):
            yield Problem(
                f"{where}.schedule {label}",
                'a schedule goes with amortisation = "custom" and only with it',
            )
        has_term = loan.term_years is not None or None not in (
            loan.origination_date,
            loan.original_term_years,
        )
        if loan.schedule and has_term:
            from ipabs.pool.seasoning import maturity_date

            maturity = maturity_date(loan, closing)
            for j, item in enumerate(loan.schedule):
                if not closing < item.date <= maturity:
                    yield Problem(
                        f"{where}.schedule[{j}].date {label}",
                        f"must be after {at} and no later than maturity ({maturity})",
                        item.date,
                        True,
                    )
            if sum(x.principal for x in loan.schedule) > loan.balance * (1 + 1e-12):
                yield Problem(
                    f"{where}.schedule {label}",
                    "scheduled principal adds up to more than the balance",
                )
        if loan.collateral_value is not None and loan.ltv is not None:
            yield Problem(f"{where} {label}", "give collateral_value or ltv, not both")
        if loan.collateral_value is None and loan.ltv is None and not loan.pledged_assets:
            yield Problem(
                f"{where}.pledged_assets {label}",
                "a loan needs pledged_assets, collateral_value or ltv to value its pledge",
            )
        for j, asset_id in enumerate(loan.pledged_assets):
            if asset_id not in asset_ids:
                yield _unknown_reference(
                    f"{where}.pledged_assets[{j}] {label}", asset_id, asset_ids, "asset"
                )
        yield from _check_factor(f"{where}.factor {label}", loan.factor, factor_names)
    for i, layer in enumerate(sc.loss_sharing):
        yield from _check_factor(
            f"loss_sharing[{i}].factor", getattr(layer, "factor", None), factor_names
        )
    yield from _check_roll_rates(sc)
    if sc.loss_sharing and not sc.has_claims():
        yield Problem("loss_sharing", "loss-sharing layers apply to loans, and there are none")
    if sc.interest_subsidies and not sc.loans:
        yield Problem("interest_subsidies", "interest subsidies apply to loans, and there are none")
    yield from _duplicates("interest_subsidies", subsidy_names(sc.interest_subsidies))
    yield from _check_layers(sc)


def _check_layers(sc: Scenario) -> Iterable[Problem]:
    """Layer names are unique; a re-guarantee names an earlier guarantee layer; the shares of
    the layers that share the original loss (pro rata) add up to at most 1."""
    names = layer_names(sc.loss_sharing)
    yield from _duplicates("loss_sharing", names)
    guarantees: list[str] = []
    for i, layer in enumerate(sc.loss_sharing):
        if layer.kind == "re_guarantee":
            if layer.guarantee not in guarantees:
                later = [
                    n for n, x in zip(names, sc.loss_sharing, strict=True) if x.kind == "guarantee"
                ]
                if layer.guarantee in later:
                    yield Problem(
                        f"loss_sharing[{i}].guarantee",
                        "a re-guarantee comes after the guarantee layer it re-guarantees; "
                        "move it below that layer",
                        value=layer.guarantee,
                        has_value=True,
                    )
                else:
                    yield _unknown_reference(
                        f"loss_sharing[{i}].guarantee", layer.guarantee, Names(later),
                        "guarantee layer",
                    )  # fmt: skip
        elif layer.kind == "guarantee":
            guarantees.append(names[i])
    pro_rata = [x.share for x in sc.loss_sharing if getattr(x, "share_of", "") == "original"]
    if sum(pro_rata) > 1.0 + 1e-12:
        yield Problem(
            "loss_sharing[*].share",
            'the shares of the layers with share_of = "original" (pro rata on the whole loss) '
            "add up to more than 1; they can share at most the whole loss (e.g. 0.4 + 0.4 for a "
            "政银担 2:4:4 split, the bank keeping 0.2)",
            value=round(sum(pro_rata), 12),
            has_value=True,
        )


def _check_seasoning(sc: Scenario, loan, where: str, label: str) -> Iterable[Problem]:
    """The term (term_years, or origination and original term: they must agree), the dates of
    a seasoned loan, and its default model (a PD, a PD curve, or a state and [roll_rates])."""
    from ipabs.pool.seasoning import maturity_date

    start, at = sc.deal.pool_start, pool_start_words(sc.deal)
    seasoned = loan.origination_date is not None and loan.original_term_years is not None
    if (loan.origination_date is None) != (loan.original_term_years is None):
        given = "origination_date" if loan.original_term_years is None else "original_term_years"
        missing = "original_term_years" if given == "origination_date" else "origination_date"
        yield Problem(
            f"{where}.{missing} {label}", f"required key is missing: {given} goes with it"
        )
    elif loan.term_years is None and not seasoned:
        yield Problem(
            f"{where}.term_years {label}",
            "required key is missing: give term_years, or origination_date and original_term_years",
        )
    if loan.origination_date is not None and loan.origination_date > start:
        yield Problem(
            f"{where}.origination_date {label}",
            f"must be on or before {at} ({start}): a loan drawn later is not in the pool",
            loan.origination_date,
            True,
        )
    elif seasoned:
        due = maturity_date(loan, start)
        if due <= start:
            yield Problem(
                f"{where}.original_term_years {label}",
                f"the loan matured on {due}, on or before {at} ({start})",
                loan.original_term_years,
                True,
            )
        elif loan.term_years is not None:
            stated = start + dt.timedelta(days=round(loan.term_years * 365))
            if abs((stated - due).days) > 31:
                yield Problem(
                    f"{where}.term_years {label}",
                    f"contradicts origination_date + original_term_years (maturity {due}, "
                    f"{(due - start).days / 365:.3f} years after {at}; term_years gives {stated}): "
                    "give one or make them agree within a month",
                    loan.term_years,
                    True,
                )
    last = loan.last_payment_date
    if last is not None and (
        last > start or (loan.origination_date is not None and last < loan.origination_date)
    ):
        yield Problem(
            f"{where}.last_payment_date {label}",
            f"must be on or before {at} ({start}) and not before origination_date",
            last,
            True,
        )
    state = loan.risk_class is not None or loan.days_past_due is not None
    models = [
        k
        for k, v in (
            ("annual_default_probability", loan.annual_default_probability),
            ("default_probability_curve", loan.default_probability_curve),
            ("risk_class/days_past_due", True if state else None),
        )
        if v is not None
    ]
    if len(models) != 1:
        yield Problem(
            f"{where} {label}",
            "give annual_default_probability or default_probability_curve, or a risk_class or "
            f"days_past_due with [roll_rates] (one of them; given: {', '.join(models) or 'none'})",
        )
    if state and sc.roll_rates is None:
        yield Problem(
            "roll_rates",
            f"required table is missing: loan {loan.id} has a risk_class or days_past_due, "
            "whose default time follows the roll rates",
        )


def _check_roll_rates(sc: Scenario) -> Iterable[Problem]:
    roll = sc.roll_rates
    if roll is None:
        return
    for name, row in zip(
        ("normal", "special_mention", "substandard", "doubtful"), roll.rows(), strict=True
    ):
        if abs(sum(row) - 1.0) > 1e-9:
            yield Problem(
                f"roll_rates.{name}", f"the row adds up to {sum(row):.10g}, not 1", list(row), True
            )


def check_importance(sc: Scenario, tranche_names: Names | None = None) -> Iterable[Problem]:
    """The importance sampling settings against the deal's classes and factors."""
    if tranche_names is None:
        tranche_names = Names(t.name for t in sc.tranches)
    sim = sc.simulation
    target = sim.importance_target
    if sim.importance == "auto" and target is None:
        yield Problem(
            "simulation.importance_target",
            'required key is missing: importance = "auto" aims at one class\'s loss; name it',
        )
    if target is not None and target not in tranche_names:
        yield _unknown_reference("simulation.importance_target", target, tranche_names, "tranche")
    if isinstance(sim.importance, tuple):
        if len(sim.importance) != len(sc.factors.names):
            yield Problem(
                "simulation.importance",
                f"an explicit shift has one number per factor ({len(sc.factors.names)}: "
                f"{', '.join(sc.factors.names)})",
                value=list(sim.importance),
                has_value=True,
            )
        elif not all(math.isfinite(x) and abs(x) <= 8.0 for x in sim.importance):
            yield Problem(
                "simulation.importance",
                "each shift must be a finite number of standard deviations between -8 and 8",
                value=list(sim.importance),
                has_value=True,
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


def _check_asset_terms(i: int, asset: Any, deal: Any) -> Iterable[Problem]:
    """An asset's legal term and cliff against the pool's time zero (closing, or the cut-off)."""
    from ipabs.pool.ip_types import IP_TYPE_DEFAULTS, legal_term_years

    closing, at = deal.pool_start, pool_start_words(deal)

    where = f"assets[{i}]"
    label = f'(id = "{asset.id}")'
    term = asset.legal_term_years or legal_term_years(asset.type, asset.protection_start_date)
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
                f"must be on or before {'the closing date' if at == 'closing' else at} ({closing})",
                value=asset.protection_start_date,
                has_value=True,
            )
        elif (closing - asset.protection_start_date).days / 365.0 >= term and not _renewable(asset):
            yield Problem(
                f"{where}.protection_start_date {label}",
                f"the {term:g}-year term has ended before {at} ({closing})",
                value=asset.protection_start_date,
                has_value=True,
            )
    yield from _check_annual_fees(where, label, asset, IP_TYPE_DEFAULTS[asset.type])
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
            f"must be after {at} ({closing})",
            value=asset.cliff_date,
            has_value=True,
        )


def _check_annual_fees(where: str, label: str, asset: Any, d: Any) -> Iterable[Problem]:
    """Who pays the annual fees, the fee reduction and the grant date (docs/model.md 3.4)."""
    if (
        asset.annuities_paid_by is not None
        and "annuities_prepaid" in asset.model_fields_set
        and not asset.annuities_prepaid
    ):
        yield Problem(
            f"{where}.annuities_prepaid {label}",
            "annuities_paid_by keeps the annual fees paid (no lapse): remove annuities_prepaid = false, "
            "or annuities_paid_by to let the right lapse",
            value=False,
            has_value=True,
        )
    if asset.fee_reduction > 0.0:
        has_fee = (
            asset.annual_fee is not None or d.annual_fee > 0.0 or d.annual_fee_schedule is not None
        )
        pays = asset.annuities_paid_by or ("deal" if asset.annuities_prepaid else None)
        if not has_fee:
            yield Problem(
                f"{where}.fee_reduction {label}",
                f"a {asset.type.value} has no annual fee to reduce",
                value=asset.fee_reduction,
                has_value=True,
            )
        elif pays != "deal":
            yield Problem(
                f"{where}.fee_reduction {label}",
                'only used when the deal pays the annual fees (annuities_prepaid = true or annuities_paid_by = "deal")',
                value=asset.fee_reduction,
                has_value=True,
            )
        elif asset.grant_date is None:
            yield Problem(
                f"{where}.grant_date {label}",
                "required key is missing: the fee reduction runs for the six patent years from the year of grant",
            )
    if (
        asset.grant_date is not None
        and asset.protection_start_date is not None
        and asset.grant_date < asset.protection_start_date
    ):
        yield Problem(
            f"{where}.grant_date {label}",
            f"must be on or after protection_start_date, the filing date ({asset.protection_start_date})",
            value=asset.grant_date,
            has_value=True,
        )


def _renewable(asset: Any) -> bool:
    from ipabs.pool.ip_types import IP_TYPE_DEFAULTS

    d = IP_TYPE_DEFAULTS[asset.type]
    return (asset.renewal_term_years or d.renewal_term_years) is not None


def _check_factor(path: str, factor: str | None, factor_names: Names) -> Iterable[Problem]:
    """A factor reference names one of factors.names (None means the first factor)."""
    if factor is not None and factor not in factor_names:
        yield _unknown_reference(path, factor, factor_names, "factor")


def _duplicates(path: str, values: Iterable[Any]) -> Iterable[Problem]:
    seen: set[Any] = set()
    for i, v in enumerate(values):
        if v in seen:
            yield Problem(f"{path}[{i}]", "duplicate; each must be unique", value=v, has_value=True)
        seen.add(v)


def _ambiguous_display_names(sc: Scenario) -> Iterable[Problem]:
    """Tables and charts label classes by display name (else name): two must not look alike."""
    for lang, key in ((None, "display_name"), ("zh", "display_name_zh")):
        shown = sc.display_names(lang)
        first: dict[str, int] = {}
        for i, t in enumerate(sc.tranches):
            label = shown[t.name]
            j = first.setdefault(label, i)
            if j == i:  # class ids are unique, so two equal labels involve a display name
                continue
            named = [k for k in (key, "display_name") if getattr(t, k)]
            where = named[0] if named else "name"
            pages = " (Chinese pages)" if lang else ""
            yield Problem(
                f"tranches[{i}].{where}",
                f"shows as {label!r} in tables and charts{pages}, as tranches[{j}] does; give "
                f"each class its own {key}",
                value=label,
                has_value=True,
            )


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


def _unknown_reference(path: str, value: str, known: Sequence[str], what: str) -> Problem:
    """`value` names none of `known`: say so, with a "did you mean" when the known ids are few
    enough to search (HINT_LIMIT) and this is one of the first MAX_HINTS unknown references, so
    that a pool of unknown references stays linear to check."""
    hint: list[str] = []
    if len(known) <= HINT_LIMIT and _hints_left.get() > 0:
        _hints_left.set(_hints_left.get() - 1)
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


def _default_buyer_class(data: dict[str, Any]) -> None:
    """A transfer scenario needs no note classes or pricing table: the buyer holds the loans as
    one class, `buyer`, and the deal is discounted at the transfer's flat yield (or 0)."""
    transfer = data.get("transfer")
    if not isinstance(transfer, dict):
        return
    loans = data.get("loans")
    if "tranches" not in data and isinstance(loans, list):
        balances = [_number(x.get("balance", 0)) for x in loans if isinstance(x, dict)]
        # a balance that is not a number is the loan's problem, reported by the schema
        if None not in balances:
            total = sum(balances)
            if math.isfinite(total) and total > 0:
                data["tranches"] = [{"name": "buyer", "balance": total, "coupon": 0.0, "rank": 1}]
    if "pricing" not in data:
        rate = transfer.get("required_yield")
        data["pricing"] = {"discount_rate": rate if isinstance(rate, int | float) else 0.0}


def _number(value: Any) -> float | None:
    """A number as the schema reads one (a tape's cell is text), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return None
    return None
