"""The engine end to end: a deterministic deal against a hand-worked schedule and QuantLib,
determinism across threads and block sizes, and the pool against closed forms."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from helpers import small_deal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import ipabs
from ipabs.calendar import add_months
from ipabs.engine.run import _sample_row, scheduled_block_size
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
# switch off the IP type's default hazards (lapse, invalidation, obsolescence) and annuity costs
NO_EVENTS = {"lapse_hazard": 0.0, "invalidation_hazard": 0.0, "obsolescence_hazard": 0.0}


def deterministic_deal(**overrides):
    """One licensee that never defaults, one asset with no volatility: every path is the same."""
    data = small_deal(
        deal={
            "name": "deterministic",
            "closing_date": CLOSING,
            "payment_frequency": "quarterly",
            "legal_final_date": dt.date(2026, 1, 15),
        },
        simulation={"paths": 3, "seed": 1, "block_size": 2},
        factors={"names": ["m"]},
        licensees=[{"id": "L", "annual_default_probability": 0.0, "factor_loading": 0.5}],
        assets=[
            {
                "id": "P",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": 60.0,
                "growth_rate": 0.02,
                "volatility": 0.0,
                "factor_loading": 0.7,
                "remaining_legal_life_years": 10.0,
                **NO_EVENTS,
            },
        ],
        tranches=[
            {"name": "A", "balance": 80.0, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 20.0, "coupon": 0.0, "rank": 2},
        ],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.04},
    )
    data.update(overrides)
    return validate(data)


def hand_worked_cash_flows():
    """The deterministic deal worked by hand: dates, income, and the two classes' cash flows."""
    dates = [add_months(CLOSING, 3 * n) for n in range(1, 9)]
    prev = CLOSING
    a_balance, a_flows, sub_flows, a_principal = 80.0, [], [], []
    for d in dates:
        t = (d - CLOSING).days / 365.0
        period = (d - prev).days / 365.0
        cash = 60.0 * math.exp(0.02 * t) * period  # income level at the date times the period
        interest = a_balance * 0.03 * period  # ACT/365F accrual
        cash -= interest
        principal = min(cash, a_balance)
        if d == dates[-1]:
            principal = a_balance
        a_balance -= principal
        cash -= principal
        sub_principal = (
            20.0 if d == dates[-1] else 0.0
        )  # sub is repaid at legal final, then residual
        a_flows.append(interest + principal)
        a_principal.append(principal)
        sub_flows.append(cash)  # sub principal + residual
        prev = d
    assert a_balance == 0.0 and sub_principal == 20.0
    return dates, np.array(a_flows), np.array(a_principal), np.array(sub_flows)


def quantlib_metrics(dates, flows, price_rate, price):
    ql.Settings.instance().evaluationDate = ql.Date(CLOSING.day, CLOSING.month, CLOSING.year)
    leg = ql.Leg(
        [
            ql.SimpleCashFlow(float(c), ql.Date(d.day, d.month, d.year))
            for d, c in zip(dates, flows, strict=True)
        ]
    )
    settle = ql.Date(CLOSING.day, CLOSING.month, CLOSING.year)
    rate = ql.InterestRate(price_rate, ql.Actual365Fixed(), ql.Compounded, ql.Annual)
    npv = ql.CashFlows.npv(leg, rate, False, settle, settle)
    duration = ql.CashFlows.duration(
        leg,
        price_rate,
        ql.Actual365Fixed(),
        ql.Compounded,
        ql.Annual,
        ql.Duration.Modified,
        False,
        settle,
        settle,
    )
    yld = ql.CashFlows.yieldRate(
        leg,
        price,
        ql.Actual365Fixed(),
        ql.Compounded,
        ql.Annual,
        False,
        settle,
        settle,
        1e-12,
        200,
        0.03,
    )
    return npv, duration, yld


