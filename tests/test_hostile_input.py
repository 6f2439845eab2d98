"""Hostile input (issue 11, "Unsafe edges"): absurd amounts, non-finite results, deep nesting,
device files, tapes outside the scenario's folder or not regular files, NaN and "yes" in tapes,
short CSV rows, quadratic validation, and bad arguments to the Python API. Each is refused with
a `ScenarioError` (exit 2 from the CLI) that names the key, the value and what is allowed."""

from __future__ import annotations

import copy
import datetime as dt
import os
import time
import tomllib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import FLAGSHIP, run_cli, small_deal, write_scenario

import ipabs
from ipabs.errors import InternalError
from ipabs.scenario import load as load_module
from ipabs.scenario import tapes as tapes_module
from ipabs.scenario.base import MAX_AMOUNT
from ipabs.scenario.load import check_consistency, validate
from ipabs.scenario.model import Scenario

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev")


def problems_of(exc: ipabs.ScenarioError) -> str:
    return exc.value.render()


# ---------------------------------------------------------------------------------------------
# A. amounts are bounded; results are finite or an internal error


@pytest.mark.parametrize(
    ("section", "change", "path"),
    [
        ("assets", lambda d: d["assets"][0].update(base_annual_income=1e300), "assets[0].base_annual_income"),
        ("tranches", lambda d: d["tranches"][0].update(balance=1e308), "tranches[0].balance"),
        ("fees", lambda d: d["fees"].update(fixed_per_year=2e15), "fees.fixed_per_year"),
        ("reserve", lambda d: d["reserve"].update(target=1e20), "reserve.target"),
    ],
)  # fmt: skip
def test_an_amount_above_the_bound_is_refused_with_its_key(section, change, path):
    data = small_deal()
    change(data)
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data)
    text = problems_of(exc)
    assert path in text and "must be at most 1e+15" in text


def test_amounts_at_the_bound_are_accepted_and_give_the_same_results_as_at_any_scale():
    """The bound leaves room: the test deal scaled so that its largest amount is MAX_AMOUNT has
    the same losses, prices and IRRs as the deal itself (the engine does not depend on scale)."""
    base = small_deal(simulation={"paths": 300, "seed": 3})
    scaled = copy.deepcopy(base)
    k = MAX_AMOUNT / max(t["balance"] for t in base["tranches"])
    for a in scaled["assets"]:
        a["base_annual_income"] *= k
    for t in scaled["tranches"]:
        t["balance"] *= k
    scaled["fees"]["fixed_per_year"] *= k
    scaled["reserve"] = {key: v * k for key, v in scaled["reserve"].items()}
    a = ipabs.simulate(validate(base), threads=1).summary
    b = ipabs.simulate(validate(scaled), threads=1).summary
    for column in ("expected_loss", "prob_loss", "price_pct_par", "irr_mean"):
        assert np.allclose(a[column], b[column], rtol=1e-9, atol=1e-12), column
    assert list(a["implied_rating"]) == list(b["implied_rating"])


def test_a_deal_longer_than_a_hundred_years_is_refused():
    data = small_deal()
    data["deal"]["legal_final_date"] = dt.date(2125, 1, 16)
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data)
    assert "deal.legal_final_date" in problems_of(exc) and "at most 100 years" in problems_of(exc)


@pytest.mark.parametrize("closing", [dt.date(1, 1, 1), dt.date(9999, 6, 30)])
def test_a_closing_date_outside_1900_to_2200_is_refused_before_any_date_arithmetic(closing):
    data = small_deal()
    data["deal"].update(closing_date=closing, legal_final_date=closing + dt.timedelta(days=180))
    data["loans"] = [{"id": "X", "balance": 1e6, "rate": 0.05, "term_years": 30, "ltv": 0.5,
                      "annual_default_probability": 0.02, "amortisation": "custom",
                      "schedule": [{"date": closing + dt.timedelta(days=90), "principal": 1e5}]}]  # fmt: skip
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data)
    assert "deal.closing_date" in problems_of(
        exc
    ) and "from 1900-01-01 to 2200-12-31" in problems_of(exc)


@pytest.mark.parametrize("balance", ["x", [1], {"a": 1}])
def test_a_transfer_with_a_loan_balance_of_the_wrong_type_is_refused(balance):
    data = tomllib.loads((FLAGSHIP.parent / "beijing_ip_pledge_loan_transfer.toml").read_text())
    data["loans"][0]["balance"] = balance
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data, base_dir=FLAGSHIP.parent)
    assert "loans[0].balance" in problems_of(exc)


