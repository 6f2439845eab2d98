"""The committee pack's PDF, printed by headless Chromium (installed by .ci/run): a Chinese page
prints with the embedded font inside the PDF; no browser gives the install hint; a print that
fails or hangs leaves no file behind. Stand-in browsers are small shell scripts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from ipabs.errors import UserError
from ipabs.report import fonts, pdf

# Chinese only (no ASCII), so every glyph on the page is a hanzi or CJK punctuation
CHINESE = "优先甲级票据压力测试结果：通过。次级：未通过（差额支付承诺）"


def write_page(path: Path) -> Path:
    path.write_text(
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
        + fonts.css_font_face(CHINESE)
        + f"body {{ font-family: {fonts.CSS_FONT_STACK}; font-size: 20px; }}"
        + f"</style></head><body><h1>{CHINESE}</h1><p>{CHINESE * 3}</p></body></html>",
        encoding="utf-8",
    )
    return path


def fake_browser(tmp_path: Path, name: str, body: str) -> Path:
    """An executable standing in for Chromium: `body` is shell, with $out the --print-to-pdf path."""
    script = tmp_path / "bin" / name
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do case "$arg" in --print-to-pdf=*) out="${arg#--print-to-pdf=}";; '
        "esac; done\n" + body + "\n"
    )
    script.chmod(0o755)
    return script


def without_any_browser(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(pdf.BROWSER_ENV, raising=False)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(pdf, "DEBIAN_CHROMIUM", tmp_path / "no-chromium-here")


def test_a_chinese_page_prints_to_a_pdf_with_the_embedded_font(tmp_path):
    html = write_page(tmp_path / "report.html")
    out = pdf.print_pdf(html, tmp_path / "pack" / "report.pdf")
    assert out == tmp_path / "pack" / "report.pdf"
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 5_000
    # the font drew the page: Chromium embeds the subset it used under the font's PostScript name
    # (with a six-letter subset tag), as a TrueType font program
    postscript_name = TTFont(fonts.font_path())["name"].getDebugName(6)
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+" + postscript_name.encode(), data)
    assert b"/FontFile2" in data
    # nothing left beside it
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.pdf"]


def test_no_browser_gives_the_install_hint(monkeypatch, tmp_path):
    without_any_browser(monkeypatch, tmp_path)
    html = write_page(tmp_path / "report.html")
    with pytest.raises(UserError) as error:
        pdf.print_pdf(html, tmp_path / "report.pdf")
    message = str(error.value)
    assert "apt-get install chromium" in message
    assert "IPABS_CHROMIUM" in message
    assert not (tmp_path / "report.pdf").exists()


def test_a_browser_named_by_ipabs_chromium_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv(pdf.BROWSER_ENV, str(tmp_path / "no-such-chrome"))
    with pytest.raises(UserError) as error:
        pdf.find_browser()
    assert "IPABS_CHROMIUM" in str(error.value) and "no-such-chrome" in str(error.value)
    assert "apt-get install chromium" in str(error.value)


def test_the_browser_is_found_by_ipabs_chromium_then_path_then_debians_place(monkeypatch, tmp_path):
    without_any_browser(monkeypatch, tmp_path)
    on_path = fake_browser(tmp_path, "google-chrome", "exit 0")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert pdf.find_browser() == on_path
    chosen = fake_browser(tmp_path, "my-chrome", "exit 0")
    monkeypatch.setenv(pdf.BROWSER_ENV, str(chosen))
    assert pdf.find_browser() == chosen
    monkeypatch.delenv(pdf.BROWSER_ENV)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setattr(pdf, "DEBIAN_CHROMIUM", chosen)
    assert pdf.find_browser() == chosen


@pytest.mark.parametrize(
    "behaviour",
    [
        'printf "%%PDF-1.4 half a pdf" > "$out"; echo "renderer crashed" >&2; exit 1',
        'printf "<html>not a pdf" > "$out"; exit 0',
        "exit 0",  # claims success and writes nothing
    ],
    ids=["crash-after-partial-write", "not-a-pdf", "no-output"],
)
def test_a_failing_print_leaves_no_file_and_keeps_an_older_pdf(monkeypatch, tmp_path, behaviour):
    browser = fake_browser(tmp_path, "broken-chrome", behaviour)
    monkeypatch.setenv(pdf.BROWSER_ENV, str(browser))
    html = write_page(tmp_path / "report.html")
    outdir = tmp_path / "pack"
    outdir.mkdir()
    older = outdir / "older.pdf"
    older.write_bytes(b"%PDF-1.4 an older print")
    with pytest.raises(UserError, match="could not print"):
        pdf.print_pdf(html, outdir / "report.pdf")
    with pytest.raises(UserError, match="could not print"):
        pdf.print_pdf(html, older)
    assert sorted(p.name for p in outdir.iterdir()) == ["older.pdf"]
    assert older.read_bytes() == b"%PDF-1.4 an older print"


def test_a_hanging_print_is_stopped_and_leaves_no_file(monkeypatch, tmp_path):
    browser = fake_browser(tmp_path, "hanging-chrome", 'printf "%%PDF-" > "$out"; sleep 60')
    monkeypatch.setenv(pdf.BROWSER_ENV, str(browser))
    html = write_page(tmp_path / "report.html")
    started = time.monotonic()
    with pytest.raises(UserError, match="did not finish printing within 1 s"):
        pdf.print_pdf(html, tmp_path / "pack" / "report.pdf", timeout=1)
    assert time.monotonic() - started < 20  # the sleeping child was ended with its parent
    assert list((tmp_path / "pack").iterdir()) == []


def test_a_missing_report_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such report"):
        pdf.print_pdf(tmp_path / "nowhere.html", tmp_path / "report.pdf")
    assert not (tmp_path / "report.pdf").exists()


def test_report_pdf_through_the_cli_writes_a_pdf_per_language(tmp_path):
    """`ipabs report --pdf`: each page printed beside it, with the embedded font in the PDF."""
    from helpers import run_cli, small_deal, write_scenario

    data = small_deal()
    data["deal"]["name_zh"] = "测试专项计划"
    scenario = write_scenario(tmp_path, data)
    out = tmp_path / "r"
    proc = run_cli("report", scenario, "--paths", "100", "--lang", "en,zh", "--pdf", "--out", out)
    assert proc.returncode == 0, proc.stderr
    for lang in ("en", "zh"):
        printed = (out / f"report.{lang}.pdf").read_bytes()
        assert printed.startswith(b"%PDF-") and len(printed) > 20_000
        assert b"ipabsNotoSansSC" in printed  # the subset font is embedded, not a fallback
    assert f"report written to {out / 'report.zh.pdf'}" in " ".join(proc.stdout.split())


def test_report_pdf_without_a_browser_stops_before_any_work(tmp_path):
    import os
    import subprocess
    import sys

    from helpers import REPO, small_deal, write_scenario

    scenario = write_scenario(tmp_path, small_deal())
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "IPABS_CHROMIUM": str(tmp_path / "none")}
    proc = subprocess.run(
        [sys.executable, "-m", "ipabs", "report", str(scenario), "--pdf", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "IPABS_CHROMIUM" in proc.stderr and not (tmp_path / "r").exists()
