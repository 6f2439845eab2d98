"""The Python API: `load` a scenario, `simulate` it, get a `Results`. The CLI is a thin layer over this."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import pydantic

from ipabs.engine.compile import compile_scenario
from ipabs.engine.limits import check_limits, estimate
from ipabs.engine.run import PoolCache, run_paths
from ipabs.errors import Problem, UserError
from ipabs.results import Results
from ipabs.scenario.load import format_path
from ipabs.scenario.load import load as _load_file
from ipabs.scenario.model import Scenario, Simulation


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a TOML scenario file; raises `ipabs.ScenarioError` with every problem found."""
    return _load_file(Path(path))


def with_simulation(scenario: Scenario, **overrides: Any) -> Scenario:
    """The scenario with `simulation` settings replaced (None means keep the file's value)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return scenario
    try:
        simulation = Simulation.model_validate({**scenario.simulation.model_dump(), **given})
    except pydantic.ValidationError as exc:
        problems = tuple(
            Problem("simulation." + format_path(e["loc"]), e["msg"], e.get("input"), True)
            for e in exc.errors()
        )
        raise UserError("invalid simulation setting", problems=problems) from None
    return scenario.model_copy(update={"simulation": simulation})


def simulate(
    scenario: Scenario | str | os.PathLike[str],
    *,
    paths: int | None = None,
    seed: int | None = None,
    block_size: int | None = None,
    sample_paths: int | None = None,
    threads: int | None = None,
    allow_large: bool = False,
    progress: Callable[[int, int], None] | None = None,
    pool_cache: PoolCache | None = None,
) -> Results:
    """Run the Monte Carlo for a scenario (a `Scenario` or a file path).

    Keyword arguments override the scenario's `[simulation]` table. `threads` defaults to every
    core Numba sees; results do not depend on it. `progress(done, total)` is called as blocks finish.
    `pool_cache` (an `ipabs.engine.run.PoolCache`, used by the solvers) replays the pool stage of
    an earlier run with the same pool, paths and seed, which gives the same numbers faster.
    """
    source = None
    if not isinstance(scenario, Scenario):
        source = Path(scenario)
        scenario = load(source)
    scenario = with_simulation(
        scenario, paths=paths, seed=seed, block_size=block_size, sample_paths=sample_paths
    )
    threads = resolve_threads(threads)
    sim = scenario.simulation
    deal = compile_scenario(scenario)
    est = estimate(deal, paths=sim.paths, sample_paths=sim.sample_paths, threads=threads)
    if not allow_large:
        check_limits(est, paths=sim.paths)
    started = time.perf_counter()
    raw = run_paths(
        deal,
        paths=sim.paths,
        seed=sim.seed,
        block_size=sim.block_size,
        sample_paths=sim.sample_paths,
        threads=threads,
        progress=None if progress is None else (lambda done: progress(done, sim.paths)),
        pool_cache=pool_cache,
    )
    wall = time.perf_counter() - started
    return Results(deal=deal, raw=raw, threads=threads, wall_seconds=wall, source=source)


def resolve_threads(threads: int | None) -> int:
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return available
    if not 1 <= threads <= available:
        raise UserError(
            f"threads must be between 1 and {available} (the threads Numba was started with; "
            f"set NUMBA_NUM_THREADS to change that)",
            problems=(Problem("threads", "out of range", threads, True),),
        )
    return threads
