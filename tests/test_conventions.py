"""Market conventions of Chinese deals (docs/model.md, section 1): unadjusted accrual (顺延不另计息),
the cut-off date (封包日), collection periods ending before the payment dates (计算日 before
兑付日), per-loan day counts, and the default grid's numbers kept bit for bit."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from helpers import FLAGSHIP, QUIET_ASSET, REPO, run_cli_in_process, small_deal, write_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

import ipabs
from ipabs.calendar import payment_schedule, time_grid, year_fraction
from ipabs.engine.compile import compile_scenario
from ipabs.pool.compile import compile_pool
from ipabs.pool.loans import compile_loans
from ipabs.scenario.load import load, validate
from ipabs.scenario.model import DayCount, Deal
from ipabs.structures.revolving import compile_revolving
from ipabs.structures.trust import compile_trust_value

D = dt.date


def _days(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.0


# -- unadjusted accrual ------------------------------------------------------------------------


def test_unadjusted_accrual_runs_between_the_scheduled_dates():
    """Quarterly from 1 April 2024 on the exchange calendar, following: 1 October 2024 (National
    Day) is paid on 8 October and 1 January 2025 on 2 January; legal final, Saturday 5 April
    2025 (after the Qingming holiday of Friday 4 April), on Monday 7 April. Adjusted accrual
    runs between the payment dates, unadjusted between the scheduled ones, ending at legal
    final; the payment dates (and times) are the same."""
    deal = Deal(name="x", closing_date=D(2024, 4, 1), legal_final_date=D(2025, 4, 5),
                business_day_convention="following", calendar="china_exchange")  # fmt: skip
    paid = [D(2024, 7, 1), D(2024, 10, 8), D(2025, 1, 2), D(2025, 4, 1), D(2025, 4, 7)]
    adjusted = time_grid(deal)
    unadjusted = time_grid(_with(deal, accrual_dates="unadjusted"))
    assert list(adjusted.dates) == list(unadjusted.dates) == paid
    np.testing.assert_array_equal(adjusted.t_years, unadjusted.t_years)
    # days: adjusted 91, 99, 86, 89, 6; unadjusted 91, 92, 92, 90, 4
    assert adjusted.accrual.tolist() == [91 / 365, 99 / 365, 86 / 365, 89 / 365, 6 / 365]
    assert unadjusted.accrual.tolist() == [91 / 365, 92 / 365, 92 / 365, 90 / 365, 4 / 365]
    assert unadjusted.accrual_ends[-1] == deal.legal_final_date
    # any day count by the same rule: ACT/360 of the unadjusted periods
    assert unadjusted.accrual_for(DayCount.act_360).tolist() == [
        91 / 360, 92 / 360, 92 / 360, 90 / 360, 4 / 360,
    ]  # fmt: skip
    # and the waterfall's accrual is the grid's
    sc = validate(small_deal(deal={**_deal_table(deal), "accrual_dates": "unadjusted"}))
    np.testing.assert_array_equal(compile_scenario(sc).waterfall.accrual, unadjusted.accrual)


def _with(deal: Deal, **changes) -> Deal:
    return Deal.model_validate({**deal.model_dump(), **changes})


def _deal_table(deal: Deal) -> dict:
    return deal.model_dump(exclude_defaults=True)


def test_a_merged_period_accrues_from_the_last_scheduled_date_kept():
    """Monthly, preceding, with every weekday from 1 February to 10 March 2024 a holiday:
    10 February (Saturday) and 10 March (Sunday) both roll back to 31 January, so the March
    payment merges into April's. Unadjusted accrual: 10 January - 10 February, then 10 February -
    10 April (the merged scheduled date drops out, as its payment does)."""
    closed = [D(2024, 2, 1) + dt.timedelta(days=i) for i in range(39)]
    deal = Deal(name="x", closing_date=D(2024, 1, 10), legal_final_date=D(2024, 5, 10),
                payment_frequency="monthly", business_day_convention="preceding",
                holidays=[d for d in closed if d.weekday() < 5], accrual_dates="unadjusted")  # fmt: skip
    assert payment_schedule(deal) == [
        (D(2024, 2, 10), D(2024, 1, 31)),
        (D(2024, 4, 10), D(2024, 4, 10)),
        (D(2024, 5, 10), D(2024, 5, 10)),
    ]
    grid = time_grid(deal)
    assert grid.accrual.tolist() == [31 / 365, 60 / 365, 30 / 365]


@settings(max_examples=200, deadline=None)
@given(
    st.dates(D(2005, 1, 1), D(2025, 12, 31)),
    st.integers(40, 3000),
    st.sampled_from(["monthly", "quarterly", "semiannual", "annual"]),
    st.sampled_from(["following", "modified_following", "preceding", "unadjusted"]),
    st.sampled_from(["none", "china_exchange", "china_interbank"]),
)
def test_unadjusted_accrual_adds_up_to_closing_to_legal_final(
    closing, days, frequency, convention, calendar
):
    """Whatever rolls and merges, unadjusted ACT/365F accrual fractions tile closing to legal
    final, and the payment dates increase from after closing."""
    deal = Deal(name="x", closing_date=closing, legal_final_date=closing + dt.timedelta(days=days),
                payment_frequency=frequency, business_day_convention=convention,
                calendar=calendar, accrual_dates="unadjusted")  # fmt: skip
    grid = time_grid(deal)
    assert abs(grid.accrual.sum() - days / 365) < 1e-12
    assert all(a < b for a, b in zip((closing, *grid.dates), grid.dates, strict=False))
    assert grid.accrual_starts[0] == closing and grid.accrual_ends[-1] == deal.legal_final_date


# -- day counts --------------------------------------------------------------------------------


def test_nl_365_and_act_act_by_hand():
    # NL/365: 28 February to 1 March 2024 is 2 actual days, less 29 February
    assert year_fraction(D(2024, 2, 28), D(2024, 3, 1), DayCount.nl_365) == 1 / 365
    assert year_fraction(D(2023, 2, 28), D(2023, 3, 1), DayCount.nl_365) == 1 / 365
    assert year_fraction(D(2024, 1, 1), D(2029, 1, 1), DayCount.nl_365) == 5.0
    # ACT/ACT (ISDA): 1 November 2023 - 1 March 2024 = 61/365 + 60/366
    got = year_fraction(D(2023, 11, 1), D(2024, 3, 1), DayCount.act_act)
    assert abs(got - (61 / 365 + 60 / 366)) < 1e-15


# -- cut-off date and collection periods -------------------------------------------------------


CLOSING, FINAL = D(2024, 1, 15), D(2025, 1, 15)


def licence_deal(**deal) -> dict:
    """One licence of 365 a year, no defaults, no volatility, no growth: collections are
    365 x the days of each collection period / 365 = its days."""
    return small_deal(
        deal={"name": "licence", "closing_date": CLOSING, "legal_final_date": FINAL, **deal},
        simulation={"paths": 2, "seed": 1, "sample_paths": 2},
        factors={"names": ["m"]},
        licensees=[{"id": "L", "annual_default_probability": 0.0}],
        assets=[
            {
                "id": "X",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": 365.0,
                "remaining_legal_life_years": 30.0,
                **QUIET_ASSET,
            }
        ],
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
    )


PAID = [D(2024, 4, 15), D(2024, 7, 15), D(2024, 10, 15), FINAL]


def test_collections_from_the_cut_off_arrive_on_the_first_payment_date():
    """Cut-off 1 December 2023, closing 15 January 2024: the first payment date collects the
    income of 1 December - 15 April (136 days), the others their quarter's."""
    res = ipabs.simulate(validate(licence_deal(cut_off_date=D(2023, 12, 1))))
    expected = [136.0, 91.0, 92.0, 92.0]  # 365 a year x days / 365
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-13)
    assert res.deal.dates == PAID
    np.testing.assert_array_equal(res.deal.t_years, [_days(CLOSING, d) for d in PAID])
    grid = res.deal.grid
    assert grid.collection_starts[0] == D(2023, 12, 1)
    np.testing.assert_array_equal(grid.pool_t_years, [_days(D(2023, 12, 1), d) for d in PAID])
    # the notes accrue from closing as before
    no_cut_off = compile_scenario(validate(licence_deal()))
    np.testing.assert_array_equal(res.deal.waterfall.accrual, no_cut_off.waterfall.accrual)


