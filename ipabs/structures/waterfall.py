"""The waterfall interpreter: one Numba kernel that pays one path through any compiled structure.

Each period (docs/model.md, section 4):
    1. accrue: fees, interest and the liquidity facility's charges for the period;
    2. clean-up call: if the collateral value is at or below its threshold, the pool is sold and
       every class is due now; the deal ends after this period. At legal final or a call the
       reserve is released into the period's cash;
    3. triggers: each is tested on the period's data; those in force choose the state
       (normal, triggered, accelerated; revolving while the revolving period lasts) and switch
       on cash trapping or rapid amortisation;
    4. the state's steps run in order on the period's cash; cash left after the last step goes
       to the subordinated class.
The program arrays come from `ipabs.structures.program`; the step codes below index its tuples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

# step actions, principal modes, cover sources, states, conditions, effects (program.py order)
A_FEE, A_INTEREST, A_PRINCIPAL, A_RESERVE, A_LIQUIDITY, A_RESIDUAL, A_BUY = range(7)
M_SEQUENTIAL, M_PRO_RATA, M_SCHEDULE, M_BORROWING_BASE, M_TURBO = range(5)
COVER_RESERVE, COVER_LIQUIDITY = 1, 2
S_NORMAL, S_TRIGGERED, S_ACCELERATED, S_REVOLVING = range(4)
C_DEFAULT_RATIO, C_LOSS_RATIO, C_DSCR, C_INTEREST_COVERAGE, C_OC, C_DATE = range(6)
E_SWITCH, E_TRAP, E_RAPID, E_DEFAULT = range(4)
# slots of the accounts vector
RESERVE, LIQ_DRAWN, LIQ_CHARGES, DRAWN_NOW, LIQ_DRAWN_NOW = range(5)


class WaterfallOut(NamedTuple):
    """Every flow of one path, per period (K) and class (T); written by `pay_waterfall`."""

    fees: np.ndarray  # (K,)
    interest: np.ndarray  # (T, K)
    principal: np.ndarray  # (T, K)
    residual: np.ndarray  # (K,)
    reserve_draw: np.ndarray  # (K,) drawn from or released by the reserve
    reserve_topup: np.ndarray  # (K,)
    balance: np.ndarray  # (T, K) balance at the end of each period
    reserve: np.ndarray  # (K,) reserve at the end of each period
    unpaid_interest: np.ndarray  # (T,) at legal final
    support_paid: np.ndarray  # (K,) credit support top-ups
    support_used: np.ndarray  # (P,) what each provider paid
    liquidity_draw: np.ndarray  # (K,)
    liquidity_paid: np.ndarray  # (K,) charges and repayments to the facility
    call_proceeds: np.ndarray  # (K,)
    state: np.ndarray  # (K,) int: state used, -1 after a clean-up call
    purchases: np.ndarray  # (K,) paid for loans bought in the revolving period
    collected: np.ndarray  # (K,) the pool's collections the deal received (with bought loans)
    trigger_first: np.ndarray  # (R,) int: period each trigger first came into force, -1 never


@njit(cache=True)
def new_out(n_tranches, n_periods, n_providers, n_triggers):
    """Zeroed output arrays for one path (callable from kernels and from Python)."""
    k, t = n_periods, n_tranches
    return WaterfallOut(
        np.zeros(k), np.zeros((t, k)), np.zeros((t, k)), np.zeros(k), np.zeros(k), np.zeros(k),
        np.zeros((t, k)), np.zeros(k), np.zeros(t), np.zeros(k), np.zeros(n_providers),
        np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k, np.int64), np.zeros(k),
        np.zeros(k), np.zeros(n_triggers, np.int64),
    )  # fmt: skip


@njit(cache=True, inline="always")
def _share(total_paid, total_due, due, group_size):
    """A member's share of what its step paid: all it is owed when the step is paid in full,
    else pro rata to what it is owed (a member alone takes all of it)."""
    if total_paid >= total_due:
        return due
    if group_size == 1:
        return total_paid
    return total_paid * (due / total_due) if total_due > 0.0 else 0.0


@njit(cache=True)
def _cover(wf, accounts, step, shortfall):
    """Draw up to `shortfall` from the step's cover sources in order; returns the amount drawn."""
    covered = 0.0
    for j in range(2):
        source = wf.step_cover[step, j]
        need = shortfall - covered
        if need <= 0.0:
            break
        if source == COVER_RESERVE:
            draw = min(accounts[RESERVE], need)
            accounts[RESERVE] -= draw
            accounts[DRAWN_NOW] += draw
            covered += draw
        elif source == COVER_LIQUIDITY:
            draw = min(wf.liquidity_limit - accounts[LIQ_DRAWN], need)
            if draw > 0.0:
                accounts[LIQ_DRAWN] += draw
                accounts[LIQ_DRAWN_NOW] += draw
                covered += draw
    return covered


