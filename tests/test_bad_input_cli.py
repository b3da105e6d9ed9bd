"""Bad input on the command line: one line on stderr naming the flag, key or file, exit 2,
before any compute; a bug is exit 1 with its traceback.

Every case runs in-process through :func:`l2phase.cli.main`.  The compute entry points of
``validate``, ``sweep`` and ``init-diagram`` are replaced by a function that raises, so a
check that does not fire shows up as exit 1 ("compute started") instead of a training run.
"""

from __future__ import annotations

import errno
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2phase.cli import main


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.strip()]


def _assert_user_error(rc, lines, *needles):
    assert rc == 2, lines
    assert len(lines) == 1, lines  # one line, no traceback
    assert lines[0].startswith("l2phase "), lines
    assert ": error: " in lines[0], lines
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


class _ComputeStarted(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise _ComputeStarted("compute started: a bad input got past the checks")


@pytest.fixture
def no_compute(monkeypatch):
    """Replace every command's compute with a function that raises (a missed check -> exit 1)."""
    import l2phase.empirical.experiments.init_diagram as init_diagram
    import l2phase.empirical.experiments.validation as validation
    import l2phase.sweep_runner as sweep_runner

    monkeypatch.setattr(validation, "run_validation", _refuse)
    monkeypatch.setattr(sweep_runner, "run_experiment", _refuse)
    monkeypatch.setattr(init_diagram, "run_init_diagram", _refuse)


# ----------------------------------------------------------------------------- theory
def _deep_json(path: Path) -> Path:
    nest = "[" * 100_000 + "1" + "]" * 100_000
    path.write_text('{"A": ' + nest + ', "beta": [1], "Ey2": 1}')
    return path


THEORY_CASES = [
    (["--depth", "-1", "--a", "1", "--c", "1"], ["--depth"]),
    (["--depth", "two", "--a", "1", "--c", "1"], ["--depth"]),
    (["--depth", "1000000000", "--a", "1", "--c", "1", "--latex"], ["--latex", "--depth"]),
    (["--depth", "13", "--a", "1", "--c", "1", "--latex"], ["--latex", "--depth <= 12"]),
    (["--depth", "2", "--a", "1", "--c", "1", "--noise", "1e308", "--width", "10"], ["--noise 1e308"]),
    (["--depth", "2", "--a", "1", "--c", "1", "--noise", "0.1"], ["--width"]),
    (["--depth", "2", "--a", "1", "--c", "1", "--noise", "0.1", "--width", "0"], ["--width"]),
    (["--depth", "2", "--a", "1", "--c", "1e308"], ["--c 1e308"]),
    (["--depth", "2", "--a", "0", "--c", "1"], ["--a"]),
    (["--depth", "2", "--a", "nan", "--c", "1"], ["--a"]),
    (["--depth", "2", "--a", "1", "--c", "1", "--ey2", "0.5"], ["--ey2 0.5", "Cauchy-Schwarz"]),
    (["--depth", "2", "--a", "1"], ["--c"]),
]


@pytest.mark.parametrize("argv, needles", THEORY_CASES, ids=[" ".join(c[0]) for c in THEORY_CASES])
def test_theory_bad_flags(argv, needles, capsys):
    rc, lines = _run(["theory", *argv], capsys)
    _assert_user_error(rc, lines, *needles)


def test_theory_stats_files(tmp_path, capsys):
    cases = {
        "deep.json": (_deep_json(tmp_path / "deep.json"), "too deeply"),
        "dir": (tmp_path, "is a directory"),
        "missing": (tmp_path / "nope.json", "not found"),
        "notjson": (tmp_path / "bad.json", "not valid JSON"),
        "huge A": (tmp_path / "huge.json", "at most"),
        "inconsistent": (tmp_path / "cs.json", "Ey2"),
        "not symmetric": (tmp_path / "ns.json", "symmetric"),
    }
    (tmp_path / "bad.json").write_text("{A: 1")
    (tmp_path / "huge.json").write_text(json.dumps({"A": [[1e308]], "beta": [1.0], "Ey2": 1.0}))
    (tmp_path / "cs.json").write_text(json.dumps({"A": [[1.0]], "beta": [1.0], "Ey2": 0.5}))
    (tmp_path / "ns.json").write_text(json.dumps({"A": [[1.0, 0.5], [0.0, 1.0]], "beta": [1.0, 0.0], "Ey2": 2.0}))
    for name, (path, needle) in cases.items():
        rc, lines = _run(["theory", "--depth", "2", "--stats", path], capsys)
        _assert_user_error(rc, lines, needle)
        if name not in ("inconsistent", "not symmetric"):
            assert str(path) in lines[0] or path.name in lines[0], (name, lines)


def test_theory_extreme_but_valid_inputs_answer(capsys):
    """Inputs at the edge of floating point get an answer, not an internal quantity's error."""
    for argv in (["--depth", "2", "--a", "1e308", "--c", "1"], ["--depth", "1000000000", "--a", "1", "--c", "1"],
                 ["--depth", "99999999999999999999", "--a", "1", "--c", "1"]):
        assert main(["theory", *argv, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["gamma_c"] > 0 and out["order"] == 1


# ----------------------------------------------------------------------------- validate
VALIDATE_CASES = [
    (["--seed", "-1"], ["--seed", "-1"]),
    (["--seed", "99999999999999999999"], ["--seed"]),
    (["--seed", "1.5"], ["--seed"]),
    (["--depths", "0"], ["--depths"]),
    (["--depths", "1,1000000"], ["--depths"]),
    (["--depths", "1,,x"], ["--depths"]),
    (["--device", "meta"], ["--device meta"]),
    (["--device", "mps"], ["--device mps"]),
    (["--device", "nonsense"], ["--device"]),
    (["--device", "cuda:99"], ["--device cuda:99"]),
    (["--scheduler", "local:100000"], ["--scheduler"]),
    (["--scheduler", "bogus"], ["--scheduler"]),
]


@pytest.mark.parametrize("argv, needles", VALIDATE_CASES, ids=[" ".join(c[0]) for c in VALIDATE_CASES])
def test_validate_bad_flags(argv, needles, tmp_path, capsys, no_compute):
    if argv[0] == "--scheduler":
        pytest.importorskip("distributed")
    rc, lines = _run(["validate", "--quick", "--no-progress", "--out", tmp_path / "o", *argv], capsys)
    _assert_user_error(rc, lines, *needles)
    assert not (tmp_path / "o").exists() or argv[0] == "--scheduler"  # nothing written before the checks


@pytest.mark.parametrize("command", ["validate", "init-diagram"])
def test_out_not_a_directory(command, tmp_path, capsys, no_compute):
    f = tmp_path / "file"
    f.write_text("mine")
    for out in (f, f / "sub"):
        rc, lines = _run([command, "--out", out], capsys)
        _assert_user_error(rc, lines, "--out", str(out))
    assert f.read_text() == "mine"


@pytest.mark.parametrize("command", ["validate", "init-diagram", "sweep"])
def test_out_on_read_only_file_system(command, tmp_path, capsys, no_compute, monkeypatch):
    """The OSError of a read-only file system becomes a one-line error naming --out."""
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    extra = ["--config", "vae_linear_synthetic"] if command == "sweep" else []
    rc, lines = _run([command, "--out", tmp_path / "ro", *extra], capsys)
    _assert_user_error(rc, lines, "--out", "Read-only file system")


# ----------------------------------------------------------------------------- sweep
def _config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


_CLS = 'experiment = "classifier"\n'
SWEEP_CASES = [
    (_CLS + "[model]\nwidth = 10000000\n", ["[model] width", "<="]),
    (_CLS + "[model]\nwidth = 100000\ndepth = 50\n", ["memory", "P = "]),
    (_CLS + "[data]\nn_train = 1000000000\n", ["[data] n_train"]),
    (_CLS + "[sweep]\npoints = 100000000\n", ["[sweep] points"]),
    (_CLS + "scale = 1e308\n", ["scale"]),
    (_CLS + "scale = 10000\n", ["[sweep] points", "times scale"]),
    (_CLS + "seed = 99999999999999999999\n", ["seed"]),
    (_CLS + "seed = -1\n", ["seed"]),
    (_CLS + "[train]\nmax_steps = 10000000000\n", ["[train] max_steps"]),
    (_CLS + "[curvature]\nmethod = \"exact\"\n[model]\nwidth = 3000\n", ["memory"]),
    (_CLS + "[sweep]\ninits = " + str([1.0] * 1000) + "\n", ["[sweep] inits"]),
    (_CLS + "name = 'x'\n[data\n", ["c.toml", "TOML"]),
    ("[" * 100_000, ["c.toml"]),
]


@pytest.mark.parametrize("text, needles", SWEEP_CASES, ids=[f"case{i}" for i in range(len(SWEEP_CASES))])
def test_sweep_bad_configs(text, needles, tmp_path, capsys, no_compute):
    rc, lines = _run(["sweep", "--config", _config(tmp_path, text), "--out", tmp_path / "o"], capsys)
    _assert_user_error(rc, lines, *needles)
    assert not (tmp_path / "o").exists()


def test_sweep_bad_files_and_flags(tmp_path, capsys, no_compute):
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    cases = [
        (["--config", tmp_path / "missing.toml"], ["missing.toml"]),
        (["--config", tmp_path], ["directory"]),
        (["--config", tmp_path / "bin.toml"], ["bin.toml"]),
        (["--config", "vae_linear_synthetic", "--device", "meta"], ["--device meta"]),
        ([], ["--config"]),
    ]
    for argv, needles in cases:
        rc, lines = _run(["sweep", "--out", tmp_path / "o", *argv], capsys)
        _assert_user_error(rc, lines, *needles)


# ----------------------------------------------------------------------------- init-diagram
INIT_CASES = [
    (["--grid", "-5 x 0"], ["--grid", "gamma_energy"]),
    (["--grid", "0.5,,1 x 0"], ["--grid", "empty entry"]),
    (["--grid", "1 x 0 x 1"], ["--grid"]),
    (["--grid", "0.5:1:0 x 0"], ["--grid"]),
    (["--grid", "0.5:1:100000000 x 0"], ["--grid"]),
    (["--grid", "nan x 0"], ["--grid"]),
    (["--widths", "inf,10"], ["--widths"]),
    (["--widths", "10,1e12"], ["--widths"]),
    (["--widths", "10"], ["--widths"]),
    (["--widths", "10,20.5"], ["--widths"]),
    (["--widths", "1000,50000000"], ["--widths", "memory"]),
    (["--seeds", "1000000000"], ["--seeds"]),
    (["--seeds", "1,1"], ["--seeds"]),
    (["--seeds", "0,99999999999999999999"], ["--seeds"]),
    (["--max-steps", "0"], ["--max-steps"]),
    (["--max-steps", "10000000000"], ["--max-steps"]),
    (["--tol", "nan"], ["--tol"]),
    (["--refine", "1000"], ["--refine"]),
    (["--n-samples", "1000000000", "--data", "sin1d"], ["--n-samples"]),
    (["--data", "nosuchset"], ["nosuchset"]),
    (["--data", "mnist:/nonexistent/mnist"], ["/nonexistent/mnist"]),
    (["--device", "meta"], ["--device meta"]),
    (["--device", "mps"], ["--device mps"]),
]


@pytest.mark.parametrize("argv, needles", INIT_CASES, ids=[" ".join(c[0]) for c in INIT_CASES])
def test_init_diagram_bad_flags(argv, needles, tmp_path, capsys, no_compute):
    rc, lines = _run(["init-diagram", "--no-progress", "--out", tmp_path / "o", *argv], capsys)
    _assert_user_error(rc, lines, *needles)
    assert not (tmp_path / "o").exists()


def test_truncated_mnist_is_named(tmp_path, capsys, no_compute):
    """A truncated .gz (EOFError inside gzip) is a one-line error naming the file."""
    header = b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    raw = gzip.compress(header + bytes(10 * 784))
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(raw[: len(raw) // 2])
    rc, lines = _run(["init-diagram", "--data", f"mnist:{tmp_path}", "--out", tmp_path / "o"], capsys)
    _assert_user_error(rc, lines, "train-images-idx3-ubyte.gz", "truncated")


# ----------------------------------------------------------------------------- bugs are not user errors
@pytest.mark.parametrize("exc", [RuntimeError("boom"), ValueError("internal boom"), TypeError("internal boom")])
def test_internal_error_exits_1_with_traceback(exc, capsys, monkeypatch):
    from l2phase import theory

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(theory, "critical_point", broken)
    rc = main(["theory", "--depth", "2", "--a", "1", "--c", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback (most recent call last)" in err
    assert "in broken" in err  # the traceback reaches the failing function
    assert "internal error" in err and type(exc).__name__ in err and "boom" in err


def test_internal_error_in_a_sweep_command(tmp_path, capsys, monkeypatch):
    import l2phase.empirical.experiments.validation as validation

    def broken(*args, **kwargs):
        raise ValueError("shape mismatch deep inside")

    monkeypatch.setattr(validation, "run_validation", broken)
    rc = main(["validate", "--quick", "--no-progress", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" in err and "internal error" in err


def test_debug_prints_the_traceback_of_user_errors(capsys):
    assert main(["--debug", "theory", "--depth", "-1", "--a", "1", "--c", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("l2phase theory: error: --depth")
    assert main(["theory", "--depth", "-1", "--a", "1", "--c", "1"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["theory", "--no-such-flag"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- fuzzing the theory flags
_numberish = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**25, 10**25).map(str),
    st.sampled_from(["", " ", "1e", "0x10", "1_000", "--", "nan", "-inf", "1e-320", "1e308", "\u0661"]),
    st.text(max_size=8),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=_numberish, a=_numberish, c=_numberish, ey2=st.one_of(st.none(), _numberish),
       noise=st.one_of(st.none(), _numberish), width=st.one_of(st.none(), _numberish))
def test_theory_never_crashes(depth, a, c, ey2, noise, width, capsys):
    """Whatever the flags, ``l2phase theory`` answers (exit 0) or says why not in one line (exit 2)."""
    argv = ["theory", f"--depth={depth}", f"--a={a}", f"--c={c}", "--json"]
    argv += [f"--{k}={v}" for k, v in (("ey2", ey2), ("noise", noise), ("width", width)) if v is not None]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage error
        rc = e.code
    captured = capsys.readouterr()
    assert rc in (0, 2), captured.err
    if rc == 2:
        assert len(captured.err.strip().splitlines()) == 1, captured.err
    else:
        out = json.loads(captured.out)
        assert out["depth"] >= 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_numberish, min_size=4, max_size=4), mode=st.sampled_from(["values", "exponents", "coords"]))
def test_init_regime_never_crashes(values, mode, capsys):
    """``l2phase init-regime`` answers (exit 0) or says why not in one line (exit 2), whatever the numbers."""
    flags = {"values": ["--alpha", "--beta1", "--beta2", "--width"],
             "exponents": ["--alpha-exp", "--beta1-exp", "--beta2-exp"],
             "coords": ["--gamma-energy", "--gamma-dynamic"]}[mode]
    argv = ["init-regime", "--json"] + [f"{f}={v}" for f, v in zip(flags, values)]
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    captured = capsys.readouterr()
    assert rc in (0, 2), captured.err
    if rc == 2:
        assert len(captured.err.strip().splitlines()) == 1, captured.err
