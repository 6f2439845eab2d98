"""Compile a deal's structure (waterfall steps per state, fees, accounts, triggers) to arrays.

One Numba kernel (`ipabs.structures.waterfall.pay_waterfall`) interprets these arrays for every
deal, so a new structure is new data, never a new kernel. `assemble` works on plain indices (the
tests call it directly); `compile_waterfall` maps a validated scenario's names onto it.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ipabs.calendar import TimeGrid
from ipabs.pool.leases import contract_balance
from ipabs.scenario.model import Scenario
from ipabs.scenario.structure import (
    TAX_FEE,
    Action,
    Condition,
    CoverSource,
    Effect,
    PrincipalMode,
    Step,
    TransferAmount,
    Waterfall,
)

# the codes the kernel reads are positions in the schema's own literals (one list of names);
# ipabs.structures.waterfall numbers them in this order
ACTIONS = typing.get_args(Action)
MODES = typing.get_args(PrincipalMode)
STATES = ("normal", "triggered", "accelerated", "revolving")
CONDITIONS = typing.get_args(Condition)
EFFECTS = typing.get_args(Effect)
COVER_SOURCES = ("none", *typing.get_args(CoverSource))
COLLATERAL_BASES = ("none", "trailing_income", "loan_balance")
ACCOUNTS = ("revenue", "principal")
TRANSFER_AMOUNTS = typing.get_args(TransferAmount)


class WaterfallArrays(NamedTuple):
    """The notes, accounts and program as arrays; tranches ordered by rank (T tranches, K periods,
    F fees, S steps over all states, R triggers, P credit-support providers)."""

    accrual: np.ndarray  # (K,) fee accrual fraction in the deal's day count
    class_accrual: np.ndarray  # (T, K) each class's coupon accrual fraction in its day count
    balance0: np.ndarray  # (T,)
    coupon: np.ndarray  # (T, K) coupon rate of each period
    rank_first: np.ndarray  # (T,) int: index of the first class of class t's rank
    has_schedule: np.ndarray  # (T,) bool
    target_balance: np.ndarray  # (T, K) balance after period k's scheduled principal
    fee_fixed: np.ndarray  # (F,) per year
    fee_pct_notes: np.ndarray  # (F,)
    fee_pct_pool: np.ndarray  # (F,)
    fee_cap: np.ndarray  # (F,) per year, inf: no cap
    fee_floor: np.ndarray  # (F,) per year
    fee_pct_income: np.ndarray  # (F,) share of the period's interest and licence income
    fee_pct_collections: np.ndarray  # (F,) share of the period's collections
    fee_pct_paid: np.ndarray  # (F,) share of what the classes are paid (interest, principal)
    fee_one_off: np.ndarray  # (F, K) one-off amounts due in each period
    fee_carry: np.ndarray  # (F,) bool: unpaid amounts carried (else waived at period end)
    any_paid_fee: bool  # some fee accrues on the classes' payments
    any_flow_fee: bool  # some fee accrues on the period's income or collections
    any_fee_extra: bool  # some fee has a floor or a one-off amount
    reserve_initial: float
    reserve_target: float
    reserve_target_pct: float
    reserve_cap: float  # inf: no cap
    reserve_next_class: np.ndarray  # (T,) bool: next period's interest counts in the target
    reserve_next_fee: np.ndarray  # (F,) bool: the fee's period amount counts in the target
    reserve_formula: bool  # some class or fee counts
    liquidity_limit: float
    liquidity_rate: float
    liquidity_commitment_fee: float
    support_covers: np.ndarray  # (P, T) bool: undertaking p tops up tranche t
    support_cap: np.ndarray  # (P,) most each undertaking pays (inf: no cap)
    support_ultimate_only: np.ndarray  # (P,) bool: principal only at legal final, not scheduled
    support_covers_fee: np.ndarray  # (P, F) bool: undertaking p pays fee f's shortfall
    split_accounts: bool  # revenue and principal accounts (else one account)
    recoveries_to_principal: bool  # split: recoveries go to the principal account
    state_start: np.ndarray  # (5,) int: steps of state s are state_start[s]:state_start[s + 1]
    step_action: np.ndarray  # (S,) int, index into ACTIONS
    step_mode: np.ndarray  # (S,) int, index into MODES
    step_cover: np.ndarray  # (S, sources) int, index into COVER_SOURCES, in drawing order
    step_advance_rate: np.ndarray  # (S,)
    step_account: np.ndarray  # (S,) int, index into ACCOUNTS: the account a step pays from
    step_transfer: np.ndarray  # (S,) int, index into TRANSFER_AMOUNTS
    member_start: np.ndarray  # (S + 1,) int: step i's members are member[member_start[i]:...]
    member: np.ndarray  # (M,) int: class or fee indices
    trigger_condition: np.ndarray  # (R,) int, index into CONDITIONS
    trigger_threshold: np.ndarray  # (R,)
    trigger_period: np.ndarray  # (R,) int: date triggers are breached from this period
    trigger_lookback: np.ndarray  # (R,) int
    trigger_needed: np.ndarray  # (R,) int: breaches to trip
    trigger_effect: np.ndarray  # (R,) int, index into EFFECTS
    trigger_curable: np.ndarray  # (R,) bool
    trigger_trap_share: np.ndarray  # (R,) share of cash a trap_cash trigger traps
    trigger_classes: np.ndarray  # (R, T) bool: classes whose debt service a coverage test counts
    collateral_original: float  # 0: no collateral measure
    collateral_basis: int  # index into COLLATERAL_BASES
    collateral_multiple: float  # trailing_income: value = multiple x annualised income
    collateral_lookback: int  # trailing_income: periods of collections
    periods_per_year: int
    call_threshold: float  # < 0: no clean-up call
    call_price: float
    revolving_end: int  # periods before it may buy (0: no revolving period)
    revolving_target: float  # performing balance purchases restore
    revolving_price: float  # price per unit of balance
    compound: np.ndarray  # (T,) bool: unpaid interest earns the coupon
    holdback_share: float  # trust: share of collections held back until the final distribution
    performance_fee_share: float  # trust: the manager's share of residual above the hurdle
    performance_hurdle: float  # trust: hurdle yield on the subordinated class's capital
    terminal_value: bool  # trust: the IP still held is distributed at its value at the end
    termination_shortfall: float  # trust: < 0 never; else early termination level


@dataclass(frozen=True)
class StepSpec:
    """One step on indices: `members` are class indices (by rank order) or fee indices."""

    action: str
    members: tuple[int, ...] = ()
    mode: str = "sequential"
    cover: tuple[str, ...] = ()
    advance_rate: float = 0.0
    account: str = "revenue"
    amount: str = "all"


@dataclass(frozen=True)
class TriggerSpec:
    condition: str
    effect: str
    threshold: float = 0.0
    period: int = 0
    lookback: int = 1
    needed: int = 1
    curable: bool = False
    classes: tuple[int, ...] | None = None  # coverage tests: classes counted (None: all)
    trap_share: float = 1.0


@dataclass(frozen=True)
class FeeSpec:
    fixed: float = 0.0
    pct_notes: float = 0.0
    pct_pool: float = 0.0
    cap: float = np.inf
    floor: float = 0.0
    pct_income: float = 0.0
    pct_collections: float = 0.0
    pct_paid: float = 0.0
    one_off: tuple[float, int] = (0.0, 0)  # amount, period due
    carry: bool = True


@dataclass
class Structure:
    """Everything `assemble` needs, on indices. Classes are in rank order."""

    accrual: np.ndarray
    balance0: Sequence[float]
    coupon: np.ndarray  # (T,) or (T, K)
    ranks: Sequence[int]
    states: dict[str, Sequence[StepSpec]]  # "normal" required
    target_balance: np.ndarray | None = None  # (T, K); NaN rows: no schedule
    fees: Sequence[FeeSpec] = ()
    reserve: tuple[float, float, float] = (0.0, 0.0, 0.0)  # initial, target, target % of notes
    reserve_cap: float = np.inf
    reserve_next: tuple[Sequence[int], Sequence[int]] = ((), ())  # classes, fees counted
    liquidity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # limit, rate, commitment fee
    support: Sequence[tuple[Sequence[int], float]] = ()  # (covered classes, cap)
    support_ultimate_only: Sequence[bool] = ()  # per provider; default: scheduled principal too
    support_fees: Sequence[Sequence[int]] = ()  # per provider: the fees it covers; default none
    accounts: tuple[bool, bool] = (False, True)  # split, recoveries to principal
    class_accrual: np.ndarray | None = None  # (T, K); default: accrual for every class
    triggers: Sequence[TriggerSpec] = ()
    collateral_original: float = 0.0
    collateral: tuple[str, float, int] = ("none", 0.0, 1)  # basis, multiple, look-back periods
    periods_per_year: int = 4
    call: tuple[float, float] | None = None  # threshold, price
    revolving: tuple[int, float, float] = (0, 0.0, 1.0)  # end period, target balance, price
    compound: Sequence[bool] = ()  # per class; default none
    trust: tuple[float, float, float, bool, float] = (0.0, 0.0, 0.0, False, -1.0)
    # holdback share, performance fee share, hurdle, terminal value, termination shortfall


def assemble(s: Structure) -> WaterfallArrays:
    accrual = np.ascontiguousarray(s.accrual, dtype=float)
    n_periods = accrual.size
    balance0 = np.asarray(s.balance0, dtype=float)
    n_tranches = balance0.size
    coupon = np.asarray(s.coupon, dtype=float)
    if coupon.ndim == 1:
        coupon = np.repeat(coupon[:, None], n_periods, axis=1)
    ranks = list(s.ranks)
    if ranks != sorted(ranks):
        raise ValueError("classes must be given in rank order")
    if s.target_balance is None:
        target = np.full((n_tranches, n_periods), np.nan)
    else:
        target = np.asarray(s.target_balance, dtype=float)
    has_schedule = ~np.isnan(target).all(axis=1)
    target = np.where(np.isnan(target), 0.0, target)

    steps: list[StepSpec] = []
    starts = [0]
    normal = list(s.states["normal"])
    triggered = list(s.states.get("triggered") or normal)
    accelerated = list(s.states.get("accelerated") or triggered)
    revolving = list(s.states.get("revolving") or normal)
    for program in (normal, triggered, accelerated, revolving):
        steps.extend(program)
        starts.append(len(steps))
    members: list[int] = []
    member_start = [0]
    for step in steps:
        listed = list(step.members)
        if step.action == "pay_principal" and step.mode != "turbo":
            listed.sort(key=lambda t: (ranks[t], t))  # by rank; turbo keeps the listed order
        members.extend(listed)
        member_start.append(len(members))

    def cover_codes(step: StepSpec) -> list[int]:
        codes = [COVER_SOURCES.index(c) for c in step.cover]
        return codes + [0] * (len(COVER_SOURCES) - 1 - len(codes))

    fees = list(s.fees)
    one_off = np.zeros((len(fees), n_periods))
    for f, fee in enumerate(fees):
        amount, period = fee.one_off
        if amount:
            one_off[f, min(period, n_periods - 1)] += amount
    n_providers = len(s.support)
    support_fees = list(s.support_fees) or [()] * n_providers
    next_classes, next_fees = s.reserve_next
    class_accrual = (
        np.repeat(accrual[None, :], n_tranches, axis=0)
        if s.class_accrual is None
        else np.asarray(s.class_accrual, dtype=float)
    )
    return WaterfallArrays(
        accrual=accrual,
        class_accrual=np.ascontiguousarray(class_accrual),
        balance0=balance0,
        coupon=np.ascontiguousarray(coupon),
        rank_first=np.array([ranks.index(r) for r in ranks], dtype=np.int64),
        has_schedule=has_schedule,
        target_balance=np.ascontiguousarray(target),
        fee_fixed=np.array([f.fixed for f in fees], dtype=float),
        fee_pct_notes=np.array([f.pct_notes for f in fees], dtype=float),
        fee_pct_pool=np.array([f.pct_pool for f in fees], dtype=float),
        fee_cap=np.array([f.cap for f in fees], dtype=float),
        fee_floor=np.array([f.floor for f in fees], dtype=float),
        fee_pct_income=np.array([f.pct_income for f in fees], dtype=float),
        fee_pct_collections=np.array([f.pct_collections for f in fees], dtype=float),
        fee_pct_paid=np.array([f.pct_paid for f in fees], dtype=float),
        fee_one_off=one_off,
        fee_carry=np.array([f.carry for f in fees], dtype=np.bool_),
        any_paid_fee=any(f.pct_paid > 0 for f in fees),
        any_flow_fee=any(f.pct_income > 0 or f.pct_collections > 0 for f in fees),
        any_fee_extra=any(f.floor > 0 or f.one_off[0] != 0 for f in fees),
        reserve_initial=float(s.reserve[0]),
        reserve_target=float(s.reserve[1]),
        reserve_target_pct=float(s.reserve[2]),
        reserve_cap=float(s.reserve_cap),
        reserve_next_class=np.array([t in next_classes for t in range(n_tranches)], np.bool_),
        reserve_next_fee=np.array([f in next_fees for f in range(len(fees))], np.bool_),
        reserve_formula=bool(len(next_classes) or len(next_fees)),
        liquidity_limit=float(s.liquidity[0]),
        liquidity_rate=float(s.liquidity[1]),
        liquidity_commitment_fee=float(s.liquidity[2]),
        support_covers=np.array(
            [[t in covered for t in range(n_tranches)] for covered, _ in s.support], dtype=np.bool_
        ).reshape(len(s.support), n_tranches),
        support_cap=np.array([cap for _, cap in s.support], dtype=float),
        support_ultimate_only=np.array(
            list(s.support_ultimate_only) or [False] * len(s.support), dtype=np.bool_
        ),
        support_covers_fee=np.array(
            [[f in covered for f in range(len(fees))] for covered in support_fees], dtype=np.bool_
        ).reshape(n_providers, len(fees)),
        split_accounts=bool(s.accounts[0]),
        recoveries_to_principal=bool(s.accounts[1]),
        state_start=np.array(starts, dtype=np.int64),
        step_action=np.array([ACTIONS.index(x.action) for x in steps], dtype=np.int64),
        step_mode=np.array([MODES.index(x.mode) for x in steps], dtype=np.int64),
        step_cover=np.array([cover_codes(x) for x in steps], dtype=np.int64).reshape(
            -1, len(COVER_SOURCES) - 1
        ),
        step_advance_rate=np.array([x.advance_rate for x in steps], dtype=float),
        step_account=np.array([ACCOUNTS.index(x.account) for x in steps], dtype=np.int64),
        step_transfer=np.array([TRANSFER_AMOUNTS.index(x.amount) for x in steps], dtype=np.int64),
        member_start=np.array(member_start, dtype=np.int64),
        member=np.array(members, dtype=np.int64),
        trigger_condition=np.array(
            [CONDITIONS.index(t.condition) for t in s.triggers], dtype=np.int64
        ),
        trigger_threshold=np.array([t.threshold for t in s.triggers], dtype=float),
        trigger_period=np.array([t.period for t in s.triggers], dtype=np.int64),
        trigger_lookback=np.array([t.lookback for t in s.triggers], dtype=np.int64),
        trigger_needed=np.array([t.needed for t in s.triggers], dtype=np.int64),
        trigger_effect=np.array([EFFECTS.index(t.effect) for t in s.triggers], dtype=np.int64),
        trigger_curable=np.array([t.curable for t in s.triggers], dtype=np.bool_),
        trigger_trap_share=np.array([t.trap_share for t in s.triggers], dtype=float),
        trigger_classes=np.array(
            [[t.classes is None or c in t.classes for c in range(n_tranches)] for t in s.triggers],
            dtype=np.bool_,
        ).reshape(len(s.triggers), n_tranches),
        collateral_original=float(s.collateral_original),
        collateral_basis=COLLATERAL_BASES.index(s.collateral[0]),
        collateral_multiple=float(s.collateral[1]),
        collateral_lookback=int(s.collateral[2]),
        periods_per_year=int(s.periods_per_year),
        call_threshold=-1.0 if s.call is None else float(s.call[0]),
        call_price=0.0 if s.call is None else float(s.call[1]),
        revolving_end=int(s.revolving[0]),
        revolving_target=float(s.revolving[1]),
        revolving_price=float(s.revolving[2]),
        compound=np.array(list(s.compound) or [False] * n_tranches, dtype=np.bool_),
        holdback_share=float(s.trust[0]),
        performance_fee_share=float(s.trust[1]),
        performance_hurdle=float(s.trust[2]),
        terminal_value=bool(s.trust[3]),
        termination_shortfall=float(s.trust[4]),
    )


def default_waterfall(sc: Scenario) -> Waterfall:
    """The standard priority of payments built from [fees], [reserve] and the tranches (the
    order of format v1): senior fees, interest by rank, reserve, principal by rank,
    subordinated fees, residual; with a [tax] table the tax first. Fee and interest shortfalls
    are drawn from the reserve."""
    by_rank: dict[int, list[str]] = {}
    for t in sc.tranches_by_rank():
        by_rank.setdefault(t.rank, []).append(t.name)
    groups = list(by_rank.values())
    steps = []
    if sc.tax is not None:
        steps.append(Step(action="pay_fee", fees=(TAX_FEE,), cover_from=("reserve",)))
    steps.append(Step(action="pay_fee", fees=("senior",), cover_from=("reserve",)))
    steps += [
        Step(action="pay_interest", classes=tuple(g), cover_from=("reserve",)) for g in groups
    ]
    steps.append(Step(action="fund_reserve"))
    steps += [Step(action="pay_principal", classes=tuple(g), mode="sequential") for g in groups]
    steps.append(Step(action="pay_fee", fees=("subordinated",)))
    steps.append(Step(action="pay_residual"))
    return Waterfall(normal=tuple(steps))


def coupon_rates(sc: Scenario, tranches, dates: list[dt.date]) -> np.ndarray:
    """(T, K) coupon per tranche and period: fixed (stepped up from the first period starting on
    or after step_up_date), or the LPR of the class's tenor plus spread, floored and capped: at
    the period's start, or fixed between repricing dates (docs/model.md 4.1)."""
    from ipabs.pool.lpr import floating_rates, lpr_path

    starts = [sc.deal.closing_date, *dates[:-1]]
    rates = np.empty((len(tranches), len(dates)))
    for t, tranche in enumerate(tranches):
        if tranche.coupon_type == "lpr":
            rates[t] = floating_rates(
                lpr_path(sc, tranche.lpr_tenor),
                tranche.repricing,
                sc.deal.closing_date,
                starts,
                dates,
                tranche.spread,
                tranche.coupon_floor,
                tranche.coupon_cap,
            )
        else:
            stepped = [
                tranche.step_up_date is not None and s >= tranche.step_up_date for s in starts
            ]
            rates[t] = np.where(stepped, tranche.step_up_coupon or 0.0, tranche.coupon)
    return rates


