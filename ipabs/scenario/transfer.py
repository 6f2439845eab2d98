"""The [transfer] table: selling IP-pledged loans (credit-asset transfer) and how to price them
(docs/model.md, section 7)."""

from __future__ import annotations

from typing import Literal

from ipabs.scenario.base import Probability, Spec, _field


class CurvePoint(Spec):
    tenor_years: float = _field(unit="years", description="Tenor of the zero rate.", gt=0, le=50)
    rate: float = _field(
        unit="1/year", description="Zero rate, annual compounding.", ge=-0.05, le=1
    )


class Transfer(Spec):
    form: Literal["direct", "income_right"] = _field(
        "direct",
        description="direct: the buyer takes the loans and every cash flow; income_right: the buyer takes the cash flows, the seller keeps servicing for servicing_fee and keeps seller_risk_share of each loss.",
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
        description="Price paid, as a share of the loans' outstanding principal: solve for the buyer's yield.",
        gt=0,
        le=2,
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
        description="income_right: share of each loan loss (exposure less recovery) the seller bears, paid to the buyer at default.",
    )
    quantiles: tuple[Probability, ...] = _field(
        (0.01, 0.05, 0.5, 0.95, 0.99),
        description="Quantiles reported for the price (PV) distribution and the buyer's loss.",
        min_length=1,
    )