def test_a_collection_lag_shifts_the_pool_periods_not_the_notes():
    """Collection periods ending 10 calendar days before each payment date: income of 15 January
    - 5 April, then 5 April - 5 July, ...; the last ends 5 January 2025, and the income of its
    last 10 days is the deal's no longer. Payment dates and note accrual do not move."""
    res = ipabs.simulate(validate(licence_deal(collection_lag_days=10)))
    ends = [d - dt.timedelta(days=10) for d in PAID]
    starts = [CLOSING, *ends[:-1]]
    np.testing.assert_allclose(
        res.raw.sample_collections[0], [(e - s).days for s, e in zip(starts, ends, strict=True)],
        rtol=1e-13,
    )  # fmt: skip
    assert list(res.deal.grid.collection_ends) == ends
    base = compile_scenario(validate(licence_deal()))
    assert res.deal.dates == base.dates
    np.testing.assert_array_equal(res.deal.waterfall.accrual, base.waterfall.accrual)
    np.testing.assert_array_equal(res.deal.t_years, base.t_years)


def test_a_business_day_collection_lag_counts_the_calendar():
    """Two business days before Tuesday 8 October 2024, after the National Day holiday of 1-7
    October: Monday 30 September, then Sunday 29 September, a make-up working day on the
    interbank calendar; the exchanges stay shut on it, so theirs is Friday 27 September."""
    deal = Deal(name="x", closing_date=D(2024, 7, 8), legal_final_date=D(2025, 1, 8),
                payment_frequency="quarterly", calendar="china_interbank",
                business_day_convention="following", collection_lag_days=2,
                collection_lag_basis="business_days")  # fmt: skip
    grid = time_grid(deal)
    assert list(grid.dates) == [D(2024, 10, 8), D(2025, 1, 8)]
    assert list(grid.collection_ends) == [D(2024, 9, 29), D(2025, 1, 6)]
    exchange = time_grid(_with(deal, calendar="china_exchange"))
    assert list(exchange.collection_ends) == [D(2024, 9, 27), D(2025, 1, 6)]


