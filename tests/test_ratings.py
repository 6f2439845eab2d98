"""Implied ratings: interpolation in tenor by hand, the scenario's own table and Chinese labels
through the CLI, and bad tables refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, run_cli_in_process, small_deal, write_scenario
from test_bad_input import _run_bad

from ipabs.ratings import BUILT_IN, implied_ratings
from ipabs.ratings.tables import RatingTable


def summary(*rows, impaired=None):
    """Summary rows (tranche, expected loss, loss probability, WAL); the probability of an
    impairment (interest shortfall or loss) defaults to the loss probability."""
    impaired = impaired or {}
    return pd.DataFrame(
        [
            {"tranche": n, "expected_loss": el, "prob_loss": pl, "wal_years": w,
             "prob_impaired": impaired.get(n, pl)}
            for n, el, pl, w in rows
        ]
    )  # fmt: skip


def test_built_in_limits_interpolate_linearly_in_tenor_from_zero():
    # Aa: 0.07% at 1y, 0.72% at 5y -> at 2.5y 0.07 + 0.65 x 1.5 / 4 = 0.31375%; at 0.5y half of 0.07%
    np.testing.assert_allclose(BUILT_IN.thresholds(2.5)[1], 0.0031375, rtol=1e-12)
    np.testing.assert_allclose(BUILT_IN.thresholds(0.5)[1], 0.00035, rtol=1e-12)
    np.testing.assert_allclose(BUILT_IN.thresholds(30.0)[1], 0.0222, rtol=1e-12)  # flat beyond 10y


def test_the_best_rating_whose_limit_the_tranche_meets():
    # a probability table is read at the deal's term (the classes' final maturity), whatever
    # the WAL: at 2.5 years Aaa allows 0.06%, Aa 0.31375%, A 0.52875%
    out = implied_ratings(
        summary(
            ("A1", 0.0, 0.0030, 2.5),  # under Aa's 0.31375%
            ("A2", 0.0, 0.0032, 0.7),  # over it, under A's 0.52875%; a short WAL changes nothing
            ("A3", 0.0, 0.0, 0.8),  # no loss: the best rating
            ("E", 0.0, 0.60, 4.0),  # worse than every limit
            ("N", 0.0, 0.0010, float("nan")),  # never repaid
        ),
        term_years=2.5,
    ).set_index("tranche")
    assert list(out["implied_rating"]) == ["Aa", "A", "Aaa", "below table", "Aa"]
    np.testing.assert_allclose(out["rating_tenor_years"], 2.5)
    assert set(out["rating_scale"]) == {"global"}  # the built-in table says what it is
    china = implied_ratings(summary(("A1", 0.0, 0.0030, 2.5)), labels="china", term_years=3.0)
    assert china["implied_rating"].iloc[0] == "AAsf"


def test_an_expected_loss_table_rates_by_expected_loss():
    table = RatingTable(
        ("Aaa", "Aa1", "Aa2"),
        np.array([1.0, 3.0]),
        np.array([[1e-5, 3e-5], [2e-5, 6e-5], [5e-5, 1e-4]]),
        "expected_loss",
        "test",
    )
    # at 2 years: Aaa 2e-5, Aa1 4e-5, Aa2 7.5e-5
    out = implied_ratings(
        summary(("X", 3.9e-5, 0.9, 2.0), ("Y", 4.1e-5, 0.0, 2.0)),
        table,
        labels="china",
        term_years=3.0,
    )
    assert list(out["implied_rating"]) == ["AA+sf", "AAsf"]


def _with_ratings(ratings):
    data = small_deal()
    data["ratings"] = ratings
    return data


def test_the_scenarios_own_table_and_chinese_labels_reach_the_json_summary(tmp_path):
    ratings = {
        "metric": "expected_loss",
        "labels": "china",
        "tenors": [1.0, 10.0],
        "table": [
            {"rating": "Aaa", "values": [0.0, 0.0]},  # no loss at all
            {"rating": "Aa1", "values": [1.0, 1.0]},  # anything else
        ],
    }
    path = write_scenario(tmp_path, _with_ratings(ratings))
    proc = run_cli(
        "run", path, "--paths", "300", "--out", tmp_path / "out", "--json", "--no-charts"
    )
    assert proc.returncode == 0, proc.stderr
    for tranche in json.loads(proc.stdout)["tranches"]:
        expected = "AAAsf" if tranche["expected_loss"] == 0 else "AA+sf"
        assert tranche["implied_rating"] == expected
        assert tranche["rating_metric"] == "expected_loss"


@pytest.mark.parametrize(
    ("ratings", "expected"),
    [
        ({"tenors": [1.0]}, "ratings: tenors and table go together"),
        (
            {"metric": "expected_loss"},
            "ratings.metric = 'expected_loss': the built-in table limits the probability of loss",
        ),
        (
            {"tenors": [1.0, 5.0], "table": [{"rating": "Aaa", "values": [0.001, 0.002]}]},
            "ratings.metric: required key is missing",
        ),
        (
            {
                "metric": "expected_loss",
                "tenors": [1.0, 5.0],
                "table": [{"rating": "Aaa", "values": [0.001]}],
            },
            "has 1 values for 2 tenors",
        ),
        (
            {
                "metric": "expected_loss",
                "tenors": [5.0, 1.0],
                "table": [{"rating": "Aaa", "values": [0.001, 0.002]}],
            },
            "ratings.tenors = [5.0, 1.0]: must increase",
        ),
        (
            {
                "metric": "expected_loss",
                "tenors": [1.0, 5.0],
                "table": [{"rating": "Aaa", "values": [0.002, 0.001]}],
            },
            "cannot fall with tenor",
        ),
        (
            {
                "metric": "expected_loss",
                "tenors": [1.0],
                "table": [
                    {"rating": "Aaa", "values": [0.01]},
                    {"rating": "Aa1", "values": [0.001]},
                ],
            },
            "a worse rating's limits cannot be lower",
        ),
        ({"labels": "sp"}, "ratings.labels"),
    ],
)
def test_bad_rating_tables_are_refused(tmp_path, ratings, expected):
    message, _ = _run_bad(tmp_path, _with_ratings(ratings))
    assert expected in message, message


def test_a_probability_table_is_read_at_final_maturity_an_expected_loss_table_at_the_wal():
    """A cumulative default rate is a probability over a horizon: the class's final maturity (the
    deal's term), not its WAL. Read at the WAL (1 year) a 0.25% loss probability is Baa (Baa
    allows 0.29% at 1 year, A 0.09%); at the 3-year term it is Aa (Aa allows 0.395%)."""
    row = summary(("S", 0.0, 0.0025, 1.0))
    out = implied_ratings(row, term_years=3.0)
    assert out["rating_tenor_years"].iloc[0] == 3.0
    np.testing.assert_allclose(BUILT_IN.thresholds(3.0)[1], 0.00395, rtol=1e-12)
    assert out["implied_rating"].iloc[0] == "Aa"
    assert implied_ratings(row, term_years=1.0)["implied_rating"].iloc[0] == "Baa"  # at 1 year
    table = RatingTable(("Aaa", "Aa"), np.array([1.0, 3.0]), np.array([[1e-4, 3e-4], [1e-3, 3e-3]]), "expected_loss", "test")  # fmt: skip
    out = implied_ratings(summary(("S", 1.5e-4, 0.0, 1.0)), table, term_years=3.0)
    assert out["rating_tenor_years"].iloc[0] == 1.0  # the WAL
    assert out["implied_rating"].iloc[0] == "Aa"  # 1.5e-4 > Aaa's 1e-4 at 1 year


def test_timely_interest_changes_the_rating():
    """Chinese senior classes are rated on timely interest and ultimate principal: a class that
    never loses principal but misses interest on 2% of paths is Aaa on ultimate principal and
    much lower on timely interest."""
    rows = summary(("S", 0.0, 0.0, 2.0), impaired={"S": 0.02})
    ultimate = implied_ratings(rows, term_years=2.0)
    timely = implied_ratings(rows, term_years=2.0, basis="timely_interest")
    assert ultimate["implied_rating"].iloc[0] == "Aaa"
    # at 2 years: Ba allows 1.36 + 8.54/4 = 3.495%, B 8.6%, Baa 0.29 + 2.85/4 = 1.0025%
    assert timely["implied_rating"].iloc[0] == "Ba"
    assert timely["rating_metric"].iloc[0] == "timely_interest_probability"


def test_timely_interest_through_the_engine_rates_shortfalls(tmp_path):
    """Through a run: on timely interest the rating's metric is the probability of any interest
    shortfall or principal loss, which is at least the loss probability for every class."""
    import ipabs
    from ipabs.scenario.load import validate

    data = _with_ratings({"basis": "timely_interest"})
    res = ipabs.simulate(validate(data), paths=400, seed=5, progress=False)
    s = res.summary
    assert (s["rating_metric"] == "timely_interest_probability").all()
    assert (s["prob_impaired"] >= s["prob_loss"]).all()
    assert (s["prob_impaired"] >= s["prob_shortfall"] - 1e-15).all()
    np.testing.assert_allclose(s["rating_metric_value"], s["prob_impaired"])


def test_chinese_labels_on_the_built_in_global_table_are_refused(tmp_path):
    path = write_scenario(tmp_path, _with_ratings({"labels": "china"}))
    proc = run_cli_in_process("validate", path)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert "ratings.labels" in message and "global-scale" in message
