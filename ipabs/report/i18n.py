"""The report's one translation catalogue (gettext style) and locale formatting (Babel)."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a string for translation where it is defined (extracted into the catalogue); it is
    translated where it is shown."""
    return message
