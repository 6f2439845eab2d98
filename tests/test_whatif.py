"""What-ifs for the notebook: `Scenario.replace` validates every change, `ipabs.sweep` runs a
grid on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small_deal

import ipabs
from ipabs.errors import ScenarioError
from ipabs.scenario.load import validate


def test_replace_sets_values_by_key_path_and_keeps_the_original():
    sc = validate(small_deal())
    changed = sc.replace(
        {"tranches[name=A].balance": 17e6, "licensees[*].annual_default_probability": 0.07}
    )
    assert next(t.balance for t in changed.tranches if t.name == "A") == 17e6
    assert {lic.annual_default_probability for lic in changed.licensees} == {0.07}
    assert next(t.balance for t in sc.tranches if t.name == "A") == 18e6  # unchanged


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tranches[name=A].balance": -5.0}, r"tranches\[0\]\.balance .*greater than 0"),
        ({"tranches[name=A].coupon": 3.5}, r"tranches\[0\]\.coupon"),
        ({"tranche[0].balance": 1.0}, "did you mean 'tranches'"),
        ({"tranches[name=Z].balance": 1.0}, "no item has name = Z"),
        ({"licensees[*].annual_default_probability": 1.5}, "annual_default_probability"),
    ],
)
def test_replace_refuses_bad_values_with_the_key_path(changes, message):
    sc = validate(small_deal())
    with pytest.raises(ScenarioError, match=message):
        sc.replace(changes)


def test_model_copy_is_not_the_route_replace_is():
    """pydantic's model_copy(update=...) skips validation (a negative balance goes through);
    replace refuses the same change, and the docstring points to replace."""
    sc = validate(small_deal())
    tranches = list(sc.tranches)
    tranches[0] = tranches[0].model_copy(update={"balance": -5.0})
    unchecked = sc.model_copy(update={"tranches": tuple(tranches)})
    assert unchecked.tranches[0].balance == -5.0  # what the issue saw: no error
    with pytest.raises(ScenarioError):
        sc.replace({"tranches[0].balance": -5.0})
    assert "model_copy" in ipabs.Scenario.replace.__doc__


def test_a_sweep_on_common_random_numbers_is_monotone_where_the_model_says():
    """Higher default probabilities move every name's default time earlier or leave it (3.2),
    so on the same paths the senior class's expected loss cannot fall along the grid; and a
    grid point equals a run of the changed scenario."""
    sc = validate(small_deal(simulation={"paths": 2000, "seed": 5}))
    grid = ipabs.sweep(
        sc, {"licensees[*].annual_default_probability": [0.02, 0.05, 0.1, 0.2]}, paths=2000
    )
    assert len(grid) == 4 * 3
    senior = grid[grid.tranche == "A"]
    assert np.all(np.diff(senior["expected_loss"].to_numpy()) >= 0)
    assert senior["expected_loss"].iloc[-1] > senior["expected_loss"].iloc[0]
    one = ipabs.simulate(sc.replace({"licensees[*].annual_default_probability": 0.1}), paths=2000)
    row = one.summary.set_index("tranche").loc["A"]
    assert senior["expected_loss"].iloc[2] == row.expected_loss
    two = ipabs.sweep(
        sc,
        {
            "licensees[*].annual_default_probability": [0.02, 0.1],
            "tranches[name=A].balance": [15e6, 18e6],
        },
        paths=500,
    )
    assert len(two) == 4 * 3 and list(two.columns[:2]) == [
        "licensees[*].annual_default_probability",
        "tranches[name=A].balance",
    ]
    ax = ipabs.plot_sweep(
        two, "tranches[name=A].balance", hue="licensees[*].annual_default_probability"
    )
    assert ax.get_xlabel() == "tranches[name=A].balance"


def test_a_sweep_refuses_a_bad_point_before_running_anything():
    sc = validate(small_deal())
    with pytest.raises(ScenarioError, match="annual_default_probability"):
        ipabs.sweep(sc, {"licensees[*].annual_default_probability": [0.02, 2.0]}, paths=100)
    with pytest.raises(ScenarioError, match="non-empty list"):
        ipabs.sweep(sc, {"licensees[*].annual_default_probability": []})
