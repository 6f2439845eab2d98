"""Loss-sharing as a list of layers (docs/model.md, section 3.8): several funds and guarantors,
pro-rata (share_of = "original") against sequential sharing, principal against exposure basis,
fiscal-year budgets; conservation of the loss across random layer stacks; bad input."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest
from helpers import run_cli_in_process, small_deal, write_scenario
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loans import base_loan, grid, loan_deal

from ipabs.pool.loss_sharing import (
    L_FUND,
    L_GUARANTOR,
    L_INSURER,
    L_REGUARANTOR,
    L_REIMBURSED,
    N_LOAN_TOTALS,
    share_loss,
)

# PD 1: each loan defaults in the first period; rate 0 and no pledge value: its loss is its balance
DEFAULTED = {"annual_default_probability": 1.0, "rate": 0.0, "collateral_value": 0.0}


def pool_row(loans, layers, **kw):
    return loan_deal(loans, layers=layers, **kw).pool_paths.iloc[0]


def test_a_2_4_4_split_is_pro_rata_on_the_original_loss():
    """政银担 2:4:4: the guarantor pays 40% and the fund 40% of the original loss of 1,000, the
    bank keeps 20%; the same shares taken sequentially pay 400 and 40% of the 600 left."""
    loan = base_loan(**DEFAULTED)
    pro_rata = [
        {"kind": "guarantee", "share": 0.4, "share_of": "original"},
        {"kind": "risk_compensation_fund", "share": 0.4, "share_of": "original"},
    ]
    p = pool_row([loan], pro_rata)
    assert (p["guarantor_paid"], p["fund_paid"], p["loan_net_loss"]) == pytest.approx(
        (400.0, 400.0, 200.0)
    )
    sequential = [{**layer, "share_of": "remaining"} for layer in pro_rata]
    p = pool_row([loan], sequential)
    assert (p["guarantor_paid"], p["fund_paid"], p["loan_net_loss"]) == pytest.approx(
        (400.0, 240.0, 360.0)
    )
    # pro-rata shares over 100% are refused (tests/test_loss_sharing_mechanisms.py); the kernel
    # caps them at the loss (the property test below)


def test_municipal_then_district_fund_each_with_its_own_budget():
    """Five losses of 1,000 paid in the same year. Municipal: 50% of each (500), budget 1,200 ->
    500, 500, 200, 0, 0. District: 50% of the original loss, at most what remains, budget
    1,000 -> 500, 500 (the first two leave 500), then its budget is spent. Each fund pays its own
    budget: 2,200 in all."""
    loans = [base_loan(id=f"N{i}", **DEFAULTED) for i in range(5)]
    layers = [
        {"kind": "risk_compensation_fund", "share": 0.5, "annual_budget": 1_200.0},
        {"kind": "risk_compensation_fund", "share": 0.5, "annual_budget": 1_000.0,
         "share_of": "original"},
    ]  # fmt: skip
    p = pool_row(loans, layers)
    assert p["fund_paid"] == pytest.approx(2_200.0)
    assert p["loan_net_loss"] == pytest.approx(5_000.0 - 2_200.0)


def test_each_guarantor_defaults_on_its_own():
    """Two guarantees: the first guarantor defaults at once (PD 1) and pays nothing, the second
    pays its 30% of the remaining loss and advances 30% of the recovery."""
    loan = base_loan(**{**DEFAULTED, "collateral_value": 200.0, "disposal_haircut": 0.0})
    layers = [
        {"kind": "guarantee", "share": 0.5, "guarantor_default_probability": 1.0},
        {"kind": "guarantee", "share": 0.3},
    ]
    res = loan_deal([loan], layers=layers)
    p = res.pool_paths.iloc[0]
    assert p["guarantor_paid"] == pytest.approx(0.3 * 800.0)
    assert p["loan_net_loss"] == pytest.approx(0.7 * 800.0)
    # at default: the second guarantor's loss share and its advance of 30% of the recovery
    assert res.raw.sample_collections[0][0] == pytest.approx(0.3 * 800.0 + 0.3 * 200.0)


def test_principal_basis_covers_the_principal_part_of_the_loss():
    """A bullet loan of 1,000 at 8% defaults in the first quarter with no recovery: its loss is
    1,000 + the quarter's interest i, its principal part 1,000. A fund paying 50% pays 500 on a
    principal basis, 0.5 (1,000 + i) on exposure; an insurer after a guarantor of 50% (sequential)
    covers 50% of the loss, of which the principal part is 500 (the same proportion)."""
    _, acc = grid()
    i = 1_000.0 * 0.08 * acc[0]
    loan = base_loan(**{**DEFAULTED, "rate": 0.08, "amortisation": "bullet"})
    fund = {"kind": "risk_compensation_fund", "share": 0.5}
    assert pool_row([loan], [fund])["fund_paid"] == pytest.approx(0.5 * (1_000.0 + i))
    assert pool_row([loan], [{**fund, "basis": "principal"}])["fund_paid"] == pytest.approx(500.0)
    layers = [
        {"kind": "guarantee", "share": 0.5},
        {"kind": "insurance", "basis": "principal", "deductible": 100.0},
    ]
    p = pool_row([loan], layers)
    assert p["insurer_paid"] == pytest.approx(500.0 - 100.0)
    assert p["loan_net_loss"] == pytest.approx(0.5 * (1_000.0 + i) - 400.0)


@pytest.mark.parametrize(
    ("budget_year", "paid"), [("from_closing", 1_000.0), ("calendar", 2_000.0)]
)
def test_calendar_budget_year_across_a_year_end(budget_year, paid):
    """Closing 15 January 2024, quarterly. Two losses of 1,000, paid after a 6-month lag (15
    October 2024) and a 9-month lag (15 January 2025): the same year from closing (payment
    periods 2 and 3 of the first four), two fiscal years. A fund of budget 1,000 pays one of
    them from closing and both by calendar year."""
    loans = [
        base_loan(id="A", **DEFAULTED, disposal_lag_months=6),
        base_loan(id="B", **DEFAULTED, disposal_lag_months=9),
    ]
    fund = {"kind": "risk_compensation_fund", "share": 1.0, "annual_budget": 1_000.0,
            "budget_year": budget_year}  # fmt: skip
    p = pool_row(loans, [fund])
    assert p["fund_paid"] == pytest.approx(paid)


def layer_arrays(**fields):
    """The layer fields of LoanArrays as a named tuple the compiled kernel takes."""
    return namedtuple("Layers", sorted(fields))(**fields)


# ---- share_loss on random layer stacks ------------------------------------------------------


@st.composite
def layer_stacks(draw):
    """Random stacks of the four kinds; a re-guarantee names an earlier guarantee (or becomes a
    fund if there is none); some insurers can default (a counterparty after the guarantors)."""
    m = draw(st.integers(1, 6))
    kinds = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    guarantor, target, g = [], [], 0
    guarantees = []
    for j, k in enumerate(kinds):
        if k == 3 and not guarantees:
            kinds[j] = k = 1
        target.append(draw(st.sampled_from(guarantees)) if k == 3 else -1)
        guarantor.append(g if k == 0 else -1)
        if k == 0:
            guarantees.append(j)
        g += k == 0
    for j, k in enumerate(kinds):
        if k == 2 and draw(st.booleans()):
            guarantor[j] = g
            g += 1
    n_counterparties = max(1, g)
    floats = st.floats(0.0, 1.0)
    money = st.one_of(st.just(math.inf), st.floats(0.0, 2e3))
    loans = layer_arrays(
        layer_kind=np.array(kinds, np.int64),
        layer_share=np.array(draw(st.lists(floats, min_size=m, max_size=m))),
        layer_cap=np.array(draw(st.lists(money, min_size=m, max_size=m))),
        layer_deductible=np.array(draw(st.lists(st.floats(0.0, 500.0), min_size=m, max_size=m))),
        layer_first_period=np.zeros(m, np.int64),
        layer_last_period=np.full(m, 1 << 30, np.int64),
        layer_needs_ip_lost=np.zeros(m, np.bool_),
        layer_budget=np.array(draw(st.lists(money, min_size=m, max_size=m))),
        layer_calendar=np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m))),
        layer_original=np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m))),
        layer_principal=np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m))),
        layer_guarantor=np.array(guarantor, np.int64),
        layer_lag=np.array(draw(st.lists(st.integers(-1, 3), min_size=m, max_size=m)), np.int64),
        layer_target=np.array(target, np.int64),
        calendar_year=np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]),
        periods_per_year=4,
    )
    defaults = np.array(draw(st.lists(st.integers(0, 12), min_size=n_counterparties,
                                      max_size=n_counterparties)), np.int64)  # fmt: skip
    claims = draw(st.lists(st.tuples(st.floats(0.0, 5e3), st.floats(0.0, 1.0),
                                     st.integers(0, 8), st.integers(0, 3)),
                           min_size=1, max_size=8))  # fmt: skip
    return loans, defaults, claims


@settings(max_examples=300, deadline=None)
@given(layer_stacks())
def test_layers_pay_the_loss_and_no_more_than_their_caps_and_budgets(stack):
    """For random stacks and claims: the layers' payments to the lender and what it keeps add up
    to the loss; no payment is negative or above its share of the loss, its per-loan cap or (with
    a re-guarantee's reimbursements) its budget of the year it pays in; a layer whose guarantor or
    insurer has defaulted by its payment pays nothing; a re-guarantee pays the lender only after
    its guarantor's default."""
    loans, counterparty_default, claims = stack
    m = loans.layer_kind.shape[0]
    budget_used = np.zeros((4, m))
    paid_by_year = np.zeros((4, m))
    out = np.zeros(N_LOAN_TOTALS + m)
    for loss, principal_share, k, lag in claims:
        principal_loss = loss * principal_share
        layer_paid, layer_claim = np.empty(m), np.empty(m)
        layer_period = np.empty(m, np.int64)
        kept = share_loss(
            loans, loss, principal_loss, counterparty_default, k, False, k + lag, 1.0,
            budget_used, out, layer_paid, layer_claim, layer_period,
        )  # fmt: skip
        assert kept + layer_paid.sum() == pytest.approx(loss, abs=1e-9)
        assert (layer_paid >= 0.0).all() and kept >= -1e-9
        for j in range(m):
            kind, period = loans.layer_kind[j], layer_period[j]
            own = (k + loans.layer_lag[j] if loans.layer_lag[j] >= 0
                   else k + lag if kind in (1, 2) else k)  # fmt: skip
            if kind == 3:  # a re-guarantee: not before its guarantee is due
                own = max(own, layer_period[loans.layer_target[j]])
            assert period == own
            assert layer_paid[j] <= loans.layer_share[j] * loss + 1e-9
            assert layer_paid[j] <= loans.layer_cap[j] + 1e-9
            if loans.layer_principal[j] and kind != 3:
                assert layer_paid[j] <= loans.layer_share[j] * principal_loss + 1e-9
            c = loans.layer_guarantor[j]
            if c >= 0 and period >= counterparty_default[c]:
                assert layer_paid[j] == 0.0
            if kind == 3:
                g = loans.layer_target[j]
                c = loans.layer_guarantor[g]
                if layer_period[g] < counterparty_default[c]:
                    assert layer_paid[j] == 0.0  # the guarantor paid: reimbursed, not the lender
            year = loans.calendar_year[period] if loans.layer_calendar[j] else period // 4
            paid_by_year[year, j] += layer_paid[j]
    # each layer's budget, booked in the year it pays in (a re-guarantee's reimbursements of its
    # guarantor count too: its booking is at least what it paid the lender)
    assert (budget_used <= loans.layer_budget[None, :] + 1e-6).all()
    assert (budget_used >= paid_by_year - 1e-6).all()
    lender_only = loans.layer_kind != 3
    np.testing.assert_allclose(budget_used[:, lender_only], paid_by_year[:, lender_only],
                               atol=1e-6)  # fmt: skip
    assert budget_used[:, ~lender_only].sum() == pytest.approx(
        paid_by_year[:, ~lender_only].sum() + out[L_REIMBURSED], abs=1e-6
    )
    np.testing.assert_allclose(out[N_LOAN_TOTALS:].sum(), out[[L_GUARANTOR, L_FUND, L_INSURER,
                               L_REGUARANTOR]].sum(), rtol=1e-12, atol=1e-9)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    st.floats(1.0, 1e6),
    st.booleans(),
)
def test_pro_rata_and_sequential_shares_by_formula(shares, loss, original):
    """Without caps or budgets, pro rata (shares scaled to add up to at most 1) layer m pays
    s_m L; sequential, s_m prod_{j<m} (1 - s_j) L; the lender keeps L (1 - sum s) and
    L prod (1 - s_j)."""
    shares = np.array(shares)
    if original and shares.sum() > 1.0:
        shares = shares / shares.sum()
    m = len(shares)
    loans = layer_arrays(
        layer_kind=np.ones(m, np.int64), layer_share=shares, layer_cap=np.full(m, math.inf),
        layer_deductible=np.zeros(m), layer_first_period=np.zeros(m, np.int64),
        layer_last_period=np.full(m, 1 << 30, np.int64), layer_needs_ip_lost=np.zeros(m, np.bool_),
        layer_budget=np.full(m, math.inf), layer_calendar=np.zeros(m, np.bool_),
        layer_original=np.full(m, original), layer_principal=np.zeros(m, np.bool_),
        layer_guarantor=np.full(m, -1, np.int64), layer_lag=np.full(m, -1, np.int64),
        layer_target=np.full(m, -1, np.int64), calendar_year=np.zeros(8, np.int64),
        periods_per_year=4,
    )  # fmt: skip
    paid = np.empty(m)
    kept = share_loss(
        loans, loss, loss, np.zeros(1, np.int64), 0, False, 1, 1.0, np.zeros((2, m)),
        np.zeros(N_LOAN_TOTALS), paid, np.empty(m), np.empty(m, np.int64),
    )  # fmt: skip
    if original:
        expected = shares * loss
    else:
        expected = shares * np.concatenate([[1.0], np.cumprod(1.0 - shares)[:-1]]) * loss
    np.testing.assert_allclose(paid, np.minimum(expected, loss), rtol=1e-9, atol=1e-9 * loss)
    assert kept == pytest.approx(loss - expected.sum(), rel=1e-9, abs=1e-6)


