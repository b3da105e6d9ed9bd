"""The ``--scheduler`` option shared by the sweep commands (validate, sweep)."""

from __future__ import annotations

import argparse


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run the sweeps' work units on Dask: 'local:N' starts a LocalCluster with N workers, "
        "'tcp://HOST:PORT' uses a running scheduler (default: in this process); needs "
        "pip install -e '.[cluster]'",
    )


def make_executor(scheduler: str | None):
    """:func:`empirical.make_executor`, imported lazily (torch loads only when a command runs)."""
    from empirical.executors import make_executor as _make

    return _make(scheduler)
