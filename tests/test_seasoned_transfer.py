"""银登 transfers of seasoned loans (docs/model.md 3.8 and 7): accrued interest and the clean and
dirty price by hand, maturity and LPR anniversaries from origination, roll-rate absorption against
numpy matrix powers and a Monte Carlo default frequency, the seller's capital by hand, the fee
waiver's boundary, and the 82号文 refusal of a seller's loss share."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from helpers import REPO, run_cli, write_scenario
from test_transfer import CLOSING, B, transfer_data, transfer_deal

import ipabs
from ipabs.engine.compile import compile_scenario
from ipabs.errors import UserError
from ipabs.pool.seasoning import absorption_probability, last_payment_date, risk_state
from ipabs.scenario.delinquency import RollRates
from ipabs.scenario.load import validate
from ipabs.transfer.pricing import registration_fee

D = dt.date
# ACT/360 accrual of the first collection period, 15 Jan to 15 Apr 2024: 16 + 29 + 31 + 15 days
DAYS_1 = 91
T1 = 91 / 365  # its payment date's time (the deal's ACT/365F)

# a one-period seasoned loan: drawn 1 Apr 2023 for one year, quarterly interest (1 Jul, 1 Oct,
# 1 Jan), so at the transfer (15 Jan 2024) 14 days of interest have accrued since 1 Jan; it
# matures on 1 Apr 2024, repaid on the first payment date, 15 Apr 2024
SEASONED = {
    "term_years": None,
    "origination_date": D(2023, 4, 1),
    "original_term_years": 1.0,
    "day_count": "ACT/360",
}
ACCRUED = B * 0.05 * 14 / 360  # 1,944.44...


def seasoned(transfer, **loan):
    data = transfer_data(transfer, **{**SEASONED, **loan})
    data["loans"][0].pop("term_years")
    return data


def transfer_deal_seasoned(transfer, **loan):
    return validate(seasoned(transfer, **loan))


# ---- accrued interest, clean and dirty ------------------------------------------------------


def test_last_payment_date_steps_from_origination_by_the_payment_frequency():
    sc = validate(seasoned({"required_yield": 0.06}))
    # 1 Apr 2023 + 3, 6, 9 months = 1 Jul, 1 Oct 2023, 1 Jan 2024 (<= 15 Jan); 1 Apr 2024 is after
    assert last_payment_date(sc.loans[0], CLOSING, 4) == D(2024, 1, 1)
    bullet = validate(seasoned({"required_yield": 0.06}, amortisation="bullet"))
    assert last_payment_date(bullet.loans[0], CLOSING, 4) == D(2023, 4, 1)  # no interest paid yet


def test_seasoned_loan_dirty_price_by_hand():
    # the buyer gets, on 15 Apr 2024: principal + 91 days of interest + the 14 days accrued before
    # the transfer, all ACT/360: B (1 + 0.05 (91 + 14) / 360) = 1,014,583.33
    r = ipabs.price(transfer_deal_seasoned({"required_yield": 0.06}))
    cash = B * (1 + 0.05 * (DAYS_1 + 14) / 360)
    dirty = cash * 1.06**-T1
    assert r.accrued_interest == pytest.approx(ACCRUED, rel=1e-12)
    assert r.dirty == pytest.approx(dirty, rel=1e-12)
    assert r.clean == pytest.approx(dirty - ACCRUED, rel=1e-12)
    assert r.clean_pct == pytest.approx(100 * (dirty - ACCRUED) / B, rel=1e-12)
    assert r.price_se == 0.0  # no default, no prepayment: every path the same
    parts = r.decomposition.set_index("component")["amount"]
    assert parts["accrued interest at transfer"] == pytest.approx(ACCRUED, rel=1e-12)
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)


def test_an_explicit_last_payment_date_sets_the_arrears():
    # interest unpaid since 1 Oct 2023: 1 Oct to 15 Jan = 31 + 30 + 31 + 14 = 106 days
    assert (CLOSING - D(2023, 10, 1)).days == 106
    r = ipabs.price(
        transfer_deal_seasoned({"required_yield": 0.06}, last_payment_date=D(2023, 10, 1))
    )
    assert r.accrued_interest == pytest.approx(B * 0.05 * 106 / 360, rel=1e-12)
    cash = B * (1 + 0.05 * (DAYS_1 + 106) / 360)
    assert r.dirty == pytest.approx(cash * 1.06**-T1, rel=1e-12)


@pytest.mark.parametrize("basis", ["clean", "dirty"])
def test_a_given_price_is_clean_or_dirty(basis):
    # the yield solves dirty = cash (1 + y)^-t: y = (cash / dirty)^(1 / t) - 1
    quoted = 0.99
    dirty = quoted * B + (ACCRUED if basis == "clean" else 0.0)
    cash = B * (1 + 0.05 * (DAYS_1 + 14) / 360)
    r = ipabs.price(transfer_deal_seasoned({"price": quoted, "price_basis": basis}))
    assert r.yield_ == pytest.approx((cash / dirty) ** (1 / T1) - 1, rel=1e-9)
    assert r.dirty == pytest.approx(dirty, rel=1e-9)


def test_a_price_without_its_basis_is_refused_when_interest_has_accrued():
    with pytest.raises(UserError, match=r"transfer\.price_basis.*clean.*dirty"):
        ipabs.price(transfer_deal_seasoned({"price": 0.99}))
    # an unseasoned loan has nothing accrued: clean = dirty and no basis is needed
    r = ipabs.price(transfer_deal({"price": 0.99}))
    assert r.accrued_interest == 0.0 and r.clean == r.dirty


def test_a_delinquent_loans_arrears_are_in_its_exposure_at_default():
    # in loss (损失) at transfer: defaults in the first period; exposure = B + 91 days + 106 days
    # of arrears (ACT/360), recovery 0.8 B at once (pledge 2m, 60% haircut)
    data = seasoned(
        {"required_yield": 0.06},
        last_payment_date=D(2023, 10, 1),
        risk_class="loss",
        annual_default_probability=None,
        disposal_haircut=0.6,
        disposal_lag_months=0,
    )
    data["loans"][0].pop("annual_default_probability")
    data["roll_rates"] = ROLL
    r = ipabs.price(validate(data))
    assert r.dirty == pytest.approx(0.8 * B * 1.06**-T1, rel=1e-12)
    res = ipabs.simulate(validate(data), paths=4)
    exposure = B * (1 + 0.05 * (DAYS_1 + 106) / 360)
    assert float(res.pool_paths["loan_gross_loss"].iloc[0]) == pytest.approx(
        exposure - 0.8 * B, rel=1e-12
    )


# ---- maturity and LPR anniversaries from origination ---------------------------------------


def test_remaining_term_from_origination_and_agreeing_term_years():
    # drawn 15 Jan 2022 for 3 years: matures 15 Jan 2025, the 4th payment date (period 3)
    for extra in ({}, {"term_years": 1.0}):
        data = seasoned(
            {"required_yield": 0.06},
            origination_date=D(2022, 1, 15),
            original_term_years=3.0,
            **extra,
        )
        assert compile_scenario(validate(data)).loans.maturity_period[0] == 3


def test_an_lpr_loan_reprices_on_the_anniversaries_of_its_origination():
    # drawn 10 Jun 2023, repriced each 10 June at the LPR of the end of May: 3.45% until the
    # 2024 reset, then 3.10% (the cut of 20 May 2024); the period 15 Apr - 15 Jul 2024 has 56
    # days at 3.45% and 35 at 3.10%
    data = seasoned(
        {"required_yield": 0.06},
        origination_date=D(2023, 6, 10),
        original_term_years=3.0,
        rate=None,
        rate_type="lpr",
        spread=0.01,
        repricing="annual_anniversary",
    )
    data["rates"] = {
        "lpr_1y": [
            {"date": D(2023, 1, 20), "rate": 0.0345},
            {"date": D(2024, 5, 20), "rate": 0.0310},
        ]
    }
    rate = compile_scenario(validate(data)).loans.rate[:, 0]
    assert rate[0] == pytest.approx(0.0345 + 0.01, abs=1e-15)
    assert rate[1] == pytest.approx((56 * 0.0345 + 35 * 0.0310) / 91 + 0.01, rel=1e-12)
    assert rate[2] == pytest.approx(0.0310 + 0.01, abs=1e-15)


# ---- roll rates ------------------------------------------------------------------------------

ROLL = {
    "period_months": 1,
    "normal": [0.991, 0.006, 0.002, 0.0006, 0.0004],
    "special_mention": [0.12, 0.78, 0.07, 0.02, 0.01],
    "substandard": [0.03, 0.04, 0.76, 0.13, 0.04],
    "doubtful": [0.01, 0.01, 0.03, 0.78, 0.17],
}


def matrix(roll):
    m = np.zeros((5, 5))
    m[:4] = [roll["normal"], roll["special_mention"], roll["substandard"], roll["doubtful"]]
    m[4, 4] = 1.0
    return m


def test_absorption_by_hand_on_a_small_chain():
    # normal -> special mention with 0.1 a step; special mention -> loss with 0.5, else stays.
    # Loss within 2 steps: N S L = 0.1 x 0.5 = 0.05; within 3: + N N S L (0.9 x 0.1 x 0.5 = 0.045)
    # + N S S L (0.1 x 0.5 x 0.5 = 0.025) = 0.12; half way between: 0.085
    roll = RollRates(
        normal=(0.9, 0.1, 0, 0, 0),
        special_mention=(0, 0.5, 0, 0, 0.5),
        substandard=(0, 0, 1, 0, 0),
        doubtful=(0, 0, 0, 1, 0),
    )
    p = absorption_probability(roll, 0, np.array([0, 1, 2, 3, 2.5]) / 12)
    np.testing.assert_allclose(p, [0.0, 0.0, 0.05, 0.12, 0.085], atol=1e-15)
    assert absorption_probability(roll, 4, np.array([0.0, 1.0]))[0] == 1.0  # loss: defaulted


@pytest.mark.parametrize("state", [0, 1, 2, 3])
def test_absorption_equals_the_matrix_power(state):
    roll = RollRates(**ROLL)
    months = np.arange(0, 61)
    p = absorption_probability(roll, state, months / 12)
    m = matrix(ROLL)
    expected = [np.linalg.matrix_power(m, k)[state, 4] for k in months]
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)
    # a quarterly step: half a year is 2 steps, a year 4 (the matrix applied per quarter)
    quarterly = RollRates(**{**ROLL, "period_months": 3})
    q = absorption_probability(quarterly, state, np.array([0.5, 1.0]))  # 2 and 4 steps
    m2 = [np.linalg.matrix_power(m, k)[state, 4] for k in (2, 4)]
    np.testing.assert_allclose(q, m2, rtol=1e-12)


def test_days_past_due_set_at_least_a_category():
    for dpd, cls, state in (
        (0, "normal", 0),
        (1, "normal", 1),
        (90, "normal", 1),
        (91, "normal", 2),
        (271, "special_mention", 3),
        (361, "normal", 4),
        (10, "doubtful", 3),  # the worse of the two
    ):
        data = seasoned({"required_yield": 0.06}, risk_class=cls, days_past_due=dpd)
        data["loans"][0].pop("annual_default_probability")
        data["roll_rates"] = ROLL
        assert risk_state(validate(data).loans[0]) == state, (dpd, cls)


def test_monte_carlo_default_frequency_matches_the_chain():
    # a substandard loan, no factor loading, a bullet maturing after legal final (15 Jan 2025:
    # 366 days = 366 / 365 years of ACT/365F time, 12.033 monthly steps), so it defaults on a path
    # iff its default time is within the deal: P = M^12 and M^13's loss column, interpolated
    data = seasoned(
        {"required_yield": 0.06},
        origination_date=D(2023, 1, 15),
        original_term_years=5.0,
        amortisation="bullet",
        risk_class="substandard",
    )
    data["loans"][0].pop("annual_default_probability")
    data["roll_rates"] = ROLL
    data["deal"]["legal_final_date"] = D(2025, 1, 15)
    n = 4000
    res = ipabs.simulate(validate(data), paths=n, seed=5, progress=False)
    defaults = res.pool_paths["loan_defaults"].to_numpy()
    m = matrix(ROLL)
    steps = 366 / 365 * 12
    lo = int(steps)
    w = steps - lo
    p = (1 - w) * np.linalg.matrix_power(m, lo)[2, 4] + w * np.linalg.matrix_power(m, lo + 1)[2, 4]
    se = np.sqrt(p * (1 - p) / n)
    assert abs(defaults.mean() - p) < 4 * se, (defaults.mean(), p, se)


# ---- the seller's capital and the fee --------------------------------------------------------


def test_capital_by_hand_income_right_and_direct():
    # book = 0.97 B + accrued; capital = 10.5% x 75% x book. An income-right transfer keeps it
    # all (82号文); a direct one relieves it and saves 12% a year of it over the loan's life: the
    # balance B for the one period, discounted: 0.12 x 0.105 x 0.75 x 0.97 B x t1 x 1.06^-t1
    terms = {
        "required_yield": 0.06,
        "risk_weight": 0.75,
        "capital_ratio": 0.105,
        "cost_of_capital": 0.12,
        "book_value": 0.97,
    }
    book = 0.97 * B + ACCRUED
    capital = 0.105 * 0.75 * book
    dirty = B * (1 + 0.05 * (DAYS_1 + 14) / 360) * 1.06**-T1
    right = ipabs.price(transfer_deal_seasoned({**terms, "form": "income_right"})).seller
    assert right.book_value == pytest.approx(book, rel=1e-12)
    assert right.capital_before == pytest.approx(capital, rel=1e-12)
    assert right.capital_after == right.capital_before
    assert right.capital_relieved == 0.0 and right.return_on_capital_relieved is None
    assert right.capital_cost_saved == 0.0
    assert right.gain_on_sale == pytest.approx(dirty - book, rel=1e-12)
    direct = ipabs.price(transfer_deal_seasoned({**terms, "form": "direct"})).seller
    saved = 0.12 * 0.105 * 0.75 * 0.97 * B * T1 * 1.06**-T1
    assert direct.capital_after == 0.0
    assert direct.capital_relieved == pytest.approx(capital, rel=1e-12)
    assert direct.capital_cost_saved == pytest.approx(saved, rel=1e-12)
    assert direct.seller_result == pytest.approx(dirty - book + saved, rel=1e-12)
    assert direct.return_on_capital_relieved == pytest.approx(
        (dirty - book + saved) / capital, rel=1e-12
    )


@pytest.mark.parametrize(
    ("waiver_until", "charged"),
    [
        (D(2024, 1, 15), False),  # the transfer on the waiver's last day: waived
        (D(2024, 1, 14), True),  # the day after it ends: charged
        (None, True),
    ],
)
def test_the_fee_waiver_boundary(waiver_until, charged):
    terms = {"required_yield": 0.06, "registration_fee": 0.001, "fee_waiver_until": waiver_until}
    r = ipabs.price(transfer_deal_seasoned(terms))
    fee = 0.001 * r.dirty if charged else 0.0
    assert r.seller.registration_fee == pytest.approx(fee, rel=1e-12)
    assert r.seller.proceeds == pytest.approx(r.dirty - fee, rel=1e-12)
    t = transfer_deal_seasoned(terms).transfer
    assert registration_fee(t, 100.0, D(2024, 1, 15)) == (0.1 if charged else 0.0)


# ---- 82号文: no seller loss share in an income-right transfer ---------------------------------


def test_a_sellers_loss_share_is_refused_citing_the_notice(tmp_path):
    from test_bad_input import _run_bad

    data = transfer_data({"form": "income_right", "required_yield": 0.06, "seller_risk_share": 0.1})
    message, _ = _run_bad(tmp_path, data)
    assert "transfer.seller_risk_share = 0.1" in message
    assert "银监办发〔2016〕82号" in message and "allow_seller_risk_share" in message


def test_the_override_prices_it_with_a_warning(tmp_path):
    data = transfer_data(
        {
            "form": "income_right",
            "required_yield": 0.06,
            "seller_risk_share": 0.1,
            "allow_seller_risk_share": True,
        }
    )
    data["simulation"]["paths"] = 20
    proc = run_cli("price", write_scenario(tmp_path, data), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["warnings"]) == 1 and "82号" in out["warnings"][0]
    assert out["summary"]["clean_price"] == out["summary"]["dirty_price"]  # nothing accrued


@pytest.mark.parametrize(
    ("loan", "expected"),
    [
        (
            {"term_years": 2.0},
            'loans[0].term_years (id = "L1") = 2.0: contradicts origination_date + original_term_years',
        ),
        (
            {"origination_date": D(2024, 2, 1)},
            'loans[0].origination_date (id = "L1") = 2024-02-01: must be on or before',
        ),
        (
            {"original_term_years": None},
            'loans[0].original_term_years (id = "L1"): required key is missing',
        ),
        (
            {"original_term_years": 0.5},
            "the loan matured on 2023-10-01",
        ),
        (
            {"last_payment_date": D(2023, 3, 1)},
            'loans[0].last_payment_date (id = "L1") = 2023-03-01: must be on or before',
        ),
        (
            {"risk_class": "normal"},
            "give annual_default_probability or default_probability_curve, or a risk_class or "
            "days_past_due with [roll_rates] (one of them; given: annual_default_probability, "
            "risk_class/days_past_due)",
        ),
    ],
)
def test_bad_seasoning(tmp_path, loan, expected):
    from test_bad_input import _run_bad

    data = seasoned({"required_yield": 0.06})
    data["loans"][0].update(loan)
    data["loans"][0] = {k: v for k, v in data["loans"][0].items() if v is not None}
    message, _ = _run_bad(tmp_path, data)
    assert expected in message, message


def test_bad_roll_rates_and_transfer_date(tmp_path):
    from test_bad_input import _run_bad

    data = seasoned({"required_yield": 0.06}, risk_class="normal")
    data["loans"][0].pop("annual_default_probability")
    (tmp_path / "a").mkdir()
    message, _ = _run_bad(tmp_path / "a", data)
    assert "roll_rates: required table is missing" in message
    data["roll_rates"] = {**ROLL, "normal": [0.99, 0.006, 0.002, 0.0006, 0.0004]}
    (tmp_path / "b").mkdir()
    message, _ = _run_bad(tmp_path / "b", data)
    assert "roll_rates.normal" in message and "adds up to 0.999, not 1" in message
    data["roll_rates"] = ROLL
    data["transfer"]["transfer_date"] = D(2024, 2, 1)
    (tmp_path / "c").mkdir()
    message, _ = _run_bad(tmp_path / "c", data)
    assert "transfer.transfer_date = 2024-02-01: must be the pool's start (2024-01-15" in message


def test_the_seasoned_scenario_shows_the_sellers_capital():
    r = ipabs.price(
        str(REPO / "scenarios" / "beijing_seasoned_loan_income_right_transfer.toml"),
        paths=200,
        seed=3,
    )
    assert r.form == "income_right" and not r.warnings
    assert r.accrued_interest > 0 and r.clean == pytest.approx(r.dirty - r.accrued_interest)
    s = r.seller
    assert s.capital_relieved == 0.0 and s.capital_before == pytest.approx(
        0.105 * 1.0 * (0.97 * r.par + r.accrued_interest), rel=1e-12
    )
    assert s.registration_fee == 0.0  # 2025-09-30, within the waiver


def test_a_loans_tape_carries_the_seasoning_columns(tmp_path):
    # the same seasoned, special-mention loan from a CSV tape and inline: the same loan, the
    # same accrued interest (14 days, ACT/360)
    inline = seasoned({"required_yield": 0.06}, risk_class="special_mention")
    inline["loans"][0].pop("annual_default_probability")
    inline["roll_rates"] = ROLL
    row = dict(inline["loans"][0])
    row["pledged_assets"] = json.dumps(row["pledged_assets"])
    header = list(row)
    (tmp_path / "loans.csv").write_text(
        ",".join(header)
        + "\n"
        + ",".join(f'"{str(row[k]).replace(chr(34), 2 * chr(34))}"' for k in header)
        + "\n"
    )
    taped = {**inline, "loans": [], "tapes": [{"kind": "loans", "path": "loans.csv"}]}
    sc = ipabs.load(write_scenario(tmp_path, taped))
    assert sc.loans[0] == validate(inline).loans[0]
    assert sc.loans[0].origination_date == D(2023, 4, 1) and sc.loans[0].term_years is None
    assert compile_scenario(sc).loans.accrued0[0] == pytest.approx(ACCRUED, rel=1e-12)


def test_a_default_multiplier_stress_scales_a_chain_loans_cumulative_pd():
    # x = 1: the special-mention loan's P(t) = min(2 M^h[1, loss], 1) at every period end
    from ipabs.pool.default_times import thresholds
    from ipabs.solvers.stress import default_multiplier

    data = seasoned({"required_yield": 0.06}, risk_class="special_mention")
    data["loans"][0].pop("annual_default_probability")
    data["roll_rates"] = ROLL
    sc = validate(data)
    stressed = compile_scenario(default_multiplier(sc, 1.0))
    t = stressed.grid.pool_t_years
    p = np.minimum(2 * absorption_probability(RollRates(**ROLL), 1, t), 1.0)
    np.testing.assert_array_equal(stressed.loans.threshold[:, 0], thresholds(p, 0))
    assert (p > absorption_probability(RollRates(**ROLL), 1, t))[1:].all()


def test_the_notebook_view_shows_clean_dirty_and_capital():
    r = ipabs.price(transfer_deal_seasoned({"required_yield": 0.06, "registration_fee": 0.001}))
    html = r._repr_html_()
    for words in ("dirty price", "accrued interest at transfer", "clean price", "capital held before",
                  "capital relieved", "registration fee", "return on capital relieved"):  # fmt: skip
        assert words in html, words
    assert f"clean {r.clean_pct:.3f}%" in repr(r)


def test_price_cli_writes_clean_dirty_and_capital_to_json_and_parquet(tmp_path):
    import pandas as pd

    data = seasoned({"price": 0.99, "price_basis": "clean", "risk_weight": 0.75})
    data["simulation"]["paths"] = 8
    path = write_scenario(tmp_path, data)
    proc = run_cli("price", path, "--json", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)["summary"]
    assert s["accrued_interest"] == pytest.approx(ACCRUED, rel=1e-12)
    assert s["clean_price"] == pytest.approx(0.99 * B, rel=1e-9)  # the quoted clean price
    assert s["dirty_price"] == pytest.approx(0.99 * B + ACCRUED, rel=1e-9)
    assert s["capital_before"] == pytest.approx(0.105 * 0.75 * (B + ACCRUED), rel=1e-12)
    table = pd.read_parquet(tmp_path / "out" / "price.parquet")
    assert table.loc[0, "clean_price"] == pytest.approx(s["clean_price"], rel=1e-15)
    # the default form is direct: it relieves all the capital
    assert table.loc[0, "capital_relieved"] == table.loc[0, "capital_before"] > 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "manifest.json",
        "price.parquet",
        "price_decomposition.parquet",
        "price_distribution.parquet",
    ]
    # the table on the terminal shows them too
    text = " ".join(run_cli("price", path).stdout.split())
    assert (
        "clean" in text and "accrued interest at transfer" in text and "capital held before" in text
    )


def test_monte_carlo_price_of_a_special_mention_loan_matches_the_chain():
    # the one-period seasoned loan in special mention: it defaults in its period with
    # q = P_SM(t1) (t1 = 91 / 365 years = 2.992 monthly steps: M^2 and M^3 interpolated), else
    # pays B (1 + 0.05 (91 + 14) / 360); at default the pledge (2m, 70% haircut) recovers 0.6 B
    # at once
    n = 4000
    data = seasoned(
        {"required_yield": 0.06},
        risk_class="special_mention",
        disposal_haircut=0.7,
        disposal_lag_months=0,
    )
    data["loans"][0].pop("annual_default_probability")
    data["roll_rates"] = ROLL
    r = ipabs.price(validate(data), paths=n, seed=11)
    m = matrix(ROLL)
    steps = T1 * 12
    w = steps - 2
    q = (1 - w) * np.linalg.matrix_power(m, 2)[1, 4] + w * np.linalg.matrix_power(m, 3)[1, 4]
    repaid = B * (1 + 0.05 * (DAYS_1 + 14) / 360)
    recovered = 0.6 * B
    df = 1.06**-T1
    expected = df * ((1 - q) * repaid + q * recovered)
    se = df * (repaid - recovered) * np.sqrt(q * (1 - q) / n)
    assert abs(r.price - expected) < 4 * se, (r.price, expected, se)
    assert r.clean == pytest.approx(r.price - ACCRUED, rel=1e-12)
