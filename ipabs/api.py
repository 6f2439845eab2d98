"""The Python API: `load` a scenario, `simulate` it, get a `Results`. The CLI is a thin layer over this.

Bad input (a scenario, a path, a setting of the wrong type or out of range) raises
`ipabs.ScenarioError` with the CLI's message; a run past the resource limits raises
`ipabs.ResourceLimitError`; a simulated output that is not a finite number raises
`ipabs.errors.InternalError` (a bug, never shown as a number).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pydantic

from ipabs.engine.compile import compile_scenario
from ipabs.engine.limits import check_limits, estimate, estimate_scenario
from ipabs.engine.run import POOL_FIELDS, TRANCHE_FIELDS, PoolCache, RawResults, run_paths
from ipabs.errors import InternalError, Problem, ScenarioError
from ipabs.results import Results
from ipabs.scenario.load import format_path
from ipabs.scenario.load import load as _load_file
from ipabs.scenario.model import Scenario, Simulation

#: the per-path outputs that may be NaN by definition: a class's WAL on a path that repays it
#: no principal
_NAN_ALLOWED = frozenset({("tranche", "wal_years")})


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a TOML scenario file; raises `ipabs.ScenarioError` with every problem found."""
    return _load_file(_scenario_path(path))


def _scenario_path(path: object) -> Path:
    """`path` as a Path, or a ScenarioError saying what the API takes."""
    if isinstance(path, str | os.PathLike):
        try:
            return Path(path)
        except TypeError:  # a PathLike that gives bytes
            pass
    raise ScenarioError(
        "expected a Scenario (from ipabs.load) or the path of a TOML scenario file (str or "
        f"pathlib.Path), not {type(path).__name__}"
    )


def with_simulation(scenario: Scenario, **overrides: Any) -> Scenario:
    """The scenario with `simulation` settings replaced (None means keep the file's value)."""
    given = {k: _integer(f"simulation.{k}", v) for k, v in overrides.items() if v is not None}
    if not given:
        return scenario
    try:
        simulation = Simulation.model_validate({**scenario.simulation.model_dump(), **given})
    except pydantic.ValidationError as exc:
        problems = tuple(
            Problem("simulation." + format_path(e["loc"]), e["msg"], e.get("input"), True)
            for e in exc.errors()
        )
        raise ScenarioError("invalid simulation setting", problems=problems) from None
    return scenario.model_copy(update={"simulation": simulation})


def _integer(name: str, value: object) -> int:
    """An integer setting (a Python or NumPy integer, not a bool, float or string)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ScenarioError(
        "invalid simulation setting",
        problems=(Problem(name, f"must be an integer, not {type(value).__name__}", value, True),),
    )


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
        source = _scenario_path(scenario)
        scenario = _load_file(source)
    scenario = with_simulation(
        scenario, paths=paths, seed=seed, block_size=block_size, sample_paths=sample_paths
    )
    threads = resolve_threads(threads)
    _check_hooks(progress, pool_cache)
    sim = scenario.simulation
    limits = {"paths": sim.paths, "sample_paths": sim.sample_paths, "threads": threads}
    if not allow_large:  # from the tables first: compiling a large pool takes seconds
        check_limits(estimate_scenario(scenario, **limits), paths=sim.paths)
    deal = compile_scenario(scenario)
    if not allow_large:
        check_limits(estimate(deal, **limits), paths=sim.paths)
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
    check_finite(raw, deal.tranche_names)
    return Results(deal=deal, raw=raw, threads=threads, wall_seconds=wall, source=source)


def _check_hooks(progress: object, pool_cache: object) -> None:
    if progress is not None and not callable(progress):
        raise ScenarioError(
            f"progress must be a function progress(done, total), not {type(progress).__name__}"
        )
    if pool_cache is not None and not isinstance(pool_cache, PoolCache):
        raise ScenarioError(
            f"pool_cache must be an ipabs.engine.run.PoolCache, not {type(pool_cache).__name__}"
        )


def resolve_threads(threads: int | None) -> int:
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return available
    threads = _integer("threads", threads)
    if not 1 <= threads <= available:
        raise ScenarioError(
            f"threads must be between 1 and {available} (the threads Numba was started with; "
            f"set NUMBA_NUM_THREADS to change that)",
            problems=(Problem("threads", "out of range", threads, True),),
        )
    return threads


# ---------------------------------------------------------------------------------------------
# results are finite numbers, or an internal error


def check_finite(raw: RawResults, tranche_names: tuple[str, ...]) -> None:
    """Raise `InternalError` naming the first simulated output that is NaN or infinite (other
    than the NaN a WAL has by definition on a path that repays no principal). The input is
    bounded (docs/scenario-format.md), so such a value is a bug, never a result to print."""
    for field in dataclasses.fields(raw):
        values = getattr(raw, field.name)
        if values.dtype.kind != "f":
            continue
        columns = {"tranche": TRANCHE_FIELDS, "pool": POOL_FIELDS}.get(field.name)
        if columns is None:
            _check_array(field.name, values)
            continue
        for j, column in enumerate(columns):
            part = values[..., j]
            _check_array(
                f"{field.name}.{column}",
                part,
                nan_allowed=(field.name, column) in _NAN_ALLOWED,
                tranche_names=tranche_names if field.name == "tranche" else (),
            )


def _check_array(
    name: str,
    values: np.ndarray,
    *,
    nan_allowed: bool = False,
    tranche_names: tuple[str, ...] = (),
) -> None:
    bad = np.isinf(values) if nan_allowed else ~np.isfinite(values)
    if not bad.any():
        return
    where = np.argwhere(bad)
    first = where[0]
    what = "infinite" if np.isinf(values[tuple(first)]) else "NaN"
    cls = f", class {tranche_names[first[1]]}" if tranche_names and len(first) > 1 else ""
    raise InternalError(
        f"the simulated output {name} is not a finite number ({what}) on "
        f"{len(np.unique(where[:, 0])):,} path(s), the first being path {first[0]}{cls}; no "
        "results are reported. This is a bug in ipabs: please report it with the scenario"
    )
