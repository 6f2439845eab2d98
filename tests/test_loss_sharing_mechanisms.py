"""Loss-sharing mechanisms (docs/model.md, section 3.8), each by hand: a claim lag moving a
layer's payment, per-loan and per-year caps on guarantees and insurers, a guarantee's principal
basis, a re-guarantee (再担保) before and after its guarantor's default, the insurer's premium and
its default, each layer's payments by name; and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_cli_in_process, small_deal, write_scenario
from test_loans import base_loan, grid, loan_deal

# PD 1: each loan defaults in the first period; rate 0 and no pledge value: its loss is its balance
DEFAULTED = {"annual_default_probability": 1.0, "rate": 0.0, "collateral_value": 0.0}


def pool_row(loans, layers, **kw):
    return loan_deal(loans, layers=layers, **kw).pool_paths.iloc[0]


def test_a_claim_lag_moves_the_payment_by_its_periods():
    """A loan of 1,000 defaults in the first quarter (period 0); its pledge of 200 (no haircut)
    is sold 12 months later (period 4), so the loss is 800. A guarantee of 50% with a claim lag of
    9 months (3 quarters) pays in period 3: its share of the loss, 0.5 x 800 = 400, and its
    advance of 0.5 x 200 = 100 of the recovery; the rest of the recovery, 100, comes at disposal.
    A fund of 25% of the remaining 400 with a claim lag of 4 months (rounded up to 2 quarters)
    pays 100 in period 2."""
    loan = base_loan(**{**DEFAULTED, "collateral_value": 200.0, "disposal_haircut": 0.0})
    layers = [
        {"kind": "guarantee", "share": 0.5, "claim_lag_months": 9},
        {"kind": "risk_compensation_fund", "share": 0.25, "claim_lag_months": 4},
    ]
    res = loan_deal([loan], layers=layers)
    expected = np.zeros(8)
    expected[2] = 0.25 * 400.0
    expected[3] = 400.0 + 100.0
    expected[4] = 200.0 - 100.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    p = res.pool_paths.iloc[0]
    assert (p["guarantor_paid"], p["fund_paid"], p["loan_net_loss"]) == pytest.approx(
        (400.0, 100.0, 300.0)
    )
    # without claim lags: the guarantor at default (period 0), the fund at disposal (period 4)
    res = loan_deal([loan], layers=[{k: v for k, v in x.items() if k != "claim_lag_months"}
                                    for x in layers])  # fmt: skip
    expected = np.zeros(8)
    expected[0] = 400.0 + 100.0
    expected[4] = 100.0 + 100.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


def test_a_claim_after_legal_final_is_lost_to_the_deal():
    """Legal final after 8 quarters: a fund claim lag of 30 months (10 quarters) pays after it."""
    loan = base_loan(**DEFAULTED, disposal_lag_months=0)
    layers = [{"kind": "risk_compensation_fund", "share": 0.5, "claim_lag_months": 30}]
    p = pool_row([loan], layers)
    assert p["fund_paid"] == pytest.approx(500.0)
    assert p["loan_cash_after_legal_final"] == pytest.approx(500.0)


def test_per_year_caps_bind_on_a_guarantee_and_an_insurer():
    """Five losses of 1,000 in the same year. Guarantee 50%, annual cap 1,200: 500, 500, 200, 0,
    0 = 1,200. Then an insurer of the remaining loss with a per-loan limit of 600 and an annual cap
    of 2,000: the remainders are 500, 500, 800, 1,000, 1,000, limited to 500, 500, 600, 600, 600,
    of which the cap leaves 500, 500, 600, 400, 0 = 2,000. The lender keeps 5,000 - 3,200."""
    loans = [base_loan(id=f"N{i}", **DEFAULTED) for i in range(5)]
    layers = [
        {"kind": "guarantee", "share": 0.5, "annual_cap": 1_200.0},
        {"kind": "insurance", "limit": 600.0, "annual_cap": 2_000.0},
    ]
    p = pool_row(loans, layers)
    assert (p["guarantor_paid"], p["insurer_paid"]) == pytest.approx((1_200.0, 2_000.0))
    assert p["loan_net_loss"] == pytest.approx(1_800.0)


def test_a_guarantee_per_loan_cap_and_principal_basis():
    """A bullet loan of 1,000 at 8% defaults in the first quarter with no recovery: loss
    1,000 + i (i the quarter's interest), principal part 1,000. A guarantee of 50% on principal
    pays 500; of 100% capped at 300 a loan, 300."""
    _, acc = grid()
    i = 1_000.0 * 0.08 * acc[0]
    loan = base_loan(**{**DEFAULTED, "rate": 0.08, "amortisation": "bullet"})
    p = pool_row([loan], [{"kind": "guarantee", "share": 0.5, "basis": "principal"}])
    assert p["guarantor_paid"] == pytest.approx(500.0)
    assert p["loan_net_loss"] == pytest.approx(500.0 + i)
    p = pool_row([loan], [{"kind": "guarantee", "share": 1.0, "per_loan_cap": 300.0}])
    assert p["guarantor_paid"] == pytest.approx(300.0)


@pytest.mark.parametrize("guarantor_defaults", [False, True])
def test_a_re_guarantee_reimburses_the_guarantor_or_pays_the_lender(guarantor_defaults):
    """Loss 1,000 (no recovery). The guarantee "g" of 60% owes 600; the re-guarantee bears half.
    Guarantor alive: it pays the lender 600 at default and the re-guarantor reimburses it 300,
    which the lender does not see (kept 400). Guarantor defaulted (PD 1, at once): it pays
    nothing, the re-guarantor pays the lender 0.5 x 600 = 300 at default, and a fund of 50% of the
    remaining 700 pays 350 (kept 350)."""
    pd_g = 1.0 if guarantor_defaults else 0.0
    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.6, "guarantor_default_probability": pd_g},
        {"kind": "re_guarantee", "name": "national", "guarantee": "g", "share": 0.5},
        {"kind": "risk_compensation_fund", "share": 0.5},
    ]
    res = loan_deal([base_loan(**DEFAULTED)], layers=layers)
    p = res.pool_paths.iloc[0]
    if guarantor_defaults:
        assert (p["guarantor_paid"], p["reguarantor_paid"], p["reguarantor_reimbursed"]) == (
            pytest.approx((0.0, 300.0, 0.0))
        )
        assert (p["fund_paid"], p["loan_net_loss"]) == pytest.approx((350.0, 350.0))
        assert res.raw.sample_collections[0][0] == pytest.approx(300.0)  # at default
    else:
        assert (p["guarantor_paid"], p["reguarantor_paid"], p["reguarantor_reimbursed"]) == (
            pytest.approx((600.0, 0.0, 300.0))
        )
        assert (p["fund_paid"], p["loan_net_loss"]) == pytest.approx((200.0, 200.0))
        assert res.raw.sample_collections[0][0] == pytest.approx(600.0)
    # each layer by name (a re-guarantee's column is what it paid the lender)
    assert p["layer_g_paid"] == pytest.approx(p["guarantor_paid"])
    assert p["layer_national_paid"] == pytest.approx(p["reguarantor_paid"])
    assert p["layer_risk_compensation_fund_1_paid"] == pytest.approx(p["fund_paid"])


def test_the_insurer_premium_on_a_two_period_loan_by_hand():
    """1,000 interest-only at 6%, maturing at the second quarterly date; a premium of 1% a year
    on the performing balance: period 0 collects 1,000 x (6% - 1%) x a0, period 1 the principal and
    1,000 x (6% - 1%) x a1 (a_k the quarter's ACT/365F fraction); the premiums are 10 (a0 + a1)."""
    _, acc = grid()
    loan = base_loan(term_years=0.49, amortisation="interest_only")
    res = loan_deal([loan], layers=[{"kind": "insurance", "premium_rate": 0.01}])
    expected = np.zeros(8)
    expected[0] = 1_000.0 * 0.05 * acc[0]
    expected[1] = 1_000.0 + 1_000.0 * 0.05 * acc[1]
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    p = res.pool_paths.iloc[0]
    assert p["insurance_premium_paid"] == pytest.approx(10.0 * (acc[0] + acc[1]))
    # at most the period's interest: a loan at 0% pays no premium (none is carried)
    free = base_loan(term_years=0.49, amortisation="interest_only", rate=0.0)
    p = pool_row([free], [{"kind": "insurance", "premium_rate": 0.01}])
    assert (p["insurance_premium_paid"], p["collections"]) == (0.0, pytest.approx(1_000.0))
    # an insurer that defaults at once (PD 1) is owed no premium
    layers = [{"kind": "insurance", "premium_rate": 0.01, "insurer_default_probability": 1.0}]
    assert pool_row([loan], layers)["insurance_premium_paid"] == 0.0


def test_a_defaulted_insurer_pays_nothing():
    """The insurer defaults in the first period (PD 1), before the disposal it would pay at."""
    layers = [{"kind": "insurance", "insurer_default_probability": 1.0}]
    p = pool_row([base_loan(**DEFAULTED)], layers)
    assert (p["insurer_paid"], p["loan_net_loss"]) == (0.0, pytest.approx(1_000.0))


def test_an_insurer_s_default_draw_comes_after_every_other():
    """An insurer that can default draws its latent after the loans' and guarantors': the loans
    default on the same paths (common random numbers), whatever its default probability."""
    loans = [base_loan(id=f"N{i}", annual_default_probability=0.2, factor_loading=0.5,
                       collateral_value=300.0) for i in range(5)]  # fmt: skip
    base = [{"kind": "guarantee", "share": 0.3, "guarantor_default_probability": 0.2},
            {"kind": "insurance", "share": 0.5}]  # fmt: skip
    with_default = [base[0], {**base[1], "insurer_default_probability": 0.5}]
    a = loan_deal(loans, layers=base, paths=100, seed=3).pool_paths
    b = loan_deal(loans, layers=with_default, paths=100, seed=3).pool_paths
    np.testing.assert_array_equal(a["loan_gross_loss"], b["loan_gross_loss"])
    np.testing.assert_array_equal(a["guarantor_paid"], b["guarantor_paid"])
    assert (b["insurer_paid"] <= a["insurer_paid"] + 1e-9).all()
    assert (b["insurer_paid"] < a["insurer_paid"] - 1e-9).any()


def test_every_path_shares_its_loss_among_the_named_layers_and_the_lender():
    """Random paths through guarantees (one re-guaranteed), capped funds, an insurer that can
    default and pays a premium, with claim lags: on every path the layers' payments to the lender
    and what it keeps add up to the loss, and each layer's column adds up to its kind's total."""
    loans = [base_loan(id=f"N{i}", annual_default_probability=0.3, rate=0.05,
                       collateral_value=300.0, factor_loading=0.4) for i in range(6)]  # fmt: skip
    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.4, "share_of": "original",
         "guarantor_default_probability": 0.4, "claim_lag_months": 3, "annual_cap": 900.0},
        {"kind": "re_guarantee", "guarantee": "g", "share": 0.5, "annual_cap": 500.0},
        {"kind": "risk_compensation_fund", "name": "municipal", "share": 0.4,
         "share_of": "original", "annual_budget": 800.0, "claim_lag_months": 6},
        {"kind": "risk_compensation_fund", "name": "district", "share": 0.5,
         "budget_year": "calendar", "annual_budget": 300.0, "per_loan_cap": 150.0},
        {"kind": "insurance", "deductible": 20.0, "limit": 100.0, "premium_rate": 0.02,
         "insurer_default_probability": 0.3, "annual_cap": 250.0},
    ]  # fmt: skip
    p = loan_deal(loans, layers=layers, paths=200, seed=5).pool_paths
    kinds = ["guarantor_paid", "fund_paid", "insurer_paid", "reguarantor_paid"]
    shared = p[kinds].sum(axis=1) + p["loan_net_loss"]
    np.testing.assert_allclose(shared, p["loan_gross_loss"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(p["layer_g_paid"], p["guarantor_paid"], atol=1e-9)
    np.testing.assert_allclose(
        p["layer_municipal_paid"] + p["layer_district_paid"], p["fund_paid"], atol=1e-9
    )
    np.testing.assert_allclose(p["layer_insurance_1_paid"], p["insurer_paid"], atol=1e-9)
    np.testing.assert_allclose(p["layer_re_guarantee_1_paid"], p["reguarantor_paid"], atol=1e-9)
    assert (p["reguarantor_paid"] > 0).any() and (p["reguarantor_reimbursed"] > 0).any()
    assert (p["insurance_premium_paid"] > 0).any() and (p["loan_net_loss"] >= -1e-9).all()


def subsidy_deal(loans, subsidies, layers=()):
    data_loans = list(loans)
    res = loan_deal(data_loans, layers=layers, subsidies=subsidies)
    return res, res.pool_paths.iloc[0]


def test_an_interest_subsidy_on_a_two_period_loan_by_hand():
    """1,000 interest-only at 6% for two quarters (fractions a0, a1). A subsidy of 25% of the
    interest plus 1% a year on the balance pays 0.25 x 60 a + 10 a = 25 a each quarter, into that
    quarter's collections; with a lag of 3 months, one quarter later; with a budget of 8 a year
    from closing, 25 a0 (about 6.2) and then the 8 - 25 a0 left."""
    _, acc = grid()
    loan = base_loan(term_years=0.49, amortisation="interest_only")
    subsidy = {"name": "district", "share_of_interest": 0.25, "rate": 0.01}
    res, p = subsidy_deal([loan], [subsidy])
    expected = np.zeros(8)
    expected[0] = 1_000.0 * (0.06 + 0.025) * acc[0]
    expected[1] = 1_000.0 + 1_000.0 * (0.06 + 0.025) * acc[1]
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    assert p["interest_subsidy_paid"] == pytest.approx(25.0 * (acc[0] + acc[1]))
    assert p["subsidy_district_paid"] == pytest.approx(p["interest_subsidy_paid"])
    res, p = subsidy_deal([loan], [{**subsidy, "lag_months": 3}])
    expected = np.zeros(8)
    expected[0] = 60.0 * acc[0]
    expected[1] = 1_000.0 + 60.0 * acc[1] + 25.0 * acc[0]
    expected[2] = 25.0 * acc[1]
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)
    _, p = subsidy_deal([loan], [{**subsidy, "annual_budget": 8.0}])
    assert 25.0 * acc[0] < 8.0 < 25.0 * (acc[0] + acc[1])
    assert p["interest_subsidy_paid"] == pytest.approx(8.0)


def test_an_interest_subsidy_stops_at_default():
    """A loan that defaults in the first period earns no subsidy for it or after."""
    _, p = subsidy_deal([base_loan(**{**DEFAULTED, "rate": 0.06})], [{"rate": 0.05}])
    assert p["interest_subsidy_paid"] == 0.0


def test_a_co_lent_loan_splits_cash_and_loss_in_proportion():
    """The pool holds 40% of a co-lent loan of 1,000 (pledge 200, no haircut, rate 0) that
    defaults at once: its exposure is 400, recovery 80, loss 320. A fund of 50% capped at 100 a
    loan (the whole loan's) pays the whole loan 100, the pool 40; the pool keeps 280. The other
    lenders' gross loss is 0.6 / 0.4 x 320 = 480, net 0.6 / 0.4 x 280 = 420; the whole loan's 800
    = 100 (fund) + 280 + 420. With the fund's annual budget 50 instead of the cap, the pool gets
    0.4 x 50 = 20."""
    loan = base_loan(**{**DEFAULTED, "collateral_value": 200.0, "disposal_haircut": 0.0,
                        "participation": 0.4})  # fmt: skip
    fund = {"kind": "risk_compensation_fund", "share": 0.5, "per_loan_cap": 100.0}
    p = pool_row([loan], [fund])
    assert (p["loan_gross_loss"], p["loan_recoveries"]) == pytest.approx((320.0, 80.0))
    assert (p["fund_paid"], p["loan_net_loss"]) == pytest.approx((40.0, 280.0))
    assert (p["co_lenders_gross_loss"], p["co_lenders_net_loss"]) == pytest.approx((480.0, 420.0))
    budget = {"kind": "risk_compensation_fund", "share": 0.5, "annual_budget": 50.0}
    assert pool_row([loan], [budget])["fund_paid"] == pytest.approx(20.0)
    # a performing co-lent loan: the pool collects 40% of every payment
    _, acc = grid()
    res = loan_deal([base_loan(amortisation="interest_only", participation=0.4)])
    expected = 400.0 * 0.06 * acc
    expected[3] += 400.0
    expected[4:] = 0.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([{"kind": "guarantee", "share": 0.4},
          {"kind": "re_guarantee", "guarantee": "guarante_1", "share": 0.5}],
         "loss_sharing[1].guarantee"),
        ([{"kind": "re_guarantee", "guarantee": "g", "share": 0.5},
          {"kind": "guarantee", "name": "g", "share": 0.4}],
         "loss_sharing[0].guarantee"),
        ([{"kind": "guarantee", "share": 0.7, "share_of": "original"},
          {"kind": "risk_compensation_fund", "share": 0.4, "share_of": "original"}],
         "loss_sharing[*].share"),
        ([{"kind": "guarantee", "name": "x", "share": 0.4},
          {"kind": "risk_compensation_fund", "name": "x", "share": 0.4}],
         "loss_sharing[1]"),
        ([{"kind": "insurance", "claim_lag_months": -3}], "loss_sharing[0].claim_lag_months"),
        ([{"kind": "insurance", "premium_rate": 1.5}], "loss_sharing[0].premium_rate"),
        ([{"kind": "re_guarantee", "guarantee": "g", "share": 0.5, "basis": "principal"}],
         "loss_sharing[0].basis"),
        ({"participation": 0.0}, "loans[0].participation"),
        ({"subsidies": [{"rate": 0.01, "lag_months": 200}]}, "interest_subsidies[0].lag_months"),
        ({"subsidies": [{"name": "a"}, {"name": "a"}]}, "interest_subsidies[1]"),
    ],
)  # fmt: skip
def test_bad_layer_lists_name_the_key(tmp_path, layers, expected):
    loan, extra = base_loan(), {}
    if isinstance(layers, dict):
        subsidies = layers.pop("subsidies", None)
        loan = {**loan, **layers}
        layers = []
        if subsidies:
            extra["interest_subsidies"] = subsidies
    data = small_deal(loans=[loan], loss_sharing=layers, **extra)
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr


def test_the_transfer_price_gives_each_layer_s_support_by_hand():
    """A loan of 1m in default at closing (pledge 2m, haircut 60%: proceeds 0.8m at once) priced
    at 8%: its loss is L = 1m + the first quarter's interest - 0.8m. The guarantee of 40% of the
    original loss pays 0.4 L at the first payment date t0; the fund of 30% of it, with a claim lag
    of 6 months, 0.3 L two quarters later (t2). Their parts of the price are those amounts
    discounted, and they add up to the decomposition's loss-sharing support."""
    from test_transfer import B, schedule, transfer_deal

    import ipabs

    _, t, accrual = schedule()
    layers = [
        {"kind": "guarantee", "name": "g", "share": 0.4, "share_of": "original"},
        {"kind": "risk_compensation_fund", "name": "fund", "share": 0.3, "share_of": "original",
         "claim_lag_months": 6},
    ]  # fmt: skip
    r = ipabs.price(
        transfer_deal({"required_yield": 0.08}, loss_sharing=layers, defaulted=True,
                      disposal_haircut=0.6, disposal_lag_months=0)
    )  # fmt: skip
    loss = B + B * 0.05 * accrual[0] - 0.8 * B
    by_layer = r.layer_support.set_index("layer")["amount"]
    assert by_layer["g"] == pytest.approx(0.4 * loss * 1.08 ** -t[0], rel=1e-10)
    assert by_layer["fund"] == pytest.approx(0.3 * loss * 1.08 ** -t[2], rel=1e-10)
    parts = r.decomposition.set_index("component")["amount"]
    support = parts["loss-sharing support (guarantee, risk compensation fund, insurance)"]
    assert by_layer.sum() == pytest.approx(support, rel=1e-12)
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)


