"""Where Numba caches the compiled kernels: a folder keyed by a hash of ipabs's own source.

Numba's on-disk cache (`njit(cache=True)`) checks only the source file of the function it
compiled, not the functions it calls from other modules, so a changed kernel in one module could
be served stale from the cache of its caller. Keying the cache folder by the whole package's
source rules that out: any edit, or a new version, compiles afresh once. The folder is
$NUMBA_CACHE_DIR/ipabs-<hash> when NUMBA_CACHE_DIR is set, else ~/.cache/ipabs/numba/<hash>
($XDG_CACHE_HOME respected). This module must run before any kernel is decorated, so the package's
__init__ imports it first.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba


def source_hash() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
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
