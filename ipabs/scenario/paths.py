"""Key paths: the one language that names values of a scenario, shared by stress files,
`Scenario.replace` and the [sources] table.

A path is tables and keys joined by dots; a list's items are selected with `[*]` (all),
`[index]` or `[key=value]` (the tables whose key has that value), e.g.
`assets[type=patent].volatility` or `licensees[id=CY01].annual_default_probability`. Paths are
resolved on a scenario as plain data (`model_dump(mode="json")`), so that a selector compares
the text a scenario file would hold.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, NamedTuple

from ipabs.errors import Problem, ScenarioError

_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?$")

#: where a value sits: the keys and list indexes from the top of the scenario down to it
Location = tuple[str | int, ...]
#: "did you mean" for a selector's value is looked for among at most this many distinct values
HINT_LIMIT = 2000


class KeyPathError(ScenarioError):
    """A key path that names no value: a part that is not a key here, or a selector that matches
    nothing. Its one problem is at the `where` the caller gave, with a did-you-mean."""


class Selected(NamedTuple):
    """One value a path selects: `container[key]` is it, at `location`."""

    container: Any
    key: str | int
    location: Location


def _fail(where: str, message: str, value: Any = None, has_value: bool = False) -> KeyPathError:
    return KeyPathError("invalid key path", problems=(Problem(where, message, value, has_value),))


def top_key(path: str) -> str | None:
    """The first key of a path (the top-level table it starts in), or None if it has none."""
    m = _TOKEN.match(path.split(".", 1)[0].strip())
    return m.group(1) if m else None


def _select(node: Any, selector: str, where: str) -> list[int]:
    if not isinstance(node, list):
        raise _fail(where, "[...] selects items of a list, and this is not a list")
    if selector == "*":
        return list(range(len(node)))
    if selector.lstrip("-").isdigit():
        i = int(selector)
        if not 0 <= i < len(node):
            raise _fail(where, f"index out of range: the list has {len(node)} items", i, True)
        return [i]
    if "=" in selector:
        key, value = (x.strip() for x in selector.split("=", 1))
        if not all(isinstance(item, dict) for item in node):
            raise _fail(where, "[key=value] selects tables of a list, and these items are not")
        if node and key not in node[0]:
            hint = difflib.get_close_matches(key, list(node[0]), n=1, cutoff=0.6)
            raise _fail(
                where,
                f"the items have no key {key!r}" + (f"; did you mean '{hint[0]}'?" if hint else ""),
            )
        values = [str(item.get(key)) for item in node]
        chosen = [i for i, v in enumerate(values) if v == value]
        if not chosen:
            known = list(dict.fromkeys(values))
            hint = (
                difflib.get_close_matches(value, known, n=1, cutoff=0.6)
                if len(known) <= HINT_LIMIT
                else []
            )
            raise _fail(
                where,
                f"no item has {key} = {value}" + (f"; did you mean '{hint[0]}'?" if hint else ""),
            )
        return chosen
    raise _fail(where, "a selector is [*], [index] or [key=value]", selector, True)


def resolve(data: dict, path: str, where: str) -> list[Selected]:
    """Every value `path` selects in `data`, in order; a KeyPathError (at `where`) if a part of
    the path is not a key there or a selector matches nothing. `[*]` on an empty list selects
    nothing, without error."""
    nodes: list[tuple[Location, Any]] = [((), data)]
    selected: list[Selected] = []
    for token in path.split("."):
        m = _TOKEN.match(token.strip())
        if m is None:
            raise _fail(
                where, "each part of a path is a key, optionally with [selector]", token, True
            )
        key, selector = m.group(1), m.group(2)
        selected = []
        next_nodes = []
        for location, node in nodes:
            if not isinstance(node, dict):
                raise _fail(where, f"{key!r} is looked up in a value that is not a table")
            if key not in node:
                hint = difflib.get_close_matches(key, list(node), n=1, cutoff=0.6)
                msg = f"no key {key!r} here" + (f"; did you mean '{hint[0]}'?" if hint else "")
                raise _fail(where, msg + f" Keys here: {', '.join(node)}")
            if selector is None:
                selected.append(Selected(node, key, (*location, key)))
                next_nodes.append(((*location, key), node[key]))
            else:
                items = node[key]
                for i in _select(items, selector.strip(), where):
                    selected.append(Selected(items, i, (*location, key, i)))
                    next_nodes.append(((*location, key, i), items[i]))
        nodes = next_nodes
    return selected
