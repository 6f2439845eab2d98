"""Pool kernel: one path of licence income, IP events, licensee defaults and recoveries.

Equations in docs/model.md, section 3. Per path, first:
    m ~ N(0, I_F), M = R m                       the systematic factors at the horizon H = t_K
    S = 1, or sqrt(nu / chi2_nu) for the Student t copula (one draw per path)
    A_l = S (a_l M_f(l) + sqrt(1 - a_l^2) eps_l) licensee l defaults in the first period k with
                                                 A_l < F^-1(P_l(t_k)) (ipabs.pool.default_times)
then per period k:
    e_k = the increment of the Brownian bridge from 0 to m over [t_k-1, t_k], standardised, so
          that sum_k sqrt(dt_k / H) e_k = m: the income shocks and the default factors are the
          same economy (e_k is still N(0, I_F), independent over periods)
    Z_k = R e_k
    X_ik = b_i Z_f(i),k + sqrt(1 - b_i^2) e_ik
    log L_ik = log L_i,k-1 + G_i(t_k) - G_i(t_k-1) - s_i^2 dt_k / 2 + s_i sqrt(dt_k) X_ik
               (X_ik one fused multiply-add, the increment another, then added: docs/model.md 3.3)
    an obsolescence jump, an invalidation or a lapse (competing hazards) in the first period
    whose survival S_ik falls to or below the asset's event uniform (times the survival at its
    last jump), of a kind set by a second uniform; one uniform at a renewal date decides it
    due_ik = base_i * L_ik * dt_k * live_share_ik (the royalty), or with minimum guarantees
    max(MG_ik, royalty) or MG_ik + royalty, collected lag_i periods later; after the
    licensee's default only the recovery in the default period, and, for a right that is licensed
    again, share_i * royalty_ik from the re-licensing lag on
Draws: F (+ nu) + L normals per path from the path's latent stream; per period, from its period
stream, F + A normals in one batch, then one uniform per renewal date, whether or not anything
has defaulted or lapsed; each asset's event uniforms are addressed by (path, asset, event), read
from a SplitMix64 sequence keyed by the path (docs/model.md, 2). So a path keeps its random
numbers under any change of parameters that keeps the calendar (common random numbers), and the
economy and the licensees' latents do not depend on the calendar at all.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ipabs.engine.exp import exp1, exp_into
from ipabs.engine.fma import fma
from ipabs.engine.rng import (
    EVENT_ASSET_SHIFT,
    SHOCK_LANES,
    addressed_uniform,
    draw_block,
    event_key,
    lane_normals,
    seed_shock_lanes,
    uniform,
)
from ipabs.pool.default_times import default_period as first_default_period

#: the period normals are drawn for as many whole periods as fill about this many at a time
CHUNK_NORMALS = 1024


@njit(cache=True, inline="always")
def _greater(a, b):
    """max(a, b) as Python and Numba's CPU target take it (b only if b > a): the CUDA target
    lowers the builtin to fmax, which returns the operand that is not NaN (and Numba's generic
    max does not compile there), so `pool_path` writes it out to mean the same on both."""
    return b if b > a else a


@njit(cache=True, inline="always")
def _lesser(a, b):
    """min(a, b) as Python and Numba's CPU target take it (b only if b < a)."""
    return b if b < a else a


@njit(cache=True, inline="always")
def _owed(pool, k, i, royalty, share):
    """What licence i owes in period k: the royalty, or with minimum guarantees max(MG, royalty)
    or MG + royalty (docs/model.md, 3.11)."""
    if not pool.has_minimum:
        return royalty
    minimum = pool.asset_minimum[k, i] * share
    greater = _greater(minimum, royalty)
    return greater if pool.minimum_greater_of[i] else minimum + royalty


