"""Bad input at the public API: every boundary refuses it with an InputError naming the
argument (no AttributeError from deep inside, no silent garbage), and process-wide torch
settings are restored."""

from __future__ import annotations

import gzip
import math
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2phase.theory.checks import (SEED_MAX, InputError, InputTypeError, check_choice, check_int, check_memory,
                                   check_scalar_stats)


# ----------------------------------------------------------------------------- check helpers
@given(st.integers(-10**30, 10**30), st.integers(-100, 100), st.integers(0, 200))
def test_check_int_accepts_exactly_the_range(x, lo, span):
    hi = lo + span
    if lo <= x <= hi:
        assert check_int(x, "n", lo, hi) == x
        assert check_int(np.int64(x), "n", lo, hi) == x  # numpy integers too
    else:
        with pytest.raises(InputError, match=r"^n must be an integer in \["):
            check_int(x, "n", lo, hi)


@pytest.mark.parametrize("bad", [True, 1.0, 2.5, "3", None, [1], float("nan")])
def test_check_int_refuses_non_integers(bad):
    with pytest.raises(InputTypeError, match="width"):
        check_int(bad, "width", 1)


def test_check_choice_and_memory():
    assert check_choice("R_L", "signal", ("R_L", "R_E")) == "R_L"
    for bad in ("foo", 1, np.array(["R_L"]), True):
        with pytest.raises(InputError, match="signal must be one of"):
            check_choice(bad, "signal", ("R_L", "R_E"))
    assert check_memory(1e3, "x", limit=1e6) == 1e3
    with pytest.raises(InputError, match=r"width = 10 needs about 9.31 GiB of memory, more than the 1 KiB"):
        check_memory(1e10, "width = 10", limit=1024)
    with pytest.raises(InputError, match="unbounded"):
        check_memory(math.inf, "x", limit=1024)


# ----------------------------------------------------------------------------- statistics consistency
positive = st.floats(1e-6, 1e6, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(positive, st.one_of(st.just(0.0), st.floats(1e-100, 1e3)), st.floats(0.0, 2.0))
def test_free_energy_and_critical_point_share_the_consistency_check(a, c, ratio):
    """Statistics E[y^2] < c^2/a come from no data set: every (a, c, E[y^2]) function refuses them alike."""
    from l2phase.numerics import free_energy, free_energy_lean
    from l2phase.theory import critical_point

    ey2 = ratio * c * c / a
    consistent = ey2 >= c * c / a * (1 - 1e-12)
    calls = [lambda: critical_point(2, a, c, ey2), lambda: free_energy([0.1, 0.2], 2, a, c, ey2),
             lambda: free_energy_lean(np.array([0.1, 0.2]), 2, a, c, ey2), lambda: check_scalar_stats(a, c, ey2)]
    for call in calls:
        if consistent:
            call()
        else:
            with pytest.raises(InputError, match="Cauchy-Schwarz"):
                call()


def test_free_energy_issue_example_is_refused():
    from l2phase.numerics import free_energy

    with pytest.raises(InputError, match=r"Ey2=0.1 must be >= c\^2/a=1"):
        free_energy(0.1, 2, 1, 1, ey2=0.1)


@settings(max_examples=80, deadline=None)
@given(st.integers(-300, 300), st.integers(-300, 300), st.integers(2, 10**9))
def test_critical_point_extreme_scales_answer_or_name_the_inputs(ea, ec, depth):
    """Any a, c in floating-point range: a finite answer, or an InputError naming a and c."""
    from l2phase.theory import critical_point

    a, c = 10.0 ** ea, 10.0 ** ec
    try:
        cp = critical_point(depth, a, c, ey2=max(1.0, c * (c / a)) if math.isfinite(c * (c / a)) else 1.0)
    except InputError as exc:
        assert "a=" in str(exc) and "c=" in str(exc) or "c^2/a" in str(exc) or "Ey2" in str(exc)
        return
    for v in (cp.gamma_c, cp.spinodal, cp.b_c_squared, cp.latent_heat):
        assert math.isfinite(v) and v > 0
    assert cp.spinodal > cp.gamma_c  # D >= 2: the metastable window is never empty


def test_symbolic_depth_is_bounded():
    from l2phase.theory import critical_point_symbolic
    from l2phase.theory.derivation import SYMBOLIC_MAX_DEPTH

    with pytest.raises(InputError, match=f"depth <= {SYMBOLIC_MAX_DEPTH}"):
        critical_point_symbolic(SYMBOLIC_MAX_DEPTH + 1)
    with pytest.raises(InputError, match="symbolic"):
        critical_point_symbolic(10**6)


def test_noise_factor_overflow_names_the_inputs():
    from l2phase.theory import noise_factor

    with pytest.raises(InputError, match="noise_sigma2=1e.308.*floating-point range"):
        noise_factor(1e308, 10, 2)
    assert noise_factor(0.5, 10, 3) == pytest.approx(1.05**3, rel=1e-15)


# ----------------------------------------------------------------------------- Ricci scalar
@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31), st.floats(1e-6, 10.0))
def test_ricci_scalar_refuses_non_symmetric_hessians(P, seed, skew):
    from l2phase.numerics import ricci_scalar, ricci_scalar_batched

    rng = np.random.default_rng(seed)
    M = rng.standard_normal((P, P))
    H = M + M.T
    lam = np.linalg.eigvalsh(H)
    # at a critical point R = 2 sum_{i<j} lambda_i lambda_j (independent reference)
    ref = float(lam.sum() ** 2 - (lam**2).sum())
    assert ricci_scalar(np.zeros(P), H) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    A = np.triu(rng.standard_normal((P, P)), 1)
    H_bad = H + skew * np.abs(H).max() * (A - A.T) / max(np.abs(A - A.T).max(), 1e-300)
    with pytest.raises(InputError, match="hessian is not symmetric"):
        ricci_scalar(np.zeros(P), H_bad)
    with pytest.raises(InputError, match=r"hessians is not symmetric \(point 1\)"):
        ricci_scalar_batched(np.zeros((2, P)), np.stack([H, H_bad]))


