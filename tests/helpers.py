"""Test helpers: small scenarios as dicts, a minimal TOML writer, and two CLI runners: `run_cli`
(a fresh `python -m ipabs` process) and `run_cli_in_process` (the same command in this process)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import io
import math
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FLAGSHIP = REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml"
# an asset whose income is deterministic: no volatility, no growth, none of its type's hazards
QUIET_ASSET = {
    "volatility": 0.0,
    "growth_rate": 0.0,
    "lapse_hazard": 0.0,
    "invalidation_hazard": 0.0,
    "obsolescence_hazard": 0.0,
}


def pool_scratch(pool) -> tuple:
    """The pool kernel's arrays after `pool` up to `record` (collections, lost income, default
    periods, then its scratch, the economy last), zeroed, for calling `simulate_pool_path` or
    `pool_path` directly as `_run_blocks` does (ipabs.engine.warm.pool_args gives their types)."""
    import numpy as np

    n_factors = pool.factor_chol.shape[0]
    n_periods, n_assets = pool.asset_income_weight.shape
    n_licensees = pool.licensee_threshold.shape[1]
    return (
        np.zeros(n_periods),
        np.zeros(n_periods),
        np.zeros(n_licensees, np.int64),
        np.zeros(n_factors + pool.copula_dof + n_licensees),
        np.zeros(n_factors + n_assets),
        np.zeros(n_assets),
        np.zeros(n_factors),
        np.zeros(n_factors),
        np.zeros(n_assets),
        np.zeros(n_assets),
        np.zeros(n_assets, np.bool_),
        np.zeros(n_periods),
        np.ones(n_factors + 2),
    )


def splitmix64(state: int, n: int) -> list[int]:
    """SplitMix64 as in Vigna's splitmix64.c (Steele, Lea & Flood 2014), in Python integers: the
    next n outputs from `state` (a reference for the engine's addressed and lane draws)."""
    mask = 2**64 - 1
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def small_deal(**sections: Any) -> dict[str, Any]:
    """A small valid deal: 3 licensees, 4 assets, 3 tranches, quarterly over 3 years."""
    base: dict[str, Any] = {
        "deal": {
            "name": "test deal",
            "currency": "CNY",
            "closing_date": dt.date(2024, 1, 15),
            "payment_frequency": "quarterly",
            "legal_final_date": dt.date(2027, 1, 15),
        },
        "simulation": {"paths": 200, "seed": 7, "block_size": 64},
        "factors": {"names": ["tech", "media"], "correlation": [[1.0, 0.3], [0.3, 1.0]]},
        "licensees": [
            {
                "id": "L1",
                "annual_default_probability": 0.05,
                "recovery_rate": 0.3,
                "factor": "tech",
                "factor_loading": 0.4,
            },
            {
                "id": "L2",
                "annual_default_probability": 0.03,
                "recovery_rate": 0.2,
                "factor": "media",
                "factor_loading": 0.3,
            },
            {"id": "L3", "annual_default_probability": 0.08, "factor_loading": 0.5},
        ],
        "assets": [
            {
                "id": "P1",
                "type": "patent",
                "licensee": "L1",
                "base_annual_income": 4_000_000,
                "volatility": 0.2,
                "factor": "tech",
                "factor_loading": 0.3,
                "remaining_legal_life_years": 10,
                "licence_term_years": 3,
            },
            {
                "id": "P2",
                "type": "patent",
                "licensee": "L1",
                "base_annual_income": 2_000_000,
                "growth_rate": -0.05,
                "volatility": 0.1,
                "remaining_legal_life_years": 2.5,
            },
            {
                "id": "C1",
                "type": "copyright",
                "licensee": "L2",
                "base_annual_income": 3_000_000,
                "volatility": 0.3,
                "factor": "media",
                "factor_loading": 0.5,
                "remaining_legal_life_years": 40,
            },
            {
                "id": "T1",
                "type": "trademark",
                "licensee": "L3",
                "base_annual_income": 1_500_000,
                "remaining_legal_life_years": 8,
            },
        ],
        "tranches": [
            {"name": "A", "balance": 18_000_000, "coupon": 0.03, "rank": 1},
            {"name": "B", "balance": 6_000_000, "coupon": 0.045, "rank": 2},
            {"name": "sub", "balance": 2_000_000, "coupon": 0.0, "rank": 3},
        ],
        "fees": {"fixed_per_year": 100_000, "pct_of_notes_per_year": 0.001},
        "reserve": {"initial_balance": 300_000, "target": 300_000},
        "pricing": {"discount_rate": 0.035},
    }
    data = copy.deepcopy(base)
    data.update(copy.deepcopy(sections))
    return data


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float) and not isinstance(v, bool):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for scenarios: top-level scalars, tables, and arrays of tables."""
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, dict | list):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for item in value:
                lines.append(f"\n[[{key}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def write_scenario(folder: Path, data: dict[str, Any], name: str = "deal.toml") -> Path:
    path = folder / name
    path.write_text(to_toml(data))
    return path


def run_cli(
    *args: str | os.PathLike[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m ipabs ARGS` as a user would, capturing output: the ipabs of this checkout,
    whatever the working folder `cwd` (not an installed one elsewhere)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "COLUMNS": "160", "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "ipabs", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


@dataclasses.dataclass(frozen=True)
class InProcessRun:
    """What `run_cli_in_process` saw: the fields of subprocess.CompletedProcess the tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


