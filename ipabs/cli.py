"""The `ipabs` command line: a thin layer over the Python API (`ipabs.api`).

Exit codes: 0 success, 1 internal error, 2 bad input (file, option or scenario), 130 interrupted.

Ctrl-C gives exit code 130 and one line on stderr at any point after the package starts to load
(`ipabs._startup`; while it imports, compiles, simulates or writes); once a command has finished,
a late Ctrl-C is ignored so that it cannot turn a success into a kill during Python's shutdown.
"""

# The start-up guard must be in place before the slow imports below:
# ruff: noqa: E402

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from ipabs._startup import guard_start
from ipabs._startup import launched_as_cli as _launched_as_cli

# `python -m ipabs` imports the package before __main__ names it, so the package's own guard
# (which covers the console script) cannot see it yet: install it here too
guard_start()

import dataclasses
import json
import math
import traceback

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ipabs import __version__
from ipabs.commands import cluster_option as _cluster_option
from ipabs.errors import InternalError, Problem, UserError
from ipabs.ratings.implied import rating_statement
from ipabs.ratings.tables import table_source

PROGRESS_AFTER_SECONDS = 1.0


def _stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 140, highlight=False, soft_wrap=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ipabs")
def cli() -> None:
    """ipabs: Monte Carlo structuring for IP-backed ABS, ABN and trusts."""


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--paths", type=int, help="Monte Carlo paths (overrides simulation.paths).")
@click.option("--seed", type=int, help="Random seed (overrides simulation.seed).")
@click.option(
    "--block-size",
    type=int,
    help="Paths per block (overrides simulation.block_size); never changes results.",
)
@click.option(
    "--threads", type=int, help="Worker threads (default: all cores); never changes results."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: runs/<scenario name>).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG/SVG charts.")
@click.option(
    "--allow-large",
    is_flag=True,
    help="Run even when the estimated memory or time exceeds the limits.",
)
@click.option(
    "--importance",
    help='Importance sampling of the horizon factors: "none", "auto" (a cross-entropy pilot '
    "aims at --target), or the shift, one number per factor separated by commas "
    "(overrides simulation.importance; docs/model.md 5.2).",
)
@click.option("--target", help="The class importance sampling and --rel-se aim at.")
@click.option(
    "--rel-se",
    type=float,
    help="Run batches of --paths until --target's --metric has this relative standard error.",
)
@click.option(
    "--metric",
    type=click.Choice(["expected_loss", "prob_loss"]),
    default="expected_loss",
    show_default=True,
    help="What --rel-se measures.",
)
@click.option(
    "--max-paths", type=int, help="Most paths a --rel-se run may take (default: 100 batches)."
)
@_cluster_option
def run(
    scenario: Path,
    paths: int | None,
    seed: int | None,
    block_size: int | None,
    threads: int | None,
    out_dir: Path | None,
    quiet: bool,
    as_json: bool,
    no_charts: bool,
    allow_large: bool,
    importance: str | None,
    target: str | None,
    rel_se: float | None,
    metric: str,
    max_paths: int | None,
) -> None:
    """Simulate SCENARIO, print the tranche table and write the output folder."""
    from ipabs.outputs.folder import check_out_dir
    from ipabs.scenario.load import load

    sc = load(scenario)  # validate before the heavy imports: bad input fails fast
    out_dir = out_dir or Path("runs") / scenario.stem
    check_out_dir(out_dir)
    if not quiet and not as_json:
        _calendar_note(sc, scenario)
    from ipabs.api import simulate

    if target is not None and importance is None and rel_se is None:
        raise UserError("--target goes with --importance or --rel-se (what it aims at)")
    show_progress = not quiet and not as_json and sys.stderr.isatty()
    with _LazyProgress(enabled=show_progress, total=paths or sc.simulation.paths) as progress:
        results = simulate(
            sc,
            paths=paths,
            seed=seed,
            block_size=block_size,
            threads=threads,
            allow_large=allow_large,
            progress=progress.update,
            importance=_importance_option(importance),
            target=target,
            rel_se=rel_se,
            metric=metric,
            max_paths=max_paths,
        )
    results = dataclasses.replace(results, source=scenario)
    results.write(out_dir, charts=not no_charts, scenario_bytes=scenario.read_bytes())
    if as_json:
        payload = {
            "deal": sc.deal.name,
            "paths": results.paths_run,
            "seed": results.scenario.simulation.seed,
            "out": str(out_dir),
            "tranches": results.summary_records(),
            "pool": results.pool_record(),
            "triggers": results.trigger_records(),
        }
        if results.importance is not None and results.importance.enabled:
            payload["importance"] = results.importance.record()
        if results.precision is not None:
            payload["precision"] = results.precision
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
    elif not quiet:
        _print_summary(results, out_dir)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--discount-rate", type=float, help="Valuation rate (overrides valuation.discount_rate)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: runs/<scenario name>-valuation).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON on stdout.")
