"""IP assets: type defaults, legal life and renewals, growth curves, cliffs, obsolescence jumps,
pre-paid annuities and collection lags, each against a hand-worked or closed-form value."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, REPO, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.pool.assets import resolve_asset
from ipabs.pool.ip_types import DOC_BEGIN, DOC_END, IP_TYPE_DEFAULTS, defaults_table_markdown
from ipabs.scenario.load import validate
from ipabs.scenario.model import IPType

CLOSING = dt.date(2024, 1, 15)
FINAL = dt.date(2027, 1, 15)
QUIET = QUIET_ASSET


def one_asset(paths=4, seed=1, legal_final=FINAL, **asset):
    spec = {
        "id": "X",
        "type": "patent",
        "licensee": "L",
        "base_annual_income": 100.0,
        **QUIET,
        **asset,
    }
    if (
        "remaining_legal_life_years" not in spec
        and "protection_start_date" not in spec
        and spec["type"] not in ("geographical_indication", "data_rights")
    ):
        spec["remaining_legal_life_years"] = 30.0
    data = small_deal(
        deal={
            "name": "one asset",
            "closing_date": CLOSING,
            "payment_frequency": "quarterly",
            "legal_final_date": legal_final,
        },
        simulation={"paths": paths, "seed": seed, "sample_paths": paths},
        factors={"names": ["m"]},
        licensees=[{"id": "L", "annual_default_probability": 0.0}],
        assets=[spec],
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
    )
    return ipabs.simulate(validate(data))


def test_docs_model_has_the_type_defaults_table():
    text = (REPO / "docs" / "model.md").read_text()
    block = text[text.index(DOC_BEGIN) + len(DOC_BEGIN) : text.index(DOC_END)].strip()
    assert block == defaults_table_markdown()
    assert set(IP_TYPE_DEFAULTS) == set(IPType), "every IP type has defaults"


def test_type_defaults_apply_and_overrides_win():
    sc = validate(small_deal())
    trademark = next(a for a in sc.assets if a.type == "trademark")
    r = resolve_asset(trademark, sc.deal.closing_date)
    d = IP_TYPE_DEFAULTS[IPType.trademark]
    assert (r.renewal_term_years, r.renewal_probability, r.volatility) == (
        10.0,
        d.renewal_probability,
        d.volatility,
    )
    patent = next(a for a in sc.assets if a.id == "P1")
    r = resolve_asset(patent, sc.deal.closing_date)
    assert r.volatility == 0.2  # given on the asset
    assert r.lapse_hazard == IP_TYPE_DEFAULTS[IPType.patent].lapse_hazard
    prepaid = resolve_asset(
        patent.model_copy(update={"annuities_prepaid": True}), sc.deal.closing_date
    )
    assert (
        prepaid.lapse_hazard == 0.0
        and prepaid.annual_fee == IP_TYPE_DEFAULTS[IPType.patent].annual_fee
    )


def test_legal_life_from_the_protection_start_date():
    # a patent filed 18 years before closing has 2 years left: income stops 2 years in
    res = one_asset(protection_start_date=dt.date(2006, 1, 19))
    expiry = 20.0 - (CLOSING - dt.date(2006, 1, 19)).days / 365.0
    t, dt_ = res.deal.t_years, res.deal.dt_years
    share = np.clip((expiry - (t - dt_)) / dt_, 0, 1)
    np.testing.assert_allclose(res.raw.sample_collections[0], 100.0 * dt_ * share, rtol=1e-12)
    # geographical indications never expire
    gi = one_asset(type="geographical_indication")
    assert np.all(gi.raw.sample_collections[0] > 0)


@pytest.mark.parametrize(("probability", "alive_after"), [(0.0, False), (1.0, True)])
def test_trademark_renewal(probability, alive_after):
    # registered 9.5 years before closing: renewal decision half a year in
    res = one_asset(
        type="trademark",
        protection_start_date=dt.date(2014, 7, 17),
        renewal_probability=probability,
    )
    expiry = 10.0 - (CLOSING - dt.date(2014, 7, 17)).days / 365.0
    t, dt_ = res.deal.t_years, res.deal.dt_years
    collections = res.raw.sample_collections[0]
    k = int(np.searchsorted(t, expiry))
    assert np.all(collections[:k] > 0)
    if alive_after:
        np.testing.assert_allclose(collections, 100.0 * dt_, rtol=1e-12)
        assert (res.pool_paths["ip_rights_lost"] == 0).all()
    else:
        share = (expiry - (t[k] - dt_[k])) / dt_[k]
        assert collections[k] == pytest.approx(100.0 * dt_[k] * share, rel=1e-12)
        assert np.all(collections[k + 1 :] == 0.0)
        assert (res.pool_paths["ip_rights_lost"] == 1).all()


def test_growth_curve_and_cliff_are_integrated_exactly():
    curve = [0.10, -0.20, 0.05]
    cliff = dt.date(2025, 6, 1)
    res = one_asset(growth_rate=None, growth_curve=curve, cliff_date=cliff, cliff_severity=0.6)
    t, dt_ = res.deal.t_years, res.deal.dt_years

    def integrated(x):
        return sum(g * min(max(x - n, 0.0), 1.0) for n, g in enumerate(curve[:-1])) + curve[
            -1
        ] * max(x - 2, 0.0)

    cliff_t = (cliff - CLOSING).days / 365.0
    expected = [
        100.0 * d * math.exp(integrated(x)) * (0.4 if x >= cliff_t else 1.0)
        for x, d in zip(t, dt_, strict=True)
    ]
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_obsolescence_jumps_lower_expected_income_by_the_closed_form():
    """Jumps with hazard h and severity s: E[level at t_k] = prod_j (1 - s p_j), p_j = 1 - e^(-h dt_j)
    (volatility on, so the test also mixes the lognormal noise). Within 4 standard errors."""
    h, s = 0.4, 0.3
    res = one_asset(
        paths=20_000, seed=4, volatility=0.2, obsolescence_hazard=h, obsolescence_severity=s
    )
    dt_ = res.deal.dt_years
    factor = np.cumprod(1.0 - s * -np.expm1(-h * dt_))
    expected = (100.0 * dt_ * factor).sum()
    est, se = res.pool.loc[0, "expected_collections"], res.pool.loc[0, "expected_collections_se"]
    assert abs(est - expected) < 4 * se, (est, expected, se)
    assert (res.pool_paths["ip_rights_lost"] == 0).all()  # jumps do not end the right


def test_prepaid_annuities_are_paid_from_collections():
    res = one_asset(annuities_prepaid=True, annual_fee=8.0, lapse_hazard=0.5)  # hazard ignored
    dt_ = res.deal.dt_years
    np.testing.assert_allclose(res.raw.sample_collections[0], (100.0 - 8.0) * dt_, rtol=1e-12)
    assert res.pool_paths["annuity_fees_paid"].iloc[0] == pytest.approx(8.0 * dt_.sum(), rel=1e-12)
    assert (res.pool_paths["ip_rights_lost"] == 0).all()


def test_collection_lag_shifts_income_and_loses_the_tail():
    res = one_asset(collection_lag_periods=2)
    dt_ = res.deal.dt_years
    expected = np.concatenate([[0.0, 0.0], 100.0 * dt_[:-2]])
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    assert res.pool_paths["income_after_legal_final"].iloc[0] == pytest.approx(
        100.0 * dt_[-2:].sum(), rel=1e-12
    )


@pytest.mark.parametrize(
    ("asset", "expected"),
    [
        (
            {"remaining_legal_life_years": None},
            "give remaining_legal_life_years, or protection_start_date",
        ),
        (
            {"type": "data_rights", "remaining_legal_life_years": None, "licence_term_years": None},
            "data rights have no statutory term",
        ),
        (
            {"growth_curve": [0.1], "growth_rate": 0.02},
            "give growth_rate or growth_curve, not both",
        ),
        (
            {"cliff_date": dt.date(2025, 1, 1)},
            "cliff_date and a cliff_severity above 0 go together",
        ),
        (
            {"remaining_legal_life_years": None, "protection_start_date": dt.date(2000, 1, 1)},
            "the 20-year term has ended before closing",
        ),
        ({"growth_curvee": [0.1]}, "did you mean 'growth_curve'?"),
    ],
)
def test_asset_term_errors(tmp_path, asset, expected):
    data = small_deal()
    spec = {**data["assets"][0], **asset}
    data["assets"][0] = {k: v for k, v in spec.items() if v is not None}
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "assets[0]" in proc.stderr and expected in " ".join(proc.stderr.split())


def test_student_t_needs_its_degrees_of_freedom(tmp_path):
    proc = run_cli_in_process(
        "validate",
        write_scenario(tmp_path, small_deal(factors={"names": ["m"], "copula": "student_t"})),
    )
    assert (
        proc.returncode == 2
        and "factors.degrees_of_freedom: required key is missing" in proc.stderr
    )
    proc = run_cli_in_process(
        "validate",
        write_scenario(tmp_path, small_deal(factors={"names": ["m"], "degrees_of_freedom": 4})),
    )
    assert proc.returncode == 2 and 'only used with copula = "student_t"' in proc.stderr