def test_ricci_scalar_accepts_rounding_asymmetry():
    from l2phase.numerics import ricci_scalar

    H = np.array([[2.0, 1.0], [1.0 + 1e-14, 3.0]])
    assert ricci_scalar(np.zeros(2), H) == pytest.approx(2 * 3 * 2 - 2 * 1.0, rel=1e-12)


# ----------------------------------------------------------------------------- config dataclasses
def _configs():
    from l2phase.empirical import (InitDiagramConfig, InitSpec, NetSpec, SweepConfig, TrainConfig, ValidationConfig,
                                   VAESpec, VAESweepConfig)

    return [
        (lambda: SweepConfig(n_probes=-1), "n_probes"),
        (lambda: SweepConfig(chunk_size=0), "chunk_size"),
        (lambda: SweepConfig(seed=-1), "seed"),
        (lambda: SweepConfig(train="adam"), "train"),
        (lambda: SweepConfig(inits=[1.0]), r"inits\[0\]"),
        (lambda: SweepConfig(curvature="fast"), "curvature"),
        (lambda: ValidationConfig(n_samples=0), "n_samples"),
        (lambda: ValidationConfig(noise=float("nan")), "noise"),
        (lambda: ValidationConfig(depths=(1, 10**6)), r"depths\[i\]"),
        (lambda: ValidationConfig(depths="12"), "depths"),
        (lambda: ValidationConfig(match_rtol=-1.0), "match_rtol"),
        (lambda: ValidationConfig(seed=2**40), "seed"),
        (lambda: TrainConfig(lr=-1.0), "lr"),
        (lambda: TrainConfig(lr=True), "lr"),
        (lambda: TrainConfig(max_steps=1.5), "max_steps"),
        (lambda: TrainConfig(max_steps=10**12), "max_steps"),
        (lambda: TrainConfig(optimizer="sgd!"), "optimizer"),
        (lambda: VAESweepConfig(chunk_size=0), "chunk_size"),
        (lambda: VAESweepConfig(n_probes=1), "n_probes"),
        (lambda: VAESweepConfig(init_scales=()), "init_scales"),
        (lambda: InitDiagramConfig(widths=(10, float("inf"))), r"widths\[i\]"),
        (lambda: InitDiagramConfig(widths=(10,)), "widths"),
        (lambda: InitDiagramConfig(gammas_energy=(-5.0,)), "gammas_energy = -5"),
        (lambda: InitDiagramConfig(gammas_dynamic=(float("nan"),)), r"gammas_dynamic\[i\]"),
        (lambda: InitDiagramConfig(tol=0.0), "tol"),
        (lambda: InitDiagramConfig(max_steps=0), "max_steps"),
        (lambda: InitDiagramConfig(dtype="float16"), "dtype"),
        (lambda: InitDiagramConfig(seeds=(0, 0)), "seeds"),
        (lambda: NetSpec(4, 1, 1, width=0), "width"),
        (lambda: NetSpec(4, 1, 10**9), "depth"),
        (lambda: NetSpec(10**6, 1, 3, width=10**6), "memory"),
        (lambda: VAESpec(4, 2, hidden=-1), "hidden"),
        (lambda: VAESpec(4, 2, noise_seed=-1), "noise_seed"),
        (lambda: InitSpec("random", -1.0), "scale"),
        (lambda: InitSpec("random", 1.0, rank=-2), "rank"),
    ]


