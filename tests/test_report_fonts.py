"""The report's embedded CJK font: the shipped file covers GB2312 and the report's words, the
per-report web font holds exactly the characters asked for and is byte-for-byte reproducible,
Matplotlib draws Chinese with it, and Chromium draws a page's Chinese with it on a machine that has
no Chinese font of its own (CI has none)."""

from __future__ import annotations

import base64
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from browser_fonts import embedded_characters, font_drawn, rendered_fonts
from fontTools.ttLib import TTFont
from test_browser import CHROMIUM, FLAGS

from ipabs.report import fonts

REPORT_WORDS = [
    "优先A级",
    "次级",
    "差额支付承诺",
    "超额覆盖",
    "压力测试",
    "通过",
    "未通过",
    "现金流",
    "人民币",
    "兑付",
    "税费",
    "¥",
    "，。：（）",
]
ASCII = {chr(c) for c in range(0x20, 0x7F)}
OUTSIDE_GB2312 = "鍀𬌗"  # a traditional-only and an extension-B hanzi: neither is in GB2312


def gb2312_hanzi() -> list[str]:
    """GB2312 levels 1 and 2: rows 0xB0-0xF7, cells 0xA1-0xFE, less the five unused cells."""
    found = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return found


def shipped_font() -> TTFont:
    return TTFont(fonts.font_path())


def decode_face(rule: str) -> TTFont:
    data = re.search(r'url\("data:font/woff;base64,([A-Za-z0-9+/=]+)"\)', rule).group(1)
    return TTFont(io.BytesIO(base64.b64decode(data)))


# --- the shipped file ---------------------------------------------------------------------------


def test_shipped_font_has_a_glyph_for_every_gb2312_hanzi_and_the_reports_words():
    hanzi = gb2312_hanzi()
    assert len(hanzi) == 6763  # the standard's count, levels 1 (3,755) and 2 (3,008)
    cmap = shipped_font().getBestCmap()
    assert [c for c in hanzi if ord(c) not in cmap] == []
    for word in REPORT_WORDS:
        assert all(ord(c) in cmap for c in word), word
        assert fonts.missing_characters(word) == ""
    assert all(ord(c) in cmap for c in ASCII)


def test_missing_characters_names_what_the_font_cannot_draw_and_ignores_whitespace():
    assert fonts.missing_characters(f"优先 {OUTSIDE_GB2312}😀\n\t{OUTSIDE_GB2312}") == "鍀😀𬌗"
    assert fonts.missing_characters("次级 Class B ¥1,000\n") == ""


