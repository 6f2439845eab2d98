"""[ratings] table_file: a rating table kept in a shared TOML file (issue #16, item 4). It rates
exactly as the same table given inline, its name is the summary's rating_scale, it is read
relative to the scenario's folder, every error names the file and the key in it, and stress
runs and reports work on a scenario that uses one."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, run_cli, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.errors import ScenarioError
from ipabs.ratings import BUILT_IN
from ipabs.scenario.load import read_toml, validate

EXAMPLE = REPO / "scenarios" / "ratings" / "china_domestic_illustrative.toml"
RELATIVE = "ratings/china_domestic_illustrative.toml"
NAME = "China domestic sf, illustrative (global default rates, notched)"

#: a small table file whose grades the small deal's classes spread over (at its 3-year term
#: AAAsf allows a 1% loss probability, AAsf 10%, BBBsf 30%)
TABLE = """\
name = "Test scale, agency X"
source = "made up for the tests"
metric = "loss_probability"
tenors = [1, 5]
labels = "china"

[[row]]
rating = "AAAsf"
values = [0.005, 0.015]

[[row]]
rating = "AAsf"
values = [0.05, 0.15]

[[row]]
rating = "BBBsf"
values = [0.15, 0.45]
"""


def with_table_file(
    folder: Path, text: str = TABLE, relative: str = "ratings/scale.toml", **ratings
):
    """A small deal in `folder` whose [ratings] names the table file `relative` (written with
    `text`, unless None)."""
    if text is not None:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    data = small_deal(ratings={"table_file": relative, **ratings})
    return write_scenario(folder, data)


def inline_of(text: str) -> dict:
    """The table file's table as an inline [ratings] table."""
    table = tomllib.loads(text)
    table["table"] = table.pop("row")
    return table


# --- the table file rates as the same table inline ---------------------------------------------


@pytest.mark.parametrize("basis", ["ultimate_principal", "timely_interest"])
def test_a_table_file_rates_exactly_as_the_same_table_inline(tmp_path, basis):
    from_file = ipabs.load(with_table_file(tmp_path, basis=basis))
    inline = validate(small_deal(ratings={**inline_of(TABLE), "basis": basis}))
    assert from_file.ratings.table == inline.ratings.table
    a = ipabs.simulate(from_file, paths=600, seed=11, progress=False).summary
    b = ipabs.simulate(inline, paths=600, seed=11, progress=False).summary
    pd.testing.assert_frame_equal(a, b)  # the whole summary, ratings and scale included
    assert set(a["rating_scale"]) == {"Test scale, agency X"}
    assert len(set(a["implied_rating"])) > 1  # the classes spread over the scale
    assert set(a["implied_rating"]) <= {"AAAsf", "AAsf", "BBBsf", "below table"}
    # unnamed, the same inline table rates the same and its scale is "scenario"
    unnamed = {k: v for k, v in inline_of(TABLE).items() if k not in ("name", "source")}
    c = ipabs.simulate(validate(small_deal(ratings={**unnamed, "basis": basis})), paths=600, seed=11, progress=False).summary  # fmt: skip
    pd.testing.assert_frame_equal(a.drop(columns="rating_scale"), c.drop(columns="rating_scale"))
    assert set(c["rating_scale"]) == {"scenario"}


