"""The waterfall as data: hand-worked cases for every step type, trigger, the liquidity facility,
the clean-up call and the collateral measure, and properties of random programs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_waterfall import execute

from ipabs.structures.collateral import collateral_values
from ipabs.structures.program import FeeSpec, StepSpec, Structure, TriggerSpec, assemble

Q = np.full(3, 0.25)  # quarterly accrual


def structure(balances, states, *, coupon=None, k=3, **kw):
    n = len(balances)
    return Structure(
        accrual=np.full(k, 0.25),
        balance0=balances,
        coupon=np.zeros(n) if coupon is None else np.asarray(coupon, float),
        ranks=kw.pop("ranks", list(range(n))),
        states=states,
        **kw,
    )


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10)


def test_pay_fee_fixed_pct_of_pool_capped_and_pro_rata_when_short():
    # fee 0: 4 a year; fee 1: 2% of the pool a year, capped at 16 a year; pool 1000 then 500
    s = structure(
        [100.0],
        {
            "normal": [
                StepSpec("pay_fee", (0, 1)),
                StepSpec("pay_principal", (0,), mode="turbo"),
                StepSpec("pay_residual"),
            ]
        },
        fees=[FeeSpec(fixed=4.0), FeeSpec(pct_pool=0.02, cap=16.0)],
        collateral_original=1000.0,
    )
    out = execute(s, [6.0, 2.0, 10.0], collateral=[500.0, 500.0, 500.0])
    # period 1: 1 + 0.25 min(20, 16) = 5; period 2: 1 + 2.5 owed, 2 paid pro rata (1 : 2.5);
    # period 3: 1 + 2.5 + the 1.5 carried = 5
    close(out.fees, [5.0, 2.0, 5.0])
    close(out.principal[0], [1.0, 0.0, 5.0])
    close(out.balance[0, -1], 94.0)


def test_liquidity_facility_draw_charges_and_repayment_rank():
    # A 100 at 8%; facility limit 3, 4% on drawn, 1% commitment fee on undrawn
    s = structure(
        [100.0],
        {
            "normal": [
                StepSpec("pay_liquidity"),
                StepSpec("pay_interest", (0,), cover=("liquidity",)),
                StepSpec("pay_principal", (0,)),
                StepSpec("pay_residual"),
            ]
        },
        coupon=[0.08],
        liquidity=(3.0, 0.04, 0.01),
    )
    out = execute(s, [0.0, 10.0, 100.0])
    close(out.liquidity_draw, [2.0, 0.0, 0.0])  # interest 2 drawn in period 1
    # period 2: charges 0.0075 + 0.25 (0.04 x 2 + 0.01 x 1) = 0.03, then the 2 drawn is repaid
    close(out.liquidity_charges, [0.0, 0.03, 0.0075])
    close(out.liquidity_repaid, [0.0, 2.0, 0.0])
    close(out.liquidity_unpaid, [0.0, 0.0])  # repaid in full, its charges too
    close(out.interest[0], [2.0, 2.0, 0.02 * (100 - 5.97)])
    close(out.principal[0], [0.0, 5.97, 94.03])
    close(out.residual, [0.0, 0.0, 100 - 0.0075 - 0.02 * 94.03 - 94.03])


def test_liquidity_facility_left_unpaid_at_legal_final():
    """Drawn 2 in period 1 for interest, never repaid (the cash never covers the coupon): what
    is owed at the end is the draws and the accrued charges, the facility's loss."""
    s = structure(
        [100.0],
        {
            "normal": [
                StepSpec("pay_interest", (0,), cover=("liquidity",)),
                StepSpec("pay_liquidity"),
                StepSpec("pay_principal", (0,)),
                StepSpec("pay_residual"),
            ]
        },
        coupon=[0.08],
        liquidity=(3.0, 0.04, 0.01),
    )
    out = execute(s, [0.0, 0.0, 0.0])
    close(out.liquidity_draw, [2.0, 1.0, 0.0])  # then only 1 of the limit is left
    # charges: 0.0075 (undrawn 3) + 0.25 (0.04 x 2 + 0.01 x 1) + 0.25 (0.04 x 3)
    close(out.liquidity_unpaid, [3.0, 0.0075 + 0.0225 + 0.03])
    close(out.liquidity_charges + out.liquidity_repaid, [0.0, 0.0, 0.0])