def test_deterministic_deal_matches_hand_worked_schedule_and_quantlib():
    res = ipabs.simulate(deterministic_deal())
    dates, a_flows, a_principal, sub_flows = hand_worked_cash_flows()
    assert res.deal.dates == dates
    s = res.summary.set_index("tranche")
    paths = res.paths.set_index(["path", "tranche"])
    # every path identical and equal to the hand-worked flows
    for p in range(3):
        row_a = paths.loc[(p, "A")]
        assert row_a["interest_received"] + row_a["principal_received"] == pytest.approx(
            a_flows.sum(), rel=1e-12
        )
        assert row_a["principal_loss"] == 0.0
        row_sub = paths.loc[(p, "sub")]
        assert row_sub["principal_received"] + row_sub["residual_received"] == pytest.approx(
            sub_flows.sum(), rel=1e-12
        )
    t = np.array([(d - CLOSING).days / 365.0 for d in dates])
    assert s.loc["A", "wal_years"] == pytest.approx((t * a_principal).sum() / 80.0, rel=1e-12)
    assert s.loc["A", "expected_loss"] == 0.0 and s.loc["A", "prob_loss"] == 0.0
    assert s.loc["A", "expected_loss_se"] == 0.0

    for name, flows, balance in (("A", a_flows, 80.0), ("sub", sub_flows, 20.0)):
        npv, duration, yld = quantlib_metrics(dates, flows, 0.04, balance)
        assert s.loc[name, "price_pct_par"] == pytest.approx(100 * npv / balance, rel=1e-10)
        assert s.loc[name, "modified_duration"] == pytest.approx(duration, rel=1e-9)
        assert s.loc[name, "irr_mean"] == pytest.approx(yld, abs=1e-9)
        assert s.loc[name, "irr_p50"] == pytest.approx(yld, abs=1e-9)


def test_zero_curve_and_spread_price_and_duration_match_quantlib():
    # the deterministic deal priced on a zero curve + 50 bp against QuantLib's ZeroCurve spread by
    # ZeroSpreadedTermStructure (annual compounding), and the duration against QuantLib's price
    # sensitivity to a parallel shift of the spread. The curve's points are the payment dates
    # (QuantLib interpolates continuous rates, the model annual ones: no point falls between)
    dates, a_flows, _, sub_flows = hand_worked_cash_flows()
    tenors = [(d - CLOSING).days / 365.0 for d in dates]
    rates = [0.02 + 0.004 * i for i in range(len(dates))]
    pricing = {"curve": [{"tenor_years": t, "rate": r} for t, r in zip(tenors, rates, strict=True)]}
    s = ipabs.simulate(deterministic_deal(pricing={**pricing, "spread": 0.005}))
    s = s.summary.set_index("tranche")
    settle = ql.Date(CLOSING.day, CLOSING.month, CLOSING.year)
    ql.Settings.instance().evaluationDate = settle
    zero = ql.ZeroCurve(
        [settle] + [ql.Date(d.day, d.month, d.year) for d in dates], [rates[0], *rates],
        ql.Actual365Fixed(), ql.NullCalendar(), ql.Linear(), ql.Compounded, ql.Annual,
    )  # fmt: skip
    spread = ql.SimpleQuote(0.005)
    curve = ql.YieldTermStructureHandle(
        ql.ZeroSpreadedTermStructure(
            ql.YieldTermStructureHandle(zero), ql.QuoteHandle(spread), ql.Compounded, ql.Annual
        )
    )
    for name, flows, balance in (("A", a_flows, 80.0), ("sub", sub_flows, 20.0)):
        leg = ql.Leg(
            [ql.SimpleCashFlow(float(c), ql.Date(d.day, d.month, d.year)) for d, c in zip(dates, flows, strict=True)]
        )  # fmt: skip
        npv = ql.CashFlows.npv(leg, curve, False, settle, settle)
        assert s.loc[name, "price_pct_par"] == pytest.approx(100 * npv / balance, rel=1e-10)
        bump = 1e-5
        spread.setValue(0.005 + bump)
        up = ql.CashFlows.npv(leg, curve, False, settle, settle)
        spread.setValue(0.005 - bump)
        down = ql.CashFlows.npv(leg, curve, False, settle, settle)
        spread.setValue(0.005)
        assert s.loc[name, "modified_duration"] == pytest.approx(
            -(up - down) / (2 * bump) / npv, rel=1e-8
        )


