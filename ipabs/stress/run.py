"""Run a scenario's base case and every stress on the same random draws, compare them, say what
each stress changed and judge each against the stress file's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ipabs.engine.distribute import run_all, with_client
from ipabs.scenario.model import Scenario
from ipabs.stress.apply import StressError, apply_stress, name_problems, planned_stresses
from ipabs.stress.definitions import StressFile, spec_problems, target_name_problems

#: the summary columns the comparison keeps per stress and class: the table's metrics, and what
#: the targets' verdicts are recomputed from (estimates with their standard errors, the count of
#: paths with a loss; ipabs.stress.targets)
COMPARED = (
    "rank",
    "expected_loss",
    "prob_loss",
    "wal_years",
    "irr_mean",
    "price_pct_par",
    "implied_rating",
    "implied_rating_point",
    "implied_rating_best",
    "rating_resolved",
    "expected_loss_se",
    "prob_loss_se",
    "paths_with_loss",
    "prob_shortfall",
    "prob_shortfall_se",
)


@dataclass(frozen=True)
class StressRun:
    results: dict  # stress name -> ipabs.Results (base first)
    comparison: pd.DataFrame  # stress, paths, importance_sampling, tranche, COMPARED
    reverse: pd.DataFrame | None  # breakeven per tranche and pool stress, with `applies`
    targets: pd.DataFrame | None = None  # pass/fail per stress and target (None: no targets)
    changes: dict = field(default_factory=dict)  # stress name -> describe_changes (no base)
    reverse_applicability: pd.DataFrame | None = None  # per searched preset: applies, reason

    @property
    def no_effect(self) -> dict[str, bool]:
        """Per stress: True when it changed nothing in this scenario (e.g. a loan's disposal lag
        on a pool without loans), so its results are the base case's."""
        return {name: len(frame) == 0 for name, frame in self.changes.items()}

    def changes_frame(self) -> pd.DataFrame:
        """Every stress's changes in one long frame (stress, key, changed_values, ...), for
        Parquet."""
        from ipabs.stress.changes import changes_frame

        return changes_frame(self.changes)


def compare(results: dict) -> pd.DataFrame:
    """One row per stress and class (classes by rank): stress, the paths run, whether they were
    importance-sampled, tranche and the COMPARED summary columns."""
    rows = []
    for name, res in results.items():
        frame = res.summary[["tranche", *COMPARED]].copy()
        weighted = res.importance is not None and res.importance.enabled
        frame.insert(0, "importance_sampling", bool(weighted))
        frame.insert(0, "paths", int(res.paths_run))
        frame.insert(0, "stress", name)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def stresses_of(spec: StressFile) -> list:
    """Every stress of `spec`, in order: the named ones, then each grid's points."""
    return [p.stress for p in planned_stresses(spec)]


def stressed_scenarios(
    sc: Scenario, spec: StressFile, source: str | Path = ""
) -> dict[str, Scenario]:
    """The base case and every stressed scenario by name, all checked before any runs: the
    stress file's own rules (for a StressFile not read by load_stress_file), unique names, the
    targets (stresses the file has, classes and ratings the scenario has), and every stressed
    scenario valid. One StressError lists the problems of every stress."""
    problems = target_problems_for(sc, spec)
    if not problems:
        planned = planned_stresses(spec)
        problems = name_problems(planned) + target_name_problems(spec, planned)
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


def target_problems_for(sc: Scenario, spec: StressFile) -> list:
    """The file's own rules, and its targets against this scenario (a class id it has, a rank
    one of its classes holds, a rating of its table)."""
    from ipabs.stress.targets import scenario_target_problems

    problems = spec_problems(spec)
    return problems or scenario_target_problems(spec, sc)


@with_client
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
    from ipabs.stress.changes import describe_changes
    from ipabs.stress.targets import targets_table

    problems = target_problems_for(sc, spec)  # before the importance pilot runs anything
    if problems:
        where = str(source) or None
        raise StressError("invalid stress file", source=where, problems=tuple(problems))
    sc = fixed_shift(sc, paths=paths, seed=seed)  # one importance shift for every stress
    stressed = stressed_scenarios(sc, spec, source)
    changes = {name: describe_changes(sc, s) for name, s in stressed.items() if name != "base"}
    # on a cluster every stress's chunks are tasks at once (`run_all`); the same numbers
    runs = run_all(lambda s: simulate(s, paths=paths, seed=seed, progress=False), list(stressed.values()))  # fmt: skip
    results = dict(zip(stressed, runs, strict=True))
    comparison = compare(results)
    reverse, applicability = None, None
    if spec.reverse is not None:
        reverse, applicability = reverse_stress(sc, spec, paths=paths, seed=seed)
    targets = targets_table(comparison, spec, scenario=sc) if spec.target else None
    return StressRun(results, comparison, reverse, targets, changes, applicability)


def reverse_stress(
    sc: Scenario, spec: StressFile, *, paths: int | None, seed: int | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The breakeven search (ipabs.solvers.breakeven) of the presets that apply to this scenario
    (ipabs.stress.changes.applicability); a preset that changes nothing is not searched and gets
    rows of its own: status "not applicable", no level. Rows by preset in the file's order, then
    class by rank; `applies` and `reason` (a msgid) on every row."""
    from ipabs.solvers import breakeven
    from ipabs.solvers.stress import STRESS_UNITS
    from ipabs.stress.changes import applicability

    presets = tuple(spec.reverse.stresses)
    table = applicability(sc, presets)
    applies = dict(zip(table["preset"], table["applies"], strict=True))
    reasons = dict(zip(table["preset"], table["reason"], strict=True))
    searched = tuple(p for p in presets if applies[p])
    found = pd.DataFrame()
    if searched:
        found = pd.DataFrame(
            breakeven(
                sc,
                stresses=searched,
                expected_loss=spec.reverse.expected_loss,
                paths=paths,
                seed=seed,
            )
        )
    fields = ("target", "target_metric", "target_limit", "target_rating")
    targets = {row["tranche"]: {f: row[f] for f in fields} for _, row in found.iterrows()}
    missing = {"target": "", "target_metric": "", "target_limit": math.nan, "target_rating": ""}
    frames = []
    for preset in presets:
        if applies[preset]:
            part = found[found["stress"] == preset].copy()
        else:
            part = pd.DataFrame(
                [
                    {
                        "tranche": t.name,
                        "stress": preset,
                        "breakeven": math.nan,
                        "status": "not applicable",
                        **targets.get(t.name, missing),
                        "level_means": STRESS_UNITS[preset],
                        "expected_loss_at_breakeven": math.nan,
                        "prob_loss_at_breakeven": math.nan,
                        "evaluations": 0,
                    }
                    for t in sc.tranches_by_rank()
                ]
            )
        part["applies"] = bool(applies[preset])
        part["reason"] = reasons[preset]
        frames.append(part)
    return pd.concat(frames, ignore_index=True), table


def write_stress_run(run: StressRun, out_dir: Path, info: dict) -> Path:
    """out_dir/summary/stress=<name>/*.parquet (one dataset partitioned by stress: every summary
    column), comparison.parquet, changes.parquet (what each stress changed), targets.parquet
    (with targets), reverse.parquet (with a reverse stress), manifest.json."""
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
        written = {
            "comparison": run.comparison,
            "changes": run.changes_frame(),
            "targets": run.targets,
            "reverse": run.reverse,
        }
        for name, frame in written.items():
            if frame is not None:
                write_parquet(frame, tmp / f"{name}.parquet", meta)
        write_manifest(tmp, info)
    return Path(out_dir)
