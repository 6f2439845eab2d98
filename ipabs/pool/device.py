"""The pool stage on a CUDA device: one path a thread, running the CPU's own code.

`ipabs.pool.kernels.pool_path` allocates nothing (its work arrays are given) and calls only
functions that Numba can also compile for a CUDA device: the generator (`ipabs.engine.rng`), the
engine's exp (`ipabs.engine.exp`) and the default-time search. So the kernel below calls the very
function the CPU engine calls, for the same seed and path numbers, and with the same generator
the numbers are the CPU's:

- in Numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`), bit for bit (tests/test_device_pool.py);
- on a device, compiled with NVVM's fused multiply-add contraction off (Numba's CUDA target passes
  no `-fma` option, and NVVM's default contracts a*b + c, which would round the engine's exp and
  every sum differently from the CPU: `no_fma`); the fused multiply-adds the engine writes out
  (`ipabs.engine.fma`, LLVM's `llvm.fma`) are not contractions and stay, as PTX's `fma.rn.f64`,
  rounded once as on the CPU. What can still differ is where CUDA's libdevice
  `exp`, `log` and `sqrt` differ from the C library's in the last bit: the value of a normal from
  the ziggurat's tail (r - log(U)/r; about 5.4 in 100,000 normals, so about 0.34 a path on the
  standard deal), the period stream's own ziggurat's wedge test in its rare fallback (a
  comparison, flipped by such a difference with probability of order 1e-16) and the importance
  sampling weight. So some paths may differ from the CPU in their last bits; the lanes' wedge
  test uses the engine's own exp and does not. This has not been run on a GPU (there is none
  where it was written); `benchmarks/gpu.py` compiles it through NVVM and `ptxas`
  (docs/model.md, 2; benchmarks/README.md).

Only the licence-pool stage is here, and without a recorded path: the kernel returns each path's
collections, lost income, default periods, economy and totals, not its stream states or asset
paths, so nothing yet continues a path on the CPU from it (the loans, vintages, credit support,
a trust's IP value, the waterfall and the metrics). Import this module only to use a device: it
imports `numba.cuda`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numba import cuda

from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.kernels import pool_path, pool_work_shapes

#: threads a block: the kernel holds 173 registers a thread (ptxas, sm_80, the standard deal,
#: `python benchmarks/gpu.py --compile-only`, 2026-12-03)
THREADS_PER_BLOCK = 64


@dataclass(frozen=True)
class DevicePoolPaths:
    """What the pool stage gives for each path (n_paths rows), as `simulate_pool_path` does."""

    collections: np.ndarray  # (n_paths, K) income collected, net of pre-paid annuities
    lost_income: np.ndarray  # (n_paths, K) income lost to licensee defaults, net of recovery
    default_period: np.ndarray  # (n_paths, L) each licensee's default period, or -1
    economy: np.ndarray  # (n_paths, F + 2) the horizon factors, the copula scale, the weight
    totals: np.ndarray  # (n_paths, 4) defaults, IP rights lost, annuities paid, after legal final


@cuda.jit
def pool_paths_kernel(
    seed, first_path, pool, states, collections, lost, default_period, path_normals, shocks,
    event_target, bridge, factor_z, log_level, level, alive, costs, economy,
    level_path, alive_path, totals, w0, w1, w2, w3, w4, w5, w6, w7, w8,
):  # fmt: skip
    p = cuda.grid(1)
    if p >= collections.shape[0]:
        return
    state = states[p, 0]
    latent_state = states[p, 1]
    seed_stream(state, seed, first_path + p)
    seed_latent_stream(latent_state, seed, first_path + p)
    n_defaults, rights_lost, annuities, after_final = pool_path(
        state, latent_state, pool, collections[p], lost[p], default_period[p], path_normals[p],
        shocks[p], event_target[p], bridge[p], factor_z[p], log_level[p], level[p],
        alive[p], costs[p], economy[p], False, level_path, alive_path,
        (w0[p], w1[p], w2[p], w3[p], w4[p], w5[p], w6[p], w7[p], w8[p]),
    )  # fmt: skip
    totals[p, 0] = n_defaults
    totals[p, 1] = rights_lost
    totals[p, 2] = annuities
    totals[p, 3] = after_final


@contextlib.contextmanager
def no_fma():
    """Compile with NVVM's `-fma=0` (see the module's docstring): wraps Numba's call to NVVM
    while the kernel compiles (on its first launch). In the simulator nothing is compiled."""
    from numba.cuda.cudadrv import nvvm  # Numba's built-in CUDA target (module docstring)

    compile_ir = nvvm.compile_ir

    def without_fma(llvmir, **options):
        options["fma"] = False
        return compile_ir(llvmir, **options)

    nvvm.compile_ir = without_fma
    try:
        yield
    finally:
        nvvm.compile_ir = compile_ir


def kernel_args(
    pool,
    seed: int,
    first_path: int,
    n_paths: int,
    array=cuda.device_array,
    to_device=cuda.to_device,
    on_device=None,
) -> tuple:
    """The kernel's arguments for n_paths paths: arrays made by `array(shape, dtype)` and the deal's
    by `to_device`, or `on_device`, the deal's arrays already there (NumPy's `np.empty` and
    `np.asarray` give host arrays of the same types, for compiling without a device:
    benchmarks/gpu.py)."""
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]

    def rows(*shape, dtype=np.float64):
        return array((n_paths, *shape), dtype)

    if on_device is None:
        on_device = type(pool)(
            *(to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in pool)
        )
    return (
        np.int64(seed), np.int64(first_path), on_device, rows(2, 4, dtype=np.uint64),
        rows(n_periods), rows(n_periods), rows(n_licensees, dtype=np.int64),
        rows(n_factors + pool.copula_dof + n_licensees), rows(n_factors + n_assets),
        rows(n_assets), rows(n_factors), rows(n_factors), rows(n_assets), rows(n_assets),
        rows(n_assets, dtype=np.bool_), rows(n_periods),
        to_device(np.ones((n_paths, n_factors + 2))), array((n_periods, n_assets), np.float64),
        array((n_periods, n_assets), np.bool_), rows(4),
        *(rows(*shape, dtype=dtype) for shape, dtype in pool_work_shapes(pool)),
    )  # fmt: skip


def pool_paths_on_device(
    pool, seed: int, first_path: int, n_paths: int, batch: int = 65_536
) -> DevicePoolPaths:
    """Run paths first_path .. first_path + n_paths - 1 of the pool stage on the current CUDA
    device (or the simulator), one path a thread, `batch` paths a launch (each path's work arrays
    take about 24 bytes a normal of a chunk: about 25 KB on the standard deal). `pool` is a
    compiled deal's `PoolArrays`."""
    if n_paths < 0 or batch < 1:
        raise ValueError(f"n_paths must be >= 0 and batch >= 1, not {n_paths} and {batch}")
    parts = []
    on_device = None
    for start in range(0, n_paths, batch):
        count = min(batch, n_paths - start)
        args = kernel_args(pool, seed, first_path + start, count, on_device=on_device)
        on_device = args[2]  # the deal's arrays go to the device once
        blocks = (count + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        with no_fma():
            pool_paths_kernel[blocks, THREADS_PER_BLOCK](*args)
        cuda.synchronize()
        # collections, lost income, default periods, the economy, the totals
        parts.append([args[i].copy_to_host() for i in (4, 5, 6, 16, 19)])
    if not parts:
        host = kernel_args(pool, seed, first_path, 0, array=np.zeros, to_device=np.asarray)
        parts.append([host[i] for i in (4, 5, 6, 16, 19)])
    return DevicePoolPaths(*(np.concatenate(column) for column in zip(*parts, strict=True)))
