"""Price a transfer of IP-pledged loans from the buyer's simulated cash flows.

The buyer's cash flow on path p in period k is the loans' collections (interest, principal,
prepayments, recoveries and loss-sharing payments); in an income-right transfer less the
seller's servicing fee on the performing balance, plus the seller's share of each loss. Its
present value at the buyer's yield (flat, or a zero curve plus spread) is the path's price; the
price is their mean. The decomposition runs the same paths (common random numbers) with parts
switched off, so that its terms add up to the price exactly:

    price = par + accrued interest + rate effect + prepayment and renewal - expected credit loss
            + loss-sharing support - servicing + seller's risk share

The price is dirty (it pays for the interest accrued at transfer, which the buyer collects);
clean = dirty - accrued interest. The seller's side: the registration fee (unless waived), its
capital before and after (an income-right transfer relieves none, 银监办发〔2016〕82号) and what
the transfer earns it (docs/model.md, section 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ipabs.engine.distribute import with_client
from ipabs.engine.metrics import zero_rates
from ipabs.errors import UserError
from ipabs.scenario.model import Scenario, layer_names


@dataclass(frozen=True)
class SellerCapital:
    """The seller's capital and economics of the transfer (docs/model.md 7), in currency."""

    book_value: float  # carrying amount: book_value share of principal + accrued interest
    capital_before: float  # capital_ratio x risk_weight x book value
    capital_after: float  # the same in an income-right transfer, 0 in a direct one
    registration_fee: float  # 0 if the transfer is on or before the waiver's end
    proceeds: float  # dirty price - registration fee
    gain_on_sale: float  # proceeds - book value
    servicing_income: float  # PV of the servicing fee kept (income right)
    risk_share_cost: float  # PV of the seller's loss share paid (income right, override)
    capital_cost_saved: float  # cost_of_capital x capital-years freed (discounted)
    seller_result: float  # gain + servicing - risk share cost + capital cost saved

    @property
    def capital_relieved(self) -> float:
        return self.capital_before - self.capital_after

    @property
    def return_on_capital_relieved(self) -> float | None:
        """seller_result / capital relieved; None when the transfer relieves no capital."""
        return self.seller_result / self.capital_relieved if self.capital_relieved > 0 else None

    def rows(self) -> list[tuple[str, float | None]]:
        return [
            ("book value (principal carried + accrued interest)", self.book_value),
            ("capital held before", self.capital_before),
            ("capital held after", self.capital_after),
            ("capital relieved", self.capital_relieved),
            ("registration fee", self.registration_fee),
            ("proceeds (dirty price - fee)", self.proceeds),
            ("gain on sale (proceeds - book value)", self.gain_on_sale),
            ("servicing income kept (PV)", self.servicing_income),
            (
                "seller's loss share paid (PV)",
                -self.risk_share_cost if self.risk_share_cost else 0.0,
            ),
            ("cost of capital saved (PV)", self.capital_cost_saved),
            ("seller's result", self.seller_result),
        ]


