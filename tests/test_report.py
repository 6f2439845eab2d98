"""`ipabs report`: a self-contained, escaped HTML report with its data, and `--check`, which
reproduces every number from the manifest and fails on any difference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import REPO, run_cli, run_cli_in_process, small_deal, write_scenario

STRESS = '[[stress]]\nname = "pd_x2"\npresets = [{ apply = "default_multiplier", level = 1.0 }]\n'


def make_report(tmp_path, name="test deal", langs="en"):
    data = small_deal()
    data["deal"]["name"] = name
    scenario = write_scenario(tmp_path, data)
    stress = tmp_path / "stress.toml"
    stress.write_text(STRESS)
    out = tmp_path / "report"
    proc = run_cli("report", scenario, "--stress", stress, "--paths", "200", "--out", out, "--lang", langs)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


HOSTILE = '<script>alert("x")</script> & 中关村 “知识产权” {cls} %s'


def test_report_is_self_contained_and_escapes_scenario_text_in_both_languages(tmp_path):
    out = make_report(tmp_path, name=HOSTILE, langs="en,zh")
    for lang, html_lang, summary in (("en", "en", "Summary"), ("zh", "zh-Hans", "摘要")):
        text = (out / f"report.{lang}.html").read_text(encoding="utf-8")
        assert f'<html lang="{html_lang}">' in text
        assert "<script" not in text  # the deal name is escaped, and the report has no scripts
        # escaped, and not run through str.format or %-formatting (its braces and %s stay)
        assert (
            "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; 中关村 “知识产权” {cls} %s"
            in text
        )
        # no external files or network loads: only the SVGs' internal #fragment, the page's own
        # #anchors and data: references (the embedded font)
        assert not re.search(r"(?<![\w-])(src|href)\s*=\s*[\"'](?!#|data:)", text)
        assert "@font-face" in text and "data:font/woff;base64," in text
        assert text.count("<svg") == 6  # losses, collections, balances, coverage, cash, heatmap
        for anchor in ("summary", "transaction", "pool", "base-case", "stresses", "assumptions", "appendix"):  # fmt: skip
            assert f'<section id="{anchor}">' in text
        assert f"1. {summary}</h2>" in text
        assert len(list((out / "charts" / lang).glob("*.png"))) == 6
    data = sorted(p.name for p in (out / "data").iterdir())
    for name in ("summary", "pool", "periods", "classes", "stress_comparison"):
        assert f"{name}.parquet" in data
    comparison = pd.read_parquet(out / "data" / "stress_comparison.parquet")
    assert set(comparison["stress"]) == {"base", "pd_x2"}
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("scenario_file", "stress_file"):  # relative to the folder it was written from
        assert not Path(manifest[key]).is_absolute() and "\\" not in manifest[key]
        assert (Path.cwd() / manifest[key]).resolve() == (
            tmp_path / Path(manifest[key]).name
        ).resolve()


def test_check_reproduces_every_number_and_catches_a_change(tmp_path):
    out = make_report(tmp_path)
    proc = run_cli("report", "--check", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every number reproduces" in proc.stdout
    path = out / "data" / "summary.parquet"
    frame = pd.read_parquet(path)
    frame.loc[1, "prob_loss"] += 0.01
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    proc = run_cli("report", "--check", out)
    assert proc.returncode == 1
    assert "summary row 1 prob_loss" in proc.stdout and "1 difference(s)" in proc.stdout


def test_report_input_errors(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli("report", "--check", tmp_path)
    assert proc.returncode == 2 and "not an ipabs report folder" in proc.stderr
    proc = run_cli("report")
    assert proc.returncode == 2 and "give a SCENARIO" in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stress]]\nname = "x"\npresets = [{ apply = "nope", level = 1 }]\n')
    proc = run_cli("report", scenario, "--stress", bad, "--out", tmp_path / "r")
    assert proc.returncode == 2 and "stress[0].presets[0].apply" in " ".join(proc.stderr.split())
    assert not (tmp_path / "r").exists()


def test_regenerating_a_report_writes_the_same_html_bytes(tmp_path):
    # chart SVGs carry no random ids or dates, so the same scenario gives the same file
    scenario = write_scenario(tmp_path, small_deal())
    pages = []
    out = tmp_path / "one"
    for _ in range(2):  # the page names its own folder (the command that writes it again)
        proc = run_cli("report", scenario, "--paths", "200", "--out", out)
        assert proc.returncode == 0, proc.stderr
        pages.append((out / "report.en.html").read_bytes())
    assert pages[0] == pages[1]


def test_stress_heatmap_orders_classes_by_rank_not_alphabet():
    from ipabs.report.charts import heatmap as _heatmap

    comparison = pd.DataFrame(
        {
            "stress": ["base"] * 3 + ["pd_x2"] * 3,
            "tranche": ["senior", "mezzanine", "equity"] * 2,  # by rank; alphabetical is reversed
            "expected_loss": [0.0, 0.01, 0.2, 0.001, 0.05, 0.4],
        }
    )
    fig = _heatmap(comparison)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["senior", "mezzanine", "equity"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["base", "pd_x2"]
    assert ax.images[0].get_array()[1, 2] == pytest.approx(40.0)  # pd_x2, equity, in percent


def test_cash_chart_labels_fit_inside_the_figure():
    """The report's "where the cash went" labels were clipped ("ezzanine interest")."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import ipabs
    from ipabs.report.charts import cash_uses as _cash_uses
    from ipabs.scenario.load import validate

    long_name = "mezzanine_class_with_a_long_name"
    data = small_deal()
    data["tranches"][1]["display_name"] = long_name
    results = ipabs.simulate(validate(data), paths=200, seed=1, progress=False)
    fig = _cash_uses(results)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    labels = fig.axes[0].get_yticklabels()
    assert any(long_name in t.get_text() for t in labels)
    renderer = canvas.get_renderer()
    assert min(t.get_window_extent(renderer).x0 for t in labels) >= 0.0  # nothing cut off


