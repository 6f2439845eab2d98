"""Consistency of the deal's structure: waterfall steps, named fees, triggers, the liquidity
facility, the collateral measure and the clean-up call (rules in docs/scenario-format.md)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from ipabs.errors import Problem
from ipabs.scenario.base import Names
from ipabs.scenario.structure import BUILT_IN_FEES, RESERVED_SCALE_NAMES, TAX_FEE

RATIO_CONDITIONS = ("cumulative_default_ratio", "cumulative_loss_ratio", "oc_ratio")


def check_structure(sc, unknown_reference, duplicates_of) -> Iterable[Problem]:
    """`unknown_reference(path, value, known, what)` and `duplicates_of(table, values, key)` are
    the loader's helpers (did-you-mean and duplicate messages)."""
    yield from duplicates_of("other_fees", [f.name for f in sc.other_fees], "name")
    for i, fee in enumerate(sc.other_fees):
        if fee.name in (*BUILT_IN_FEES, TAX_FEE):
            yield Problem(
                f"other_fees[{i}].name",
                "reserved: senior and subordinated name the [fees] table's fees, tax the [tax] table's",
                fee.name,
                True,
            )
        if fee.one_off_date is not None and not (
            sc.deal.closing_date <= fee.one_off_date <= sc.deal.legal_final_date
        ):
            yield Problem(
                f"other_fees[{i}].one_off_date",
                f"must fall between closing ({sc.deal.closing_date}) and legal final ({sc.deal.legal_final_date})",
                fee.one_off_date,
                True,
            )
        if fee.one_off_date is not None and fee.one_off == 0:
            yield Problem(f"other_fees[{i}].one_off_date", "goes with a one_off amount")
        if fee.cap_per_year is not None and fee.cap_per_year < fee.floor_per_year:
            yield Problem(
                f"other_fees[{i}].cap_per_year",
                f"is below floor_per_year ({fee.floor_per_year})",
                fee.cap_per_year,
                True,
            )
        if fee.pct_of_pool_per_year > 0 and sc.collateral is None:
            yield Problem(
                f"other_fees[{i}].pct_of_pool_per_year",
                "a fee on the pool needs a [collateral] table that values the pool",
                fee.pct_of_pool_per_year,
                True,
            )
    fee_names = Names(sc.fee_names())  # names looked up in a set: linear in the references
    class_names = Names(t.name for t in sc.tranches)
    yield from _check_accounts(sc)
    for j, name in enumerate(sc.reserve.target_next_period):
        if name not in class_names:
            yield unknown_reference(
                f"reserve.target_next_period[{j}]", name, class_names, "tranche"
            )
    for j, name in enumerate(sc.reserve.target_next_period_fees):
        if name not in fee_names:
            yield unknown_reference(f"reserve.target_next_period_fees[{j}]", name, fee_names, "fee")

    if sc.waterfall is not None:
        for state in ("normal", "triggered", "accelerated", "revolving"):
            steps = getattr(sc.waterfall, state)
            for j, step in enumerate(steps or ()):
                yield from _check_step(
                    sc, f"waterfall.{state}[{j}]", step, fee_names, class_names, unknown_reference
                )
                if step.action == "buy_assets" and state != "revolving":
                    yield Problem(
                        f"waterfall.{state}[{j}].action",
                        "buy_assets belongs in the waterfall.revolving list",
                        step.action,
                        True,
                    )
                if step.action == "pay_residual" and j < len(steps) - 1:
                    yield Problem(
                        f"waterfall.{state}[{j}].action",
                        "pay_residual takes all cash left, so it must be the last step",
                        step.action,
                        True,
                    )
            if steps and steps[-1].action != "pay_residual":
                yield Problem(
                    f"waterfall.{state}",
                    "must end with a pay_residual step (the subordinated class takes what is left)",
                )
    yield from _check_fees_paid(sc)
    if sc.liquidity is not None and not any(
        "liquidity" in step.cover_from
        for state in ("normal", "triggered", "accelerated", "revolving")
        for step in (getattr(sc.waterfall, state) or () if sc.waterfall else ())
    ):
        yield Problem(
            "liquidity",
            'the facility is never drawn: give a [waterfall] whose steps draw on it (cover_from = ["liquidity"]) and repay it (pay_liquidity)',
        )

    yield from duplicates_of("triggers", [t.name for t in sc.triggers], "name")
    for i, trig in enumerate(sc.triggers):
        where = f'triggers[{i}] (name = "{trig.name}")'
        if trig.condition == "date":
            if trig.date is None:
                yield Problem(f"{where}.date", "required key is missing: a date trigger needs it")
        else:
            if trig.threshold is None:
                yield Problem(
                    f"{where}.threshold",
                    f"required key is missing: a {trig.condition} trigger needs a level",
                )
            if trig.date is not None:
                yield Problem(f"{where}.date", "only a date trigger takes a date", trig.date, True)
        for j, name in enumerate(trig.classes):
            if name not in class_names:
                yield unknown_reference(f"{where}.classes[{j}]", name, class_names, "tranche")
        if trig.classes and trig.condition not in ("dscr", "interest_coverage"):
            yield Problem(f"{where}.classes", "only dscr and interest_coverage count classes")
        if trig.condition in RATIO_CONDITIONS and sc.collateral is None:
            yield Problem(
                f"{where}.condition",
                "needs a [collateral] table that values the pool",
                trig.condition,
                True,
            )
        if trig.effect == "event_of_default" and trig.curable:
            yield Problem(
                f"{where}.curable", "an event of default cannot be cured", trig.curable, True
            )
        if trig.effect == "switch_waterfall" and (
            sc.waterfall is None or sc.waterfall.triggered is None
        ):
            yield Problem(
                f"{where}.effect",
                "switch_waterfall needs a waterfall.triggered list to switch to",
                trig.effect,
                True,
            )

    c = sc.collateral
    if c is not None:
        if c.basis == "trailing_income":
            for key in ("multiple", "original_value"):
                if getattr(c, key) is None:
                    yield Problem(
                        f"collateral.{key}",
                        "required key is missing: trailing_income values the pool at a multiple of its income",
                    )
        elif not sc.has_claims() and not _buys_licence_receivables(sc):
            yield Problem(
                "collateral.basis",
                "loan_balance needs [[loans]] in the pool (or [[leases]], [[receivables]], or a revolving period that buys licence receivables)",
                c.basis,
                True,
            )
        elif c.multiple is not None:
            yield Problem(
                "collateral.multiple", "only trailing_income takes a multiple", c.multiple, True
            )
    yield from _check_revolving(sc)
    yield from _check_ratings(sc.ratings)
    yield from _check_transfer(sc)
    yield from _check_pricing(sc.pricing)
    for i, entry in enumerate(sc.pricing.class_spreads):
        if entry.tranche not in class_names:
            yield unknown_reference(
                f"pricing.class_spreads[{i}].tranche", entry.tranche, class_names, "tranche"
            )
    yield from duplicates_of(
        "pricing.class_spreads", [c.tranche for c in sc.pricing.class_spreads], "tranche"
    )
    if sc.trust is not None and sc.kind != "trust":
        yield Problem("trust", 'only a trust has trust terms: set kind = "trust"')
    if sc.clean_up_call is not None and c is None:
        yield Problem(
            "clean_up_call", "needs a [collateral] table: the call compares the pool's value"
        )


