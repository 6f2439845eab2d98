"""The collateral value of one path, per period: the measure OC tests, borrowing bases, pool-based
fees, cumulative ratios and the clean-up call read (docs/model.md, section 4.5)."""

from __future__ import annotations

from numba import njit

NO_COLLATERAL, TRAILING_INCOME, LOAN_BALANCE = range(3)


@njit(cache=True)
def collateral_values(wf, collections, performing, out):
    """out[k] = the collateral value at the end of period k:
    trailing_income: multiple x (collections of the last `lookback` periods, annualised; fewer at
    the start of the deal); loan_balance: the performing loans' balance; none: 0."""
    n_periods = collections.shape[0]
    for k in range(n_periods):
        if wf.collateral_basis == TRAILING_INCOME:
            first = max(0, k - wf.collateral_lookback + 1)
            income = 0.0
            for j in range(first, k + 1):
                income += collections[j]
            out[k] = wf.collateral_multiple * income * wf.periods_per_year / (k + 1 - first)
        elif wf.collateral_basis == LOAN_BALANCE:
            out[k] = performing[k]
        else:
            out[k] = 0.0
