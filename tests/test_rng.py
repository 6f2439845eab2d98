"""The keyed random streams: the published xoshiro256** reference outputs, normality, and
independence between paths."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ipabs.engine.rng import fill_normals, raw_outputs


def test_xoshiro256starstar_reference_vector():
    # first outputs from state (1, 2, 3, 4), as published with the rand_xoshiro crate's tests
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    expected = [11520, 0, 1509978240, 1215971899390074240, 1216172134540287360, 607988272756665600,
                16172922978634559625, 8476171486693032832, 10595114339597558777, 2904607092377533576]  # fmt: skip
    assert raw_outputs(state, 10).tolist() == expected


def test_normals_pass_kolmogorov_smirnov():
    x = np.empty(200_000)
    fill_normals(123, 0, x)
    assert stats.kstest(x, "norm").pvalue > 0.001


def test_streams_of_neighbouring_paths_are_uncorrelated_and_repeatable():
    n_paths, n = 64, 4000
    draws = np.empty((n_paths, n))
    for p in range(n_paths):
        fill_normals(99, p, draws[p])
    corr = np.corrcoef(draws)[np.triu_indices(n_paths, 1)]
    # each sample correlation is ~N(0, 1/n): all within 5 standard deviations
    assert np.abs(corr).max() < 5 / np.sqrt(n)
    again = np.empty(n)
    fill_normals(99, 17, again)
    assert np.array_equal(again, draws[17])
    other_seed = np.empty(n)
    fill_normals(100, 17, other_seed)
    assert not np.array_equal(other_seed, draws[17])


def test_ziggurat_tails_have_the_right_mass():
    """The tail and wedge branches are rare; check their mass: P(|Z| > 3) and P(|Z| > 3.6) (the
    tail block starts at 3.44) against the exact values, within 5 binomial standard deviations."""
    x = np.empty(4_000_000)
    fill_normals(2024, 1, x)
    for cut in (1.0, 3.0, 3.6):
        p = 2 * stats.norm.sf(cut)
        count = np.count_nonzero(np.abs(x) > cut)
        assert abs(count - p * x.size) < 5 * np.sqrt(x.size * p * (1 - p)), (cut, count, p * x.size)


def test_kernel_cache_is_keyed_by_the_package_source():
    """Numba's cache checks only the caller's file; ipabs keys the cache folder by a hash of all
    of its source so that an edited callee is never served stale."""
    import numba

    from ipabs import _kernel_cache
    from ipabs.engine.run import _run_blocks

    assert numba.config.CACHE_DIR == str(_kernel_cache.CACHE_DIR)
    assert _kernel_cache.source_hash() in str(_kernel_cache.CACHE_DIR)
    assert str(_run_blocks._cache._cache_path).startswith(str(_kernel_cache.CACHE_DIR))


def test_batched_draws_are_the_single_draws():
    """draw_block gives exactly the numbers of repeated normal() then uniform() calls."""
    from numba import njit

    from ipabs.engine.rng import draw_block, normal, seed_stream, uniform

    @njit
    def both(n, m):
        s1 = np.empty(4, np.uint64)
        s2 = np.empty(4, np.uint64)
        seed_stream(s1, 77, 5)
        seed_stream(s2, 77, 5)
        single_n, single_u = np.empty(n), np.empty(m)
        for i in range(n):
            single_n[i] = normal(s1)
        for i in range(m):
            single_u[i] = uniform(s1)
        batch_n, batch_u = np.empty(n), np.empty(m)
        draw_block(s2, batch_n, batch_u)
        return single_n, single_u, batch_n, batch_u, s1, s2

    a, b, c, d, s1, s2 = both(200_000, 1_000)  # long enough to hit the tail and wedge branches
    assert np.array_equal(a, c) and np.array_equal(b, d) and np.array_equal(s1, s2)
