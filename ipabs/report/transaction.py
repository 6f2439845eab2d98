"""The report's Transaction section as data: the classes with their credit enhancement, the
priority of payments in words, the triggers and the credit support (docs/model.md, section 4).

Every sentence is a `Words` pair (msgid, params): the msgid is an English `N_()` literal with
named `str.format` fields, the params are raw values; the report translates, then formats. The
kind of each parameter is in `PARAM_KINDS` (class ids to swap for display names, msgids to
translate, amounts, percentages, ratios, dates, counts). In the DataFrames a sentence is two
columns, `<what>_msgid` and `<what>_params_json` (the params as JSON), so the frames stay
Parquet-friendly.

**Credit enhancement** (信用增级) of a class, a fraction of total issuance (the balance of every
class, the subordinated one included; in a trust, every beneficiary class's capital):

    credit_enhancement = subordination + reserve
    subordination = (balance of every class ranked below it) / total issuance
    reserve       = (initial reserve balance) / total issuance, for every class above the
                    subordinated class; 0 for the subordinated class

Classes sharing a rank are paid pro rata, so they share their subordination. The reserve counts
for every class above the subordinated class because it pays them all: it covers fee and
interest shortfalls where a step draws on it, and what is left is released into the cash at
legal final (or a clean-up call), where it pays principal in the order of the waterfall. The
subordinated class takes the residual (the released reserve included) and has no enhancement.
External support (差额支付承诺 differential payment undertakings, guarantees, credit insurance,
risk-compensation funds) and the liquidity facility are listed separately (`covered_by_support`,
`credit_support_table`), not added: what they are worth depends on their providers. Excess
spread and over-collateralisation (超额覆盖) are not counted either.

The waterfall in words is read from the program the engine runs
(`ipabs.structures.program.compile_waterfall`: the scenario's `[waterfall]` or the standard
order, with a state that has no list of its own running the list it falls back to), so the words
match what is paid. Steps that can pay nothing are left out: a fee step whose fees are all zero,
interest on classes without a coupon, a reserve step with no reserve (and no cash trap), a
facility step without a facility.

**Revenue and principal accounts** (`[accounts] collections = "revenue_and_principal"`,
收入分账户 and 本金分账户): each state's program is shown as consecutive runs of steps that pay
from the same account, each run a section of its own ("Revenue priority of payments",
"Principal priority of payments", as the offering documents list them), in the order the engine
runs them; a transfer step belongs to the account it moves cash from, and the residual step,
which pays every account's cash, to the run before it. A deal with one account reads as before.
The accounts and the principal deficiency ledger (本金账户亏损记录) are rows of
`credit_support_table`; the fees and the tax (税费), with their terms, are `fees_table`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd

from ipabs.calendar import time_grid
from ipabs.report.i18n import N_
from ipabs.scenario.model import Scenario
from ipabs.scenario.structure import TAX_FEE
from ipabs.structures.program import (
    ACCOUNTS,
    ACTIONS,
    COVER_SOURCES,
    MODES,
    STATES,
    TRANSFER_AMOUNTS,
    collateral_original,
    compile_waterfall,
    first_period_on_or_after,
    tax_rate,
)


class Words(NamedTuple):
    """A sentence to translate, then format: an `N_()` msgid and its raw parameters."""

    msgid: str
    params: dict[str, Any]


class Section(NamedTuple):
    """One priority of payments: its title (a msgid), its steps in payment order, and the deal
    state it is ("revolving", "normal", "triggered", "accelerated"; "final" for what happens at
    legal final); with revenue and principal accounts, the account its steps pay from
    ("revenue", "principal"; None: the deal's one account, and what happens at legal final)."""

    title: str
    steps: tuple[Words, ...]
    state: str
    account: str | None = None


class ProgramStep(NamedTuple):
    """One step of the compiled program, with names instead of indices."""

    action: str
    members: tuple[str, ...]  # class ids (in the engine's order) or fee names
    mode: str
    cover: tuple[str, ...]  # cover sources, in drawing order
    advance_rate: float
    account: str = "revenue"  # the account it pays from (a transfer: moves cash from)
    transfer: str = "all"  # a transfer's amount: all, principal_deficiency


#: how the report shows each parameter of the sentences below
PARAM_KINDS = {
    "cls": "class",  # a class id: shown as its display name
    "classes": "classes",  # a list of class ids
    "fees": "msgids",  # a list of msgids (a named fee's own name translates to itself)
    "sources": "msgids",
    "amount": "amount",  # currency
    "share": "pct",  # fractions
    "rate": "pct",
    "step_up": "pct",
    "spread": "pct",
    "floor": "pct",
    "cap": "pct",
    "hurdle": "pct",
    "price": "pct",
    "commitment_fee": "pct",
    "limit": "pct",  # a reverse stress's target loss (the report's stress section)
    "ratio": "ratio",  # a multiple (1.5x)
    "date": "date",  # ISO date strings
    "start": "date",
    "end": "date",
    "periods": "integer",
    "count": "integer",
    "scheduled": "classes",
    "ceiling": "amount",  # a cap on an amount (the reserve's target)
    "effective": "pct",  # the tax as a share of its base
    "loss": "msgids",  # the loss a loss-sharing layer shares (LOSS_WORDS)
    "guarantee": "text",  # a loss-sharing layer's name, shown as written
}
#: (share_of, basis) -> the loss a loss-sharing layer shares (docs/model.md 3.8)
LOSS_WORDS = {
    ("remaining", "exposure"): N_("loss left by the layers before it"),
    ("original", "exposure"): N_("whole loss (pro rata)"),
    ("remaining", "principal"): N_("loss of principal left by the layers before it"),
    ("original", "principal"): N_("whole loss of principal (pro rata)"),
}

STATE_TITLES = {
    "revolving": N_("During the revolving period"),
    "normal": N_("Priority of payments"),
    "triggered": N_("After a trigger event"),
    "accelerated": N_("After an event of default"),
}
FINAL_TITLE = N_("At legal final or a clean-up call")
FINAL_TITLE_TRUST = N_("At the final distribution or an early termination")
#: (state, account) -> title, with revenue and principal accounts (no revolving period then)
ACCOUNT_TITLES = {
    ("normal", "revenue"): N_("Revenue priority of payments"),
    ("normal", "principal"): N_("Principal priority of payments"),
    ("triggered", "revenue"): N_("After a trigger event: revenue priority of payments"),
    ("triggered", "principal"): N_("After a trigger event: principal priority of payments"),
    ("accelerated", "revenue"): N_("After an event of default: revenue priority of payments"),
    ("accelerated", "principal"): N_("After an event of default: principal priority of payments"),
}

#: the fees with words of their own (an [[other_fees]] entry shows its own name)
BUILT_IN_FEE_WORDS = {
    "senior": N_("senior fees"),
    "subordinated": N_("subordinated fees"),
    TAX_FEE: N_("taxes (VAT and surcharges)"),
}
COVER_WORDS = {
    "reserve": N_("the reserve"),
    "liquidity": N_("the liquidity facility"),
    "holdback": N_("the held-back income"),
    "principal": N_("the principal account"),
}

# -- the program -----------------------------------------------------------------------------


def compiled_program(sc: Scenario) -> dict[str, list[ProgramStep]]:
    """The steps the engine runs in each state, from the compiled arrays (a state without a
    list of its own holds the list it falls back to)."""
    grid = time_grid(sc.deal)
    wf = compile_waterfall(sc, grid)
    classes = [t.name for t in sc.tranches_by_rank()]
    fees = list(sc.fee_names())
    program: dict[str, list[ProgramStep]] = {}
    for s, state in enumerate(STATES):
        steps = []
        for i in range(wf.state_start[s], wf.state_start[s + 1]):
            action = ACTIONS[wf.step_action[i]]
            names = fees if action == "pay_fee" else classes
            members = wf.member[wf.member_start[i] : wf.member_start[i + 1]]
            steps.append(
                ProgramStep(
                    action=action,
                    members=tuple(names[m] for m in members),
                    mode=MODES[wf.step_mode[i]],
                    cover=tuple(COVER_SOURCES[c] for c in wf.step_cover[i] if c != 0),
                    advance_rate=float(wf.step_advance_rate[i]),
                    account=ACCOUNTS[wf.step_account[i]],
                    transfer=TRANSFER_AMOUNTS[wf.step_transfer[i]],
                )
            )
        program[state] = steps
    return program


def states_in_use(sc: Scenario) -> list[str]:
    """The states a deal can be in, in the order a deal passes through them."""
    effects = {t.effect for t in sc.triggers}
    return [
        state
        for state, used in (
            ("revolving", sc.revolving is not None),
            ("normal", True),
            ("triggered", "switch_waterfall" in effects),
            ("accelerated", "event_of_default" in effects),
        )
        if used
    ]


# -- the classes -----------------------------------------------------------------------------


def support_ids(sc: Scenario) -> list[str]:
    """Each [[credit_support]] entry's id: its key path (`credit_support[0]`, ...)."""
    return [f"credit_support[{i}]" for i in range(len(sc.credit_support))]


def classes_table(sc: Scenario) -> pd.DataFrame:
    """One row per class, most senior first (see the module docstring for credit enhancement)."""
    tranches = sc.tranches_by_rank()
    issuance = sum(t.balance for t in tranches)
    lowest = tranches[-1].rank
    reserve_share = sc.reserve.initial_balance / issuance
    ids = support_ids(sc)
    rows = []
    for t in tranches:
        below = sum(u.balance for u in tranches if u.rank > t.rank)
        reserve = reserve_share if t.rank < lowest else 0.0
        coupon = _coupon_words(sc, t, t.rank == lowest)
        rows.append(
            {
                "tranche": t.name,
                "display_name": t.display_name,
                "rank": t.rank,
                "balance": float(t.balance),
                "share_of_issuance": t.balance / issuance,
                "coupon_type": t.coupon_type,
                "coupon": float(t.coupon) if t.coupon_type == "fixed" else float("nan"),
                "spread": float(t.spread) if t.coupon_type == "lpr" else float("nan"),
                "coupon_floor": _or_nan(t.coupon_floor),
                "coupon_cap": _or_nan(t.coupon_cap),
                "step_up_date": _iso(t.step_up_date),
                "step_up_coupon": _or_nan(t.step_up_coupon),
                "coupon_msgid": coupon.msgid,
                "coupon_params_json": _json(coupon.params),
                "subordination": below / issuance,
                "reserve": reserve,
                "credit_enhancement": below / issuance + reserve,
                "covered_by_support": ",".join(
                    i for i, s in zip(ids, sc.credit_support, strict=True) if t.name in s.covers
                ),
            }
        )
    return pd.DataFrame(rows)


def _coupon_words(sc: Scenario, t, subordinated: bool) -> Words:
    if t.coupon_type == "lpr":
        floor, cap = t.coupon_floor, t.coupon_cap
        if t.lpr_tenor == "5y":
            if floor is not None and cap is not None:
                msgid = N_("5-year LPR plus a spread of {spread}, within {floor} and {cap}")
            elif floor is not None:
                msgid = N_("5-year LPR plus a spread of {spread}, floored at {floor}")
            elif cap is not None:
                msgid = N_("5-year LPR plus a spread of {spread}, capped at {cap}")
            else:
                msgid = N_("5-year LPR plus a spread of {spread}")
        elif floor is not None and cap is not None:
            msgid = N_("1-year LPR plus a spread of {spread}, within {floor} and {cap}")
        elif floor is not None:
            msgid = N_("1-year LPR plus a spread of {spread}, floored at {floor}")
        elif cap is not None:
            msgid = N_("1-year LPR plus a spread of {spread}, capped at {cap}")
        else:
            msgid = N_("1-year LPR plus a spread of {spread}")
        params = {"spread": t.spread, "floor": floor, "cap": cap}
        return Words(msgid, {k: v for k, v in params.items() if v is not None})
    if t.step_up_date is not None:
        msgid = (
            N_("Expected yield {rate}, stepping up to {step_up} from {date}")
            if sc.kind == "trust"
            else N_("{rate} fixed, stepping up to {step_up} from {date}")
        )
        step_up = t.step_up_coupon or 0.0
        return Words(msgid, {"rate": t.coupon, "step_up": step_up, "date": _iso(t.step_up_date)})
    if subordinated and t.coupon == 0.0:
        return Words(N_("No coupon: takes the residual"), {})
    if sc.kind == "trust":
        return Words(N_("Expected yield {rate}"), {"rate": t.coupon})
    return Words(N_("{rate} fixed"), {"rate": t.coupon})


# -- the waterfall in words ------------------------------------------------------------------


def waterfall_in_words(sc: Scenario) -> list[Section]:
    """The priority of payments of each state the deal can be in, then what happens at legal
    final (and at a clean-up call or a trust's early termination). With revenue and principal
    accounts, each state's steps in runs by account (see the module docstring)."""
    program = compiled_program(sc)
    sections = []
    for state in states_in_use(sc):
        steps = [step for step in program[state] if not pays_nothing(sc, step)]
        accelerated = state == "accelerated"
        if not split_accounts(sc):
            words = tuple(step_words(sc, step, accelerated=accelerated) for step in steps)
            sections.append(Section(STATE_TITLES[state], words, state))
            continue
        for account, run in _account_runs(steps):
            title = ACCOUNT_TITLES.get((state, account), STATE_TITLES[state])
            words = tuple(step_words(sc, step, accelerated=accelerated) for step in run)
            sections.append(Section(title, words, state, account))
    title = FINAL_TITLE_TRUST if sc.kind == "trust" else FINAL_TITLE
    sections.append(Section(title, tuple(final_words(sc)), "final"))
    return sections


def split_accounts(sc: Scenario) -> bool:
    """Whether the deal keeps revenue and principal accounts (else one account)."""
    return sc.accounts.collections == "revenue_and_principal"


def _account_runs(steps: list[ProgramStep]) -> list[tuple[str, list[ProgramStep]]]:
    """Consecutive steps that pay from the same account, in program order; the residual step
    (every account's cash) joins the run before it."""
    runs: list[tuple[str, list[ProgramStep]]] = []
    for step in steps:
        if runs and (step.action == "pay_residual" or step.account == runs[-1][0]):
            runs[-1][1].append(step)
        else:
            runs.append((step.account, [step]))
    return runs


def pays_nothing(sc: Scenario, step: ProgramStep) -> bool:
    """Whether a step can never pay anything in this deal (it is left out of the words)."""
    if step.action == "pay_fee":
        return not any(_fee_accrues(sc, f) for f in step.members)
    if step.action == "pay_interest":
        by_name = {t.name: t for t in sc.tranches}
        return not any(_earns_interest(by_name[c]) for c in step.members)
    if step.action == "fund_reserve":
        return not _reserve_in_use(sc)
    if step.action == "pay_liquidity":
        return sc.liquidity is None
    return False


def step_words(sc: Scenario, step: ProgramStep, *, accelerated: bool = False) -> Words:
    """One step of the program in words; `accelerated`: every class's whole balance is due."""
    return STEP_WORDS[step.action](sc, step, accelerated)


def _fee_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    fees = [fee_words(f) for f in step.members]
    sources = cover_sources(sc, step)
    if step.members == (TAX_FEE,):  # the taxes alone (the standard order's first step)
        if sources:
            return Words(
                N_("Taxes (VAT and surcharges); a shortfall is drawn from {sources}"),
                {"sources": [COVER_WORDS[c] for c in sources]},
            )
        return Words(N_("Taxes (VAT and surcharges)"), {})
    if sources:
        return Words(
            N_("Fees: {fees}; a shortfall is drawn from {sources}"),
            {"fees": fees, "sources": [COVER_WORDS[c] for c in sources]},
        )
    return Words(N_("Fees: {fees}"), {"fees": fees})


def fee_words(name: str) -> str:
    """A fee as the words name it: a msgid for the [fees] table's two and the tax, an
    [[other_fees]] entry's own name (which translates to itself)."""
    return BUILT_IN_FEE_WORDS.get(name, name)


def cover_sources(sc: Scenario, step: ProgramStep) -> tuple[str, ...]:
    """The step's cover sources that can hold cash in this deal (the standard order names the
    reserve even in a deal without one)."""
    return tuple(c for c in step.cover if _source_exists(sc, c))


def _source_exists(sc: Scenario, source: str) -> bool:
    if source == "reserve":
        return _reserve_in_use(sc)
    if source == "liquidity":
        return sc.liquidity is not None
    if source == "principal":  # a revenue step's draw on the principal account
        return split_accounts(sc)
    return sc.kind == "trust" and sc.trust is not None and sc.trust.holdback_share > 0


#: (trust, several classes, drawn from cover sources) -> sentence
INTEREST_WORDS = {
    (False, False, False): N_("Interest on {classes}"),
    (False, True, False): N_("Interest on {classes}, pro rata"),
    (False, False, True): N_("Interest on {classes}; a shortfall is drawn from {sources}"),
    (False, True, True): N_("Interest on {classes}, pro rata; a shortfall is drawn from {sources}"),
    (True, False, False): N_("Expected yield on {classes}"),
    (True, True, False): N_("Expected yield on {classes}, pro rata"),
    (True, False, True): N_("Expected yield on {classes}; a shortfall is drawn from {sources}"),
    (True, True, True): N_(
        "Expected yield on {classes}, pro rata; a shortfall is drawn from {sources}"
    ),
}


def _interest_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    sources = cover_sources(sc, step)
    key = (sc.kind == "trust", len(step.members) > 1, bool(sources))
    params: dict[str, Any] = {"classes": list(step.members)}
    if sources:
        params["sources"] = [COVER_WORDS[c] for c in sources]
    return Words(INTEREST_WORDS[key], params)


#: principal mode -> (while principal is due as scheduled, when every balance is due)
PRINCIPAL_WORDS = {
    "sequential": (
        N_("Principal on {classes}, sequentially, until repaid"),
        N_("Principal on {classes}, whole balances due, sequentially"),
    ),
    "pro_rata": (
        N_("Principal on {classes}, pro rata to balance, until repaid"),
        N_("Principal on {classes}, pro rata to balance, until repaid"),
    ),
    "schedule": (
        N_("Scheduled principal on {classes}"),
        N_("Principal on {classes}, whole balances due, sequentially"),
    ),
    "borrowing_base": (
        N_("Principal on {classes}, in rank order, down to a borrowing base of {share} of the collateral value"),
        N_("Principal on {classes}, whole balances due, in rank order"),
    ),
    "turbo": (
        N_("All cash left to principal on {classes}, in the order listed"),
        N_("All cash left to principal on {classes}, in the order listed"),
    ),
}  # fmt: skip
#: sequential (and schedule, once all is due) steps over classes that share a rank
SHARED_RANK_WORDS = (
    N_("Principal on {classes}, sequentially by rank and pro rata within a rank, until repaid"),
    N_("Principal on {classes}, whole balances due, by rank and pro rata within a rank"),
)
SCHEDULE_MIXED_WORDS = N_(
    "Principal on {classes}, sequentially: scheduled amounts on {scheduled}, whole balances on the others"
)


def _principal_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    by_name = {t.name: t for t in sc.tranches}
    params: dict[str, Any] = {"classes": list(step.members)}
    due_in_full = int(accelerated)
    ranks = [by_name[c].rank for c in step.members]
    shared_rank = len(set(ranks)) < len(ranks)
    scheduled = [c for c in step.members if by_name[c].amortisation]
    mode = step.mode
    if mode == "sequential" and not accelerated and scheduled:
        if len(scheduled) < len(step.members):
            return Words(SCHEDULE_MIXED_WORDS, {**params, "scheduled": scheduled})
        mode = "schedule"  # every class is due its schedule
    if mode in ("sequential", "schedule") and shared_rank and (mode == "sequential" or accelerated):
        return Words(SHARED_RANK_WORDS[due_in_full], params)
    if mode == "borrowing_base" and not accelerated:
        params["share"] = step.advance_rate
    return Words(PRINCIPAL_WORDS[mode][due_in_full], params)


#: (the next period's amounts of: "classes", "fees" or "both"; a floor (a fixed target or a
#: share of the notes); a cap) -> the sentence of a formula target (reserve.target_next_period)
FORMULA_RESERVE_WORDS = {
    ("classes", False, False): N_("Top up the reserve to the next period's interest on {classes}, releasing any excess"),
    ("fees", False, False): N_("Top up the reserve to this period's amounts of {fees}, releasing any excess"),
    ("both", False, False): N_("Top up the reserve to the next period's interest on {classes} plus this period's amounts of {fees}, releasing any excess"),
    ("classes", True, False): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and the next period's interest on {classes}, releasing any excess"),
    ("fees", True, False): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and this period's amounts of {fees}, releasing any excess"),
    ("both", True, False): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and the next period's interest on {classes} plus this period's amounts of {fees}, releasing any excess"),
    ("classes", False, True): N_("Top up the reserve to the next period's interest on {classes}, capped at {ceiling}, releasing any excess"),
    ("fees", False, True): N_("Top up the reserve to this period's amounts of {fees}, capped at {ceiling}, releasing any excess"),
    ("both", False, True): N_("Top up the reserve to the next period's interest on {classes} plus this period's amounts of {fees}, capped at {ceiling}, releasing any excess"),
    ("classes", True, True): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and the next period's interest on {classes}, capped at {ceiling}, releasing any excess"),
    ("fees", True, True): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and this period's amounts of {fees}, capped at {ceiling}, releasing any excess"),
    ("both", True, True): N_("Top up the reserve to the greatest of {amount}, {share} of the notes' balance and the next period's interest on {classes} plus this period's amounts of {fees}, capped at {ceiling}, releasing any excess"),
}  # fmt: skip


def _reserve_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    r = sc.reserve
    classes, fees = _target_next_period(sc)
    floor = r.target > 0 or r.target_pct_of_notes > 0
    capped = r.target_cap is not None
    if classes or fees:  # a formula target: the next period's interest and fees
        params: dict[str, Any] = {}
        if classes:
            params["classes"] = classes
        if fees:
            params["fees"] = [fee_words(f) for f in fees]
        if floor:
            params.update(amount=r.target, share=r.target_pct_of_notes)
        if capped:
            params["ceiling"] = r.target_cap
        due = "both" if classes and fees else "classes" if classes else "fees"
        return Words(FORMULA_RESERVE_WORDS[(due, floor, capped)], params)
    if capped and floor:
        return Words(
            N_(
                "Top up the reserve to the larger of {amount} and {share} of the notes' balance, capped at {ceiling}, releasing any excess"
            ),
            {"amount": r.target, "share": r.target_pct_of_notes, "ceiling": r.target_cap},
        )
    if r.target > 0 and r.target_pct_of_notes > 0:
        return Words(
            N_(
                "Top up the reserve to the larger of {amount} and {share} of the notes' balance, releasing any excess"
            ),
            {"amount": r.target, "share": r.target_pct_of_notes},
        )
    if r.target_pct_of_notes > 0:
        return Words(
            N_("Top up the reserve to {share} of the notes' balance, releasing any excess"),
            {"share": r.target_pct_of_notes},
        )
    if r.target > 0:
        return Words(N_("Top up the reserve to {amount}"), {"amount": r.target})
    return Words(N_("Release the reserve into the cash (its target is zero)"), {})


def _liquidity_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    return Words(
        N_("Liquidity facility: its interest and commitment fee, then repayment of its draws"), {}
    )


def _residual_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    subordinated = sc.tranches_by_rank()[-1].name
    terms = sc.trust if sc.kind == "trust" else None
    if terms is not None and terms.performance_fee_share > 0:
        return Words(
            N_("Performance fee to the manager: {share} of the residual above a hurdle of {hurdle} a year on the capital of {cls}; the rest to {cls}"),
            {"share": terms.performance_fee_share, "hurdle": terms.performance_hurdle,
             "cls": subordinated},
        )  # fmt: skip
    if split_accounts(sc):  # what is left in both accounts
        return Words(N_("Residual of every account to {cls}"), {"cls": subordinated})
    return Words(N_("Residual to {cls}"), {"cls": subordinated})


#: (the account a transfer moves cash from, its amount) -> sentence
TRANSFER_WORDS = {
    ("revenue", "all"): N_("Move the revenue account's cash left to the principal account"),
    ("principal", "all"): N_("Move the principal account's cash left to the revenue account"),
    ("revenue", "principal_deficiency"): N_(
        "Make good the principal deficiency ledger: move cash from the revenue account to the principal account, up to the ledger's balance"
    ),
}


def _transfer_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    return Words(TRANSFER_WORDS[(step.account, step.transfer)], {})


def _buy_words(sc: Scenario, step: ProgramStep, accelerated: bool) -> Words:
    rv = sc.revolving
    target = (
        collateral_original(sc) if rv is None or rv.target_balance is None else rv.target_balance
    )
    if rv is not None and rv.buys == "leases":
        text = N_("Buy eligible lease receivables to restore the performing balance to {amount}")
    elif rv is not None and rv.buys == "licence_receivables":
        text = N_(
            "Buy eligible licence receivables at their discount yield to restore their carrying value to {amount}"
        )
    else:
        text = N_("Buy eligible loans to restore the performing balance to {amount}")
    return Words(text, {"amount": float(target)})


#: a sentence for every step action the engine knows (ipabs.structures.program.ACTIONS)
STEP_WORDS: dict[str, Callable[[Scenario, ProgramStep, bool], Words]] = {
    "pay_fee": _fee_words,
    "pay_interest": _interest_words,
    "pay_principal": _principal_words,
    "fund_reserve": _reserve_words,
    "pay_liquidity": _liquidity_words,
    "pay_residual": _residual_words,
    "buy_assets": _buy_words,
    "transfer": _transfer_words,
}


def final_words(sc: Scenario) -> list[Words]:
    """What happens at legal final (and at a clean-up call or a trust's early termination)."""
    due = N_("Every class's whole balance is due; the priority of payments in force pays it")
    words = [Words(due, {})]
    if _reserve_in_use(sc):
        released = (
            N_("The reserve is released into the revenue account")
            if split_accounts(sc)
            else N_("The reserve is released into the cash")
        )
        words.append(Words(released, {}))
    terms = sc.trust if sc.kind == "trust" else None
    if terms is not None and terms.holdback_share > 0:
        words.append(Words(N_("The held-back income is paid out into the cash"), {}))
    if sc.kind == "trust" and (terms is None or terms.terminal_value == "income_method"):
        words.append(
            Words(N_("The income-method value of the IP the trust still holds is distributed"), {})
        )
    call = sc.clean_up_call
    if call is not None:
        msgid = (
            N_(
                "Clean-up call: on the first payment date the collateral value is at or below {share} of its original value, the pool is sold at {price} of its value into the principal account and every class is due"
            )
            if split_accounts(sc)
            else N_(
                "Clean-up call: on the first payment date the collateral value is at or below {share} of its original value, the pool is sold at {price} of its value and every class is due"
            )
        )
        words.append(Words(msgid, {"share": call.threshold, "price": call.price}))
    if terms is not None and terms.termination_shortfall is not None:
        words.append(
            Words(
                N_(
                    "Early termination: when the priority classes' unpaid expected yield exceeds {share} of their capital, the IP is sold at its value and everything is distributed"
                ),
                {"share": terms.termination_shortfall},
            )
        )
    loss = (
        N_("Capital unpaid at the final distribution, {date}, is a loss")
        if sc.kind == "trust"
        else N_("Principal unpaid after the legal final payment date, {date}, is a loss")
    )
    words.append(Words(loss, {"date": _iso(sc.deal.legal_final_date)}))
    return words


# -- triggers --------------------------------------------------------------------------------

#: (condition, look-back of more than one period) -> sentence
CONDITION_WORDS = {
    ("cumulative_default_ratio", False): N_(
        "Cumulative defaults exceed {share} of the original collateral value"
    ),
    ("cumulative_loss_ratio", False): N_(
        "Cumulative losses exceed {share} of the original collateral value"
    ),
    ("dscr", False): N_(
        "Collections fall below {ratio} times the period's fees and the interest and scheduled principal of {classes}"
    ),
    ("dscr", True): N_(
        "Collections over the last {periods} periods fall below {ratio} times their fees and the interest and scheduled principal of {classes}"
    ),
    ("interest_coverage", False): N_(
        "Collections fall below {ratio} times the period's fees and the interest of {classes}"
    ),
    ("interest_coverage", True): N_(
        "Collections over the last {periods} periods fall below {ratio} times their fees and the interest of {classes}"
    ),
    ("oc_ratio", False): N_("The collateral value falls below {ratio} times the classes' balance"),
    ("date", False): N_("The payment date is on or after {date}"),
}
#: (breaches to trip above one, curable) -> sentence
TRIPPING_WORDS = {
    (False, False): N_("In force from the first breach, for good"),
    (True, False): N_("In force after {count} breaches (not necessarily consecutive), for good"),
    (False, True): N_("In force while breached; cured when the test passes again"),
    (True, True): N_("In force after {count} consecutive breaches; cured when the test passes again"),
}  # fmt: skip
EFFECT_WORDS = {
    "switch_waterfall": N_("Switch to the priority of payments after a trigger event"),
    "trap_cash": N_("Trap {share} of the cash left at the reserve step in the reserve"),
    "rapid_amortisation": N_(
        "Rapid amortisation: every principal step treats its classes' whole balances as due"
    ),
    "event_of_default": N_(
        "Event of default: the priority of payments after an event of default; every class's whole balance is due"
    ),
}


def triggers_table(sc: Scenario) -> pd.DataFrame:
    """One row per trigger, in the scenario's order, with its condition, how it comes into
    force and its effect in words."""
    rows = []
    for t in sc.triggers:
        coverage = t.condition in ("dscr", "interest_coverage")
        condition_params: dict[str, Any] = {}
        if t.condition in ("cumulative_default_ratio", "cumulative_loss_ratio"):
            condition_params["share"] = t.threshold
        elif t.condition == "oc_ratio":
            condition_params["ratio"] = t.threshold
        elif t.condition == "date":
            condition_params["date"] = _iso(t.date)
        else:
            condition_params["ratio"] = t.threshold
            condition_params["classes"] = list(t.classes) or _debt_service_classes(sc, t)
            if t.lookback_periods > 1:
                condition_params["periods"] = t.lookback_periods
        several = t.breaches_to_trip > 1
        rows.append(
            {
                "name": t.name,
                "condition": t.condition,
                "threshold": _or_nan(t.threshold),
                "date": _iso(t.date),
                "lookback_periods": t.lookback_periods if coverage else 1,
                "breaches_to_trip": t.breaches_to_trip,
                "curable": bool(t.curable),
                "effect": t.effect,
                "trap_share": t.trap_share if t.effect == "trap_cash" else float("nan"),
                "ends_revolving_period": sc.revolving is not None and t.effect != "trap_cash",
                "condition_msgid": CONDITION_WORDS[
                    (t.condition, coverage and t.lookback_periods > 1)
                ],
                "condition_params_json": _json(condition_params),
                "tripping_msgid": TRIPPING_WORDS[(several, bool(t.curable))],
                "tripping_params_json": _json({"count": t.breaches_to_trip} if several else {}),
                "effect_msgid": EFFECT_WORDS[t.effect],
                "effect_params_json": _json(
                    {"share": t.trap_share} if t.effect == "trap_cash" else {}
                ),
            }
        )
    return pd.DataFrame(rows, columns=TRIGGER_COLUMNS)


TRIGGER_COLUMNS = [
    "name", "condition", "threshold", "date", "lookback_periods", "breaches_to_trip", "curable",
    "effect", "trap_share", "ends_revolving_period", "condition_msgid", "condition_params_json",
    "tripping_msgid", "tripping_params_json", "effect_msgid", "effect_params_json",
]  # fmt: skip

# -- fees and taxes --------------------------------------------------------------------------

#: the [tax] table's base -> its terms (VAT separated from a price that includes it, plus the
#: surcharges on the VAT: `effective` of the base, ipabs.structures.program.tax_rate)
TAX_WORDS = {
    "income": N_("VAT at {rate}, included in the price, and surcharges of {share} of the VAT: {effective} of each period's income (interest and licence income; principal is not taxed)"),
    "collections": N_("VAT at {rate}, included in the price, and surcharges of {share} of the VAT: {effective} of each period's collections"),
}  # fmt: skip
#: a fee's terms, one part each: part -> (sentence, the parameter its value fills)
FEE_PART_WORDS = {
    "fixed": (N_("{amount} a year"), "amount"),
    "pct_of_notes": (N_("{rate} a year of the notes' balance"), "rate"),
    "pct_of_pool": (N_("{rate} a year of the collateral value"), "rate"),
    "pct_of_income": (N_("{share} of each period's income (interest and licence income)"), "share"),
    "pct_of_collections": (N_("{share} of each period's collections"), "share"),
    "pct_of_class_payments": (N_("{share} of the interest and principal paid to the classes"), "share"),
    "cap": (N_("capped at {amount} a year"), "amount"),
    "floor": (N_("at least {amount} a year"), "amount"),
}  # fmt: skip
ONE_OFF_WORDS = N_("a one-off {amount} on {date}")
WAIVED_WORDS = N_("what a period's cash does not pay is waived, not carried")
FEE_COLUMNS = [
    "fee", "name_msgid", "part", "terms_msgid", "terms_params_json", "covered_by_support",
]  # fmt: skip


def fees_table(sc: Scenario) -> pd.DataFrame:
    """The fees and the tax (税费) that accrue, in the waterfall's fee order
    (`Scenario.fee_names`), each as one row per part of its terms, in this order: the tax's
    rates and base; the periodic amount's bases (fixed, notes, pool, income, collections, the
    classes' payments); its cap and floor per year; a one-off amount and the payment date it is
    due; waived rather than carried. `name_msgid` is the fee as the words name it (a named fee's
    own name), `covered_by_support` the comma-joined ids of the credit support that covers it
    (`covers_fees`). A fee reads as its parts' sentences, translated, joined in one line."""
    ids = support_ids(sc)
    rows = []
    for name in sc.fee_names():
        if not _fee_accrues(sc, name):
            continue
        covered = ",".join(
            i for i, s in zip(ids, sc.credit_support, strict=True) if name in s.covers_fees
        )
        for part, words in _fee_terms(sc, name):
            rows.append(
                {
                    "fee": name,
                    "name_msgid": fee_words(name),
                    "part": part,
                    "terms_msgid": words.msgid,
                    "terms_params_json": _json(words.params),
                    "covered_by_support": covered,
                }
            )
    return pd.DataFrame(rows, columns=FEE_COLUMNS)


def _fee_terms(sc: Scenario, name: str) -> list[tuple[str, Words]]:
    if name == TAX_FEE:
        t = sc.tax
        params = {"rate": t.vat_rate, "share": t.surcharge_rate, "effective": tax_rate(sc)}
        return [("tax", Words(TAX_WORDS[t.base], params))]
    if name == "senior":
        f = sc.fees
        values = {
            "fixed": f.fixed_per_year,
            "pct_of_notes": f.pct_of_notes_per_year,
            "cap": f.cap_per_year,
        }
        one_off, waived = 0.0, False
    elif name == "subordinated":
        values = {"fixed": sc.fees.subordinated_per_year}
        one_off, waived = 0.0, False
    else:
        f = next(f for f in sc.other_fees if f.name == name)
        values = {
            "fixed": f.fixed_per_year,
            "pct_of_notes": f.pct_of_notes_per_year,
            "pct_of_pool": f.pct_of_pool_per_year,
            "pct_of_income": f.pct_of_income,
            "pct_of_collections": f.pct_of_collections,
            "pct_of_class_payments": f.pct_of_class_payments,
            "cap": f.cap_per_year,
            "floor": f.floor_per_year,
        }
        one_off, waived = f.one_off, not f.carry_unpaid
    periodic = any(values.get(k, 0) for k in FEE_PART_WORDS if k not in ("cap", "floor"))
    terms = []
    for part, (msgid, param) in FEE_PART_WORDS.items():
        value = values.get(part)
        if not value or (part == "cap" and not periodic):  # a cap on nothing
            continue
        terms.append((part, Words(msgid, {param: value})))
    if one_off > 0:
        dates = list(time_grid(sc.deal).dates)
        due = first_period_on_or_after(dates, f.one_off_date or sc.deal.closing_date)
        date = dates[min(due, len(dates) - 1)]
        terms.append(("one_off", Words(ONE_OFF_WORDS, {"amount": one_off, "date": _iso(date)})))
    if waived:
        terms.append(("waived", Words(WAIVED_WORDS, {})))
    return terms


# -- credit support --------------------------------------------------------------------------

KIND_WORDS = {
    "differential_payment": N_("Differential payment undertaking"),
    "guarantee": N_("Financial guarantee"),
    "loss_guarantee": N_("Loan loss guarantee"),
    "risk_compensation_fund": N_("Risk-compensation fund"),
    "insurance": N_("Credit insurance"),
    "re_guarantee": N_("Re-guarantee (再担保)"),
    "reserve": N_("Cash reserve"),
    "liquidity_facility": N_("Liquidity facility"),
    "holdback": N_("Income holdback"),
    "revenue_account": N_("Revenue account"),
    "principal_account": N_("Principal account"),
    "principal_deficiency_ledger": N_("Principal deficiency ledger"),
}
SUPPORT_COLUMNS = [
    "id", "kind", "level", "kind_msgid", "provider", "covers", "cap",
    "provider_default_probability", "terms_msgid", "terms_params_json",
]  # fmt: skip


def credit_support_table(sc: Scenario) -> pd.DataFrame:
    """Every source of support, one row each: the classes' credit support (level "classes":
    tops up the covered classes' shortfalls, and the covered fees' and taxes'), the loans'
    loss-sharing layers (level "loans": shares each defaulted loan's loss) and the deal's
    accounts (level "cash": with revenue and principal accounts those two and the principal
    deficiency ledger, then the reserve, the liquidity facility, a trust's holdback). `covers`
    are comma-joined class ids (for the cash accounts, the classes whose interest a step draws
    them for; the fees a support covers are in its terms and in `fees_table`), `cap` the most it
    pays (NaN: no cap; per loan for loss-sharing layers; the limit of the facility),
    `provider_default_probability` annual (NaN: no provider that can default)."""
    rows = []
    for i, s in enumerate(sc.credit_support):
        rows.append(
            _support_row(
                f"credit_support[{i}]", s.kind, "classes", s.provider, ",".join(s.covers),
                s.cap, s.provider_default_probability, _support_words(sc, s),
            )
        )  # fmt: skip
    for i, layer in enumerate(sc.loss_sharing):
        rows.append(_loss_sharing_row(sc, f"loss_sharing[{i}]", layer))
    rows += _account_rows(sc)
    return pd.DataFrame(rows, columns=SUPPORT_COLUMNS)


#: (covers fees, scheduled principal too) -> terms of a class-level support (it covers at least
#: one class)
SUPPORT_WORDS = {
    (False, False): N_("Tops up the interest shortfalls of {classes} each period and their principal unpaid at legal final, until the provider defaults"),
    (False, True): N_("Tops up the interest and scheduled principal shortfalls of {classes}, and their principal unpaid at legal final, until the provider defaults"),
    (True, False): N_("Tops up the shortfalls of {fees} and the interest shortfalls of {classes} each period, and their principal unpaid at legal final, until the provider defaults"),
    (True, True): N_("Tops up the shortfalls of {fees}, the interest and scheduled principal shortfalls of {classes}, and their principal unpaid at legal final, until the provider defaults"),
}  # fmt: skip
FEES_ONLY_SUPPORT_WORDS = N_(
    "Tops up the shortfalls of {fees} each period, until the provider defaults"
)


def _support_words(sc: Scenario, support) -> Words:
    """A class-level support's terms: the classes it covers and the fees, the tax among them
    (`covers_fees`), as listed."""
    params: dict[str, Any] = {"classes": list(support.covers)}
    fees = list(support.covers_fees)
    if fees:
        params["fees"] = [fee_words(f) for f in fees]
    if not support.covers:  # fees only
        return Words(FEES_ONLY_SUPPORT_WORDS, {"fees": params["fees"]})
    return Words(SUPPORT_WORDS[(bool(fees), support.principal != "ultimate")], params)


def _loss_sharing_row(sc: Scenario, key: str, layer) -> dict[str, Any]:
    if layer.kind == "re_guarantee":
        words = Words(
            N_(
                "Bears {share} of what guarantee {guarantee} owes on each loan: reimburses the guarantor, or pays the lender after the guarantor defaults"
            ),
            {"share": layer.share, "guarantee": layer.guarantee},
        )
        return _support_row(
            key, layer.kind, "loans", layer.name, "", layer.per_loan_cap, None, words
        )
    loss = [LOSS_WORDS[(layer.share_of, getattr(layer, "basis", "exposure"))]]
    if layer.kind == "guarantee":
        words = Words(
            N_("Pays {share} of each defaulted loan's {loss}, until the guarantor defaults"),
            {"share": layer.share, "loss": loss},
        )
        return _support_row(
            key, "loss_guarantee", "loans", layer.name, "", layer.per_loan_cap,
            layer.guarantor_default_probability, words,
        )  # fmt: skip
    if layer.kind == "risk_compensation_fund":
        if layer.annual_budget is None:
            words = Words(
                N_("Reimburses {share} of each defaulted loan's {loss}"),
                {"share": layer.share, "loss": loss},
            )
        else:
            words = Words(
                N_(
                    "Reimburses {share} of each defaulted loan's {loss}, at most {amount} a year across the pool"
                ),
                {"share": layer.share, "amount": layer.annual_budget, "loss": loss},
            )
        return _support_row(
            key, layer.kind, "loans", layer.name, "", layer.per_loan_cap, None, words
        )
    after_ip_lost = layer.covered_events[0] == "default_after_ip_lost"
    params = {"share": layer.share, "amount": layer.deductible}
    if layer.covered_from is not None or layer.covered_until is not None:
        params["start"] = _iso(layer.covered_from or sc.deal.closing_date)
        params["end"] = _iso(layer.covered_until or sc.deal.legal_final_date)
        msgid = (
            N_(
                "Insures {share} of the loss above a deductible of {amount} on loans that default after their pledged IP is invalidated or lapses, from {start} to {end}"
            )
            if after_ip_lost
            else N_(
                "Insures {share} of each defaulted loan's loss above a deductible of {amount}, from {start} to {end}"
            )
        )
    else:
        msgid = (
            N_(
                "Insures {share} of the loss above a deductible of {amount} on loans that default after their pledged IP is invalidated or lapses"
            )
            if after_ip_lost
            else N_("Insures {share} of each defaulted loan's loss above a deductible of {amount}")
        )
    default_probability = layer.insurer_default_probability or None
    return _support_row(
        key, "insurance", "loans", layer.name, "", layer.limit, default_probability,
        Words(msgid, params),
    )  # fmt: skip


def _account_rows(sc: Scenario) -> list[dict[str, Any]]:
    program = compiled_program(sc)
    drawn_for = {
        source: _classes_drawing_on(sc, program, source) for source in ("reserve", "liquidity")
    }
    rows = _split_account_rows(sc, program) if split_accounts(sc) else []
    if _has_reserve(sc):
        drawn = _drawn(sc, program, "reserve")
        if split_accounts(sc):  # released into the revenue account
            msgid = (
                N_(
                    "Funded at closing with {amount}; drawn for fee and interest shortfalls where a step names it; released into the revenue account at legal final"
                )
                if drawn
                else N_(
                    "Funded at closing with {amount}; released into the revenue account at legal final"
                )
            )
        else:
            msgid = (
                N_(
                    "Funded at closing with {amount}; drawn for fee and interest shortfalls where a step names it; released into the cash at legal final"
                )
                if drawn
                else N_("Funded at closing with {amount}; released into the cash at legal final")
            )
        rows.append(
            _support_row(
                "reserve", "reserve", "cash", None, ",".join(drawn_for["reserve"]), None, None,
                Words(msgid, {"amount": sc.reserve.initial_balance}),
            )
        )  # fmt: skip
    if sc.liquidity is not None:
        f = sc.liquidity
        words = Words(
            N_(
                "Lends up to {amount} for fee and interest shortfalls where a step names it, at {rate} a year on draws and a commitment fee of {commitment_fee} a year on the undrawn limit"
            ),
            {"amount": f.limit, "rate": f.interest_rate, "commitment_fee": f.commitment_fee},
        )
        rows.append(
            _support_row(
                "liquidity", "liquidity_facility", "cash", None, ",".join(drawn_for["liquidity"]),
                f.limit, None, words,
            )
        )  # fmt: skip
    terms = sc.trust if sc.kind == "trust" else None
    if terms is not None and terms.holdback_share > 0:
        words = Words(
            N_("Holds back {share} of each period's collections until the final distribution"),
            {"share": terms.holdback_share},
        )
        covered = _classes_drawing_on(sc, program, "holdback")
        rows.append(
            _support_row(
                "trust.holdback_share", "holdback", "cash", None, ",".join(covered), None, None,
                words,
            )
        )  # fmt: skip
    return rows


def _split_account_rows(sc: Scenario, program: dict[str, list[ProgramStep]]) -> list[dict]:
    """The revenue account, the principal account (with the classes whose interest a revenue
    step draws it for) and the principal deficiency ledger."""
    to_revenue = sc.accounts.recoveries == "revenue"
    if not sc.has_claims():
        revenue = N_("Receives each period's collections (licence income)")
    elif to_revenue:
        revenue = N_(
            "Receives the interest in each period's collections, and all the recoveries and loss-sharing payments on defaulted loans"
        )
    else:
        revenue = N_(
            "Receives the interest in each period's collections, and what the recoveries and loss-sharing payments on defaulted loans bring beyond the principal deficiency ledger (interest recovered)"
        )
    #: (recoveries to revenue, a clean-up call) -> the principal account's terms
    principal = {
        (True, True): N_("Receives the principal in each period's collections (scheduled, prepaid and repaid at maturity) and a clean-up call's proceeds"),
        (True, False): N_("Receives the principal in each period's collections (scheduled, prepaid and repaid at maturity)"),
        (False, True): N_("Receives the principal in each period's collections (scheduled, prepaid and repaid at maturity), the recoveries and loss-sharing payments on defaulted loans up to the principal deficiency ledger, and a clean-up call's proceeds"),
        (False, False): N_("Receives the principal in each period's collections (scheduled, prepaid and repaid at maturity) and the recoveries and loss-sharing payments on defaulted loans up to the principal deficiency ledger"),
    }[(to_revenue, sc.clean_up_call is not None)]  # fmt: skip
    cured = any(
        step.action == "transfer" and step.transfer == "principal_deficiency"
        for steps in program.values()
        for step in steps
    )
    #: (recoveries to revenue, cured by a transfer) -> the ledger's terms
    ledger = {
        (False, True): N_("Records the principal balance of each loan as it defaults, less the recoveries the principal account receives, and the principal that revenue steps draw or transfers move to revenue; made good from the revenue account by the principal deficiency transfer"),
        (False, False): N_("Records the principal balance of each loan as it defaults, less the recoveries the principal account receives, and the principal that revenue steps draw or transfers move to revenue; no step makes it good"),
        (True, True): N_("Records the principal balance of each loan as it defaults, and the principal that revenue steps draw or transfers move to revenue; made good from the revenue account by the principal deficiency transfer"),
        (True, False): N_("Records the principal balance of each loan as it defaults, and the principal that revenue steps draw or transfers move to revenue; no step makes it good"),
    }[(to_revenue, cured)]  # fmt: skip
    covered = ",".join(_classes_drawing_on(sc, program, "principal"))
    return [
        _support_row("revenue_account", "revenue_account", "cash", None, "", None, None, Words(revenue, {})),
        _support_row("principal_account", "principal_account", "cash", None, covered, None, None, Words(principal, {})),
        _support_row("principal_deficiency_ledger", "principal_deficiency_ledger", "cash", None, "", None, None, Words(ledger, {})),
    ]  # fmt: skip


def _drawn(sc: Scenario, program: dict[str, list[ProgramStep]], source: str) -> bool:
    """Whether a step that can pay something draws on `source`, in any state."""
    return any(
        source in step.cover and not pays_nothing(sc, step)
        for steps in program.values()
        for step in steps
    )


def _classes_drawing_on(
    sc: Scenario, program: dict[str, list[ProgramStep]], source: str
) -> list[str]:
    """The classes whose interest a step draws `source` for, in any state, by rank."""
    named = {
        c
        for steps in program.values()
        for step in steps
        if step.action == "pay_interest" and source in step.cover
        for c in step.members
    }
    return [t.name for t in sc.tranches_by_rank() if t.name in named and _earns_interest(t)]


def _support_row(
    key: str,
    kind: str,
    level: str,
    provider: str | None,
    covers: str,
    cap: float | None,
    default_probability: float | None,
    words: Words,
) -> dict[str, Any]:
    return {
        "id": key,
        "kind": kind,
        "level": level,
        "kind_msgid": KIND_WORDS[kind],
        "provider": provider,
        "covers": covers,
        "cap": _or_nan(cap),
        "provider_default_probability": _or_nan(default_probability),
        "terms_msgid": words.msgid,
        "terms_params_json": _json(words.params),
    }


# -- helpers ---------------------------------------------------------------------------------


def _fee_accrues(sc: Scenario, name: str) -> bool:
    if name == "senior":
        return sc.fees.fixed_per_year > 0 or sc.fees.pct_of_notes_per_year > 0
    if name == "subordinated":
        return sc.fees.subordinated_per_year > 0
    if name == TAX_FEE:
        return sc.tax is not None and tax_rate(sc) > 0
    fee = next(f for f in sc.other_fees if f.name == name)
    return any(
        value > 0
        for value in (
            fee.fixed_per_year, fee.pct_of_notes_per_year, fee.pct_of_pool_per_year,
            fee.pct_of_income, fee.pct_of_collections, fee.pct_of_class_payments,
            fee.floor_per_year, fee.one_off,
        )
    )  # fmt: skip


def _earns_interest(t) -> bool:
    return t.coupon_type == "lpr" or t.coupon > 0 or bool(t.step_up_coupon)


def _debt_service_classes(sc: Scenario, trigger) -> list[str]:
    """A coverage test without `classes` counts every class: those whose debt service it adds
    (interest; for dscr also scheduled principal), or every class if none has any."""
    tranches = sc.tranches_by_rank()
    counted = [
        t.name
        for t in tranches
        if _earns_interest(t) or (trigger.condition == "dscr" and t.amortisation)
    ]
    return counted or [t.name for t in tranches]


def _has_reserve(sc: Scenario) -> bool:
    r = sc.reserve
    return (
        r.initial_balance > 0
        or r.target > 0
        or r.target_pct_of_notes > 0
        or any(_target_next_period(sc))
    )


def _target_next_period(sc: Scenario) -> tuple[list[str], list[str]]:
    """The classes (by rank) and fees (as listed) of the reserve's formula target that can add to
    it (a class without a coupon, a fee that accrues nothing add nothing)."""
    r = sc.reserve
    classes = [
        t.name
        for t in sc.tranches_by_rank()
        if t.name in r.target_next_period and _earns_interest(t)
    ]
    fees = [f for f in r.target_next_period_fees if _fee_accrues(sc, f)]
    return classes, fees


def _reserve_in_use(sc: Scenario) -> bool:
    """Whether the reserve can hold cash: it is funded or has a target, or a cash trap fills it."""
    return _has_reserve(sc) or any(t.effect == "trap_cash" for t in sc.triggers)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _json(params: dict[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True)


__all__ = [
    "PARAM_KINDS",
    "Section",
    "Words",
    "classes_table",
    "credit_support_table",
    "fees_table",
    "triggers_table",
    "waterfall_in_words",
]
