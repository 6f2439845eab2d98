"""The base case's cash-flow statement: each period's expected waterfall flows, and the cash-flow
coverage of each class over the deal's life, as a prospectus (计划说明书) shows them.

The statement is the mean, over the first min(`sample_paths`, `run.STATEMENT_PATHS` = 2,000)
paths (its `sample_paths` column; weighted by their likelihood ratios under importance sampling,
as `Results.periods` is), of each period's flows recorded by the kernel
(`RawResults.sample_flows`, named by `run.flow_series`) and of the balances on the same paths.
On every path and period the waterfall spends exactly the cash it has (`WaterfallOut`;
`pay_waterfall` leaves nothing unallocated), so

    SOURCES  collections + call_proceeds + credit_support + liquidity_drawn + reserve_draw
             + reserve_release + holdback_drawn + holdback_released
  = USES     fees + performance_fee + liquidity_charges + liquidity_repaid
             + sum over classes of (interest_<class> + principal_<class>)
             + revolving_purchases + reserve_topup + holdback_in + residual

A reserve release (above the target, or all of it at legal final or a call) joins the
period's cash ahead of the steps, so it is a source; the holdback is taken out of the period's
collections before the steps (a use) and returns as a source when drawn or released. Means are
linear, so the identity holds for the statement too (`statement_residual`).

Which columns appear: the core ones always (collections, fees, each class's interest and
principal, residual, each class's opening and closing balance), every other flow only when it
is non-zero on one of those paths at least (a deal without a liquidity facility shows none of its
columns), the reserve's balances when it holds anything on some path, and the per-fee
breakdown `fee_<name>` only when two or more fees are paid (one fee would repeat `fees`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ipabs.engine.compile import CompiledDeal
from ipabs.engine.reduce import path_weights, weighted_mean
from ipabs.engine.run import CLASS_FLOWS, POOL_FLOWS, RawResults, flow_series

#: what comes into the period's cash (before the steps), in the statement's order
SOURCES = (
    "collections",
    "call_proceeds",
    "credit_support",
    "reserve_draw",
    "reserve_release",
    "liquidity_drawn",
    "holdback_drawn",
    "holdback_released",
)
#: where it goes that is not a class's interest or principal, in the statement's order (each
#: class's interest and principal come after the liquidity facility's)
USES_BEFORE_CLASSES = ("fees", "performance_fee", "liquidity_charges", "liquidity_repaid")
USES_AFTER_CLASSES = ("reserve_topup", "holdback_in", "revolving_purchases", "residual")
assert set(SOURCES + USES_BEFORE_CLASSES + USES_AFTER_CLASSES) == set(POOL_FLOWS)


def _uses(classes: tuple[str, ...]) -> tuple[str, ...]:
    per_class = tuple(f"{kind}_{name}" for name in classes for kind in CLASS_FLOWS)
    return USES_BEFORE_CLASSES + per_class + USES_AFTER_CLASSES


def path_flows(deal: CompiledDeal, raw: RawResults) -> dict[str, np.ndarray]:
    """Each recorded series as a (sample, periods) array, by name."""
    names = flow_series(deal.scenario.fee_names(), deal.tranche_names)
    assert raw.sample_flows.shape[1] == len(names), "sample_flows does not match the deal"
    return {name: raw.sample_flows[:, i, :] for i, name in enumerate(names)}


def path_residual(deal: CompiledDeal, raw: RawResults) -> np.ndarray:
    """Sources less uses, per sample path and period (sample, periods): zero up to rounding."""
    flows = path_flows(deal, raw)
    gap = np.zeros(raw.sample_flows[:, 0, :].shape)
    for name in SOURCES:
        gap += flows[name]
    for name in _uses(deal.tranche_names):
        gap -= flows[name]
    return gap


def statement_residual(frame: pd.DataFrame) -> pd.Series:
    """Per period, the statement's sources less its uses (the module's identity), over the
    columns it has (a column left out is zero on every path): zero up to rounding."""
    classes = tuple(c.removeprefix("interest_") for c in frame.columns if c.startswith("interest_"))
    sources = [c for c in SOURCES if c in frame]
    uses = [c for c in _uses(classes) if c in frame]
    return frame[sources].sum(axis=1) - frame[uses].sum(axis=1)


def cash_flow_statement(deal: CompiledDeal, raw: RawResults) -> pd.DataFrame:
    """One row per period: period, date, t_years; each class's and the reserve's opening
    balance; the sources, then the uses (module doc); each class's and the reserve's closing
    balance; and `sample_paths`, the paths the means are over. Amounts in the deal's currency;
    the means weighted by likelihood ratio under importance sampling. Opening balances of
    period 1 are the initial ones; later, the previous period's closing."""
    n_sample = raw.sample_flows.shape[0]
    w = path_weights(raw)
    if w is not None:
        w = w[:n_sample]

    def mean(values: np.ndarray) -> np.ndarray:
        return weighted_mean(values, w) if w is not None else values.mean(axis=0)

    flows = path_flows(deal, raw)
    classes = deal.tranche_names
    core = {"collections", "fees", "residual", *(f"{k}_{c}" for c in classes for k in CLASS_FLOWS)}

    def shown(name: str) -> bool:
        return name in core or bool(np.any(flows[name] != 0.0))

    fees_paid = [name for name in deal.scenario.fee_names() if shown(f"fee_{name}")]
    breakdown = [f"fee_{name}" for name in fees_paid] if len(fees_paid) > 1 else []
    balances = {c: raw.sample_balances[:n_sample, t, :] for t, c in enumerate(classes)}
    balance0 = dict(zip(classes, deal.waterfall.balance0, strict=True))
    accounts: dict[str, tuple[float, np.ndarray]] = {}
    reserve0 = float(deal.waterfall.reserve_initial)
    reserve, holdback = raw.sample_reserve[:n_sample], raw.sample_holdback[:n_sample]
    if reserve0 > 0.0 or np.any(reserve != 0.0):
        accounts["reserve"] = (reserve0, reserve)
    if np.any(holdback != 0.0):
        accounts["holdback"] = (0.0, holdback)

    frame: dict[str, object] = {
        "period": np.arange(1, deal.n_periods + 1),
        "date": pd.to_datetime(deal.dates),
        "t_years": deal.t_years,
    }
    closing: dict[str, np.ndarray] = {}
    for c in classes:
        closing[f"closing_{c}"] = mean(balances[c])
        frame[f"opening_{c}"] = _opening(float(balance0[c]), closing[f"closing_{c}"])
    for name, (initial, values) in accounts.items():
        closing[f"closing_{name}"] = mean(values)
        frame[f"opening_{name}"] = _opening(initial, closing[f"closing_{name}"])
    for name in SOURCES:
        if shown(name):
            frame[name] = mean(flows[name])
    for name in USES_BEFORE_CLASSES:
        if shown(name):
            frame[name] = mean(flows[name])
        if name == "fees":
            for part in breakdown:
                frame[part] = mean(flows[part])
    for c in classes:
        for kind in CLASS_FLOWS:
            frame[f"{kind}_{c}"] = mean(flows[f"{kind}_{c}"])
    for name in USES_AFTER_CLASSES:
        if shown(name):
            frame[name] = mean(flows[name])
    frame.update(closing)
    frame["sample_paths"] = np.full(deal.n_periods, n_sample, dtype=np.int64)
    return pd.DataFrame(frame)


