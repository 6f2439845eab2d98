"""The report's CJK font: a GB2312 subset of Noto Sans CJK SC (SIL Open Font License 1.1) shipped
inside the package, so Chinese renders on a machine with no Chinese font, in the HTML and in the
charts alike. fonts/README.md says where the file comes from and how it is regenerated.

- HTML: `css_font_face(text)` embeds, as a data: URL, a further subset holding only the characters
  the report uses (300 hanzi make about 100 kB of CSS, not the whole 2.2 MB file).
- Charts: `use_in_matplotlib()` registers the file with Matplotlib's font manager.

Characters the font lacks (hanzi outside GB2312, emoji, other scripts) never fail: in HTML the
browser draws each of them with the next family in the CSS font-family list (CSS_FONT_STACK ends in
the system's sans-serif, which may itself lack it and show a box); in Matplotlib, a family list
(`[FONT_FAMILY, "DejaVu Sans"]`) falls back glyph by glyph, and a glyph no listed font has is drawn
as a box with Matplotlib's "Glyph missing" warning. `missing_characters(text)` names them.
"""

from __future__ import annotations

import base64
import functools
import io
from importlib import resources
from pathlib import Path

FONT_FAMILY = "ipabs Noto Sans SC"
FONT_FILE = "NotoSansSC-Regular-GB2312.ttf"
# the embedded font first; then Chinese system fonts a reader may have for characters outside it
CSS_FONT_STACK = (
    f'"{FONT_FAMILY}", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", '
    '"Microsoft YaHei", sans-serif'
)
# always embedded, so numbers and English labels use the same face as the Chinese around them
_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))


def font_path() -> Path:
    """The shipped font file (an installed package is a directory on disk, never a zip here)."""
    return Path(str(resources.files("ipabs.report") / "fonts" / FONT_FILE))


@functools.cache
def _font_bytes() -> bytes:
    return font_path().read_bytes()


@functools.cache
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(io.BytesIO(_font_bytes()), lazy=True).getBestCmap())


def missing_characters(text: str) -> str:
    """The distinct characters of `text` the font has no glyph for, in code point order
    (whitespace and control characters are not drawn, so never missing)."""
    cmap = _cmap()
    return "".join(
        sorted({c for c in text if ord(c) not in cmap and c.isprintable() and not c.isspace()})
    )


def css_font_face(text: str) -> str:
    """An @font-face rule for FONT_FAMILY whose font holds exactly the glyphs for the characters of
    `text` and printable ASCII that the shipped font has, as WOFF (zlib) in a base64 data: URL.

    The same text gives the same bytes (reports are compared byte for byte): the subset keeps the
    shipped font's head.modified instead of stamping the time. `font-display: block` keeps text
    invisible for the instant the font decodes rather than flashing a fallback."""
    wanted = "".join(sorted(set(text) | set(_ASCII)))
    return _font_face(wanted)


@functools.cache
def _font_face(characters: str) -> str:
    data = base64.b64encode(_woff_subset(characters)).decode("ascii")
    return (
        "@font-face {\n"
        f'  font-family: "{FONT_FAMILY}";\n'
        f'  src: url("data:font/woff;base64,{data}") format("woff");\n'
        "  font-style: normal;\n"
        "  font-weight: 400;\n"
        "  font-display: block;\n"
        "}\n"
    )


def _woff_subset(characters: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(_font_bytes()), recalcTimestamp=False)
    cmap = _cmap()
    options = subset.Options()
    options.flavor = "woff"  # zlib; WOFF2 would need brotli, which ipabs does not depend on
    options.name_IDs = ["*"]  # the copyright, trademark and OFL records travel with the font
    options.name_languages = [0x409]
    options.notdef_outline = True  # a character nothing can draw shows as a box, not as nothing
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters if ord(c) in cmap))
    subsetter.subset(font)
    font.flavor = "woff"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


_registered: set[str] = set()


def use_in_matplotlib() -> str:
    """Register the font with Matplotlib's font manager (once per process) and return its family
    name, for rcParams["font.family"] or a FontProperties. Charts set it first in a family list,
    e.g. `[FONT_FAMILY, "DejaVu Sans"]`, so a character outside the font falls back to DejaVu."""
    from matplotlib import font_manager

    path = str(font_path())
    if path not in _registered:
        if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(path)
        _registered.add(path)
    return FONT_FAMILY
