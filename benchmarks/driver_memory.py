"""Usage: python benchmarks/driver_memory.py SCENARIO PATHS... -- driver peak memory of a cluster run (tracemalloc: every Python and NumPy allocation on the
driver during `simulate` and `summary`), at the paths given. The cluster is IPABS_CLUSTER (a
scheduler address such as tcp://127.0.0.1:8786, whose scheduler then runs in its own process),
else local:2 (whose scheduler runs in this process, so its task records count as the driver's)."""

import os
import sys
import time
import tracemalloc

import ipabs
from ipabs.engine import distribute

if __name__ == "__main__":
    scenario = ipabs.load(sys.argv[1])
    with distribute.connect(os.environ.get("IPABS_CLUSTER", "local:2")) as client:
        warm = ipabs.simulate(scenario, paths=20_000, client=client, progress=False)
        tables = warm.summary  # the kernels loaded on each worker
        del warm, tables
        for paths in map(int, sys.argv[2:]):
            tracemalloc.start()
            started = time.perf_counter()
            res = ipabs.simulate(scenario, paths=paths, client=client, progress=False)
            tables = (res.summary, res.pool, res.periods)
            wall = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{paths:>9,} paths: driver peak {peak / 2**20:8.1f} MiB, {wall:6.1f} s", flush=True
            )
            del res, tables