@pytest.mark.parametrize("i", range(35))
def test_config_dataclasses_validate_in_post_init(i):
    cases = _configs()
    assert len(cases) == 35
    make, needle = cases[i]
    with pytest.raises(InputError, match=needle):
        make()


# ----------------------------------------------------------------------------- typed arguments
def _tiny_sweep_result():
    from l2phase.empirical import NetSpec, SweepResult

    spec = NetSpec(2, 1, 1, width=1)
    recs = [dict(gamma=g, loss=1.0 - g, R_L=float(g), diverged=False, status="converged") for g in (0.1, 0.2, 0.3)]
    return SweepResult(records=recs, thetas=np.zeros((3, spec.n_params)), spec=spec)


def test_public_functions_name_the_argument_of_the_wrong_type():
    from l2phase.empirical import (NetSpec, collapse_analysis, match_transitions, refine_sweep, run_validation,
                                   sweep_gamma, synthetic_teacher)

    spec = NetSpec(4, 2, 1, width=2)
    data = synthetic_teacher(20, 4, (1.0, 0.4))
    cases = [
        (lambda: sweep_gamma(spec, None, [0.1]), "data must be a Dataset"),
        (lambda: sweep_gamma("net", data, [0.1]), "spec must be a NetSpec"),
        (lambda: sweep_gamma(spec, data, [0.1], config={"chunk_size": 2}), "config must be a SweepConfig"),
        (lambda: collapse_analysis(None), "result must be a SweepResult"),
        (lambda: match_transitions(["a"], ["b"]), r"predicted\[0\] must be a PredictedTransition"),
        (lambda: match_transitions([], "b"), "detected must be a sequence"),
        (lambda: run_validation("quick"), "config must be a ValidationConfig"),
        (lambda: refine_sweep(spec, data, None), "result must be a SweepResult"),
    ]
    for call, needle in cases:
        with pytest.raises(InputTypeError, match=needle):
            call()


@pytest.mark.parametrize("kwargs, needle", [
    (dict(signal="foo"), "signal must name a numeric column"),
    (dict(signal="status"), "signal must name a numeric column"),
    (dict(rtol=-1.0), "rtol"),
    (dict(rtol=float("nan")), "rtol"),
    (dict(n_new=0), "n_new"),
    (dict(max_rounds=-1), "max_rounds"),
    (dict(detect_kwargs=[1]), "detect_kwargs"),
])
def test_refine_sweep_checks_its_options(kwargs, needle):
    from l2phase.empirical import refine_sweep, synthetic_teacher

    res = _tiny_sweep_result()
    with pytest.raises(InputError, match=needle):
        refine_sweep(res.spec, synthetic_teacher(20, 2, (1.0,)), res, **kwargs)


