"""The waterfall interpreter: one Numba kernel that pays one path through any compiled structure.

Each period (docs/model.md, section 4):
    0. a trust holds back a share of the period's collections in its holdback account;
    1. accrue: fees, interest and the liquidity facility's charges for the period;
    2. clean-up call: if the collateral value is at or below its threshold, the pool is sold and
       every class is due now; the deal ends after this period. At legal final or a call the
       reserve and a trust's holdback are released into the period's cash;
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

from ipabs.engine.borrow import borrowed as _borrowed

# step actions, principal modes, cover sources, states, conditions, effects (program.py order)
A_FEE, A_INTEREST, A_PRINCIPAL, A_RESERVE, A_LIQUIDITY, A_RESIDUAL, A_BUY, A_TRANSFER = range(8)
M_SEQUENTIAL, M_PRO_RATA, M_SCHEDULE, M_BORROWING_BASE, M_TURBO = range(5)
COVER_RESERVE, COVER_LIQUIDITY, COVER_HOLDBACK, COVER_PRINCIPAL = 1, 2, 3, 4
TRANSFER_ALL, TRANSFER_DEFICIENCY = range(2)
S_NORMAL, S_TRIGGERED, S_ACCELERATED, S_REVOLVING = range(4)
C_DEFAULT_RATIO, C_LOSS_RATIO, C_DSCR, C_INTEREST_COVERAGE, C_OC, C_DATE = range(6)
E_SWITCH, E_TRAP, E_RAPID, E_DEFAULT = range(4)
# slots of the accounts vector: balances (reserve, a trust's holdback, the facility's drawn amount
# and unpaid charges), the period's movements, and with separate revenue and principal accounts
# the account a step does not pay from (OTHER: the principal account while a revenue step runs,
# the revenue account while a principal step runs) and the principal deficiency ledger
(RESERVE, LIQ_DRAWN, LIQ_CHARGES, DRAWN_NOW, LIQ_DRAWN_NOW, HOLDBACK, HOLDBACK_DRAWN_NOW, OTHER,
 PDL) = range(9)  # fmt: skip


class WaterfallOut(NamedTuple):
    """Every flow of one path, per period (K) and class (T); written by `pay_waterfall`.

    Per period, cash is conserved (docs/model.md, 4.6):
        collected + call_proceeds + support_paid + liquidity_draw + reserve_draw + reserve_release
        + holdback_drawn + holdback_release
      = fees + performance_fee + interest + principal + residual + purchases + reserve_topup
        + holdback_in + liquidity_charges + liquidity_repaid
    """

    fees: np.ndarray  # (K,) the fee steps' payments (not the performance fee)
    interest: np.ndarray  # (T, K)
    principal: np.ndarray  # (T, K)
    residual: np.ndarray  # (K,)
    reserve_draw: np.ndarray  # (K,) drawn from the reserve to cover fees or interest
    reserve_topup: np.ndarray  # (K,)
    balance: np.ndarray  # (T, K) balance at the end of each period
    reserve: np.ndarray  # (K,) reserve at the end of each period
    unpaid_interest: np.ndarray  # (T,) at legal final
    support_paid: np.ndarray  # (K,) credit support top-ups (the sum of support_class)
    support_used: np.ndarray  # (P,) what each provider paid
    liquidity_draw: np.ndarray  # (K,)
    liquidity_charges: np.ndarray  # (K,) interest and commitment fee paid to the facility
    call_proceeds: np.ndarray  # (K,) the pool's (or a trust's IP's) sale price
    state: np.ndarray  # (K,) int: state used, -1 after a clean-up call
    purchases: np.ndarray  # (K,) paid for loans bought in the revolving period
    collected: np.ndarray  # (K,) the pool's collections the deal received (with bought loans)
    max_unpaid: np.ndarray  # (T,) the most interest (expected yield) a class was ever owed unpaid
    trigger_first: np.ndarray  # (R,) int: period each trigger first came into force, -1 never
    debt_service: np.ndarray  # (K,) fees, interest of the classes above the subordinated and
    # their scheduled principal, accrued in the period (0 after a clean-up call)
    reserve_release: np.ndarray  # (K,) released above the target, and all of it at the end
    liquidity_repaid: np.ndarray  # (K,) draws repaid to the facility
    performance_fee: np.ndarray  # (K,) a trust manager's fee above the hurdle
    holdback_in: np.ndarray  # (K,) a trust's income held back
    holdback_drawn: np.ndarray  # (K,) the holdback spent by steps that may cover from it
    holdback_release: np.ndarray  # (K,) the holdback paid out at the final distribution
    holdback: np.ndarray  # (K,) the holdback account at the end of each period
    support_class: np.ndarray  # (T, K) credit support top-ups received by each class
    liquidity_unpaid: np.ndarray  # (2,) the facility's draws and charges unpaid at the end
    fee_paid: np.ndarray  # (F, K) what each fee was paid (a breakdown of `fees`)
    pdl: np.ndarray  # (K,) the principal deficiency ledger at the end of each period
    principal_in: np.ndarray  # (K,) what the principal account received (split accounts):
    # principal collections, recoveries routed there, a clean-up call's proceeds
    support_fee: np.ndarray  # (K,) credit support top-ups of fees (in support_paid, not in
    # support_class)
    # the kernel's working arrays, not outputs: allocated here once, with the outputs, and reset
    # by `pay_waterfall` at each call (an allocation per path each cost more than the reset)
    work_balance: np.ndarray  # (T,) each class's balance
    work_dues: np.ndarray  # (T,)
    work_opening: np.ndarray  # (T,)
    work_interest_owed: np.ndarray  # (T,)
    work_fee_owed: np.ndarray  # (F,)
    work_fee_period: np.ndarray  # (F,)
    work_fee_paid_accrual: np.ndarray  # (F,)
    work_fee_service: np.ndarray  # (K,)
    work_coupon_service: np.ndarray  # (T, K)
    work_scheduled_service: np.ndarray  # (T, K)
    work_breaches: np.ndarray  # (R,) int
    work_active: np.ndarray  # (R,) bool
    work_accounts: np.ndarray  # (9,) the accounts vector


@njit(cache=True)
def new_out(n_tranches, n_periods, n_providers, n_triggers, n_fees):
    """Zeroed output arrays for one path, and `pay_waterfall`'s working arrays, which it resets
    at each call (callable from kernels and from Python)."""
    k, t = n_periods, n_tranches
    return WaterfallOut(
        np.zeros(k), np.zeros((t, k)), np.zeros((t, k)), np.zeros(k), np.zeros(k), np.zeros(k),
        np.zeros((t, k)), np.zeros(k), np.zeros(t), np.zeros(k), np.zeros(n_providers),
        np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k, np.int64), np.zeros(k),
        np.zeros(k), np.zeros(t), np.zeros(n_triggers, np.int64), np.zeros(k),
        np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k),
        np.zeros((t, k)), np.zeros(2), np.zeros((n_fees, k)), np.zeros(k), np.zeros(k),
        np.zeros(k),
        np.zeros(t), np.zeros(t), np.zeros(t), np.zeros(t), np.zeros(n_fees), np.zeros(n_fees),
        np.zeros(n_fees), np.zeros(k), np.zeros((t, k)), np.zeros((t, k)),
        np.zeros(n_triggers, np.int64), np.zeros(n_triggers, np.bool_), np.zeros(9),
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


@njit(cache=True, inline="always")
def _cover(step_cover, liquidity_limit, accounts, step, shortfall):
    """Draw up to `shortfall` from the step's cover sources in order; returns the amount drawn."""
    covered = 0.0
    for j in range(step_cover.shape[1]):
        source = step_cover[step, j]
        need = shortfall - covered
        if need <= 0.0:
            break
        if source == COVER_RESERVE:
            draw = min(accounts[RESERVE], need)
            accounts[RESERVE] -= draw
            accounts[DRAWN_NOW] += draw
            covered += draw
        elif source == COVER_LIQUIDITY:
            draw = min(liquidity_limit - accounts[LIQ_DRAWN], need)
            if draw > 0.0:
                accounts[LIQ_DRAWN] += draw
                accounts[LIQ_DRAWN_NOW] += draw
                covered += draw
        elif source == COVER_HOLDBACK:
            draw = min(accounts[HOLDBACK], need)
            accounts[HOLDBACK] -= draw
            accounts[HOLDBACK_DRAWN_NOW] += draw
            covered += draw
        elif source == COVER_PRINCIPAL:  # a revenue step: the principal account, booked in the
            # principal deficiency ledger for the revenue account to make good
            draw = min(accounts[OTHER], need)
            accounts[OTHER] -= draw
            accounts[PDL] += draw
            covered += draw
    return covered


