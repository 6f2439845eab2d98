"""IP finance leases, trade receivables and licence minimum guarantees (docs/model.md 3.9-3.11):
rental schedules by hand, a lessee default recovered from the leased IP, a receivable pool's
expected collection against its closed form, minimum guarantee plus royalty by hand, revolving
lease purchases (conservation), and every combination that is not modelled."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import QUIET_ASSET, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.engine.conservation import cash_check, worst_relative_gap
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)


def deal_data(*, leases=(), receivables=(), assets=(), licensees=(), paths=3, seed=1, **extra):
    data = small_deal(
        deal={
            "name": "leases",
            "closing_date": CLOSING,
            "payment_frequency": "quarterly",
            "legal_final_date": dt.date(2026, 1, 15),
            "day_count": "30/360",  # quarterly accruals of exactly 0.25: the annuity formula holds
        },
        simulation={
            "paths": paths,
            "seed": seed,
            "sample_paths": min(paths, 20_000),
            "block_size": 256,
        },
        factors={"names": ["m"]},
        licensees=list(licensees),
        assets=list(assets),
        leases=list(leases),
        receivables=list(receivables),
        tranches=[{"name": "A", "balance": 1.0, "rank": 1}],
        fees={},
        reserve={},
        pricing={"discount_rate": 0.0},
        valuation={"discount_rate": 0.10},
    )
    data.update(extra)
    return data


def run(**kw):
    return ipabs.simulate(validate(deal_data(**kw)))


def lease(**kw):
    """A lease entry; a key given as None is left out."""
    item = {"id": "F1", "financed_amount": 1_000.0, "lease_rate": 0.06, "rentals": 4,
            "annual_default_probability": 0.0, "asset_value": 0.0, **kw}  # fmt: skip
    return {k: v for k, v in item.items() if v is not None}


def test_equal_rentals_by_the_annuity_formula_and_the_purchase_option_at_the_end():
    """1,000 financed at 6% a year, 4 quarterly rentals (i = 1.5% a quarter on 30/360), purchase
    price 10 with the last rental: the rentals' and the price's present value is 1,000, so
    R = (1000 - 10 v^4) i / (1 - v^4), v = 1/1.015:
    v^4 = 0.94218423, R = 990.578158 x 0.015 / 0.05781577 = 257.00034."""
    res = run(leases=[lease(purchase_option_price=10.0)])
    i, v4 = 0.015, 1.015**-4
    rental = (1_000.0 - 10.0 * v4) * i / (1.0 - v4)
    assert rental == pytest.approx(257.00034, abs=1e-5)
    c = res.raw.sample_collections[0]
    np.testing.assert_allclose(c[:4], [rental, rental, rental, rental + 10.0], rtol=1e-12)
    np.testing.assert_allclose(c[4:], 0.0, atol=0.0)
    # no default: the lease collects exactly its rentals and the purchase price
    assert c.sum() == pytest.approx(4 * rental + 10.0, rel=1e-13)
    pool = res.pool_paths.iloc[0]
    assert pool["loan_defaults"] == 0 and pool["loan_gross_loss"] == 0


def test_equal_principal_and_custom_rentals_by_hand():
    # equal principal 250 a quarter, interest 1.5% of the opening principal 1000, 750, 500, 250
    c = run(leases=[lease(rental_schedule="equal_principal")]).raw.sample_collections[0]
    np.testing.assert_allclose(c[:4], [265.0, 261.25, 257.5, 253.75], rtol=1e-12)
    # custom rentals 300, 300, 300: principal 300 - 15 = 285 leaves 715; 300 - 10.725 = 289.275
    # leaves 425.725; the last period pays it with its interest, 425.725 x 1.015 = 432.110875
    # (the last rental 300 and a residual of 132.110875)
    custom = lease(rentals=None, rental_schedule="custom", rental_amounts=[300.0, 300.0, 300.0])
    c = run(leases=[custom]).raw.sample_collections[0]
    np.testing.assert_allclose(c[:3], [300.0, 300.0, 432.110875], rtol=1e-12)
    assert c[3:].sum() == 0.0


def test_lessee_default_recovers_the_leased_ip_value():
    """PD 1: the lessee defaults in period 0. Exposure 1,000 + 15 interest. A given IP value of 600
    less a 25% haircut gives 450, after a 6-month lag (2 quarters)."""
    res = run(leases=[lease(annual_default_probability=1.0, asset_value=600.0,
                            disposal_haircut=0.25, disposal_lag_months=6)])  # fmt: skip
    pool = res.pool_paths.iloc[0]
    assert pool["loan_defaults"] == 1
    assert pool["loan_recoveries"] == pytest.approx(450.0, rel=1e-13)
    assert pool["loan_gross_loss"] == pytest.approx(1_015.0 - 450.0, rel=1e-13)
    c = res.raw.sample_collections[0]
    assert c[2] == pytest.approx(450.0, rel=1e-13) and np.count_nonzero(c) == 1


def test_repossessed_leased_patent_is_worth_its_remaining_income_value():
    """A leased patent earning 100 a year for 5 more years (no licensee: the lessee uses it),
    valued at 10%: at the first period's end (t1 = 0.2493 years, ACT/365F) V = 100 (1 - 1.1^-(5 -
    t1)) / ln 1.1; proceeds 0.8 V (the model integrates monthly: within 0.5%)."""
    asset = {"id": "P", "type": "patent", "base_annual_income": 100.0,
             "remaining_legal_life_years": 5.0, **QUIET_ASSET}  # fmt: skip
    leased = lease(annual_default_probability=1.0, asset_value=None, leased_assets=["P"],
                   disposal_haircut=0.2, disposal_lag_months=0)  # fmt: skip
    res = run(leases=[leased], assets=[asset])
    t1 = (dt.date(2024, 4, 15) - CLOSING).days / 365
    value = 100.0 * (1 - 1.1 ** -(5 - t1)) / math.log(1.1)
    assert res.pool_paths["loan_recoveries"].iloc[0] == pytest.approx(0.8 * value, rel=5e-3)


def receivable(**kw):
    return {"id": "R1", "face_value": 100.0, "due_date": dt.date(2024, 12, 1),
            "annual_default_probability": 0.0, **kw}  # fmt: skip


def test_receivable_by_hand():
    # no default: face 100 less 5% dilution = 95, on the period holding 1 Dec (ends 15 Jan 2025)
    c = run(receivables=[receivable(dilution=0.05)]).raw.sample_collections[0]
    assert c[3] == 95.0 and np.count_nonzero(c) == 1
    # certain default: 40% of the claim 95 = 38, 6 months (2 quarters) after the default period
    r = run(
        receivables=[receivable(dilution=0.05, annual_default_probability=1.0, recovery_rate=0.4)]
    )
    c = r.raw.sample_collections[0]
    assert c[2] == pytest.approx(38.0, rel=1e-13) and np.count_nonzero(c) == 1
    assert r.pool_paths["loan_gross_loss"].iloc[0] == pytest.approx(95.0 - 38.0, rel=1e-13)


def test_receivable_pool_expected_collection_matches_the_closed_form():
    """300 independent receivables of face 100 due on 1 Dec 2024 (collected in period 3, whose end
    t3 = 366/365 years from the cut-off), annual PD 10%, dilution 5%, recovery 40%, no lag:
    E[collection] = 300 x 100 (1 - 0.05) (1 - PD_T (1 - 0.4)), PD_T = 1 - 0.9^t3; within 4 SE."""
    items = [receivable(id=f"R{j}", dilution=0.05, annual_default_probability=0.1,
                        recovery_rate=0.4, recovery_lag_months=0) for j in range(300)]  # fmt: skip
    res = run(receivables=items, paths=2_000, seed=5)
    total = res.pool_paths["collections"].to_numpy()
    pd_t = 1 - 0.9 ** (366 / 365)
    expected = 300 * 100.0 * 0.95 * (1 - pd_t * 0.6)
    se = total.std(ddof=1) / math.sqrt(total.size)
    assert abs(total.mean() - expected) < 4 * se, (total.mean(), expected, se)


def licence(mode=None, schedule=(), **kw):
    asset = {"id": "P", "type": "patent", "licensee": "LIC", "base_annual_income": 400.0,
             "growth_rate": 0.0, "remaining_legal_life_years": 10.0, **QUIET_ASSET,
             "minimum_guarantees": list(schedule), **kw}  # fmt: skip
    if mode:
        asset["minimum_guarantee_mode"] = mode
    return asset


MG = [{"date": dt.date(2024, 3, 1), "amount": 150.0}, {"date": dt.date(2024, 6, 1), "amount": 50.0}]


def test_minimum_guarantee_with_running_royalty_by_hand():
    """Royalty 400 a year x the period's ACT/365F length (zero volatility, no growth: level 1):
    91/365 x 400 = 99.73 in period 0 and in period 1. Minimums 150 (1 Mar, period 0) and 50
    (1 Jun, period 1). greater_of: max(150, 99.73) = 150, max(50, 99.73) = 99.73; plus: 249.73 and
    149.73; the royalty alone after."""
    lic = [{"id": "LIC", "annual_default_probability": 0.0}]
    days = [
        (dt.date(2024, 4, 15) - CLOSING).days,
        (dt.date(2024, 7, 15) - dt.date(2024, 4, 15)).days,
    ]
    royalty = [400.0 * d / 365 for d in days]
    plain = run(assets=[licence()], licensees=lic).raw.sample_collections[0]
    np.testing.assert_allclose(plain[:2], royalty, rtol=1e-12)
    greater = run(assets=[licence("greater_of", MG)], licensees=lic).raw.sample_collections[0]
    np.testing.assert_allclose(greater[:2], [150.0, royalty[1]], rtol=1e-12)
    np.testing.assert_array_equal(greater[2:], plain[2:])
    plus = run(assets=[licence("plus", MG)], licensees=lic).raw.sample_collections[0]
    np.testing.assert_allclose(plus[:2], [150.0 + royalty[0], 50.0 + royalty[1]], rtol=1e-12)
    np.testing.assert_array_equal(plus[2:], plain[2:])


def test_licensee_default_and_licence_end_stop_the_minimum():
    # the licensee defaults in period 0: half of what is due then (max(150, 99.73)), nothing after
    lic = [{"id": "LIC", "annual_default_probability": 1.0, "recovery_rate": 0.5}]
    c = run(assets=[licence("greater_of", MG)], licensees=lic).raw.sample_collections[0]
    assert c[0] == pytest.approx(75.0, rel=1e-13) and np.count_nonzero(c) == 1
    # the licence ends 0.3 years in (period 1 starts at 0.249 years, period 2 at 0.499): the
    # minimum of 1 Jun is due, one of 1 Sep (period 2) is not, and no royalty is either
    lic = [{"id": "LIC", "annual_default_probability": 0.0}]
    schedule = [*MG, {"date": dt.date(2024, 9, 1), "amount": 70.0}]
    c = run(assets=[licence("plus", schedule, licence_term_years=0.3)], licensees=lic)
    c = c.raw.sample_collections[0]
    royalty_1 = 400.0 * (0.3 - 91 / 365)  # the royalty up to the licence's end
    assert c[1] == pytest.approx(50.0 + royalty_1, rel=1e-9)
    assert c[2:].sum() == 0.0


def revolving_lease_deal(pd=0.0):
    leases = [lease(id=f"F{j}", financed_amount=1_000_000.0, rentals=4, asset_value=600_000.0,
                    annual_default_probability=pd, disposal_haircut=0.5) for j in range(10)]  # fmt: skip
    data = deal_data(
        leases=leases,
        paths=200,
        tranches=[
            {"name": "A", "balance": 8_000_000.0, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 2_000_000.0, "coupon": 0.0, "rank": 2},
        ],
        collateral={"basis": "loan_balance"},
        revolving={
            "end_date": dt.date(2025, 1, 20),
            "buys": "leases",
            "amortisation": "level",
            "rate": 0.06,
            "term_years": 1.0,
            "annual_default_probability": pd,
            "ltv": 1_000_000.0 / 600_000.0,
            "disposal_haircut": 0.5,
        },
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
    return validate(data)


def test_revolving_lease_purchases_restore_the_lease_principal_and_conserve_cash():
    """No defaults: each quarter the 10 leases repay principal R - 15,000 each (R the equal rental
    of 1m over 4 quarters at 1.5%), and the revolving period buys exactly that back on the first
    payment date (the pool's target is its original 10m). Cash in = cash out on every path."""
    res = ipabs.simulate(revolving_lease_deal(pd=0.0))
    i = 0.015
    rental = 1_000_000.0 * i / (1 - (1 + i) ** -4)
    first = 10 * (rental - 1_000_000.0 * i)
    assert res.pool_paths["revolving_purchases"].min() > first  # several dates buy
    # the first purchase's equal rentals arrive from the next period: per unit of principal
    # bought the annuity a = 0.015 / (1 - 1.015^-4), so period 1 collects 10 R + first x a
    # (R = 259,444.786; 10 R + 2,444,447.86 x 0.25944479 = 2,594,447.86 + 634,199.25
    # = 3,228,647.11)
    annuity = i / (1 - (1 + i) ** -4)
    c = res.raw.sample_collections[0]
    assert c[0] == pytest.approx(10 * rental, rel=1e-12)
    assert c[1] == pytest.approx(10 * rental + first * annuity, rel=1e-12)
    assert c[1] == pytest.approx(3_228_647.11, abs=0.01)
    assert worst_relative_gap(cash_check(res.pool_paths, res.paths)) < 1e-12
    # with defaults too
    res = ipabs.simulate(revolving_lease_deal(pd=0.1))
    assert worst_relative_gap(cash_check(res.pool_paths, res.paths)) < 1e-12


def write(tmp_path, data):
    return write_scenario(tmp_path, data)


def _error(tmp_path, data, command="validate"):
    proc = run_cli_in_process(command, write(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    return " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"rentals": None}, 'leases[0].rentals (id = "F1"): required key is missing'),
        ({"rental_schedule": "custom"}, 'rental_amounts go with rental_schedule = "custom"'),
        ({"rental_amounts": [1.0]}, 'rental_amounts go with rental_schedule = "custom"'),
        (
            {
                "rentals": None,
                "rental_schedule": "custom",
                "rental_amounts": [500.0],
                "purchase_option_price": 5.0,
            },
            "include the purchase price in rental_amounts",
        ),
        ({"purchase_option_price": 1_000.0}, "must be below financed_amount"),
        ({"asset_value": None}, "a lease needs leased_assets or asset_value"),
        ({"leased_assets": ["NOPE"]}, "no asset has this id"),
        ({"factor": "x"}, "no factor has this id"),
        ({"lease_rate": 2.0}, "leases[0].lease_rate"),
    ],
)
def test_lease_errors(tmp_path, change, expected):
    assert expected in _error(tmp_path, deal_data(leases=[lease(**change)]))


def test_leased_asset_with_a_licensee_and_custom_rentals_below_interest(tmp_path):
    asset = {**QUIET_ASSET, "id": "P", "type": "patent", "base_annual_income": 1.0,
             "remaining_legal_life_years": 5.0, "licensee": "LIC"}  # fmt: skip
    data = deal_data(
        leases=[lease(leased_assets=["P"])],
        assets=[asset],
        licensees=[{"id": "LIC", "annual_default_probability": 0.0}],
    )
    assert "a leased asset earns the lessee's income, not the deal's" in _error(tmp_path, data)
    # 10 does not cover the first quarter's interest of 15: refused by validate (and run);
    # 600 and 600 repay 600 - 15 = 585, then 600 - 415 x 0.015 = 593.775: 1,178.78 of
    # principal, more than the 1,000 financed
    custom = lease(rentals=None, rental_schedule="custom", rental_amounts=[10.0, 1_100.0])
    expected = "leases[0].rental_amounts[0]: the rental 10.00 does not cover the interest 15.00"
    for command in ("validate", "run"):
        assert expected in _error(tmp_path, deal_data(leases=[custom]), command=command)
    over = lease(rentals=None, rental_schedule="custom", rental_amounts=[600.0, 600.0])
    message = _error(tmp_path, deal_data(leases=[over]))
    assert "leases[0].rental_amounts: the rentals repay 1,178.78, more than the financed" in message


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"due_date": CLOSING},
            'receivables[0].due_date (id = "R1") = 2024-01-15: must be after the pool\'s start',
        ),
        ({"dilution": 1.0}, "must be below 1"),
        ({"recovery_rate": 1.5}, "receivables[0].recovery_rate"),
    ],
)
def test_receivable_errors(tmp_path, change, expected):
    assert expected in _error(tmp_path, deal_data(receivables=[receivable(**change)]))


