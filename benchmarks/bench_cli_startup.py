"""Start-up cost of the command line: ``l2phase theory ... --json`` vs ``python -c "import sympy"``.

A user who asks for a closed form should wait no longer than the import of sympy itself
(target: within 1.5x).  Every command is a fresh interpreter, run interleaved, medians
over ``--repeats`` rounds.  Also reports what each command loaded (torch, numba, sympy).

Run: python benchmarks/bench_cli_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = "import sys, json; print(json.dumps([m for m in ('torch', 'numba', 'sympy') if m in sys.modules]))"

COMMANDS = {
    "python -c 'import sympy' (reference)": "import sympy",
    "python -c 'import l2phase'": "import l2phase",
    "l2phase theory --depth 2 --a 1 --c 1 --json": (
        "from l2phase.cli import main; main(['theory', '--depth', '2', '--a', '1', '--c', '1', '--json'])"
    ),
    "l2phase theory --depth 1000000 --a 1 --c 1 --json": (
        "from l2phase.cli import main; main(['theory', '--depth', '1000000', '--a', '1', '--c', '1', '--json'])"
    ),
    "l2phase --help": "from l2phase.cli import build_parser; build_parser().format_help()",
}


def _time(code: str, cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cwd:  # outside the repository: the installed package
        for code in COMMANDS.values():
            _time(code, cwd)  # warm the file cache and __pycache__
        times = {name: [] for name in COMMANDS}
        for _ in range(args.repeats):
            for name, code in COMMANDS.items():
                times[name].append(_time(code, cwd))
        loaded = {
            name: json.loads(subprocess.run([sys.executable, "-c", code + "\n" + PROBE], check=True,
                                            capture_output=True, text=True, cwd=cwd).stdout.splitlines()[-1])
            for name, code in COMMANDS.items()
        }
    ref = statistics.median(times["python -c 'import sympy' (reference)"])
    print(f"{'command':<52} {'median s':>9} {'vs sympy':>9}  loaded")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<52} {med:9.3f} {med / ref:8.2f}x  {', '.join(loaded[name]) or '-'}")
    print("target: 'l2phase theory ... --json' within 1.5x of the sympy import")


if __name__ == "__main__":
    main()
