"""Checks of [[leases]], [[receivables]] and licences' minimum guarantees, and of the
combinations with them that are not modelled (each points to docs/model.md, section 8)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ipabs.errors import Problem
from ipabs.scenario.base import Names

SECTION_8 = "see docs/model.md section 8"


def leased_asset_ids(sc) -> set[str]:
    return {a for lease in sc.leases for a in lease.leased_assets}


def check_contracts(sc, unknown_reference: Callable, check_factor: Callable) -> Iterable[Problem]:
    factor_names = Names(sc.factors.names)
    asset_ids = Names(a.id for a in sc.assets)
    licensed = {a.id for a in sc.assets if a.licensee is not None}
    pledged = {a for loan in sc.loans for a in loan.pledged_assets}
    start = sc.deal.pool_start
    first: dict[str, str] = {}
    for table, items in (("loans", sc.loans), ("leases", sc.leases), ("receivables", sc.receivables)):  # fmt: skip
        for i, item in enumerate(items):
            where = f"{table}[{i}].id"
            if item.id in first:
                yield Problem(
                    where,
                    f"duplicate id; already used by {first[item.id]} (loans, leases and receivables share one set of ids)",
                    item.id,
                    True,
                )
            else:
                first[item.id] = where
    for i, lease in enumerate(sc.leases):
        where, label = f"leases[{i}]", f'(id = "{lease.id}")'
        custom = lease.rental_schedule == "custom"
        if custom != (lease.rental_amounts is not None):
            yield Problem(
                f"{where}.rental_amounts {label}",
                'rental_amounts go with rental_schedule = "custom" and only with it',
            )
        if custom and lease.rentals is not None:
            yield Problem(
                f"{where}.rentals {label}",
                "a custom schedule counts its rental_amounts: give rentals only with equal_rental or equal_principal",
                lease.rentals,
                True,
            )
        if not custom and lease.rentals is None:
            yield Problem(
                f"{where}.rentals {label}",
                f"required key is missing: the number of rentals still due ({lease.rental_schedule})",
            )
        if custom and lease.purchase_option_price > 0:
            yield Problem(
                f"{where}.purchase_option_price {label}",
                "a custom schedule's last rental repays what the rentals leave: include the purchase price in rental_amounts",
                lease.purchase_option_price,
                True,
            )
        if lease.purchase_option_price >= lease.financed_amount:
            yield Problem(
                f"{where}.purchase_option_price {label}",
                f"must be below financed_amount ({lease.financed_amount:,.2f}): the rentals repay the rest",
                lease.purchase_option_price,
                True,
            )
        if lease.asset_value is None and not lease.leased_assets:
            yield Problem(
                f"{where}.leased_assets {label}",
                "a lease needs leased_assets or asset_value to value the leased IP at default",
            )
        for j, asset_id in enumerate(lease.leased_assets):
            path = f"{where}.leased_assets[{j}] {label}"
            if asset_id not in asset_ids:
                yield unknown_reference(path, asset_id, asset_ids, "asset")
            elif asset_id in licensed:
                yield Problem(
                    path,
                    "a leased asset earns the lessee's income, not the deal's: remove its licensee",
                    asset_id,
                    True,
                )
            elif asset_id in pledged:
                yield Problem(path, "this asset is pledged for a loan too", asset_id, True)
        yield from check_factor(f"{where}.factor {label}", lease.factor, factor_names)
    for i, x in enumerate(sc.receivables):
        where, label = f"receivables[{i}]", f'(id = "{x.id}")'
        if x.due_date <= start:
            yield Problem(
                f"{where}.due_date {label}",
                f"must be after the pool's start ({start})",
                x.due_date,
                True,
            )
        if x.dilution >= 1.0:
            yield Problem(
                f"{where}.dilution {label}",
                "must be below 1: a receivable diluted away is not in the pool",
                x.dilution,
                True,
            )
        yield from check_factor(f"{where}.factor {label}", x.factor, factor_names)
    for i, asset in enumerate(sc.assets):
        if not asset.minimum_guarantees:
            continue
        where = f'assets[{i}].minimum_guarantees (id = "{asset.id}")'
        if asset.licensee is None:
            yield Problem(
                where, "a minimum guarantee is paid by a licensee: give the asset's licensee"
            )
        dates = [m.date for m in asset.minimum_guarantees]
        for j, d in enumerate(dates):
            if d <= start or d > sc.deal.legal_final_date:
                yield Problem(
                    f"{where}[{j}].date",
                    f"must be after the pool's start ({start}) and no later than legal final ({sc.deal.legal_final_date})",
                    d,
                    True,
                )
            elif j and d <= dates[j - 1]:
                yield Problem(f"{where}[{j}].date", "dates must increase", d, True)
    yield from _check_custom_rentals(sc)
    yield from check_unmodelled(sc)


def _check_custom_rentals(sc) -> Iterable[Problem]:
    """Custom rentals against the lease rate on the deal's collection periods (the same check
    compile time makes, so that `ipabs validate` reports it); skipped if the calendar itself
    cannot be built (its own checks report that)."""
    custom = [(i, x) for i, x in enumerate(sc.leases) if x.rental_schedule == "custom"]
    if not custom or any(x.rental_amounts is None for _, x in custom):
        return
    from ipabs.calendar import time_grid
    from ipabs.errors import UserError
    from ipabs.pool.leases import contract_accruals, lease_principal

    try:
        grid = time_grid(sc.deal)
    except (ValueError, OverflowError, UserError):
        return
    accrual = contract_accruals(sc, grid)
    for i, lease in custom:
        try:
            lease_principal(lease, accrual, f"leases[{i}]")
        except UserError as e:
            path, _, message = str(e).partition(": ")
            yield Problem(path, message)


def _check_licence_receivables(sc, rv) -> Iterable[Problem]:
    """Revolving purchases of licence receivables (docs/model.md 4.7): a licence pool, equal
    instalments bought at the discount yield, a recovery rate on the unpaid instalments."""
    if not any(a.licensee is not None for a in sc.assets):
        yield Problem(
            "revolving.buys",
            "buys licence receivables, and the pool has no licence (no asset with a licensee)",
            rv.buys,
            True,
        )
    claims = [w for w, t in (("loans", sc.loans), ("leases", sc.leases),
                             ("receivables", sc.receivables)) if t]  # fmt: skip
    if claims:
        yield Problem(
            "revolving.buys",
            f"buys licence receivables, and the pool holds {' and '.join(claims)}: a licence receivables revolving period needs a licence pool ({SECTION_8})",
            rv.buys,
            True,
        )
    fixed = (
        ("amortisation", "level", 'a licence receivable is paid in equal instalments: set amortisation = "level"'),
        ("price", 1.0, "licence receivables are bought at their discount yield (rate): their price per unit of carrying value is 1"),
        ("prepayment_rate", 0.0, "a licensee does not prepay its licence fees: leave prepayment_rate at 0"),
        ("disposal_haircut", 0.0, "a licence receivable has no pledge to sell: set recovery_rate instead"),
    )  # fmt: skip
    for key, allowed, why in fixed:
        if getattr(rv, key) != allowed:
            yield Problem(f"revolving.{key}", why, getattr(rv, key), True)
    if rv.ltv is not None:
        yield Problem(
            "revolving.ltv",
            "a licence receivable has no pledge: remove ltv (set recovery_rate for the recovery)",
            rv.ltv,
            True,
        )
    if sc.collateral is not None and sc.collateral.original_value is None:
        yield Problem(
            "collateral.original_value",
            "required key is missing: a licence pool has no balance at closing, so the base of the cumulative ratios and the target balance must be given",
        )
    if sc.clean_up_call is not None:
        yield Problem(
            "clean_up_call",
            f"a clean-up call on a licence receivables revolving deal is not modelled (the collateral value counts only the receivables bought): {SECTION_8}",
        )
    for i, trigger in enumerate(sc.triggers):
        if trigger.condition == "oc_ratio":
            yield Problem(
                f"triggers[{i}].condition",
                f"an oc_ratio trigger on a licence receivables revolving deal is not modelled (the collateral value counts only the receivables bought, 0 before the first purchase): {SECTION_8}",
                trigger.condition,
                True,
            )


def check_unmodelled(sc) -> Iterable[Problem]:
    """Combinations with leases, receivables and revolving purchases that the model does not
    cover: refused with a pointer to docs/model.md section 8."""
    contracts = [w for w, t in (("leases", sc.leases), ("receivables", sc.receivables)) if t]
    if contracts and sc.kind == "trust":
        yield Problem(
            "kind",
            f"{' and '.join(contracts)} in an IP trust are not modelled: {SECTION_8}",
            sc.kind,
            True,
        )
    if contracts and sc.transfer is not None:
        yield Problem(
            "transfer",
            f"a credit-asset transfer of {' and '.join(contracts)} is not modelled (it prices loans): {SECTION_8}",
        )
    rv = sc.revolving
    if rv is None:
        return
    if rv.buys == "loans" and not sc.loans:
        if sc.leases:
            yield Problem(
                "revolving.buys",
                'the pool holds leases: set buys = "leases" to buy lease receivables',
                rv.buys,
                True,
            )
        elif sc.receivables:
            yield Problem(
                "revolving",
                f"revolving purchases of trade receivables are not modelled: {SECTION_8}",
            )
        else:
            yield Problem(
                "revolving.buys",
                'the pool holds licences: set buys = "licence_receivables" to buy the fixed licence fees of signed licences (revolving purchases of licence income at large are not modelled: '
                + SECTION_8
                + ")",
                rv.buys,
                True,
            )
    if rv.buys == "licence_receivables":
        yield from _check_licence_receivables(sc, rv)
    elif rv.recovery_rate is not None:
        yield Problem(
            "revolving.recovery_rate",
            f"only licence receivables take a recovery rate; {rv.buys} recover from the pledged IP (ltv, disposal_haircut)",
            rv.recovery_rate,
            True,
        )
    if rv.buys != "licence_receivables" and rv.ltv is None:
        yield Problem(
            "revolving.ltv",
            f"required key is missing: the eligible {rv.buys}' highest loan-to-value (the pledge is valued at balance / ltv)",
        )
    if rv.buys == "leases":
        if not sc.leases:
            yield Problem(
                "revolving.buys",
                "buys lease receivables, and the pool has no [[leases]]",
                rv.buys,
                True,
            )
        if rv.amortisation != "level":
            yield Problem(
                "revolving.amortisation",
                'a lease receivable bought pays equal rentals: set amortisation = "level" (interest-only leases are not modelled: '
                + SECTION_8
                + ")",
                rv.amortisation,
                True,
            )
