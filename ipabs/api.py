"""The Python API: `load` a scenario, `simulate` it, get a `Results`. The CLI is a thin layer over this.

Bad input (a scenario, a path, a setting of the wrong type or out of range) raises
`ipabs.ScenarioError` with the CLI's message; a run past the resource limits raises
`ipabs.ResourceLimitError`; a simulated output that is not a finite number raises
`ipabs.errors.InternalError` (a bug, never shown as a number).
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pydantic

from ipabs.engine.compile import compile_scenario, with_factor_shift
from ipabs.engine.estimates import local_estimates
from ipabs.engine.importance import plan_importance
from ipabs.engine.limits import check_limits, estimate, estimate_scenario
from ipabs.engine.run import (
    PER_PATH_FIELDS,
    POOL_FIELDS,
    TRANCHE_FIELDS,
    PoolCache,
    RawResults,
    run_paths,
)
from ipabs.errors import InternalError, Problem, ScenarioError
from ipabs.outputs.progress import resolve as resolve_progress
from ipabs.outputs.progress import valid as valid_progress
from ipabs.results import Results, Staging
from ipabs.scenario.load import check_importance, format_path
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
    return _with_settings(scenario, given)


def _with_settings(scenario: Scenario, given: dict[str, object]) -> Scenario:
    """The scenario with the `given` [simulation] keys replaced, the table validated again."""
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
    progress: Callable[[int, int], None] | bool | str | None = "auto",
    pool_cache: PoolCache | None = None,
    importance: str | Sequence[float] | None = None,
    target: str | None = None,
    rel_se: float | None = None,
    metric: str = "expected_loss",
    max_paths: int | None = None,
    client: Any = None,
) -> Results:
    """Run the Monte Carlo for a scenario (a `Scenario` or a file path).

    Keyword arguments override the scenario's `[simulation]` table. `threads` defaults to every
    core Numba sees; results do not depend on it. `progress` is "auto" (a bar in a notebook or
    on a terminal, none in CI or when no one watches: `ipabs.outputs.progress`), True, False
    (or None: no bar), or a function `progress(done, total)` called as blocks finish.
    `pool_cache` (an `ipabs.engine.run.PoolCache`, used by the solvers) replays the pool stage of
    an earlier run with the same pool, paths and seed, which gives the same numbers faster.

    `importance` ("none", "auto" or one shift per factor) and `target` (a class name) override
    `simulation.importance` and `simulation.importance_target` (docs/model.md, 5.2). With
    `rel_se`, paths run in batches of `paths` until the `target` class's `metric`
    ("expected_loss" or "prob_loss") has that relative standard error, or `max_paths` (default
    100 batches) have run; `Results.precision` says what was reached.

    `client` (a `dask.distributed.Client`; default: the one `ipabs.engine.distribute.using`
    set, else none) runs the paths on a Dask cluster in fixed chunks: the same per-path numbers
    and summaries as a local run (docs/scale-out.md). `threads` and `pool_cache` then apply to
    the local parts only (the importance pilot); the pool stage is recomputed on the workers.
    """
    source = None
    if not isinstance(scenario, Scenario):
        source = _scenario_path(scenario)
        scenario = _load_file(source)
    scenario = with_simulation(
        scenario, paths=paths, seed=seed, block_size=block_size, sample_paths=sample_paths
    )
    scenario = with_importance(scenario, importance, target)
    threads = resolve_threads(threads)
    _check_hooks(progress, pool_cache)
    client = _client(client)
    sim = scenario.simulation
    precision = _precision_request(scenario, rel_se, target, metric, max_paths)
    total = sim.paths if precision is None else precision["max_paths"]
    limits = {"paths": total, "sample_paths": sim.sample_paths, "threads": threads}
    if not allow_large:  # from the tables first: compiling a large pool takes seconds
        check_limits(estimate_scenario(scenario, **limits), paths=total)
    deal = compile_scenario(scenario)
    if not allow_large:
        check_limits(estimate(deal, **limits), paths=total)
    started = time.perf_counter()
    plan = plan_importance(scenario, threads=threads, deal=deal)
    if plan.enabled:
        deal = with_factor_shift(deal, plan.shift)
    bar, callback = resolve_progress(progress, total)
    names = [t.name for t in scenario.tranches_by_rank()]
    kept: list[Any] = []  # a cluster run's batches, their paths left on the workers
    parts: list[Any] = []  # every chunk's partials so far, in chunk order
    paths_dir = None if client is None else _staging_folder()
    try:
        with bar or contextlib.nullcontext():
            batches: list[RawResults] = []
            done = 0
            while True:
                batch = min(sim.paths, total - done)
                report = None if callback is None else (lambda n, d=done: callback(d + n, total))
                settings = dict(
                    paths=batch,
                    seed=sim.seed,
                    block_size=sim.block_size,
                    sample_paths=sim.sample_paths,
                    progress=report,
                    first_path=done,
                )
                if client is None:
                    batches.append(
                        run_paths(
                            deal,
                            threads=threads,
                            pool_cache=pool_cache if precision is None else None,
                            **settings,
                        )
                    )
                    if precision is not None:
                        parts += local_estimates(deal, batches[-1]).parts
                else:
                    merged = parts[-1] if parts else None  # the earlier batches' fold
                    kept.append(_run_kept(client, deal, paths_dir=paths_dir, merged=merged, **settings))  # fmt: skip
                    batches.append(kept[-1].samples)
                    parts = [kept[-1].partials]
                done += batch
                if precision is None:
                    break
                reached = _relative_se(parts, names.index(precision["target"]), precision)
                # None (null in JSON) while the target has shown no loss: no relative error yet
                precision.update(
                    paths_used=done, rel_se_reached=reached if np.isfinite(reached) else None
                )
                if reached <= precision["rel_se"] or done >= total:
                    precision["met"] = bool(reached <= precision["rel_se"])
                    break
        sizes = tuple(min(sim.paths, total - k * sim.paths) for k in range(len(batches)))
        partials = None
        if client is not None:
            partials = _settle_kept(client, deal, kept)
    except BaseException:
        if paths_dir is not None:
            shutil.rmtree(paths_dir, ignore_errors=True)
        raise
    raw = batches[0] if len(batches) == 1 else merge_batches(batches)
    wall = time.perf_counter() - started
    check_finite(raw, deal.tranche_names)
    results = Results(
        deal=deal,
        raw=raw,
        threads=threads,
        wall_seconds=wall,
        source=source,
        importance=plan,
        precision=precision,
        partials=partials,
        batch_paths=sizes,
        staging=None if paths_dir is None else Staging(Path(paths_dir)),
    )
    return results


def _staging_folder() -> str:
    """Where a cluster run's workers write their per-path tables (`IPABS_SCRATCH`, else the
    temporary folder: on a real cluster, a folder every worker and the driver can reach)."""
    return tempfile.mkdtemp(prefix="ipabs-paths-", dir=os.environ.get("IPABS_SCRATCH"))


def _run_kept(client, deal, **settings):
    from ipabs.engine.distribute import run_kept_on_cluster

    return run_kept_on_cluster(client, deal, **settings)


def _settle_kept(client, deal, kept: list) -> Any:
    from ipabs.engine.distribute import settle_kept

    return settle_kept(client, deal, kept)


def with_importance(
    scenario: Scenario, importance: str | Sequence[float] | None, target: str | None
) -> Scenario:
    """The scenario with `simulation.importance` / `importance_target` replaced (None keeps the
    file's), checked as the loader checks them."""
    given: dict[str, object] = {}
    if importance is not None:
        if isinstance(importance, str):
            given["importance"] = importance
        else:
            try:
                given["importance"] = tuple(float(x) for x in importance)
            except (TypeError, ValueError):
                raise ScenarioError(
                    'importance must be "none", "auto" or one number per factor',
                    problems=(Problem("simulation.importance", "not allowed", importance, True),),
                ) from None
    if target is not None:
        given["importance_target"] = target
    if not given:
        return scenario
    updated = _with_settings(scenario, given)
    problems = tuple(check_importance(updated))
    if problems:
        raise ScenarioError("invalid importance sampling setting", problems=problems)
    return updated


def _precision_request(
    scenario: Scenario, rel_se: float | None, target: str | None, metric: str, max_paths: int | None
) -> dict[str, Any] | None:
    if rel_se is None:
        if max_paths is not None:
            raise ScenarioError("max_paths goes with rel_se (run until a precision is reached)")
        return None
    if isinstance(rel_se, bool) or not isinstance(rel_se, numbers.Real) or not 0 < rel_se < 1:
        raise ScenarioError(
            "rel_se must be a relative standard error between 0 and 1, e.g. 0.1",
            problems=(Problem("rel_se", "out of range", rel_se, True),),
        )
    name = target or scenario.simulation.importance_target
    names = [t.name for t in scenario.tranches]
    if name is None:
        raise ScenarioError("rel_se needs a target class (target=, or --target)")
    if name not in names:
        raise ScenarioError(
            f"no tranche is named {name!r}; tranches: {', '.join(names)}",
            problems=(Problem("target", "unknown tranche", name, True),),
        )
    if metric not in ("expected_loss", "prob_loss"):
        raise ScenarioError(
            f'metric must be "expected_loss" or "prob_loss", not {metric!r}',
            problems=(Problem("metric", "not allowed", metric, True),),
        )
    batch = scenario.simulation.paths
    limit = 100 * batch if max_paths is None else _integer("max_paths", max_paths)
    if limit < batch:
        raise ScenarioError(f"max_paths ({limit:,}) is below one batch of paths ({batch:,})")
    return {
        "target": name,
        "metric": metric,
        "rel_se": float(rel_se),
        "max_paths": limit,
        "batch_paths": batch,
    }


def _relative_se(parts: list, t: int, precision: dict[str, Any]) -> float:
    """The target class's (rank index `t`) relative standard error on the paths so far (inf with
    no loss), from the chunks' partials in chunk order."""
    from ipabs.engine.estimates import Estimates

    name = f"{t}.loss" if precision["metric"] == "expected_loss" else f"{t}.has_loss"
    mean, se = Estimates(parts, {}).mean(name)
    return float(se / mean) if mean > 0 and np.isfinite(se) else float("inf")


def merge_batches(batches: list[RawResults]) -> RawResults:
    """Batches of consecutive paths as one run: per-path arrays end to end, the per-period
    samples from the first batch (its first sample_paths paths)."""
    first = batches[0]
    per_path = PER_PATH_FIELDS
    return RawResults(
        **{
            f.name: (
                np.concatenate([getattr(b, f.name) for b in batches])
                if f.name in per_path
                else getattr(first, f.name)
            )
            for f in dataclasses.fields(RawResults)
        }
    )


def _client(client: Any) -> Any:
    """The client to run on (the argument, else the one `distribute.using` set), checked; None
    to run locally."""
    from ipabs.engine import distribute

    client = client if client is not None else distribute.current()
    if client is not None:
        distribute.check_client(client)
    return client


def _check_hooks(progress: object, pool_cache: object) -> None:
    if not valid_progress(progress):
        resolve_progress(progress, 0)  # raises the ScenarioError that says what is allowed
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
        if _all_finite(field.name, values, columns):  # the usual case, in one pass an array
            continue
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


def _all_finite(name: str, values: np.ndarray, columns: tuple[str, ...] | None) -> bool:
    """Whether every value is finite, apart from the NaN allowed in some columns. A finite sum
    has only finite terms (a NaN or an infinity makes it NaN or infinite), and is one pass
    without a temporary; a sum that overflows is checked value by value."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return True
    bad = ~np.isfinite(values)
    if columns is not None and bad.any():
        for j, column in enumerate(columns):
            if (name, column) in _NAN_ALLOWED:
                bad[..., j] = np.isinf(values[..., j])
    return not bad.any()


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
