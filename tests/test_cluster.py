"""Runs on a Dask cluster (ipabs.engine.distribute, docs/scale-out.md): the same per-path numbers
and summaries as a local run, a killed worker changing nothing, an interrupt leaving no output.

One LocalCluster of 2 worker processes, single-threaded each, serves the whole module (starting
one costs seconds). Chunks are cut small here (`CHUNK_PATHS` is the driver's setting) so that a
few hundred paths make several tasks, with the per-period samples and the cash-flow statement
spread over more than one chunk."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import pickle
import signal
import sys
import time

import numpy as np
import pandas as pd
import pytest
from helpers import FLAGSHIP, REPO

import ipabs
from ipabs.engine import distribute
from ipabs.engine.compile import compile_scenario, with_factor_shift
from ipabs.engine.run import RawResults, run_paths
from ipabs.errors import UserError

LOANS = REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml"
REGULATORY = REPO / "scenarios" / "stress" / "regulatory.toml"
CHUNK = 300  # paths per task in these tests


@pytest.fixture(scope="module")
def client():
    with distribute.connect("local:2") as c:
        yield c


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(distribute, "CHUNK_PATHS", CHUNK)


def _same_raw(a: RawResults, b: RawResults) -> None:
    for f in dataclasses.fields(RawResults):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.shape == y.shape, f.name
        assert x.dtype == y.dtype, f.name
        assert np.array_equal(x, y, equal_nan=True), f.name


def _same_samples(a: RawResults, b: RawResults) -> None:
    """The per-period samples equal (a cluster run's `raw` has no per-path rows: they stay on
    the workers)."""
    for f in dataclasses.fields(RawResults):
        if f.name not in distribute.PER_PATH:
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f.name


def _same_results(a: ipabs.Results, b: ipabs.Results) -> None:
    _same_samples(a.raw, b.raw)
    assert a.paths_run == b.paths_run
    for table in ("summary", "pool", "triggers", "periods", "cash_flows", "paths", "pool_paths"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)


# ---------------------------------------------------------------------------------------------
# chunks: a chunked run is the one-shot run, row for row (no cluster needed)


def test_chunks_cover_the_paths_in_fixed_pieces():
    # 1,000 paths from path 250 in chunks of 300: 250-549, 550-849, 850-1149, 1150-1249
    assert distribute.chunks(1000, 250, 300) == [(250, 300), (550, 300), (850, 300), (1150, 100)]
    assert distribute.chunks(300, 0, 300) == [(0, 300)]
    # the cut depends on the paths alone, never on the cluster: 16,384 a chunk by default
    assert distribute.chunks(40_000, 0, 16_384)[-1] == (32_768, 7_232)


def test_chunked_run_equals_the_one_shot_run_exactly():
    """run_chunk on each chunk, merged in chunk order, gives the one-shot run's arrays bit for
    bit: per-path rows, the per-period samples of the first 700 paths (spread over 3 chunks of
    300: 300 + 300 + 100 rows) and the statement's rows, with importance weights (a fixed
    shift, so every path's weight is not 1)."""
    sc = ipabs.load(FLAGSHIP)
    deal = with_factor_shift(compile_scenario(sc), np.full(len(sc.factors.names), -0.5))
    one = run_paths(deal, paths=1000, seed=11, block_size=64, sample_paths=700, threads=1)
    assert not np.all(one.weight == 1.0)
    parts = [
        distribute.run_chunk(deal, 11, 64, max(0, 700 - first), first, count)
        for first, count in distribute.chunks(1000, 0, 300)
    ]
    assert [p.sample_collections.shape[0] for p in parts] == [300, 300, 100, 0]
    _same_raw(distribute.merge_chunks(parts, 700), one)


def test_chunked_loan_pool_keeps_every_path_s_layer_payments():
    """A loan pool's loss-sharing layer payments are per path (`RawResults.layer_paid`, one
    row a path): merged chunks keep all 600 rows, not the first 100 sampled ones
    (the pool summary's expected layer payments are over every path)."""
    deal = compile_scenario(ipabs.load(LOANS))
    one = run_paths(deal, paths=600, seed=1, block_size=64, sample_paths=100, threads=1)
    assert one.layer_paid.shape == (600, 1)
    cut = distribute.chunks(600, 0, 300)
    parts = [distribute.run_chunk(deal, 1, 64, max(0, 100 - a), a, n) for a, n in cut]
    _same_raw(distribute.merge_chunks(parts, 100), one)


