"""Importance sampling against plain Monte Carlo on a senior class (benchmarks/README.md).

For each (scenario, class): the paths and wall time a run to a 10% relative standard error of
the class's expected loss takes (`--rel-se 0.1`, batches of 10,000 paths, at most 2,000,000),
with and without `importance = "auto"`, and the variance-reduction factor at equal paths
(plain variance / importance-sampled variance of the expected loss, 20,000 paths each). The
first call of each kind compiles or loads the kernels and is not timed.

    python benchmarks/importance.py
"""

from __future__ import annotations

import time
from pathlib import Path

import ipabs
from ipabs.solvers.sizing import resize

HERE = Path(__file__).parent
CASES = (
    (HERE.parent / "scenarios" / "zgc_patent_licence_abs_2022.toml", "senior_A", None),
    (HERE / "standard.toml", "A", None),
    # the standard deal's senior class cut to 210m (the subordinated class takes up the rest):
    # an expected loss near 1e-5
    (HERE / "standard.toml", "A", 210e6),
)


def expected_loss(results, tranche):
    row = results.summary.set_index("tranche").loc[tranche]
    return float(row["expected_loss"]), float(row["expected_loss_se"]), int(row["paths_with_loss"])


def main() -> None:
    for path, tranche, balance in CASES:
        sc = ipabs.load(path)
        if balance is not None:
            sc = resize(sc, tranche, balance)
        ipabs.simulate(sc, paths=1000, importance="auto", target=tranche)  # warm the kernels
        equal = {}
        for label, importance in (("plain", None), ("importance", "auto")):
            r = ipabs.simulate(sc, paths=20_000, importance=importance, target=tranche)
            equal[label] = expected_loss(r, tranche)
        ratio = (equal["plain"][1] / equal["importance"][1]) ** 2 if equal["importance"][1] else 0
        size = "" if balance is None else f" resized to {balance:,.0f}"
        print(f"{path.name} {tranche}{size}: at 20,000 paths")
        for label, (el, se, hits) in equal.items():
            print(f"  {label:10s} expected loss {el:.3e} +- {se:.1e} ({hits} paths with a loss)")
        print(f"  variance reduction at equal paths: {ratio:.1f}x")
        for label, importance in (("plain", None), ("importance", "auto")):
            start = time.perf_counter()
            r = ipabs.simulate(
                sc,
                paths=10_000,
                importance=importance,
                target=tranche,
                rel_se=0.1,
                max_paths=2_000_000,
                allow_large=True,
            )
            wall = time.perf_counter() - start
            p = r.precision
            el, se, _ = expected_loss(r, tranche)
            print(
                f"  to 10% relative error, {label:10s}: {p['paths_used']:>9,} paths, {wall:6.1f} s, "
                f"reached {p['rel_se_reached']:.3f} ({'met' if p['met'] else 'NOT met'}); "
                f"expected loss {el:.3e} +- {se:.1e}"
            )


if __name__ == "__main__":
    main()
