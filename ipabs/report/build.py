"""`ipabs report`: a self-contained HTML report (charts inline as SVG, no external files or
network loads) with its Parquet data, PNG charts and manifest. `--check` is in
`ipabs.report.check`."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipabs.outputs.charts import save_figure

#: the Parquet files a report saves and `--check` compares
DATA_FILES = ("summary", "pool", "periods", "triggers", "stress_comparison")
#: relative tolerance of --check across platforms (same platform: exact)
CROSS_PLATFORM_RTOL = 1e-9

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.chart svg{max-width:100%;height:auto}.note{color:#555;font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def format_number(value: Any) -> str:
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "–"
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.6g}"
    return str(value)


def _table(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    frame = frame if columns is None else frame[[c for c in columns if c in frame.columns]]
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(format_number(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _svg(fig) -> str:
    buf = io.StringIO()
    save_figure(fig, buf, "svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    save_figure(fig, buf, "png", dpi=110)
    return buf.getvalue()


def _figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.91, bottom=0.15)
    return fig, fig.add_subplot()


def _heatmap(comparison: pd.DataFrame):
    fig, ax = _figure()
    table = comparison.pivot(index="stress", columns="tranche", values="expected_loss")
    # stresses in the file's order, classes by rank (each stress's rows come by rank)
    table = table.loc[
        list(dict.fromkeys(comparison["stress"])), list(dict.fromkeys(comparison["tranche"]))
    ]
    image = ax.imshow(100 * table.to_numpy(), aspect="auto", cmap="Reds")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=7)
    fig.colorbar(image, ax=ax, label="expected loss, %")
    ax.set_title("Expected loss by tranche and stress")
    return fig


def _cash_uses(results):
    """Where the deal's receipts went, mean over paths: the bars add up to collections plus sale
    proceeds (docs/model.md, 4.6); net account changes and the facility's net flow are shown
    where a deal has them, credit support received as a negative bar."""
    fig, ax = _figure()
    pool = results.pool_paths.mean()
    paths = results.paths.groupby("tranche", observed=True)[
        ["interest_received", "principal_received"]
    ].mean()
    items = [("fees", pool["fees_paid"]), ("performance fee", pool["performance_fee"])]
    shown = results.scenario.display_names()
    for name in results.deal.tranche_names:
        items += [
            (f"{shown[name]} interest", paths.loc[name, "interest_received"]),
            (f"{shown[name]} principal", paths.loc[name, "principal_received"]),
        ]
    items += [
        ("residual", pool["residual"]),
        ("loans bought (revolving)", pool["revolving_purchases"]),
        ("reserve (net)", pool["reserve_topup"] - pool["reserve_draw"] - pool["reserve_release"]),
        (
            "liquidity facility (net)",
            pool["liquidity_charges_paid"] + pool["liquidity_repaid"] - pool["liquidity_drawn"],
        ),
        ("credit support received", -pool["credit_support_paid"]),
    ]
    core = {"fees", "residual"} | {label for label, _ in items if label.endswith(("interest", "principal"))}  # fmt: skip
    items = [(label, value) for label, value in items if label in core or value != 0.0]
    labels = [label for label, _ in items]
    values = np.asarray([value for _, value in items])
    # room for the longest label at 7 pt (about 0.06 inch a character on the 7-inch figure)
    fig.subplots_adjust(left=min(0.5, 0.04 + 0.0085 * max(len(label) for label in labels)))
    ax.barh(range(len(values)), values / 1e6)
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"expected amount, millions {results.scenario.deal.currency}")
    ax.set_title("Where the cash went (mean over paths)")
    return fig


ASSUMPTIONS = (
    "Income levels are lognormal around their growth path, with factor-driven shocks; licensees, "
    "borrowers and support providers have default times from a one-factor Gaussian or Student-t "
    "copula at their horizon, on the same factors that move the income (docs/model.md, section 3).",
    "The waterfall is the scenario's program of steps per deal state; triggers are tested each "
    "period on that period's collections, before its payments (section 4).",
    "Interest shortfalls are carried without compounding unless a class says otherwise; a "
    "tranche's principal loss is its balance after the legal-final payment.",
    "Prices discount each path's cash flows at the scenario's discount rate (annual effective, "
    "ACT/365F years); implied ratings read a rating table at each tranche's WAL (section 5.1).",
    "Stresses run on the same random draws as the base case (common random numbers).",
)


def build(sc, results, stress_run=None) -> tuple[str, dict[str, pd.DataFrame], dict[str, tuple[bytes, str]]]:  # fmt: skip
    """(HTML, data frames, charts as (PNG, SVG)) of one report."""
    from ipabs.outputs.charts import CHARTS

    data = {
        "summary": results.summary,
        "pool": results.pool,
        "periods": results.periods,
        "triggers": results.triggers,
    }
    if stress_run is not None:
        data["stress_comparison"] = stress_run.comparison
    charts: dict[str, tuple[bytes, str]] = {}
    for name, draw in CHARTS.items():
        fig, ax = _figure()
        draw(results, ax)
        charts[name] = (_png(fig), _svg(fig))
    fig = _cash_uses(results)
    charts["where_the_cash_went"] = (_png(fig), _svg(fig))
    if stress_run is not None:
        fig = _heatmap(stress_run.comparison)
        charts["stress_heatmap"] = (_png(fig), _svg(fig))

    deal = sc.deal
    sim = results.scenario.simulation
    facts = pd.DataFrame(
        [
            ("deal", deal.name),
            ("kind", sc.kind),
            ("currency", deal.currency),
            ("closing date", deal.closing_date),
            ("legal final date", deal.legal_final_date),
            ("payment frequency", deal.payment_frequency.value),
            ("day count", deal.day_count.value),
            ("paths", results.paths_run),
            ("seed", sim.seed),
        ],
        columns=["", "value"],
    )
    tranche_cols = ["tranche", "balance", "coupon", "expected_loss", "expected_loss_se", "prob_loss",
                    "prob_loss_se", "wal_years", "wal_years_se", "irr_mean", "irr_mean_se",
                    "price_pct_par", "price_pct_par_se", "modified_duration", "implied_rating"]  # fmt: skip
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(deal.name)}: ipabs report</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(deal.name)}</h1>",
        "<h2>Deal</h2>",
        _table(facts),
        "<h2>Pool</h2>",
        _table(results.pool.T.reset_index().set_axis(["estimate", "value"], axis=1)),
        "<h2>Tranches</h2><p class='note'>Monte Carlo estimates with their standard errors (_se).</p>",
        _table(results.summary, tranche_cols),
    ]
    if len(results.triggers):
        parts += ["<h2>Triggers</h2>", _table(results.triggers)]
    if stress_run is not None:
        parts += [
            "<h2>Stresses</h2><p class='note'>Every stress runs on the same random draws as the base case.</p>",
            _table(stress_run.comparison),
        ]
        if stress_run.reverse is not None:
            parts += ["<h3>Reverse stress (breakeven levels)</h3>", _table(stress_run.reverse)]
    parts.append("<h2>Charts</h2>")
    for name, (_, svg) in charts.items():
        parts.append(f"<div class='chart' id='chart-{_e(name)}'><h3>{_e(name.replace('_', ' '))}</h3>{svg}</div>")  # fmt: skip
    parts.append("<h2>Model assumptions</h2><ul>")
    parts += [f"<li>{_e(a)}</li>" for a in ASSUMPTIONS]
    parts.append("</ul>")
    return "\n".join(parts), data, charts


def finish_html(html_text: str, info: dict) -> str:
    shown = {k: info[k] for k in ("ipabs_version", "scenario_file", "scenario_sha256", "seed", "paths", "stress_file", "stress_file_sha256") if k in info}  # fmt: skip
    manifest = pd.DataFrame(sorted(shown.items()), columns=["", "value"])
    return html_text + "\n<h2>Manifest</h2>" + _table(manifest) + "\n</body></html>\n"


def report_platform() -> dict[str, str]:
    """A report manifest's platform: the run manifest's (ipabs.outputs.writer) and Matplotlib's
    version, on which the charts' bytes depend."""
    import matplotlib

    from ipabs.outputs.writer import _platform

    return {**_platform(), "matplotlib": matplotlib.__version__}


