"""Price a transfer of IP-pledged loans from the buyer's simulated cash flows.

The buyer's cash flow on path p in period k is the loans' collections (interest, principal,
prepayments, recoveries and loss-sharing payments); in an income-right transfer less the
seller's servicing fee on the performing balance, plus the seller's share of each loss. Its
present value at the buyer's yield (flat, or a zero curve plus spread) is the path's price; the
price is their mean. The decomposition runs the same paths (common random numbers) with parts
switched off, so that its terms add up to the price exactly:

    price = par + rate effect + prepayment and renewal - expected credit loss
            + loss-sharing support - servicing + seller's risk share
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ipabs.engine.distribute import with_client
from ipabs.engine.metrics import zero_rates
from ipabs.errors import UserError
from ipabs.scenario.model import Scenario


@dataclass(frozen=True)
class PriceResult:
    form: str
    par: float  # loans' outstanding principal
    price: float  # expected PV of the buyer's cash flows (currency)
    price_se: float
    yield_: float | None  # the flat yield used or solved for (None with a curve)
    decomposition: pd.DataFrame  # component, amount, share of par
    distribution: pd.DataFrame  # quantile, pv, buyer_loss
    paths: int

    @property
    def price_pct(self) -> float:
        return 100.0 * self.price / self.par

    def __repr__(self) -> str:
        return (
            f"<ipabs.PriceResult {self.form}: {self.price_pct:.3f}% of par "
            f"(± {100.0 * self.price_se / self.par:.3f}), {self.paths:,} paths>"
        )

    def _repr_html_(self) -> str:
        from ipabs.outputs.display import fields_table, html_table

        d, q = self.decomposition, self.distribution
        parts = pd.DataFrame({
            "component": d["component"],
            "amount (millions)": d["amount"] / 1e6,
            "share of par (%)": 100.0 * d["share_of_par"],
        })  # fmt: skip
        spread = pd.DataFrame({
            "quantile (%)": 100.0 * q["quantile"],
            "value (millions)": q["pv"] / 1e6,
            "value (% of par)": q["pv_pct_of_par"],
            "buyer's loss (millions)": q["buyer_loss"] / 1e6,
        })  # fmt: skip
        head = fields_table([
            ("form", self.form.replace("_", " ")),
            ("par (outstanding principal, millions)", self.par / 1e6),
            ("price (millions)", f"{self.price / 1e6:,.3f} ± {self.price_se / 1e6:,.3f}"),
            ("price (% of par)", f"{self.price_pct:.3f} ± {100.0 * self.price_se / self.par:.3f}"),
            ("yield (%)", None if self.yield_ is None else 100.0 * self.yield_),
            ("paths", self.paths),
        ])  # fmt: skip
        return (
            html_table(head, title="Transfer price (value ± one standard error)", index=False)
            + html_table(parts, title="Where the price comes from", index=False)
            + html_table(spread, title="Distribution of the buyer's value (per path)", index=False)
        )


def _discount_factors(t, *, flat=None, curve=None, spread=0.0):
    return (1.0 + zero_rates(t, flat=flat, curve=curve, spread=spread)) ** -t


def _buyer_cash(res, transfer, *, with_fee=True):
    """(paths, periods) buyer's cash flows, and the servicing fee and the seller's loss share."""
    raw = res.raw
    cash = raw.sample_pool_income.copy()
    fee = np.zeros_like(cash)
    share = np.zeros_like(cash)
    if transfer.form == "income_right":
        accrual = res.deal.waterfall.accrual
        opening = np.concatenate(
            [
                np.full((cash.shape[0], 1), res.deal.loans.balance0.sum()),
                raw.sample_performing[:, :-1],
            ],
            axis=1,
        )
        if with_fee:
            fee = transfer.servicing_fee * opening * accrual[None, :]
        share = transfer.seller_risk_share * raw.sample_loan_loss
    return cash - fee + share, fee, share


def _no_defaults(sc: Scenario) -> Scenario:
    loans = tuple(
        x.model_copy(
            update={
                "annual_default_probability": 0.0
                if x.annual_default_probability is not None
                else None,
                "default_probability_curve": None
                if x.default_probability_curve is None
                else tuple(0.0 for _ in x.default_probability_curve),
                "defaulted": False,
            }
        )
        for x in sc.loans
    )
    return sc.model_copy(update={"loans": loans})


def _contractual(sc: Scenario) -> Scenario:
    loans = tuple(
        x.model_copy(update={"prepayment_rate": 0.0, "renewal_probability": 0.0})
        for x in _no_defaults(sc).loans
    )
    return sc.model_copy(update={"loans": loans, "loss_sharing": ()})


def with_form(sc: Scenario, form: str) -> Scenario:
    """The scenario with its [transfer] in `form`: "direct" drops the income-right terms (the
    servicing fee and the seller's loss share: the buyer services the loans and bears every
    loss), "income_right" keeps the file's. Everything else, the yield, curve or price included,
    is the file's, so the two forms are priced on the same paths."""
    from ipabs.errors import ScenarioError

    if sc.transfer is None:
        raise ScenarioError("the scenario has no [transfer] to price")
    changes: dict[str, object] = {"form": form}
    if form == "direct":
        changes |= {"servicing_fee": 0.0, "seller_risk_share": 0.0}
    transfer = sc.transfer.model_validate({**sc.transfer.model_dump(), **changes})
    return sc.model_copy(update={"transfer": transfer})