def test_class_spreads_price_each_class_at_its_own_rate():
    # A at the 4% discount rate, the subordinated class at 4% + 8%: QuantLib at each rate
    pricing = {"discount_rate": 0.04, "class_spreads": [{"tranche": "sub", "spread": 0.08}]}
    s = ipabs.simulate(deterministic_deal(pricing=pricing)).summary.set_index("tranche")
    dates, a_flows, _, sub_flows = hand_worked_cash_flows()
    for name, flows, balance, rate in (("A", a_flows, 80.0, 0.04), ("sub", sub_flows, 20.0, 0.12)):
        npv, duration, _ = quantlib_metrics(dates, flows, rate, balance)
        assert s.loc[name, "price_pct_par"] == pytest.approx(100 * npv / balance, rel=1e-10)
        assert s.loc[name, "modified_duration"] == pytest.approx(duration, rel=1e-9)


def test_a_flat_curve_prices_as_the_discount_rate():
    flat = deterministic_deal(pricing={"discount_rate": 0.035, "spread": 0.005})
    curve = deterministic_deal(
        pricing={"curve": [{"tenor_years": 1.0, "rate": 0.04}, {"tenor_years": 5.0, "rate": 0.04}]}
    )
    a = ipabs.simulate(flat).summary.set_index("tranche")
    b = ipabs.simulate(curve).summary.set_index("tranche")
    for col in ("price_pct_par", "modified_duration"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-14)


def test_certain_default_collects_only_the_recovery_of_the_first_period():
    sc = deterministic_deal(
        licensees=[{"id": "L", "annual_default_probability": 1.0, "recovery_rate": 0.4}]
    )
    res = ipabs.simulate(sc)
    t1 = (add_months(CLOSING, 3) - CLOSING).days / 365.0
    due1 = 60.0 * math.exp(0.02 * t1) * t1
    pool = res.pool_paths
    np.testing.assert_allclose(pool["collections"], 0.4 * due1, rtol=1e-12)
    assert (pool["licensee_defaults"] == 1).all()
    s = res.summary.set_index("tranche")
    assert s.loc["A", "prob_loss"] == 1.0 and s.loc["sub", "expected_loss"] == 1.0


@pytest.mark.parametrize("cut", [0.0, 0.5])
def test_a_relicensed_right_pays_its_share_from_the_lag_on(cut):
    # the licensee defaults in period 1 for certain; the patent is licensed again 6 months (two
    # quarters) later at half the income: recovery in period 1, nothing in period 2, then half.
    # The breakeven's recovery_cut scales both the recovery and the re-licensed share
    from ipabs.solvers.stress import recovery_cut

    data = {
        "licensees": [{"id": "L", "annual_default_probability": 1.0, "recovery_rate": 0.4}],
    }
    sc = deterministic_deal(**data)
    asset = sc.assets[0].model_copy(update={"relicensing_months": 6, "relicensing_share": 0.5})
    res = ipabs.simulate(recovery_cut(sc.model_copy(update={"assets": (asset,)}), cut))
    keep = 1.0 - cut
    dates = [add_months(CLOSING, 3 * n) for n in range(1, 9)]
    prev, expected = CLOSING, []
    for k, d in enumerate(dates):
        t, period = (d - CLOSING).days / 365.0, (d - prev).days / 365.0
        due = 60.0 * math.exp(0.02 * t) * period
        expected.append(0.4 * keep * due if k == 0 else 0.0 if k == 1 else 0.5 * keep * due)
        prev = d
    np.testing.assert_allclose(res.periods["collections_p50"], expected, rtol=1e-12)
    np.testing.assert_allclose(res.pool_paths["collections"], sum(expected), rtol=1e-12)


def _arrays(res):
    raw = res.raw
    return raw.tranche, raw.pool, raw.sample_collections, raw.sample_balances, raw.sample_flows


def test_same_seed_same_numbers_for_any_thread_count_or_block_size():
    sc = validate(
        small_deal(simulation={"paths": 1500, "seed": 11, "block_size": 128, "sample_paths": 700})
    )
    base = _arrays(ipabs.simulate(sc, threads=1))
    for kwargs in (
        {"threads": 2},
        {"block_size": 7, "threads": 2},
        {"block_size": 4096, "threads": 1},
        {"block_size": 4096, "threads": 2},  # cut to blocks of 256 (scheduled_block_size)
    ):
        other = _arrays(ipabs.simulate(sc, **kwargs))
        for a, b in zip(base, other, strict=True):
            assert np.array_equal(a, b, equal_nan=True), kwargs
    different = ipabs.simulate(sc, seed=12)
    assert not np.array_equal(base[1], different.raw.pool)
    # a longer run extends a shorter one: path p does not depend on how many paths there are
    longer = ipabs.simulate(sc, paths=2000)
    assert np.array_equal(longer.raw.tranche[:1500], base[0], equal_nan=True)