def test_chunks_merged_keep_the_statement_and_sample_rows():
    """Chunks merged in path order keep one run's per-period samples, e.g. the statement's 2,000
    rows from 3 chunks of 900 (900 + 900 + 200 of the third's 900)."""
    deal = compile_scenario(ipabs.load(FLAGSHIP))
    cut = distribute.chunks(3000, 0, 900)
    parts = [distribute.run_chunk(deal, 5, 128, max(0, 2500 - a), a, n) for a, n in cut]
    merged = distribute.merge_chunks(parts, 2500)
    assert merged.sample_flows.shape[0] == 2000 and merged.sample_collections.shape[0] == 2500
    _same_raw(merged, run_paths(deal, paths=3000, seed=5, block_size=128, sample_paths=2500))


def test_chunked_batch_equals_the_batch():
    """A batch that starts at path 500 (a --rel-se continuation), chunked: the same rows."""
    deal = compile_scenario(ipabs.load(FLAGSHIP))
    one = run_paths(deal, paths=400, seed=3, block_size=50, sample_paths=350, first_path=500)
    parts = [
        distribute.run_chunk(deal, 3, 50, max(0, 350 - (first - 500)), first, count)
        for first, count in distribute.chunks(400, 500, 300)
    ]
    _same_raw(distribute.merge_chunks(parts, 350), one)


# ---------------------------------------------------------------------------------------------
# on the cluster: the local run's numbers


def test_flagship_on_the_cluster_equals_the_local_run(client, tmp_path):
    """Summary, pool, periods, cash flows and the per-path tables equal, and the written
    per-path Parquet files are equal too."""
    local = ipabs.simulate(FLAGSHIP, paths=1000, sample_paths=700, progress=False)
    seen: list[int] = []  # paths done as each chunk comes back: 4 chunks of <= 300 paths
    remote = ipabs.simulate(
        FLAGSHIP, paths=1000, sample_paths=700, client=client, progress=lambda d, t: seen.append(d)
    )
    assert len(seen) == 4 and seen[-1] == 1000
    _same_results(local, remote)
    local.write(tmp_path / "local", charts=False)
    remote.write(tmp_path / "remote", charts=False)
    for name in ("paths.parquet", "pool_paths.parquet", "summary.parquet"):
        a = pd.read_parquet(tmp_path / "local" / name)
        b = pd.read_parquet(tmp_path / "remote" / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_the_driver_holds_no_array_with_a_paths_axis(client, tmp_path):
    """A cluster run's Results (1,000 paths in 4 chunks, 50 sampled) holds no per-path array on
    the driver: `raw`'s per-path fields have no rows (the weights: the 50 sampled paths'), the
    summaries' partials are the chunks' fold (a few numbers, however many chunks) with no
    ranked values; the summary still equals the local run's and the per-path tables are read
    from the workers' files, one per chunk."""
    local = ipabs.simulate(FLAGSHIP, paths=1000, sample_paths=50, progress=False)
    remote = ipabs.simulate(FLAGSHIP, paths=1000, sample_paths=50, client=client, progress=False)
    for name in ("tranche", "pool", "trigger_first", "layer_paid"):
        assert getattr(remote.raw, name).shape[0] == 0, name
    assert remote.raw.weight.shape == (50,)
    assert remote.paths_run == 1000
    estimates = remote.estimates
    assert len(estimates.parts) == 1 and not estimates.parts[0].ranked
    assert estimates.parts[0].paths == 1000
    assert estimates.source is None  # the quantiles were found before the chunks were released

    def arrays(obj, seen=None):
        """Every NumPy array reachable from the estimates."""
        seen = set() if seen is None else seen
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from arrays(v, seen)
        elif isinstance(obj, list | tuple):
            for v in obj:
                yield from arrays(v, seen)
        elif hasattr(obj, "__dict__") or dataclasses.is_dataclass(obj):
            for v in vars(obj).values():
                yield from arrays(v, seen)

    # the largest arrays are the quantile histograms' 2^16 bins (none kept) or a partial's
    # co-moment matrix: nothing with 1,000 rows or more
    assert max(a.shape[0] if a.ndim else 0 for a in arrays(estimates)) < 1000
    pd.testing.assert_frame_equal(local.summary, remote.summary, check_exact=True)
    files = sorted(p.name for p in (remote.paths_folder / "paths.parquet").iterdir())
    assert files == [distribute.part_name(first) for first in (0, 300, 600, 900)]
    assert remote.worst_cash_gap == local.worst_cash_gap
    assert remote.worst_cash_gap < 1e-9
    remote.write(tmp_path / "out", charts=False)
    assert (tmp_path / "out" / "paths.parquet").is_dir()  # a partitioned dataset: a folder
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "out" / "paths.parquet"), local.paths, check_exact=True
    )
    folder = remote.paths_folder
    del remote
    import gc

    gc.collect()
    assert not folder.exists()  # the staging folder goes with the results


