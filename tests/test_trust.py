"""IP trusts: hand-worked compounding, holdback, performance fee, early termination and terminal
value in the interpreter; a riskless trust whose classes receive exactly their expected yield;
the shipped illustrative trust runs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from helpers import QUIET_ASSET, small_deal
from test_structure_steps import close, structure
from test_waterfall import execute

import ipabs
from ipabs.scenario.load import validate
from ipabs.structures.program import StepSpec

NO_TRUST = (0.0, 0.0, 0.0, False, -1.0)


def test_compounded_shortfall_earns_the_coupon():
    program = {"normal": [StepSpec("pay_interest", (0,)), StepSpec("pay_residual")]}
    out = execute(
        structure([100.0, 1.0], program, coupon=[0.4, 0.0], compound=[True, False]),
        [0.0, 0.0, 100.0],
    )
    # owed 10, then 10 + 110 x 0.1 = 21, then 21 + 121 x 0.1 = 33.1, paid at the end
    close(out.interest[0], [0.0, 0.0, 33.1])
    close(out.max_unpaid[0], 21.0)
    plain = execute(structure([100.0, 1.0], program, coupon=[0.4, 0.0]), [0.0, 0.0, 100.0])
    close(plain.interest[0], [0.0, 0.0, 30.0])


def test_holdback_is_kept_and_paid_out_at_the_end():
    s = structure(
        [1.0, 100.0], {"normal": [StepSpec("pay_residual")]}, trust=(0.25, 0.0, 0.0, False, -1.0)
    )
    out = execute(s, [40.0, 40.0, 40.0])
    close(out.holdback, [10.0, 20.0, 0.0])
    close(out.holdback_release, [0.0, 0.0, 30.0])
    close(out.reserve, [0.0, 0.0, 0.0])  # its own account, not the reserve
    close(out.residual, [30.0, 30.0, 60.0])


def test_performance_fee_above_the_hurdle():
    # 20% of the residual above 8% a year on the subordinated class's 100 (2 a quarter)
    s = structure(
        [1.0, 100.0], {"normal": [StepSpec("pay_residual")]}, trust=(0.0, 0.2, 0.08, False, -1.0)
    )
    out = execute(s, [12.0, 1.0, 0.0])
    close(out.performance_fee, [2.0, 0.0, 0.0])
    close(out.fees, [0.0, 0.0, 0.0])  # the fee steps' payments only
    close(out.residual, [10.0, 1.0, 0.0])


def test_early_termination_sells_the_ip_when_the_shortfall_is_too_large():
    program = {
        "normal": [
            StepSpec("pay_interest", (0,)),
            StepSpec("pay_principal", (0,)),
            StepSpec("pay_residual"),
        ]
    }
    s = structure(
        [100.0, 1.0], program, coupon=[0.08, 0.0], k=5, trust=(0.0, 0.0, 0.0, False, 0.05)
    )
    out = execute(s, [0.0] * 5, ip_value=[70.0, 60.0, 55.0, 50.0, 45.0])
    # unpaid yield carried in: 0, 2, 4, 6 > 5% of 100: the IP is sold for 50 in period 4
    assert list(out.state) == [0, 0, 0, 0, -1]
    close(out.call_proceeds, [0.0, 0.0, 0.0, 50.0, 0.0])
    close(out.interest[0], [0.0, 0.0, 0.0, 8.0, 0.0])
    close(out.balance[0, -1], 100.0 - 42.0)


def test_terminal_value_is_distributed_at_the_end():
    program = {"normal": [StepSpec("pay_principal", (0,)), StepSpec("pay_residual")]}
    s = structure([100.0, 1.0], program, trust=(0.0, 0.0, 0.0, True, -1.0))
    out = execute(s, [10.0, 10.0, 10.0], ip_value=[90.0, 80.0, 30.0])
    close(out.principal[0], [10.0, 10.0, 40.0])
    close(out.call_proceeds, [0.0, 0.0, 30.0])


def riskless_trust_data(income=30.0, **trust):
    """A deterministic annual trust (one patent paying `income` a year, priority 60 at 5%,
    subordinated 40), as a scenario mapping."""
    data = small_deal(
        licensees=[{"id": "L", "annual_default_probability": 0.0, "recovery_rate": 0.5}],
        assets=[
            {
                "id": "P",
                "type": "patent",
                "licensee": "L",
                "base_annual_income": income,
                "remaining_legal_life_years": 15.0,
                **QUIET_ASSET,
            }
        ],
        tranches=[
            {"name": "priority", "balance": 60.0, "coupon": 0.05, "rank": 1},
            {"name": "subordinated", "balance": 40.0, "coupon": 0.0, "rank": 2},
        ],
        fees={},
        reserve={},
        factors={"names": ["tech"]},
        simulation={"paths": 20, "seed": 1, "block_size": 8},
    )
    data["kind"] = "trust"
    data["trust"] = trust
    data["deal"]["payment_frequency"] = "annual"
    return data


def riskless_trust(**trust):
    return validate(riskless_trust_data(**trust))


def test_riskless_trust_pays_the_priority_class_exactly_its_expected_yield():
    r = ipabs.simulate(riskless_trust(terminal_value="none"))
    s = r.summary.set_index("tranche")
    term = float(r.deal.t_years[-1])
    assert [d.isoformat() for d in r.deal.dates] == ["2025-01-15", "2026-01-15", "2027-01-15"]
    assert s.loc["priority", "distribution_yield_mean"] == pytest.approx(0.05, rel=1e-12)
    # by hand: each year 30 x the year's length comes in; the priority class takes 5% a year
    # on its balance, then principal (the standard order repays it first)
    t = np.array([(d - dt.date(2024, 1, 15)).days / 365.0 for d in r.deal.dates])
    balance, received = 60.0, 0.0
    for dt_k in np.diff(np.concatenate([[0.0], t])):
        interest = 0.05 * balance * dt_k
        principal = min(30.0 * dt_k - interest, balance)
        received += interest + principal
        balance -= principal
    assert s.loc["priority", "multiple_mean"] == pytest.approx(received / 60.0, rel=1e-12)
    assert s.loc["priority", "prob_shortfall"] == 0.0
    # everything collected is distributed: 30 a year
    r_paths = r.paths.groupby("path")[
        ["interest_received", "principal_received", "residual_received"]
    ].sum()
    np.testing.assert_allclose(r_paths.sum(axis=1), 30.0 * term, rtol=1e-12)


def test_terminal_value_adds_the_ip_still_held():
    def distributed(terminal_value):
        r = ipabs.simulate(riskless_trust(terminal_value=terminal_value))
        flows = r.paths[["interest_received", "principal_received", "residual_received"]].sum(
            axis=1
        )
        return r.pool_paths["call_proceeds"], flows.groupby(r.paths["path"]).sum()

    none, without = distributed("none")
    ip, with_ip = distributed("income_method")
    # the patent still has 12 years of income left: a positive value, distributed at the end
    assert (ip > 0).all() and (none == 0).all()
    np.testing.assert_allclose(with_ip - without, ip, rtol=1e-12)


def test_trust_terms_need_a_trust():
    data = small_deal()
    data["trust"] = {"holdback_share": 0.1}
    with pytest.raises(ipabs.ScenarioError, match="only a trust has trust terms"):
        validate(data)
