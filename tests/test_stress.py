"""Stress files: key-path changes with selectors and type defaults, presets, grids, errors with
the same clarity as a scenario's, common random numbers, and the partitioned output."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.dataset as ds
import pytest
from helpers import REPO, run_cli, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
from ipabs.scenario.load import validate
from ipabs.scenario.model import IPType
from ipabs.stress.apply import StressError, apply_stress, expand_grid
from ipabs.stress.definitions import Change, Grid, Stress, StressFile
from ipabs.stress.run import run_stresses


def deal():
    return validate(small_deal())


def test_changes_select_by_key_and_resolve_type_defaults():
    sc = deal()
    stressed = apply_stress(
        sc,
        Stress(
            name="s",
            changes=(
                Change(path="licensees[*].annual_default_probability", multiply=2.0),
                Change(path="assets[type=patent].volatility", add=0.1),
                Change(path="factors.correlation", add=0.2),
                Change(path="tranches[0].coupon", set=0.05),
            ),
        ),
    )
    for before, after in zip(sc.licensees, stressed.licensees, strict=True):
        assert after.annual_default_probability == pytest.approx(
            2 * before.annual_default_probability
        )
    for before, after in zip(sc.assets, stressed.assets, strict=True):
        if before.type == IPType.patent:
            base = (
                IP_TYPE_DEFAULTS[IPType.patent].volatility
                if before.volatility is None
                else before.volatility
            )
            assert after.volatility == pytest.approx(base + 0.1)
        else:
            assert after.volatility == before.volatility
    np.testing.assert_allclose(stressed.factors.correlation, [[1.0, 0.5], [0.5, 1.0]])
    assert stressed.tranches_by_rank()[0].coupon == 0.05


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            Change(path="licensee[*].recovery_rate", multiply=0.5),
            "no key 'licensee' here; did you mean 'licensees'?",
        ),
        (
            Change(path="licensees[*].recovry_rate", multiply=0.5),
            "no key 'recovry_rate' here; did you mean 'recovery_rate'?",
        ),
        (
            Change(path="licensees[9].recovery_rate", multiply=0.5),
            "index out of range: the list has 3 items",
        ),
        (Change(path="assets[type=design].volatility", add=0.1), "no item has type = design"),
        (Change(path="assets[kind=patent].volatility", add=0.1), "the items have no key 'kind'"),
        (
            Change(path="licensees[*].annual_default_probability", multiply=100.0),
            "less than or equal to 1",
        ),
        (Change(path="deal.name", multiply=2.0), "only a number can be multiplied"),
    ],
)
def test_bad_changes_are_reported_with_the_stress_and_key_path(change, expected):
    with pytest.raises(StressError) as info:
        apply_stress(deal(), Stress(name="bad", changes=(change,)))
    text = " ".join(p.render() for p in info.value.problems)
    assert 'stress "bad"' in text and expected in text, text


def test_grid_is_the_cross_product_of_its_axes():
    grid = Grid.model_validate(
        {
            "name": "g",
            "axes": [
                {"name": "pd", "apply": "default_multiplier", "values": [0.0, 1.0, 2.0]},
                {
                    "name": "vol",
                    "path": "assets[*].volatility",
                    "op": "multiply",
                    "values": [1.0, 1.5],
                },
            ],
        }
    )
    names = [s.name for s in expand_grid(grid)]
    assert names == [
        "g_pd0_vol1",
        "g_pd0_vol1.5",
        "g_pd1_vol1",
        "g_pd1_vol1.5",
        "g_pd2_vol1",
        "g_pd2_vol1.5",
    ]


def test_a_null_stress_repeats_the_base_case_exactly_on_the_same_draws():
    spec = StressFile(
        stress=(
            Stress(name="same", changes=(Change(path="licensees[*].recovery_rate", multiply=1.0),)),
            Stress(
                name="worse",
                changes=(
                    Change(path="licensees[*].annual_default_probability", multiply=3.0, max=1.0),
                ),
            ),
        )
    )
    run = run_stresses(deal(), spec, paths=300)
    base, same = (run.results[k].summary for k in ("base", "same"))
    np.testing.assert_array_equal(base["expected_loss"], same["expected_loss"])
    # more defaults on the same draws: no class's loss falls on any path
    b = run.results["base"].paths.set_index(["path", "tranche"])["principal_loss"]
    w = run.results["worse"].paths.set_index(["path", "tranche"])["principal_loss"]
    sub = b.index.get_level_values("tranche") == "sub"
    assert (w[sub] >= b[sub] - 1e-9).all()


def test_stress_command_writes_a_dataset_partitioned_by_stress(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "stress.toml"
    stress.write_text(
        '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'
        '[[grid]]\nname = "g"\naxes = [{ name = "vol", path = "assets[*].volatility", values = [1.0, 2.0] }]\n'
    )
    out = tmp_path / "out"
    proc = run_cli("stress", scenario, "--stress", stress, "--paths", "200", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads(proc.stdout)["comparison"]
    assert {r["stress"] for r in comparison} == {"base", "pd_x2", "g_vol1", "g_vol2"}
    table = (
        ds.dataset(out / "summary", format="parquet", partitioning="hive").to_table().to_pandas()
    )
    assert set(table["stress"].astype(str)) == {"base", "pd_x2", "g_vol1", "g_vol2"}
    assert (out / "comparison.parquet").is_file() and (out / "manifest.json").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stresses"] == ["base", "pd_x2", "g_vol1", "g_vol2"]


@pytest.mark.parametrize(
    ("text", "expected", "runner"),
    [
        ('[[stres]]\nname = "x"\n', "stres: unknown key; did you mean 'stress'?", run_cli),
        (
            '[[stress]]\nname = "x"\nchanges = [{ path = "licensees[*].recovery_rate", multiply = 2, add = 1 }]\n',
            "give exactly one of multiply, add, set",
            run_cli_in_process,
        ),
        (
            '[[stress]]\nname = "x"\npresets = [{ apply = "haircut", level = 1 }]\n',
            "stress[0].presets[0].apply",
            run_cli_in_process,
        ),
        (
            '[[stress]]\nname = "x"\nchanges = [{ path = "licensees[*].recovry_rate", multiply = 2 }]\n',
            "did you mean 'recovery_rate'?",
            run_cli_in_process,
        ),
        ('[[stress]\nname = "x"\n', "TOML syntax error", run_cli),
    ],
)
def test_bad_stress_files_exit_2_with_a_clear_message(tmp_path, text, expected, runner):
    """Two cases in a new process (the command as run), the others in-process."""
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "stress.toml"
    stress.write_text(text)
    proc = runner("stress", scenario, "--stress", stress, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert expected in message and "stress.toml" in message, message
    assert not (tmp_path / "out").exists()


def test_the_shipped_regulatory_set_is_valid_for_every_shipped_scenario():
    from ipabs.stress.definitions import load_stress_file
    from ipabs.stress.run import stresses_of

    spec = load_stress_file(REPO / "scenarios" / "stress" / "regulatory.toml")
    names = [s.name for s in stresses_of(spec)]
    assert {"moderate", "severe", "pd_x2", "pd_x3", "provider_default"} <= set(names)
    assert spec.reverse is not None
    for path in sorted((REPO / "scenarios").glob("*.toml")):
        sc = ipabs.load(path)
        for s in stresses_of(spec):
            apply_stress(sc, s)  # validates the stressed scenario
