"""Options shared by the commands: --scheduler, --device, the progress bar (the sweeps), and
--data with its preprocessing (theory, changepoints, escape).  Imports of torch and dask stay
inside the functions, so ``l2phase --help`` and ``l2phase theory`` start fast."""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from l2phase.theory.checks import SEED_MAX, InputError, physical_memory_bytes


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run the sweeps' work units on Dask: 'local:N' starts a LocalCluster with N workers, "
        "'tcp://HOST:PORT' uses a running scheduler (default: in this process); needs "
        "pip install -e '.[cluster]'",
    )


def make_executor(scheduler: str | None, command: str | None = None):
    """:func:`empirical.make_executor`; with ``command``, says on stderr where the units run."""
    from l2phase.empirical.executors import make_executor as _make

    executor = _make(scheduler)
    if scheduler and command:
        print(f"l2phase {command}: running on {executor.description}"
              + (f"; dashboard: {executor.dashboard_link}" if executor.dashboard_link else ""), file=sys.stderr)
        _warn_oversubscription(scheduler, command)
    return executor


def _warn_oversubscription(scheduler: str, command: str) -> None:
    """Each work unit runs with this process's torch thread count (that keeps results
    bit-identical); N local workers x T threads > cores makes OpenMP threads spin against each
    other (measured: a 256-gamma sweep 4.3x slower than in-process on 2 cores)."""
    import os

    import torch

    if not scheduler.startswith("local:"):
        return
    try:
        n = int(scheduler.split(":", 1)[1])
    except ValueError:
        return
    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    if n * threads > cores:
        print(f"l2phase {command}: warning: {n} local workers x {threads} torch threads per work unit > {cores} "
              f"cores; set OMP_NUM_THREADS={max(1, cores // n)} (results stay bit-identical for a given value)",
              file=sys.stderr)


def check_device(name: str, flag: str = "--device") -> str:
    """A torch device that l2phase can run on here (``--device``), else :class:`InputError`.

    Only ``cpu`` and ``cuda[:k]`` are supported (``meta`` holds no data; ``mps`` and the
    others lack the float64 kernels the sweeps use); a CUDA device must exist.
    """
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"{flag}: unknown torch device {name!r} (use cpu or cuda[:k])") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"{flag} {name}: l2phase runs on cpu or cuda[:k] devices only")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"{flag} {name} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"{flag} {name}: there are only {torch.cuda.device_count()} CUDA device(s)")
    return name


def device_memory_bytes(name: str) -> int | None:
    """Memory of a checked device: the GPU's total memory for cuda, physical RAM for cpu."""
    if name.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(torch.device(name)).total_memory)
    return physical_memory_bytes()


def prepare_out_dir(out, flag: str = "--out") -> Path:
    """Create the output directory and check that files can be written in it.

    An existing file, a read-only file system or a missing permission is an
    :class:`InputError` naming ``flag`` and the path (before any compute starts).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{flag} {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".l2phase-write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def parse_int(text, flag: str, minimum: int = 1) -> int:
    """An integer flag given as text, at least ``minimum``; else an error naming the flag."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InputError(f"{flag} must be an integer >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise InputError(f"{flag} must be an integer >= {minimum}, got {text!r}")
    return value


def parse_seed(text, flag: str = "--seed") -> int:
    """A seed flag: an integer in [0, 2**32 - 1], checked before any compute."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise InputError(f"{flag} must be an integer in [0, {SEED_MAX}], got {text!r}")
    return value


@contextmanager
def progress_bar(enabled: bool, desc: str, total: int | None = None, unit: str = "pt"):
    """A tqdm bar on stderr (None when disabled), closed however the block ends."""
    bar = None
    if enabled:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def add_data_arguments(parser: argparse.ArgumentParser, *, search: bool) -> None:
    """--data NAME|FILE and its preprocessing options; with ``search``, --starts and --seed of
    the global numerical search of :func:`l2phase.theory.data_transitions`."""
    g = parser.add_argument_group("data (--data): statistics computed from a data set")
    g.add_argument("--data", default=None, help="digits | mnist (local files: L2PHASE_MNIST or --mnist-path) | "
                   "synthetic | FILE.npz (arrays X, Y) | FILE.csv (with --target)")
    g.add_argument("--target", default=None, help="target column name(s) of a .csv file, comma-separated")
    g.add_argument("--mnist-path", default=None, help="MNIST directory or mnist.npz (default: $L2PHASE_MNIST)")
    g.add_argument("--center-inputs", action="store_true", help="subtract the mean input (default: not centred)")
    g.add_argument("--scale-inputs", action="store_true", help="divide each input column by its std")
    g.add_argument("--components", default=None, help="project inputs on the top N principal components")
    g.add_argument("--whiten", action="store_true", help="with --components: unit variance per component")
    g.add_argument("--targets", default=None, choices=["onehot-centred", "onehot", "raw-centred", "raw"],
                   help="labels -> one-hot with/without the mean removed, or targets as given, centred or not "
                   "(default: onehot-centred for class labels, raw for real-valued targets)")
    g.add_argument("--bias", action="store_true", help="append a constant-1 input column")
    if search:
        g.add_argument("--starts", default="8", help="starts per rank of the global numerical search (D >= 2, "
                       "several outputs)")
        g.add_argument("--seed", default="0", help="seed of the random starts")


def data_statistics(args: argparse.Namespace):
    """A, B, E||y||^2 of ``--data`` after the selected preprocessing (the empirical sweeps' own),
    and a description of the source.  Torch-free."""
    from l2phase.empirical.dataset import data_stats
    from l2phase.empirical.loaders import load_raw
    from l2phase.empirical.preprocessing import Preprocessing

    n_components = None if args.components is None else parse_int(args.components, "--components")
    targets = [t.strip() for t in args.target.split(",")] if args.target else None
    X, y, info = load_raw(args.data, targets=targets, mnist_path=args.mnist_path)
    labels = Preprocessing.are_labels(y)
    mode = args.targets or ("onehot-centred" if labels else "raw")
    prep = Preprocessing(
        center_inputs=args.center_inputs,
        scale_inputs=args.scale_inputs,
        n_components=n_components,
        whiten=args.whiten,
        one_hot=mode.startswith("onehot"),
        center_targets=mode.endswith("centred"),
        bias=args.bias,
    )
    if args.whiten and prep.n_components is None:
        raise InputError("--whiten needs --components N")
    X, Y = prep.apply(X, y)
    A, B, ey2 = data_stats(X, Y)
    source = dict(info, preprocessing=prep.describe(labels), preprocessing_options=prep.to_dict(),
                  n_samples=int(X.shape[0]), in_dim=int(X.shape[1]), n_outputs=int(Y.shape[1]))
    return A, B, ey2, source