def test_a_cut_off_and_lag_time_the_loans_from_the_cut_off():
    """A bullet loan of 1 year from the cut-off (1 October 2023) matures in the collection
    period that holds 30 September 2024; its accrual runs over the collection periods, in its own
    day count."""
    data = _loan_deal(cut_off_date=D(2023, 10, 1), collection_lag_days=5)
    data["loans"].append({**data["loans"][0], "id": "L360", "day_count": "ACT/360"})
    deal = compile_scenario(validate(data))
    grid, loans = deal.grid, deal.loans
    ends = [d - dt.timedelta(days=5) for d in PAID]
    assert list(grid.collection_ends) == ends
    maturity = D(2023, 10, 1) + dt.timedelta(days=365)
    assert loans.maturity_period[0] == next(k for k, e in enumerate(ends) if e >= maturity)
    starts = [D(2023, 10, 1), *ends[:-1]]
    np.testing.assert_array_equal(
        loans.accrual[:, 0], [(e - s).days / 365 for s, e in zip(starts, ends, strict=True)]
    )
    np.testing.assert_array_equal(
        loans.accrual[:, 1], [(e - s).days / 360 for s, e in zip(starts, ends, strict=True)]
    )


def _loan_deal(**deal) -> dict:
    data = licence_deal(**deal)
    data["assets"], data["licensees"] = [], []
    data["loans"] = [
        {"id": "L1", "balance": 1_000_000.0, "rate": 0.05, "term_years": 1.0,
         "amortisation": "bullet", "annual_default_probability": 0.0, "ltv": 0.5}
    ]  # fmt: skip
    data["tranches"] = [{"name": "A", "balance": 900_000.0, "coupon": 0.03, "rank": 1},
                        {"name": "sub", "balance": 100_000.0, "rank": 2}]  # fmt: skip
    return data


def test_loan_day_count_from_a_tape_column(tmp_path):
    (tmp_path / "loans.csv").write_text(
        "id,balance,rate,term_years,annual_default_probability,ltv,day_count\n"
        "T1,1000000,0.05,1,0,0.5,NL/365\n"
        "T2,1000000,0.05,1,0,0.5,\n"
    )
    data = _loan_deal(day_count="ACT/360")
    data["tapes"] = [{"kind": "loans", "path": "loans.csv"}]
    sc = load(write_scenario(tmp_path, data))
    assert [loan.day_count for loan in sc.loans] == [None, DayCount.nl_365, None]
    grid = time_grid(sc.deal)
    accrual = compile_scenario(sc).loans.accrual
    np.testing.assert_array_equal(accrual[:, 0], grid.accrual)  # the deal's ACT/360
    np.testing.assert_array_equal(accrual[:, 1], grid.pool_accrual_for(DayCount.nl_365))
    np.testing.assert_array_equal(accrual[:, 2], grid.accrual)


def test_tranche_day_count_is_in_the_schema():
    data = small_deal()
    data["tranches"][0]["day_count"] = "ACT/ACT"
    sc = validate(data)
    assert sc.tranches[0].day_count is DayCount.act_act and sc.tranches[1].day_count is None


# -- the default grid: the same numbers as the single payment grid -----------------------------


def _single_grid(grid):
    """The grid before collection periods: the pool on the payment periods."""
    return dataclasses.replace(
        grid,
        collection_starts=(grid.closing, *grid.dates[:-1]),
        collection_ends=grid.dates,
        pool_t_years=grid.t_years,
        pool_dt_years=grid.dt_years,
    )


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), strict=True)


