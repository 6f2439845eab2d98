"""helpers.run_cli_in_process, the in-process runner of the bad-input tests: it says what a new
`python -m ipabs` process says (exit code, stdout, stderr), an internal error still shows its
traceback, what `main` lets escape fails the test, and nothing of the test process is left
changed (working folder, Ctrl-C's handler, environment, warning filters)."""

from __future__ import annotations

import os
import signal
import warnings

import pytest
from helpers import COMPARE_ENV, FLAGSHIP, run_cli, run_cli_in_process, small_deal, write_scenario

from ipabs import cli


@pytest.fixture(autouse=True)
def _no_second_run(monkeypatch):
    """These tests compare the two runners themselves, or change ipabs in this process only."""
    monkeypatch.delenv(COMPARE_ENV, raising=False)


def _cases(tmp_path):
    # a long folder name makes the messages longer than 80 columns: both runners wrap at 160
    folder = tmp_path / ("a-folder-with-a-long-name-" * 4)
    folder.mkdir()
    good = write_scenario(folder, small_deal(), "good.toml")
    data = small_deal()
    data["tranches"][1]["coupon"] = -0.01
    bad = write_scenario(folder, data, "bad.toml")
    return {
        # ok on stdout, one file's problems on stderr (rich), exit 2
        "validate": ("validate", good, bad),
        # a usage error (click), exit 2
        "usage": ("run", good, "--paths", "ten" * 30, "--out", folder / "out"),
    }


@pytest.mark.parametrize("case", ["validate", "usage"])
def test_in_process_says_what_a_new_process_says(tmp_path, case):
    args = _cases(tmp_path)[case]
    inside, outside = run_cli_in_process(*args), run_cli(*args)
    assert inside.returncode == outside.returncode == 2
    assert inside.stdout == outside.stdout
    assert inside.stderr == outside.stderr
    assert max(map(len, inside.stderr.splitlines())) > 80  # long lines, unwrapped at 80


def test_an_internal_error_shows_its_traceback_and_exit_code_1(monkeypatch):
    import ipabs.scenario.load

    def broken(path):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(ipabs.scenario.load, "load", broken)
    proc = run_cli_in_process("validate", FLAGSHIP)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError: a bug" in proc.stderr
    assert "internal error: this is a bug in ipabs" in proc.stderr


class _Escaped(BaseException):
    pass


def test_what_main_lets_escape_is_raised_and_the_state_is_restored(monkeypatch, tmp_path):
    def escape(argv):
        os.chdir("/")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise _Escaped

    monkeypatch.setattr(cli, "_dispatch", escape)
    here, handler, columns = os.getcwd(), signal.getsignal(signal.SIGINT), os.environ.get("COLUMNS")
    with pytest.raises(_Escaped):
        run_cli_in_process("validate", FLAGSHIP, cwd=tmp_path)
    assert os.getcwd() == here
    assert signal.getsignal(signal.SIGINT) is handler
    assert os.environ.get("COLUMNS") == columns


def test_the_command_runs_in_cwd_at_160_columns_and_both_are_restored(monkeypatch, tmp_path):
    seen = {}

    def look(argv):
        seen.update(cwd=os.getcwd(), columns=os.environ.get("COLUMNS"), argv=argv)
        return 0

    monkeypatch.setattr(cli, "_dispatch", look)
    here, columns = os.getcwd(), os.environ.get("COLUMNS")
    proc = run_cli_in_process("validate", tmp_path / "x.toml", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == proc.stderr == ""
    assert seen == {"cwd": str(tmp_path), "columns": "160", "argv": ["validate", str(tmp_path / "x.toml")]}  # fmt: skip
    assert os.getcwd() == here and os.environ.get("COLUMNS") == columns


def test_a_command_that_changes_the_environment_fails_the_test(monkeypatch):
    """The past bug: an import that set NUMBA_NUM_THREADS for the whole test process."""
    before = os.environ.get("NUMBA_NUM_THREADS")

    def leak(argv):
        os.environ["NUMBA_NUM_THREADS"] = "1" if before != "1" else "2"
        return 0

    monkeypatch.setattr(cli, "_dispatch", leak)
    with pytest.raises(AssertionError, match="changed the environment: \\['NUMBA_NUM_THREADS'\\]"):
        run_cli_in_process("validate", FLAGSHIP)
    assert os.environ.get("NUMBA_NUM_THREADS") == before  # put back, so later tests are not hit


def test_an_exit_message_is_printed_with_exit_code_1(monkeypatch):
    # sys.exit("message") semantics, as cli._exit_now gives them in a new process
    monkeypatch.setattr(cli, "_dispatch", lambda argv: "stopped")
    proc = run_cli_in_process("validate", FLAGSHIP)
    assert proc.returncode == 1 and proc.stderr == "stopped\n"


def test_a_warning_goes_to_stderr_as_in_a_new_process(monkeypatch):
    """Not through pytest's filters (which make a RuntimeWarning an error in the tests);
    pytest's own are in force again afterwards."""

    def warn(argv):
        warnings.warn("a warning", RuntimeWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_dispatch", warn)
    proc = run_cli_in_process("validate", FLAGSHIP)
    assert proc.returncode == 0 and "RuntimeWarning: a warning" in proc.stderr
    with pytest.raises(RuntimeWarning):
        warnings.warn("after", RuntimeWarning, stacklevel=1)
