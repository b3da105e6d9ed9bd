"""Sphinx extension: the course notebooks, rendered without executing them.

At ``config-inited`` every ``notebooks/NAME.ipynb`` of the repository is copied to
``docs/notebooks/NAME.ipynb`` (a generated folder), taking the executed copy
``docs/_executed/NAME.ipynb`` when one exists and is at least as new as the source; myst-nb
then renders it with ``nb_execution_mode = "off"``.  A notebook without an executed copy is
rendered without outputs and with a note saying how to produce them
(``python docs/execute_notebooks.py``), so ``sphinx-build -W`` passes from a fresh clone.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTE = (
    "```{note}\nThis page shows the notebook without its outputs: no executed copy was found "
    "when the documentation was built. `python docs/execute_notebooks.py` executes every "
    "notebook once into `docs/_executed/`; the next build renders those outputs.\n```"
)


def sources(repo: Path) -> list[Path]:
    return sorted((repo / "notebooks").glob("*.ipynb"))


def executed_copy(docs: Path, source: Path) -> Path | None:
    cached = docs / "_executed" / source.name
    if cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime:
        return cached
    return None


def populate(app, config) -> None:
    docs = Path(app.srcdir)
    target = docs / "notebooks"
    target.mkdir(exist_ok=True)
    wanted = set()
    for source in sources(docs.parent):
        cached = executed_copy(docs, source)
        nb = nbformat.read(cached or source, as_version=4)
        if cached is None:
            nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0,
                            nbformat.v4.new_markdown_cell(NOTE))
        text = nbformat.writes(nb)
        out = target / source.name
        wanted.add(out.name)
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()


def setup(app):
    app.connect("config-inited", populate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
