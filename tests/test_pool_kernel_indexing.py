"""The pool kernel's body (`pool_path`) run as plain Python, where NumPy checks every index it
takes (a negative one wraps only where the array has elements, and an empty array's -1 raises;
the functions it calls stay compiled), gives the compiled kernel's numbers bit for bit. Compiled
code checks no index: a pledged asset (no licensee, index -1) once read past the end of a
licensee-free deal's default periods there, silently."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, pool_scratch

from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.kernels import (
    new_pool_work,
    padded_assets,
    pool_path,
    pool_work_shapes,
    simulate_pool_path,
)
from ipabs.scenario.load import load


def _scratch(pool) -> tuple:
    n_periods, n_assets = pool.asset_income_weight.shape
    recorded = (np.zeros((n_periods, n_assets)), np.zeros((n_periods, n_assets), np.bool_))
    return (*pool_scratch(pool), True, *recorded)


@pytest.mark.parametrize(
    "scenario",
    [
        "nanshan_ip_pledged_loans_abs_2022.toml",  # pledged assets only, no licensee
        "beijing_ip_trust.toml",  # licensed assets, three licensees
    ],
)
def test_the_pool_kernel_as_plain_python_checks_its_indices_and_gives_the_same_bits(scenario):
    pool = compile_scenario(load(REPO / "scenarios" / scenario)).pool
    n_licensees = pool.licensee_threshold.shape[1]
    assert (pool.asset_licensee < 0).all() == (n_licensees == 0)
    for path in range(4):
        runs = []
        for as_python in (True, False):
            state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
            seed_stream(state, 2024, path)
            seed_latent_stream(latent_state, 2024, path)
            scratch = _scratch(pool)
            if as_python:  # the kernel's body as Python, with its work arrays given
                totals = pool_path.py_func(state, latent_state, pool, *scratch, new_pool_work(pool))
            else:
                totals = simulate_pool_path(state, latent_state, pool, *scratch)
            runs.append((totals, scratch, state))
        (totals_py, scratch_py, state_py), (totals_jit, scratch_jit, state_jit) = runs
        assert [float(t) for t in totals_py] == [float(t) for t in totals_jit]
        # collections, lost income, default periods, the economy, each asset's recorded path
        for at in (0, 1, 2, 12, 14, 15):
            np.testing.assert_array_equal(scratch_py[at], scratch_jit[at])
        np.testing.assert_array_equal(state_py, state_jit)  # the same draws taken


@pytest.mark.parametrize(
    "scenario", ["music_catalogue_abs.toml", "zgc_patent_licence_abs_2022.toml"]
)
def test_the_work_arrays_have_the_shapes_the_device_allocates(scenario):
    # new_pool_work (the CPU's, compiled) and pool_work_shapes (the device's) list the same arrays
    pool = compile_scenario(load(REPO / "scenarios" / scenario)).pool
    made = [(a.shape, a.dtype) for a in new_pool_work(pool)]
    assert made == [(shape, np.dtype(dtype)) for shape, dtype in pool_work_shapes(pool)]


@pytest.mark.parametrize("scenario", ["beijing_ip_trust.toml", "wenke_leasing_ip_abs_2019.toml"])
def test_padded_log_level_arrays_give_the_same_bits(scenario):
    # the engine gives the kernel log-level and level arrays of whole 8-wide vectors, so that its
    # exponentials leave no scalar remainder; the padding changes no number
    pool = compile_scenario(load(REPO / "scenarios" / scenario)).pool
    n_assets = pool.asset_income_weight.shape[1]
    padded = padded_assets(n_assets)
    assert padded % 8 == 0 and n_assets <= padded < n_assets + 8
    for path in range(3):
        runs = []
        for length in (n_assets, padded, padded + 8):
            state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
            seed_stream(state, 99, path)
            seed_latent_stream(latent_state, 99, path)
            scratch = list(_scratch(pool))
            scratch[8], scratch[9] = (
                np.full(length, np.nan),
                np.full(length, np.nan),
            )  # log level, level
            totals = simulate_pool_path(state, latent_state, pool, *scratch)
            runs.append((totals, scratch, state))
            np.testing.assert_array_equal(scratch[9][n_assets:], 1.0)  # exp(0): never read
        for totals, scratch, state in runs[1:]:
            assert totals == runs[0][0]
            for at in (0, 1, 2, 12, 14, 15):
                np.testing.assert_array_equal(scratch[at], runs[0][1][at])
            np.testing.assert_array_equal(scratch[9][:n_assets], runs[0][1][9])
            np.testing.assert_array_equal(state, runs[0][2])
