"""Loan kernel: one path of IP-pledged loan repayments, defaults, disposals and loss-sharing.

Runs after the pool kernel on the same path, reading the path's horizon factors and the pledged
assets' simulated income levels it recorded. Each loan n and each guarantor draw one latent per
path, A_n = S (a_n M_f(n) + sqrt(1 - a_n^2) eps_n), and default in the first period k with
A_n < F^-1(P_n(t_k)) (ipabs.pool.default_times; docs/model.md, sections 3.2 and 3.8). Per period
k and loan n still performing:
    default if k is its default period,
    else prepaid in full with probability p_nk, else scheduled interest and principal;
    at maturity: renewed (interest-only for another term) with probability r_n, else repaid.
At default: exposure = balance + unpaid interest; pledge value V_k (given, or the pledged assets'
remaining income value at their simulated level); the recovery and when it is paid come from
the disposal (ipabs.pool.disposal: by default min(max(V_k (1 - haircut), floor), exposure) after
the disposal lag; or an auction, or a 收储 buy-out paid over time); the loss goes through the
loss-sharing layers in order, and each layer pays in its period (ipabs.pool.loss_sharing: claim
lags, caps, budgets, re-guarantees; the insurers' premiums and the interest subsidies each
period). A co-lent loan's amounts are the pool's share (LoanArrays.participation).
Draws: 1 (the first guarantor, or a placeholder) + N normals + 1 per further guarantor + 1 per
insurer that can default, per path, from the path's latent stream, then 2 uniforms per loan
and period from its period stream, always, for common random numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ipabs.engine.rng import normal, uniform
from ipabs.pool.default_times import default_period as first_default_period
from ipabs.pool.default_times import latent
from ipabs.pool.disposal import dispose
from ipabs.pool.loss_sharing import (  # noqa: F401 (the slots, re-exported)
    L_AFTER_FINAL,
    L_DEFAULTS,
    L_FUND,
    L_GROSS_LOSS,
    L_GUARANTOR,
    L_INSURER,
    L_NET_LOSS,
    L_OUTSTANDING,
    L_PREMIUM,
    L_PREPAID,
    L_RECOVERIES,
    L_REGUARANTOR,
    L_REIMBURSED,
    L_RENEWED,
    N_LOAN_TOTALS,
    book_layer_cash,
    pay_subsidies,
    premium_due,
    share_loss,
)


@njit(cache=True)
def pledge_value(loans, n, k, level_path, alive_path):
    """Value of loan n's pledge at the end of period k."""
    if loans.given_value[n] >= 0.0:
        return loans.given_value[n]  # already the pool's share of a co-lent loan
    value = 0.0
    for p in range(loans.pledge_start[n], loans.pledge_start[n + 1]):
        i = loans.pledge_asset[p]
        if alive_path[k, i]:
            v = (
                loans.asset_base[i] * np.exp(level_path[k, i]) * loans.asset_value_factor[k, i]
                - loans.asset_fee_pv[k, i]
            )
            value += max(v, 0.0)
    return value * loans.participation[n]  # the pool's share of a co-lent loan's pledge


@njit(cache=True)
def _guarantor_default(loans, g, economy, e, n_periods):
    """Guarantor g's default period (n_periods: none) from its normal draw e."""
    loading = loans.guarantor_loading[g]
    a = latent(economy, loans.guarantor_factor[g], loading, np.sqrt(1.0 - loading * loading), e)
    k = first_default_period(a, loans.guarantor_threshold, g)
    return n_periods if k < 0 else k


