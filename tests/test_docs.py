"""What ships points readers only to things that ship.

Docstrings, notebooks, the README, the benchmarks and the documentation cite papers by authors
and arXiv id and link the documentation pages; they never send a reader to project-internal
notes ("DESIGN section 3") or internal paper nicknames ("seed 001").  The documentation build
itself is a documented command (README, "Documentation"), run by CI, not a test: it takes
about a minute.  The README's relative links must point at existing files and cover every
documentation page, and its test command must be the one ``.ci/run`` runs verbatim.
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


# The README is the front page: its links must lead somewhere, and its test command must be the one CI runs.
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _readme_links() -> list[str]:
    return [t for t in LINK.findall(README.read_text(encoding="utf-8")) if "://" not in t and not t.startswith("#")]


def test_the_link_pattern_finds_relative_links():
    assert LINK.findall("see [a](docs/a.md) and [b](https://x.org/b) and [c](../c.md#s)") == [
        "docs/a.md", "https://x.org/b", "../c.md#s"]


def test_readme_links_point_at_existing_files():
    links = _readme_links()
    assert len(links) >= 10, links  # the page list; an empty list would mean the pattern broke
    missing = [t for t in links if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_readme_links_every_documentation_page():
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    linked = {t.split("#", 1)[0] for t in _readme_links()}
    assert not pages - linked, f"docs pages the README does not link: {sorted(pages - linked)}"


def test_readme_test_command_is_the_one_ci_runs():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [line.strip() for b in blocks for line in b.splitlines() if "pip install" in line and "venv" in line]
    test_cmd = [c for c in commands if c.endswith("python -m pytest")]
    assert len(test_cmd) == 1, commands
    assert any(c.endswith("&& l2phase validate") for c in commands), commands
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert test_cmd[0] in ci, f"README's test command is not run verbatim by .ci/run: {test_cmd[0]!r}"
