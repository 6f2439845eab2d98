"""Charts drawn from `Results`: each plot function draws on an Axes and returns it; plotting
lives beside the maths, never inside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ipabs.report.i18n import N_

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ipabs.results import Results

_MILLIONS = 1e6
#: a chart's words: a translator's gettext (msgid, **fields) -> text; English by default
Words = Callable[..., str]
#: periods where fewer than this share of the sampled paths still have debt service are not
#: drawn on the coverage chart (the few paths still paying made it dive after repayment)
COVERAGE_MIN_SHARE = 0.05


def english(message: str, **fields) -> str:
    return message.format(**fields) if fields else message


def save_figure(fig, target, fmt: str | None = None, **kwargs) -> None:
    """`fig.savefig` with byte-stable SVG: no date, and element ids hashed with a fixed salt
    instead of a random one, so the same numbers give the same file."""
    import matplotlib

    if fmt == "svg" or str(target).endswith(".svg"):
        kwargs["metadata"] = {"Date": None}
    with matplotlib.rc_context({"svg.hashsalt": "ipabs"}):
        fig.savefig(target, format=fmt, **kwargs)


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(7, 4))
    return ax


def plot_tranche_losses(
    results: Results, ax: Axes | None = None, t: Words = english, names: dict | None = None
) -> Axes:
    """Exceedance curve per tranche: P(principal loss > x% of original balance)."""
    ax = _new_axes(ax)
    paths = results.paths
    n = results.paths_run
    shown = names or results.scenario.display_names()
    for name in results.deal.tranche_names:
        loss = np.sort(paths.loc[paths["tranche"] == name, "loss_fraction"].to_numpy() * 100)
        exceed = 1.0 - np.arange(1, n + 1) / n
        positive = np.nonzero(loss > 0)[0]
        if positive.size:
            # at most ~2,000 steps are drawn; the curve looks the same and the SVG stays small
            keep = np.append(positive[:: max(1, positive.size // 2000)], positive[-1])
            ax.step(loss[keep], np.maximum(exceed[keep], 0.5 / n), where="post", label=shown[name])
        else:
            ax.plot(
                [], [], label=t(N_("{cls} (no loss in {n} paths)"), cls=shown[name], n=f"{n:,}")
            )
    ax.set_yscale("log")
    ax.set_xlabel(t(N_("principal loss, % of original balance")))
    ax.set_ylabel(t(N_("probability of a larger loss")))
    ax.set_title(t(N_("Class loss distributions")))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def plot_collections_fan(
    results: Results, ax: Axes | None = None, t: Words = english, names: dict | None = None
) -> Axes:
    """Collections per period: 5-95% band, median and mean."""
    ax = _new_axes(ax)
    p = results.periods
    cur = results.scenario.deal.currency
    ax.fill_between(
        p["date"],
        p["collections_p05"] / _MILLIONS,
        p["collections_p95"] / _MILLIONS,
        alpha=0.3,
        label="5-95%",
    )
    ax.plot(p["date"], p["collections_p50"] / _MILLIONS, label=t(N_("median")))
    ax.plot(p["date"], p["collections_mean"] / _MILLIONS, linestyle="--", label=t(N_("mean")))
    ax.set_ylabel(t(N_("collections per period, {cur} m"), cur=cur))
    ax.set_title(t(N_("Pool collections")))
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_balance_bands(
    results: Results, ax: Axes | None = None, t: Words = english, names: dict | None = None
) -> Axes:
    """Each tranche's balance after each payment date: 5-95% band and median."""
    ax = _new_axes(ax)
    p = results.periods
    cur = results.scenario.deal.currency
    shown = names or results.scenario.display_names()
    for name in results.deal.tranche_names:
        col = f"balance_{name}"
        line = ax.plot(p["date"], p[f"{col}_p50"] / _MILLIONS, label=shown[name])[0]
        ax.fill_between(
            p["date"],
            p[f"{col}_p05"] / _MILLIONS,
            p[f"{col}_p95"] / _MILLIONS,
            color=line.get_color(),
            alpha=0.2,
        )
    ax.set_ylabel(t(N_("balance, {cur} m"), cur=cur))
    ax.set_title(t(N_("Class balances (median, 5-95%)")))
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_coverage(
    results: Results, ax: Axes | None = None, t: Words = english, names: dict | None = None
) -> Axes:
    """Debt service coverage per period (collections over fees, the rated classes' interest and
    scheduled principal): 5-95% band and median, on a log scale, with the 1.0x line. Periods where
    fewer than COVERAGE_MIN_SHARE of the sampled paths have debt service, or still have notes
    outstanding, are left blank: the coverage of the few paths still paying is not the deal's,
    and after repayment it is the coverage of fees alone."""
    ax = _new_axes(ax)
    p = results.periods
    floor = 1e-2  # a period that collects nothing is drawn at 0.01x on the log scale
    sampled = results.raw.sample_collections.shape[0]
    shown = p["coverage_paths"].to_numpy() >= COVERAGE_MIN_SHARE * sampled
    # and where the classes above the subordinated are still outstanding at the period's start on more than that share of
    # the paths (the 95th percentile of the previous period's closing balances is above zero):
    # after repayment the debt service is fees alone, and a pool that has stopped paying shows
    # 0x coverage of them
    outstanding = np.zeros(len(p), dtype=bool)
    outstanding[0] = True
    quantile = f"_p{round((1 - COVERAGE_MIN_SHARE) * 100):02d}"
    names = results.deal.tranche_names
    for name in names[:-1] or names:  # the classes above the subordinated, whose service it is
        column = f"balance_{name}{quantile}"
        if column in p.columns:
            outstanding[1:] |= p[column].to_numpy()[:-1] > 0.0
    shown &= outstanding

    def clipped(column: str) -> np.ndarray:
        return np.where(shown, np.maximum(p[column].to_numpy(), floor), np.nan)

    ax.fill_between(p["date"], clipped("coverage_p05"), clipped("coverage_p95"), alpha=0.3,
                    label="5-95%")  # fmt: skip
    ax.plot(p["date"], clipped("coverage_p50"), label=t(N_("median")))
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":", label="1.0x")
    ax.set_yscale("log")
    ax.set_ylabel(t(N_("collections / (fees + interest + scheduled principal)")))
    ax.set_title(t(N_("Debt service coverage (median, 5-95%)")))
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


CHARTS = {
    "tranche_losses": plot_tranche_losses,
    "collections_fan": plot_collections_fan,
    "tranche_balances": plot_balance_bands,
    "debt_service_coverage": plot_coverage,
}


def write_charts(results: Results, folder: Path) -> list[Path]:
    """Save every chart as PNG and SVG into `folder`."""
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in CHARTS.items():
        fig = Figure(figsize=(7, 4))
        fig.subplots_adjust(
            left=0.11, right=0.97, top=0.91, bottom=0.13
        )  # fixed: a layout engine costs ~1 s
        draw(results, fig.add_subplot())
        for ext in ("png", "svg"):
            path = folder / f"{name}.{ext}"
            save_figure(fig, path, dpi=110)
            written.append(path)
    return written
