"""`l2phase theory --data` and singular --stats: the statistics the sweeps see, the transitions, errors."""

import json

import numpy as np
import pytest

from l2phase.cli import main
from l2phase.empirical import Preprocessing, data_stats, load_raw
from l2phase.theory import transitions


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _digits_stats():
    X, labels, _ = load_raw("digits")
    return data_stats(*Preprocessing().apply(X, labels))


def test_digits_depth_one_stats_file_and_data_agree(tmp_path, capsys):
    A, B, ey2 = _digits_stats()
    f = tmp_path / "digits.json"
    f.write_text(json.dumps({"A": A.tolist(), "beta": B.tolist(), "Ey2": ey2}))
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--stats", str(f), "--json")
    assert code == 0
    from_stats = json.loads(out)
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--data", "digits", "--json")
    assert code == 0
    from_data = json.loads(out)
    for obj in (from_stats, from_data):
        assert obj["statistics"]["dropped_directions"] == 3 and obj["statistics"]["rank_A"] == 61
        assert len(obj["transitions"]) == 9 and {t["order"] for t in obj["transitions"]} == {2}
        # the largest is exactly sigma_max(B) (any A, D = 1)
        assert obj["transitions"][-1]["gamma_c"] == pytest.approx(np.linalg.svd(B, compute_uv=False)[0], rel=1e-12)
    assert [t["gamma_c"] for t in from_data["transitions"]] == pytest.approx(
        [t["gamma_c"] for t in from_stats["transitions"]], rel=1e-9)
    assert "one-hot targets with the mean removed" in from_data["data"]["preprocessing"]


def test_preprocessing_is_the_sweeps_own():
    # classification_split's training transform = Preprocessing with PCA / whitening / centred one-hot
    from l2phase.empirical import classification_split

    tr, _ = classification_split("digits", n_train=300, n_test=10, n_components=8, whiten=True, seed=3)
    X, labels, _ = load_raw("digits")
    idx = np.random.default_rng(3).permutation(X.shape[0])[:300]
    Xp, Yp = Preprocessing(n_components=8, whiten=True).apply(X[np.sort(idx)], labels[np.sort(idx)], n_classes=10)
    for a, b in zip(data_stats(Xp, Yp), tr.stats()):
        assert np.allclose(a, b, atol=1e-10)


def test_npz_and_csv_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(50, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--data", str(tmp_path / "d.npz"), "--targets", "raw",
                        "--json")
    assert code == 0
    got = [t["gamma_c"] for t in json.loads(out)["transitions"]]
    ref = [t.gamma_c for t in transitions(*data_stats(X, Y), 1)]
    assert got == pytest.approx(ref, rel=1e-9)
    lines = ["x1,x2,x3,t1,t2"] + [",".join(f"{v:.17g}" for v in row) for row in np.column_stack([X, Y])]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--data", str(tmp_path / "d.csv"), "--target", "t1,t2",
                        "--targets", "raw", "--json")
    assert code == 0 and [t["gamma_c"] for t in json.loads(out)["transitions"]] == pytest.approx(ref, rel=1e-9)
    # bias column and centring change A as stated
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--data", str(tmp_path / "d.npz"), "--targets", "raw",
                        "--bias", "--json")
    assert json.loads(out)["statistics"]["in_dim"] == 4


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--data", "nosuch"], "--data must be one of"),
        (["--data", "/nonexistent/x.npz"], "not found"),
        (["--data", "{csv}"], "--target"),
        (["--data", "{csv}", "--target", "zz"], "no column(s) 'zz'"),
        (["--data", "{npz}"], "lacks array(s) Y"),
        (["--data", "digits", "--whiten"], "--whiten needs --components"),
        (["--data", "digits", "--stats", "x.json"], "not both"),
    ],
)
def test_bad_data_exits_2(tmp_path, capsys, argv, needle):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    np.savez(tmp_path / "a.npz", X=np.ones((3, 2)))
    argv = [a.format(csv=tmp_path / "a.csv", npz=tmp_path / "a.npz") for a in argv]
    code, out, err = _run(capsys, "theory", "--depth", "1", *argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_singular_stats_inconsistent_beta_names_beta(tmp_path, capsys):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"A": [[1, 0], [0, 0]], "beta": [1, 0.5], "Ey2": 3}))
    code, _, err = _run(capsys, "theory", "--depth", "1", "--stats", str(f))
    assert code == 2 and "beta has a component" in err
    f.write_text(json.dumps({"A": [[1, 0], [0, 0]], "beta": [1, 0], "Ey2": 3}))
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--stats", str(f), "--json")
    obj = json.loads(out)
    assert code == 0 and obj["statistics"]["dropped_directions"] == 1 and obj["transitions"][0]["gamma_c"] == 1.0


