"""Every class of bad input, driven through the CLI as a user would: one clear message naming the
file, the key path, the bad value and what is allowed; exit code 2; no traceback; nothing written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import run_cli, run_cli_in_process, small_deal, write_scenario


def _run_bad(tmp_path: Path, data_or_text, *extra: str) -> tuple[str, Path]:
    if isinstance(data_or_text, str):
        scenario = tmp_path / "deal.toml"
        scenario.write_text(data_or_text)
    else:
        scenario = write_scenario(tmp_path, data_or_text)
    out = tmp_path / "out"
    proc = run_cli_in_process("run", scenario, "--out", out, *extra, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not out.exists(), "nothing may be written for bad input"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deal.toml"], "no stray files"
    assert str(scenario) in proc.stderr or "--" in " ".join(extra)
    return " ".join(proc.stderr.split()), scenario


def _with(path: str, value, data=None):
    """small_deal() with one value replaced at a dotted path like 'tranches.1.coupon'."""
    data = data or small_deal()
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "tranches.1.coupon",
            -0.01,
            ["tranches[1].coupon", 'name = "B"', "-0.01", "greater than or equal to 0"],
        ),
        ("tranches.0.balance", -5.0, ["tranches[0].balance", "-5.0", "greater than 0"]),
        (
            "assets.0.base_annual_income",
            -1.0,
            ["assets[0].base_annual_income", "greater than or equal to 0"],
        ),
        (
            "licensees.1.annual_default_probability",
            1.5,
            ["licensees[1].annual_default_probability", "1.5", "less than or equal to 1"],
        ),
        (
            "licensees.0.recovery_rate",
            -0.2,
            ["licensees[0].recovery_rate", "greater than or equal to 0"],
        ),
        (
            "tranches.0.coupon",
            "three percent",
            ["tranches[0].coupon", "'three percent'", "valid number"],
        ),
        ("simulation.paths", "many", ["simulation.paths", "valid integer"]),
        ("simulation.paths", 0, ["simulation.paths", "= 0", "greater than or equal to 1"]),
        (
            "licensees.0.annual_default_probability",
            math.nan,
            ["licensees[0].annual_default_probability", "nan", "finite number"],
        ),
        ("assets.2.volatility", math.inf, ["assets[2].volatility", "inf", "finite number"]),
        (
            "deal.payment_frequency",
            "weekly",
            ["deal.payment_frequency", "'weekly'", "monthly", "quarterly"],
        ),
        ("deal.legal_final_date", _DELETE, ["deal.legal_final_date", "required key is missing"]),
        ("pricing", _DELETE, ["pricing", "required key is missing"]),
    ],
)
def test_value_errors_name_path_value_and_rule(tmp_path, path, value, expected):
    message, _ = _run_bad(tmp_path, _with(path, value))
    for piece in expected:
        assert piece in message, (piece, message)


def test_misspelt_key_suggests_the_right_one(tmp_path):
    data = small_deal()
    data["assets"][1]["licencee"] = data["assets"][1].pop("licensee")
    message, _ = _run_bad(tmp_path, data)
    assert "assets[1].licencee" in message
    assert "unknown key; did you mean 'licensee'?" in message


def test_asset_without_licensee_must_be_pledged(tmp_path):
    data = small_deal()
    del data["assets"][1]["licensee"]
    message, _ = _run_bad(tmp_path, data)
    assert 'assets[1].licensee (id = "P2"): required key is missing' in message
    assert "must be pledged by a loan" in message


def test_misspelt_table_suggests_the_right_one(tmp_path):
    data = small_deal()
    data["reserv"] = data.pop("reserve")
    message, _ = _run_bad(tmp_path, data)
    assert "reserv: unknown key; did you mean 'reserve'?" in message


def test_toml_syntax_error_gives_line_and_column(tmp_path):
    text = 'format_version = 1\n[deal]\nname = "x"\nclosing_date = 2024-01-15\ncurrency = CNY\n'
    message, scenario = _run_bad(tmp_path, text)
    assert f"{scenario}:5:12" in message
    assert "TOML syntax error" in message


def test_correlation_not_positive_semidefinite(tmp_path):
    data = small_deal(
        factors={
            "names": ["a", "b", "c"],
            "correlation": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]],
        }
    )
    message, _ = _run_bad(tmp_path, data)
    assert "factors.correlation" in message and "not positive semi-definite" in message
    assert "smallest eigenvalue" in message


def test_correlation_wrong_shape_and_asymmetric(tmp_path):
    message, _ = _run_bad(
        tmp_path, small_deal(factors={"names": ["a", "b"], "correlation": [[1.0, 0.2], [0.3, 1.0]]})
    )
    assert "factors.correlation[0][1]" in message and "symmetric" in message
    message, _ = _run_bad(
        tmp_path, small_deal(factors={"names": ["a", "b"], "correlation": [[1.0]]})
    )
    assert "2x2 matrix" in message


def test_unknown_licensee_reference_with_suggestion(tmp_path):
    message, _ = _run_bad(tmp_path, _with("assets.3.licensee", "L4"))
    assert (
        "assets[3].licensee" in message
        and "'L4'" in message
        and "no licensee has this id" in message
    )
    assert "Known licensees: L1, L2, L3" in message


def test_unknown_factor_reference(tmp_path):
    message, _ = _run_bad(tmp_path, _with("licensees.0.factor", "tec"))
    assert "licensees[0].factor" in message and "did you mean 'tech'?" in message


@pytest.mark.parametrize(
    ("table", "key"),
    [("assets", "id"), ("licensees", "id"), ("tranches", "name")],
)
def test_duplicate_ids(tmp_path, table, key):
    data = small_deal()
    data[table][1][key] = data[table][0][key]
    message, _ = _run_bad(tmp_path, data)
    assert (
        f"{table}[1].{key}" in message and f"duplicate {key}; already used by {table}[0]" in message
    )


def test_legal_final_before_closing(tmp_path):
    message, _ = _run_bad(
        tmp_path, _with("deal.legal_final_date", small_deal()["deal"]["closing_date"])
    )
    assert "deal.legal_final_date" in message and "must be after deal.closing_date" in message


def test_amortisation_beyond_balance(tmp_path):
    import datetime as dt

    data = _with(
        "tranches.0.amortisation", [{"date": dt.date(2025, 1, 15), "principal": 20_000_000.0}]
    )
    message, _ = _run_bad(tmp_path, data)
    assert "tranches[0].amortisation" in message and "more than the balance" in message


def test_zero_paths_from_the_command_line(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli("run", scenario, "--paths", "0", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "simulation.paths = 0" in proc.stderr and "greater than or equal to 1" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_bad_option_types_are_usage_errors(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli("run", scenario, "--paths", "ten", "--out", tmp_path / "out")
    assert (
        proc.returncode == 2
        and "Traceback" not in proc.stderr
        and "'ten' is not a valid integer" in proc.stderr
    )
    proc = run_cli("run", scenario, "--threads", "999", "--out", tmp_path / "out")
    assert proc.returncode == 2 and "threads must be between 1 and" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    proc = run_cli("run", tmp_path / "nope.toml")
    assert (
        proc.returncode == 2
        and "nope.toml: file not found" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_path_count_over_the_limit_is_refused_with_the_estimate(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli_in_process(
        "run", scenario, "--paths", str(2_000_000_000), "--out", tmp_path / "out"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    text = " ".join(proc.stderr.split())
    assert (
        "run refused: estimated about" in text
        and "GiB of memory" in text
        and "--allow-large" in text
    )
    assert "simulation.paths = 2000000000" in text
    assert not (tmp_path / "out").exists()


def test_allow_large_overrides_the_limit(tmp_path, monkeypatch):
    """The flag lifts the limit: with the limit lowered below a small run, the run is refused
    without the flag and goes through with it (in-process, so the limit can be lowered)."""
    from ipabs import cli
    from ipabs.engine import limits

    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 1000)
    scenario = write_scenario(tmp_path, small_deal())
    with pytest.raises(SystemExit) as refused:
        cli.main(
            [
                "run",
                str(scenario),
                "--paths",
                "50",
                "--out",
                str(tmp_path / "out1"),
                "--quiet",
                "--no-charts",
            ]
        )
    assert refused.value.code == 2 and not (tmp_path / "out1").exists()
    with pytest.raises(SystemExit) as ran:
        cli.main(
            [
                "run",
                str(scenario),
                "--paths",
                "50",
                "--out",
                str(tmp_path / "out2"),
                "--quiet",
                "--no-charts",
                "--allow-large",
            ]
        )
    assert ran.value.code == 0 and (tmp_path / "out2" / "summary.parquet").is_file()


def test_validate_reports_each_file(tmp_path):
    good = write_scenario(tmp_path, small_deal(), "good.toml")
    bad = write_scenario(tmp_path, _with("tranches.0.coupon", -1.0), "bad.toml")
    proc = run_cli_in_process("validate", good, bad)
    assert proc.returncode == 2
    assert f"{good}: ok" in proc.stdout
    assert str(bad) in proc.stderr and "tranches[0].coupon" in proc.stderr
    proc = run_cli_in_process("validate", good)
    assert proc.returncode == 0


def test_credit_support_must_cover_known_tranches(tmp_path):
    data = small_deal(credit_support=[{"kind": "differential_payment", "covers": ["A", "sbu"]}])
    message, _ = _run_bad(tmp_path, data)
    assert (
        "credit_support[0].covers[1] = 'sbu': no tranche has this id; did you mean 'sub'?"
        in message
    )


def test_tranche_coupon_options_are_checked(tmp_path):
    message, _ = _run_bad(tmp_path, _with("tranches.0.coupon_type", "lpr"))
    assert "rates.lpr_1y: required key is missing: tranche A floats on the 1-year LPR" in message
    message, _ = _run_bad(tmp_path, _with("tranches.1.step_up_coupon", 0.05))
    assert 'tranches[1] (name = "B"): step_up_date and step_up_coupon go together' in message


def test_the_subordinated_rank_holds_one_class(tmp_path):
    # senior classes may share a rank (pro rata), the lowest rank may not: it takes the residual
    data = small_deal()
    data["tranches"][1]["rank"] = 3
    message, _ = _run_bad(tmp_path, data)
    assert (
        "tranches[2].rank = 3: the lowest rank takes the residual and must hold one class"
        in message
    )


def test_a_chinese_class_name_is_pointed_to_display_name(tmp_path):
    """Ids stay ASCII (files, JSON, key paths); the message says so in words, not as a regex,
    and says where a Chinese name goes."""
    message, _ = _run_bad(tmp_path, _with("tranches.0.name", "优先A级"))
    assert "tranches[0].name" in message and "'优先A级'" in message
    assert "ASCII letters, digits" in message and "display_name" in message
    assert "pattern" not in message and "^[" not in message
