"""Every notebook in notebooks/ is executed top to bottom; any cell error fails the test.

With ``L2PHASE_NOTEBOOK_OUTPUT=DIR`` the executed notebooks are also written to DIR
(``docs/_executed`` is where the documentation build looks for them), so the outputs of a
test run can be shown in the documentation without executing the notebooks twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    # Notebooks read L2PHASE_NOTEBOOK_QUICK to run in reduced size under the test suite.
    monkeypatch.setenv("L2PHASE_NOTEBOOK_QUICK", "1")
    keep = os.environ.get("L2PHASE_NOTEBOOK_OUTPUT")
    # kept notebooks carry their figures (the inline backend); otherwise no figure is rendered
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline" if keep else "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(keep) / path.name)