def _check_step(sc, where, step, fee_names, class_names, unknown_reference) -> Iterable[Problem]:
    action = step.action
    if action == "pay_fee":
        if not step.fees:
            yield Problem(f"{where}.fees", "required key is missing: name the fees it pays")
        for j, name in enumerate(step.fees):
            if name not in fee_names:
                yield unknown_reference(f"{where}.fees[{j}]", name, fee_names, "fee")
    elif step.fees:
        yield Problem(f"{where}.fees", f"only a pay_fee step names fees, not {action}")
    if action in ("pay_interest", "pay_principal"):
        if not step.classes:
            yield Problem(f"{where}.classes", "required key is missing: name the classes it pays")
        for j, name in enumerate(step.classes):
            if name not in class_names:
                yield unknown_reference(f"{where}.classes[{j}]", name, class_names, "tranche")
        if len(set(step.classes)) < len(step.classes):
            yield Problem(f"{where}.classes", "a class is listed twice", list(step.classes), True)
    elif step.classes:
        yield Problem(f"{where}.classes", "only pay_interest and pay_principal name classes")
    if action != "pay_principal" and step.mode != "sequential":
        yield Problem(f"{where}.mode", "only a pay_principal step has a mode", step.mode, True)
    if (step.mode == "borrowing_base") != (step.advance_rate is not None):
        yield Problem(
            f"{where}.advance_rate", 'goes with mode = "borrowing_base" (and only with it)'
        )
    if step.mode == "borrowing_base" and sc.collateral is None:
        yield Problem(
            f"{where}.mode",
            "a borrowing base needs a [collateral] table that values the pool",
            step.mode,
            True,
        )
    if step.cover_from:
        if action not in ("pay_fee", "pay_interest"):
            yield Problem(f"{where}.cover_from", "only pay_fee and pay_interest steps draw cover")
        if len(set(step.cover_from)) < len(step.cover_from):
            yield Problem(f"{where}.cover_from", "a source is listed twice")
        if "holdback" in step.cover_from and (sc.trust is None or sc.trust.holdback_share == 0):
            yield Problem(
                f"{where}.cover_from",
                "draws on a trust's holdback, but [trust] holdback_share is not given",
            )
        if "liquidity" in step.cover_from and sc.liquidity is None:
            yield Problem(
                f"{where}.cover_from", "draws on a liquidity facility, but [liquidity] is not given"
            )
    if action == "pay_liquidity" and sc.liquidity is None:
        yield Problem(f"{where}.action", "there is no [liquidity] facility to pay", action, True)
    split = sc.accounts.collections == "revenue_and_principal"
    if not split:
        for key, default in (("account", "revenue"), ("amount", "all")):
            if getattr(step, key) != default:
                yield Problem(
                    f"{where}.{key}",
                    'needs [accounts] collections = "revenue_and_principal" (one account otherwise)',
                    getattr(step, key),
                    True,
                )
        if action == "transfer":
            yield Problem(
                f"{where}.action",
                'a transfer moves cash between accounts: set [accounts] collections = "revenue_and_principal"',
                action,
                True,
            )
        if "principal" in step.cover_from:
            yield Problem(
                f"{where}.cover_from",
                'draws on the principal account: set [accounts] collections = "revenue_and_principal"',
            )
        return
    if action != "transfer" and step.amount != "all":
        yield Problem(f"{where}.amount", "only a transfer step has an amount", step.amount, True)
    if step.amount == "principal_deficiency" and step.account != "revenue":
        yield Problem(
            f"{where}.account",
            "principal_deficiency cures the ledger from the revenue account: a transfer from revenue",
            step.account,
            True,
        )
    if "principal" in step.cover_from and step.account != "revenue":
        yield Problem(
            f"{where}.cover_from",
            "only a revenue-account step draws on the principal account",
        )


