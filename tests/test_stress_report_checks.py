"""Stress files and `ipabs report --check` on hostile input (issue 11, "Unsafe edges"): grid
values and stressed scenarios out of range, colliding stress names, broken report folders, and
edits that --check must catch (a number in report.html, the manifest's deal name and hash)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import run_cli, run_cli_in_process, small_deal, write_scenario

import ipabs.api
from ipabs.errors import ScenarioError
from ipabs.report import build as report_module
from ipabs.report import check as report_check
from ipabs.report.check import check_report
from ipabs.scenario.load import validate
from ipabs.stress.apply import StressError, expand_grid
from ipabs.stress.definitions import (
    Change,
    Grid,
    PresetStress,
    Stress,
    StressFile,
    load_stress_file,
)
from ipabs.stress.run import run_stresses, stressed_scenarios

NEGATIVE_GRID = (
    '[[grid]]\nname = "g"\n'
    'axes = [{ name = "pd", apply = "default_multiplier", values = [1.0, -1.0] }]\n'
)


def _refused(proc, out: Path) -> str:
    """The one-line-per-problem message of a refused command (exit 2, no traceback, no output)."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not out.exists(), "nothing may be written on refusal"
    return " ".join(proc.stderr.split())


# --- stress values out of range --------------------------------------------------------------


@pytest.mark.parametrize("command", ["stress", "report"])
def test_a_grid_level_below_zero_exits_2_with_the_stress_path_and_value(tmp_path, command):
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "stress.toml"
    stress.write_text(NEGATIVE_GRID)
    out = tmp_path / "out"
    proc = run_cli_in_process(command, scenario, "--stress", stress, "--paths", "100", "--out", out)
    message = _refused(proc, out)
    assert "stress.toml" in message
    assert "grid[0].axes[0].values[1] = -1.0" in message
    assert "a level of default_multiplier is at least 0" in message
    assert 'stress "g_pd-1"' in message


def test_a_grid_built_in_code_is_refused_as_a_stress_error_not_a_pydantic_one():
    grid = Grid.model_validate(
        {"name": "g", "axes": [{"name": "pd", "apply": "recovery_cut", "values": [-0.5]}]}
    )
    with pytest.raises(StressError) as info:
        expand_grid(grid)
    assert "grid.axes[0].values[0] = -0.5" in str(info.value)


def test_a_grid_value_with_an_exponent_gives_a_valid_name():
    grid = Grid.model_validate(
        {"name": "g", "axes": [{"name": "inc", "path": "assets[*].volatility", "values": [1e20]}]}
    )
    assert [s.name for s in expand_grid(grid)] == ["g_inc1e20"]  # not "1e+20": '+' is no name


def _stress_file(tmp_path: Path, text: str) -> StressFile:
    path = tmp_path / "stress.toml"
    path.write_text(text)
    return load_stress_file(path)


def test_every_invalid_stressed_scenario_is_reported_before_anything_runs(tmp_path, monkeypatch):
    spec = _stress_file(
        tmp_path,
        '[[stress]]\nname = "fine"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'
        '[[stress]]\nname = "nb"\nchanges = [{ path = "tranches[0].balance", set = -5.0 }]\n'
        '[[stress]]\nname = "decay"\npresets = [{ apply = "decay_increase", level = 1.5 }]\n'
        "[[grid]]\n"
        'name = "v"\naxes = [{ name = "vol", path = "assets[*].volatility", op = "set", values = [0.2, -1.0] }]\n',
    )

    def no_run(*args, **kwargs):
        raise AssertionError("a simulation ran before every stress was validated")

    monkeypatch.setattr(ipabs.api, "simulate", no_run)
    with pytest.raises(StressError) as info:
        run_stresses(validate(small_deal()), spec, paths=100, source=tmp_path / "stress.toml")
    text = str(info.value)
    assert "stress.toml" in text
    # a change's value out of range: the stress, where it is in the file, the key path, the value
    assert 'stress "nb" (stress[1]): tranches[0].balance (name = "A") = -5.0' in text
    # a preset that takes the scenario out of range (growth rates below -1)
    assert 'stress "decay" (stress[2]) after its presets (decay_increase 1.5)' in text
    assert "assets[0].growth_rate" in text and "greater than or equal to -1" in text
    # a grid point: its name, its axis value and the key path
    assert 'stress "v_vol-1" (grid[0] "v" (vol = -1.0)): assets[0].volatility' in text
    assert '"fine"' not in text and '"v_vol0.2"' not in text