def _target_balances(tranches, dates: list[dt.date]) -> np.ndarray:
    target = np.full((len(tranches), len(dates)), np.nan)
    for t, tranche in enumerate(tranches):
        if not tranche.amortisation:
            continue
        scheduled = np.zeros(len(dates))
        for item in tranche.amortisation:
            # a payment dated between payment dates falls on the next payment date
            k = next(i for i, d in enumerate(dates) if d >= item.date)
            scheduled[k] += item.principal
        target[t] = np.maximum(tranche.balance - np.cumsum(scheduled), 0.0)
    return target


def collateral_original(sc: Scenario) -> float:
    c = sc.collateral
    if c is None:
        return 0.0
    if c.original_value is not None:
        return float(c.original_value)
    # the pool's share of co-lent loans, and the leases' and receivables' balances
    return float(sum(loan.balance * loan.participation for loan in sc.loans)) + contract_balance(sc)


def first_period_on_or_after(dates: list[dt.date], day: dt.date) -> int:
    """Index of the first payment date on or after `day` (the number of periods if none)."""
    return next((k for k, d in enumerate(dates) if d >= day), len(dates))


def tax_rate(sc: Scenario) -> float:
    """The [tax] table's tax as a share of its base: VAT separated from a price that includes it,
    plus the surcharges on the VAT (docs/model.md, 4.9)."""
    t = sc.tax
    return t.vat_rate / (1.0 + t.vat_rate) * (1.0 + t.surcharge_rate)


