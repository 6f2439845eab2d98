"""Where a single thread spends its time on the standard deal (benchmarks/README.md, issue #19):
the whole `run_paths`, `run_paths` replaying the pool stage from a `PoolCache` (the waterfall,
the per-path metrics and the block overhead), the pool kernel alone and its period draws alone.
Process time, best of 5. Runs against whichever `ipabs` is first on the path, so it can be run
alternately from two trees (`--pool-only`: the kernel and the draws, not the whole run):

    NUMBA_CACHE_DIR=/tmp/numba-base19 PYTHONPATH=/tmp/base19 python benchmarks/pool_profile.py
    NUMBA_CACHE_DIR=/tmp/numba-main PYTHONPATH=. python benchmarks/pool_profile.py
"""

from __future__ import annotations

import inspect
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

import ipabs
import ipabs.engine.rng as rng
import ipabs.pool.kernels as pool_kernels
from ipabs.engine.compile import compile_scenario
from ipabs.engine.run import PoolCache, run_paths
from ipabs.pool.kernels import simulate_pool_path

#: the engine draws its period normals from shock lanes and its events as event times (issue #19)
LANES = hasattr(rng, "lane_normals")
if LANES:
    from ipabs.pool.kernels import CHUNK_NORMALS

    if "places" in inspect.signature(rng.lane_normals.py_func).parameters:  # since the pool
        # kernel allocates nothing (its work arrays given, for a CUDA device)

        @njit(cache=False)
        def _lane_normals(lanes, state, words, normals, places):
            rng.lane_normals(lanes, state, words, normals, places)
    else:

        @njit(cache=False)
        def _lane_normals(lanes, state, words, normals, places):
            rng.lane_normals(lanes, state, words, normals)


STANDARD = Path(__file__).with_name("standard.toml")
#: the log-level arrays' length for A assets: whole vectors where the engine pads them (since
#: 2026-12-03), else A
N_PADDED = getattr(pool_kernels, "padded_assets", lambda n: n)

if "scale_bits" in inspect.signature(simulate_pool_path.py_func).parameters:  # before 2026-12-03
    # (the exp's scratch, no longer needed once 2^k became a bit cast)

    @njit(cache=False)
    def _simulate(state, latent_state, pool, collections, lost, default_period, path_normals, shocks, event_target, bridge, factor_z, log_level, level, scale_bits, alive, costs, economy, level_path, alive_path):  # fmt: skip
        return simulate_pool_path(
            state, latent_state, pool, collections, lost, default_period, path_normals, shocks,
            event_target, bridge, factor_z, log_level, level, scale_bits, alive, costs, economy,
            False, level_path, alive_path,
        )  # fmt: skip
else:

    @njit(cache=False)
    def _simulate(state, latent_state, pool, collections, lost, default_period, path_normals, shocks, event_target, bridge, factor_z, log_level, level, scale_bits, alive, costs, economy, level_path, alive_path):  # fmt: skip
        return simulate_pool_path(
            state, latent_state, pool, collections, lost, default_period, path_normals, shocks,
            event_target, bridge, factor_z, log_level, level, alive, costs, economy, False,
            level_path, alive_path,
        )  # fmt: skip


@njit(cache=False)
def _pool_only(pool, n_paths, seed, n_padded):
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    state = np.empty(4, np.uint64)
    latent_state = np.empty(4, np.uint64)
    collections, lost, costs = np.empty(n_periods), np.empty(n_periods), np.empty(n_periods)
    default_period = np.empty(n_licensees, np.int64)
    path_normals = np.empty(n_factors + pool.copula_dof + n_licensees)
    shocks, event_target = np.empty(n_factors + n_assets), np.empty(n_assets)
    bridge, factor_z = np.empty(n_factors), np.empty(n_factors)
    log_level, level = np.empty(n_padded), np.empty(n_padded)
    scale_bits, alive = np.empty(n_assets, np.int64), np.empty(n_assets, np.bool_)
    economy = np.ones(n_factors + 2)
    level_path = np.zeros((n_periods, n_assets))
    alive_path = np.zeros((n_periods, n_assets), np.bool_)
    total = 0.0
    for p in range(n_paths):
        rng.seed_stream(state, seed, p)
        rng.seed_latent_stream(latent_state, seed, p)
        _simulate(
            state, latent_state, pool, collections, lost, default_period, path_normals, shocks,
            event_target, bridge, factor_z, log_level, level, scale_bits, alive, costs, economy,
            level_path, alive_path,
        )  # fmt: skip
        total += collections[n_periods - 1]
    return total