@dataclass(frozen=True)
class PriceResult:
    form: str
    par: float  # loans' outstanding principal
    price: float  # expected PV of the buyer's cash flows (currency): the dirty price
    price_se: float
    yield_: float | None  # the flat yield used or solved for (None with a curve)
    decomposition: pd.DataFrame  # component, amount, share of par
    distribution: pd.DataFrame  # quantile, pv, buyer_loss
    paths: int
    accrued_interest: float = 0.0  # interest accrued at transfer, in the dirty price
    seller: SellerCapital | None = None
    warnings: tuple[str, ...] = ()
    # the loss-sharing support by layer (layer, kind, amount, share of par): each layer's
    # increment to the price when the layers are added in their order; they add up to the
    # decomposition's loss-sharing support
    layer_support: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["layer", "kind", "amount", "share_of_par"])
    )

    @property
    def price_pct(self) -> float:
        return 100.0 * self.price / self.par

    @property
    def dirty(self) -> float:
        return self.price

    @property
    def clean(self) -> float:
        return self.price - self.accrued_interest

    @property
    def clean_pct(self) -> float:
        return 100.0 * self.clean / self.par

    @property
    def accrued_pct(self) -> float:
        return 100.0 * self.accrued_interest / self.par

    def summary(self) -> dict[str, float | None]:
        """The price's figures, the seller's capital included, as one flat record."""
        out: dict[str, float | None] = {
            "par": self.par,
            "dirty_price": self.dirty,
            "dirty_price_pct_of_par": self.price_pct,
            "accrued_interest": self.accrued_interest,
            "accrued_interest_pct_of_par": self.accrued_pct,
            "clean_price": self.clean,
            "clean_price_pct_of_par": self.clean_pct,
            "price_se": self.price_se,
            "yield": self.yield_,
        }
        if self.seller is not None:
            s = self.seller
            out |= {
                "book_value": s.book_value,
                "capital_before": s.capital_before,
                "capital_after": s.capital_after,
                "capital_relieved": s.capital_relieved,
                "registration_fee": s.registration_fee,
                "proceeds": s.proceeds,
                "gain_on_sale": s.gain_on_sale,
                "servicing_income": s.servicing_income,
                "risk_share_cost": s.risk_share_cost,
                "capital_cost_saved": s.capital_cost_saved,
                "seller_result": s.seller_result,
                "return_on_capital_relieved": s.return_on_capital_relieved,
            }
        return out

    def __repr__(self) -> str:
        clean = f", clean {self.clean_pct:.3f}%" if self.accrued_interest else ""
        warn = " (WARNING: seller's loss share, against 82号文)" if self.warnings else ""
        return (
            f"<ipabs.PriceResult {self.form}: {self.price_pct:.3f}% of par "
            f"(± {100.0 * self.price_se / self.par:.3f}){clean}, {self.paths:,} paths{warn}>"
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
            ("dirty price (millions)", f"{self.price / 1e6:,.3f} ± {self.price_se / 1e6:,.3f}"),
            (
                "dirty price (% of par)",
                f"{self.price_pct:.3f} ± {100.0 * self.price_se / self.par:.3f}",
            ),
            ("accrued interest at transfer (millions)", self.accrued_interest / 1e6),
            ("clean price (millions)", self.clean / 1e6),
            ("clean price (% of par)", self.clean_pct),
            ("yield (%)", None if self.yield_ is None else 100.0 * self.yield_),
            ("paths", self.paths),
        ])  # fmt: skip
        seller = ""
        if self.seller is not None:
            rows = [(k, None if v is None else v / 1e6) for k, v in self.seller.rows()]
            roc = self.seller.return_on_capital_relieved
            rows.append(("return on capital relieved (%)", None if roc is None else 100.0 * roc))
            seller = html_table(fields_table(rows), title="The seller (millions)", index=False)
        warn = "".join(f"<p><b>Warning:</b> {w}</p>" for w in self.warnings)
        return (
            warn
            + html_table(head, title="Transfer price (value ± one standard error)", index=False)
            + html_table(parts, title="Where the price comes from", index=False)
            + seller
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
        opening = _opening_balance(res)
        if with_fee:
            fee = transfer.servicing_fee * opening * accrual[None, :]
        share = transfer.seller_risk_share * raw.sample_loan_loss
    return cash - fee + share, fee, share


def _no_defaults(sc: Scenario) -> Scenario:
    def has_state(x) -> bool:
        return x.risk_class is not None or x.days_past_due is not None

    loans = tuple(
        x.model_copy(
            update={
                "annual_default_probability": 0.0
                if x.annual_default_probability is not None or has_state(x)
                else None,
                "risk_class": None,
                "days_past_due": None,
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
    return sc.model_copy(update={"loans": loans, "loss_sharing": (), "interest_subsidies": ()})


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
    par = float(sum(x.balance * x.participation for x in sc.loans))  # the pool's share
    accrued = float(full.deal.loans.accrued0.sum())
    cash, fee, share = _buyer_cash(full, t)

    if t.price is not None:
        if accrued > 0 and t.price_basis is None:
            raise UserError(
                f"transfer.price_basis: required key is missing: the loans have "
                f"{accrued:,.2f} of interest accrued at transfer, so say whether price = "
                f'{t.price:g} is "clean" (without it) or "dirty" (with it)'
            )
        target = t.price * par + (accrued if t.price_basis == "clean" else 0.0)

        def gap(y):
            return float((cash @ _discount_factors(times, flat=y)).mean()) - target

        try:
            y = brentq(gap, -0.99, 10.0, xtol=1e-12)
        except ValueError:
            raise UserError(
                f"no yield between -99% and 1000% gives a dirty price of {target / par:.4f} of par"
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

    bare = {"loss_sharing": (), "interest_subsidies": ()}
    contractual = mean_pv(_contractual(sc))
    no_defaults = mean_pv(_no_defaults(sc).model_copy(update=bare))
    unsupported = mean_pv(sc.model_copy(update=bare))
    supported = float((full.raw.sample_pool_income @ df).mean())
    # the layers without the subsidies (the full run when there are none), and the layers up to
    # each for their increments: the later ones are kept, switched off, so every guarantor's and
    # insurer's default draw stays in place (a latent per counterparty, in layer order)
    no_subsidy = sc.model_copy(update={"interest_subsidies": ()})
    layered = mean_pv(no_subsidy) if sc.interest_subsidies else supported
    names = layer_names(sc.loss_sharing)
    rows, before = [], unsupported
    for m, layer in enumerate(sc.loss_sharing):
        last = m == len(sc.loss_sharing) - 1
        now = (
            layered
            if last
            else mean_pv(no_subsidy.model_copy(update={"loss_sharing": _layers_up_to(sc, m)}))
        )
        rows.append((names[m], layer.kind, now - before, (now - before) / par))
        before = now
    layer_support = pd.DataFrame(rows, columns=["layer", "kind", "amount", "share_of_par"])
    servicing = float((fee @ df).mean())
    retained = float((share @ df).mean())
    parts = [
        ("par", par),
        ("accrued interest at transfer", accrued),
        (
            "rate effect (contractual cash flows at the buyer's yield, less par and accrued interest)",
            contractual - par - accrued,
        ),
        ("prepayment and renewal", no_defaults - contractual),
        ("expected credit loss", -(no_defaults - unsupported)),
        (
            "loss-sharing support (guarantee, risk compensation fund, insurance)",
            layered - unsupported,
        ),
    ]
    if sc.interest_subsidies:
        parts.append(("interest subsidies (贴息)", supported - layered))
    parts += [
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
    warnings = ()
    if t.form == "income_right" and t.seller_risk_share > 0:
        warnings = (
            f"the seller bears {t.seller_risk_share:.1%} of each loss "
            "(allow_seller_risk_share): 银监办发〔2016〕82号 forbids a selling bank any explicit "
            "or implicit repurchase or guarantee of transferred income rights, so this is not a "
            "compliant 银登 income-right transfer",
        )
    opening = _opening_balance(full)
    seller = seller_capital(
        sc, dirty=value, accrued=accrued, par=par, servicing=servicing, retained=retained,
        capital_years=float(opening.mean(axis=0) * np.diff(times, prepend=0.0) @ df),
    )  # fmt: skip
    return PriceResult(
        form=t.form,
        par=par,
        price=value,
        price_se=value_se,
        yield_=y,
        decomposition=decomposition,
        distribution=distribution,
        paths=n_paths,
        accrued_interest=accrued,
        seller=seller,
        warnings=warnings,
        layer_support=layer_support,
    )


def _layers_up_to(sc: Scenario, m: int) -> tuple:
    """The loss-sharing layers with those after layer m switched off (share 0, no premium): they
    pay nothing and change no earlier layer's payment (layers apply in order), while their
    counterparties still draw their default latents, so the other layers keep theirs."""
    off = {"share": 0.0}
    return tuple(
        x
        if j <= m
        else x.model_copy(update=off | ({"premium_rate": 0.0} if x.kind == "insurance" else {}))
        for j, x in enumerate(sc.loss_sharing)
    )


def _opening_balance(res) -> np.ndarray:
    """(paths, periods) the performing balance at each period's start."""
    raw = res.raw
    n = raw.sample_pool_income.shape[0]
    first = np.full((n, 1), res.deal.loans.balance0.sum())
    return np.concatenate([first, raw.sample_performing[:, :-1]], axis=1)


def registration_fee(t, dirty: float, transfer_date) -> float:
    """registration_fee x dirty price, nothing if the transfer is on or before fee_waiver_until."""
    waived = t.fee_waiver_until is not None and transfer_date <= t.fee_waiver_until
    return 0.0 if waived else t.registration_fee * dirty


def seller_capital(
    sc: Scenario,
    *,
    dirty: float,
    accrued: float,
    par: float,
    servicing: float,
    retained: float,
    capital_years: float,
) -> SellerCapital:
    """The seller's side (docs/model.md 7): capital c w BV held before; after an income-right
    transfer the same (no derecognition, 银监办发〔2016〕82号), after a direct one none; the
    capital cost saved is h c w beta sum_k dt_k E[B_{k-1}] v(t_k) (`capital_years` the sum)."""
    t = sc.transfer
    book = t.book_value * par + accrued
    before = t.capital_ratio * t.risk_weight * book
    after = before if t.form == "income_right" else 0.0
    fee = registration_fee(t, dirty, t.transfer_date or sc.deal.pool_start)
    proceeds = dirty - fee
    saved = (
        0.0
        if t.form == "income_right"
        else t.cost_of_capital * t.capital_ratio * t.risk_weight * t.book_value * capital_years
    )
    gain = proceeds - book
    return SellerCapital(
        book_value=book,
        capital_before=before,
        capital_after=after,
        registration_fee=fee,
        proceeds=proceeds,
        gain_on_sale=gain,
        servicing_income=servicing,
        risk_share_cost=retained,
        capital_cost_saved=saved,
        seller_result=gain + servicing - retained + saved,
    )
