"""What a notebook shows: the summary indexed by class, a compact view with units, display names,
HTML reprs of every result, progress per block, and the kernel cache's key and first-run notice."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import small_deal

import ipabs
from ipabs import _kernel_cache
from ipabs.errors import ScenarioError
from ipabs.outputs import progress as progress_mod
from ipabs.scenario.load import validate

ROOT = Path(__file__).resolve().parents[1]
TRUST = ROOT / "scenarios" / "beijing_ip_trust.toml"
TRANSFER = ROOT / "scenarios" / "beijing_ip_pledge_loan_transfer.toml"


@pytest.fixture(scope="module")
def small():
    sc = validate(small_deal()).replace({"tranches[name=A].display_name": "优先A级"})
    return ipabs.simulate(sc, paths=1500, seed=3, progress=False)


@pytest.fixture(scope="module")
def trust():
    return ipabs.simulate(ipabs.load(TRUST), paths=1500, seed=3, progress=False)


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def test_summary_is_indexed_by_class_and_periods_by_payment_date(small):
    s = small.summary
    assert s.index.name == "class" and list(s.index) == list(s["tranche"])
    assert s.loc["A", "rank"] == 1
    p = small.periods
    assert isinstance(p.index, pd.DatetimeIndex) and p.index.name == "payment_date"
    assert (p.index == pd.DatetimeIndex(p["date"])).all()
    assert p.index.is_monotonic_increasing


def test_compact_view_scales_to_the_units_its_headers_state(small):
    view, s = small.view(), small.summary
    assert list(view.index) == ["优先A级", *list(s["tranche"])[1:]]  # display names
    np.testing.assert_allclose(view["Expected loss (%)"], 100 * s["expected_loss"])
    np.testing.assert_allclose(view["P(loss) s.e. (%)"], 100 * s["prob_loss_se"])
    np.testing.assert_allclose(view["Balance (CNY m)"], s["balance"] / 1e6)
    np.testing.assert_allclose(view["Price (% of par)"], s["price_pct_par"])
    assert "Distribution yield (%)" not in view.columns  # not a trust
    assert small.view("full") is s
    with pytest.raises(ValueError, match="compact' or 'full"):
        small.view("wide")


def test_a_trust_view_has_its_yield_and_shortfall(trust):
    view = trust.view()
    s = trust.summary
    np.testing.assert_allclose(view["Distribution yield (%)"], 100 * s["distribution_yield_mean"])
    np.testing.assert_allclose(view["P(yield shortfall) (%)"], 100 * s["prob_shortfall"])
    markup = _text(trust._repr_html_())
    assert "Distribution yield (%)" in markup and "±" in markup


def test_results_html_has_units_and_no_exponent_notation(small):
    markup = small._repr_html_()
    text = _text(markup)
    for unit in ("Balance (CNY m)", "Coupon (%)", "WAL (years)", "Price (% of par)", "优先A级"):
        assert unit in text
    assert not re.search(r"\d e\+\d", text.replace("e+", " e+"))  # no 6e+07 balances


def test_display_names_label_the_charts(small):
    import matplotlib

    matplotlib.use("Agg")
    ax = small.plot_balances()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "优先A级" in labels and "A" not in labels


@pytest.mark.parametrize("bad", ["", "line\nbreak", "x" * 81])
def test_a_display_name_is_checked_like_any_value(bad):
    with pytest.raises(ScenarioError, match=r"tranches\[0\]\.display_name"):
        validate(small_deal()).replace({"tranches[name=A].display_name": bad})


def test_solver_results_render_with_units():
    sc = validate(small_deal())
    table = ipabs.sweep(sc, {"tranches[name=A].coupon": [0.03, 0.05]}, paths=600, progress=False)
    assert isinstance(table, pd.DataFrame) and len(table) == 2 * len(sc.tranches)
    assert type(table.head()) is pd.DataFrame  # operations give plain DataFrames
    text = _text(table._repr_html_())
    assert "Expected loss (%)" in text and "±" in text
    be = ipabs.breakeven(sc, paths=600, stresses=("default_multiplier",))
    text = _text(be._repr_html_())
    assert "level_means" in text and "Expected loss at breakeven (%)" in text
    sized = ipabs.size(sc, "A", expected_loss=0.05, paths=600)
    assert len(repr(sized)) < 400  # no scenario dump
    text = _text(sized._repr_html_())
    assert "balance (CNY m)" in text and "The classes at that size" in text


def test_price_result_renders_with_units():
    priced = ipabs.price(TRANSFER, paths=400)
    text = _text(priced._repr_html_())
    assert "price (% of par)" in text and "share of par (%)" in text
    assert f"{priced.price_pct:.3f}" in text
    assert "% of par" in repr(priced)


def test_progress_is_reported_per_block_and_ends_at_the_total():
    seen = []
    ipabs.simulate(
        validate(small_deal()), paths=1000, block_size=100, threads=2, progress=lambda d, t: seen.append((d, t))
    )  # fmt: skip
    assert len(seen) == 10 and seen[-1] == (1000, 1000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_is_silent_in_ci_and_when_no_one_watches(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert progress_mod.where_shown() is None
    assert progress_mod.resolve("auto", 10) == (None, None)
    monkeypatch.delenv("CI")
    monkeypatch.setattr("sys.stderr", open("/dev/null", "w"))  # not a terminal, no notebook
    assert progress_mod.where_shown() is None
    bar, callback = progress_mod.resolve(True, 10)
    assert bar is not None and callback == bar.update


def test_a_notebook_bar_updates_one_display_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    import IPython.display

    monkeypatch.setattr(
        IPython.display, "display", lambda obj, display_id: shown.append(obj.data) or Handle()
    )
    with progress_mod.Bar(400, kind="notebook") as bar:
        for done in (100, 200, 400):
            bar.update(done, 400)
    assert 2 <= len(shown) <= 4 and "100% (400/400 paths)" in shown[-1]  # redraws throttled


@pytest.mark.parametrize("bad", ["yes", 1, 0, 1.0])
def test_bad_progress_values_are_refused(bad):
    with pytest.raises(ScenarioError, match="progress must be"):
        ipabs.simulate(validate(small_deal()), paths=10, progress=bad)
    with pytest.raises(ScenarioError, match="progress must be"):
        ipabs.sweep(validate(small_deal()), {"tranches[name=A].coupon": [0.03]}, progress=bad)


def test_none_or_false_shows_no_bar_even_when_asked_to_be_seen(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress_mod, "where_shown", lambda: "terminal")
    assert progress_mod.resolve(None, 10) == (None, None)
    assert progress_mod.resolve(False, 10) == (None, None)
    assert progress_mod.resolve("auto", 10)[0].kind == "terminal"


def test_a_run_that_stops_early_leaves_a_full_bar(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id: Handle())
    with progress_mod.Bar(1000, kind="notebook") as bar:
        bar.update(300, 1000)  # a --rel-se run met its target after 300 of 1,000 paths
    assert "100% (300/300 paths)" in shown[-1]


def test_sweep_and_breakeven_tables_pickle():
    import pickle

    sc = validate(small_deal())
    table = ipabs.sweep(sc, {"tranches[name=A].coupon": [0.03]}, paths=200, progress=False)
    again = pickle.loads(pickle.dumps(table))
    assert again.equals(table) and "Expected loss (%)" in again._repr_html_()


def test_two_classes_cannot_look_alike_in_a_table():
    with pytest.raises(ScenarioError, match=r"tranches\[1\]\.name = 'B': shows as 'B'"):
        validate(small_deal()).replace({"tranches[name=A].display_name": "B"})
    with pytest.raises(ScenarioError, match=r"tranches\[1\]\.display_name"):
        validate(small_deal()).replace(
            {"tranches[name=A].display_name": "优先级", "tranches[name=B].display_name": "优先级"}
        )


def test_the_pool_note_speaks_of_loans_for_a_loan_book():
    results = ipabs.simulate(ipabs.load(TRANSFER), paths=400, seed=2, progress=False)
    text = _text(results._repr_html_())
    assert "Loans: net loss" in text and "Licence income lost" not in text


# -- the kernel cache --------------------------------------------------------------------------


def _kernel_functions(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            "njit" in ast.unparse(d) for d in node.decorator_list
        ):
            yield node


def test_kernels_read_no_global_from_outside_the_kernel_modules():
    """The cache is keyed on the kernel modules only (ipabs/_kernel_cache.py), which is sound
    while no kernel reads a name that a non-kernel module defines."""
    package = ROOT / "ipabs"
    kernel_files = set(_kernel_cache.kernel_modules())
    kernel_names = {
        "ipabs." + p.relative_to(package).with_suffix("").as_posix().replace("/", ".")
        for p in kernel_files
    }
    assert {"ipabs.engine.run", "ipabs.structures.waterfall"} <= kernel_names
    for path in kernel_files:
        tree = ast.parse(path.read_text("utf-8"))
        foreign = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ipabs"):
                if node.module not in kernel_names:
                    foreign |= {a.asname or a.name for a in node.names}
        for fn in _kernel_functions(tree):
            used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
            assert not used & foreign, f"{path.name}:{fn.name} uses {used & foreign}"


def test_modules_defining_kernel_argument_types_are_in_the_cache_key():
    """Numba keys a NamedTuple argument by class and field types, not field names: a swap of two
    fields of one type in structures/program.py must change the cache folder."""
    keyed = {p.relative_to(ROOT / "ipabs").as_posix() for p in _kernel_cache.kernel_modules()}
    assert {"structures/program.py", "pool/compile.py", "pool/loans.py"} <= keyed
    assert "cli.py" not in keyed and "report/build.py" not in keyed


def test_cache_key_changes_with_a_kernel_and_not_with_the_command_line(tmp_path, monkeypatch):
    copy = tmp_path / "ipabs"
    shutil.copytree(ROOT / "ipabs", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_kernel_cache, "PACKAGE", copy)
    before = _kernel_cache.source_hash()
    (copy / "cli.py").write_text((copy / "cli.py").read_text() + "\n# an edit\n")
    assert _kernel_cache.source_hash() == before
    (copy / "structures" / "waterfall.py").write_text(
        (copy / "structures" / "waterfall.py").read_text() + "\n# an edit\n"
    )
    changed = _kernel_cache.source_hash()
    assert changed != before
    (copy / "structures" / "program.py").write_text(
        (copy / "structures" / "program.py").read_text() + "\n# an edit\n"
    )
    assert _kernel_cache.source_hash() != changed


def test_is_compiled_tells_a_compiled_signature_from_a_new_one(small, capsys):
    from ipabs.engine.rng import seed_stream

    state = np.empty(4, np.uint64)
    seed_stream(state, 1, 2)
    assert _kernel_cache.is_compiled(seed_stream, (state, 1, 2))
    assert not _kernel_cache.is_compiled(seed_stream, (state, 1.5, "x"))  # never compiled
    monkey = _kernel_cache._noticed
    try:
        _kernel_cache._noticed = False
        _kernel_cache.notice_compiling()
        _kernel_cache.notice_compiling()
    finally:
        _kernel_cache._noticed = monkey
    err = capsys.readouterr().err
    assert err.count("compiling the simulation kernels") == 1
