"""benchmarks/layout_ceiling.py: its two layouts compute the same sums to the bit, and those are
the arithmetic its docstring states (checked in NumPy)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import layout_ceiling


@pytest.fixture(scope="module")
def inputs():
    pool, recovery = layout_ceiling._deal()
    n_periods, n_assets = pool.asset_income_weight.shape
    n_factors = pool.factor_chol.shape[0]
    rng = np.random.default_rng(3)
    paths = 32
    normals = rng.standard_normal((paths, n_periods, n_factors + n_assets))
    default = rng.integers(0, 2 * n_periods, (paths, n_assets))
    common = (
        pool.factor_chol, pool.asset_factor, pool.asset_loading, pool.asset_idiosyncratic,
        pool.asset_log_drift, pool.asset_log_vol, pool.asset_income_weight, recovery,
    )  # fmt: skip
    return pool, recovery, normals, default, common


def test_by_path_is_the_stated_arithmetic(inputs):
    pool, recovery, normals, default, common = inputs
    out = np.empty((*normals.shape[:2], 2))
    layout_ceiling.by_path(*common, default, normals, out)
    n_factors = pool.factor_chol.shape[0]
    z = normals[:, :, :n_factors] @ pool.factor_chol.T  # (paths, K, F)
    x = (
        pool.asset_loading * z[:, :, pool.asset_factor]
        + pool.asset_idiosyncratic * normals[:, :, n_factors:]
    )
    level = np.exp(np.cumsum(pool.asset_log_drift + pool.asset_log_vol * x, axis=1))
    due = pool.asset_income_weight * level
    k = np.arange(normals.shape[1])[None, :, None]
    d = default[:, None, :]
    paid = np.where(k < d, due, np.where(k == d, recovery * due, 0.0))
    np.testing.assert_allclose(out[:, :, 0], paid.sum(axis=2), rtol=1e-11)
    np.testing.assert_allclose(out[:, :, 1], (due - paid).sum(axis=2), rtol=1e-11, atol=1e-6)
    assert (out[:, :, 1] > 0).any() and (out[:, :, 1] == 0).any()  # paths with and without losses


@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_lanes_give_the_same_bits(inputs, lanes):
    _, _, normals, default, common = inputs
    reference = np.empty((*normals.shape[:2], 2))
    layout_ceiling.by_path(*common, default, normals, reference)
    blocks = normals.shape[0] // lanes
    normals_t = np.ascontiguousarray(
        normals.reshape(blocks, lanes, *normals.shape[1:]).transpose(0, 2, 3, 1)
    )
    default_t = np.ascontiguousarray(default.reshape(blocks, lanes, -1).transpose(0, 2, 1))
    out = np.empty_like(reference)
    layout_ceiling.by_lanes(*common, default_t, normals_t, out)
    assert np.array_equal(out, reference)
