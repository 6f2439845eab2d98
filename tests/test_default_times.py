"""Default times from a copula at the deal's horizon (docs/model.md, 3.1-3.2).

Every name draws one latent per path and defaults when it falls below the quantile of its
cumulative default probability, so a homogeneous pool's default count at any date follows the
finite-pool Vasicek law with that date's PD whatever the payment frequency, two names default
together by a date with the bivariate normal (or t) probability, and the factor that drives
defaults is the one that drives licence income. The horizon-law, joint-default and
frequency tests would fail on a model that draws defaults period by period with independent
systematic shocks; the others check the new model's own mechanics (thresholds, timing,
conditional probabilities, common random numbers).
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from helpers import FLAGSHIP, QUIET_ASSET, small_deal
from scipy import stats
from scipy.special import ndtri

import ipabs
from ipabs.calendar import payment_dates
from ipabs.engine.compile import compile_scenario
from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.default_times import cumulative_probability, default_period, thresholds
from ipabs.pool.kernels import simulate_pool_path
from ipabs.scenario.load import read_toml, validate
from ipabs.structures.credit_support import provider_default_periods
from ipabs.structures.revolving import RevolvingArrays, simulate_vintages_path

CLOSING = dt.date(2024, 1, 15)


def homogeneous(
    frequency: str,
    years: int,
    *,
    names: int = 200,
    pd: float = 0.03,
    loading: float = np.sqrt(0.2),
    paths: int = 4000,
    seed: int = 11,
) -> dict:
    """`names` licensees, each with one right of deterministic income, on one factor."""
    licensees = [
        {
            "id": f"L{i}",
            "annual_default_probability": pd,
            "factor_loading": float(loading),
            "recovery_rate": 0.0,
        }
        for i in range(names)
    ]
    assets = [
        {
            "id": f"A{i}",
            "type": "copyright",
            "licensee": f"L{i}",
            "base_annual_income": 1e6,
            "remaining_legal_life_years": 30,
            **QUIET_ASSET,
        }
        for i in range(names)
    ]
    return {
        "deal": {
            "name": "homogeneous pool",
            "currency": "CNY",
            "closing_date": CLOSING,
            "payment_frequency": frequency,
            "legal_final_date": CLOSING.replace(year=CLOSING.year + years),
        },
        "simulation": {"paths": paths, "seed": seed},
        "factors": {"names": ["economy"]},
        "licensees": licensees,
        "assets": assets,
        "tranches": [
            {"name": "A", "balance": 1e8, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 1e7, "coupon": 0.0, "rank": 2},
        ],
        "pricing": {"discount_rate": 0.03},
    }


def horizon_years(data: dict) -> float:
    return float(compile_scenario(validate(data)).t_years[-1])


def finite_pool_vasicek_pmf(names: int, pd: float, rho: float) -> np.ndarray:
    """P(D = d), d = 0..names: binomial given the factor M, integrated over M ~ N(0, 1)."""
    m = np.linspace(-9.0, 9.0, 6001)
    conditional = stats.norm.cdf((ndtri(pd) - np.sqrt(rho) * m) / np.sqrt(1.0 - rho))
    d = np.arange(names + 1)
    pmf = stats.binom.pmf(d[:, None], names, conditional[None, :]) * stats.norm.pdf(m)[None, :]
    return np.trapezoid(pmf, m, axis=1)


def chi_square_p_value(counts: np.ndarray, pmf: np.ndarray) -> float:
    """Pearson's chi-square of observed counts against a pmf, bins merged from the ends inwards
    until each expects at least 5."""
    n = counts.sum()
    expected = pmf * n
    edges, observed_bins, expected_bins = [], [], []
    acc_o = acc_e = 0.0
    for d in range(pmf.size):
        acc_o += counts[d]
        acc_e += expected[d]
        if acc_e >= 5.0:
            observed_bins.append(acc_o)
            expected_bins.append(acc_e)
            edges.append(d)
            acc_o = acc_e = 0.0
    observed_bins[-1] += acc_o
    expected_bins[-1] += acc_e
    observed_bins, expected_bins = np.array(observed_bins), np.array(expected_bins)
    statistic = ((observed_bins - expected_bins) ** 2 / expected_bins).sum()
    return float(stats.chi2.sf(statistic, observed_bins.size - 1))


P_VALUE_FLOOR = 1e-3  # each chi-square test fails with probability 1e-3 under the model


@pytest.mark.parametrize("years", [1, 3, 5])
def test_default_count_at_each_horizon_is_finite_pool_vasicek_whatever_the_frequency(years):
    names, pd, rho = 200, 0.03, 0.2
    counts, economy = {}, {}
    for frequency in ("annual", "quarterly", "monthly"):
        data = homogeneous(frequency, years, names=names, pd=pd, loading=np.sqrt(rho))
        result = ipabs.simulate(validate(data))
        defaults = result.pool_paths["licensee_defaults"].to_numpy().astype(int)
        counts[frequency] = defaults
        economy[frequency] = result.pool_paths["systematic_factor"].to_numpy()
        horizon_pd = float(cumulative_probability([pd], [horizon_years(data)])[0, 0])
        pmf = finite_pool_vasicek_pmf(names, horizon_pd, rho)
        observed = np.bincount(defaults, minlength=names + 1)
        p_value = chi_square_p_value(observed, pmf)
        assert p_value > P_VALUE_FLOOR, (frequency, years, p_value)
    # a name's latent and its threshold at a date do not depend on the calendar: on common random
    # numbers the count at the same date is the same on every path, not only in distribution
    np.testing.assert_array_equal(counts["annual"], counts["quarterly"])
    np.testing.assert_array_equal(counts["annual"], counts["monthly"])
    np.testing.assert_array_equal(economy["annual"], economy["monthly"])


def test_default_count_distribution_is_frequency_free_on_other_seeds():
    """The same, as a two-sample comparison on independent seeds (no shared paths)."""
    a = ipabs.simulate(validate(homogeneous("annual", 5, seed=1)))
    m = ipabs.simulate(validate(homogeneous("monthly", 5, seed=2)))
    x = a.pool_paths["licensee_defaults"].to_numpy()
    y = m.pool_paths["licensee_defaults"].to_numpy()
    bins = np.quantile(np.concatenate([x, y]), np.linspace(0, 1, 11)[1:-1])
    table = np.array([np.bincount(np.digitize(v, bins), minlength=10) for v in (x, y)])
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > P_VALUE_FLOOR


def two_names(copula: str, *, paths: int = 40_000) -> dict:
    """Two licensees, monthly over 5 years: on two correlated factors with moderate PDs
    (Gaussian), or in the tail where a t copula differs from the Gaussian and from a mixing draw
    per name (PD 1% a year, loadings 0.8 on one factor, 3 degrees of freedom: joint default
    0.022 shared, 0.017 Gaussian, 0.009 with a chi-square per name)."""
    data = homogeneous("monthly", 5, names=2, paths=paths, seed=3)
    if copula == "gaussian":
        data["factors"] = {"names": ["tech", "media"], "correlation": [[1.0, 0.6], [0.6, 1.0]]}
        data["licensees"][0].update(
            annual_default_probability=0.04, factor_loading=0.5, factor="tech"
        )
        data["licensees"][1].update(
            annual_default_probability=0.08, factor_loading=0.7, factor="media"
        )
    else:
        data["factors"] = {"names": ["economy"], "copula": "student_t", "degrees_of_freedom": 3}
        for licensee in data["licensees"]:
            licensee.update(annual_default_probability=0.01, factor_loading=0.8)
    return data


@pytest.mark.parametrize("copula", ["gaussian", "student_t"])
def test_joint_default_by_the_horizon_is_the_bivariate_copula_cdf(copula):
    data = two_names(copula)
    horizon = horizon_years(data)
    if copula == "gaussian":
        p1, p2 = cumulative_probability([0.04, 0.08], [horizon])[0]
        r = 0.5 * 0.7 * 0.6
        shape = np.array([[1.0, r], [r, 1.0]])
        joint = stats.multivariate_normal(cov=shape).cdf([ndtri(p1), ndtri(p2)])
    else:
        p1, p2 = cumulative_probability([0.01, 0.01], [horizon])[0]
        shape = np.array([[1.0, 0.64], [0.64, 1.0]])
        t1, t2 = stats.t.ppf([p1, p2], 3)
        joint = stats.multivariate_t(shape=shape, df=3).cdf(
            [t1, t2], maxpts=1_000_000, random_state=0
        )
        gaussian = stats.multivariate_normal(cov=shape).cdf([ndtri(p1), ndtri(p2)])
        n = 40_000
        assert joint - gaussian > 6 * np.sqrt(joint * (1 - joint) / n)  # the test can tell
    defaults = ipabs.simulate(validate(data)).pool_paths["licensee_defaults"].to_numpy()
    n = defaults.size
    both = np.mean(defaults == 2)
    se = np.sqrt(joint * (1 - joint) / n)
    assert abs(both - joint) < 4 * se, (both, joint, se)
    either = np.mean(defaults >= 1)
    expected = p1 + p2 - joint
    assert abs(either - expected) < 4 * np.sqrt(expected * (1 - expected) / n)


def test_defaults_fall_in_time_as_the_cumulative_probability_says():
    """Within one 5-year monthly deal (from the kernel's default periods): the count defaulted by
    1, 2, 3 and 4 years is finite-pool Vasicek at those dates' PDs, so defaults are spread over
    the deal as the hazard says, not bunched at its start or end."""
    names, pd, rho = 60, 0.04, 0.2
    scenario = validate(homogeneous("monthly", 5, names=names, pd=pd, loading=np.sqrt(rho)))
    dates = default_dates(scenario, 3000, seed=19)
    for years in (1, 2, 3, 4):
        cut = CLOSING.replace(year=CLOSING.year + years)
        counts = np.array([sum(d is not None and d <= cut for d in path) for path in dates])
        t = (cut - CLOSING).days / 365
        horizon_pd = float(cumulative_probability([pd], [t])[0, 0])
        pmf = finite_pool_vasicek_pmf(names, horizon_pd, rho)
        p_value = chi_square_p_value(np.bincount(counts, minlength=names + 1), pmf)
        assert p_value > P_VALUE_FLOOR, (years, p_value)


def economy_deal(**changes) -> dict:
    """Twelve licensees and rights on one factor, with income that moves with it."""
    data = homogeneous("quarterly", 5, names=12, paths=6000, seed=5, pd=0.05, loading=0.5)
    for asset in data["assets"]:
        asset.update(volatility=0.3, factor_loading=0.6)
    data.update(changes)
    return data


def test_bad_economy_paths_have_less_income_and_more_defaults():
    pool = ipabs.simulate(validate(economy_deal())).pool_paths
    factor = pool["systematic_factor"].to_numpy()
    worst = factor <= np.quantile(factor, 0.1)
    best = factor >= np.quantile(factor, 0.9)

    def gap(column: str) -> tuple[float, float]:
        x, y = pool[column].to_numpy()[best], pool[column].to_numpy()[worst]
        return x.mean() - y.mean(), np.sqrt(x.var() / x.size + y.var() / y.size)

    income_gap, income_se = gap("collections")
    default_gap, default_se = gap("licensee_defaults")
    assert income_gap > 6 * income_se  # the best decile collects more
    assert -default_gap > 6 * default_se  # and the worst decile has more defaults


def test_income_at_the_horizon_is_the_default_factor_exactly():
    """One right loaded fully on the factor (b = 1), no events, no default: its log level at the
    horizon is -sigma^2 H / 2 + sigma sqrt(H) M, with M the path's default factor, to rounding.
    The per-period shocks are a Brownian bridge to M, so they add up to it on every path."""
    sigma = 0.3
    data = homogeneous("monthly", 4, names=1, paths=300, seed=9, pd=0.0)
    data["assets"][0].update(volatility=sigma, factor_loading=1.0)
    data["simulation"]["sample_paths"] = 300
    sc = validate(data)
    deal = compile_scenario(sc)
    result = ipabs.simulate(sc)
    horizon = deal.t_years[-1]
    last = result.raw.sample_pool_income[:, -1] / (1e6 * deal.dt_years[-1])
    factor = result.pool_paths["systematic_factor"].to_numpy()
    expected = -0.5 * sigma**2 * horizon + sigma * np.sqrt(horizon) * factor
    np.testing.assert_allclose(np.log(last), expected, atol=1e-9)
    # and the factor itself is standard normal
    assert stats.kstest(factor, "norm").pvalue > P_VALUE_FLOOR


def test_period_income_shocks_stay_independent_standard_normal():
    """The bridge changes how the shocks are drawn, not their law: a right with b = 1 has
    log-level increments sigma sqrt(dt_k) e_k with e_k i.i.d. N(0, 1) across periods."""
    sigma = 0.2
    data = homogeneous("quarterly", 3, names=1, paths=4000, seed=21, pd=0.0)
    data["assets"][0].update(volatility=sigma, factor_loading=1.0)
    data["simulation"]["sample_paths"] = 4000
    sc = validate(data)
    deal = compile_scenario(sc)
    income = ipabs.simulate(sc).raw.sample_pool_income / (1e6 * deal.dt_years)
    log_level = np.log(income)
    steps = np.diff(np.concatenate([np.zeros((income.shape[0], 1)), log_level], axis=1), axis=1)
    shocks = (steps + 0.5 * sigma**2 * deal.dt_years) / (sigma * np.sqrt(deal.dt_years))
    for k in (0, 5, shocks.shape[1] - 1):
        assert stats.kstest(shocks[:, k], "norm").pvalue > P_VALUE_FLOOR, k
    correlation = np.corrcoef(shocks.T)
    off_diagonal = correlation[~np.eye(correlation.shape[0], dtype=bool)]
    # 132 pairs at 4,000 paths: each sample correlation has sd 1 / sqrt(4000) = 0.016
    assert np.max(np.abs(off_diagonal)) < 4.5 / np.sqrt(4000)


def test_higher_default_probability_never_lowers_senior_loss_on_any_path():
    """Common random numbers: a higher PD moves each name's default time earlier or leaves it,
    so every period's collections fall or stay, and so does what the senior class gets."""
    base = small_deal()
    base["simulation"] = {"paths": 3000, "seed": 17}
    losses, defaults = [], []
    for multiple in (1.0, 2.0, 4.0):
        data = small_deal(simulation=base["simulation"])
        for lic in data["licensees"]:
            lic["annual_default_probability"] *= multiple
        result = ipabs.simulate(validate(data))
        paths = result.paths
        losses.append(paths[paths.tranche == "A"]["principal_loss"].to_numpy())
        defaults.append(result.pool_paths["licensee_defaults"].to_numpy())
    for lower, higher in itertools.pairwise(losses):
        assert np.all(higher >= lower - 1e-6)
    for lower, higher in itertools.pairwise(defaults):
        assert np.all(higher >= lower)
    assert losses[-1].sum() > losses[0].sum()  # and the test deal does lose something


def test_higher_loading_raises_senior_loss_on_common_random_numbers():
    """Correlation is not monotone path by path (a name with a good factor draw and a bad
    idiosyncratic one defaults at a low loading and survives at a high one), but the senior
    class's expected loss and loss probability rise with it, measured on the same paths."""
    expected_loss, loss_probability = [], []
    for loading in (0.2, 0.45, 0.7):
        data = homogeneous("quarterly", 5, names=40, paths=6000, seed=23, pd=0.05, loading=loading)
        data["tranches"] = [
            {"name": "A", "balance": 1.4e8, "coupon": 0.03, "rank": 1},
            {"name": "sub", "balance": 3e7, "coupon": 0.0, "rank": 2},
        ]
        paths = ipabs.simulate(validate(data)).paths
        loss = paths[paths.tranche == "A"]["principal_loss"].to_numpy() / 1.4e8
        expected_loss.append(loss.mean())
        loss_probability.append(np.mean(loss > 0))
    assert expected_loss[0] < expected_loss[1] < expected_loss[2]
    assert loss_probability[0] < loss_probability[1] < loss_probability[2]


# --- the other names: borrowers, guarantors, credit-support providers, revolving vintages ---


def conditional_pd(horizon_pd: float, loading: float, m: float) -> float:
    return float(stats.norm.cdf((ndtri(horizon_pd) - loading * m) / np.sqrt(1 - loading**2)))


def test_cumulative_thresholds_and_the_search():
    t = np.array([0.25, 0.5, 1.0, 2.0])
    probability = cumulative_probability([0.1, 0.0, 1.0], t)
    np.testing.assert_allclose(probability[:, 0], 1 - 0.9**t, rtol=1e-14)
    assert np.all(probability[:, 1] == 0) and np.all(probability[:, 2] == 1)
    limit = thresholds(probability, 0)
    assert np.all(np.isneginf(limit[:, 1])) and np.all(np.isposinf(limit[:, 2]))
    for value in (-3.0, -1.5, -1.2816, -1.0, 0.0):
        expected = next((k for k in range(4) if value < limit[k, 0]), -1)
        assert default_period(value, limit, 0) == expected
    assert default_period(0.0, limit, 2) == 0  # PD = 1 defaults in the first period
    assert default_period(-40.0, limit, 1) == -1  # PD = 0 never
    # the same for the Student t copula (scipy's stdtrit(nu, 0) is +inf: mapped explicitly)
    t_limit = thresholds(probability, 3)
    assert np.all(np.isneginf(t_limit[:, 1])) and np.all(np.isposinf(t_limit[:, 2]))
    assert np.all(np.diff(t_limit[:, 0]) > 0)
    np.testing.assert_allclose(t_limit[:, 0], stats.t.ppf(probability[:, 0], 3), rtol=1e-10)
    curve = np.array([0.0, 0.0, 0.05, 0.05])  # a loan default curve starting with zero years
    curve_limit = thresholds(curve, 3)
    assert np.all(curve_limit[1:] >= curve_limit[:-1])
    assert np.isneginf(curve_limit[0]) and np.isfinite(curve_limit[2])


def provider_deal() -> dict:
    data = small_deal()
    data["deal"]["payment_frequency"] = "monthly"
    data["credit_support"] = [
        {
            "kind": "differential_payment",
            "provider": "sponsor",
            "covers": ["A"],
            "provider_default_probability": 0.06,
            "factor": "tech",
            "factor_loading": 0.6,
        }
    ]
    return data


def test_a_provider_defaults_with_its_conditional_horizon_probability():
    """Given the path's factor M, the provider's default by the horizon is Bernoulli with
    Phi((F^-1(P(H)) - a M) / sqrt(1 - a^2)): checked at three values of M."""
    deal = compile_scenario(validate(provider_deal()))
    horizon_pd = float(cumulative_probability([0.06], deal.t_years[-1:])[0, 0])
    state = np.empty(4, np.uint64)
    out = np.empty(1, np.int64)
    n = 20_000
    for m in (-2.0, 0.0, 1.5):
        economy = np.array([m, 0.0, 1.0, 1.0])  # tech, media, the copula's scale, the weight
        hits = 0
        for p in range(n):
            seed_stream(state, 5, p)
            provider_default_periods(state, deal.support, economy, out)
            hits += out[0] < deal.n_periods
        expected = conditional_pd(horizon_pd, 0.6, m)
        assert abs(hits / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-12, m


def test_a_revolving_vintage_defaults_with_its_conditional_probability_from_purchase():
    """Vintage v, bought at t_v, defaults by t_k with Phi((F^-1(1 - (1 - PD)^(t_k - t_v)) - a M)
    / sqrt(1 - a^2)) given M: checked on a unit vintage for two purchase dates."""
    t = np.linspace(1 / 12, 3.0, 36)
    n_vintages, pd, loading = 12, 0.08, 0.5
    age = t[:, None] - t[None, :n_vintages]
    cumulative = cumulative_probability([pd], age.ravel()).reshape(age.shape)
    threshold = np.where(age > 0, thresholds(cumulative, 0), -np.inf)
    rv = RevolvingArrays(
        n_vintages, 0.06, 240, 0, np.ascontiguousarray(threshold), np.zeros(36), 0.5, 0, 0,
        loading, np.sqrt(1 - loading**2), 12, np.full(36, 1 / 12),
    )  # fmt: skip
    shape = (n_vintages, 36)
    cash, defaulted, loss, performing = (np.zeros(shape) for _ in range(4))
    default_at = np.empty(n_vintages, np.int64)
    state = np.empty(4, np.uint64)
    period_state = np.empty(4, np.uint64)
    m = -1.0
    economy = np.array([m, 1.0, 1.0])
    n = 20_000
    hits = np.zeros(n_vintages)
    for p in range(n):
        seed_stream(state, 8, p)
        seed_stream(period_state, 9, p)
        simulate_vintages_path(
            period_state, state, rv, economy, default_at, cash, defaulted, loss, performing,
        )  # fmt: skip
        hits += defaulted.sum(axis=1) > 0
    for v in (0, 11):
        expected = conditional_pd(1 - (1 - pd) ** (t[-1] - t[v]), loading, m)
        assert abs(hits[v] / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n), v


def loan_pool(frequency: str, *, loans: int = 150, paths: int = 3000) -> dict:
    data = homogeneous(frequency, 5, names=1, paths=paths, seed=31)
    data["loans"] = [
        {
            "id": f"N{i}",
            "balance": 1e6,
            "rate": 0.05,
            "term_years": 8,
            "amortisation": "interest_only",
            "annual_default_probability": 0.04,
            "factor_loading": np.sqrt(0.25),
            "collateral_value": 5e5,
        }
        for i in range(loans)
    ]
    data["tranches"] = [
        {"name": "A", "balance": 1.2e8, "coupon": 0.03, "rank": 1},
        {"name": "sub", "balance": 3e7, "coupon": 0.0, "rank": 2},
    ]
    return data


def test_loan_default_count_is_finite_pool_vasicek_and_frequency_free():
    counts = {}
    for frequency in ("annual", "monthly"):
        data = loan_pool(frequency)
        result = ipabs.simulate(validate(data))
        counts[frequency] = result.pool_paths["loan_defaults"].to_numpy().astype(int)
    np.testing.assert_array_equal(counts["annual"], counts["monthly"])
    horizon_pd = float(cumulative_probability([0.04], [horizon_years(loan_pool("annual"))])[0, 0])
    pmf = finite_pool_vasicek_pmf(150, horizon_pd, 0.25)
    observed = np.bincount(counts["annual"], minlength=151)
    assert chi_square_p_value(observed, pmf) > P_VALUE_FLOOR


def default_dates(scenario, paths: int, seed: int) -> list[list[dt.date | None]]:
    """Each licensee's default date (the payment date of its default period) on each path, from
    the pool kernel itself."""

    deal = compile_scenario(scenario)
    pool = deal.pool
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    dates = payment_dates(scenario.deal)
    state, latent_state = np.empty(4, np.uint64), np.empty(4, np.uint64)

    scratch = dict(
        collections=np.empty(n_periods),
        lost=np.empty(n_periods),
        default_period=np.empty(n_licensees, np.int64),
        path_normals=np.empty(n_factors + pool.copula_dof + n_licensees),
        shocks=np.empty(n_factors + n_assets),
        event_target=np.empty(n_assets),
        bridge=np.empty(n_factors),
        factor_z=np.empty(n_factors),
        log_level=np.empty(n_assets),
        level=np.empty(n_assets),
        alive=np.empty(n_assets, np.bool_),
        costs=np.empty(n_periods),
        economy=np.ones(n_factors + 2),
    )
    out = []
    for p in range(paths):
        seed_stream(state, seed, p)
        seed_latent_stream(latent_state, seed, p)
        simulate_pool_path(
            state, latent_state, pool, *scratch.values(), False, np.zeros((n_periods, n_assets)),
            np.zeros((n_periods, n_assets), np.bool_),
        )  # fmt: skip
        out.append([dates[k] if k >= 0 else None for k in scratch["default_period"]])
    return out


def test_the_flagship_defaults_on_the_same_dates_monthly_and_quarterly():
    """The flagship deal run monthly and quarterly: on every path each licensee that defaults
    monthly on date d defaults quarterly on the first quarterly date on or after d, and one that
    survives monthly survives quarterly. So the default distribution at every quarterly date is
    the same, path by path, not only within Monte Carlo error."""

    data = read_toml(FLAGSHIP)
    assert data["deal"]["payment_frequency"] == "quarterly"
    quarterly = validate(data, base_dir=FLAGSHIP.parent)
    data["deal"]["payment_frequency"] = "monthly"
    monthly = validate(data, base_dir=FLAGSHIP.parent)
    q_dates = default_dates(quarterly, 400, seed=4)
    m_dates = default_dates(monthly, 400, seed=4)

    quarter_ends = payment_dates(quarterly.deal)
    assert set(quarter_ends) <= set(payment_dates(monthly.deal))
    defaults = 0
    for q_path, m_path in zip(q_dates, m_dates, strict=True):
        for q, m in zip(q_path, m_path, strict=True):
            if m is None:
                assert q is None
            else:
                defaults += 1
                assert q == next(d for d in quarter_ends if d >= m)
    assert defaults > 100  # the comparison saw defaults


def test_a_correlation_stress_keeps_the_paths_economy_and_widens_the_default_tail():
    """The stress preset raises every loading on common random numbers: each path keeps its
    economy M and every name its latent draw, and the default count spreads out."""
    from ipabs.stress.presets import correlation_increase

    base = validate(homogeneous("quarterly", 5, names=100, paths=4000, seed=13))
    stressed = correlation_increase(base, 0.2)
    a = ipabs.simulate(base).pool_paths
    b = ipabs.simulate(stressed).pool_paths
    np.testing.assert_array_equal(a["systematic_factor"], b["systematic_factor"])
    x, y = a["licensee_defaults"].to_numpy(), b["licensee_defaults"].to_numpy()
    # rho 0.2 -> 0.4 at a horizon PD of 14%: the finite-pool sd goes from 11.1 to 16.1 names
    assert y.std() > 1.25 * x.std()
    assert abs(y.mean() - x.mean()) < 4 * np.sqrt(x.var() / x.size + y.var() / y.size)
    # on paths with a bad economy the stressed pool defaults more, on good ones less
    bad, good = a["systematic_factor"] < -1.5, a["systematic_factor"] > 1.5
    assert y[bad].mean() > x[bad].mean() and y[good].mean() < x[good].mean()
