"""Engine benchmark: throughput, peak memory and JIT compile time, against the machine's limit.

    python benchmarks/run.py                       # 10k, 100k, 1M paths of benchmarks/standard.toml
    python benchmarks/run.py --paths 10000 100000  # fewer sizes

Prints one table and writes benchmarks/results/latest.json. Each measurement that needs a clean
process (peak memory, cold compile) runs in a child Python process. Figures go into
benchmarks/README.md by hand, with the command that produced them.

The machine's limit is a minimal Numba kernel doing, per asset-period-path, one normal draw, one
uniform draw, one exp and one add with NumPy's PCG64 generator (nogil, an independent stream per
block, one thread per core). The engine's rate is reported as a fraction of it. Since issue #19
a second limit does the minimal work per cell with the engine's own draws: one normal from the
shock lanes (in chunks of 1,024), the engine's vectorised exp and one add; the ratio to it is
the one the issue's target reads ("of lanes limit").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STANDARD = HERE / "standard.toml"
FLAGSHIP = REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml"
LOAN_POOL = REPO / "scenarios" / "beijing_combined_pledge_loans.toml"


def _child(code: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line last."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


ENGINE_RUN = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import ipabs
from run import lanes_limit, machine_limit
sc = ipabs.load({scenario!r})
ipabs.simulate(sc, paths=256)  # compile or load the cache first
res = min((ipabs.simulate(sc, paths={paths}) for _ in range({repeats})), key=lambda r: r.wall_seconds)
summary = res.summary  # reduce: the engine's results, as a user gets them
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
limit = machine_limit(20_000_000)  # measured right after, in the same process: a paired ratio
lanes = lanes_limit(20_000_000)
d = res.deal
print(json.dumps({{"paths": {paths}, "wall_s": res.wall_seconds, "peak_rss_mib": peak_kib / 1024,
    "assets": d.pool.asset_income_weight.shape[1], "periods": d.n_periods, "limit": limit["ops_per_s"],
    "lanes_limit": lanes["ops_per_s"]}}))
"""

COMPILE_RUN = """
import json, time
t0 = time.perf_counter()
import ipabs
sc = ipabs.load({scenario!r})
t1 = time.perf_counter()
ipabs.simulate(sc, paths=64)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_simulate_s": t2 - t1}}))
"""


