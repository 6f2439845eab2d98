"""A NumPy baseline of the standard deal (benchmarks/standard.toml), vectorised over paths.

An independent implementation of docs/model.md, sections 2-5, for the standard deal only (licence
income, licensee defaults, IP events, renewals, recoveries; the v1 sequential waterfall with fees,
interest, principal and a reserve; loss, WAL, price and IRR per path), the way a user would write
it in NumPy: a `numpy.random.Generator`, a batch of paths at a time, a loop over periods. It
shares nothing with ipabs's kernels: the deal's per-asset parameters (drifts, volatilities, income
weights, event probabilities and their split, renewal dates) and the waterfall's accruals and
fees are read from ipabs's compile step as plain arrays; the copula thresholds, the factors'
Cholesky root and the Brownian bridge's coefficients are computed here from the model's
equations. Its random numbers are not ipabs's, so the two agree only within Monte Carlo error.

    python benchmarks/numpy_baseline.py --paths 10000

prints the baseline's throughput (million asset-period-paths a second, one thread) and ipabs's
(`ipabs.simulate(..., threads=1)` on the same deal and path count, after a warm-up), best of
`--repeats`, and both engines' estimates with standard errors.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # run as the benchmark: one thread, before NumPy loads its BLAS
    # (imported by the tests, it must not change the importing process's environment)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtri

STANDARD = Path(__file__).with_name("standard.toml")


@dataclass(frozen=True)
class Deal:
    """The standard deal's parameters as plain arrays (K periods, A assets, L licensees, F
    factors, T classes)."""

    t: np.ndarray  # (K,) payment times in years from closing (= the pool's: no cut-off, no lag)
    dt: np.ndarray  # (K,)
    chol: np.ndarray  # (F, F) R with R R^T = C
    threshold: np.ndarray  # (K, L) Phi^-1(1 - (1 - PD)^t_k)
    licensee_factor: np.ndarray  # (L,)
    licensee_loading: np.ndarray  # (L,)
    recovery: np.ndarray  # (L,)
    asset_licensee: np.ndarray  # (A,)
    asset_factor: np.ndarray  # (A,)
    asset_loading: np.ndarray  # (A,)
    log_drift: np.ndarray  # (K, A) G(t_k) - G(t_k-1) - sigma^2 dt / 2
    log_vol: np.ndarray  # (K, A) sigma sqrt(dt)
    weight: np.ndarray  # (K, A) base income x dt x share of the period before income ends
    event_prob: np.ndarray  # (K, A) 1 - exp(-(h_o + h_v + h_l) dt)
    obsolescence_share: np.ndarray  # (A,) h_o / h
    log_keep: np.ndarray  # (A,) ln(1 - obsolescence severity)
    renewal_share: np.ndarray  # (K, A) share of period k before a renewal decision, -1: none
    renewal_prob: np.ndarray  # (A,)
    balance0: np.ndarray  # (T,)
    coupon_accrual: np.ndarray  # (T, K) coupon x accrual fraction
    accrual: np.ndarray  # (K,)
    fee_fixed: float
    fee_pct_notes: float
    reserve0: float
    reserve_target: float
    discount: np.ndarray  # (T, K) (1 + r)^-t_k


def load_deal(path: Path = STANDARD) -> Deal:
    """The standard deal's parameters; the copula, the factors' root and the bridge come from
    the model's equations, not from ipabs's compiled arrays."""
    import ipabs
    from ipabs.engine.compile import compile_scenario

    sc = ipabs.load(path)
    deal = compile_scenario(sc)
    pool, wf = deal.pool, deal.waterfall
    t = np.asarray(deal.grid.pool_t_years, float)
    assert np.array_equal(t, deal.t_years), "the baseline assumes no cut-off date and no lag"
    assert pool.copula_dof == 0 and not pool.has_minimum
    assert (pool.asset_lag == 0).all() and (pool.asset_relicense_lag < 0).all()
    assert not pool.asset_annuity_cost.any() and wf.trigger_condition.shape[0] == 0
    assert sc.fees.subordinated_per_year == 0 and sc.reserve.target_pct_of_notes == 0
    assert sc.waterfall is None and not sc.credit_support, "the v1 order only"
    pd_annual = np.array([lic.annual_default_probability for lic in sc.licensees])
    names = list(sc.factors.names)
    r = sc.pricing.discount_rate
    return Deal(
        t=t,
        dt=np.diff(t, prepend=0.0),
        chol=np.linalg.cholesky(np.asarray(sc.factors.correlation, float)),
        threshold=ndtri(1.0 - (1.0 - pd_annual[None, :]) ** t[:, None]),
        licensee_factor=np.array([names.index(lic.factor) for lic in sc.licensees]),
        licensee_loading=np.array([lic.factor_loading for lic in sc.licensees]),
        recovery=np.array([lic.recovery_rate for lic in sc.licensees]),
        asset_licensee=np.array(
            [[lic.id for lic in sc.licensees].index(a.licensee) for a in sc.assets]
        ),
        asset_factor=np.array([names.index(a.factor) for a in sc.assets]),
        asset_loading=np.array([a.factor_loading for a in sc.assets]),
        log_drift=np.asarray(pool.asset_log_drift),
        log_vol=np.asarray(pool.asset_log_vol),
        weight=np.asarray(pool.asset_income_weight),
        event_prob=np.asarray(pool.asset_event_prob),
        obsolescence_share=np.asarray(pool.asset_obsolescence_cut),
        log_keep=np.asarray(pool.asset_log_keep),
        renewal_share=np.asarray(pool.asset_renewal_share),
        renewal_prob=np.asarray(pool.asset_renewal_prob),
        balance0=np.asarray(wf.balance0, float),
        coupon_accrual=np.asarray(wf.coupon) * np.asarray(wf.class_accrual),
        accrual=np.asarray(wf.accrual),
        fee_fixed=float(sc.fees.fixed_per_year),
        fee_pct_notes=float(sc.fees.pct_of_notes_per_year),
        reserve0=float(sc.reserve.initial_balance),
        reserve_target=float(sc.reserve.target),
        discount=np.broadcast_to((1.0 + r) ** -t, (len(wf.balance0), t.size)).copy(),
    )


def simulate_pool(d: Deal, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, K) collections of n paths (docs/model.md, 3.1-3.6)."""
    n_periods, n_assets = d.weight.shape
    n_factors = d.chol.shape[0]
    horizon = d.t[-1]
    # the economy: horizon factors m ~ N(0, I), M = R m; each licensee's latent and default period
    m = rng.standard_normal((n, n_factors))
    big_m = m @ d.chol.T
    a = d.licensee_loading
    latent = a * big_m[:, d.licensee_factor] + np.sqrt(1.0 - a * a) * rng.standard_normal(
        (n, a.size)
    )
    # first period with latent < threshold_k (the thresholds rise with k): K when never
    default_period = np.empty(latent.shape, np.int64)
    for j in range(a.size):
        default_period[:, j] = np.searchsorted(d.threshold[:, j], latent[:, j], side="right")
    asset_default = default_period[:, d.asset_licensee]  # (n, A)
    asset_recovery = d.recovery[d.asset_licensee]
    # the Brownian bridge U(t) = B(t)/sqrt(H) from 0 to m
    t_prev = np.concatenate(([0.0], d.t[:-1]))
    remaining = horizon - t_prev
    b_drift = d.dt / remaining
    b_vol = np.sqrt(np.clip(d.dt * (horizon - d.t) / (remaining * horizon), 0.0, None))
    to_shock = np.sqrt(horizon / d.dt)
    b = d.asset_loading
    idio = np.sqrt(1.0 - b * b)
    u_bridge = np.zeros((n, n_factors))
    log_level = np.zeros((n, n_assets))
    alive = np.ones((n, n_assets), bool)
    collections = np.empty((n, n_periods))
    renewing = [np.flatnonzero(d.renewal_share[k] >= 0.0) for k in range(n_periods)]
    # scratch arrays, reused every period (in-place arithmetic)
    x = np.empty((n, n_assets))
    u = np.empty((n, n_assets))
    share = np.empty((n, n_assets))
    hit = np.empty((n, n_assets), bool)
    jump = np.empty((n, n_assets), bool)
    xi = np.empty((n, n_factors))
    for k in range(n_periods):
        rng.standard_normal(out=xi)
        step = b_drift[k] * (m - u_bridge) + b_vol[k] * xi
        u_bridge += step
        z = (step * to_shock[k]) @ d.chol.T  # Z_k = R e_k
        rng.standard_normal(out=x)
        x *= idio
        x += b * z[:, d.asset_factor]
        x *= d.log_vol[k]
        x += d.log_drift[k]
        log_level += x
        # one uniform per asset: an obsolescence jump, or an invalidation or lapse (income stops)
        rng.random(out=u)
        np.less(u, d.event_prob[k] * d.obsolescence_share, out=jump)
        np.less(u, d.event_prob[k], out=hit)
        hit &= ~jump
        alive &= ~hit
        jump &= alive
        log_level += jump * d.log_keep
        np.copyto(share, alive)
        for i in renewing[k]:  # a renewal decision in this period
            renewed = rng.random(n) < d.renewal_prob[i]
            stop = alive[:, i] & ~renewed
            share[stop, i] = d.renewal_share[k, i]
            alive[stop, i] = False
        # collected: all before the licensee's default, the recovery share in its period
        share *= (asset_default > k) + (asset_default == k) * asset_recovery
        share *= d.weight[k]
        np.exp(log_level, out=x)
        x *= share
        x.sum(axis=1, out=collections[:, k])
    return collections