def fee_specs_of(sc: Scenario, dates: list[dt.date]) -> list[FeeSpec]:
    """The deal's fees in `Scenario.fee_names` order."""
    specs = [
        FeeSpec(
            fixed=sc.fees.fixed_per_year,
            pct_notes=sc.fees.pct_of_notes_per_year,
            cap=np.inf if sc.fees.cap_per_year is None else sc.fees.cap_per_year,
        ),
        FeeSpec(fixed=sc.fees.subordinated_per_year),
    ]
    if sc.tax is not None:
        rate = tax_rate(sc)
        specs.append(
            FeeSpec(pct_income=rate) if sc.tax.base == "income" else FeeSpec(pct_collections=rate)
        )
    for f in sc.other_fees:
        due = first_period_on_or_after(dates, f.one_off_date or sc.deal.closing_date)
        specs.append(
            FeeSpec(
                fixed=f.fixed_per_year,
                pct_notes=f.pct_of_notes_per_year,
                pct_pool=f.pct_of_pool_per_year,
                cap=np.inf if f.cap_per_year is None else f.cap_per_year,
                floor=f.floor_per_year,
                pct_income=f.pct_of_income,
                pct_collections=f.pct_of_collections,
                pct_paid=f.pct_of_class_payments,
                one_off=(f.one_off, due),
                carry=f.carry_unpaid,
            )
        )
    return specs


