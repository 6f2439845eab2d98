"""One tranche's per-path metrics (ipabs.engine.metrics.tranche_path_metrics), against the
formulas of docs/model.md's section on metrics worked here in plain Python: WAL, price and the
duration numerator are the flows summed in period order (bit for bit), the IRR solves its
equation, and periods after the last cash flow do not move the IRR's bits."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipabs.engine.metrics import irr, newton_start, tranche_path_metrics


def _in_order(values) -> float:
    """The sum in period order, from 0.0 (the engine's order)."""
    return reduce(lambda a, b: a + b, (float(v) for v in values), 0.0)


def _flows(seed: int, n: int, paid_off: int, sub: bool):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.08, 0.09, n))  # ACT/365F years, monthly
    interest = np.where(np.arange(n) < paid_off, rng.uniform(0.0, 2.0, n), 0.0)
    principal = np.where(np.arange(n) < paid_off, rng.uniform(0.0, 9.0, n), 0.0)
    residual = rng.uniform(0.0, 3.0, n) if sub else np.empty(0)
    discount = 1.04**-t
    weight = t / 1.04
    return interest, principal, residual, t, discount, weight


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 60), st.booleans())
def test_the_metrics_are_the_flows_summed_in_order(seed, paid_off, sub):
    n = 60
    interest, principal, residual, t, discount, weight = _flows(seed, n, paid_off, sub)
    cf = interest + principal + (residual if sub else 0.0)
    wal, y, pv, pv_time = tranche_path_metrics(cf, principal, t, discount, 100.0, weight)
    expected_wal = _in_order(t * principal) / _in_order(principal)
    assert wal == expected_wal
    assert pv == _in_order(cf * discount)
    assert pv_time == _in_order(weight * (cf * discount))
    assert y == irr(cf, t, 100.0)
    if y > -0.5:  # (near a total loss, 1 + y keeps too few digits to check the root in y)
        assert _in_order(cf * (1.0 + y) ** -t) == pytest.approx(100.0, rel=1e-10)


def test_no_principal_has_no_wal():
    t = np.array([1.0, 2.0])
    cf = np.array([5.0, 5.0])
    wal, *_ = tranche_path_metrics(cf, np.zeros(2), t, np.ones(2), 100.0, t)
    assert math.isnan(wal)


def test_trailing_periods_without_cash_do_not_move_the_irr():
    interest, principal, _, t, _, _ = _flows(3, 120, 40, False)
    cf = interest + principal
    last = int(np.flatnonzero(cf)[-1]) + 1
    assert last < 120
    assert irr(cf, t, 100.0) == irr(cf[:last].copy(), t[:last].copy(), 100.0)


def test_a_total_loss_and_a_single_bullet():
    t = np.array([0.5, 1.0, 2.0])
    assert irr(np.zeros(3), t, 100.0) == -1.0
    # one cash flow of 121 at two years for a price of 100: (1 + y)^2 = 1.21
    assert irr(np.array([0.0, 0.0, 121.0]), t, 100.0) == pytest.approx(0.1, abs=1e-12)


@pytest.mark.parametrize(
    "flows, times",
    [
        ([500.0, 0.0, 800.0], [0.1, 5.0, 30.0]),  # a large gain, times far apart: the start's
        # second-order root is not real (m^2 < 2 v c), so it starts to first order
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),  # a deep loss
        ([4.0] * 119 + [104.0], list(np.arange(1, 121) / 12.0)),  # a monthly bond at par
        ([0.0, 250.0, 0.0], [0.5, 1.5, 2.5]),  # one cash flow: the start is the root
    ],
)
def test_the_irr_is_the_root_of_its_equation(flows, times):
    """Against the root found independently (Brent's method on ln(1 + y))."""
    from scipy import optimize

    cf, t = np.array(flows), np.array(times)
    u = optimize.brentq(
        lambda u: float(np.sum(cf * np.exp(-u * t))) - 100.0, -3.0, 40.0, xtol=1e-15
    )
    assert irr(cf, t, 100.0) == pytest.approx(math.expm1(u), rel=1e-9, abs=1e-12)


def _start(cf, t, price):
    cf, t = np.asarray(cf, float), np.asarray(t, float)
    return newton_start(_in_order(cf), _in_order(cf * t), _in_order(cf * t * t), price, -50.0, 50.0)


def test_the_newton_start_is_the_root_to_second_order():
    # one cash flow: the start is the root, ln(250 / 100) / 1.5
    assert _start([250.0], [1.5], 100.0) == pytest.approx(math.log(2.5) / 1.5, rel=1e-15)
    # two flows a little apart: the start's error is of third order in the spread of the times,
    # the first-order start c / m's of second order
    from scipy import optimize

    for spread in (0.2, 0.1, 0.05):
        cf, t = np.array([60.0, 60.0]), np.array([2.0 - spread, 2.0 + spread])
        root = optimize.brentq(
            lambda u, cf=cf, t=t: float(np.sum(cf * np.exp(-u * t))) - 100.0, -1, 1, xtol=1e-16
        )
        first_order = math.log(1.2) / 2.0
        error = abs(_start(cf, t, 100.0) - root)
        assert error < 1e-3 * abs(first_order - root) and error < 1e-6 * spread**2


def test_the_newton_start_at_the_edges():
    # the second-order root is not real (a large gain over times far apart): c / m
    cf, t = np.array([500.0, 800.0]), np.array([0.1, 30.0])
    mean = float(np.sum(cf * t) / np.sum(cf))
    assert _start(cf, t, 100.0) == pytest.approx(math.log(13.0) / mean, rel=1e-14)
    assert newton_start(1e-320, 1e-321, 1e-322, 1e4, -50.0, 50.0) == -50.0  # total / price = 0
    assert newton_start(1e300, 1e301, 1e302, 1e-10, -50.0, 50.0) == 50.0  # total / price = inf
    assert newton_start(5.0, 0.0, 0.0, 100.0, -50.0, 50.0) == 0.0  # no timed flow
    assert newton_start(math.nan, 1.0, 1.0, 100.0, -50.0, 50.0) == 0.0  # NaN: inside the bracket


def test_subnormal_flows_give_a_finite_irr():
    # found by tests/test_engine.py's property test in CI: a class paid only interest at a
    # subnormal coupon (each flow about 1e-320) for a price of 10,000
    t = np.arange(1, 37) / 12.0
    cf = np.full(36, 4.1e-320)
    y = irr(cf, t, 1e4)
    assert math.isfinite(y) and y == -1.0
