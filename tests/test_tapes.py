"""Asset and licensee tapes (CSV and Parquet): read relative to the scenario, mixed with inline
definitions, and every error located by file, row and column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import run_cli, run_cli_in_process, small_deal, write_scenario

import ipabs

ASSET_COLUMNS = ["id", "type", "licensee", "base_annual_income", "volatility", "factor", "factor_loading",
                 "remaining_legal_life_years", "licence_term_years", "growth_curve"]  # fmt: skip


def tape_rows(n):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        rows.append({
            "id": f"T{i:04d}", "type": ["patent", "trademark", "copyright", "ic_layout"][i % 4],
            "licensee": ["L1", "L2", "L3"][i % 3], "base_annual_income": float(rng.integers(10_000, 90_000)),
            "volatility": 0.2, "factor": "tech", "factor_loading": 0.3,
            "remaining_legal_life_years": float(rng.uniform(3, 15)), "licence_term_years": "",
            "growth_curve": "[0.02, -0.05]" if i % 5 == 0 else "",
        })  # fmt: skip
    return rows


def write_csv(path, rows, columns=ASSET_COLUMNS):
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def test_csv_tape_mixes_with_inline_assets_and_matches_the_same_pool_inline(tmp_path):
    (tmp_path / "pool").mkdir()
    rows = tape_rows(300)
    write_csv(tmp_path / "pool" / "assets.csv", rows)
    data = small_deal(
        tapes=[{"kind": "assets", "path": "pool/assets.csv"}], simulation={"paths": 300, "seed": 2}
    )
    scenario = write_scenario(tmp_path, data)
    sc = ipabs.load(scenario)
    assert len(sc.assets) == 4 + 300 and sc.assets[4].id == "T0000"
    assert sc.assets[4].licence_term_years is None and sc.assets[5].growth_curve is None
    assert sc.assets[4].growth_curve == (0.02, -0.05)

    inline = small_deal(simulation={"paths": 300, "seed": 2})
    for r in rows:
        item = {k: v for k, v in r.items() if v != ""}
        if "growth_curve" in item:
            item["growth_curve"] = json.loads(item["growth_curve"])
        inline["assets"].append(item)
    a = ipabs.simulate(sc).raw.tranche
    b = ipabs.simulate(write_scenario(tmp_path, inline, "inline.toml")).raw.tranche
    assert np.array_equal(a, b, equal_nan=True)

    # the run's manifest records each tape's hash
    out = tmp_path / "out"
    assert run_cli("run", scenario, "--out", out, "--quiet", "--no-charts").returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["tape_sha256"]) == {"pool/assets.csv"}


def test_parquet_licensee_tape(tmp_path):
    table = pa.table({
        "id": ["L4", "L5"], "annual_default_probability": [0.02, 0.03], "recovery_rate": [0.1, None],
        "factor": ["tech", "media"], "factor_loading": [0.4, 0.2],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "licensees.parquet")
    data = small_deal(tapes=[{"kind": "licensees", "path": "licensees.parquet"}])
    data["assets"][3]["licensee"] = "L5"
    sc = ipabs.load(write_scenario(tmp_path, data))
    assert [lic.id for lic in sc.licensees] == ["L1", "L2", "L3", "L4", "L5"]
    assert sc.licensees[4].recovery_rate == 0.0  # missing value: the default


@pytest.mark.parametrize(
    ("row_change", "expected"),
    [
        (
            {"base_annual_income": "-5"},
            "pool.csv line 4, column base_annual_income (id = \"T0002\") = '-5': Input should be greater than or equal to 0",
        ),
        (
            {"licensee": "L9"},
            "pool.csv line 4, column licensee (id = \"T0002\") = 'L9': no licensee has this id",
        ),
        (
            {"type": "patnet"},
            "pool.csv line 4, column type (id = \"T0002\") = 'patnet': must be one of",
        ),
        (
            {"id": "P1"},
            "pool.csv line 4, column id = 'P1': duplicate id; already used by assets[0]",
        ),
    ],
)
def test_tape_errors_name_file_line_and_column(tmp_path, row_change, expected):
    rows = tape_rows(5)
    rows[2].update(row_change)
    write_csv(tmp_path / "pool.csv", rows)
    scenario = write_scenario(tmp_path, small_deal(tapes=[{"kind": "assets", "path": "pool.csv"}]))
    proc = run_cli_in_process("run", scenario, "--out", tmp_path / "out")
    assert (
        proc.returncode == 2 and "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    )
    assert expected in " ".join(proc.stderr.split()), proc.stderr


def test_tape_unknown_column_and_missing_file(tmp_path):
    write_csv(
        tmp_path / "pool.csv", [{**tape_rows(1)[0], "licencee": "L1"}], [*ASSET_COLUMNS, "licencee"]
    )
    proc = run_cli_in_process(
        "validate",
        write_scenario(tmp_path, small_deal(tapes=[{"kind": "assets", "path": "pool.csv"}])),
    )
    assert proc.returncode == 2
    assert (
        "pool.csv line 2, column licencee (id = \"T0000\"): unknown key; did you mean 'licensee'?"
        in " ".join(proc.stderr.split())
    )
    proc = run_cli_in_process(
        "validate",
        write_scenario(tmp_path, small_deal(tapes=[{"kind": "assets", "path": "nope.csv"}])),
    )
    assert proc.returncode == 2 and "tapes[0].path = 'nope.csv': file not found" in " ".join(
        proc.stderr.split()
    )
    proc = run_cli_in_process(
        "validate",
        write_scenario(tmp_path, small_deal(tapes=[{"kind": "borrowers", "path": "pool.csv"}])),
    )
    assert proc.returncode == 2 and "tapes[0].kind" in proc.stderr
