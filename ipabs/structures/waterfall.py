"""Sequential ABS/ABN waterfall v1: compile the notes to arrays, and the kernel that pays one path.

Order of payments each period (docs/model.md, section "Waterfall"):
    1. senior fees (fixed + rate on the notes' opening balance, plus any unpaid fees),
    2. interest by rank (coupon on the opening balance, plus unpaid interest, not compounded),
       -- a shortfall in 1 or 2 is drawn from the cash reserve --
    3. reserve top-up to its target (target 0 once the notes are repaid; released at legal final),
    4. principal by rank: a scheduled tranche to its target balance, a turbo tranche all cash once
       every more senior tranche is repaid; everything is due at legal final,
    5. residual to the subordinated (lowest-ranked) class.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
from numba import njit

from ipabs.scenario.model import Scenario


class WaterfallArrays(NamedTuple):
    """The notes and deal accounts as arrays, tranches ordered by rank (T tranches, K periods)."""

    accrual: np.ndarray  # (K,) coupon and fee accrual fraction in the deal's day count
    balance0: np.ndarray  # (T,)
    coupon: np.ndarray  # (T, K) coupon rate of each period (fixed, stepped up, or LPR + spread)
    group_end: np.ndarray  # (T,) int: one past the last class of the rank of class t (pro rata)
    has_schedule: np.ndarray  # (T,) bool
    target_balance: np.ndarray  # (T, K) balance after period k's scheduled principal
    fee_fixed_per_year: float
    fee_pct_of_notes: float
    fee_cap_per_year: float  # inf: no cap
    fee_subordinated_per_year: float
    reserve_initial: float
    reserve_target: float
    reserve_target_pct: float
    support_covers: np.ndarray  # (P, T) bool: undertaking p tops up tranche t
    support_cap: np.ndarray  # (P,) most each undertaking pays (inf: no cap)


def coupon_rates(sc: Scenario, tranches, dates: list[dt.date]) -> np.ndarray:
    """(T, K) coupon per tranche and period: fixed (stepped up from the first period starting on
    or after step_up_date), or the 1-year LPR at the period's start plus spread, floored and capped."""
    from ipabs.pool.loans import lpr_at

    starts = [sc.deal.closing_date, *dates[:-1]]
    rates = np.empty((len(tranches), len(dates)))
    for t, tranche in enumerate(tranches):
        if tranche.coupon_type == "lpr":
            floor = -np.inf if tranche.coupon_floor is None else tranche.coupon_floor
            cap = np.inf if tranche.coupon_cap is None else tranche.coupon_cap
            rates[t] = np.clip(lpr_at(sc, starts) + tranche.spread, floor, cap)
        else:
            stepped = [
                tranche.step_up_date is not None and s >= tranche.step_up_date for s in starts
            ]
            rates[t] = np.where(stepped, tranche.step_up_coupon or 0.0, tranche.coupon)
    return rates


def compile_waterfall(sc: Scenario, dates: list[dt.date], accrual: np.ndarray) -> WaterfallArrays:
    tranches = sc.tranches_by_rank()
    n_periods = len(dates)
    target = np.empty((len(tranches), n_periods))
    for t, tranche in enumerate(tranches):
        scheduled = np.zeros(n_periods)
        for item in tranche.amortisation or ():
            # a payment dated between payment dates falls on the next payment date
            k = next(i for i, d in enumerate(dates) if d >= item.date)
            scheduled[k] += item.principal
        target[t] = np.maximum(tranche.balance - np.cumsum(scheduled), 0.0)
    return WaterfallArrays(
        accrual=np.ascontiguousarray(accrual, dtype=float),
        balance0=np.array([t.balance for t in tranches]),
        coupon=coupon_rates(sc, tranches, dates),
        group_end=np.array(
            [max(i for i, u in enumerate(tranches) if u.rank == t.rank) + 1 for t in tranches],
            dtype=np.int64,
        ),
        has_schedule=np.array([bool(t.amortisation) for t in tranches]),
        target_balance=target,
        fee_fixed_per_year=float(sc.fees.fixed_per_year),
        fee_pct_of_notes=float(sc.fees.pct_of_notes_per_year),
        fee_cap_per_year=float("inf")
        if sc.fees.cap_per_year is None
        else float(sc.fees.cap_per_year),
        fee_subordinated_per_year=float(sc.fees.subordinated_per_year),
        reserve_initial=float(sc.reserve.initial_balance),
        reserve_target=float(sc.reserve.target),
        reserve_target_pct=float(sc.reserve.target_pct_of_notes),
        support_covers=np.array(
            [[t.name in s.covers for t in tranches] for s in sc.credit_support], dtype=np.bool_
        ).reshape(len(sc.credit_support), len(tranches)),
        support_cap=np.array(
            [np.inf if s.cap is None else s.cap for s in sc.credit_support], dtype=float
        ),
    )


@njit(cache=True, inline="always")
def _pay_from_cash_then_reserve(cash, reserve, due):
    """(paid from cash, drawn from the reserve) towards an amount due: cash first."""
    from_cash = min(cash, due)
    return from_cash, min(reserve, due - from_cash)


@njit(cache=True, inline="always")
def _share(total_paid, total_due, due, group_size):
    """A class's share of what its rank received: all it is owed when the rank is paid in full,
    else pro rata to what it is owed (a class alone in its rank takes all of it)."""
    if total_paid >= total_due:
        return due
    if group_size == 1:
        return total_paid
    return total_paid * (due / total_due) if total_due > 0.0 else 0.0