def test_principal_pro_rata_turbo_schedule_and_borrowing_base():
    pro_rata = structure(
        [60.0, 40.0, 1.0],
        {"normal": [StepSpec("pay_principal", (0, 1), mode="pro_rata"), StepSpec("pay_residual")]},
    )
    close(execute(pro_rata, [10.0, 0.0, 0.0]).principal[:2, 0], [6.0, 4.0])
    turbo = structure(
        [60.0, 40.0, 1.0],
        {"normal": [StepSpec("pay_principal", (1, 0), mode="turbo"), StepSpec("pay_residual")]},
    )
    close(execute(turbo, [50.0, 0.0, 0.0]).principal[:2, 0], [10.0, 40.0])  # listed order: B first
    targets = np.array([[90.0, 80.0, 0.0], [np.nan] * 3, [np.nan] * 3])
    schedule = structure(
        [100.0, 40.0, 1.0],
        {"normal": [StepSpec("pay_principal", (0, 1), mode="schedule"), StepSpec("pay_residual")]},
        target_balance=targets,
    )
    out = execute(schedule, [50.0, 0.0, 0.0])
    close(out.principal[:2, 0], [10.0, 0.0])  # B has no schedule: nothing before legal final
    close(out.residual[0], 40.0)
    # borrowing base: A down to 50% of the collateral value; all due at legal final
    base = structure(
        [100.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0,), mode="borrowing_base", advance_rate=0.5),
                StepSpec("pay_residual"),
            ]
        },
    )
    out = execute(base, [30.0, 10.0, 100.0], collateral=[150.0, 120.0, 100.0])
    close(out.principal[0], [25.0, 10.0, 65.0])  # 100 - 75; min(75 - 60, cash 10); all 65
    close(out.residual, [5.0, 0.0, 35.0])


def test_trap_cash_into_the_reserve_released_at_legal_final():
    targets = np.array([[95.0, 90.0, 0.0], [np.nan] * 3])
    s = structure(
        [100.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0,), mode="schedule"),
                StepSpec("fund_reserve"),
                StepSpec("pay_residual"),
            ]
        },
        target_balance=targets,
        triggers=[TriggerSpec("date", "trap_cash", period=1)],
    )
    out = execute(s, [10.0, 10.0, 10.0])
    close(out.reserve, [0.0, 5.0, 0.0])
    close(out.principal[0], [5.0, 5.0, 15.0])  # at legal final the trapped 5 joins the cash
    close(out.reserve_release, [0.0, 0.0, 5.0])  # a release, not a draw
    close(out.reserve_draw, [0.0, 0.0, 0.0])
    close(out.residual, [5.0, 0.0, 0.0])
    assert list(out.trigger_first) == [1]


def test_one_sequential_step_pays_the_next_rank_once_the_rank_above_is_repaid():
    """A 10 then B 20 in one sequential step, 25 of cash: A is repaid and B takes the other 15 in
    the same period (not the residual), as two steps would pay them."""
    one = structure(
        [10.0, 20.0, 1.0],
        {"normal": [StepSpec("pay_principal", (0, 1)), StepSpec("pay_residual")]},
    )
    two = structure(
        [10.0, 20.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0,)),
                StepSpec("pay_principal", (1,)),
                StepSpec("pay_residual"),
            ]
        },
    )
    for s in (one, two):
        out = execute(s, [25.0, 10.0, 0.0])
        close(out.principal[:2, 0], [10.0, 15.0])
        close(out.principal[:2, 1], [0.0, 5.0])
        close(out.residual, [0.0, 5.0, 0.0])


