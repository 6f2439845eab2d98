"""The NumPy baseline (benchmarks/numpy_baseline.py): an independent engine for the standard deal.

Its random numbers are NumPy's, not ipabs's, so the two engines agree only within Monte Carlo
error: each estimate's difference is checked against 4 combined standard errors,
sqrt(se_numpy^2 + se_ipabs^2) (independent samples). With the 5 estimates checked, a false alarm
has probability about 5 x 6e-5. The baseline's own waterfall and IRR are checked by hand first.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import ipabs

PATH = Path(__file__).parent.parent / "benchmarks" / "numpy_baseline.py"


@pytest.fixture(scope="module")
def nb():
    spec = importlib.util.spec_from_file_location("numpy_baseline", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["numpy_baseline"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deal(nb):
    return nb.load_deal()


def test_irr_of_one_cash_flow_is_the_closed_form(nb):
    # 110 at t = 2 for a price of 100: (1 + y)^2 = 1.1, y = sqrt(1.1) - 1 = 0.0488088...
    # 50 at 1 and 60 at 2 for 100: 50/(1+y) + 60/(1+y)^2 = 100 -> with v = 1/(1+y),
    # 60 v^2 + 50 v - 100 = 0, v = (-50 + sqrt(2500 + 24000)) / 120 = 0.939947..., y = 0.063890...
    # nothing paid: -1
    cash = np.array([[0.0, 110.0], [50.0, 60.0], [0.0, 0.0]])
    y = nb.irr(cash, np.array([1.0, 2.0]), np.full(3, 100.0))
    v = (-50.0 + np.sqrt(2500.0 + 24000.0)) / 120.0
    np.testing.assert_allclose(y, [np.sqrt(1.1) - 1.0, 1.0 / v - 1.0, -1.0], rtol=1e-11)


def test_waterfall_by_hand(nb, deal):
    # two periods of half a year, classes of 100 / 50 / 20 at 4% / 6% / 0, fee 1 a year plus 1%
    # of the notes, reserve 10 (target 10)
    d = replace(
        deal,
        t=np.array([0.5, 1.0]),
        dt=np.array([0.5, 0.5]),
        balance0=np.array([100.0, 50.0, 20.0]),
        coupon_accrual=np.array([[0.02, 0.02], [0.03, 0.03], [0.0, 0.0]]),
        accrual=np.array([0.5, 0.5]),
        fee_fixed=1.0,
        fee_pct_notes=0.01,
        reserve0=10.0,
        reserve_target=10.0,
    )
    # path 0, period 1: cash 60; fee 0.5 (1 + 0.01 x 170) = 1.35; interest A 2, B 1.5;
    # reserve full; principal A 60 - 1.35 - 2 - 1.5 = 55.15, balance A 44.85.
    # period 2 (legal final): cash 30 + reserve 10 = 40; fee 0.5 (1 + 0.01 x 114.85) = 1.07425;
    # interest A 0.02 x 44.85 = 0.897, B 1.5; principal A 36.52875, all the cash left;
    # balance A 44.85 - 36.52875 = 8.32125, B 50, sub 20.
    # path 1, period 1: cash 2; fee 1.35 from cash, interest A 2 = 0.65 cash + 1.35 reserve,
    # interest B 1.5 from the reserve (left 10 - 2.85 = 7.15); no cash to top it up, no principal.
    # period 2: no collections, the reserve's 7.15 is released: fee 1.35, interest A 2 and B 1.5,
    # principal A 7.15 - 4.85 = 2.3.
    collections = np.array([[60.0, 30.0], [2.0, 0.0]])
    flows = nb.pay_waterfall(d, collections)
    np.testing.assert_allclose(flows["interest"][0, :, 0], [2.0, 1.5, 0.0])
    np.testing.assert_allclose(flows["principal"][0, 0], [55.15, 36.52875])
    np.testing.assert_allclose(flows["balance"][0], [8.32125, 50.0, 20.0])
    np.testing.assert_allclose(flows["interest"][1, :, 0], [2.0, 1.5, 0.0])
    np.testing.assert_allclose(flows["principal"][1, :, 0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(flows["principal"][1, :, 1], [2.3, 0.0, 0.0])
    # conservation over the deal: collections + initial reserve = fees + interest + principal +
    # residual (the reserve is empty after legal final)
    fees = (
        collections.sum(axis=1)
        + 10.0
        - (
            flows["interest"].sum(axis=(1, 2))
            + flows["principal"].sum(axis=(1, 2))
            + flows["residual"].sum(axis=1)
        )
    )
    np.testing.assert_allclose(fees[0], 1.35 + 1.07425)


def test_baseline_agrees_with_ipabs(nb, deal):
    paths = 3_000
    out = nb.run_baseline(deal, paths, seed=20260, batch=1_000)
    names = ("A", "B", "sub")
    ours = nb.estimates(out, names)
    theirs = nb.ipabs_estimates(
        ipabs.simulate(ipabs.load(nb.STANDARD), paths=paths, threads=1, progress=False), names
    )
    for key in ("collections", "A.loss", "B.loss", "sub.loss", "A.wal"):
        (a, sa), (b, sb) = ours[key], theirs[key]
        combined = np.hypot(sa, sb)
        assert sa > 0.0 and sb > 0.0
        assert abs(a - b) <= 4.0 * combined, (key, a, b, combined)


def test_importing_the_baseline_leaves_the_environment_alone():
    """The benchmark pins one thread only when run as a script: imported (as these tests do), it
    must not set NUMBA_NUM_THREADS and the like for the rest of the process and its children."""
    import os

    before = dict(os.environ)
    spec = importlib.util.spec_from_file_location("numpy_baseline_env_check", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert dict(os.environ) == before