def test_the_scale_name_reaches_the_summary_the_json_and_the_cli(tmp_path):
    scenario = with_table_file(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("run", scenario, "--paths", "300", "--out", out, "--no-charts", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["rating_scale"]) == {"Test scale, agency X"}
    # the resolved scenario in the manifest holds the file's name and its table
    ratings = json.loads((out / "manifest.json").read_text())["resolved_scenario"]["ratings"]
    assert (
        ratings["table_file"] == "ratings/scale.toml" and ratings["name"] == "Test scale, agency X"
    )
    assert [r["rating"] for r in ratings["table"]] == ["AAAsf", "AAsf", "BBBsf"]
    proc = run_cli("run", scenario, "--paths", "300", "--out", tmp_path / "o2", "--no-charts")
    text = " ".join(proc.stdout.split())
    assert "against made up for the tests (scale: Test scale, agency X; from ratings/scale.toml)" in text  # fmt: skip


def test_chinese_labels_are_allowed_on_a_table_file_and_refused_on_the_built_in_table(tmp_path):
    sc = ipabs.load(with_table_file(tmp_path))
    assert sc.ratings.labels == "china"
    with pytest.raises(ScenarioError, match="global-scale"):
        validate(small_deal(ratings={"labels": "china"}))


# --- the shipped example -----------------------------------------------------------------------


def test_the_example_file_follows_its_stated_rule_and_rates_a_shipped_deal():
    """scenarios/ratings/china_domestic_illustrative.toml: the letter grades are the built-in
    global table's rows; a notch lies a third of the way to the next letter grade."""
    table = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert "ILLUSTRATIVE" in EXAMPLE.read_text() and "ILLUSTRATIVE" in table["source"]
    rows = {r["rating"]: np.array(r["values"]) for r in table["row"]}
    letters = dict(zip(["AAAsf", "AAsf", "Asf", "BBBsf", "BBsf", "Bsf", "CCCsf"], BUILT_IN.values, strict=True))  # fmt: skip
    for name, values in letters.items():
        np.testing.assert_allclose(rows[name], values, atol=5e-7)
    np.testing.assert_allclose(rows["AA-sf"], letters["AAsf"] + (letters["Asf"] - letters["AAsf"]) / 3, atol=5e-7)  # fmt: skip
    np.testing.assert_allclose(rows["A+sf"], letters["AAsf"] + 2 * (letters["Asf"] - letters["AAsf"]) / 3, atol=5e-7)  # fmt: skip
    np.testing.assert_allclose(rows["AA+sf"], letters["AAsf"] + (letters["AAAsf"] - letters["AAsf"]) / 3, atol=5e-7)  # fmt: skip
    assert list(rows)[:5] == ["AAAsf", "AA+sf", "AAsf", "AA-sf", "A+sf"] and len(rows) == 17
    # a test scenario: the flagship deal rated against it, read from scenarios/ as a scenario
    # file there would name it
    data = read_toml(REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml")
    data["ratings"] = {"table_file": RELATIVE, "basis": "timely_interest"}
    sc = validate(data, source="test", base_dir=REPO / "scenarios")
    assert sc.ratings.name == NAME and sc.ratings.labels == "china"
    summary = ipabs.simulate(sc, paths=400, seed=3, progress=False).summary
    assert set(summary["rating_scale"]) == {NAME}
    scale = {r["rating"] for r in table["row"]} | {"below table"}
    assert set(summary["implied_rating"]) <= scale


# --- a relative path is the scenario's folder's ------------------------------------------------


def test_a_relative_path_resolves_against_the_scenarios_folder_not_the_cwd(tmp_path):
    deal, elsewhere = tmp_path / "deal", tmp_path / "elsewhere"
    deal.mkdir()
    elsewhere.mkdir()
    scenario = with_table_file(deal)
    # the working folder has a file of the same name with another scale: it is not read
    (elsewhere / "ratings").mkdir()
    (elsewhere / "ratings" / "scale.toml").write_text(TABLE.replace("agency X", "the cwd's"))
    proc = run_cli("run", scenario, "--paths", "200", "--out", elsewhere / "out", "--no-charts", cwd=elsewhere)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_parquet(elsewhere / "out" / "summary.parquet")
    assert set(summary["rating_scale"]) == {"Test scale, agency X"}
    # without the file beside the scenario, the cwd's is not used either
    (deal / "ratings" / "scale.toml").unlink()
    proc = run_cli_in_process("validate", scenario, cwd=elsewhere)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    looked = deal / "ratings" / "scale.toml"
    assert f"ratings.table_file = 'ratings/scale.toml': file not found: looked for {looked}" in message  # fmt: skip


# --- bad input: exit 2, the file, the key, the value, what is allowed ---------------------------


def _bad(tmp_path: Path, scenario: Path) -> str:
    out = tmp_path / "out"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = run_cli_in_process("run", scenario, "--out", out, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists(), "nothing may be written for bad input"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    return " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[[row]]",
            "[[rows]]",
            [
                "rows: unknown key; did you mean 'row'?",
                "Allowed here: name, source, metric, tenors, labels, row",
            ],
        ),
        ('labels = "china"', 'lables = "china"', ["lables: unknown key; did you mean 'labels'?"]),
        (
            '"loss_probability"',
            '"loss_probablity"',
            ["metric = 'loss_probablity': must be one of 'expected_loss' or 'loss_probability'"],
        ),
        (
            'labels = "china"',
            'labels = "sp"',
            ["labels = 'sp': must be one of 'moodys' or 'china'"],
        ),
        (
            "[0.05, 0.15]",
            "[0.05, -0.15]",
            [
                'row[1].values[1] (rating = "AAsf") = -0.15: Input should be greater than or equal to 0'
            ],
        ),
        (
            "[0.05, 0.15]",
            "[0.05]",
            ['row[1] (rating = "AAsf").values = [0.05]: has 1 values for 2 tenors'],
        ),
        (
            "[0.05, 0.15]",
            "[0.05, 0.04]",
            [
                'row[1] (rating = "AAsf").values = [0.05, 0.04]: a cumulative rate cannot fall with tenor'
            ],
        ),
        (
            "[0.05, 0.15]",
            "[0.001, 0.002]",
            [
                'row[1] (rating = "AAsf").values = [0.001, 0.002]: rows run from the best rating down'
            ],
        ),
        ("tenors = [1, 5]", "tenors = [5, 1]", ["tenors = [5.0, 1.0]: must increase"]),
        (
            'rating = "AAsf"',
            'rating = "AAAsf"',
            ["row[1] (rating = \"AAAsf\").rating = 'AAAsf': duplicate rating; already row[0]"],
        ),
        ('name = "Test scale, agency X"\n', "", ["name: required key is missing"]),
        ('source = "made up for the tests"\n', "", ["source: required key is missing"]),
        ('metric = "loss_probability"\n', "", ["metric: required key is missing"]),
        ('name = "Test scale, agency X"', 'name = "global"', ["name = 'global': reserved"]),
        (
            "tenors = [1, 5]",
            "tenors = [1, 5",
            ["TOML syntax error", "(the rating table file ratings.table_file names in"],
        ),
    ],
)
def test_bad_table_files_name_the_file_the_key_and_the_value(tmp_path, old, new, expected):
    assert old in TABLE
    scenario = with_table_file(tmp_path, TABLE.replace(old, new, 1))
    message = _bad(tmp_path, scenario)
    assert str(tmp_path / "ratings" / "scale.toml") in message, message
    for piece in expected:
        assert piece in message, (piece, message)
    if "syntax" not in expected[0]:
        assert f"invalid rating table file (ratings.table_file of {scenario})" in message


