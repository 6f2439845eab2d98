"""Tables an analyst reads at a glance: units in the headers, numbers scaled to them, estimates
shown with their standard errors, classes under their display names.

`Results.view()` and the notebook reprs (`_repr_html_`) of `Results`, `SizeResult`, `PriceResult`,
breakeven and sweep tables come from here. The numbers behind them are unchanged: rates and
probabilities stay fractions in `Results.summary`, amounts stay in currency units.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

#: (summary column, header with unit, scale) of the compact view, in order
COMPACT = (
    ("rank", "Rank", 1.0),
    ("balance", "Balance ({cur} m)", 1e-6),
    ("coupon", "Coupon (%)", 100.0),
    ("implied_rating", "Rating (95% bound)", None),
    ("expected_loss", "Expected loss (%)", 100.0),
    ("expected_loss_se", "Expected loss s.e. (%)", 100.0),
    ("prob_loss", "P(loss) (%)", 100.0),
    ("prob_loss_se", "P(loss) s.e. (%)", 100.0),
    ("wal_years", "WAL (years)", 1.0),
    ("irr_mean", "IRR mean (%)", 100.0),
    ("price_pct_par", "Price (% of par)", 1.0),
    ("price_pct_par_se", "Price s.e. (% of par)", 1.0),
    ("modified_duration", "Modified duration (years)", 1.0),
)
#: added where the deal is an IP trust (its classes are beneficiary classes)
TRUST = (
    ("distribution_yield_mean", "Distribution yield (%)", 100.0),
    ("distribution_yield_mean_se", "Distribution yield s.e. (%)", 100.0),
    ("prob_shortfall", "P(yield shortfall) (%)", 100.0),
    ("prob_shortfall_se", "P(yield shortfall) s.e. (%)", 100.0),
)


def compact_summary(summary: pd.DataFrame, scenario: Any) -> pd.DataFrame:
    """The summary's headline columns, indexed by display name, in the units their headers say."""
    columns = COMPACT + (TRUST if scenario.kind == "trust" else ())
    shown = scenario.display_names()
    cur = scenario.deal.currency
    out = pd.DataFrame(index=pd.Index([shown[n] for n in summary["tranche"]], name="class"))
    for column, header, scale in columns:
        values = summary[column].to_numpy()
        out[header.format(cur=cur)] = values if scale is None else values * scale
    out["Rank"] = out["Rank"].astype(int)
    return out


#: raw columns of the solvers' tidy tables: (header with unit, scale); "<column>_se" follows
TIDY_UNITS = {
    "expected_loss": ("Expected loss (%)", 100.0),
    "prob_loss": ("P(loss) (%)", 100.0),
    "wal_years": ("WAL (years)", 1.0),
    "irr_mean": ("IRR mean (%)", 100.0),
    "price_pct_par": ("Price (% of par)", 1.0),
    "distribution_yield_mean": ("Distribution yield (%)", 100.0),
    "prob_shortfall": ("P(yield shortfall) (%)", 100.0),
    "expected_loss_at_breakeven": ("Expected loss at breakeven (%)", 100.0),
    "prob_loss_at_breakeven": ("P(loss) at breakeven (%)", 100.0),
}


def in_units(frame: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """A solver's tidy table in display units: known columns scaled and renamed with their unit
    (their standard errors too), a `tranche` column shown under display names."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        base = column[:-3] if column.endswith("_se") else column
        if base in TIDY_UNITS:
            header, scale = TIDY_UNITS[base]
            if column.endswith("_se"):
                header = header.replace(" (", " s.e. (", 1)
            out[header] = frame[column].to_numpy() * scale
        elif column == "tranche" and names:
            out["class"] = [names.get(n, n) for n in frame[column]]
        else:
            out[column] = frame[column].to_numpy()
    return out


def number(value: Any) -> str:
    """A number as a reader wants it: thousands separated, two decimals from 1 up, three
    significant figures below (0.0142), "-" for a missing value."""
    if value is None or isinstance(value, str):
        return "-" if value is None else value
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0.0:
        return "0"
    if abs(v) >= 1.0:
        return f"{v:,.2f}"
    return f"{v:.3g}"


def with_se(frame: pd.DataFrame) -> pd.DataFrame:
    """Each "X" column followed by "X s.e." folded into one column of text "x ± se"."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if " s.e." in column:
            continue
        se = column.replace(" (", " s.e. (", 1) if " (" in column else f"{column} s.e."
        if se in frame.columns:
            out[column] = [
                f"{number(v)} ± {number(s)}" for v, s in zip(frame[column], frame[se], strict=True)
            ]
        else:
            out[column] = [number(v) for v in frame[column]]
    return out


def html_table(frame: pd.DataFrame, *, title: str = "", notes: Sequence[str] = (), index: bool = True) -> str:  # fmt: skip
    """`frame` (already in display units) as an HTML table with numbers formatted by `number`,
    a bold title above and notes below."""
    text = frame.copy()
    for column in text.columns:
        if text[column].dtype != object:
            text[column] = [number(v) for v in text[column]]
    table = text.to_html(index=index, escape=True, na_rep="-", justify="left", border=0)
    head = f"<p><strong>{html.escape(title)}</strong></p>" if title else ""
    foot = "".join(f"<p style='font-size:smaller'>{html.escape(n)}</p>" for n in notes)
    return f"<div>{head}{table}{foot}</div>"


def fields_table(pairs: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    """(label, value) pairs as a two-column table for a result's headline."""
    return pd.DataFrame({"": [p[0] for p in pairs], "value": [number(p[1]) for p in pairs]})


class DisplayFrame(pd.DataFrame):
    """A DataFrame that a notebook shows with units: `_display` turns a copy into text. Any
    operation on it returns a plain DataFrame, so it behaves as one everywhere else."""

    _metadata: ClassVar[list[str]] = ["_display"]

    @property
    def _constructor(self) -> Callable[..., pd.DataFrame]:
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return self._display(pd.DataFrame(self))


def display_frame(frame: pd.DataFrame, render: Callable[[pd.DataFrame], str]) -> DisplayFrame:
    out = DisplayFrame(frame)
    out._display = render
    return out
