"""The LPR of floating loans and classes (docs/model.md 3.8 and 4.1): the 1-year or 5-year tenor,
and repricing each period, on each anniversary or on each 1 January at the LPR of the month
before, worked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from helpers import REPO, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.engine.compile import compile_scenario
from ipabs.pool.lpr import fixing_date, floating_rates, rate_in_force, repricing_dates
from ipabs.scenario.load import validate
from ipabs.scenario.model import RatePoint, Repricing

D = dt.date
CLOSING = D(2024, 7, 10)  # a loan starting mid-year; quarterly periods start on the 10th
# an illustrative path that moves several times (published on the 20th, or the next business day)
LPR_1Y = [
    {"date": D(2024, 6, 20), "rate": 0.0345},
    {"date": D(2024, 7, 22), "rate": 0.0335},
    {"date": D(2024, 10, 21), "rate": 0.0310},
    {"date": D(2025, 5, 20), "rate": 0.0300},
    {"date": D(2026, 2, 20), "rate": 0.0290},
]
LPR_5Y = [
    {"date": D(2024, 6, 20), "rate": 0.0395},
    {"date": D(2024, 10, 21), "rate": 0.0360},
    {"date": D(2025, 5, 20), "rate": 0.0350},
]
SPREAD = 0.01


def loan(**kw):
    return {"id": "N", "balance": 1_000.0, "rate_type": "lpr", "spread": SPREAD, "term_years": 3.0,
            "annual_default_probability": 0.0, "collateral_value": 0.0, **kw}  # fmt: skip


FIXED = {"id": "F", "balance": 1_000.0, "rate": 0.05, "term_years": 3.0,
         "annual_default_probability": 0.0, "collateral_value": 0.0}  # fmt: skip


def deal(loans=(), tranches=None, rates=None):
    data = small_deal(
        deal={
            "name": "lpr",
            "closing_date": CLOSING,
            "payment_frequency": "quarterly",
            "legal_final_date": D(2027, 7, 10),
        },
        simulation={"paths": 2, "seed": 1, "block_size": 64},
        factors={"names": ["m"]},
        licensees=[],
        assets=[],
        loans=list(loans) or [FIXED],
        tranches=tranches or [{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
        rates=rates if rates is not None else {"lpr_1y": LPR_1Y, "lpr_5y": LPR_5Y},
    )
    return data


def loan_rates(data) -> np.ndarray:
    return compile_scenario(validate(data)).loans.rate


# the periods [start, end): 2024-07-10, 10-10, 2025-01-10, ..., 2027-04-10 (12 quarters)
STARTS = [D(2024 + (6 + 3 * k) // 12, (6 + 3 * k) % 12 + 1, 10) for k in range(12)]
# a period across 1 January: 83 days (10 Oct to 1 Jan) at the old rate, 9 at the new
OLD, NEW = 83 / 92, 9 / 92


def test_the_periods_are_the_quarters_from_closing():
    sc = validate(deal([loan()]))
    assert list(compile_scenario(sc).grid.collection_starts) == STARTS


def test_each_period_takes_the_path_at_the_period_start():
    # today's rule: no publication lag; the cut of 22 July 2024 applies from October
    lpr = [0.0345, 0.0335, 0.0310, 0.0310, 0.0300, 0.0300, 0.0300, 0.0290, 0.0290, 0.0290,
           0.0290, 0.0290]  # fmt: skip
    rate = loan_rates(deal([loan(repricing="each_period")]))[:, 0]
    np.testing.assert_array_equal(rate, np.array(lpr) + SPREAD)


def test_annual_anniversary_fixes_the_rate_for_a_year_at_the_lpr_of_the_month_before():
    # repricing on 10 July 2024 (the start), 2025 and 2026, each at the path on 30 June:
    # 3.45% (20 June 2024), 3.00% (20 May 2025), 2.90% (20 February 2026)
    rate = loan_rates(deal([loan(repricing="annual_anniversary")]))[:, 0]
    expected = np.repeat([0.0345, 0.0300, 0.0290], 4) + SPREAD
    np.testing.assert_array_equal(rate, expected)


def test_annual_january_reprices_inside_a_period_by_day_weights():
    # start 10 July 2024 at the path on 30 June (3.45%); 1 January 2025 at 31 December (3.10%),
    # 2026 at 3.00%, 2027 at 2.90%; the quarter from 10 October holds 1 January
    rate = loan_rates(deal([loan(repricing="annual_january")]))[:, 0]
    lpr = [0.0345, 0.0345 * OLD + 0.0310 * NEW, 0.0310, 0.0310, 0.0310,
           0.0310 * OLD + 0.0300 * NEW, 0.0300, 0.0300, 0.0300,
           0.0300 * OLD + 0.0290 * NEW, 0.0290, 0.0290]  # fmt: skip
    expected = np.array(lpr) + SPREAD
    np.testing.assert_allclose(rate, expected, rtol=1e-14, atol=0)


def test_the_loan_pays_interest_at_the_repriced_rate():
    data = deal([loan(repricing="annual_january", day_count="ACT/365F")])
    res = ipabs.simulate(validate(data))
    ends = [*STARTS[1:], D(2027, 7, 10)]
    accrual = np.array([(e - s).days / 365 for s, e in zip(STARTS, ends, strict=True)])
    expected = 1_000.0 * res.deal.loans.rate[:, 0] * accrual
    expected[-1] += 1_000.0  # maturity three years in
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    # the rate of the second period, by hand
    assert res.deal.loans.rate[1, 0] == pytest.approx((0.0345 * 83 + 0.0310 * 9) / 92 + SPREAD)


PATH = (
    RatePoint(date=D(2024, 1, 22), rate=0.0345),
    RatePoint(date=D(2024, 2, 20), rate=0.0345 - 0.0025),  # 3.20%
    RatePoint(date=D(2025, 2, 20), rate=0.0310),
    RatePoint(date=D(2025, 3, 20), rate=0.0300),
    RatePoint(date=D(2025, 4, 21), rate=0.0290),
)


@pytest.mark.parametrize(
    ("repricing_date", "fixing", "lpr", "same_day"),
    [
        (D(2025, 3, 1), D(2025, 2, 28), 0.0310, 0.0310),  # on the 1st: February's LPR
        (D(2025, 3, 20), D(2025, 2, 28), 0.0310, 0.0300),  # March's published that day: not used
        (D(2025, 3, 21), D(2025, 2, 28), 0.0310, 0.0300),  # after it: still February's
        (D(2025, 4, 1), D(2025, 3, 31), 0.0300, 0.0300),  # the next month: March's
        (D(2025, 4, 21), D(2025, 3, 31), 0.0300, 0.0290),  # not April's of that day
        (D(2024, 3, 1), D(2024, 2, 29), 0.0320, 0.0320),  # a leap February
        (D(2025, 1, 1), D(2024, 12, 31), 0.0320, 0.0320),  # across the year
    ],
)
def test_the_lpr_of_the_month_before(repricing_date, fixing, lpr, same_day):
    assert fixing_date(repricing_date) == fixing
    for rule in (Repricing.annual_anniversary, Repricing.annual_january):
        assert rate_in_force(PATH, rule, repricing_date, repricing_date) == lpr
        # a four-week period starting on the repricing date
        end = repricing_date + dt.timedelta(days=28)
        assert floating_rates(PATH, rule, repricing_date, [repricing_date], [end], 0.0)[0] == lpr
    # each_period has no lag: the path on the day itself
    assert rate_in_force(PATH, Repricing.each_period, repricing_date, repricing_date) == same_day


def test_repricing_dates():
    assert repricing_dates(Repricing.annual_anniversary, D(2024, 2, 29), D(2027, 3, 1)) == [
        D(2024, 2, 29), D(2025, 2, 28), D(2026, 2, 28), D(2027, 2, 28)]  # fmt: skip
    assert repricing_dates(Repricing.annual_january, D(2024, 7, 10), D(2026, 12, 31)) == [
        D(2024, 7, 10), D(2025, 1, 1), D(2026, 1, 1)]  # fmt: skip
    # a start on 1 January: the next is a year later
    assert repricing_dates(Repricing.annual_january, D(2025, 1, 1), D(2026, 1, 1)) == [
        D(2025, 1, 1), D(2026, 1, 1)]  # fmt: skip


def test_a_closing_on_publication_day_each_period_versus_annual():
    # closing on 20 March 2025, the day March's LPR (3.00%) is published: each period takes it at
    # once, an annual repricing takes February's (3.10%) until the anniversary
    data = deal([loan(repricing="each_period"), loan(id="M", repricing="annual_anniversary")],
                rates={"lpr_1y": [p.model_dump() for p in PATH]})  # fmt: skip
    data["deal"].update(closing_date=D(2025, 3, 20), legal_final_date=D(2027, 3, 20))
    rate = loan_rates(data)
    assert rate[0, 0] == 0.0300 + SPREAD
    assert rate[1, 0] == 0.0290 + SPREAD  # from 20 June: April's cut is in force
    np.testing.assert_array_equal(rate[:4, 1], 0.0310 + SPREAD)
    np.testing.assert_array_equal(rate[4:, 1], 0.0290 + SPREAD)  # 20 March 2026: the path on 28 Feb


@pytest.mark.parametrize(
    ("kw", "path"),
    [
        ({"term_years": 3.0}, "1y"),
        ({"term_years": 5.0}, "1y"),  # five years is not over five
        ({"term_years": 5.25}, "5y"),  # over five: the 5-year LPR
        ({"term_years": 10.0, "lpr_tenor": "1y"}, "1y"),  # chosen
        ({"term_years": 2.0, "lpr_tenor": "5y"}, "5y"),
    ],
)
def test_the_tenor_auto_takes_the_5_year_lpr_over_five_years(kw, path):
    data = deal([loan(**kw)])
    data["deal"]["legal_final_date"] = D(2035, 7, 10)
    rate = loan_rates(data)[:, 0]
    starts = list(compile_scenario(validate(data)).grid.collection_starts)
    points = LPR_1Y if path == "1y" else LPR_5Y
    expected = [max((p for p in points if p["date"] <= s), key=lambda p: p["date"])["rate"]
                for s in starts]  # fmt: skip
    np.testing.assert_array_equal(rate, np.array(expected) + SPREAD)


def test_a_floating_class_takes_its_tenor_and_repricing_floored_and_capped_in_each_part():
    tranches = [
        {"name": "A", "balance": 1.0, "rank": 1, "coupon_type": "lpr", "lpr_tenor": "5y",
         "spread": 0.005, "coupon_cap": 0.044, "repricing": "annual_january"},
        {"name": "B", "balance": 1.0, "rank": 2, "coupon_type": "lpr", "lpr_tenor": "5y",
         "spread": 0.005, "coupon_cap": 0.044, "repricing": "annual_anniversary"},
        {"name": "C", "balance": 1.0, "rank": 3, "coupon_type": "lpr", "spread": 0.005},
    ]  # fmt: skip
    coupon = compile_scenario(validate(deal(tranches=tranches))).waterfall.coupon
    # A: from closing 3.95% + 0.5% capped at 4.40%; from 1 January 2025 3.60% + 0.5%, from 2026
    # 3.50% + 0.5%; each part capped before the day weights
    a = [0.044, 0.044 * OLD + 0.041 * NEW, 0.041, 0.041, 0.041, 0.041 * OLD + 0.040 * NEW,
         *[0.040] * 6]  # fmt: skip
    np.testing.assert_allclose(coupon[0], a, rtol=1e-14, atol=0)
    # B: on the anniversaries (payment dates here): 4.40% (capped), then 4.00% twice
    np.testing.assert_array_equal(coupon[1], np.repeat([0.044, 0.040, 0.040], 4))
    # C: the default, the 1-year LPR at each period's start
    lpr = [0.0345, 0.0335, 0.0310, 0.0310, *[0.0300] * 3, *[0.0290] * 5]
    np.testing.assert_array_equal(coupon[2], np.array(lpr) + 0.005)


# ---- scenarios without the new keys keep their numbers ------------------------------------


def _arrays(compiled) -> dict[str, np.ndarray]:
    out = {}
    for part in ("loans", "waterfall", "pool"):
        value = getattr(compiled, part)
        items = value._asdict() if hasattr(value, "_asdict") else vars(value)
        out |= {f"{part}.{k}": np.asarray(v) for k, v in items.items()}
    return out


def _assert_same_arrays(a, b):
    x, y = _arrays(a), _arrays(b)
    assert x.keys() == y.keys()
    for key in x:
        assert x[key].dtype == y[key].dtype and x[key].shape == y[key].shape, key
        if x[key].dtype.kind in "fc":
            assert np.array_equal(x[key], y[key], equal_nan=True), key
        else:
            assert np.array_equal(x[key], y[key]), key


def _old_rule(points, starts, spread):
    """The rule before the repricing keys: the 1-year LPR in force at the period's start."""
    points = sorted(points, key=lambda p: p.date)
    out = []
    for d in starts:
        applicable = [p.rate for p in points if p.date <= d]
        out.append(applicable[-1] if applicable else points[0].rate)
    return np.array(out) + spread