def test_the_insurer_survives_to_its_payment_as_its_default_curve_says():
    """Monte Carlo against the closed form. A loss of 1,000 in the first quarter; the insurer
    (annual PD q = 0.3, constant hazard) pays it at disposal, 12 months later (payment period 4,
    ending 15 April 2025, t = 456 / 365 years after closing) if it has not defaulted by then:
    E[paid] = 1,000 (1 - q)^t. Over 4,000 paths the mean is within 4 standard errors of it."""
    import datetime as dt

    t = (dt.date(2025, 4, 15) - dt.date(2024, 1, 15)).days / 365.0
    survive = (1.0 - 0.3) ** t
    layers = [{"kind": "insurance", "insurer_default_probability": 0.3}]
    paid = loan_deal([base_loan(**DEFAULTED)], layers=layers, paths=4_000, seed=11).pool_paths[
        "insurer_paid"
    ]
    se = 1_000.0 * np.sqrt(survive * (1.0 - survive) / len(paid))
    assert set(np.unique(paid)) <= {0.0, 1_000.0}
    assert abs(paid.mean() - 1_000.0 * survive) < 4.0 * se


def test_a_lagged_guarantor_s_advance_is_scaled_with_the_others_to_the_recovery():
    """A loss of 800 after a recovery of 200 (at disposal, period 4). Guarantee A of 70% with a
    claim lag of 3 months (period 1) pays 560; guarantee B of 60% of the remaining 240 pays 144 at
    default (period 0). Their advances of the recovery, 0.7 x 200 + 0.6 x 200 = 260, are more than
    it, so each is scaled by 200 / 260: A advances 140 x 200 / 260, B 120 x 200 / 260; nothing of
    the recovery is left for disposal, and the lender keeps 800 - 704 = 96."""
    loan = base_loan(**{**DEFAULTED, "collateral_value": 200.0, "disposal_haircut": 0.0})
    layers = [
        {"kind": "guarantee", "share": 0.7, "claim_lag_months": 3},
        {"kind": "guarantee", "share": 0.6},
    ]
    res = loan_deal([loan], layers=layers)
    expected = np.zeros(8)
    expected[0] = 144.0 + 120.0 * 200.0 / 260.0
    expected[1] = 560.0 + 140.0 * 200.0 / 260.0
    np.testing.assert_allclose(res.raw.sample_collections[0], expected, rtol=1e-12, atol=1e-9)
    assert res.pool_paths["loan_net_loss"].iloc[0] == pytest.approx(96.0)


