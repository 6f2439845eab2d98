"""Output folders: which folder a command may write, and how it is replaced without loss.

What a user can rely on (every command that writes a folder: run, value, stress, report):

* The output folder may be new, empty, or one that ipabs wrote before. A folder counts as
  ipabs's only if its manifest.json is a JSON object carrying ipabs's own "ipabs_version" and
  "command" keys, and every file in it is of a kind ipabs writes (.parquet, .json, .png, .svg,
  .html; no links, devices or other files). Any other folder is refused with exit code 2 before
  any work, and nothing is written or deleted.
* Also refused before any work, with exit code 2: the current folder or a folder that contains
  it (".", "..", "/"), a mount point, a symbolic link, a file, a path under a file, and a place
  ipabs cannot write (read-only, permission denied).
* A command writes into a hidden folder beside the target, ".NAME.partial-PID@HOST-XXXXXXXX",
  and only when that is complete puts it in place. On Linux (renameat2 RENAME_EXCHANGE) and
  macOS (renamex_np RENAME_SWAP) an earlier output is exchanged for the new one in one atomic
  step, so the folder always holds either the earlier output or the new complete one, even if
  the process is killed. Elsewhere the earlier output is first moved into
  ".NAME.old-PID@HOST-XXXXXXXX/previous"; a crash between the two renames is repaired on the
  next start.
* Ctrl-C at any point exits with code 130 and one line on stderr. An interrupt that arrives
  while the new output is being put in place is held until the exchange is done, so the message
  says truthfully whether the new output was written.
* On start, a command that writes NAME first tidies what killed runs left beside it: hidden
  partial and old folders for the same NAME, made on this host (and PID namespace), whose
  process is no longer alive, are removed; if NAME itself is missing and such an old folder
  holds the earlier output, that is put back first. Folders of live runs, of other hosts or
  containers, and anything not named this way are never touched. (On Windows, where a process's
  liveness is not checked, leftovers are not removed.)
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ipabs.errors import UserError

# what an ipabs command writes into an output folder (by file name suffix), and operating
# system clutter that may appear in any folder and is safe to discard
OUTPUT_SUFFIXES = frozenset({".parquet", ".json", ".png", ".svg", ".html"})
CLUTTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
MAX_ENTRIES = 100_000  # more files than this is no ipabs output
MAX_MANIFEST_BYTES = 256 * 2**20
MANIFEST_KEYS = ("ipabs_version", "command")

_written: list[Path] = []


def check_out_dir(out_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder that ipabs must not replace or cannot write, naming the path;
    first tidy up what killed runs left beside it (see the module docstring)."""
    target = absolute(out_dir)
    _check_location(target, out_dir)
    recover(target)
    check_replaceable(target, out_dir)
    _check_writable(target, out_dir)


def absolute(path: str | os.PathLike[str]) -> Path:
    """`path` made absolute and normalised ("." and ".." removed), without following links."""
    return Path(os.path.abspath(path))


# --- where the folder may be -----------------------------------------------------------------


def _check_location(target: Path, shown: object) -> None:
    """Refuse the current folder or one containing it, links, files, mount points, and paths
    under a file."""
    if target.parent == target or _contains_cwd(target):
        raise UserError(
            "the output folder is the current folder or contains it, and ipabs replaces its "
            "output folder as a whole; choose a new folder, e.g. runs/NAME",
            source=shown,
        )
    if target.is_symlink():
        raise UserError(
            "the output folder is a symbolic link; give the folder it points to, or a new one",
            source=shown,
        )
    if target.exists() and not target.is_dir():
        raise UserError("the output folder is a file, not a folder", source=shown)
    if target.is_dir() and os.path.ismount(target):
        raise UserError(
            "the output folder is a mount point, which ipabs cannot replace; choose a folder "
            "inside it",
            source=shown,
        )
    blocker = _existing_ancestor(target)
    if blocker is not None and not blocker.is_dir():
        kind = "a file" if blocker.is_file() else "not a folder"
        raise UserError(
            f"{blocker} is {kind}, so the output folder cannot be made under it", source=shown
        )


def _contains_cwd(target: Path) -> bool:
    try:
        here = Path.cwd().resolve()
        real = target.resolve()
    except OSError:
        return False
    return real == here or real in here.parents


def _existing_ancestor(target: Path) -> Path | None:
    """The nearest ancestor of `target` that exists (as anything), or None."""
    for folder in target.parents:
        if os.path.lexists(folder):
            return folder
    return None


def _check_writable(target: Path, shown: object) -> None:
    """Refuse a place where the output cannot be written. The check makes (and at once removes)
    an empty hidden folder there, since permission bits alone do not tell (root, read-only
    mounts, /proc)."""
    where = target.parent if target.parent.is_dir() else _existing_ancestor(target)
    if where is None:
        return
    try:
        if not os.access(where, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        os.rmdir(tempfile.mkdtemp(prefix=f".{_tag(target.name)}.probe-", dir=where))
    except OSError as exc:
        raise UserError(
            f"cannot write the output folder in {where}: {exc.strerror or exc}; choose a "
            "folder you can write to",
            source=shown,
        ) from None


# --- whether an existing folder is ipabs's ---------------------------------------------------


def check_replaceable(target: Path, shown: object | None = None) -> None:
    """Refuse to replace an existing folder unless it is empty or an earlier ipabs output."""
    shown = target if shown is None else shown
    if not os.path.lexists(target):
        return
    try:
        if not any(target.iterdir()):
            return
        reason = _manifest_problem(target / "manifest.json") or _foreign_file(target)
    except OSError as exc:
        raise UserError(
            f"cannot read the output folder: {exc.strerror or exc}", source=shown
        ) from None
    if reason:
        raise UserError(
            f"output folder exists and is not an ipabs run folder ({reason}); choose a new "
            "folder or remove it first",
            source=shown,
        )


def _manifest_problem(path: Path) -> str | None:
    """Why `path` is not a manifest written by ipabs, or None if it is one."""
    if not path.is_file() or path.is_symlink():
        return "no manifest.json written by ipabs"
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        return "its manifest.json is too large to be ipabs's"
    try:
        info: Any = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return "its manifest.json is not valid JSON"
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str) and info[k] for k in MANIFEST_KEYS
    ):
        return "its manifest.json was not written by ipabs"
    return None