def run_info(results, spec) -> dict[str, Any]:
    """The manifest keys a report takes from its run: platform, seed, paths and the stresses."""
    info: dict[str, Any] = {
        "platform": report_platform(),
        "seed": results.scenario.simulation.seed,
        "paths": results.paths_run,
    }
    if spec is not None:
        info["stress_spec"] = spec.model_dump(mode="json")
    if results.importance is not None and results.importance.enabled:
        info["importance"] = results.importance.record()
    return info


def write_report(
    sc, source: Path, out_dir: Path, *, paths=None, seed=None, stress_file=None
) -> Path:
    from ipabs.api import simulate
    from ipabs.outputs.writer import (
        atomic_folder,
        file_sha256,
        scenario_manifest,
        write_manifest,
        write_parquet,
    )
    from ipabs.stress.definitions import load_stress_file
    from ipabs.stress.run import run_stresses

    spec = load_stress_file(stress_file) if stress_file is not None else None
    stress_run = None
    if spec is not None:
        stress_run = run_stresses(sc, spec, paths=paths, seed=seed, source=stress_file)
        results = stress_run.results["base"]
    else:
        results = simulate(sc, paths=paths, seed=seed, progress=False)
    info = {**scenario_manifest(sc, source, command="report"), **run_info(results, spec)}
    if spec is not None:
        info["stress_file"] = str(stress_file)
        info["stress_file_sha256"] = file_sha256(stress_file)
    html_text, data, charts = build(sc, results, stress_run)
    meta = json.dumps(info, sort_keys=True).encode()
    with atomic_folder(out_dir) as tmp:
        (tmp / "data").mkdir()
        for name, frame in data.items():
            write_parquet(frame, tmp / "data" / f"{name}.parquet", meta)
        (tmp / "charts").mkdir()
        for name, (png, _) in charts.items():
            (tmp / "charts" / f"{name}.png").write_bytes(png)
        # bytes, not text: the same file on every OS (no newline translation)
        (tmp / "report.html").write_bytes(finish_html(html_text, info).encode("utf-8"))
        write_manifest(tmp, info)
    return Path(out_dir)
