"""Loss-sharing layers of one defaulted loan: who pays what, and when (docs/model.md, section 3.8).

`share_loss` applies the layers in order to the loan's loss; `book_layer_cash` puts each layer's
payment (and a guarantor's advance of the recovery) in the period it is paid; `premium_due` is
the insurers' premium on the performing balance. Layer kinds: 0 guarantee, 1 risk compensation
fund, 2 insurance, 3 re-guarantee (再担保) of an earlier guarantee layer.
"""

from __future__ import annotations

from numba import njit

# slots of the per-path loan totals; after them, each layer's payments to the lender
(L_DEFAULTS, L_RECOVERIES, L_GROSS_LOSS, L_GUARANTOR, L_FUND, L_INSURER, L_NET_LOSS, L_PREPAID, L_RENEWED,
 L_OUTSTANDING, L_AFTER_FINAL, L_REGUARANTOR, L_REIMBURSED, L_PREMIUM, L_SUBSIDY, L_CO_GROSS_LOSS,
 L_CO_NET_LOSS) = range(17)  # fmt: skip
N_LOAN_TOTALS = 17

GUARANTEE, FUND, INSURANCE, RE_GUARANTEE = 0, 1, 2, 3


@njit(cache=True)
def _within_budget(loans, m, amount, period, budget_used, participation):
    """What layer m can pay of `amount` (the pool's `participation` of the whole loan's claim)
    in the budget year of `period`, and book the whole loan's claim on the budget."""
    if loans.layer_calendar[m]:
        year = loans.calendar_year[period]
    else:
        year = period // loans.periods_per_year
    if year < budget_used.shape[0]:
        left = participation * max(loans.layer_budget[m] - budget_used[year, m], 0.0)
        amount = min(amount, left)
        budget_used[year, m] += amount / participation
    return amount


@njit(cache=True)
def _alive(loans, m, layer_period, counterparty_default):
    """Has layer m's guarantor or insurer not defaulted by its payment period? (No counterparty:
    a fund or re-guarantor, which does not default.)"""
    c = loans.layer_guarantor[m]
    return c < 0 or layer_period[m] < counterparty_default[c]


@njit(cache=True)
def share_loss(loans, loss, principal_loss, counterparty_default, default_period, ip_lost, disposal_period, participation, budget_used, out, layer_paid, layer_claim, layer_period):  # fmt: skip
    """Apply the loss-sharing layers in order to one loan's loss (principal_loss of it the
    principal part); writes each layer's payment to the lender to layer_paid, its claim before
    its counterparty's default and its budget to layer_claim, its payment period to
    layer_period, and returns what the lender keeps. A layer's base is the loss the layers
    before it left (share_of remaining) or the original loss (original), on a principal basis
    that base times principal_loss / loss; it pays at most what remains, so the layers never pay
    more than the loss. Of a co-lent loan the pool holds `participation` s: the loss is its share,
    and the layers' per-loan caps and deductibles and budgets apply to the whole loan (s times
    them to the pool's share)."""
    remaining = loss
    principal_part = principal_loss / loss if loss > 0.0 else 0.0
    n_totals = N_LOAN_TOTALS
    for m in range(loans.layer_kind.shape[0]):
        kind = loans.layer_kind[m]
        if loans.layer_lag[m] >= 0:
            layer_period[m] = default_period + loans.layer_lag[m]
        elif kind == FUND or kind == INSURANCE:
            layer_period[m] = disposal_period
        else:
            layer_period[m] = default_period
        base = loss if loans.layer_original[m] else remaining
        if loans.layer_principal[m]:
            base *= principal_part
        paid = 0.0
        cap = loans.layer_cap[m] * participation
        if kind == RE_GUARANTEE:
            g = loans.layer_target[m]
            # it pays once its guarantor has paid or failed to: not before the guarantee is due
            layer_period[m] = max(layer_period[m], layer_period[g])
            if _alive(loans, g, layer_period, counterparty_default):
                # the guarantor paid: the re-guarantor reimburses it its share (not the lender's)
                claim = min(loans.layer_share[m] * layer_paid[g], cap)
                layer_claim[m] = claim
                out[L_REIMBURSED] += _within_budget(
                    loans, m, claim, layer_period[m], budget_used, participation
                )
            else:
                # the guarantor defaulted: the lender is paid the re-guaranteed share of its
                # obligation
                claim = min(loans.layer_share[m] * layer_claim[g], cap, remaining)
                layer_claim[m] = claim
                paid = _within_budget(loans, m, claim, layer_period[m], budget_used, participation)
                out[L_REGUARANTOR] += paid
        else:
            if kind == INSURANCE:
                first, last = loans.layer_first_period[m], loans.layer_last_period[m]
                covered = first <= default_period <= last
                if covered and (ip_lost or not loans.layer_needs_ip_lost[m]):
                    deductible = loans.layer_deductible[m] * participation
                    claim = max(base - deductible, 0.0) * loans.layer_share[m]
                else:
                    claim = 0.0
            else:
                claim = loans.layer_share[m] * base
            claim = min(claim, cap, remaining)
            layer_claim[m] = claim
            if _alive(loans, m, layer_period, counterparty_default):
                paid = _within_budget(loans, m, claim, layer_period[m], budget_used, participation)
            if kind == GUARANTEE:
                out[L_GUARANTOR] += paid
            elif kind == FUND:
                out[L_FUND] += paid
            else:
                out[L_INSURER] += paid
        if out.shape[0] > n_totals + m:
            out[n_totals + m] += paid
        layer_paid[m] = paid
        remaining -= paid
    return remaining