def test_a_run_with_few_blocks_a_thread_cuts_them_smaller():
    # the last block to finish sets the wall time: each thread gets at least 8 blocks, where
    # that leaves them at least 256 paths; the scenario's size is never exceeded
    assert scheduled_block_size(10_000, 1024, 2) == 625  # 16 blocks, not 10
    assert scheduled_block_size(100_000, 1024, 2) == 1024
    assert scheduled_block_size(2_000, 1024, 2) == 256
    assert scheduled_block_size(100, 1024, 4) == 256  # one block: nothing to share
    assert scheduled_block_size(10_000, 100, 2) == 100
    assert scheduled_block_size(10_000, 1024, 1) == 1024


def test_a_sample_row_of_zeros_is_left_untouched():
    # the kernel copies a path's per-period series into zeroed sample rows, and skips a series of
    # +0.0 (its memory is then never written); anything else is copied as it is, -0.0 included
    row = np.full(4, np.nan)  # (a row that was not zeroed shows whether it was written)
    _sample_row(np.zeros(4), row)
    assert np.isnan(row).all()
    for values in ([0.0, 0.0, 0.0, 2.5], [-0.0, 0.0, 0.0, 0.0], [0.0, np.nan, 0.0, 0.0]):
        row = np.full(4, np.nan)
        _sample_row(np.array(values), row)
        assert np.array_equal(row, values, equal_nan=True)
        assert np.array_equal(np.signbit(row), np.signbit(values))


_DIRTY_MEMORY_RUN = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from helpers import small_deal
import ipabs
from ipabs.engine.run import POOL_FLOWS
from ipabs.scenario.load import validate
probe = np.empty(5000)  # glibc fills memory malloc hands out with 0x5a bytes (MALLOC_PERTURB_)
perturbed = bool((probe != 0.0).all())
del probe
sim = {{"paths": 60, "seed": 3, "block_size": 16, "sample_paths": 40}}
raw = ipabs.simulate(validate(small_deal(simulation=sim)), threads=1, progress=False).raw
def zero(a):
    return bool((a == 0.0).all() and not np.signbit(a).any())
