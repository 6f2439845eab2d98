"""Revolving period: the loans collections buy, simulated per unit of balance (docs/model.md, 4.7).

Licence receivables (buys = "licence_receivables") are the same level-amortising claim: face F
in m equal instalments bought at discount yield y costs PV_y(instalments), and per unit of that
price they pay the annuity a = i / (1 - (1 + i)^-m), i = y / periods a year; their balance is
the carrying value at y, and a default recovers recovery_rate x the unpaid instalments' face,
capped at the exposure.

A replenishment loan bought at the end of period v ("vintage" v) has the eligibility criteria's
terms. Its cash flows are linear in its balance (defaults and prepayments are events of the
path, not of the amount; the pledge is valued at balance / LTV), so each vintage is simulated
once per path for a balance of 1, and the waterfall scales it by what it actually buys.
A vintage defaults through the default-time copula (docs/model.md, 3.2 and 4.7): one latent per
vintage and path, A_v = S (a M_f + sqrt(1 - a^2) eps_v), and default in the first period k > v
with A_v < F^-1(1 - (1 - PD)^(t_k - t_v)), its cumulative PD from its purchase.
Draws: one normal per vintage from the path's latent stream, then one uniform per vintage and
later period from its period stream, always (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ipabs.calendar import TimeGrid
from ipabs.engine.rng import normal, uniform
from ipabs.pool.default_times import cumulative_probability, default_period, latent, thresholds
from ipabs.scenario.model import Scenario

AMORTISATION = ("interest_only", "level")


class RevolvingArrays(NamedTuple):
    n_vintages: int  # periods 0 .. n_vintages - 1 may buy (0: no revolving period)
    rate: float  # annual
    term_periods: int
    amortisation: int  # index into AMORTISATION
    threshold: np.ndarray  # (K, V) cumulative default threshold of vintage v by period k (-inf
    # for k <= v)
    prepay_prob: np.ndarray  # (K,)
    recovery_per_unit: float  # (1 / LTV) x (1 - haircut): disposal proceeds per unit of balance
    lag_periods: int
    factor: int
    loading: float
    idiosyncratic: float
    periods_per_year: int
    # (K,) accrual fraction of each collection period in the deal's day count (licence
    # receivables: 1 / periods_per_year, their instalments are fixed amounts)
    accrual: np.ndarray
    # licence receivables: recovery per unit of the unpaid instalments' face (0: loans, leases)
    recovery_per_instalment: float = 0.0


def no_revolving(n_periods: int) -> RevolvingArrays:
    return RevolvingArrays(
        0, 0.0, 1, 0, np.zeros((n_periods, 0)), np.zeros(n_periods), 0.0, 0, 0, 0.0, 1.0, 4,
        np.zeros(n_periods),
    )  # fmt: skip


def revolving_end_period(sc: Scenario, dates: list[dt.date]) -> int:
    """Number of payment dates that may buy: those strictly before the revolving end date."""
    if sc.revolving is None:
        return 0
    return sum(1 for d in dates if d < sc.revolving.end_date)


def compile_revolving(sc: Scenario, grid: TimeGrid) -> RevolvingArrays:
    """Vintages are bought on payment dates; their defaults, prepayments and interest run on the
    collection periods (grid.pool_t_years, from the cut-off date)."""
    dates = list(grid.dates)
    t_years, dt_years = grid.pool_t_years, grid.pool_dt_years
    n_periods = len(dates)
    rv = sc.revolving
    if rv is None:
        return no_revolving(n_periods)
    per_year = sc.deal.payment_frequency.per_year
    dof = sc.factors.degrees_of_freedom if sc.factors.copula == "student_t" else 0
    with np.errstate(divide="ignore"):
        prepay = -np.expm1(np.log1p(-rv.prepayment_rate) * dt_years)
    n_vintages = revolving_end_period(sc, dates)
    # vintage v is bought at t_v: its cumulative PD by t_k runs over t_k - t_v
    age = t_years[:, None] - t_years[None, :n_vintages]
    cumulative = cumulative_probability([rv.annual_default_probability], age.ravel()).reshape(
        age.shape
    )
    threshold = np.where(age > 0, thresholds(cumulative, dof), -np.inf)
    licence = rv.buys == "licence_receivables"
    accrual = grid.pool_accrual_for(sc.deal.day_count)
    if licence:  # equal instalments: the discount yield per period is rate / periods a year
        accrual = np.full(n_periods, 1.0 / per_year)
    return RevolvingArrays(
        n_vintages=n_vintages,
        rate=float(rv.rate),
        term_periods=max(1, round(rv.term_years * per_year)),
        amortisation=AMORTISATION.index(rv.amortisation),
        threshold=np.ascontiguousarray(threshold),
        prepay_prob=np.ascontiguousarray(prepay),
        recovery_per_unit=0.0 if licence else (1.0 - rv.disposal_haircut) / rv.ltv,
        lag_periods=math.ceil(rv.disposal_lag_months * per_year / 12),
        factor=sc.factor_index(rv.factor),
        loading=float(rv.factor_loading),
        idiosyncratic=math.sqrt(1.0 - rv.factor_loading**2),
        periods_per_year=per_year,
        accrual=accrual,
        recovery_per_instalment=float(rv.recovery_rate or 0.0) if licence else 0.0,
    )


@njit(cache=True)
def simulate_vintages_path(state, latent_state, rv, economy, default_at, cash, defaulted, loss, performing):  # fmt: skip
    """Per unit of balance bought at the end of period v: `cash[v, k]` collected in period k,
    `defaulted[v, k]` exposure at default, `loss[v, k]` exposure less recovery, and
    `performing[v, k]` the balance still performing at the end of period k (1 at k = v).
    `default_at` (scratch, V) gets each vintage's default period (-1: none)."""
    n_vintages = rv.n_vintages
    n_periods = cash.shape[1]
    i = rv.rate / rv.periods_per_year
    m = rv.term_periods
    payment = 1.0 / m if i < 1e-12 else i / -np.expm1(-m * np.log1p(i))
    for v in range(n_vintages):  # default times, drawn once per path
        a = latent(economy, rv.factor, rv.loading, rv.idiosyncratic, normal(latent_state))
        default_at[v] = default_period(a, rv.threshold, v)
    for v in range(n_vintages):
        for k in range(n_periods):
            cash[v, k] = 0.0
            defaulted[v, k] = 0.0
            loss[v, k] = 0.0
            performing[v, k] = 0.0
        performing[v, v] = 1.0
        balance = 1.0
        for k in range(v + 1, n_periods):
            u = uniform(state)
            if balance <= 0.0:
                continue
            interest = balance * rv.rate * rv.accrual[k]
            if default_at[v] == k:
                exposure = balance + interest
                # a licence receivable's unpaid instalments: those due in periods k .. v + m
                unpaid = (v + m - k + 1) * payment
                recovered = rv.recovery_per_unit * balance + rv.recovery_per_instalment * unpaid
                recovery = min(recovered, exposure)
                defaulted[v, k] = exposure
                loss[v, k] = exposure - recovery
                if k + rv.lag_periods < n_periods:
                    cash[v, k + rv.lag_periods] += recovery
                balance = 0.0
                continue
            if u < rv.prepay_prob[k] or k - v >= m:  # prepaid, or repaid at maturity
                cash[v, k] += balance + interest
                balance = 0.0
                continue
            principal = 0.0
            if rv.amortisation == 1:  # level: the annuity's principal part
                principal = min(payment - balance * i, balance)
            cash[v, k] += interest + principal
            balance -= principal
            performing[v, k] = balance