@njit(cache=True)
def _book(period, amount, collections, recovered, out):
    if period < collections.shape[0]:
        collections[period] += amount
        recovered[period] += amount
    else:
        out[L_AFTER_FINAL] += amount


@njit(cache=True)
def book_layer_cash(loans, k, exposure, recovery, kept, disposal_period, participation, counterparty_default, schedule, spread, layer_paid, layer_period, collections, recovered, out):  # fmt: skip
    """Book the cash of loan default in period k: the guarantees and re-guarantees without a claim
    lag pay at default, with each live guarantor's advance of its share of the recovery, to which
    it is subrogated (the advances together at most the recovery); a layer with a claim lag pays
    (a guarantee with its advance) in its own period; the rest of the recovery and the funds and
    insurers without a claim lag pay at disposal. Of a co-lent loan (the pool's share s of it),
    the other lenders bear (1 - s) / s times the pool's gross and net loss. With `spread`, a
    disposal paid over several periods (ipabs.pool.disposal: `schedule[j]`, the recovery cash of
    period j), the deal's part of each payment before the settlement is booked in its period, the
    guarantors being repaid their advances pro rata from each payment."""
    if participation < 1.0:
        others = (1.0 - participation) / participation
        out[L_CO_GROSS_LOSS] += others * (exposure - recovery)
        out[L_CO_NET_LOSS] += others * kept
    at_default = 0.0  # in layer order, as before claim lags existed (the same sums, bit for bit)
    advance_now = 0.0
    advance_all = 0.0
    lagged_guarantee = False
    for m in range(loans.layer_kind.shape[0]):
        kind = loans.layer_kind[m]
        lag = loans.layer_lag[m]
        if lag < 0 and (kind == GUARANTEE or (kind == RE_GUARANTEE and layer_period[m] == k)):
            at_default += layer_paid[m]
        if kind == GUARANTEE and _alive(loans, m, layer_period, counterparty_default):
            a = loans.layer_share[m] * recovery
            advance_all += a
            if lag < 0:
                advance_now += a
            else:
                lagged_guarantee = True
    scale = 1.0
    if lagged_guarantee:
        scale = min(1.0, recovery / advance_all) if advance_all > 0.0 else 0.0
        advance_now *= scale
    else:
        advance_now = min(advance_now, recovery)
    _book(k, at_default + advance_now, collections, recovered, out)
    lagged = 0.0
    for m in range(loans.layer_kind.shape[0]):
        # a re-guarantee without a claim lag of its own, of a guarantee with one, pays when that
        # guarantee is due (share_loss)
        moved = loans.layer_kind[m] == RE_GUARANTEE and layer_period[m] != k
        if loans.layer_lag[m] < 0 and not moved:
            continue
        amount = layer_paid[m]
        if loans.layer_kind[m] == GUARANTEE and _alive(
            loans, m, layer_period, counterparty_default
        ):
            amount += loans.layer_share[m] * recovery * scale
        lagged += amount
        _book(layer_period[m], amount, collections, recovered, out)
    later = exposure - kept - at_default - advance_now - lagged
    if spread and recovery > 0.0:
        # every live guarantor's advance, once: with a lagged one, all of them scaled (advance_all
        # already holds the unlagged ones, which advance_now holds scaled)
        advances = advance_all * scale if lagged_guarantee else advance_now
        own = max(1.0 - advances / recovery, 0.0)
        for j in range(k, min(disposal_period, collections.shape[0])):
            part = schedule[j] * own
            if part != 0.0:
                _book(j, part, collections, recovered, out)
                later -= part
    _book(disposal_period, later, collections, recovered, out)