names = ("sample_reserve", "sample_performing", "sample_loan_loss", "sample_holdback", "sample_pdl")
print(json.dumps({{
    "perturbed": perturbed,
    "rows": {{n: zero(getattr(raw, n)) for n in names}},
    "flows": {{n: zero(raw.sample_flows[:, i]) for i, n in enumerate(POOL_FLOWS)}},
}}))
"""


def test_sample_series_a_deal_lacks_are_zeros_even_in_dirty_memory():
    # the kernel leaves a sample row of zeros unwritten (`_sample_row`), so the arrays must be
    # zeroed when allocated: run where fresh memory is filled with junk (glibc's MALLOC_PERTURB_;
    # 40 paths' rows are small enough to come from malloc's heap)
    import json
    import subprocess
    import sys

    code = _DIRTY_MEMORY_RUN.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "MALLOC_PERTURB_": "165"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["perturbed"], "MALLOC_PERTURB_ did not fill fresh memory: the test shows nothing"
    rows, flows = out["rows"], out["flows"]
    # a licence pool without loans, a holdback or a principal deficiency ledger
    assert rows["sample_performing"] and rows["sample_loan_loss"], rows
    assert rows["sample_holdback"] and rows["sample_pdl"], rows
    lacks = ("call_proceeds", "credit_support", "liquidity_drawn", "holdback_drawn",
             "holdback_released", "revolving_purchases", "holdback_in", "liquidity_charges",
             "liquidity_repaid", "performance_fee")  # fmt: skip
    assert all(flows[name] for name in lacks), flows
    # and what it has is written: the reserve (funded at closing), fees, collections
    assert not rows["sample_reserve"], rows
    assert not flows["collections"] and not flows["fees"], flows


def test_expected_income_matches_the_lognormal_mean():
    """No defaults: E[collections] = sum_k base e^(g t_k) dt_k (the volatility drift correction
    makes the level a martingale times e^(g t)). Compared within 4 standard errors."""
    sc = deterministic_deal(
        assets=[
            {
                "id": "P",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": 60.0,
                "growth_rate": -0.05,
                "volatility": 0.35,
                "factor_loading": 0.6,
                "remaining_legal_life_years": 1.3,
                **NO_EVENTS,
            },
        ],
        simulation={"paths": 20_000, "seed": 3},
    )
    res = ipabs.simulate(sc)
    t, dt_ = res.deal.t_years, res.deal.dt_years
    live = np.clip((1.3 - (t - dt_)) / dt_, 0.0, 1.0)  # income stops at 1.3 years
    expected = (60.0 * np.exp(-0.05 * t) * dt_ * live).sum()
    est, se = res.pool.loc[0, "expected_collections"], res.pool.loc[0, "expected_collections_se"]
    assert abs(est - expected) < 4 * se, (est, expected, se)
    assert res.periods["collections_mean"].iloc[-1] == 0.0  # nothing after expiry


def licensee_pool(n, pd_annual, loading, *, paths, seed):
    """n identical licensees, each paying one asset: the default count is the thing to test."""
    licensees = [
        {"id": f"L{i}", "annual_default_probability": pd_annual, "factor_loading": loading}
        for i in range(n)
    ]
    assets = [
        {"id": f"P{i}", "type": "patent", "licensee": f"L{i}", "base_annual_income": 1.0,
         "remaining_legal_life_years": 5.0}
        for i in range(n)
    ]  # fmt: skip
    sc = deterministic_deal(
        licensees=licensees, assets=assets, simulation={"paths": paths, "seed": seed}
    )
    return ipabs.simulate(sc)


def test_default_counts_match_the_binomial_at_zero_correlation():
    """20 independent licensees with PD 4%/year over 2 years: the count of defaults per path is
    Binomial(20, 1 - 0.96^T). Chi-square goodness of fit at significance 0.001."""
    n, pd_annual = 20, 0.04
    res = licensee_pool(n, pd_annual, 0.0, paths=20_000, seed=5)
    horizon = res.deal.t_years[-1]
    p = 1.0 - (1.0 - pd_annual) ** horizon
    counts = np.bincount(res.pool_paths["licensee_defaults"].to_numpy(), minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, p) * counts.sum()
    # merge the upper tail so that every bin expects at least 5
    cut = int(np.nonzero(expected >= 5)[0].max())
    obs = np.append(counts[:cut], counts[cut:].sum())
    exp = np.append(expected[:cut], expected[cut:].sum())
    chi2, pvalue = stats.chisquare(obs, exp)
    assert pvalue > 0.001, (obs, exp, chi2)


def test_correlation_widens_the_default_count_distribution():
    """With factor loading a > 0 the counts are over-dispersed against the binomial (same mean)."""
    n = 20
    res = licensee_pool(n, 0.04, 0.6, paths=20_000, seed=6)
    counts = res.pool_paths["licensee_defaults"].to_numpy()
    p = 1.0 - 0.96 ** res.deal.t_years[-1]
    mean_se = counts.std() / math.sqrt(counts.size)
    assert abs(counts.mean() - n * p) < 4 * mean_se
    assert counts.var() > 1.5 * n * p * (1 - p)


@st.composite
def random_deals(draw):
    """Small random deals through the whole engine (pool + waterfall + metrics)."""
    n_lic = draw(st.integers(1, 4))
    licensees = [
        {"id": f"L{j}", "annual_default_probability": draw(st.floats(0.0, 0.6)), "recovery_rate": draw(st.floats(0, 1)),
         "factor_loading": draw(st.floats(0, 0.95))}
        for j in range(n_lic)
    ]  # fmt: skip
    assets = [
        {"id": f"A{i}", "type": "patent", "licensee": f"L{draw(st.integers(0, n_lic - 1))}",
         "base_annual_income": draw(st.floats(0.0, 5e6)), "growth_rate": draw(st.floats(-0.3, 0.2)),
         "volatility": draw(st.floats(0.0, 1.0)), "factor_loading": draw(st.floats(0, 0.95)),
         "remaining_legal_life_years": draw(st.floats(0.1, 6.0))}
        for i in range(draw(st.integers(1, 5)))
    ]  # fmt: skip
    tranches = [
        {
            "name": f"T{r}",
            "balance": draw(st.floats(1e4, 1e7)),
            "coupon": draw(st.floats(0.0, 0.12)),
            "rank": r,
        }
        for r in range(1, draw(st.integers(1, 4)) + 1)
    ]
    return small_deal(
        simulation={
            "paths": 40,
            "seed": draw(st.integers(0, 2**32)),
            "block_size": draw(st.integers(1, 64)),
        },
        factors={"names": ["m"]},
        licensees=licensees,
        assets=assets,
        tranches=tranches,
        fees={
            "fixed_per_year": draw(st.floats(0, 2e5)),
            "pct_of_notes_per_year": draw(st.floats(0, 0.01)),
        },
        reserve={"initial_balance": draw(st.floats(0, 5e5)), "target": draw(st.floats(0, 5e5))},
        credit_support=[
            {
                "kind": "differential_payment",
                "covers": [t["name"] for t in tranches[:n_covered]],
                "cap": draw(st.floats(0, 1e7)),
                "provider_default_probability": draw(st.floats(0, 0.5)),
                "factor_loading": draw(st.floats(0, 0.9)),
            }
            for n_covered in draw(st.lists(st.integers(1, len(tranches)), max_size=2))
        ],
        deal={
            **small_deal()["deal"],
            "payment_frequency": draw(st.sampled_from(["monthly", "quarterly"])),
        },
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_deals())
def test_every_path_conserves_cash_and_respects_ranks(data):
    res = ipabs.simulate(validate(data))
    tranche = res.paths
    pool = res.pool_paths
    by_path = tranche.groupby("path", observed=True)[
        ["interest_received", "principal_received"]
    ].sum()
    inflow = (
        pool["collections"]
        + pool["reserve_draw"]
        + pool["reserve_release"]
        + pool["credit_support_paid"]
    )
    outflow = (
        pool["fees_paid"]
        + by_path["interest_received"]
        + by_path["principal_received"]
        + pool["reserve_topup"]
        + pool["residual"]
    )
    assert np.all(np.abs(inflow - outflow) <= 1e-9 * np.maximum(inflow, 1.0))
    balances = np.array([t["balance"] for t in data["tranches"]])
    received = tranche["principal_received"].to_numpy().reshape(-1, len(balances))
    assert np.all(received <= balances * (1 + 1e-12)), "no tranche is repaid more than its balance"
    loss = tranche["loss_fraction"].to_numpy().reshape(-1, len(balances))
    assert np.all(np.diff(loss, axis=1) >= -1e-12), (
        "a junior tranche never loses less than a senior one"
    )


def test_a_class_guarantee_from_a_sound_guarantor_removes_the_class_loss():
    """Certain licensee default leaves every class with a loss; a guarantee of class A from a
    guarantor that cannot default pays A's interest and principal in full, and nothing to the
    others; one that defaults at once pays nothing."""
    base = deterministic_deal(licensees=[{"id": "L", "annual_default_probability": 1.0}])
    support = {"kind": "guarantee", "covers": ["A"], "provider_default_probability": 0.0}
    data = base.model_dump()
    data["credit_support"] = [support]
    guaranteed = ipabs.simulate(validate(data)).summary.set_index("tranche")
    assert (
        guaranteed.loc["A", "expected_loss"] == 0.0
        and guaranteed.loc["sub", "expected_loss"] == 1.0
    )
    # bought at par, paid its 3% coupon quarterly and par at legal final: about (1 + 0.03/4)^4 - 1
    assert guaranteed.loc["A", "irr_mean"] == pytest.approx(1.0075**4 - 1, abs=2e-3)
    data["credit_support"] = [{**support, "provider_default_probability": 1.0}]
    failed = ipabs.simulate(validate(data)).summary.set_index("tranche")
    assert failed.loc["A", "expected_loss"] > 0.9


def test_floating_and_stepped_up_coupons_by_hand():
    """Class A floats at the 1-year LPR + 1% with a 4.4% cap; class B steps up from 2% to 5% for
    periods starting on or after 2025-01-15. Interest each period is balance x rate x accrual,
    read back from the deterministic deal's interest totals."""
    rates = {
        "lpr_1y": [
            {"date": dt.date(2023, 12, 20), "rate": 0.0345},
            {"date": dt.date(2024, 6, 20), "rate": 0.0300},
        ]
    }
    data = deterministic_deal().model_dump()
    data["rates"] = rates
    data["tranches"] = [
        {"name": "A", "balance": 80.0, "rank": 1, "coupon_type": "lpr", "spread": 0.01, "coupon_cap": 0.044,
         "amortisation": [{"date": dt.date(2026, 1, 15), "principal": 80.0}]},
        {"name": "B", "balance": 20.0, "rank": 2, "coupon": 0.02, "step_up_date": dt.date(2025, 1, 15), "step_up_coupon": 0.05,
         "amortisation": [{"date": dt.date(2026, 1, 15), "principal": 20.0}]},
    ]  # fmt: skip
    res = ipabs.simulate(validate(data))
    dates = res.deal.dates
    starts = [CLOSING, *dates[:-1]]
    accrual = np.array([(e - s).days / 365.0 for s, e in zip(starts, dates, strict=True)])
    lpr = np.array([0.0345 if s < dt.date(2024, 6, 20) else 0.03 for s in starts])
    a_rate = np.minimum(lpr + 0.01, 0.044)
    b_rate = np.array([0.05 if s >= dt.date(2025, 1, 15) else 0.02 for s in starts])
    np.testing.assert_allclose(res.deal.waterfall.coupon, [a_rate, b_rate], rtol=0, atol=1e-15)
    paths = res.paths.set_index(["path", "tranche"])
    assert paths.loc[(0, "A"), "interest_received"] == pytest.approx(
        80.0 * (a_rate * accrual).sum(), rel=1e-12
    )
    assert paths.loc[(0, "B"), "interest_received"] == pytest.approx(
        20.0 * (b_rate * accrual).sum(), rel=1e-12
    )
    assert res.summary.set_index("tranche").loc["A", "coupon"] == pytest.approx(0.044)


