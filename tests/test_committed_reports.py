"""The committed example reports reproduce: `ipabs report --check` regenerates each from its
manifest and compares every number (regenerate them with `python reports/regenerate.py`)."""

from __future__ import annotations

import json

import pytest
from helpers import REPO, run_cli

REPORTS = sorted(p.parent for p in (REPO / "reports").glob("*/manifest.json"))


def test_every_shipped_scenario_has_a_committed_report():
    shipped = {p.stem for p in (REPO / "scenarios").glob("*.toml")}
    assert shipped == {p.name for p in REPORTS}
    zgc = json.loads(
        (REPO / "reports" / "zgc_patent_licence_abs_2022" / "manifest.json").read_text()
    )
    assert zgc["stress_file"] == "scenarios/stress/regulatory.toml"
    assert zgc["languages"] == ["en", "zh"]  # the flagship in Chinese and English
    for lang in zgc["languages"]:
        assert (REPO / "reports" / "zgc_patent_licence_abs_2022" / f"report.{lang}.html").is_file()


@pytest.mark.parametrize("folder", REPORTS, ids=lambda p: p.name)
def test_committed_report_reproduces(folder):
    proc = run_cli("report", "--check", folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