def test_the_transfer_price_gives_the_interest_subsidy_its_own_part():
    """The riskless loan of tests/test_transfer.py (1m at 5%, interest-only for two years) with a
    subsidy of 20% of its interest: the subsidy's part of the price at 6% is 20% of the interest's
    present value, and the parts still add up to the price."""
    from test_transfer import B, riskless_cash_flows, schedule, transfer_data

    import ipabs
    from ipabs.scenario.load import validate

    t, cash = riskless_cash_flows()
    _, _, accrual = schedule()
    interest = np.where(cash > 0, B * 0.05 * accrual, 0.0)
    data = transfer_data({"required_yield": 0.06})
    data["interest_subsidies"] = [{"share_of_interest": 0.2}]
    r = ipabs.price(validate(data))
    parts = r.decomposition.set_index("component")["amount"]
    assert parts["interest subsidies (贴息)"] == pytest.approx(
        float(0.2 * interest @ (1.06**-t)), rel=1e-10
    )
    assert r.price == pytest.approx(float((cash + 0.2 * interest) @ (1.06**-t)), rel=1e-10)
    assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)


def test_the_layers_terms_by_name_for_ipabs_value():
    """`ipabs value` lists each layer's terms as the kernel reads them, by name."""
    from ipabs.pool.valuation import loss_sharing_terms
    from ipabs.scenario.load import validate

    layers = [
        {"kind": "guarantee", "share": 0.4, "share_of": "original", "per_loan_cap": 300.0,
         "annual_cap": 900.0, "claim_lag_months": 3, "guarantor_default_probability": 0.01},
        {"kind": "re_guarantee", "guarantee": "guarantee_1", "share": 0.5},
        {"kind": "insurance", "name": "ins", "limit": 100.0, "premium_rate": 0.002},
    ]  # fmt: skip
    terms = loss_sharing_terms(validate(small_deal(loans=[base_loan()], loss_sharing=layers)))
    rows = terms.set_index("layer")
    assert list(rows.index) == ["guarantee_1", "re_guarantee_1", "ins"]
    g = rows.loc["guarantee_1"]
    assert (g["per_loan_cap"], g["annual_cap"], g["claim_lag_months"]) == (300.0, 900.0, 3.0)
    assert (g["share_of"], g["default_probability"]) == ("original", 0.01)
    assert rows.loc["re_guarantee_1", "re_guarantees"] == "guarantee_1"
    assert (rows.loc["ins", "per_loan_cap"], rows.loc["ins", "premium_rate"]) == (100.0, 0.002)
    assert np.isnan(rows.loc["ins", "annual_cap"])