def test_duplicate_ids_across_loans_leases_and_receivables(tmp_path):
    data = deal_data(leases=[lease(id="X")], receivables=[receivable(id="X")])
    assert "receivables[0].id = 'X': duplicate id; already used by leases[0].id" in _error(
        tmp_path, data
    )


def test_minimum_guarantee_errors(tmp_path):
    lic = [{"id": "LIC", "annual_default_probability": 0.0}]
    late = [
        {"date": dt.date(2024, 6, 1), "amount": 1.0},
        {"date": dt.date(2024, 3, 1), "amount": 1.0},
    ]
    assert "dates must increase" in _error(
        tmp_path, deal_data(assets=[licence(schedule=late)], licensees=lic)
    )
    pledged = licence(schedule=MG)
    del pledged["licensee"]
    data = deal_data(assets=[pledged], leases=[lease(leased_assets=["P"])])
    assert "a minimum guarantee is paid by a licensee" in _error(tmp_path, data)
    early = [{"date": dt.date(2023, 6, 1), "amount": 1.0}]
    assert "must be after the pool's start" in _error(
        tmp_path, deal_data(assets=[licence(schedule=early)], licensees=lic)
    )


def test_combinations_not_modelled_point_to_section_8(tmp_path):
    section_8 = "see docs/model.md section 8"
    # a revolving period on a pure licence pool
    sc = revolving_lease_deal().model_dump(mode="json", exclude_none=True)
    lic = [{"id": "LIC", "annual_default_probability": 0.0}]
    data = {**sc, "leases": [], "assets": [licence()], "licensees": lic}
    data["revolving"] = {k: v for k, v in data["revolving"].items() if k != "buys"}
    message = _error(tmp_path, data)
    assert "revolving.buys = 'loans': the pool holds licences" in message
    assert "revolving purchases of licence income at large are not modelled" in message
    assert section_8 in message
    # on a pool of trade receivables only
    data = {**sc, "leases": [], "receivables": [receivable()]}
    data["revolving"] = {k: v for k, v in data["revolving"].items() if k != "buys"}
    message = _error(tmp_path, data)
    assert (
        "revolving purchases of trade receivables are not modelled" in message
        and section_8 in message
    )
    # interest-only lease purchases
    data = {**sc, "revolving": {**sc["revolving"], "amortisation": "interest_only"}}
    message = _error(tmp_path, data)
    assert "interest-only leases are not modelled" in message and section_8 in message
    # buying leases without leases, and loans in a lease pool
    data = {**sc, "leases": [], "receivables": [receivable()]}
    assert "buys lease receivables, and the pool has no [[leases]]" in _error(tmp_path, data)
    data = {**sc, "revolving": {**sc["revolving"], "buys": "loans"}}
    assert 'the pool holds leases: set buys = "leases"' in _error(tmp_path, data)
    # leases in a trust, and a transfer of leases
    data = deal_data(leases=[lease()], kind="trust")
    message = _error(tmp_path, data)
    assert (
        "kind = 'trust': leases in an IP trust are not modelled" in message and section_8 in message
    )
    data = deal_data(receivables=[receivable()], transfer={"required_yield": 0.05})
    message = _error(tmp_path, data)
    assert (
        "a credit-asset transfer of receivables is not modelled" in message and section_8 in message
    )


