"""Time the waterfall interpreter and the per-path metrics alone, on one thread.

The pool stage of the standard deal (benchmarks/standard.toml) runs once (`--paths` paths, its
collections and lost income kept); then a Numba loop pays every path's collections through
`pay_waterfall` and computes each class's cash flows and `tranche_path_metrics`, as the engine
does per path (ipabs.engine.run, with the program's arrays borrowed as there), and is timed alone (CPU time), best of `--repeats`. Parts are timed too:
the waterfall without the metrics, and the metrics (WAL, price, IRR) of stored cash flows.

Run it from two source trees alternately to compare them (benchmarks/README.md):

    NUMBA_CACHE_DIR=/tmp/numba-a PYTHONPATH=tree_a python benchmarks/waterfall_profile.py
    NUMBA_CACHE_DIR=/tmp/numba-b PYTHONPATH=tree_b python benchmarks/waterfall_profile.py

`--check` prints a digest of every output (balances, flows, metrics), to compare the trees' bits.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import ipabs  # noqa: E402
from ipabs.engine.compile import compile_scenario  # noqa: E402
from ipabs.engine.metrics import tranche_path_metrics  # noqa: E402
from ipabs.engine.run import PoolCache, _borrowed  # noqa: E402
from ipabs.structures.collateral import collateral_values  # noqa: E402
from ipabs.structures.waterfall import has_triggers, new_out, pay_waterfall  # noqa: E402

STANDARD = Path(__file__).with_name("standard.toml")


@njit(cache=True)
def waterfall_and_metrics(wf, triggers, series, t_years, discount, duration_weight, out, metrics):
    """Every path of `series` (paths, 2, K: collections, lost income) through the waterfall and
    the metrics; `out` (paths, T, K) keeps each class's end-of-period balance, `metrics`
    (paths, T, 4) the metrics. The program's arrays are borrowed, as ipabs.engine.run does
    (no reference counting of their views)."""
    wf, t_years, discount, duration_weight = _borrowed((wf, t_years, discount, duration_weight))
    triggers = _borrowed(triggers)
    n_paths, _, n_periods = series.shape
    n_tranches = wf.balance0.shape[0]
    wout = new_out(n_tranches, n_periods, 0, wf.trigger_condition.shape[0], wf.fee_fixed.shape[0])
    collections = np.empty(n_periods)
    lost = np.empty(n_periods)
    collateral = np.empty(n_periods)
    provider_default = np.empty(0, np.int64)
    vintages = (
        np.zeros((0, n_periods)), np.zeros((0, n_periods)), np.zeros((0, n_periods)),
        np.zeros((0, n_periods)),
    )  # fmt: skip
    ip_value = np.zeros(n_periods)
    pool_split = (np.zeros(n_periods), np.zeros(n_periods), np.zeros(n_periods))
    cash_flows = np.empty(n_periods)
    sub = n_tranches - 1
    for p in range(n_paths):
        for k in range(n_periods):
            collections[k] = series[p, 0, k]
            lost[k] = series[p, 1, k]
        collateral_values(wf, collections, collections, collateral)
        pay_waterfall(
            wf, collections, lost, lost, collateral, provider_default, vintages, ip_value,
            pool_split, wout, triggers,
        )  # fmt: skip
        for t in range(n_tranches):
            for k in range(n_periods):
                cf = wout.interest[t, k] + wout.principal[t, k]
                if t == sub:
                    cf += wout.residual[k]
                cash_flows[k] = cf
                out[p, t, k] = wout.balance[t, k]
            wal, y, pv, pv_time = tranche_path_metrics(
                cash_flows, wout.principal[t], t_years, discount[t], wf.balance0[t],
                duration_weight[t],
            )  # fmt: skip
            metrics[p, t, 0] = wal
            metrics[p, t, 1] = y
            metrics[p, t, 2] = pv
            metrics[p, t, 3] = pv_time


@njit(cache=True)
def waterfall_only(wf, triggers, series, out):
    wf = _borrowed(wf)
    triggers = _borrowed(triggers)
    n_paths, _, n_periods = series.shape
    n_tranches = wf.balance0.shape[0]
    wout = new_out(n_tranches, n_periods, 0, wf.trigger_condition.shape[0], wf.fee_fixed.shape[0])
    collections = np.empty(n_periods)
    lost = np.empty(n_periods)
    collateral = np.empty(n_periods)
    provider_default = np.empty(0, np.int64)
    vintages = (
        np.zeros((0, n_periods)), np.zeros((0, n_periods)), np.zeros((0, n_periods)),
        np.zeros((0, n_periods)),
    )  # fmt: skip
    ip_value = np.zeros(n_periods)
    pool_split = (np.zeros(n_periods), np.zeros(n_periods), np.zeros(n_periods))
    for p in range(n_paths):
        for k in range(n_periods):
            collections[k] = series[p, 0, k]
            lost[k] = series[p, 1, k]
        collateral_values(wf, collections, collections, collateral)
        pay_waterfall(
            wf, collections, lost, lost, collateral, provider_default, vintages, ip_value,
            pool_split, wout, triggers,
        )  # fmt: skip
        for t in range(n_tranches):
            for k in range(n_periods):
                out[p, t, k] = wout.balance[t, k]


@njit(cache=True)
def metrics_only(flows, principal, t_years, discount, balance0, duration_weight, metrics):
    """`tranche_path_metrics` of stored cash flows (paths, T, K)."""
    t_years, discount, balance0, duration_weight = _borrowed(
        (t_years, discount, balance0, duration_weight)
    )
    for p in range(flows.shape[0]):
        for t in range(flows.shape[1]):
            wal, y, pv, pv_time = tranche_path_metrics(
                flows[p, t], principal[p, t], t_years, discount[t], balance0[t],
                duration_weight[t],
            )  # fmt: skip
            metrics[p, t, 0] = wal
            metrics[p, t, 1] = y
            metrics[p, t, 2] = pv
            metrics[p, t, 3] = pv_time


def best(run, repeats: int) -> float:
    """Best CPU time of `repeats` runs (the process's CPU time, not the wall clock: on a shared
    machine the wall clock also counts the time other processes hold the core)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="print a digest of the outputs")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="also time the waterfall with the normal state's program cut to its first n steps",
    )
    args = parser.parse_args()
    sc = ipabs.load(STANDARD)
    deal = compile_scenario(sc)
    cache = PoolCache()
    ipabs.simulate(sc, paths=args.paths, threads=1, progress=False, pool_cache=cache)
    series = np.ascontiguousarray(cache.series[:, :2, :])
    wf = deal.waterfall
    triggers = has_triggers(wf)
    n_tranches, n_periods = deal.n_tranches, deal.n_periods
    balances = np.zeros((args.paths, n_tranches, n_periods))
    metrics = np.zeros((args.paths, n_tranches, 4))

    def both():
        waterfall_and_metrics(
            wf, triggers, series, deal.t_years, deal.discount, deal.duration_weight, balances,
            metrics,
        )  # fmt: skip

    both()  # compile or load
    # the cash flows the metrics read, for timing the metrics alone
    flows = np.zeros((args.paths, n_tranches, n_periods))
    principal = np.zeros((args.paths, n_tranches, n_periods))
    for p in range(min(args.paths, 2_000)):
        out = new_out(n_tranches, n_periods, 0, wf.trigger_condition.shape[0], len(wf.fee_fixed))
        coll = series[p, 0].copy()
        collateral = np.zeros(n_periods)
        pay_waterfall(
            wf, coll, series[p, 1].copy(), series[p, 1].copy(), collateral,
            np.empty(0, np.int64), (np.zeros((0, n_periods)),) * 4, np.zeros(n_periods),
            (np.zeros(n_periods),) * 3, out, triggers,
        )  # fmt: skip
        flows[p] = out.interest + out.principal
        flows[p, -1] += out.residual
        principal[p] = out.principal
    m2 = np.zeros_like(metrics)
    n_m = min(args.paths, 2_000)

    def metrics_part():
        metrics_only(
            flows[:n_m], principal[:n_m], deal.t_years, deal.discount, wf.balance0,
            deal.duration_weight, m2[:n_m],
        )  # fmt: skip

    def waterfall_part():
        waterfall_only(wf, triggers, series, balances)

    metrics_part()
    waterfall_part()
    t_both = best(both, args.repeats)
    t_wf = best(waterfall_part, args.repeats)
    t_m = best(metrics_part, args.repeats)
    us = 1e6
    print(
        f"{ipabs.__file__}: {args.paths:,} paths, best of {args.repeats}, one thread: "
        f"waterfall + metrics {t_both / args.paths * us:.2f} us/path; "
        f"waterfall alone {t_wf / args.paths * us:.2f} us/path; "
        f"metrics alone {t_m / n_m * us:.2f} us/path"
    )
    if args.steps:  # the cost of each step: the program cut to its first n steps
        start = wf.state_start.copy()
        for n in range(int(start[1] - start[0]) + 1):
            cut = start.copy()
            cut[1] = start[0] + n
            cut_wf = wf._replace(state_start=cut)
            waterfall_only(cut_wf, triggers, series, balances)
            seconds = best(
                lambda w=cut_wf: waterfall_only(w, triggers, series, balances), args.repeats
            )
            print(
                f"  first {n:2d} steps of the normal state: {seconds / args.paths * us:.2f} us/path"
            )
    if args.check:
        both()
        digest = hashlib.sha256(balances.tobytes() + metrics.tobytes()).hexdigest()[:16]
        print(f"digest of balances and metrics: {digest}")


if __name__ == "__main__":
    main()
