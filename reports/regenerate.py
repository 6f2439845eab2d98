"""Regenerate the committed example reports: `python reports/regenerate.py` (from the
repository's root). CI checks them with `ipabs report --check reports/<scenario>/`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = "2000"  # small enough for the repository; the numbers are reproduced exactly by --check
STRESSED = {
    "zgc_patent_licence_abs_2022": "scenarios/stress/regulatory.toml",
    "nanshan_ip_pledged_loans_abs_2022": "scenarios/stress/regulatory.toml",
}
#: the Beijing and Shenzhen deals get a Chinese page beside the English one
ENGLISH_ONLY = {"biopharma_royalty_trust_2000", "music_catalogue_abs"}


def main() -> None:
    for scenario in sorted((ROOT / "scenarios").glob("*.toml")):
        out = ROOT / "reports" / scenario.stem
        shutil.rmtree(out, ignore_errors=True)
        command = [
            sys.executable,
            "-m",
            "ipabs",
            "report",
            str(scenario.relative_to(ROOT)),
            "--paths",
            PATHS,
            "--out",
            str(out.relative_to(ROOT)),
        ]
        if scenario.stem in STRESSED:
            command += ["--stress", STRESSED[scenario.stem]]
        command += ["--lang", "en" if scenario.stem in ENGLISH_ONLY else "en,zh"]
        subprocess.run(command, cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
