"""Reduce per-path results to Monte Carlo estimates with standard errors, and per-period bands.

The one-shot formulas (`mean_se`, `quantile_se`, ...) over arrays in path order are the
definitions; the summaries (`tranche_summary`, `pool_summary`, `trigger_summary`) compute the
same estimates from per-chunk partials merged in chunk order (`ipabs.engine.estimates`), so a
run's driver never needs every path in memory and a cluster run reports a local run's numbers
bit for bit (docs/scale-out.md, "Memory").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ipabs.engine.compile import CompiledDeal
from ipabs.engine.estimates import Estimates
from ipabs.engine.run import LOAN_FIELDS_START, POOL_FIELDS, TRANCHE_FIELDS, RawResults
from ipabs.scenario.model import Scenario, layer_names, subsidy_names

YIELD_QUANTILES = (0.05, 0.5, 0.95)
IRR_QUANTILES = (0.01, 0.05, 0.50, 0.95, 0.99)
POOL_LOSS_QUANTILES = (0.50, 0.95, 0.99, 0.999)
BANDS = (0.05, 0.50, 0.95)
LOSS_TOLERANCE = 1e-9  # a loss below this fraction of the balance is rounding, not a loss


def mean_se(x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """The mean of x over paths and its standard error (NaN entries dropped).

    Plain Monte Carlo (`w` None): the sample mean and s / sqrt(n). Importance sampling (`w` the
    paths' likelihood ratios, docs/model.md 5.2): the unbiased mean(w x) with the weight itself
    as a control variate (E[w] = 1 under the shifted draws: Hesterberg, Technometrics 1995; Owen
    & Zhou, JASA 2000),
        mean(w x) - beta (mean(w) - 1),  beta = cov(w x, w) / var(w),
    and standard error sd(w x - beta w) / sqrt(n). On a rare event beta is near 0 and this is
    mean(w x); on an output that barely moves (a senior price) it corrects the noise of mean(w),
    which would otherwise swamp it. Where some x are NaN (a conditional mean, e.g. the IRR of
    the paths paid something) the self-normalised mean over the rest."""
    if w is None:
        x = x[~np.isnan(x)]
        n = x.size
        if n == 0:
            return np.nan, np.nan
        if n == 1:
            return float(x[0]), np.nan
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(n))
    keep = ~np.isnan(x)
    if not keep.all():
        return self_normalised_mean_se(x[keep], w[keep])
    n = x.size
    if n < 2:
        return (float(w[0] * x[0]) if n else np.nan), np.nan
    y = w * x
    c = w - 1.0
    var_c = float(c.var(ddof=1))
    beta = float(np.cov(y, c)[0, 1] / var_c) if var_c > 0.0 else 0.0
    residual = y - beta * c
    if n < 3:  # one degree of freedom goes to beta
        return float(residual.mean()), np.nan
    return float(residual.mean()), float(residual.std(ddof=2) / np.sqrt(n))


def self_normalised_mean_se(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """sum(w x) / sum(w) and its delta-method standard error (a conditional mean under
    importance sampling; with w = 1 the plain mean and s / sqrt(n) up to n / (n - 1))."""
    total = w.sum()
    if x.size == 0 or total <= 0.0:
        return np.nan, np.nan
    mean = float((w * x).sum() / total)
    if x.size < 2:
        return mean, np.nan
    return mean, float(np.sqrt((w * w * (x - mean) ** 2).sum()) / total)


def conditional_mean_se(
    x: np.ndarray, mask: np.ndarray, w: np.ndarray | None = None
) -> tuple[float, float]:
    """The mean of x over the paths in `mask` (e.g. the loss given a loss)."""
    if w is None:
        return mean_se(x[mask])
    return self_normalised_mean_se(x[mask], w[mask])


def ratio_se(num: np.ndarray, den: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """mean(num) / mean(den) and its delta-method standard error (NaN when mean(den) is 0,
    e.g. the duration of a tranche that is never paid anything); with weights, of w num and
    w den."""
    if w is not None:
        num, den = w * num, w * den
    if den.mean() == 0.0:
        return np.nan, np.nan
    ratio = num.mean() / den.mean()
    n = num.size
    if n < 2:
        return float(ratio), np.nan
    return float(ratio), float((num - ratio * den).std(ddof=1) / (np.sqrt(n) * abs(den.mean())))


def quantile_se(x: np.ndarray, q: float, w: np.ndarray | None = None) -> tuple[float, float]:
    """The q-quantile and a distribution-free standard error from the order statistics that bound
    a 95% confidence interval (ranks n q -/+ 1.96 sqrt(n q (1-q))), divided by 2 x 1.96.

    With weights: the quantile of the self-normalised weighted empirical distribution
    (sum of w over X <= x, over sum of w: monotone in q), and the same interval with the
    delta-method error of that CDF at the quantile, sqrt(sum w^2 (1{X <= x_q} - F)^2) / sum w, in
    place of sqrt(q (1-q) / n)."""
    if w is None:
        x = np.sort(x[~np.isnan(x)])
        n = x.size
        if n == 0:
            return np.nan, np.nan
        value = float(np.quantile(x, q))
        z = ndtri(0.975)
        half = z * np.sqrt(n * q * (1 - q))
        lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
        hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
        return value, float((x[hi] - x[lo]) / (2 * z))
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    n = x.size
    if n == 0 or w.sum() <= 0.0:
        return np.nan, np.nan
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    total = w.sum()
    share = np.cumsum(w) / total  # the self-normalised CDF at each sorted value: monotone

    def at(level: float) -> float:
        return float(x[min(int(np.searchsorted(share, level, side="left")), n - 1)])

    value = at(q)
    if n < 2:
        return value, np.nan
    below = (x <= value).astype(float)
    # delta-method error of the self-normalised CDF at the quantile (equals sqrt(q (1-q) / n)
    # up to n / (n - 1) when every weight is 1)
    se_p = float(
        np.sqrt((w * w * (below - share[np.searchsorted(x, value, "right") - 1]) ** 2).sum())
        / total
    )
    z = ndtri(0.975)
    return value, (at(min(q + z * se_p, 1.0)) - at(max(q - z * se_p, 0.0))) / (2 * z)


def weighted_quantiles(values: np.ndarray, levels: tuple[float, ...], w: np.ndarray | None):
    """Quantiles over axis 0 (paths) of a (paths, periods) array, weighted if w is given
    (NaN entries ignored)."""
    if w is None:
        return np.nanquantile(values, levels, axis=0)
    out = np.full((len(levels), values.shape[1]), np.nan)
    for k in range(values.shape[1]):
        column = values[:, k]
        keep = ~np.isnan(column)
        if not keep.any():
            continue
        x, v = column[keep], w[keep]
        order = np.argsort(x, kind="stable")
        x, v = x[order], v[order]
        share = np.cumsum(v) / v.sum()
        for i, level in enumerate(levels):
            out[i, k] = x[min(int(np.searchsorted(share, level, side="left")), x.size - 1)]
    return out


def weighted_mean(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Mean over axis 0, NaN ignored; self-normalised with weights."""
    if w is None:
        return np.nanmean(values, axis=0)
    keep = ~np.isnan(values)
    weights = np.where(keep, w[:, None], 0.0)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            total > 0, (np.where(keep, values, 0.0) * weights).sum(axis=0) / total, np.nan
        )