def compile_waterfall(sc: Scenario, grid: TimeGrid) -> WaterfallArrays:
    """The structure on the payment dates: fees accrue in the deal's day count, each class's
    coupon in its own (`tranches[].day_count`, default the deal's)."""
    dates, accrual = list(grid.dates), grid.accrual
    tranches = sc.tranches_by_rank()
    class_index = {t.name: i for i, t in enumerate(tranches)}
    fee_specs = fee_specs_of(sc, dates)
    fee_index = {name: i for i, name in enumerate(sc.fee_names())}

    def step_spec(step: Step) -> StepSpec:
        if step.action == "pay_fee":
            members = tuple(fee_index[f] for f in step.fees)
        else:
            members = tuple(class_index[c] for c in step.classes)
        return StepSpec(
            action=step.action,
            members=members,
            mode=step.mode,
            cover=tuple(step.cover_from),
            advance_rate=step.advance_rate or 0.0,
            account=step.account,
            amount=step.amount,
        )

    waterfall = sc.waterfall or default_waterfall(sc)
    states = {
        name: [step_spec(x) for x in getattr(waterfall, name)]
        for name in STATES
        if getattr(waterfall, name)
    }
    triggers = [
        TriggerSpec(
            condition=t.condition,
            effect=t.effect,
            threshold=t.threshold or 0.0,
            period=first_period_on_or_after(dates, t.date) if t.date else 0,
            lookback=t.lookback_periods,
            needed=t.breaches_to_trip,
            curable=t.curable,
            classes=tuple(class_index[c] for c in t.classes) if t.classes else None,
            trap_share=t.trap_share,
        )
        for t in sc.triggers
    ]
    liquidity = sc.liquidity
    return assemble(
        Structure(
            accrual=accrual,
            class_accrual=np.array(
                [grid.accrual_for(t.day_count or sc.deal.day_count) for t in tranches]
            ),
            balance0=[t.balance for t in tranches],
            coupon=coupon_rates(sc, tranches, dates),
            ranks=[t.rank for t in tranches],
            states=states,
            target_balance=_target_balances(tranches, dates),
            fees=fee_specs,
            reserve=(
                sc.reserve.initial_balance,
                sc.reserve.target,
                sc.reserve.target_pct_of_notes,
            ),
            reserve_cap=np.inf if sc.reserve.target_cap is None else sc.reserve.target_cap,
            reserve_next=(
                [class_index[n] for n in sc.reserve.target_next_period],
                [fee_index[n] for n in sc.reserve.target_next_period_fees],
            ),
            liquidity=(0.0, 0.0, 0.0)
            if liquidity is None
            else (liquidity.limit, liquidity.interest_rate, liquidity.commitment_fee),
            support=[
                (
                    [class_index[c] for c in s.covers],
                    np.inf if s.cap is None else s.cap,
                )
                for s in sc.credit_support
            ],
            support_ultimate_only=[s.principal == "ultimate" for s in sc.credit_support],
            support_fees=[[fee_index[c] for c in s.covers_fees] for s in sc.credit_support],
            accounts=(
                sc.accounts.collections == "revenue_and_principal",
                sc.accounts.recoveries == "principal",
            ),
            triggers=triggers,
            collateral_original=collateral_original(sc),
            collateral=("none", 0.0, 1)
            if sc.collateral is None
            else (
                sc.collateral.basis,
                sc.collateral.multiple or 0.0,
                sc.collateral.lookback_periods,
            ),
            periods_per_year=sc.deal.payment_frequency.per_year,
            call=None
            if sc.clean_up_call is None
            else (sc.clean_up_call.threshold, sc.clean_up_call.price),
            revolving=_revolving(sc, dates),
            compound=[t.compound_shortfalls for t in tranches],
            trust=_trust(sc),
        )
    )


def _revolving(sc: Scenario, dates: list[dt.date]) -> tuple[int, float, float]:
    from ipabs.structures.revolving import revolving_end_period

    rv = sc.revolving
    if rv is None:
        return (0, 0.0, 1.0)
    target = rv.target_balance if rv.target_balance is not None else collateral_original(sc)
    return (revolving_end_period(sc, dates), float(target), float(rv.price))


def _trust(sc: Scenario) -> tuple[float, float, float, bool, float]:
    if sc.kind != "trust":
        return (0.0, 0.0, 0.0, False, -1.0)
    t = sc.trust
    if t is None:
        from ipabs.scenario.trust import TrustTerms

        t = TrustTerms()
    return (
        t.holdback_share,
        t.performance_fee_share,
        t.performance_hurdle,
        t.terminal_value == "income_method",
        -1.0 if t.termination_shortfall is None else t.termination_shortfall,
    )
