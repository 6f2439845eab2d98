"""Cold start: the first `ipabs run` of the flagship with an empty kernel cache, the same run
warm, and where the compile time goes (Numba's compile events, per function).

    python benchmarks/cold_start.py [--repeat 2]

Each cold run gets its own empty NUMBA_CACHE_DIR. The per-function table comes from a separate
cold `ipabs.simulate` in a child process that records `numba:compile` events: "self" is the time
spent compiling the function less the time spent compiling the functions it calls.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "scenarios" / "zgc_patent_licence_abs_2022.toml"

PROBE = r"""
import sys, time
from numba.core import event
import ipabs
sc = ipabs.load(sys.argv[1])
started = time.perf_counter()
with event.install_recorder("numba:compile") as rec:
    ipabs.simulate(sc, paths=1000, seed=1, progress=False)
total = time.perf_counter() - started
stack, rows = [], {}
for ts, ev in rec.buffer:
    d = ev.data.get("dispatcher")
    name = f"{d.py_func.__module__}.{d.py_func.__qualname__}" if d is not None else "?"
    if ev.is_start:
        stack.append([ts, name, 0.0])
    else:
        start, name, children = stack.pop()
        took = ts - start
        if stack:
            stack[-1][2] += took
        incl, own = rows.get(name, (0.0, 0.0))
        rows[name] = (incl + took, own + took - children)
print(f"first simulate (1,000 paths) {total:.1f} s")
print(f"{'function':60s} {'incl. s':>8s} {'self s':>8s}")
for name, (incl, own) in sorted(rows.items(), key=lambda kv: -kv[1][1])[:15]:
    print(f"{name[:60]:60s} {incl:8.2f} {own:8.2f}")
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    ipabs_cmd = [sys.executable, "-m", "ipabs", "run", str(FLAGSHIP), "--out"]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            env = {**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/cache{i}"}
            cold = timed([*ipabs_cmd, f"{tmp}/cold{i}"], env)
            warm = timed([*ipabs_cmd, f"{tmp}/warm{i}"], env)
            print(
                f"flagship `ipabs run` (10,000 paths, charts): cold {cold:.1f} s, warm {warm:.1f} s"
            )
        env = {**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/probe"}
        subprocess.run([sys.executable, "-c", PROBE, str(FLAGSHIP)], env=env, check=True)


if __name__ == "__main__":
    main()
