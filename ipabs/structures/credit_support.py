"""Credit support providers (differential payment undertakings): when does each one default?

A provider draws one latent per path, A = S (a M_f + sqrt(1 - a^2) eps), on the path's horizon
factors, and defaults in the first period k with A < F^-1(P(t_k)): the same default-time copula
as licensees and borrowers (docs/model.md, 3.2 and 4.4). One normal per provider and path, from the
path's latent stream after the pool's and the loans'.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ipabs.engine.rng import normal
from ipabs.pool.default_times import cumulative_probability, default_period, latent, thresholds
from ipabs.scenario.model import Scenario


class SupportArrays(NamedTuple):
    threshold: np.ndarray  # (K, P) cumulative default threshold F^-1(P(t_k)) of each provider
    factor: np.ndarray  # (P,) int
    loading: np.ndarray  # (P,)
    idiosyncratic: np.ndarray  # (P,)


def compile_support(sc: Scenario, t_years: np.ndarray) -> SupportArrays:
    dof = sc.factors.degrees_of_freedom if sc.factors.copula == "student_t" else 0
    pd_annual = np.array([s.provider_default_probability for s in sc.credit_support], dtype=float)
    loading = np.array([s.factor_loading for s in sc.credit_support], dtype=float)
    return SupportArrays(
        threshold=thresholds(cumulative_probability(pd_annual, t_years), dof),
        factor=np.array([sc.factor_index(s.factor) for s in sc.credit_support], dtype=np.int64),
        loading=loading,
        idiosyncratic=np.sqrt(1.0 - loading**2),
    )


@njit(cache=True)
def provider_default_periods(latent_state, support, economy, out):
    """out[p] = the period provider p defaults in, or the number of periods if it never does."""
    n_periods, n_providers = support.threshold.shape
    for p in range(n_providers):
        a = latent(
            economy,
            support.factor[p],
            support.loading[p],
            support.idiosyncratic[p],
            normal(latent_state),
        )
        k = default_period(a, support.threshold, p)
        out[p] = n_periods if k < 0 else k
