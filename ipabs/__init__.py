"""ipabs: Monte Carlo structuring modeller for securitisations and trusts backed by IP.

import ipabs
scenario = ipabs.load("scenarios/zgc_patent_licence_abs_2022.toml")
results = ipabs.simulate(scenario, paths=20_000, seed=1)
results.summary          # one row per tranche, estimates with standard errors
results.plot_losses()    # matplotlib Axes
"""

# isort: off
from ipabs import _startup  # noqa: F401  (first: Ctrl-C while the command loads exits 130)

# isort: on
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ipabs import _kernel_cache  # noqa: F401  (must run before any kernel is compiled)

try:
    __version__ = version("ipabs")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

# The public surface, imported on first use so that `ipabs --help` and `ipabs validate` start fast.
_EXPORTS = {
    "load": "ipabs.api",
    "simulate": "ipabs.api",
    "size": "ipabs.solvers.sizing",
    "breakeven": "ipabs.solvers.breakevens",
    "sweep": "ipabs.solvers.sweep",
    "plot_sweep": "ipabs.solvers.sweep",
    "price": "ipabs.transfer.pricing",
    "Results": "ipabs.results",
    "Scenario": "ipabs.scenario.model",
    "ScenarioError": "ipabs.errors",
    "ResourceLimitError": "ipabs.errors",
    "InternalError": "ipabs.errors",
    "UserError": "ipabs.errors",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ipabs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