def _check_fees_paid(sc) -> Iterable[Problem]:
    """A declared tax is paid in every list of steps, and every named fee by some step: a fee no
    step names accrues and is never paid, which would silently raise what the classes get."""
    if sc.waterfall is None:  # the standard order pays the [fees] table's fees and the tax
        for i, fee in enumerate(sc.other_fees):
            yield Problem(
                f"other_fees[{i}].name",
                "the standard order pays only the [fees] table's fees and the tax: give a [waterfall] with a pay_fee step for this fee",
                fee.name,
                True,
            )
        return
    lists = {
        state: steps
        for state in ("normal", "triggered", "accelerated", "revolving")
        if (steps := getattr(sc.waterfall, state))
    }
    named = {state: {f for step in steps for f in step.fees} for state, steps in lists.items()}
    if sc.tax is not None:
        for state, fees in named.items():
            if TAX_FEE not in fees:
                yield Problem(
                    f"waterfall.{state}",
                    'no pay_fee step pays the [tax] table\'s tax: add { action = "pay_fee", fees = ["tax"] } (税费 come first in a Chinese waterfall)',
                )
    everywhere = set().union(*named.values())
    for i, fee in enumerate(sc.other_fees):
        if fee.name not in everywhere:
            yield Problem(
                f"other_fees[{i}].name",
                "no pay_fee step of the [waterfall] pays this fee, so it would never be paid: name it in a pay_fee step",
                fee.name,
                True,
            )