def test_coverage_bands_use_only_paths_with_debt_service():
    # three sampled paths, three periods: coverage = collections / debt service where the service
    # is positive; period 3 has none on any path (notes repaid), period 2 on one path only
    from ipabs.engine.compile import compile_scenario
    from ipabs.engine.reduce import period_bands
    from ipabs.engine.run import N_POOL_FLOWS, RawResults

    deal = compile_scenario(validate(small_deal()))
    k = deal.n_periods  # 12; periods after the third have no debt service either
    collections = np.ones((3, k))
    service = np.zeros((3, k))
    collections[:, :3] = [[4.0, 3.0, 1.0], [6.0, 5.0, 1.0], [8.0, 9.0, 1.0]]
    service[:, :3] = [[2.0, 0.0, 0.0], [2.0, 2.5, 0.0], [4.0, 0.0, 0.0]]
    zeros = np.zeros((3, k))
    raw = RawResults(
        np.zeros((3, deal.n_tranches, 11)), np.zeros((3, 28)), collections,
        np.zeros((3, deal.n_tranches, k)), zeros, np.zeros((3, 0), np.int64), zeros, zeros, service,
        collections, zeros, np.ones(3), np.zeros((3, N_POOL_FLOWS + 2 + 2 * deal.n_tranches, k)),
    )  # fmt: skip
    bands = period_bands(deal, raw)
    np.testing.assert_allclose(bands["coverage_mean"][0], (2.0 + 3.0 + 2.0) / 3)
    np.testing.assert_allclose(bands["coverage_p50"][0], 2.0)
    np.testing.assert_allclose(bands["coverage_mean"][1], 2.0)  # 5 / 2.5, the one path with service
    assert bands["coverage_paths"].tolist()[:3] == [3, 1, 0]
    assert np.isnan(bands["coverage_p95"][2]) and np.isnan(bands["coverage_mean"][2])