@njit(cache=True, inline="always")
def _settle(owed, paid, t, k, covers, cap, default_period, used, skip):
    """(amount paid, top-up): the undertakings covering tranche t, in order, top up a shortfall
    in period k until their caps or their providers' defaults (providers with skip[p] sit out).
    A full top-up pays exactly what is owed (no rounding residue)."""
    shortfall = owed - paid
    total = 0.0
    for p in range(cap.shape[0]):
        if shortfall - total <= 0.0:
            break
        if covers[p, t] and k < default_period[p] and not skip[p]:
            give = min(shortfall - total, cap[p] - used[p])
            if give > 0.0:
                used[p] += give
                total += give
    if total <= 0.0:
        return paid, 0.0
    return (owed if total >= shortfall else paid + total), total


@njit(cache=True)
def _triggers(wf, k, collections, fee_service, coupon_service, scheduled_service, collateral, notes, cum_default, cum_loss, breaches, active, first):  # fmt: skip
    """Test every trigger in period k; returns (state, rapid amortisation, share of cash trapped,
    whether a trigger that ends the revolving period is in force)."""
    state = S_NORMAL
    rapid = False
    trap = 0.0
    ends_revolving = False
    for r in range(wf.trigger_condition.shape[0]):
        c = wf.trigger_condition[r]
        level = wf.trigger_threshold[r]
        if c == C_DATE:
            breached = k >= wf.trigger_period[r]
        elif c == C_DEFAULT_RATIO:
            breached = cum_default > level * wf.collateral_original
        elif c == C_LOSS_RATIO:
            breached = cum_loss > level * wf.collateral_original
        elif c == C_OC:
            breached = notes > 0.0 and collateral[k] < level * notes
        else:
            num = 0.0
            den = 0.0
            for j in range(max(0, k - wf.trigger_lookback[r] + 1), k + 1):
                num += collections[j]
                den += fee_service[j]
                for t in range(coupon_service.shape[0]):
                    if wf.trigger_classes[r, t]:
                        den += coupon_service[t, j]
                        if c == C_DSCR:
                            den += scheduled_service[t, j]
            breached = den > 0.0 and num < level * den
        if breached:
            breaches[r] += 1
        elif wf.trigger_curable[r]:
            breaches[r] = 0
        if wf.trigger_curable[r]:
            active[r] = breaches[r] >= wf.trigger_needed[r]
        elif breaches[r] >= wf.trigger_needed[r]:
            active[r] = True
        if active[r]:
            if first[r] < 0:
                first[r] = k
            e = wf.trigger_effect[r]
            if e != E_TRAP:
                ends_revolving = True
            if e == E_SWITCH:
                state = max(state, S_TRIGGERED)
            elif e == E_TRAP:
                trap = max(trap, wf.trigger_trap_share[r])
            elif e == E_RAPID:
                rapid = True
            else:
                state = S_ACCELERATED
                rapid = True
    return state, rapid, trap, ends_revolving