def test_date_trigger_switches_pro_rata_to_sequential():
    s = structure(
        [50.0, 50.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0, 1), mode="pro_rata"),
                StepSpec("pay_residual"),
            ],
            "triggered": [StepSpec("pay_principal", (0, 1)), StepSpec("pay_residual")],
        },
        k=4,
        triggers=[TriggerSpec("date", "switch_waterfall", period=1)],
    )
    out = execute(s, [10.0] * 4)
    close(out.principal[0], [5.0, 10.0, 10.0, 10.0])
    close(out.principal[1], [5.0, 0.0, 0.0, 0.0])
    close(out.balance[:2, -1], [15.0, 45.0])
    assert list(out.state) == [0, 1, 1, 1]


def _dscr_deal(curable, needed):
    targets = np.array([[98.0, 96.0, 94.0, 92.0, 90.0, 0.0], [np.nan] * 6])
    return structure(
        [100.0, 1.0],
        {
            "normal": [
                StepSpec("pay_interest", (0,)),
                StepSpec("pay_principal", (0,), mode="schedule"),
                StepSpec("pay_residual"),
            ]
        },
        coupon=[0.04, 0.0],
        k=6,
        target_balance=targets,
        triggers=[
            TriggerSpec(
                "dscr",
                "rapid_amortisation",
                threshold=2.0,
                lookback=2,
                needed=needed,
                curable=curable,
                classes=(0,),
            )
        ],
    )


def test_dscr_over_a_look_back_trips_rapid_amortisation_after_two_breaches():
    out = execute(_dscr_deal(False, 2), [10.0, 5.0, 5.0, 5.0, 10.0, 10.0])
    # class A's debt service: interest 1% of the balance + 2 scheduled; two-period DSCR
    # 15/5.98, 10/5.94 (breach 1), 10/5.90 (breach 2: in force from period 4, not curable)
    assert list(out.trigger_first) == [3]
    close(out.residual, [7.0, 2.02, 2.04, 0.0, 0.0, 0.0])
    close(out.principal[0, 3:], [5 - 0.94, 10 - 0.8994, 10 - 0.01 * 80.8394])


def test_curable_trigger_ends_when_the_test_passes_again():
    out = execute(_dscr_deal(True, 1), [10.0, 5.0, 5.0, 10.0, 10.0, 10.0])
    # breached in period 3 (all cash to principal), passed in period 4 (cured: schedule again,
    # and the balance is already below its target)
    close(out.principal[0, 2], 5 - 0.96)
    close(out.residual[2], 0.0)
    close(out.principal[0, 3], 0.0)
    close(out.residual[3], 10 - 0.01 * (96 - 4.04))


def test_cumulative_default_ratio_event_of_default_accelerates():
    s = structure(
        [50.0, 50.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0, 1), mode="pro_rata"),
                StepSpec("pay_residual"),
            ],
            "accelerated": [StepSpec("pay_principal", (0, 1)), StepSpec("pay_residual")],
        },
        k=4,
        collateral_original=100.0,
        triggers=[TriggerSpec("cumulative_default_ratio", "event_of_default", threshold=0.05)],
    )
    out = execute(s, [10.0] * 4, defaulted=[0.0, 6.0, 0.0, 0.0])
    assert list(out.state) == [0, 2, 2, 2]
    close(out.principal[0], [5.0, 10.0, 10.0, 10.0])
    close(out.balance[:2, -1], [15.0, 45.0])


def test_oc_ratio_curable_cash_trap():
    targets = np.array([[90.0, 80.0, 70.0, 0.0], [np.nan] * 4])
    s = structure(
        [100.0, 1.0],
        {
            "normal": [
                StepSpec("pay_principal", (0,), mode="schedule"),
                StepSpec("fund_reserve"),
                StepSpec("pay_residual"),
            ]
        },
        k=4,
        target_balance=targets,
        triggers=[TriggerSpec("oc_ratio", "trap_cash", threshold=1.2, curable=True)],
    )
    # OC: 130 / 101, 100 / 91 (breached), 130 / 81 (cured)
    out = execute(s, [15.0] * 4, collateral=[130.0, 100.0, 130.0, 130.0])
    close(out.reserve, [0.0, 5.0, 0.0, 0.0])
    close(out.residual, [5.0, 0.0, 10.0, 0.0])


