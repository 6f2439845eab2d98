"""Compile IP-pledged loans and the loss-sharing layers to flat arrays for the loan kernel.

Equations in docs/model.md, section 3.8. N loans, K periods, A assets, M layers.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np

from ipabs.calendar import TimeGrid, add_months
from ipabs.pool.assets import resolve_asset
from ipabs.pool.compile import _asset_columns
from ipabs.pool.default_times import cumulative_probability, thresholds
from ipabs.pool.disposal import BUYOUT, METHOD_CODES, PAYMENT_CODES, TAKE_IN_KIND
from ipabs.pool.lpr import loan_lpr, path_at
from ipabs.pool.seasoning import absorption_probability, accrued_interest, maturity_date, risk_state
from ipabs.pool.valuation import remaining_value_factors
from ipabs.scenario.model import (
    Guarantee,
    Insurance,
    ReGuarantee,
    RiskCompensationFund,
    Scenario,
    layer_names,
)

AMORTISATION_CODES = {"bullet": 0, "interest_only": 1, "level": 2, "custom": 3}
LAYER_CODES = {"guarantee": 0, "risk_compensation_fund": 1, "insurance": 2, "re_guarantee": 3}


class LoanArrays(NamedTuple):
    """Period k is collection period k (docs/model.md, section 1), paid out on payment date k."""

    balance0: np.ndarray  # (N,) at the cut-off date
    accrued0: np.ndarray  # (N,) interest accrued at the cut-off date (seasoned loans), paid with
    # the first interest, or part of the exposure at default
    rate: (
        np.ndarray
    )  # (K, N) annual rate in period k (fixed, or the LPR under the loan's repricing + spread)
    accrual: np.ndarray  # (K, N) accrual fraction of period k in the loan's day count
    amortisation: np.ndarray  # (N,) int code
    scheduled_principal: np.ndarray  # (K, N) level or custom principal, original schedule
    maturity_period: np.ndarray  # (N,) int: period of maturity; K or more if after legal final
    term_periods: np.ndarray  # (N,) int: periods a renewal adds
    threshold: np.ndarray  # (K, N) default threshold F^-1(P_n(t_k)), cumulative from cut-off
    prepay_prob: np.ndarray  # (K, N)
    renewal_prob: np.ndarray  # (N,)
    factor: np.ndarray  # (N,) int
    loading: np.ndarray  # (N,)
    idiosyncratic: np.ndarray  # (N,)
    given_value: np.ndarray  # (N,) pledge valuation if given, else -1 (simulated pledged assets)
    pledge_start: np.ndarray  # (N + 1,) CSR pointers into pledge_asset
    pledge_asset: np.ndarray  # (P,) asset indices
    asset_value_factor: np.ndarray  # (K, A) income factor of the remaining value at t_k
    asset_fee_pv: np.ndarray  # (K, A) pre-paid fee PV from t_k
    asset_base: np.ndarray  # (A,)
    haircut: np.ndarray  # (N,)
    lag_periods: np.ndarray  # (N,) int
    floor: np.ndarray  # (N,) buy-out floor, 0 if none
    layer_kind: np.ndarray  # (M,) int code, in the order applied
    layer_share: np.ndarray  # (M,)
    layer_cap: np.ndarray  # (M,) per-loan cap (an insurer's limit); inf if none
    layer_deductible: np.ndarray  # (M,) insurance deductible
    layer_first_period: np.ndarray  # (M,) int: first default period covered (insurance)
    layer_last_period: np.ndarray  # (M,) int: last default period covered (insurance)
    layer_needs_ip_lost: np.ndarray  # (M,) bool: pays only if a pledged right was lost first
    layer_budget: np.ndarray  # (M,) a fund's annual budget, another layer's annual cap; inf if none
    layer_calendar: np.ndarray  # (M,) bool: its budget years are calendar (fiscal) years
    layer_original: np.ndarray  # (M,) bool: the share applies to the original loss (pro rata)
    layer_principal: np.ndarray  # (M,) bool: the layer covers the principal part of the loss
    layer_guarantor: np.ndarray  # (M,) int: the layer's counterparty (guarantor, or insurer that
    # can default) index; -1 if none
    layer_lag: np.ndarray  # (M,) int: claim lag in periods from default; -1: the default timing
    layer_target: np.ndarray  # (M,) int: a re-guarantee's guarantee layer; -1 if none
    layer_premium: np.ndarray  # (M,) an insurer's annual premium rate on the performing balance
    guarantor_threshold: np.ndarray  # (K, G) cumulative default threshold of each counterparty
    # (-inf: never); G >= 1: counterparty 0 is the first guarantee, or a placeholder that never
    # defaults, so its latent is always drawn (common random numbers); then the other guarantees,
    # then the insurers with a default probability, in layer order
    guarantor_factor: np.ndarray  # (G,) int
    guarantor_loading: np.ndarray  # (G,)
    calendar_year: np.ndarray  # (K + lags,) int: calendar year of payment date k less closing's
    # disposal (ipabs.pool.disposal; docs/model.md 3.8): the method of each loan, the deal's
    # auction and holding-institution (收储) terms, lags in periods
    disposal_method: np.ndarray  # (N,) int: 0 haircut, 1 auction, 2 buyout_operate
    auction_rounds: int
    auction_start: float  # first round's price, share of the pledge value
    auction_cut: float  # each later round's price cut
    auction_sale_prob: np.ndarray  # (R,) probability that round r sells (the last: later ones)
    auction_first_lag: int  # periods from default to round 1
    auction_round_lag: int  # periods between rounds
    auction_cost_share: float
    auction_cost_fixed: float
    auction_fallback: int  # 0 take in kind, 1 buyout
    in_kind_haircut: float
    in_kind_lag: int
    buyer_price_share: float
    buyer_payment: int  # 0 lump sum, 1 instalments, 2 income share
    buyer_n_payments: int  # instalments or income-sharing periods
    buyer_income_share: float
    buyer_lag: int  # periods from default to the purchase (buyout_operate)
    buyer_threshold: np.ndarray  # (K, 1) the buyer's cumulative default threshold
    buyer_factor: int
    buyer_loading: float
    buyer_capacity: float  # pledge value taken in per year from closing; inf: no limit
    asset_income_weight: np.ndarray  # (K, A) base * dt * share of the period before income ends
    n_budget_years: int  # rows of the per-path fund budget scratch
    periods_per_year: int
    participation: np.ndarray  # (N,) the pool's share of each loan (共贷); 1 if not co-lent; the
    # amounts above are the pool's share already, a simulated pledge value is scaled in the kernel
    subsidy_share: np.ndarray  # (S,) each interest subsidy's share of the interest
    subsidy_rate: np.ndarray  # (S,) its annual rate on the performing balance
    subsidy_budget: np.ndarray  # (S,) its annual budget; inf if none
    subsidy_calendar: np.ndarray  # (S,) bool: its budget years are calendar years
    subsidy_lag: np.ndarray  # (S,) int: periods from the interest's period to its payment
    n_subsidised: int  # the subsidies accrue on entries 0 .. n_subsidised - 1: the [[loans]], not
    # the leases and receivables appended after them (ipabs.pool.leases)


def _period_probability(annual: np.ndarray, dt_years: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # a probability of 1 gives log(0) = -inf and q = 1
        return -np.expm1(np.log1p(-annual) * dt_years)


def _curve_hazard(curve: tuple[float, ...], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Default probability over [start, end] (years from the pool's time zero, element-wise)
    for a per-year curve of annual PDs (piecewise constant hazard); start = 0 gives the
    cumulative curve."""
    with np.errstate(divide="ignore"):
        hazard = -np.log1p(-np.asarray(curve, float))  # per year; inf where PD = 1
    years = np.arange(len(curve))
    covered = np.clip(end[:, None] - years[None, :], 0.0, 1.0) - np.clip(
        start[:, None] - years[None, :], 0.0, 1.0
    )
    covered[:, -1] = np.maximum(end - years[-1], 0.0) - np.maximum(start - years[-1], 0.0)
    with np.errstate(invalid="ignore"):
        integrated = np.where(covered > 0, covered * hazard[None, :], 0.0).sum(axis=1)
    return -np.expm1(-integrated)


