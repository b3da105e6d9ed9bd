"""Execute every notebook once into docs/_executed/, for the documentation build.

The documentation build never executes notebooks (``nb_execution_mode = "off"``); it renders
the executed copies this script writes, and the stored notebooks without outputs where no
copy exists.  Usage, from the repository root::

    python docs/execute_notebooks.py            # full size (a few minutes on 2 CPU cores)
    python docs/execute_notebooks.py --quick    # the reduced size the test suite runs
    python docs/execute_notebooks.py 01_exact_theory.ipynb   # only some

The test suite can keep the copies it executes anyway:
``L2PHASE_NOTEBOOK_OUTPUT=docs/_executed python -m pytest tests/test_notebooks.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parent.parent
INLINE = "module://matplotlib_inline.backend_inline"


def execute(source: Path, out_dir: Path, timeout: int) -> Path:
    nb = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:  # notebooks may write files: not into the repo
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": tmp}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all of notebooks/)")
    parser.add_argument("--quick", action="store_true", help="reduced size (L2PHASE_NOTEBOOK_QUICK=1)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "_executed")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    os.environ["MPLBACKEND"] = INLINE  # figures become outputs of the notebook
    if args.quick:
        os.environ["L2PHASE_NOTEBOOK_QUICK"] = "1"
    sources = sorted((REPO / "notebooks").glob("*.ipynb"))
    if args.names:
        sources = [s for s in sources if s.name in set(args.names)]
        missing = set(args.names) - {s.name for s in sources}
        if missing:
            parser.error(f"no such notebook in notebooks/: {', '.join(sorted(missing))}")
    for source in sources:
        print(f"executing {source.name} ...", flush=True)
        print(f"  -> {execute(source, args.out, args.timeout)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
