"""The [transfer] table: selling IP-pledged loans (credit-asset transfer) and how to price them
(docs/model.md, section 7)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ipabs.scenario.base import Flag, Probability, Spec, _field


class CurvePoint(Spec):
    tenor_years: float = _field(unit="years", description="Tenor of the zero rate.", gt=0, le=50)
    rate: float = _field(
        unit="1/year", description="Zero rate, annual compounding.", ge=-0.05, le=1
    )


class Transfer(Spec):
    form: Literal["direct", "income_right"] = _field(
        "direct",
        description="direct: the buyer takes the loans and every cash flow; income_right: the buyer takes the cash flows, the seller keeps the loans on its books (and their capital), servicing for servicing_fee; a seller_risk_share needs allow_seller_risk_share (银监办发〔2016〕82号 forbids the seller's repurchase or guarantee).",
    )
    required_yield: float | None = _field(
        None,
        unit="1/year",
        description="Buyer's required yield, annual effective, flat: price = expected PV of the buyer's cash flows. One of required_yield, curve or price.",
        ge=-0.05,
        le=1,
    )
    curve: tuple[CurvePoint, ...] | None = _field(
        None,
        description="Zero curve (linear in tenor, flat outside it); the buyer discounts at curve + spread.",
        min_length=1,
    )
    spread: float = _field(0.0, unit="1/year", description="Spread over the curve.", ge=-0.05, le=1)
    price: float | None = _field(
        None,
        unit="share",
        description="Price paid, as a share of the loans' outstanding principal, clean or dirty as price_basis says: solve for the buyer's yield.",
        gt=0,
        le=2,
    )
    price_basis: Literal["clean", "dirty"] | None = _field(
        None,
        description="Whether price includes the interest accrued at transfer (dirty) or not (clean = dirty less accrued interest). Required with price when any loan has accrued interest at transfer; otherwise the two agree.",
    )
    transfer_date: dt.date | None = _field(
        None,
        description="The transfer (settlement) date, which must be the pool's start (deal.cut_off_date, else closing_date): accrued interest, delinquency and the fee waiver are taken on it. Default: the pool's start.",
    )
    servicing_fee: float = _field(
        0.0,
        unit="1/year",
        description="income_right: the seller's servicing fee on the performing balance, out of the buyer's cash flows.",
        ge=0,
        le=0.2,
    )
    seller_risk_share: Probability = _field(
        0.0,
        description="income_right: share of each loan loss (exposure less recovery) the seller bears, paid to the buyer at default. Refused unless allow_seller_risk_share: 银监办发〔2016〕82号 forbids the seller any explicit or implicit repurchase or guarantee.",
    )
    allow_seller_risk_share: Flag = _field(
        False,
        description="Override: accept a seller_risk_share against 银监办发〔2016〕82号 (for a comparison, not a compliant 银登 transfer); the price output then carries a warning.",
    )
    risk_weight: float = _field(
        1.0,
        unit="share",
        description="Risk weight of the loans under the capital rules (商业银行资本管理办法): 1.0 a general corporate exposure; 0.75 or 0.85 for qualifying small and micro or SME exposures (docs/model.md 7).",
        ge=0,
        le=12.5,
    )
    capital_ratio: Probability = _field(
        0.105,
        description="Capital the seller holds per unit of risk-weighted assets: 10.5% = the 8% minimum total capital ratio plus the 2.5% conservation buffer (docs/model.md 7).",
    )
    cost_of_capital: float = _field(
        0.0,
        unit="1/year",
        description="Seller's cost of capital (return-on-equity target): what a year of capital freed is worth.",
        ge=0,
        le=1,
    )
    book_value: float = _field(
        1.0,
        unit="share",
        description="Seller's carrying amount of the loans' principal (after provisions), as a share of their outstanding principal; the accrued interest is added to it.",
        gt=0,
        le=2,
    )
    registration_fee: float = _field(
        0.0,
        unit="share",
        description="Fee on the transfer (银登中心 registration and transfer), as a share of the dirty price; it reduces the seller's proceeds. Waived on or before fee_waiver_until.",
        ge=0,
        le=0.1,
    )
    fee_waiver_until: dt.date | None = _field(
        None,
        description="Last day of a fee waiver: a transfer on or before it pays no registration_fee (the Beijing pilot waives 银登 fees on IP-pledged loan transfers for three years; docs/model.md 7).",
    )
    quantiles: tuple[Probability, ...] = _field(
        (0.01, 0.05, 0.5, 0.95, 0.99),
        description="Quantiles reported for the price (PV) distribution and the buyer's loss.",
        min_length=1,
    )
