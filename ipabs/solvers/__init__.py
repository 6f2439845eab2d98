"""Structuring solvers: the largest class size that meets a target (`size`), and each class's
breakeven stress (`breakeven`), on common random numbers (docs/model.md, section 6).

Imported on first use, so that the command line starts without scipy and pandas."""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "size": "ipabs.solvers.sizing",
    "SizeResult": "ipabs.solvers.sizing",
    "breakeven": "ipabs.solvers.breakevens",
    "STRESSES": "ipabs.solvers.breakevens",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ipabs.solvers' has no attribute {name!r}")
