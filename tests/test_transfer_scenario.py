"""The shipped transfer scenario (scenarios/beijing_ip_pledge_loan_transfer.toml): a Beijing bank's
book of IP-pledged loans with a risk compensation fund, priced as a direct and as an income-right
transfer. Checked against the facts its comments cite, against present values worked by hand on
its deterministic part (the contractual loans, the two loans already in default, the fund's share,
cap and budget, the servicing fee and the seller's loss share, docs/model.md 3.8 and 7), and on
its Monte Carlo paths against the loss-sharing closed form (the fund pays its share of each loss
at disposal); the two forms differ by what docs/model.md 7 says.

Also the data rights of docs/model.md 3.4 (the pledged rights of such books): a data right must
give its contract's term, which is its legal life, licensed or pledged."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from helpers import REPO, run_cli, run_cli_in_process, small_deal

import ipabs
from ipabs.pool.valuation import loan_to_value, value_assets
from ipabs.scenario.load import validate

PATH = REPO / "scenarios" / "beijing_ip_pledge_loan_transfer.toml"
CLOSING = dt.date(2025, 9, 30)
LPR = 0.030  # 1-year LPR from 20 May 2025, flat (the scenario's [rates])
SUPPORT = "loss-sharing support (guarantee, risk compensation fund, insurance)"


@pytest.fixture(scope="module")
def book():
    return ipabs.load(PATH)


def direct(sc):
    """The same book sold outright: no servicing fee, no retained loss share."""
    t = sc.transfer.model_copy(
        update={"form": "direct", "servicing_fee": 0.0, "seller_risk_share": 0.0}
    )
    return sc.model_copy(update={"transfer": t})


def deterministic(sc):
    """The book with no defaults, prepayments or renewals on its performing loans: nothing is
    left random (the two loans in default are worth a given appraisal)."""
    quiet = {"annual_default_probability": 0.0, "prepayment_rate": 0.0, "renewal_probability": 0.0}
    loans = tuple(x if x.defaulted else x.model_copy(update=quiet) for x in sc.loans)
    return sc.model_copy(update={"loans": loans})


def with_fund(sc, **terms):
    """The book with the fund's terms changed."""
    layers = tuple(layer.model_copy(update=terms) for layer in sc.loss_sharing)
    return sc.model_copy(update={"loss_sharing": layers})


# --------------------------------------------------------------------------------------------
# hand calculation (docs/model.md 1 and 3.8), independent of the engine's code


def payment_dates():
    """Quarterly on the closing day (the 30th) to legal final 2030-09-30: 20 dates, unadjusted."""
    out, y, m = [], CLOSING.year, CLOSING.month
    while True:
        m += 3
        y, m = (y + 1, m - 12) if m > 12 else (y, m)
        d = dt.date(y, m, 30)
        out.append(d)
        if d == dt.date(2030, 9, 30):
            return out


def grid():
    dates = payment_dates()
    days = np.array([(d - CLOSING).days for d in dates], float)
    t = days / 365.0  # ACT/365F: times for discounting
    accrual = np.diff(np.concatenate([[0.0], days])) / 360.0  # ACT/360: the deal's day count
    return t, accrual


def contractual_cash_flows(loan, accrual, t):
    """(cash flow per period, balance at each period's start) of a loan paying as contracted:
    interest on the balance at LPR + spread for the period's accrual; principal at the first
    payment date at least term x 365 days after closing (interest-only), or a French annuity at
    the rate at closing over the payments up to it (level)."""
    rate = LPR + loan.spread
    n = t.size
    maturity = int(np.argmax(t * 365.0 >= loan.term_years * 365.0 - 1e-9))
    cash, opening = np.zeros(n), np.zeros(n)
    balance = loan.balance
    if loan.amortisation == "level":
        i, m = rate / 4, maturity + 1
        payment = balance * i / (1 - (1 + i) ** -m)
    for k in range(maturity + 1):
        opening[k] = balance
        interest = balance * rate * accrual[k]
        if k == maturity:
            principal = balance
        elif loan.amortisation == "level":
            principal = payment - balance * i
        else:
            principal = 0.0
        cash[k] = interest + principal
        balance -= principal
    return cash, opening


def npl(loan, accrual, share, cap):
    """A loan in default at closing: it defaults in the first period with that period's interest
    unpaid; its appraisal less the haircut is recovered after the lag (months rounded up to
    quarters, counted from the first payment date); the fund pays its share of the loss, capped."""
    exposure = loan.balance * (1 + (LPR + loan.spread) * accrual[0])
    recovery = min(loan.collateral_value * (1 - loan.disposal_haircut), exposure)
    loss = exposure - recovery
    fund = min(share * loss, cap)
    return exposure, recovery, loss, fund, math.ceil(loan.disposal_lag_months / 3)


# --------------------------------------------------------------------------------------------


def test_the_book_is_what_its_comments_say(book):
    assert book.transfer.form == "income_right" and book.transfer.required_yield == 0.04
    assert [r.rate for r in book.rates.lpr_1y] == [LPR]
    assert book.rates.lpr_1y[0].date == dt.date(2025, 5, 20)
    assert book.deal.day_count == "ACT/360" and book.deal.closing_date == CLOSING
    assert [layer.kind for layer in book.loss_sharing] == ["risk_compensation_fund"]
    performing = [x for x in book.loans if not x.defaulted]
    in_default = [x for x in book.loans if x.defaulted]
    assert len(performing) == 10 and len(in_default) == 2
    # DESIGN.md section 3 ranges; the pilot's internal valuation applies to loans of 10m or less
    assert all(3e6 <= x.balance <= 10e6 for x in book.loans)
    assert all(1.0 <= x.term_years <= 3.0 for x in performing)
    assert all(x.rate_type == "lpr" and 0 <= x.spread <= 0.015 for x in book.loans)
    assert all(x.collateral_value is not None for x in in_default)
    # banks lend about 30% of the pledge's appraised value (income method at closing)
    ltv = loan_to_value(book, value_assets(book)).set_index("loan")["ltv"]
    assert ltv[[x.id for x in performing]].between(0.2, 0.35).all()
    # the fund's budget is about the book over the Haidian pool's public 18.94x leverage
    par = sum(x.balance for x in book.loans)
    assert par == 65_500_000
    assert book.loss_sharing[0].annual_budget == pytest.approx(par / 18.94, rel=0.02)


def test_the_grid_is_the_one_worked_by_hand(book):
    res = ipabs.simulate(deterministic(book), paths=1, seed=1)
    t, accrual = grid()
    assert res.deal.dates == payment_dates()
    np.testing.assert_allclose(res.deal.t_years, t, rtol=1e-15)
    np.testing.assert_allclose(res.deal.waterfall.accrual, accrual, rtol=1e-15)


