"""User-facing errors: bad input is reported as one clear message and exit code 2, never a traceback."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a key path), what was there, and what is allowed."""

    path: str
    message: str
    value: object = None
    has_value: bool = False

    def render(self) -> str:
        where = self.path or "(top level)"
        if self.has_value:
            return f"{where} = {_show(self.value)}: {self.message}"
        return f"{where}: {self.message}"


def _show(value: object) -> str:
    # a date as the file writes it (2040-01-01), not as Python's repr
    text = value.isoformat() if isinstance(value, dt.date) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class UserError(Exception):
    """An error in what the user gave us (file, option, scenario); exit code 2."""

    exit_code = 2

    def __init__(
        self, message: str, *, source: Path | str | None = None, problems: tuple[Problem, ...] = ()
    ):
        super().__init__(message)
        self.message = message
        self.source = str(source) if source is not None else None
        self.problems = problems

    def render(self) -> str:
        head = f"{self.source}: {self.message}" if self.source else self.message
        lines = [head]
        lines += [f"  - {p.render()}" for p in self.problems[:25]]
        if len(self.problems) > 25:
            lines.append(f"  ... and {len(self.problems) - 25} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ScenarioError(UserError):
    """A scenario file that cannot be read or does not validate."""


class ResourceLimitError(UserError):
    """A run whose estimated memory or time exceeds the documented limit."""


class InternalError(Exception):
    """A bug in ipabs, not in the input: e.g. a simulation output that is not a finite number.
    Exit code 1; the message names what went wrong, and no such number is ever printed."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def render(self) -> str:
        return f"internal error: {self.message}"

    def __str__(self) -> str:
        return self.render()