def test_borrowed_arrays_neither_leak_nor_are_freed_early():
    """`run._borrowed` hands the kernel its arrays without reference counting: Numba's
    allocation counters must still balance over a run (every block's scratch freed, nothing of
    the caller's freed), and the caller's arrays stay intact."""
    import subprocess
    import sys

    code = (
        "import numpy as np, ipabs\n"
        "from numba.core.runtime import rtsys\n"
        "from helpers import small_deal\n"
        "from ipabs.scenario.load import validate\n"
        "sc = validate(small_deal())\n"
        "first = ipabs.simulate(sc, paths=300, seed=4, progress=False, threads=2, block_size=16)\n"
        "before = rtsys.get_allocation_stats()\n"
        "again = ipabs.simulate(sc, paths=300, seed=4, progress=False, threads=2, block_size=16)\n"
        "after = rtsys.get_allocation_stats()\n"
        "assert after.alloc - before.alloc == after.free - before.free, (before, after)\n"
        "assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free, (before, after)\n"
        "assert np.array_equal(first.raw.tranche, again.raw.tranche, equal_nan=True)\n"
        "assert np.array_equal(again.deal.waterfall.balance0, [t.balance for t in sc.tranches_by_rank()])\n"
        "print('ok')\n"
    )
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "NUMBA_NRT_STATS": "1", "PYTHONPATH": str(tests)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


