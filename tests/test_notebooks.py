"""The example notebooks in docs/notebooks run top to bottom (nbclient, a real Jupyter kernel), and
the committed files are the ones docs/notebooks/build.py writes, saved with their outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "notebooks"


def _builder():
    spec = importlib.util.spec_from_file_location("notebook_build", FOLDER / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _builder()


@pytest.mark.parametrize("name", sorted(BUILD.NOTEBOOKS))
def test_committed_notebook_matches_its_cells_and_has_outputs(name):
    nb = nbformat.read(FOLDER / name, as_version=4)
    expected = BUILD.build(name, BUILD.NOTEBOOKS[name])
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], f"{name} differs from docs/notebooks/build.py: run python docs/notebooks/build.py"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)  # committed executed
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUILD.NOTEBOOKS))
def test_notebook_runs_top_to_bottom(name):
    nb = nbformat.read(FOLDER / name, as_version=4)
    BUILD.execute(nb, timeout=600)  # raises CellExecutionError on any failing cell
    html = [
        o.data["text/html"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "data" in o and "text/html" in o.data
    ]
    assert html and any("±" in h for h in html)  # results shown with their standard errors