def test_clean_up_call_sells_the_pool_and_ends_the_deal():
    s = structure(
        [100.0, 1.0],
        {"normal": [StepSpec("pay_principal", (0, 1)), StepSpec("pay_residual")]},
        k=4,
        collateral_original=100.0,
        call=(0.1, 1.0),
    )
    out = execute(s, [20.0] * 4, collateral=[50.0, 9.0, 5.0, 5.0])
    close(out.call_proceeds, [0.0, 9.0, 0.0, 0.0])
    close(out.principal[0], [20.0, 29.0, 0.0, 0.0])
    close(out.balance[0], [80.0, 51.0, 51.0, 51.0])  # the rest is a loss
    assert list(out.state) == [0, 0, -1, -1]


def test_collateral_value_as_a_multiple_of_trailing_income():
    wf = assemble(
        structure(
            [1.0],
            {"normal": [StepSpec("pay_residual")]},
            collateral=("trailing_income", 5.0, 2),
            periods_per_year=4,
        )
    )
    out = np.empty(3)
    collateral_values(wf, np.array([1.0, 2.0, 3.0]), np.zeros(3), out)
    close(out, [20.0, 30.0, 50.0])  # 5 x 4 x mean of the last two periods


# --- properties on random programs -------------------------------------------------------------


@st.composite
def programs(draw):
    n = draw(st.integers(2, 3))
    k = draw(st.integers(2, 8))
    money = st.floats(0.0, 60.0, allow_nan=False)
    classes = st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)

    def step(revolving=False):
        actions = ["pay_fee", "pay_interest", "pay_principal", "fund_reserve", "pay_liquidity"]
        action = draw(st.sampled_from(actions + ["buy_assets"] * revolving))
        if action == "pay_fee":
            return StepSpec(
                action,
                tuple(draw(st.lists(st.integers(0, 1), min_size=1, max_size=2, unique=True))),
                cover=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["reserve", "liquidity", "holdback"]),
                            max_size=3,
                            unique=True,
                        )
                    )
                ),
            )
        if action == "pay_interest":
            return StepSpec(
                action,
                tuple(draw(classes)),
                cover=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["reserve", "liquidity", "holdback"]),
                            max_size=3,
                            unique=True,
                        )
                    )
                ),
            )
        if action == "pay_principal":
            mode = draw(
                st.sampled_from(["sequential", "pro_rata", "schedule", "borrowing_base", "turbo"])
            )
            return StepSpec(
                action, tuple(draw(classes)), mode=mode, advance_rate=draw(st.floats(0.1, 1.0))
            )
        return StepSpec(action)

    def program(revolving=False):
        steps = [step(revolving) for _ in range(draw(st.integers(1, 6)))]
        return [*steps, StepSpec("pay_residual")]

    triggers = [
        TriggerSpec(
            draw(
                st.sampled_from(
                    [
                        "date",
                        "dscr",
                        "interest_coverage",
                        "oc_ratio",
                        "cumulative_default_ratio",
                        "cumulative_loss_ratio",
                    ]
                )
            ),
            draw(
                st.sampled_from(
                    ["switch_waterfall", "trap_cash", "rapid_amortisation", "event_of_default"]
                )
            ),
            threshold=draw(st.floats(0.0, 3.0)),
            period=draw(st.integers(0, k)),
            lookback=draw(st.integers(1, 3)),
            needed=draw(st.integers(1, 2)),
            curable=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    targets = np.full((n, k), np.nan)
    for t in range(n):
        if draw(st.booleans()):
            targets[t] = np.linspace(100.0, 0.0, k + 1)[1:] * draw(st.floats(0.1, 1.0))
    s = Structure(
        accrual=np.full(k, 0.25),
        balance0=[draw(st.floats(1.0, 100.0)) for _ in range(n)],
        coupon=[draw(st.floats(0.0, 0.12)) for _ in range(n)],
        ranks=sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))),
        states={
            "normal": program(),
            "triggered": program(),
            "accelerated": program(),
            "revolving": program(revolving=True),
        },
        target_balance=targets,
        fees=[
            FeeSpec(
                fixed=draw(st.floats(0.0, 8.0)),
                pct_notes=draw(st.floats(0.0, 0.02)),
                pct_pool=0.01,
                cap=draw(st.floats(1.0, 20.0)),
            ),
            FeeSpec(fixed=draw(st.floats(0.0, 4.0))),
        ],
        reserve=(draw(st.floats(0.0, 10.0)), draw(st.floats(0.0, 10.0)), draw(st.floats(0.0, 0.1))),
        liquidity=(draw(st.floats(0.0, 10.0)), 0.05, 0.01),
        triggers=triggers,
        collateral_original=100.0,
        call=draw(st.one_of(st.none(), st.just((0.3, 1.0)))),
        revolving=(draw(st.integers(0, k)), draw(st.floats(0.0, 150.0)), draw(st.floats(0.5, 1.5))),
        # a trust's terms: holdback, performance fee over a hurdle, terminal value, termination
        trust=(
            draw(st.sampled_from([0.0, 0.1, 0.5])),
            draw(st.sampled_from([0.0, 0.2])),
            draw(st.sampled_from([0.0, 0.08])),
            draw(st.booleans()),
            draw(st.sampled_from([-1.0, 0.05])),
        ),
    )
    series = st.lists(money, min_size=k, max_size=k)
    unit = st.lists(st.floats(0.0, 1.2), min_size=k * k, max_size=k * k)
    vintages = tuple(np.reshape(draw(unit), (k, k)) for _ in range(4))
    return s, draw(series), draw(series), draw(series), vintages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_cash_is_conserved_and_nothing_is_overpaid(case):
    s, collections, defaulted, collateral, vintages = case
    out = execute(
        s,
        collections,
        defaulted=defaulted,
        loss=defaulted,
        collateral=collateral,
        vintages=vintages,
        ip_value=collateral,  # a trust's IP value, at termination or the end
    )
    # what the deal received: the pool's collections and the bought loans' cash, nothing after a
    # clean-up call (the buyer's)
    assert (out.collected >= np.where(out.state >= 0, collections, 0.0) - 1e-12).all()
    inflow = (
        out.collected
        + out.reserve_draw
        + out.reserve_release
        + out.liquidity_draw
        + out.support_paid
        + out.call_proceeds
        + out.holdback_drawn
        + out.holdback_release
    )
    outflow = (
        out.fees
        + out.performance_fee
        + out.holdback_in
        + out.interest.sum(0)
        + out.principal.sum(0)
        + out.reserve_topup
        + out.liquidity_charges
        + out.liquidity_repaid
        + out.purchases
        + out.residual
    )
    np.testing.assert_allclose(inflow, outflow, rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.support_class.sum(0), out.support_paid, rtol=0, atol=1e-12)
    # the reserve moves only by its draws, releases and top-ups, and never goes negative
    reserve_before = np.concatenate([[s.reserve[0]], out.reserve[:-1]])
    np.testing.assert_allclose(
        out.reserve,
        reserve_before - out.reserve_draw - out.reserve_release + out.reserve_topup,
        atol=1e-9,
    )
    assert (out.reserve >= -1e-12).all()
    # so does a trust's holdback, which is paid out by the end
    holdback_before = np.concatenate([[0.0], out.holdback[:-1]])
    np.testing.assert_allclose(
        out.holdback,
        holdback_before + out.holdback_in - out.holdback_drawn - out.holdback_release,
        atol=1e-9,
    )
    assert (out.holdback >= -1e-12).all() and out.holdback[-1] == 0.0
    # no class is repaid more than its balance; the facility never lends beyond its limit
    balance0 = np.asarray(s.balance0)
    assert (out.principal >= -1e-12).all() and (out.balance >= -1e-9).all()
    np.testing.assert_allclose(out.principal.sum(1) + out.balance[:, -1], balance0, atol=1e-9)
    assert (
        np.cumsum(out.liquidity_draw) <= s.liquidity[0] + np.cumsum(out.liquidity_repaid) + 1e-9
    ).all()
    # interest paid never exceeds what accrued on the balances outstanding
    accrued = (
        np.concatenate([balance0[:, None], out.balance[:, :-1]], axis=1)
        * np.asarray(s.coupon)[:, None]
        * 0.25
    )
    assert (out.interest.sum(1) <= accrued.sum(1) + 1e-9).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.floats(0.0, 40.0), min_size=3, max_size=10),
    st.floats(10.0, 100.0),
    st.floats(1.0, 100.0),
    st.floats(0.0, 0.10),
    st.floats(0.0, 0.10),
    st.floats(0.0, 6.0),
    st.data(),
)
def test_switching_to_sequential_earlier_never_raises_the_senior_loss(
    collections, a, b, ca, cb, fee, data
):
    k = len(collections)
    early = data.draw(st.integers(0, k))
    late = data.draw(st.integers(early, k))

    def senior_loss(period):
        s = structure(
            [a, b, 1.0],
            {
                "normal": [
                    StepSpec("pay_fee", (0,)),
                    StepSpec("pay_interest", (0,)),
                    StepSpec("pay_interest", (1,)),
                    StepSpec("pay_principal", (0, 1), mode="pro_rata"),
                    StepSpec("pay_residual"),
                ],
                "triggered": [
                    StepSpec("pay_fee", (0,)),
                    StepSpec("pay_interest", (0,)),
                    StepSpec("pay_interest", (1,)),
                    StepSpec("pay_principal", (0, 1)),
                    StepSpec("pay_residual"),
                ],
            },
            coupon=[ca, cb, 0.0],
            k=k,
            fees=[FeeSpec(fixed=fee)],
            triggers=[TriggerSpec("date", "switch_waterfall", period=period)],
        )
        return execute(s, collections).balance[0, -1]

    assert senior_loss(early) <= senior_loss(late) + 1e-9