@njit(cache=True, inline="always")
def _settle(owed, paid, t, k, covers, cap, default_period, used):
    """(amount paid, top-up): the undertakings covering tranche t, in order, top up a shortfall
    in period k until their caps or their providers' defaults. A full top-up pays exactly what
    is owed (no rounding residue)."""
    shortfall = owed - paid
    total = 0.0
    for p in range(cap.shape[0]):
        if shortfall - total <= 0.0:
            break
        if covers[p, t] and k < default_period[p]:
            give = min(shortfall - total, cap[p] - used[p])
            if give > 0.0:
                used[p] += give
                total += give
    if total <= 0.0:
        return paid, 0.0
    return (owed if total >= shortfall else paid + total), total


@njit(cache=True)
def pay_waterfall(
    collections,
    accrual,
    balance0,
    coupon,
    group_end,
    has_schedule,
    target_balance,
    fee_fixed_per_year,
    fee_pct_of_notes,
    fee_cap_per_year,
    fee_subordinated_per_year,
    reserve_initial,
    reserve_target,
    reserve_target_pct,
    support_covers,
    support_cap,
    support_default_period,
    fees_paid,
    interest_paid,
    principal_paid,
    residual,
    reserve_draw,
    reserve_topup,
    balance_end,
    reserve_end,
    unpaid_interest,
    support_paid,
    support_used,
):
    """Run the sequential waterfall over one path's collections, writing every flow per period.

    Per period: collections + reserve_draw + support_paid = fees + interest + principal +
    reserve_topup + residual. Undertaking p tops up covered shortfalls while the period is before
    `support_default_period[p]`, up to its cap; `support_used[p]` returns what it paid.
    On return `balance_end[:, -1]` is each tranche's principal loss and `unpaid_interest` its
    interest still owed at legal final.
    """
    n_tranches = balance0.shape[0]
    n_periods = collections.shape[0]
    last = n_periods - 1
    balance = balance0.copy()
    dues = np.empty(n_tranches)
    for t in range(n_tranches):
        unpaid_interest[t] = 0.0
    unpaid_fees = 0.0
    unpaid_sub_fees = 0.0
    reserve = reserve_initial
    for p in range(support_cap.shape[0]):
        support_used[p] = 0.0
    for k in range(n_periods):
        cash = collections[k]
        drawn = 0.0
        supported = 0.0
        notes_outstanding = 0.0
        for t in range(n_tranches):
            notes_outstanding += balance[t]

        # 1. senior fees, shortfall from the reserve
        fee_due = unpaid_fees + accrual[k] * min(
            fee_fixed_per_year + fee_pct_of_notes * notes_outstanding, fee_cap_per_year
        )
        from_cash, draw = _pay_from_cash_then_reserve(cash, reserve, fee_due)
        cash -= from_cash
        reserve -= draw
        drawn += draw
        paid = from_cash + draw
        unpaid_fees = fee_due - paid
        fees_paid[k] = paid

        # 2. interest by rank (pro rata within a rank), shortfall from the reserve
        g = 0
        while g < n_tranches:
            g_end = group_end[g]
            total_due = 0.0
            for t in range(g, g_end):
                dues[t] = unpaid_interest[t] + balance[t] * coupon[t, k] * accrual[k]
                total_due += dues[t]
            from_cash, draw = _pay_from_cash_then_reserve(cash, reserve, total_due)
            cash -= from_cash
            reserve -= draw
            drawn += draw
            total_paid = from_cash + draw
            for t in range(g, g_end):
                due = dues[t]
                paid = _share(total_paid, total_due, due, g_end - g)
                paid, top_up = _settle(
                    due,
                    paid,
                    t,
                    k,
                    support_covers,
                    support_cap,
                    support_default_period,
                    support_used,
                )
                supported += top_up
                unpaid_interest[t] = due - paid
                interest_paid[t, k] = paid
            g = g_end

        # 3. reserve: release at legal final or above target, else top up from cash
        target = 0.0
        if notes_outstanding > 0.0 and k < last:
            target = max(reserve_target, reserve_target_pct * notes_outstanding)
        topup = 0.0
        if reserve > target:
            release = reserve - target
            reserve = target
            drawn += release
            cash += release
        else:
            topup = min(cash, target - reserve)
            cash -= topup
            reserve += topup
        reserve_topup[k] = topup
        reserve_draw[k] = drawn

        # 4. principal by rank (pro rata within a rank)
        seniors_repaid = True
        g = 0
        while g < n_tranches:
            g_end = group_end[g]
            total_due = 0.0
            for t in range(g, g_end):
                if k == last:
                    dues[t] = balance[t]
                elif has_schedule[t]:
                    dues[t] = max(balance[t] - target_balance[t, k], 0.0)
                elif seniors_repaid:
                    dues[t] = balance[t]
                else:
                    dues[t] = 0.0
                total_due += dues[t]
            total_paid = min(cash, total_due)
            cash -= total_paid
            for t in range(g, g_end):
                due = dues[t]
                paid = _share(total_paid, total_due, due, g_end - g)
                contractual = due if (k == last or has_schedule[t]) else 0.0
                paid, top_up = _settle(
                    contractual,
                    paid,
                    t,
                    k,
                    support_covers,
                    support_cap,
                    support_default_period,
                    support_used,
                )
                supported += top_up
                balance[t] -= paid
                principal_paid[t, k] = paid
                balance_end[t, k] = balance[t]
            for t in range(g, g_end):
                if balance[t] > 0.0:
                    seniors_repaid = False
            g = g_end

        # 5. subordinated fees, from cash only, then the residual to the subordinated class
        sub_fee_due = unpaid_sub_fees + accrual[k] * fee_subordinated_per_year
        sub_fee_paid = min(cash, sub_fee_due)
        cash -= sub_fee_paid
        unpaid_sub_fees = sub_fee_due - sub_fee_paid
        fees_paid[k] += sub_fee_paid
        residual[k] = cash
        reserve_end[k] = reserve
        support_paid[k] = supported
