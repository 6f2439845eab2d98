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


@pytest.mark.parametrize(
    "make",
    ["committed", "fresh"],
)
def test_report_opens_without_errors_and_renders_every_chart(tmp_path, make):
    if make == "committed":
        report = REPO / "reports" / "zgc_patent_licence_abs_2022" / "report.html"
        expected_charts = 6
    else:
        data = small_deal()
        data["deal"]["name"] = "</title><script>alert(1)</script>"
        scenario = write_scenario(tmp_path, data)
        proc = run_cli("report", scenario, "--paths", "100", "--out", tmp_path / "r")
        assert proc.returncode == 0, proc.stderr
        report = tmp_path / "r" / "report.html"
        expected_charts = 5  # no stress heatmap without a stress file
    shot = tmp_path / "report.png"
    errors, boxes = open_in_chromium(report, shot)
    assert errors == []
    assert len(boxes) == expected_charts
    assert all(b is not None and b["width"] > 100 and b["height"] > 100 for b in boxes)
    assert shot.stat().st_size > 10_000  # a real screenshot of the page
