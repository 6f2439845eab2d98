"""benchmarks/hotspots.py's reading of perf's samples: Numba's mangled names, and the innermost
loops (a backward jump's span that holds no other), with their samples summed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "hotspots.py"


def _module():
    spec = importlib.util.spec_from_file_location("hotspots", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mangled_names_read_as_dotted_paths():
    hotspots = _module()
    assert (
        hotspots._readable("_ZN5ipabs4pool7kernels9pool_pathB3v35B54c8tJTIeFIjxB2IK")
        == "ipabs.pool.kernels.pool_path"
    )
    assert hotspots._readable("_ZN7cpython12pool_profile10_pool_onlyB2v1") == (
        "cpython.pool_profile._pool_only"
    )
    assert hotspots._readable("NRT_incref") == "NRT_incref"


def test_the_innermost_loops_and_their_samples():
    hotspots = _module()
    # an outer loop 0x10-0x60 around an inner one 0x20-0x40, and a separate loop 0x70-0x80
    rows = [
        (0x10, 1, "vmovsd (%rax),%xmm0"),
        (0x20, 5, "vaddsd %xmm1,%xmm0,%xmm0"),
        (0x30, 7, "vmulsd (%rbx),%xmm0,%xmm0"),
        (0x40, 2, "jne    0x20"),
        (0x50, 3, "inc    %rcx"),
        (0x60, 1, "jne    0x10"),
        (0x70, 4, "vaddpd %ymm1,%ymm0,%ymm0"),
        (0x80, 1, "jl     0x70"),
        (0x90, 9, "jmp    0xa0"),  # a forward jump is no loop
    ]
    assert hotspots._loops(rows) == [(14, 1, 3), (5, 6, 7)]
