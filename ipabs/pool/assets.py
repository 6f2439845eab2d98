"""Resolve each IP asset's parameters: the scenario's values where given, else its type's defaults,
with legal life, renewals and the licence end turned into times from closing."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from ipabs.pool.ip_types import FEE_REDUCTION_YEARS, IP_TYPE_DEFAULTS, legal_term_years
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
    annual_fee: float  # flat fee a year; 0 unless the deal pays the annuities
    cliff_years: float  # inf: no cliff
    cliff_severity: float
    collection_lag_periods: int
    # the fee a year as steps (time from closing, fee from then on), the first at 0: CNIPA's fee by
    # patent year and the fee reduction; None: the flat annual_fee (docs/model.md 3.4)
    fee_steps: tuple[tuple[float, float], ...] | None = None

    def fee_rate(self, t: np.ndarray) -> np.ndarray:
        """The annual fee a year in force at each time t (years from closing, t >= 0)."""
        t = np.asarray(t, float)
        if self.fee_steps is None:
            return np.full(t.shape, self.annual_fee)
        starts = np.array([s for s, _ in self.fee_steps])
        rates = np.array([f for _, f in self.fee_steps])
        return rates[np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)]

    def fees_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The fees of [a, b] (0 <= a <= b), the fee steps integrated exactly."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        if self.fee_steps is None:
            return self.annual_fee * (b - a)
        total = np.zeros(np.broadcast(a, b).shape)
        ends = [s for s, _ in self.fee_steps[1:]] + [math.inf]
        for (start, rate), end in zip(self.fee_steps, ends, strict=True):
            total += rate * np.clip(np.minimum(b, end) - np.maximum(a, start), 0.0, None)
        return total

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


def annuities_paid_by(asset: IPAsset) -> str | None:
    """Who keeps the asset's annual fees paid: "deal", "enterprise", or None (nobody: it may
    lapse). annuities_prepaid alone means the deal (docs/model.md 3.4)."""
    if asset.annuities_paid_by is not None:
        return asset.annuities_paid_by
    return "deal" if asset.annuities_prepaid else None


def patent_age_years(asset: IPAsset, closing: dt.date) -> float | None:
    """Years from the filing date (the start of its legal term) to closing: from
    protection_start_date, else the legal term less the remaining life; None for a right with no
    term."""
    if asset.protection_start_date is not None:
        return _years_between(asset.protection_start_date, closing)
    term = asset.legal_term_years or legal_term_years(asset.type, None)
    if term is None or asset.remaining_legal_life_years is None:
        return None
    return term - asset.remaining_legal_life_years


def _fee_steps(asset: IPAsset, closing: dt.date) -> tuple[tuple[float, float], ...] | None:
    """The deal's annual fee as steps in time from closing: the type's fee by patent year (patent
    year n covers ages n-1 to n from the filing date), nothing before the year of grant, and
    fee_reduction in the six patent years from it. None: a flat fee."""
    d = IP_TYPE_DEFAULTS[asset.type]
    scheduled = asset.annual_fee is None and d.annual_fee_schedule is not None
    if not scheduled and asset.fee_reduction == 0.0:
        return None
    flat = d.annual_fee if asset.annual_fee is None else asset.annual_fee
    bands = d.annual_fee_schedule if scheduled else ((1, flat),)
    age = patent_age_years(asset, closing)
    grant_year = 1
    if asset.grant_date is not None:
        grant_year = math.floor(age - _years_between(asset.grant_date, closing)) + 1
    cut = 1.0 - asset.fee_reduction

    def fee(year: int) -> float:
        if year < grant_year:
            return 0.0  # annual fees are due from the year of grant
        band = next(f for first, f in reversed(bands) if first <= year)
        reduced = asset.fee_reduction > 0.0 and year < grant_year + FEE_REDUCTION_YEARS
        return band * cut if reduced else band

    now = math.floor(age) + 1
    years = sorted({*(first for first, _ in bands), grant_year, grant_year + FEE_REDUCTION_YEARS})
    steps = [(0.0, fee(now))]
    for y in years:
        if y > now:
            steps.append((y - 1 - age, fee(y)))
    return tuple(steps)


def resolve_asset(asset: IPAsset, closing: dt.date) -> ResolvedAsset:
    d = IP_TYPE_DEFAULTS[asset.type]
    term = asset.legal_term_years or legal_term_years(asset.type, asset.protection_start_date)
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

    paid_by = annuities_paid_by(asset)
    prepaid = paid_by is not None  # kept paid: no lapse
    deal_pays = paid_by == "deal"
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
        annual_fee=pick(asset.annual_fee, d.annual_fee) if deal_pays else 0.0,
        cliff_years=_years_between(closing, asset.cliff_date) if asset.cliff_date else math.inf,
        cliff_severity=asset.cliff_severity,
        collection_lag_periods=asset.collection_lag_periods,
        fee_steps=_fee_steps(asset, closing) if deal_pays else None,
    )
