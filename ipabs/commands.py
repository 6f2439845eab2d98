"""The analysis commands beside `ipabs run`: `size`, `breakeven` (solvers), `price` (transfer
pricing), `stress` and `report`; tables on stdout or JSON with --json."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ipabs.ratings.implied import rating_statement

_SCENARIO = click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
_PATHS = click.option("--paths", type=int, help="Monte Carlo paths per evaluation.")
_SEED = click.option("--seed", type=int, help="Random seed (the same paths for every evaluation).")
_RATING = click.option("--rating", help="Target: this rating or better, from the rating table.")
_EL = click.option(
    "--expected-loss", type=float, help="Target: expected loss at most this fraction."
)
_PLOSS = click.option(
    "--loss-probability", type=float, help="Target: probability of loss at most this fraction."
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def cluster_option(command):
    """--cluster ADDRESS (default: the IPABS_CLUSTER environment variable): run every simulation
    of the command on a Dask cluster, with the same numbers (docs/scale-out.md). Goes right
    above the command's function."""

    @functools.wraps(command)
    def on_cluster(*args, cluster: str | None = None, **kwargs):
        from ipabs.engine.distribute import on_cluster

        with on_cluster(cluster):
            return command(*args, **kwargs)

    return click.option(
        "--cluster",
        envvar="IPABS_CLUSTER",
        help="Run the paths on a Dask cluster: a scheduler address (tcp://host:8786) or local:N "
        "(N worker processes here). Default: $IPABS_CLUSTER. Never changes results.",
    )(on_cluster)


def _importance_options(command):
    """--importance and --target: importance sampling of the horizon factors, the shift chosen
    once and shared by every run of the command (docs/model.md, 5.2)."""
    command = click.option(
        "--target", help="The class --importance auto aims at (overrides importance_target)."
    )(command)
    return click.option(
        "--importance",
        help='"none", "auto" (a cross-entropy pilot aimed at --target) or the shift, one number '
        "per factor separated by commas (overrides simulation.importance).",
    )(command)


def _with_importance(sc, importance: str | None, target: str | None):
    from ipabs.api import with_importance
    from ipabs.cli import _importance_option

    return with_importance(sc, _importance_option(importance), target)


def _console() -> Console:
    from ipabs.cli import _stdout

    return _stdout()


def _check_paths(paths: int | None) -> None:
    from ipabs.errors import Problem, UserError

    if paths is not None and paths < 1:
        raise UserError(
            "--paths must be at least 1",
            problems=(Problem("simulation.paths", "at least 1", paths, True),),
        )


@click.command("size")
@_SCENARIO
@click.option(
    "--tranche",
    "tranches",
    multiple=True,
    required=True,
    help="Class to size; repeat to size several in turn (senior first, each on the last's result).",
)
@_RATING
@_EL
@_PLOSS
@_PATHS
@_SEED
@click.option(
    "--min-subordination",
    type=float,
    default=0.0,
    show_default=True,
    help="Least share of the capital structure the subordinated class keeps (e.g. 0.05).",
)
@click.option(
    "--importance",
    type=click.Choice(["none", "auto"]),
    default="none",
    show_default=True,
    help="auto: importance sampling of the horizon factors, aimed at each --tranche.",
)
@_JSON
@cluster_option
def size_command(
    scenario, tranches, rating, expected_loss, loss_probability, paths, seed, min_subordination,
    importance, as_json,
):  # fmt: skip
    """The largest balance of each --tranche of SCENARIO that meets the target with 95%
    confidence (the one-sided upper bound of its loss metric, docs/model.md 5.1); the
    subordinated class takes up the difference (the total stays the same). A run that cannot
    show the target is met even at the smallest size is refused, with the paths it would need."""
    from ipabs.api import load
    from ipabs.solvers import size

    _check_paths(paths)
    sc = load(scenario)
    results = []
    for name in tranches:
        r = size(
            sc, name, rating=rating, expected_loss=expected_loss,
            loss_probability=loss_probability, paths=paths, seed=seed,
            min_subordination=min_subordination, importance=importance,
        )  # fmt: skip
        results.append(r)
        sc = r.scenario
    records = [
        {
            "tranche": r.tranche,
            "balance": r.balance,
            "original_balance": r.original_balance,
            "absorbing_class": r.absorbing_class,
            "target": r.target,
            "met": r.met,
            "whole_capital_meets_target": r.capped,
            "evaluations": r.evaluations,
            "implied_rating": rating_statement(
                r.results.summary.set_index("tranche").loc[r.tranche]
            ),
        }
        for r in results
    ]
    if as_json:
        click.echo(json.dumps({"deal": sc.deal.name, "sizes": records}, indent=2))
        return
    table = Table(title=f"{sc.deal.name}: sizes for {records[0]['target']}", title_justify="left")
    for col in ("tranche", "balance", "was", "takes up", "evaluations", "implied rating", "note"):
        table.add_column(col, justify="left" if col in ("tranche", "note") else "right")
    for rec in records:
        note = (
            "the largest size allowed meets the target (the whole capital, or --min-subordination)"
            if rec["whole_capital_meets_target"]
            else ("no size meets the target" if not rec["met"] else "")
        )
        table.add_row(
            rec["tranche"], f"{rec['balance']:,.0f}", f"{rec['original_balance']:,.0f}",
            rec["absorbing_class"], str(rec["evaluations"]), rec["implied_rating"], note,
        )  # fmt: skip
    _console().print(table)


