"""The examples in the docstrings and in the documentation pages run, and print what they say.

Every module of the installed package whose source contains a ``>>>`` example is run through
``doctest`` (the modules are found from the installed package, not listed by hand, so a new
example is tested as soon as it is written); so are the ``>>>`` examples of ``docs/*.md``.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _walk(package: str):
    """Names of ``package`` and its submodules, found without importing any of them."""
    spec = importlib.util.find_spec(package)
    yield package, spec.origin
    for location in spec.submodule_search_locations or ():
        for info in pkgutil.iter_modules([location]):
            name = f"{package}.{info.name}"
            if info.ispkg:
                yield from _walk(name)
            else:
                yield name, importlib.util.find_spec(name).origin


def _modules_with_examples() -> list[str]:
    names = set()
    for package in ("l2phase", "l2phase.theory", "l2phase.numerics", "l2phase.empirical"):
        for name, origin in _walk(package):
            if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text(encoding="utf-8"):
                names.add(name)
    return sorted(names)


MODULES = _modules_with_examples()
PAGES = sorted(p for p in (ROOT / "docs").glob("*.md") if ">>>" in p.read_text(encoding="utf-8"))


def test_examples_are_found():
    # the science layers all carry examples; an empty list would mean the walk is broken
    for layer in ("l2phase.theory.", "l2phase.numerics.", "l2phase.empirical."):
        assert any(m.startswith(layer) for m in MODULES), (layer, MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(module, name) if t.examples]
    assert tests, f"{name} has '>>>' in its source but doctest found no example"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_documentation_page_examples(page):
    result = doctest.testfile(str(page), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {page.name} failed (output above)"
