"""Pool stresses a stress file can apply by name: the four of ipabs breakeven
(ipabs.solvers.stress) and a correlation increase."""

from __future__ import annotations

import math

from ipabs.scenario.model import Scenario
from ipabs.solvers.stress import STRESS_FUNCTIONS


def _raised(loading: float, x: float) -> float:
    return math.sqrt(min(loading * loading + x, 1.0))


def correlation_increase(sc: Scenario, x: float) -> Scenario:
    """Every factor loading a (licensees, assets, loans, leases, receivables, revolving loans) becomes
    sqrt(min(a^2 + x, 1)): the latent correlation a_i a_j of two names with equal loadings on one
    factor rises by x (capped at 1)."""

    def bump(items):
        return tuple(
            i.model_copy(update={"factor_loading": _raised(i.factor_loading, x)}) for i in items
        )

    update = {"licensees": bump(sc.licensees), "assets": bump(sc.assets), "loans": bump(sc.loans),
              "leases": bump(sc.leases), "receivables": bump(sc.receivables)}  # fmt: skip
    if sc.revolving is not None:
        update["revolving"] = sc.revolving.model_copy(
            update={"factor_loading": _raised(sc.revolving.factor_loading, x)}
        )
    return sc.model_copy(update=update)


PRESETS = {name: fn for name, (fn, _) in STRESS_FUNCTIONS.items()}
PRESETS["correlation_increase"] = correlation_increase