def path_weights(raw: RawResults) -> np.ndarray | None:
    """The paths' likelihood-ratio weights, or None for plain Monte Carlo (every weight 1)."""
    return None if np.all(raw.weight == 1.0) else raw.weight


def effective_sample_size(w: np.ndarray | None, n: int) -> float:
    """(sum w)^2 / sum w^2 (Kong 1992): n for plain Monte Carlo."""
    if w is None:
        return float(n)
    return float(w.sum() ** 2 / (w * w).sum())


def wanted_quantiles(sc: Scenario) -> dict[str, tuple[float, ...]]:
    """The quantiles the summaries report, by ranked variable (`ipabs.engine.estimates`)."""
    wanted: dict[str, tuple[float, ...]] = {}
    for t in range(len(sc.tranches)):
        wanted[f"{t}.irr"] = IRR_QUANTILES
        wanted[f"{t}.distribution_yield"] = YIELD_QUANTILES
    wanted["pool.loss_pct"] = POOL_LOSS_QUANTILES
    wanted["pool.loan_loss_pct"] = POOL_LOSS_QUANTILES
    return wanted


def tranche_summary(deal: CompiledDeal, est: Estimates) -> pd.DataFrame:
    """One row per tranche by rank: each estimate with its standard error, from the chunks'
    partials (`ipabs.engine.estimates`; the per-path quantities are named there)."""
    rows = []
    for t, tranche in enumerate(deal.scenario.tranches_by_rank()):
        row: dict[str, object] = {
            "tranche": tranche.name,
            "rank": tranche.rank,
            "balance": tranche.balance,
            "coupon": float(
                deal.waterfall.coupon[t, 0]
            ),  # the first period's (floating or stepped up later)
        }
        row["expected_loss"], row["expected_loss_se"] = est.mean(f"{t}.loss")
        row["prob_loss"], row["prob_loss_se"] = est.mean(f"{t}.has_loss")
        row["paths_with_loss"] = est.count(f"{t}.has_loss")
        row["loss_given_loss"], row["loss_given_loss_se"] = est.mean(f"{t}.loss_given_loss")
        row["wal_years"], row["wal_years_se"] = est.mean(f"{t}.wal")
        row["irr_mean"], row["irr_mean_se"] = est.mean(f"{t}.irr")
        for q in IRR_QUANTILES:
            key = f"irr_p{round(q * 100):02d}"
            row[key], row[f"{key}_se"] = est.quantile(f"{t}.irr", q)
        price, price_se = est.mean(f"{t}.price")
        row["price_pct_par"], row["price_pct_par_se"] = 100 * price, 100 * price_se
        row["modified_duration"], row["modified_duration_se"] = est.mean(f"{t}.duration")
        row["expected_unpaid_interest"], row["expected_unpaid_interest_se"] = est.mean(
            f"{t}.unpaid"
        )
        # what a trust's beneficiary reads: money back, yield distributed, shortfalls suffered
        row["multiple_mean"], row["multiple_mean_se"] = est.mean(f"{t}.multiple")
        row["distribution_yield_mean"], row["distribution_yield_mean_se"] = est.mean(
            f"{t}.distribution_yield"
        )
        for q in YIELD_QUANTILES:
            key = f"distribution_yield_p{round(q * 100):02d}"
            row[key], row[f"{key}_se"] = est.quantile(f"{t}.distribution_yield", q)
        row["prob_shortfall"], row["prob_shortfall_se"] = est.mean(f"{t}.has_shortfall")
        row["expected_max_shortfall"], row["expected_max_shortfall_se"] = est.mean(f"{t}.shortfall")
        # timely interest and ultimate principal: impaired when any interest is paid late (a
        # shortfall in some period) or principal is lost (docs/model.md 5.1, the rating basis)
        row["prob_impaired"], row["prob_impaired_se"] = est.mean(f"{t}.impaired")
        row["paths_impaired"] = est.count(f"{t}.impaired")
        rows.append(row)
    return pd.DataFrame(rows)