def pay_waterfall(d: Deal, collections: np.ndarray) -> dict[str, np.ndarray]:
    """The v1 order each period (docs/model.md, 4.1-4.2): senior fee (reserve covers), interest
    by rank (reserve covers), fund the reserve, principal sequentially, the rest to the
    subordinated class; at legal final the reserve joins the cash and every balance is due."""
    n, n_periods = collections.shape
    n_classes = d.balance0.size
    balance = np.tile(d.balance0, (n, 1))
    interest_owed = np.zeros((n, n_classes))
    fee_owed = np.zeros(n)
    reserve = np.full(n, d.reserve0)
    interest = np.zeros((n, n_classes, n_periods))
    principal = np.zeros((n, n_classes, n_periods))
    residual = np.zeros((n, n_periods))
    for k in range(n_periods):
        final = k == n_periods - 1
        cash = collections[:, k].copy()
        notes = balance.sum(axis=1)
        fee_owed += d.accrual[k] * (d.fee_fixed + d.fee_pct_notes * notes)
        interest_owed += balance * d.coupon_accrual[:, k]
        if final:
            cash += reserve
            reserve = np.zeros(n)
        # fees, then each class's interest by rank, the reserve covering a shortfall
        owed_now = [fee_owed] + [interest_owed[:, j] for j in range(n_classes)]  # views
        for j, owed in enumerate(owed_now):
            from_cash = np.minimum(cash, owed)
            cash -= from_cash
            drawn = np.minimum(reserve, owed - from_cash)
            reserve -= drawn
            paid = from_cash + drawn
            owed -= paid
            if j > 0:
                interest[:, j - 1, k] = paid
        # the reserve to its target while notes are outstanding (0 at legal final)
        target = np.where((notes > 0.0) & (not final), d.reserve_target, 0.0)
        release = np.maximum(reserve - target, 0.0)
        top_up = np.minimum(cash, np.maximum(target - reserve, 0.0))
        reserve += top_up - release
        cash += release - top_up
        # principal, sequential: a class is due once every class above it is repaid
        for j in range(n_classes):
            if final:
                due = balance[:, j]
            else:
                due = np.where(balance[:, :j].sum(axis=1) > 0.0, 0.0, balance[:, j])
            paid = np.minimum(cash, due)
            cash -= paid
            balance[:, j] -= paid
            principal[:, j, k] = paid
        residual[:, k] = cash
    return {"interest": interest, "principal": principal, "residual": residual, "balance": balance}


