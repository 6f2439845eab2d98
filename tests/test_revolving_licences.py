"""Revolving purchases of licence receivables (docs/model.md 4.7): the fixed licence fees of
signed licences, in equal instalments, bought at a discount yield. Hand-worked instalments and
price, a hand-worked default with its recovery on the unpaid instalments, a Monte Carlo expected
collection against its closed form, cash conservation of a revolving licence deal, the report's
words, and bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.stats import norm
from test_leases import _error, deal_data, lease, licence

import ipabs
from ipabs.calendar import time_grid
from ipabs.engine.conservation import cash_check, worst_relative_gap
from ipabs.engine.rng import seed_stream
from ipabs.report.charts import _bought
from ipabs.report.transaction import _buy_words
from ipabs.scenario.load import validate
from ipabs.structures.revolving import RevolvingArrays, compile_revolving, simulate_vintages_path

SECTION_8 = "see docs/model.md section 8"

# 8% a year discount yield, quarterly: i = 0.02, m = 4 instalments. By hand:
# 1.02^-1 = 0.980392157, 1.02^-2 = 0.961168781, 1.02^-3 = 0.942322335, 1.02^-4 = 0.923845426;
# their sum (the annuity factor) = 3.807728699, so a = 1 / 3.807728699 = 0.262623753 per unit of
# price, and a receivable of face 4 x 250 = 1,000 costs 250 x 3.807728699 = 951.932175.
ANNUITY_FACTOR = 0.980392157 + 0.961168781 + 0.942322335 + 0.923845426
A = 0.262623753


def licence_receivables(**kw):
    rv = {
        "end_date": dt.date(2025, 1, 20),  # payment dates 0 .. 3 buy
        "buys": "licence_receivables",
        "amortisation": "level",
        "rate": 0.08,
        "term_years": 1.0,
        "annual_default_probability": 0.0,
        **kw,
    }
    return {k: v for k, v in rv.items() if v is not None}


def licence_deal(*, pd=0.0, licensee_pd=0.0, recovery=None, lag=0, paths=50, **extra):
    lic = [{"id": "LIC", "annual_default_probability": licensee_pd, "recovery_rate": 0.3}]
    revolving = licence_receivables(
        annual_default_probability=pd, recovery_rate=recovery, disposal_lag_months=lag
    )
    data = deal_data(
        assets=[licence()],  # 400 a year of royalty, no volatility or growth
        licensees=lic,
        paths=paths,
        tranches=[
            {"name": "A", "balance": 500.0, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 500.0, "coupon": 0.0, "rank": 2},
        ],
        collateral={"basis": "loan_balance", "original_value": 1_000.0},
        revolving=revolving,
        waterfall={
            "normal": [
                {"action": "pay_interest", "classes": ["A"]},
                {"action": "pay_principal", "classes": ["A", "sub"]},
                {"action": "pay_residual"},
            ],
            "revolving": [
                {"action": "pay_interest", "classes": ["A"]},
                {"action": "buy_assets"},
                {"action": "pay_residual"},
            ],
        },
    )
    data.update(extra)
    return data


def test_annuity_factor_by_hand():
    i = 0.02
    assert ANNUITY_FACTOR == pytest.approx((1 - (1 + i) ** -4) / i, abs=2e-9)
    assert A == pytest.approx(i / (1 - (1 + i) ** -4), abs=1e-9)
    assert 250.0 * ANNUITY_FACTOR == pytest.approx(951.932175, abs=1e-5)


def test_compiled_terms_are_the_discount_yield_and_the_recovery_on_the_instalments():
    sc = validate(licence_deal(recovery=0.4, lag=3))
    rv = compile_revolving(sc, time_grid(sc.deal))
    assert (rv.n_vintages, rv.rate, rv.term_periods, rv.amortisation) == (4, 0.08, 4, 1)
    assert rv.recovery_per_unit == 0.0 and rv.recovery_per_instalment == 0.4
    assert rv.lag_periods == 1  # 3 months, quarterly
    np.testing.assert_array_equal(rv.accrual, 0.25)  # fixed instalments, not a day count


def one_vintage(n_periods, threshold, recovery, lag=0):
    """Vintage 0 (bought at the end of period 0) with the compiled terms above."""
    rv = RevolvingArrays(
        n_vintages=1, rate=0.08, term_periods=4, amortisation=1,
        threshold=np.asarray(threshold, float).reshape(n_periods, 1),
        prepay_prob=np.zeros(n_periods), recovery_per_unit=0.0, lag_periods=lag, factor=0,
        loading=0.0, idiosyncratic=1.0, periods_per_year=4, accrual=np.full(n_periods, 0.25),
        recovery_per_instalment=recovery,
    )  # fmt: skip
    return rv


def run_vintage(rv, n_periods, path=0):
    out = [np.empty((1, n_periods)) for _ in range(4)]
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)
    seed_stream(state, 1, path)
    seed_stream(latent_state, 2, path)
    economy = np.array([0.0, 1.0, 1.0])
    simulate_vintages_path(state, latent_state, rv, economy, np.empty(1, np.int64), *out)
    return out


def test_instalments_by_hand_and_price_is_their_present_value():
    """Per unit of price: four equal instalments a = 0.262623753 in periods 1 .. 4; their present
    value at 2% a quarter is a x 3.807728699 = 1 (the price); the carrying value after period 1
    is 1.02 - a = 0.757376247, after 2 0.757376247 x 1.02 - a = 0.509900019, after 3
    0.257474266, after 4 0."""
    n = 6
    cash, defaulted, loss, performing = run_vintage(one_vintage(n, np.full(n, -np.inf), 0.5), n)
    np.testing.assert_allclose(cash[0], [0, A, A, A, A, 0], atol=1e-9)
    assert cash[0].sum() * 0.25 == pytest.approx(A, abs=1e-9)  # face = 4 a
    assert A * ANNUITY_FACTOR == pytest.approx(1.0, abs=2e-9)
    np.testing.assert_allclose(
        performing[0], [1, 0.757376247, 0.509900019, 0.257474266, 0, 0], atol=2e-9
    )
    assert defaulted.sum() == 0.0 and loss.sum() == 0.0


def test_default_recovers_a_share_of_the_unpaid_instalments_by_hand():
    """Default in period 2 (threshold +inf from period 2): instalment 1 paid; exposure = the
    carrying value 0.757376247 x 1.02 = 0.772523772; unpaid instalments 2, 3, 4 = 3 a =
    0.787871259 of face. Recovery 50%: 0.393935630 one period later (lag 1), loss 0.772523772 -
    0.393935630 = 0.378588142. Recovery 100%: 0.787871259 is capped at the exposure, loss 0."""
    n = 6
    threshold = [-np.inf, -np.inf, np.inf, np.inf, np.inf, np.inf]
    cash, defaulted, loss, performing = run_vintage(one_vintage(n, threshold, 0.5, lag=1), n)
    np.testing.assert_allclose(cash[0], [0, A, 0, 0.393935630, 0, 0], atol=1e-9)
    np.testing.assert_allclose(defaulted[0], [0, 0, 0.772523772, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(loss[0], [0, 0, 0.378588142, 0, 0, 0], atol=1e-9)
    assert performing[0, 2:].sum() == 0.0
    cash, _, loss, _ = run_vintage(one_vintage(n, threshold, 1.0), n)
    assert cash[0, 2] == pytest.approx(0.772523772, abs=1e-9) and loss[0].sum() == 0.0


def test_expected_collection_of_one_vintage_matches_the_closed_form():
    """Licensee PD 20% a year, quarterly: survival to j quarters after purchase S_j =
    0.8^(j/4). E[cash] per unit = sum_j a S_j + sum_j (S_{j-1} - S_j) R (4 - j + 1) a,
    R = 0.4: instalments while alive, and at a default in quarter j 40% of the 5 - j unpaid.
    Within 4 standard errors over 20,000 paths."""
    n, pd, recovery = 6, 0.2, 0.4
    survival = [(1 - pd) ** (j / 4) for j in range(5)]
    cumulative = [0.0] + [1 - s for s in survival[1:]] + [1 - survival[4]]
    threshold = np.where(np.array(cumulative) > 0, norm.ppf(cumulative), -np.inf)
    rv = one_vintage(n, threshold, recovery)
    expected = sum(A * survival[j] for j in range(1, 5))
    expected += sum((survival[j - 1] - survival[j]) * recovery * (5 - j) * A for j in range(1, 5))
    totals = np.array([run_vintage(rv, n, path=p)[0][0].sum() for p in range(20_000)])
    se = totals.std(ddof=1) / np.sqrt(totals.size)
    assert abs(totals.mean() - expected) < 4 * se, (totals.mean(), expected, se)
    assert se < 0.002  # the test can tell a 1% error in the expected collection (about 0.97)


def test_first_purchase_by_hand_and_cash_conserved():
    """Period 0 collects the royalty 400 x 91/365 = 99.726027; A's interest 500 x 3% x 0.25 =
    3.75; the rest, 95.976027, buys licence receivables (target 1,000 is far). From period 1
    they pay 95.976027 x a = 25.205585 a quarter for four quarters (face 100.822338), whose
    present value at 2% a quarter is 25.205585 x 3.807728699 = 95.976027, the price."""
    res = ipabs.simulate(validate(licence_deal()))
    royalty_0 = 400.0 * 91 / 365
    bought = royalty_0 - 3.75
    assert bought == pytest.approx(95.976027, abs=1e-6)
    c = res.raw.sample_collections[0]
    royalty_1 = 400.0 * 91 / 365  # 15 Apr - 15 Jul: 91 days
    assert c[0] == pytest.approx(royalty_0, rel=1e-12)
    assert c[1] == pytest.approx(royalty_1 + bought * A, rel=1e-8)
    assert bought * A == pytest.approx(25.205585, abs=1e-6)
    assert bought * A * ANNUITY_FACTOR == pytest.approx(bought, abs=1e-6)
    assert res.pool_paths["revolving_purchases"].min() > bought  # later dates buy too
    assert worst_relative_gap(cash_check(res.pool_paths, res.paths)) < 1e-12


def test_cash_conserved_with_defaults_of_licensees_and_of_the_receivables_bought():
    kw = {"licensee_pd": 0.2, "recovery": 0.4, "lag": 3, "paths": 200}
    res = ipabs.simulate(validate(licence_deal(pd=0.3, **kw)))
    assert res.pool_paths["revolving_purchases"].mean() > 0.0
    assert worst_relative_gap(cash_check(res.pool_paths, res.paths)) < 1e-12
    # the receivables bought do default: the same paths without their defaults collect more
    safe = ipabs.simulate(validate(licence_deal(pd=0.0, **kw)))
    assert safe.pool_paths["collections"].mean() > res.pool_paths["collections"].mean()
    assert worst_relative_gap(cash_check(safe.pool_paths, safe.paths)) < 1e-12


def test_report_words_say_licence_receivables():
    sc = validate(licence_deal())
    words = _buy_words(sc, None, False)
    assert "licence receivables" in words.msgid and words.params["amount"] == 1_000.0

    class Results:
        scenario = sc

    assert _bought(Results) == "licence receivables bought (revolving)"


def test_bad_input(tmp_path):
    # a pool with no licence: leases only
    data = licence_deal(assets=[], licensees=[], leases=[lease()])
    message = _error(tmp_path, data)
    assert (
        "revolving.buys = 'licence_receivables': buys licence receivables, and the pool has no licence"
        in message
    )
    assert "the pool holds leases" in message
    # terms
    for key, value, expected in (
        ("amortisation", "interest_only", "equal instalments"),
        ("price", 0.95, "bought at their discount yield"),
        ("prepayment_rate", 0.1, "does not prepay"),
        ("ltv", 1.5, "has no pledge: remove ltv"),
        ("disposal_haircut", 0.2, "set recovery_rate instead"),
        ("term_years", 0.0, "revolving.term_years"),
        ("rate", 1.5, "revolving.rate"),
        ("recovery_rate", 1.2, "revolving.recovery_rate"),
    ):
        data = licence_deal()
        data["revolving"][key] = value
        message = _error(tmp_path, data)
        assert f"revolving.{key}" in message and expected in message, message
    # no original value to restore to; a clean-up call
    data = licence_deal(collateral={"basis": "loan_balance"})
    assert "collateral.original_value: required key is missing" in _error(tmp_path, data)
    data = licence_deal(clean_up_call={"threshold": 0.1})
    message = _error(tmp_path, data)
    assert "clean_up_call: a clean-up call on a licence receivables" in message
    assert SECTION_8 in message
    trigger = {
        "name": "oc",
        "condition": "oc_ratio",
        "threshold": 1.0,
        "effect": "rapid_amortisation",
    }
    message = _error(tmp_path, licence_deal(triggers=[trigger]))
    assert (
        "triggers[0].condition = 'oc_ratio': an oc_ratio trigger on a licence receivables"
        in message
    )
    assert SECTION_8 in message


def test_what_remains_unmodelled_is_refused(tmp_path):
    # a recovery rate on loans or leases; ltv missing for leases
    from test_leases import revolving_lease_deal

    sc = revolving_lease_deal().model_dump(mode="json", exclude_none=True)
    data = {**sc, "revolving": {**sc["revolving"], "recovery_rate": 0.5}}
    assert "revolving.recovery_rate = 0.5: only licence receivables" in _error(tmp_path, data)
    data = {**sc, "revolving": {k: v for k, v in sc["revolving"].items() if k != "ltv"}}
    assert "revolving.ltv: required key is missing" in _error(tmp_path, data)
    # trade receivables stay refused, pointing to section 8
    from test_leases import receivable

    data = {**sc, "leases": [], "receivables": [receivable()]}
    data["revolving"] = {k: v for k, v in data["revolving"].items() if k != "buys"}
    message = _error(tmp_path, data)
    assert "revolving purchases of trade receivables are not modelled" in message
    assert SECTION_8 in message
    # licence receivables on a pool that also holds trade receivables
    data = licence_deal(receivables=[receivable()])
    message = _error(tmp_path, data)
    assert "the pool holds receivables" in message and SECTION_8 in message


def test_recovery_cut_stress_cuts_the_recovery_on_the_unpaid_instalments():
    """recovery_cut at x = 0.25 keeps 75% of the recovery rate: 0.4 x 0.75 = 0.3; the
    disposal haircut (no pledge) stays 0."""
    from ipabs.solvers.stress import recovery_cut

    sc = recovery_cut(validate(licence_deal(recovery=0.4)), 0.25)
    assert sc.revolving.recovery_rate == pytest.approx(0.3, abs=1e-15)
    assert sc.revolving.disposal_haircut == 0.0
    assert recovery_cut(validate(licence_deal()), 0.25).revolving.recovery_rate is None
