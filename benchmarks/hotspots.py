"""Where the pool kernel or the waterfall spends its time, instruction by instruction (Linux perf).

    python benchmarks/hotspots.py                  # the pool kernel on benchmarks/standard.toml
    python benchmarks/hotspots.py --stage waterfall
    python benchmarks/hotspots.py --stage run      # the whole run_paths, one thread
    python benchmarks/hotspots.py --listing out.txt  # also every instruction with its samples

Numba's machine code has no symbols that perf can read, so this script runs the stage in a child
under `perf record`; the child writes a perf map of the compiled functions (/tmp/perf-PID.map)
and a copy of the stage's machine code. This side then counts perf's samples per function and
per innermost loop (the instructions between a backward jump and its target), and disassembles
the loops with objdump, so a loop can be matched to its source by what it loads and computes.
A loop whose loads are `vgatherqpd` or whose index goes through `sar $0x3f` / `and` is Numba's
negative-index wraparound at work (issue #19: the pool kernel's normals were read that way).
Needs `perf` and `objdump` on the path; sampling figures are shares, not times.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDARD = HERE / "standard.toml"
#: the compiled function whose loops are listed, per stage (a part of its mangled name)
TARGET = {"pool": "9pool_path", "waterfall": "13pay_waterfall", "run": "9pool_path"}


def _child(stage: str, paths: int, out: Path) -> None:
    """Compile and run `stage`; before the timed run, write where each compiled function lies
    (meta.json) and a copy of the target's machine code (code.bin)."""
    sys.path.insert(0, str(HERE))
    import numpy as np

    import ipabs
    from ipabs.engine.compile import compile_scenario

    scenario = ipabs.load(STANDARD)
    deal = compile_scenario(scenario)
    if stage == "run":  # the whole run on one thread: every stage's share (the loops: the pool's)
        from ipabs.engine.run import _run_blocks, run_paths

        dispatcher = _run_blocks
        args = dict(paths=paths, seed=1, block_size=1024, sample_paths=1, threads=1)

        def run() -> None:
            run_paths(deal, **args)
    else:
        if stage == "pool":
            import pool_profile

            dispatcher = pool_profile._pool_only
            n_assets = deal.pool.asset_income_weight.shape[1]
            args = (deal.pool, paths, 1, pool_profile.N_PADDED(n_assets))
        else:
            import waterfall_profile

            from ipabs.engine.run import PoolCache
            from ipabs.structures.waterfall import has_triggers

            cache = PoolCache()
            ipabs.simulate(scenario, paths=paths, threads=1, progress=False, pool_cache=cache)
            series = np.ascontiguousarray(cache.series[:, :2, :])
            balances = np.zeros((paths, deal.n_tranches, deal.n_periods))
            dispatcher = waterfall_profile.waterfall_only
            args = (deal.waterfall, has_triggers(deal.waterfall), series, balances)

        def run() -> None:
            dispatcher(*args)

    run()  # compile
    library = dispatcher.overloads[dispatcher.signatures[0]].library
    functions = _extents(library)
    targets = [f for f in functions if TARGET[stage] in f[1]]
    if not targets:
        sys.exit(f"hotspots.py: {TARGET[stage]} is not among the compiled functions")
    start, _, size = targets[0]
    (out / "code.bin").write_bytes(ctypes.string_at(start, size))
    (out / "meta.json").write_text(json.dumps({"start": start, "functions": functions}))
    t = time.process_time()
    for _ in range(15 if stage == "waterfall" else 3):
        run()
    print(f"timed part {time.process_time() - t:.2f} s", file=sys.stderr)


def _extents(library) -> list[list]:
    """[address, symbol, size] of every function in a compiled Numba library: the sizes from its
    object code's symbol table (`nm -S`), the addresses where they were loaded. The library must
    have been compiled in this process, not loaded from Numba's cache (whose libraries hold only
    their entry points), so the parent gives the child an empty cache."""
    with tempfile.NamedTemporaryFile(suffix=".o") as fh:
        fh.write(library._get_compiled_object())
        fh.flush()
        table = subprocess.run(
            ["nm", "-S", "--defined-only", fh.name], capture_output=True, text=True, check=True
        ).stdout
    functions = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":  # (linked-in functions are weak)
            address = library.get_pointer_to_function(fields[3])
            if address:
                functions.append([address, fields[3], int(fields[1], 16)])
    return sorted(functions)


def _readable(symbol: str) -> str:
    """ipabs.pool.kernels.pool_path for Numba's mangled _ZN5ipabs4pool7kernels9pool_pathB3v35..."""
    if not symbol.startswith("_ZN"):
        return symbol
    parts, at = [], 3
    while at < len(symbol) and symbol[at].isdigit():
        digits = re.match(r"\d+", symbol[at:]).group()
        at += len(digits)
        parts.append(symbol[at : at + int(digits)])
        at += int(digits)
    return ".".join(parts)