@pytest.mark.parametrize("command", ["stress", "report"])
def test_an_invalid_stressed_scenario_exits_2_and_writes_nothing(tmp_path, command):
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "stress.toml"
    stress.write_text('[[stress]]\nname = "nb"\nchanges = [{ path = "tranches[0].balance", set = -5.0 }]\n')  # fmt: skip
    out = tmp_path / "out"
    proc = run_cli_in_process(command, scenario, "--stress", stress, "--paths", "100", "--out", out)
    message = _refused(proc, out)
    assert 'stress "nb" (stress[0]): tranches[0].balance (name = "A") = -5.0' in message


# --- colliding stress names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[stress]]\nname = "g_pd1"\npresets = [{ apply = "default_multiplier", level = 2.0 }]\n'
            '[[grid]]\nname = "g"\naxes = [{ name = "pd", apply = "default_multiplier", values = [1.0] }]\n',
            'grid[0] "g" (pd = 1.0): stress name "g_pd1" is also the name of stress[0] "g_pd1"',
        ),
        (
            '[[grid]]\nname = "g"\naxes = [{ name = "pd", apply = "default_multiplier", values = [1, 1.0000000001] }]\n',
            'grid[0] "g" (pd = 1.0000000001): stress name "g_pd1" is also the name of grid[0] "g" (pd = 1.0) "g_pd1"',
        ),
        (
            '[[stress]]\nname = "PD"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'
            '[[stress]]\nname = "pd"\npresets = [{ apply = "default_multiplier", level = 2.0 }]\n',
            'stress[1]: stress name "pd" is also the name of stress[0] "PD"; stress names must be unique, ignoring case',
        ),
        (
            '[[stress]]\nname = "x"\n[[stress]]\nname = "x"\n',
            'stress[1]: stress name "x" is also the name of stress[0] "x"',
        ),
        (
            '[[stress]]\nname = "base"\n',
            'stress[0]: stress name "base" is also the name of the base case "base"',
        ),
    ],
    ids=["named-and-grid", "grid-values-same-name", "case", "two-named", "base"],
)
def test_colliding_stress_names_are_refused_naming_both(tmp_path, text, expected):
    with pytest.raises(ScenarioError) as info:
        _stress_file(tmp_path, text)
    message = " ".join(str(info.value).split())
    assert "stress.toml: invalid stress file" in message and expected in message, message


