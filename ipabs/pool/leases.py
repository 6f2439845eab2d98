"""IP finance leases and trade receivables as entries of the loan kernel (docs/model.md, 3.9-3.10).

A lease is a scheduled claim on its lessee secured by the leased IP, a receivable a bullet claim
on its debtor: both are turned into loan entries (custom principal schedules, a zero-rate bullet)
appended after the scenario's [[loans]], so that defaults through the copula, recoveries, the
disposal lag, loss-sharing, the revolving period's collateral and the outputs apply to them as
to loans. Nothing here runs per path.

Lease n with financed amount P, lease rate r, N rentals (one per collection period k = 0..N-1,
accrual a_k in the deal's day count) and purchase price B:
    D_k = prod_{j<=k} 1 / (1 + r a_j)                        discount to the end of period k
    equal_rental:    R = (P - B D_{N-1}) / sum_{k<N} D_k,    rental_k = R (+ B at k = N-1)
    equal_principal: principal_k = (P - B) / N,              rental_k = principal_k + b_k r a_k
    custom:          principal_k = rental_k - b_k r a_k      (b_k the lease principal at k's start)
The loan kernel then collects b_k r a_k + principal_k each period and b_{N-1} (1 + r a_{N-1}) at
the last, which is the last rental plus the purchase price (or what custom rentals leave).
Receivable: claim C = face (1 - dilution), a bullet of rate 0 due on its due date, recovering
recovery_rate x C after the recovery lag if the debtor defaults first.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ipabs.calendar import TimeGrid, add_months
from ipabs.errors import UserError
from ipabs.scenario.contracts import Lease, Receivable
from ipabs.scenario.model import Amortisation, Loan, RateType, Scenario, ScheduledPrincipal


def contract_balance(sc: Scenario) -> float:
    """The lease principal and the receivables' claims at the pool's start (0.0 without any)."""
    if not (sc.leases or sc.receivables):
        return 0.0
    return float(
        sum(x.financed_amount for x in sc.leases)
        + sum(x.face_value * (1.0 - x.dilution) for x in sc.receivables)
    )


def rental_dates(grid: TimeGrid, n: int, per_year: int) -> list[dt.date]:
    """The ends of the first n collection periods, continued at the payment frequency after the
    last."""
    ends = list(grid.collection_ends)
    step = 12 // per_year
    return ends[:n] + [add_months(ends[-1], step * j) for j in range(1, n - len(ends) + 1)]


def lease_principal(lease: Lease, accrual: np.ndarray, where: str) -> np.ndarray:
    """(N,) the principal part of each rental; the last entry is the lease principal left for the
    last period, which the last rental and the purchase price repay."""
    r = lease.lease_rate
    p = lease.financed_amount
    if lease.rental_schedule == "custom":
        rentals = np.asarray(lease.rental_amounts, dtype=float)
    else:
        n = int(lease.rentals)
        if lease.rental_schedule == "equal_principal":
            return np.full(n, (p - lease.purchase_option_price) / n)
        discount = np.cumprod(1.0 / (1.0 + r * accrual[:n]))
        payment = (p - lease.purchase_option_price * discount[-1]) / discount.sum()
        rentals = np.full(n, payment)
    principal = np.empty(len(rentals))
    balance = p
    for k, rental in enumerate(rentals):
        principal[k] = rental - balance * r * accrual[k]
        if principal[k] < -1e-9 * p:
            raise UserError(
                f"{where}.rental_amounts[{k}]: the rental {rental:,.2f} does not cover the "
                f"interest {balance * r * accrual[k]:,.2f} on the lease principal "
                f"{balance:,.2f} at lease_rate {r}: each rental must at least cover the period's "
                "interest (lower lease_rate or raise the rental)"
            )
        balance -= principal[k]
    if balance < -1e-9 * p:
        raise UserError(
            f"{where}.rental_amounts: the rentals repay {p - balance:,.2f}, more than the "
            f"financed_amount {p:,.2f} at lease_rate {r}: their present value at lease_rate "
            "must not exceed financed_amount"
        )
    return principal


def lease_loan(sc: Scenario, grid: TimeGrid, i: int, lease: Lease, accrual: np.ndarray) -> Loan:
    per_year = sc.deal.payment_frequency.per_year
    principal = lease_principal(lease, accrual, f"leases[{i}]")
    n = len(principal)
    dates = rental_dates(grid, n, per_year)
    # the rentals before the last pay their principal parts; the last period pays what is left
    schedule = tuple(
        ScheduledPrincipal.model_construct(date=d, principal=float(x))
        for d, x in zip(dates[: n - 1], principal[: n - 1], strict=True)
    )
    return Loan.model_construct(
        id=lease.id,
        balance=lease.financed_amount,
        rate_type=RateType.fixed,
        rate=lease.lease_rate,
        term_years=(dates[-1] - sc.deal.pool_start).days / 365,
        amortisation=Amortisation.custom,
        schedule=schedule,
        annual_default_probability=lease.annual_default_probability,
        prepayment_rate=lease.prepayment_rate,
        pledged_assets=lease.leased_assets,
        collateral_value=lease.asset_value,
        disposal_haircut=lease.disposal_haircut,
        disposal_lag_months=lease.disposal_lag_months,
        disposal_method="haircut",  # 3.9: not the deal's [disposal] method, which is the loans'
        factor=lease.factor,
        factor_loading=lease.factor_loading,
    )


def receivable_loan(sc: Scenario, x: Receivable) -> Loan:
    claim = x.face_value * (1.0 - x.dilution)
    return Loan.model_construct(
        id=x.id,
        balance=claim,
        rate_type=RateType.fixed,
        rate=0.0,
        term_years=(x.due_date - sc.deal.pool_start).days / 365,
        amortisation=Amortisation.bullet,
        annual_default_probability=x.annual_default_probability,
        collateral_value=x.recovery_rate * claim,
        disposal_haircut=0.0,
        disposal_lag_months=x.recovery_lag_months,
        disposal_method="haircut",  # 3.10: recovery_rate after the lag, whatever [disposal] says
        factor=x.factor,
        factor_loading=x.factor_loading,
    )


def contract_accruals(sc: Scenario, grid: TimeGrid) -> np.ndarray:
    """Accrual of each rental period in the deal's day count: the collection periods, then
    1 / payments a year for rentals after the last."""
    per_year = sc.deal.payment_frequency.per_year
    longest = max((x.rentals or len(x.rental_amounts or ())) for x in sc.leases) if sc.leases else 0
    return np.concatenate(
        [
            grid.pool_accrual_for(sc.deal.day_count),
            np.full(max(longest - grid.n_periods, 0), 1.0 / per_year),
        ]
    )


def with_contract_claims(sc: Scenario, grid: TimeGrid) -> Scenario:
    """The scenario with its leases and receivables appended to its loans as loan entries (for
    compile_loans only: the copy is not validated again); the scenario itself without any."""
    if not (sc.leases or sc.receivables):
        return sc
    accrual = contract_accruals(sc, grid)
    entries = [lease_loan(sc, grid, i, x, accrual) for i, x in enumerate(sc.leases)]
    entries += [receivable_loan(sc, x) for x in sc.receivables]
    return sc.model_copy(update={"loans": (*sc.loans, *entries)})