def _check_accounts(sc) -> Iterable[Problem]:
    if sc.revolving is not None:  # bought loans' cash is not split into principal and interest
        why = 'the income of loans bought in a revolving period is not told apart from their principal yet (docs/model.md, section 8): use base = "collections" or a fee on collections'
        if sc.tax is not None and sc.tax.base == "income":
            yield Problem("tax.base", why, sc.tax.base, True)
        for i, fee in enumerate(sc.other_fees):
            if fee.pct_of_income > 0:
                yield Problem(f"other_fees[{i}].pct_of_income", why, fee.pct_of_income, True)
    if sc.accounts.collections == "single":
        if sc.accounts.recoveries != "principal":
            yield Problem(
                "accounts.recoveries",
                'routes recoveries between accounts: needs collections = "revenue_and_principal"',
                sc.accounts.recoveries,
                True,
            )
        return
    if sc.waterfall is None:
        yield Problem(
            "waterfall",
            'required key is missing: with [accounts] collections = "revenue_and_principal" give the priority of payments, saying which steps pay from the principal account (the standard order pays everything from one account)',
        )
    if sc.revolving is not None:
        yield Problem(
            "accounts.collections",
            "separate revenue and principal accounts with a revolving period are not modelled yet (docs/model.md, section 8)",
            sc.accounts.collections,
            True,
        )
    if sc.kind == "trust":
        yield Problem(
            "accounts.collections",
            "an IP trust distributes from one account of income",
            sc.accounts.collections,
            True,
        )


def _buys_licence_receivables(sc) -> bool:
    return sc.revolving is not None and sc.revolving.buys == "licence_receivables"


def _check_revolving(sc) -> Iterable[Problem]:
    rv = sc.revolving
    listed = sc.waterfall is not None and sc.waterfall.revolving is not None
    if rv is None:
        if listed:
            yield Problem("waterfall.revolving", "there is no [revolving] period to use it")
        return
    if not listed:
        yield Problem(
            "waterfall.revolving",
            "required key is missing: [revolving] needs the revolving period's steps, with a buy_assets step",
        )
    elif not any(step.action == "buy_assets" for step in sc.waterfall.revolving):
        yield Problem("waterfall.revolving", "no buy_assets step: nothing would be bought")
    if sc.collateral is None or sc.collateral.basis != "loan_balance":
        yield Problem(
            "revolving",
            'needs [collateral] with basis = "loan_balance": purchases restore the performing loan balance (licence receivables: their carrying value)',
        )
    if not sc.deal.closing_date < rv.end_date <= sc.deal.legal_final_date:
        yield Problem(
            "revolving.end_date",
            f"must be after closing ({sc.deal.closing_date}) and no later than legal final ({sc.deal.legal_final_date})",
            rv.end_date,
            True,
        )
    if rv.factor is not None and rv.factor not in sc.factors.names:
        yield Problem(
            "revolving.factor",
            f"no factor has this name; known: {', '.join(sc.factors.names)}",
            rv.factor,
            True,
        )


def _check_ratings(r) -> Iterable[Problem]:
    if r.table_file is not None and r.table is None:
        yield Problem(
            "ratings.table_file",
            "the file's table is missing: a rating table file is read when the scenario is "
            "loaded (ipabs.load, or validate with the scenario's folder), which puts its table "
            "in [ratings]",
            r.table_file,
            True,
        )
        return
    if (r.table is None) != (r.tenors is None):
        yield Problem("ratings", "tenors and table go together")
        return
    if r.table is None:
        if r.metric is not None:
            yield Problem(
                "ratings.metric",
                "the built-in table limits the probability of loss; give a table to use another metric",
                r.metric,
                True,
            )
        return
    yield from rating_table_problems(r, r.table, "ratings.", "table")


