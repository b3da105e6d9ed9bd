"""Command-line entry point ``l2phase``.

Each sub-command lives in its own private module ``l2phase/_cmd_*.py`` exposing
``register(subparsers)``; this module only assembles them and turns user errors into
exit status 2 with a one-line message (no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Order = order in ``l2phase --help``.
_COMMAND_MODULES = (
    "l2phase._cmd_theory",
    "l2phase._cmd_validate",
    "l2phase._cmd_sweep",
    "l2phase._cmd_init_diagram",
    "l2phase._cmd_escape",
)


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as the CLI contract asks."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="l2phase",
        description="Phase transitions caused by L2 regularisation in neural networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (
        CLIError,
        ValueError,
        TypeError,
        NotImplementedError,
        FileNotFoundError,
        IsADirectoryError,
        PermissionError,
    ) as exc:
        print(f"l2phase {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"l2phase {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