def pool_summary(deal: CompiledDeal, est: Estimates) -> pd.DataFrame:
    """One row of pool estimates: expected collections (what the deal received) and income lost to
    defaults, loss quantiles (of the pool's whole income, the buyer's after a clean-up call too)."""
    row: dict[str, float] = {}
    row["expected_collections"], row["expected_collections_se"] = est.mean("pool.collections")
    row["expected_lost_income"], row["expected_lost_income_se"] = est.mean("pool.lost_income")
    row["expected_pool_loss_pct"], row["expected_pool_loss_pct_se"] = est.mean("pool.loss_pct")
    for q in POOL_LOSS_QUANTILES:
        key = f"pool_loss_pct_p{q * 100:g}".replace(".", "_")
        row[key], row[f"{key}_se"] = est.quantile("pool.loss_pct", q)
    # every other pool total, up to the loan totals (reported only when there are loans)
    for name in POOL_FIELDS[POOL_FIELDS.index("licensee_defaults") : LOAN_FIELDS_START]:
        row[f"expected_{name}"], row[f"expected_{name}_se"] = est.mean(f"pool.{name}")
    loan_total = float(deal.loans.balance0.sum())
    if loan_total > 0:
        for name in POOL_FIELDS[LOAN_FIELDS_START:]:
            row[f"expected_{name}"], row[f"expected_{name}_se"] = est.mean(f"pool.{name}")
        for j, column in enumerate(layer_columns(deal.scenario)):
            if not est.has(f"pool.layer.{j}"):
                break
            row[f"expected_{column}"], row[f"expected_{column}_se"] = est.mean(f"pool.layer.{j}")
        # the loss left with the lender (the deal) after recoveries and loss-sharing, per unit of loans
        row["expected_loan_loss_pct"], row["expected_loan_loss_pct_se"] = est.mean(
            "pool.loan_loss_pct"
        )
        for q in POOL_LOSS_QUANTILES:
            key = f"loan_loss_pct_p{q * 100:g}".replace(".", "_")
            row[key], row[f"{key}_se"] = est.quantile("pool.loan_loss_pct", q)
    row["effective_sample_size"] = est.effective_sample_size()
    return pd.DataFrame([row])