def rating_table_problems(t, rows, prefix: str, rows_key: str) -> Iterable[Problem]:
    """A rating table's own rules, inline in [ratings] (`prefix` "ratings.", rows in "table")
    or in a rating table file ("", rows in "row"): a name that is not reserved, a metric,
    increasing tenors, one value per tenor that never falls with tenor, unique rating names,
    and a worse rating's limits never lower than a better one's."""
    if t.name is not None and t.name.strip().casefold() in RESERVED_SCALE_NAMES:
        yield Problem(
            f"{prefix}name",
            'reserved: rating_scale is "global" for the built-in table and "scenario" for a '
            "table of the scenario's with no name; name the scale as it is known, e.g. "
            '"China domestic sf, agency X 2024"',
            t.name,
            True,
        )
    if t.metric is None:
        yield Problem(f"{prefix}metric", "required key is missing: what does the table limit?")
    tenors = list(t.tenors)
    if any(b <= a for a, b in pairwise(tenors)):
        yield Problem(f"{prefix}tenors", "must increase", tenors, True)
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        where = f'{prefix}{rows_key}[{i}] (rating = "{row.rating}")'
        j = first.setdefault(row.rating, i)
        if j != i:
            yield Problem(
                f"{where}.rating",
                f"duplicate rating; already {prefix}{rows_key}[{j}]",
                row.rating,
                True,
            )
        if len(row.values) != len(tenors):
            yield Problem(
                f"{where}.values",
                f"has {len(row.values)} values for {len(tenors)} tenors",
                list(row.values),
                True,
            )
        elif any(b < a for a, b in pairwise(row.values)):
            yield Problem(
                f"{where}.values",
                "a cumulative rate cannot fall with tenor",
                list(row.values),
                True,
            )
        if i and len(row.values) == len(rows[i - 1].values):
            if any(b < a for a, b in zip(rows[i - 1].values, row.values, strict=True)):
                yield Problem(
                    f"{where}.values",
                    "rows run from the best rating down: a worse rating's limits cannot be lower",
                    list(row.values),
                    True,
                )


def _check_pricing(pricing) -> Iterable[Problem]:
    given = [k for k in ("discount_rate", "curve") if getattr(pricing, k) is not None]
    if len(given) != 1:
        yield Problem(
            "pricing",
            f"give exactly one of discount_rate or curve (given: {', '.join(given) or 'none'})",
        )
    if pricing.curve is not None:
        tenors = [c.tenor_years for c in pricing.curve]
        if any(b <= a for a, b in pairwise(tenors)):
            yield Problem("pricing.curve", "tenors must increase", tenors, True)


def _check_transfer(sc) -> Iterable[Problem]:
    t = sc.transfer
    if t is None:
        return
    given = [k for k in ("required_yield", "curve", "price") if getattr(t, k) is not None]
    if len(given) != 1:
        yield Problem(
            "transfer",
            f"give exactly one of required_yield, curve or price (given: {', '.join(given) or 'none'})",
        )
    if not sc.loans:
        yield Problem("transfer", "a transfer prices loans: give [[loans]] (or a loans tape)")
    if any(a.licensee for a in sc.assets):
        yield Problem(
            "transfer",
            "a transfer prices loans only: the assets must be pledged, without a licensee",
        )
    if t.form == "direct":
        for key in ("servicing_fee", "seller_risk_share"):
            if getattr(t, key) > 0:
                yield Problem(
                    f"transfer.{key}",
                    'only an income_right transfer has it (form = "income_right")',
                    getattr(t, key),
                    True,
                )
    if t.form == "income_right" and t.seller_risk_share > 0 and not t.allow_seller_risk_share:
        yield Problem(
            "transfer.seller_risk_share",
            "an income-right transfer cannot leave a share of the losses with the seller: "
            "银监办发〔2016〕82号 (关于规范银行业金融机构信贷资产收益权转让业务的通知) forbids the "
            "selling bank any explicit or implicit repurchase or guarantee; use 0, or set "
            "transfer.allow_seller_risk_share = true to price it anyway (the output is flagged)",
            t.seller_risk_share,
            True,
        )
    start = sc.deal.pool_start
    if t.transfer_date is not None and t.transfer_date != start:
        yield Problem(
            "transfer.transfer_date",
            f"must be the pool's start ({start}: deal.cut_off_date, else closing_date), where "
            "the loans' balances, accrued interest and states are given; move the cut-off date",
            t.transfer_date,
            True,
        )
    if t.curve is not None:
        tenors = [c.tenor_years for c in t.curve]
        if any(b <= a for a, b in pairwise(tenors)):
            yield Problem("transfer.curve", "tenors must increase", tenors, True)