@click.command("breakeven")
@_SCENARIO
@click.option(
    "--stress",
    "stresses",
    multiple=True,
    help="default_multiplier, income_haircut, decay_increase or recovery_cut (repeat; default: all).",
)
@_RATING
@_EL
@_PLOSS
@_PATHS
@_SEED
@_importance_options
@_JSON
@cluster_option
def breakeven_command(
    scenario, stresses, rating, expected_loss, loss_probability, paths, seed, importance, target,
    as_json,
):  # fmt: skip
    """For each tranche of SCENARIO and each stress, the largest stress at which the tranche
    still takes no loss (or meets the target)."""
    from ipabs.api import load
    from ipabs.results import json_records
    from ipabs.solvers import STRESSES, breakeven

    _check_paths(paths)
    sc = _with_importance(load(scenario), importance, target)
    frame = breakeven(
        sc, stresses=tuple(stresses) or STRESSES, rating=rating, expected_loss=expected_loss,
        loss_probability=loss_probability, paths=paths, seed=seed,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps({"deal": sc.deal.name, "breakeven": json_records(frame)}, indent=2))
        return
    table = Table(title=f"{sc.deal.name}: breakeven stresses", title_justify="left")
    for col in ("tranche", "target", "stress", "breakeven", "status", "EL there", "P(loss) there"):
        table.add_column(
            col, justify="right" if col in ("breakeven", "EL there", "P(loss) there") else "left"
        )
    for row in frame.itertuples():
        table.add_row(
            row.tranche, row.target, row.stress, f"{row.breakeven:.4f}", row.status,
            f"{row.expected_loss_at_breakeven:.4%}", f"{row.prob_loss_at_breakeven:.2%}",
        )  # fmt: skip
    console = _console()
    console.print(table)
    for stress, means in dict(zip(frame["stress"], frame["level_means"], strict=True)).items():
        console.print(f"{stress}: {means}")


@click.command("price")
@_SCENARIO
@click.option(
    "--form",
    type=click.Choice(["direct", "income_right"]),
    help="Price the transfer in this form instead of the file's: direct (the buyer takes the "
    "loans and services them: no servicing fee, no seller's share) or income_right (with the "
    "file's servicing fee and seller's share).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write price.parquet (dirty and clean price, accrued interest, the seller's "
    "capital), price_decomposition.parquet, price_layer_support.parquet (with layers) and price_distribution.parquet to this folder.",
)
@_PATHS
@_SEED
@_JSON
@cluster_option
def price_command(scenario, form, out_dir, paths, seed, as_json):
    """Price SCENARIO's [transfer] of IP-pledged loans: the price at the buyer's yield (or the
    yield at a price), its decomposition, and its distribution with the buyer's loss."""
    from ipabs.api import load
    from ipabs.results import json_records
    from ipabs.transfer.pricing import price, with_form

    _check_paths(paths)
    sc = load(scenario)
    if form is not None:
        sc = with_form(sc, form)
    if out_dir is not None:
        from ipabs.outputs.folder import check_out_dir

        check_out_dir(out_dir)
    r = price(sc, paths=paths, seed=seed)
    if out_dir is not None:
        from ipabs.outputs.writer import scenario_manifest, write_price

        write_price(r, scenario_manifest(sc, Path(scenario), command="price"), out_dir)
    if as_json:
        payload = {
            "deal": sc.deal.name,
            "form": r.form,
            "paths": r.paths,
            "par": r.par,
            "price": r.price,
            "price_se": r.price_se,
            "price_pct_of_par": r.price_pct,
            "yield": r.yield_,
            "summary": r.summary(),
            "warnings": list(r.warnings),
            "decomposition": json_records(r.decomposition),
            "layer_support": json_records(r.layer_support),
            "distribution": json_records(r.distribution),
        }
        click.echo(json.dumps(payload, indent=2))
        return
    cur = sc.deal.currency
    console = _console()
    basis = f"yield {r.yield_:.4%}" if r.yield_ is not None else "the curve + spread"
    for warning in r.warnings:
        console.print(f"[bold red]warning:[/] {warning}")
    console.print(
        f"{sc.deal.name}: {r.form.replace('_', '-')} transfer, {r.paths:,} paths, at {basis}: "
        f"price {r.price:,.0f} {cur} (± {r.price_se:,.0f}) = {r.price_pct:.3f}% of par"
    )
    console.print(
        f"dirty {r.dirty:,.0f} {cur} = {r.price_pct:.3f}% of par; accrued interest at transfer "
        f"{r.accrued_interest:,.0f} = {r.accrued_pct:.3f}%; clean {r.clean:,.0f} = {r.clean_pct:.3f}%"
    )
    table = Table(title="decomposition", title_justify="left")
    for col in ("component", cur, "% of par"):
        table.add_column(col, justify="left" if col == "component" else "right")
    for row in r.decomposition.itertuples():
        table.add_row(row.component, f"{row.amount:,.0f}", f"{100 * row.share_of_par:.3f}")
    console.print(table)
    if len(r.layer_support):
        layers = Table(title="loss-sharing support by layer (added in order)", title_justify="left")
        for col in ("layer", "kind", cur, "% of par"):
            layers.add_column(col, justify="left" if col in ("layer", "kind") else "right")
        for row in r.layer_support.itertuples():
            layers.add_row(row.layer, row.kind, f"{row.amount:,.0f}", f"{100 * row.share_of_par:.3f}")  # fmt: skip
        console.print(layers)
    if r.seller is not None:
        seller = Table(title="the seller: capital and economics", title_justify="left")
        seller.add_column("item", justify="left")
        seller.add_column(cur, justify="right")
        for label, value in r.seller.rows():
            seller.add_row(label, f"{value:,.0f}")
        roc = r.seller.return_on_capital_relieved
        seller.add_row(
            "return on capital relieved",
            "none relieved (income right)" if roc is None else f"{roc:.2%}",
        )
        console.print(seller)
    dist = Table(title="distribution (PV of the buyer's cash flows; loss against the price)", title_justify="left")  # fmt: skip
    for col in ("quantile", "PV", "% of par", "buyer's loss"):
        dist.add_column(col, justify="right")
    for row in r.distribution.itertuples():
        dist.add_row(f"{row.quantile:g}", f"{row.pv:,.0f}", f"{row.pv_pct_of_par:.3f}", f"{row.buyer_loss:,.0f}")  # fmt: skip
    console.print(dist)


@click.command("stress")
@_SCENARIO
@click.option(
    "--stress",
    "stress_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stress file (e.g. scenarios/stress/regulatory.toml).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: runs/<scenario name>-stress).",
)
@_PATHS
@_SEED
@_importance_options
@_JSON
@cluster_option
def stress_command(scenario, stress_file, out_dir, paths, seed, importance, target, as_json):
    """Run SCENARIO's base case and every stress in the stress file on the same random draws;
    write the summaries (one Parquet dataset partitioned by stress) and the comparison."""
    from ipabs.api import load
    from ipabs.outputs.folder import check_out_dir
    from ipabs.outputs.writer import file_sha256, scenario_manifest
    from ipabs.results import json_records
    from ipabs.stress.definitions import load_stress_file
    from ipabs.stress.run import run_stresses, write_stress_run
    from ipabs.stress.targets import targets_rich_table

    _check_paths(paths)
    sc = _with_importance(load(scenario), importance, target)
    spec = load_stress_file(stress_file)
    out_dir = out_dir or Path("runs") / f"{scenario.stem}-stress"
    check_out_dir(out_dir)
    run = run_stresses(sc, spec, paths=paths, seed=seed, source=stress_file)
    info = scenario_manifest(sc, scenario, command="stress")
    info.update(
        {
            "stress_file": str(stress_file),
            "stress_file_sha256": file_sha256(stress_file),
            "paths": paths if paths is not None else sc.simulation.paths,
            "seed": seed if seed is not None else sc.simulation.seed,
            "stresses": list(run.results),
        }
    )
    write_stress_run(run, out_dir, info)
    if as_json:
        payload = {"deal": sc.deal.name, "out": str(out_dir), "comparison": json_records(run.comparison)}  # fmt: skip
        if run.reverse is not None:
            payload["reverse"] = json_records(run.reverse)
        if run.targets is not None:
            payload["targets"] = json_records(run.targets)
        click.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=f"{sc.deal.name}: stresses ({len(run.results)} runs, same paths)", title_justify="left")  # fmt: skip
    for col in ("stress", "tranche", "exp. loss", "P(loss)", "WAL y", "IRR mean", "price % par", "rating"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("stress", "tranche") else "right")
    for row in run.comparison.itertuples():
        table.add_row(
            row.stress, row.tranche, f"{row.expected_loss:.4%}", f"{row.prob_loss:.2%}",
            f"{row.wal_years:.2f}", f"{row.irr_mean:.2%}", f"{row.price_pct_par:.3f}", rating_statement(row._asdict()),
        )  # fmt: skip
    console = _console()
    console.print(table)
    if run.targets is not None:
        console.print(targets_rich_table(run.targets))
    console.print(f"written to {out_dir}/")