def test_pool_stresses_reach_lessees_and_debtors():
    """The named stresses of ipabs breakeven and stress files: PDs x (1 + 1), recoveries cut by half
    (a lease's haircut h becomes 1 - (1 - h)/2, a receivable's recovery halves), loadings
    sqrt(a^2 + 0.1)."""
    from ipabs.solvers.stress import default_multiplier, recovery_cut
    from ipabs.stress.presets import correlation_increase

    sc = validate(deal_data(
        leases=[lease(annual_default_probability=0.02, disposal_haircut=0.4, factor_loading=0.3)],
        receivables=[receivable(annual_default_probability=0.03, recovery_rate=0.5)],
    ))  # fmt: skip
    doubled = default_multiplier(sc, 1.0)  # x = 1: PD x (1 + x)
    assert doubled.leases[0].annual_default_probability == pytest.approx(0.04)
    assert doubled.receivables[0].annual_default_probability == pytest.approx(0.06)
    cut = recovery_cut(sc, 0.5)
    assert cut.leases[0].disposal_haircut == pytest.approx(0.7)
    assert cut.receivables[0].recovery_rate == pytest.approx(0.25)
    bumped = correlation_increase(sc, 0.1)
    assert bumped.leases[0].factor_loading == pytest.approx(math.sqrt(0.09 + 0.1))