def test_a_transfer_whose_loan_balances_are_text_still_gets_its_buyer_class():
    """As loans from a CSV tape have them; the sum used to raise a TypeError."""
    data = tomllib.loads((FLAGSHIP.parent / "beijing_ip_pledge_loan_transfer.toml").read_text())
    total = sum(loan["balance"] for loan in data["loans"])
    for loan in data["loans"]:
        loan["balance"] = str(loan["balance"])
    sc = validate(data, base_dir=FLAGSHIP.parent)
    assert sc.tranches[0].name == "buyer" and sc.tranches[0].balance == pytest.approx(total)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(triggers=[{"name": "t", "condition": "date", "date": dt.date(2025, 1, 15),
                                       "effect": "trap_cash", "breaches_to_trip": 10**20}]),
         "triggers[0].breaches_to_trip"),
        (lambda d: d.update(collateral={"basis": "trailing_income", "multiple": 5.0,
                                        "original_value": 1e7, "lookback_periods": 10**20}),
         "collateral.lookback_periods"),
        (lambda d: d.update(collateral={"basis": "trailing_income", "multiple": 1e300,
                                        "original_value": 1e7}), "collateral.multiple"),
        (lambda d: d.update(factors={"names": [f"f{i}" for i in range(101)]}), "factors.names"),
    ],
)  # fmt: skip
def test_sizes_that_would_overflow_the_engine_are_refused(change, path):
    data = small_deal()
    change(data)
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data)
    assert path in problems_of(exc)


def _poisoned_run(monkeypatch, poison):
    """Make `ipabs.simulate` see raw results changed by `poison(raw)`."""
    import ipabs.api

    real = ipabs.api.run_paths

    def run_paths(*args, **kwargs):
        raw = real(*args, **kwargs)
        poison(raw)
        return raw

    monkeypatch.setattr(ipabs.api, "run_paths", run_paths)


def test_a_non_finite_pool_output_is_an_internal_error_not_a_number(monkeypatch):
    from ipabs.engine.run import POOL_FIELDS

    column = POOL_FIELDS.index("collections")
    _poisoned_run(monkeypatch, lambda raw: raw.pool.__setitem__((3, column), np.inf))
    with pytest.raises(InternalError) as exc:
        ipabs.simulate(validate(small_deal()), paths=50, threads=1)
    message = str(exc.value)
    assert "pool.collections" in message and "path 3" in message and "infinite" in message
    assert exc.value.exit_code == 1 and not isinstance(exc.value, ipabs.UserError)


def test_a_nan_tranche_output_names_the_class(monkeypatch):
    from ipabs.engine.run import TRANCHE_FIELDS

    column = TRANCHE_FIELDS.index("irr")
    _poisoned_run(monkeypatch, lambda raw: raw.tranche.__setitem__((7, 1, column), np.nan))
    with pytest.raises(InternalError) as exc:
        ipabs.simulate(validate(small_deal()), paths=50, threads=1)
    assert "tranche.irr" in str(exc.value) and "path 7, class B" in str(exc.value)


def test_a_nan_wal_is_allowed_but_an_infinite_one_is_not(monkeypatch):
    from ipabs.engine.run import TRANCHE_FIELDS

    column = TRANCHE_FIELDS.index("wal_years")
    _poisoned_run(monkeypatch, lambda raw: raw.tranche.__setitem__((0, 0, column), np.nan))
    ipabs.simulate(validate(small_deal()), paths=50, threads=1)  # no principal: WAL undefined
    _poisoned_run(monkeypatch, lambda raw: raw.tranche.__setitem__((0, 0, column), -np.inf))
    with pytest.raises(InternalError, match=r"tranche\.wal_years"):
        ipabs.simulate(validate(small_deal()), paths=50, threads=1)


def test_finite_values_whose_sum_overflows_pass_and_a_nan_in_a_sample_series_does_not(monkeypatch):
    # the check sums each array first: a sum that overflows must fall back to the values
    def huge(raw):
        raw.sample_collections[:2, 0] = 1.5e308

    _poisoned_run(monkeypatch, huge)
    ipabs.simulate(validate(small_deal()), paths=50, threads=1)
    _poisoned_run(monkeypatch, lambda raw: raw.sample_balances.__setitem__((4, 0, 2), np.nan))
    with pytest.raises(InternalError, match=r"sample_balances .*path 4"):
        ipabs.simulate(validate(small_deal()), paths=50, threads=1)


