"""Implied ratings: interpolation in tenor by hand, the scenario's own table and Chinese labels
through the CLI, and bad tables refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli, small_deal, write_scenario
from test_bad_input import _run_bad

from ipabs.ratings import BUILT_IN, implied_ratings
from ipabs.ratings.tables import RatingTable


def summary(*rows):
    return pd.DataFrame(
        [
            {"tranche": n, "expected_loss": el, "prob_loss": pl, "wal_years": w}
            for n, el, pl, w in rows
        ]
    )


def test_built_in_limits_interpolate_linearly_in_tenor_from_zero():
    # Aa: 0.07% at 1y, 0.72% at 5y -> at 2.5y 0.07 + 0.65 x 1.5 / 4 = 0.31375%; at 0.5y half of 0.07%
    np.testing.assert_allclose(BUILT_IN.thresholds(2.5)[1], 0.0031375, rtol=1e-12)
    np.testing.assert_allclose(BUILT_IN.thresholds(0.5)[1], 0.00035, rtol=1e-12)
    np.testing.assert_allclose(BUILT_IN.thresholds(30.0)[1], 0.0222, rtol=1e-12)  # flat beyond 10y


def test_the_best_rating_whose_limit_the_tranche_meets():
    out = implied_ratings(
        summary(
            ("A1", 0.0, 0.0030, 2.5),  # under Aa's 0.31375%
            ("A2", 0.0, 0.0032, 2.5),  # over it, under A's 0.52875%
            ("A3", 0.0, 0.0, 0.8),  # no loss: the best rating
            ("E", 0.0, 0.60, 4.0),  # worse than every limit
            ("N", 0.0, 0.0010, float("nan")),  # never repaid: rated at the deal's term
        ),
        term_years=10.0,
    ).set_index("tranche")
    assert list(out["implied_rating"]) == ["Aa", "A", "Aaa", "below table", "Aaa"]
    np.testing.assert_allclose(out.loc["N", "rating_tenor_years"], 10.0)
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
