"""Write a run's output folder atomically: everything goes to a hidden temporary folder beside the
target, which is put in place only when complete (an atomic exchange where the system has one).
An interrupted or failed run leaves nothing half-written (the temporary folder is removed); what
a killed run leaves is tidied by the next start. The rules are in `ipabs.outputs.folder`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ipabs.errors import UserError
from ipabs.outputs.folder import (
    absolute,
    check_out_dir,
    check_replaceable,
    exchange,
    hidden_prefix,
    interrupts_held,
    note_written,
    rename_noreplace,
)

if TYPE_CHECKING:
    from ipabs.results import Results
    from ipabs.scenario.model import Scenario

MANIFEST_KEY = b"ipabs_manifest"


def _cpu() -> str:
    """The processor's model name (Linux), so that a different CPU counts as another platform."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _platform() -> dict[str, str]:
    return {
        "cpu": _cpu(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "system": platform.platform(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as recorded in manifests."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def scenario_manifest(
    sc: Scenario, source: Path | None, *, command: str, scenario_bytes: bytes | None = None
) -> dict[str, Any]:
    """What identifies an output: the command, ipabs version, scenario file and hash, the
    resolved scenario and the platform."""
    from ipabs import __version__

    if scenario_bytes is None and source is not None:
        scenario_bytes = Path(source).read_bytes()
    base = Path(source).parent if source is not None else Path(".")
    tapes = {t.path: file_sha256(base / t.path) for t in sc.tapes}
    return {
        "command": command,
        "ipabs_version": __version__,
        "scenario_file": str(source) if source else None,
        "scenario_sha256": hashlib.sha256(scenario_bytes).hexdigest()
        if scenario_bytes is not None
        else None,
        "tape_sha256": tapes,
        "resolved_scenario": sc.model_dump(mode="json"),
        "platform": _platform(),
    }


def manifest(results: Results, scenario_bytes: bytes | None) -> dict[str, Any]:
    sim = results.scenario.simulation
    return {
        **scenario_manifest(
            results.scenario, results.source, command="run", scenario_bytes=scenario_bytes
        ),
        "seed": sim.seed,
        "paths": results.paths_run,
        "block_size": sim.block_size,
        # a --rel-se run keeps the per-period samples of its first batch only
        "sample_paths": min(sim.sample_paths, results.raw.sample_collections.shape[0]),
        "threads": results.threads,
        "wall_seconds": round(results.wall_seconds, 4),
        **(
            {"importance": results.importance.record()}
            if results.importance is not None and results.importance.enabled
            else {}
        ),
        **({"precision": results.precision} if results.precision is not None else {}),
    }


def write_parquet(frame: pd.DataFrame, path: Path, meta: bytes) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), MANIFEST_KEY: meta})
    pq.write_table(table, path, compression="zstd")


