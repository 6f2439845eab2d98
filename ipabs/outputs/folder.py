"""Checks on an output folder, made before any work so that a bad --out is refused early."""

from __future__ import annotations

from pathlib import Path

from ipabs.errors import UserError


def check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is not an earlier ipabs run (it might hold anything)."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir() or (
        any(out_dir.iterdir()) and not (out_dir / "manifest.json").is_file()
    ):
        raise UserError(
            "output folder exists and is not an ipabs run folder (no manifest.json); "
            "choose a new folder or remove it first",
            source=out_dir,
        )