def test_many_layers_of_each_kind_run_and_conserve_the_loss():
    """A Beijing-style stack: a 2:4:4 guarantee and municipal fund, a district fund on principal
    by fiscal year, an insurer; every path's layers and lender share the loss."""
    loans = [
        base_loan(id=f"N{i}", annual_default_probability=0.3, rate=0.05, collateral_value=300.0,
                  factor_loading=0.4)
        for i in range(6)
    ]  # fmt: skip
    layers = [
        {"kind": "guarantee", "share": 0.4, "share_of": "original",
         "guarantor_default_probability": 0.2},
        {"kind": "risk_compensation_fund", "share": 0.4, "share_of": "original",
         "annual_budget": 800.0},
        {"kind": "risk_compensation_fund", "share": 0.5, "basis": "principal",
         "budget_year": "calendar", "annual_budget": 300.0, "per_loan_cap": 150.0},
        {"kind": "guarantee", "share": 0.2, "guarantor_default_probability": 0.5},
        {"kind": "insurance", "deductible": 20.0, "limit": 100.0},
    ]  # fmt: skip
    p = loan_deal(loans, layers=layers, paths=200, seed=5).pool_paths
    shared = p["guarantor_paid"] + p["fund_paid"] + p["insurer_paid"] + p["loan_net_loss"]
    np.testing.assert_allclose(shared, p["loan_gross_loss"], rtol=1e-9, atol=1e-6)
    assert (p["loan_gross_loss"] > 0).any() and (p["loan_net_loss"] >= -1e-9).all()


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ({"kind": "guarantee", "share": 0.4, "share_of": "first"}, "loss_sharing[0].share_of"),
        ({"kind": "risk_compensation_fund", "share": 0.4, "basis": "interest"},
         "loss_sharing[0].basis"),
        ({"kind": "risk_compensation_fund", "share": 0.4, "budget_year": "fiscal"},
         "loss_sharing[0].budget_year"),
        ({"kind": "guarantee", "share": 0.4, "basis": "interest"}, "loss_sharing[0].basis"),
        ({"kind": "insurance", "budget_year": "fiscal"}, "loss_sharing[0].budget_year"),
    ],
)  # fmt: skip
def test_bad_layer_input_names_the_key(tmp_path, layer, expected):
    data = small_deal(loans=[base_loan()], loss_sharing=[layer])
    proc = run_cli_in_process("validate", write_scenario(tmp_path, data))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr
