"""The data-statistics file: one JSON object ``{"A": ..., "beta": ..., "Ey2": ...}`` (or an .npz).

One reader for every command that takes the statistics of a data set instead of the data
(``l2phase theory --stats FILE``, ``l2phase changepoints --theory FILE``): the
uncentred second moments that fix a deep linear network's transitions (docs/theory.md).
Plain :mod:`json` only (never an expression parser), numpy for the arrays; no torch.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np

from .checks import InputError

__all__ = ["STATS_SCHEMA", "read_data_stats"]

#: The statistics file format, as ``l2phase theory --stats-schema`` prints it.
STATS_SCHEMA = """\
--stats FILE: one JSON object with exactly the keys
  A     d x d nested list of numbers: E[x x^T]. Symmetric to 1e-10 relative to its largest
        entry; positive semi-definite (smallest eigenvalue >= -1e-10 lambda_max). Directions
        with eigenvalue <= 1e-10 lambda_max are dropped (reported as dropped_directions).
  beta  length-d list (one output) or d x k nested list: E[x y^T]. Its component along the
        dropped directions must be within Cauchy-Schwarz, |v^T beta|^2 <= (v^T A v) Ey2.
  Ey2   number >= trace(beta^T A^+ beta): E[||y||^2] (also spelt ey2).
Means over the training set, uncentred (centre x and y first for a covariance).
An .npz file with the same three arrays is read too. The same file serves
'l2phase theory --stats', 'l2phase changepoints --theory' and 'l2phase escape --stats'.
"""

# Read whole: d x d matrices beyond this are not a job for a JSON file.
_MAX_BYTES = 256 * 2**20
# |A_ij|, |beta_i| <= 1e150: products such as beta^T A^-1 beta and A^2 stay finite.
_MAX_ABS = 1e150


def read_data_stats(path: str | Path, *, argument: str = "--stats") -> tuple[np.ndarray, np.ndarray, float]:
    """(A, beta, E||y||^2) from a statistics file (format: :data:`STATS_SCHEMA`).

    Parameters
    ----------
    path : the JSON file ``{"A": [[...]], "beta": [...] or [[...]], "Ey2": number}``, or an
        ``.npz`` file with the same three arrays (read with ``allow_pickle=False``),
        with A = E[x x^T] (d, d), beta = E[x y^T] ((d,) or (d, k)) and Ey2 = E||y||^2
        (``ey2`` is accepted too, not both).
    argument : the option the path came from, named in error messages.

    Returns
    -------
    A (float64, 0-d or (d, d)), beta (float64, (d,) or (d, k)), ey2 (float).  Only the file's
    structure is checked here (keys, shapes, finite numbers in range); symmetry, positive
    semi-definiteness and Cauchy-Schwarz are checked by the theory that uses them
    (:func:`l2phase.theory.data_transitions`, :func:`l2phase.theory.transitions`).

    Raises
    ------
    InputError (a ValueError) naming ``argument``, the file and what is wrong with it.
    """
    where = f"{argument} file {path}"
    file = Path(path)
    if file.is_dir():
        raise InputError(f"{argument} {path} is a directory, not a JSON file")
    if not file.is_file():
        raise InputError(f"{where} not found")
    try:
        size = file.stat().st_size
        if size > _MAX_BYTES:
            raise InputError(f"{where} has {size} bytes, more than the {_MAX_BYTES} a statistics file may have")
        text = "" if file.suffix == ".npz" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text") from None
    if file.suffix == ".npz":
        data = _read_npz(file, where)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        except RecursionError:
            raise InputError(f"{where} nests its JSON arrays too deeply (A is a matrix: two levels)") from None
    if not isinstance(data, dict):
        raise InputError(f"{where} must hold a JSON object with keys A, beta, Ey2")
    if "ey2" in data:
        if "Ey2" in data:
            raise InputError(f"{where} has both Ey2 and ey2; keep one")
        data["Ey2"] = data.pop("ey2")
    missing = [k for k in ("A", "beta", "Ey2") if k not in data]
    if missing:
        raise InputError(f"{where} lacks key(s): {', '.join(missing)} "
                         "(A = E[x x^T], beta = E[x y^T], Ey2 = E||y||^2)")
    unknown = sorted(set(data) - {"A", "beta", "Ey2"})
    if unknown:
        raise InputError(f"{where} has unknown key(s): {', '.join(unknown)}")
    arrays = []
    for key, ndims in (("A", (0, 2)), ("beta", (1, 2))):
        try:
            arr = np.asarray(data[key], dtype=float)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise InputError(f"{where}: {key} must be a (nested) list of numbers") from None
        if arr.ndim not in ndims:
            raise InputError(f"{where}: {key} must have {' or '.join(map(str, ndims))} dimensions, "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{where}: {key} contains a non-finite or out-of-range number")
        arrays.append(arr)
    ey2 = data["Ey2"]
    if isinstance(ey2, np.ndarray) and ey2.shape == () and ey2.dtype.kind in "iuf":  # from an .npz
        ey2 = float(ey2)
    if isinstance(ey2, bool) or not isinstance(ey2, (int, float)) or not math.isfinite(float(ey2)):
        raise InputError(f"{where}: Ey2 must be a finite number, got {ey2!r}")
    A, beta = arrays
    if np.abs(A).max(initial=0.0) > _MAX_ABS or np.abs(beta).max(initial=0.0) > _MAX_ABS:
        raise InputError(f"{where}: entries of A and beta must be at most {_MAX_ABS:g} in magnitude "
                         "(products of them must stay in floating-point range); rescale the data")
    return A, beta, float(ey2)


def _read_npz(file: Path, where: str) -> dict:
    if not zipfile.is_zipfile(file):  # np.load would take it for a pickle
        raise InputError(f"{where} is not an .npz (zip) archive")
    try:
        with np.load(file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:  # damaged, truncated, or holding pickled objects
        raise InputError(f"{where} is not a readable .npz file ({exc})") from None