def test_chinese_pages_use_the_chinese_names_and_english_pages_the_english(tmp_path):
    data = small_deal()
    data["deal"]["name"] = "Test Deal 2022-1"
    data["deal"]["name_zh"] = "测试专项计划（2022年第1期）"
    data["tranches"][0]["display_name"] = "Senior A"
    data["tranches"][0]["display_name_zh"] = "优先A级"
    scenario = write_scenario(tmp_path, data)
    out = tmp_path / "r"
    proc = run_cli("report", scenario, "--paths", "100", "--lang", "en,zh", "--out", out)
    assert proc.returncode == 0, proc.stderr
    en = (out / "report.en.html").read_text(encoding="utf-8")
    zh = (out / "report.zh.html").read_text(encoding="utf-8")
    assert "<h1>Test Deal 2022-1</h1>" in en and "<h1>测试专项计划（2022年第1期）</h1>" in zh
    assert ">Senior A</td>" in en and "优先A级" not in en
    assert ">优先A级</td>" in zh and ">Senior A</td>" not in zh


def test_two_classes_with_the_same_chinese_name_are_refused(tmp_path):
    data = small_deal()
    data["tranches"][0]["display_name_zh"] = "优先级"
    data["tranches"][1]["display_name_zh"] = "优先级"
    scenario = write_scenario(tmp_path, data)
    proc = run_cli_in_process("validate", scenario)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert "tranches[1].display_name_zh" in message and "(Chinese pages)" in message


def test_coverage_chart_leaves_out_periods_after_the_notes_are_repaid():
    """The coverage chart dived to 0.01x after the notes were repaid (the combined-pledge pool's
    one-year loans stop paying while fees go on: 0x coverage of fees alone). Periods where fewer
    than COVERAGE_MIN_SHARE of the paths still have a class above the subordinated outstanding
    are blank; the others are drawn as the periods table has them."""
    import numpy as np
    from matplotlib.figure import Figure

    import ipabs
    from ipabs.outputs.charts import plot_coverage

    scenario = REPO / "scenarios" / "beijing_combined_pledge_loans.toml"
    results = ipabs.simulate(scenario, paths=300, progress=False)
    periods = results.periods
    ax = plot_coverage(results, Figure().add_subplot())
    median = np.asarray(ax.get_lines()[0].get_ydata(), dtype=float)
    rated = results.deal.tranche_names[:-1]  # the classes above the subordinated
    balances = periods[[f"balance_{n}_p95" for n in rated]].to_numpy()
    repaid = np.append(False, (balances[:-1] == 0.0).all(axis=1))
    assert repaid.any() and (~repaid).any()
    assert (periods["coverage_p50"].to_numpy()[repaid] == 0.0).all()  # the dive, in the data
    assert np.isnan(median[repaid]).all()  # not drawn
    drawn = ~repaid
    assert np.allclose(median[drawn], np.maximum(periods["coverage_p50"].to_numpy()[drawn], 1e-2))


def test_the_reverse_stress_target_is_worded_from_its_fields(tmp_path):
    """The reverse stress's target reaches the page from the breakeven rows' own fields
    (target_metric, target_limit, target_rating), in each language, not from its English text."""
    scenario = write_scenario(tmp_path, small_deal())
    stress = tmp_path / "reverse.toml"
    stress.write_text('[reverse]\nstresses = ["default_multiplier"]\nexpected_loss = 0.01\n')
    out = tmp_path / "r"
    proc = run_cli("report", scenario, "--stress", stress, "--paths", "200", "--lang", "en,zh", "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    reverse = pd.read_parquet(out / "data" / "reverse.parquet")
    assert set(reverse["target_metric"]) == {"expected_loss"}
    assert (reverse["target_limit"] == 0.01).all() and (reverse["target_rating"] == "").all()
    en = (out / "report.en.html").read_text(encoding="utf-8")
    zh = (out / "report.zh.html").read_text(encoding="utf-8")
    assert "expected loss at most 1.00% (95% upper bound)" in en
    assert "预期损失不超过1.00%（95%置信上限）" in zh