@njit(cache=True, inline="always")
def _paid_after_default(pool, k, i, defaulted_in, due, royalty):
    """What licence i pays in period k >= its licensee's default period (due != 0): the recovery
    in the default period, then nothing, or a share of the royalty (not the old minimum) once the
    right is licensed again."""
    if defaulted_in == k:
        return pool.licensee_recovery[pool.asset_licensee[i]] * due
    relicensed = pool.asset_relicense_lag[i]
    if relicensed >= 0 and k >= defaulted_in + relicensed:
        return pool.asset_relicense_share[i] * royalty
    return 0.0


@njit(cache=True)
def padded_assets(n_assets):
    """The length of the log-level and level arrays for `n_assets` assets: a multiple of 8, so
    that `exp_into` over the array runs in whole vectors (4 doubles wide here, 8 with AVX-512
    vectors) and leaves no scalar remainder; the padding's log level stays 0 and its level 1,
    never read."""
    return -(-n_assets // 8) * 8


@njit(cache=True)
def _chunk_periods(n_draws):
    """The periods whose F + A normals are drawn at a time: as many as fill about CHUNK_NORMALS,
    at least one (written without max(): the CUDA target compiles `pool_path` too)."""
    periods = CHUNK_NORMALS // n_draws if n_draws > 0 else CHUNK_NORMALS
    return periods if periods > 1 else 1


@njit(cache=True)
def _chunk_length(pool):
    """The normals drawn at a time (whole periods of F + A)."""
    n_draws = pool.factor_chol.shape[0] + pool.asset_income_weight.shape[1]
    return _chunk_periods(n_draws) * n_draws


def pool_work_shapes(pool) -> tuple:
    """The shapes and dtypes of `pool_path`'s work arrays, in the order of `new_pool_work`."""
    n_assets = pool.asset_income_weight.shape[1]
    chunk = _chunk_length(pool)
    return (
        ((n_assets,), np.int64),  # each asset's licensee's default period (n_periods: none)
        ((n_assets,), np.int64),  # each asset's count of events so far
        ((n_assets,), np.float64),  # the period's share of income each asset keeps
        ((n_assets,), np.float64),  # what each asset is owed in the period
        ((n_assets,), np.float64),  # and what it pays
        ((4, SHOCK_LANES), np.uint64),  # the shock lanes' states
        ((chunk,), np.float64),  # a chunk of the periods' normals
        ((chunk,), np.uint64),  # and the lanes' words it is drawn from
        ((chunk,), np.int64),  # the places of the words outside the ziggurat's boxes
    )


@njit(cache=True)
def new_pool_work(pool):
    """`pool_path`'s work arrays for one path at a time (`pool_work_shapes`)."""
    n_assets = pool.asset_income_weight.shape[1]
    chunk = _chunk_length(pool)
    return (
        np.empty(n_assets, np.int64),
        np.empty(n_assets, np.int64),
        np.empty(n_assets),
        np.empty(n_assets),
        np.empty(n_assets),
        np.empty((4, SHOCK_LANES), np.uint64),
        np.empty(chunk),
        np.empty(chunk, np.uint64),
        np.empty(chunk, np.int64),
    )


@njit(cache=True, error_model="numpy")
def simulate_pool_path(
    state, latent_state, pool, collections, lost_income, default_period, path_normals, shocks, event_target, bridge,
    factor_z, log_level, level, alive, costs, economy, record, level_path, alive_path,
):  # fmt: skip
    """Simulate one path into `collections[k]` (net of pre-paid annuities) and `lost_income[k]`
    (income due but not collected because its licensee defaulted, net of recovery). The path's
    economy and the licensees' latents come from `latent_state`, the period draws from `state`.
    `default_period[l]` gets the period of licensee l's default, or -1, and `economy` the path's
    horizon factors M_0 .. M_F-1, the t copula's scale S (1 for the Gaussian copula), which the
    other names' default times read, then the path's likelihood-ratio weight (1 without
    importance sampling). The other arrays are scratch (`path_normals` holds
    F + nu + L normals, `shocks` F (or more), `event_target` A (each asset's next event's survival
    level), `bridge` F, `log_level` A or more (the engine gives `padded_assets(A)`) and `level`
    as long as `log_level` (an exponential is written for each) values; `error_model="numpy"`
    lets LLVM vectorise the exponentials). With `record`, each asset's log level and status per
    period are kept (for the loan kernel, which values pledged
    IP at default, and for a trust's IP value).
    Returns (defaults, IP rights lost, annuities paid, income collected after legal final)."""
    return pool_path(
        state, latent_state, pool, collections, lost_income, default_period, path_normals, shocks, event_target,
        bridge, factor_z, log_level, level, alive, costs, economy, record, level_path, alive_path,
        new_pool_work(pool),
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def pool_path(
    state, latent_state, pool, collections, lost_income, default_period, path_normals, shocks, event_target, bridge,
    factor_z, log_level, level, alive, costs, economy, record, level_path, alive_path, work,
):  # fmt: skip
    """`simulate_pool_path` with its work arrays given (`new_pool_work`), so that it allocates
    nothing: the same code compiles for a CUDA device (ipabs.pool.device), one path a thread."""
    asset_default, event_count, shares, dues, paid, lanes, chunk_normals, chunk_words, places = work
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    dof = pool.copula_dof
    for i in range(log_level.shape[0]):  # (the padding too: its exponentials are taken)
        log_level[i] = 0.0
    for i in range(n_assets):
        alive[i] = True
    for j in range(n_licensees):
        default_period[j] = -1
    for k in range(n_periods):
        collections[k] = 0.0
        lost_income[k] = 0.0
        costs[k] = 0.0
    n_defaults = 0
    rights_lost = 0
    after_final = 0.0
    first_licensee = n_factors + dof
    # the path's economy and every licensee's default time, drawn once; under importance sampling
    # the horizon factors are m + shift and the path carries the likelihood ratio
    events_key = event_key(latent_state)  # before the latent stream draws
    draw_block(latent_state, path_normals, event_target[:0])
    log_weight = 0.0
    for g in range(n_factors):
        shift = pool.factor_shift[g]
        if shift != 0.0:
            path_normals[g] += shift
            log_weight += shift * (0.5 * shift - path_normals[g])
    economy[n_factors + 1] = math.exp(log_weight)
    for f in range(n_factors):
        z = 0.0
        for g in range(n_factors):
            z += pool.factor_chol[f, g] * path_normals[g]
        economy[f] = z
        bridge[f] = 0.0
    scale = 1.0
    if dof > 0:
        chi2 = 0.0
        for m in range(n_factors, first_licensee):
            chi2 += path_normals[m] * path_normals[m]
        scale = math.sqrt(dof / chi2)
    economy[n_factors] = scale
    for j in range(n_licensees):
        latent = scale * (
            pool.licensee_loading[j] * economy[pool.licensee_factor[j]]
            + pool.licensee_idiosyncratic[j] * path_normals[first_licensee + j]
        )
        default_period[j] = first_default_period(latent, pool.licensee_threshold, j)
        if default_period[j] >= 0:
            n_defaults += 1
    # each asset's licensee's default period (n_periods: none on this path), and the period's
    # scratch: each asset's income share and what it is owed
    first_default = n_periods
    lag_free = True
    # each asset's first event: in the first period k whose survival S_k falls to or below a
    # uniform U_i (P = S_k-1 - S_k, the per-period law); after an obsolescence jump in period j,
    # the next in the first k > j with S_k <= U' S_j
    for i in range(n_assets):
        event_count[i] = 0
        event_target[i] = addressed_uniform(events_key, np.uint64(i) << EVENT_ASSET_SHIFT)
    for i in range(n_assets):
        # a pledged asset has no licensee (-1): its income is the loan's, never a licence's
        j = pool.asset_licensee[i]
        defaulted_in = default_period[j] if j >= 0 else -1
        asset_default[i] = defaulted_in if defaulted_in >= 0 else n_periods
        if asset_default[i] < first_default:  # (no min(): the CUDA target lacks integer min)
            first_default = asset_default[i]
        lag_free = lag_free and pool.asset_lag[i] == 0
    # the periods' normals (the factors' bridge, then the assets) from the path's shock lanes,
    # a chunk of whole periods at a time (docs/model.md, 2)
    n_draws = n_factors + n_assets
    chunk = _chunk_periods(n_draws)  # whole periods (the draws' order depends on it, not on the
    # length of the work arrays)
    seed_shock_lanes(lanes, state)
    for k in range(n_periods):
        at = (k % chunk) * n_draws
        if at == 0:
            m = (chunk if k + chunk <= n_periods else n_periods - k) * n_draws
            lane_normals(lanes, state, chunk_words[:m], chunk_normals[:m], places)
        for j in range(n_factors):
            shocks[j] = chunk_normals[at + j]
        # the assets' normals, read where they were drawn (a view: with an offset index, Numba's
        # negative-index wraparound would turn the loop's loads into gathers)
        asset_normals = chunk_normals[at + n_factors : at + n_draws]
        drift = pool.bridge_drift[k]
        vol = pool.bridge_vol[k]
        to_shock = pool.bridge_to_shock[k]
        for g in range(n_factors):
            step = drift * (path_normals[g] - bridge[g]) + vol * shocks[g]
            bridge[g] += step
            shocks[g] = step * to_shock  # e_k, the period's independent standard shock
        for f in range(n_factors):
            z = 0.0
            for g in range(n_factors):
                z += pool.factor_chol[f, g] * shocks[g]
            factor_z[f] = z
        # period totals in registers: array updates inside the asset loop would chain every
        # asset through memory
        period_cost = 0.0
        period_lost = 0.0
        collected_now = 0.0
        # every asset's log level, then every level, in loops LLVM vectorises (ipabs.engine.exp)
        # (each asset's factor gathered first: the gather would keep the update from vectorising)
        # (through an unsigned index, which Numba does not wrap around as it wraps a signed one)
        for i in range(n_assets):
            dues[i] = factor_z[np.uint64(pool.asset_factor[i])]
        # (fused multiply-adds, ipabs.engine.fma: one instruction and one rounding for a b + c)
        for i in range(n_assets):
            x = fma(pool.asset_loading[i], dues[i], pool.asset_idiosyncratic[i] * asset_normals[i])
            log_level[i] += fma(pool.asset_log_vol[k, i], x, pool.asset_log_drift[k, i])
        exp_into(log_level, level)
        # `shares[i]`: the share of the period's income and fees asset i keeps (1 alive, 0 dead,
        # the part up to the expiry date if not renewed). Most periods have no event and no
        # renewal date: count them in a loop LLVM vectorises, and walk the assets one by one, in
        # asset order, only if there is one (a renewal date draws its uniform whether or not the
        # right is alive) or the path is recorded
        events = 0
        renewals = pool.period_renewals[k]  # (the same on every path)
        flagged = 0  # with one event and no renewal date, the asset it falls on
        for i in range(n_assets):
            alive_now = alive[i]
            shares[i] = 1.0 if alive_now else 0.0
            event = alive_now & (pool.asset_survival[k, i] <= event_target[i])
            events += event
            flagged += i * event
        # the walk: every asset if the path is recorded or the period has a renewal date (whose
        # uniforms are drawn in asset order), else the assets with an event; for one, only it
        # (the others' shares are set above, and the walk would leave them as they are)
        first, stop = 0, 0
        if record or renewals > 0 or events > 1:
            first, stop = 0, n_assets
        elif events == 1:
            first, stop = flagged, flagged + 1
        for i in range(first, stop):
            renewal_share = pool.asset_renewal_share[k, i]
            if not alive[i]:
                shares[i] = 0.0
                if renewal_share >= 0.0:
                    uniform(state)
                if record:
                    alive_path[k, i] = False
                continue
            share = 1.0
            survival = pool.asset_survival[k, i]
            if renewal_share >= 0.0 or survival <= event_target[i]:
                r = uniform(state) if renewal_share >= 0.0 else 0.0
                if survival <= event_target[i]:
                    # the event's kind from its own addressed uniform, then the next event's
                    n = event_count[i]
                    event_count[i] = n + 1
                    at = (np.uint64(i) << EVENT_ASSET_SHIFT) + np.uint64(2 * n)
                    if (
                        addressed_uniform(events_key, at + np.uint64(1))
                        < pool.asset_obsolescence_cut[i]
                    ):
                        log_level[i] += pool.asset_log_keep[i]
                        level[i] = exp1(log_level[i])
                        event_target[i] = (
                            addressed_uniform(events_key, at + np.uint64(2)) * survival
                        )
                    else:  # invalidated or lapsed: no income from this period on
                        alive[i] = False
                        rights_lost += 1
                        share = 0.0
                if alive[i] and renewal_share >= 0.0 and r >= pool.asset_renewal_prob[i]:
                    alive[i] = False  # not renewed: income up to the expiry date only
                    rights_lost += 1
                    share = renewal_share
            shares[i] = share
            if record:
                level_path[k, i] = log_level[i]
                alive_path[k, i] = alive[i]
        if lag_free:
            # no collection lag: what each licence owes and pays, and the period's sums in asset
            # order, in one loop (its additions are a chain; the rest fits beside it)
            for i in range(n_assets):
                share = shares[i]
                royalty = (pool.asset_income_weight[k, i] * share) * level[i]
                due = _owed(pool, k, i, royalty, share)
                period_cost += pool.asset_annuity_cost[k, i] * share
                defaulted_in = asset_default[i]
                if k < defaulted_in:
                    collected_now += due
                    continue
                collected = 0.0
                if due != 0.0:
                    collected = _paid_after_default(pool, k, i, defaulted_in, due, royalty)
                    period_lost += due - collected
                collected_now += collected
            collections[k] += collected_now
            lost_income[k] = period_lost
            costs[k] = period_cost
            continue
        # with a collection lag: what each licence owes and, while its licensee stands, pays, in
        # loops LLVM vectorises (the minimum guarantees' test outside the loop: inside it, LLVM
        # reads the guarantees' arrays with masked loads, even for a deal that has none, and in
        # a similar loop they held about 40% of the kernel's samples; benchmarks/README.md)
        if pool.has_minimum:
            for i in range(n_assets):
                royalty = (pool.asset_income_weight[k, i] * shares[i]) * level[i]
                dues[i] = _owed(pool, k, i, royalty, shares[i])
        else:
            for i in range(n_assets):
                dues[i] = (pool.asset_income_weight[k, i] * shares[i]) * level[i]
        for i in range(n_assets):
            paid[i] = dues[i] if k < asset_default[i] else 0.0
        # the licences whose licensee has defaulted
        for i in range(n_assets if k >= first_default else 0):
            defaulted_in = asset_default[i]
            due = dues[i]
            if k < defaulted_in or due == 0.0:
                continue
            royalty = (pool.asset_income_weight[k, i] * shares[i]) * level[i]
            collected = _paid_after_default(pool, k, i, defaulted_in, due, royalty)
            paid[i] = collected
            period_lost += due - collected
        # the period's totals, each a sum in asset order (so the same bits whatever the loops'
        # shape, and as the loop above for a deal without a lag); a lagged licence's payment
        # goes to its later period
        for i in range(n_assets):
            period_cost += pool.asset_annuity_cost[k, i] * shares[i]
            lag = pool.asset_lag[i]
            if lag == 0:
                collected_now += paid[i]
            elif k + lag < n_periods:
                collections[k + lag] += paid[i]
            else:
                after_final += paid[i]
        collections[k] += collected_now
        lost_income[k] = period_lost
        costs[k] = period_cost
    annuities = 0.0
    for k in range(n_periods):
        paid = _lesser(collections[k], costs[k])
        collections[k] -= paid
        annuities += paid
    return n_defaults, rights_lost, annuities, after_final
