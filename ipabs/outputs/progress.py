"""Progress bars for the Python API: in a Jupyter notebook, on a terminal, or none at all.

`simulate(progress="auto")` (the default) and `sweep` show a bar only where someone is watching:
in a Jupyter kernel or when stderr is a terminal, and never when the environment variable `CI`
is set (GitHub Actions, GitLab and most CI services set it) or `IPABS_PROGRESS=0`;
`progress=False` (or None) turns it off for one call, True on. In a notebook
the bar is one line of HTML updated in place through IPython's display handles (no ipywidgets
needed); on a terminal it is rich's bar on stderr. The bar moves as blocks of paths finish
(`run_paths` reports each block when a bar is shown). The command line has its own bar
(`ipabs.cli`), shown after a second.
"""

from __future__ import annotations

import html
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ipabs.errors import ScenarioError

Callback = Callable[[int, int], None]


def where_shown() -> str | None:
    """ "notebook", "terminal" or None (no one is watching, or CI)."""
    if os.environ.get("CI") or os.environ.get("IPABS_PROGRESS", "1") == "0":
        return None
    shell = _ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        return "notebook"  # a Jupyter kernel's shell (Colab's included); IPython's REPL has none
    try:
        return "terminal" if sys.stderr.isatty() else None
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return None


def _ipython() -> Any:
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:  # an IPython that cannot answer: treat as none
        return None


class Bar:
    """A progress bar for `total` units of `what`, as a context manager whose `update(done,
    total)` is the API's progress callback. `kind` is "notebook", "terminal" or None (silent)."""

    def __init__(
        self, total: int, *, what: str = "paths", label: str = "simulating", kind: str | None
    ):
        self.total, self.what, self.label, self.kind = total, what, label, kind
        self.done = 0
        self._drawn = 0.0
        self._handle: Any = None
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> Bar:
        if self.kind == "notebook":
            from IPython.display import HTML, display

            self._html = HTML
            self._handle = display(HTML(self._render()), display_id=True)
        elif self.kind == "terminal":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn(self.label), BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} " + self.what), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self._task = self._rich.add_task(self.label, total=self.total)
            self._rich.start()
        return self

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if self._handle is not None:
            now = time.monotonic()  # a notebook redraw is a message to the browser: at most 10/s
            if done >= total or now - self._drawn >= 0.1:
                self._drawn = now
                self._handle.update(self._html(self._render()))
        elif self._rich is not None:
            self._rich.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None and self.done < self.total:  # finished early (a --rel-se run): full
            self.update(self.done, self.done)
        if self._rich is not None:
            self._rich.stop()

    def _render(self) -> str:
        share = self.done / self.total if self.total else 1.0
        return (
            "<div style='font-family:monospace'>"
            f"{html.escape(self.label)} "
            f"<progress value='{self.done}' max='{max(self.total, 1)}' style='width:20em'></progress>"
            f" {share:.0%} ({self.done:,}/{self.total:,} {html.escape(self.what)})</div>"
        )


def valid(progress: object) -> bool:
    """Whether `progress` is one of the values the API takes (1 and 0 are not True and False)."""
    return (
        callable(progress)
        or progress is None
        or progress is True
        or progress is False
        or (isinstance(progress, str) and progress == "auto")
    )


def resolve(progress: object, total: int, *, what: str = "paths", label: str = "simulating"):
    """The API's `progress` argument as (context manager or None, callback or None): a callable
    is used as given; "auto" shows a `Bar` where someone is watching; True always shows one (on
    stderr when there is no notebook); False or None shows nothing."""
    if not valid(progress):
        raise ScenarioError(
            "progress must be 'auto', True, False, None or a function progress(done, total), "
            f"not {progress!r}"
        )
    if callable(progress):
        return None, progress
    if progress is False or progress is None:
        return None, None
    kind = (where_shown() or "terminal") if progress is True else where_shown()
    if kind is None:
        return None, None
    bar = Bar(total, what=what, label=label, kind=kind)
    return bar, bar.update