@click.command("report")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--stress",
    "stress_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stress file whose comparison the report includes.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default: reports/<scenario name>).",
)
@_PATHS
@_SEED
@click.option(
    "--check",
    "check_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Regenerate the report in this folder from its manifest and compare its numbers, manifest, HTML and charts.",
)
@click.option(
    "--lang",
    "langs",
    default="en",
    show_default=True,
    help="The report's languages: en, zh, or both as en,zh (one page each, from the same run).",
)
@click.option(
    "--pdf",
    is_flag=True,
    help="Also print each page to PDF with headless Chromium (report.<lang>.pdf).",
)
@cluster_option
def report_command(scenario, stress_file, out_dir, paths, seed, check_dir, langs, pdf):
    """Write a committee report of SCENARIO (with --stress, its stresses and their targets) to
    reports/<scenario>/ in English and/or Chinese, or --check an existing report: exit 1 if
    anything differs."""
    from ipabs.errors import UserError

    if check_dir is not None:
        _check_report(check_dir)
        return
    if scenario is None:
        raise UserError("give a SCENARIO to report on, or --check FOLDER")
    from ipabs.api import load
    from ipabs.outputs.folder import check_out_dir
    from ipabs.report.build import write_report
    from ipabs.stress.definitions import load_stress_file

    _check_paths(paths)
    languages = _report_languages(langs)
    sc = load(scenario)  # importance sampling comes from the file, which --check compares with
    if stress_file is not None:
        load_stress_file(stress_file)  # bad stress input is refused before any work
    if pdf:
        from ipabs.report.pdf import find_browser

        find_browser()  # no browser: say how to get one before any work
    out_dir = out_dir or Path("reports") / scenario.stem
    check_out_dir(out_dir)
    written = write_report(
        sc, scenario, out_dir, paths=paths, seed=seed, stress_file=stress_file, langs=languages,
        pdf=pdf,
    )  # fmt: skip
    for path in written:
        _console().print(f"report written to {path}", markup=False)


def _report_languages(text: str) -> tuple[str, ...]:
    """--lang: a comma-separated list of report languages, each once."""
    from ipabs.errors import Problem, UserError
    from ipabs.report.i18n import LANGUAGES

    aliases = {"zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "cn": "zh", "en-us": "en", "en-gb": "en"}  # fmt: skip
    parts = (part.strip() for part in text.split(",") if part.strip())
    langs = tuple(dict.fromkeys(aliases.get(part.lower(), part) for part in parts))
    bad = [lang for lang in langs if lang not in LANGUAGES]
    if bad or not langs:
        import difflib

        hint = (
            difflib.get_close_matches(bad[0].lower(), list(LANGUAGES), n=1, cutoff=0.5)
            if bad
            else []
        )
        raise UserError(
            "invalid --lang",
            problems=(
                Problem(
                    "--lang",
                    f"a report language is one of {', '.join(LANGUAGES)} (or both: en,zh)"
                    + (f"; did you mean '{hint[0]}'?" if hint else ""),
                    text,
                    True,
                ),
            ),
        )
    return langs


def _check_report(folder: Path) -> None:
    """`ipabs report --check FOLDER`: print each difference and exit 1 on any."""
    from ipabs.report.build import CROSS_PLATFORM_RTOL
    from ipabs.report.check import check_report

    result = check_report(folder)
    console = _console()
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.differences:
        for line in result.differences[:200]:
            console.print(line, markup=False)
        console.print(f"{len(result.differences)} difference(s): the report does not reproduce", markup=False)  # fmt: skip
        raise SystemExit(1)
    how = (
        "compared exactly (same platform): the same numbers and the same HTML and chart bytes"
        if result.same_platform
        else f"compared across platforms: numbers to a relative {CROSS_PLATFORM_RTOL:g}, the HTML without its chart drawings"
    )  # fmt: skip
    pages = ", ".join(f"report.{lang}.html" for lang in result.languages)
    console.print(f"{folder}: every number reproduces, and the manifest and the pages ({pages}) match; {how}", markup=False)  # fmt: skip
