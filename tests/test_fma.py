"""The fused multiply-add (ipabs.engine.fma): a b + c rounded once, compiled and as Python, checked
against exact rational arithmetic rounded by hand (`_rounded_once`: integer floor and comparison
only, not the integer division `exact_fma` itself rounds with)."""

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
    """The exact a b + c, rounded to the nearest double, ties to even, by hand: the exact value's
    binary exponent e, its multiple of the double's unit at e (2^(max(e, -1022) - 52)) by floor
    and a comparison of the remainder with 1/2, then ldexp (exact)."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        return a * b + c  # exact zero: its sign by IEEE's rule, which plain float ops follow
    negative, q = exact < 0, abs(exact)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    while Fraction(2) ** e > q:
        e -= 1
    while Fraction(2) ** (e + 1) <= q:
        e += 1
    unit = max(e, -1022) - 52
    scaled = q / Fraction(2) ** unit
    m = scaled.numerator // scaled.denominator
    rest = scaled - m
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and m % 2 == 1):
        m += 1
    try:
        value = math.ldexp(m, unit)
    except OverflowError:
        value = math.inf
    return -value if negative else value


def _same(x: float, y: float) -> bool:
    """The same double, with the sign of a zero (NaNs equal to each other)."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


def test_the_hand_rounding_agrees_with_the_hardware_where_one_operation_is_exact():
    rng = np.random.default_rng(5)
    pairs = rng.normal(size=(2000, 2)) * 10.0 ** rng.integers(-300, 300, size=(2000, 2)) / 10
    for a, b in pairs.tolist():  # Python floats (an overflowing product is inf, not a warning)
        assert _same(_rounded_once(a, b, 0.0), a * b)  # one rounding: the product's
        assert _same(_rounded_once(a, 1.0, b), a + b)  # the sum's


_finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)


@settings(max_examples=600, deadline=None)
@given(_finite, _finite, _finite)
def test_compiled_and_python_forms_are_the_exactly_rounded_value(a, b, c):
    """Over the whole double range: subnormal results, overflow to +-inf, signed zeros."""
    expected = _rounded_once(a, b, c)
    assert _same(exact_fma(a, b, c), expected)
    assert _same(_compiled(a, b, c), expected)


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


def test_overflow_and_infinities():
    big = 1e300
    for a, b, c, expected in [
        (big, big, 0.0, math.inf),
        (-big, big, 0.0, -math.inf),
        (big, big, -math.inf, -math.inf),  # a finite product, however large, cannot cancel it
        (-big, big, math.inf, math.inf),
        (math.inf, 0.0, 1.0, math.nan),  # invalid
        (math.inf, 2.0, -math.inf, math.nan),
        (math.nan, 1.0, 1.0, math.nan),
    ]:
        assert _same(exact_fma(a, b, c), expected), (a, b, c)
        assert _same(_compiled(a, b, c), expected), (a, b, c)


def test_arguments_are_made_float64_first():
    third = np.float32(1.0 / 3.0)
    expected = _rounded_once(float(third), 3.0, -1.0)
    assert _compiled(third, np.float32(3.0), -1.0) == expected == exact_fma(third, 3.0, -1.0)
    assert _compiled(True, 2.0, 1.0) == 3.0 == exact_fma(True, 2.0, 1.0)


def test_vectorised_loop_gives_the_scalar_bits():
    rng = np.random.default_rng(3)
    n = 4099
    a, b = rng.normal(size=n) * 1e3, rng.normal(size=n)
    c = -a * b + rng.normal(size=n) * 1e-9  # heavy cancellation, where one rounding shows
    out = np.empty(n)
    _compiled_loop(a, b, c, out)
    assert all(out[i] == _rounded_once(a[i], b[i], c[i]) for i in range(0, n, 7))
    assert all(out[i] == _compiled(a[i], b[i], c[i]) for i in range(n))