def test_an_allowed_nan_wal_neither_hides_an_infinity_nor_fails_a_finite_array(monkeypatch):
    # the tranche array's sum is NaN whenever a WAL is: the check falls back to the values
    from ipabs.engine.run import TRANCHE_FIELDS

    wal, irr = TRANCHE_FIELDS.index("wal_years"), TRANCHE_FIELDS.index("irr")

    def nan_wal_and_huge(raw):
        raw.tranche[0, 0, wal] = np.nan
        raw.tranche[:2, 1, irr] = 1.5e308  # finite, though their sum is not

    _poisoned_run(monkeypatch, nan_wal_and_huge)
    ipabs.simulate(validate(small_deal()), paths=50, threads=1)

    def nan_wal_and_infinity(raw):
        raw.tranche[0, 0, wal] = np.nan
        raw.tranche[9, 2, irr] = np.inf

    _poisoned_run(monkeypatch, nan_wal_and_infinity)
    with pytest.raises(InternalError, match=r"tranche\.irr .*path 9, class sub"):
        ipabs.simulate(validate(small_deal()), paths=50, threads=1)


# ---------------------------------------------------------------------------------------------
# B. deep nesting, device files, oversized files


def test_toml_nested_thousands_of_levels_deep_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text(FLAGSHIP.read_text() + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    proc = run_cli("validate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nested more than 32 levels deep" in proc.stderr


def test_a_deeply_nested_mapping_through_the_api_is_refused():
    data = small_deal()
    node = data["deal"]
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ipabs.ScenarioError, match="nested more than 32 levels"):
        validate(data)
    with pytest.raises(ipabs.ScenarioError, match="not list"):
        validate([data])


@posix_only
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_file_is_refused(device):
    with pytest.raises(ipabs.ScenarioError, match="is a character device"):
        ipabs.load(device)


@posix_only
def test_validate_on_a_fifo_or_a_device_exits_2_at_once(tmp_path):
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    started = time.monotonic()
    proc = run_cli("validate", fifo, "/dev/zero", tmp_path)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        "is a FIFO (named pipe)" in proc.stderr
        and "/dev/zero: is a character device" in proc.stderr
    )
    assert "is a directory" in proc.stderr


def test_a_scenario_file_above_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(load_module, "MAX_SCENARIO_BYTES", 1000)
    with pytest.raises(ipabs.ScenarioError, match="above the 1,000-byte limit"):
        ipabs.load(write_scenario(tmp_path, small_deal()))


# ---------------------------------------------------------------------------------------------
# C. tapes


def _licensee_tape_deal(folder, path, name="deal.toml"):
    return write_scenario(folder, small_deal(tapes=[{"kind": "licensees", "path": path}]), name)


def _secret(path):
    path.write_text("id,annual_default_probability\nTOPSECRET,zz\n")


@pytest.mark.parametrize("where", ["absolute", "parent", "symlink"])
def test_a_tape_outside_the_scenario_folder_is_refused_unread(tmp_path, where):
    folder = tmp_path / "deal"
    folder.mkdir()
    secret = tmp_path / "secret.csv"
    _secret(secret)
    path = {"absolute": str(secret), "parent": "../secret.csv", "symlink": "link.csv"}[where]
    if where == "symlink":
        if not hasattr(os, "symlink"):
            pytest.skip("no symlinks")
        os.symlink(secret, folder / "link.csv")
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.load(_licensee_tape_deal(folder, path))
    text = problems_of(exc)
    assert "must be inside the scenario's folder" in text and "TOPSECRET" not in text


def test_a_tape_in_a_subfolder_or_linked_within_the_folder_is_read(tmp_path):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "lic.csv").write_text("id,annual_default_probability\nL9,0.02\n")
    assert len(ipabs.load(_licensee_tape_deal(tmp_path, "pool/lic.csv")).licensees) == 4
    if hasattr(os, "symlink"):
        os.symlink(tmp_path / "pool" / "lic.csv", tmp_path / "lic.csv")
        assert len(ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv", "b.toml")).licensees) == 4


@posix_only
def test_a_fifo_tape_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "lic.csv")
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))
    assert "tapes[0].path = 'lic.csv': is a FIFO (named pipe)" in problems_of(exc)


@posix_only
def test_a_tape_linked_to_dev_zero_is_refused(tmp_path):
    os.symlink("/dev/zero", tmp_path / "lic.csv")
    with pytest.raises(ipabs.ScenarioError, match="must be inside the scenario's folder"):
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))


