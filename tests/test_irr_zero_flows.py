"""The IRR's Newton iterations run over the dates with a cash flow only (ipabs.engine.metrics.irr):
a zero cash flow adds exactly +0.0 to the present value and its slope, so leaving it out must
keep every bit."""

from __future__ import annotations

import numpy as np
from numba import njit

from ipabs.engine.exp import exp_into
from ipabs.engine.metrics import _IRR_TOL, irr


@njit(error_model="numpy")
def irr_every_date(cash_flows, t_years, price):
    """The IRR as it was before the zero dates were left out: the same Newton iterations over
    every date (ipabs 2551db5, ipabs/engine/metrics.py)."""
    total = 0.0
    timed = 0.0
    for k in range(cash_flows.shape[0]):
        total += cash_flows[k]
        timed += cash_flows[k] * t_years[k]
    if total <= 0.0:
        return -1.0
    lo, hi = -50.0, 50.0
    u = min(max(np.log(total / price) / (timed / total), lo), hi) if timed > 0.0 else 0.0
    n = cash_flows.shape[0]
    exponent = np.empty(n)
    factor = np.empty(n)
    scale_bits = np.empty(n, np.int64)
    for _ in range(200):
        for k in range(n):
            exponent[k] = -u * t_years[k]
        exp_into(exponent, factor, scale_bits)
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


def test_single_cash_flow_among_zeros_is_the_closed_form():
    # 110 paid at t = 3 for 100: (1 + y)^3 = 1.1, y = 1.1^(1/3) - 1 = 0.0322801...
    y = irr(np.array([0.0, 0.0, 110.0, 0.0]), np.array([1.0, 2.0, 3.0, 4.0]), 100.0)
    assert abs(y - (1.1 ** (1.0 / 3.0) - 1.0)) < 1e-12


def test_two_cash_flows_by_hand():
    # 50 at t = 1 and 60 at t = 2 for 100, zeros between: with v = 1/(1+y),
    # 60 v^2 + 50 v - 100 = 0, v = (-50 + sqrt(2500 + 24000)) / 120, y = 1/v - 1 = 0.063890...
    v = (-50.0 + np.sqrt(26500.0)) / 120.0
    y = irr(np.array([0.0, 50.0, 0.0, 60.0]), np.array([0.5, 1.0, 1.5, 2.0]), 100.0)
    assert abs(y - (1.0 / v - 1.0)) < 1e-12


def test_nothing_paid_is_a_total_loss():
    assert irr(np.zeros(5), np.arange(1.0, 6.0), 100.0) == -1.0


def test_zeros_change_no_bit():
    # random cash flows with many zeros: the same bits as the iterations over every date, and as
    # the same flows without their zero dates
    rng = np.random.default_rng(19)
    t = np.cumsum(rng.uniform(0.05, 0.3, 120))
    for _ in range(200):
        cash = rng.uniform(0.0, 10.0, 120) * (rng.random(120) < rng.uniform(0.05, 1.0))
        if not cash.any():
            continue
        price = cash.sum() * rng.uniform(0.3, 1.2)
        kept = cash != 0.0
        full = irr(cash, t, price)
        compact = irr(np.ascontiguousarray(cash[kept]), np.ascontiguousarray(t[kept]), price)
        assert full == compact == irr_every_date(cash, t, price)
