"""Best-of-5 time for 10,000 paths of the standard deal (one thread, or `--threads N`), with
whichever `ipabs` is first on the path: run it alternately from two source trees to compare
engines on a machine whose speed drifts (benchmarks/README.md)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ipabs

STANDARD = Path(__file__).with_name("standard.toml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--paths", type=int, default=10_000)
    args = parser.parse_args()
    sc = ipabs.load(STANDARD)
    ipabs.simulate(sc, paths=2000, threads=args.threads)  # compile or load the cache
    times = []
    for _ in range(5):
        start = time.perf_counter()
        ipabs.simulate(sc, paths=args.paths, threads=args.threads)
        times.append(time.perf_counter() - start)
    print(
        f"{ipabs.__file__}: best of 5, {args.threads} thread(s), {args.paths:,} paths: "
        f"{min(times):.3f} s"
    )


if __name__ == "__main__":
    main()
