"""Sphinx configuration of the l2phase documentation.

Build (no notebook is executed, no network is used)::

    pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

Three things are generated at build time, so they cannot drift from the code:

* the API pages (``docs/api/*.rst``) from each package's ``__all__`` (``_ext/l2phase_api.py``);
* the formulas of the theory pages from sympy's ``latex()`` (``_ext/l2phase_formulas.py``);
* ``docs/notebooks/`` from ``notebooks/*.ipynb``: the executed copy in
  ``docs/_executed/`` when one exists (``python docs/execute_notebooks.py`` writes them;
  ``L2PHASE_NOTEBOOK_OUTPUT=docs/_executed python -m pytest tests/test_notebooks.py`` keeps the
  ones the test suite runs), otherwise the stored notebook, rendered without outputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import l2phase  # noqa: E402

project = "l2phase"
author = "the l2phase developers"
copyright = "2026, the l2phase developers"
release = l2phase.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
    "l2phase_api",
    "l2phase_formulas",
    "l2phase_notebooks",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_executed", "**.ipynb_checkpoints", "execute_notebooks.py"]
templates_path = ["_templates"]

# API reference: autosummary stubs for every name in the generated api/*.rst pages.
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Notebooks are rendered from their stored (or cached) outputs, never executed here.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

smartquotes = False  # keep option names such as --noise intact
html_theme = "pydata_sphinx_theme"
html_title = f"l2phase {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
