"""Command-line entry point ``l2phase``.

Each sub-command lives in its own private module ``l2phase/_cmd_*.py`` exposing
``register(subparsers)``; this module only assembles them and maps the outcome to an
exit status:

* invalid user input (:class:`l2phase.theory.checks.InputError`: an argument, a
  configuration key, a data file or the output directory, named in the message) and
  argparse usage errors: one line ``l2phase CMD: error: ...``, exit status 2;
* anything else is a bug in l2phase: the traceback, then one line
  ``l2phase CMD: internal error ...``, exit status 1 (a bug never passes for a user error);
* Ctrl-C: exit status 130.

``l2phase --debug CMD ...`` prints the traceback of user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Sequence

from l2phase.theory.checks import InputError

# Order = order in ``l2phase --help``.
_COMMAND_MODULES = (
    "l2phase._cmd_theory",
    "l2phase._cmd_validate",
    "l2phase._cmd_sweep",
    "l2phase._cmd_init_diagram",
    "l2phase._cmd_changepoints",
    "l2phase._cmd_scan",
    "l2phase._cmd_escape",
)


class CLIError(InputError):
    """A user error found by the command line itself: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as the CLI contract asks."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="l2phase",
        description="Phase transitions caused by L2 regularisation in neural networks.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of user errors too (internal errors always print it)")
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
    except InputError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"l2phase {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"l2phase {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so, and keep the traceback
        traceback.print_exc()
        print(f"l2phase {args.command}: internal error (a bug in l2phase; please report it with the traceback "
              f"above): {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (the CLI contract: user errors are one line)."""
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
