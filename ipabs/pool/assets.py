"""Resolve each IP asset's parameters: the scenario's values where given, else its type's defaults,
with legal life, renewals and the licence end turned into times from closing."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from ipabs.pool.ip_types import IP_TYPE_DEFAULTS
from ipabs.scenario.model import IPAsset


@dataclass(frozen=True)
class ResolvedAsset:
    growth_curve: tuple[float, ...]  # per year from closing; the last applies after
    volatility: float
    first_expiry_years: float  # inf: no expiry
    renewal_term_years: float  # inf: not renewable
    renewal_probability: float
    licence_end_years: float  # inf: no licence end
    obsolescence_hazard: float
    obsolescence_severity: float
    invalidation_hazard: float
    lapse_hazard: float  # 0 while annuities are pre-paid
    annual_fee: float  # 0 unless annuities are pre-paid
    cliff_years: float  # inf: no cliff
    cliff_severity: float
    collection_lag_periods: int

    @property
    def income_end_years(self) -> float:
        """When income stops if every renewal happens: the licence end, or expiry of a
        non-renewable right."""
        if math.isinf(self.renewal_term_years):
            return min(self.licence_end_years, self.first_expiry_years)
        return self.licence_end_years

    def renewal_points(self, horizon_years: float) -> list[float]:
        """Times of renewal decisions before the income ends and within the horizon."""
        if math.isinf(self.renewal_term_years) or math.isinf(self.first_expiry_years):
            return []
        points = []
        t = self.first_expiry_years
        while t < min(self.licence_end_years, horizon_years):
            points.append(t)
            t += self.renewal_term_years
        return points

    def integrated_growth(self, t: np.ndarray) -> np.ndarray:
        """G(t) = integral of the piecewise-constant growth curve from 0 to t."""
        curve = np.asarray(self.growth_curve)
        years = np.arange(len(curve))
        # whole years below t in each segment; the last rate runs on past the curve
        covered = np.clip(t[:, None] - years[None, :], 0.0, 1.0)
        covered[:, -1] = np.maximum(t - years[-1], 0.0)
        return covered @ curve


def _years_between(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.0


def resolve_asset(asset: IPAsset, closing: dt.date) -> ResolvedAsset:
    d = IP_TYPE_DEFAULTS[asset.type]
    term = asset.legal_term_years or d.legal_term_years
    renewal_term = asset.renewal_term_years or d.renewal_term_years
    renewal_p = (
        d.renewal_probability if asset.renewal_probability is None else asset.renewal_probability
    )
    if asset.remaining_legal_life_years is not None:
        first_expiry = asset.remaining_legal_life_years
    elif term is None:
        first_expiry = math.inf
    else:
        elapsed = _years_between(asset.protection_start_date, closing)
        first_expiry = term - elapsed
        if first_expiry <= 0.0 and renewal_term:
            # alive at closing, so renewed so far: the next expiry is the next renewal date
            first_expiry += renewal_term * (math.floor(-first_expiry / renewal_term) + 1)
    if d.term_is_contract and asset.licence_term_years is not None:
        # a right that lasts as long as its contract (data rights) ends with its licence at the
        # latest (docs/model.md 3.4)
        first_expiry = min(first_expiry, asset.licence_term_years)
    if asset.growth_curve is not None:
        curve = tuple(asset.growth_curve)
    else:
        curve = (d.growth_rate if asset.growth_rate is None else asset.growth_rate,)

    def pick(value, default):
        return default if value is None else value

    prepaid = asset.annuities_prepaid
    return ResolvedAsset(
        growth_curve=curve,
        volatility=pick(asset.volatility, d.volatility),
        first_expiry_years=first_expiry,
        renewal_term_years=renewal_term if renewal_term else math.inf,
        renewal_probability=renewal_p if renewal_term else 0.0,
        licence_end_years=pick(asset.licence_term_years, math.inf),
        obsolescence_hazard=pick(asset.obsolescence_hazard, d.obsolescence_hazard),
        obsolescence_severity=pick(asset.obsolescence_severity, d.obsolescence_severity),
        invalidation_hazard=pick(asset.invalidation_hazard, d.invalidation_hazard),
        lapse_hazard=0.0 if prepaid else pick(asset.lapse_hazard, d.lapse_hazard),
        annual_fee=pick(asset.annual_fee, d.annual_fee) if prepaid else 0.0,
        cliff_years=_years_between(closing, asset.cliff_date) if asset.cliff_date else math.inf,
        cliff_severity=asset.cliff_severity,
        collection_lag_periods=asset.collection_lag_periods,
    )
