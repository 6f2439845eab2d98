"""The cash check on every path, from the written outputs alone (docs/model.md, 4.6).

On each path, everything that came into the deal's accounts equals everything that left them or
is still held:

    collections + call_proceeds + credit_support_paid + liquidity_drawn
      = fees_paid + performance_fee
        + sum over classes of (interest_received + principal_received + residual_received)
        + revolving_purchases
        + (reserve_topup - reserve_draw - reserve_release)           the reserve's change
        + (holdback_in - holdback_drawn - holdback_released)          the holdback's change
        + (liquidity_charges_paid + liquidity_repaid)                 paid to the facility

`collections` is what the deal received (not the pool's income after a clean-up call, which is
the buyer's: `collections_after_call`). The per-class credit support received
(`credit_support_received` in paths.parquet) plus the top-ups of fees
(`credit_support_fees_paid`) adds up to `credit_support_paid`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INFLOWS = ("collections", "call_proceeds", "credit_support_paid", "liquidity_drawn")
POOL_OUTFLOWS = (
    "fees_paid",
    "performance_fee",
    "revolving_purchases",
    "liquidity_charges_paid",
    "liquidity_repaid",
)
ACCOUNT_CHANGES = (  # (into the account, out of it)
    ("reserve_topup", ("reserve_draw", "reserve_release")),
    ("holdback_in", ("holdback_drawn", "holdback_released")),
)
CLASS_OUTFLOWS = ("interest_received", "principal_received", "residual_received")


def cash_check(pool_paths: pd.DataFrame, paths: pd.DataFrame) -> pd.DataFrame:
    """Per path: what the deal received, where it went, their difference, and the per-class
    credit support against the total. `pool_paths` and `paths` as written (pool_paths.parquet,
    paths.parquet) or as on `Results`."""
    pool = pool_paths.sort_values("path")
    by_class = paths.groupby("path", observed=True)[
        [*CLASS_OUTFLOWS, "credit_support_received"]
    ].sum()
    by_class = by_class.reindex(pool["path"].to_numpy())
    received = np.zeros(len(pool))
    for name in INFLOWS:
        received += pool[name].to_numpy()
    paid = by_class[list(CLASS_OUTFLOWS)].to_numpy().sum(axis=1)
    for name in POOL_OUTFLOWS:
        paid += pool[name].to_numpy()
    for into, out_of in ACCOUNT_CHANGES:
        paid += pool[into].to_numpy()
        for name in out_of:
            paid -= pool[name].to_numpy()
    support = pool["credit_support_paid"].to_numpy()
    if "credit_support_fees_paid" in pool:  # written since fees could be covered (issue #16)
        support = support - pool["credit_support_fees_paid"].to_numpy()
    return pd.DataFrame(
        {
            "path": pool["path"].to_numpy(),
            "received": received,
            "paid": paid,
            "difference": received - paid,
            "support_by_class_difference": by_class["credit_support_received"].to_numpy() - support,
        }
    )


def worst_relative_gap(check: pd.DataFrame) -> float:
    """The largest |difference| over max(received, 1), across paths and both checks."""
    scale = np.maximum(np.abs(check["received"].to_numpy()), 1.0)
    gaps = np.maximum(
        np.abs(check["difference"].to_numpy()),
        np.abs(check["support_by_class_difference"].to_numpy()),
    )
    return float((gaps / scale).max()) if len(check) else 0.0
