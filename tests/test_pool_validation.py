"""The pool model against results nobody here wrote: survival curves, the Vasicek large-pool
distribution, the Gaussian large-pool tranche expected loss, and bivariate Gaussian and Student t
joint default probabilities."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from helpers import small_deal
from scipy import stats
from scipy.special import ndtri

import ipabs
from ipabs.scenario.load import validate

CLOSING = dt.date(2024, 1, 15)
NO_EVENTS = {"lapse_hazard": 0.0, "invalidation_hazard": 0.0, "obsolescence_hazard": 0.0}


def pool_deal(
    licensees, assets, *, periods_end=dt.date(2024, 4, 15), paths, seed, factors=None, tranches=None
):
    return validate(
        small_deal(
            deal={
                "name": "validation",
                "closing_date": CLOSING,
                "payment_frequency": "quarterly",
                "legal_final_date": periods_end,
            },
            simulation={
                "paths": paths,
                "seed": seed,
                "block_size": 512,
                "sample_paths": min(paths, 20_000),
            },
            factors=factors or {"names": ["m"]},
            licensees=licensees,
            assets=assets,
            tranches=tranches or [{"name": "A", "balance": 1.0, "rank": 1}],
            fees={},
            reserve={},
            pricing={"discount_rate": 0.0},
        )
    )


def one_asset_each(n, pd_annual, loading, **asset):
    licensees = [
        {"id": f"L{i}", "annual_default_probability": pd_annual, "factor_loading": loading}
        for i in range(n)
    ]
    assets = [
        {"id": f"P{i}", "type": "patent", "licensee": f"L{i}", "base_annual_income": 1.0, "volatility": 0.0,
         "growth_rate": 0.0, "remaining_legal_life_years": 50.0, **NO_EVENTS, **asset}
        for i in range(n)
    ]  # fmt: skip
    return licensees, assets


def _quarterly_q(pd_annual: float) -> float:
    dt_years = (dt.date(2024, 4, 15) - CLOSING).days / 365.0
    return 1.0 - (1.0 - pd_annual) ** dt_years


def _pd_for_period_q(q: float) -> float:
    """The annual PD whose one-quarter default probability is q."""
    dt_years = (dt.date(2024, 4, 15) - CLOSING).days / 365.0
    return 1.0 - (1.0 - q) ** (1.0 / dt_years)


@pytest.mark.parametrize("hazard_key", ["invalidation_hazard", "lapse_hazard"])
def test_rights_survive_as_exp_minus_h_t(hazard_key):
    """40 patents with hazard h and nothing else: rights lost by T ~ Binomial(40, 1 - e^(-hT))
    (chi-square, significance 0.001), and one asset's income survives to t_k with probability
    e^(-h t_k) (chi-square over the period its income stops, significance 0.001)."""
    h = 0.15
    licensees, assets = one_asset_each(40, 0.0, 0.0, **{hazard_key: h})
    sc = pool_deal(licensees, assets, periods_end=dt.date(2027, 1, 15), paths=20_000, seed=8)
    res = ipabs.simulate(sc)
    horizon = res.deal.t_years[-1]
    p = -math.expm1(-h * horizon)
    counts = np.bincount(res.pool_paths["ip_rights_lost"].to_numpy(), minlength=41)
    expected = stats.binom.pmf(np.arange(41), 40, p) * counts.sum()
    keep = expected >= 5
    lo, hi = np.nonzero(keep)[0][[0, -1]]
    obs = np.concatenate([[counts[:lo].sum()], counts[lo : hi + 1], [counts[hi + 1 :].sum()]])
    exp = np.concatenate([[expected[:lo].sum()], expected[lo : hi + 1], [expected[hi + 1 :].sum()]])
    obs, exp = obs[exp > 0], exp[exp > 0]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 0.001

    # the period in which one asset's income stops is geometric in e^(-h t_k): multinomial
    # chi-square over the 12 periods and "still alive at legal final"
    one_licensee, one_asset = one_asset_each(1, 0.0, 0.0, **{hazard_key: h})
    single = ipabs.simulate(
        pool_deal(one_licensee, one_asset, periods_end=dt.date(2027, 1, 15), paths=20_000, seed=9)
    )
    alive = single.raw.sample_collections > 0
    periods_alive = alive.sum(axis=1)  # income stops for good, so this is the death period - 1
    survival = np.exp(-h * np.concatenate([[0.0], single.deal.t_years]))
    expected = np.append(-np.diff(survival), survival[-1]) * alive.shape[0]
    observed = np.bincount(periods_alive, minlength=alive.shape[1] + 1)
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_homogeneous_pool_follows_the_vasicek_distribution():
    """2,000 names, asset correlation 0.2, one period: the default fraction L has the Vasicek
    large-pool CDF P(L <= x) = Phi((sqrt(1-rho) Phi^-1(x) - Phi^-1(p)) / sqrt(rho)). The empirical
    CDF at six points is within 4 binomial standard errors plus 0.01 for the finite pool."""
    n, rho, q = 2_000, 0.2, 0.05
    licensees, assets = one_asset_each(n, _pd_for_period_q(q), math.sqrt(rho))
    res = ipabs.simulate(pool_deal(licensees, assets, paths=10_000, seed=10))
    loss = res.pool_paths["licensee_defaults"].to_numpy() / n
    for x in (0.01, 0.03, 0.05, 0.08, 0.15, 0.25):
        vasicek = stats.norm.cdf((math.sqrt(1 - rho) * ndtri(x) - ndtri(q)) / math.sqrt(rho))
        empirical = (loss <= x).mean()
        se = math.sqrt(vasicek * (1 - vasicek) / loss.size)
        assert abs(empirical - vasicek) < 4 * se + 0.01, (x, empirical, vasicek)


def test_mezzanine_expected_loss_matches_the_gaussian_large_pool_formula():
    """Tranche [A, D] of a large homogeneous pool: E[(L-K)+] = Phi2(c, z_K; sqrt(rho)) - K Phi(z_K),
    c = Phi^-1(p), z_K = (c - sqrt(1-rho) Phi^-1(K)) / sqrt(rho); EL = (E[(L-A)+] - E[(L-D)+])/(D-A).
    The engine's mezzanine (sequential notes paid from one period's income, zero recovery) is
    within 4 standard errors plus 0.005 for the finite pool."""
    n, rho, q, attach, detach = 2_000, 0.25, 0.06, 0.04, 0.12
    licensees, assets = one_asset_each(n, _pd_for_period_q(q), math.sqrt(rho))
    income = (dt.date(2024, 4, 15) - CLOSING).days / 365.0 * n  # one period's income, all names
    tranches = [
        {"name": "senior", "balance": income * (1 - detach), "rank": 1},
        {"name": "mezz", "balance": income * (detach - attach), "rank": 2},
        {"name": "equity", "balance": income * attach, "rank": 3},
    ]
    res = ipabs.simulate(pool_deal(licensees, assets, paths=20_000, seed=11, tranches=tranches))
    c = ndtri(q)

    def call(k):
        z = (c - math.sqrt(1 - rho) * ndtri(k)) / math.sqrt(rho)
        joint = stats.multivariate_normal(
            mean=[0, 0], cov=[[1, math.sqrt(rho)], [math.sqrt(rho), 1]]
        ).cdf([c, z])
        return joint - k * stats.norm.cdf(z)

    analytic = (call(attach) - call(detach)) / (detach - attach)
    row = res.summary.set_index("tranche").loc["mezz"]
    assert abs(row["expected_loss"] - analytic) < 4 * row["expected_loss_se"] + 0.005, (
        row["expected_loss"],
        analytic,
    )


@pytest.mark.slow
def test_joint_default_gaussian_and_student_t_copulas_match_closed_forms():
    """Two names on one factor, latent correlation rho, one period with default probability q:
    P(both default) is the bivariate normal CDF at (Phi^-1(q), Phi^-1(q)) under the Gaussian
    copula, and the bivariate t CDF at (t_nu^-1(q), t_nu^-1(q)) under the t copula; the t value is
    larger. Each within 4 standard errors (plus 3e-4 for scipy's numerical t integration)."""
    rho, q, nu, paths = 0.3, 0.08, 4, 300_000
    licensees, assets = one_asset_each(2, _pd_for_period_q(q), math.sqrt(rho))
    cov = [[1, rho], [rho, 1]]
    results = {}
    for copula in ("gaussian", "student_t"):
        factors = {"names": ["m"], "copula": copula}
        if copula == "student_t":
            factors["degrees_of_freedom"] = nu
        res = ipabs.simulate(pool_deal(licensees, assets, paths=paths, seed=12, factors=factors))
        both = (res.pool_paths["licensee_defaults"].to_numpy() == 2).mean()
        single = (res.pool_paths["licensee_defaults"].to_numpy() >= 1).mean()
        results[copula] = (both, single)
    g_closed = stats.multivariate_normal(mean=[0, 0], cov=cov).cdf([ndtri(q)] * 2)
    t_closed = stats.multivariate_t(loc=[0, 0], shape=cov, df=nu, seed=1).cdf(
        [stats.t.ppf(q, nu)] * 2, maxpts=2_000_000
    )
    for copula, closed, extra in (("gaussian", g_closed, 0.0), ("student_t", t_closed, 3e-4)):
        both, single = results[copula]
        se = math.sqrt(closed * (1 - closed) / paths)
        assert abs(both - closed) < 4 * se + extra, (copula, both, closed)
        # the marginals are unchanged: P(at least one) = 2q - P(both)
        assert abs(single - (2 * q - closed)) < 4 * math.sqrt(q * 2 * (1 - 2 * q) / paths) + extra
    assert t_closed > g_closed
    assert results["student_t"][0] - results["gaussian"][0] > 4 * math.sqrt(2 * g_closed / paths)


def test_quarterly_probability_helper_round_trips():
    assert _quarterly_q(_pd_for_period_q(0.05)) == pytest.approx(0.05, rel=1e-12)
