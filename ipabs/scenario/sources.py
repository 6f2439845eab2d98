"""The [sources] table: where a scenario's numbers come from, by key path.

A committee signs off assumptions, not numbers: for each one it asks whether it is a public fact
(an issue announcement, a statute, a rate the central bank published) or an illustrative choice.
The table maps key paths (`ipabs.scenario.paths`) to short citations; a source covers every value
its path selects and everything under them, and the most specific one wins. Sources are text
only: no number depends on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ipabs.errors import Problem, ScenarioError
from ipabs.scenario.paths import KeyPathError, Location, resolve, top_key

if TYPE_CHECKING:
    from ipabs.scenario.model import Scenario

#: the most entries a [sources] table may have (a deal needs a few dozen; each is resolved on the
#: pool, so the bound keeps validation linear in the pool)
MAX_SOURCES = 500
#: the longest citation: a reference to a document, not the document
MAX_CITATION_CHARS = 300
#: the longest key path
MAX_PATH_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_SELECTOR = re.compile(r"\[[^\]]*\]")


def source_key(path: str) -> str:
    """How problems name an entry of the table: `sources."licensees[*].recovery_rate"`."""
    return "sources." + json.dumps(path, ensure_ascii=False)


class SourceIndex:
    """A scenario's sources resolved once, to answer `source_for` for many keys (the key
    assumptions table asks for each of its rows). Only the top-level tables the paths start in
    are turned into plain data."""

    def __init__(self, sc: Scenario):
        self._sc = sc
        # every top-level key, so that a misspelt one gets its did-you-mean; filled when used
        self._data: dict[str, Any] = {name: None for name in type(sc).model_fields}
        del self._data["sources"]
        self._dumped: set[str] = set()
        self._best: dict[Location, tuple[int, int, str]] | None = None

    def locations(self, path: str, where: str) -> list[Location]:
        """Where the values `path` selects sit; a KeyPathError at `where` if it names none."""
        key = top_key(path)
        if key in self._data and key not in self._dumped:
            self._data[key] = self._sc.model_dump(mode="json", include={key})[key]
            self._dumped.add(key)
        return [s.location for s in resolve(self._data, path, where)]

    def _best_source_at(self) -> dict[Location, tuple[int, int, str]]:
        """For each location a source selects, the most specific source that selects it: the one
        that selects fewest values, then the first in the file. Paths that no longer select
        anything (a scenario changed without validation) are skipped."""
        if self._best is None:
            best: dict[Location, tuple[int, int, str]] = {}
            for order, path in enumerate(self._sc.sources):
                try:
                    found = self.locations(path, source_key(path))
                except KeyPathError:
                    continue
                rank = (len(found), order, path)
                for loc in found:
                    if loc not in best or rank < best[loc]:
                        best[loc] = rank
            self._best = best
        return self._best

    def source_for(self, path: str) -> str | None:
        """The citation for the values `path` selects: each value's most specific source (the
        deepest source location above or at it, then the source selecting fewest values). The
        citations of several sources are joined with "; " in file order. None when a selected
        value has no source or the path selects nothing in this deal (no such item, an empty
        list); a ScenarioError when the path names no key of the format."""
        return self.source_for_all([path])

    def source_for_all(self, paths: Iterable[str]) -> str | None:
        """`source_for` of the values all of `paths` select together (a row of the key
        assumptions over some items of a table: `loans[0].rate`, `loans[3].rate`)."""
        leaves: list[Location] = []
        for path in paths:
            _check_format_key(path)
            try:
                leaves += self.locations(path, path)
            except KeyPathError:
                return None
        if not leaves:
            return None
        best = self._best_source_at()
        chosen: set[tuple[int, int, str]] = set()
        for leaf in leaves:
            hit = next((best[leaf[:k]] for k in range(len(leaf), 0, -1) if leaf[:k] in best), None)
            if hit is None:
                return None
            chosen.add(hit)
        citations = (self._sc.sources[p] for _, _, p in sorted(chosen, key=lambda r: r[1]))
        return "; ".join(dict.fromkeys(citations))


def _format_keys() -> frozenset[str]:
    from ipabs.scenario.reference import key_paths

    return frozenset(_SELECTOR.sub("", p) for p, _ in key_paths())


def _check_format_key(path: str) -> None:
    """A path must name keys of the scenario format (`licensees.recovery_rate` once its
    selectors are dropped), so that a misspelt key in code is an error, not "not stated"."""
    if not isinstance(path, str) or _SELECTOR.sub("", path).replace(" ", "") not in _FORMAT_KEYS:
        raise ScenarioError(
            f"{path!r} names no key of the scenario format (docs/scenario-format.md)",
        )


_FORMAT_KEYS = _format_keys()


def check_sources(sc: Scenario) -> Iterator[Problem]:
    """Each entry of [sources]: a key path that selects at least one value of the scenario, and
    a citation of 1 to MAX_CITATION_CHARS characters on one line."""
    if not sc.sources:
        return
    if len(sc.sources) > MAX_SOURCES:
        yield Problem("sources", f"{len(sc.sources):,} entries, above the limit of {MAX_SOURCES:,}")
        return
    index = SourceIndex(sc)
    for path, citation in sc.sources.items():
        where = source_key(path)
        if not citation.strip():
            yield Problem(where, "the citation is empty; say where the value comes from")
        elif len(citation) > MAX_CITATION_CHARS:
            yield Problem(
                where,
                f"a citation is at most {MAX_CITATION_CHARS} characters (this one has "
                f"{len(citation):,}): name the document, and put the detail in a comment",
                citation,
                True,
            )
        elif _CONTROL.search(citation):
            yield Problem(
                where, "must not contain control characters (a line break, a tab)", citation, True
            )
        if len(path) > MAX_PATH_CHARS:
            yield Problem(where, f"a key path is at most {MAX_PATH_CHARS} characters")
            continue
        try:
            found = index.locations(path, where)
        except KeyPathError as exc:
            yield from exc.problems
            continue
        if not found:
            yield Problem(where, "selects no value of this scenario (its list is empty)")


def live_sources(data: dict) -> dict[str, str]:
    """The [sources] entries of scenario data that still select a value. A change to a scenario
    (`Scenario.replace`, a stress) can remove what a citation was about, e.g. a loss-sharing
    layer; the citation then no longer applies and is dropped, rather than failing the change.
    A scenario file's own table is checked in full on load (check_sources)."""
    from ipabs.scenario.paths import KeyPathError, resolve

    kept = {}
    for path, citation in (data.get("sources") or {}).items():
        try:
            if resolve(data, path, path):
                kept[path] = citation
        except KeyPathError:
            continue
    return kept
