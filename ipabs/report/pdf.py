"""The committee pack's PDF: the HTML report printed by a headless Chromium (or Chrome).

A browser prints the report exactly as a reader sees it, with the embedded CJK font and the SVG
charts, so the PDF needs no second layout engine. The browser is not a Python dependency: it is
found on the machine, and where there is none the error says how to get one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ipabs.errors import UserError

BROWSER_ENV = "IPABS_CHROMIUM"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "install Chromium (on Debian or Ubuntu: apt-get install chromium), or set "
    f"{BROWSER_ENV} to a Chrome or Chromium executable"
)
# a browser that talks to nothing but the report: this closed network drops other connections,
# and a fresh profile directory per print keeps runs independent of each other
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
)
TIMEOUT_SECONDS = 120.0


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_browser() -> Path:
    """$IPABS_CHROMIUM if set (and then only it), else the first of BROWSER_NAMES on PATH, else
    Debian's /usr/bin/chromium; UserError with the install hint when there is none."""
    chosen = os.environ.get(BROWSER_ENV)
    if chosen:
        if _runnable(Path(chosen)):
            return Path(chosen)
        raise UserError(f"{BROWSER_ENV}={chosen} is not an executable file: {INSTALL_HINT}")
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    if _runnable(DEBIAN_CHROMIUM):
        return DEBIAN_CHROMIUM
    raise UserError(f"printing a PDF needs a headless Chromium and none was found: {INSTALL_HINT}")


def print_pdf(html: Path, pdf: Path, *, timeout: float = TIMEOUT_SECONDS) -> Path:
    """Print the report `html` to `pdf` and return `pdf`.

    The browser writes a temporary file beside `pdf`, which is renamed into place only once it is
    a complete PDF: a failed, refused or timed-out print leaves neither `pdf` nor the temporary
    file behind (an existing `pdf` is left as it was)."""
    html, pdf = Path(html).resolve(), Path(pdf)
    if not html.is_file():
        raise UserError(f"{html}: no such report to print")
    browser = find_browser()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name the browser creates itself, so the PDF gets the usual (umask) permissions
    part = pdf.with_name(f".{pdf.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        with tempfile.TemporaryDirectory(prefix="ipabs-chromium-") as profile:
            command = [
                str(browser),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--print-to-pdf={part}",
                html.as_uri(),
            ]
            returncode, stderr = _run(command, timeout)
        head = part.read_bytes()[:5] if part.is_file() else b""
        if returncode != 0 or head != b"%PDF-":
            detail = stderr.strip().splitlines()[-3:]
            raise UserError(
                f"{browser} could not print {html} (exit code {returncode})"
                + ("".join(f"\n  {line}" for line in detail) if detail else "")
            )
        os.replace(part, pdf)
    finally:
        part.unlink(missing_ok=True)
    return pdf


def _run(command: list[str], timeout: float) -> tuple[int, str]:
    """Run the browser in its own process group, so that on a timeout its helper processes (zygote,
    renderer) are ended with it rather than left running."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise UserError(
            f"{command[0]} did not finish printing within {timeout:g} s and was stopped"
        ) from None
    return process.returncode, stderr
