"""Mergeable partial reductions (ipabs.engine.partials, ipabs.engine.estimates): hand-worked
merges, the one-shot formulas of ipabs.engine.reduce reproduced from chunks, exact quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ipabs.engine import partials as P
from ipabs.engine import reduce as R


def chunks_of(x, w=None, size=7):
    w = np.ones(x.size) if w is None else w
    return P.Chunks(list(zip(P.chunked(x, size), P.chunked(w, size), strict=True)))


def close(a, b, rel=1e-12):
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def test_chan_merge_by_hand():
    # [1, 2] and [3, 4, 5]: means 1.5 and 4, sums of squared deviations 0.5 and 2.
    # d = 2.5, n_a n_b / n = 2 x 3 / 5 = 1.2: M2 = 0.5 + 2 + 6.25 x 1.2 = 10, which is
    # (-2)^2 + (-1)^2 + 0 + 1 + 2^2 over [1..5] about its mean 3.
    m = P.Moments.of(np.array([1.0, 2.0])).merge(P.Moments.of(np.array([3.0, 4.0, 5.0])))
    assert m.n == 5
    assert m.mean[0] == 3.0
    assert m.comoment[0, 0] == pytest.approx(10.0, abs=1e-15)
    # s^2 = 10 / 4 = 2.5, se = sqrt(2.5 / 5) = sqrt(0.5)
    assert P.plain_mean_se(m) == pytest.approx((3.0, math.sqrt(0.5)), abs=1e-15)


def test_co_moment_merge_by_hand():
    # (x, y) = (1, 2), (3, 6) | (5, 4): means (3, 4); C_xy = (-2)(-2) + 0 x 2 + 2 x 0 = 4
    a = P.Moments.of(np.array([1.0, 3.0]), np.array([2.0, 6.0]))
    b = P.Moments.of(np.array([5.0]), np.array([4.0]))
    m = a.merge(b)
    assert m.mean.tolist() == [3.0, 4.0]
    assert m.comoment[0, 1] == pytest.approx(4.0, abs=1e-14)
    assert m.comoment[0, 0] == pytest.approx(8.0, abs=1e-14)  # 4 + 0 + 4
    assert m.comoment[1, 1] == pytest.approx(8.0, abs=1e-14)  # 4 + 4 + 0
    # ratio 3 / 4; residual num - 0.75 den = -0.5, -1.5, 2: sum of squares about 0 (its mean)
    # 0.25 + 2.25 + 4 = 6.5 = 8 - 2 x 0.75 x 4 + 0.5625 x 8; se = sqrt(6.5 / 2) / (sqrt(3) x 4)
    assert P.ratio_from(m) == pytest.approx((0.75, math.sqrt(3.25) / (math.sqrt(3) * 4)))


def test_self_normalised_merge_by_hand():
    # x = 0, 1 with w = 1, 3 | x = 2 with w = 2: W = 6, sum w x = 3 + 4 = 7, m = 7/6;
    # sum w^2 (x - m)^2 = 1 x 49/36 + 9 x 1/36 + 4 x 25/36 = 158/36; se = sqrt(158/36) / 6
    a = P.WeightedMoments.of(np.array([0.0, 1.0]), np.array([1.0, 3.0]))
    b = P.WeightedMoments.of(np.array([2.0]), np.array([2.0]))
    mean, se = P.self_normalised_se(a.merge(b))
    assert mean == pytest.approx(7 / 6, rel=1e-15)
    assert se == pytest.approx(math.sqrt(158 / 36) / 6, rel=1e-14)


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    n = 1001
    x = rng.gamma(0.4, size=n)
    x[rng.random(n) < 0.6] = 0.0  # most paths lose nothing: ties at zero
    w = np.exp(rng.normal(0.0, 0.6, size=n))
    w /= w.mean()
    return x, w


@pytest.mark.parametrize("size", [1, 7, 64, 1001, 5000])
def test_chunked_means_equal_the_one_shot_formulas(sample, size):
    x, w = sample
    parts = list(zip(P.chunked(x, size), P.chunked(w, size), strict=True))
    plain = P.merge_all([P.Moments.of(a) for a, _ in parts])
    for got, want in zip(P.plain_mean_se(plain), R.mean_se(x), strict=True):
        assert close(got, want)
    control = P.merge_all([P.Moments.of(b * a, b - 1.0) for a, b in parts])
    for got, want in zip(P.control_variate_mean_se(control), R.mean_se(x, w), strict=True):
        assert close(got, want)
    normalised = P.merge_all([P.WeightedMoments.of(a, b) for a, b in parts])
    for got, want in zip(
        P.self_normalised_se(normalised), R.self_normalised_mean_se(x, w), strict=True
    ):
        assert close(got, want)
    y = x + 1.0
    ratio = P.merge_all([P.Moments.of(a, a + 1.0) for a, _ in parts])
    for got, want in zip(P.ratio_from(ratio), R.ratio_se(x, y), strict=True):
        assert close(got, want)


@pytest.mark.parametrize("limit", [4, 65_536])  # 4: every bin is split again, down the bits
@pytest.mark.parametrize("q", [0.0, 0.01, 0.05, 0.5, 0.6, 0.95, 0.99, 0.999, 1.0])
def test_exact_quantiles_equal_the_sorted_ones(sample, monkeypatch, limit, q):
    monkeypatch.setattr(P, "FETCH_LIMIT", limit)
    x, w = sample
    x = np.concatenate([x, -x[:50], [np.nan] * 3])  # negative values and NaN too
    w = np.concatenate([w, w[:50], [1.0] * 3])
    keep = ~np.isnan(x)
    n = int(keep.sum())
    got = P.quantile_se_exact(chunks_of(x[keep], None), q, n=n, weighted=False, total=n)
    assert got == R.quantile_se(x, q)  # the same order statistics: bit for bit
    xs, ws = x[keep], w[keep]
    got = P.quantile_se_exact(
        chunks_of(xs, ws), q, n=n, weighted=True, total=ws.sum(), square_total=(ws * ws).sum()
    )
    want = R.quantile_se(x, q, w)
    assert got[0] == want[0]
    assert close(got[1], want[1], 1e-9)


def test_rank_selection_by_hand():
    # chunks [5, 1, 4] and [2, 3]: sorted 1 2 3 4 5; rank 0 is 1, rank 2 is 3, rank 4 is 5;
    # the 0.25-quantile is at index 0.25 x 4 = 1: the value 2
    chunks = P.Chunks([(np.array([5.0, 1.0, 4.0]), np.ones(3)), (np.array([2.0, 3.0]), np.ones(2))])
    assert [f.value for f in P.select(chunks, [0, 2, 4], weighted=False, total=5)] == [1, 3, 5]
    assert P.quantile_se_exact(chunks, 0.25, n=5, weighted=False, total=5)[0] == 2.0
    # weighted: weights 1 1 1 1 6 on 1..5 (the 5 weighs 6 of 10): the 0.5 level is first
    # reached at 5 (shares 0.1 0.2 0.3 0.4 1.0); the 0.35 level at 4
    chunks = P.Chunks(
        [
            (np.array([5.0, 1.0, 4.0]), np.array([6.0, 1.0, 1.0])),
            (np.array([2.0, 3.0]), np.ones(2)),
        ]
    )
    found = P.select(chunks, [0.5, 0.35], weighted=True, total=10.0)
    assert [f.value for f in found] == [5.0, 4.0]
    assert found[1].weight_below == 3.0 and found[1].weight_at == 1.0


def test_sort_key_orders_like_the_values():
    values = np.array([-np.inf, -2.5, -1e-300, -0.0, 0.0, 1e-300, 1.0, 3.5, np.inf])
    keys = P.sort_key(values)
    assert np.all(np.diff(keys.astype(object)) > 0)


# ---------------------------------------------------------------------------------------------
# a run's summaries from chunk partials


@pytest.fixture(scope="module")
def weighted_run():
    from helpers import FLAGSHIP

    import ipabs
    from ipabs.engine.compile import compile_scenario, with_factor_shift
    from ipabs.engine.run import run_paths

    sc = ipabs.load(FLAGSHIP)
    deal = with_factor_shift(compile_scenario(sc), np.full(len(sc.factors.names), -0.5))
    raw = run_paths(deal, paths=1000, seed=11, block_size=64, sample_paths=10, threads=1)
    assert not np.all(raw.weight == 1.0)
    return deal, raw


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("size", [300, 1000])
def test_summaries_from_chunks_equal_the_one_shot_formulas(weighted_run, weighted, size):
    """Every tranche and pool estimate from partials of chunks of `size` paths equals the
    one-shot formula of ipabs.engine.reduce on the whole arrays: quantiles exactly, means and
    standard errors to 1e-12 relative (floating-point order only)."""
    import dataclasses

    from ipabs.engine.estimates import local_estimates
    from ipabs.engine.run import POOL_FIELDS, TRANCHE_FIELDS

    deal, raw = weighted_run
    if not weighted:
        raw = dataclasses.replace(raw, weight=np.ones_like(raw.weight))
    w = raw.weight if weighted else None
    est = local_estimates(deal, raw, chunk=size)
    summary = R.tranche_summary(deal, est).set_index("tranche")
    f = {name: i for i, name in enumerate(TRANCHE_FIELDS)}
    for t, tranche in enumerate(deal.scenario.tranches_by_rank()):
        row = summary.loc[tranche.name]
        data = raw.tranche[:, t, :]
        loss = data[:, f["principal_loss"]] / tranche.balance
        has_loss = loss > R.LOSS_TOLERANCE
        irr = data[:, f["irr"]]
        want = {
            "expected_loss": R.mean_se(loss, w),
            "prob_loss": R.mean_se(has_loss.astype(float), w),
            "loss_given_loss": R.conditional_mean_se(loss, has_loss, w),
            "irr_mean": R.mean_se(irr, w),
            "wal_years": R.mean_se(data[:, f["wal_years"]], w),
            "modified_duration": R.ratio_se(data[:, f["pv_time"]], data[:, f["pv"]], w),
        }
        for key, (value, se) in want.items():
            assert close(row[key], value), (tranche.name, key)
            assert close(row[f"{key}_se"], se, 1e-9), (tranche.name, key)
        assert row["paths_with_loss"] == int(has_loss.sum())
        for q in R.IRR_QUANTILES:
            key = f"irr_p{round(q * 100):02d}"
            value, se = R.quantile_se(irr, q, w)
            assert row[key] == value or (np.isnan(row[key]) and np.isnan(value)), key
            assert close(row[f"{key}_se"], se, 1e-9), key
    pool = R.pool_summary(deal, est).iloc[0]
    p = {name: i for i, name in enumerate(POOL_FIELDS)}
    collections = raw.pool[:, p["collections"]]
    assert close(pool["expected_collections"], R.mean_se(collections, w)[0])
    assert close(pool["expected_collections_se"], R.mean_se(collections, w)[1], 1e-9)
    assert pool["effective_sample_size"] == pytest.approx(
        R.effective_sample_size(w, raw.weight.size), rel=1e-12
    )


def test_chunks_run_apart_give_the_one_shot_run_s_summaries_bit_for_bit(weighted_run):
    """What a cluster does: each chunk run on its own (`run_chunk`), its partials made there;
    merged in chunk order they give the same summary as the one-shot run cut into the same
    chunks, bit for bit."""
    import pandas as pd

    from ipabs.engine import distribute
    from ipabs.engine.estimates import Estimates, chunk_partials, local_estimates

    deal, raw = weighted_run
    parts = [
        chunk_partials(deal, distribute.run_chunk(deal, 11, 64, 0, first, count))
        for first, count in distribute.chunks(1000, 0, 300)
    ]
    source = P.Chunks({name: [p.ranked[name] for p in parts] for name in parts[0].ranked})
    apart = Estimates([p.small() for p in parts], source)
    whole = local_estimates(deal, raw, chunk=300)
    for table in (R.tranche_summary, R.pool_summary, R.trigger_summary):
        pd.testing.assert_frame_equal(table(deal, apart), table(deal, whole), check_exact=True)
