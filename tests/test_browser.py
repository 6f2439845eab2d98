"""The report in a real browser: Debian's headless Chromium (installed by .ci/run) driven by
Playwright opens a committed report and a freshly written one; no console errors, every chart is
rendered, and a screenshot is taken."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, run_cli, small_deal, write_scenario

CHROMIUM = "/usr/bin/chromium"
# the flags the machine notes give for this closed network (no background connections)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_in_chromium(report: Path, screenshot: Path) -> tuple[list[str], list[dict]]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), (
        "Chromium is missing: .ci/run installs it (apt-get install chromium)"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(report.resolve().as_uri(), wait_until="load")
            charts = page.locator("div.chart")
            boxes = [charts.nth(i).locator("svg").bounding_box() for i in range(charts.count())]
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return errors, boxes


def _chinese_deal(tmp_path) -> Path:
    """A deal with a Chinese name and Chinese class names, reported in both languages."""
    data = small_deal()
    data["deal"]["name"] = "中关村科技租赁知识产权资产支持专项计划 2022-1 <b>&</b>"
    for tranche, shown in zip(data["tranches"], ("优先A级", "优先B级", "次级"), strict=False):
        tranche["display_name"] = shown
    scenario = write_scenario(tmp_path, data)
    stress = tmp_path / "stress.toml"
    stress.write_text(
        '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'
    )
    out = tmp_path / "r"
    proc = run_cli("report", scenario, "--stress", stress, "--paths", "100", "--lang", "en,zh", "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def inspect_page(report: Path, screenshot: Path, text: str) -> dict:
    """Open a page at 1280 px: console errors, chart boxes, overflow, and whether the embedded
    font draws `text` and the deal's name."""
    from browser_fonts import font_drawn, rendered_fonts
    from playwright.sync_api import sync_playwright

    from ipabs.report.fonts import FONT_FAMILY

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.evaluate("document.fonts.ready")
            charts = page.locator("div.chart")
            boxes = [charts.nth(i).locator("svg").bounding_box() for i in range(charts.count())]
            overflow = page.evaluate(
                """() => ({page: document.documentElement.scrollWidth,
                          tables: [...document.querySelectorAll('.wide')]
                            .filter(w => w.scrollWidth > w.clientWidth + 1)
                            .map(w => w.querySelector('table')?.parentElement?.previousElementSibling?.textContent || '?')})"""
            )
            # the page's own errors: Chromium logs one "unsafe attempt to load" a file: URL for
            # the DevTools font queries below, which is the test's, not the page's
            page_errors = list(errors)
            result = {
                "errors": page_errors,
                "boxes": boxes,
                "page_width": overflow["page"],
                "scrolling_tables": overflow["tables"],
                "font_draws_text": font_drawn(page, FONT_FAMILY, text),
                "title_fonts": set(rendered_fonts(page, "h1")),
                "lang": page.evaluate("document.documentElement.lang"),
            }
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return result


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_chinese_deal_renders_in_both_languages_with_the_embedded_font(tmp_path, lang):
    from ipabs.report.fonts import FONT_FAMILY

    out = _chinese_deal(tmp_path)
    words = "优先A级 次级 压力测试报告 信用增级" if lang == "zh" else "Stress-test report 优先A级"
    found = inspect_page(out / f"report.{lang}.html", tmp_path / "page.png", words)
    assert found["errors"] == []
    assert found["lang"] == ("zh-Hans" if lang == "zh" else "en")
    assert found["font_draws_text"], "the embedded font did not draw the Chinese text"
    assert found["title_fonts"] == {FONT_FAMILY}  # the Chinese deal name: no fallback boxes
    assert found["page_width"] <= 1280 and found["scrolling_tables"] == []
    assert len(found["boxes"]) == 6
    assert all(b is not None and b["width"] > 100 and b["height"] > 100 for b in found["boxes"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_committed_flagship_report_opens_without_errors_or_overflow(tmp_path, lang):
    report = REPO / "reports" / "zgc_patent_licence_abs_2022" / f"report.{lang}.html"
    words = "压力测试 通过" if lang == "zh" else "Stress-test report"
    found = inspect_page(report, tmp_path / "page.png", words)
    assert found["errors"] == []
    assert found["font_draws_text"]
    assert found["page_width"] <= 1280 and found["scrolling_tables"] == []
    assert len(found["boxes"]) == 6
    assert all(b is not None and b["width"] > 100 and b["height"] > 100 for b in found["boxes"])
