"""Borrowed arrays: views that skip Numba's reference counting, of a kernel's arguments or of
arrays it holds alive itself."""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core.typing import signature
from numba.extending import intrinsic


def borrowable(typ) -> bool:
    """Whether `borrowed` can strip `typ`: arrays, numbers, booleans, None, and tuples of them
    (nothing else holding memory Numba counts references to: a string or a list would be freed
    while still in use)."""
    if isinstance(typ, types.BaseTuple):
        return all(borrowable(t) for t in typ)
    return isinstance(typ, types.Array | types.Number | types.Boolean | types.NoneType)


@intrinsic
def borrowed(typingctx, value):
    """An argument `value` (an array, or a tuple holding arrays, numbers, booleans and None) with
    each array's meminfo and parent set to NULL, as a parfor hands arrays to its threads: a view
    the kernel or a callee takes of it then skips Numba's reference counting (an atomic increment
    and decrement per view, thousands per path in the waterfall; benchmarks/README.md, issue
    #14). For the kernel's arguments, which the caller holds for the whole call, or for arrays
    the kernel allocates and keeps alive past the borrowed copy's last use (as `_run_blocks`
    holds its block's arrays with `ipabs.engine.run._hold`); an array freed while its borrowed
    copy is in use would be memory another allocation reuses. Such an array must not reach
    Python (no print, objmode or exception argument of it)."""
    if not borrowable(value):
        raise TypingError(
            f"borrowed takes arrays, numbers, booleans, None and tuples of them, not {value}"
        )

    def strip(context, builder, typ, val):
        if isinstance(typ, types.Array):
            ary = context.make_array(typ)(context, builder, val)
            ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
            ary.parent = cgutils.get_null_value(ary.parent.type)
            return ary._getvalue()
        if isinstance(typ, types.BaseTuple):
            items = [strip(context, builder, t, builder.extract_value(val, i)) for i, t in enumerate(typ)]  # fmt: skip
            return context.make_tuple(builder, typ, items)
        return val  # a number, a boolean or None: nothing counted

    def codegen(context, builder, sig, args):
        return strip(context, builder, sig.args[0], args[0])

    return signature(value, value), codegen
