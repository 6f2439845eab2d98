"""The report's charts, in the report's language and font: the four result charts
(ipabs.outputs.charts), where the cash went, and the stress heatmap. Each is saved as PNG (in
the report folder) and SVG (inline in the page, glyphs as paths, so no font is needed to view
it)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from ipabs.outputs.charts import Words, english, save_figure
from ipabs.report.i18n import N_


def figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.91, bottom=0.15)
    return fig, fig.add_subplot()


def font_context():
    """Matplotlib settings that draw with the report's CJK font (and DejaVu Sans for what it
    lacks), so Chinese labels are glyphs, not boxes."""
    import matplotlib

    from ipabs.report.fonts import use_in_matplotlib

    family = use_in_matplotlib()
    return matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [family, "DejaVu Sans"],
            "axes.unicode_minus": False,
        }
    )


def svg(fig) -> str:
    buf = io.StringIO()
    save_figure(fig, buf, "svg", bbox_inches="tight", pad_inches=0.05)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def png(fig) -> bytes:
    buf = io.BytesIO()
    save_figure(fig, buf, "png", dpi=110, bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()


def heatmap(comparison: pd.DataFrame, t: Words = english, shown: dict | None = None):
    """Expected loss by class (rank order, as in the comparison) and stress (the file's order)."""
    fig, ax = figure()
    table = comparison.pivot(index="stress", columns="tranche", values="expected_loss")
    classes = list(dict.fromkeys(comparison["tranche"]))
    if "rank" in comparison.columns:  # by rank (stable: the file's order within a rank)
        ranks = dict(zip(comparison["tranche"], comparison["rank"], strict=False))
        classes.sort(key=lambda c: ranks[c])
    table = table.loc[list(dict.fromkeys(comparison["stress"])), classes]
    shown = shown or {}
    image = ax.imshow(100 * table.to_numpy(), aspect="auto", cmap="Reds")
    ax.set_xticks(range(table.shape[1]), [str(shown.get(c, c)) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=7)
    fig.colorbar(image, ax=ax, label=t(N_("expected loss, %")))
    ax.set_title(t(N_("Expected loss by class and stress")))
    return fig


#: what a revolving period buys, as the cash-uses chart calls it
BOUGHT = {
    "loans": N_("loans bought (revolving)"),
    "leases": N_("lease receivables bought (revolving)"),
    "licence_receivables": N_("licence receivables bought (revolving)"),
}


def _bought(results) -> str:
    rv = results.scenario.revolving
    return BOUGHT["loans" if rv is None else rv.buys]


def cash_uses(results, t: Words = english, shown: dict | None = None):
    """Where the deal's receipts went, mean over paths: the bars add up to collections plus sale
    proceeds (docs/model.md, 4.6); net account changes and the facility's net flow are shown
    where a deal has them, credit support received as a negative bar."""
    fig, ax = figure()
    pool = results.pool_paths.mean()
    paths = results.paths.groupby("tranche", observed=True)[
        ["interest_received", "principal_received"]
    ].mean()
    items = [("fees", t(N_("fees")), pool["fees_paid"]),
             ("performance_fee", t(N_("performance fee")), pool["performance_fee"])]  # fmt: skip
    shown = shown or results.scenario.display_names()
    for name in results.deal.tranche_names:
        items += [
            (
                "core",
                t(N_("{cls} interest"), cls=shown[name]),
                paths.loc[name, "interest_received"],
            ),
            (
                "core",
                t(N_("{cls} principal"), cls=shown[name]),
                paths.loc[name, "principal_received"],
            ),
        ]
    items += [
        ("residual", t(N_("residual")), pool["residual"]),
        ("revolving", t(_bought(results)),
         pool["revolving_purchases"]),
        ("reserve", t(N_("reserve (net)")),
         pool["reserve_topup"] - pool["reserve_draw"] - pool["reserve_release"]),
        ("liquidity", t(N_("liquidity facility (net)")),
         pool["liquidity_charges_paid"] + pool["liquidity_repaid"] - pool["liquidity_drawn"]),
        ("support", t(N_("credit support received")), -pool["credit_support_paid"]),
    ]  # fmt: skip
    core = {"fees", "residual", "core"}
    items = [(label, value) for kind, label, value in items if kind in core or value != 0.0]
    labels = [label for label, _ in items]
    values = np.asarray([value for _, value in items])
    # room for the longest label at 7 pt: about 0.06 inch a Latin character on the 7-inch figure,
    # twice that for a CJK one
    width = max(sum(2 if ord(ch) > 0x2E7F else 1 for ch in label) for label in labels)
    fig.subplots_adjust(left=min(0.5, 0.04 + 0.0085 * width))
    ax.barh(range(len(values)), values / 1e6)
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(t(N_("expected amount, millions {cur}"), cur=results.scenario.deal.currency))
    ax.set_title(t(N_("Where the cash went (mean over paths)")))
    return fig


#: chart name -> its title's message id (the chart's heading on the page)
TITLES = {
    "tranche_losses": N_("Class loss distributions"),
    "collections_fan": N_("Pool collections"),
    "tranche_balances": N_("Class balances"),
    "debt_service_coverage": N_("Debt service coverage"),
    "where_the_cash_went": N_("Where the cash went"),
    "stress_heatmap": N_("Expected loss by class and stress"),
}


def draw_all(results, stress_run, t: Words, shown: dict) -> dict[str, tuple[bytes, str]]:
    """Every chart of the report as (PNG, SVG), drawn in the report's font."""
    from ipabs.outputs.charts import CHARTS

    charts: dict[str, tuple[bytes, str]] = {}
    with font_context():
        for name, draw in CHARTS.items():
            fig, ax = figure()
            draw(results, ax, t, shown)
            charts[name] = (png(fig), svg(fig))
        fig = cash_uses(results, t, shown)
        charts["where_the_cash_went"] = (png(fig), svg(fig))
        if stress_run is not None:
            fig = heatmap(stress_run.comparison, t, shown)
            charts["stress_heatmap"] = (png(fig), svg(fig))
    return charts