@njit(cache=True, inline="always")
def _settle(owed, paid, t, k, covers, cap, default_period, used, ultimate_only, before_final):
    """(amount paid, top-up): the undertakings covering tranche t, in order, top up a shortfall
    in period k until their caps or their providers' defaults (with `before_final`, providers
    that guarantee only ultimate principal sit out).
    A full top-up pays exactly what is owed (no rounding residue)."""
    shortfall = owed - paid
    total = 0.0
    for p in range(cap.shape[0]):
        if shortfall - total <= 0.0:
            break
        if covers[p, t] and k < default_period[p] and not (before_final and ultimate_only[p]):
            give = min(shortfall - total, cap[p] - used[p])
            if give > 0.0:
                used[p] += give
                total += give
    if total <= 0.0:
        return paid, 0.0
    return (owed if total >= shortfall else paid + total), total


@njit(cache=True)
def _triggers(condition, threshold, trigger_period, lookback, needed, effect, curable, trap_share, classes, collateral_original, k, collections, fee_service, coupon_service, scheduled_service, collateral, notes, cum_default, cum_loss, breaches, active, first):  # fmt: skip
    """Test every trigger in period k; returns (state, rapid amortisation, share of cash trapped,
    whether a trigger that ends the revolving period is in force)."""
    state = S_NORMAL
    rapid = False
    trap = 0.0
    ends_revolving = False
    for r in range(condition.shape[0]):
        c = condition[r]
        level = threshold[r]
        if c == C_DATE:
            breached = k >= trigger_period[r]
        elif c == C_DEFAULT_RATIO:
            breached = cum_default > level * collateral_original
        elif c == C_LOSS_RATIO:
            breached = cum_loss > level * collateral_original
        elif c == C_OC:
            breached = notes > 0.0 and collateral[k] < level * notes
        else:
            num = 0.0
            den = 0.0
            for j in range(max(0, k - lookback[r] + 1), k + 1):
                num += collections[j]
                den += fee_service[j]
                for t in range(coupon_service.shape[0]):
                    if classes[r, t]:
                        den += coupon_service[t, j]
                        if c == C_DSCR:
                            den += scheduled_service[t, j]
            breached = den > 0.0 and num < level * den
        if breached:
            breaches[r] += 1
        elif curable[r]:
            breaches[r] = 0
        if curable[r]:
            active[r] = breaches[r] >= needed[r]
        elif breaches[r] >= needed[r]:
            active[r] = True
        if active[r]:
            if first[r] < 0:
                first[r] = k
            e = effect[r]
            if e != E_TRAP:
                ends_revolving = True
            if e == E_SWITCH:
                state = max(state, S_TRIGGERED)
            elif e == E_TRAP:
                trap = max(trap, trap_share[r])
            elif e == E_RAPID:
                rapid = True
            else:
                state = S_ACCELERATED
                rapid = True
    return state, rapid, trap, ends_revolving


