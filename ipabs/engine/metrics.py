"""Per-path investor metrics, computed in the kernel from one path's tranche cash flows.

Conventions (docs/model.md, section "Metrics"): times t_k are ACT/365F years from closing; rates
are annual effective, so a cash flow at t_k is discounted by (1 + z_k)^-t_k, with z_k the flat
discount rate or the zero curve at t_k, plus the spread.
    price         P = sum_k CF_k (1 + z_k)^-t_k             (per unit of original balance: x100 = % of par)
    duration      D_mod = sum_k t_k / (1 + z_k) CF_k (1 + z_k)^-t_k / P   (a parallel shift of z)
    IRR           y solves sum_k CF_k (1 + y)^-t_k = B0      (buying at par at closing)
    WAL           sum_k t_k PRIN_k / sum_k PRIN_k            (principal actually received)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ipabs.engine.exp import exp_into

_IRR_TOL = 1e-12


def zero_rates(t_years, *, flat=None, curve=None, spread=0.0) -> np.ndarray:
    """z_k: the flat rate, or the zero curve (points with `tenor_years` and `rate`; linear in
    tenor, flat outside it) at each t_k; plus the spread."""
    t_years = np.asarray(t_years, dtype=float)
    if curve is None:
        return np.full(t_years.shape, flat + spread)
    tenors = np.array([c.tenor_years for c in curve])
    rates = np.array([c.rate for c in curve])
    return np.interp(t_years, tenors, rates) + spread


def pricing_factors(
    t_years, pricing, class_names, per_year: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(discount factors, duration weights -(dDF/dz)/DF), each (T, K), for `[pricing]`: class j
    takes its `class_spreads` entry, or `spread`. `pricing.compounding`:

    - "annual" (the default): DF = (1 + z)^-t, weight t / (1 + z);
    - "interbank": China's interbank (ChinaBond) convention at issue: the rate compounds once a
      coupon period at the deal's payment frequency f and time counts in coupon periods, so the
      k-th payment date discounts by (1 + z/f)^-k (weight (k/f) / (1 + z/f)); a deal in its final
      coupon period (one payment date) takes simple interest, 1 / (1 + z t) (weight
      t / (1 + z t)), t in ACT/365F years. The schedule is regular from closing (calendar.py), so
      the periods are whole.
    """
    rows = []
    for name in class_names:
        spread = pricing.spread_of(name)
        rows.append(
            zero_rates(t_years, flat=pricing.discount_rate, curve=pricing.curve, spread=spread)
        )
    z = np.array(rows).reshape(len(class_names), len(t_years))
    t = np.broadcast_to(np.asarray(t_years, dtype=float), z.shape)
    if getattr(pricing, "compounding", "annual") == "annual":
        return (1.0 + z) ** (-t), t / (1.0 + z)
    f = float(per_year)
    if t.shape[1] == 1:  # the final coupon period: simple interest
        return 1.0 / (1.0 + z * t), t / (1.0 + z * t)
    periods = np.broadcast_to(np.arange(1, t.shape[1] + 1, dtype=float), z.shape)
    return (1.0 + z / f) ** (-periods), (periods / f) / (1.0 + z / f)


@njit(cache=True, error_model="numpy")
def newton_start(total, timed, timed2, price, lo, hi):
    """The IRR's first guess u0 for u = ln(1+y), in [lo, hi], from total = sum CF, timed =
    sum CF t and timed2 = sum CF t^2: the root of ln pv(u) to second order in u. With the
    cash-weighted mean time m and variance v of the payment times, ln pv(u) = ln total - u m +
    u^2 v / 2 + O(u^3) (the cumulants of the times), so u0 = 2c / (m + sqrt(m^2 - 2 v c)),
    c = ln(total / price); exact for a single cash flow (v = 0: u0 = c / m), and about one
    Newton step fewer than the first-order start c / m on the standard deal (2.0 against 2.9
    steps a tranche). c / m where that root is not real or c is infinite (total / price over-
    or underflows); 0 without a timed flow; lo or hi outside the bracket, 0 for a NaN (0 / 0 at
    floating point's extremes)."""
    if not timed > 0.0:
        return 0.0
    mean = timed / total
    variance = max(timed2 / total - mean * mean, 0.0)
    c = np.log(total / price)
    disc = mean * mean - 2.0 * variance * c
    u = 2.0 * c / (mean + np.sqrt(disc)) if disc > 0.0 and abs(c) < np.inf else c / mean
    if lo < u < hi:
        return u
    return lo if u <= lo else (hi if u >= hi else 0.0)


@njit(cache=True, error_model="numpy")
def irr(cash_flows, t_years, price):
    """Annual effective y with sum_k CF_k (1+y)^-t_k = price, for CF_k >= 0 and price > 0.

    The present value falls strictly in y, so the root is unique; Newton's method safeguarded by
    bisection on ln(1+y). Returns -1.0 (a total loss) when every cash flow is zero. The discount
    factors of an iteration are taken in one vectorised pass (ipabs.engine.exp).
    """
    total = 0.0
    timed = 0.0
    timed2 = 0.0
    for k in range(cash_flows.shape[0]):
        total += cash_flows[k]
        timed += cash_flows[k] * t_years[k]
        timed2 += (cash_flows[k] * t_years[k]) * t_years[k]
    if total <= 0.0:
        return -1.0
    # work in u = ln(1+y): pv(u) = sum CF exp(-u t) is smooth, decreasing and convex
    lo, hi = -50.0, 50.0
    u = newton_start(total, timed, timed2, price, lo, hi)
    n = cash_flows.shape[0]
    exponent = np.empty(n)
    factor = np.empty(n)
    for _ in range(200):
        for k in range(n):
            exponent[k] = -u * t_years[k]
        exp_into(exponent, factor)
        pv = 0.0
        slope = 0.0
        for k in range(n):
            w = cash_flows[k] * factor[k]
            pv += w
            slope -= t_years[k] * w
        f = pv - price
        if abs(f) <= _IRR_TOL * price:
            break
        if f > 0.0:
            lo = u
        else:
            hi = u
        step = u - f / slope if slope < 0.0 else 0.5 * (lo + hi)
        u = step if lo < step < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-15:
            break
    return np.expm1(u)


@njit(cache=True)
def tranche_path_metrics(cash_flows, principal, t_years, discount, balance0, duration_weight):
    """(wal_years, irr, pv, duration numerator sum t/(1+z) CF DF) for one tranche on one path."""
    principal_total = 0.0
    principal_time = 0.0
    pv = 0.0
    pv_time = 0.0
    for k in range(cash_flows.shape[0]):
        principal_total += principal[k]
        principal_time += t_years[k] * principal[k]
        w = cash_flows[k] * discount[k]
        pv += w
        pv_time += duration_weight[k] * w
    wal = principal_time / principal_total if principal_total > 0.0 else np.nan
    return wal, irr(cash_flows, t_years, balance0), pv, pv_time
