"""The run as a structurer uses it: `ipabs run` writes the output folder atomically, prints the
table or JSON; the Python API returns DataFrames and Axes."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import FLAGSHIP, run_cli, small_deal, write_scenario

import ipabs
from ipabs.scenario.load import validate


@pytest.fixture(scope="module")
def flagship_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    out = folder / "zgc"
    proc = run_cli("run", FLAGSHIP, "--paths", "2000", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_prints_the_table_and_writes_the_folder(flagship_run):
    out, proc = flagship_run
    assert "senior_A" in proc.stdout and "senior_B" in proc.stdout and "subordinated" in proc.stdout
    assert "exp. loss" in proc.stdout and "price % par" in proc.stdout
    # the weakest period's coverage, as in periods.parquet
    periods = pd.read_parquet(out / "periods.parquet")
    weakest = periods.loc[periods["coverage_p50"].idxmin()]
    assert (
        f"debt service coverage: lowest median {weakest['coverage_p50']:.2f}x "
        f"(5th percentile {weakest['coverage_p05']:.2f}x) on {weakest['date']:%Y-%m-%d}"
    ) in " ".join(proc.stdout.split())
    expected = {
        "summary.parquet",
        "paths.parquet",
        "periods.parquet",
        "cash_flows.parquet",
        "cash_flow_coverage.parquet",
        "pool.parquet",
        "pool_paths.parquet",
        "manifest.json",
        "charts",
    }
    assert expected == {p.name for p in out.iterdir()}
    charts = {p.name for p in (out / "charts").iterdir()}
    for name in ("tranche_losses", "collections_fan", "tranche_balances", "debt_service_coverage"):
        assert {f"{name}.png", f"{name}.svg"} <= charts
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], (
        "no temporary folders left"
    )


def test_summary_and_tables_have_the_documented_columns(flagship_run):
    out, _ = flagship_run
    summary = pd.read_parquet(out / "summary.parquet")
    for col in (
        "tranche",
        "expected_loss",
        "expected_loss_se",
        "prob_loss",
        "wal_years",
        "price_pct_par",
        "loss_given_loss",
        "irr_mean",
        "irr_p01",
        "irr_p05",
        "irr_p50",
        "irr_p95",
        "irr_p99",
        "modified_duration",
    ):
        assert col in summary.columns
    assert list(summary["tranche"]) == ["senior_A", "senior_B", "subordinated"]
    paths = pd.read_parquet(out / "paths.parquet")
    assert len(paths) == 2000 * 3 and {"path", "tranche", "loss_fraction", "irr"} <= set(
        paths.columns
    )
    periods = pd.read_parquet(out / "periods.parquet")
    assert len(periods) == 12  # quarterly over three years
    for col in (
        "collections_p05",
        "collections_p50",
        "collections_p95",
        "balance_senior_A_p95",
        "reserve_p50",
        "coverage_p05",
        "coverage_p50",
        "coverage_paths",
    ):
        assert col in periods.columns
    # bands are ordered
    assert (periods["collections_p05"] <= periods["collections_p50"]).all()
    assert (periods["collections_p50"] <= periods["collections_p95"]).all()


def test_manifest_records_what_produced_the_run(flagship_run):
    out, _ = flagship_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario_sha256"] == hashlib.sha256(FLAGSHIP.read_bytes()).hexdigest()
    assert manifest["paths"] == 2000 and manifest["seed"] == 20220826
    assert manifest["ipabs_version"] == ipabs.__version__
    assert manifest["resolved_scenario"]["simulation"]["paths"] == 2000
    assert {"python", "numpy", "numba", "machine"} <= set(manifest["platform"])
    assert manifest["wall_seconds"] > 0
    meta = pq.read_schema(out / "summary.parquet").metadata[b"ipabs_manifest"]
    assert json.loads(meta)["scenario_sha256"] == manifest["scenario_sha256"]


def test_json_output_and_thread_independence(tmp_path):
    scenario = write_scenario(
        tmp_path, small_deal(simulation={"paths": 600, "seed": 9, "block_size": 50})
    )
    one = run_cli(
        "run", scenario, "--threads", "1", "--json", "--out", tmp_path / "t1", "--no-charts"
    )
    two = run_cli(
        "run",
        scenario,
        "--threads",
        "2",
        "--block-size",
        "333",
        "--json",
        "--out",
        tmp_path / "t2",
        "--no-charts",
    )
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["tranches"] == b["tranches"] and a["pool"] == b["pool"]
    assert [t["tranche"] for t in a["tranches"]] == ["A", "B", "sub"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "t1" / "paths.parquet"),
        pd.read_parquet(tmp_path / "t2" / "paths.parquet"),
    )


def test_rerun_replaces_a_run_folder_but_never_a_foreign_one(tmp_path):
    scenario = write_scenario(tmp_path, small_deal(simulation={"paths": 100}))
    out = tmp_path / "out"
    assert run_cli("run", scenario, "--out", out, "--quiet", "--no-charts").returncode == 0
    assert (
        run_cli("run", scenario, "--out", out, "--quiet", "--no-charts", "--seed", "99").returncode
        == 0
    )
    assert json.loads((out / "manifest.json").read_text())["seed"] == 99
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    proc = run_cli("run", scenario, "--out", foreign, "--quiet")
    assert proc.returncode == 2 and "not an ipabs run folder" in proc.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    from ipabs.outputs import charts

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(charts, "write_charts", interrupted)
    res = ipabs.simulate(validate(small_deal(simulation={"paths": 50})))
    with pytest.raises(KeyboardInterrupt):
        res.write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    # and an earlier complete run survives an interrupted re-run
    monkeypatch.undo()
    res.write(tmp_path / "out", charts=False)
    before = (tmp_path / "out" / "summary.parquet").read_bytes()
    monkeypatch.setattr(charts, "write_charts", interrupted)
    with pytest.raises(KeyboardInterrupt):
        res.write(tmp_path / "out")
    assert (tmp_path / "out" / "summary.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_python_api_for_notebooks(tmp_path):
    sc = ipabs.load(FLAGSHIP)
    assert isinstance(sc, ipabs.Scenario)
    with pytest.raises(Exception, match="frozen"):
        sc.deal.name = "changed"  # scenarios are immutable
    res = ipabs.simulate(sc, paths=500, seed=4)
    assert isinstance(res.summary, pd.DataFrame) and len(res.summary) == 3
    assert res.summary["expected_loss_se"].notna().all()
    assert set(res.periods.columns) >= {"date", "collections_p05", "collections_p95"}
    from matplotlib.axes import Axes

    for plot in (res.plot_losses, res.plot_collections, res.plot_balances):
        assert isinstance(plot(), Axes)
    html = res._repr_html_()
    assert "<table" in html and "Senior A" in html  # the class by its display_name
    assert repr(res).startswith("<ipabs.Results")
    # simulate also takes a path
    assert ipabs.simulate(FLAGSHIP, paths=10).paths_run == 10


def test_html_display_escapes_scenario_text():
    sc = validate(
        small_deal(
            deal={**small_deal()["deal"], "name": "<script>alert(1)</script>"},
            simulation={"paths": 20},
        )
    )
    html = ipabs.simulate(sc)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_schema_command_prints_json_schema():
    proc = run_cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["additionalProperties"] is False and "tranches" in schema["properties"]


def test_console_script_and_module_entry_point(tmp_path):
    exe = shutil.which("ipabs")
    assert exe is not None, "the ipabs console script is installed"
    import subprocess

    proc = subprocess.run([exe, "validate", str(FLAGSHIP)], capture_output=True, text=True)
    assert proc.returncode == 0 and "ok" in proc.stdout
    assert run_cli("--version").stdout.strip() == f"ipabs, version {ipabs.__version__}"


def test_progress_bar_renders_before_and_after_the_first_block():
    """Regression: the bar used to crash rendering a total of None before the first block ended."""
    import io
    import time

    from rich.console import Console

    from ipabs.cli import _LazyProgress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with _LazyProgress(enabled=True, total=200_000, console=console, after_seconds=0.0) as bar:
        for _ in range(100):
            if bar._progress is not None:
                break
            time.sleep(0.01)
        bar._progress.refresh()  # render in this thread so that an error would surface here
        assert "0/200,000 paths" in buf.getvalue()
        bar.update(65_536, 200_000)
        bar._progress.refresh()
        assert "65,536/200,000 paths" in buf.getvalue()