@contextmanager
def atomic_folder(out_dir: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir`; on success it replaces `out_dir`, on any error
    or interrupt it is removed and `out_dir` is left as it was. An interrupt during the swap is
    held until the swap is done (then raised), so `written()` tells which happened."""
    target = absolute(out_dir)
    check_out_dir(target)
    tmp = _make_partial(target, out_dir)
    earlier: Path | None = None
    try:
        yield tmp
        with interrupts_held():
            check_replaceable(target, out_dir)  # nothing foreign appeared there meanwhile
            earlier = _swap_in(tmp, target, out_dir)
            note_written(target)
    except BaseException as exc:
        with interrupts_held():  # a second Ctrl-C does not cut the tidying short
            _discard(tmp, earlier)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            raise UserError(
                f"no space left to write the output folder ({exc.strerror}); nothing was written",
                source=out_dir,
            ) from None
        raise
    _discard(earlier)  # killed here, the next start removes it


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _discard(*folders: Path | None) -> None:
    for folder in folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _make_partial(target: Path, shown: object) -> Path:
    """Make the hidden folder the output is written to (and the folders above it)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=hidden_prefix(target, "partial"), dir=target.parent))
    except OSError as exc:
        raise UserError(
            f"cannot write the output folder: {exc.strerror or exc}", source=shown
        ) from None
    try:
        tmp.chmod(0o777 & ~_umask())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _swap_in(tmp: Path, target: Path, shown: object) -> Path | None:
    """`_replace_dir`, with a system error reported as a message naming the folder."""
    try:
        return _replace_dir(tmp, target)
    except OSError as exc:
        raise UserError(
            f"could not put the new output in place: {exc.strerror or exc}; the folder is as "
            "it was",
            source=shown,
        ) from None


def write_manifest(folder: Path, info: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def write_run(
    results: Results, out_dir: Path, *, charts: bool = True, scenario_bytes: bytes | None = None
) -> Path:
    info = manifest(results, scenario_bytes)
    meta = json.dumps(info, sort_keys=True).encode()
    with atomic_folder(out_dir) as tmp:
        write_parquet(results.summary, tmp / "summary.parquet", meta)
        write_parquet(results.pool, tmp / "pool.parquet", meta)
        if results.paths_folder is not None:  # a cluster run: the workers' partitioned tables
            for name in ("paths.parquet", "pool_paths.parquet"):
                shutil.copytree(results.paths_folder / name, tmp / name)
        else:
            write_parquet(results.paths, tmp / "paths.parquet", meta)
            write_parquet(results.pool_paths, tmp / "pool_paths.parquet", meta)
        write_parquet(results.periods, tmp / "periods.parquet", meta)
        write_parquet(results.cash_flows, tmp / "cash_flows.parquet", meta)
        write_parquet(results.cash_flow_coverage, tmp / "cash_flow_coverage.parquet", meta)
        if len(results.triggers):
            write_parquet(results.triggers, tmp / "triggers.parquet", meta)
        if charts:
            from ipabs.outputs.charts import write_charts

            write_charts(results, tmp / "charts")
        write_manifest(tmp, info)
    return Path(out_dir)


def write_valuation(
    table: pd.DataFrame,
    loans: pd.DataFrame,
    info: dict[str, Any],
    out_dir: Path,
    layers: pd.DataFrame | None = None,
) -> Path:
    """`ipabs value` output: valuation.parquet (assets), loans.parquet (loan-to-value, when the
    pool has loans), layers.parquet (the loss-sharing layers' terms, when it has some) and
    manifest.json, written atomically."""
    meta = json.dumps(info, sort_keys=True).encode()
    with atomic_folder(out_dir) as tmp:
        write_parquet(table, tmp / "valuation.parquet", meta)
        if len(loans):
            write_parquet(loans, tmp / "loans.parquet", meta)
        if layers is not None and len(layers):
            write_parquet(layers, tmp / "layers.parquet", meta)
        write_manifest(tmp, info)
    return Path(out_dir)


def write_price(result, info: dict[str, Any], out_dir: Path) -> Path:
    """`ipabs price --out` output: price.parquet (one row: the dirty and clean price, the accrued
    interest, the yield and the seller's capital figures), price_decomposition.parquet,
    price_layer_support.parquet (each loss-sharing layer's part, when there are layers),
    price_distribution.parquet and manifest.json, written atomically."""
    info = {**info, "warnings": list(result.warnings)}
    meta = json.dumps(info, sort_keys=True).encode()
    summary = pd.DataFrame([{"form": result.form, "paths": result.paths, **result.summary()}])
    with atomic_folder(out_dir) as tmp:
        write_parquet(summary, tmp / "price.parquet", meta)
        write_parquet(result.decomposition, tmp / "price_decomposition.parquet", meta)
        if len(result.layer_support):
            write_parquet(result.layer_support, tmp / "price_layer_support.parquet", meta)
        write_parquet(result.distribution, tmp / "price_distribution.parquet", meta)
        write_manifest(tmp, info)
    return Path(out_dir)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (changing it briefly
    would affect files other threads create meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _replace_dir(new: Path, target: Path) -> Path | None:
    """Move `new` to `target`; return the hidden folder now holding the earlier output (for the
    caller to remove), if there was one. An existing target is exchanged with `new` in one
    atomic step where the system allows; elsewhere it is first moved into a hidden old folder,
    which the next start puts back if a crash comes between the two renames."""
    if not os.path.lexists(target):
        rename_noreplace(new, target)
        return None
    if exchange(new, target):
        return new
    old = Path(tempfile.mkdtemp(prefix=hidden_prefix(target, "old"), dir=target.parent))
    os.replace(target, old / "previous")
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old / "previous", target)
        os.rmdir(old)
        raise
    return old
