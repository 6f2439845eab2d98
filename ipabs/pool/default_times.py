"""Default times from a copula at each name's horizon (Li, "On default correlation: a copula
function approach", J. Fixed Income 2000; docs/model.md, 3.2).

Every name that can default (licensee, borrower, guarantor, credit-support provider, revolving
vintage) draws one latent per path,
    A = S (a M_f + sqrt(1 - a^2) eps),
with M the path's systematic factors at the deal's horizon (the same random quantities that move
licence income, see `ipabs.pool.kernels`), S = 1 (Gaussian) or sqrt(nu / W), W ~ chi2_nu
(Student t), and defaults in the first period k with
    A < F^-1(P(t_k)),
P(t) its cumulative default probability from its start. So the default count of a homogeneous
pool at every payment date follows the (finite-pool) Vasicek law with that date's PD, whatever
the payment frequency, and a name's default time does not depend on how the calendar is cut.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import ndtri, stdtrit


def cumulative_probability(annual: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """P(t_k) = 1 - (1 - PD)^t_k for each annual PD (constant hazard): shape (K, N) for (N,) PDs.
    Computed from t_k itself, not summed over periods, so that a date gives the same threshold
    bit for bit whatever the payment frequency."""
    annual = np.asarray(annual, float).reshape(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):  # PD = 1: log(0) = -inf, P = 1
        log_survival = np.log1p(-annual) * np.asarray(t_years, float)[:, None]
        return np.where(annual >= 1.0, 1.0, -np.expm1(log_survival))


def thresholds(probability: np.ndarray, dof: int) -> np.ndarray:
    """F^-1(P): the Gaussian or Student t quantile of cumulative default probabilities, -inf where
    P = 0 and +inf where P = 1, set explicitly (scipy's stdtrit(nu, 0) is +inf, not -inf), so the
    kernels' comparisons stay exact and the thresholds rise with P."""
    probability = np.asarray(probability, float)
    with np.errstate(invalid="ignore"):
        quantile = stdtrit(dof, probability) if dof else ndtri(probability)
    quantile = np.where(probability <= 0.0, -np.inf, np.where(probability >= 1.0, np.inf, quantile))
    return np.ascontiguousarray(quantile)


@njit(cache=True, inline="always")
def latent(economy, factor, loading, idiosyncratic, eps):
    """S (a M_f + sqrt(1 - a^2) eps); `economy` holds M_0 .. M_{F-1}, S, then the path's weight."""
    n_factors = economy.shape[0] - 2
    return economy[n_factors] * (loading * economy[factor] + idiosyncratic * eps)


@njit(cache=True)
def default_period(value, threshold, j):
    """The first period k with value < threshold[k, j] (thresholds rise with k), or -1 if none:
    a binary search, as the thresholds are cumulative."""
    n = threshold.shape[0]
    if n == 0 or not value < threshold[n - 1, j]:
        return -1
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if value < threshold[mid, j]:
            hi = mid
        else:
            lo = mid + 1
    return lo
