"""The pool stage's CUDA kernel (ipabs.pool.device) against the CPU engine, bit for bit.

The kernel runs in Numba's CUDA simulator with Numba's compiler off (`NUMBA_DISABLE_JIT=1`: the
simulator cannot pass its arrays to compiled functions), so every line of the device path, the
kernel's thread indexing and per-thread work arrays and `pool_path` itself, runs as plain Python;
the reference is the compiled CPU kernel in this process. This checks the device path's logic
and that the code has the same meaning compiled and as Python; it does not check CUDA's code
generation (benchmarks/gpu.py compiles the kernel through NVVM and ptxas; no GPU here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import numpy as np
import pytest
from helpers import REPO, pool_scratch, small_deal, write_scenario

from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.kernels import simulate_pool_path
from ipabs.scenario.load import load

SEED, FIRST_PATH = 2024, 37

DEVICE_RUN = """
import json, sys
import numpy as np
from ipabs.engine.compile import compile_scenario
from ipabs.pool.device import pool_paths_on_device
from ipabs.scenario.load import load
source, n_paths, shift = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
pool = compile_scenario(load(source)).pool
if shift:
    pool = pool._replace(factor_shift=np.array(shift, float))
out = pool_paths_on_device(pool, {seed}, {first}, n_paths, batch=5)
print(json.dumps({{k: getattr(out, k).tolist() for k in
    ("collections", "lost_income", "default_period", "economy", "totals")}}))
"""


def _on_device(source: str, n_paths: int, shift: list[float]) -> dict:
    # batches of 5 paths: the later launches' first path numbers are offset
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", DEVICE_RUN.format(seed=SEED, first=FIRST_PATH), source, str(n_paths), json.dumps(shift)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {k: np.array(v) for k, v in json.loads(proc.stdout).items()}


def _on_cpu(pool, n_paths: int) -> dict:
    n_periods, n_assets = pool.asset_income_weight.shape
    keys = ("collections", "lost_income", "default_period", "economy", "totals")
    out: dict = {key: [] for key in keys}
    for p in range(n_paths):
        state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
        seed_stream(state, SEED, FIRST_PATH + p)
        seed_latent_stream(latent_state, SEED, FIRST_PATH + p)
        scratch = pool_scratch(pool)
        recorded = (np.zeros((n_periods, n_assets)), np.zeros((n_periods, n_assets), np.bool_))
        totals = simulate_pool_path(state, latent_state, pool, *scratch, False, *recorded)
        for key, value in zip(
            keys, (*scratch[:3], scratch[12], [float(t) for t in totals]), strict=True
        ):
            out[key].append(value)
    return {key: np.array(values) for key, values in out.items()}


def _student_t_deal() -> dict:
    data = small_deal()
    data["factors"].update(copula="student_t", degrees_of_freedom=4)
    return data


def _every_branch_deal(lag: int = 1) -> dict:
    """Licensees that often default, a collection lag (or none: the kernel pays a lag-free deal
    in one loop), re-licensing, a renewal date within the deal and minimum guarantees paid on
    top of the royalty."""
    data = small_deal()
    for licensee in data["licensees"]:
        licensee["annual_default_probability"] = 0.3
    patent, _, copyright_, trademark = data["assets"]
    patent["collection_lag_periods"] = lag
    copyright_.update(relicensing_months=6, relicensing_share=0.6)
    trademark.update(
        remaining_legal_life_years=1.5,  # renewed (or not) in the deal's second year
        minimum_guarantees=[
            {"date": date(2024, 9, 30), "amount": 400_000.0},
            {"date": date(2025, 9, 30), "amount": 400_000.0},
        ],
        minimum_guarantee_mode="plus",
    )
    return data


@pytest.mark.parametrize(
    ("name", "n_paths"),
    [
        ("zgc_patent_licence_abs_2022.toml", 12),  # 22 licensed patents, 15 licensees, 3 factors
        ("music_catalogue_abs.toml", 6),  # 120 monthly periods: chunks of whole periods
        ("nanshan_ip_pledged_loans_abs_2022.toml", 12),  # pledged IP only, no licensee
        ("beijing_ip_trust.toml", 12),  # a renewal date
        ("student_t", 12),  # a t copula: the chi-square draw and the scale
        ("every_branch", 16),  # lag, re-licensing, renewal, minimums, an importance shift
        ("every_branch_lag_free", 12),  # the same without a lag
    ],
)
def test_the_device_kernel_gives_the_cpu_engine_s_numbers_bit_for_bit(name, n_paths, tmp_path):
    shift: list[float] = []
    if name == "student_t":
        source = str(write_scenario(tmp_path, _student_t_deal()))
    elif name.startswith("every_branch"):
        lag = 0 if name.endswith("lag_free") else 1
        source = str(write_scenario(tmp_path, _every_branch_deal(lag)))
        shift = [-1.0, -0.5]
    else:
        source = str(REPO / "scenarios" / name)
    pool = compile_scenario(load(source)).pool
    if shift:
        pool = pool._replace(factor_shift=np.array(shift))
        assert (pool.asset_renewal_share >= 0.0).any() and pool.has_minimum
        assert pool.asset_lag.max() == lag and pool.asset_relicense_lag.max() >= 0
    device = _on_device(source, n_paths, shift)
    cpu = _on_cpu(pool, n_paths)
    for key, expected in cpu.items():
        np.testing.assert_array_equal(device[key], expected, err_msg=key)
    assert cpu["collections"].sum() > 0.0 or name.startswith("nanshan")
    if name == "student_t":
        assert np.all(cpu["economy"][:, 1] != 1.0)  # the t copula's scale was drawn
    if name.startswith("every_branch"):
        assert np.all(cpu["economy"][:, -1] != 1.0)  # each path's likelihood ratio
        assert (cpu["default_period"] >= 0).any()
        assert (cpu["totals"][:, 3].sum() > 0.0) == (lag > 0)  # paid after legal final