def test_without_the_new_keys_the_compiled_arrays_are_bit_identical():
    tranches = [
        {"name": "A", "balance": 1.0, "rank": 1, "coupon_type": "lpr", "spread": 0.004,
         "coupon_floor": 0.035, "coupon_cap": 0.043},
        {"name": "B", "balance": 1.0, "rank": 2},
    ]  # fmt: skip
    loans = [loan(), loan(id="L", amortisation="level", spread=0.02, term_years=2.0),
             loan(id="F", rate_type="fixed", rate=0.05, spread=0.0)]  # fmt: skip
    plain = deal(loans, tranches, rates={"lpr_1y": LPR_1Y})
    explicit = deal(
        [{**x, "lpr_tenor": "auto", "repricing": "each_period"} if x["rate_type"] == "lpr" else x
         for x in loans],
        [{**t, "lpr_tenor": "1y", "repricing": "each_period"} if "coupon_type" in t else t
         for t in tranches],
        rates={"lpr_1y": LPR_1Y},
    )  # fmt: skip
    a, b = compile_scenario(validate(plain)), compile_scenario(validate(explicit))
    _assert_same_arrays(a, b)
    sc = a.scenario
    starts = list(a.grid.collection_starts)
    for j in range(2):
        assert np.array_equal(
            a.loans.rate[:, j], _old_rule(sc.rates.lpr_1y, starts, loans[j]["spread"])
        )
    note_starts = [CLOSING, *a.dates[:-1]]
    old = np.clip(_old_rule(sc.rates.lpr_1y, note_starts, 0.004), 0.035, 0.043)
    assert np.array_equal(a.waterfall.coupon[0], old)


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_scenarios_keep_their_rates(path):
    # the Beijing pools reprice on the anniversary; their path is flat from before closing, so
    # the rates are those of the rule before (the LPR at each period's start), bit for bit
    compiled = compile_scenario(ipabs.load(path))
    sc = compiled.scenario
    starts = list(compiled.grid.collection_starts)
    for j, x in enumerate(sc.loans):
        expected = (
            x.rate if x.rate_type == "fixed" else _old_rule(sc.rates.lpr_1y, starts, x.spread)
        )
        assert np.array_equal(compiled.loans.rate[:, j], np.broadcast_to(expected, len(starts)))


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loans", "tranche", "rates", "expected"),
    [
        ([loan(term_years=6.0)], {}, {"lpr_1y": LPR_1Y},
         "rates.lpr_5y: required key is missing: loan N floats on the 5-year LPR (lpr_tenor auto: a term of 6 years, over 5)"),
        ([loan(lpr_tenor="5y")], {}, {"lpr_1y": LPR_1Y},
         "rates.lpr_5y: required key is missing: loan N floats on the 5-year LPR"),
        ([loan(lpr_tenor="1y", term_years=6.0)], {}, {"lpr_5y": LPR_5Y},
         "rates.lpr_1y: required key is missing: loan N floats on the 1-year LPR"),
        ([], {"coupon_type": "lpr", "lpr_tenor": "5y"}, {"lpr_1y": LPR_1Y},
         "rates.lpr_5y: required key is missing: tranche A floats on the 5-year LPR"),
        ([loan(repricing="monthly")], {}, None, "loans[0].repricing"),
        ([loan(lpr_tenor="10y")], {}, None, "loans[0].lpr_tenor"),
        ([], {"coupon_type": "lpr", "repricing": "quarterly"}, None, "tranches[0].repricing"),
        ([loan(rate_type="fixed", rate=0.05, repricing="annual_anniversary")], {}, None,
         ('loans[0].repricing (id = "N")', "a fixed-rate loan does not reprice")),
        ([loan(rate_type="fixed", rate=0.05, lpr_tenor="5y")], {}, None,
         "loans[0].lpr_tenor"),
        ([], {"lpr_tenor": "5y"}, None, "tranches[0].lpr_tenor"),
        ([], {"repricing": "annual_january"}, None, "a fixed coupon does not reprice"),
    ],
)  # fmt: skip
def test_bad_lpr_input_exits_2_with_the_key_path(tmp_path, loans, tranche, rates, expected):
    data = deal(loans, [{"name": "A", "balance": 1.0, "rank": 1, **tranche}], rates)
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    for words in (expected,) if isinstance(expected, str) else expected:
        assert words in " ".join(proc.stderr.split()), proc.stderr