def period_bands(deal: CompiledDeal, raw: RawResults) -> pd.DataFrame:
    """5/50/95% bands (and mean) per period, from the first `sample_paths` paths (weighted by
    their likelihood ratios under importance sampling)."""
    w = path_weights(raw)
    if w is not None:
        w = w[: raw.sample_collections.shape[0]]
    frame: dict[str, object] = {
        "period": np.arange(1, deal.n_periods + 1),
        "date": pd.to_datetime(deal.dates),
        "t_years": deal.t_years,
    }

    def add(prefix: str, values: np.ndarray) -> None:
        frame[f"{prefix}_mean"] = weighted_mean(values, w) if w is not None else values.mean(axis=0)
        bands = (
            weighted_quantiles(values, BANDS, w)
            if w is not None
            else np.quantile(values, BANDS, axis=0)
        )
        for q, band in zip(BANDS, bands, strict=True):
            frame[f"{prefix}_p{round(q * 100):02d}"] = band

    add("collections", raw.sample_collections)
    for t, name in enumerate(deal.tranche_names):
        add(f"balance_{name}", raw.sample_balances[:, t, :])
    add("reserve", raw.sample_reserve)
    if deal.waterfall.holdback_share > 0.0:  # a trust's held-back income, paid out at the end
        add("holdback", raw.sample_holdback)
    if deal.waterfall.split_accounts:  # the principal deficiency ledger (docs/model.md, 4.9)
        add("pdl", raw.sample_pdl)
    # debt service coverage (docs/model.md, 5): collections over the period's debt service, on the
    # sampled paths that have any (none once the notes are repaid or called); NaN where none has
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(
            raw.sample_debt_service > 0.0, raw.sample_collections / raw.sample_debt_service, np.nan
        )
    count = (~np.isnan(coverage)).sum(axis=0)
    some = count > 0
    mean = np.full(deal.n_periods, np.nan)
    bands = np.full((len(BANDS), deal.n_periods), np.nan)
    if some.any():
        mean[some] = weighted_mean(coverage[:, some], w)
        bands[:, some] = weighted_quantiles(coverage[:, some], BANDS, w)
    frame["coverage_mean"] = mean
    for q, band in zip(BANDS, bands, strict=True):
        frame[f"coverage_p{round(q * 100):02d}"] = band
    frame["coverage_paths"] = count
    return pd.DataFrame(frame)


