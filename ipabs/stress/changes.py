"""What a stress changed: the stressed scenario against the base case, value by value, so that a
preset is described by what it did to this deal (e.g. licensees[*].annual_default_probability
0.015-0.04 -> 0.03-0.08), and a stress that changed nothing is seen to.

Also whether a pool preset applies to a scenario at all (an income haircut on a pool without
income does nothing), read from the same comparison rather than from a list kept by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ipabs.report.i18n import N_
from ipabs.scenario.model import Scenario
from ipabs.stress.apply import _default

#: the columns of describe_changes; changes_frame puts `stress` first
COLUMNS = (
    "key",
    "changed_values",
    "kind",
    "from_min",
    "from_max",
    "to_min",
    "to_max",
    "from_text",
    "to_text",
)
#: the level at which preset_applies applies a preset (within every preset's range)
PROBE_LEVEL = 0.5
#: why a preset changes nothing, by preset (the finding itself comes from the comparison)
NOT_APPLICABLE = {
    "default_multiplier": N_(
        "Not applicable: no licensee, loan or revolving limit has a default probability between 0 and 1."
    ),
    "income_haircut": N_("Not applicable: no asset of the pool has income."),
    "decay_increase": N_("Not applicable: the pool has no assets."),
    "recovery_cut": N_(
        "Not applicable: nothing recovers (no licensee recovery, no income of rights licensed again, no loan disposal proceeds)."
    ),
    "correlation_increase": N_("Not applicable: nothing loads on a factor below a loading of 1."),
}
#: what a preset that applies changes; {keys} are the changed keys (scenario key paths)
APPLIES = N_("Applies: changes {keys}.")
#: an income or growth stress whose assets are all collateral only (no licensee)
APPLIES_TO_PLEDGES = N_(
    "Applies to the pledged rights only: changes {keys}, which sets their value when a loan defaults, so its recovery; the pool has no licence income."
)
TEXT_VALUES_SHOWN = 5


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaves(a: Any, b: Any, path: tuple) -> Iterator[tuple[tuple, Any, Any]]:
    """(path, before, after) of every leaf that differs; an asset's unset key takes its IP type's
    default (as a stress changes it), lists of one length are compared item by item."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*a, *b]):
            x, y = a.get(key), b.get(key)
            if x is None:
                x = _default(a, key)
            if y is None:
                y = _default(b, key)
            yield from _leaves(x, y, (*path, key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _leaves(x, y, (*path, i))
    elif a != b or (type(a) is not type(b) and not (_is_number(a) and _is_number(b))):
        yield path, a, b


def _read(path: tuple, after: dict) -> bool:
    """False for a value the model does not read, given the rest of the (stressed) scenario: a
    right's relicensing_share when it is never licensed again (no licensee, or no
    relicensing_months: its income ends at the licensee's default). Such a change is not shown,
    so that a recovery cut on a pool where nothing recovers is seen to do nothing."""
    if len(path) == 3 and path[0] == "assets" and path[2] == "relicensing_share":
        asset = after["assets"][path[1]]
        return asset.get("licensee") is not None and asset.get("relicensing_months") is not None
    return True


def _pattern(path: tuple) -> str:
    """('licensees', 2, 'recovery_rate') -> 'licensees[*].recovery_rate'."""
    return _join(path, lambda node, i: "*")


def _selector(path: tuple, data: dict) -> str:
    """The path with each list item named by its id or name (credit_support[1] has neither)."""

    def name(node: Any, i: int) -> str:
        item = node[i] if isinstance(node, list) and 0 <= i < len(node) else None
        if isinstance(item, dict):
            for key in ("id", "name"):
                if isinstance(item.get(key), str):
                    return f"{key}={item[key]}"
        return str(i)

    return _join(path, name, data)


def _join(path: tuple, item, data: Any = None) -> str:
    out, node = "", data
    for part in path:
        if isinstance(part, int):
            out += f"[{item(node, part)}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _text(value: Any) -> str:
    """A changed value that is not a number, as text: "" for unset, true/false as in TOML."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if _is_number(value):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _texts(values: list) -> str:
    shown = list(dict.fromkeys(_text(v) for v in values))
    more = ", ..." if len(shown) > TEXT_VALUES_SHOWN else ""
    return ", ".join(shown[:TEXT_VALUES_SHOWN]) + more


def describe_changes(base: Scenario, stressed: Scenario) -> pd.DataFrame:
    """One row per changed key, in the scenario's key order. Items of lists that change the same
    key make one row, keyed with [*] (licensees[*].annual_default_probability), with the count
    of values changed (`changed_values`); a key changed on one item keeps that item's selector
    ([id=...] or [name=...], else its index). Numbers: from_min, from_max (the values before, over the items changed) and to_min,
    to_max (after), kind "number". Anything else (true/false, text, unset as ""): from_text,
    to_text (the distinct values, at most five), kind "text". A value the model does not read
    is left out (_read). An empty frame: nothing changed."""
    before = base.model_dump(mode="json")
    after = stressed.model_dump(mode="json")
    groups: dict[str, list[tuple[tuple, Any, Any]]] = {}
    for path, x, y in _leaves(before, after, ()):
        if not _read(path, after):
            continue
        groups.setdefault(_pattern(path), []).append((path, x, y))
    rows = []
    for pattern, leaves in groups.items():
        key = pattern if len(leaves) > 1 else _selector(leaves[0][0], before)
        olds, news = [x for _, x, _ in leaves], [y for _, _, y in leaves]
        numbers = all(_is_number(v) for v in olds + news)
        rows.append(
            {
                "key": key,
                "changed_values": len(leaves),
                "kind": "number" if numbers else "text",
                "from_min": float(min(olds)) if numbers else math.nan,
                "from_max": float(max(olds)) if numbers else math.nan,
                "to_min": float(min(news)) if numbers else math.nan,
                "to_max": float(max(news)) if numbers else math.nan,
                "from_text": "" if numbers else _texts(olds),
                "to_text": "" if numbers else _texts(news),
            }
        )
    return _typed(pd.DataFrame(rows, columns=list(COLUMNS)))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    floats = {c: "float64" for c in ("from_min", "from_max", "to_min", "to_max")}
    texts = {c: str for c in ("key", "kind", "from_text", "to_text")}
    return frame.astype({"changed_values": "int64", **floats, **texts})


def changes_frame(changes: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every stress's changes in one long frame (stress, key, ...), stresses in their order; a
    stress that changed nothing has no row (StressRun.no_effect says so)."""
    frames = [frame.assign(stress=name) for name, frame in changes.items() if len(frame)]
    if not frames:
        empty = _typed(pd.DataFrame(columns=list(COLUMNS)))
        return empty.assign(stress=pd.Series(dtype=str))[["stress", *COLUMNS]]
    return pd.concat(frames, ignore_index=True)[["stress", *COLUMNS]]


def preset_changes(sc: Scenario, preset: str, level: float = PROBE_LEVEL) -> pd.DataFrame:
    """describe_changes of the scenario under a pool preset at `level`."""
    from ipabs.stress.presets import PRESETS

    return describe_changes(sc, PRESETS[preset](sc, level))


def preset_applies(sc: Scenario, preset: str) -> bool:
    """True iff the preset at a non-zero level (PROBE_LEVEL) changes a value of the scenario.
    A change the cash flows then ignore still counts (e.g. the income of a right that is
    neither licensed nor pledged)."""
    return len(preset_changes(sc, preset)) > 0


def applicability(sc: Scenario, presets: tuple[str, ...]) -> pd.DataFrame:
    """One row per preset: preset, applies, changed_keys (the keys it changes at PROBE_LEVEL,
    ", "-joined), changed_values (how many), reason (a msgid of ipabs.report.i18n; its {keys} is
    changed_keys)."""
    rows = []
    for preset in presets:
        changed = preset_changes(sc, preset)
        keys = ", ".join(changed["key"])
        rows.append(
            {
                "preset": preset,
                "applies": bool(len(changed)),
                "changed_keys": keys,
                "changed_values": int(changed["changed_values"].sum()),
                "reason": _reason(sc, preset, changed),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["preset", "applies", "changed_keys", "changed_values", "reason"]
    )
    return frame.astype({"applies": "bool", "changed_values": "int64"})


def _reason(sc: Scenario, preset: str, changed: pd.DataFrame) -> str:
    if not len(changed):
        return NOT_APPLICABLE[preset]
    assets_only = all(k.startswith("assets[") for k in changed["key"])
    if preset in ("income_haircut", "decay_increase") and assets_only:
        if sc.assets and all(a.licensee is None for a in sc.assets):
            return APPLIES_TO_PLEDGES
    return APPLIES
