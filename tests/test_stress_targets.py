"""Stress targets (pass/fail with the Monte Carlo error stated), what each stress changed, and
which pool presets of a reverse stress apply to a deal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli_in_process, small_deal, write_scenario

import ipabs.solvers
from ipabs.errors import ScenarioError
from ipabs.scenario.load import validate
from ipabs.stress.apply import StressError, apply_stress
from ipabs.stress.changes import (
    APPLIES_TO_PLEDGES,
    NOT_APPLICABLE,
    applicability,
    describe_changes,
    preset_applies,
)
from ipabs.stress.definitions import (
    Change,
    PresetStress,
    Reverse,
    Stress,
    StressFile,
    StressTarget,
    load_stress_file,
)
from ipabs.stress.run import run_stresses, write_stress_run
from ipabs.stress.targets import targets_table

# -- verdicts on hand-built comparisons ---------------------------------------------------------


def comparison_row(stress="base", tranche="A", rank=1, **values) -> dict:
    """One row of a stress comparison: no loss anywhere unless `values` says otherwise."""
    row = {
        "stress": stress,
        "paths": 10_000,
        "importance_sampling": False,
        "tranche": tranche,
        "rank": rank,
        "expected_loss": 0.0,
        "expected_loss_se": 0.0,
        "prob_loss": 0.0,
        "prob_loss_se": 0.0,
        "paths_with_loss": 0,
        "prob_shortfall": 0.0,
        "prob_shortfall_se": 0.0,
        "implied_rating": "Aaa",
        "implied_rating_best": "Aaa",
    }
    return {**row, **values}


def verdict(row: dict, **target) -> pd.Series:
    frame = targets_table(pd.DataFrame([row]), [StressTarget(tranche=row["tranche"], **target)])
    assert len(frame) == 1
    return frame.iloc[0]


@pytest.mark.parametrize(
    ("estimate", "se", "passed", "resolved", "margin"),
    [
        (0.002, 0.001, True, True, 8.0),  # 8 standard errors inside
        (0.020, 0.002, False, True, -5.0),  # 5 outside
        (0.009, 0.001, True, False, 1.0),  # inside, by 1 standard error only
        (0.0105, 0.001, False, False, -0.5),  # outside, by half of one
        (0.012, 0.001, False, False, -2.0),  # exactly 2 apart: not more than 2, so not resolved
    ],
)
def test_a_numeric_target_passes_at_most_max_and_is_resolved_beyond_2_se(
    estimate, se, passed, resolved, margin
):
    row = comparison_row(expected_loss=estimate, expected_loss_se=se, paths_with_loss=50)
    out = verdict(row, metric="expected_loss", max=0.01)
    assert (out.passed, out.resolved) == (passed, resolved)
    assert out.margin_se == pytest.approx(margin)
    assert out.estimate == estimate and out.estimate_se == se
    assert out.limit_value == 0.01 and out.limit_rating == "" and out.estimate_rating == ""


def test_no_loss_is_read_on_the_paths_and_is_exact():
    # no losing path: a pass, even with a rounding-sized mean loss (below the 1e-9 tolerance)
    out = verdict(comparison_row(expected_loss=1e-13), metric="expected_loss", max=0.0)
    assert out.passed and out.resolved
    # one losing path in 10,000: a fail, and certain (the class did lose on a path)
    row = comparison_row(prob_loss=1e-4, prob_loss_se=1e-4, paths_with_loss=1)
    out = verdict(row, metric="prob_loss", max=0.0)
    assert not out.passed and out.resolved
    assert out.margin_se == pytest.approx(-1.0)
    # shortfalls: the estimate of an indicator is 0 exactly when no path fell short
    row = comparison_row(prob_shortfall=2e-4, prob_shortfall_se=1.4e-4)
    assert not verdict(row, metric="prob_shortfall", max=0.0).passed
    assert verdict(comparison_row(), metric="prob_shortfall", max=0.0).passed


def test_with_no_losing_path_the_zero_count_bound_decides_resolution():
    # 0 of n: the 95% Clopper-Pearson bound is 1 - 0.05^(1/n), about 3/n
    few = verdict(comparison_row(paths=100), metric="prob_loss", max=0.01)
    many = verdict(comparison_row(paths=1000), metric="prob_loss", max=0.01)
    assert 1 - 0.05 ** (1 / 100) > 0.01 > 1 - 0.05 ** (1 / 1000)
    assert few.passed and not few.resolved  # 100 paths cannot show a probability below 1%
    assert many.passed and many.resolved
    assert many.margin_se == math.inf  # se 0, estimate below max


def test_below_10_losing_paths_the_count_decides_not_the_standard_error():
    # one losing path (a 10% loss): 19 standard errors inside 0.1%, but 1 loss in 2,000 paths
    # allows a loss probability of 0.24% (the exact 95% bound), so the pass is not resolved;
    # 1 in 10,000 allows 0.047%, and it is
    for paths, resolved in ((2000, False), (10_000, True)):
        mean = 0.1 / paths  # one path lost 10%: the mean, and about its standard error
        row = comparison_row(
            paths=paths, paths_with_loss=1, expected_loss=mean, expected_loss_se=mean
        )
        out = verdict(row, metric="expected_loss", max=0.001)
        assert out.passed and out.resolved == resolved and out.margin_se >= 19
    # 8 of 2,000 paths lost: a loss probability of at least 0.2% (95%), above 0.1%: a fail
    row = comparison_row(paths=2000, prob_loss=0.004, prob_loss_se=0.0014, paths_with_loss=8)
    out = verdict(row, metric="prob_loss", max=0.001)
    assert not out.passed and out.resolved
    # the same count says nothing about how much was lost: an expected loss's fail is open
    row = comparison_row(
        paths=2000, expected_loss=0.002, expected_loss_se=0.0007, paths_with_loss=8
    )
    out = verdict(row, metric="expected_loss", max=0.001)
    assert not out.passed and not out.resolved
    # under importance sampling, as for ratings, fewer than 10 losing paths bound nothing
    row = comparison_row(
        importance_sampling=True, paths_with_loss=3, prob_loss=1e-6, prob_loss_se=6e-7
    )
    out = verdict(row, metric="prob_loss", max=0.001)
    assert out.passed and not out.resolved
    # shortfalls are counted from the estimate in plain Monte Carlo: 2 of 10,000
    row = comparison_row(prob_shortfall=2e-4, prob_shortfall_se=1.4e-4)
    assert verdict(row, metric="prob_shortfall", max=0.001).resolved
    assert not verdict(
        {**row, "importance_sampling": True}, metric="prob_shortfall", max=3e-4
    ).resolved


def test_margin_is_nan_when_the_estimate_sits_on_max_with_no_error():
    row = comparison_row(prob_loss=1.0, prob_loss_se=0.0, paths_with_loss=10_000)
    out = verdict(row, metric="prob_loss", max=1.0)
    assert out.passed and out.resolved and math.isnan(out.margin_se)
    out = verdict(row, metric="prob_loss", max=0.5)
    assert not out.passed and out.margin_se == -math.inf


def rating_scenario(labels: str = "moodys"):
    """A scenario with the built-in table's rows given as its own (a domestic-scale table may
    carry Chinese labels; the built-in global one may not)."""
    from ipabs.ratings import BUILT_IN

    table = [
        {"rating": r, "values": [float(v) for v in row]}
        for r, row in zip(BUILT_IN.ratings, BUILT_IN.values, strict=True)
    ]
    ratings = {"labels": labels, "metric": "loss_probability", "tenors": [1.0, 5.0, 10.0], "table": table}  # fmt: skip
    return validate(small_deal(ratings=ratings))


@pytest.mark.parametrize(
    ("rating", "best", "passed", "resolved"),
    [
        ("Aa", "Aaa", True, True),  # the 95% bound supports A or better
        ("Baa", "Aa", False, False),  # the 90% interval straddles A
        ("Ba", "Baa", False, True),  # even the lower bound's rating is below A
        ("below table", "below table", False, True),
        ("not resolved", "Aaa", False, False),  # too few losses to bound under importance
    ],
)
def test_a_rating_target_reads_the_supported_rating_and_its_best_case(
    rating, best, passed, resolved
):
    row = comparison_row(implied_rating=rating, implied_rating_best=best)
    frame = targets_table(
        pd.DataFrame([row]),
        [StressTarget(tranche="A", metric="implied_rating", at_least="A")],
        scenario=rating_scenario(),
    )
    out = frame.iloc[0]
    assert (out.passed, out.resolved) == (passed, resolved)
    assert out.limit_rating == "A" and out.estimate_rating == rating
    assert math.isnan(out.limit_value) and math.isnan(out.estimate)


def test_a_rating_target_takes_the_table_name_or_the_chinese_label():
    sc = rating_scenario("china")
    row = comparison_row(implied_rating="AAsf", implied_rating_best="AAAsf")
    for at_least in ("A", "Asf"):
        target = StressTarget(tranche="A", metric="implied_rating", at_least=at_least)
        out = targets_table(pd.DataFrame([row]), [target], scenario=sc).iloc[0]
        assert out.passed and out.resolved and out.limit_rating == "Asf"
    row = comparison_row(implied_rating="BBBsf", implied_rating_best="BBBsf")
    out = targets_table(pd.DataFrame([row]), [target], scenario=sc).iloc[0]
    assert not out.passed and out.resolved


def test_rows_follow_the_stresses_then_the_targets_then_the_classes_by_rank():
    rows = [
        comparison_row(stress, tranche, rank)
        for stress in ("base", "s1", "s2")
        for tranche, rank in (("A", 1), ("B1", 2), ("B2", 2))
    ]
    targets = [
        StressTarget(rank=2, metric="prob_loss", max=0.0),
        StressTarget(tranche="A", metric="expected_loss", max=0.01, stresses=("s2", "base")),
    ]
    frame = targets_table(pd.DataFrame(rows), targets)
    got = list(zip(frame["stress"], frame["target"], frame["tranche"], strict=True))
    assert got == [
        ("base", 0, "B1"),
        ("base", 0, "B2"),
        ("base", 1, "A"),
        ("s1", 0, "B1"),
        ("s1", 0, "B2"),
        ("s2", 0, "B1"),
        ("s2", 0, "B2"),
        ("s2", 1, "A"),
    ]
    assert frame["passed"].dtype == bool and frame["rank"].dtype == np.int64


# -- the stress file's targets: bad input --------------------------------------------------------

STRESSES = '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'


@pytest.mark.parametrize(
    ("targets", "where", "expected"),
    [
        (
            'tranche = "A"\nmetric = "expected_los"\nmax = 0',
            "target[1].metric",
            "did you mean 'expected_loss'?",
        ),
        ('tranche = "A"\nmetric = "prob_loss"', "target[1].max", "needs max"),
        (
            'tranche = "A"\nmetric = "prob_loss"\nmax = 1.5',
            "target[1].max",
            "less than or equal to 1",
        ),
        ('tranche = "A"\nmetric = "implied_rating"', "target[1].at_least", "needs at_least"),
        (
            'tranche = "A"\nmetric = "implied_rating"\nat_least = "A"\nmax = 0.1',
            "target[1].max",
            "takes at_least",
        ),
        ('tranche = "A"\nrank = 1\nmetric = "prob_loss"\nmax = 0', "target[1]", "one of them"),
        ('metric = "prob_loss"\nmax = 0', "target[1]", "one of them"),
        (
            'tranche = "A"\nmetric = "prob_loss"\nmax = 0\nstresses = ["base", "pd_x22"]',
            "target[1].stresses[1]",
            "did you mean 'pd_x2'?",
        ),
    ],
)
def test_bad_targets_are_refused_with_their_key_path(tmp_path, targets, where, expected):
    path = tmp_path / "stress.toml"
    good = '[[target]]\nrank = 1\nmetric = "expected_loss"\nmax = 0.01\n'
    path.write_text(f"{STRESSES}\n{good}\n[[target]]\n{targets}\n")
    with pytest.raises(ScenarioError) as info:
        load_stress_file(path)
    rendered = [p.render() for p in info.value.problems]
    assert any(r.startswith(where) and expected in r for r in rendered), rendered


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (StressTarget(tranche="AA", metric="prob_loss", max=0.0), "target[0].tranche = 'AA'"),
        (StressTarget(rank=4, metric="prob_loss", max=0.0), "its ranks: 1, 2, 3"),
        (
            StressTarget(tranche="A", metric="implied_rating", at_least="Aaaa"),
            "did you mean 'Aaa'?",
        ),
    ],
)
def test_targets_are_checked_against_the_scenario_before_anything_runs(
    monkeypatch, target, expected
):
    def no_run(*args, **kwargs):
        raise AssertionError("a simulation ran before the targets were checked")

    monkeypatch.setattr("ipabs.api.simulate", no_run)
    monkeypatch.setattr("ipabs.engine.importance.fixed_shift", no_run)
    spec = StressFile(stress=(Stress(name="s", changes=()),), target=(target,))
    with pytest.raises(StressError) as info:
        run_stresses(validate(small_deal()), spec, paths=100)
    text = " ".join(p.render() for p in info.value.problems)
    assert expected in text, text
    if target.tranche == "AA":
        assert "did you mean 'A'?" in text


def test_the_cli_refuses_bad_targets_with_exit_2(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    metric = tmp_path / "metric.toml"
    metric.write_text(f'{STRESSES}\n[[target]]\nrank = 1\nmetric = "prob_los"\nmax = 0\n')
    tranche = tmp_path / "tranche.toml"
    tranche.write_text(f'{STRESSES}\n[[target]]\ntranche = "sub_"\nmetric = "prob_loss"\nmax = 0\n')
    runs = [
        (("stress", scenario, "--stress", metric), "target[0].metric", "did you mean 'prob_loss'?"),
        (("stress", scenario, "--stress", tranche), "target[0].tranche", "did you mean 'sub'?"),
        (("report", scenario, "--stress", tranche), "target[0].tranche", "did you mean 'sub'?"),
    ]
    for i, (args, where, expected) in enumerate(runs):
        out = tmp_path / f"out{i}"
        proc = run_cli_in_process(*args, "--paths", "100", "--out", out)
        message = " ".join(proc.stderr.split())
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert where in message and expected in message, message
        assert not out.exists()


# -- a real run ----------------------------------------------------------------------------------


def test_no_loss_targets_match_the_paths_and_reproduce_from_the_saved_data(tmp_path):
    data = small_deal()
    data["tranches"][0]["balance"] = 3_000_000  # a senior class that no path reaches
    sc = validate(data)
    spec = StressFile(
        stress=(
            Stress(name="pd_x2", presets=(PresetStress(apply="default_multiplier", level=1.0),)),
            Stress(
                name="loan_lag",  # the deal has no loans: it changes nothing
                changes=(Change(path="loans[*].disposal_lag_months", add=12),),
            ),
        ),
        target=(
            StressTarget(tranche="A", metric="expected_loss", max=0.0),
            StressTarget(rank=2, metric="prob_loss", max=0.0),
            StressTarget(tranche="sub", metric="expected_loss", max=0.0, stresses=("pd_x2",)),
        ),
    )
    run = run_stresses(sc, spec, paths=1000)
    frame = run.targets
    assert len(frame) == 3 + 3 + 1
    for row in frame.itertuples():
        paths = run.results[row.stress].paths
        lost = (paths.loc[paths["tranche"] == row.tranche, "loss_fraction"] > 1e-9).any()
        assert row.passed == (not lost) and row.resolved
    verdicts = frame.set_index(["stress", "tranche"])["passed"]
    assert verdicts[("base", "A")] and not verdicts[("pd_x2", "B")]  # one of each
    # a stress that changed nothing is said to, and repeats the base case
    assert run.no_effect == {"pd_x2": False, "loan_lag": True}
    same = run.comparison.set_index("stress")
    assert (
        same.loc["loan_lag", "expected_loss"].tolist() == same.loc["base", "expected_loss"].tolist()
    )
    # the Parquet files hold the verdicts, and the saved comparison gives them again
    out = write_stress_run(run, tmp_path / "out", {"note": "test"})
    saved = pd.read_parquet(out / "targets.parquet")
    pd.testing.assert_frame_equal(saved, frame, check_dtype=False)
    again = targets_table(pd.read_parquet(out / "comparison.parquet"), spec, scenario=sc)
    pd.testing.assert_frame_equal(again, frame, check_dtype=False)
    changes = pd.read_parquet(out / "changes.parquet")
    assert set(changes["stress"]) == {"pd_x2"}
    assert changes["key"].tolist() == ["licensees[*].annual_default_probability"]


# -- what a stress changed -----------------------------------------------------------------------


def test_describe_changes_reads_what_a_preset_did_value_by_value():
    data = small_deal()
    data["licensees"][2]["annual_default_probability"] = 0.7  # doubled, it is capped at 1
    sc = validate(data)
    pds = [lic.annual_default_probability for lic in sc.licensees]
    stressed = apply_stress(
        sc, Stress(name="x", presets=(PresetStress(apply="default_multiplier", level=1.0),))
    )
    assert [lic.annual_default_probability for lic in stressed.licensees] == [
        min(2 * p, 1.0) for p in pds
    ]
    frame = describe_changes(sc, stressed)
    assert frame.to_dict("records") == [
        {
            "key": "licensees[*].annual_default_probability",
            "changed_values": 3,
            "kind": "number",
            "from_min": min(pds),
            "from_max": max(pds),
            "to_min": 2 * min(pds),
            "to_max": 1.0,
            "from_text": "",
            "to_text": "",
        }
    ]


def test_describe_changes_names_single_items_and_resolves_type_defaults():
    from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
    from ipabs.scenario.model import IPType

    sc = validate(small_deal())
    stressed = apply_stress(
        sc,
        Stress(
            name="x",
            changes=(
                Change(path="tranches[name=B].coupon", set=0.05),
                Change(path="tranches[0].compound_shortfalls", set=True),
                Change(path="assets[id=T1].volatility", multiply=2.0),  # unset: its type's
                Change(path="factors.correlation", add=0.2),
            ),
        ),
    )
    rows = describe_changes(sc, stressed).set_index("key")
    assert rows.loc["tranches[name=B].coupon", ["from_min", "to_max"]].tolist() == [0.045, 0.05]
    flag = rows.loc["tranches[name=A].compound_shortfalls"]
    assert (flag.kind, flag.from_text, flag.to_text, flag.changed_values) == (
        "text",
        "false",
        "true",
        1,
    )
    default = IP_TYPE_DEFAULTS[IPType.trademark].volatility
    vol = rows.loc["assets[id=T1].volatility"]
    assert (vol.from_min, vol.to_min) == (default, 2 * default)
    corr = rows.loc["factors.correlation[*][*]"]
    assert corr.changed_values == 2 and corr.from_min == 0.3 and corr.to_max == pytest.approx(0.5)
    assert len(rows) == 4


def test_a_stress_on_keys_the_deal_does_not_have_changes_nothing():
    sc = validate(small_deal())  # no loans, no credit support
    stressed = apply_stress(
        sc,
        Stress(
            name="x",
            changes=(
                Change(path="loans[*].disposal_lag_months", add=12),
                Change(path="credit_support[*].provider_default_probability", set=1.0),
            ),
        ),
    )
    assert describe_changes(sc, stressed).empty


# -- which presets apply -------------------------------------------------------------------------


def loan_pool(**sections) -> dict:
    """IP-pledged loans valued by a given collateral value: no asset, no licence income."""
    loan = {
        "balance": 1_000_000.0,
        "rate": 0.06,
        "term_years": 1.0,
        "annual_default_probability": 0.2,
        "collateral_value": 800_000.0,
        "disposal_haircut": 0.3,
        "disposal_lag_months": 3,
    }
    return small_deal(
        factors={"names": ["m"]},
        licensees=[],
        assets=[],
        loans=[{**loan, "id": f"N{i}"} for i in range(4)],
        tranches=[
            {"name": "A", "balance": 3_000_000, "rank": 1},
            {"name": "sub", "balance": 500_000, "rank": 2},
        ],
        fees={},
        reserve={},
        **sections,
    )


def test_the_reverse_stress_does_not_search_presets_that_do_not_apply(monkeypatch):
    sc = validate(loan_pool())
    assert not preset_applies(sc, "income_haircut") and not preset_applies(sc, "decay_increase")
    assert preset_applies(sc, "recovery_cut") and preset_applies(sc, "default_multiplier")
    searched = []
    breakeven = ipabs.solvers.breakeven

    def spy(scenario, *, stresses, **kw):
        searched.append(stresses)
        return breakeven(scenario, stresses=stresses, **kw)

    monkeypatch.setattr(ipabs.solvers, "breakeven", spy)
    presets = ("income_haircut", "decay_increase", "recovery_cut")
    spec = StressFile(reverse=Reverse(stresses=presets, expected_loss=0.01))
    run = run_stresses(sc, spec, paths=200)
    assert searched == [("recovery_cut",)]
    rows = run.reverse.set_index(["stress", "tranche"])
    assert list(dict.fromkeys(run.reverse["stress"])) == list(presets)
    for preset in ("income_haircut", "decay_increase"):
        for tranche in ("A", "sub"):
            row = rows.loc[(preset, tranche)]
            assert not row.applies and row.status == "not applicable"
            assert math.isnan(row.breakeven) and row.evaluations == 0
            assert row.reason == NOT_APPLICABLE[preset]
    assert rows.loc[("recovery_cut", "A")].applies
    assert rows.loc[("recovery_cut", "A")].evaluations > 0
    table = run.reverse_applicability.set_index("preset")
    assert table["applies"].tolist() == [False, False, True]
    assert table.loc["recovery_cut", "changed_keys"] == "loans[*].disposal_haircut"


def test_income_stresses_on_a_loan_pool_act_through_the_pledged_rights():
    data = loan_pool()
    data["assets"] = [
        {
            "id": "PA",
            "type": "patent",
            "base_annual_income": 300_000,
            "remaining_legal_life_years": 10,
        }
    ]
    for loan in data["loans"]:
        del loan["collateral_value"]
        loan["pledged_assets"] = ["PA"]
    sc = validate(data)
    table = applicability(sc, ("income_haircut", "decay_increase")).set_index("preset")
    assert table["applies"].all()
    assert (table["reason"] == APPLIES_TO_PLEDGES).all()
    assert table.loc["income_haircut", "changed_keys"] == "assets[id=PA].base_annual_income"


def test_a_recovery_cut_where_nothing_recovers_does_not_apply():
    data = small_deal()
    for licensee in data["licensees"]:
        licensee["recovery_rate"] = 0.0
    sc = validate(data)  # no loans, and no right is licensed again after a default
    assert not preset_applies(sc, "recovery_cut")
    data["assets"][0]["relicensing_months"] = 6
    sc = validate(data)
    changed = applicability(sc, ("recovery_cut",)).iloc[0]
    assert changed.applies and changed.changed_keys == "assets[id=P1].relicensing_share"


def test_the_shipped_regulatory_targets_fit_every_shipped_scenario():
    from helpers import REPO

    import ipabs
    from ipabs.stress.run import stresses_of, target_problems_for

    spec = load_stress_file(REPO / "scenarios" / "stress" / "regulatory.toml")
    assert spec.target and all(t.rank == 1 for t in spec.target)  # the most senior, in any deal
    names = {"base", *(s.name for s in stresses_of(spec))}
    assert all(set(t.stresses or ()) <= names for t in spec.target)
    for path in sorted((REPO / "scenarios").glob("*.toml")):
        assert target_problems_for(ipabs.load(path), spec) == [], path.name