def _width(instructions: list[str]) -> str:
    """The widest vectors a loop's instructions use: zmm, ymm, xmm (packed), or scalar."""
    for register in ("zmm", "ymm"):
        if any(register in text for text in instructions):
            return register
    # packed arithmetic on xmm (moves and xor-zeroing on xmm are common in scalar code too)
    packed = re.compile(r"^(v?p\w+|v?\w+p[sd])\s")
    if any(
        "xmm" in text and packed.match(text) and not re.match(r"^v?(p?xor|mov)", text)
        for text in instructions
    ):
        return "xmm"
    return "scalar"


def _loops(rows: list[tuple[int, int, str]]) -> list[tuple[int, int, int]]:
    """The innermost loops: (samples, first row, last row), a backward jump's target to it, the
    loops that contain a smaller one left out."""
    where = {address: i for i, (address, _, _) in enumerate(rows)}
    spans = []
    for i, (address, _, text) in enumerate(rows):
        jump = re.search(r"\bj[a-z]+\s+0x([0-9a-f]+)", text)
        if jump and int(jump.group(1), 16) < address and int(jump.group(1), 16) in where:
            spans.append((where[int(jump.group(1), 16)], i))
    inner = [s for s in spans if not any(o != s and s[0] <= o[0] and o[1] <= s[1] for o in spans)]
    found = {(sum(rows[j][1] for j in range(a, b + 1)), a, b) for a, b in inner}
    return sorted(found, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", choices=sorted(TARGET), default="pool")
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--loops", type=int, default=12, help="how many loops to show")
    parser.add_argument("--listing", type=Path, help="write every instruction with its samples")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.stage, args.paths, args.child)
        return
    missing = [tool for tool in ("perf", "objdump", "nm") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"hotspots.py needs {', '.join(missing)} on the path")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "perf.data"
        subprocess.run(
            ["perf", "record", "-q", "-F", "10000", "-o", str(data), sys.executable, __file__,
             "--stage", args.stage, "--paths", str(args.paths), "--child", str(work)],
            check=True,
            # a library's code can be read only when compiled, not loaded from the cache (the
            # whole run compiles for about 25 s)
            env={**os.environ, "NUMBA_CACHE_DIR": str(work / "cache")},
        )  # fmt: skip
        meta = json.loads((work / "meta.json").read_text())
        ips = subprocess.run(
            ["perf", "script", "-i", str(data), "-F", "ip"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        listing = subprocess.run(
            ["objdump", "-D", "-b", "binary", "-mi386:x86-64", f"--adjust-vma={meta['start']:#x}",
             str(work / "code.bin")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    functions = sorted(meta["functions"])

    def owner(ip: int) -> str | None:
        """The compiled function whose code holds `ip` (its short name), if any."""
        for address, name, size in functions:
            if address <= ip < address + size:
                return _readable(name)
        return None

    samples = collections.Counter(int(ip, 16) for ip in ips)
    per_function = collections.Counter()
    for ip, count in samples.items():
        name = owner(ip)
        if name:
            per_function[name] += count
    total = sum(per_function.values())
    print(
        f"{sum(samples.values()):,} samples, {total:,} of them in the stage's compiled functions "
        "(the shares below are of these: compiling, Python and the allocator are left out)"
    )
    for name, count in per_function.most_common(8):
        print(f"  {100 * count / total:5.1f}%  {name}")
    rows = []
    for line in listing.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)", line)
        if m:
            address = int(m.group(1), 16)
            rows.append((address, samples.get(address, 0), m.group(2)))
    if args.listing:
        args.listing.write_text(
            "\n".join(f"{c:6d} {a - meta['start']:#07x} {t}" for a, c, t in rows) + "\n"
        )
    print(
        f"innermost loops of {owner(meta['start'])} (share of the samples above; "
        "offsets from its start):"
    )
    for count, first, last in _loops(rows)[: args.loops]:
        loads = sum(  # vector instructions reading or writing memory
            "(" in rows[j][2] and rows[j][2].startswith("v") for j in range(first, last + 1)
        )
        gathers = sum("gather" in rows[j][2] for j in range(first, last + 1))
        print(
            f"  {100 * count / total:5.1f}%  {rows[first][0] - meta['start']:#07x}-"
            f"{rows[last][0] - meta['start']:#07x}  {last - first + 1:3d} instructions, "
            f"{_width([rows[j][2] for j in range(first, last + 1)])}, {loads} with a memory "
            f"operand, {gathers} gathers"
        )


if __name__ == "__main__":
    main()
