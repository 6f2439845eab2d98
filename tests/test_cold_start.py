"""A first run with an empty kernel cache: it says that it compiles, compiles the waterfall in a
helper process (this process loads it from the cache the helper wrote) and the other kernels
here for exactly the types `_run_blocks` uses (so nothing compiles twice), and gives the same
numbers as this test process's run of the deal, however its kernels were compiled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import small_deal

import ipabs
from ipabs.scenario.load import validate

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys
import ipabs
from helpers import small_deal
from ipabs.engine import warm
from ipabs.engine.run import _optional
from ipabs.engine.metrics import tranche_path_metrics
from ipabs.pool.kernels import pool_path
from ipabs.scenario.load import validate
from ipabs.structures.waterfall import pay_waterfall

deal = sys.argv[1]
if deal == "small":
    sc = validate(small_deal())
elif deal == "revolving":  # loans, loans bought in a revolving period, a guarantee
    from test_revolving import revolving_loan_deal
    data = revolving_loan_deal().model_dump(mode="python", exclude_none=True)
    data["credit_support"] = [{
        "kind": "guarantee", "provider": "insurer", "covers": ["A"], "principal": "ultimate",
        "provider_default_probability": 0.01, "factor": "m", "factor_loading": 0.1,
    }]
    sc = validate(data)
else:
    sc = ipabs.load(deal)
r = ipabs.simulate(sc, paths=300, seed=5, progress=False)
kernels = [pool_path, tranche_path_metrics, pay_waterfall]
kernels += [k for k, _ in warm.other_kernels(r.deal, *_optional(r.deal))]
print(json.dumps({
    "signatures": {k.py_func.__qualname__: len(k.signatures) for k in kernels},
    "waterfall_compiled_here": sum(pay_waterfall.stats.cache_misses.values()),
    "waterfall_loaded": sum(pay_waterfall.stats.cache_hits.values()),
    "expected_loss": r.summary["expected_loss"].tolist(),
}))
"""


def _cold_run(cache: Path, deal: str, parallel: str = "1") -> tuple[dict, str]:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(cache),
        "IPABS_PARALLEL_COMPILE": parallel,
        "PYTHONPATH": str(ROOT / "tests"),
    }
    proc = subprocess.run([sys.executable, "-c", PROBE, deal], env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.slow
def test_a_cold_first_run_compiles_each_kernel_once_on_two_cores(tmp_path):
    cache = tmp_path / "cache"
    # every optional kernel of `warm.other_kernels` in three deals (each deal a compile of its
    # own: a kernel for each combination of the parts it has)
    deals = [
        "small",  # licence income, a reserve: none of the optional parts
        "revolving",  # loans, loans bought in a revolving period, credit support (a guarantee)
        str(ROOT / "scenarios" / "beijing_ip_trust.toml"),  # a trust valuing its IP
    ]
    for deal in deals:  # one cache: each run compiles only its deal's new kernels
        run, notice = _cold_run(cache, deal)
        # a kernel compiled here from warm's guessed types and again from _run_blocks' real ones
        # would have two signatures
        assert set(run["signatures"].values()) == {1}, (deal, run["signatures"])
        assert run["waterfall_compiled_here"] == 0, deal  # the helper compiled it
        if deal == "small":
            assert "compiling the simulation kernels" in notice
            # the cache was empty: the waterfall this run used was loaded from the helper's
            # compilation, not compiled here
            assert run["waterfall_loaded"] == 1
            first = run
    # the same numbers as this process's run, whose kernels were compiled (or loaded) otherwise
    here = ipabs.simulate(validate(small_deal()), paths=300, seed=5, progress=False)
    assert first["expected_loss"] == here.summary["expected_loss"].tolist()
