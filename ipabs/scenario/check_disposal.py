"""Consistency of the disposal terms ([disposal] and each loan's disposal_method) with the loans
(rules in docs/scenario-format.md; model in docs/model.md 3.8, "Disposal")."""

from __future__ import annotations

from collections.abc import Iterable

from ipabs.errors import Problem


def check_disposal(sc, unknown_reference) -> Iterable[Problem]:
    d = sc.disposal
    if not sc.loans:
        if d.method != "haircut" or d.buyer is not None:
            yield Problem("disposal", "disposal applies to loans' pledges, and there are no loans")
        return
    methods = [loan.disposal_method or d.method for loan in sc.loans]
    a = d.auction
    if len(a.sale_probability) > a.rounds:
        yield Problem(
            "disposal.auction.sale_probability",
            f"one probability per round at most: {len(a.sale_probability)} given for "
            f"rounds = {a.rounds}",
            list(a.sale_probability),
            True,
        )
    needs_buyer = [
        i
        for i, m in enumerate(methods)
        if m == "buyout_operate" or (m == "auction" and a.fallback == "buyout")
    ]
    if needs_buyer and d.buyer is None:
        i = needs_buyer[0]
        why = (
            "uses disposal method buyout_operate"
            if methods[i] == "buyout_operate"
            else 'is auctioned with fallback = "buyout"'
        )
        yield Problem(
            "disposal.buyer",
            f'required key is missing: loans[{i}] (id = "{sc.loans[i].id}") {why}, which needs '
            "the holding (收储) institution's terms",
        )
    b = d.buyer
    if b is not None:
        if b.factor is not None and b.factor not in sc.factors.names:
            yield unknown_reference("disposal.buyer.factor", b.factor, sc.factors.names, "factor")
        if b.payment == "income_share":
            for i in needs_buyer:
                loan = sc.loans[i]
                if not loan.pledged_assets:
                    yield Problem(
                        f'loans[{i}].pledged_assets (id = "{loan.id}")',
                        'the buyer pays a share of the pledged assets\' income (payment = "income_share"): '
                        "the loan must pledge assets whose income is simulated",
                    )
    for i, (loan, m) in enumerate(zip(sc.loans, methods, strict=True)):
        if m != "haircut" and loan.buyout_floor is not None:
            yield Problem(
                f'loans[{i}].buyout_floor (id = "{loan.id}")',
                f"a buy-out floor goes with disposal method haircut; this loan's is {m} "
                "(give the buyer's terms in [disposal.buyer])",
                loan.buyout_floor,
                True,
            )
