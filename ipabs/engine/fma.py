"""fma(a, b, c) = a b + c with one rounding (IEEE 754's fusedMultiplyAdd), the same bits anywhere.

The engine's exp and the pool kernel's log-level update use it where a product is added (docs/
model.md, 2, "Exponentials"): one instruction instead of two, and one rounding instead of two.
It is LLVM's `llvm.fma` intrinsic, which is always fused, never "fused if the machine can": on a
CPU with FMA it is the instruction (vfmadd, 4 lanes in a vectorised loop), on one without it a
call to the C library's `fma`, which IEEE 754 and C99 require to be correctly rounded (glibc's
is), and on a CUDA device PTX's `fma.rn.f64`. So for float64 arguments the result is the exactly
rounded a b + c everywhere, vectorised or not, whatever the compiler's own contraction setting
(Numba does not contract without `fastmath`; the device code is compiled with NVVM's contraction
off, ipabs.pool.device). The price on an x86-64 CPU without FMA (before Intel's Haswell, 2013,
and AMD's Piledriver, 2012; some low-power cores since): the library call, about 7 ns an
exponential instead of 2-3 (measured here with LLVM told the CPU lacks FMA,
`NUMBA_CPU_FEATURES=-fma,...`), where a CPU with FMA saves about a quarter of 1 ns.

When the kernels run as Python (the compiler off: Numba's CUDA simulator in
tests/test_device_pool.py), it is computed exactly with integers and rounded once (Python's
integer division is correctly rounded), so that Python gives the compiled code's bits, except
for a NaN's sign and payload.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core import config
from numba.core.typing import signature
from numba.extending import intrinsic


def exact_fma(a, b, c):
    """a b + c rounded once (to nearest, ties to even), in Python: the product and sum exact in
    integers over a power of two, then one correctly rounded division (±inf where it overflows).
    With an infinite or NaN argument: a finite product plus an infinite c is c, else a * b + c
    (NaN where IEEE 754 gives NaN, though a NaN's sign and payload may differ from the
    compiled form's)."""
    a, b, c = float(a), float(b), float(c)
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        if math.isfinite(a) and math.isfinite(b) and math.isinf(c):
            return c  # the exact product is finite, however large: it cannot cancel an infinity
        return a * b + c
    na, da = a.as_integer_ratio()
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    numerator = na * nb * dc + nc * da * db
    if numerator == 0:  # a b = -c exactly (so a * b is exact): IEEE's sign of a zero sum
        return a * b + c
    try:
        return numerator / (da * db * dc)
    except OverflowError:
        return math.inf if numerator > 0 else -math.inf


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    """a b + c rounded once: LLVM's `llvm.fma.f64` (float64 arguments only)."""
    if not all(arg == types.float64 for arg in (a, b, c)):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return signature(types.float64, types.float64, types.float64, types.float64), codegen


@njit(cache=True, inline="always")
def _compiled_fma(a, b, c):
    """a b + c rounded once, compiled (callable from Python too, as the kernels' bodies run as
    Python in tests/test_pool_kernel_indexing.py call it). Each argument is first made a float64
    (exact for a float32 or a bool, and for an integer up to 2^53 in magnitude)."""
    return _llvm_fma(np.float64(a), np.float64(b), np.float64(c))


#: the kernels' fused multiply-add: exact integers rounded once when the kernels run as Python
fma = exact_fma if config.DISABLE_JIT else _compiled_fma
