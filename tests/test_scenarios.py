"""The shipped scenarios: each validates, runs from the CLI and values its IP; the facts the
scenario files cite are what the files say."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, run_cli

import ipabs
from ipabs.scenario.model import IPType

SCENARIOS = sorted((REPO / "scenarios").glob("*.toml"))


def test_there_are_shipped_scenarios():
    names = {p.stem for p in SCENARIOS}
    assert {
        "zgc_patent_licence_abs_2022",
        "nanshan_ip_pledged_loans_abs_2022",
        "beijing_combined_pledge_loans",
        "biopharma_royalty_trust_2000",
        "music_catalogue_abs",
        "beijing_ip_trust",
        "beijing_ip_pledge_loan_transfer",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_and_values_from_the_cli(path, tmp_path):
    proc = run_cli(
        "run", path, "--paths", "400", "--out", tmp_path / "run", "--json", "--no-charts"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["paths"] == 400 and len(out["tranches"]) == len(ipabs.load(path).tranches)
    proc = run_cli("value", path, "--out", tmp_path / "value")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "value" / "valuation.parquet").is_file()


def test_nanshan_matches_its_public_facts():
    sc = ipabs.load(REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml")
    assert len(sc.loans) == 12
    assert sum(len(loan.pledged_assets) for loan in sc.loans) == 26 == len(sc.assets)
    assert sum(loan.balance for loan in sc.loans) == 206_000_000
    assert sum(t.balance for t in sc.tranches) == 206_000_000
    assert sc.tranches_by_rank()[0].coupon == 0.038
    assert (sc.deal.legal_final_date - sc.deal.closing_date).days == 365
    assert [layer.kind for layer in sc.loss_sharing] == ["guarantee"]


@pytest.mark.parametrize(
    "name", ["nanshan_ip_pledged_loans_abs_2022", "beijing_combined_pledge_loans"]
)
def test_the_loan_pools_are_written_as_zhuanxiang_plans(name):
    """Issue #16: taxes at the 财税〔2017〕56号 defaults, revenue and principal accounts, loans
    on ACT/360 with the notes on ACT/365F, and a waterfall that pays the tax first from revenue
    and the classes' principal from the principal account."""
    sc = ipabs.load(REPO / "scenarios" / f"{name}.toml")
    assert sc.tax is not None and (sc.tax.vat_rate, sc.tax.surcharge_rate) == (0.03, 0.12)
    assert sc.accounts.collections == "revenue_and_principal"
    assert {loan.day_count for loan in sc.loans} == {"ACT/360"}
    assert sc.deal.day_count == "ACT/365F"
    steps = sc.waterfall.normal
    assert steps[0].action == "pay_fee" and steps[0].fees == ("tax",)
    principal = [s for s in steps if s.action == "pay_principal"]
    assert principal and all(s.account == "principal" for s in principal)
    assert any(s.action == "transfer" and s.amount == "principal_deficiency" for s in steps)


def test_beijing_pool_uses_all_seven_types_a_fund_and_a_guarantee_from_csv_tapes(tmp_path):
    path = REPO / "scenarios" / "beijing_combined_pledge_loans.toml"
    sc = ipabs.load(path)
    assert {t.path.endswith(".csv") for t in sc.tapes} == {True} and len(sc.tapes) == 2
    # the pilot's seven types; its patents are `patent` (flat fee), not the Chinese patent kinds
    # added later (invention_patent, utility_model, design_patent), so its numbers stay as shipped
    chinese_kinds = {IPType.invention_patent, IPType.utility_model, IPType.design_patent}
    assert {a.type for a in sc.assets} == set(IPType) - chinese_kinds
    # a 政银担 2:4:4 split (guarantor 40%, the municipal and Haidian funds 20% each, pro rata on
    # the original loss), a re-guarantee of the guarantor and an insurer
    assert [
        (x.name, x.share) for x in sc.loss_sharing if getattr(x, "share_of", "") == "original"
    ] == [
        ("guarantor", 0.4),
        ("municipal_fund", 0.2),
        ("haidian_fund", 0.2),
    ]
    assert {x.kind for x in sc.loss_sharing} == {
        "guarantee",
        "re_guarantee",
        "risk_compensation_fund",
        "insurance",
    }
    assert any(len(loan.pledged_assets) > 1 for loan in sc.loans), "combined pledges"
    res = ipabs.simulate(sc, paths=2_000)
    pool = res.pool.iloc[0]
    assert pool["expected_guarantor_paid"] > 0 and pool["expected_fund_paid"] > 0
    assert pool["expected_layer_municipal_fund_paid"] > 0
    assert pool["expected_layer_haidian_fund_paid"] > 0
    # who bore what adds up on every path
    p = res.pool_paths
    total = (p["guarantor_paid"] + p["fund_paid"] + p["insurer_paid"] + p["reguarantor_paid"]
             + p["loan_net_loss"])  # fmt: skip
    pd.testing.assert_series_equal(total, p["loan_gross_loss"], check_names=False, rtol=1e-9)
    funds = p["layer_municipal_fund_paid"] + p["layer_haidian_fund_paid"]
    pd.testing.assert_series_equal(funds, p["fund_paid"], check_names=False, rtol=1e-9)
    assert run_cli("value", path, "--out", tmp_path / "v").returncode == 0
    loans = pd.read_parquet(tmp_path / "v" / "loans.parquet")
    assert len(loans) == 40 and (loans["ltv"] > 0).all()
    layers = pd.read_parquet(tmp_path / "v" / "layers.parquet")
    assert list(layers["layer"]) == [
        "guarantor", "reguarantee_fund", "municipal_fund", "haidian_fund", "insurer"
    ]  # fmt: skip


def test_loan_pool_results_do_not_depend_on_threads_or_block_size():
    sc = ipabs.load(REPO / "scenarios" / "beijing_combined_pledge_loans.toml")
    a = ipabs.simulate(sc, paths=700, threads=1, block_size=64)
    b = ipabs.simulate(sc, paths=700, threads=2, block_size=333)
    assert np.array_equal(a.raw.pool, b.raw.pool) and np.array_equal(
        a.raw.tranche, b.raw.tranche, equal_nan=True
    )


def test_wenke_leasing_matches_its_public_facts():
    """第一创业-文科租赁一期: about 733m yuan of lease receivables over 51 IP items, senior 95%,
    subordinated 5% (DESIGN.md section 3); the leases are sale-and-leaseback of the leased IP."""
    sc = ipabs.load(REPO / "scenarios" / "wenke_leasing_ip_abs_2019.toml")
    assert sc.deal.name_zh == "第一创业-文科租赁一期资产支持专项计划"
    assert sum(x.financed_amount for x in sc.leases) == 733_000_000
    assert sum(len(x.leased_assets) for x in sc.leases) == 51 == len(sc.assets)
    assert not sc.loans and not any(a.licensee for a in sc.assets)
    senior, sub = sc.tranches_by_rank()
    assert senior.balance + sub.balance == 733_000_000
    assert senior.balance / 733_000_000 == pytest.approx(0.95)