@pytest.mark.parametrize("form", ["income_right", "direct"])
def test_deterministic_book_is_priced_by_hand_both_ways(book, form):
    sc = deterministic(book)
    sc = sc if form == "income_right" else direct(sc)
    t, accrual = grid()
    v = 1.04**-t
    fund = book.loss_sharing[0]
    f, rho = sc.transfer.servicing_fee, sc.transfer.seller_risk_share

    cash, performing_balance = np.zeros(t.size), np.zeros(t.size)
    contractual = 0.0
    recovered = supported = 0.0
    losses = []
    for loan in sc.loans:
        flows, opening = contractual_cash_flows(loan, accrual, t)
        contractual += flows @ v
        if loan.defaulted:
            _, recovery, loss, paid, lag = npl(loan, accrual, fund.share, fund.per_loan_cap)
            recovered += recovery * v[lag]
            supported += paid * v[lag]
            cash[lag] += recovery + paid
            losses.append(loss)
            performing_balance[0] += loan.balance  # in default during the first period
        else:
            cash += flows
            performing_balance += opening
    assert sum(min(fund.share * x, fund.per_loan_cap) for x in losses) < fund.annual_budget
    assert fund.share * losses[0] > fund.per_loan_cap > fund.share * losses[1]  # one is capped
    servicing = f * (performing_balance * accrual) @ v
    retained = rho * sum(losses) * v[0]  # the seller's share, paid at default
    expected = cash @ v - servicing + retained

    r = ipabs.price(sc, paths=4, seed=3)
    assert r.price == pytest.approx(expected, rel=1e-12)
    assert r.price_se == pytest.approx(0.0, abs=1e-6 * r.par)
    parts = r.decomposition.set_index("component")["amount"]
    par = sum(x.balance for x in sc.loans)
    npl_contractual = sum(
        contractual_cash_flows(x, accrual, t)[0] @ v for x in sc.loans if x.defaulted
    )
    assert parts["par"] == par
    assert parts["accrued interest at transfer"] == 0.0  # the book's loans start at the transfer
    assert parts[
        "rate effect (contractual cash flows at the buyer's yield, less par and accrued interest)"
    ] == pytest.approx(contractual - par, rel=1e-10)
    assert parts["prepayment and renewal"] == pytest.approx(0.0, abs=1e-6)
    assert parts["expected credit loss"] == pytest.approx(-(npl_contractual - recovered), rel=1e-12)
    assert parts[SUPPORT] == pytest.approx(supported, rel=1e-12)
    assert parts["servicing kept by the seller"] == pytest.approx(-servicing, rel=1e-12, abs=1e-9)
    assert parts["seller's share of losses"] == pytest.approx(retained, rel=1e-12, abs=1e-9)
    assert parts["price"] == pytest.approx(r.price, rel=1e-12)
    if form == "direct":
        assert parts["servicing kept by the seller"] == parts["seller's share of losses"] == 0.0


def test_the_funds_annual_budget_runs_out_by_hand(book):
    # a 1.8m budget: the first loan in default takes its capped 1.5m, the second what is left
    sc = direct(with_fund(deterministic(book), annual_budget=1_800_000))
    t, accrual = grid()
    v = 1.04**-t
    fund = sc.loss_sharing[0]
    first, second = (
        npl(x, accrual, fund.share, fund.per_loan_cap) for x in sc.loans if x.defaulted
    )
    assert first[3] == 1_500_000 and second[3] > 300_000
    # both disposals fall in the second year after closing (payment periods 4 to 7)
    assert first[4] // 4 == second[4] // 4 == 1
    r = ipabs.price(sc, paths=2, seed=3)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts[SUPPORT] == pytest.approx(
        1_500_000 * v[first[4]] + 300_000 * v[second[4]], rel=1e-12
    )


N = 2_000


@pytest.fixture(scope="module")
def monte_carlo(book):
    return {
        "income_right": ipabs.price(book, paths=N, seed=11),
        "direct": ipabs.price(direct(book), paths=N, seed=11),
        "run": ipabs.simulate(book, paths=N, seed=11, sample_paths=N),
        "uncapped": ipabs.simulate(
            with_fund(book, per_loan_cap=None, annual_budget=None), paths=N, seed=11, sample_paths=N
        ),
    }


def test_decompositions_add_up_exactly_on_the_simulated_book(monte_carlo):
    for form in ("income_right", "direct"):
        r = monte_carlo[form]
        parts = r.decomposition.set_index("component")["amount"]
        assert parts.drop("price").sum() == pytest.approx(r.price, rel=1e-12)
        assert parts["price"] == pytest.approx(r.price, rel=1e-12)
        # the book loses on defaults and the fund gives part of it back
        assert parts["expected credit loss"] < 0 < parts[SUPPORT] < -parts["expected credit loss"]


