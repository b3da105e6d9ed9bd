"""Options shared by the sweep commands (validate, sweep, init-diagram): --scheduler, --device,
the progress bar.  Imports of torch and dask stay inside the functions, so ``l2phase --help``
and ``l2phase theory`` start fast."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from l2phase.theory.checks import InputError


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


def check_device(name: str) -> str:
    """A torch device name that exists here (``--device``), else ValueError."""
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device: unknown torch device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda requested but CUDA is not available")
    return name


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
