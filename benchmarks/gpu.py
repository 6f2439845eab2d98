"""The pool stage on a CUDA device (ipabs.pool.device): compile it, and where a GPU exists, run it.

    pip install nvidia-cuda-nvcc-cu12            # NVVM, libdevice and ptxas (about 95 MB)
    python benchmarks/gpu.py --compile-only      # no GPU or driver needed
    python benchmarks/gpu.py --paths 100000      # on a machine with a GPU

`--compile-only` compiles the kernel for the standard deal (benchmarks/standard.toml) to PTX
through NVVM, as the device would (fused multiply-adds off: `ipabs.pool.device.no_fma`), counts
the fused multiply-adds left (libdevice's own `exp` and `log` use them, and the engine's own
written out, `ipabs.engine.fma`, which the CPU rounds the same way), and assembles the PTX
with `ptxas` for the target, printing its registers and spills. Numba's CUDA target asks the
driver for the device's compute capability even to compile; without a driver this script answers
for it (`--cc`), which is the only thing it changes.

With a GPU, it runs `--paths` paths on the device and on the CPU (`simulate_pool_path`, one
thread), prints both times, and counts the paths whose outputs differ in any bit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STANDARD = Path(__file__).with_name("standard.toml")


def _find_toolkit() -> Path | None:
    """The pip wheel's CUDA tools (nvidia-cuda-nvcc-cu12), if installed."""
    try:
        import nvidia.cuda_nvcc as nvcc  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(next(iter(nvcc.__path__)))


def compile_only(cc: tuple[int, int]) -> None:
    import numba
    import numba.cuda.dispatcher as dispatcher
    import numpy as np
    from numba import cuda

    class _Device:  # what the dispatcher asks the driver for (see the docstring)
        compute_capability = cc

    dispatcher.get_current_device = lambda: _Device()
    from ipabs.engine.compile import compile_scenario
    from ipabs.pool.device import kernel_args, no_fma, pool_paths_kernel
    from ipabs.scenario.load import load

    pool = compile_scenario(load(STANDARD)).pool
    args = kernel_args(pool, 1, 0, 2, array=np.empty, to_device=np.asarray)
    signature = tuple(numba.typeof(a) for a in args)
    start = time.perf_counter()
    with no_fma():
        ptx, _ = cuda.compile_ptx(pool_paths_kernel.py_func, signature, cc=cc)
    seconds = time.perf_counter() - start
    print(
        f"PTX for sm_{cc[0]}{cc[1]}: {len(ptx.splitlines()):,} lines in {seconds:.1f} s; "
        f"fused multiply-adds {ptx.count('fma.rn.f64'):,} (libdevice's exp and log, ipabs.engine.fma's), "
        f"divisions {ptx.count('div.rn.f64'):,}"
    )
    ptxas = shutil.which("ptxas")
    toolkit = _find_toolkit()
    if ptxas is None and toolkit is not None and (toolkit / "bin" / "ptxas").exists():
        ptxas = str(toolkit / "bin" / "ptxas")
    if ptxas is None:
        print("ptxas not found: PTX not assembled")
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "pool.ptx"
        source.write_text(ptx)
        command = [
            ptxas,
            f"-arch=sm_{cc[0]}{cc[1]}",
            "-v",
            str(source),
            "-o",
            str(source.with_suffix(".cubin")),
        ]
        proc = subprocess.run(command, capture_output=True, text=True)
        if "Unsupported .version" in proc.stderr:  # an NVVM newer than this ptxas
            supported = re.search(r"current version is '([\d.]+)'", proc.stderr)
            print(
                f"ptxas: {proc.stderr.strip().splitlines()[0]}; retried with the PTX ISA header lowered"
            )
            if supported:
                source.write_text(
                    re.sub(r"^\.version [\d.]+", f".version {supported.group(1)}", ptx, flags=re.M)
                )
                proc = subprocess.run(command, capture_output=True, text=True)
        lines = [
            line for line in proc.stderr.splitlines() if "registers" in line or "spill" in line
        ]
        print(
            f"ptxas exit {proc.returncode}: "
            + ("; ".join(s.strip() for s in lines) or proc.stderr.strip())
        )


def run_on_device(n_paths: int) -> None:
    import numpy as np
    from numba import cuda

    from ipabs.engine.compile import compile_scenario
    from ipabs.engine.rng import seed_latent_stream, seed_stream
    from ipabs.pool.device import pool_paths_on_device
    from ipabs.pool.kernels import simulate_pool_path
    from ipabs.scenario.load import load

    if not cuda.is_available():
        sys.exit("no CUDA device here: use --compile-only")
    pool = compile_scenario(load(STANDARD)).pool
    pool_paths_on_device(pool, 1, 0, 64)  # compile
    start = time.perf_counter()
    device = pool_paths_on_device(pool, 1, 0, n_paths)
    device_seconds = time.perf_counter() - start
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    state, latent = np.empty(4, np.uint64), np.empty(4, np.uint64)
    scratch = (
        np.empty(n_periods), np.empty(n_periods), np.empty(n_licensees, np.int64),
        np.empty(n_factors + pool.copula_dof + n_licensees), np.empty(n_factors + n_assets),
        np.empty(n_assets), np.empty(n_factors), np.empty(n_factors), np.empty(n_assets),
        np.empty(n_assets), np.empty(n_assets, np.int64), np.empty(n_assets, np.bool_),
        np.empty(n_periods), np.ones(n_factors + 2), False, np.zeros((n_periods, n_assets)),
        np.zeros((n_periods, n_assets), np.bool_),
    )  # fmt: skip
    differ = 0
    start = time.perf_counter()
    for p in range(n_paths):
        seed_stream(state, 1, p)
        seed_latent_stream(latent, 1, p)
        totals = simulate_pool_path(state, latent, pool, *scratch)
        got = (
            device.collections[p],
            device.lost_income[p],
            device.default_period[p],
            device.economy[p],
        )
        same = all(
            np.array_equal(a, b) for a, b in zip(scratch[:3] + scratch[12:13], got, strict=True)
        )
        same = same and np.array_equal(np.array([float(x) for x in totals]), device.totals[p])
        differ += not same
    cpu_seconds = time.perf_counter() - start
    print(
        f"{n_paths:,} paths: device {device_seconds:.3f} s (with transfers), CPU one thread "
        f"{cpu_seconds:.3f} s (with the comparison); paths differing in any bit: {differ:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile-only", action="store_true")
    parser.add_argument("--cc", default="8.0", help="compute capability to compile for")
    parser.add_argument("--paths", type=int, default=100_000)
    args = parser.parse_args()
    toolkit = _find_toolkit()
    if toolkit is not None and "CUDA_HOME" not in os.environ:
        os.environ["CUDA_HOME"] = str(toolkit)  # where Numba looks for NVVM and libdevice
    if args.compile_only:
        major, minor = (int(x) for x in args.cc.split("."))
        compile_only((major, minor))
    else:
        run_on_device(args.paths)


if __name__ == "__main__":
    main()
