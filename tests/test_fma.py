"""The fused multiply-add (ipabs.engine.fma): a b + c rounded once, compiled and as Python, checked
against exact rational arithmetic (Python's Fraction, an independent route to the same value)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from ipabs.engine.fma import exact_fma, fma


@njit(cache=False)
def _compiled(a, b, c):
    return fma(a, b, c)


@njit(cache=False)
def _compiled_loop(a, b, c, out):
    for i in range(out.shape[0]):  # LLVM vectorises this (llvm.fma.v4f64)
        out[i] = fma(a[i], b[i], c[i])


def _rounded_once(a: float, b: float, c: float) -> float:
    """The exact a b + c as a Fraction, rounded to the nearest double (ties to even) by
    Fraction's own conversion."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        return a * b + c  # the sign of an exact zero (both rules agree on it)
    return float(exact)


_finite = st.floats(
    min_value=-1e150, max_value=1e150, allow_nan=False, allow_infinity=False, allow_subnormal=True
)


@settings(max_examples=500, deadline=None)
@given(_finite, _finite, _finite)
def test_compiled_and_python_forms_are_the_exactly_rounded_value(a, b, c):
    expected = _rounded_once(a, b, c)
    got_python = exact_fma(a, b, c)
    got_compiled = _compiled(a, b, c)
    assert math.copysign(1.0, got_python) == math.copysign(1.0, expected)
    assert got_python == expected
    assert got_compiled == expected and math.copysign(1.0, got_compiled) == math.copysign(
        1.0, expected
    )


def test_one_rounding_not_two():
    # (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly: a product rounded first loses it (gives 0)
    a, b, c = 1.0 + 2.0**-30, 1.0 - 2.0**-30, -1.0
    assert a * b + c == 0.0
    assert _compiled(a, b, c) == -(2.0**-60) == exact_fma(a, b, c)
    # a halfway case of the sum, broken to even only once
    a, b, c = 1.0 + 2.0**-52, 1.0 + 2.0**-52, 0.0
    assert _compiled(a, b, c) == _rounded_once(a, b, c) == exact_fma(a, b, c)
    # signs of zero: +0 from opposite exact terms, -0 only from -0 + -0
    assert math.copysign(1.0, _compiled(2.0, 3.0, -6.0)) == 1.0
    assert math.copysign(1.0, _compiled(-0.0, 1.0, -0.0)) == -1.0
    assert math.copysign(1.0, exact_fma(-0.0, 1.0, -0.0)) == -1.0


def test_vectorised_loop_gives_the_scalar_bits():
    rng = np.random.default_rng(3)
    n = 4099
    a, b = rng.normal(size=n) * 1e3, rng.normal(size=n)
    c = -a * b + rng.normal(size=n) * 1e-9  # heavy cancellation, where one rounding shows
    out = np.empty(n)
    _compiled_loop(a, b, c, out)
    assert all(out[i] == _rounded_once(a[i], b[i], c[i]) for i in range(0, n, 7))
    assert all(out[i] == _compiled(a[i], b[i], c[i]) for i in range(n))
