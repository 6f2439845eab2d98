"""Best-of-5 single-thread time for 10,000 paths of the standard deal, with whichever `ipabs`
is first on the path: run it alternately from two source trees to compare engines on a machine
whose speed drifts (benchmarks/README.md)."""

from __future__ import annotations

import time
from pathlib import Path

import ipabs

STANDARD = Path(__file__).with_name("standard.toml")


def main() -> None:
    sc = ipabs.load(STANDARD)
    ipabs.simulate(sc, paths=2000, threads=1)  # compile or load the cache
    times = []
    for _ in range(5):
        start = time.perf_counter()
        ipabs.simulate(sc, paths=10_000, threads=1)
        times.append(time.perf_counter() - start)
    print(f"{ipabs.__file__}: best of 5, 1 thread, 10,000 paths: {min(times):.3f} s")


if __name__ == "__main__":
    main()