def _opening(initial: float, closing: np.ndarray) -> np.ndarray:
    return np.concatenate([[initial], closing[:-1]])


def cash_flow_coverage(statement: pd.DataFrame, ranks: Mapping[str, int]) -> pd.DataFrame:
    """Each class's cash-flow coverage over the deal's life on the statement's expected flows
    (现金流覆盖倍数), one row per class in rank order:

        coverage = available / due
        available = pool cash (collections + call_proceeds)
                    - fees - liquidity_charges - revolving_purchases
                    - the due of every class of a higher rank (a smaller rank number)
        due = initial balance + interest paid, of the class (with the classes of its rank:
              pari passu classes share their rank's cash and so one ratio)

    Sums over all periods. The pool's own cash only: credit support, the reserve and the
    liquidity facility's draws are enhancement, not cash flow of the pool, and are left out (a
    ratio at or above 1 means the pool alone pays the class in full on the expected path). All
    fees and taxes are taken ahead of every class, whatever their place in the waterfall; a
    trust's performance fee, paid out of the residual, is not. "Due" counts the interest the
    class is paid on the expected path (with any credit support top-up), not interest owed and
    never paid: for a class short of interest the ratio is that much higher than against its
    contractual coupons. `ranks` maps each class's name to its rank (`Tranche.rank`)."""
    totals = statement.sum(numeric_only=True)

    def total(name: str) -> float:
        return float(totals[name]) if name in totals else 0.0

    pool_cash = total("collections") + total("call_proceeds")
    deductions = total("fees") + total("liquidity_charges") + total("revolving_purchases")
    order = sorted(ranks, key=lambda c: ranks[c])
    initial = [float(statement[f"opening_{c}"].iloc[0]) for c in order]
    interest = [total(f"interest_{c}") for c in order]
    frame = pd.DataFrame(
        {
            "tranche": order,
            "rank": [ranks[c] for c in order],
            "initial_balance": initial,
            "interest_paid": interest,
            "principal_paid": [total(f"principal_{c}") for c in order],
            "due": np.add(initial, interest),
        }
    )
    due_by_rank = frame.groupby("rank")["due"].sum()
    senior_due = due_by_rank.cumsum() - due_by_rank  # the ranks above each rank
    available = pool_cash - deductions - frame["rank"].map(senior_due)
    rank_due = frame["rank"].map(due_by_rank)
    frame["available"] = available
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["coverage"] = np.where(rank_due > 0.0, available / rank_due, np.nan)
    return frame
