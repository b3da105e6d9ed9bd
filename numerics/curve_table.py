"""Change points of every column of a table measured elsewhere (CSV or JSON).

A user who logged a weight-decay sweep with their own training code has a table: one
row per gamma (or weight decay, or any x), one column per measured quantity.
:func:`read_curve_table` reads it (CSV with a header row; JSON as a list of row objects
or an object of equal-length columns), :func:`table_change_points` runs the default
:class:`~l2phase.numerics.ChangePointDetector` on every chosen column against the x
column.  Invalid input raises :class:`l2phase.theory.checks.InputError` naming the file
and column.

Example
-------
>>> import numpy as np
>>> g = np.geomspace(0.1, 3.0, 120)
>>> table = {"gamma": g, "norm": np.maximum(0.7 - g, 0.0)}
>>> cps = table_change_points(table, x="gamma")
>>> [(round(c.gamma, 2), c.kind) for c in cps["norm"]]
[(0.7, 'kink')]
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from l2phase.theory.checks import InputError

from .change_points import ChangePoint, ChangePointDetector

__all__ = ["read_curve_table", "table_change_points", "change_points_json"]

#: Fewest rows a curve needs (two segments of the minimum size and room for a change).
MIN_ROWS = 8


def read_curve_table(path: str | Path, *, required: Sequence[str] | None = None,
                     skipped: list[str] | None = None) -> dict[str, np.ndarray]:
    """Columns of a CSV (header row) or JSON table as float arrays, in file order.

    JSON: a list of objects (one per row, same keys) or an object of equal-length
    lists.  Cells that are empty, ``nan`` or ``null`` become NaN (such rows are skipped
    per column by :func:`table_change_points`).  Any other non-numeric cell is an error
    naming the file, column and row, in every column when ``required`` is None, and otherwise
    in the ``required`` columns and in any column holding at least one number; columns
    without a single number (labels, ``True``/``False`` flags such as a scan's
    ``converged``) are then left out, and their names appended to ``skipped`` when a list
    is given.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    text = p.read_text()
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(obj, list):
            if not obj or not all(isinstance(r, dict) for r in obj):
                raise InputError(f"{p}: a JSON table is a list of row objects or an object of columns")
            names = list(obj[0])
            raw = {k: [r.get(k) for r in obj] for k in names}
        elif isinstance(obj, dict) and all(isinstance(v, list) for v in obj.values()):
            raw = dict(obj)
        else:
            raise InputError(f"{p}: a JSON table is a list of row objects or an object of columns")
    else:
        rows = list(csv.reader(text.splitlines()))
        rows = [r for r in rows if r and any(c.strip() for c in r)]
        if not rows:
            raise InputError(f"{p}: empty table")
        names = [c.strip() for c in rows[0]]
        if len(set(names)) != len(names):
            raise InputError(f"{p}: duplicate column names in the header {names}")
        for j, r in enumerate(rows[1:], start=2):
            if len(r) != len(names):
                raise InputError(f"{p}: line {j} has {len(r)} cells, the header has {len(names)}")
        raw = {k: [r[i] for r in rows[1:]] for i, k in enumerate(names)}
    lengths = {len(v) for v in raw.values()}
    if len(lengths) > 1:
        raise InputError(f"{p}: columns of different lengths {sorted(lengths)}")
    need = None if required is None else {str(c) for c in required}
    out = {}
    for k, v in raw.items():
        try:
            out[str(k)] = _numeric_column(p, str(k), v)
        except InputError:
            # a column of numbers with one bad cell is a damaged column, not a label column
            if need is None or str(k) in need or any(_is_number(c) for c in v):
                raise
            if skipped is not None:
                skipped.append(str(k))
    return out


def _is_number(cell: Any) -> bool:
    if isinstance(cell, bool) or cell is None:
        return False
    try:
        return bool(np.isfinite(float(cell)))
    except (TypeError, ValueError):
        return False