def path_table(deal: CompiledDeal, raw: RawResults, first_path: int = 0) -> pd.DataFrame:
    """One row per path and tranche (paths numbered from `first_path`)."""
    n_paths, n_tranches, _ = raw.tranche.shape
    columns: dict[str, object] = {
        "path": np.repeat(np.arange(first_path, first_path + n_paths, dtype=np.int64), n_tranches),
        "tranche": pd.Categorical.from_codes(
            np.tile(np.arange(n_tranches), n_paths), list(deal.tranche_names)
        ),
    }
    flat = raw.tranche.reshape(n_paths * n_tranches, -1)
    balance0 = np.tile(deal.waterfall.balance0, n_paths)
    for i, name in enumerate(TRANCHE_FIELDS):
        if name == "pv":
            columns["price_pct_par"] = 100 * flat[:, i] / balance0
        elif name != "pv_time":
            columns[name] = flat[:, i]
    columns["loss_fraction"] = flat[:, TRANCHE_FIELDS.index("principal_loss")] / balance0
    columns["weight"] = np.repeat(raw.weight, n_tranches)
    return pd.DataFrame(columns)


def layer_columns(sc: Scenario) -> list[str]:
    """The pool table's column of each loss-sharing layer's payments to the lender, then of each
    interest subsidy's (`RawResults.layer_paid`)."""
    return [f"layer_{name}_paid" for name in layer_names(sc.loss_sharing)] + [
        f"subsidy_{name}_paid" for name in subsidy_names(sc.interest_subsidies)
    ]


def pool_path_table(
    raw: RawResults, sc: Scenario | None = None, first_path: int = 0
) -> pd.DataFrame:
    """One row per path: the pool's totals over the deal's life, then each loss-sharing layer's
    payments to the lender (`layer_<name>_paid`) and each interest subsidy's
    (`subsidy_<name>_paid`)."""
    frame = pd.DataFrame(raw.pool, columns=list(POOL_FIELDS))
    columns = [] if sc is None else layer_columns(sc)
    for j, column in enumerate(columns[: raw.layer_paid.shape[1]]):
        frame[column] = raw.layer_paid[:, j]
    for count in (
        "licensee_defaults",
        "ip_rights_lost",
        "loan_defaults",
        "loans_prepaid",
        "loans_renewed",
    ):
        frame[count] = frame[count].astype(np.int64)
    frame.insert(0, "path", np.arange(first_path, first_path + len(frame), dtype=np.int64))
    frame["weight"] = raw.weight
    return frame


def trigger_summary(deal: CompiledDeal, est: Estimates) -> pd.DataFrame:
    """One row per trigger: the probability it comes into force, and when (first date, mean of the
    paths where it does, with its standard error)."""
    rows = []
    for r, trig in enumerate(deal.scenario.triggers):
        p, p_se = est.mean(f"trigger.{r}")
        hit = est.count(f"trigger.{r}") > 0
        when, when_se = est.mean(f"trigger.{r}.years") if hit else (np.nan, np.nan)
        rows.append(
            {
                "trigger": trig.name,
                "condition": trig.condition,
                "effect": trig.effect,
                "probability": p,
                "probability_se": p_se,
                "mean_years_to_trip": when,
                "mean_years_to_trip_se": when_se,
                "earliest_date": deal.dates[int(est.least(f"trigger.{r}"))].isoformat()
                if hit
                else None,
            }
        )
    columns = ["trigger", "condition", "effect", "probability", "probability_se", "mean_years_to_trip", "mean_years_to_trip_se", "earliest_date"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
