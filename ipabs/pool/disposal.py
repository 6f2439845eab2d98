"""Disposal of a defaulted loan's pledged IP: when and how much cash it brings (docs/model.md, 3.8,
"Disposal").

`dispose` writes the recovery cash of loan n, defaulted in period k with exposure E and pledge
value V, into `schedule[j]` (j = 0 .. K-1; slot K: after the deal's last period) and returns
(total recovery R, settlement period): the period the disposal ends, when the loss-sharing
layers pay. Every payment is cut so that the cash adds up to at most E.

- haircut (the default): R = min(max(V (1 - h), floor), E) at k + lag, as before.
- auction: round r = 1..R at period k + l_1 + (r-1) l_r, price V s (1 - c)^(r-1); it sells with
  probability q_r and pays price (1 - cost share) - fixed cost. After the last failed round the
  fall-back: the lender takes the IP in kind (以物抵债) and realises V (1 - h_k) l_k later, or
  the holding institution (收储) buys it from the next period.
- buyout_operate: the holding institution buys at k + l_b for a share of V, paid at once, in
  equal instalments, or as a share of the pledged assets' simulated income, over n periods; its
  default (the default-time copula, like a guarantor's) stops the payments, and one that has
  defaulted, or whose annual capacity is used up, does not buy (the lender takes the IP in kind).

Draws: never from the path's two streams (existing deals keep every number). Loan n's disposal
draws come from its own xoshiro256** stream, seeded by SplitMix64 from the latent stream's first
state word at the loan kernel's entry (a function of seed, path and the pool's draws) with a
disposal key and n; the buyer's default normal from a stream with a buyer key. A loan's auction
draws R uniforms, one per round, whatever happens.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ipabs.engine.rng import _mix64, _seed_from, normal, uniform
from ipabs.pool.default_times import default_period as first_default_period
from ipabs.pool.default_times import latent

HAIRCUT, AUCTION, BUYOUT_OPERATE = 0, 1, 2
METHOD_CODES = {"haircut": HAIRCUT, "auction": AUCTION, "buyout_operate": BUYOUT_OPERATE}
LUMP_SUM, INSTALMENTS, INCOME_SHARE = 0, 1, 2
PAYMENT_CODES = {"lump_sum": LUMP_SUM, "instalments": INSTALMENTS, "income_share": INCOME_SHARE}
TAKE_IN_KIND, BUYOUT = 0, 1
NEVER = 1 << 40  # a default period after any payment

_DISPOSAL_KEY = uint64(0x6A09E667F3BCC909)  # keys loan n's disposal stream
_BUYER_KEY = uint64(0xBB67AE8584CAA73B)  # keys the buyer's default stream


@njit(cache=True)
def seed_disposal_stream(state, path_key, n):
    """Key `state` to loan n's disposal stream on the path whose key is `path_key`."""
    _seed_from(state, _mix64(uint64(path_key) ^ _DISPOSAL_KEY), n)


@njit(cache=True)
def buyer_default_period(loans, economy, path_key):
    """The holding institution's default period on this path (NEVER: not within the deal's
    periods; it is then taken to pay its instalments after them too)."""
    state = np.empty(4, np.uint64)
    _seed_from(state, _mix64(uint64(path_key) ^ _BUYER_KEY), 0)
    loading = loans.buyer_loading
    a = latent(
        economy, loans.buyer_factor, loading, np.sqrt(1.0 - loading * loading), normal(state)
    )
    k = first_default_period(a, loans.buyer_threshold, 0)
    return NEVER if k < 0 else k


@njit(cache=True)
def _pay(schedule, j, amount, paid, exposure):
    """Pay `amount` in period j (slot K after the last period), cut at what the exposure leaves;
    returns the new total paid."""
    amount = min(max(amount, 0.0), exposure - paid)
    if amount > 0.0:
        schedule[min(j, schedule.shape[0] - 1)] += amount
    return paid + amount


@njit(cache=True)
def _take_in_kind(loans, t, value, exposure, schedule, paid):
    """以物抵债 in period t: the lender realises V (1 - h_k) l_k periods later."""
    settle = t + loans.in_kind_lag
    paid = _pay(schedule, settle, value * (1.0 - loans.in_kind_haircut), paid, exposure)
    return paid, settle