@njit(cache=False)
def _draws_only(n_paths, n_periods, n_factors, n_assets, n_uniforms, seed):
    """The period draws alone: the sequential batch (normals, then the event uniforms), as the
    engine drew them before issue #19."""
    state = np.empty(4, np.uint64)
    shocks = np.empty(2 * ((n_factors + n_assets + 1) >> 1))
    uniforms = np.empty(2 * ((n_assets + 1) >> 1))
    total = 0.0
    for p in range(n_paths):
        rng.seed_stream(state, seed, p)
        for _ in range(n_periods):
            rng.draw_block(state, shocks[: n_factors + n_assets], uniforms[:n_uniforms])
            total += shocks[0] + uniforms[0]
    return total


@njit(cache=False)
def _lane_draws_only(n_paths, n_periods, n_factors, n_assets, seed):
    """The period normals alone from the shock lanes, a chunk of whole periods at a time, as the
    pool kernel draws them."""
    n_draws = n_factors + n_assets
    chunk = max(1, CHUNK_NORMALS // n_draws)
    state = np.empty(4, np.uint64)
    lanes = np.empty((4, rng.SHOCK_LANES), np.uint64)
    normals = np.empty(chunk * n_draws)
    words = np.empty(chunk * n_draws, np.uint64)
    places = np.empty(chunk * n_draws, np.int64)
    total = 0.0
    for p in range(n_paths):
        rng.seed_stream(state, seed, p)
        rng.seed_shock_lanes(lanes, state)
        for k in range(0, n_periods, chunk):
            m = min(chunk, n_periods - k) * n_draws
            _lane_normals(lanes, state, words[:m], normals[:m], places)
            total += normals[0]
    return total


def _best(f, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        f()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    deal = compile_scenario(ipabs.load(STANDARD))
    pool = deal.pool
    n_periods, n_assets = pool.asset_income_weight.shape
    n_factors = pool.factor_chol.shape[0]
    whole = "--pool-only" not in sys.argv
    if whole:
        kw = dict(paths=10_000, seed=1, block_size=1024, sample_paths=1, threads=1)
        run_paths(deal, **{**kw, "paths": 500})  # compile or load the cache
        cache = PoolCache()
        run_paths(deal, **kw, pool_cache=cache)
        full = _best(lambda: run_paths(deal, **kw)) / 1e4
        replay = _best(lambda: run_paths(deal, **kw, pool_cache=cache)) / 1e4
    n = 1000
    _pool_only(pool, 2, 1, N_PADDED(n_assets))
    _draws_only(2, n_periods, n_factors, n_assets, n_assets, 1)
    cells = n * n_periods * n_assets
    pool_ns = _best(lambda: _pool_only(pool, n, 1, N_PADDED(n_assets))) / cells * 1e9
    if LANES:
        _lane_draws_only(2, n_periods, n_factors, n_assets, 1)
        draws = lambda: _lane_draws_only(n, n_periods, n_factors, n_assets, 1)  # noqa: E731
        what = "shock-lane normals"
    else:
        draws = lambda: _draws_only(n, n_periods, n_factors, n_assets, n_assets, 1)  # noqa: E731
        what = "sequential normals and event uniforms"
    draws_ns = _best(draws) / cells * 1e9
    if whole:
        print(
            f"{ipabs.__file__}: whole run {full * 1e6:.1f} us/path; pool stage (by difference) "
            f"{(full - replay) * 1e6:.1f} us/path; waterfall + metrics + overhead "
            f"{replay * 1e6:.1f} us/path"
        )
    print(f"  pool kernel alone {pool_ns:.2f} ns per asset-period-path, of which the period draws "
          f"{draws_ns:.2f} ns ({what})")  # fmt: skip


if __name__ == "__main__":
    main()