def test_shipped_font_is_a_renamed_modified_version_that_keeps_its_licence():
    """OFL 1.1: a Modified Version may not use the Reserved Font Name ('Source') and must carry
    the copyright notice and licence; OFL.txt ships beside it."""
    font = shipped_font()
    name = font["name"]
    assert name.getDebugName(1) == fonts.FONT_FAMILY
    assert "Source" not in name.getDebugName(1) and "Source" not in name.getDebugName(6)
    assert "Adobe" in name.getDebugName(0)
    assert "SIL Open Font License" in name.getDebugName(13)
    licence = fonts.font_path().with_name("OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert "Reserved Font Name 'Source'" in licence


# --- the per-report web font --------------------------------------------------------------------


def test_css_font_face_holds_exactly_the_texts_characters_and_ascii():
    text = "优先A级票据（通过）\n¥1,234.5 " + "".join(REPORT_WORDS)
    rule = fonts.css_font_face(text)
    assert f'font-family: "{fonts.FONT_FAMILY}";' in rule
    assert "font-display: block;" in rule
    face = decode_face(rule)
    assert face.flavor == "woff"
    cmap_of_shipped = shipped_font().getBestCmap()
    expected = {ord(c) for c in set(text) | ASCII if ord(c) in cmap_of_shipped}
    assert set(face.getBestCmap()) == expected
    # every visible character has a real outline, not an empty glyph
    for code, glyph_name in face.getBestCmap().items():
        if not chr(code).isspace():
            assert face["glyf"][glyph_name].numberOfContours > 0, chr(code)


def test_css_font_face_is_reproducible_byte_for_byte():
    text = "".join(REPORT_WORDS) + "超额覆盖倍数 1.25x"
    first = fonts.css_font_face(text)
    fonts._font_face.cache_clear()  # compute it afresh, as another process would
    second = fonts.css_font_face(text)
    assert first == second
    # the same characters in another order or repeated are the same font
    assert fonts.css_font_face(text[::-1] + text) == first


def test_css_font_face_leaves_out_characters_the_font_lacks_without_failing():
    rule = fonts.css_font_face(f"优先{OUTSIDE_GB2312}😀")
    cmap = decode_face(rule).getBestCmap()
    assert ord("优") in cmap and ord("先") in cmap
    assert not any(ord(c) in cmap for c in f"{OUTSIDE_GB2312}😀")


def test_embedding_a_reports_worth_of_chinese_stays_small():
    """~300 hanzi (the first 300 of level 1, a dense sample of real strokes) stay far below the
    shipped 2.2 MB."""
    rule = fonts.css_font_face("".join(gb2312_hanzi()[:300]))
    assert len(rule.encode()) < 200_000
    assert fonts.font_path().stat().st_size > 10 * len(rule.encode())


# --- Matplotlib ---------------------------------------------------------------------------------

TITLE = "优先A级 超额覆盖 压力测试：通过"


def draw(text: str, family: list[str], fmt: str = "png") -> tuple[bytes, list[str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure(figsize=(4, 1))
        try:
            fig.text(0.05, 0.3, text, family=family, fontsize=20)
            out = io.BytesIO()
            fig.savefig(out, format=fmt, dpi=100)
        finally:
            plt.close(fig)
    return out.getvalue(), [str(w.message) for w in caught]


def ink(data: bytes) -> np.ndarray:
    """The dark pixels of a PNG."""
    from matplotlib import image

    return image.imread(io.BytesIO(data), format="png")[..., :3].mean(axis=2) < 0.5


def missing_glyph_warnings(caught: list[str]) -> list[str]:
    return [w for w in caught if "missing" in w.lower()]


def test_use_in_matplotlib_registers_the_font_once():
    from matplotlib import font_manager

    assert fonts.use_in_matplotlib() == fonts.FONT_FAMILY
    assert fonts.use_in_matplotlib() == fonts.FONT_FAMILY
    entries = [e for e in font_manager.fontManager.ttflist if e.name == fonts.FONT_FAMILY]
    assert len(entries) == 1
    assert Path(entries[0].fname) == fonts.font_path()


def test_matplotlib_draws_each_hanzi_as_its_own_glyph_where_dejavu_draws_one_box():
    """A font without hanzi draws every one of them as the same box (with a warning); the
    embedded font draws two different hanzi differently, and without a warning."""
    family = fonts.use_in_matplotlib()
    first, caught_first = draw("优", [family, "DejaVu Sans"])
    second, caught_second = draw("级", [family, "DejaVu Sans"])
    assert missing_glyph_warnings(caught_first + caught_second) == []
    assert ink(first).sum() > 50 and ink(second).sum() > 50
    assert (ink(first) != ink(second)).sum() > 50
    # the control: DejaVu Sans has no hanzi
    box_first, box_caught_first = draw("优", ["DejaVu Sans"])
    box_second, box_caught_second = draw("级", ["DejaVu Sans"])
    assert missing_glyph_warnings(box_caught_first) and missing_glyph_warnings(box_caught_second)
    assert (ink(box_first) == ink(box_second)).all()
    assert (ink(first) != ink(box_first)).sum() > 50


def test_matplotlib_draws_a_chinese_title_without_missing_glyphs_in_png_and_svg():
    family = fonts.use_in_matplotlib()
    png, caught = draw(TITLE, [family, "DejaVu Sans"])
    assert missing_glyph_warnings(caught) == []
    assert ink(png).sum() > 300
    svg, caught = draw(TITLE, [family, "DejaVu Sans"], "svg")
    assert missing_glyph_warnings(caught) == []
    text = svg.decode("utf-8")
    postscript_name = shipped_font()["name"].getDebugName(6)
    # svg.fonttype 'path' defines each glyph once as a path named by its font and glyph index:
    # exactly the embedded font's glyphs for the title's characters
    font = shipped_font()
    cmap = font.getBestCmap()
    expected = {f"{postscript_name}-{font.getGlyphID(cmap[ord(c)]):x}" for c in TITLE}
    assert set(re.findall(r'<path id="([^"]+)"', text)) == expected


# --- Chromium -----------------------------------------------------------------------------------

PAGE_TEXT = (
    "优先A级 次级 差额支付承诺 超额覆盖 压力测试 通过 未通过 现金流 人民币 兑付 税费 ¥，。：（）"
)


def page_html(embedded: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
        + fonts.css_font_face(embedded)
        + f"body {{ font-family: {fonts.CSS_FONT_STACK}; font-size: 24px; }}"
        + ".nofont { font-family: 'no such font ipabs'; }"
        + f'</style></head><body><p id="words">{body}</p>'
        + f'<p class="nofont" id="fallback">{body}</p></body></html>'
    )


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Chromium is missing: .ci/run installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(chromium, tmp_path: Path, html: str):
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    page = chromium.new_page()
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page


def test_chromium_draws_the_pages_chinese_with_the_embedded_font(chromium, tmp_path):
    page = open_page(chromium, tmp_path, page_html(PAGE_TEXT, PAGE_TEXT))
    try:
        assert page.evaluate(
            "async (f) => { await document.fonts.ready;"
            " return [...document.fonts].filter(x => x.family.replace(/\"/g, '') === f)"
            ".map(x => x.status); }",
            fonts.FONT_FAMILY,
        ) == ["loaded"]
        assert font_drawn(page, fonts.FONT_FAMILY, PAGE_TEXT)
        assert set(rendered_fonts(page, "#words")) == {fonts.FONT_FAMILY}
        # the same words in a family that cannot exist fall back to something else: a system
        # font or boxes, drawn differently from the embedded font
        assert fonts.FONT_FAMILY not in rendered_fonts(page, "#fallback")
        widths = page.evaluate(
            "() => ['words', 'fallback'].map(id => {"
            " const r = document.createRange();"
            " r.selectNodeContents(document.getElementById(id));"
            " return r.getBoundingClientRect().width; })"
        )
        assert widths[0] != pytest.approx(widths[1], rel=1e-3)
    finally:
        page.close()


def test_font_drawn_says_no_for_characters_the_embedded_font_lacks(chromium, tmp_path):
    """The helper's negative controls: characters outside GB2312, and characters the page did not
    embed, are not drawn with the font (they fall back, or show the font's .notdef box)."""
    page = open_page(chromium, tmp_path, page_html("优先", "优先 Class A"))
    try:
        assert font_drawn(page, fonts.FONT_FAMILY, "优先 Class A")
        assert embedded_characters(page, fonts.FONT_FAMILY) >= set("优先 Class A")
        assert not font_drawn(page, fonts.FONT_FAMILY, "次级")  # in the font, not embedded
        assert not font_drawn(page, fonts.FONT_FAMILY, "优先" + OUTSIDE_GB2312)
        assert not font_drawn(page, "ipabs no such family", "优先")
    finally:
        page.close()
