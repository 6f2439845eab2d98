"""Ctrl-C while ipabs loads (numba's import, the command line's imports): exit 130 with one line,
not a traceback. Imported first by the package's __init__; it acts only when this process is the
`ipabs` command (never in a program or notebook that imports ipabs), and `ipabs.cli.main` takes
over once it runs."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path


def launched_as_cli() -> bool:
    """Whether this process is the `ipabs` command (console script or `python -m ipabs`), not a
    program that imported the package."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name in ("ipabs", "ipabs.__main__")
    return Path(getattr(main, "__file__", None) or "").stem.lower() == "ipabs"


def _interrupted_at_start(signum: int, frame: object) -> None:
    """Ctrl-C before `main` runs: nothing has been done, so leave at once with one line."""
    os.write(2, b"interrupted; nothing was written\n")
    os._exit(130)


def guard_start() -> None:
    """Until `main` takes over, answer Ctrl-C with `_interrupted_at_start` (not a traceback),
    unless the process was started with interrupts ignored."""
    if (
        launched_as_cli()
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        signal.signal(signal.SIGINT, _interrupted_at_start)


guard_start()