def irr(
    cash_flows: np.ndarray, t: np.ndarray, price: np.ndarray, iterations: int = 60
) -> np.ndarray:
    """Annual effective y with sum_k CF_k (1 + y)^-t_k = price, each row at once: Newton on
    u = ln(1 + y), whose present value is decreasing and convex in u, so that from a start where
    the present value is above the price Newton climbs to the root without overshooting;
    -1 where nothing is paid."""
    total = cash_flows.sum(axis=1)
    paid = total > 0.0
    u = np.zeros(total.shape)
    rows = np.flatnonzero(paid)
    cf, pr = cash_flows[rows], price[rows]
    mean_time = (cf * t).sum(axis=1) / total[rows]
    # the root for all the cash at its mean time, less 1: pv(u) > price there
    v = np.minimum(np.log(total[rows] / pr) / mean_time, 0.0) - 1.0
    for _ in range(iterations):
        factor = np.exp(-v[:, None] * t)
        factor *= cf
        pv = factor.sum(axis=1)
        slope = -(factor @ t)
        f = pv - pr
        v -= f / slope
        done = np.abs(f) <= 1e-12 * pr
        if done.all():
            break
        u[rows[done]] = v[done]
        rows, cf, pr, v = rows[~done], cf[~done], pr[~done], v[~done]
    u[rows] = v
    return np.where(paid, np.expm1(u), -1.0)


