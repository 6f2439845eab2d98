"""IP valuation (income method): closed forms, a Monte Carlo cross-check, and `ipabs value`."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import FLAGSHIP, QUIET_ASSET, run_cli, small_deal, write_scenario

import ipabs
from ipabs.pool.valuation import value_assets
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
QUIET = QUIET_ASSET


def scenario(asset, *, rate=0.12, **deal):
    spec = {
        "id": "X",
        "type": "patent",
        "licensee": "L",
        "base_annual_income": 1_000.0,
        **QUIET,
        **asset,
    }
    return validate(
        small_deal(
            deal={
                "name": "v",
                "closing_date": CLOSING,
                "payment_frequency": "monthly",
                "legal_final_date": dt.date(2034, 1, 15),
                **deal,
            },
            simulation={"paths": 20_000, "seed": 21, "sample_paths": 1},
            factors={"names": ["m"]},
            licensees=[{"id": "L", "annual_default_probability": 0.0}],
            assets=[spec],
            tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
            fees={},
            reserve={},
            pricing={"discount_rate": rate},
            valuation={"discount_rate": rate},
        )
    )


def test_constant_income_is_an_annuity():
    """B for T years at rate r: V = B (1 - (1+r)^-T) / ln(1+r)."""
    v = value_assets(scenario({"remaining_legal_life_years": 7.3})).iloc[0]
    r, t = 0.12, 7.3
    assert v["value"] == pytest.approx(1_000.0 * (1 - (1 + r) ** -t) / math.log(1 + r), rel=1e-4)
    assert v["economic_life_years"] == 7.3 and v["expected_income"] == pytest.approx(
        7_300.0, rel=1e-9
    )


def test_growth_obsolescence_and_hazards_discount_as_one_rate():
    """E[income at t] = B e^((g - h_o s - h_v - h_l) t): V = B (1 - e^(-k T)) / k, k = ln(1+r) - g + h_o s + h_v + h_l."""
    asset = {"remaining_legal_life_years": 12.0, "growth_rate": 0.03, "obsolescence_hazard": 0.2,
             "obsolescence_severity": 0.25, "invalidation_hazard": 0.02, "lapse_hazard": 0.05}  # fmt: skip
    v = value_assets(scenario(asset)).iloc[0]
    k = math.log(1.12) - 0.03 + 0.2 * 0.25 + 0.02 + 0.05
    assert v["value"] == pytest.approx(1_000.0 * -math.expm1(-k * 12.0) / k, rel=1e-4)


def test_prepaid_annuities_and_economic_life_cap():
    base = value_assets(scenario({"remaining_legal_life_years": 15.0})).iloc[0]["value"]
    capped = value_assets(
        scenario({"remaining_legal_life_years": 15.0, "economic_life_years": 5.0})
    ).iloc[0]
    assert capped["economic_life_years"] == 5.0 and capped["value"] < base
    prepaid = value_assets(
        scenario(
            {"remaining_legal_life_years": 15.0, "annuities_prepaid": True, "annual_fee": 100.0}
        )
    ).iloc[0]
    fees_pv = 100.0 * (1 - 1.12**-15.0) / math.log(1.12)
    assert prepaid["annuity_fees_pv"] == pytest.approx(fees_pv, rel=1e-4)
    assert prepaid["value"] == pytest.approx(base - fees_pv, rel=1e-4)


def test_value_agrees_with_the_simulated_discounted_income():
    """The same asset simulated (volatility, jumps, invalidation; no licensee default), its
    collections discounted at the valuation rate: within 4 standard errors plus 2% for the
    kernel's discrete time (income at payment dates, events for whole months)."""
    asset = {"remaining_legal_life_years": 8.0, "growth_rate": -0.04, "volatility": 0.3, "factor_loading": 0.5,
             "obsolescence_hazard": 0.15, "obsolescence_severity": 0.3, "invalidation_hazard": 0.05}  # fmt: skip
    sc = scenario(asset)
    value = value_assets(sc).iloc[0]["value"]
    res = ipabs.simulate(sc, sample_paths=20_000)
    discount = 1.12**-res.deal.t_years
    pv = res.raw.sample_collections @ discount
    se = pv.std(ddof=1) / math.sqrt(pv.size)
    assert abs(pv.mean() - value) < 4 * se + 0.02 * value, (pv.mean(), value, se)


def test_value_command_prints_and_writes(tmp_path):
    out = tmp_path / "val"
    proc = run_cli("value", FLAGSHIP, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "CY01-P1" in proc.stdout and "total" in proc.stdout
    table = pd.read_parquet(out / "valuation.parquet")
    assert len(table) == len(ipabs.load(FLAGSHIP).assets)
    assert {"asset", "type", "value", "economic_life_years", "discount_rate"} <= set(table.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "value" and len(manifest["scenario_sha256"]) == 64
    proc = run_cli("value", FLAGSHIP, "--out", out, "--json", "--discount-rate", "0.2")
    data = json.loads(proc.stdout)
    assert all(a["discount_rate"] == 0.2 for a in data["assets"])
    assert (
        sum(a["value"] for a in data["assets"]) < table["value"].sum()
    )  # a higher rate, a lower value


def test_value_command_bad_input(tmp_path):
    proc = run_cli("value", FLAGSHIP, "--discount-rate", "-0.5", "--out", tmp_path / "v")
    assert (
        proc.returncode == 2
        and "valuation.discount_rate" in proc.stderr
        and not (tmp_path / "v").exists()
    )
    bad = write_scenario(tmp_path, small_deal(valuation={"discount_rate": 2.0}))
    proc = run_cli("value", bad, "--out", tmp_path / "v")
    assert (
        proc.returncode == 2
        and "valuation.discount_rate" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert not (tmp_path / "v").exists()


def test_values_are_finite_for_every_type():
    sc = validate(small_deal())
    table = value_assets(sc)
    assert np.isfinite(table["value"]).all() and (table["value"] > 0).all()
