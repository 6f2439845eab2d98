"""The three real structures of issue #4, run as a user would (the API on the shipped files),
with the outcome each deal is known for checked against figures computed here, not by the engine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import REPO

import ipabs

BIOPHARMA = REPO / "scenarios" / "biopharma_royalty_trust_2000.toml"
MUSIC = REPO / "scenarios" / "music_catalogue_abs.toml"
ZGC = REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml"


def quiet(sc, *, cliff: tuple[dt.date, float] | None = None, support_pd: float = 0.0):
    """The deal with its randomness switched off (no volatility, jumps, invalidation or
    defaults), optionally with a permanent cut in every asset's income from a date."""
    assets = []
    for a in sc.assets:
        update = {"volatility": 0.0, "obsolescence_hazard": 0.0, "invalidation_hazard": 0.0}
        if cliff is not None:
            update |= {"cliff_date": cliff[0], "cliff_severity": cliff[1]}
        assets.append(a.model_copy(update=update))
    licensees = [x.model_copy(update={"annual_default_probability": 0.0}) for x in sc.licensees]
    support = [
        s.model_copy(update={"provider_default_probability": support_pd}) for s in sc.credit_support
    ]
    return sc.model_copy(
        update={
            "assets": tuple(assets),
            "licensees": tuple(licensees),
            "credit_support": tuple(support),
        }
    )


def by_tranche(results, column):
    return results.paths.pivot(index="path", columns="tranche", values=column)


def test_biopharma_2001_inventory_shock_wipes_out_equity_insurer_covers_mezzanine_senior_paid():
    sc = quiet(ipabs.load(BIOPHARMA), cliff=(dt.date(2001, 4, 1), 0.55))
    r = ipabs.simulate(sc, paths=8, seed=1)
    loss = by_tranche(r, "principal_loss")
    unpaid = by_tranche(r, "unpaid_interest")
    # the coverage covenants break and rapid amortisation starts within two years of the shock
    trig = r.triggers.set_index("trigger")
    assert trig.loc["senior_coverage", "probability"] == 1.0
    assert trig.loc["senior_coverage", "earliest_date"] < "2003-01-01"
    # senior paid in full, on time
    assert (loss["senior"] == 0).all() and (unpaid["senior"] == 0).all()
    # the insurer covers the mezzanine's shortfall: no loss, but only thanks to its payments
    assert (loss["mezzanine"] == 0).all() and (unpaid["mezzanine"] == 0).all()
    assert (r.pool_paths["credit_support_paid"] > 1_000_000).all()
    uninsured = ipabs.simulate(sc.model_copy(update={"credit_support": ()}), paths=8, seed=1)
    assert (by_tranche(uninsured, "principal_loss")["mezzanine"] > 1_000_000).all()
    # the equity is wiped out: none of its principal comes back and it recovers less than it paid
    equity = sc.tranches[2].balance
    assert (loss["equity"] == equity).all()
    received = by_tranche(r, "principal_received") + by_tranche(r, "residual_received")
    assert (received["equity"] < equity).all()


def test_biopharma_without_the_shock_covenants_hold_and_the_notes_are_repaid():
    r = ipabs.simulate(quiet(ipabs.load(BIOPHARMA)), paths=4, seed=1)
    assert (r.triggers["probability"] == 0).all()
    loss = by_tranche(r, "principal_loss")
    assert (loss[["senior", "mezzanine"]] == 0).all().all()
    assert (r.pool_paths["credit_support_paid"] == 0).all()


def test_music_catalogue_borrowing_base_holds_against_an_independent_valuation():
    sc = quiet(ipabs.load(MUSIC))
    r = ipabs.simulate(sc, paths=4, seed=1)
    periods = r.periods
    collections = periods["collections_mean"].to_numpy()
    # the catalogue's value recomputed here: 12 x the last four quarters' royalties, annualised
    value = np.array(
        [12 * collections[max(0, k - 3) : k + 1].mean() * 4 for k in range(len(collections))]
    )
    a = periods["balance_A_mean"].to_numpy()
    ab = a + periods["balance_B_mean"].to_numpy()
    before_ard = (pd.to_datetime(periods["date"]) < pd.Timestamp("2029-06-30")).to_numpy()
    assert before_ard.sum() == 27
    assert (a[before_ard] <= 0.50 * value[before_ard] * (1 + 1e-9)).all()
    assert (ab[before_ard] <= 0.60 * value[before_ard] * (1 + 1e-9)).all()
    # the A + B base binds (principal is paid down to it, no further; A first, in rank order)
    # while the sponsor takes the excess
    binding = np.isclose(ab[before_ard], 0.60 * value[before_ard], rtol=1e-9)
    assert binding[1:].all()
    assert (by_tranche(r, "residual_received")["sponsor_equity"] > 0).all()


def test_music_catalogue_dscr_trap_comes_into_force_when_royalties_fall():
    sc = quiet(ipabs.load(MUSIC), cliff=(dt.date(2024, 1, 1), 0.45))
    r = ipabs.simulate(sc, paths=4, seed=1)
    trig = r.triggers.set_index("trigger")
    # DSCR = royalties / (fees + interest): about 2.3x before the cut, below 1.5x after it
    assert trig.loc["dscr_cash_trap", "probability"] == 1.0
    assert trig.loc["dscr_cash_trap", "earliest_date"] >= "2024-01-01"
    # the base case never traps
    base = ipabs.simulate(quiet(ipabs.load(MUSIC)), paths=4, seed=1)
    assert base.triggers.set_index("trigger").loc["dscr_cash_trap", "probability"] == 0.0


@pytest.mark.slow
def test_zgc_second_undertaking_never_raises_class_b_loss_on_any_path():
    sc = ipabs.load(ZGC)
    second = [s for s in sc.credit_support if s.covers == ("senior_B",)]
    assert len(second) == 1  # the public fact the scenario models
    # the same paths (common random numbers) with the second undertaking capped at nothing
    capped = tuple(
        s.model_copy(update={"cap": 0.0}) if s.covers == ("senior_B",) else s
        for s in sc.credit_support
    )
    with_it = by_tranche(ipabs.simulate(sc, paths=3000, seed=5), "principal_loss")
    without = by_tranche(
        ipabs.simulate(sc.model_copy(update={"credit_support": capped}), paths=3000, seed=5),
        "principal_loss",
    )
    assert (with_it["senior_B"] <= without["senior_B"] + 1e-6).all()
    assert with_it["senior_B"].mean() < without["senior_B"].mean()