@njit(cache=True)
def _principal_due(wf, step, t, k, balance, accelerate):
    """What a sequential or schedule step owes class t in period k."""
    if accelerate:
        return balance[t]
    if wf.has_schedule[t]:
        return max(balance[t] - wf.target_balance[t, k], 0.0)
    if wf.step_mode[step] == M_SEQUENTIAL:
        for u in range(wf.rank_first[t]):
            if balance[u] > 0.0:
                return 0.0
        return balance[t]
    return 0.0


@njit(cache=True)
def _pay_principal(wf, step, k, cash, balance, dues, accelerate, final, collateral_k, provider_default, out):  # fmt: skip
    """Run one pay_principal step; returns (cash left, credit support paid)."""
    m0 = wf.member_start[step]
    m1 = wf.member_start[step + 1]
    mode = wf.step_mode[step]
    supported = 0.0
    # what each class receives, before support
    if mode == M_PRO_RATA:
        total_due = 0.0
        for j in range(m0, m1):
            total_due += balance[wf.member[j]]
        total_paid = min(cash, total_due)
        for j in range(m0, m1):
            t = wf.member[j]
            dues[t] = _share(total_paid, total_due, balance[t], m1 - m0)
        cash -= total_paid
    elif mode == M_TURBO or mode == M_BORROWING_BASE:
        excess = np.inf
        if mode == M_BORROWING_BASE and not accelerate:
            total = 0.0
            for j in range(m0, m1):
                total += balance[wf.member[j]]
            excess = max(total - wf.step_advance_rate[step] * collateral_k, 0.0)
        for j in range(m0, m1):
            t = wf.member[j]
            paid = min(cash, balance[t], excess)
            dues[t] = paid
            cash -= paid
            excess -= paid
    else:  # sequential or schedule: by rank, pro rata within a rank
        j = m0
        while j < m1:
            g_end = j + 1
            while g_end < m1 and wf.rank_first[wf.member[g_end]] == wf.rank_first[wf.member[j]]:
                g_end += 1
            total_due = 0.0
            for i in range(j, g_end):
                t = wf.member[i]
                dues[t] = _principal_due(wf, step, t, k, balance, accelerate)
                total_due += dues[t]
            total_paid = min(cash, total_due)
            for i in range(j, g_end):
                t = wf.member[i]
                dues[t] = _share(total_paid, total_due, dues[t], g_end - j)
            cash -= total_paid
            j = g_end
    # credit support tops up what is contractually due: scheduled principal, all at legal final
    for j in range(m0, m1):
        t = wf.member[j]
        if final:
            contractual = balance[t]
        elif wf.has_schedule[t]:
            contractual = max(balance[t] - wf.target_balance[t, k], 0.0)
        else:
            contractual = 0.0
        paid, top_up = _settle(
            contractual, dues[t], t, k, wf.support_covers, wf.support_cap, provider_default,
            out.support_used, wf.support_ultimate_only if not final else wf.support_never,
        )  # fmt: skip
        supported += top_up
        balance[t] -= paid
        out.principal[t, k] += paid
    return cash, supported


