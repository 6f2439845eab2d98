"""Income-method (relief-from-royalty) value of each IP asset at closing.

    V_i = integral_0^T_i B_i E[L_i(t)] S_i(t) (1 + r)^-t dt  -  integral_0^T_i fee_i S_i(t) (1 + r)^-t dt

with E[L_i(t)] = exp(G_i(t) - h^o_i s^o_i t) (1 - cliff severity after the cliff date), the
survival S_i(t) = exp(-(h^v_i + h^l_i) t) p_i^(renewals before t), T_i the remaining economic life
(legal life with expected renewals, capped by `economic_life_years`, never beyond 100 years), and r
the valuation discount rate. Licensee credit is not part of the IP's value: the royalty is what
any user of the right would pay. Evaluated on a monthly midpoint grid. See docs/model.md, 3.7.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ipabs.pool.assets import resolve_asset
from ipabs.scenario.model import IPAsset, Scenario

MAX_LIFE_YEARS = 100.0
STEPS_PER_YEAR = 12


def economic_life_years(asset: IPAsset, closing) -> float:
    r = resolve_asset(asset, closing)
    legal = r.first_expiry_years if math.isinf(r.renewal_term_years) else math.inf
    life = min(legal, asset.economic_life_years or math.inf, MAX_LIFE_YEARS)
    return life


def _life_grid(asset: IPAsset, closing) -> tuple[float, np.ndarray, np.ndarray]:
    """(economic life, midpoints, widths) of the monthly grid the valuation integrals run on."""
    life = economic_life_years(asset, closing)
    n = max(math.ceil(life * STEPS_PER_YEAR), 1)
    edges = np.minimum(np.arange(n + 1) / STEPS_PER_YEAR, life)
    return life, 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)


def asset_value(asset: IPAsset, closing, rate: float) -> dict[str, float]:
    r = resolve_asset(asset, closing)
    life, mid, width = _life_grid(asset, closing)
    level = np.exp(r.integrated_growth(mid) - r.obsolescence_hazard * r.obsolescence_severity * mid)
    level = np.where(mid >= r.cliff_years, level * (1.0 - r.cliff_severity), level)
    survival = np.exp(-(r.invalidation_hazard + r.lapse_hazard) * mid)
    renewals = np.searchsorted(np.array(r.renewal_points(MAX_LIFE_YEARS + 1.0)), mid, side="right")
    survival = survival * r.renewal_probability**renewals
    discount = (1.0 + rate) ** (-mid)
    income = asset.base_annual_income * level * survival * width
    fees = r.fee_rate(mid) * survival * width
    return {
        "economic_life_years": life,
        "expected_income": float(income.sum()),
        "value": float(((income - fees) * discount).sum()),
        "annuity_fees_pv": float((fees * discount).sum()),
    }


def remaining_value_factors(
    asset: IPAsset, closing, rate: float, t_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each payment date t_k: (income factor F_k, fee PV P_k) such that the asset's value at
    t_k, given it is alive with income level L, is B L F_k - P_k: the same integral as
    `asset_value`, started at t_k, with the path's level in place of its expectation."""
    r = resolve_asset(asset, closing)
    _, mid, width = _life_grid(asset, closing)
    log_level = r.integrated_growth(mid) - r.obsolescence_hazard * r.obsolescence_severity * mid
    log_surv = -(r.invalidation_hazard + r.lapse_hazard) * mid
    renewal_points = np.array(r.renewal_points(MAX_LIFE_YEARS + 1.0))
    income_factor = np.zeros(t_years.size)
    fee_pv = np.zeros(t_years.size)
    for k, t0 in enumerate(t_years):
        ahead = mid > t0
        if not ahead.any():
            continue
        g0 = (
            r.integrated_growth(np.array([t0]))[0]
            - r.obsolescence_hazard * r.obsolescence_severity * t0
        )
        s0 = -(r.invalidation_hazard + r.lapse_hazard) * t0
        cliff = np.where(
            (mid[ahead] >= r.cliff_years) & (t0 < r.cliff_years), 1.0 - r.cliff_severity, 1.0
        )
        renewals = np.searchsorted(renewal_points, mid[ahead], side="right") - np.searchsorted(
            renewal_points, t0, side="right"
        )
        survival = np.exp(log_surv[ahead] - s0) * r.renewal_probability**renewals
        discount = (1.0 + rate) ** (-(mid[ahead] - t0))
        w = width[ahead]
        income_factor[k] = float(
            (np.exp(log_level[ahead] - g0) * cliff * survival * discount * w).sum()
        )
        fee_pv[k] = float((r.fee_rate(mid[ahead]) * survival * discount * w).sum())
    return income_factor, fee_pv