def test_income_right_differs_from_direct_by_servicing_and_the_sellers_share(book, monte_carlo):
    # docs/model.md 7: CF = C - f alpha_k B_{k-1} + rho L_k on the same paths
    res = monte_carlo["run"]
    t, accrual = grid()
    v = 1.04**-t
    f, rho = book.transfer.servicing_fee, book.transfer.seller_risk_share
    par = sum(x.balance for x in book.loans)
    opening = np.concatenate([np.full((N, 1), par), res.raw.sample_performing[:, :-1]], axis=1)
    servicing = f * float(((opening * accrual) @ v).mean())
    retained = rho * float((res.raw.sample_loan_loss @ v).mean())
    gap = monte_carlo["income_right"].price - monte_carlo["direct"].price
    assert gap == pytest.approx(retained - servicing, rel=1e-9)
    # the fee is about f x the book's average balance x its life: a few tenths of a percent of par
    assert 0.001 * par < servicing < f * par * t[-1]


def test_the_fund_pays_its_share_of_each_loss_at_disposal(book, monte_carlo):
    fund = book.loss_sharing[0]
    # with its caps, the fund never pays more than its share, and the lender keeps the rest
    p = monte_carlo["run"].pool_paths
    assert (p["fund_paid"] <= fund.share * p["loan_gross_loss"] + 1e-6).all()
    np.testing.assert_allclose(
        p["fund_paid"] + p["loan_net_loss"], p["loan_gross_loss"], rtol=1e-12
    )
    # without caps it is exactly its share, on every path
    q = monte_carlo["uncapped"].pool_paths
    np.testing.assert_allclose(q["fund_paid"], fund.share * q["loan_gross_loss"], rtol=1e-12)
    np.testing.assert_allclose(
        q["loan_net_loss"], (1 - fund.share) * q["loan_gross_loss"], rtol=1e-12
    )
    # ... and its present value is the share of each loss discounted from its disposal date:
    # the performing loans' losses 4 quarters after default (12 months), the two loans in
    # default at their own lags (by hand); the run's losses are booked at default
    t, accrual = grid()
    v = 1.04**-t
    loss = monte_carlo["uncapped"].raw.sample_loan_loss.copy()
    in_default = 0.0
    for x in book.loans:
        if x.defaulted:
            _, _, npl_loss, _, lag = npl(x, accrual, 1.0, math.inf)
            loss[:, 0] -= npl_loss
            in_default += npl_loss * v[lag]
    later = np.zeros_like(v)
    later[:-4] = v[4:]  # paid 4 periods later; after legal final, lost to the deal
    expected = fund.share * (in_default + float((loss @ later).mean()))
    uncapped = with_fund(book, per_loan_cap=None, annual_budget=None)
    r = ipabs.price(direct(uncapped), paths=N, seed=11)
    parts = r.decomposition.set_index("component")["amount"]
    assert parts[SUPPORT] == pytest.approx(expected, rel=1e-9)
    # the caps and the budget cost the buyer some of that support
    capped = monte_carlo["direct"].decomposition.set_index("component")["amount"][SUPPORT]
    assert capped < parts[SUPPORT]


# --------------------------------------------------------------------------------------------
# data rights and geographical indications (docs/model.md 3.4)


def pledged(asset):
    """A one-loan book pledging `asset` (no licensee)."""
    data = small_deal(
        factors={"names": ["m"]},
        licensees=[],
        assets=[{"id": "D1", "base_annual_income": 1_000_000.0, **asset}],
        loans=[
            {
                "id": "L1",
                "balance": 1_000_000.0,
                "rate": 0.04,
                "term_years": 1.0,
                "annual_default_probability": 0.02,
                "pledged_assets": ["D1"],
            }
        ],
    )
    for key in ("tranches", "pricing", "fees", "reserve"):
        data.pop(key)
    data["transfer"] = {"required_yield": 0.05}
    return data


@pytest.mark.parametrize("licensed", [True, False], ids=["licensed", "pledged"])
def test_a_data_right_without_its_contracts_term_is_refused(licensed):
    if licensed:
        data = small_deal()
        data["assets"][0] = {
            "id": "D1",
            "type": "data_rights",
            "licensee": "L1",
            "base_annual_income": 1e6,
        }
    else:
        data = pledged({"type": "data_rights"})
    with pytest.raises(ipabs.ScenarioError) as err:
        validate(data)
    message = " ".join(str(err.value).split())
    assert 'assets[0] (id = "D1"): data rights have no statutory term' in message
    # either term will do; a geographical indication needs none
    data["assets"][0]["licence_term_years"] = 4.0
    validate(data)
    data["assets"][0] = {**data["assets"][0], "type": "geographical_indication"}
    del data["assets"][0]["licence_term_years"]
    validate(data)