def value(scenario: Path, discount_rate: float | None, out_dir: Path | None, as_json: bool) -> None:
    """Value each IP asset of SCENARIO at closing by the income (relief-from-royalty) method."""
    from ipabs.outputs.folder import check_out_dir
    from ipabs.scenario.load import load

    sc = load(scenario)
    out_dir = out_dir or Path("runs") / f"{scenario.stem}-valuation"
    check_out_dir(out_dir)
    if discount_rate is not None and not 0.0 <= discount_rate <= 1.0:
        raise UserError(
            "--discount-rate must lie in [0, 1]",
            problems=(Problem("valuation.discount_rate", "out of range", discount_rate, True),),
        )
    from ipabs.outputs.writer import scenario_manifest, write_valuation
    from ipabs.pool.valuation import loan_to_value, loss_sharing_terms, value_assets
    from ipabs.results import json_records

    table = value_assets(sc, discount_rate)
    loans = loan_to_value(sc, table)
    layers = loss_sharing_terms(sc)
    manifest = scenario_manifest(sc, scenario, command="value")
    write_valuation(table, loans, manifest, out_dir, layers)
    if as_json:
        payload = {
            "deal": sc.deal.name,
            "out": str(out_dir),
            "assets": json_records(table),
            "loans": json_records(loans),
            "layers": json_records(layers),
        }
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    cur = sc.deal.currency
    t = Table(
        title=f"{sc.deal.name}: IP values at {sc.deal.pool_start} (income method, {table['discount_rate'].iloc[0]:.1%})",
        title_justify="left",
    )
    for col in (
        "asset",
        "type",
        "licensee",
        f"income / year {cur}",
        "life y",
        f"value {cur}",
        "value / income",
    ):
        t.add_column(col, justify="left" if col in ("asset", "type", "licensee") else "right")
    for _, r in table.iterrows():
        t.add_row(
            r["asset"],
            r["type"],
            r["licensee"],
            f"{r['base_annual_income']:,.0f}",
            f"{r['economic_life_years']:.1f}",
            f"{r['value']:,.0f}",
            f"{r['value_to_income']:.2f}",
        )
    t.add_row(
        "total",
        "",
        "",
        f"{table['base_annual_income'].sum():,.0f}",
        "",
        f"{table['value'].sum():,.0f}",
        "",
        end_section=True,
    )
    console = _stdout()
    console.print(t)
    if len(loans):
        lt = Table(title="Pledged loans: loan-to-value at closing", title_justify="left")
        for col in ("loan", f"balance {cur}", f"pledge value {cur}", "basis", "LTV"):
            lt.add_column(col, justify="left" if col in ("loan", "basis") else "right")
        for _, r in loans.iterrows():
            lt.add_row(
                r["loan"],
                f"{r['balance']:,.0f}",
                f"{r['pledge_value']:,.0f}",
                r["value_basis"],
                f"{r['ltv']:.1%}",
            )
        console.print(lt)
    if len(layers):
        ly = Table(title="Loss-sharing layers, in the order applied", title_justify="left")
        for col in ("layer", "kind", "share", "of", f"cap per loan {cur}", f"cap a year {cur}", "claim lag m"):  # fmt: skip
            ly.add_column(col, justify="left" if col in ("layer", "kind", "of") else "right")
        for _, r in layers.iterrows():
            ly.add_row(
                r["layer"], r["kind"], f"{r['share']:.1%}",
                r["re_guarantees"] or f"{r['share_of']} {r['basis']}",
                "-" if math.isnan(r["per_loan_cap"]) else f"{r['per_loan_cap']:,.0f}",
                "-" if math.isnan(r["annual_cap"]) else f"{r['annual_cap']:,.0f}",
                "-" if math.isnan(r["claim_lag_months"]) else f"{r['claim_lag_months']:.0f}",
            )  # fmt: skip
        console.print(ly)
    written = ["valuation.parquet"] + ["loans.parquet"] * bool(len(loans))
    written += ["layers.parquet"] * bool(len(layers))
    console.print(f"written to {out_dir}/" + ", ".join(written))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES; report every problem, exit 2 if any file is invalid."""
    from ipabs.scenario.load import load

    failed = 0
    err = _stderr()
    for path in files:
        try:
            sc = load(path)
        except UserError as exc:
            failed += 1
            err.print(f"[red]error[/]: {escape(exc.render())}", markup=True, highlight=False)
            continue
        click.echo(
            f"{path}: ok ({sc.deal.name}: {len(sc.assets)} assets, {len(sc.licensees)} licensees, {len(sc.tranches)} tranches)"
        )
        _calendar_note(sc, path)
    if failed:
        raise SystemExit(2)


def _calendar_note(sc, path: Path) -> None:
    """On stderr: the years a China calendar does not know, if the deal reaches them."""
    from ipabs.calendar import coverage_note

    note = coverage_note(sc.deal)
    if note:
        _stderr().print(f"{path}: note: {note}", markup=False, highlight=False)


@cli.command()
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the key reference table of docs/scenario-format.md instead.",
)
def schema(markdown: bool) -> None:
    """Print the scenario JSON Schema (for editor completion)."""
    if markdown:
        from ipabs.scenario.reference import markdown as reference

        click.echo(reference())
        return
    from ipabs.scenario.model import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


def _register_analysis_commands() -> None:
    from ipabs.commands import (
        breakeven_command,
        price_command,
        report_command,
        size_command,
        stress_command,
    )

    cli.add_command(size_command)
    cli.add_command(breakeven_command)
    cli.add_command(price_command)
    cli.add_command(stress_command)
    cli.add_command(report_command)


_register_analysis_commands()


def _importance_option(value: str | None):
    """--importance as simulate() takes it: a keyword, or the shift as numbers."""
    if value is None or value.strip() in ("none", "auto"):
        return None if value is None else value.strip()
    try:
        return tuple(float(x) for x in value.split(","))
    except ValueError:
        raise UserError(
            f'--importance must be "none", "auto" or numbers separated by commas, not {value!r}'
        ) from None


def _scale_words(scale: str, table_file: str | None) -> str:
    """What the rating table's scale is, after its source on the CLI's ratings line."""
    if scale == "global":
        return (
            " (a global-scale corporate default-rate equivalent, not a Chinese domestic sf scale)"
        )
    if scale == "scenario":
        return ""
    return f" (scale: {scale}" + (f"; from {table_file}" if table_file else "") + ")"


def _print_summary(results, out_dir: Path) -> None:
    sc = results.scenario
    s = results.summary
    console = _stdout()
    table = Table(
        title=f"{sc.deal.name} — {results.paths_run:,} paths, seed {sc.simulation.seed}",
        title_justify="left",
    )
    for col in (
        "tranche",
        "balance",
        "coupon",
        "exp. loss",
        "± se",
        "P(loss)",
        "WAL y",
        "IRR mean",
        "IRR p05",
        "price % par",
        "mod. dur.",
        "implied rating",
    ):
        table.add_column(col, justify="left" if col == "tranche" else "right")
    for _, r in s.iterrows():
        table.add_row(
            str(r["tranche"]),
            f"{r['balance']:,.0f}",
            f"{r['coupon']:.2%}",
            f"{r['expected_loss']:.4%}",
            f"{r['expected_loss_se']:.4%}",
            f"{r['prob_loss']:.2%}",
            f"{r['wal_years']:.2f}",
            f"{r['irr_mean']:.2%}",
            f"{r['irr_p05']:.2%}",
            f"{r['price_pct_par']:.3f}",
            f"{r['modified_duration']:.2f}",
            rating_statement(r),
        )
    console.print(table)
    console.print(
        "implied rating: the grade the one-sided 95% upper confidence bound on the metric "
        "supports; where the point estimate supports a better one it follows, with the 90% range "
        "(docs/model.md 5.1)"
    )
    plan = results.importance
    if plan is not None and not plan.enabled and plan.method.startswith("cross_entropy"):
        console.print(
            f"importance sampling: the pilot aimed at {plan.target} saw too few losses "
            f"({', '.join(map(str, plan.pilot_hits))} in {plan.pilot_runs} runs of "
            f"{plan.pilot_paths:,}); the run is plain Monte Carlo"
        )
    if plan is not None and plan.enabled:
        shift = ", ".join(f"{x:+.3f}" for x in plan.shift)
        aim = f" aimed at {plan.target} ({plan.pilot_runs} pilot runs)" if plan.target else ""
        console.print(
            f"importance sampling: horizon factors shifted by [{shift}]{aim}; effective sample "
            f"size {results.pool['effective_sample_size'].iloc[0]:,.0f} of {results.paths_run:,}; "
            "the standard errors of estimates far from the target's tail rest on few effective paths "
            "and can be too small"
        )
    if results.precision is not None:
        p = results.precision
        state = "reached" if p["met"] else "NOT reached"
        reached = (
            "none (no loss seen)" if p["rel_se_reached"] is None else f"{p['rel_se_reached']:.3f}"
        )
        console.print(
            f"precision: relative standard error of {p['target']}'s {p['metric']} "
            f"{reached} after {p['paths_used']:,} paths (target {p['rel_se']}: "
            f"{state}; at most {p['max_paths']:,})"
        )
    if sc.kind == "trust":
        trust = Table(title="beneficiary classes", title_justify="left")
        for col in (
            "class",
            "distribution yield",
            "p05",
            "p95",
            "P(shortfall)",
            "max shortfall",
            "multiple",
        ):
            trust.add_column(col, justify="left" if col == "class" else "right")
        for _, r in s.iterrows():
            trust.add_row(
                str(r["tranche"]), f"{r['distribution_yield_mean']:.2%}",
                f"{r['distribution_yield_p05']:.2%}", f"{r['distribution_yield_p95']:.2%}",
                f"{r['prob_shortfall']:.2%}", f"{r['expected_max_shortfall']:.2%}",
                f"{r['multiple_mean']:.3f}",
            )  # fmt: skip
        console.print(trust)
    metric = s["rating_metric"].iloc[0]
    basis = {
        "expected_loss": "expected loss at each tranche's WAL",
        "timely_interest_probability": "probability of any interest shortfall or principal loss (timely interest and ultimate principal) by legal final",
        "loss_probability": "probability of principal loss by legal final",
    }[metric]  # fmt: skip
    scale = _scale_words(str(s["rating_scale"].iloc[0]), sc.ratings.table_file)
    console.print(f"implied ratings: {basis}, against {table_source(sc.ratings)}{scale}")
    p = results.pool.iloc[0]
    cur = sc.deal.currency
    console.print(
        f"pool: expected collections {p['expected_collections']:,.0f} {cur} (± {p['expected_collections_se']:,.0f})"
    )
    if any(a.licensee for a in sc.assets):
        console.print(
            f"licence income lost to defaults: {p['expected_pool_loss_pct']:.2%} expected, "
            f"{p['pool_loss_pct_p99']:.2%} at the 99th percentile"
        )
    if sc.credit_support:
        console.print(
            f"credit support: undertakings and guarantees paid {p['expected_credit_support_paid']:,.0f} {cur} "
            f"on average (± {p['expected_credit_support_paid_se']:,.0f})"
        )
    periods = results.periods
    if periods["coverage_paths"].gt(0).any():
        weakest = periods.loc[periods["coverage_p50"].idxmin()]
        console.print(
            f"debt service coverage: lowest median {weakest['coverage_p50']:.2f}x "
            f"(5th percentile {weakest['coverage_p05']:.2f}x) on {weakest['date']:%Y-%m-%d}"
        )
    for row in results.triggers.itertuples():
        when = (
            f", after {row.mean_years_to_trip:.1f} years on average (earliest {row.earliest_date})"
            if row.probability > 0
            else ""
        )
        console.print(
            f"trigger {row.trigger} ({row.condition} -> {row.effect}): in force on "
            f"{row.probability:.2%} of paths (± {row.probability_se:.2%}){when}"
        )
    if sc.clean_up_call:
        console.print(f"clean-up call: exercised on {p['expected_clean_up_called']:.2%} of paths")
    if sc.has_claims():
        word = sc.claims_word()  # loans, leases, receivables (or claims, for a mix)
        console.print(
            f"{word}: {p['expected_loan_defaults']:.2f} defaults expected; loss left with the deal "
            f"{p['expected_loan_loss_pct']:.2%} of the {word} expected, {p['loan_loss_pct_p99']:.2%} at the 99th "
            f"percentile; expected payments by guarantor {p['expected_guarantor_paid']:,.0f}, "
            f"fund {p['expected_fund_paid']:,.0f}, insurer {p['expected_insurer_paid']:,.0f} {cur}"
        )
        extra = [
            ("re-guarantor to the lender", "expected_reguarantor_paid"),
            ("insurance premiums", "expected_insurance_premium_paid"),
            ("interest subsidies", "expected_interest_subsidy_paid"),
        ]
        named = [f"{x} {p[key]:,.0f}" for x, key in extra if p.get(key, 0.0)]
        if named:
            console.print(f"loans, expected: {'; '.join(named)} {cur}")
        if len(sc.loss_sharing) > 1:
            from ipabs.scenario.model import layer_names

            layers = [
                f"{name} {p[f'expected_layer_{name}_paid']:,.0f}"
                for name in layer_names(sc.loss_sharing)
            ]
            console.print(f"expected payments by layer: {'; '.join(layers)} {cur}")
    console.print(f"written to {out_dir}/ in {results.wall_seconds:.2f} s of simulation")


class _LazyProgress:
    """A progress bar on stderr that appears only once a run has taken over a second."""

    def __init__(
        self,
        enabled: bool,
        total: int,
        *,
        console: Console | None = None,
        after_seconds: float = PROGRESS_AFTER_SECONDS,
    ):
        self.enabled = enabled
        self._console = console
        self._after = after_seconds
        self._progress: Progress | None = None
        self._task = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done, self._total = 0, total

    def __enter__(self) -> _LazyProgress:
        if self.enabled:
            self._timer = threading.Timer(self._after, self._start)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _start(self) -> None:
        with self._lock:
            self._progress = Progress(
                TextColumn("simulating"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} paths"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=self._console or _stderr(), transient=True,
            )  # fmt: skip
            self._task = self._progress.add_task("paths", total=self._total, completed=self._done)
            self._progress.start()

    def update(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total
            if self._progress is not None:
                self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            if self._progress is not None:
                self._progress.stop()


def main(argv: list[str] | None = None) -> None:
    """The `ipabs` entry point: run the command and exit with its code (module docstring)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    already = len(_written())
    try:
        if in_main and previous is not signal.SIG_IGN:  # started with Ctrl-C ignored: keep it so
            signal.signal(signal.SIGINT, signal.default_int_handler)
        code = _dispatch(argv)
        if in_main:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a late Ctrl-C changes nothing
    except KeyboardInterrupt:
        if in_main:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot cut this short
        code = _interrupted(_written()[already:])
    if in_main and not _launched_as_cli():  # called from a program: leave Ctrl-C as it was
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if in_main and _launched_as_cli():
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int | str | None) -> None:
    """End the `ipabs` process as soon as its output is flushed, skipping the interpreter's
    teardown. Run as a command, it was seen to abort after finishing ("terminate called without
    an active exception", exit code 134) in about 1 of 25 `ipabs stress` runs and in 2 of 5 full
    test runs; the abort comes from a C++ thread still joinable when the process tears down
    (pyarrow's or the OpenMP threading layer's; not pinned down). Every output is written and
    renamed into place before this point, so nothing is lost. `sys.exit` semantics: None is 0,
    a string is printed and gives 1."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _dispatch(argv: list[str] | None) -> int | str | None:
    """Run the command; turn each kind of failure into its exit code and message.
    KeyboardInterrupt is left to `main`."""
    try:
        cli.main(args=argv, prog_name="ipabs", standalone_mode=False)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    except click.ClickException as exc:
        exc.show()
        return 2
    except UserError as exc:
        _stderr().print(f"[red]error[/]: {escape(exc.render())}", markup=True, highlight=False)
        return exc.exit_code
    except InternalError as exc:  # a bug that ipabs caught itself (e.g. a non-finite result)
        _stderr().print(f"[red]{escape(exc.render())}[/]", markup=True, highlight=False)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code
    except Exception:
        traceback.print_exc()
        _stderr().print(
            "internal error: this is a bug in ipabs; please report it with the traceback above"
        )
        return 1
    return 0


def _written() -> tuple[Path, ...]:
    """The output folders this process has put in place (none if it has written nothing)."""
    folder = sys.modules.get("ipabs.outputs.folder")
    return folder.written() if folder is not None else ()


def _interrupted(done: tuple[Path, ...]) -> int:
    """Say on one line that the command was interrupted, and whether its output (`done`) had
    already been put in place; return exit code 130."""
    if done:
        message = f"interrupted; {', '.join(map(str, done))} had already been written in full"
    else:
        message = "interrupted; nothing was written"
    click.echo(message, err=True)
    return 130
