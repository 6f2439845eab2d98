"""Every number on a report page equals the Parquet value it came from: each is tagged
`data-src="table:row:column"`, and its text, read back in the page's locale, is within half a
unit of its last printed digit of the saved value. A number on the page without a tag fails."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from babel.numbers import parse_decimal
from helpers import REPO, run_cli

from ipabs.report.i18n import LANGUAGES

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:E-?\d+)?")
#: kinds shown as percentages of the saved fraction
_PERCENT = {"pct", "se_pct", "pct_per_year"}


class _Tagged(HTMLParser):
    """(data-src, data-fmt, text) of every tagged number, and the text of every table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.tagged: list[list[str]] = []
        self.cells: list[str] = []
        self._open: list[list[str]] = []
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("svg", "style", "code", "pre"):
            self._skip += 1
        if tag == "span" and "data-src" in a:
            self._open.append([a["data-src"], a["data-fmt"], ""])
        if tag == "td" and "l" not in (a.get("class") or "").split():
            self._cell = []  # a number column (text columns are class "l")

    def handle_endtag(self, tag):
        if tag in ("svg", "style", "code", "pre"):
            self._skip -= 1
        if tag == "span" and self._open:
            self.tagged.append(self._open.pop())
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        for item in self._open:
            item[2] += data
        if self._cell is not None:
            self._cell.append(data)


def shown_value(text: str, lang: str) -> tuple[float, float]:
    """(value, one unit of its last digit) of a number as the page shows it."""
    match = _NUMBER.search(text)
    assert match, f"no number in {text!r}"
    token = match.group()
    mantissa, _, exponent = token.partition("E")
    value = float(parse_decimal(mantissa, locale=LANGUAGES[lang])) * 10.0 ** int(exponent or 0)
    decimals = len(mantissa.partition(".")[2])
    return value, 10.0 ** (int(exponent or 0) - decimals)


def check_page(folder: Path, lang: str) -> int:
    page = (folder / f"report.{lang}.html").read_text(encoding="utf-8")
    parser = _Tagged()
    parser.feed(page)
    tables: dict[str, pd.DataFrame] = {}
    for src, kind, text in parser.tagged:
        table, row, column = src.split(":", 2)
        if table not in tables:
            tables[table] = pd.read_parquet(folder / "data" / f"{table}.parquet")
        saved = tables[table][column].iloc[int(row)]
        if text.strip() == "–":
            assert saved is None or np.isnan(saved), f"{src}: shown as missing, saved {saved!r}"
            continue
        if text.strip() in ("∞", "-∞"):
            assert np.isinf(saved) and (saved < 0) == text.strip().startswith("-"), src
            continue
        value, unit = shown_value(text, lang)
        expected = float(saved) * (100.0 if kind in _PERCENT else 1.0)
        assert abs(value - expected) <= 0.5 * unit * (1 + 1e-9) + 1e-12 * abs(expected), (
            f"{lang} {src}: the page shows {text!r}, the Parquet has {saved!r}"
        )
    return len(parser.tagged)


def untagged_numbers(folder: Path, lang: str) -> list[str]:
    """Number cells (not the text columns, class "l") with a digit outside a tagged number."""
    page = (folder / f"report.{lang}.html").read_text(encoding="utf-8")
    stripped = re.sub(r'<span class="n" data-src=[^>]*>[^<]*</span>', "", page)
    parser = _Tagged()
    parser.feed(stripped)
    return [c for c in parser.cells if re.search(r"\d", c)]


@pytest.fixture(scope="module")
def flagship_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("numbers") / "zgc"
    proc = run_cli(
        "report",
        REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml",
        "--stress",
        REPO / "scenarios" / "stress" / "regulatory.toml",
        "--paths",
        "400",
        "--lang",
        "en,zh",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_number_on_the_page_equals_its_parquet_value(flagship_report, lang):
    assert check_page(flagship_report, lang) > 100


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_committed_flagship_report_ties_to_its_data(lang):
    folder = REPO / "reports" / "zgc_patent_licence_abs_2022"
    manifest = json.loads((folder / "manifest.json").read_text())
    if lang not in manifest.get("languages", ["en"]):
        pytest.fail(f"the committed flagship report has no {lang} page")
    assert check_page(folder, lang) > 100


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_table_numbers_are_tagged_except_labels(flagship_report, lang):
    """Digits in a number column outside tagged numbers are only ranks and counts of targets
    met ("3 / 4"), never an estimate."""
    allowed = re.compile(r"^(\d+|\d+ / \d+)$")
    loose = [c for c in untagged_numbers(flagship_report, lang) if not allowed.match(c.strip())]
    assert loose == []


def test_shown_value_reads_each_locale():
    assert shown_value("73,000,000", "en") == (73_000_000.0, 1.0)
    assert shown_value("2.80%", "zh") == (2.8, 0.01)
    assert shown_value("1.09年", "zh") == (1.09, 0.01)
    value, unit = shown_value("1.4E-8%", "en")
    assert value == pytest.approx(1.4e-8) and unit == pytest.approx(1e-9)


class _Verdicts(HTMLParser):
    """(data-verdict, class, text) of every verdict, and (stress, text) of the counts."""

    def __init__(self) -> None:
        super().__init__()
        self.verdicts: list[list[str]] = []
        self.counts: list[list[str]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-verdict" in a:
            self._open = [a["data-verdict"], a.get("class", ""), ""]
            self.verdicts.append(self._open)
        elif "data-count" in a:
            self._open = [a["data-count"], ""]
            self.counts.append(self._open)

    def handle_endtag(self, tag):
        if tag in ("span", "td"):
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[-1] += data


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_verdict_on_the_page_matches_the_targets_data(flagship_report, lang):
    """Each pass or fail shown (the targets table, the expected-loss matrix and the summary's
    overview) is what stress_targets.parquet says, and the counts are its counts."""
    targets = pd.read_parquet(flagship_report / "data" / "stress_targets.parquet")
    parser = _Verdicts()
    parser.feed((flagship_report / f"report.{lang}.html").read_text(encoding="utf-8"))
    assert len(parser.verdicts) > len(targets)
    for where, css, _text in parser.verdicts:
        if where.startswith("stress_targets:"):
            rows = [int(part.split(":")[1]) for part in where.split(",")]
            passed = bool(targets["passed"].iloc[rows].all())
        else:  # a stress in the summary's overview
            passed = bool(targets.loc[targets["stress"] == where, "passed"].all())
        assert css == ("pass" if passed else "fail"), (lang, where)
    # a stress that changes nothing in this deal gets no verdict (the summary says so)
    changes = pd.read_parquet(flagship_report / "data" / "stress_changes.parquet")
    no_effect = set(targets["stress"]) - set(changes["stress"]) - {"base"}
    assert no_effect  # disposal lag on a licence pool
    for where, _css, _text in parser.verdicts:
        stresses = {targets["stress"].iloc[int(p.split(":")[1])] for p in where.split(",")} if where.startswith("stress_targets:") else {where}  # fmt: skip
        assert not stresses & no_effect, where
    assert parser.counts
    for stress, text in parser.counts:
        rows = targets[targets["stress"] == stress]
        assert text.strip() == f"{int(rows['passed'].sum())} / {len(rows)}", stress