@njit(cache=True)
def pay_waterfall(wf, collections, defaulted, loss, collateral, provider_default, vintages, out):
    """Pay one path's collections through the structure `wf`, writing every flow into `out`.

    `defaulted[k]` and `loss[k]` feed the cumulative ratios, `collateral[k]` (value at the end of
    period k) the OC tests, borrowing bases, pool fees and the clean-up call. Provider p tops up
    shortfalls while k < provider_default[p]. `vintages` = (cash, defaulted, loss, performing),
    each (V, K), per unit of balance of the loans bought at the end of period v (revolving.py):
    what a buy_assets step buys is added to these four series for the periods that follow.
    Per period, cash is conserved: collections + reserve_draw + liquidity_draw + support_paid +
    call_proceeds = fees + interest + principal + reserve_topup + liquidity_paid + purchases +
    residual.
    On return `out.balance[:, -1]` is each class's principal loss.
    """
    n_tranches = wf.balance0.shape[0]
    n_periods = collections.shape[0]
    n_fees = wf.fee_fixed.shape[0]
    n_triggers = wf.trigger_condition.shape[0]
    last = n_periods - 1
    balance = wf.balance0.copy()
    dues = np.zeros(n_tranches)
    interest_owed = np.zeros(n_tranches)
    fee_owed = np.zeros(n_fees)
    fee_service = np.zeros(n_periods)
    coupon_service = np.zeros((n_tranches, n_periods))
    scheduled_service = np.zeros((n_tranches, n_periods))
    breaches = np.zeros(n_triggers, np.int64)
    active = np.zeros(n_triggers, np.bool_)
    accounts = np.zeros(5)
    accounts[RESERVE] = wf.reserve_initial
    for p in range(out.support_used.shape[0]):
        out.support_used[p] = 0.0
    for r in range(n_triggers):
        out.trigger_first[r] = -1
    cum_default = 0.0
    cum_loss = 0.0
    called = False
    revolving_over = False
    v_cash, v_defaulted, v_loss, v_performing = vintages
    for k in range(n_periods):
        out.fees[k] = 0.0
        out.purchases[k] = 0.0
        out.collected[k] = 0.0
        out.residual[k] = 0.0
        out.reserve_topup[k] = 0.0
        out.liquidity_paid[k] = 0.0
        out.call_proceeds[k] = 0.0
        out.support_paid[k] = 0.0
        for t in range(n_tranches):
            out.interest[t, k] = 0.0
            out.principal[t, k] = 0.0
        accounts[DRAWN_NOW] = 0.0
        accounts[LIQ_DRAWN_NOW] = 0.0
        if called:  # the pool was sold: nothing more comes in or goes out
            for t in range(n_tranches):
                out.balance[t, k] = balance[t]
            out.reserve_draw[k] = 0.0
            out.liquidity_draw[k] = 0.0
            out.reserve[k] = accounts[RESERVE]
            out.state[k] = -1
            continue
        cash = collections[k]
        out.collected[k] = cash
        cum_default += defaulted[k]
        cum_loss += loss[k]
        notes = 0.0
        for t in range(n_tranches):
            notes += balance[t]

        # 1. accrue the period's fees, interest and facility charges
        pool_start = wf.collateral_original if k == 0 else collateral[k - 1]
        for f in range(n_fees):
            accrued = wf.accrual[k] * min(
                wf.fee_fixed[f] + wf.fee_pct_notes[f] * notes + wf.fee_pct_pool[f] * pool_start,
                wf.fee_cap[f],
            )
            fee_owed[f] += accrued
            fee_service[k] += accrued
        for t in range(n_tranches):
            accrued = balance[t] * wf.coupon[t, k] * wf.accrual[k]
            interest_owed[t] += accrued
            coupon_service[t, k] = accrued
            if wf.has_schedule[t]:
                scheduled_service[t, k] = max(balance[t] - wf.target_balance[t, k], 0.0)
        drawn = accounts[LIQ_DRAWN]
        accounts[LIQ_CHARGES] += wf.accrual[k] * (
            wf.liquidity_rate * drawn + wf.liquidity_commitment_fee * (wf.liquidity_limit - drawn)
        )

        # 2. clean-up call
        final = k == last
        if (
            wf.call_threshold >= 0.0
            and not final
            and notes > 0.0
            and collateral[k] <= wf.call_threshold * wf.collateral_original
        ):
            proceeds = wf.call_price * collateral[k]
            cash += proceeds
            out.call_proceeds[k] = proceeds
            called = True
            final = True

        if final:  # at legal final or a call the reserve joins the available cash
            cash += accounts[RESERVE]
            accounts[DRAWN_NOW] += accounts[RESERVE]
            accounts[RESERVE] = 0.0

        # 3. triggers
        state, rapid, trap, ends_revolving = _triggers(
            wf, k, collections, fee_service, coupon_service, scheduled_service, collateral, notes,
            cum_default, cum_loss, breaches, active, out.trigger_first,
        )  # fmt: skip
        accelerate = rapid or final
        if ends_revolving:
            revolving_over = True
        if state == S_NORMAL and not revolving_over and k < wf.revolving_end and not final:
            state = S_REVOLVING
        out.state[k] = state

        # 4. the state's steps
        supported = 0.0
        for step in range(wf.state_start[state], wf.state_start[state + 1]):
            action = wf.step_action[step]
            m0 = wf.member_start[step]
            m1 = wf.member_start[step + 1]
            if action == A_FEE:
                total_due = 0.0
                for j in range(m0, m1):
                    total_due += fee_owed[wf.member[j]]
                from_cash = min(cash, total_due)
                cash -= from_cash
                total_paid = from_cash + _cover(wf, accounts, step, total_due - from_cash)
                for j in range(m0, m1):
                    f = wf.member[j]
                    paid = _share(total_paid, total_due, fee_owed[f], m1 - m0)
                    fee_owed[f] -= paid
                    out.fees[k] += paid
            elif action == A_INTEREST:
                total_due = 0.0
                for j in range(m0, m1):
                    total_due += interest_owed[wf.member[j]]
                from_cash = min(cash, total_due)
                cash -= from_cash
                total_paid = from_cash + _cover(wf, accounts, step, total_due - from_cash)
                for j in range(m0, m1):
                    t = wf.member[j]
                    due = interest_owed[t]
                    paid, top_up = _settle(
                        due, _share(total_paid, total_due, due, m1 - m0), t, k,
                        wf.support_covers, wf.support_cap, provider_default, out.support_used,
                        wf.support_never,
                    )  # fmt: skip
                    supported += top_up
                    interest_owed[t] = due - paid
                    out.interest[t, k] += paid
            elif action == A_PRINCIPAL:
                cash, top_up = _pay_principal(
                    wf, step, k, cash, balance, dues, accelerate, final, collateral[k],
                    provider_default, out,
                )  # fmt: skip
                supported += top_up
            elif action == A_RESERVE:
                target = 0.0
                if notes > 0.0 and not final:
                    target = max(wf.reserve_target, wf.reserve_target_pct * notes)
                    if trap > 0.0:
                        target = max(target, accounts[RESERVE] + trap * cash)
                if accounts[RESERVE] > target:
                    release = accounts[RESERVE] - target
                    accounts[RESERVE] = target
                    accounts[DRAWN_NOW] += release
                    cash += release
                else:
                    topup = min(cash, target - accounts[RESERVE])
                    cash -= topup
                    accounts[RESERVE] += topup
                    out.reserve_topup[k] += topup
            elif action == A_LIQUIDITY:
                charges = min(cash, accounts[LIQ_CHARGES])
                accounts[LIQ_CHARGES] -= charges
                cash -= charges
                repaid = min(cash, accounts[LIQ_DRAWN])
                accounts[LIQ_DRAWN] -= repaid
                cash -= repaid
                out.liquidity_paid[k] += charges + repaid
            elif action == A_BUY:
                if state == S_REVOLVING and k < v_cash.shape[0]:
                    wanted = max(wf.revolving_target - collateral[k], 0.0)
                    cost = min(cash, wanted * wf.revolving_price)
                    if cost > 0.0:
                        bought = cost / wf.revolving_price
                        cash -= cost
                        out.purchases[k] += cost
                        collateral[k] += bought
                        for j in range(k + 1, n_periods):
                            collections[j] += bought * v_cash[k, j]
                            defaulted[j] += bought * v_defaulted[k, j]
                            loss[j] += bought * v_loss[k, j]
                            collateral[j] += bought * v_performing[k, j]
            else:  # A_RESIDUAL
                out.residual[k] += cash
                cash = 0.0
        out.residual[k] += cash  # nothing is left unallocated
        for t in range(n_tranches):
            out.balance[t, k] = balance[t]
        out.reserve_draw[k] = accounts[DRAWN_NOW]
        out.liquidity_draw[k] = accounts[LIQ_DRAWN_NOW]
        out.reserve[k] = accounts[RESERVE]
        out.support_paid[k] = supported
    for t in range(n_tranches):
        out.unpaid_interest[t] = interest_owed[t]
