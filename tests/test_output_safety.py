"""Output folders and interrupts: ipabs replaces only its own folders, refuses a --out it cannot
or must not write with exit 2 and no traceback, answers Ctrl-C with exit 130 and one line, and
survives SIGKILL at any point (the next start tidies up or puts the earlier output back).

Crash states are made directly on disk, or by killing a small child process at a chosen point,
so that no test depends on timing; no test runs a simulation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO, run_cli, run_cli_in_process, small_deal, write_scenario

from ipabs.errors import UserError
from ipabs.outputs import folder
from ipabs.outputs.folder import check_out_dir, hidden_prefix

LINUX = sys.platform.startswith("linux")
MANIFEST = {"ipabs_version": "0.1.0", "command": "run", "seed": 1}


def _ipabs_folder(path: Path, seed: int = 1) -> Path:
    """A folder as an earlier ipabs run leaves it."""
    (path / "charts").mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({**MANIFEST, "seed": seed}))
    (path / "summary.parquet").write_bytes(b"PAR1")
    (path / "charts" / "losses.png").write_bytes(b"png")
    return path


def _tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    """What a command printed on stderr, with line wrapping undone."""
    return " ".join(proc.stderr.split())


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _child(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run Python code in a child process (with the tests' helpers importable)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path, small_deal(simulation={"paths": 200}))


# --- only ipabs's own folders are replaced ---------------------------------------------------


def test_a_folder_with_someone_elses_manifest_is_never_replaced(tmp_path, scenario):
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "manifest.json").write_text("{}\n")
    (ext / "app.js").write_text("code\n")
    before = _tree(ext)
    proc = run_cli("run", scenario, "--out", ext, "--paths", "200", "--no-charts")
    assert proc.returncode == 2, proc.stderr
    assert "not an ipabs run folder" in _said(proc) and "ext" in _said(proc)
    assert "Traceback" not in proc.stderr
    assert _tree(ext) == before and _hidden(tmp_path) == []


@pytest.mark.parametrize(
    "manifest, extra, reason",
    [
        (None, {"summary.parquet": b"x"}, "no manifest.json"),
        (b"{}", {}, "not written by ipabs"),
        (b"not json", {}, "not valid JSON"),
        (b'["ipabs_version", "command"]', {}, "not written by ipabs"),
        (json.dumps(MANIFEST).encode(), {"app.js": b"code"}, "app.js, which ipabs never writes"),
        (json.dumps(MANIFEST).encode(), {"src/main.py": b"x"}, "main.py, which ipabs never writes"),
    ],
)
def test_only_a_real_ipabs_folder_may_be_replaced(tmp_path, manifest, extra, reason):
    out = tmp_path / "out"
    out.mkdir()
    if manifest is not None:
        (out / "manifest.json").write_bytes(manifest)
    for name, data in extra.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    with pytest.raises(UserError, match="not an ipabs run folder") as caught:
        check_out_dir(out)
    assert reason in str(caught.value)


def test_a_link_inside_a_run_folder_makes_it_foreign(tmp_path):
    out = _ipabs_folder(tmp_path / "out")
    (out / "data").symlink_to(tmp_path)
    with pytest.raises(UserError, match="link data"):
        check_out_dir(out)


def test_earlier_runs_and_empty_folders_may_be_replaced(tmp_path):
    check_out_dir(_ipabs_folder(tmp_path / "run"))
    stress = _ipabs_folder(tmp_path / "stress")
    (stress / "summary" / "stress=base").mkdir(parents=True)
    (stress / "summary" / "stress=base" / "0.parquet").write_bytes(b"x")
    (stress / ".DS_Store").write_bytes(b"x")
    check_out_dir(stress)
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty")
    check_out_dir(tmp_path / "new" / "deeper")


# --- an output folder ipabs must not or cannot write -----------------------------------------


@pytest.mark.parametrize("out", [".", "..", "/", "../here", ""])
def test_the_current_folder_or_one_containing_it_is_refused(tmp_path, scenario, out):
    here = tmp_path / "here"
    here.mkdir()
    proc = run_cli_in_process(
        "run", scenario, "--out", out, "--paths", "200", "--no-charts", cwd=here
    )
    assert proc.returncode == 2, proc.stderr
    assert "current folder or contains it" in _said(proc) and "Traceback" not in proc.stderr
    assert list(here.iterdir()) == [] and _hidden(tmp_path) == []


def test_an_out_under_a_file_is_refused(tmp_path, scenario):
    (tmp_path / "notes.txt").write_text("x")
    proc = run_cli_in_process(
        "run", scenario, "--out", tmp_path / "notes.txt" / "out", "--no-charts"
    )
    assert proc.returncode == 2 and "notes.txt is a file" in _said(proc)
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_a_link_or_file_as_out_is_refused(tmp_path):
    _ipabs_folder(tmp_path / "real")
    (tmp_path / "latest").symlink_to(tmp_path / "real")
    with pytest.raises(UserError, match="symbolic link"):
        check_out_dir(tmp_path / "latest")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        check_out_dir(tmp_path / "file")


@pytest.mark.skipif(not LINUX, reason="/proc is Linux's")
def test_an_out_nobody_can_write_is_refused_before_any_work(scenario):
    # /proc refuses new folders even to root, so the test holds whoever runs it
    proc = run_cli("run", scenario, "--out", "/proc/ipabs-out", "--no-charts")
    assert proc.returncode == 2 and "cannot write the output folder in /proc" in _said(proc)
    assert "Traceback" not in proc.stderr


def test_an_out_in_a_read_only_folder_is_refused(tmp_path, scenario):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: make the folder immutable instead
        if (
            shutil.which("chattr") is None
            or subprocess.run(["chattr", "+i", locked], capture_output=True).returncode != 0
        ):
            pytest.skip("running as root without chattr +i: no folder is read-only to us")
        undo = ["chattr", "-i", str(locked)]
    else:
        locked.chmod(0o555)
        undo = ["chmod", "755", str(locked)]
    try:
        proc = run_cli("run", scenario, "--out", locked / "out", "--no-charts")
        assert proc.returncode == 2, proc.stderr
        assert "cannot write the output folder in" in _said(proc) and "locked" in _said(proc)
        assert "Traceback" not in proc.stderr and list(locked.iterdir()) == []
    finally:
        subprocess.run(undo, check=True)


# --- Ctrl-C ----------------------------------------------------------------------------------


def _wait_for(proc: subprocess.Popen[str], ready, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"ipabs exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"ipabs did not reach {what} in {timeout} s")
        time.sleep(0.005)


def _interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def _spawn(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ipabs", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


@pytest.mark.skipif(not LINUX, reason="reads /proc/PID/maps to know how far start-up has got")
def test_ctrl_c_while_the_command_line_loads_exits_130_with_one_line(tmp_path, scenario):
    out = tmp_path / "out"
    proc = _spawn("run", scenario, "--out", out, "--no-charts")

    def loading_pandas() -> bool:  # imported by ipabs.cli, after its start-up guard
        try:
            return "/pandas/" in Path(f"/proc/{proc.pid}/maps").read_text()
        except OSError:
            return False

    _wait_for(proc, loading_pandas, "its imports")
    code, err = _interrupt(proc)
    assert code == 130, err
    assert err.strip() == "interrupted; nothing was written"
    assert not out.exists() and _hidden(tmp_path) == []


def test_ctrl_c_while_compiling_exits_130_and_writes_nothing(tmp_path, scenario):
    cache = tmp_path / "numba-cache"  # empty, so the kernels compile afresh (for many seconds)
    out = tmp_path / "out"
    proc = _spawn("run", scenario, "--out", out, "--no-charts", env={"NUMBA_CACHE_DIR": str(cache)})
    _wait_for(proc, lambda: cache.exists() and any(cache.rglob("*.nbi")), "compiling")
    code, err = _interrupt(proc)
    assert code == 130, err
    assert "interrupted; nothing was written" in err and "Traceback" not in err
    assert not out.exists() and _hidden(tmp_path) == []


def test_a_late_ctrl_c_cannot_kill_a_finished_command(tmp_path, scenario):
    # An object in __main__ is destroyed during Python's shutdown, after Python has restored the
    # default SIGINT action: it sends Ctrl-C then, as a user's late Ctrl-C would arrive.
    proc = _child(
        f"""
        import os, signal, sys, time
        __file__ = "ipabs"  # this child is the `ipabs` command

        class LateCtrlC:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)

        late = LateCtrlC()
        from ipabs.cli import main
        main(["validate", {str(scenario)!r}])
        """
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert "ok" in proc.stdout


def test_ctrl_c_message_says_whether_the_output_was_written(tmp_path, monkeypatch, capsys):
    from ipabs import cli

    out = tmp_path / "out"

    def interrupted_after_writing(argv):
        folder.note_written(out)
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(cli, "_dispatch", interrupted_after_writing)
    with pytest.raises(SystemExit) as caught:
        cli.main(["run", "x"])
    assert caught.value.code == 130
    assert capsys.readouterr().err == f"interrupted; {out} had already been written in full\n"
    assert signal.getsignal(signal.SIGINT) is before  # a program calling main keeps its handler

    def interrupted_before(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_dispatch", interrupted_before)
    with pytest.raises(SystemExit) as caught:
        cli.main(["run", "x"])
    assert caught.value.code == 130
    assert capsys.readouterr().err == "interrupted; nothing was written\n"


def _exchange_works(tmp: Path) -> bool:
    a, b = tmp / "a", tmp / "b"
    a.mkdir()
    b.mkdir()
    works = folder.exchange(a, b)
    a.rmdir()
    b.rmdir()
    return works


def _ctrl_c_once(real):
    """`real`, with Ctrl-C sent to this process just before its first call."""
    calls = []

    def wrapper(*args):
        if not calls:
            calls.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    return wrapper


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_ctrl_c_during_the_swap_is_held_until_the_new_output_is_in_place(
    tmp_path, monkeypatch, atomic_exchange
):
    from ipabs.outputs import writer

    out = _ipabs_folder(tmp_path / "out", seed=1)
    if atomic_exchange:
        if not _exchange_works(tmp_path):
            pytest.skip("no atomic exchange on this system")
        monkeypatch.setattr(writer, "exchange", _ctrl_c_once(writer.exchange))
    else:  # two renames: Ctrl-C arrives between them
        monkeypatch.setattr(writer, "exchange", lambda a, b: False)
        monkeypatch.setattr(writer.os, "replace", _ctrl_c_once(os.replace))
    with pytest.raises(KeyboardInterrupt):
        with writer.atomic_folder(out) as tmp:
            _ipabs_folder(tmp, seed=2)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert folder.written()[-1] == out
    assert _hidden(tmp_path) == []


def test_ctrl_c_while_writing_keeps_the_earlier_output(tmp_path):
    from ipabs.outputs import writer

    out = _ipabs_folder(tmp_path / "out", seed=1)
    count = len(folder.written())
    with pytest.raises(KeyboardInterrupt):
        with writer.atomic_folder(out) as tmp:
            (tmp / "summary.parquet").write_bytes(b"half")
            raise KeyboardInterrupt
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    assert len(folder.written()) == count and _hidden(tmp_path) == []


# --- SIGKILL: leftovers are tidied, a missing folder is put back -----------------------------

_KILLED_WRITER = """
    import json, os, signal, sys
    from pathlib import Path
    from ipabs.outputs import writer

    out = Path(sys.argv[1])
    def killed(*args):
        os.kill(os.getpid(), signal.SIGKILL)
    {patch}
    with writer.atomic_folder(out) as tmp:
        (tmp / "summary.parquet").write_bytes(b"x" * 1000)
        (tmp / "manifest.json").write_text(json.dumps({{"ipabs_version": "0", "command": "run", "seed": 2}}))
        {during}