def test_loan_pool_on_the_cluster_equals_the_local_run(client):
    local = ipabs.simulate(LOANS, paths=700, progress=False)
    remote = ipabs.simulate(LOANS, paths=700, progress=False, client=client)
    _same_results(local, remote)


def test_rel_se_batches_and_importance_on_the_cluster(client):
    """--rel-se batching with an importance shift: the same batches, the same precision record,
    the same weighted numbers."""
    sc = ipabs.load(FLAGSHIP)
    shift = [-0.5] * len(sc.factors.names)
    kwargs = dict(paths=400, importance=shift, target="senior_A", rel_se=0.01, max_paths=1200)
    kwargs["progress"] = False
    local = ipabs.simulate(sc, **kwargs)
    remote = ipabs.simulate(sc, client=client, **kwargs)
    assert local.precision == remote.precision
    assert local.precision["paths_used"] == 1200  # 3 batches of 400: the target is not met
    _same_results(local, remote)


#: two stresses, a target and a reverse stress of one preset: every part of a stress file (the
#: shipped regulatory file runs in the CLI test below)
SMALL_STRESS = """
[[stress]]
name = "pd_x2"
presets = [{ apply = "default_multiplier", level = 1.0 }]

[[stress]]
name = "severe"
changes = [{ path = "credit_support[*].provider_default_probability", set = 1.0 }]
presets = [
  { apply = "default_multiplier", level = 2.0 },
  { apply = "recovery_cut", level = 0.5 },
]

[reverse]
stresses = ["default_multiplier"]

[[target]]
rank = 1
metric = "expected_loss"
max = 0.01
stresses = ["base", "pd_x2", "severe"]
"""


def test_stress_file_on_the_cluster_equals_the_local_run(client, tmp_path):
    """A stress file (stresses, targets and a reverse stress) on the flagship: every stressed
    run, the comparison, the targets and the breakevens equal."""
    from ipabs.stress.definitions import load_stress_file
    from ipabs.stress.run import run_stresses

    source = tmp_path / "stress.toml"
    source.write_text(SMALL_STRESS)
    sc, spec = ipabs.load(FLAGSHIP), load_stress_file(source)
    local = run_stresses(sc, spec, paths=400, source=source)
    remote = run_stresses(sc, spec, paths=400, source=source, client=client)
    assert list(remote.results) == ["base", "pd_x2", "severe"]
    assert remote.reverse is not None and remote.targets is not None
    assert list(local.results) == list(remote.results)
    for name in local.results:
        _same_samples(local.results[name].raw, remote.results[name].raw)
        pd.testing.assert_frame_equal(
            local.results[name].summary, remote.results[name].summary, check_exact=True
        )
    pd.testing.assert_frame_equal(local.comparison, remote.comparison, check_exact=True)
    for attr in ("targets", "reverse"):
        a, b = getattr(local, attr), getattr(remote, attr)
        assert (a is None) == (b is None)
        if a is not None:
            pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_stress_command_on_the_cluster_prints_the_local_numbers(
    client, tmp_path, capsys, monkeypatch
):
    """The issue's done-when command, `ipabs stress FLAGSHIP --stress regulatory.toml --cluster
    ADDRESS --json`: the same comparison, targets and reverse stress as without --cluster (all
    but the output folder). 200 paths in 2 chunks of 100."""
    from ipabs import cli

    monkeypatch.setattr(distribute, "CHUNK_PATHS", 100)
    printed = {}
    for name, extra in (("local", []), ("remote", ["--cluster", client.scheduler.address])):
        argv = ["stress", str(FLAGSHIP), "--stress", str(REGULATORY), "--paths", "200", "--json"]
        with pytest.raises(SystemExit) as exc:
            cli.main([*argv, "--out", str(tmp_path / name), *extra])
        assert exc.value.code == 0
        printed[name] = json.loads(capsys.readouterr().out)
        printed[name].pop("out")
    assert printed["local"] == printed["remote"]
    assert {"comparison", "targets", "reverse"} <= set(printed["remote"])