def test_borrowed_takes_arrays_and_plain_values_only():
    from numba import njit
    from numba.core.errors import TypingError

    from ipabs.engine.run import _borrowed

    @njit
    def total(x):
        return _borrowed((x, 2.0, None, (x, True)))[3][0].sum()

    assert total(np.arange(5.0)) == 10.0

    @njit
    def with_text(n):
        return _borrowed((1.0, str(n)))  # a string holds counted memory: refused

    with pytest.raises(TypingError, match="borrowed takes arrays"):
        with_text(3)


@pytest.mark.parametrize("months", [24, 3])
def test_interbank_compounding_prices_as_quantlib(months):
    """[pricing] compounding = "interbank" (ChinaBond's convention at issue): the k-th quarterly
    payment discounts by (1 + z/4)^-k, checked against QuantLib's CashFlows.npv and duration with
    Compounded Quarterly on ActualActual(ISMA) over the deal's schedule (time in coupon periods);
    a one-period deal (months = 3), in its final coupon period, by simple interest on ACT/365F
    (QuantLib's Simple)."""
    data = deterministic_deal().model_dump(mode="python")
    data["deal"]["legal_final_date"] = add_months(CLOSING, months)
    data["pricing"] = {"discount_rate": 0.04, "compounding": "interbank"}
    res = ipabs.simulate(validate(data), progress=False)
    frame = res.cash_flows  # every path is the same: the mean is the path
    flows = frame["interest_A"].to_numpy() + frame["principal_A"].to_numpy()
    settle = ql.Date(CLOSING.day, CLOSING.month, CLOSING.year)
    ql.Settings.instance().evaluationDate = settle
    end = res.deal.dates[-1]
    schedule = ql.Schedule(settle, ql.Date(end.day, end.month, end.year), ql.Period(ql.Quarterly), ql.NullCalendar(), ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Forward, False)  # fmt: skip
    assert [ql.Date(d.day, d.month, d.year) for d in res.deal.dates] == list(schedule)[1:]
    leg = ql.Leg([ql.SimpleCashFlow(float(c), schedule[k + 1]) for k, c in enumerate(flows)])
    if months == 3:
        convention = (ql.Actual365Fixed(), ql.Simple, ql.Annual)
    else:
        convention = (ql.ActualActual(ql.ActualActual.ISMA, schedule), ql.Compounded, ql.Quarterly)
    npv = ql.CashFlows.npv(leg, ql.InterestRate(0.04, *convention), False, settle, settle)
    duration = ql.CashFlows.duration(leg, 0.04, *convention, ql.Duration.Modified, False, settle, settle)  # fmt: skip
    s = res.summary.set_index("tranche").loc["A"]
    assert s["price_pct_par"] == pytest.approx(100.0 * npv / 80.0, rel=1e-12)
    assert s["modified_duration"] == pytest.approx(duration, rel=1e-9)
    # the annual convention prices the same flows differently
    annual = ipabs.simulate(validate({**data, "pricing": {"discount_rate": 0.04}}), progress=False)
    assert annual.summary.set_index("tranche").loc["A", "price_pct_par"] != s["price_pct_par"]
