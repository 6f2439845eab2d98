"""The [trust] table: terms of an IP trust (scenario kind "trust"; docs/model.md, section 4.8).

In a trust the [[tranches]] are beneficiary classes: the priority classes' `coupon` is their
expected annual yield, and the lowest-ranked class is the subordinated class with the residual."""

from __future__ import annotations

from typing import Literal

from ipabs.scenario.base import Probability, Spec, _field


class TrustTerms(Spec):
    holdback_share: Probability = _field(
        0.0,
        description='Share of each period\'s collections the trust holds back, in a holdback account of its own (not the reserve), and pays out at the final distribution (or an early termination or clean-up call); steps spend it earlier only with cover_from = ["holdback"].',
    )
    performance_fee_share: Probability = _field(
        0.0,
        description="The manager's share of the subordinated class's distributions above the hurdle, taken at the pay_residual step.",
    )
    performance_hurdle: float = _field(
        0.0,
        unit="1/year",
        description="Yield on the subordinated class's capital above which the performance fee applies.",
        ge=0,
        le=1,
    )
    terminal_value: Literal["income_method", "none"] = _field(
        "income_method",
        description="What the IP still held is worth at the final distribution (and at an early termination): its income-method value at its simulated level (docs/model.md, 3.7), or nothing.",
    )
    termination_shortfall: float | None = _field(
        None,
        unit="share",
        description="Early termination: when the priority classes' unpaid expected yield carried into a period exceeds this share of their capital, the IP is sold at its value and everything is distributed. Default: never.",
        gt=0,
        le=1,
    )
