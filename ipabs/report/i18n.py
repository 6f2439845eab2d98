"""The report's one translation catalogue (gettext style) and locale formatting (Babel).

Every label of the report is an English message id marked in the code with `N_("...")` or
translated where it is shown with `Translator.gettext` (`_` in the templates). The Chinese text
is in `locale/zh_CN/LC_MESSAGES/ipabs.po`, a gettext catalogue read with Babel; English is the
message ids themselves. Messages with parameters use named `str.format` fields
(`"Interest on {cls}"`): the message is translated first, then formatted, so a translation may
move the fields. Numbers, percentages and dates are formatted per locale by Babel (`en`,
`zh_CN`); docs/report.md lists the rules (digits, signs, the ± of an estimate).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

#: the report's languages: code -> Babel locale
LANGUAGES = {"en": "en", "zh": "zh_CN"}
DOMAIN = "ipabs"


def N_(message: str) -> str:
    """Mark a string for translation where it is defined (extracted into the catalogue); it is
    translated where it is shown."""
    return message


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of one language (empty for English: the ids are English)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    po = resources.files("ipabs.report").joinpath(
        "locale", LANGUAGES[lang], "LC_MESSAGES", f"{DOMAIN}.po"
    )
    with po.open("rb") as f:
        cat = read_po(f, locale=LANGUAGES[lang], domain=DOMAIN)
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string}


@dataclass(frozen=True)
class Translator:
    """Translation and number formatting in one language."""

    lang: str

    @property
    def locale(self) -> str:
        return LANGUAGES[self.lang]

    # -- words ---------------------------------------------------------------------------------
    def gettext(self, message: str, **params: Any) -> str:
        """The translation of `message` (itself where the catalogue has none), formatted with
        `params`."""
        text = catalogue(self.lang).get(message, message) if self.lang != "en" else message
        return text.format(**params) if params else text

    def shown(self, value: Any) -> str:
        if isinstance(value, bool):
            return self.gettext("yes") if value else self.gettext("no")
        if isinstance(value, int):
            return self.integer(value)
        if isinstance(value, float):
            return self.number(value)
        if isinstance(value, list | tuple):
            return self.gettext(", ").join(self.shown(v) for v in value)
        return str(value)

    # -- numbers -------------------------------------------------------------------------------
    def _decimal(self, value: float, pattern: str) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, format=pattern, locale=self.locale)

    def integer(self, value: float) -> str:
        return self._decimal(value, "#,##0")

    def amount(self, value: float) -> str:
        """A currency amount in whole units with thousands separators (the currency is in the
        column head)."""
        if _missing(value):
            return "–"
        return self.integer(round(value))

    def number(self, value: float, digits: int = 2) -> str:
        if _missing(value):
            return "–"
        if value != 0 and abs(value) < 10 ** (-digits):
            return self.significant(value)
        return self._decimal(value, "#,##0." + "0" * digits if digits else "#,##0")

    def significant(self, value: float, figures: int = 2) -> str:
        """Two significant figures; scientific below 1e-6."""
        from babel.numbers import format_scientific

        if _missing(value):
            return "–"
        if value == 0:
            return "0"
        if abs(value) < 1e-6:
            return format_scientific(value, format="0.0E0", locale=self.locale)
        decimals = max(0, figures - 1 - math.floor(math.log10(abs(value))))
        return self._decimal(value, "#,##0." + "0" * decimals if decimals else "#,##0")

    def pct(self, value: float, digits: int = 2) -> str:
        """A fraction as a percentage: `digits` decimals, or two significant figures for a
        small non-zero value (1.4E-8% for 1.4e-10), so no estimate shows as 0.00% unless it is
        zero."""
        if _missing(value):
            return "–"
        scaled = 100.0 * value
        if scaled != 0 and abs(scaled) < 10 ** (-digits):
            return self.significant(scaled) + "%"
        return self._decimal(scaled, "#,##0." + "0" * digits) + "%"

    def se_pct(self, value: float) -> str:
        """A standard error in percent: two significant figures."""
        return "–" if _missing(value) else self.significant(100.0 * value) + "%"

    def se_years(self, value: float) -> str:
        return "–" if _missing(value) else self.gettext("{n} years", n=self.significant(value))

    def se_amount(self, value: float) -> str:
        if _missing(value):
            return "–"
        return self.amount(value) if abs(value) >= 10 else self.significant(value)

    def se_number(self, value: float) -> str:
        return self.significant(value)

    def plain(self, value: float) -> str:
        """A scenario value as given: up to six decimals, no trailing zeros."""
        return "–" if _missing(value) else self._decimal(value, "#,##0.######")

    def pct_per_year(self, value: float) -> str:
        return "–" if _missing(value) else self.gettext("{n} a year", n=self.pct(value))

    def months(self, value: float) -> str:
        return "–" if _missing(value) else self.gettext("{n} months", n=self.number(value, 0))

    def years(self, value: float) -> str:
        if _missing(value):
            return "–"
        return self.gettext("{n} years", n=self._decimal(value, "#,##0.00"))

    def ratio(self, value: float) -> str:
        if _missing(value):
            return "–"
        return self.gettext("{n}x", n=self._decimal(value, "#,##0.00"))

    def date(self, value: Any) -> str:
        from babel.dates import format_date

        if value is None:
            return "–"
        if isinstance(value, _dt.datetime):
            value = value.date()
        elif not isinstance(value, _dt.date):
            value = _dt.date.fromisoformat(str(value)[:10])
        return format_date(value, format="medium", locale=self.locale)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