def test_a_tape_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "lic.csv").mkdir()
    with pytest.raises(ipabs.ScenarioError, match="is a directory"):
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinity_in_a_parquet_tape_is_refused_with_row_and_column(tmp_path, bad):
    table = pa.table({"id": ["L8", "L9"], "annual_default_probability": [0.02, 0.03],
                      "recovery_rate": [0.1, bad]})  # fmt: skip
    pq.write_table(table, tmp_path / "lic.parquet")
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.parquet"))
    assert "lic.parquet row 2, column recovery_rate" in problems_of(exc)
    assert "finite number" in problems_of(exc)


def _asset_tape(folder, flag):
    (folder / "assets.csv").write_text(
        "id,type,licensee,base_annual_income,remaining_legal_life_years,annuities_prepaid\n"
        f"X1,patent,L1,100000,5,{flag}\n"
    )
    return write_scenario(folder, small_deal(tapes=[{"kind": "assets", "path": "assets.csv"}]))


@pytest.mark.parametrize("flag", ["yes", "on", "1", "y"])
def test_a_boolean_cell_other_than_true_or_false_is_refused(tmp_path, flag):
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.load(_asset_tape(tmp_path, flag))
    assert (
        f"assets.csv line 2, column annuities_prepaid (id = \"X1\") = '{flag}': must be true or false"
        in problems_of(exc)
    )


@pytest.mark.parametrize(("flag", "value"), [("true", True), ("false", False), ("TRUE", True)])
def test_true_and_false_cells_are_booleans(tmp_path, flag, value):
    assert ipabs.load(_asset_tape(tmp_path, flag)).assets[-1].annuities_prepaid is value


def test_a_short_csv_row_names_its_line_and_the_missing_column(tmp_path):
    (tmp_path / "lic.csv").write_text(
        "id,annual_default_probability,recovery_rate\nL8,0.1,0.2\nL9,0.1\n"
    )
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))
    text = problems_of(exc)
    assert (
        "lic.csv line 3: 2 cells for the 3 columns of the header: no cell for recovery_rate" in text
    )
    assert "NoneType" not in text


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    (tmp_path / "lic.csv").write_text("id,annual_default_probability,id\nL8,0.1,L9\n")
    with pytest.raises(ipabs.ScenarioError, match="column 'id' appears twice in the header"):
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))


def test_a_tape_above_the_row_limit_is_refused_before_validation(tmp_path, monkeypatch):
    monkeypatch.setattr(tapes_module, "MAX_TABLE_ROWS", 5)
    rows = "".join(f"L{i},0.02\n" for i in range(10, 20))
    (tmp_path / "lic.csv").write_text("id,annual_default_probability\n" + rows)
    with pytest.raises(ipabs.ScenarioError, match="more than 5 rows"):
        ipabs.load(_licensee_tape_deal(tmp_path, "lic.csv"))
    monkeypatch.setattr(load_module, "MAX_TABLE_ROWS", 2)
    with pytest.raises(ipabs.ScenarioError, match="3 entries, above the limit of 2"):
        validate(small_deal())


# ---------------------------------------------------------------------------------------------
# D. validation is linear, and a huge run is refused before the expensive work


def _pool(n: int) -> Scenario:
    data = small_deal()
    data["licensees"] = [{"id": f"L{i}", "annual_default_probability": 0.02} for i in range(n)]
    data["assets"] = [
        {"id": f"A{i}", "type": "copyright", "licensee": f"L{i}", "base_annual_income": 1e3,
         "remaining_legal_life_years": 40}
        for i in range(n)
    ]  # fmt: skip
    return Scenario.model_validate(data)


def _consistency_seconds(sc: Scenario) -> float:
    started = time.process_time()
    assert not list(check_consistency(sc))
    return time.process_time() - started


def test_the_consistency_check_is_linear_in_the_pool():
    """A tenfold pool takes about ten times as long (a list lookup made it a hundred times)."""
    small, large = _pool(2_000), _pool(20_000)
    small_s = min(_consistency_seconds(small) for _ in range(3))
    large_s = _consistency_seconds(large)
    assert large_s < 30 * max(small_s, 1e-3), (small_s, large_s)


def test_a_run_far_past_the_limits_is_refused_before_compiling(monkeypatch):
    import ipabs.api

    def compile_scenario(sc):
        raise AssertionError("compiled before the resource check")

    monkeypatch.setattr(ipabs.api, "compile_scenario", compile_scenario)
    with pytest.raises(ipabs.ResourceLimitError):
        ipabs.simulate(validate(small_deal()), paths=10**9)