@njit(cache=True, inline="always")
def _principal_due(mode, rank_first, has_schedule, target_balance, t, k, balance, accelerate):
    """What a sequential or schedule step owes class t in period k."""
    if accelerate:
        return balance[t]
    if has_schedule[t]:
        return max(balance[t] - target_balance[t, k], 0.0)
    if mode == M_SEQUENTIAL:
        for u in range(rank_first[t]):
            if balance[u] > 0.0:
                return 0.0
        return balance[t]
    return 0.0


@njit(cache=True, inline="always")
def _pay_principal(mode, advance_rate, member, m0, m1, rank_first, has_schedule, target_balance, support_covers, support_cap, support_ultimate_only, provider_default, support_used, support_class, principal_out, k, cash, balance, dues, opening, accelerate, final, collateral_k):  # fmt: skip
    """Run one pay_principal step (its members are member[m0:m1]); returns (cash left, credit
    support paid). A sequential step pays its ranks in turn: a rank is due once the ranks above
    it are repaid, in this step too."""
    supported = 0.0
    for j in range(m0, m1):
        opening[member[j]] = balance[member[j]]
    # what each class receives, before support
    if mode == M_PRO_RATA:
        total_due = 0.0
        for j in range(m0, m1):
            total_due += balance[member[j]]
        total_paid = min(cash, total_due)
        for j in range(m0, m1):
            t = member[j]
            dues[t] = _share(total_paid, total_due, balance[t], m1 - m0)
        cash -= total_paid
    elif mode == M_TURBO or mode == M_BORROWING_BASE:
        excess = np.inf
        if mode == M_BORROWING_BASE and not accelerate:
            total = 0.0
            for j in range(m0, m1):
                total += balance[member[j]]
            excess = max(total - advance_rate * collateral_k, 0.0)
        for j in range(m0, m1):
            t = member[j]
            paid = min(cash, balance[t], excess)
            dues[t] = paid
            cash -= paid
            excess -= paid
    else:  # sequential or schedule: by rank, pro rata within a rank
        j = m0
        while j < m1:
            g_end = j + 1
            while g_end < m1 and rank_first[member[g_end]] == rank_first[member[j]]:
                g_end += 1
            total_due = 0.0
            for i in range(j, g_end):
                t = member[i]
                dues[t] = _principal_due(
                    mode, rank_first, has_schedule, target_balance, t, k, balance, accelerate
                )
                total_due += dues[t]
            total_paid = min(cash, total_due)
            for i in range(j, g_end):
                t = member[i]
                dues[t] = _share(total_paid, total_due, dues[t], g_end - j)
                balance[t] = opening[t] - dues[t]  # the ranks below see this rank's payment
            cash -= total_paid
            j = g_end
    # credit support tops up what is contractually due: scheduled principal, all at legal final
    for j in range(m0, m1):
        t = member[j]
        paid = dues[t]
        if support_cap.shape[0] > 0:
            if final:
                contractual = opening[t]
            elif has_schedule[t]:
                contractual = max(opening[t] - target_balance[t, k], 0.0)
            else:
                contractual = 0.0
            paid, top_up = _settle(
                contractual, paid, t, k, support_covers, support_cap, provider_default,
                support_used, support_ultimate_only, not final,
            )  # fmt: skip
            supported += top_up
            support_class[t, k] += top_up
        balance[t] = opening[t] - paid
        principal_out[t, k] += paid
    return cash, supported


