"""Run a compiled deal's paths on a Dask cluster, in fixed chunks, with the numbers of a local run.

Paths are cut into chunks of `CHUNK_PATHS` (the last one shorter), the same cut whatever the
cluster's size. Chunk c is one task, `run_chunk(deal, seed, block_size, sample_paths, first,
count)`: `run_paths` on paths first .. first + count - 1, single-threaded, a pure function of
its arguments (path p always draws from the stream keyed by (seed, p): docs/model.md, 2). A
task that is run again (Dask retries the tasks of a worker that died) therefore returns the same
arrays, bit for bit.

`simulate` runs `run_chunk_kept`: the chunk's per-path results stay on its worker, which
returns the chunk's partials (`ipabs.engine.estimates`), its per-period samples and its cash
check, and writes its rows of the per-path tables as one Parquet file; the driver folds the
partials in chunk order as they come (`in_chunk_order`: at most `WINDOW` results held), as a
local run merges them, and finds the quantiles by selection over the chunks still on the
workers (`ClusterChunks`, one task per chunk a round) before releasing them (docs/scale-out.md,
"Memory": the driver holds a future per chunk and nothing else per chunk or per path).
`merge_chunks` puts chunks' whole arrays end to end, as one run's (the tests' check that a
chunked run is the one-shot run).

The compiled deal is sent to every worker once (`Client.scatter`, broadcast) and each task
refers to it; each worker process loads (or compiles) the Numba kernels once, on its first
task, and keeps them. Dask is imported only here, and only when a cluster is asked for.

`using(client)` makes a client the default of every `simulate` call in its block, so that the
stress runner and the solvers, which call `simulate` many times, run each call's chunks on the
cluster without passing the client through every layer.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import Any

import numpy as np

from ipabs.engine.compile import CompiledDeal
from ipabs.engine.run import PER_PATH_FIELDS, STATEMENT_PATHS, RawResults, run_paths
from ipabs.errors import Problem, UserError

#: paths per task: large enough that a task's overhead (about 5 ms measured, and sending back 624
#: bytes a path of a 3-class deal) is under 1% of its run time on the standard deal, small
#: enough that 1e6 paths make 62 tasks to share out (benchmarks/README.md, issue #18). It never
#: changes a number.
CHUNK_PATHS = 16_384

#: chunk tasks a driver has submitted ahead of the next chunk it merges (`in_chunk_order`): the
#: most chunk results it holds at once
WINDOW = 16

#: how long `connect` tries to reach a scheduler before it says it cannot
CONNECT_SECONDS = 30.0

#: the RawResults fields with one row per path (ipabs.engine.run; the others hold the first
#: sample_paths paths)
PER_PATH = PER_PATH_FIELDS

_lock = threading.Lock()
_stopping = threading.Event()  # set while `run_all` cancels its calls after an interrupt
_running: dict[int, list] = {}  # the tasks of each cluster call not yet returned
_current: contextvars.ContextVar[Any] = contextvars.ContextVar("ipabs_cluster", default=None)


def chunks(paths: int, first_path: int = 0, size: int | None = None) -> list[tuple[int, int]]:
    """The (first path, count) of each chunk of `size` (default `CHUNK_PATHS`) of paths
    first_path .. first_path + paths - 1."""
    size = size or CHUNK_PATHS
    stop = first_path + paths
    return [(first, min(size, stop - first)) for first in range(first_path, stop, size)]


def run_chunk(
    deal: CompiledDeal, seed: int, block_size: int, sample_paths: int, first: int, count: int
) -> RawResults:
    """One chunk's paths, single-threaded (the task a worker runs); the per-period rows of its
    first `sample_paths` paths."""
    return run_paths(
        deal,
        paths=count,
        seed=seed,
        block_size=block_size,
        sample_paths=sample_paths,
        threads=1,
        first_path=first,
    )


def merge_chunks(parts: list[RawResults], sample_paths: int) -> RawResults:
    """Chunks of consecutive paths, in path order, as one run: per-path arrays end to end, the
    per-period samples of the first `sample_paths` paths (and the cash-flow statement's first
    `STATEMENT_PATHS` of them), as `run_paths` keeps them for one run."""
    if len(parts) == 1:
        return parts[0]
    total = sum(p.weight.shape[0] for p in parts)
    n_sample = min(sample_paths, total)
    limits = {"sample_flows": min(n_sample, STATEMENT_PATHS)}
    per_path = PER_PATH
    merged = {}
    for f in dataclasses.fields(RawResults):
        joined = np.concatenate([getattr(p, f.name) for p in parts])
        merged[f.name] = joined if f.name in per_path else joined[: limits.get(f.name, n_sample)]
    return RawResults(**merged)


def current():
    """The client `using` set for this context, or None."""
    return _current.get()


@contextlib.contextmanager
def using(client) -> Iterator[None]:
    """Every `simulate` in the block runs on `client` unless given another (module doc)."""
    token = _current.set(client)
    try:
        yield
    finally:
        _current.reset(token)


def with_client(fn: Callable) -> Callable:
    """`fn` with a keyword `client`: a `dask.distributed.Client` that every `simulate` inside
    runs on (None: as before, local unless `using` set one)."""

    @functools.wraps(fn)
    def wrapper(*args, client: Any = None, **kwargs):
        if client is None:
            return fn(*args, **kwargs)
        check_client(client)
        with using(client):
            return fn(*args, **kwargs)

    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + (
        "\n\n    `client` (a `dask.distributed.Client`) runs every simulation's paths on a Dask "
        "cluster,\n    with the same numbers (docs/scale-out.md)."
    )
    return wrapper


@contextlib.contextmanager
def on_cluster(address: str | None) -> Iterator[Any]:
    """`connect(address)`, and every `simulate` in the block on it (the CLI's --cluster)."""
    with connect(address) as client:
        if client is None:
            yield None
            return
        with using(client):
            yield client


def run_all(run: Callable[[Any], Any], items: list) -> Iterator[Any]:
    """`run(item)` for each item, the results in the items' order. On a cluster (`using`) every
    call runs at once, each in a driver thread of its own, so that the chunks of every stress
    or grid point are on the cluster together (a point x chunk is a task); locally one after
    the other. The numbers are the same either way: each call is a pure function of its item."""
    client = current()
    if client is None or len(items) < 2:
        yield from (run(item) for item in items)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(len(items), 32), thread_name_prefix="ipabs-dask")
    # each thread runs in a copy of this context, so `current()` gives it the same client
    futures = [pool.submit(contextvars.copy_context().run, run, item) for item in items]
    try:
        for future in futures:
            yield future.result()
    except BaseException:  # Ctrl-C included: cancel every call's tasks, so the threads end now
        for future in futures:
            future.cancel()
        with _lock:
            _stopping.set()  # a call that submits from now on cancels its own tasks
            running = [f for tasks in _running.values() for f in tasks]
        client.cancel(running)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _stopping.clear()