def value_assets(sc: Scenario, rate: float | None = None) -> pd.DataFrame:
    """One row per asset: its value at closing (at the cut-off date if the deal has one, where
    the pool's income levels are given) and what it rests on."""
    rate = sc.valuation.discount_rate if rate is None else rate
    rows = []
    for a in sc.assets:
        v = asset_value(a, sc.deal.pool_start, rate)
        rows.append(
            {
                "asset": a.id,
                "type": a.type.value,
                "licensee": a.licensee,
                "base_annual_income": a.base_annual_income,
                "discount_rate": rate,
                **v,
                "value_to_income": v["value"] / a.base_annual_income
                if a.base_annual_income > 0
                else math.nan,
            }
        )
    return pd.DataFrame(rows)


def loan_to_value(sc: Scenario, asset_values: pd.DataFrame) -> pd.DataFrame:
    """One row per loan: balance, the pledge's value at closing (the pledged assets' income-method
    values, or the given valuation), and the loan-to-value ratio."""
    value_of = dict(zip(asset_values["asset"], asset_values["value"], strict=True))
    rows = []
    for loan in sc.loans:
        if loan.collateral_value is not None:
            value, basis = loan.collateral_value, "given"
        elif loan.ltv is not None:
            value, basis = loan.balance / loan.ltv, "ltv"
        else:
            value, basis = sum(value_of[a] for a in loan.pledged_assets), "income method"
        rows.append(
            {
                "loan": loan.id,
                "balance": loan.balance,
                "participation": loan.participation,  # the pool's share of a co-lent loan (共贷)
                "pledged_assets": ", ".join(loan.pledged_assets),
                "pledge_value": value,
                "value_basis": basis,
                "ltv": loan.balance / value if value > 0 else math.inf,
            }
        )
    return pd.DataFrame(rows)


def loss_sharing_terms(sc: Scenario) -> pd.DataFrame:
    """One row per loss-sharing layer, by name, in the order applied: its terms as the loan
    kernel reads them (docs/model.md 3.8; NaN: none, or not of its kind)."""
    from ipabs.scenario.model import layer_names

    def number(x: float | None) -> float:
        return math.nan if x is None else float(x)

    rows = []
    for name, layer in zip(layer_names(sc.loss_sharing), sc.loss_sharing, strict=True):
        cap = layer.limit if layer.kind == "insurance" else layer.per_loan_cap
        year_cap = (
            layer.annual_budget if layer.kind == "risk_compensation_fund" else layer.annual_cap
        )
        default_probability = {
            "guarantee": getattr(layer, "guarantor_default_probability", None),
            "insurance": getattr(layer, "insurer_default_probability", None),
        }.get(layer.kind)
        rows.append(
            {
                "layer": name,
                "kind": layer.kind,
                "share": layer.share,
                "share_of": getattr(layer, "share_of", "remaining"),
                "basis": getattr(layer, "basis", "exposure"),
                "re_guarantees": getattr(layer, "guarantee", ""),
                "per_loan_cap": number(cap),
                "annual_cap": number(year_cap),
                "budget_year": layer.budget_year,
                "claim_lag_months": number(layer.claim_lag_months),
                "default_probability": number(default_probability),
                "premium_rate": number(getattr(layer, "premium_rate", None)),
            }
        )
    return pd.DataFrame(rows)
