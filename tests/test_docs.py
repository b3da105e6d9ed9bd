"""What ships points readers only to things that ship.

Docstrings, notebooks, the README, the benchmarks and the documentation cite papers by authors
and arXiv id and link the documentation pages; they never send a reader to project-internal
notes ("DESIGN section 3") or internal paper nicknames ("seed 001").  The documentation build
itself is a documented command (README, "Documentation"), run by CI, not a test: it takes
about a minute.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["theory", "numerics", "empirical", "l2phase", "notebooks", "benchmarks", "docs", "README.md"]
SUFFIXES = {".py", ".ipynb", ".md", ".toml", ".rst", ".cfg"}
FORBIDDEN = re.compile(r"DESIGN(?:\.md)? section|DESIGN's|\bseeds?[ _]?00\d", re.IGNORECASE)
GENERATED = {"_build", "_executed", "api", "notebooks"}  # under docs/: build outputs and generated pages


def _files():
    for entry in SHIPPED:
        path = ROOT / entry
        if path.is_file():
            yield path
            continue
        for f in sorted(path.rglob("*")):
            rel = f.relative_to(ROOT).parts
            if rel[0] == "docs" and len(rel) > 2 and rel[1] in GENERATED:
                continue
            if f.is_file() and f.suffix in SUFFIXES and "__pycache__" not in rel:
                yield f


def test_the_scan_sees_the_package():
    names = {f.name for f in _files()}
    assert {"closed_form.py", "free_energy.py", "models.py", "README.md", "conf.py"} <= names


@pytest.mark.parametrize("pattern", ["see DESIGN section 3", "seed 001's abstract", "(seed 002)", "DESIGN's table"])
def test_the_pattern_catches_internal_references(pattern):
    assert FORBIDDEN.search(pattern)


def test_no_reference_to_files_or_names_that_do_not_ship():
    hits = []
    for f in _files():
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line) and "FORBIDDEN" not in line:
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "cite papers by authors + arXiv id and link docs/ pages instead:\n" + "\n".join(hits)
