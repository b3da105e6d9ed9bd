"""The parser the CLI page documents: :func:`l2phase.cli.build_parser` itself, with the bars
of its plain-text help strings (``|E[x y]|``) escaped for reStructuredText.

``docs/cli.md`` points sphinx-argparse here (``:ref: l2phase_cli_doc.parser``); every
option, default and help text comes from the installed parser, so the page cannot drift.
"""

from __future__ import annotations

import argparse

from l2phase_api import escape_bars


def _escape(parser: argparse.ArgumentParser) -> None:
    for attr in ("description", "epilog"):
        if getattr(parser, attr):
            setattr(parser, attr, escape_bars(getattr(parser, attr)))
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = escape_bars(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help:
                    choice.help = escape_bars(choice.help)
            for sub in action.choices.values():
                _escape(sub)


def parser() -> argparse.ArgumentParser:
    from l2phase.cli import build_parser

    p = build_parser()
    _escape(p)
    return p
