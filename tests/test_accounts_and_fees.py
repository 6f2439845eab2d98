"""Chinese deal mechanics in the waterfall (docs/model.md, 4.9): taxes and fee bases, one-off
fees, caps, floors and waived fees, credit support that covers fees, revenue and principal
accounts with transfers and a principal deficiency ledger, and formula reserve targets.
Hand-worked cases for each, and properties of random split-account programs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_waterfall import execute

from ipabs.structures.program import FeeSpec, StepSpec, Structure

Q = 0.25  # quarterly accrual


def structure(balances, program, *, coupon=None, k=3, fees=(), **kw):
    n = len(balances)
    return Structure(
        accrual=np.full(k, Q),
        balance0=balances,
        coupon=np.zeros(n) if coupon is None else np.asarray(coupon, float),
        ranks=kw.pop("ranks", list(range(n))),
        states={"normal": program},
        fees=list(fees),
        **kw,
    )


def close(actual, expected, atol=1e-10):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


SPLIT = (True, True)  # revenue and principal accounts; recoveries to the principal account


# -- taxes and fee bases ---------------------------------------------------------------------


def test_tax_on_income_leaves_principal_and_recoveries_untaxed():
    # collections 100 a period, of which principal 50 and recoveries 20: income 30. VAT 3% in
    # the price, surcharges 12% of it: 30 x 0.03 / 1.03 x 1.12 = 0.978641 a period
    rate = 0.03 / 1.03 * 1.12
    s = structure(
        [300.0],
        [StepSpec("pay_fee", (0,)), StepSpec("pay_principal", (0,)), StepSpec("pay_residual")],
        fees=[FeeSpec(pct_income=rate)],
    )
    out = execute(s, [100.0] * 3, pool_split=([50.0] * 3, [20.0] * 3, [0.0] * 3))
    close(out.fee_paid[0], [30 * 0.03 / 1.03 * 1.12] * 3)
    close(out.principal[0], [100 - 30 * rate] * 3)


def test_fee_on_collections_capped_and_floored_per_year():
    # 10% of collections, capped at 20 a year (5 a quarter), floored at 8 a year (2 a quarter)
    s = structure(
        [100.0],
        [StepSpec("pay_fee", (0,)), StepSpec("pay_residual")],
        fees=[FeeSpec(pct_collections=0.1, cap=20.0, floor=8.0)],
    )
    out = execute(s, [100.0, 30.0, 5.0])
    close(out.fee_paid[0], [5.0, 3.0, 2.0])  # capped, as is, floored


def test_fixed_fee_floor_and_one_off_fee():
    s = structure(
        [100.0],
        [StepSpec("pay_fee", (0, 1)), StepSpec("pay_residual")],
        fees=[FeeSpec(fixed=4.0, floor=6.0), FeeSpec(one_off=(7.0, 1))],
    )
    out = execute(s, [50.0] * 3)
    close(out.fee_paid[0], [1.5] * 3)  # the floor, 6 a year, is above the fixed 4
    close(out.fee_paid[1], [0.0, 7.0, 0.0])  # due in its period only


def test_unpaid_fee_carried_or_waived():
    program = [StepSpec("pay_fee", (0,)), StepSpec("pay_residual")]
    carried = execute(structure([10.0], program, fees=[FeeSpec(fixed=40.0)]), [4.0, 0.0, 30.0])
    waived = execute(
        structure([10.0], program, fees=[FeeSpec(fixed=40.0, carry=False)]), [4.0, 0.0, 30.0]
    )
    # 10 a quarter: carried, 6 + 10 + 10 owed in the last period; waived, 10 only
    close(carried.fee_paid[0], [4.0, 0.0, 26.0])
    close(waived.fee_paid[0], [4.0, 0.0, 10.0])
    close(carried.residual, [0.0, 0.0, 4.0])
    close(waived.residual, [0.0, 0.0, 20.0])


def test_fee_on_class_payments_accrues_as_the_classes_are_paid():
    # 1% of interest and principal paid; paid by a step after the classes (this period's) and by
    # a step before them (the previous period's, in arrear)
    after = [
        StepSpec("pay_interest", (0,)),
        StepSpec("pay_principal", (0,)),
        StepSpec("pay_fee", (0,)),
        StepSpec("pay_residual"),
    ]
    after[1] = StepSpec("pay_principal", (0,), mode="schedule")
    schedule = np.array([[90.0, 80.0, 0.0]])
    cash = [30.0, 30.0, 120.0]

    def run(program):
        s = structure(
            [100.0], program, coupon=[0.08], fees=[FeeSpec(pct_paid=0.01)], target_balance=schedule
        )
        return execute(s, cash)

    out = run(after)
    paid = out.interest[0] + out.principal[0]
    close(out.principal[0], [10.0, 10.0, 80.0])
    close(out.fee_paid[0], 0.01 * paid)
    close(paid + out.fee_paid[0] + out.residual, cash)
    out = run([after[2], after[0], after[1], after[3]])
    paid = out.interest[0] + out.principal[0]
    close(out.fee_paid[0], [0.0, 0.01 * paid[0], 0.01 * paid[1]])


def test_credit_support_covers_a_fee_and_the_class():
    # no cash: the undertaking pays the tax (fee 0) and the class's interest, not fee 1
    program = [
        StepSpec("pay_fee", (0,)),
        StepSpec("pay_fee", (1,)),
        StepSpec("pay_interest", (0,)),
        StepSpec("pay_residual"),
    ]
    s = structure(
        [100.0],
        program,
        coupon=[0.04],
        fees=[FeeSpec(fixed=2.0), FeeSpec(fixed=4.0)],
        support=[([0], np.inf)],
        support_fees=[[0]],
        k=2,
    )
    out = execute(s, [0.0, 0.0], provider_default=[99])
    close(out.fee_paid[0], [0.5, 0.5])
    close(out.fee_paid[1], [0.0, 0.0])
    close(out.interest[0], [1.0, 1.0])
    close(out.support_paid, [1.5, 1.5])
    close(out.support_used, [3.0])


# -- revenue and principal accounts ----------------------------------------------------------


def test_split_accounts_pay_interest_from_revenue_and_principal_from_principal():
    # collections 100: principal 70, revenue 30. Interest due 40 (balance 1000 at 16%): revenue
    # pays 30 and the principal account is not touched without cover; principal pays 70
    program = [
        StepSpec("pay_interest", (0,)),
        StepSpec("pay_principal", (0,), account="principal"),
        StepSpec("pay_residual"),
    ]
    s = structure([1000.0, 10.0], program, coupon=[0.16, 0.0], accounts=SPLIT, k=1)
    out = execute(s, [100.0], pool_split=([70.0], [0.0], [0.0]))
    close(out.interest[0], [30.0])
    close(out.principal[0], [70.0])
    close(out.principal_in, [70.0])
    # one account: interest first takes 40 of the 100, principal the other 60
    single = execute(
        structure(
            [1000.0, 10.0],
            [program[0], StepSpec("pay_principal", (0,)), program[2]],
            coupon=[0.16, 0.0],
            k=1,
        ),
        [100.0],
        pool_split=([70.0], [0.0], [0.0]),
    )
    close(single.interest[0], [40.0])
    close(single.principal[0], [60.0])


def test_cover_from_the_principal_account_is_booked_in_the_ledger_and_cured():
    # period 1: revenue 30 < interest 40: 10 drawn from the principal account, ledger 10;
    # period 2: revenue 60 pays interest (about 40) then cures the ledger from what is left
    program = [
        StepSpec("pay_interest", (0,), cover=("principal",)),
        StepSpec("transfer", amount="principal_deficiency"),
        StepSpec("pay_principal", (0,), account="principal"),
        StepSpec("pay_residual"),
    ]
    s = structure([1000.0, 10.0], program, coupon=[0.16, 0.0], accounts=SPLIT, k=2)
    out = execute(s, [100.0, 100.0], pool_split=([70.0, 40.0], [0.0, 0.0], [0.0, 0.0]))
    close(out.interest[0], [40.0, (1000.0 - 60.0) * 0.04])
    interest2 = (1000.0 - 60.0) * 0.04
    cured = min(60.0 - interest2, 10.0)
    close(out.pdl, [10.0, 10.0 - cured])
    close(out.principal[0], [60.0, 40.0 + cured])
    close(out.residual, [0.0, 60.0 - interest2 - cured])


def test_defaulted_principal_is_booked_made_good_by_recoveries_and_cured_from_revenue():
    # 25 of principal defaults in period 1; revenue 10 cures 10 of it (ledger 15). Period 2:
    # 9 recovered; routed to principal, 9 makes good the ledger (6 left) and pays the class
    program = [
        StepSpec("transfer", amount="principal_deficiency"),
        StepSpec("pay_principal", (0,), account="principal"),
        StepSpec("pay_residual"),
    ]
    split = ([0.0, 0.0], [0.0, 9.0], [25.0, 0.0])
    out = execute(structure([100.0, 10.0], program, accounts=SPLIT, k=2), [10.0, 9.0], pool_split=split)  # fmt: skip
    close(out.pdl, [15.0, 6.0])
    close(out.principal[0], [10.0, 9.0])
    close(out.principal_in, [0.0, 9.0])
    close(out.residual, [0.0, 0.0])
    # routed to revenue, the recovery cures the ledger by the transfer instead: the same here
    out = execute(structure([100.0, 10.0], program, accounts=(True, False), k=2), [10.0, 9.0], pool_split=split)  # fmt: skip
    close(out.pdl, [15.0, 6.0])
    close(out.principal[0], [10.0, 9.0])
    close(out.principal_in, [0.0, 0.0])
    # a recovery beyond the ledger (interest recovered) is revenue: ledger 0, 4 recovered
    out = execute(
        structure([100.0, 10.0], program, accounts=SPLIT, k=2),
        [30.0, 4.0],
        pool_split=([0.0, 0.0], [0.0, 4.0], [25.0, 0.0]),
    )
    close(out.pdl, [0.0, 0.0])
    close(out.principal_in, [0.0, 0.0])
    close(out.residual, [5.0, 4.0])


def test_transfer_all_moves_the_revenue_left_to_principal():
    program = [
        StepSpec("pay_interest", (0,)),
        StepSpec("transfer"),
        StepSpec("pay_principal", (0,), account="principal"),
        StepSpec("pay_residual"),
    ]
    s = structure([100.0, 10.0], program, coupon=[0.04, 0.0], accounts=SPLIT, k=1)
    out = execute(s, [50.0], pool_split=([20.0], [0.0], [0.0]))
    close(out.interest[0], [1.0])
    close(out.principal[0], [49.0])  # 20 of principal + the 29 of revenue left


def test_a_split_program_with_only_revenue_steps_and_no_principal_is_the_single_pot_bit_for_bit():
    program = [
        StepSpec("pay_fee", (0,), cover=("reserve",)),
        StepSpec("pay_interest", (0,), cover=("reserve",)),
        StepSpec("fund_reserve"),
        StepSpec("pay_principal", (0,)),
        StepSpec("pay_residual"),
    ]
    kw = dict(coupon=[0.05, 0.0], fees=[FeeSpec(fixed=3.0)], reserve=(2.0, 2.0, 0.0), k=4)
    rng = np.random.default_rng(5)
    cash = rng.uniform(0, 40, 4)
    a = execute(structure([100.0, 10.0], program, **kw), cash)
    b = execute(structure([100.0, 10.0], program, accounts=SPLIT, **kw), cash)
    for name in ("fees", "interest", "principal", "residual", "reserve", "balance"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


# -- reserve targets as formulas -------------------------------------------------------------


def test_reserve_target_is_next_periods_senior_interest_and_fees_capped():
    # senior 100 at 8%: next quarter's interest on the balance after this period's payments;
    # fee 4 a year: 1 a quarter. Target = max(1, that); with a cap of 2.5, the lesser
    program = [
        StepSpec("pay_fee", (0,)),
        StepSpec("pay_interest", (0,)),
        StepSpec("pay_principal", (0,), mode="schedule"),
        StepSpec("fund_reserve"),
        StepSpec("pay_residual"),
    ]
    target = np.full((2, 3), np.nan)
    target[0] = [80.0, 60.0, 0.0]

    def reserve(cap):
        s = structure(
            [100.0, 10.0],
            program,
            coupon=[0.08, 0.0],
            fees=[FeeSpec(fixed=4.0)],
            reserve=(0.0, 1.0, 0.0),
            reserve_next=([0], [0]),
            reserve_cap=cap,
            target_balance=target,
        )
        return execute(s, [50.0] * 3).reserve

    # after period 1 the senior is 80: next interest 80 x 0.08 x 0.25 = 1.6, plus the fee's 1
    close(reserve(np.inf), [2.6, 60 * 0.02 + 1.0, 0.0])
    close(reserve(2.5), [2.5, 2.2, 0.0])


# -- properties ------------------------------------------------------------------------------


@st.composite
def split_programs(draw):
    n = draw(st.integers(2, 3))
    k = draw(st.integers(2, 6))
    classes = st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)
    account = st.sampled_from(["revenue", "principal"])

    def step():
        action = draw(
            st.sampled_from(
                ["pay_fee", "pay_interest", "pay_principal", "fund_reserve", "transfer"]
            )
        )
        where = draw(account)
        cover = ()
        if action in ("pay_fee", "pay_interest") and where == "revenue":
            cover = tuple(
                draw(st.lists(st.sampled_from(["reserve", "principal"]), max_size=2, unique=True))
            )
        if action == "pay_fee":
            members = tuple(draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True)))
            return StepSpec(action, members, cover=cover, account=where)
        if action == "pay_interest":
            return StepSpec(action, tuple(draw(classes)), cover=cover, account=where)
        if action == "pay_principal":
            mode = draw(st.sampled_from(["sequential", "pro_rata", "turbo"]))
            return StepSpec(action, tuple(draw(classes)), mode=mode, account=where)
        if action == "transfer":
            amount = "principal_deficiency" if where == "revenue" and draw(st.booleans()) else "all"
            return StepSpec(action, account=where, amount=amount)
        return StepSpec(action, account=where)

    program = [step() for _ in range(draw(st.integers(1, 7)))] + [
        StepSpec("pay_residual", account=draw(account))
    ]
    money = st.floats(0.0, 60.0, allow_nan=False)
    fees = [
        FeeSpec(
            fixed=draw(st.floats(0.0, 8.0)),
            pct_income=draw(st.floats(0.0, 0.05)),
            pct_collections=draw(st.floats(0.0, 0.05)),
            pct_paid=draw(st.floats(0.0, 0.01)),
            cap=draw(st.floats(1.0, 40.0)),
            floor=draw(st.floats(0.0, 1.0)),
            one_off=(draw(st.floats(0.0, 5.0)), draw(st.integers(0, k))),
            carry=draw(st.booleans()),
        )
        for _ in range(3)
    ]
    s = Structure(
        accrual=np.full(k, Q),
        balance0=[draw(st.floats(1.0, 100.0)) for _ in range(n)],
        coupon=[draw(st.floats(0.0, 0.12)) for _ in range(n)],
        ranks=list(range(n)),
        states={"normal": program},
        fees=fees,
        reserve=(draw(st.floats(0.0, 10.0)), draw(st.floats(0.0, 10.0)), 0.0),
        reserve_next=([0], [0, 1]) if draw(st.booleans()) else ((), ()),
        reserve_cap=draw(st.sampled_from([np.inf, 5.0])),
        support=[([0], draw(st.floats(0.0, 30.0)))],
        support_fees=[[0]],
        accounts=(True, draw(st.booleans())),
    )
    collections = np.array(draw(st.lists(money, min_size=k, max_size=k)))
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    recovered_share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    principal = collections * share
    recovered = (collections - principal) * recovered_share
    defaulted = np.array(draw(st.lists(money, min_size=k, max_size=k)))
    return s, collections, (principal, recovered, defaulted), draw(st.integers(0, k))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_programs())
def test_cash_is_conserved_across_accounts_and_nothing_is_overpaid(case):
    s, collections, pool_split, provider_default = case
    out = execute(s, collections, pool_split=pool_split, provider_default=[provider_default])
    inflow = out.collected + out.reserve_draw + out.reserve_release + out.support_paid
    outflow = (
        out.fees + out.interest.sum(0) + out.principal.sum(0) + out.reserve_topup + out.residual
    )
    np.testing.assert_allclose(inflow, outflow, rtol=0, atol=1e-9)
    # credit support is what the classes received and what topped up fees
    np.testing.assert_allclose(
        out.support_class.sum(0) + out.support_fee, out.support_paid, rtol=0, atol=1e-12
    )
    # the principal account received the principal and, routed there, at most the recoveries
    principal, recovered, _ = pool_split
    assert (out.principal_in >= principal - 1e-9).all()
    assert (out.principal_in <= principal + (recovered if s.accounts[1] else 0.0) + 1e-9).all()
    assert (out.pdl >= -1e-12).all()
    balance0 = np.asarray(s.balance0)
    assert (out.principal >= -1e-12).all() and (out.balance >= -1e-9).all()
    np.testing.assert_allclose(out.principal.sum(1) + out.balance[:, -1], balance0, atol=1e-9)
    accrued = (
        np.concatenate([balance0[:, None], out.balance[:, :-1]], axis=1)
        * np.asarray(s.coupon)[:, None]
        * Q
    )
    assert (out.interest.sum(1) <= accrued.sum(1) + 1e-9).all()
    assert out.support_used[0] <= s.support[0][1] + 1e-9
    assert (out.fee_paid >= -1e-12).all()
