"""`ipabs size`: the largest balance of a class that meets a target, the subordinated class
taking up the difference so that the capital structure's total is unchanged.

Every candidate size runs the same paths (same seed: common random numbers), so the tranche's
metric moves smoothly with its size and the answer repeats for a seed. A size meets the target
when the metric's one-sided 95% upper confidence bound does (ipabs.ratings.implied), not its
point estimate. The boundary is found by Brent's method (scipy.optimize.brentq) on bound -
allowance, and the largest size evaluated that met the target is returned. The pool's paths do
not depend on the sizes, so the first evaluation keeps them (ipabs.engine.run.PoolCache) and the
others only run the structure. With importance sampling the shift is chosen once, for the class
at its original size, and kept for every candidate (common random numbers again).

The search starts from the class's size now and halves it until a size meets the target (a
smaller class loses less), then closes in on the boundary above it. A run that cannot resolve
the target is refused: if even the smallest size meets the target on its point estimate but not
on its bound, more paths (or importance sampling) are needed, and the error says roughly how
many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy.optimize import brentq

from ipabs.engine.distribute import with_client
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
    scenario: Scenario = field(repr=False)  # the scenario at the solution, for the next class
    results: object = field(repr=False)  # ipabs.Results at the solution

    def _repr_html_(self) -> str:
        from ipabs.outputs.display import fields_table, html_table, with_se

        cur = self.scenario.deal.currency
        shown = self.scenario.display_names().get(self.tranche, self.tranche)
        if self.capped:
            outcome = "the whole room meets the target (the search's upper end)"
        elif self.met:
            outcome = "largest size meeting the target with 95% confidence"
        else:
            outcome = "no size meets the target"
        head = fields_table([
            (f"balance ({cur} m)", self.balance / 1e6),
            (f"balance before ({cur} m)", self.original_balance / 1e6),
            (f"change ({cur} m)", (self.balance - self.original_balance) / 1e6),
            ("taken up by", self.scenario.display_names().get(self.absorbing_class, self.absorbing_class)),
            ("target", self.target),
            ("outcome", outcome),
            ("evaluations", self.evaluations),
        ])  # fmt: skip
        at = with_se(self.results.view())
        return html_table(head, title=f"Size of {shown}", index=False) + html_table(
            at, title="The classes at that size (value ± one standard error)"
        )


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


@with_client
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
    min_subordination: float = 0.0,
    importance: str | None = None,
) -> SizeResult:
    """The largest balance of `tranche` meeting one target with 95% confidence; `tolerance` is a
    share of the capital structure's total (the answer is within it of the boundary);
    `min_subordination` is the least share of the capital structure the subordinated class
    keeps; `importance` = "auto" samples the horizon factors aimed at `tranche`."""
    from ipabs.api import load, simulate, with_importance, with_simulation
    from ipabs.engine.importance import fixed_shift

    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    if not 0.0 <= min_subordination < 1.0:
        raise UserError(
            f"min_subordination must be a share of the capital structure from 0 to 1, not {min_subordination}"
        )
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
    total = sum(t.balance for t in sc.tranches)
    floor = room * 1e-6  # both classes keep a positive balance
    keep = max(floor, min_subordination * total)
    if keep >= room - floor:
        raise UserError(
            f"min_subordination {min_subordination} leaves no room for {tranche!r}: the "
            f"subordinated class and {tranche!r} hold {room:,.0f} of {total:,.0f} together"
        )
    sc = with_simulation(sc, paths=paths, seed=seed)
    if importance == "none":
        sc = with_importance(sc, "none", None)
    elif importance is not None:
        sc = with_importance(sc, importance, tranche)
    sc = fixed_shift(sc)  # "auto": one shift, chosen for the class at its size now, for every size
    evaluated: dict[float, tuple[float, object]] = {}
    pool = PoolCache()  # resizing leaves the pool alone: simulate it once, replay it after

    def excess(balance: float) -> float:
        if balance not in evaluated:
            res = simulate(resize(sc, tranche, balance), pool_cache=pool, progress=False)
            evaluated[balance] = (target.excess(res, tranche), res)
        return evaluated[balance][0]

    lo, hi = floor, room - keep
    capped = excess(hi) <= 0.0
    met = capped
    if not capped:
        # a smaller class loses less, so search down from its size now, halving, for a size
        # that meets the target (a very small class may lose too rarely for its bound to be
        # measured, above all under importance sampling aimed at the class as it is)
        size_now = min(max(original, lo), hi)
        lower = size_now
        while excess(lower) > 0.0 and lower > lo:
            lower = max(lower / 2, lo)
        met = excess(lower) <= 0.0
        if not met:
            _refuse_if_unresolved(target, evaluated[lo][1], tranche)
        else:
            upper = min(b for b, (e, _) in evaluated.items() if b > lower and e > 0.0)
            # the metric is flat at zero below the boundary: shift it so that met means negative
            brentq(lambda b: excess(b) - 1e-15, lower, upper, xtol=tolerance * room, rtol=1e-12)
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
        results=evaluated[best][1] if passing else evaluated[min(evaluated)][1],
    )


def _refuse_if_unresolved(target: Target, results, tranche: str) -> None:
    """Raise when a size's point estimate meets the target but its 95% bound cannot show it."""
    from ipabs.ratings.implied import paths_to_resolve

    column, limit = target.limit_for(results, tranche)
    if target.excess(results, tranche, bound=False) > 0.0:
        return  # genuinely misses: reported as "no size meets the target"
    row = results.summary.set_index("tranche").loc[tranche]
    weighted = results.importance is not None and results.importance.enabled
    needed = paths_to_resolve(
        float(row[column]),
        float(row[f"{column}_se"]),
        int(row["paths_with_loss"]),
        results.paths_run,
        limit,
        weighted,
        "expected_loss" if column == "expected_loss" else "loss_probability",
    )
    if limit <= 0.0:
        how = "a limit above 0: no number of paths can show a probability of 0 (the table's limit is 0 at this tenor)"
    elif math.isfinite(needed):
        how = f"about {needed:,.0f} paths"
    elif weighted:
        how = "many more paths: importance sampling saw too few losses at the smallest size"
    else:
        how = "importance sampling aimed at it (--importance auto) or many more paths"
    raise UserError(
        f"cannot size {tranche!r} to {target.describe()}: at {results.paths_run:,} paths "
        f"({int(row['paths_with_loss'])} with a loss) the run cannot show the target is met with "
        f"95% confidence even at the smallest size (its {column} limit is {limit:.3g}). It would "
        f"take {how}."
    )