def check_client(client: object) -> None:
    """A UserError unless `client` is a `distributed.Client`."""
    try:
        from distributed import Client
    except ImportError:
        raise _missing() from None
    if not isinstance(client, Client):
        raise UserError(
            f"client must be a dask.distributed.Client, not {type(client).__name__}",
            problems=(Problem("client", "not a Dask client", type(client).__name__, True),),
        )


# ---------------------------------------------------------------------------------------------
# connecting


def _missing() -> UserError:
    return UserError(
        "running on a cluster needs Dask: pip install 'ipabs[cluster]' (dask[distributed])",
        problems=(Problem("--cluster", "dask.distributed is not installed"),),
    )


@contextlib.contextmanager
def connect(address: str | None) -> Iterator[Any]:
    """A client for `address`: "local:N" starts a LocalCluster of N worker processes, one thread
    each, closed at the end of the block; anything else ("tcp://host:8786", a scheduler file's
    address) is a running scheduler's address. None or "" yields None (run locally)."""
    if not address:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _missing() from None
    if address.startswith("local:"):
        workers = address.removeprefix("local:")
        if not workers.isdigit() or not 1 <= int(workers) <= 512:
            raise UserError(
                "invalid cluster address",
                problems=(
                    Problem(
                        "--cluster", "local:N takes N worker processes, 1 to 512", address, True
                    ),
                ),
            )
        with (
            LocalCluster(
                n_workers=int(workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if "://" not in address:
        raise UserError(
            "invalid cluster address",
            problems=(
                Problem(
                    "--cluster",
                    "expected a scheduler address such as tcp://host:8786, or local:N",
                    address,
                    True,
                ),
            ),
        )
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except OSError as exc:
        raise UserError(
            "cannot reach the Dask scheduler",
            problems=(Problem("--cluster", str(exc), address, True),),
        ) from None
    with client:
        yield client


# ---------------------------------------------------------------------------------------------
# a run whose per-path arrays stay on the workers (docs/scale-out.md, "Memory")


@dataclasses.dataclass
class KeptChunk:
    """A chunk's results as a worker keeps them: its partials (with the ranked values that
    exact quantiles select from), its per-period samples, and its worst cash-check gap."""

    first: int
    partials: Any  # ipabs.engine.estimates.ChunkPartials
    samples: RawResults  # the per-path fields with no rows
    cash_gap: float

    def light(self) -> KeptChunk:
        """What goes back to the driver: no per-path values."""
        return KeptChunk(self.first, self.partials.small(), self.samples, self.cash_gap)


def without_paths(raw: RawResults) -> RawResults:
    """`raw` with the per-path fields cut to no rows, but for the weights of the sampled paths
    (the per-period samples and their weights kept)."""
    rows = {name: 0 for name in PER_PATH}
    rows["weight"] = raw.sample_collections.shape[0]
    return dataclasses.replace(raw, **{name: getattr(raw, name)[:n] for name, n in rows.items()})


def part_name(first: int) -> str:
    """The file of the chunk starting at path `first` in a partitioned per-path table: the
    names sort in path order."""
    return f"part-{first:012d}.parquet"


def run_chunk_kept(
    deal: CompiledDeal,
    seed: int,
    block_size: int,
    sample_paths: int,
    first: int,
    count: int,
    paths_dir: str | None,
) -> KeptChunk:
    """The task of a run that keeps its paths on the workers: `run_chunk`, the finiteness
    check, the chunk's partials and cash check, and, when `paths_dir` is given, its rows of
    `paths.parquet` and `pool_paths.parquet` written there as one file each."""
    from pathlib import Path

    from ipabs.api import check_finite
    from ipabs.engine.conservation import cash_check, worst_relative_gap
    from ipabs.engine.estimates import chunk_partials
    from ipabs.engine.reduce import path_table, pool_path_table

    raw = run_chunk(deal, seed, block_size, sample_paths, first, count)
    check_finite(raw, deal.tranche_names)
    paths = path_table(deal, raw, first_path=first)
    pool_paths = pool_path_table(raw, deal.scenario, first_path=first)
    gap = worst_relative_gap(cash_check(pool_paths, paths))
    if paths_dir is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name, frame in (("paths.parquet", paths), ("pool_paths.parquet", pool_paths)):
            folder = Path(paths_dir) / name
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(table, folder / part_name(first), compression="zstd")
    return KeptChunk(first, chunk_partials(deal, raw), without_paths(raw), gap)


def _light(kept: KeptChunk) -> KeptChunk:
    return kept.light()


def _answer(kept: KeptChunk, keys: list, fetches: list):
    from ipabs.engine.partials import chunk_answer

    return chunk_answer(kept.partials.ranked, keys, fetches)


def _as_completed():
    """An empty `distributed.as_completed` (a test gives a stand-in)."""
    from distributed import as_completed

    return as_completed()


def in_chunk_order(
    client, chunk_futures: list, fn: Callable, args: tuple, take: Callable[[Any], None]
) -> None:
    """`take(fn(chunk, *args))` for each chunk, in chunk order: one task per chunk on the
    worker holding it, at most `WINDOW` of them submitted ahead of the next chunk to take, each
    result taken as soon as every earlier chunk's has been and then dropped (with its future).
    The driver so holds at most `WINDOW` results at a time, however many chunks there are."""
    chunks_left = iter(enumerate(chunk_futures))
    index: dict[str, int] = {}
    arrived: dict[int, Any] = {}
    running = _as_completed()

    def submit_next() -> None:
        for i, chunk in chunks_left:
            future = client.submit(fn, chunk, *args, pure=False, priority=1)  # before new chunks
            index[future.key] = i
            running.add(future)
            return

    for _ in range(WINDOW):
        submit_next()
    following = 0
    for future in running:
        arrived[index.pop(future.key)] = future.result()
        future.release()
        del future
        while following in arrived:
            take(arrived.pop(following))
            following += 1
            submit_next()


class ClusterChunks:
    """`partials.Chunks` for chunks kept on the workers: each selection round is one task per
    chunk, computed where the chunk is, returning its histograms of the round's keys and its
    values in the round's fetched bins; they are merged in chunk order as they come back
    (`in_chunk_order`), so that only the round's merged histograms stay."""

    def __init__(self, client, futures: list):
        self.client, self.futures = client, futures

    def ask(self, keys: list, fetches: list):
        from ipabs.engine.partials import RoundSum

        total = RoundSum(keys, fetches)
        in_chunk_order(self.client, self.futures, _answer, (keys, fetches), total.add)
        return total.result()


@dataclasses.dataclass
class KeptBatch:
    """One batch of a run kept on the workers: the chunks' futures (in chunk order), the
    partials of every chunk so far folded in chunk order, the per-period samples, the worst
    cash-check gap, and the deal as scattered (released with the chunks)."""

    futures: list
    partials: Any  # ipabs.engine.estimates.ChunkPartials, without ranked values
    samples: RawResults
    cash_gap: float
    deal: Any


def run_kept_on_cluster(
    client,
    deal: CompiledDeal,
    *,
    paths: int,
    seed: int,
    block_size: int,
    sample_paths: int,
    first_path: int = 0,
    progress: Callable[[int], None] | None = None,
    paths_dir: str | None = None,
    merged: Any = None,
) -> KeptBatch:
    """The chunks of a run on the cluster, with the per-path results left on the workers: only
    each chunk's partials, per-period samples and cash-check gap come back (`KeptChunk.light`),
    taken in chunk order (`in_chunk_order`) and folded into `merged` (the partials of the
    earlier batches, in chunk order) at once, so the driver keeps nothing per chunk but its
    future. The caller finishes the quantiles (`settle_kept`), which releases the futures."""
    cut = chunks(paths, first_path)
    [shared] = client.scatter([deal], broadcast=True, hash=False)
    samples = [max(0, sample_paths - (first - first_path)) for first, _ in cut]
    futures = [
        client.submit(
            run_chunk_kept, shared, seed, block_size, n, first, count, paths_dir, pure=False
        )
        for (first, count), n in zip(cut, samples, strict=True)
    ]
    with _lock:
        _running[id(futures)] = futures
        stopping = _stopping.is_set()
    state = {"partials": merged, "gap": 0.0, "done": 0}
    sampled: list[RawResults] = []  # the chunks holding sampled paths, and the first chunk

    def take(kept: KeptChunk) -> None:
        p = kept.partials
        state["partials"] = p if state["partials"] is None else state["partials"].merge(p)
        state["gap"] = max(state["gap"], kept.cash_gap)
        if not sampled or kept.samples.sample_collections.shape[0]:
            sampled.append(kept.samples)
        state["done"] += p.paths
        if progress is not None:
            progress(state["done"])

    try:
        if stopping:
            raise CancelledError("the run was interrupted")
        in_chunk_order(client, futures, _light, (), take)
    except BaseException:
        client.cancel([*futures, shared])
        raise
    finally:
        with _lock:
            del _running[id(futures)]
    # the deal goes when the chunks do (cancelling it now would lose the chunks that need it)
    joined = join_samples(sampled, sample_paths, paths)
    return KeptBatch(futures, state["partials"], joined, state["gap"], shared)


def settle_kept(client, deal: CompiledDeal, kept: list[KeptBatch]) -> Any:
    """A cluster run's `Estimates`: the batches' partials (folded in chunk order), the wanted
    quantiles selected over the chunks on the workers in shared rounds, then the workers'
    chunks and the deal released."""
    from ipabs.engine.estimates import Estimates
    from ipabs.engine.reduce import wanted_quantiles

    futures = [f for batch in kept for f in batch.futures]
    try:
        estimates = Estimates([kept[-1].partials], ClusterChunks(client, futures))
        estimates.settle(wanted_quantiles(deal.scenario))
        estimates.cash_gap = max((batch.cash_gap for batch in kept), default=0.0)
        return estimates
    finally:
        client.cancel([*futures, *(batch.deal for batch in kept)])


def join_samples(samples: list[RawResults], sample_paths: int, paths: int) -> RawResults:
    """Chunks' per-period samples in chunk order as one run's (the first `sample_paths` paths,
    the statement's first `STATEMENT_PATHS` of them, and those paths' weights); the other
    per-path fields with no rows."""
    n_sample = min(sample_paths, paths)
    limits = {"sample_flows": min(n_sample, STATEMENT_PATHS)}
    joined = {}
    for f in dataclasses.fields(RawResults):
        values = [getattr(p, f.name) for p in samples]
        if f.name in PER_PATH and f.name != "weight":  # the sampled paths' weights kept
            joined[f.name] = values[0][:0]
        else:
            joined[f.name] = np.concatenate(values)[: limits.get(f.name, n_sample)]
    return RawResults(**joined)