@pytest.mark.parametrize(
    ("relative", "make", "expected"),
    [
        (
            "ratings/nope.toml",
            None,
            "ratings.table_file = 'ratings/nope.toml': file not found: looked for {folder}/ratings/nope.toml (relative to the scenario's folder)",
        ),
        (
            "../scale.toml",
            "file",
            "ratings.table_file = '../scale.toml': must be inside the scenario's folder",
        ),
        (
            "ratings/scale.csv",
            "file",
            "ratings.table_file = 'ratings/scale.csv': a rating table file is a .toml file",
        ),
        ("ratings.toml", "dir", "ratings.table_file = 'ratings.toml': is a directory"),
        ("ratings/scale.toml", "latin1", "not UTF-8 text"),
    ],
)
def test_a_table_file_that_cannot_be_read_is_refused(tmp_path, relative, make, expected):
    folder = tmp_path / "deal"
    folder.mkdir()
    target = folder / relative
    if make == "file":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(TABLE)
    elif make == "dir":
        target.mkdir()
    elif make == "latin1":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(TABLE.replace("made up", "caf\xe9").encode("latin-1"))
    scenario = with_table_file(folder, None, relative)
    message = _bad(tmp_path, scenario)
    assert expected.format(folder=folder) in message, message
    assert str(scenario) in message or str(target) in message


def test_a_table_is_given_inline_or_in_a_file_not_both(tmp_path):
    scenario = with_table_file(tmp_path, metric="loss_probability", labels="china")
    message = _bad(tmp_path, scenario)
    assert str(scenario) in message
    for key in ("metric", "labels"):
        assert f"ratings.{key}: the table file (ratings.table_file = 'ratings/scale.toml') gives the table's {key}" in message  # fmt: skip
    assert "[ratings] gives only what is about the deal (basis)" in message


