"""The engine's own exp (ipabs.engine.exp): within one ulp of the true value, the same bits from
the vectorised and the scalar form, clamped outside [-700, 700]."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ipabs.engine.exp import exp1, exp_into


def _exp(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    exp_into(x, out)
    return out


def test_within_one_ulp_of_extended_precision():
    # reference: the C library's 80-bit expl through NumPy's long double, an independent
    # algorithm with 11 more bits than the result
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-700.0, 700.0, 200_000), rng.uniform(-5.0, 5.0, 200_000)])
    reference = np.exp(x.astype(np.longdouble))
    error_ulps = np.abs(_exp(x).astype(np.longdouble) - reference) / np.spacing(
        reference.astype(np.float64)
    ).astype(np.longdouble)
    assert float(error_ulps.max()) < 1.0


def test_exact_points_and_clamp():
    out = _exp(np.array([0.0, -0.0, 700.0, 1e4, -700.0, -1e4]))
    assert out[0] == 1.0 and out[1] == 1.0
    assert out[2] == out[3] and out[4] == out[5]  # clamped to exp(+-700)
    assert abs(out[2] / math.exp(700.0) - 1.0) < 1e-15
    assert abs(out[4] / math.exp(-700.0) - 1.0) < 1e-15


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-800.0, max_value=800.0), min_size=1, max_size=40))
def test_vectorised_and_scalar_give_the_same_bits(values):
    x = np.array(values)
    assert np.array_equal(_exp(x), np.array([exp1(v) for v in values]))
