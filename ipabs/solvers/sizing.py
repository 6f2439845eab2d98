"""`ipabs size`: the largest balance of a class that meets a target, the subordinated class
taking up the difference so that the capital structure's total is unchanged.

Every candidate size runs the same paths (same seed: common random numbers), so the tranche's
metric moves smoothly with its size and the answer repeats for a seed. The boundary is found by
Brent's method (scipy.optimize.brentq) on metric - allowance, and the largest size evaluated
that met the target is returned. The pool's paths do not depend on the sizes, so the first
evaluation keeps them (ipabs.engine.run.PoolCache) and the others only run the structure.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.optimize import brentq

from ipabs.engine.run import PoolCache
from ipabs.errors import UserError
from ipabs.scenario.model import Scenario
from ipabs.solvers.common import Target


@dataclass(frozen=True)
class SizeResult:
    tranche: str
    balance: float  # largest balance found that meets the target (0.0: none does)
    original_balance: float
    absorbing_class: str  # the subordinated class, whose balance moved the other way
    target: str
    met: bool  # False: even the smallest size misses the target
    capped: bool  # True: the whole capital meets it (the search's upper end)
    evaluations: int
    scenario: Scenario  # the scenario at the solution, for sizing the next class
    results: object  # ipabs.Results at the solution


def resize(sc: Scenario, tranche: str, balance: float) -> Scenario:
    """The scenario with `tranche` at `balance` (its schedule scaled in proportion) and the
    subordinated class changed by the opposite amount."""
    ranked = sc.tranches_by_rank()
    sub = ranked[-1]
    old = next(t for t in sc.tranches if t.name == tranche)
    delta = balance - old.balance
    tranches = []
    for t in sc.tranches:
        if t.name == tranche:
            scale = balance / t.balance
            schedule = (
                None
                if t.amortisation is None
                else tuple(
                    s.model_copy(update={"principal": s.principal * scale}) for s in t.amortisation
                )
            )
            t = t.model_copy(update={"balance": balance, "amortisation": schedule})
        elif t.name == sub.name:
            t = t.model_copy(update={"balance": t.balance - delta})
        tranches.append(t)
    return sc.model_copy(update={"tranches": tuple(tranches)})


def size(
    scenario: Scenario | str,
    tranche: str,
    *,
    rating: str | None = None,
    expected_loss: float | None = None,
    loss_probability: float | None = None,
    paths: int | None = None,
    seed: int | None = None,
    tolerance: float = 1e-4,
) -> SizeResult:
    """The largest balance of `tranche` meeting one target; `tolerance` is a share of the
    capital structure's total (the answer is within it of the boundary)."""
    from ipabs.api import load, simulate

    sc = load(scenario) if isinstance(scenario, str) else scenario
    target = Target.of(
        rating=rating, expected_loss=expected_loss, loss_probability=loss_probability
    )
    names = [t.name for t in sc.tranches_by_rank()]
    if tranche not in names:
        raise UserError(f"no tranche is named {tranche!r}; the tranches are: {', '.join(names)}")
    sub = names[-1]
    if tranche == sub:
        raise UserError(
            f"{tranche!r} is the subordinated class, which takes up the difference; size a class above it"
        )
    original = next(t.balance for t in sc.tranches if t.name == tranche)
    room = original + next(t.balance for t in sc.tranches if t.name == sub)
    floor = room * 1e-6  # both classes keep a positive balance
    evaluated: dict[float, tuple[float, object]] = {}
    pool = PoolCache()  # resizing leaves the pool alone: simulate it once, replay it after

    def excess(balance: float) -> float:
        if balance not in evaluated:
            res = simulate(resize(sc, tranche, balance), paths=paths, seed=seed, pool_cache=pool)
            evaluated[balance] = (target.excess(res, tranche), res)
        return evaluated[balance][0]

    lo, hi = floor, room - floor
    capped = excess(hi) <= 0.0
    met = capped or excess(lo) <= 0.0
    if met and not capped:
        # the metric is flat at zero below the boundary: shift it so that met means negative
        brentq(lambda b: excess(b) - 1e-15, lo, hi, xtol=tolerance * room, rtol=1e-12)
    passing = [b for b, (e, _) in evaluated.items() if e <= 0.0]
    best = max(passing) if passing else 0.0
    final_sc = resize(sc, tranche, best) if passing else sc
    return SizeResult(
        tranche=tranche,
        balance=best,
        original_balance=original,
        absorbing_class=sub,
        target=target.describe(),
        met=met,
        capped=capped,
        evaluations=len(evaluated),
        scenario=final_sc,
        results=evaluated[best][1] if passing else evaluated[lo][1],
    )