def test_a_data_rights_contract_term_is_its_legal_life_when_pledged():
    # no growth, obsolescence 0.05/y x 0.5 (the type's defaults), no other hazard: the income
    # method's value over the 4-year contract is B (1 - e^(-c T)) / c, c = 0.025 + ln 1.15
    sc = validate(pledged({"type": "data_rights", "licence_term_years": 4.0}))
    row = value_assets(sc).iloc[0]
    c = 0.05 * 0.5 + math.log(1.15)
    assert row["economic_life_years"] == 4.0
    assert row["value"] == pytest.approx(1e6 * -math.expm1(-c * 4.0) / c, rel=1e-4)
    # the right's own end, when earlier, wins; a geographical indication runs 100 years
    both = validate(
        pledged(
            {"type": "data_rights", "licence_term_years": 4.0, "remaining_legal_life_years": 2.5}
        )
    )
    assert value_assets(both).iloc[0]["economic_life_years"] == 2.5
    gi = validate(pledged({"type": "geographical_indication", "licence_term_years": 4.0}))
    assert value_assets(gi).iloc[0]["economic_life_years"] == 100.0


# --------------------------------------------------------------------------------------------
# renewal decisions without a licence end, and what ip_rights_lost counts (docs/model.md 3.4)


@pytest.mark.parametrize(("licence_end", "decisions"), [(None, 3), (1.0, 1)])
def test_trademark_renewal_decisions_run_to_legal_final_without_a_licence_end(
    licence_end, decisions
):
    from test_ip_assets import one_asset

    # registered 9.5 years before closing, renewed for 1 year at a time: expiries at 0.5, 1.5 and
    # 2.5 years of a 3-year deal; a decision at each before legal final (and the licence end)
    n, p = 4_000, 0.5
    res = one_asset(
        paths=n,
        type="trademark",
        protection_start_date=dt.date(2014, 7, 17),
        renewal_term_years=1.0,
        renewal_probability=p,
        licence_term_years=licence_end,
    )
    lost = res.pool_paths["ip_rights_lost"]
    q = 1 - p**decisions  # not renewed at some decision: lost once
    assert set(lost.unique()) <= {0, 1}
    assert abs(lost.mean() - q) < 4 * math.sqrt(q * (1 - q) / n)


def test_ip_rights_lost_counts_an_invalidation_after_the_term_has_ended():
    from test_ip_assets import one_asset

    # a patent whose term ends half a year in; invalidation hazard 2 a year on the whole grid
    n, h = 4_000, 2.0
    res = one_asset(paths=n, remaining_legal_life_years=0.5, invalidation_hazard=h)
    q = -math.expm1(-h * res.deal.t_years[-1])
    lost = res.pool_paths["ip_rights_lost"]
    assert abs(lost.mean() - q) < 4 * math.sqrt(q * (1 - q) / n) + 1e-12
    assert lost.mean() > -math.expm1(-h * 0.5) + 0.2  # more than while the term ran


@pytest.mark.parametrize("form", ["direct", "income_right"])
def test_the_command_line_prices_the_book_both_ways(book, form):
    """`ipabs price --form` prices the file's book in either form on the same paths: the price
    equals the API's on the book built by hand in that form."""
    proc = run_cli("price", PATH, "--form", form, "--paths", "300", "--seed", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    expected = ipabs.price(direct(book) if form == "direct" else book, paths=300, seed=5)
    assert printed["form"] == form
    assert printed["price"] == pytest.approx(expected.price, rel=1e-12)


def test_the_command_line_refuses_an_unknown_form():
    proc = run_cli_in_process("price", PATH, "--form", "sideways")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "sideways" in proc.stderr