def test_sizing_on_the_cluster_equals_the_local_sizing(client):
    """`size` replays the pool stage locally (PoolCache); on the cluster it is recomputed on
    the workers: the same balance, the same evaluations."""
    sc = ipabs.load(FLAGSHIP)
    senior = sc.tranches_by_rank()[0].name
    local = ipabs.solvers.size(sc, senior, expected_loss=0.01, paths=600)
    remote = ipabs.solvers.size(sc, senior, expected_loss=0.01, paths=600, client=client)
    assert (local.balance, local.evaluations) == (remote.balance, remote.evaluations)
    _same_results(local.results, remote.results)


def test_sweep_on_the_cluster_equals_the_local_sweep(client):
    """A sweep's grid points run at once on the cluster (each point x chunk a task): the same
    table, in the grid's order."""
    axes = {"licensees[*].annual_default_probability": [0.01, 0.05, 0.1]}
    local = ipabs.sweep(FLAGSHIP, axes, paths=700, progress=False)
    remote = ipabs.sweep(FLAGSHIP, axes, paths=700, progress=False, client=client)
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_transfer_price_on_the_cluster_equals_the_local_price(client):
    sc = ipabs.load(REPO / "scenarios" / "beijing_ip_pledge_loan_transfer.toml")
    local = ipabs.price(sc, paths=700)
    remote = ipabs.price(sc, paths=700, client=client)
    assert (local.price, local.price_se) == (remote.price, remote.price_se)
    pd.testing.assert_frame_equal(local.distribution, remote.distribution, check_exact=True)