def test_a_class_listed_in_two_steps_is_not_paid_twice():
    s = structure(
        [10.0, 1.0],
        {
            "normal": [
                StepSpec("pay_interest", (0,)),
                StepSpec("pay_interest", (0,)),
                StepSpec("pay_principal", (0,), mode="turbo"),
                StepSpec("pay_principal", (0,), mode="turbo"),
                StepSpec("pay_residual"),
            ]
        },
        coupon=[0.4, 0.0],
    )
    out = execute(s, [100.0, 0.0, 0.0])
    close(out.interest[0, 0], 1.0)
    close(out.principal[0, 0], 10.0)
    close(out.residual[0], 89.0)


@pytest.mark.parametrize("bad", [[1, 0], [2, 1, 0]])
def test_classes_must_be_in_rank_order(bad):
    with pytest.raises(ValueError, match="rank order"):
        assemble(structure([1.0] * len(bad), {"normal": [StepSpec("pay_residual")]}, ranks=bad))


def test_trap_share_traps_that_share_of_the_cash_left():
    s = structure(
        [100.0, 1.0],
        {"normal": [StepSpec("fund_reserve"), StepSpec("pay_residual")]},
        triggers=[TriggerSpec("date", "trap_cash", period=0, trap_share=0.5)],
    )
    out = execute(s, [10.0, 4.0, 0.0])
    close(out.reserve, [5.0, 7.0, 0.0])
    close(out.residual, [5.0, 2.0, 7.0])  # released at legal final


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_the_one_class_fast_path_pays_as_the_general_step(case):
    # a provider that never pays (cap 0) sends every principal step down the general path
    s, collections, defaulted, collateral, vintages = case
    fast = execute(
        s,
        collections,
        defaulted=defaulted,
        loss=defaulted,
        collateral=collateral,
        vintages=vintages,
    )
    s.support = [((0,), 0.0)]
    general = execute(
        s,
        collections,
        defaulted=defaulted,
        loss=defaulted,
        collateral=collateral,
        vintages=vintages,
        provider_default=[len(collections)],
    )
    for name in ("principal", "interest", "residual", "balance", "fees", "reserve"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(general, name))