#: set to 1 to run each in-process command again as `run_cli` and require the same exit code,
#: stdout and stderr (a check of run_cli_in_process itself; slow)
COMPARE_ENV = "IPABS_TEST_COMPARE_SUBPROCESS"


def run_cli_in_process(*args: str | os.PathLike[str], cwd: Path | None = None) -> InProcessRun:
    """Run `ipabs ARGS` through `ipabs.cli.main` in this process, as `run_cli` does in a new one
    (about 1 s of interpreter start-up and imports less per call), for commands that fail or end
    before any simulation: bad input, `validate`.

    The same as `run_cli` where the tests look: the exit code `main` ends with (`sys.exit`
    semantics); stdout and stderr as text, written at COLUMNS=160 (rich and click read it when
    they format); the working folder `cwd`. An internal error is reported as the command
    reports it (a traceback on stderr and exit code 1), so `"Traceback" not in proc.stderr` still
    catches it; anything `main` lets escape is raised here, failing the test. Warnings go to
    stderr as in a new process (Python's default filters), not through pytest's filters.
    Restored afterwards: the working folder, Ctrl-C's handler, COLUMNS; the command may not
    change any other environment variable (one that did would reach every later test)."""
    import ipabs.cli as cli

    if not Path(cli.__file__).resolve().is_relative_to(REPO):
        raise RuntimeError(f"the ipabs imported ({cli.__file__}) is not this checkout's ({REPO})")
    if cli._launched_as_cli():  # main would end this process with os._exit
        raise RuntimeError("run_cli_in_process is for test processes, not the ipabs command")
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    environ = dict(os.environ)
    interrupt = signal.getsignal(signal.SIGINT)
    here = os.getcwd()
    os.environ["COLUMNS"] = "160"
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with warnings.catch_warnings():
                warnings.resetwarnings()
                for kind in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):  # fmt: skip
                    warnings.simplefilter("ignore", kind)
                warnings.showwarning = _warning_to_stderr
                try:
                    cli.main(argv)
                except SystemExit as exc:
                    code = exc.code
                else:  # main always exits
                    raise AssertionError(f"ipabs.cli.main({argv}) returned instead of exiting")
    finally:
        os.chdir(here)
        signal.signal(signal.SIGINT, interrupt)
        os.environ.pop("COLUMNS", None)
        os.environ.update({k: v for k, v in environ.items() if k == "COLUMNS"})
    changed = sorted(k for k in {*environ, *os.environ} if environ.get(k) != os.environ.get(k))
    if changed:
        os.environ.clear()
        os.environ.update(environ)
        raise AssertionError(f"ipabs {' '.join(argv)} changed the environment: {changed}")
    if code is None:
        returncode = 0
    elif isinstance(code, int):
        returncode = code
    else:  # sys.exit("message"): printed, exit code 1
        print(code, file=err)
        returncode = 1
    run = InProcessRun(argv, returncode, out.getvalue(), err.getvalue())
    if os.environ.get(COMPARE_ENV) == "1":
        proc = run_cli(*argv, cwd=cwd)
        seen = (proc.returncode, proc.stdout, proc.stderr)
        assert seen == (run.returncode, run.stdout, run.stderr), (argv, seen, run)
    return run


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