@njit(cache=True)
def _pledge_income(loans, n, j, level_path, alive_path):
    """The pledged assets' simulated licence income in period j (0 past the last period), the
    pool's share of it for a co-lent loan."""
    if j >= level_path.shape[0]:
        return 0.0
    income = 0.0
    for p in range(loans.pledge_start[n], loans.pledge_start[n + 1]):
        i = loans.pledge_asset[p]
        if alive_path[j, i]:
            income += loans.asset_income_weight[j, i] * np.exp(level_path[j, i])
    return income * loans.participation[n]  # the pool's share of a co-lent loan


@njit(cache=True)
def _buy_out(loans, n, t, value, exposure, economy, level_path, alive_path, path_key, capacity_used, schedule):  # fmt: skip
    """The holding institution buys the pledge in period t and pays on its terms; one that has
    defaulted by t, or whose capacity for t's year is used up, does not buy: the lender takes
    the IP in kind. Returns (recovery, settlement period)."""
    buyer_default = buyer_default_period(loans, economy, path_key)
    year = t // loans.periods_per_year
    room = np.inf
    if year < capacity_used.shape[0]:
        room = loans.buyer_capacity - capacity_used[year]
    whole = value / loans.participation[n]  # it takes in the whole pledge of a co-lent loan
    if buyer_default <= t or whole > room:
        return _take_in_kind(loans, t, value, exposure, schedule, 0.0)
    if year < capacity_used.shape[0]:
        capacity_used[year] += whole
    price = loans.buyer_price_share * value
    paid = 0.0
    if loans.buyer_payment == LUMP_SUM:
        return _pay(schedule, t, price, paid, exposure), t
    settle = t
    for m in range(1, loans.buyer_n_payments + 1):
        j = t + m
        if j >= buyer_default:  # the buyer pays nothing from its default period on
            return paid, buyer_default
        if loans.buyer_payment == INSTALMENTS:
            amount = price / loans.buyer_n_payments
        else:
            amount = loans.buyer_income_share * _pledge_income(loans, n, j, level_path, alive_path)
        paid = _pay(schedule, j, amount, paid, exposure)
        settle = j
        if paid >= exposure:
            break
    return paid, settle


@njit(cache=True)
def _auction(loans, n, k, value, exposure, economy, level_path, alive_path, path_key, capacity_used, schedule):  # fmt: skip
    state = np.empty(4, np.uint64)
    seed_disposal_stream(state, path_key, n)
    n_prob = loans.auction_sale_prob.shape[0]
    t = k + loans.auction_first_lag
    price = value * loans.auction_start
    for r in range(loans.auction_rounds):
        u = uniform(state)
        if r > 0:
            t += loans.auction_round_lag
            price *= 1.0 - loans.auction_cut
        if u < loans.auction_sale_prob[min(r, n_prob - 1)]:
            # the pool's share of the sale's proceeds: of a co-lent loan, its share of the
            # fixed cost too (`price` is already the pool's share of the price)
            fixed = loans.auction_cost_fixed * loans.participation[n]
            net = price * (1.0 - loans.auction_cost_share) - fixed
            return _pay(schedule, t, net, 0.0, exposure), t
    if loans.auction_fallback == BUYOUT:
        return _buy_out(loans, n, t + 1, value, exposure, economy, level_path, alive_path, path_key, capacity_used, schedule)  # fmt: skip
    return _take_in_kind(loans, t, value, exposure, schedule, 0.0)


@njit(cache=True)
def dispose(loans, n, k, exposure, value, economy, level_path, alive_path, path_key, capacity_used, schedule):  # fmt: skip
    """Loan n, defaulted in period k with `exposure` and pledge `value`: its recovery cash by
    period into `schedule` (zeroed here); returns (recovery, settlement period)."""
    for j in range(schedule.shape[0]):
        schedule[j] = 0.0
    method = loans.disposal_method[n]
    if method == AUCTION:
        return _auction(loans, n, k, value, exposure, economy, level_path, alive_path, path_key, capacity_used, schedule)  # fmt: skip
    if method == BUYOUT_OPERATE:
        return _buy_out(loans, n, k + loans.buyer_lag, value, exposure, economy, level_path, alive_path, path_key, capacity_used, schedule)  # fmt: skip
    proceeds = max(value * (1.0 - loans.haircut[n]), loans.floor[n])
    recovery = min(proceeds, exposure)
    pay_period = k + loans.lag_periods[n]
    schedule[min(pay_period, schedule.shape[0] - 1)] = recovery
    return recovery, pay_period