def _numeric_column(p: Path, name: str, cells: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        if c is None or (isinstance(c, str) and c.strip().lower() in ("", "nan", "null", "none")):
            out[i] = np.nan
            continue
        if isinstance(c, bool):
            out[i] = float(c)
            continue
        try:
            out[i] = float(c)
        except (TypeError, ValueError):
            raise InputError(f"{p}: column {name!r} row {i + 1}: {c!r} is not a number") from None
    return out


def table_change_points(
    table: Mapping[str, Any],
    x: str,
    columns: Sequence[str] | None = None,
    *,
    log_x: bool | None = None,
    sort: bool = True,
    source: str = "table",
    skipped: list[str] | None = None,
    **detector_kwargs,
) -> dict[str, list[ChangePoint]]:
    """Change points of each column against column ``x`` (default settings of the detector).

    Parameters
    ----------
    table : mapping column name -> 1-D numbers
    x : str
        The abscissa column (gamma, weight decay, ...).
    columns : sequence of str, optional
        Columns to analyse (default: every numeric column except ``x``).
    log_x : bool, optional
        Fit segments in log(x) (True), in x (False), or choose from the grid (None).
    sort : bool
        Unsorted x is sorted (rows move together); with False it is an error.  Duplicate
        x values are always an error (which y would the curve take there?).
    source : str
        Name used in error messages (the file).
    skipped : list, optional
        With ``columns`` None: columns with fewer than ``MIN_ROWS`` usable rows are left out
        and named here (instead of an error), so a default run analyses what it can.
    detector_kwargs
        Passed to :class:`ChangePointDetector`.

    Returns
    -------
    dict column -> list of ChangePoint (x units), in ``columns`` order.  Rows where x or
    the column is NaN are left out of that column's curve.
    """
    if x not in table:
        raise InputError(f"{source}: no column {x!r} for --x (columns: {', '.join(table)})")
    cols = list(columns) if columns is not None else [c for c in table if c != x]
    missing = [c for c in cols if c not in table]
    if missing:
        raise InputError(f"{source}: no column(s) {', '.join(map(repr, missing))} (columns: {', '.join(table)})")
    if x in cols:
        raise InputError(f"{source}: column {x!r} is the x column; leave it out of the y columns")
    xs = np.asarray(table[x], dtype=float)
    fin = np.isfinite(xs)
    if columns is None and skipped is not None:
        sparse = [c for c in cols if int((fin & np.isfinite(np.asarray(table[c], dtype=float))).sum()) < MIN_ROWS]
        skipped += [f"{c} (fewer than {MIN_ROWS} numbers)" for c in sparse]
        cols = [c for c in cols if c not in sparse]
        if sparse and not cols:
            raise InputError(f"{source}: no column besides {x!r} has at least {MIN_ROWS} usable rows")
    if not cols:
        raise InputError(f"{source}: no y column to analyse besides {x!r}")
    xv = xs[fin]
    if xv.size and np.unique(xv).size != xv.size:
        vals, counts = np.unique(xv, return_counts=True)
        raise InputError(f"{source}: column {x!r} has duplicate values (e.g. {float(vals[counts > 1][0])!r}); "
                         "average or drop repeated rows first")
    if xv.size > 1 and np.any(np.diff(xv) <= 0) and not sort:
        raise InputError(f"{source}: column {x!r} is not sorted increasingly")
    scale = None if log_x is None else ("log" if log_x else "linear")
    if scale == "log" and np.any(xv <= 0):
        raise InputError(f"{source}: --log-x needs {x!r} > 0 everywhere")
    out: dict[str, list[ChangePoint]] = {}
    for c in cols:
        y = np.asarray(table[c], dtype=float)
        keep = fin & np.isfinite(y)
        if keep.sum() < MIN_ROWS:
            raise InputError(f"{source}: column {c!r} has {int(keep.sum())} usable rows; at least {MIN_ROWS} needed")
        order = np.argsort(xs[keep], kind="stable")
        det = ChangePointDetector(x_scale=scale if scale is not None else "auto", **detector_kwargs)
        out[c] = det.fit(xs[keep][order], y[keep][order]).predict()
    return out


def change_points_json(result: Mapping[str, Sequence[ChangePoint]]) -> dict[str, list[dict[str, Any]]]:
    """``{column: [{"x", "low", "high", "kind", "size"}, ...]}`` (plain floats and strings)."""
    return {c: [dict(x=float(cp.gamma), low=float(cp.low), high=float(cp.high), kind=cp.kind,
                     size=float(cp.size)) for cp in cps] for c, cps in result.items()}
