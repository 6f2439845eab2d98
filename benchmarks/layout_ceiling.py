"""What a layout vectorised across paths would buy the pool kernel's arithmetic (issue #19).

The engine simulates one path at a time and vectorises each period's loops across the deal's
assets (50 on the standard deal): short loops, and the period's sums in asset order are chains of
additions one after the other. The alternative keeps P paths side by side in the vector lanes:
every per-path quantity becomes a vector of P, the loops over assets carry P paths' work each,
and each path's sums, still in asset order (the same bits), are independent across the lanes.

This measures that alternative's ceiling on the part of the kernel it would change, the same
arithmetic in both layouts, on the standard deal's arrays (`ipabs.pool.compile`), from the same
pre-drawn normals and default periods (NumPy, outside the timing): per period, the factors'
shocks Z = R e, every asset's log level, its exponential (`ipabs.engine.exp.exp_into`), the
royalty, and the period's collections and income lost (recovery in the default period, nothing
after) in asset order. Left out, because the layout would not change their cost per cell: the
normal draws (each path has its own stream), the IP events' walk (per path, rare) and the
waterfall. It checks that both layouts give every path's sums to the bit, then prints
nanoseconds an asset-period in each (best of 5, process time, one thread):

    python benchmarks/layout_ceiling.py --paths 4096 --lanes 4 8 16 32 64   # normals from memory
    python benchmarks/layout_ceiling.py --paths 64 --lanes 4 8 16 32 64     # 64 paths, in cache

With 4,096 paths both layouts read the pre-drawn normals (200 MB) from memory, where the engine
draws each chunk into a cache-sized array; with 64 paths, run 64 times over, they stay in cache
(a lanes kernel would draw a chunk of periods for its P paths, about 0.5 MB at 64 lanes).
Default periods are drawn for each licensee (uniform over four times the deal's periods: none
within the deal on most paths), and its assets default with it, as in the engine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from numba import njit

from ipabs.engine.exp import exp_into
from ipabs.pool.kernels import padded_assets

STANDARD = Path(__file__).with_name("standard.toml")


@njit(cache=True, error_model="numpy")
def by_path(chol, factor, loading, idio, drift, vol, weight, recovery, default, normals, out):
    """The engine's layout: one path at a time, each period's loops across the assets (the log
    levels padded to whole vectors, as the engine pads them)."""
    n_paths, n_periods, n_draws = normals.shape
    n_factors = chol.shape[0]
    n_assets = n_draws - n_factors
    padded = padded_assets(n_assets)
    log_level = np.zeros(padded)
    level = np.empty(padded)
    z = np.empty(n_factors)
    gathered = np.empty(n_assets)
    for p in range(n_paths):
        log_level[:] = 0.0
        for k in range(n_periods):
            e = normals[p, k]
            for f in range(n_factors):
                s = 0.0
                for g in range(n_factors):
                    s += chol[f, g] * e[g]
                z[f] = s
            asset_normals = e[n_factors:]
            for i in range(n_assets):
                gathered[i] = z[np.uint64(factor[i])]
            for i in range(n_assets):
                x = loading[i] * gathered[i] + idio[i] * asset_normals[i]
                log_level[i] += drift[k, i] + vol[k, i] * x
            exp_into(log_level, level)
            collected = 0.0
            lost = 0.0
            for i in range(n_assets):
                due = weight[k, i] * level[i]
                d = default[p, i]
                if k < d:
                    collected += due
                    continue
                paid = recovery[i] * due if k == d else 0.0
                collected += paid
                lost += due - paid
            out[p, k, 0] = collected
            out[p, k, 1] = lost


@njit(cache=True, error_model="numpy")
def by_lanes(chol, factor, loading, idio, drift, vol, weight, recovery, default_t, normals_t, out):
    """The same, with `lanes` = normals_t.shape[3] paths side by side: every per-path quantity a
    row of `lanes` values, each loop over a row vectorised across the paths, each path's sums
    still in asset order. `default_t` is (paths, A) as (blocks, A, lanes) and `normals_t`
    (paths, K, F + A) as (blocks, K, F + A, lanes)."""
    n_blocks, n_periods, n_draws, lanes = normals_t.shape
    n_factors = chol.shape[0]
    n_assets = n_draws - n_factors
    log_level = np.zeros((n_assets, lanes))
    level = np.empty((n_assets, lanes))
    z = np.empty((n_factors, lanes))
    collected = np.empty(lanes)
    lost = np.empty(lanes)
    flat_log = log_level.reshape(n_assets * lanes)
    flat_level = level.reshape(n_assets * lanes)
    for b in range(n_blocks):
        log_level[:] = 0.0
        for k in range(n_periods):
            for f in range(n_factors):
                for q in range(lanes):
                    z[f, q] = 0.0
                for g in range(n_factors):
                    c = chol[f, g]
                    for q in range(lanes):
                        z[f, q] += c * normals_t[b, k, g, q]
            for i in range(n_assets):
                fi = factor[i]
                a = loading[i]
                s = idio[i]
                mu = drift[k, i]
                v = vol[k, i]
                for q in range(lanes):
                    log_level[i, q] += mu + v * (
                        a * z[fi, q] + s * normals_t[b, k, n_factors + i, q]
                    )
            exp_into(flat_log, flat_level)
            for q in range(lanes):
                collected[q] = 0.0
                lost[q] = 0.0
            for i in range(n_assets):
                w = weight[k, i]
                r = recovery[i]
                for q in range(lanes):
                    due = w * level[i, q]
                    d = default_t[b, i, q]
                    paid = due if k < d else (r * due if k == d else 0.0)
                    collected[q] += paid
                    lost[q] += due - paid
            for q in range(lanes):
                out[b * lanes + q, k, 0] = collected[q]
                out[b * lanes + q, k, 1] = lost[q]


def _deal():
    import ipabs
    from ipabs.engine.compile import compile_scenario

    pool = compile_scenario(ipabs.load(STANDARD)).pool
    recovery = pool.licensee_recovery[pool.asset_licensee]
    return pool, recovery


def _best(run, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=4_096, help="a multiple of the most lanes")
    parser.add_argument("--lanes", type=int, nargs="+", default=[4, 8, 16])
    args = parser.parse_args()
    pool, recovery = _deal()
    n_periods, n_assets = pool.asset_income_weight.shape
    n_factors = pool.factor_chol.shape[0]
    rng = np.random.default_rng(1)
    paths = args.paths - args.paths % max(args.lanes)
    if paths == 0:
        raise SystemExit(f"--paths must be at least the most lanes ({max(args.lanes)})")
    repeats = max(1, 4_096 // paths)  # (a few paths' arrays stay in cache: run them again)
    normals = rng.standard_normal((paths, n_periods, n_factors + n_assets))
    # each licensee's default period (none within the deal on most paths), its assets' too
    licensee_default = rng.integers(0, 4 * n_periods, (paths, pool.licensee_recovery.shape[0]))
    default = licensee_default[:, pool.asset_licensee]
    common = (
        pool.factor_chol, pool.asset_factor, pool.asset_loading, pool.asset_idiosyncratic,
        pool.asset_log_drift, pool.asset_log_vol, pool.asset_income_weight, recovery,
    )  # fmt: skip
    cells = paths * n_periods * n_assets * repeats
    reference = np.empty((paths, n_periods, 2))

    def repeated(kernel, *arrays):
        for _ in range(repeats):
            kernel(*common, *arrays)

    by_path(*common, default, normals, reference)
    seconds = _best(lambda: repeated(by_path, default, normals, reference))
    print(
        f"{paths:,} paths of the standard deal's {n_assets} assets and {n_periods} periods, "
        f"{repeats} time(s) over"
    )
    print(
        f"  one path at a time (the engine's layout): {seconds / cells * 1e9:.2f} ns an asset-period"
    )
    for lanes in args.lanes:
        blocks = paths // lanes
        normals_t = np.ascontiguousarray(
            normals.reshape(blocks, lanes, n_periods, n_factors + n_assets).transpose(0, 2, 3, 1)
        )
        default_t = np.ascontiguousarray(
            default.reshape(blocks, lanes, n_assets).transpose(0, 2, 1)
        )
        out = np.empty_like(reference)
        by_lanes(*common, default_t, normals_t, out)
        if not np.array_equal(out, reference):
            raise SystemExit(f"{lanes} lanes: the sums differ from the engine layout's")
        seconds = _best(lambda d=default_t, n=normals_t, o=out: repeated(by_lanes, d, n, o))
        print(
            f"  {lanes:>2} paths side by side:                  {seconds / cells * 1e9:.2f} ns an "
            "asset-period (every path's sums the same to the bit)"
        )


if __name__ == "__main__":
    main()
