"""exp(x) in plain IEEE arithmetic, written so that LLVM vectorises it over an array.

The pool kernel takes one exponential per asset and period (the income level exp(log L)); the C
library's `exp` is a call per value that LLVM cannot vectorise, and cost about 4.3 ns of the
engine's 16 ns per asset-period-path. This is fdlibm's algorithm (Sun Microsystems, e_exp.c,
1993; the constants below are fdlibm's) with fused multiply-adds: with k = round(x / ln 2) and
r = x - k ln 2 in Cody-Waite form (ln 2 = LN2_HI + LN2_LO),

    R(r^2) = r^2 (P1 + r^2 (P2 + r^2 (P3 + r^2 (P4 + r^2 P5))))     c = r - R(r^2)
    exp(r) = 1 - ((lo - r c / (2 - c)) - hi),   exp(x) = 2^k exp(r)

with error below 1 ulp. k is rounded by the 1.5 * 2^52 shift (round half to even), and 2^k is
built from its bits, by a bit cast in the same loop (an LLVM intrinsic; a NumPy view when the
kernels run as Python). Arguments are clamped to [-700, 700] (exp(700) is about 1e304), where 2^k is
a normal number.

Every operation is an IEEE add, multiply or divide, or a fused multiply-add written out
(`ipabs.engine.fma`: k, hi and the polynomial's Horner steps, each rounded once; 0.25 ns of about
1 ns an exponential saved on this machine, benchmarks/README.md), and Numba contracts nothing else
without `fastmath`; so the vectorised loop and the scalar `exp1` give the same bits on any
machine, whatever the vector width, and unlike the C library's exp the result does not depend on
the libm version. `error_model="numpy"` drops Numba's division-by-zero check, which
would otherwise stop the vectoriser (2 - c is never 0 here).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import config
from numba.core.typing import signature
from numba.extending import intrinsic

from ipabs.engine.fma import fma

_LOG2E = 1.44269504088896338700e00
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_P1 = 1.66666666666666019037e-01
_P2 = -2.77777777770155933842e-03
_P3 = 6.61375632143793436117e-05
_P4 = -1.65339022054652515390e-06
_P5 = 4.13813679705723846039e-08
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer
_BOUND = 700.0


@njit(cache=True, inline="always", error_model="numpy")
def _reduced(x):
    """(exp(r), k) for the clamped x = k ln 2 + r."""
    x = x if x > -_BOUND else -_BOUND
    x = x if x < _BOUND else _BOUND
    k = fma(x, _LOG2E, _SHIFT) - _SHIFT
    hi = fma(-k, _LN2_HI, x)
    lo = k * _LN2_LO
    r = hi - lo
    s = r * r
    c = fma(-s, fma(s, fma(s, fma(s, fma(s, _P5, _P4), _P3), _P2), _P1), r)
    return 1.0 - ((lo - (r * c) / (2.0 - c)) - hi), k


if config.DISABLE_JIT:  # the kernels run as Python (tests/test_device_pool.py's simulator run)

    def _power_of_two(k):
        """2^k for an integer-valued float k in [-1022, 1023], built from its bits."""
        return np.int64((int(k) + 1023) << 52).view(np.float64)

else:

    @intrinsic
    def _double_from_bits(typingctx, bits):
        """The float64 whose IEEE bits are the int64 `bits` (a bit cast, no conversion)."""
        if not isinstance(bits, types.Integer) or bits.bitwidth != 64:
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return signature(types.float64, bits), codegen

    @njit(cache=True, inline="always")
    def _power_of_two(k):
        """2^k for an integer-valued float k in [-1022, 1023], built from its bits."""
        return _double_from_bits((np.int64(k) + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def exp_into(x, out):
    """out[i] = exp(x[i]) for every i, in one loop (2^k a bit cast in it). Inlined into its
    caller, whose loops vectorise only with `error_model="numpy"` too."""
    n = x.shape[0]
    for i in range(n):
        y, k = _reduced(x[i])
        out[i] = y * _power_of_two(k)


@njit(cache=True, error_model="numpy")
def exp1(x):
    """exp(x) for one value: the same bits as `exp_into`."""
    y, k = _reduced(x)
    return math.ldexp(y, int(k))  # exact: y 2^k is a normal number