@with_client
def price(
    scenario: Scenario | str, *, paths: int | None = None, seed: int | None = None
) -> PriceResult:
    """Price the scenario's [transfer] (see the module's docstring)."""
    from ipabs.api import load, simulate

    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    t = sc.transfer
    if t is None:
        raise UserError("the scenario has no [transfer] table: nothing to price")
    n_paths = paths if paths is not None else sc.simulation.paths

    def run(s: Scenario):
        return simulate(s, paths=n_paths, seed=seed, sample_paths=n_paths, progress=False)

    full = run(sc)
    times = np.asarray(full.deal.t_years)
    par = float(sum(x.balance for x in sc.loans))
    cash, fee, share = _buyer_cash(full, t)

    if t.price is not None:
        target = t.price * par

        def gap(y):
            return float((cash @ _discount_factors(times, flat=y)).mean()) - target

        try:
            y = brentq(gap, -0.99, 10.0, xtol=1e-12)
        except ValueError:
            raise UserError(
                f"no yield between -99% and 1000% gives a price of {t.price:.4f} of par"
            ) from None
        df = _discount_factors(times, flat=y)
    elif t.required_yield is not None:
        y = t.required_yield
        df = _discount_factors(times, flat=y)
    else:
        y = None
        df = _discount_factors(times, curve=t.curve, spread=t.spread)

    pv = cash @ df
    value = float(pv.mean())
    value_se = float(pv.std(ddof=1) / np.sqrt(pv.size)) if pv.size > 1 else 0.0

    # decomposition on the same paths
    def mean_pv(s: Scenario) -> float:
        raw_cash = run(s).raw.sample_pool_income
        return float((raw_cash @ df).mean())

    contractual = mean_pv(_contractual(sc))
    no_defaults = mean_pv(_no_defaults(sc).model_copy(update={"loss_sharing": ()}))
    unsupported = mean_pv(sc.model_copy(update={"loss_sharing": ()}))
    supported = float((full.raw.sample_pool_income @ df).mean())
    servicing = float((fee @ df).mean())
    retained = float((share @ df).mean())
    parts = [
        ("par", par),
        ("rate effect (contractual cash flows at the buyer's yield, less par)", contractual - par),
        ("prepayment and renewal", no_defaults - contractual),
        ("expected credit loss", -(no_defaults - unsupported)),
        (
            "loss-sharing support (guarantee, risk compensation fund, insurance)",
            supported - unsupported,
        ),
        ("servicing kept by the seller", -servicing),
        ("seller's share of losses", retained),
    ]
    decomposition = pd.DataFrame(parts, columns=["component", "amount"])
    decomposition["share_of_par"] = decomposition["amount"] / par
    total = float(decomposition["amount"].sum())
    decomposition.loc[len(decomposition)] = ["price", total, total / par]

    qs = np.asarray(t.quantiles)
    pv_q = np.quantile(pv, qs)
    loss = value - pv  # the buyer's loss against the price paid, per path
    distribution = pd.DataFrame(
        {
            "quantile": qs,
            "pv": pv_q,
            "pv_pct_of_par": 100 * pv_q / par,
            "buyer_loss": np.quantile(loss, qs),
        }
    )
    return PriceResult(
        form=t.form,
        par=par,
        price=value,
        price_se=value_se,
        yield_=y,
        decomposition=decomposition,
        distribution=distribution,
        paths=n_paths,
    )