@pytest.mark.parametrize(
    "name",
    [
        "zgc_patent_licence_abs_2022.toml",
        "nanshan_ip_pledged_loans_abs_2022.toml",
        "beijing_ip_trust.toml",
        "beijing_combined_pledge_loans.toml",
    ],
)
def test_without_cut_off_or_lag_the_pool_grid_is_the_payment_grid(name):
    sc = load(REPO / "scenarios" / name)
    grid = time_grid(sc.deal)
    assert grid.collection_ends == grid.dates and grid.collection_starts[0] == grid.closing
    np.testing.assert_array_equal(grid.pool_t_years, grid.t_years, strict=True)
    np.testing.assert_array_equal(grid.pool_dt_years, grid.dt_years, strict=True)
    np.testing.assert_array_equal(grid.pool_accrual_for(sc.deal.day_count), grid.accrual)
    single = _single_grid(grid)
    _same(compile_pool(sc, grid), compile_pool(sc, single))
    _same(compile_loans(sc, grid), compile_loans(sc, single))
    _same(compile_revolving(sc, grid), compile_revolving(sc, single))
    _same(compile_trust_value(sc, grid), compile_trust_value(sc, single))
    deal = compile_scenario(sc)
    # each loan accrues in its own day count over the collection periods, here the payment
    # periods: in the deal's day count exactly the waterfall's accrual
    for n, loan in enumerate(sc.loans):
        own = grid.pool_accrual_for(loan.day_count or sc.deal.day_count)
        np.testing.assert_array_equal(deal.loans.accrual[:, n], own)
        if (loan.day_count or sc.deal.day_count) == sc.deal.day_count:
            np.testing.assert_array_equal(deal.loans.accrual[:, n], deal.waterfall.accrual)
    for t, tranche in enumerate(sc.tranches_by_rank()):  # and each class in its own
        own = grid.accrual_for(tranche.day_count or sc.deal.day_count)
        np.testing.assert_array_equal(deal.waterfall.class_accrual[t], own)


def test_the_revolving_vintages_get_the_collection_periods_accrual():
    from test_revolving import revolving_loan_deal

    deal = compile_scenario(revolving_loan_deal())
    np.testing.assert_array_equal(deal.revolving.accrual, deal.waterfall.accrual)


# -- bad input ---------------------------------------------------------------------------------


def _run_bad(tmp_path, data) -> str:
    scenario = write_scenario(tmp_path, data)
    proc = run_cli_in_process("run", scenario, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "out").exists()
    return " ".join(proc.stderr.split())


def test_a_cut_off_after_closing_is_refused(tmp_path):
    message = _run_bad(tmp_path, licence_deal(cut_off_date=D(2024, 2, 1)))
    assert "deal.cut_off_date" in message and "2024-02-01" in message
    assert "on or before deal.closing_date (2024-01-15)" in message


def test_an_unknown_calendar_is_refused(tmp_path):
    message = _run_bad(tmp_path, licence_deal(calendar="china_sse"))
    assert "deal.calendar" in message and "china_sse" in message
    assert "'none', 'china_exchange' or 'china_interbank'" in message


def test_a_collection_lag_longer_than_the_first_period_is_refused(tmp_path):
    message = _run_bad(tmp_path, licence_deal(payment_frequency="monthly", collection_lag_days=40))
    assert "deal.collection_lag_days" in message and "40" in message
    assert "the first collection period would end on 2024-01-06" in message


def test_validate_notes_the_years_a_china_calendar_does_not_know(tmp_path):
    data = licence_deal(calendar="china_interbank", legal_final_date=D(2028, 1, 15))
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    note = " ".join(proc.stderr.split())
    assert "note: deal.calendar china_interbank knows the State Council's holidays for 2004-2026 only: in 2027-2028" in note  # fmt: skip
    proc = run_cli_in_process("validate", FLAGSHIP, cwd=tmp_path)
    assert proc.returncode == 0 and "note" not in proc.stderr


def test_a_loan_due_after_the_last_collection_period_but_by_legal_final_repays_at_the_end():
    """docs/model.md 1.5: Nanshan's one-year loans mature on legal final; with a collection lag
    the last collection period ends 10 days before it. The loans still repay in the last period
    (the plan's final distribution collects them) instead of leaving the pool's whole principal
    unpaid, which a review found (senior expected loss 95%)."""
    sc = load(REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml")
    lagged = sc.replace({"deal.collection_lag_days": 10, "simulation.paths": 400})
    deal = compile_scenario(lagged)
    assert (deal.loans.maturity_period == deal.n_periods - 1).all()
    res = ipabs.simulate(lagged, threads=1)
    assert (res.pool_paths["loan_balance_at_legal_final"] == 0).all()
    senior = res.summary.set_index("tranche").loc["senior"]
    assert senior["expected_loss"] < 0.01
