"""The report page from its template (templates/report.html.j2, Jinja2 with autoescaping on):
every text the scenario or the user gave is escaped, and every number shown comes from one of
the report's Parquet tables, tagged with where it came from (`data-src="table:row:column"`) so a
test, or a reviewer, can tie it back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from ipabs.report.i18n import Translator

#: how a number is shown: the Translator's method per kind
KINDS = ("pct", "amount", "years", "ratio", "number", "integer", "significant", "pct_per_year", "months", "plain",
         "se_pct", "se_years", "se_amount", "se_number")  # fmt: skip
#: the kind a standard error is shown in (two significant figures), by its estimate's kind
SE_KINDS = {"pct": "se_pct", "years": "se_years", "amount": "se_amount"}


@cache
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ipabs.report", "templates"),
        autoescape=True,  # every value is escaped unless marked safe (only our own tags are)
        undefined=jinja2.StrictUndefined,  # a misspelt name in the template fails, not blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


@dataclass
class Page:
    """What the template reads: the translator, the report's tables, and helpers that show a
    table's value with its source tag."""

    t: Translator
    data: dict[str, pd.DataFrame]
    shown_names: dict[str, str] = field(default_factory=dict)

    def _(self, message: str, **params: Any) -> str:
        return self.t.gettext(message, **params)

    def msg(self, msgid: str, params: dict | str | None = None) -> str:
        """A (msgid, params) pair of a data module (params as a dict or JSON), each parameter
        shown as its kind says (ipabs.report.transaction.PARAM_KINDS): class ids by their
        display names, fractions as percentages, amounts with separators, dates per locale."""
        if isinstance(params, str):
            params = json.loads(params) if params else {}
        shown = {k: self.param(k, v) for k, v in (params or {}).items()}
        return self.t.gettext(msgid, **shown)

    def param(self, name: str, value: Any) -> str:
        from ipabs.report.transaction import PARAM_KINDS

        kind = PARAM_KINDS.get(name)
        t = self.t
        if kind == "class":
            return self.cls(value)
        if kind == "classes":
            return t.gettext(", ").join(self.cls(v) for v in value)
        if kind == "msgids":
            return t.gettext(", ").join(t.gettext(v) for v in value)
        if kind == "amount":
            return t.amount(float(value))
        if kind == "pct":
            return t.pct(float(value))
        if kind == "ratio":  # the messages say "{ratio} times" themselves
            return t.number(float(value))
        if kind == "date":
            return t.date(value)
        if kind == "integer":
            return t.integer(int(value))
        return t.shown(value)

    def cls(self, tranche: str) -> str:
        return self.shown_names.get(tranche, tranche)

    def value(self, table: str, row: int, column: str) -> Any:
        return self.data[table][column].iloc[row]

    def num(self, table: str, row: int, column: str, kind: str) -> Markup:
        """The value shown in this language, tagged with its source."""
        value = self.value(table, row, column)
        text = self.show(value, kind)
        return Markup('<span class="n" data-src="{}:{}:{}" data-fmt="{}">{}</span>').format(
            table, row, column, kind, text
        )

    def est(self, table: str, row: int, column: str, kind: str) -> Markup:
        """An estimate with its standard error (the `<column>_se` beside it)."""
        shown = self.num(table, row, column, kind)
        se_column = f"{column}_se"
        if se_column not in self.data[table].columns:
            return shown
        se = self.value(table, row, se_column)
        if se is None or (isinstance(se, float) and (math.isnan(se) or se == 0.0)):
            return shown
        return shown + Markup(" <span class='se'>± ") + self.num(table, row, se_column, SE_KINDS.get(kind, "se_number")) + Markup("</span>")  # fmt: skip

    def show(self, value: Any, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown number kind {kind!r}")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return getattr(self.t, kind)(float(value))

    def rows(self, table: str):
        """(position, row) of a table, for loops in the template."""
        frame = self.data.get(table)
        if frame is None:
            return []
        return list(enumerate(frame.itertuples(index=False)))

    def has(self, table: str) -> bool:
        frame = self.data.get(table)
        return frame is not None and len(frame) > 0


def render(page: Page, **context: Any) -> str:
    template = environment().get_template("report.html.j2")
    return template.render(page=page, _=page._, escape=escape, **context)