def lpr_at(sc: Scenario, dates: list[dt.date]) -> np.ndarray:
    """The 1-year LPR in force on each date (the first point also applies before it)."""
    return path_at(sc.rates.lpr_1y, dates)


def _day_counts(sc: Scenario) -> list:
    return [loan.day_count or sc.deal.day_count for loan in sc.loans]


def loan_accrual(sc: Scenario, grid: TimeGrid) -> np.ndarray:
    """(K, N) each loan's accrual fraction over each collection period, in its day count
    (`loan.day_count`, else the deal's)."""
    day_counts = np.array([loan.day_count or sc.deal.day_count for loan in sc.loans], dtype=object)
    out = np.empty((grid.n_periods, len(sc.loans)))
    for day_count in set(day_counts):
        out[:, day_counts == day_count] = grid.pool_accrual_for(day_count)[:, None]
    return out


def compile_loans(sc: Scenario, grid: TimeGrid) -> LoanArrays:
    """The loans on the collection periods: balances, terms and default curves run from the
    cut-off date (grid.pool_t_years); a scheduled or maturing payment falls in the collection
    period that holds its date."""
    dates = list(grid.collection_ends)
    t_years, dt_years = grid.pool_t_years, grid.pool_dt_years
    n_periods = len(dates)
    loans = sc.loans
    pool_start = sc.deal.pool_start  # the pool's time zero: the cut-off date, else closing
    per_year = sc.deal.payment_frequency.per_year
    dof = sc.factors.degrees_of_freedom if sc.factors.copula == "student_t" else 0
    starts = list(grid.collection_starts)
    asset_index = {a.id: i for i, a in enumerate(sc.assets)}
    n = len(loans)

    rate = np.zeros((n_periods, n))
    scheduled = np.zeros((n_periods, n))
    threshold = np.zeros((n_periods, n))
    prepay = np.zeros((n_periods, n))
    maturity = np.zeros(n, dtype=np.int64)
    term_periods = np.zeros(n, dtype=np.int64)
    lpr_cache: dict = {}
    for j, loan in enumerate(loans):
        if loan.rate_type == "fixed":
            rate[:, j] = loan.rate
        else:
            rate[:, j] = loan_lpr(sc, loan, starts, dates, lpr_cache) + loan.spread
        due = maturity_date(loan, pool_start)
        later = [k for k, d in enumerate(dates) if d >= due]
        if not later and due <= sc.deal.legal_final_date:
            # due after the last collection period ends (a collection lag, or legal final rolled
            # back to a business day) but by legal final: collected at the final payment
            later = [n_periods - 1]
        maturity[j] = (
            later[0] if later else n_periods + math.ceil((due - dates[-1]).days / 365 * per_year)
        )
        term_periods[j] = max(1, round(loan.contract_term_years * per_year))
        if loan.amortisation == "level":
            m = int(maturity[j]) + 1  # payments in periods 0..maturity
            i = rate[0, j] / per_year  # the rate of the first period
            balance = loan.balance
            # annuity payment; below 1e-12 a period the formula loses all precision (0/0)
            payment = balance / m if i < 1e-12 else balance * i / -math.expm1(-m * math.log1p(i))
            for k in range(min(m, n_periods)):
                principal = payment - balance * i
                scheduled[k, j] = principal
                balance -= principal
        elif loan.amortisation == "custom":
            for item in loan.schedule or ():
                k = next((k for k, d in enumerate(dates) if d >= item.date), None)
                if k is not None:
                    scheduled[k, j] += item.principal
        # cumulative default probability from the cut-off to each period's end (Li's default time)
        state = risk_state(loan)
        if state is not None:  # the roll-rate chain from the loan's state (3.8)
            cumulative = absorption_probability(sc.roll_rates, state, t_years)
        elif loan.default_probability_curve is not None:
            cumulative = _curve_hazard(
                loan.default_probability_curve, np.zeros_like(t_years), t_years
            )
        else:
            cumulative = cumulative_probability([loan.annual_default_probability], t_years)[:, 0]
        threshold[:, j] = thresholds(cumulative, dof)
        if loan.defaulted or state == 4:
            threshold[:, j] = np.inf  # defaults in the first period, whatever the draw
        prepay[:, j] = _period_probability(np.full(n_periods, loan.prepayment_rate), dt_years)

    pledge_start = np.zeros(n + 1, dtype=np.int64)
    pledge_asset = []
    given = np.full(n, -1.0)
    for j, loan in enumerate(loans):
        if loan.collateral_value is not None:
            given[j] = loan.collateral_value
        elif loan.ltv is not None:
            given[j] = loan.balance / loan.ltv
        # the pledged rights are tracked even under a given valuation (IP-risk insurance needs them)
        pledge_asset += [asset_index[a] for a in loan.pledged_assets]
        pledge_start[j + 1] = len(pledge_asset)

    n_assets = len(sc.assets)
    value_factor = np.zeros((n_periods, n_assets))
    fee_pv = np.zeros((n_periods, n_assets))
    for i in sorted(set(pledge_asset)):
        value_factor[:, i], fee_pv[:, i] = remaining_value_factors(
            sc.assets[i], pool_start, sc.valuation.discount_rate, t_years
        )

    kinds, shares, caps, deductibles = [], [], [], []
    first_k, last_k, needs_ip_lost = [], [], []
    budgets, calendar, original, principal, guarantor = [], [], [], [], []
    claim_lags, targets, premiums = [], [], []
    g_thresholds, g_factors, g_loadings = [], [], []
    insurers: list[tuple[int, Insurance]] = []
    names = layer_names(sc.loss_sharing)

    def counterparty(probability: float, factor: str | None, loading: float) -> int:
        g_thresholds.append(thresholds(cumulative_probability([probability], t_years), dof)[:, 0])
        g_factors.append(sc.factor_index(factor))
        g_loadings.append(loading)
        return len(g_thresholds) - 1

    for m, layer in enumerate(sc.loss_sharing):
        kinds.append(LAYER_CODES[layer.kind])
        shares.append(layer.share)
        deductibles.append(layer.deductible if isinstance(layer, Insurance) else 0.0)
        original.append(getattr(layer, "share_of", "remaining") == "original")
        principal.append(getattr(layer, "basis", "exposure") == "principal")
        claim_lags.append(
            -1
            if layer.claim_lag_months is None
            else math.ceil(layer.claim_lag_months * per_year / 12)
        )
        targets.append(names.index(layer.guarantee) if isinstance(layer, ReGuarantee) else -1)
        premiums.append(layer.premium_rate if isinstance(layer, Insurance) else 0.0)
        first, last, ip_lost = 0, 1 << 30, False
        if isinstance(layer, Insurance):
            # a default in period k happens between the collection period's start and end
            if layer.covered_from is not None:
                first = next((k for k, d in enumerate(dates) if d > layer.covered_from), n_periods)
            if layer.covered_until is not None:
                last = next(
                    (k for k, d in enumerate(dates) if d >= layer.covered_until), n_periods - 1
                )
            ip_lost = layer.covered_events[0] == "default_after_ip_lost"
            if layer.insurer_default_probability > 0.0:
                insurers.append((m, layer))
        first_k.append(first)
        last_k.append(last)
        needs_ip_lost.append(ip_lost)
        g = -1
        if isinstance(layer, Insurance):
            cap = layer.limit
        else:
            cap = layer.per_loan_cap
        if isinstance(layer, RiskCompensationFund):
            budget = layer.annual_budget
        else:
            budget = layer.annual_cap
        if isinstance(layer, Guarantee):
            g = counterparty(
                layer.guarantor_default_probability, layer.factor, layer.factor_loading
            )
        caps.append(math.inf if cap is None else cap)
        budgets.append(math.inf if budget is None else budget)
        calendar.append(layer.budget_year == "calendar")
        guarantor.append(g)
    if not g_thresholds:  # a placeholder guarantor that never defaults and pays nothing
        counterparty(0.0, None, 0.0)
        g_thresholds[0] = np.full(n_periods, -np.inf)
    # the insurers that can default, after the guarantors: their latents are drawn after every
    # other, and only for them (a deal without one keeps its draws)
    for m, layer in insurers:
        guarantor[m] = counterparty(
            layer.insurer_default_probability, layer.factor, layer.factor_loading
        )

    lag_periods = np.array(
        [math.ceil(loan.disposal_lag_months * per_year / 12) for loan in loans], dtype=np.int64
    )
    # the calendar (fiscal) year of each payment date, the dates after legal final extended by
    # the payment frequency, counted from closing's year
    subsidies = sc.interest_subsidies
    subsidy_lag = [math.ceil(x.lag_months * per_year / 12) for x in subsidies]
    reach = max(
        int(lag_periods.max(initial=0)),
        _disposal_reach(sc),
        max(claim_lags, default=0),
        max(subsidy_lag, default=0),
    )
    n_pay = n_periods + reach + 1
    step = 12 // per_year
    pay_dates = list(grid.dates) + [
        add_months(grid.dates[-1], step * j) for j in range(1, n_pay - len(grid.dates) + 1)
    ]
    calendar_year = np.array([d.year - grid.closing.year for d in pay_dates], dtype=np.int64)
    n_budget_years = max((n_periods + 240) // per_year + 2, int(calendar_year.max()) + 1)

    loading = np.array([loan.factor_loading for loan in loans])
    disposal = _disposal_terms(sc, grid, dof)
    # a co-lent loan (共贷): the pool holds `participation` of every amount (x 1.0 otherwise)
    share = np.array([loan.participation for loan in loans])
    given = np.where(given >= 0.0, given * share, given)
    return LoanArrays(
        balance0=np.array([loan.balance for loan in loans]) * share,
        accrued0=np.array(
            [
                accrued_interest(loan, pool_start, per_year, rate[0, j], day_count)
                for j, (loan, day_count) in enumerate(zip(loans, _day_counts(sc), strict=True))
            ]
        )
        * share,
        rate=np.ascontiguousarray(rate),
        accrual=loan_accrual(sc, grid),
        amortisation=np.array(
            [AMORTISATION_CODES[loan.amortisation.value] for loan in loans], dtype=np.int64
        ),
        scheduled_principal=np.ascontiguousarray(scheduled * share[None, :]),
        maturity_period=maturity,
        term_periods=term_periods,
        threshold=np.ascontiguousarray(threshold),
        prepay_prob=np.ascontiguousarray(prepay),
        renewal_prob=np.array([loan.renewal_probability for loan in loans]),
        factor=np.array([sc.factor_index(loan.factor) for loan in loans], dtype=np.int64),
        loading=loading,
        idiosyncratic=np.sqrt(1.0 - loading**2),
        given_value=given,
        pledge_start=pledge_start,
        pledge_asset=np.array(pledge_asset, dtype=np.int64),
        asset_value_factor=np.ascontiguousarray(value_factor),
        asset_fee_pv=np.ascontiguousarray(fee_pv),
        asset_base=np.array([a.base_annual_income for a in sc.assets]),
        haircut=np.array([loan.disposal_haircut for loan in loans]),
        lag_periods=lag_periods,
        floor=np.array([loan.buyout_floor or 0.0 for loan in loans]) * share,
        layer_kind=np.array(kinds, dtype=np.int64),
        layer_share=np.array(shares, dtype=float),
        layer_cap=np.array(caps, dtype=float),
        layer_deductible=np.array(deductibles, dtype=float),
        layer_first_period=np.array(first_k, dtype=np.int64),
        layer_last_period=np.array(last_k, dtype=np.int64),
        layer_needs_ip_lost=np.array(needs_ip_lost, dtype=np.bool_),
        layer_budget=np.array(budgets, dtype=float),
        layer_calendar=np.array(calendar, dtype=np.bool_),
        layer_original=np.array(original, dtype=np.bool_),
        layer_principal=np.array(principal, dtype=np.bool_),
        layer_guarantor=np.array(guarantor, dtype=np.int64),
        layer_lag=np.array(claim_lags, dtype=np.int64),
        layer_target=np.array(targets, dtype=np.int64),
        layer_premium=np.array(premiums, dtype=float),
        guarantor_threshold=np.ascontiguousarray(np.array(g_thresholds).T),
        guarantor_factor=np.array(g_factors, dtype=np.int64),
        guarantor_loading=np.array(g_loadings, dtype=float),
        calendar_year=calendar_year,
        **disposal,
        n_budget_years=n_budget_years,
        periods_per_year=per_year,
        participation=share,
        subsidy_share=np.array([x.share_of_interest for x in subsidies], dtype=float),
        subsidy_rate=np.array([x.rate for x in subsidies], dtype=float),
        subsidy_budget=np.array(
            [math.inf if x.annual_budget is None else x.annual_budget for x in subsidies],
            dtype=float,
        ),
        subsidy_calendar=np.array([x.budget_year == "calendar" for x in subsidies], dtype=np.bool_),
        subsidy_lag=np.array(subsidy_lag, dtype=np.int64),
        n_subsidised=len(loans)
        - len({x.id for x in (*sc.leases, *sc.receivables)} & {x.id for x in loans}),
    )


def _periods(months: int, per_year: int) -> int:
    return math.ceil(months * per_year / 12)


def _disposal_reach(sc: Scenario) -> int:
    """At most how many periods after a default an auction or a holding institution's disposal
    settles (0 if no loan uses them): the layers' budget years are looked up that far."""
    d = sc.disposal
    if all((loan.disposal_method or d.method) == "haircut" for loan in sc.loans):
        return 0
    per_year = sc.deal.payment_frequency.per_year
    a, b = d.auction, d.buyer
    rounds = _periods(a.months_to_first_round, per_year) + (a.rounds - 1) * max(
        1, _periods(a.months_between_rounds, per_year)
    )
    buyer = 0 if b is None else _periods(b.months_to_purchase, per_year) + b.years * per_year
    return rounds + 1 + buyer + _periods(a.take_in_kind_months, per_year)


def _disposal_terms(sc: Scenario, grid: TimeGrid, dof: int) -> dict:
    """The LoanArrays fields of disposal (docs/model.md 3.8, "Disposal")."""
    per_year = sc.deal.payment_frequency.per_year
    t_years = grid.pool_t_years
    n_periods = len(t_years)
    d = sc.disposal
    a, b = d.auction, d.buyer
    methods = [loan.disposal_method or d.method for loan in sc.loans]
    income = np.zeros((n_periods, len(sc.assets)))
    if b is not None and b.payment == "income_share":
        pledged = {x for loan in sc.loans for x in loan.pledged_assets}
        for i, asset in enumerate(sc.assets):
            if asset.id in pledged:
                resolved = resolve_asset(asset, sc.deal.pool_start)
                columns = _asset_columns(
                    resolved, asset.base_annual_income, t_years, grid.pool_dt_years
                )
                income[:, i] = columns["weight"]
    buyer_pd = 0.0 if b is None else b.default_probability
    return {
        "disposal_method": np.array([METHOD_CODES[m] for m in methods], dtype=np.int64),
        "auction_rounds": a.rounds,
        "auction_start": a.start_price,
        "auction_cut": a.price_cut,
        "auction_sale_prob": np.array(a.sale_probability, dtype=float),
        "auction_first_lag": _periods(a.months_to_first_round, per_year),
        "auction_round_lag": max(1, _periods(a.months_between_rounds, per_year)),
        "auction_cost_share": a.cost_share,
        "auction_cost_fixed": a.cost_fixed,
        "auction_fallback": BUYOUT if a.fallback == "buyout" else TAKE_IN_KIND,
        "in_kind_haircut": a.take_in_kind_haircut,
        "in_kind_lag": _periods(a.take_in_kind_months, per_year),
        "buyer_price_share": 0.0 if b is None else b.price_share,
        "buyer_payment": PAYMENT_CODES["lump_sum" if b is None else b.payment],
        "buyer_n_payments": 0 if b is None else b.years * per_year,
        "buyer_income_share": 0.0 if b is None else b.income_share,
        "buyer_lag": 0 if b is None else _periods(b.months_to_purchase, per_year),
        "buyer_threshold": np.ascontiguousarray(
            thresholds(cumulative_probability([buyer_pd], t_years), dof)
        ),
        "buyer_factor": 0 if b is None else sc.factor_index(b.factor),
        "buyer_loading": 0.0 if b is None else b.factor_loading,
        "buyer_capacity": math.inf
        if b is None or b.annual_capacity is None
        else float(b.annual_capacity),
        "asset_income_weight": np.ascontiguousarray(income),
    }
