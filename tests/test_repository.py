"""The repository's promises: the README's two commands, and CI running exactly the second."""

from __future__ import annotations

from helpers import REPO

INSTALL_AND_RUN = "pip install -e . && ipabs run scenarios/zgc_patent_licence_abs_2022.toml"
INSTALL_AND_TEST = 'pip install -e ".[test]" && pytest'
INSTALL_CHROMIUM = (
    "apt-get install -y --no-install-recommends chromium || "
    "{ apt-get update -qq && apt-get install -y --no-install-recommends chromium; }"
)


def test_readme_gives_the_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text()
    assert INSTALL_AND_RUN in readme and INSTALL_AND_TEST in readme and INSTALL_CHROMIUM in readme
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    commands = [
        line
        for line in ci
        if line and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == [INSTALL_CHROMIUM, INSTALL_AND_TEST]
    assert (REPO / "scenarios" / "zgc_patent_licence_abs_2022.toml").is_file()