def _foreign_file(folder: Path) -> str | None:
    """The first entry under `folder` that no ipabs command writes, described; None if none."""
    seen = 0
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                return f"it holds the link {(base / name).relative_to(folder)}"
        for name in sorted(files):
            seen += 1
            path = base / name
            if seen > MAX_ENTRIES:
                return f"it holds more than {MAX_ENTRIES:,} files"
            if name in CLUTTER:
                continue
            if path.is_symlink() or not path.is_file():
                return f"it holds {path.relative_to(folder)}, which is not a regular file"
            if path.suffix.lower() not in OUTPUT_SUFFIXES:
                return f"it holds {path.relative_to(folder)}, which ipabs never writes"
    return None


# --- names of the hidden folders, and tidying up after killed runs ---------------------------


def _tag(name: str) -> str:
    """The folder name as used in hidden names (shortened when long, so they stay valid)."""
    if len(name.encode()) <= 120:
        return name
    return name[:60] + "~" + hashlib.sha256(name.encode()).hexdigest()[:12]


@functools.cache
def _host() -> str:
    """A short tag for this host and PID namespace: a PID means a process only within one."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


def hidden_prefix(target: Path, kind: str) -> str:
    """The name prefix of this process's hidden `kind` ("partial" or "old") folder for `target`."""
    return f".{_tag(target.name)}.{kind}-{os.getpid()}@{_host()}-"


def _leftovers(target: Path) -> list[tuple[Path, str]]:
    """Hidden partial and old folders for `target` made on this host by processes now dead."""
    pattern = re.compile(
        rf"\.{re.escape(_tag(target.name))}\.(partial|old)-(\d+)@([0-9a-f]{{8}})-[a-z0-9_]+"
    )
    found = []
    try:
        names = sorted(os.listdir(target.parent))
    except OSError:
        return []
    for name in names:
        match = pattern.fullmatch(name)
        path = target.parent / name
        if not match or match[3] != _host() or path.is_symlink() or not path.is_dir():
            continue
        if not _alive(int(match[2])):
            found.append((path, match[1]))
    return found


def _alive(pid: int) -> bool:
    """Whether process `pid` may be alive (True when it cannot be told)."""
    if sys.platform == "win32" or pid <= 0 or pid == os.getpid():
        return True  # on Windows, os.kill(pid, 0) would send Ctrl-C
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def recover(target: str | os.PathLike[str]) -> None:
    """Undo what killed runs left beside `target`: put back an earlier output that a crash left
    in an old folder (only if `target` is missing), then remove their hidden folders. Best
    effort: never raises."""
    target = absolute(target)
    leftovers = _leftovers(target)
    if not os.path.lexists(target):
        _restore(target, [p for p, kind in leftovers if kind == "old"])
    for path, _ in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def _restore(target: Path, olds: list[Path]) -> None:
    """Move the newest complete earlier output found in `olds` back to `target`."""
    saved = [old / "previous" for old in olds if (old / "previous" / "manifest.json").is_file()]
    saved.sort(key=lambda p: (p / "manifest.json").stat().st_mtime, reverse=True)
    for previous in saved:
        try:
            rename_noreplace(previous, target)
            return
        except OSError:
            continue


# --- renames ---------------------------------------------------------------------------------

_AT_FDCWD = -100
_LINUX_NOREPLACE, _LINUX_EXCHANGE = 1, 2
_MAC_SWAP, _MAC_EXCL = 2, 4
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


@functools.cache
def _rename_call() -> Any:
    """libc's renameat2 (Linux) or renamex_np (macOS), or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        call = libc.renameat2
        call.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        call = libc.renamex_np
        call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
    else:
        return None
    call.restype = ctypes.c_int
    return call


def _rename2(src: Path, dst: Path, linux_flag: int, mac_flag: int) -> bool:
    """A rename with a flag; False when this system or file system does not offer it."""
    call = _rename_call()
    if call is None:
        return False
    a, b = os.fsencode(src), os.fsencode(dst)
    if sys.platform == "darwin":
        result = call(a, b, mac_flag)
    else:
        result = call(_AT_FDCWD, a, _AT_FDCWD, b, linux_flag)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(src), None, str(dst))


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False if the system cannot."""
    return _rename2(a, b, _LINUX_EXCHANGE, _MAC_SWAP)


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, failing (FileExistsError) rather than replacing anything there."""
    if _rename2(src, dst, _LINUX_NOREPLACE, _MAC_EXCL):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


# --- interrupts and what has been written ----------------------------------------------------


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) for the duration of a block, then deliver it. Only the main thread
    receives signals, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        previous = signal.SIG_DFL if previous is None else previous
        signal.signal(signal.SIGINT, previous)
        if pending and callable(previous):
            previous(signal.SIGINT, None)  # the default handler raises KeyboardInterrupt
        elif pending and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)


def note_written(target: Path) -> None:
    """Record that a complete output is now in place at `target`."""
    _written.append(target)


def written() -> tuple[Path, ...]:
    """The output folders this process has put in place, in order."""
    return tuple(_written)