def test_bad_stats_field_is_named(tmp_path, capsys):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"A": [[1, 0], [0, 1]], "beta": [1, "x"], "Ey2": 3}))
    code, _, err = _run(capsys, "theory", "--depth", "1", "--stats", str(f))
    assert code == 2 and "beta must be" in err


def test_preprocessing_options_change_the_statistics_as_stated():
    rng = np.random.default_rng(4)
    X = rng.normal(loc=2.0, scale=3.0, size=(40, 3))
    y = rng.integers(0, 3, 40)
    Xc, Y = Preprocessing(center_inputs=True, scale_inputs=True, bias=True).apply(X, y)
    A, B, _ = data_stats(Xc, Y)
    # centred and scaled: the input block of A is the correlation matrix; the bias row is (0, 0, 0, 1)
    assert np.allclose(A[:3, :3], np.corrcoef(X.T), atol=1e-12)
    assert np.allclose(A[3], [0, 0, 0, 1], atol=1e-12)
    # one-hot with the mean removed: every row of Y sums to zero; without: to one
    assert np.allclose(Y.sum(1), 0) and Y.shape == (40, 3)
    assert np.allclose(Preprocessing(center_targets=False).apply(X, y)[1].sum(1), 1)
    assert "bias column appended" in Preprocessing(bias=True).describe()


def test_one_stats_file_serves_theory_and_changepoints(tmp_path, capsys):
    # theory --stats and changepoints --theory read the same file, with ey2 spelt either way;
    # both spellings at once are refused, and --stats-schema needs no --depth
    from l2phase.theory import read_data_stats

    A, beta = np.eye(3), [[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]]
    ref = [t.gamma_c for t in transitions(A, np.asarray(beta), 1.5, 1)]
    for key in ("Ey2", "ey2"):
        f = tmp_path / f"{key}.json"
        f.write_text(json.dumps({"A": A.tolist(), "beta": beta, key: 1.5}))
        code, out, _ = _run(capsys, "theory", "--depth", "1", "--stats", str(f), "--json")
        assert code == 0
        assert [t["gamma_c"] for t in json.loads(out)["transitions"]] == pytest.approx(ref, rel=1e-12)
        assert read_data_stats(f)[2] == 1.5
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"A": A.tolist(), "beta": beta, "Ey2": 1.5, "ey2": 1.5}))
    code, _, err = _run(capsys, "theory", "--depth", "1", "--stats", str(both))
    assert code == 2 and "keep one" in err
    with pytest.raises(ValueError, match="keep one"):
        read_data_stats(both)
    # one reader: a faulty file is refused by both commands with the same reason, naming the option
    table = tmp_path / "curve.csv"
    table.write_text("gamma,y\n" + "".join(f"{g},{g * g}\n" for g in np.linspace(0.1, 1, 12)))
    for content, reason in (({"A": A.tolist(), "beta": beta, "Ey2": 1.5, "extra": 1}, "unknown key(s): extra"),
                            ({"A": A.tolist(), "beta": beta}, "lacks key(s): Ey2"),
                            ({"A": A.tolist(), "beta": beta, "Ey2": "1.5"}, "Ey2 must be a finite number")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(content))
        code, _, err = _run(capsys, "theory", "--depth", "1", "--stats", str(bad))
        assert code == 2 and f"--stats file {bad}" in err and reason in err
        code, _, err = _run(capsys, "changepoints", str(table), "--x", "gamma", "--theory", str(bad), "--depth", "1")
        assert code == 2 and f"--theory file {bad}" in err and reason in err
    code, out, _ = _run(capsys, "theory", "--stats-schema")
    assert code == 0 and "Ey2" in out
    code, _, err = _run(capsys, "theory", "--a", "1", "--c", "1")
    assert code == 2 and "--depth is required" in err


def test_stats_file_as_npz(tmp_path, capsys):
    # the same statistics in an .npz (what `l2phase escape --stats` also takes) give the same transitions
    A, beta = np.eye(3), np.array([[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]])
    ref = [t.gamma_c for t in transitions(A, beta, 1.5, 2)]
    f = tmp_path / "s.npz"
    np.savez(f, A=A, beta=beta, Ey2=1.5)
    code, out, _ = _run(capsys, "theory", "--depth", "2", "--stats", str(f), "--json")
    assert code == 0
    assert [t["gamma_c"] for t in json.loads(out)["transitions"]] == pytest.approx(ref, rel=1e-9)
    np.savez(f, A=A, beta=np.array([{"x": 1}], dtype=object), Ey2=1.5)
    code, _, err = _run(capsys, "theory", "--depth", "2", "--stats", str(f))
    assert code == 2 and "not a readable .npz" in err
    f.write_text("not a zip")
    code, _, err = _run(capsys, "theory", "--depth", "2", "--stats", str(f))
    assert code == 2 and "not an .npz (zip) archive" in err
