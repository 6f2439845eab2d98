"""Run a compiled deal over blocks of paths, in parallel and deterministically.

Paths are cut into blocks of `block_size` (smaller where a thread would get fewer than 8:
`scheduled_block_size`); a pool of Python threads runs the blocks through
`_run_blocks`, a Numba kernel that releases the GIL (`nogil`). Path p's
random stream is keyed by (seed, p) alone (see `ipabs.engine.rng`) and every per-path result is
written to row p, so the numbers are the same for any thread count, block size or block order.
Memory is O(paths x tranches) for per-path metrics plus O(sample_paths x periods x tranches) for
the bands and the cash-flow statement: it never grows with paths x periods x assets.

A `PoolCache` keeps a run's pool stage (collections, income lost, loan series, credit-support
provider defaults, per path) so that a run of the same pool under another capital structure
replays it instead of simulating it again: `ipabs size` changes only tranche balances, and the
pool takes about three quarters of the time. The cache is keyed by a fingerprint of every
array the pool stage reads, the path count and the seed, so it is replayed only where it would
give the same numbers; IP trusts and revolving deals, whose pool stage depends on the structure's
purchases or values the IP per period, are not cached.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit

from ipabs._kernel_cache import is_compiled, notice_compiling
from ipabs.engine import warm
from ipabs.engine.borrow import borrowed as _borrowed
from ipabs.engine.compile import CompiledDeal
from ipabs.engine.metrics import tranche_path_metrics
from ipabs.engine.rng import seed_latent_stream, seed_stream
from ipabs.pool.kernels import new_pool_work, padded_assets, pool_path
from ipabs.pool.loan_kernel import N_LOAN_TOTALS, simulate_loans_path
from ipabs.structures.collateral import collateral_values
from ipabs.structures.credit_support import provider_default_periods
from ipabs.structures.revolving import simulate_vintages_path
from ipabs.structures.trust import ip_values
from ipabs.structures.waterfall import (
    S_ACCELERATED,
    S_TRIGGERED,
    has_triggers,
    new_out,
    pay_waterfall,
)

TRANCHE_FIELDS = (
    "principal_loss",
    "unpaid_interest",
    "interest_received",
    "principal_received",
    "residual_received",
    "wal_years",
    "irr",
    "pv",
    "pv_time",
    "max_shortfall",
    "capital_years",
    "credit_support_received",
)
POOL_FIELDS = (
    "collections",
    "lost_income",
    "systematic_factor",
    "licensee_defaults",
    "ip_rights_lost",
    "annuity_fees_paid",
    "income_after_legal_final",
    "collections_after_call",
    "fees_paid",
    "performance_fee",
    "reserve_draw",
    "reserve_release",
    "reserve_topup",
    "holdback_in",
    "holdback_drawn",
    "holdback_released",
    "residual",
    "credit_support_paid",
    "liquidity_drawn",
    "liquidity_charges_paid",
    "liquidity_repaid",
    "liquidity_unpaid",
    "call_proceeds",
    "clean_up_called",
    "periods_triggered",
    "accelerated",
    "revolving_purchases",
    "principal_account_in",  # revenue and principal accounts: what the principal account got
    "principal_deficiency",  # the principal deficiency ledger left uncured at the end
    "credit_support_fees_paid",  # credit support's top-ups of fees (in credit_support_paid)
    # loans: totals over the deal's life (see ipabs.pool.loan_kernel for the slots)
    "loan_defaults",
    "loan_recoveries",
    "loan_gross_loss",
    "guarantor_paid",
    "fund_paid",
    "insurer_paid",
    "loan_net_loss",
    "loans_prepaid",
    "loans_renewed",
    "loan_balance_at_legal_final",
    "loan_cash_after_legal_final",
    "reguarantor_paid",  # re-guarantors' payments to the lender (after a guarantor's default)
    "reguarantor_reimbursed",  # re-guarantors' reimbursements of guarantors (not the lender's)
    "insurance_premium_paid",  # the insurers' premiums, out of the loans' collections
    "interest_subsidy_paid",  # interest subsidies (贴息) paid to the lender
    "co_lenders_gross_loss",  # the other lenders' share of co-lent loans' losses (共贷)
    "co_lenders_net_loss",  # what they keep of it after the loss-sharing layers
)
LOAN_FIELDS_START = POOL_FIELDS.index("loan_defaults")
#: each period's waterfall flows kept for the cash-flow statement (`RawResults.sample_flows`),
#: in this order; then what each fee was paid (`fee_<name>`, a breakdown of `fees`) and each
#: class's interest and principal (`flow_series`). Per period and path, what came in equals what
#: went out (`ipabs.engine.statement`; `WaterfallOut`).
POOL_FLOWS = (
    "collections",  # what the deal received (0 after a clean-up call: the buyer's)
    "call_proceeds",  # the pool's (or a trust's IP's) sale price
    "credit_support",  # undertakings' top-ups of interest and principal shortfalls
    "liquidity_drawn",
    "reserve_draw",  # drawn to cover fees or interest
    "reserve_release",  # above the target, and all of it at the end, into the period's cash
    "holdback_drawn",
    "holdback_released",
    "fees",  # the pay_fee steps
    "performance_fee",
    "revolving_purchases",
    "reserve_topup",
    "holdback_in",
    "liquidity_charges",  # the facility's interest and commitment fee paid
    "liquidity_repaid",
    "residual",  # to the subordinated class, after its interest and principal
)
(
    T_LOSS,
    T_UNPAID_INT,
    T_INTEREST,
    T_PRINCIPAL,
    T_RESIDUAL,
    T_WAL,
    T_IRR,
    T_PV,
    T_PV_TIME,
    T_MAX_SHORTFALL,
    T_CAPITAL_YEARS,
    T_SUPPORT,
) = range(len(TRANCHE_FIELDS))
(
    P_COLL,
    P_LOST,
    P_SYSTEMATIC,
    P_DEFAULTS,
    P_RIGHTS_LOST,
    P_ANNUITIES,
    P_AFTER_FINAL,
    P_AFTER_CALL,
    P_FEES,
    P_PERFORMANCE_FEE,
    P_DRAW,
    P_RELEASE,
    P_TOPUP,
    P_HOLDBACK_IN,
    P_HOLDBACK_DRAWN,
    P_HOLDBACK_RELEASED,
    P_RESIDUAL,
    P_SUPPORT,
    P_LIQUIDITY,
    P_LIQUIDITY_CHARGES,
    P_LIQUIDITY_REPAID,
    P_LIQUIDITY_UNPAID,
    P_CALL,
    P_CALLED,
    P_TRIGGERED,
    P_ACCELERATED,
    P_PURCHASES,
    P_PRINCIPAL_IN,
    P_PDL,
    P_SUPPORT_FEES,
) = range(LOAN_FIELDS_START)
N_POOL_FLOWS = len(POOL_FLOWS)
CLASS_FLOWS = ("interest", "principal")  # each class's series in `sample_flows`, in this order
#: the most paths (the first of the sample paths) whose flows are kept for the cash-flow
#: statement: its means are then precise to a fraction of a percent, and the copy costs nothing
#: measurable (all 10,000 paths of benchmarks/standard.toml, 120 monthly periods, would write
#: 230 MB: measured about 25% slower single-threaded, mostly first touches of fresh memory)
STATEMENT_PATHS = 2_000


def flow_series(fee_names: tuple[str, ...], tranche_names: tuple[str, ...]) -> tuple[str, ...]:
    """The names of `sample_flows`' series: `POOL_FLOWS`, then `fee_<name>` for each fee (in the
    waterfall's fee order), then `interest_<class>` and `principal_<class>` for each class by
    rank."""
    fees = tuple(f"fee_{name}" for name in fee_names)
    per_class = tuple(f"{kind}_{name}" for name in tranche_names for kind in CLASS_FLOWS)
    return POOL_FLOWS + fees + per_class


@dataclass(frozen=True)
class RawResults:
    """What the kernels return: per-path arrays and the per-period sample."""

    tranche: np.ndarray  # (paths, tranches, len(TRANCHE_FIELDS))
    pool: np.ndarray  # (paths, len(POOL_FIELDS))
    sample_collections: np.ndarray  # (sample, periods) what the deal received (0 after a call)
    sample_balances: np.ndarray  # (sample, tranches, periods)
    sample_reserve: np.ndarray  # (sample, periods)
    trigger_first: np.ndarray  # (paths, triggers) int: first period in force, -1 never
    sample_performing: np.ndarray  # (sample, periods) performing loan balance at each period's end
    sample_loan_loss: np.ndarray  # (sample, periods) loan exposure less recovery, at default
    sample_debt_service: np.ndarray  # (sample, periods) coverage's denominator (waterfall.py)
    sample_pool_income: np.ndarray  # (sample, periods) the pool's own collections, whatever the
    # structure does (a loan book's buyer's cash in transfer pricing)
    sample_holdback: np.ndarray  # (sample, periods) a trust's holdback account at each period's end
    weight: (
        np.ndarray
    )  # (paths,) each path's likelihood-ratio weight: 1 without importance sampling
    sample_flows: np.ndarray  # (statement paths, series, periods) each period's waterfall flows
    # on the first min(sample, STATEMENT_PATHS) paths, the series named by `flow_series` (the
    # cash-flow statement: ipabs.engine.statement)
    sample_pdl: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (sample,
    # periods) the principal deficiency ledger at each period's end (zeros with one account)
    layer_paid: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (paths, layers)
    # each loss-sharing layer's payments to the lender over the deal's life, in layer order, then
    # each interest subsidy's


#: the RawResults fields with one row per path (the others are per-period samples of the first
#: sample_paths paths): batches and cluster chunks join these end to end
PER_PATH_FIELDS = frozenset({"tranche", "pool", "trigger_first", "weight", "layer_paid"})

#: the largest pool cache kept (bytes); above it every run simulates its pool
POOL_CACHE_LIMIT = 1 << 30
CACHE_OFF, CACHE_STORE, CACHE_REPLAY = 0, 1, 2
# cached per-path scalars: defaults, rights lost, annuities, income after legal final, the
# systematic factor, the weight, loan totals
_SCALARS = 6 + N_LOAN_TOTALS


@dataclass
class PoolCache:
    """A run's pool stage, per path, to replay under another capital structure (module doc).
    Empty until a run stores into it; a run whose pool differs stores afresh."""

    key: str = ""
    series: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 0)))  # (paths, S, K)
    scalars: np.ndarray = field(default_factory=lambda: np.empty((0, _SCALARS)))
    providers: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.int64))
    replays: int = 0  # runs that replayed it (for tests and diagnostics)


def _fingerprint(deal: CompiledDeal, paths: int, seed: int, first_path: int = 0) -> str:
    """A hash of everything the pool stage reads."""
    digest = hashlib.sha256(f"{paths}/{seed}/{first_path}".encode())
    parts = (*deal.pool, *deal.loans, *deal.support, deal.waterfall.accrual, deal.t_years)
    for part in parts:
        array = np.ascontiguousarray(part)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _cache_series_count(deal: CompiledDeal) -> int:
    """Collections and income lost; with loans also defaulted exposure, loss, performing balance,
    and the principal, recoveries and defaulted principal of `pool_split`."""
    return 8 if deal.loans.balance0.shape[0] > 0 else 2


def _cache_mode(
    cache: PoolCache | None, deal: CompiledDeal, paths: int, seed: int, first_path: int = 0
) -> tuple[int, str]:
    if cache is None or deal.trust_value.enabled or deal.revolving.n_vintages > 0:
        return CACHE_OFF, ""
    if paths * _cache_series_count(deal) * deal.n_periods * 8 > POOL_CACHE_LIMIT:
        return CACHE_OFF, ""
    key = _fingerprint(deal, paths, seed, first_path)
    return (CACHE_REPLAY if cache.key == key else CACHE_STORE), key


@njit(cache=True, nogil=True)
def _run_blocks(
    first_path,
    first_block,
    n_blocks,
    block_size,
    n_paths,
    seed,
    t_years,
    discount,
    duration_weight,
    pool,
    loans,
    wf,
    support,
    revolving,
    trust_value,
    triggers,
    tranche_out,
    pool_out,
    trigger_out,
    sample_collections,
    sample_balances,
    sample_reserve,
    sample_performing,
    sample_loan_loss,
    sample_debt_service,
    sample_pool_income,
    sample_holdback,
    weight_out,
    sample_flows,
    sample_pdl,
    cache_mode,
    cache_series,
    cache_scalars,
    cache_providers,
):
    # the arrays from Python, borrowed (`_borrowed`); the optional parts (None when absent, so
    # that Numba prunes their branches) are borrowed where they are used
    pool, wf, t_years, discount, duration_weight = _borrowed(
        (pool, wf, t_years, discount, duration_weight)
    )
    tranche_out, pool_out, trigger_out, weight_out = _borrowed(
        (tranche_out, pool_out, trigger_out, weight_out)
    )
    sample_reserve, sample_performing, sample_loan_loss, sample_holdback, sample_pdl = _borrowed(
        (sample_reserve, sample_performing, sample_loan_loss, sample_holdback, sample_pdl)
    )
    sample_flows = _borrowed(sample_flows)
    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    n_tranches = wf.balance0.shape[0]
    n_sample = sample_collections.shape[0]
    n_statement = sample_flows.shape[0]
    for b in range(n_blocks):
        start = (first_block + b) * block_size
        stop = min(start + block_size, n_paths)
        state = np.empty(4, np.uint64)
        latent_state = np.empty(4, np.uint64)
        collections = np.empty(n_periods)
        lost = np.empty(n_periods)
        default_period = np.empty(n_licensees, np.int64)
        path_normals = np.empty(n_factors + pool.copula_dof + n_licensees)
        shocks = np.empty(n_factors + n_assets)
        event_target = np.empty(n_assets)
        bridge = np.empty(n_factors)
        economy = np.ones(n_factors + 2)  # M, S, the path's weight
        factor_z = np.empty(n_factors)
        # each asset's log level and level, with room for whole vectors: the pool kernel takes
        # its exponentials over the whole array, so no asset is left for a scalar remainder
        log_level = np.empty(padded_assets(n_assets))
        level = np.empty(padded_assets(n_assets))
        alive = np.empty(n_assets, np.bool_)
        costs = np.empty(n_periods)
        pool_work = new_pool_work(pool)  # the pool kernel's work arrays, once a block
        # a part the deal lacks comes as None, and Numba drops the branches that use it, so a
        # deal compiles only the kernels it needs (`_optional`)
        n_loans = 0 if loans is None else loans.balance0.shape[0]
        n_providers = 0 if support is None else support.loading.shape[0]
        n_vintages = 0 if revolving is None else revolving.n_vintages
        record = loans is not None or support is not None or revolving is not None
        record = record or trust_value is not None
        provider_default = np.empty(n_providers, np.int64)
        n_triggers = wf.trigger_condition.shape[0]
        n_fees = wf.fee_fixed.shape[0]
        wout = new_out(n_tranches, n_periods, n_providers, n_triggers, n_fees)
        defaulted = np.empty(n_periods)
        loss = np.empty(n_periods)
        loan_defaulted = np.zeros(n_periods)
        loan_loss = np.zeros(n_periods)
        performing = np.zeros(n_periods)
        # a loan pool's principal, recoveries and defaulted principal (zeros without loans)
        pool_split = (np.zeros(n_periods), np.zeros(n_periods), np.zeros(n_periods))
        collateral = np.empty(n_periods)
        ip_value = np.zeros(n_periods)
        vintages = (
            np.zeros((n_vintages, n_periods)),
            np.zeros((n_vintages, n_periods)),
            np.zeros((n_vintages, n_periods)),
            np.zeros((n_vintages, n_periods)),
        )
        vintage_default = np.empty(n_vintages, np.int64)
        level_path = np.zeros((n_periods, n_assets))
        alive_path = np.zeros((n_periods, n_assets), np.bool_)
        loan_balance = np.empty(n_loans)
        loan_accrued = np.empty(n_loans)
        loan_status = np.empty(n_loans, np.int64)
        loan_maturity = np.empty(n_loans, np.int64)
        loan_io = np.empty(n_loans, np.bool_)
        loan_default = np.empty(n_loans, np.int64)
        fund_used = np.zeros(  # each layer's, then each interest subsidy's, budget used
            (0, 0)
            if loans is None
            else (loans.n_budget_years, loans.layer_kind.shape[0] + loans.subsidy_share.shape[0])
        )
        # the loan totals, then each loss-sharing layer's payments to the lender and each subsidy's
        n_named = 0 if loans is None else loans.layer_kind.shape[0] + loans.subsidy_share.shape[0]
        loan_totals = np.zeros(N_LOAN_TOTALS + n_named)
        cash_flows = np.empty(n_periods)
        # the block's arrays that the pool kernel, the waterfall and the metrics take at every
        # path, borrowed (`_borrowed`: otherwise each call and each view of a class's row counts
        # references, two atomic operations an array); `kept` holds them until the block ends
        kept = (
            state, latent_state, collections, lost, default_period, path_normals, shocks, event_target, bridge,
            factor_z, log_level, level, alive, costs, economy, level_path, alive_path, pool_work, wout, cash_flows,
        )  # fmt: skip
        (
            state, latent_state, collections, lost, default_period, path_normals, shocks, event_target, bridge,
            factor_z, log_level, level, alive, costs, economy, level_path, alive_path, pool_work, wout, cash_flows,
        ) = _borrowed(kept)  # fmt: skip
        interest = wout.interest
        principal = wout.principal
        residual = wout.residual
        balance = wout.balance
        sub = n_tranches - 1
        for p in range(start, stop):
            if cache_mode == CACHE_REPLAY:
                n_defaults, rights_lost = int(cache_scalars[p, 0]), int(cache_scalars[p, 1])
                annuities, after_final = cache_scalars[p, 2], cache_scalars[p, 3]
                economy[0] = cache_scalars[p, 4]
                economy[n_factors + 1] = cache_scalars[p, 5]
                for k in range(n_periods):
                    collections[k] = cache_series[p, 0, k]
                    lost[k] = cache_series[p, 1, k]
                if n_loans > 0:
                    for k in range(n_periods):
                        loan_defaulted[k] = cache_series[p, 2, k]
                        loan_loss[k] = cache_series[p, 3, k]
                        performing[k] = cache_series[p, 4, k]
                        for j in range(3):
                            pool_split[j][k] = cache_series[p, 5 + j, k]
                    for j in range(loan_totals.shape[0]):
                        loan_totals[j] = cache_scalars[p, 6 + j]
                for j in range(n_providers):
                    provider_default[j] = cache_providers[p, j]
            else:
                seed_stream(state, seed, first_path + p)
                seed_latent_stream(latent_state, seed, first_path + p)
                n_defaults, rights_lost, annuities, after_final = pool_path(
                    state, latent_state, pool, collections, lost, default_period, path_normals, shocks, event_target,
                    bridge, factor_z, log_level, level, alive, costs, economy, record,
                    level_path, alive_path, pool_work,
                )  # fmt: skip
                if loans is not None:
                    simulate_loans_path(
                        state, latent_state, _borrowed(loans), economy, level_path, alive_path, collections,
                        loan_defaulted, loan_loss, performing, pool_split, loan_balance, loan_accrued, loan_status, loan_maturity, loan_io, loan_default, fund_used, loan_totals,
                    )  # fmt: skip
                if support is not None:
                    provider_default_periods(
                        latent_state, _borrowed(support), economy, provider_default
                    )
                if cache_mode == CACHE_STORE:
                    cache_scalars[p, 0] = n_defaults
                    cache_scalars[p, 1] = rights_lost
                    cache_scalars[p, 2] = annuities
                    cache_scalars[p, 3] = after_final
                    cache_scalars[p, 4] = economy[0]  # at least one factor (the schema)
                    cache_scalars[p, 5] = economy[n_factors + 1]
                    for k in range(n_periods):
                        cache_series[p, 0, k] = collections[k]
                        cache_series[p, 1, k] = lost[k]
                    if n_loans > 0:
                        for k in range(n_periods):
                            cache_series[p, 2, k] = loan_defaulted[k]
                            cache_series[p, 3, k] = loan_loss[k]
                            cache_series[p, 4, k] = performing[k]
                            for j in range(3):
                                cache_series[p, 5 + j, k] = pool_split[j][k]
                        for j in range(loan_totals.shape[0]):
                            cache_scalars[p, 6 + j] = loan_totals[j]
                    for j in range(n_providers):
                        cache_providers[p, j] = provider_default[j]
            if revolving is not None:
                simulate_vintages_path(
                    state, latent_state, _borrowed(revolving), economy, vintage_default, vintages[0],
                    vintages[1], vintages[2], vintages[3],
                )  # fmt: skip
            for k in range(n_periods):
                defaulted[k] = lost[k] + loan_defaulted[k]
                loss[k] = lost[k] + loan_loss[k]
            collateral_values(wf, collections, performing, collateral)
            if trust_value is not None:
                ip_values(_borrowed(trust_value), level_path, alive_path, default_period, ip_value)
            pay_waterfall(
                wf, collections, defaulted, loss, collateral, provider_default, vintages, ip_value,
                pool_split, wout, _borrowed(triggers),
            )  # fmt: skip
            for t in range(n_tranches):
                interest_total = 0.0
                principal_total = 0.0
                residual_total = 0.0
                for k in range(n_periods):
                    cf = interest[t, k] + principal[t, k]
                    interest_total += interest[t, k]
                    principal_total += principal[t, k]
                    if t == sub:
                        cf += residual[k]
                        residual_total += residual[k]
                    cash_flows[k] = cf
                wal, y, pv, pv_time = tranche_path_metrics(
                    cash_flows,
                    principal[t],
                    t_years,
                    discount[t],
                    wf.balance0[t],
                    duration_weight[t],
                )
                out = tranche_out[p, t]
                out[T_LOSS] = balance[t, n_periods - 1]
                out[T_UNPAID_INT] = wout.unpaid_interest[t]
                out[T_MAX_SHORTFALL] = wout.max_unpaid[t]
                capital_years = 0.0  # sum over periods of the opening balance x the period's years
                opening = wf.balance0[t]
                for k in range(n_periods):
                    capital_years += opening * (t_years[k] - (t_years[k - 1] if k > 0 else 0.0))
                    opening = balance[t, k]
                out[T_CAPITAL_YEARS] = capital_years
                out[T_SUPPORT] = wout.support_class[t].sum()
                out[T_INTEREST] = interest_total
                out[T_PRINCIPAL] = principal_total
                out[T_RESIDUAL] = residual_total
                out[T_WAL] = wal
                out[T_IRR] = y
                out[T_PV] = pv
                out[T_PV_TIME] = pv_time
            po = pool_out[p]
            # what the deal received; the pool's income after a clean-up call or an early
            # termination is the buyer's
            po[P_COLL] = wout.collected.sum()
            po[P_LOST] = lost.sum()
            po[P_SYSTEMATIC] = economy[0]
            weight_out[p] = economy[n_factors + 1]
            po[P_DEFAULTS] = n_defaults
            po[P_RIGHTS_LOST] = rights_lost
            po[P_ANNUITIES] = annuities
            po[P_AFTER_FINAL] = after_final
            po[P_FEES] = wout.fees.sum()
            po[P_PERFORMANCE_FEE] = wout.performance_fee.sum()
            po[P_DRAW] = wout.reserve_draw.sum()
            po[P_RELEASE] = wout.reserve_release.sum()
            po[P_TOPUP] = wout.reserve_topup.sum()
            po[P_HOLDBACK_IN] = wout.holdback_in.sum()
            po[P_HOLDBACK_DRAWN] = wout.holdback_drawn.sum()
            po[P_HOLDBACK_RELEASED] = wout.holdback_release.sum()
            po[P_RESIDUAL] = residual.sum()
            po[P_SUPPORT] = wout.support_paid.sum()
            po[P_LIQUIDITY] = wout.liquidity_draw.sum()
            po[P_LIQUIDITY_CHARGES] = wout.liquidity_charges.sum()
            po[P_LIQUIDITY_REPAID] = wout.liquidity_repaid.sum()
            po[P_LIQUIDITY_UNPAID] = wout.liquidity_unpaid[0] + wout.liquidity_unpaid[1]
            po[P_CALL] = wout.call_proceeds.sum()
            po[P_PURCHASES] = wout.purchases.sum()
            po[P_PRINCIPAL_IN] = wout.principal_in.sum()
            po[P_PDL] = wout.pdl[n_periods - 1]
            po[P_SUPPORT_FEES] = wout.support_fee.sum()
            called = 0.0
            triggered = 0.0
            accelerated = 0.0
            after_call = 0.0
            for k in range(n_periods):
                if wout.state[k] < 0:  # the periods after a clean-up call or a termination
                    called = 1.0
                    after_call += collections[k]
                if wout.state[k] == S_TRIGGERED or wout.state[k] == S_ACCELERATED:
                    triggered += 1.0
                if wout.state[k] == S_ACCELERATED:
                    accelerated = 1.0
            po[P_CALLED] = called
            po[P_AFTER_CALL] = after_call
            po[P_TRIGGERED] = triggered
            po[P_ACCELERATED] = accelerated
            for r in range(n_triggers):
                trigger_out[p, r] = wout.trigger_first[r]
            for j in range(loan_totals.shape[0]):
                po[LOAN_FIELDS_START + j] = loan_totals[j] if n_loans > 0 else 0.0
            if p < n_sample:
                for k in range(n_periods):
                    sample_collections[p, k] = wout.collected[k]
                    sample_debt_service[p, k] = wout.debt_service[k]
                    sample_pool_income[p, k] = collections[k]
                    for t in range(n_tranches):
                        sample_balances[p, t, k] = balance[t, k]
                # series that are zeros on a deal without a reserve, loans, a holdback or a
                # principal deficiency: their zeroed rows are left untouched
                _sample_row(wout.reserve, sample_reserve[p])
                _sample_row(performing, sample_performing[p])
                _sample_row(loan_loss, sample_loan_loss[p])
                _sample_row(wout.holdback, sample_holdback[p])
                _sample_row(wout.pdl, sample_pdl[p])
            if p < n_statement:
                # each period's flows, for the cash-flow statement (ipabs.engine.statement), a
                # series at a time, into zeroed rows (most deals leave many series at zero); the
                # pool's in POOL_FLOWS' order
                flows = (
                    wout.collected, wout.call_proceeds, wout.support_paid, wout.liquidity_draw,
                    wout.reserve_draw, wout.reserve_release, wout.holdback_drawn,
                    wout.holdback_release, wout.fees, wout.performance_fee, wout.purchases,
                    wout.reserve_topup, wout.holdback_in, wout.liquidity_charges,
                    wout.liquidity_repaid, residual,
                )  # fmt: skip
                for i in range(N_POOL_FLOWS):
                    _sample_row(flows[i], sample_flows[p, i])
                for f in range(n_fees):
                    _sample_row(wout.fee_paid[f], sample_flows[p, N_POOL_FLOWS + f])
                first_class = N_POOL_FLOWS + n_fees
                for t in range(n_tranches):
                    _sample_row(interest[t], sample_flows[p, first_class + 2 * t])
                    _sample_row(principal[t], sample_flows[p, first_class + 2 * t + 1])
        _hold(kept)  # (the borrowed arrays are the block's until here)


@njit(cache=True, inline="always")
def _sample_row(values, row):
    """row[:] = values, into a zeroed row: written only if some value is not +0.0 (a -0.0 is
    written too), so that a series of zeros leaves the row's memory untouched (10,000 sample
    paths' rows are about 10 MB a series, each page zeroed by the system as it is first
    written)."""
    n = values.shape[0]
    zeros = True
    for k in range(n):
        v = values[k]
        zeros = zeros and v == 0.0 and math.copysign(1.0, v) > 0.0
    if not zeros:
        for k in range(n):
            row[k] = values[k]


@njit(cache=True)
def _hold(value):
    """Nothing: a use of `value` that keeps it alive to this point of the caller (Numba frees a
    variable after its last use)."""
    return value


#: the fewest paths in one task handed to a thread (a block of the default 1,024 paths is one task)
TASK_PATHS = 256
#: the fewest blocks a run gives each thread: a run with fewer cuts its blocks smaller (not below
#: MIN_BLOCK_PATHS paths), because the last block to finish sets the wall time: 10 blocks on 2
#: threads often ran as 6 and 4 (`scheduled_block_size`)
BLOCKS_PER_THREAD = 8
MIN_BLOCK_PATHS = 256


def scheduled_block_size(paths: int, block_size: int, threads: int) -> int:
    """The paths per block a run uses: the scenario's `block_size`, or fewer where that would give
    a thread fewer than BLOCKS_PER_THREAD blocks (down to MIN_BLOCK_PATHS, or the scenario's
    size if that is smaller). The numbers never depend on it (each path's stream is keyed by
    the path alone)."""
    if threads <= 1:
        return block_size
    fair = -(-paths // (threads * BLOCKS_PER_THREAD))
    return min(block_size, max(MIN_BLOCK_PATHS, fair))


def _optional(deal: CompiledDeal) -> tuple:
    """The deal's loans, credit support, revolving period and trust valuation, each None when the
    deal has none: `_run_blocks` is then compiled without the kernel that part needs (a licence
    deal compiles neither the loan nor the revolving kernel), and each combination is a separate
    compiled (and cached) version of it."""
    loans = deal.loans if deal.loans.balance0.shape[0] > 0 else None
    support = deal.support if deal.support.loading.shape[0] > 0 else None
    revolving = deal.revolving if deal.revolving.n_vintages > 0 else None
    trust_value = deal.trust_value if deal.trust_value.enabled else None
    return loans, support, revolving, trust_value


def _run_tasks(
    run_blocks: Callable[[int, int], None],
    tasks: list[tuple[int, int]],
    threads: int,
    block_size: int,
    paths: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Run each (first block, block count) task on a pool of `threads` threads. `_run_blocks`
    releases the GIL, so the threads run the kernel side by side; each path writes only its own
    rows, so the order in which tasks finish never changes a number. `progress(done_paths)` is
    called in this thread as tasks finish. An exception (Ctrl-C included) cancels the tasks not
    yet started and waits for the running ones (one task each: a block, or about TASK_PATHS
    paths of small blocks) before it propagates."""
    done = 0

    def finished(task: tuple[int, int]) -> None:
        nonlocal done
        first, count = task
        done += min((first + count) * block_size, paths) - first * block_size
        if progress is not None:
            progress(done)

    if threads == 1 or len(tasks) == 1:
        for task in tasks:
            run_blocks(*task)
            finished(task)
        return
    pool = ThreadPoolExecutor(max_workers=min(threads, len(tasks)), thread_name_prefix="ipabs")
    try:
        futures = {pool.submit(run_blocks, *task): task for task in tasks}
        for future in as_completed(futures):
            future.result()
            finished(futures[future])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_paths(
    deal: CompiledDeal,
    *,
    paths: int,
    seed: int,
    block_size: int,
    sample_paths: int,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    pool_cache: PoolCache | None = None,
    first_path: int = 0,
) -> RawResults:
    """Simulate `paths` paths; `progress(done_paths)` is called as blocks finish. With a
    `pool_cache`, the pool stage is replayed from it when it holds this pool, else stored in it.
    `first_path` runs paths first_path .. first_path + paths - 1 of the seed's streams (into rows
    0 .. paths - 1): a run continued in batches gives the same paths as one run."""
    n_tranches, n_periods = deal.n_tranches, deal.n_periods
    n_sample = min(sample_paths, paths)
    tranche_out = np.empty((paths, n_tranches, len(TRANCHE_FIELDS)))
    n_layers = deal.loans.layer_kind.shape[0] + deal.loans.subsidy_share.shape[0]
    # the pool totals, then each loss-sharing layer's and subsidy's payments (RawResults.layer_paid)
    pool_out = np.empty((paths, len(POOL_FIELDS) + n_layers))
    n_scalars = _SCALARS + n_layers
    sample_collections = np.empty((n_sample, n_periods))
    sample_balances = np.empty((n_sample, n_tranches, n_periods))
    sample_reserve = np.zeros((n_sample, n_periods))
    trigger_out = np.empty((paths, deal.waterfall.trigger_condition.shape[0]), np.int64)
    sample_performing = np.zeros((n_sample, n_periods))
    sample_loan_loss = np.zeros((n_sample, n_periods))
    sample_debt_service = np.zeros((n_sample, n_periods))
    sample_pool_income = np.zeros((n_sample, n_periods))
    sample_holdback = np.zeros((n_sample, n_periods))
    sample_pdl = np.zeros((n_sample, n_periods))
    n_series = N_POOL_FLOWS + deal.waterfall.fee_fixed.shape[0] + 2 * n_tranches
    sample_flows = np.zeros((min(n_sample, STATEMENT_PATHS), n_series, n_periods))
    weight = np.ones(paths)
    cache_mode, cache_key = _cache_mode(pool_cache, deal, paths, seed, first_path)
    if cache_mode == CACHE_REPLAY:
        cache_series, cache_scalars = pool_cache.series, pool_cache.scalars
        cache_providers = pool_cache.providers
    elif cache_mode == CACHE_STORE:
        cache_series = np.empty((paths, _cache_series_count(deal), n_periods))
        cache_scalars = np.empty((paths, n_scalars))
        cache_providers = np.empty((paths, deal.support.loading.shape[0]), np.int64)
    else:
        cache_series, cache_scalars = np.empty((0, 0, 0)), np.empty((0, n_scalars))
        cache_providers = np.empty((0, 0), np.int64)

    threads = threads or numba.config.NUMBA_NUM_THREADS
    block_size = scheduled_block_size(paths, block_size, threads)
    n_blocks = -(-paths // block_size)
    loans, support, revolving, trust_value = _optional(deal)
    triggers = has_triggers(deal.waterfall)

    arrays = (
        paths, seed, deal.t_years, deal.discount, deal.duration_weight,
        deal.pool, loans, deal.waterfall, support, revolving, trust_value, triggers,
        tranche_out, pool_out,
        trigger_out, sample_collections, sample_balances, sample_reserve, sample_performing,
        sample_loan_loss, sample_debt_service, sample_pool_income, sample_holdback, weight,
        sample_flows, sample_pdl, cache_mode, cache_series, cache_scalars,
        cache_providers,
    )  # fmt: skip

    def run_blocks(first: int, count: int) -> None:
        _run_blocks(first_path, first, count, block_size, *arrays)

    if not is_compiled(_run_blocks, (first_path, 0, 1, block_size, *arrays)):
        notice_compiling()
        if warm.enabled():
            warm.compile_in_parallel(deal, loans, support, revolving, trust_value, triggers)
    # a task is one block (threads kept evenly busy); without a progress bar to move per block,
    # enough blocks of a small size for TASK_PATHS paths, so that a call's overhead stays small
    per_task = 1 if progress is not None else max(1, TASK_PATHS // block_size)
    tasks = [(first, min(per_task, n_blocks - first)) for first in range(0, n_blocks, per_task)]
    _run_tasks(run_blocks, tasks, threads, block_size, paths, progress)
    if cache_mode == CACHE_STORE:  # only a finished run is kept
        pool_cache.key, pool_cache.series = cache_key, cache_series
        pool_cache.scalars, pool_cache.providers = cache_scalars, cache_providers
    elif cache_mode == CACHE_REPLAY:
        pool_cache.replays += 1
    layer_paid = np.ascontiguousarray(pool_out[:, len(POOL_FIELDS) :])
    pool_out = np.ascontiguousarray(pool_out[:, : len(POOL_FIELDS)])
    return RawResults(
        tranche_out, pool_out, sample_collections, sample_balances, sample_reserve, trigger_out,
        sample_performing, sample_loan_loss, sample_debt_service, sample_pool_income,
        sample_holdback, weight, sample_flows, sample_pdl, layer_paid,
    )  # fmt: skip