"""


def _killed_writer(out: Path, *, patch: str = "", during: str = "") -> None:
    code = textwrap.dedent(_KILLED_WRITER.format(patch=patch, during=during))
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _seed(out: Path) -> int:
    return json.loads((out / "manifest.json").read_text())["seed"]


@pytest.mark.parametrize(
    "patch, during, seed",
    [
        ("", "killed()", 1),  # killed while writing: the earlier output stays
        ("writer.note_written = killed", "", 2),  # killed just after the exchange
    ],
)
def test_a_killed_run_leaves_a_whole_output_and_the_next_start_tidies_up(
    tmp_path, patch, during, seed
):
    out = _ipabs_folder(tmp_path / "out", seed=1)
    _killed_writer(out, patch=patch, during=during)
    assert _seed(out) == seed
    assert len(_hidden(tmp_path)) == 1  # the killed run's hidden folder (partial or earlier output)
    check_out_dir(out)
    assert _hidden(tmp_path) == [] and _seed(out) == seed


def test_a_kill_between_the_two_renames_is_repaired_on_the_next_start(tmp_path):
    out = _ipabs_folder(tmp_path / "out", seed=1)
    # no atomic exchange: the earlier output is moved aside, then the process dies
    patch = textwrap.dedent(
        """
        writer.exchange = lambda a, b: False
        real_replace = os.replace
        def replace_then_die(src, dst):
            real_replace(src, dst)
            killed()
        writer.os.replace = replace_then_die
        """
    ).replace("\n", "\n    ")
    _killed_writer(out, patch=patch)
    assert not out.exists()  # the crash state: --out is missing
    check_out_dir(out)
    assert _seed(out) == 1 and _hidden(tmp_path) == []


def test_only_dead_runs_leftovers_for_the_same_folder_are_removed(tmp_path):
    out = tmp_path / "out"
    _ipabs_folder(out)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        own = hidden_prefix(out, "partial")
        host = own.rsplit("@", 1)[1].rstrip("-")
        names = {
            "dead": f".out.partial-{dead}@{host}-abcd1234",
            "dead_old": f".out.old-{dead}@{host}-abcd1234",
            "live": f".out.partial-{live.pid}@{host}-abcd1234",
            "other_host": f".out.partial-{dead}@00000000-abcd1234",
            "other_folder": f".out2.partial-{dead}@{host}-abcd1234",
            "not_ipabs": f".out.partial-{dead}@{host}-abcd1234.bak",
            "legacy": ".out.partial-abcd1234",
        }
        if host == "00000000":
            pytest.skip("this host's tag collides with the test's")
        for name in names.values():
            (tmp_path / name).mkdir()
            (tmp_path / name / "paths.parquet").write_bytes(b"x")
        check_out_dir(out)
        left = set(_hidden(tmp_path))
        assert names["dead"] not in left and names["dead_old"] not in left
        assert left == {names[k] for k in names if not k.startswith("dead")}
    finally:
        live.kill()
        live.wait()


def test_a_missing_folder_is_not_restored_from_a_live_run(tmp_path):
    out = tmp_path / "out"
    host = hidden_prefix(out, "old").rsplit("@", 1)[1].rstrip("-")
    old = tmp_path / f".out.old-{os.getpid()}@{host}-abcd1234"
    _ipabs_folder(old / "previous")
    check_out_dir(out)  # this process is alive: it may be between its two renames
    assert not out.exists() and (old / "previous" / "manifest.json").is_file()
