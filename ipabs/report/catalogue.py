"""Keep the report's translation catalogue complete (a maintainer's tool, as `pybabel extract`
and `update` are):

    python -m ipabs.report.catalogue            # list the messages with no Chinese translation
    python -m ipabs.report.catalogue --update   # add them to the .po file (empty), drop unused

Messages are extracted with Babel from the report's Python code (`N_`, `_`, `gettext`) and its
Jinja2 templates (`_`). tests/test_report_i18n.py fails when one has no translation or when a
translation's {fields} differ from its message's."""

from __future__ import annotations

import string
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: where the report's words are: this package, and the result charts it draws
SOURCES = (
    PACKAGE,
    PACKAGE.parent / "outputs" / "charts.py",
    PACKAGE.parent / "stress" / "changes.py",
)
PO_FILE = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "ipabs.po"
KEYWORDS = {"N_": None, "_": None, "gettext": None}


def extract() -> dict[str, list[str]]:
    """msgid -> where it occurs (file:line), from the code and the templates."""
    from babel.messages.extract import extract_from_file

    found: dict[str, list[str]] = {}
    files: list[Path] = []
    for source in SOURCES:
        files += sorted(source.rglob("*.py")) if source.is_dir() else [source]
    files += sorted((PACKAGE / "templates").glob("*.j2"))
    for path in files:
        method = "jinja2" if path.suffix == ".j2" else "python"
        options = {"trim_blocks": "true", "lstrip_blocks": "true"} if method == "jinja2" else {}
        if method == "jinja2":
            method = "jinja2.ext:babel_extract"
        for lineno, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            if isinstance(message, tuple):  # plural forms: not used
                message = message[0]
            if message:
                where = f"{path.relative_to(PACKAGE.parent.parent)}:{lineno}"
                found.setdefault(message, []).append(where)
    return found


def read_catalogue():
    from babel.messages.pofile import read_po

    with PO_FILE.open("rb") as f:
        return read_po(f, locale="zh_CN", domain="ipabs")


def fields(text: str) -> set[str]:
    """The named str.format fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def main(argv: list[str] | None = None) -> int:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    argv = sys.argv[1:] if argv is None else argv
    messages = extract()
    cat = read_catalogue() if PO_FILE.is_file() else Catalog(locale="zh_CN", domain="ipabs")
    missing = [m for m in messages if not (cat.get(m) and cat.get(m).string)]
    for m in missing:
        print(f"no translation: {m!r} ({messages[m][0]})")
    if "--update" in argv:
        fresh = Catalog(locale="zh_CN", domain="ipabs", project="ipabs", fuzzy=False)
        for msgid, where in sorted(messages.items()):
            old = cat.get(msgid)
            fresh.add(msgid, old.string if old else "", locations=[(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where[:1]])  # fmt: skip
        PO_FILE.parent.mkdir(parents=True, exist_ok=True)
        with PO_FILE.open("wb") as f:
            write_po(f, fresh, width=100, omit_header=False, sort_output=True)
        print(f"{PO_FILE}: {len(messages)} messages, {len(missing)} without a translation")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
