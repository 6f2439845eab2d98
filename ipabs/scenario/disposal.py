"""The [disposal] table: how the IP pledged for a defaulted loan is turned into cash (docs/model.md,
3.8, "Disposal"). A deal-level default that each loan can override with `disposal_method`:
haircut (the loan's own disposal_haircut, disposal_lag_months and buyout_floor), a judicial or
online auction in rounds ([disposal.auction]), or a sale to a holding institution that operates
the IP (收储, [disposal.buyer])."""

from __future__ import annotations

from typing import Literal

from ipabs.scenario.base import Amount, Identifier, Loading, Probability, Spec, _field

DisposalMethod = Literal["haircut", "auction", "buyout_operate"]


class Auction(Spec):
    rounds: int = _field(
        3,
        description="Auction rounds before the fall-back (judicial auctions: up to three, online judicial auctions two, then a sale at the last price or 以物抵债; docs/model.md 3.8).",
        ge=1,
        le=10,
    )
    start_price: Probability = _field(
        0.7,
        unit="share",
        description="First round's starting (reserve) price as a share of the appraisal, the pledge's value at default (online judicial auctions: at least 70% of the appraisal, 法释〔2016〕18号 art. 10).",
        gt=0,
    )
    price_cut: Probability = _field(
        0.2,
        unit="share",
        description="Each later round's price cut from the round before (judicial auctions: at most 20%, 法释〔2016〕18号 art. 26).",
        lt=1,
    )
    sale_probability: tuple[Probability, ...] = _field(
        (0.3,),
        description="Probability that round 1, 2, ... sells (one number: every round; the last applies to further rounds). ILLUSTRATIVE default: thin markets for IP, calibrate to a platform's 成交率.",
        min_length=1,
        max_length=10,
    )
    months_to_first_round: int = _field(
        6,
        unit="months",
        description="Months from default to the first round (enforcement, appraisal, notice); rounded up to payment periods.",
        ge=0,
        le=120,
    )
    months_between_rounds: int = _field(
        2,
        unit="months",
        description="Months from one round to the next (notice and bidding); rounded up to payment periods.",
        ge=1,
        le=60,
    )
    cost_share: Probability = _field(
        0.0,
        unit="share",
        description="Disposal costs (commission, taxes, legal fees) as a share of the sale price.",
    )
    cost_fixed: Amount = _field(
        0.0, unit="currency", description="Fixed disposal costs of a sale, per loan."
    )
    fallback: Literal["take_in_kind", "buyout"] = _field(
        "take_in_kind",
        description="After the last round fails: take_in_kind (以物抵债: the lender takes the IP at the last round's price and realises take_in_kind_haircut less than its value take_in_kind_months later) or buyout (the [disposal.buyer] institution buys it on its terms, from the period after the last round).",
    )
    take_in_kind_haircut: Probability = _field(
        0.3,
        unit="share",
        description="Share of the pledge's value the lender loses when it realises IP taken in kind (its own sale or licensing, costs included). ILLUSTRATIVE.",
    )
    take_in_kind_months: int = _field(
        12,
        unit="months",
        description="Months from taking the IP in kind to realising it; rounded up to payment periods.",
        ge=0,
        le=120,
    )


class Buyer(Spec):
    price_share: Probability = _field(
        0.5,
        unit="share",
        description="Purchase price as a share of the pledge's value at default (lump_sum and instalments). ILLUSTRATIVE.",
    )
    payment: Literal["lump_sum", "instalments", "income_share"] = _field(
        "instalments",
        description="How the buyer pays: lump_sum (the price at purchase), instalments (the price in equal instalments each payment period over years), or income_share (income_share of the pledged assets' simulated licence income each period over years).",
    )
    years: int = _field(
        3,
        unit="years",
        description="Years of instalments or of income sharing, from the purchase.",
        ge=1,
        le=20,
    )
    income_share: Probability = _field(
        0.5,
        unit="share",
        description="Share of the pledged assets' licence income paid to the lender (payment income_share).",
    )
    months_to_purchase: int = _field(
        6,
        unit="months",
        description="Months from default to the purchase (method buyout_operate); rounded up to payment periods.",
        ge=0,
        le=120,
    )
    default_probability: Probability = _field(
        0.0,
        description="Annual default probability of the buyer (default-time copula, like a guarantor's); from its default it pays nothing more, and after it it buys nothing.",
    )
    factor: Identifier | None = _field(
        None, description="Factor the buyer's default loads on. Default: the first."
    )
    factor_loading: Loading = _field(
        0.0, description="Weight of the factor in the buyer's default latent."
    )
    annual_capacity: Amount | None = _field(
        None,
        unit="currency",
        description="Most pledge value (at default) the buyer takes in per year from closing; a purchase beyond it is refused and the lender takes the IP in kind. Default: no limit.",
    )


class Disposal(Spec):
    method: DisposalMethod = _field(
        "haircut",
        description="Default disposal of every loan's pledge (a loan's disposal_method overrides it): haircut (the loan's disposal_haircut, disposal_lag_months and buyout_floor), auction ([disposal.auction]) or buyout_operate (a 收储 institution buys and operates the IP, [disposal.buyer]).",
    )
    auction: Auction = _field(Auction(), description="Terms of the auction method.")
    buyer: Buyer | None = _field(
        None,
        description="The holding (收储) institution, for method buyout_operate or an auction's buyout fall-back.",
    )