def lanes_limit(n_per_thread: int = 50_000_000) -> dict:
    """Rate of the minimal kernel with the engine's own draws on every core (operations per
    second): per cell one shock-lane normal, one exp (the engine's, vectorised) and one add."""
    import numpy as np
    from numba import njit

    from ipabs.engine import rng
    from ipabs.engine.exp import exp_into

    @njit(nogil=True, cache=False, error_model="numpy")
    def minimal(seed, n):
        state = np.empty(4, np.uint64)
        rng.seed_stream(state, seed, 0)
        lanes = np.empty((4, rng.SHOCK_LANES), np.uint64)
        rng.seed_shock_lanes(lanes, state)
        words = np.empty(1024, np.uint64)
        places = np.empty(1024, np.int64)
        z, e = np.empty(1024), np.empty(1024)
        acc = 0.0
        for _ in range(n // 1024):
            rng.lane_normals(lanes, state, words, z, places)
            for j in range(1024):
                z[j] *= 0.1
            exp_into(z, e)
            for j in range(1024):
                acc += e[j]
        return acc

    threads = os.cpu_count() or 1
    minimal(1, 2048)  # compile
    walls = []
    for _ in range(3):
        t = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda s: minimal(s, n_per_thread), range(threads)))
        walls.append(time.perf_counter() - t)
    return {"threads": threads, "ops_per_s": threads * (n_per_thread // 1024 * 1024) / min(walls)}


def machine_limit(n_per_thread: int = 50_000_000) -> dict:
    """Rate of the minimal kernel on every core (operations per second)."""
    import numpy as np
    from numba import njit

    @njit(nogil=True, cache=False)
    def minimal(rng, n):
        acc = 0.0
        for _ in range(n):
            acc += np.exp(0.1 * rng.standard_normal()) + rng.random()
        return acc

    threads = os.cpu_count() or 1
    minimal(np.random.default_rng(0), 10)  # compile
    walls = []
    for _ in range(3):  # best of three: this machine's timings vary from run to run
        seeds = np.random.SeedSequence(1).spawn(threads)
        streams = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        t = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda g: minimal(g, n_per_thread), streams))
        walls.append(time.perf_counter() - t)
    return {"threads": threads, "ops_per_s": threads * n_per_thread / min(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()

    report: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        }
    }

    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _child(COMPILE_RUN.format(scenario=str(STANDARD)), env)
        warm = _child(COMPILE_RUN.format(scenario=str(STANDARD)), env)
    report["compile"] = {"cold_cache": cold, "warm_cache": warm}
    print(
        f"JIT: first simulate {cold['first_simulate_s']:.1f} s with a cold cache, {warm['first_simulate_s']:.2f} s warm "
        f"(import {warm['import_s']:.2f} s)"
    )

    limit = machine_limit()
    report["machine_limit"] = limit
    print(
        f"machine limit at the start: {limit['ops_per_s'] / 1e6:.0f} M ops/s on {limit['threads']} threads "
        "(normal + uniform + exp + add, PCG64, nogil)"
    )

    runs = []
    print(
        "engine on benchmarks/standard.toml (best of 3 runs up to 100,000 paths); 'of limit' divides by"
    )
    print(
        "the limit kernel measured in the same process right after the engine (this machine's speed drifts):"
    )
    print(
        f"{'paths':>10} {'wall s':>8} {'M asset-period-paths/s':>24} {'limit M/s':>10} {'of limit':>9} "
        f"{'lanes limit M/s':>16} {'of lanes limit':>15} {'peak MiB':>9}"
    )
    for n in args.paths:
        r = _child(
            ENGINE_RUN.format(
                here=str(HERE), scenario=str(STANDARD), paths=n, repeats=3 if n <= 100_000 else 1
            )
        )
        r["rate"] = n * r["periods"] * r["assets"] / r["wall_s"]
        r["fraction_of_limit"] = r["rate"] / r["limit"]
        r["fraction_of_lanes_limit"] = r["rate"] / r["lanes_limit"]
        runs.append(r)
        print(
            f"{n:>10,} {r['wall_s']:>8.2f} {r['rate'] / 1e6:>24.1f} {r['limit'] / 1e6:>10.0f} "
            f"{r['fraction_of_limit']:>9.2f} {r['lanes_limit'] / 1e6:>16.0f} "
            f"{r['fraction_of_lanes_limit']:>15.2f} {r['peak_rss_mib']:>9.0f}"
        )
    report["engine"] = runs

    flag = _child(
        ENGINE_RUN.format(here=str(HERE), scenario=str(FLAGSHIP), paths=10_000, repeats=3)
    )
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "ipabs", "run", str(FLAGSHIP), "--out", f"{out}/run", "--quiet"],
            check=True,
        )
    cli_wall = time.perf_counter() - t
    report["flagship"] = {"simulate_wall_s": flag["wall_s"], "cli_wall_s": cli_wall}
    print(
        f"flagship, 10,000 paths: simulate {flag['wall_s']:.3f} s (warm cache); "
        f"`ipabs run` end to end {cli_wall:.2f} s (imports, Parquet, charts)"
    )

    loans = _child(
        ENGINE_RUN.format(here=str(HERE), scenario=str(LOAN_POOL), paths=20_000, repeats=3)
    )
    report["loan_pool"] = {"simulate_wall_s": loans["wall_s"], "paths": 20_000}
    print(
        f"Beijing loan pool (40 loans, 70 pledged rights, 17 quarters), 20,000 paths: simulate {loans['wall_s']:.2f} s"
    )

    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
