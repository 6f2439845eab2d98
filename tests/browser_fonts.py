"""Browser checks that a page's text is drawn with an embedded web font, for Playwright tests on
Chromium (tests/test_browser.py's `open_in_chromium` and FLAGS launch it).

"Drawn with it" is asked of the renderer, not inferred from widths: the DevTools protocol's
CSS.getPlatformFontsForNode names the fonts that actually drew a node's text (a character the
font lacks is drawn by a system font, which is named there). A character that no font has is drawn
as the first font's .notdef box and still counts as that font, so `font_drawn` also decodes the
page's @font-face data: URL and checks its cmap holds every character.
"""

from __future__ import annotations

import base64
import io

from fontTools.ttLib import TTFont

_FACES = """async (family) => {
  await document.fonts.ready;
  const unquote = (name) => name.replace(/^["']|["']$/g, "");
  const statuses = [...document.fonts]
    .filter((face) => unquote(face.family) === family)
    .map((face) => face.status);
  const sources = [];
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (rule instanceof CSSFontFaceRule
          && unquote(rule.style.getPropertyValue("font-family")) === family) {
        sources.push(rule.style.getPropertyValue("src"));
      }
    }
  }
  return {statuses, sources};
}"""

# the probe is laid out (and any font it needs loaded) before the renderer is asked: on a loaded
# machine the query could otherwise come before the first layout of the new element
_PROBE = """async ([family, text]) => {
  const probe = document.createElement("span");
  probe.id = "ipabs-font-probe";
  probe.style.fontFamily = JSON.stringify(family);
  probe.textContent = text;
  document.body.append(probe);
  probe.getBoundingClientRect();
  await document.fonts.ready;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""


def rendered_fonts(page, selector: str = "body") -> dict[str, int]:
    """Family name -> glyphs drawn, over the text of the elements matching `selector` and all
    their descendants, as Chromium's renderer reports it."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        nodes = cdp.send(
            "DOM.querySelectorAll", {"nodeId": root, "selector": f"{selector}, {selector} *"}
        )["nodeIds"]
        drawn: dict[str, int] = {}
        for node in nodes:
            for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
                drawn[font["familyName"]] = drawn.get(font["familyName"], 0) + font["glyphCount"]
        return drawn
    finally:
        cdp.detach()


def embedded_characters(page, family: str) -> set[str] | None:
    """The characters the page's @font-face rules for `family` hold (their data: URL fonts'
    cmaps), or None when the family has no face, a face did not load, or one is not a data: URL."""
    found = page.evaluate(_FACES, family)
    if not found["statuses"] or any(status != "loaded" for status in found["statuses"]):
        return None
    characters: set[str] = set()
    for src in found["sources"]:
        marker = ";base64,"
        if "data:" not in src or marker not in src:
            return None
        data = src.split(marker, 1)[1].split('"', 1)[0].split(")", 1)[0]
        font = TTFont(io.BytesIO(base64.b64decode(data)))
        characters |= {chr(code) for code in font.getBestCmap()}
    return characters


def font_drawn(page, family: str, text: str) -> bool:
    """True when the page's web font `family` has loaded and draws every character of `text`:
    the font holds a glyph for each, and Chromium draws `text`, set in that family alone, with
    that font and no other (no fallback to a system font). The page must already use the font
    (a face that was never used is not loaded); a probe element is added and removed."""
    characters = embedded_characters(page, family)
    if characters is None or not {c for c in text if not c.isspace()} <= characters:
        return False
    page.evaluate(_PROBE, [family, text])
    try:
        drawn = rendered_fonts(page, "#ipabs-font-probe")
    finally:
        page.evaluate("() => document.getElementById('ipabs-font-probe').remove()")
    return set(drawn) == {family}
