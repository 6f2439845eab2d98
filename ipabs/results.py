"""`Results`: the one object that leaves the engine and feeds the notebook, the CLI and the writers."""

from __future__ import annotations

import math
import shutil
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ipabs.engine.compile import CompiledDeal
from ipabs.engine.estimates import Estimates, local_estimates
from ipabs.engine.importance import ImportancePlan
from ipabs.engine.reduce import (
    path_table,
    period_bands,
    pool_path_table,
    pool_summary,
    tranche_summary,
    trigger_summary,
)
from ipabs.engine.run import RawResults

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class Staging:
    """A cluster run's staging folder of per-path tables, deleted with the last `Results` that
    refers to it (copies made by `dataclasses.replace` share it)."""

    def __init__(self, path: Path):
        self.path = path
        weakref.finalize(self, shutil.rmtree, str(path), True)


@dataclass(frozen=True, eq=False)
class Results:
    deal: CompiledDeal
    raw: RawResults = field(repr=False)
    threads: int
    wall_seconds: float
    source: Path | None = None
    importance: ImportancePlan | None = None  # how the horizon factors were sampled
    precision: dict[str, Any] | None = None  # a run to a relative standard error: what it reached
    # a cluster run (docs/scale-out.md, "Memory"): the summaries' partials, reduced on the
    # workers, and the folder the workers wrote the per-path tables to; `raw` then holds the
    # per-period samples only
    partials: Estimates | None = field(default=None, repr=False)
    batch_paths: tuple[int, ...] | None = None  # the paths of each batch (--rel-se), in order
    staging: Staging | None = field(default=None, repr=False)

    @property
    def paths_folder(self) -> Path | None:
        """The folder of a cluster run's per-path tables as its workers wrote them."""
        return None if self.staging is None else self.staging.path

    @property
    def scenario(self):
        return self.deal.scenario

    @property
    def paths_run(self) -> int:
        return self.partials.paths if self.partials is not None else self.raw.pool.shape[0]

    @cached_property
    def estimates(self) -> Estimates:
        """The chunks' partials behind every summary estimate (`ipabs.engine.estimates`)."""
        if self.partials is not None:
            return self.partials
        return local_estimates(self.deal, self.raw, batches=self.batch_paths)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per tranche (by rank), indexed by class name (`summary.loc["senior_A"]`; the
        `tranche` column repeats it): each Monte Carlo estimate with its standard error (`_se`),
        rates and probabilities as fractions, amounts in the deal's currency. `view()` is the
        same with units, for reading."""
        from ipabs.ratings import implied_ratings
        from ipabs.ratings.tables import table_for

        summary = tranche_summary(self.deal, self.estimates)
        ratings = implied_ratings(
            summary,
            table_for(self.scenario.ratings),
            labels=self.scenario.ratings.labels,
            term_years=float(self.deal.t_years[-1]),
            paths=self.paths_run,
            weighted=self.importance is not None and self.importance.enabled,
            basis=self.scenario.ratings.basis,
        )
        summary = summary.merge(ratings, on="tranche", how="left")
        summary.index = pd.Index(summary["tranche"], name="class")
        return summary

    @cached_property
    def pool(self) -> pd.DataFrame:
        """One row: expected collections, income lost to licensee defaults and its quantiles."""
        return pool_summary(self.deal, self.estimates)

    @cached_property
    def triggers(self) -> pd.DataFrame:
        """One row per trigger: probability it comes into force, and mean years until it does."""
        return trigger_summary(self.deal, self.estimates)

    @cached_property
    def periods(self) -> pd.DataFrame:
        """One row per payment date (indexed by it, `payment_date`; the `date` column repeats
        it): mean and 5/50/95% bands of collections, balances and reserve."""
        periods = period_bands(self.deal, self.raw)
        periods.index = pd.DatetimeIndex(periods["date"], name="payment_date")
        return periods

    @cached_property
    def cash_flows(self) -> pd.DataFrame:
        """The base case's cash-flow statement: one row per period, each flow the mean over the
        first min(sample_paths, 2,000) paths (the `sample_paths` column), sources then uses,
        with each class's and the reserve's opening and closing balance
        (`ipabs.engine.statement`)."""
        from ipabs.engine.statement import cash_flow_statement

        return cash_flow_statement(self.deal, self.raw)

    @cached_property
    def cash_flow_coverage(self) -> pd.DataFrame:
        """Per class by rank, the pool's expected cash available to it over the deal's life (after
        fees and the more senior classes) over what it is due (`ipabs.engine.statement`)."""
        from ipabs.engine.statement import cash_flow_coverage

        ranks = {t.name: t.rank for t in self.scenario.tranches_by_rank()}
        return cash_flow_coverage(self.cash_flows, ranks)

    @cached_property
    def paths(self) -> pd.DataFrame:
        """One row per path and tranche. A cluster run reads it from the partitioned dataset
        its workers wrote (every path in memory: for a notebook, not for 1e8 paths)."""
        if self.partials is not None:
            return self._read_kept("paths.parquet")
        return path_table(self.deal, self.raw)

    @cached_property
    def pool_paths(self) -> pd.DataFrame:
        """One row per path: pool totals (a cluster run: read as `paths` is)."""
        if self.partials is not None:
            return self._read_kept("pool_paths.parquet")
        return pool_path_table(self.raw, self.scenario)

    def _read_kept(self, name: str) -> pd.DataFrame:
        folder = None if self.paths_folder is None else self.paths_folder / name
        if folder is None or not folder.is_dir():
            from ipabs.errors import UserError

            raise UserError(
                f"this cluster run's per-path table {name} is not available: the workers "
                "wrote it to a staging folder that is gone (write the results with "
                "Results.write while they are in memory)"
            )
        import pyarrow.parquet as pq

        return pq.read_table(folder).to_pandas()

    @property
    def worst_cash_gap(self) -> float:
        """The largest cash-check gap over the paths, relative to what the deal received
        (`ipabs.engine.conservation.worst_relative_gap`); a cluster run's is the largest of
        its chunks', computed on the workers."""
        if self.partials is not None and self.partials.cash_gap is not None:
            return self.partials.cash_gap
        from ipabs.engine.conservation import worst_relative_gap

        return worst_relative_gap(self.cash_check())

    def cash_check(self) -> pd.DataFrame:
        """Per path: what the deal received, where it went and the difference (zero up to
        rounding; docs/model.md, 4.6), computed from `pool_paths` and `paths` alone."""
        from ipabs.engine.conservation import cash_check

        return cash_check(self.pool_paths, self.paths)

    # -- plots: each returns the matplotlib Axes it drew on ------------------------------------

    def plot_losses(self, ax: Axes | None = None) -> Axes:
        from ipabs.outputs.charts import plot_tranche_losses

        return plot_tranche_losses(self, ax)

    def plot_collections(self, ax: Axes | None = None) -> Axes:
        from ipabs.outputs.charts import plot_collections_fan

        return plot_collections_fan(self, ax)

    def plot_balances(self, ax: Axes | None = None) -> Axes:
        from ipabs.outputs.charts import plot_balance_bands

        return plot_balance_bands(self, ax)

    # -- output ----------------------------------------------------------------------------------

    def write(
        self, out_dir: str | Path, *, charts: bool = True, scenario_bytes: bytes | None = None
    ) -> Path:
        """Write summary/paths/periods Parquet, manifest.json and charts/ atomically to `out_dir`."""
        from ipabs.outputs.writer import write_run

        return write_run(self, Path(out_dir), charts=charts, scenario_bytes=scenario_bytes)

    def summary_records(self) -> list[dict[str, Any]]:
        """The tranche summary as plain JSON-ready dicts (NaN becomes None)."""
        return json_records(self.summary)

    def trigger_records(self) -> list[dict[str, Any]]:
        """The trigger table as JSON-ready records."""
        return json_records(self.triggers)

    def pool_record(self) -> dict[str, Any]:
        """The pool summary as a plain JSON-ready dict (NaN becomes None)."""
        return json_records(self.pool)[0]

    def view(self, kind: str = "compact") -> pd.DataFrame:
        """The summary for reading. "compact" (the default): the headline columns per class,
        indexed by display name, with units in the headers (percent, years, the deal's currency
        in millions) and trust metrics for an IP trust. "full": every column of `summary`."""
        from ipabs.outputs.display import compact_summary

        if kind == "compact":
            return compact_summary(self.summary, self.scenario)
        if kind == "full":
            return self.summary
        raise ValueError(f"view is 'compact' or 'full', not {kind!r}")

    def _repr_html_(self) -> str:
        from ipabs.outputs.display import html_table, with_se

        sc = self.scenario
        head = f"{sc.deal.name}: {self.paths_run:,} paths, seed {sc.simulation.seed}"
        pool = self.pool.iloc[0]
        notes = [
            "Estimates are shown as value ± one standard error. Rating: the grade that the "
            "one-sided 95% upper bound on the rating metric supports. `.view('full')` has every "
            "column.",
            f"Pool: expected collections {pool['expected_collections'] / 1e6:,.2f} "
            f"± {pool['expected_collections_se'] / 1e6:,.2g} {sc.deal.currency} m.",
        ]
        if sc.licensees:
            notes.append(
                f"Licence income lost to licensee defaults: {100 * pool['expected_pool_loss_pct']:.3g}% "
                f"± {100 * pool['expected_pool_loss_pct_se']:.2g}% of the income due."
            )
        if sc.has_claims():
            word = sc.claims_word()
            notes.append(
                f"{word.capitalize()}: net loss after recoveries and loss-sharing {100 * pool['expected_loan_loss_pct']:.3g}% "
                f"± {100 * pool['expected_loan_loss_pct_se']:.2g}% of the {word}' balance."
            )
        if self.importance is not None and self.importance.enabled:
            notes.append("Importance sampling on the horizon factors (docs/model.md, 5.2).")
        return html_table(with_se(self.view()), title=head, notes=notes)

    def __repr__(self) -> str:
        sc = self.scenario
        return f"<ipabs.Results {sc.deal.name!r}: {self.paths_run:,} paths, seed {sc.simulation.seed}, {len(self.deal.tranche_names)} tranches>"


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as plain JSON-ready dicts: NumPy scalars unwrapped, NaN and infinity as None."""
    rows = []
    for row in frame.to_dict(orient="records"):
        plain = {}
        for k, v in row.items():
            v = v.item() if hasattr(v, "item") else v
            plain[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        rows.append(plain)
    return rows
