"""Regenerate NotoSansSC-Regular-GB2312.ttf, the CJK font that ipabs reports embed, from Debian's
fonts-noto-cjk (Noto Sans CJK, SIL Open Font License 1.1).

Run from the repository root, on a machine with the package installed:

    apt-get install -y --no-install-recommends fonts-noto-cjk
    python ipabs/report/fonts/make_subset.py [path/to/NotoSansCJK-Regular.ttc]

Why a subset: the whole Simplified Chinese face is ~16 MB and covers 65,000 glyphs; a report
needs the common hanzi of GB2312 (6,763, levels 1 and 2), its punctuation and symbols, full-width
forms, Latin-1 and the typographic marks numbers and money use. Why renamed: the OFL forbids a
Modified Version from using the Reserved Font Name ('Source', declared by Adobe in the upstream
LICENSE) and the subset is not the original Noto Sans CJK SC, so it carries its own family name
(FAMILY below) while keeping the copyright, trademark and licence records of the original.

The outlines are converted from CFF to TrueType (see to_truetype). The output is byte-for-byte
reproducible: the head table's modified time is kept from the source.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

DEBIAN_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_POSTSCRIPT_NAME = "NotoSansCJKsc-Regular"  # the Simplified Chinese face in the collection
OUT = Path(__file__).with_name("NotoSansSC-Regular-GB2312.ttf")
FAMILY = "ipabs Noto Sans SC"
POSTSCRIPT_NAME = "ipabsNotoSansSC-Regular"

# OpenType features a horizontal Simplified Chinese report does not use
NOT_NEEDED = {"locl", "vert", "vrt2", "vkrn", "valt", "vhal", "vpal", "vkna", "vjmo", "vchw"}
# marks a report's numbers, money and prose use beyond Latin-1 and GB2312's own symbols
TYPOGRAPHIC = "–—‒‐‑−‘’‚“”„…•·×÷≤≥≦≧≈≠±‰%¥€£$°′″№™©®§†‡‹›«»→←↑↓↗↘√✓∞∑ΔσμΣ"


def _gb2312_rows(first_row: int) -> list[str]:
    """The characters GB2312 encodes in rows `first_row` to 0xF7, by decoding each two-byte code
    (cells 0xA1-0xFE; unused codes do not decode)."""
    found = []
    for row in range(first_row, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def gb2312_characters() -> list[str]:
    """Every character GB2312 encodes (rows 1-9: symbols, Greek, Cyrillic, kana, pinyin, box
    drawing; rows 16-87: the 6,763 hanzi of levels 1 and 2)."""
    return _gb2312_rows(0xA1)


def gb2312_hanzi() -> list[str]:
    """GB2312's hanzi: levels 1 (rows 16-55) and 2 (rows 56-87), 6,763 characters."""
    return _gb2312_rows(0xB0)


def wanted_codepoints() -> set[int]:
    points = {ord(c) for c in gb2312_characters()}
    points |= set(range(0x20, 0x7F))  # printable ASCII
    points |= set(range(0xA0, 0x100))  # Latin-1
    points |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation
    points |= set(range(0xFF00, 0xFFF0))  # half-width and full-width forms
    points |= {ord(c) for c in TYPOGRAPHIC}
    return points


def simplified_chinese_face(ttc: Path) -> TTFont:
    # recalcTimestamp=False keeps head.modified as in the source, so the output is reproducible
    collection = TTCollection(str(ttc), recalcTimestamp=False)
    for font in collection.fonts:
        if font["name"].getDebugName(6) == SOURCE_POSTSCRIPT_NAME:
            return font
    raise SystemExit(f"{ttc}: no face named {SOURCE_POSTSCRIPT_NAME}")


def rename(font: TTFont) -> None:
    """Give the subset its own family name (OFL: a Modified Version), keeping the copyright (0),
    trademark (7), designer (8-12) and licence (13, 14) records of the original."""
    name = font["name"]
    version = name.getDebugName(5) or ""
    records = {
        1: FAMILY,
        2: "Regular",
        3: f"{POSTSCRIPT_NAME};GB2312 subset by ipabs",
        4: FAMILY,
        5: f"{version}; GB2312 subset by ipabs",
        6: POSTSCRIPT_NAME,
    }
    name.names = [r for r in name.names if r.nameID not in (*records, 16, 17)]
    for name_id, text in records.items():
        name.setName(text, name_id, 3, 1, 0x409)
        name.setName(text, name_id, 1, 0, 0)


def to_truetype(font: TTFont, max_error: float = 1.0) -> None:
    """Replace the CFF (cubic) outlines with TrueType (quadratic) ones, within `max_error` font
    units (of 1,000 to the em: invisible). Why: Chromium's PDF writer embeds a TrueType font as a
    real CID font, where it turns a CFF one into Type 3 glyph procedures, and Matplotlib supports
    TrueType best; the subset also embeds smaller in a report. The CFF hints are not carried over."""
    glyph_set = font.getGlyphSet()
    order = font.getGlyphOrder()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for glyph_name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[glyph_name].draw(Cu2QuPen(pen, max_error, reverse_direction=True))
        glyf[glyph_name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    maxp = font["maxp"]  # version 1.0 (TrueType) with no hinting instructions
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]  # format 2 keeps the glyph names the CFF table held
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    del font["CFF "]
    font.sfntVersion = "\0\1\0\0"
    font["head"].glyphDataFormat = 0


def make(ttc: Path = DEBIAN_TTC, out: Path = OUT) -> Path:
    font = simplified_chinese_face(ttc)
    available = set(font.getBestCmap())
    wanted = wanted_codepoints()
    # unassigned code points in the ranges (U+FF00, U+FFBF, ...) are not worth a mention
    missing = sorted(c for c in wanted - available if unicodedata.category(chr(c)) != "Cn")
    hanzi_missing = [c for c in gb2312_hanzi() if ord(c) not in available]
    if hanzi_missing:
        raise SystemExit(f"the source lacks GB2312 hanzi: {''.join(hanzi_missing)}")
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright, trademark and licence records
    options.name_languages = [0x409]
    options.drop_tables += ["vhea", "vmtx", "VORG"]  # reports are set horizontally
    # the default features less vertical setting and 'locl' (whose Japanese, Korean and
    # Traditional forms would double the glyph count: 14,276 glyphs and 3.5 MB with them)
    options.layout_features = [f for f in options.layout_features if f not in NOT_NEEDED]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted & available))
    subsetter.subset(font)
    rename(font)
    to_truetype(font)
    font.save(str(out))
    print(f"{out}: {out.stat().st_size:,} bytes, {len(font.getBestCmap()):,} characters")
    if missing:
        print("not in the source (left out): " + " ".join(f"U+{c:04X}" for c in missing))
    return out


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else DEBIAN_TTC)