@njit(cache=True, inline="always")
def _total_due(owed, member, m0, m1):
    """What a step's members m0 .. m1 - 1 are owed, summed in member order (a member alone
    without the loop: 0.0 + its amount, the same bits)."""
    if m1 - m0 == 1:
        return 0.0 + owed[max(member[m0], 0)]
    total_due = 0.0
    for j in range(m0, m1):
        total_due += owed[member[j]]
    return total_due


def has_triggers(wf):
    """`pay_waterfall`'s last argument: `wf` when the structure has triggers, else None."""
    return wf if wf.trigger_condition.shape[0] > 0 else None


@njit(cache=True)
def pay_waterfall(
    wf,
    collections,
    defaulted,
    loss,
    collateral,
    provider_default,
    vintages,
    ip_value,
    pool_split,
    out,
    triggers,
):
    """Pay one path's collections through the structure `wf`, writing every flow into `out`.

    `defaulted[k]` and `loss[k]` feed the cumulative ratios, `collateral[k]` (value at the end of
    period k) the OC tests, borrowing bases, pool fees and the clean-up call. Provider p tops up
    shortfalls while k < provider_default[p]. `vintages` = (cash, defaulted, loss, performing),
    each (V, K), per unit of balance of the loans bought at the end of period v (revolving.py):
    what a buy_assets step buys is added to these four series for the periods that follow.
    `pool_split` = (principal, recovered, defaulted principal), each (K,): the parts of a loan
    pool's collections that are principal and recoveries of defaulted loans, and the principal
    balance of the loans that defaulted in each period (zeros for a pool of licence income): the
    income fee base, the revenue and principal accounts and the principal deficiency ledger.
    Per period, cash is conserved (see `WaterfallOut`).
    On return `out.balance[:, -1]` is each class's principal loss.
    `triggers` is None for a structure without triggers (then `_triggers` is not compiled) and
    `wf` otherwise (`has_triggers`).
    """
    # the arguments' arrays as views that skip reference counting (`_borrowed`): an atomic
    # increment and decrement for each view of an output, each call, and for each array a step
    # passes to an inlined helper
    wf, collections, defaulted, loss, collateral, provider_default, vintages, ip_value = _borrowed(
        (wf, collections, defaulted, loss, collateral, provider_default, vintages, ip_value)
    )
    pool_split, out = _borrowed((pool_split, out))
    n_tranches = wf.balance0.shape[0]
    n_periods = collections.shape[0]
    n_fees = wf.fee_fixed.shape[0]
    n_triggers = wf.trigger_condition.shape[0]
    last = n_periods - 1
    liquidity_limit = wf.liquidity_limit
    # and the outputs
    fees_out = out.fees
    fee_paid_out = out.fee_paid
    interest_out = out.interest
    principal_out = out.principal
    residual_out = out.residual
    reserve_topup_out = out.reserve_topup
    reserve_release_out = out.reserve_release
    liquidity_charges_out = out.liquidity_charges
    liquidity_repaid_out = out.liquidity_repaid
    performance_fee_out = out.performance_fee
    holdback_in_out = out.holdback_in
    holdback_drawn_out = out.holdback_drawn
    holdback_release_out = out.holdback_release
    holdback_out = out.holdback
    support_class_out = out.support_class
    call_proceeds_out = out.call_proceeds
    support_paid_out = out.support_paid
    support_used_out = out.support_used
    purchases_out = out.purchases
    collected_out = out.collected
    balance_out = out.balance
    reserve_draw_out = out.reserve_draw
    liquidity_draw_out = out.liquidity_draw
    reserve_out = out.reserve
    state_out = out.state
    unpaid_interest_out = out.unpaid_interest
    trigger_first_out = out.trigger_first
    max_unpaid_out = out.max_unpaid
    debt_service_out = out.debt_service
    # the program's arrays as locals: read once per path, not per step
    accrual = wf.accrual
    coupon = wf.coupon
    has_schedule = wf.has_schedule
    target_balance = wf.target_balance
    fee_fixed = wf.fee_fixed
    fee_pct_notes = wf.fee_pct_notes
    fee_pct_pool = wf.fee_pct_pool
    fee_cap = wf.fee_cap
    fee_floor = wf.fee_floor
    fee_pct_income = wf.fee_pct_income
    fee_pct_collections = wf.fee_pct_collections
    fee_pct_paid = wf.fee_pct_paid
    fee_one_off = wf.fee_one_off
    class_accrual = wf.class_accrual
    step_account = wf.step_account
    support_covers_fee = wf.support_covers_fee
    principal_collected, recovered, defaulted_principal = pool_split
    pdl_out = out.pdl
    principal_in_out = out.principal_in
    support_fee_out = out.support_fee
    fee_paid_accrual = out.work_fee_paid_accrual  # accrued this period on class payments (in
    # arrear)
    state_start = wf.state_start
    step_action = wf.step_action
    step_mode = wf.step_mode
    step_cover = wf.step_cover
    step_advance_rate = wf.step_advance_rate
    member_start = wf.member_start
    member = wf.member
    rank_first = wf.rank_first
    support_covers = wf.support_covers
    support_cap = wf.support_cap
    support_ultimate_only = wf.support_ultimate_only
    n_providers = support_cap.shape[0]
    # the working arrays (`new_out` allocates them once), reset as if new; fee_service,
    # coupon_service and scheduled_service are written in each period before the triggers read
    # them (periods up to the current one; none after a clean-up call)
    balance = out.work_balance
    dues = out.work_dues
    opening = out.work_opening
    interest_owed = out.work_interest_owed
    fee_owed = out.work_fee_owed
    fee_period = out.work_fee_period  # each fee's periodic amount this period (reserve formula)
    fee_service = out.work_fee_service
    coupon_service = out.work_coupon_service
    scheduled_service = out.work_scheduled_service
    breaches = out.work_breaches
    active = out.work_active
    accounts = out.work_accounts
    for t in range(n_tranches):
        balance[t] = wf.balance0[t]
        dues[t] = 0.0
        opening[t] = 0.0
        interest_owed[t] = 0.0
    for f in range(n_fees):
        fee_owed[f] = 0.0
        fee_period[f] = 0.0
        fee_paid_accrual[f] = 0.0
    for r in range(n_triggers):
        breaches[r] = 0
        active[r] = False
    for i in range(accounts.shape[0]):
        accounts[i] = 0.0
    accounts[RESERVE] = wf.reserve_initial
    compound = wf.compound
    priority_capital = 0.0
    for t in range(n_tranches - 1):
        priority_capital += wf.balance0[t]
    for t in range(n_tranches):
        max_unpaid_out[t] = 0.0
    for p in range(support_used_out.shape[0]):
        support_used_out[p] = 0.0
    for r in range(n_triggers):
        trigger_first_out[r] = -1
    cum_default = 0.0
    cum_loss = 0.0
    called = False
    revolving_over = False
    v_cash, v_defaulted, v_loss, v_performing = vintages
    # the flows a period adds to, zero at the path's start (in loops that store a vector at a
    # time, not a value at a time in each period)
    for k in range(n_periods):
        fees_out[k] = 0.0
        purchases_out[k] = 0.0
        collected_out[k] = 0.0
        residual_out[k] = 0.0
        reserve_topup_out[k] = 0.0
        reserve_release_out[k] = 0.0
        liquidity_charges_out[k] = 0.0
        liquidity_repaid_out[k] = 0.0
        performance_fee_out[k] = 0.0
        holdback_in_out[k] = 0.0
        holdback_release_out[k] = 0.0
        call_proceeds_out[k] = 0.0
        support_paid_out[k] = 0.0
        debt_service_out[k] = 0.0
        principal_in_out[k] = 0.0
        support_fee_out[k] = 0.0
    for f in range(n_fees):
        for k in range(n_periods):
            fee_paid_out[f, k] = 0.0
    for t in range(n_tranches):
        for k in range(n_periods):
            interest_out[t, k] = 0.0
            principal_out[t, k] = 0.0
            support_class_out[t, k] = 0.0
    for k in range(n_periods):
        if wf.any_paid_fee:
            for f in range(n_fees):
                fee_paid_accrual[f] = 0.0
        accounts[DRAWN_NOW] = 0.0
        accounts[LIQ_DRAWN_NOW] = 0.0
        accounts[HOLDBACK_DRAWN_NOW] = 0.0
        if called:  # the pool was sold: nothing more comes in or goes out
            for t in range(n_tranches):
                balance_out[t, k] = balance[t]
            reserve_draw_out[k] = 0.0
            liquidity_draw_out[k] = 0.0
            holdback_drawn_out[k] = 0.0
            reserve_out[k] = accounts[RESERVE]
            holdback_out[k] = accounts[HOLDBACK]
            pdl_out[k] = accounts[PDL]
            state_out[k] = -1
            continue
        cash = collections[k]
        collected_out[k] = cash
        # the interest and licence income in the period's collections (the income fee base)
        income = 0.0
        if wf.any_flow_fee:
            income = max(cash - principal_collected[k] - recovered[k], 0.0)
        if wf.split_accounts:  # principal to its own account, and the defaults to the ledger
            to_principal = principal_collected[k]
            accounts[PDL] += defaulted_principal[k]
            if wf.recoveries_to_principal:  # recoveries make good the ledger first; the rest
                # (interest recovered) is revenue
                made_good = min(recovered[k], accounts[PDL])
                accounts[PDL] -= made_good
                to_principal += made_good
            revenue = max(cash - to_principal, 0.0)
            accounts[OTHER] = cash - revenue
            principal_in_out[k] = cash - revenue
            cash = revenue
        if wf.holdback_share > 0.0:  # a trust holds back a share of its income until the end,
            # in an account of its own (not the reserve, whose target would release it)
            held = wf.holdback_share * cash
            cash -= held
            accounts[HOLDBACK] += held
            holdback_in_out[k] = held
        carried = 0.0  # the priority classes' unpaid interest carried into the period
        if wf.termination_shortfall >= 0.0:  # read only by a trust's early termination
            for t in range(n_tranches - 1):
                carried += interest_owed[t]
        cum_default += defaulted[k]
        cum_loss += loss[k]
        notes = 0.0
        for t in range(n_tranches):
            notes += balance[t]

        # 1. accrue the period's fees, interest and facility charges
        pool_start = wf.collateral_original if k == 0 else collateral[k - 1]
        fee_total = 0.0
        for f in range(n_fees):
            per_year = fee_fixed[f] + fee_pct_notes[f] * notes + fee_pct_pool[f] * pool_start
            flows = 0.0
            if wf.any_flow_fee:
                flows = fee_pct_income[f] * income + fee_pct_collections[f] * collections[k]
            if flows > 0.0:  # the cap and floor apply to the period's whole amount
                accrued = min(accrual[k] * per_year + flows, accrual[k] * fee_cap[f])
            else:
                accrued = accrual[k] * min(per_year, fee_cap[f])
            if wf.any_fee_extra:
                accrued = max(accrued, accrual[k] * fee_floor[f])
                fee_period[f] = accrued
                accrued += fee_one_off[f, k]
            else:
                fee_period[f] = accrued
            fee_owed[f] += accrued
            fee_total += accrued
        # the period's debt service: its fees, then each class's interest and scheduled principal
        # above the subordinated class, summed in that order; kept per period for the triggers
        service = fee_total
        for t in range(n_tranches):
            base = balance[t] + interest_owed[t] if compound[t] else balance[t]
            accrued = base * coupon[t, k] * class_accrual[t, k]
            interest_owed[t] += accrued
            scheduled = 0.0
            if has_schedule[t]:
                scheduled = max(balance[t] - target_balance[t, k], 0.0)
            if triggers is not None:  # read only by the triggers
                coupon_service[t, k] = accrued
                scheduled_service[t, k] = scheduled
            if t < n_tranches - 1:
                service += accrued + scheduled
        if triggers is not None:
            fee_service[k] = fee_total
        debt_service_out[k] = service
        drawn = accounts[LIQ_DRAWN]
        accounts[LIQ_CHARGES] += accrual[k] * (
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
            if wf.split_accounts:  # the pool's sale is principal
                accounts[OTHER] += proceeds
                principal_in_out[k] += proceeds
            else:
                cash += proceeds
            call_proceeds_out[k] = proceeds
            called = True
            final = True
        elif (
            wf.termination_shortfall >= 0.0
            and not final
            and carried > wf.termination_shortfall * priority_capital
        ):  # a trust's early termination: the IP is sold at its value
            proceeds = ip_value[k]
            cash += proceeds
            call_proceeds_out[k] = proceeds
            called = True
            final = True
        if k == last and wf.terminal_value:  # a trust distributes the IP it still holds
            cash += ip_value[k]
            call_proceeds_out[k] = ip_value[k]

        if final:  # at legal final or a call the reserve and a trust's holdback join the cash
            cash += accounts[RESERVE]
            reserve_release_out[k] += accounts[RESERVE]
            accounts[RESERVE] = 0.0
            cash += accounts[HOLDBACK]
            holdback_release_out[k] = accounts[HOLDBACK]
            accounts[HOLDBACK] = 0.0

        # 3. triggers
        state, rapid, trap, ends_revolving = S_NORMAL, False, 0.0, False
        if triggers is not None and n_triggers > 0:
            state, rapid, trap, ends_revolving = _triggers(
                wf.trigger_condition, wf.trigger_threshold, wf.trigger_period, wf.trigger_lookback,
                wf.trigger_needed, wf.trigger_effect, wf.trigger_curable, wf.trigger_trap_share,
                wf.trigger_classes, wf.collateral_original, k, collections, fee_service,
                coupon_service, scheduled_service, collateral, notes, cum_default, cum_loss,
                breaches, active, trigger_first_out,
            )  # fmt: skip
        accelerate = rapid or final
        if ends_revolving:
            revolving_over = True
        if state == S_NORMAL and not revolving_over and k < wf.revolving_end and not final:
            state = S_REVOLVING
        state_out[k] = state

        # 4. the state's steps
        supported = 0.0
        # the start of a step's members and the members are floored at 0 (never negative in a
        # program): the compiler then drops the negative-index handling of the arrays they index
        for step in range(state_start[state], state_start[state + 1]):
            action = step_action[step]
            m0 = max(member_start[step], 0)
            m1 = member_start[step + 1]
            on_principal = wf.split_accounts and step_account[step] == 1
            if on_principal:  # the step pays from the principal account: swap it in
                held = cash
                cash = accounts[OTHER]
                accounts[OTHER] = held
            class_paid = 0.0  # paid to the classes by this step (fees on class payments)
            if action == A_FEE:
                total_due = _total_due(fee_owed, member, m0, m1)
                from_cash = min(cash, total_due)
                cash -= from_cash
                shortfall = total_due - from_cash
                covered = 0.0  # _cover draws nothing without a shortfall: skip its call
                if not shortfall <= 0.0:
                    covered = _cover(step_cover, liquidity_limit, accounts, step, shortfall)
                total_paid = from_cash + covered
                if m1 - m0 == 1 and n_providers == 0:  # a member alone, no credit support: the
                    # loop below written out, with _share's rule for one member (without the
                    # division the compiler would otherwise compute on every call)
                    f = max(member[m0], 0)
                    paid = fee_owed[f] if total_paid >= total_due else total_paid
                    fee_owed[f] -= paid
                    fees_out[k] += paid
                    fee_paid_out[f, k] += paid
                else:
                    for j in range(m0, m1):
                        f = max(member[j], 0)
                        if m1 - m0 == 1:  # _share's rule for a member alone (as above)
                            paid = fee_owed[f] if total_paid >= total_due else total_paid
                        else:
                            paid = _share(total_paid, total_due, fee_owed[f], m1 - m0)
                        if n_providers > 0:  # undertakings that cover the fee top it up
                            paid, top_up = _settle(
                                fee_owed[f], paid, f, k, support_covers_fee, support_cap,
                                provider_default, support_used_out, support_ultimate_only, False,
                            )  # fmt: skip
                            supported += top_up
                            support_fee_out[k] += top_up
                        fee_owed[f] -= paid
                        fees_out[k] += paid
                        fee_paid_out[f, k] += paid
            elif action == A_INTEREST:
                total_due = _total_due(interest_owed, member, m0, m1)
                from_cash = min(cash, total_due)
                cash -= from_cash
                shortfall = total_due - from_cash
                covered = 0.0
                if not shortfall <= 0.0:
                    covered = _cover(step_cover, liquidity_limit, accounts, step, shortfall)
                total_paid = from_cash + covered
                if m1 - m0 == 1 and n_providers == 0:  # as in the fee step
                    t = max(member[m0], 0)
                    due = interest_owed[t]
                    paid = due if total_paid >= total_due else total_paid
                    interest_owed[t] = due - paid
                    interest_out[t, k] += paid
                    class_paid += paid
                else:
                    for j in range(m0, m1):
                        t = max(member[j], 0)
                        due = interest_owed[t]
                        if m1 - m0 == 1:  # a member alone (as in the fee step)
                            paid = due if total_paid >= total_due else total_paid
                        else:
                            paid = _share(total_paid, total_due, due, m1 - m0)
                        if n_providers > 0:
                            paid, top_up = _settle(
                                due, paid, t, k, support_covers, support_cap, provider_default,
                                support_used_out, support_ultimate_only, False,
                            )  # fmt: skip
                            supported += top_up
                            support_class_out[t, k] += top_up
                        interest_owed[t] = due - paid
                        interest_out[t, k] += paid
                        class_paid += paid
            elif (
                action == A_PRINCIPAL
                and m1 - m0 == 1
                and n_providers == 0
                and (step_mode[step] == M_SEQUENTIAL or step_mode[step] == M_SCHEDULE)
            ):
                # fast path (the common step): one class, sequential or schedule, no credit
                # support; _pay_principal's rules without its call, whose array arguments cost
                # more than the step (tests compare the two paths), and _principal_due's written
                # out: inlined, its array arguments cost a reference count each, every step
                t = max(member[m0], 0)
                if accelerate:
                    due = balance[t]
                elif has_schedule[t]:
                    due = max(balance[t] - target_balance[t, k], 0.0)
                elif step_mode[step] == M_SEQUENTIAL:
                    due = balance[t]
                    for u in range(rank_first[t]):
                        if balance[u] > 0.0:
                            due = 0.0
                            break
                else:
                    due = 0.0
                paid = min(cash, due)
                cash -= paid
                balance[t] -= paid
                principal_out[t, k] += paid
                class_paid += paid
            elif action == A_PRINCIPAL:
                if wf.any_paid_fee:
                    for j in range(m0, m1):
                        class_paid -= principal_out[member[j], k]
                cash, top_up = _pay_principal(
                    step_mode[step], step_advance_rate[step], member, m0, m1, rank_first,
                    has_schedule, target_balance, support_covers, support_cap,
                    support_ultimate_only, provider_default,
                    support_used_out, support_class_out, principal_out, k, cash, balance, dues,
                    opening, accelerate, final,
                    collateral[k],
                )  # fmt: skip
                supported += top_up
                if wf.any_paid_fee:
                    for j in range(m0, m1):
                        class_paid += principal_out[member[j], k]
            elif action == A_RESERVE:
                target = 0.0
                if notes > 0.0 and not final:
                    target = max(wf.reserve_target, wf.reserve_target_pct * notes)
                    if wf.reserve_formula:  # the next period's named interest and fees
                        coming = 0.0
                        for t in range(n_tranches):
                            if wf.reserve_next_class[t] and k + 1 < n_periods:
                                coming += balance[t] * coupon[t, k + 1] * class_accrual[t, k + 1]
                        for f in range(n_fees):
                            if wf.reserve_next_fee[f]:
                                coming += fee_period[f]
                        target = max(target, coming)
                    target = min(target, wf.reserve_cap)
                    if trap > 0.0:
                        target = max(target, accounts[RESERVE] + trap * cash)
                if accounts[RESERVE] > target:
                    release = accounts[RESERVE] - target
                    accounts[RESERVE] = target
                    reserve_release_out[k] += release
                    cash += release
                else:
                    topup = min(cash, target - accounts[RESERVE])
                    cash -= topup
                    accounts[RESERVE] += topup
                    reserve_topup_out[k] += topup
            elif action == A_LIQUIDITY:
                charges = min(cash, accounts[LIQ_CHARGES])
                accounts[LIQ_CHARGES] -= charges
                cash -= charges
                repaid = min(cash, accounts[LIQ_DRAWN])
                accounts[LIQ_DRAWN] -= repaid
                cash -= repaid
                liquidity_charges_out[k] += charges
                liquidity_repaid_out[k] += repaid
            elif action == A_BUY:
                if state == S_REVOLVING and k < v_cash.shape[0]:
                    wanted = max(wf.revolving_target - collateral[k], 0.0)
                    cost = min(cash, wanted * wf.revolving_price)
                    if cost > 0.0:
                        bought = cost / wf.revolving_price
                        cash -= cost
                        purchases_out[k] += cost
                        collateral[k] += bought
                        for j in range(k + 1, n_periods):
                            collections[j] += bought * v_cash[k, j]
                            defaulted[j] += bought * v_defaulted[k, j]
                            loss[j] += bought * v_loss[k, j]
                            collateral[j] += bought * v_performing[k, j]
            elif action == A_TRANSFER:  # to the other account
                if wf.step_transfer[step] == TRANSFER_DEFICIENCY:  # cure the ledger
                    moved = min(cash, accounts[PDL])
                    accounts[PDL] -= moved
                else:
                    moved = cash
                cash -= moved
                accounts[OTHER] += moved
                if on_principal:  # principal spent by revenue: booked in the ledger, as a
                    # cover from the principal account is
                    accounts[PDL] += moved
            else:  # A_RESIDUAL
                if wf.performance_fee_share > 0.0:  # a trust manager's fee above the hurdle
                    hurdle = wf.performance_hurdle * wf.balance0[n_tranches - 1] * accrual[k]
                    performance = wf.performance_fee_share * max(cash - hurdle, 0.0)
                    cash -= performance
                    performance_fee_out[k] += performance
                residual_out[k] += cash + accounts[OTHER]  # every account's cash
                cash = 0.0
                accounts[OTHER] = 0.0
            if class_paid > 0.0 and wf.any_paid_fee:
                for f in range(n_fees):
                    fee_owed[f] += fee_pct_paid[f] * class_paid
                    fee_paid_accrual[f] += fee_pct_paid[f] * class_paid
            if on_principal:  # swap the revenue account back in
                held = cash
                cash = accounts[OTHER]
                accounts[OTHER] = held
        residual_out[k] += cash  # nothing is left unallocated
        if wf.split_accounts:
            residual_out[k] += accounts[OTHER]
            accounts[OTHER] = 0.0
        pdl_out[k] = accounts[PDL]
        for f in range(n_fees):
            if not wf.fee_carry[f]:  # waived, not carried; what this period's class payments
                # accrued falls due in the next period (in arrear) and is waived only then
                fee_owed[f] = min(fee_owed[f], fee_paid_accrual[f])
        for t in range(n_tranches):
            balance_out[t, k] = balance[t]
        reserve_draw_out[k] = accounts[DRAWN_NOW]
        liquidity_draw_out[k] = accounts[LIQ_DRAWN_NOW]
        reserve_out[k] = accounts[RESERVE]
        holdback_drawn_out[k] = accounts[HOLDBACK_DRAWN_NOW]
        holdback_out[k] = accounts[HOLDBACK]
        support_paid_out[k] = supported
        for t in range(n_tranches):
            max_unpaid_out[t] = max(max_unpaid_out[t], interest_owed[t])
    for t in range(n_tranches):
        unpaid_interest_out[t] = interest_owed[t]
    out.liquidity_unpaid[0] = accounts[LIQ_DRAWN]
    out.liquidity_unpaid[1] = accounts[LIQ_CHARGES]
