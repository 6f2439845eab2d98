"""A first run compiles on two cores: the waterfall in a helper process, the pool here.

Numba compiles one function at a time per process (a global lock), and a deal's first run spends
most of its 20 s compiling (benchmarks/README.md, cold start). The two largest pieces do not
depend on each other: the waterfall interpreter (`pay_waterfall`, about 7 s) and the pool kernel
with the per-path metrics (about 5 s). When `_run_blocks` is not yet compiled for the deal's
types and the machine has a second core, `compile_in_parallel` starts a helper Python process
(`HELPER`), which compiles `pay_waterfall` for the exact argument types `_run_blocks`
will pass and writes it to the shared kernel cache, while this process compiles the pool kernel,
the metrics and the smaller kernels the deal uses (loans, credit support, revolving purchases, a
trust's IP values, the random streams). Then `_run_blocks` is compiled here and finds the waterfall in the cache.

It changes only when code is compiled, never what is computed: if the helper fails, is slow or
the types guessed here differ from those `_run_blocks` passes, this process compiles what is
missing itself (a test checks that the types match, so nothing is compiled twice).
`IPABS_PARALLEL_COMPILE=0` turns it off (and `=1` on, even on one core); it is off in a frozen
application (PyInstaller and the like), where `sys.executable` is the application itself. The
helper imports the same ipabs as this process (its folder goes first on the helper's path), is
killed if this process is interrupted, and is given `HELPER_TIMEOUT_SECONDS` once this process's
share is done; after that this process compiles the waterfall itself.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

from ipabs._kernel_cache import is_compiled

#: the longest a first run waits for the helper, once its own share is compiled, before it
#: compiles the waterfall itself (the helper needs about 8 s on the project's machine)
HELPER_TIMEOUT_SECONDS = 60.0
#: the helper's program: import ipabs from the folder this process imported it from
HELPER = (
    "import sys; sys.path.insert(0, sys.argv[1]); from ipabs.engine.warm import _helper; _helper()"
)


def _f(n: int) -> np.ndarray:
    return np.empty(n)


def waterfall_args(deal, triggers, support) -> tuple:
    """Arguments of the types `_run_blocks` passes to `pay_waterfall` (values unused)."""
    from ipabs.structures.waterfall import new_out

    k = deal.n_periods
    n_providers = 0 if support is None else support.loading.shape[0]
    n_triggers = deal.waterfall.trigger_condition.shape[0]
    vintages = tuple(np.zeros((0, k)) for _ in range(4))
    n_fees = deal.waterfall.fee_fixed.shape[0]
    out = new_out.py_func(deal.n_tranches, k, n_providers, n_triggers, n_fees)
    provider_default = np.empty(n_providers, np.int64)
    pool_split = (_f(k), _f(k), _f(k))
    return (deal.waterfall, _f(k), _f(k), _f(k), _f(k), provider_default, vintages, _f(k), pool_split, out, triggers)  # fmt: skip


def pool_args(deal, loans, support, revolving, trust_value) -> tuple:
    """Arguments of the types `_run_blocks` passes to `pool_path` (values unused)."""
    from ipabs.pool.kernels import pool_work_shapes

    pool = deal.pool
    k, n_assets = pool.asset_income_weight.shape
    n_factors = pool.factor_chol.shape[0]
    n_licensees = pool.licensee_threshold.shape[1]
    record = not (loans is None and support is None and revolving is None and trust_value is None)
    state = np.empty(4, np.uint64)
    return (
        state, state, pool, _f(k), _f(k), np.empty(n_licensees, np.int64),
        _f(n_factors + pool.copula_dof + n_licensees), _f(n_factors + n_assets), _f(n_assets),
        _f(n_factors), _f(n_factors), _f(n_assets), _f(n_assets), np.empty(n_assets, np.bool_),
        _f(k), np.ones(n_factors + 2), record,
        np.zeros((k, n_assets)), np.zeros((k, n_assets), np.bool_),
        tuple(np.empty(shape, dtype) for shape, dtype in pool_work_shapes(pool)),
    )  # fmt: skip


def metrics_args(deal) -> tuple:
    """Arguments of the types `_run_blocks` passes to `tranche_path_metrics`."""
    k = deal.n_periods
    principal = np.empty((deal.n_tranches, k))
    return (
        _f(k), principal[0], deal.t_years, deal.discount[0], float(deal.waterfall.balance0[0]),
        deal.duration_weight[0],
    )  # fmt: skip


def other_kernels(deal, loans, support, revolving, trust_value) -> list[tuple]:
    """(kernel, arguments of the types `_run_blocks` passes) for the smaller kernels it calls,
    those of parts the deal lacks left out (they are not compiled: `run._optional`)."""
    from ipabs.engine.rng import seed_latent_stream, seed_stream
    from ipabs.pool.loan_kernel import N_LOAN_TOTALS, simulate_loans_path
    from ipabs.structures.collateral import collateral_values
    from ipabs.structures.credit_support import provider_default_periods
    from ipabs.structures.revolving import simulate_vintages_path
    from ipabs.structures.trust import ip_values
    from ipabs.structures.waterfall import new_out

    pool = deal.pool
    k, n_assets = pool.asset_income_weight.shape
    n_factors = pool.factor_chol.shape[0]
    state = np.empty(4, np.uint64)
    economy = np.ones(n_factors + 2)
    level_path, alive_path = np.zeros((k, n_assets)), np.zeros((k, n_assets), np.bool_)
    one = np.int64(1)
    # with no credit support, _run_blocks passes its provider count as the literal 0
    providers = numba.types.literal(0) if support is None else one
    kernels: list[tuple] = [
        (new_out, (one, one, providers, one, one)),
        (collateral_values, (deal.waterfall, _f(k), _f(k), _f(k))),
        (seed_stream, (state, one, one)),
        (seed_latent_stream, (state, one, one)),
    ]
    if support is not None:
        provider = np.empty(support.loading.shape[0], np.int64)
        kernels.append((provider_default_periods, (state, support, economy, provider)))
    if loans is not None:
        n = loans.balance0.shape[0]
        ints = np.empty(n, np.int64)
        kernels.append((simulate_loans_path, (
            state, state, loans, economy, level_path, alive_path, _f(k),
            _f(k), _f(k), _f(k), (_f(k), _f(k), _f(k)), _f(n), _f(n), ints, ints,
            np.empty(n, np.bool_), ints, np.zeros((3, 2)),
            _f(N_LOAN_TOTALS),
        )))  # fmt: skip
    if revolving is not None:
        v = np.zeros((revolving.n_vintages, k))
        default_at = np.empty(revolving.n_vintages, np.int64)
        kernels.append((simulate_vintages_path, (
            state, state, revolving, economy, default_at, v, v, v, v,
        )))  # fmt: skip
    if trust_value is not None:
        default_period = np.empty(pool.licensee_threshold.shape[1], np.int64)
        kernels.append((ip_values, (trust_value, level_path, alive_path, default_period, _f(k))))
    return kernels


def _types(args: tuple) -> tuple:
    """Numba types of example arguments (a Numba type stands for itself)."""
    return tuple(a if isinstance(a, numba.types.Type) else numba.typeof(a) for a in args)


def enabled() -> bool:
    """On with a second core; IPABS_PARALLEL_COMPILE=0 turns it off, =1 on whatever the cores.
    Never in a frozen application."""
    if getattr(sys, "frozen", False):
        return False
    setting = os.environ.get("IPABS_PARALLEL_COMPILE")
    if setting in ("0", "1"):
        return setting == "1"
    return (os.cpu_count() or 1) >= 2


def compile_in_parallel(deal, loans, support, revolving, trust_value, triggers) -> None:
    """Compile the waterfall in a helper process and the pool kernel and metrics here, at once
    (module doc). Call only when `_run_blocks` is not compiled for the deal's types."""
    from ipabs.engine.metrics import tranche_path_metrics
    from ipabs.pool.kernels import pool_path
    from ipabs.structures.waterfall import pay_waterfall

    helper = None
    waterfall = waterfall_args(deal, triggers, support)
    try:
        if not is_compiled(pay_waterfall, waterfall):
            helper = _start_helper(pickle.dumps(_types(waterfall)))
        pool_path.compile(_types(pool_args(deal, loans, support, revolving, trust_value)))
        tranche_path_metrics.compile(_types(metrics_args(deal)))
        for kernel, args in other_kernels(deal, loans, support, revolving, trust_value):
            kernel.compile(_types(args))
        if helper is not None:
            helper.wait(timeout=HELPER_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pass  # _run_blocks compiles the waterfall itself
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
            helper.wait()


def _start_helper(types: bytes) -> subprocess.Popen | None:
    """The helper process, given the waterfall's argument types; None if it cannot start."""
    package_parent = str(Path(__file__).resolve().parents[2])
    try:
        helper = subprocess.Popen(
            [sys.executable, "-c", HELPER, package_parent],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        helper.stdin.write(types)
        helper.stdin.close()
    except OSError:  # it died at once: compile here, as without it
        helper.kill()
        helper.wait()
        return None
    return helper


def _helper() -> None:
    """The helper (`HELPER`): compile `pay_waterfall` for the pickled argument types on stdin,
    into the kernel cache."""
    from ipabs.structures.waterfall import pay_waterfall

    pay_waterfall.compile(pickle.loads(sys.stdin.buffer.read()))
