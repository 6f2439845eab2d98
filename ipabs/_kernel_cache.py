"""Where Numba caches the compiled kernels: a folder keyed by a hash of ipabs's kernel modules.

Numba's on-disk cache (`njit(cache=True)`) checks only the source file of the function it
compiled, not the functions it calls from other modules, so a changed kernel in one module could
be served stale from the cache of its caller. Keying the cache folder by the source of every
kernel module (a module that defines an `@njit` function) rules that out: an edited kernel, or a
new version that changes one, compiles afresh once, while an edit elsewhere (the command line,
the reports, the scenario schema) keeps the cache. Kernels read only their own modules' globals
(tests/test_rng.py checks that no kernel uses a name imported from another module). The folder is
$NUMBA_CACHE_DIR/ipabs-<hash> when NUMBA_CACHE_DIR is set, else ~/.cache/ipabs/numba/<hash>
($XDG_CACHE_HOME respected). This module must run before any kernel is decorated, so the package's
__init__ imports it first.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parent
#: a module defining a kernel, or an intrinsic (whose code is compiled into the kernels calling it)
_KERNEL = re.compile(r"^@(numba\.)?(njit|jit|intrinsic)\b", re.MULTILINE)
_ARGUMENT_TYPE = re.compile(r"^class \w+\((typing\.)?NamedTuple\)", re.MULTILINE)


def kernel_modules() -> list[Path]:
    """The package's modules that define Numba kernels or the NamedTuples passed to them, in a
    fixed order."""
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if _KERNEL.search(text := p.read_text("utf-8")) or _ARGUMENT_TYPE.search(text)
    ]


def source_hash() -> str:
    package = PACKAGE
    digest = hashlib.sha256()
    for path in kernel_modules():
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure() -> Path:
    key = source_hash()
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        folder = Path(user_dir) / f"ipabs-{key}"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "ipabs" / "numba" / key
    numba.config.CACHE_DIR = str(folder)
    return folder


CACHE_DIR = configure()


def is_compiled(dispatcher, args: tuple) -> bool:
    """Whether `dispatcher` holds, in memory or in the cache folder, machine code for `args`'
    types; False means the next call compiles. Reads Numba's cache index (an internal of Numba
    0.6x); if that cannot be read the answer is True, so at worst a notice is not shown."""
    try:
        sig = tuple(numba.typeof(a) for a in args)
        if sig in dispatcher.overloads:
            return True
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # a diagnostic only; never stop a run for it
        return True


_noticed = False


def notice_compiling(stream=None) -> None:
    """Say once per process that the kernels are being compiled, and about how long it takes
    (benchmarks/README.md: the flagship's first run)."""
    global _noticed
    if _noticed:
        return
    _noticed = True
    stream = stream or sys.stderr
    print(
        "ipabs: compiling the simulation kernels for this kind of deal (once per install and deal kind; "
        f"about 15 s on 2 cores). Later runs load them from {CACHE_DIR}",
        file=stream,
        flush=True,
    )