def path_metrics(d: Deal, flows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per path and class (docs/model.md, 5): loss fraction, WAL (NaN without principal), price
    (% of par) and IRR."""
    interest, principal, residual = flows["interest"], flows["principal"], flows["residual"]
    cash = interest + principal
    cash[:, -1] += residual  # the subordinated class takes the residual
    paid_principal = principal.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        wal = (principal * d.t).sum(axis=2) / paid_principal
    wal[paid_principal <= 0.0] = np.nan
    n, n_classes, _ = cash.shape
    rates = np.empty((n, n_classes))
    for j in range(n_classes):
        rates[:, j] = irr(cash[:, j], d.t, np.full(n, d.balance0[j]))
    return {
        "loss": flows["balance"] / d.balance0,
        "wal": wal,
        "price": 100.0 * (cash * d.discount).sum(axis=2) / d.balance0,
        "irr": rates,
    }


def run_baseline(d: Deal, paths: int, seed: int, batch: int) -> dict[str, np.ndarray]:
    """Every path's collections total and metrics, `batch` paths at a time."""
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, paths, batch):
        n = min(batch, paths - start)
        collections = simulate_pool(d, n, rng)
        metrics = path_metrics(d, pay_waterfall(d, collections))
        metrics["collections"] = collections.sum(axis=1)
        parts.append(metrics)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def mean_se(x: np.ndarray) -> tuple[float, float]:
    x = x[~np.isnan(x)]
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def estimates(out: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """(mean, standard error) of the pool's collections and each class's loss, WAL, IRR, price."""
    est = {"collections": mean_se(out["collections"])}
    for j, name in enumerate(names):
        for key in ("loss", "wal", "irr", "price"):
            est[f"{name}.{key}"] = mean_se(out[key][:, j])
    return est


def ipabs_estimates(results, names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    pool = results.pool.iloc[0]
    est = {"collections": (pool["expected_collections"], pool["expected_collections_se"])}
    summary = results.summary.set_index("tranche")
    columns = {
        "loss": "expected_loss",
        "wal": "wal_years",
        "irr": "irr_mean",
        "price": "price_pct_par",
    }
    for name in names:
        row = summary.loc[name]
        for key, column in columns.items():
            est[f"{name}.{key}"] = (float(row[column]), float(row[f"{column}_se"]))
    return est


def best_time(run, repeats: int) -> tuple[float, float, object]:
    """(best wall time, best CPU time of the process, the last run's result) of `repeats` runs:
    on a shared machine the CPU time leaves out the time other processes hold the core."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2_000, help="paths vectorised at once")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--no-ipabs", action="store_true", help="time the baseline only")
    args = parser.parse_args()
    import ipabs

    d = load_deal()
    cells = d.weight.size * args.paths  # asset-period-paths
    seconds, cpu, out = best_time(
        lambda: run_baseline(d, args.paths, args.seed, args.batch), args.repeats
    )
    names = ("A", "B", "sub")
    print(
        f"NumPy baseline: {args.paths:,} paths in {seconds:.3f} s (best of {args.repeats}, "
        f"one thread, batches of {args.batch:,}): {cells / seconds / 1e6:.1f} M asset-period-paths/s "
        f"(CPU time {cpu:.3f} s: {cells / cpu / 1e6:.1f} M/s)"
    )
    rows = {"numpy": estimates(out, names)}
    if not args.no_ipabs:
        sc = ipabs.load(STANDARD)
        ipabs.simulate(sc, paths=min(args.paths, 2_000), threads=1, progress=False)  # warm-up
        ip_seconds, ip_cpu, results = best_time(
            lambda: ipabs.simulate(sc, paths=args.paths, threads=1, progress=False), args.repeats
        )
        print(
            f"ipabs:          {args.paths:,} paths in {ip_seconds:.3f} s (best of {args.repeats}, "
            f"threads=1): {cells / ip_seconds / 1e6:.1f} M asset-period-paths/s "
            f"({seconds / ip_seconds:.2f}x the baseline; CPU time {ip_cpu:.3f} s: "
            f"{cells / ip_cpu / 1e6:.1f} M/s, {cpu / ip_cpu:.2f}x)"
        )
        rows["ipabs"] = ipabs_estimates(results, names)
    print(f"\n{'estimate':<16}" + "".join(f"{k:>28}" for k in rows) + "   difference / combined se")
    for key in rows["numpy"]:
        line = f"{key:<16}"
        for k in rows:
            mean, se = rows[k][key]
            line += f"{mean:>18.6g} ± {se:<7.2g}"
        if "ipabs" in rows:
            (a, sa), (b, sb) = rows["numpy"][key], rows["ipabs"][key]
            combined = np.hypot(sa, sb)
            line += f"   {(a - b) / combined:+.2f}" if combined > 0 else "   -"
        print(line)


if __name__ == "__main__":
    main()
