"""``l2phase scan``: sweep your own torch model across gamma, or analyse checkpoints you have.

``--model path/to/file.py:factory`` names a Python file and a function in it that
returns a fresh ``nn.Module`` (the import-string convention of uvicorn/gunicorn).  The
file is executed: this is intended (it is your model), so only pass files you trust.
``--data`` is ``synthetic`` (whitened teacher: 4 inputs, 2 outputs), ``digits``
(scikit-learn's bundled digits as the built-in sweeps use them: 16 whitened principal
components of the pixels, centred one-hot targets over 10 classes) or an ``.npz`` file with
arrays ``X`` and ``Y`` (your own preprocessing).
``--gammas LO:HI:N`` is a log-spaced grid.  Writes ``scan.csv``, ``runs.csv`` and
``summary.json`` (change points of every column, the penalised parameters) to ``--out``.
Every finished gamma is written to ``--out`` as it comes (``points/``), so a killed scan
continues with ``--resume`` and gives the same numbers as an uninterrupted one; a resume
with another model file, data, grid or option is refused, naming what differs.
``--scheduler local:N`` (or a Dask address) runs the work units (``--chunk-size``
gammas each) on Dask.  With ``--checkpoints DIR`` nothing is trained: the state_dicts in
DIR (one per gamma, gamma from ``manifest.json`` or the file name) are measured as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ._options import add_scheduler_argument


def register(sub) -> None:
    p = sub.add_parser(
        "scan",
        help="train your own torch model (FILE.py:factory) across gamma, or analyse your checkpoints",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--model", required=True, metavar="FILE.py:FACTORY", help="factory returning a fresh nn.Module")
    p.add_argument("--data", default="synthetic", help="synthetic (4 inputs, 2 outputs) | digits (16 whitened components, 10 one-hot "
                   "outputs) | FILE.npz with arrays X, Y")
    p.add_argument("--gammas", default="1e-3:1:32", metavar="LO:HI:N", help="log-spaced gamma grid (default 1e-3:1:32)")
    p.add_argument("--checkpoints", default=None, metavar="DIR", help="analyse these state_dicts instead of training")
    p.add_argument("--loss", default="mse", choices=("mse", "cross_entropy"), help="error term (default mse)")
    p.add_argument("--starts", type=int, default=1, help="seeded starts per gamma (default 1)")
    p.add_argument("--steps", type=int, default=3000, help="training steps at most (default 3000)")
    p.add_argument("--polish", default="newton", choices=("newton", "none"),
                   help="Newton polish after first-order training (default newton; none is faster, less exact)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts")
    p.add_argument("--out", default="l2phase-scan", help="output directory (default l2phase-scan/)")
    p.add_argument("--resume", action="store_true", help="reuse the gammas already finished in --out (same configuration)")
    p.add_argument("--chunk-size", type=int, default=32, metavar="N",
                   help="gammas per work unit, trained batched with every start (default 32)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scheduler_argument(p)
    p.set_defaults(func=run)


def parse_gammas(text: str):
    import numpy as np

    from l2phase.theory.checks import InputError

    parts = text.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        raise InputError(f"--gammas must be LO:HI:N (e.g. 1e-3:1:64), got {text!r}") from None
    if len(parts) != 3 or not (0 < lo < hi) or n < 2:
        raise InputError(f"--gammas must be LO:HI:N with 0 < LO < HI and N >= 2, got {text!r}")
    return np.geomspace(lo, hi, n)


def load_data(name: str, seed: int):
    from pathlib import Path

    import numpy as np

    from l2phase.theory.checks import InputError

    if name == "synthetic":
        from l2phase.empirical import synthetic_teacher

        d = synthetic_teacher(200, 4, (1.0, 0.4), noise=0.1, seed=seed)
        return d.X, d.Y
    if name == "digits":
        from l2phase.empirical import load_digits_dataset

        d = load_digits_dataset()
        return d.X, d.Y
    p = Path(name)
    if p.suffix != ".npz" or not p.is_file():
        raise InputError(f"--data must be synthetic, digits or an existing .npz file with X and Y, got {name!r}")
    with np.load(p, allow_pickle=False) as z:
        if "X" not in z or "Y" not in z:
            raise InputError(f"{p}: needs arrays 'X' and 'Y' (has {sorted(z.files)})")
        return z["X"], z["Y"]


def run(args) -> int:
    from l2phase.empirical import TrainConfig, load_model_factory, scan, scan_checkpoints

    from l2phase.theory.checks import InputError

    from ._options import make_executor, progress_bar

    factory = load_model_factory(args.model)
    X, Y = load_data(args.data, args.seed)
    if args.checkpoints:
        if args.resume or args.scheduler:
            raise InputError("--checkpoints trains nothing: --resume and --scheduler do not apply")
        res = scan_checkpoints(factory, args.checkpoints, X, Y, loss=args.loss, seed=args.seed, out_dir=args.out)
    else:
        if args.chunk_size < 1:
            raise InputError(f"--chunk-size must be a positive integer, got {args.chunk_size}")
        gammas = parse_gammas(args.gammas)
        with make_executor(args.scheduler, "scan") as executor, \
                progress_bar(not args.no_progress, "l2phase scan", total=gammas.size) as bar:
            res = scan(factory, X, Y, gammas, loss=args.loss, n_starts=args.starts, seed=args.seed,
                       train=TrainConfig(max_steps=args.steps, polish=None if args.polish == "none" else "newton"), out_dir=args.out, resume=args.resume,
                       chunk_size=args.chunk_size, executor=executor,
                       progress=bar.update if bar is not None else None)
    print(f"l2phase scan: {res.config['penalty_note']}", file=sys.stderr)
    for col, cps in res.change_points.items():
        desc = ", ".join(f"{c.kind} at {c.gamma:.4g} [{c.low:.4g}, {c.high:.4g}]" for c in cps) or "none"
        print(f"{col:<14} {desc}")
    print(f"wrote {Path(args.out) / 'scan.csv'}, runs.csv, summary.json")
    return 0
