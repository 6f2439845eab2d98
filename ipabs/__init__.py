"""ipabs: Monte Carlo structuring modeller for securitisations and trusts backed by IP.

    import ipabs
    scenario = ipabs.load("scenarios/zgc_patent_licence_abs_2022.toml")
    results = ipabs.simulate(scenario, paths=20_000, seed=1)
    results.summary          # one row per tranche, estimates with standard errors
    results.plot_losses()    # matplotlib Axes
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ipabs")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from ipabs.api import load, simulate  # noqa: E402
from ipabs.errors import ResourceLimitError, ScenarioError, UserError  # noqa: E402
from ipabs.results import Results  # noqa: E402
from ipabs.scenario.model import Scenario  # noqa: E402

__all__ = ["ResourceLimitError", "Results", "Scenario", "ScenarioError", "UserError", "__version__", "load", "simulate"]
