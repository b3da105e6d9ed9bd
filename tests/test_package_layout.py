"""The package contract: one installed name (l2phase), lazy imports, one way of importing.

Each check runs in a fresh interpreter whose working directory is outside the repository,
so the repository's top-level folders cannot be imported by accident.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "sympy")


def _python(code: str, tmp_path) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _loaded_after(statement: str, tmp_path) -> list[str]:
    code = f"import sys\n{statement}\nimport json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    return json.loads(_python(code, tmp_path).strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["theory", "numerics", "empirical"])
def test_science_folders_are_not_top_level_packages(name, tmp_path):
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_subpackages_are_importable_under_l2phase(tmp_path):
    out = _python(
        "import l2phase.theory, l2phase.numerics, l2phase.empirical, l2phase\n"
        "print(l2phase.theory.__name__, l2phase.numerics.__name__, l2phase.empirical.__name__)",
        tmp_path,
    )
    assert out.split() == ["l2phase.theory", "l2phase.numerics", "l2phase.empirical"]


@pytest.mark.parametrize(
    "statement, allowed",
    [
        ("import l2phase", ()),
        ("import l2phase.theory", ()),
        ("from l2phase.theory.formatting import format_number, json_ready", ()),
        ("from l2phase.theory import critical_point, transitions; critical_point(50, 1.0, 1.0)", ()),
        ("import l2phase.numerics", ("numba",)),
        ("import l2phase.empirical", ()),
        ("from l2phase.empirical import load_raw, Preprocessing, data_stats, RunStore", ()),
        ("from l2phase.cli import main; main(['theory', '--depth', '2', '--data', 'digits', '--json'])", ()),
        ("import l2phase.cli; l2phase.cli.build_parser()", ()),
        ("from l2phase.cli import main; main(['theory', '--depth', '2', '--a', '1', '--c', '1', '--json'])", ()),
        ("import l2phase as lp; lp.critical_point(3, 1.0, 1.0)", ()),
        ("import l2phase as lp; lp.critical_point_symbolic(2)", ("sympy",)),
    ],
)
def test_imports_are_lazy(statement, allowed, tmp_path):
    assert set(_loaded_after(statement, tmp_path)) <= set(allowed)


def test_facade_names_resolve_to_the_layer_objects():
    import l2phase as lp
    from l2phase import empirical, numerics, theory

    assert lp.critical_point is theory.critical_point
    assert lp.ricci_scalar is numerics.ricci_scalar
    assert lp.NetSpec is empirical.NetSpec
    assert set(lp.__all__) <= set(dir(lp))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        lp.not_a_name  # noqa: B018
    with pytest.raises(AttributeError):
        theory.not_a_name  # noqa: B018


def test_functions_named_like_their_module_stay_functions(tmp_path):
    # the lazy package must not let an earlier import of the submodule shadow the function
    out = _python(
        "import l2phase.empirical.scan, l2phase.empirical.string_method\n"
        "from l2phase import empirical\n"
        "import types\n"
        "print(isinstance(empirical.scan, types.FunctionType), isinstance(empirical.string_method, types.FunctionType),"
        " empirical.scan.__module__, empirical.ModuleSpec.__module__)",
        tmp_path,
    )
    assert out.split() == ["True", "True", "l2phase.empirical.scan", "l2phase.empirical.scan"]


def test_every_advertised_name_exists():
    from l2phase import empirical, numerics, theory

    for mod in (theory, numerics, empirical):
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, (mod.__name__, missing)


def test_one_formatter_and_one_json_sanitiser():
    # the theory command, the reports and the point store share them (no copies)
    import l2phase._cmd_theory as cmd_theory
    import l2phase._cmd_validate as cmd_validate
    from l2phase import empirical
    from l2phase.empirical import reporting, store
    from l2phase.theory import formatting

    assert cmd_theory.format_number is reporting.format_number is cmd_validate.format_number is formatting.format_number
    assert cmd_theory.json_ready is store.json_ready is empirical.json_ready is formatting.json_ready
    assert not hasattr(cmd_theory, "_clean")
