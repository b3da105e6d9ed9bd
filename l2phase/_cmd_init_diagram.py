"""Placeholder: filled in by the work on this command (not yet implemented)."""


def register(sub):
    p = sub.add_parser("init-diagram", help="(not implemented yet)")
    p.set_defaults(func=_run)


def _run(args):
    raise NotImplementedError("l2phase init-diagram is not implemented yet")
