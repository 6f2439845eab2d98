"""docs/scenario-format.md stays in step with the schema: its key table is the generated one."""

from __future__ import annotations

from helpers import REPO, run_cli

from ipabs.scenario.reference import BEGIN, END, key_paths, markdown

DOC = REPO / "docs" / "scenario-format.md"


def test_docs_key_reference_is_the_generated_one():
    text = DOC.read_text()
    assert BEGIN in text and END in text
    committed = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert committed == markdown(), (
        "regenerate: ipabs schema --markdown (see docs/scenario-format.md)"
    )


def test_every_key_is_documented_with_a_meaning():
    table = markdown()
    for path, info in key_paths():
        assert f"| `{path}` |" in table
        assert info.description, f"{path} has no description"


def test_schema_markdown_command_prints_the_table():
    proc = run_cli("schema", "--markdown")
    assert proc.returncode == 0 and proc.stdout.strip() == markdown().strip()


def test_documented_memory_estimate_is_the_one_the_code_uses():
    from ipabs.engine.limits import (
        BYTES_PER_PATH,
        BYTES_PER_PATH_TRANCHE,
        SAMPLE_SERIES,
        STATEMENT_PATHS,
        STATEMENT_SERIES,
    )

    text = " ".join(DOC.read_text().split())  # the sentence may wrap
    assert (
        f"- memory: paths x (tranches x {BYTES_PER_PATH_TRANCHE} bytes + {BYTES_PER_PATH} bytes)"
        f" + sample_paths x periods x (tranches + {SAMPLE_SERIES}) x 8 bytes"
        f" + min(sample_paths, {STATEMENT_PATHS}) x periods x (2 x tranches + fees"
        f" + {STATEMENT_SERIES}) x 8 bytes"
    ) in text