def test_a_killed_worker_changes_nothing(client):
    """Kill one worker process (SIGKILL, from here) once the first chunk is back: Dask reruns
    its tasks on the other worker and the restarted one, and, the tasks being pure functions of
    (deal, seed, chunk), the run equals the local run bit for bit."""
    local = ipabs.simulate(FLAGSHIP, paths=3000, progress=False)
    before = client.run(os.getpid)
    killed = []

    def kill_once(done: int, total: int) -> None:
        if not killed:
            victim = sorted(before.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    remote = ipabs.simulate(FLAGSHIP, paths=3000, progress=kill_once, client=client)
    assert killed
    _same_results(local, remote)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, under a new process id
    after = client.run(os.getpid)
    assert killed[0] not in after.values()


class _Done:
    """A finished task's future, standing in for Dask's: its result arrives as a copy (pickled
    and unpickled), as from a worker."""

    def __init__(self, value, key: int):
        self.value, self.key = pickle.loads(pickle.dumps(value)), f"task-{key}"

    def result(self):
        return self.value

    def release(self) -> None:
        self.value = None


class _Inline:
    """A client that runs each task at once in this process (`submit`, `cancel`)."""

    def __init__(self):
        self.keys = itertools.count()

    def submit(self, fn, *args, pure=False, priority=0):
        args = [a.result() if isinstance(a, _Done) else a for a in args]
        return _Done(fn(*args), next(self.keys))

    def cancel(self, futures) -> None:
        pass


class _LatestFirst:
    """`as_completed` whose tasks come back latest submitted first, out of chunk order."""

    def __init__(self):
        self.waiting: list = []

    def add(self, future) -> None:
        self.waiting.append(future)

    def __iter__(self):
        while self.waiting:
            yield self.waiting.pop()


def _reduction_peak(deal, paths: int) -> tuple[int, object]:
    """The driver's peak of traced allocations while it reduces the chunks of `paths` paths of
    a cluster run (`in_chunk_order` folding the chunks' partials, then `settle_kept` finding
    every quantile), the chunks themselves made before tracing starts, as if on workers."""
    import gc
    import tracemalloc

    client = _Inline()
    kept = [
        client.submit(distribute.run_chunk_kept, deal, 7, 64, 0, first, count, None)
        for first, count in distribute.chunks(paths)
    ]
    gc.collect()
    tracemalloc.start()
    try:
        fold = []
        distribute.in_chunk_order(
            client,
            kept,
            distribute._light,
            (),
            lambda c: fold.append(c.partials if not fold else fold.pop().merge(c.partials)),
        )
        batch = distribute.KeptBatch(kept, fold[0], None, 0.0, None)
        estimates = distribute.settle_kept(client, deal, [batch])
        return tracemalloc.get_traced_memory()[1], estimates
    finally:
        tracemalloc.stop()


#: the most the driver's reduction may grow per chunk (see the test)
PER_CHUNK_BYTES = 32 * 1024


def test_the_driver_s_reduction_holds_nothing_per_chunk(monkeypatch):
    """The driver keeps nothing per chunk but the chunk's future: each chunk's partials are
    folded in chunk order as they come and each selection round's answers merged as they come,
    at most `WINDOW` results held (here 2, the tasks coming back latest first). Chunks of 250
    paths and a fetch limit of 64 values (so the selection splits its bins down the key's
    bits, as at millions of paths): the peak over 8 chunks (2,000 paths) may exceed that over 2
    chunks (500) by at most PER_CHUNK_BYTES = 32 KiB a chunk. Measured: about 6 KiB a chunk;
    the code before this (every chunk's partials held, a round's histograms gathered from
    every chunk at once) grew by about 127 KiB a chunk in the same measurement
    (benchmarks/README.md). The quantiles found equal the local run's."""
    from ipabs.engine import partials
    from ipabs.engine.estimates import local_estimates
    from ipabs.engine.reduce import wanted_quantiles

    monkeypatch.setattr(distribute, "CHUNK_PATHS", 250)
    monkeypatch.setattr(distribute, "WINDOW", 2)
    monkeypatch.setattr(distribute, "_as_completed", _LatestFirst)
    monkeypatch.setattr(partials, "FETCH_LIMIT", 64)
    deal = compile_scenario(ipabs.load(FLAGSHIP))
    # each size measured twice, the smaller peak kept: a first pass can allocate once what the
    # second finds ready (a kernel compiled, a cache filled), which is not per-chunk state
    _reduction_peak(deal, 500)
    two = min(_reduction_peak(deal, 500)[0] for _ in range(2))
    runs = [_reduction_peak(deal, 2000) for _ in range(2)]
    eight, estimates = min(runs, key=lambda run: run[0])
    assert (eight - two) / 6 < PER_CHUNK_BYTES, (two, eight)
    local = local_estimates(
        deal, run_paths(deal, paths=2000, seed=7, block_size=64, sample_paths=0)
    )
    local.settle(wanted_quantiles(deal.scenario))
    assert estimates.found == local.found and len(estimates.found) == 3 * 8 + 4


def _kernel_versions() -> int:
    from ipabs.engine.run import _run_blocks

    return len(_run_blocks.signatures)


def test_kernels_load_once_per_worker_not_per_task(client):
    """A worker process holds one compiled version of the path kernel per kind of deal it ran:
    after a run of the flagship (5 tasks), 5 more tasks of it add none, on any worker."""
    ipabs.simulate(FLAGSHIP, paths=1500, progress=False, client=client)
    before = client.run(_kernel_versions)
    ipabs.simulate(FLAGSHIP, paths=1500, seed=99, progress=False, client=client)  # 5 tasks
    assert client.run(_kernel_versions) == before


def _scheduler_tasks(client) -> int:
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def test_interrupt_cancels_the_tasks_and_writes_nothing(client, tmp_path, monkeypatch):
    """Ctrl-C (a KeyboardInterrupt in the driver, here raised when the first chunk is back)
    during `ipabs run --cluster`: exit 130, no output folder (nor a hidden partial one), and the
    scheduler left with no task of the run."""
    from ipabs import cli

    def interrupt(self, done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._LazyProgress, "update", interrupt)
    address = client.scheduler.address
    out = tmp_path / "run"
    argv = ["run", str(FLAGSHIP), "--paths", "6000", "--out", str(out), "--cluster", address]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 130
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 30
    while _scheduler_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _scheduler_tasks(client) == 0


def test_interrupting_concurrent_runs_cancels_every_run(client):
    """`run_all` (stress points, sweep points): an interrupt in one run cancels the tasks of
    every run, so the driver's threads end and the scheduler is left with nothing."""

    def stop(done, total):
        raise KeyboardInterrupt

    def run(i):
        return ipabs.simulate(FLAGSHIP, paths=6000, progress=stop if i == 0 else False)

    with distribute.using(client), pytest.raises(KeyboardInterrupt):
        list(distribute.run_all(run, [0, 1, 2]))
    deadline = time.monotonic() + 30
    while _scheduler_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _scheduler_tasks(client) == 0


def test_cli_run_with_the_cluster_from_the_environment(client, tmp_path, monkeypatch):
    """IPABS_CLUSTER gives --cluster its default: the same per-path Parquet as a local run."""
    from ipabs import cli

    monkeypatch.setenv("IPABS_CLUSTER", client.scheduler.address)
    common = [str(FLAGSHIP), "--paths", "700", "-q", "--no-charts"]
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", *common, "--out", str(tmp_path / "remote")])
    assert exc.value.code == 0
    monkeypatch.delenv("IPABS_CLUSTER")
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", *common, "--out", str(tmp_path / "local")])
    assert exc.value.code == 0
    for name in ("paths.parquet", "pool_paths.parquet", "summary.parquet", "periods.parquet"):
        a = pd.read_parquet(tmp_path / "local" / name)
        b = pd.read_parquet(tmp_path / "remote" / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("foo", "expected a scheduler address such as tcp://host:8786, or local:N"),
        ("local:0", "local:N takes N worker processes, 1 to 512"),
        ("local:two", "local:N takes N worker processes, 1 to 512"),
    ],
)
def test_bad_cluster_address_is_refused(address, says, capsys):
    from ipabs import cli

    argv = ["run", str(FLAGSHIP), "--paths", "10", "--cluster", address]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid cluster address" in err and f"--cluster = {address!r}" in err
    assert says.split(",")[0] in " ".join(err.split())


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    """Nothing listens on port 1: after `CONNECT_SECONDS` (30 s; 1 s here) of Dask's retries, a
    UserError naming --cluster and the address."""
    monkeypatch.setattr(distribute, "CONNECT_SECONDS", 1.0)
    with pytest.raises(UserError, match="cannot reach the Dask scheduler") as exc:
        with distribute.connect("tcp://127.0.0.1:1"):
            pass
    [problem] = exc.value.problems
    assert (problem.path, problem.value) == ("--cluster", "tcp://127.0.0.1:1")


def test_client_must_be_a_dask_client():
    with pytest.raises(UserError, match=r"client must be a dask\.distributed\.Client, not str"):
        ipabs.simulate(FLAGSHIP, paths=10, progress=False, client="tcp://127.0.0.1:8786")


def test_without_dask_the_cluster_is_refused_with_how_to_install(monkeypatch):
    """The core install has no Dask: --cluster says which extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    with pytest.raises(UserError, match=r"pip install 'ipabs\[cluster\]'"):
        with distribute.connect("local:2"):
            pass
