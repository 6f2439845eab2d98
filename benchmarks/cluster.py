"""Scale-out on Dask: one worker process against two, single-threaded each, on the standard deal.

    python benchmarks/cluster.py                      # 100k and 1M paths
    python benchmarks/cluster.py --paths 100000       # fewer sizes

For each cluster size (a LocalCluster of 1, then 2, worker processes with one thread each) the
workers are warmed up first (one small run: the Numba kernels load once per worker), then each
size is run once and timed end to end in the driver (scatter of the compiled deal, the tasks, the
per-path arrays sent back and joined). The overhead per task is timed on the 1-worker cluster: 200
chunks of one path each, wall time / 200. The task stream gives how many workers were
computing at once on average, and each task's compute time (which grows when the machine's cores
are not free). Prints a table and checks that every run's per-path
arrays equal the 1-worker run's. Results in benchmarks/README.md ("Scale-out on Dask").
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

STANDARD = Path(__file__).resolve().parent / "standard.toml"


def main() -> None:
    import ipabs
    from ipabs.engine import distribute

    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    sc = ipabs.load(STANDARD)
    print(f"chunk: {distribute.CHUNK_PATHS:,} paths a task")
    from distributed import get_task_stream

    times: dict[tuple[int, int], float] = {}
    busy: dict[tuple[int, int], float] = {}  # the tasks' compute seconds, summed
    first: dict[int, object] = {}
    for workers in (1, 2):
        with distribute.connect(f"local:{workers}") as client:
            ipabs.simulate(sc, paths=2_000, progress=False, client=client)  # warm-up
            if workers == 1:
                saved = distribute.CHUNK_PATHS
                distribute.CHUNK_PATHS = 1
                started = time.perf_counter()
                ipabs.simulate(sc, paths=200, sample_paths=1, progress=False, client=client)
                per_task = (time.perf_counter() - started) / 200
                distribute.CHUNK_PATHS = saved
                print(f"overhead per task (1 worker, 200 one-path chunks): {1e3 * per_task:.1f} ms")
            for paths in args.paths:
                with get_task_stream(client) as stream:
                    started = time.perf_counter()
                    res = ipabs.simulate(sc, paths=paths, progress=False, client=client)
                    times[workers, paths] = time.perf_counter() - started
                busy[workers, paths] = sum(
                    stop - start
                    for task in stream.data
                    for s in task["startstops"]
                    if s["action"] == "compute"
                    for start, stop in [(s["start"], s["stop"])]
                )
                if workers == 1:
                    first[paths] = res.raw
                else:
                    same = all(
                        np.array_equal(
                            getattr(res.raw, f.name), getattr(first[paths], f.name), equal_nan=True
                        )
                        for f in dataclasses.fields(res.raw)
                    )
                    print(f"{paths:,} paths: 2 workers' arrays equal 1 worker's: {same}")
                print(f"{workers} worker(s), {paths:,} paths: {times[workers, paths]:.2f} s")
                del res
    print("     paths  1 worker s  2 workers s  speed-up  paths/s/worker (1 worker)")
    for paths in args.paths:
        one, two = times[1, paths], times[2, paths]
        print(f"{paths:>10,}  {one:>10.2f}  {two:>11.2f}  {one / two:>8.2f}  {paths / one:>12,.0f}")
    # tasks' compute seconds over the wall time: how many workers were computing at once on
    # average (2 when both were kept busy), and the compute seconds a task took: longer with 2
    # workers only when the cores were not free
    print("     paths  workers  busy workers  compute s/task")
    for (workers, paths), wall in times.items():
        n_tasks = len(distribute.chunks(paths))
        print(f"{paths:>10,}  {workers:>7}  {busy[workers, paths] / wall:>12.2f}  {busy[workers, paths] / n_tasks:>14.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
