"""Run a scenario's base case and every stress on the same random draws, and compare them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ipabs.scenario.model import Scenario
from ipabs.stress.apply import StressError, apply_stress, name_problems, planned_stresses
from ipabs.stress.definitions import StressFile, spec_problems

COMPARED = (
    "expected_loss",
    "prob_loss",
    "wal_years",
    "irr_mean",
    "price_pct_par",
    "implied_rating",
    "implied_rating_point",
    "implied_rating_best",
    "rating_resolved",
)


@dataclass(frozen=True)
class StressRun:
    results: dict  # stress name -> ipabs.Results (base first)
    comparison: pd.DataFrame  # stress, tranche and the COMPARED metrics
    reverse: pd.DataFrame | None  # breakeven per tranche and pool stress


def stresses_of(spec: StressFile) -> list:
    """Every stress of `spec`, in order: the named ones, then each grid's points."""
    return [p.stress for p in planned_stresses(spec)]


def stressed_scenarios(
    sc: Scenario, spec: StressFile, source: str | Path = ""
) -> dict[str, Scenario]:
    """The base case and every stressed scenario by name, all checked before any runs: the
    stress file's own rules (for a StressFile not read by load_stress_file), unique names, and
    every stressed scenario valid. One StressError lists the problems of every stress."""
    problems = spec_problems(spec)
    if not problems:
        planned = planned_stresses(spec)
        problems = name_problems(planned)
    if problems:
        raise StressError(
            "invalid stress file", source=str(source) or None, problems=tuple(problems)
        )
    stressed = {"base": sc}
    for p in planned:
        try:
            stressed[p.stress.name] = apply_stress(sc, p.stress, str(source), p.origin)
        except StressError as exc:
            problems += exc.problems
    if problems:
        raise StressError(
            "the stressed scenario is invalid", source=str(source) or None, problems=tuple(problems)
        )
    return stressed


def run_stresses(
    sc: Scenario,
    spec: StressFile,
    *,
    paths: int | None = None,
    seed: int | None = None,
    source: str | Path = "",
) -> StressRun:
    """Every stress is applied and validated before anything runs (stressed_scenarios); all
    runs use the scenario's seed (or `seed`): the same paths under every stress (common random
    numbers)."""
    from ipabs.api import simulate
    from ipabs.engine.importance import fixed_shift

    sc = fixed_shift(sc, paths=paths, seed=seed)  # one importance shift for every stress
    stressed = stressed_scenarios(sc, spec, source)
    results = {
        name: simulate(s, paths=paths, seed=seed, progress=False) for name, s in stressed.items()
    }
    rows = []
    for name, res in results.items():
        frame = res.summary[["tranche", *COMPARED]].copy()
        frame.insert(0, "stress", name)
        rows.append(frame)
    reverse = None
    if spec.reverse is not None:
        from ipabs.solvers import breakeven

        reverse = breakeven(
            sc,
            stresses=spec.reverse.stresses,
            expected_loss=spec.reverse.expected_loss,
            paths=paths,
            seed=seed,
        )
    return StressRun(results, pd.concat(rows, ignore_index=True), reverse)


def write_stress_run(run: StressRun, out_dir: Path, info: dict) -> Path:
    """out_dir/summary/stress=<name>/*.parquet (one dataset partitioned by stress: every summary
    column), comparison.parquet, reverse.parquet (with a reverse stress), manifest.json."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from ipabs.outputs.writer import MANIFEST_KEY, atomic_folder, write_manifest, write_parquet

    meta = json.dumps(info, sort_keys=True).encode()
    with atomic_folder(out_dir) as tmp:
        frames = []
        for name, res in run.results.items():
            frame = res.summary.copy()
            frame.insert(0, "stress", name)
            frames.append(frame)
        table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), MANIFEST_KEY: meta})
        # one thread: pyarrow's dataset writer otherwise leaves a C++ thread pool that, twice in
        # the test suite, aborted the process at exit ("terminate called without an active
        # exception") after the command had finished; the files are the same either way
        pq.write_to_dataset(table, tmp / "summary", partition_cols=["stress"], use_threads=False)
        for name, frame in (("comparison", run.comparison), ("reverse", run.reverse)):
            if frame is not None:
                write_parquet(frame, tmp / f"{name}.parquet", meta)
        write_manifest(tmp, info)
    return Path(out_dir)