def test_match_transitions_rtol():
    from l2phase.empirical import match_transitions

    for bad in (-1.0, float("nan"), "x"):
        with pytest.raises(InputError, match="rtol"):
            match_transitions([], [], rtol=bad)
    assert match_transitions([], [], rtol=0.0) == ([], [])


# ----------------------------------------------------------------------------- data
def test_data_loaders_give_their_own_messages():
    from l2phase.empirical import load_digits_dataset, synthetic_autoencoder, synthetic_teacher

    cases = [
        (lambda: synthetic_teacher(seed=-1), r"seed must be an integer in \[0, "),
        (lambda: synthetic_teacher(seed=SEED_MAX + 1), "seed"),
        (lambda: synthetic_teacher(n_samples=10**13), "needs about .* of memory"),
        (lambda: synthetic_autoencoder(seed=1.5), "seed"),
        (lambda: load_digits_dataset(classes=[42]), r"classes\[i\] must be an integer in \[0, 9\], got 42"),
        (lambda: load_digits_dataset(classes=[1, 1]), "distinct"),
        (lambda: load_digits_dataset(classes="12"), "classes"),
        (lambda: load_digits_dataset(seed=-3), "seed"),
    ]
    for call, needle in cases:
        with pytest.raises(InputError, match=needle):
            call()


def test_damaged_mnist_files_are_named_never_a_pickle_hint(tmp_path):
    from l2phase.empirical import load_mnist, read_idx

    header = b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    raw = gzip.compress(header + bytes(10 * 784))
    trunc = tmp_path / "train-images-idx3-ubyte.gz"
    trunc.write_bytes(raw[: len(raw) // 2])
    (tmp_path / "garbage.gz").write_bytes(b"not gzip at all")
    huge = tmp_path / "huge-idx"  # a header that claims 2^96 bytes: refused without allocating
    huge.write_bytes(b"\x00\x00\x08\x03" + (2**32 - 1).to_bytes(4, "big") * 3 + bytes(16))
    obj = tmp_path / "obj.npz"
    np.savez(obj, x_train=np.array([object()], dtype=object), y_train=np.zeros(1))
    bad_zip = tmp_path / "bad.npz"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    cut = tmp_path / "cut.npz"
    np.savez(cut, x_train=np.zeros((3, 784)), y_train=np.zeros(3))
    cut.write_bytes(cut.read_bytes()[:200])
    for call, path in [(lambda: read_idx(trunc), trunc), (lambda: read_idx(tmp_path / "garbage.gz"), "garbage.gz"),
                       (lambda: read_idx(huge), huge), (lambda: load_mnist(obj), obj),
                       (lambda: load_mnist(bad_zip), bad_zip), (lambda: load_mnist(cut), cut)]:
        with pytest.raises(InputError) as exc:
            call()
        assert str(path) in str(exc.value)
        assert "pickle" not in str(exc.value).lower()
    assert zipfile.is_zipfile(obj)  # the object-array file is a valid archive: refused for its content


# ----------------------------------------------------------------------------- process-wide torch state
def test_training_restores_tf32_and_thread_settings():
    import torch

    from l2phase.empirical import (NetSpec, SweepConfig, TrainConfig, sweep_gamma, synthetic_teacher, train_normalised,
                                   two_layer_dataset)

    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_num_threads())
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        train_normalised(two_layer_dataset("quadratic4"), [1.0], [1.0], [4], [0], max_steps=3)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        threads = torch.get_num_threads()
        sweep_gamma(NetSpec(2, 1, 1, width=1), synthetic_teacher(8, 2, (1.0,)), [0.5],
                    SweepConfig(train=TrainConfig(max_steps=2, polish=None), curvature=None))
        assert torch.get_num_threads() == threads
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[:2]


def test_tf32_disabled_restores_after_an_exception():
    import torch

    from l2phase.empirical import tf32_disabled, torch_threads

    before = torch.backends.cudnn.allow_tf32, torch.get_num_threads()
    with pytest.raises(KeyError):
        with tf32_disabled(), torch_threads(1):
            assert not torch.backends.cudnn.allow_tf32 and torch.get_num_threads() == 1
            raise KeyError("boom")
    assert (torch.backends.cudnn.allow_tf32, torch.get_num_threads()) == before