@njit(cache=True)
def simulate_loans_path(state, latent_state, loans, economy, level_path, alive_path, collections, defaulted, gross_loss, performing, pool_split, balance, accrued, status, maturity, interest_only, default_at, fund_used, out):  # fmt: skip
    """Add one path's loan cash flows to `collections[k]` and its totals to `out`; per period,
    `defaulted[k]` (exposure at default), `gross_loss[k]` (exposure less recovery, booked at
    default) and `performing[k]` (performing balance at the period's end) are written, and
    `pool_split` = (principal, recovered, defaulted principal): the principal in the period's
    collections (scheduled, prepaid, repaid at maturity), the cash received for defaulted loans
    (recoveries and loss-sharing payments, interest included) and the principal balance of the
    loans that defaulted. Scratch:
    balance, accrued, status (0 performing, 1 defaulted, 2 prepaid, 3 repaid), maturity,
    interest_only (after a renewal), default_at (each loan's default period, -1: none), fund_used
    (per budget year and layer)."""
    n_periods, n_loans = loans.threshold.shape
    principal_collected, recovered, defaulted_principal = pool_split
    for j in range(out.shape[0]):
        out[j] = 0.0
    for k in range(n_periods):
        principal_collected[k] = 0.0
        recovered[k] = 0.0
        defaulted_principal[k] = 0.0
    for y in range(fund_used.shape[0]):
        for m in range(fund_used.shape[1]):
            fund_used[y, m] = 0.0
    for n in range(n_loans):
        balance[n] = loans.balance0[n]
        accrued[n] = loans.accrued0[n]  # a seasoned loan's interest accrued at the cut-off
        status[n] = 0
        maturity[n] = loans.maturity_period[n]
        interest_only[n] = False
    path_key = latent_state[0]  # keys the disposal streams (ipabs.pool.disposal), draws nothing
    schedule = np.empty(n_periods + 1)
    disposal_used = np.zeros(loans.n_budget_years)
    # default times, drawn once per path: the first guarantor's (or a placeholder's), then each
    # loan's, then the other guarantors' in layer order (a deal with one guarantee keeps its draws)
    n_guarantors = loans.guarantor_loading.shape[0]
    guarantor_default = np.empty(n_guarantors, np.int64)
    layer_paid = np.empty(loans.layer_kind.shape[0])
    layer_claim = np.empty(loans.layer_kind.shape[0])
    layer_period = np.empty(loans.layer_kind.shape[0], np.int64)
    subsidised = loans.subsidy_share.shape[0] > 0
    guarantor_default[0] = _guarantor_default(loans, 0, economy, normal(latent_state), n_periods)
    for n in range(n_loans):
        e = normal(latent_state)
        a = latent(economy, loans.factor[n], loans.loading[n], loans.idiosyncratic[n], e)
        default_at[n] = first_default_period(a, loans.threshold, n)
    for g in range(1, n_guarantors):
        guarantor_default[g] = _guarantor_default(
            loans, g, economy, normal(latent_state), n_periods
        )
    for k in range(n_periods):
        defaulted[k] = 0.0
        gross_loss[k] = 0.0
        premium = premium_due(loans, k, balance, status, guarantor_default)
        subsidised_interest = 0.0  # the interest and balance of the loans performing through k
        subsidised_balance = 0.0
        whole_interest = 0.0  # the same of the whole co-lent loans (a subsidy's budget)
        whole_balance = 0.0
        for n in range(n_loans):
            u_prepay = uniform(state)
            u_renew = uniform(state)
            if status[n] != 0:
                continue
            interest = balance[n] * loans.rate[k, n] * loans.accrual[k, n]
            if default_at[n] == k:
                status[n] = 1
                exposure = balance[n] + accrued[n] + interest
                value = pledge_value(loans, n, k, level_path, alive_path)
                recovery, pay_period = dispose(loans, n, k, exposure, value, economy, level_path, alive_path, path_key, disposal_used, schedule)  # fmt: skip
                ip_lost = False  # has any pledged right been invalidated or lapsed by now?
                for q in range(loans.pledge_start[n], loans.pledge_start[n + 1]):
                    if not alive_path[k, loans.pledge_asset[q]]:
                        ip_lost = True
                loss = exposure - recovery
                kept = share_loss(
                    loans, loss, min(loss, balance[n]), guarantor_default, k, ip_lost,
                    pay_period, loans.participation[n], fund_used, out, layer_paid, layer_claim,
                    layer_period,
                )  # fmt: skip
                book_layer_cash(
                    loans, k, exposure, recovery, kept, pay_period, loans.participation[n],
                    guarantor_default,
                    schedule, loans.disposal_method[n] != 0,
                    layer_paid, layer_period, collections, recovered, out,
                )  # fmt: skip
                defaulted_principal[k] += balance[n]
                defaulted[k] += exposure
                gross_loss[k] += exposure - recovery
                out[L_DEFAULTS] += 1.0
                out[L_RECOVERIES] += recovery
                out[L_GROSS_LOSS] += exposure - recovery
                out[L_NET_LOSS] += kept
                balance[n] = 0.0
                continue
            if subsidised and n < loans.n_subsidised:  # a loan, not a lease or receivable
                subsidised_interest += interest
                subsidised_balance += balance[n] * loans.accrual[k, n]
                whole_interest += interest / loans.participation[n]
                whole_balance += balance[n] * loans.accrual[k, n] / loans.participation[n]
            if u_prepay < loans.prepay_prob[k, n]:
                collections[k] += balance[n] + accrued[n] + interest
                principal_collected[k] += balance[n]
                out[L_PREPAID] += 1.0
                status[n] = 2
                balance[n] = 0.0
                continue
            if k == maturity[n]:
                if u_renew < loans.renewal_prob[n]:
                    collections[k] += (
                        interest + accrued[n]
                    )  # rolled over: interest paid, principal not
                    accrued[n] = 0.0
                    maturity[n] += loans.term_periods[n]
                    interest_only[n] = True
                    out[L_RENEWED] += 1.0
                else:
                    collections[k] += balance[n] + accrued[n] + interest
                    principal_collected[k] += balance[n]
                    balance[n] = 0.0
                    status[n] = 3
                continue
            code = loans.amortisation[n]
            if code == 0 and not interest_only[n]:  # bullet: interest accrues to maturity
                accrued[n] += interest
            else:
                collections[k] += interest + accrued[n]  # with what accrued before the cut-off
                accrued[n] = 0.0
            if (code == 2 or code == 3) and not interest_only[n]:
                principal = min(loans.scheduled_principal[k, n], balance[n])
                balance[n] -= principal
                collections[k] += principal
                principal_collected[k] += principal
        if subsidised:
            pay_subsidies(loans, k, subsidised_interest, subsidised_balance, whole_interest, whole_balance, fund_used, collections, out)  # fmt: skip
        if premium > 0.0:  # paid out of the period's interest (what is not principal or recovery)
            premium = min(premium, max(collections[k] - principal_collected[k] - recovered[k], 0.0))
            collections[k] -= premium
            out[L_PREMIUM] += premium
        on_book = 0.0
        for n in range(n_loans):
            if status[n] == 0:
                on_book += balance[n]
        performing[k] = on_book
    for n in range(n_loans):
        if status[n] == 0:
            out[L_OUTSTANDING] += balance[n] + accrued[n]