def test_a_misspelt_table_file_key_in_the_scenario_suggests_the_right_one(tmp_path):
    (tmp_path / "ratings").mkdir()
    (tmp_path / "ratings" / "scale.toml").write_text(TABLE)
    scenario = write_scenario(tmp_path, small_deal(ratings={"tablefile": "ratings/scale.toml"}))
    message = _bad(tmp_path, scenario)
    assert "ratings.tablefile: unknown key; did you mean 'table_file'?" in message


# --- re-validated scenarios: stress, replace, report --check -----------------------------------


def test_stress_runs_on_a_scenario_with_a_table_file(tmp_path):
    scenario = with_table_file(tmp_path)
    stress = tmp_path / "stress.toml"
    stress.write_text(
        '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'
        '[[stress]]\nname = "looser"\nchanges = [{ path = "ratings.table[*].values", multiply = 2 }]\n'
    )
    out = tmp_path / "out"
    proc = run_cli("stress", scenario, "--stress", stress, "--paths", "300", "--out", out, "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads(proc.stdout)["comparison"]
    assert {r["stress"] for r in comparison} == {"base", "pd_x2", "looser"}
    frame = pd.read_parquet(out / "summary")  # the dataset partitioned by stress
    assert set(frame["rating_scale"]) == {"Test scale, agency X"}
    # a stress may not rename the file: the table is read when the scenario is loaded
    stress.write_text('[[stress]]\nname = "x"\nchanges = [{ path = "ratings.table_file", set = "other.toml" }]\n')  # fmt: skip
    proc = run_cli_in_process("stress", scenario, "--stress", stress, "--paths", "100", "--out", tmp_path / "o2")  # fmt: skip
    assert proc.returncode == 2 and not (tmp_path / "o2").exists()
    assert "the rating table file is read when the scenario file is loaded" in " ".join(proc.stderr.split())  # fmt: skip


def test_replace_keeps_the_files_table_and_refuses_a_new_file_name(tmp_path):
    sc = ipabs.load(with_table_file(tmp_path))
    changed = sc.replace({"tranches[name=A].balance": 17e6})
    assert changed.ratings == sc.ratings and changed.ratings.name == "Test scale, agency X"
    with pytest.raises(ScenarioError, match="read when the scenario file is loaded"):
        sc.replace({"ratings.table_file": "other.toml"})


def test_report_names_the_scale_in_both_languages_and_check_reproduces_it(tmp_path):
    scenario = with_table_file(tmp_path)
    out = tmp_path / "report"
    proc = run_cli("report", scenario, "--paths", "200", "--out", out, "--lang", "en,zh")
    assert proc.returncode == 0, proc.stderr
    en = (out / "report.en.html").read_text(encoding="utf-8")
    zh = (out / "report.zh.html").read_text(encoding="utf-8")
    assert "Scale: Test scale, agency X (the scenario&#39;s rating table, not the built-in one)." in en  # fmt: skip
    assert "评级尺度：Test scale, agency X（情景文件所用的评级表，非内置评级表）。" in zh
    proc = run_cli("report", "--check", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every number reproduces" in proc.stdout


def test_a_table_file_without_its_table_is_refused():
    """A scenario validated without reading its file (a table_file with no table) would be rated
    against the built-in table under the file's name: refused."""
    from ipabs.scenario.load import check_consistency
    from ipabs.scenario.model import Scenario

    sc = Scenario.model_validate(small_deal(ratings={"table_file": "ratings/scale.toml"}))
    problems = [p.render() for p in check_consistency(sc)]
    assert any(p.startswith("ratings.table_file = 'ratings/scale.toml': the file's table is missing") for p in problems)  # fmt: skip


def test_the_example_file_copied_beside_a_scenario_runs_through_the_cli(tmp_path):
    (tmp_path / "ratings").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "ratings")
    scenario = write_scenario(tmp_path, small_deal(ratings={"table_file": RELATIVE}))
    proc = run_cli("run", scenario, "--paths", "200", "--out", tmp_path / "out", "--no-charts", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert set(pd.read_parquet(tmp_path / "out" / "summary.parquet")["rating_scale"]) == {NAME}
