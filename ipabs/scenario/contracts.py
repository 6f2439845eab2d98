"""Contractual IP assets other than pledged loans: IP finance leases (知识产权融资租赁), trade
receivables (应收账款) and a licence's minimum guarantees (docs/model.md, sections 3.9 to 3.11).

Leases and receivables are scheduled claims on an obligor, so the engine runs them through the
loan kernel (ipabs.pool.leases turns them into loan entries); a minimum guarantee schedule
changes what a licence pays (ipabs.pool.kernels)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ipabs.scenario.base import Amount, Balance, Identifier, Loading, Probability, Spec, _field


class Lease(Spec):
    id: Identifier = _field(description="Unique lease id.")
    lessee: str | None = _field(
        None,
        description="The lessee (承租人), for the record; the lease's default is the lessee's.",
        max_length=80,
    )
    financed_amount: Balance = _field(
        unit="currency",
        description="Outstanding lease principal (租赁本金余额) at closing (at deal.cut_off_date if one is given): the present value, at lease_rate, of the rentals still due and the purchase price.",
    )
    lease_rate: float = _field(
        unit="1/year",
        description="The lease's interest rate (租赁利率, the rate implicit in the rentals), fixed; interest accrues on the lease principal over each collection period in deal.day_count.",
        ge=0,
        le=1,
    )
    rentals: int | None = _field(
        None,
        unit="periods",
        description="Number of rentals still due, one per collection period from the first (rentals follow the deal's payment frequency). Required with equal_rental and equal_principal; custom gives rental_amounts instead.",
        ge=1,
        le=600,
    )
    rental_schedule: Literal["equal_rental", "equal_principal", "custom"] = _field(
        "equal_rental",
        description="equal_rental (等额租金: equal rentals, an annuity at lease_rate on the period accruals), equal_principal (等额本金: equal principal parts plus interest), or custom (rental_amounts).",
    )
    rental_amounts: tuple[Amount, ...] | None = _field(
        None,
        unit="currency",
        description="custom: the rentals, one per collection period from the first; the lease principal they leave after the last is due with the last rental (the residual or purchase price).",
        min_length=1,
        max_length=600,
    )
    purchase_option_price: Amount = _field(
        0.0,
        unit="currency",
        description="Purchase option price (留购价, often nominal) or residual the lessee pays with the last rental to take the leased IP back; part of the financed amount's present value (equal_rental, equal_principal).",
    )
    annual_default_probability: Probability = _field(
        description="The lessee's probability of default within one year (constant hazard; docs/model.md 3.2)."
    )
    prepayment_rate: Probability = _field(
        0.0,
        unit="1/year",
        description="Annual probability that the lessee buys the lease out early (all lease principal).",
    )
    leased_assets: tuple[Identifier, ...] = _field(
        (),
        description="Ids of the [[assets]] leased (the lessor owns them in a sale-and-leaseback, 售后回租); repossessed and re-leased or sold on default. They pay no licence income to the deal.",
    )
    asset_value: Amount | None = _field(
        None,
        unit="currency",
        description="A given value of the leased IP at default, instead of the simulated remaining income value of leased_assets.",
    )
    disposal_haircut: Probability = _field(
        0.5,
        description="Share of the leased IP's value lost in repossessing it and re-leasing or selling it (ILLUSTRATIVE default).",
    )
    disposal_lag_months: int = _field(
        12,
        unit="months",
        description="Months from the lessee's default to the proceeds of re-leasing or sale (rounded up to payment periods).",
        ge=0,
        le=120,
    )
    factor: Identifier | None = _field(
        None, description="Factor the lessee's default loads on. Default: the first factor."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the lessee's default latent."
    )


class Receivable(Spec):
    id: Identifier = _field(description="Unique receivable id.")
    debtor: str | None = _field(
        None,
        description="The buyer that owes it (债务人), for the record; the receivable's default is the debtor's.",
        max_length=80,
    )
    face_value: Balance = _field(
        unit="currency", description="Amount the debtor owes on the due date (应收账款面值)."
    )
    due_date: dt.date = _field(
        description="Date the debtor pays; collected in the collection period that holds it. After the pool's start (deal.cut_off_date, else closing)."
    )
    annual_default_probability: Probability = _field(
        description="The debtor's probability of default within one year (constant hazard; docs/model.md 3.2); a default before the due date loses the claim but its recovery."
    )
    dilution: Probability = _field(
        0.0,
        description="Share of the face value lost to disputes, returns and rebates (稀释), whether or not the debtor defaults: the claim is face_value x (1 - dilution).",
    )
    recovery_rate: Probability = _field(
        0.0, description="Share of the claim recovered after the debtor's default."
    )
    recovery_lag_months: int = _field(
        6,
        unit="months",
        description="Months from the debtor's default to the recovery (rounded up to payment periods).",
        ge=0,
        le=120,
    )
    factor: Identifier | None = _field(
        None, description="Factor the debtor's default loads on. Default: the first factor."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the debtor's default latent."
    )


class MinimumGuarantee(Spec):
    date: dt.date = _field(
        description="Date the minimum guaranteed payment (保底许可费) is due; it applies to the collection period that holds the date."
    )
    amount: Amount = _field(unit="currency", description="The minimum guaranteed payment.")
