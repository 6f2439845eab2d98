"""The report's one translation catalogue is complete and consistent, and numbers are formatted
per locale (Babel)."""

from __future__ import annotations

import datetime as dt

import pytest

from ipabs.report import catalogue
from ipabs.report.i18n import Translator


def test_every_message_of_the_report_has_a_chinese_translation():
    messages = catalogue.extract()
    assert len(messages) > 200  # the code and the templates were both read
    cat = catalogue.read_catalogue()
    missing = [m for m in messages if not (cat.get(m) and cat.get(m).string)]
    assert missing == [], (
        f"run python -m ipabs.report.catalogue --update and translate: {missing[:5]}"
    )


def test_translations_keep_their_fields_and_unused_entries_are_dropped():
    messages = catalogue.extract()
    cat = catalogue.read_catalogue()
    for m in cat:
        if not m.id:
            continue
        assert m.id in messages, f"{m.id!r} is in the catalogue but no longer in the code"
        assert catalogue.fields(m.string) == catalogue.fields(m.id), m.id


def test_glossary_terms_a_committee_expects():
    zh = Translator("zh")
    assert zh.gettext("Differential payment undertaking") == "差额支付承诺"
    assert zh.gettext("Credit enhancement") == "信用增级"
    assert zh.gettext("Subordination") == "次级支持"
    assert zh.gettext("Stress-test report") == "压力测试报告"
    # a message with fields: translated first, then formatted
    assert zh.gettext("Interest on {classes}", classes="优先A级") == "优先A级利息"
    assert Translator("en").gettext("Interest on {classes}", classes="A") == "Interest on A"


@pytest.mark.parametrize(
    ("lang", "value", "shown"),
    [
        ("en", 0.012345, "1.23%"),
        ("zh", 0.012345, "1.23%"),
        ("en", 0.0, "0.00%"),
        ("en", 1.41053e-10, "1.4E-8%"),  # never 0.00% for a non-zero estimate
        ("en", 3.2e-5, "0.0032%"),
        ("en", -0.5, "-50.00%"),
    ],
)
def test_percentages(lang, value, shown):
    assert Translator(lang).pct(value) == shown


def test_amounts_years_ratios_and_dates_per_locale():
    en, zh = Translator("en"), Translator("zh")
    assert en.amount(73_000_000.4) == "73,000,000" == zh.amount(73_000_000.4)
    assert en.years(2.415) == "2.42 years" or en.years(2.415) == "2.41 years"
    assert zh.years(2.5) == "2.50年"
    assert en.ratio(1.1749) == "1.17x" and zh.ratio(1.1749) == "1.17倍"
    assert en.date(dt.date(2022, 8, 26)) == "Aug 26, 2022"
    assert zh.date(dt.date(2022, 8, 26)) == "2022年8月26日"
    assert en.date("2025-08-26") == "Aug 26, 2025"
    assert en.amount(float("nan")) == "–"


def test_significant_figures():
    en = Translator("en")
    assert en.significant(0.0028) == "0.0028"
    assert en.significant(0.00275) in ("0.0027", "0.0028")
    assert en.significant(4.9) == "4.9"
    assert en.significant(379_135.0) == "379,135"  # whole units: no digit is dropped
    assert en.significant(0.0) == "0"


def test_an_unknown_language_is_refused_through_the_cli(tmp_path):
    from helpers import run_cli, small_deal, write_scenario

    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli("report", scenario, "--lang", "zn", "--out", tmp_path / "r")
    assert proc.returncode == 2
    assert "--lang" in proc.stderr and "did you mean 'zh'" in proc.stderr
    assert not (tmp_path / "r").exists()