def test_lease_running_past_legal_final_leaves_its_principal_outstanding():
    """12 quarterly rentals in a deal of 8 quarters: the deal collects 8 equal rentals
    R = (1000 - 10 v^12) i / (1 - v^12); the lease principal left at legal final is the present
    value of the 4 rentals and the purchase price still due, R (1 - v^4) / i + 10 v^4."""
    res = run(leases=[lease(rentals=12, purchase_option_price=10.0)])
    i = 0.015
    v = 1 / (1 + i)
    rental = (1_000.0 - 10.0 * v**12) * i / (1 - v**12)
    np.testing.assert_allclose(res.raw.sample_collections[0], rental, rtol=1e-12)
    left = rental * (1 - v**4) / i + 10.0 * v**4
    assert res.pool_paths["loan_balance_at_legal_final"].iloc[0] == pytest.approx(left, rel=1e-12)


def test_lease_and_receivable_strata_and_top_obligors():
    """Two leases of one lessee (600 and 400, 3 leased items in all) and one of another (1000,
    1 item); a receivable of face 200 diluted 10% (claim 180): shares within each kind."""
    from ipabs.report.pool_tables import strata, top_obligors

    assets = [{**QUIET_ASSET, "id": f"A{j}", "type": t, "base_annual_income": 10.0,
               "remaining_legal_life_years": 5.0}
              for j, t in enumerate(["patent", "copyright", "trademark", "patent"])]  # fmt: skip
    sc = validate(deal_data(
        assets=assets,
        leases=[lease(id="F1", lessee="Acme", financed_amount=600.0, leased_assets=["A0", "A1"]),
                lease(id="F2", lessee="Acme", financed_amount=400.0, leased_assets=["A2"]),
                lease(id="F3", financed_amount=1000.0, leased_assets=["A3"])],
        receivables=[receivable(debtor="Buyer", face_value=200.0, dilution=0.1)],
    ))  # fmt: skip
    tables = strata(sc)
    by_lessee = tables["leases_by_lessee"].set_index("obligor")
    assert (
        by_lessee.loc["Acme", "balance"] == 1000.0 and by_lessee.loc["Acme", "leased_assets"] == 3
    )
    assert by_lessee.loc["F3", "share"] == 0.5
    # by IP type: a lease's amount split evenly over its items: patent 300 + 1000, copyright 300
    by_type = tables["leases_by_ip_type"].set_index("ip_type")["balance"].to_dict()
    assert by_type == {"patent": 1300.0, "copyright": 300.0, "trademark": 400.0}
    debtors = tables["receivables_by_debtor"]
    assert debtors["balance"].tolist() == [180.0] and debtors["share"].tolist() == [1.0]
    top = top_obligors(sc).set_index("obligor")
    assert top.loc["Buyer", "share"] == 1.0 and top.loc["Acme", "share"] == 0.5