def test_unknown_references_in_a_large_pool_are_reported_quickly():
    data = small_deal()
    data["licensees"] = [{"id": f"L{i}", "annual_default_probability": 0.02} for i in range(20_000)]
    data["assets"] = [
        {"id": f"A{i}", "type": "copyright", "licensee": f"X{i}", "base_annual_income": 1e3,
         "remaining_legal_life_years": 40}
        for i in range(20_000)
    ]  # fmt: skip
    started = time.process_time()
    with pytest.raises(ipabs.ScenarioError) as exc:
        validate(data)
    assert time.process_time() - started < 60
    assert "more than 1000 problems" in exc.value.message
    assert "no licensee has this id" in problems_of(exc)


# ---------------------------------------------------------------------------------------------
# E. the Python API raises ScenarioError for every bad argument


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paths": 0}, "simulation.paths = 0: Input should be greater than or equal to 1"),
        ({"paths": "10"}, "simulation.paths = '10': must be an integer, not str"),
        ({"paths": True}, "simulation.paths = True: must be an integer, not bool"),
        ({"seed": -1}, "simulation.seed = -1: Input should be greater than or equal to 0"),
        ({"seed": 1.5}, "simulation.seed = 1.5: must be an integer, not float"),
        ({"block_size": 0}, "simulation.block_size = 0"),
        ({"sample_paths": 10**9}, "simulation.sample_paths"),
        ({"threads": 0}, "threads must be between 1 and"),
        ({"threads": "2"}, "threads = '2': must be an integer, not str"),
        ({"progress": 3}, "progress must be"),
        ({"pool_cache": {}}, "pool_cache must be an ipabs.engine.run.PoolCache"),
    ],
)
def test_bad_simulate_arguments_raise_scenario_error(kwargs, message):
    sc = validate(small_deal())
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.simulate(sc, **kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize("scenario", [{}, None, 5, b"deal.toml", [FLAGSHIP]])
def test_a_scenario_of_the_wrong_type_raises_scenario_error(scenario):
    with pytest.raises(ipabs.ScenarioError, match=r"expected a Scenario .* or the path of a TOML"):
        ipabs.simulate(scenario)
    with pytest.raises(ipabs.ScenarioError, match="expected a Scenario"):
        ipabs.load(scenario)


def test_a_missing_file_raises_scenario_error(tmp_path):
    with pytest.raises(ipabs.ScenarioError, match="file not found"):
        ipabs.simulate(tmp_path / "nope.toml")


def test_the_api_message_is_the_cli_message(tmp_path):
    scenario = write_scenario(tmp_path, small_deal())
    proc = run_cli("run", scenario, "--paths", "0", "--out", tmp_path / "out", "--quiet")
    with pytest.raises(ipabs.ScenarioError) as exc:
        ipabs.simulate(scenario, paths=0)
    assert proc.returncode == 2 and not (tmp_path / "out").exists()
    assert " ".join(str(exc.value).split()) in " ".join(proc.stderr.split())


def test_the_command_line_reports_a_non_finite_result_as_an_internal_error(
    monkeypatch, tmp_path, capsys
):
    """`ipabs run` on a result that is not a number: exit 1, one 'internal error' line naming
    the output, no traceback, no number printed and nothing written."""
    from helpers import write_scenario

    from ipabs.cli import main
    from ipabs.engine.run import POOL_FIELDS

    column = POOL_FIELDS.index("fees_paid")
    _poisoned_run(monkeypatch, lambda raw: raw.pool.__setitem__((1, column), np.nan))
    path = write_scenario(tmp_path, small_deal())
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["run", str(path), "--paths", "40", "--out", str(out), "--no-charts", "--quiet"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.count("internal error") == 1 and "pool.fees_paid" in err
    assert "Traceback" not in err and err.count("This is a bug in") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("deal.name", "Deal\x00 one"),
        ("deal.name", "Deal \x1b[31m red"),
        ("deal.name_zh", "优先\u202e级反转"),
        ("tranches[0].display_name_zh", "优先\u2066A级"),
    ],
)
def test_names_shown_on_pages_refuse_control_and_bidi_override_characters(key, value):
    """A NUL or ESC (TOML allows them as escapes, and Python callers as they are) would go raw
    into the page; a right-to-left override reverses every sentence the name is put in (the
    order of payments in words)."""
    from ipabs.scenario.load import validate

    data = small_deal()
    table, _, field = key.partition(".")
    if table == "deal":
        data["deal"][field] = value
    else:
        data["tranches"][0][field] = value
    with pytest.raises(ipabs.ScenarioError) as err:
        validate(data)
    message = str(err.value)
    assert "control characters" in message and "bidirectional" in message