def test_colliding_names_exit_2_from_the_command_line(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "stress.toml"
    stress.write_text(
        '[[grid]]\nname = "g"\naxes = [{ name = "pd", apply = "default_multiplier", values = [1, 1.0000000001] }]\n'
    )
    out = tmp_path / "out"
    proc = run_cli_in_process(
        "stress", scenario, "--stress", stress, "--paths", "100", "--out", out
    )
    message = _refused(proc, out)
    assert '"g_pd1"' in message and "pd = 1.0000000001" in message and "pd = 1.0" in message


def test_a_stress_file_built_in_code_is_checked_too():
    twice = Stress(name="a", presets=(PresetStress(apply="income_haircut", level=0.1),))
    spec = StressFile(stress=(Stress(name="a"), twice))
    with pytest.raises(StressError, match='stress name "a" is also the name of stress'):
        stressed_scenarios(validate(small_deal()), spec)
    bad_change = StressFile(stress=(Stress(name="b", changes=(Change(path="deal.name"),)),))
    with pytest.raises(StressError, match="give exactly one of multiply, add, set"):
        stressed_scenarios(validate(small_deal()), bad_change)


# --- ipabs report --check ------------------------------------------------------------------

STRESS = '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'


@pytest.fixture(scope="module")
def made_report(tmp_path_factory) -> Path:
    """A report with a stress comparison, written with absolute paths (so that --check finds its
    scenario and stress files from any folder)."""
    folder = tmp_path_factory.mktemp("made")
    scenario = write_scenario(folder, small_deal())
    stress = folder / "stress.toml"
    stress.write_text(STRESS)
    out = folder / "report"
    proc = run_cli("report", scenario, "--stress", stress, "--paths", "200", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def report(made_report, tmp_path) -> Path:
    """A copy of the report to edit."""
    copy = tmp_path / "report"
    shutil.copytree(made_report, copy)
    return copy


def _edit_manifest(folder: Path, edit) -> None:
    path = folder / "manifest.json"
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def _drop_seed(info: dict) -> None:
    del info["seed"]


def _bad_paths(info: dict) -> None:
    info["paths"] = "many"


def _bad_spec(info: dict) -> None:
    info["stress_spec"]["stress"][0]["presets"][0]["level"] = -1


def _stress_keys_partly(info: dict) -> None:
    del info["stress_file_sha256"]


@pytest.mark.parametrize(
    ("breakage", "where", "expected"),
    [
        (
            lambda f: (f / "manifest.json").write_text("{not json"),
            "manifest.json",
            "not valid JSON: line 1, column 2",
        ),
        (
            lambda f: (f / "manifest.json").write_text("[1, 2]"),
            "manifest.json",
            "a manifest is a JSON object, not list",
        ),
        (
            lambda f: _edit_manifest(f, _drop_seed),
            "manifest.json",
            "seed: missing: a report's manifest has it (a whole number)",
        ),
        (
            lambda f: _edit_manifest(f, _bad_paths),
            "manifest.json",
            "paths = 'many': must be a whole number",
        ),
        (
            lambda f: _edit_manifest(f, _stress_keys_partly),
            "manifest.json",
            "stress_file_sha256: missing",
        ),
        (
            lambda f: _edit_manifest(f, _bad_spec),
            "manifest.json",
            'stress_spec.stress[0].presets[0].level (name = "pd_x2") = -1',
        ),
        (
            lambda f: (f / "data" / "pool.parquet").write_bytes(b"not parquet"),
            "data/pool.parquet",
            "not a readable Parquet file",
        ),
    ],
    ids=[
        "invalid-json",
        "not-an-object",
        "missing-key",
        "wrong-type",
        "stress-keys-partly",
        "bad-stress-spec",
        "corrupt-parquet",
    ],
)
def test_check_on_a_broken_report_exits_2_naming_the_file(report, breakage, where, expected):
    breakage(report)
    proc = run_cli_in_process("report", "--check", report)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert str(report / where) in message and expected in message, message


def test_check_catches_an_edited_number_in_the_html(report):
    path = report / "report.en.html"
    text = path.read_text(encoding="utf-8")
    assert ">18,000,000</span>" in text  # senior A's balance in the class table
    path.write_text(text.replace(">18,000,000</span>", ">18,000,001</span>", 1), encoding="utf-8")  # fmt: skip
    proc = run_cli("report", "--check", report)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "report.en.html line" in out and "18,000,001" in out and "1 difference(s)" in out, out


def test_check_catches_an_edited_deal_name_and_scenario_hash(report):
    def edit(info):
        info["resolved_scenario"]["deal"]["name"] = "another deal"
        info["scenario_sha256"] = "0" * 64

    _edit_manifest(report, edit)
    result = check_report(report)
    text = "\n".join(result.differences)
    assert "manifest.json scenario_sha256: saved '000" in text and "deal.toml has" in text
    assert "report.en.html line" in text and "another deal" in text  # the page's title
    assert "the manifest in its metadata differs from manifest.json" in text


def test_check_compares_the_resolved_scenario_with_the_scenario_file(report):
    # a consistent forgery of the manifest and the page, keeping the file's hash: the scenario
    # file, found from here, gives another resolved scenario
    _edit_manifest(report, lambda info: info["resolved_scenario"]["deal"].update(name="forged"))
    page = report / "report.en.html"
    page.write_text(page.read_text(encoding="utf-8").replace("test deal", "forged"), encoding="utf-8")  # fmt: skip
    for parquet in (report / "data").glob("*.parquet"):  # and the manifests in the Parquet files
        table = pq.read_table(parquet)
        meta = dict(table.schema.metadata)
        meta[b"ipabs_manifest"] = json.dumps(json.loads((report / "manifest.json").read_text()), sort_keys=True).encode()  # fmt: skip
        pq.write_table(table.replace_schema_metadata(meta), parquet)
    scenario = json.loads((report / "manifest.json").read_text())["scenario_file"]
    assert check_report(report).differences == [
        f"manifest.json resolved_scenario.deal.name: saved 'forged', but {scenario} gives 'test deal'"
    ]


def test_check_compares_every_manifest_key(report):
    _edit_manifest(report, lambda info: info.update(note="added by hand"))
    differences = check_report(report).differences
    assert "manifest.json: note is not a key of a report's manifest" in differences


def test_check_catches_an_edited_chart_image(report):
    chart = next((report / "charts" / "en").glob("*.png"))
    chart.write_bytes(chart.read_bytes() + b"\0")
    differences = check_report(report).differences
    assert f"charts/en/{chart.name}: the image differs from the regenerated one" in differences


def test_check_notes_a_scenario_file_it_cannot_find(report, monkeypatch, tmp_path):
    def relative(info):
        info["scenario_file"] = "nowhere/deal.toml"

    _edit_manifest(report, relative)
    monkeypatch.chdir(tmp_path)
    result = check_report(report)
    assert any("scenario_file 'nowhere/deal.toml' is not found from" in n for n in result.notes)
    # the page shows the manifest's scenario_file; the Parquet files' embedded manifests too
    assert any("report.en.html line" in d for d in result.differences)


def test_an_intact_report_passes_and_the_same_platform_compares_exactly(report):
    result = check_report(report)
    assert result.differences == [] and result.same_platform
    assert result.notes == []


def test_on_another_platform_the_html_is_compared_without_drawings_and_numbers_loosely(
    report, monkeypatch
):
    real = report_module.report_platform()
    monkeypatch.setattr(report_module, "report_platform", lambda: {**real, "matplotlib": "0.0"})
    result = check_report(report)
    assert result.differences == [] and not result.same_platform
    assert any("without its chart drawings" in n for n in result.notes)
    page = report / "report.en.html"
    text = page.read_text(encoding="utf-8")
    # a chart drawn differently is not a difference; a table number that is is one
    start = text.index("<svg")
    drawn = text[:start] + text[start:].replace("<path", "<path data-x='1'", 1)
    page.write_text(drawn, encoding="utf-8")
    assert check_report(report).differences == []
    page.write_text(drawn.replace(">18,000,000</span>", ">18,000,100</span>", 1), encoding="utf-8")  # fmt: skip
    differences = check_report(report).differences
    assert len(differences) == 1 and "a number differs: saved 18,000,100, now 18,000,000" in differences[0]  # fmt: skip
    page.write_text(drawn.replace("<h3>Classes</h3>", "<h3>Tranches</h3>", 1), encoding="utf-8")
    assert "the text differs" in check_report(report).differences[0]


@pytest.mark.parametrize(
    ("saved", "fresh", "close"),
    [
        ("0.123457", "0.123457", True),
        ("0.123457", "0.123456", True),  # one unit of the 6th significant digit: a rounding flip
        ("0.123457", "0.123455", False),
        ("18,000,001", "18,000,000", True),  # whole units from 10,000 up
        ("18,000,002", "18,000,000", False),
        ("20220826", "20220827", False),  # a seed is a whole number printed exactly
        ("1e-07", "1.00001e-07", True),
        ("2.5", "2.6", True),  # one unit of the last printed digit
        ("2.50", "2.60", False),
        ("1.4E-8", "1.5E-8", True),
        ("1.4E-8", "1.6E-8", False),
    ],
)
def test_printed_numbers_agree_to_the_cross_platform_tolerance(saved, fresh, close):
    assert report_check._close(saved, fresh) is close


def test_a_report_still_reproduces_after_its_parquet_round_trip(report):
    # rewriting a table with the same values (and its manifest metadata) is no difference
    path = report / "data" / "summary.parquet"
    table = pq.read_table(path)
    frame = pd.read_parquet(path)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata), path)  # fmt: skip
    assert check_report(report).differences == []


def test_check_of_a_report_from_an_older_ipabs_says_so(report):
    """A folder with one report.html and no languages in its manifest (written before pages
    per language) gets one clear difference, not a list of scattered ones."""
    (report / "report.en.html").rename(report / "report.html")
    _edit_manifest(report, lambda info: info.pop("languages"))
    result = check_report(report)
    assert len(result.differences) == 1 and "older ipabs" in result.differences[0]