@njit(cache=True)
def premium_due(loans, k, balance, status, counterparty_default):
    """The insurers' premium for period k on the insured balance: each loan performing at the
    period's start, its balance times its accrual fraction, times each in-force insurer's rate."""
    rate = 0.0
    for m in range(loans.layer_kind.shape[0]):
        if loans.layer_premium[m] > 0.0:
            c = loans.layer_guarantor[m]
            alive = c < 0 or k < counterparty_default[c]
            if alive and loans.layer_first_period[m] <= k <= loans.layer_last_period[m]:
                rate += loans.layer_premium[m]
    if rate == 0.0:
        return 0.0
    due = 0.0
    for n in range(balance.shape[0]):
        if status[n] == 0:
            due += balance[n] * loans.accrual[k, n]
    return due * rate


@njit(cache=True)
def pay_subsidies(loans, k, interest, balance_accrued, whole_interest, whole_balance_accrued, budget_used, collections, out):  # fmt: skip
    """The interest subsidies (贴息) for period k on the loans performing through it (their
    `interest` and balance times accrual fraction `balance_accrued`, summed: the pool's share;
    `whole_...` the same of the whole co-lent loans): each pays its share of the interest plus
    its rate on the balance, within its budget of the year it pays in, `subsidy_lag` periods
    later, into the collections (the lender's income). The budget is spent by the whole loans'
    subsidy, of which the pool receives its share (pro rata when the budget binds)."""
    n_layers = loans.layer_kind.shape[0]
    for s in range(loans.subsidy_share.shape[0]):
        amount = loans.subsidy_share[s] * interest + loans.subsidy_rate[s] * balance_accrued
        whole = (
            loans.subsidy_share[s] * whole_interest + loans.subsidy_rate[s] * whole_balance_accrued
        )
        period = k + loans.subsidy_lag[s]
        year = (
            loans.calendar_year[period]
            if loans.subsidy_calendar[s]
            else period // loans.periods_per_year
        )
        column = n_layers + s
        if year < budget_used.shape[0]:
            paid = min(whole, max(loans.subsidy_budget[s] - budget_used[year, column], 0.0))
            budget_used[year, column] += paid
            if whole == amount:  # no co-lent loan performing: the pool's is the whole
                amount = paid
            elif paid < whole:
                amount *= paid / whole
        if period < collections.shape[0]:
            collections[period] += amount
        else:
            out[L_AFTER_FINAL] += amount
        out[L_SUBSIDY] += amount
        if out.shape[0] > N_LOAN_TOTALS + column:
            out[N_LOAN_TOTALS + column] += amount
