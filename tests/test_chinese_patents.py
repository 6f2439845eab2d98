"""Chinese patents (issue 17, item 2): invention patents, utility models and designs with their
terms, CNIPA's annual fee by patent year, the fee reduction (费减), who pays the annuities, the
per-type invalidation hazards, and bad input. Fees are hand-worked from the schedule in
docs/model.md 3.5; times are years of 365 days from closing."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.pool.assets import resolve_asset
from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
from ipabs.pool.valuation import asset_value
from ipabs.scenario.load import validate
from ipabs.scenario.model import IPAsset, IPType

CLOSING = dt.date(2024, 1, 15)
FINAL = dt.date(2027, 1, 15)
INCOME = 100_000.0  # a year: large enough that every fee is paid in full


def one_asset(paths=4, seed=1, **asset):
    spec = {
        "id": "X",
        "type": "invention_patent",
        "licensee": "L",
        "base_annual_income": INCOME,
        **QUIET_ASSET,
        **asset,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    data = small_deal(
        deal={
            "name": "one patent",
            "closing_date": CLOSING,
            "payment_frequency": "quarterly",
            "legal_final_date": FINAL,
        },
        simulation={"paths": paths, "seed": seed, "sample_paths": min(paths, 8)},
        factors={"names": ["m"]},
        licensees=[{"id": "L", "annual_default_probability": 0.0}],
        assets=[spec],
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
    )
    return ipabs.simulate(validate(data))


def step_integral(steps, a, b):
    """Hand integral of a step fee: steps = [(from, fee a year), ...]."""
    ends = [s for s, _ in steps[1:]] + [math.inf]
    return sum(f * max(min(b, e) - max(a, s), 0.0) for (s, f), e in zip(steps, ends, strict=True))


def expected_collections(res, steps, expiry=math.inf):
    t, dt_ = res.deal.t_years, res.deal.dt_years
    start = t - dt_
    out = []
    for a, b in zip(start, t, strict=True):
        end = min(b, max(expiry, a))
        out.append(INCOME * (end - a) - step_integral(steps, a, end))
    return np.array(out)


# --- the fee by patent year, across a band boundary in the middle of a period ------------------


@pytest.mark.parametrize(
    ("ip_type", "remaining", "steps", "expiry"),
    [
        # invention: 20-year term, 11.4 years left, so aged 8.6 at closing: patent year 9 (2,000)
        # until 0.4, year 10 (4,000) from 0.4 to 3.4; the deal's 3 years never reach 6,000
        ("invention_patent", 11.4, [(0.0, 2_000.0), (0.4, 4_000.0)], math.inf),
        # utility model: 10-year term, 2.3 left, aged 7.7: year 8 (1,200) until 0.3, years 9-10
        # (2,000) until it expires at 2.3; nothing after
        ("utility_model", 2.3, [(0.0, 1_200.0), (0.3, 2_000.0)], 2.3),
        # design (15-year term when only the remaining life is given): 5.2 left, aged 9.8:
        # year 10 (2,000) until 0.2, years 11-15 (3,000) after
        ("design_patent", 5.2, [(0.0, 2_000.0), (0.2, 3_000.0)], math.inf),
    ],
)
def test_annual_fee_by_patent_year_crosses_a_band(ip_type, remaining, steps, expiry):
    res = one_asset(type=ip_type, remaining_legal_life_years=remaining, annuities_prepaid=True)
    r = resolve_asset(res.scenario.assets[0], CLOSING)
    got = [(s, f) for s, f in r.fee_steps if s < 3.1]
    assert len(got) == len(steps)
    for (s, f), (s0, f0) in zip(got, steps, strict=True):
        assert s == pytest.approx(s0, abs=1e-12) and f == f0
    # the period holding the boundary pays each band for its share
    t = res.deal.t_years
    k = int(np.searchsorted(t, steps[1][0]))
    start = t[k] - res.deal.dt_years[k]
    assert start < steps[1][0] < t[k]
    expected = expected_collections(res, steps, expiry)
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12, atol=1e-9)
    fees = sum(
        step_integral(steps, a, min(b, expiry))
        for a, b in zip(t - res.deal.dt_years, t, strict=True)
    )
    assert res.pool_paths["annuity_fees_paid"].iloc[0] == pytest.approx(fees, rel=1e-12)


def test_the_schedules_are_cnipas():
    inv = IP_TYPE_DEFAULTS[IPType.invention_patent].annual_fee_schedule
    um = IP_TYPE_DEFAULTS[IPType.utility_model].annual_fee_schedule
    des = IP_TYPE_DEFAULTS[IPType.design_patent].annual_fee_schedule

    def fee(schedule, year):
        return next(f for first, f in reversed(schedule) if first <= year)

    assert [fee(inv, y) for y in range(1, 21)] == [900] * 3 + [1_200] * 3 + [2_000] * 3 + [
        4_000
    ] * 3 + [6_000] * 3 + [8_000] * 5
    assert [fee(um, y) for y in range(1, 11)] == [600] * 3 + [900] * 2 + [1_200] * 3 + [2_000] * 2
    assert [fee(des, y) for y in range(1, 16)] == [fee(um, y) for y in range(1, 11)] + [3_000] * 5


def test_patent_keeps_its_flat_fee_and_invention_patent_has_its_numbers():
    """`patent` is unchanged (flat 4,000, no fee steps); invention_patent has the same term and
    hazards, and in patent years 10-12 the same 4,000."""
    p, inv = IP_TYPE_DEFAULTS[IPType.patent], IP_TYPE_DEFAULTS[IPType.invention_patent]
    for key in ("legal_term_years", "lapse_hazard", "invalidation_hazard", "growth_rate"):
        assert getattr(p, key) == getattr(inv, key)
    common = {"licensee": "L", "base_annual_income": 1.0, "annuities_prepaid": True}
    r = resolve_asset(
        IPAsset(id="a", type="patent", remaining_legal_life_years=3, **common), CLOSING
    )
    assert (r.fee_steps, r.annual_fee) == (None, 4_000.0)
    # aged 10.5 (9.5 left): year 11, 4,000 until year 13 starts at age 12, 1.5 years in
    r = resolve_asset(
        IPAsset(id="b", type="invention_patent", remaining_legal_life_years=9.5, **common), CLOSING
    )
    assert r.fee_steps[0] == (0.0, 4_000.0) and r.fee_steps[1] == pytest.approx((1.5, 6_000.0))


def test_no_fee_before_the_year_of_grant():
    # invention filed 2021-07-16, aged 2.501 at closing (patent year 3), granted 2024-10-01 at
    # age 3.21 (patent year 4): nothing for year 3, then 1,200 from year 4, 0.499 years in
    a = IPAsset(
        id="a",
        type="invention_patent",
        licensee="L",
        base_annual_income=1.0,
        annuities_prepaid=True,
        protection_start_date=dt.date(2021, 7, 16),
        grant_date=dt.date(2024, 10, 1),  # after closing, in patent year 4
    )
    r = resolve_asset(a, CLOSING)
    age = (CLOSING - dt.date(2021, 7, 16)).days / 365.0
    assert r.fee_steps[0] == (0.0, 0.0)
    assert r.fee_steps[1] == pytest.approx((3.0 - age, 1_200.0))


# --- fee reduction -------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", [0.85, 0.70])
def test_fee_reduction_for_six_years_from_grant(reduction):
    # utility model aged 4.5 (5.5 left): year 5 (900) until 0.5, year 6 (1,200) until 1.5, year 7
    # (1,200) on. Granted 2020-01-15, 4.0027 years before closing, at age 0.4973: patent year 1,
    # so years 1-6 are reduced and the full fee is due from year 7, 1.5 years in.
    res = one_asset(
        type="utility_model",
        remaining_legal_life_years=5.5,
        annuities_paid_by="deal",
        grant_date=dt.date(2020, 1, 15),
        fee_reduction=reduction,
    )
    keep = 1.0 - reduction
    steps = [(0.0, 900.0 * keep), (0.5, 1_200.0 * keep), (1.5, 1_200.0), (3.5, 2_000.0)]
    r = resolve_asset(res.scenario.assets[0], CLOSING)
    assert [s for s, _ in r.fee_steps] == pytest.approx([s for s, _ in steps])
    assert [f for _, f in r.fee_steps] == pytest.approx([f for _, f in steps], rel=1e-12)
    np.testing.assert_allclose(
        res.raw.sample_collections[0], expected_collections(res, steps), rtol=1e-12
    )


def test_a_reduction_that_ended_before_closing_changes_nothing():
    base = {
        "type": "invention_patent",
        "remaining_legal_life_years": 11.4,
        "annuities_prepaid": True,
        "grant_date": dt.date(2014, 1, 15),  # 10 years before closing
    }
    full = one_asset(**base)
    cut = one_asset(**base, fee_reduction=0.85)
    np.testing.assert_array_equal(full.raw.sample_collections, cut.raw.sample_collections)


def test_flat_fee_on_the_asset_replaces_the_schedule_and_takes_the_reduction():
    res = one_asset(
        type="utility_model",
        remaining_legal_life_years=5.5,
        annuities_prepaid=True,
        annual_fee=1_000.0,
        grant_date=dt.date(2020, 1, 15),
        fee_reduction=0.85,
    )
    steps = [(0.0, 150.0), (1.5, 1_000.0)]
    np.testing.assert_allclose(
        res.raw.sample_collections[0], expected_collections(res, steps), rtol=1e-12
    )


# --- terms ---------------------------------------------------------------------------------


def test_utility_model_filed_9_5_years_before_closing_lapses_at_10_years():
    filed = dt.date(2014, 7, 17)
    res = one_asset(type="utility_model", protection_start_date=filed, annuities_prepaid=True)
    expiry = 10.0 - (CLOSING - filed).days / 365.0
    assert expiry == pytest.approx(181 / 365)  # 3,469 days after filing
    t = res.deal.t_years
    k = int(np.searchsorted(t, expiry))
    collections = res.raw.sample_collections[0]
    # patent year 10 (2,000 a year) until expiry, then no income and no fee
    np.testing.assert_allclose(
        collections, expected_collections(res, [(0.0, 2_000.0)], expiry), rtol=1e-12
    )
    assert np.all(collections[:k] > 0) and np.all(collections[k + 1 :] == 0.0)
    assert res.pool_paths["annuity_fees_paid"].iloc[0] == pytest.approx(2_000.0 * expiry)
    assert (res.pool_paths["ip_rights_lost"] == 0).all()  # reaching the term is not a loss


@pytest.mark.parametrize(
    ("filed", "term"), [(dt.date(2021, 5, 31), 10.0), (dt.date(2021, 6, 1), 15.0)]
)
def test_design_term_follows_the_2020_patent_law(filed, term):
    a = IPAsset(
        id="d",
        type="design_patent",
        licensee="L",
        base_annual_income=1.0,
        protection_start_date=filed,
    )
    r = resolve_asset(a, CLOSING)
    assert r.first_expiry_years == pytest.approx(term - (CLOSING - filed).days / 365.0)


# --- who pays -------------------------------------------------------------------------------


def test_enterprise_paid_annuities_cost_the_deal_nothing():
    common = {"type": "invention_patent", "remaining_legal_life_years": 11.4}
    ent = one_asset(**common, annuities_paid_by="enterprise", lapse_hazard=0.5)  # lapse ignored
    np.testing.assert_allclose(
        ent.raw.sample_collections[0], INCOME * ent.deal.dt_years, rtol=1e-12
    )
    assert (ent.pool_paths["annuity_fees_paid"] == 0.0).all()
    assert (ent.pool_paths["ip_rights_lost"] == 0).all()
    # "deal" is annuities_prepaid as before, exactly
    deal = one_asset(**common, annuities_paid_by="deal")
    legacy = one_asset(**common, annuities_prepaid=True)
    np.testing.assert_array_equal(deal.raw.sample_collections, legacy.raw.sample_collections)
    assert (deal.pool_paths["annuity_fees_paid"] > 0).all()
    # the income-method value: enterprise-paid fees are not the holder's cost
    sc = ent.scenario
    v_ent = asset_value(sc.assets[0], CLOSING, 0.0)
    v_deal = asset_value(deal.scenario.assets[0], CLOSING, 0.0)
    assert v_ent["annuity_fees_pv"] == 0.0
    assert v_deal["value"] == pytest.approx(v_ent["value"] - v_deal["annuity_fees_pv"])


def test_valuation_fees_follow_the_patent_year():
    a = IPAsset(
        id="a",
        type="invention_patent",
        licensee="L",
        base_annual_income=1.0,
        remaining_legal_life_years=11.5,  # aged 8.5: years 9 to 20, boundaries on month edges
        annuities_prepaid=True,
        volatility=0.0,
        invalidation_hazard=0.0,
        obsolescence_hazard=0.0,
    )
    fees = asset_value(a, CLOSING, 0.0)["annuity_fees_pv"]
    by_hand = 0.5 * 2_000 + 3 * 4_000 + 3 * 6_000 + 5 * 8_000
    assert fees == pytest.approx(by_hand, rel=1e-12)


# --- invalidation hazards per type ------------------------------------------------------------


@pytest.mark.parametrize("ip_type", ["invention_patent", "utility_model", "design_patent"])
def test_invalidation_hazard_per_type_binomial(ip_type):
    """With only the type's invalidation hazard h (fees kept paid: no lapse; no obsolescence),
    the share of paths that lose the right by the horizon H is 1 - exp(-h H): within 4 binomial
    standard errors at 4,000 paths."""
    h = IP_TYPE_DEFAULTS[IPType(ip_type)].invalidation_hazard
    n = 4_000
    res = one_asset(
        paths=n,
        seed=7,
        type=ip_type,
        remaining_legal_life_years=9.0,
        annuities_paid_by="enterprise",
        invalidation_hazard=None,  # the type's
    )
    p = -math.expm1(-h * res.deal.t_years[-1])
    lost = res.pool_paths["ip_rights_lost"].to_numpy()
    assert lost.size == n and set(np.unique(lost)) <= {0, 1}
    share, se = lost.mean(), math.sqrt(p * (1 - p) / n)
    assert abs(share - p) < 4 * se, (ip_type, share, p, se)


def test_unexamined_types_are_invalidated_more_often():
    d = IP_TYPE_DEFAULTS
    inv = d[IPType.invention_patent].invalidation_hazard
    assert d[IPType.utility_model].invalidation_hazard > inv
    assert d[IPType.design_patent].invalidation_hazard > inv
    assert d[IPType.patent].invalidation_hazard == inv


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset", "expected"),
    [
        ({"fee_reductoin": 0.85}, ["assets[0].fee_reductoin", "did you mean 'fee_reduction'?"]),
        ({"annuities_paid_byy": "deal"}, ["did you mean 'annuities_paid_by'?"]),
        ({"annuities_paid_by": "bank"}, ["assets[0].annuities_paid_by", "'deal'", "'enterprise'"]),
        ({"type": "utility_modle"}, ["assets[0].type", "utility_model"]),
        ({"fee_reduction": 1.5}, ["assets[0].fee_reduction", "less than or equal to 1"]),
        (
            {"annuities_prepaid": True, "fee_reduction": 0.85},
            ["assets[0].grant_date", "required key is missing", "six patent years"],
        ),
        (
            {"annuities_paid_by": "enterprise", "fee_reduction": 0.85, "grant_date": "2020-01-01"},
            ["assets[0].fee_reduction", "only used when the deal pays the annual fees"],
        ),
        (
            {"type": "trademark", "annuities_prepaid": True, "fee_reduction": 0.85},
            ["assets[0].fee_reduction", "a trademark has no annual fee to reduce"],
        ),
        (
            {"annuities_prepaid": False, "annuities_paid_by": "enterprise"},
            ["assets[0].annuities_prepaid", "annuities_paid_by keeps the annual fees paid"],
        ),
        (
            {
                "remaining_legal_life_years": None,
                "protection_start_date": "2020-01-01",
                "grant_date": "2019-01-01",
            },
            ["assets[0].grant_date", "must be on or after protection_start_date"],
        ),
        (
            {
                "type": "utility_model",
                "remaining_legal_life_years": None,
                "protection_start_date": "2013-01-01",
            },
            ["assets[0].protection_start_date", "the 10-year term has ended"],
        ),
    ],
)
def test_bad_patent_input_exits_2(tmp_path, asset, expected):
    data = small_deal()
    spec = {**data["assets"][0], **asset}
    for key in ("protection_start_date", "grant_date"):
        if isinstance(spec.get(key), str):
            spec[key] = dt.date.fromisoformat(spec[key])
    data["assets"][0] = {k: v for k, v in spec.items() if v is not None}
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    message = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    for piece in expected:
        assert piece in message, (piece, message)
