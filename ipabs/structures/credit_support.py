"""Credit support providers (differential payment undertakings): when does each one default?

A provider defaults in the first period k with S_k (a Z_f,k + sqrt(1 - a^2) e_k) < F^-1(q_k), the
same one-factor copula as licensees and borrowers (docs/model.md, 3.2), on the path's recorded
factor shocks. One normal per provider and period, drawn after the pool and the loans.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import ndtri, stdtrit

from ipabs.engine.rng import normal
from ipabs.scenario.model import Scenario


class SupportArrays(NamedTuple):
    threshold: np.ndarray  # (K, P) default threshold of each provider
    factor: np.ndarray  # (P,) int
    loading: np.ndarray  # (P,)
    idiosyncratic: np.ndarray  # (P,)


def compile_support(sc: Scenario, dt_years: np.ndarray) -> SupportArrays:
    dof = sc.factors.degrees_of_freedom if sc.factors.copula == "student_t" else 0
    pd_annual = np.array(
        [s.provider_default_probability for s in sc.credit_support], dtype=float
    ).reshape(1, -1)
    with np.errstate(divide="ignore"):  # PD = 1: log(0) = -inf, q = 1
        q = -np.expm1(np.log1p(-pd_annual) * dt_years[:, None])
    loading = np.array([s.factor_loading for s in sc.credit_support], dtype=float)
    return SupportArrays(
        threshold=np.ascontiguousarray(stdtrit(dof, q) if dof else ndtri(q)),
        factor=np.array([sc.factor_index(s.factor) for s in sc.credit_support], dtype=np.int64),
        loading=loading,
        idiosyncratic=np.sqrt(1.0 - loading**2),
    )


@njit(cache=True)
def provider_default_periods(state, support, factor_path, scale_path, out):
    """out[p] = the period provider p defaults in, or the number of periods if it never does."""
    n_periods, n_providers = support.threshold.shape
    for p in range(n_providers):
        out[p] = n_periods
    for k in range(n_periods):
        for p in range(n_providers):
            e = normal(state)
            if out[p] == n_periods:
                latent = (
                    support.loading[p] * factor_path[k, support.factor[p]]
                    + support.idiosyncratic[p] * e
                )
                if scale_path[k] * latent < support.threshold[k, p]:
                    out[p] = k
