r"""The one point store: every file an l2phase run writes goes through a :class:`RunStore`.

A run directory (``--out``) holds

* ``.l2phase-run.json`` - the marker: it makes the directory l2phase's and lists the run's
  fingerprint and every file the run owns (the only files a later run replaces or deletes);
* ``.l2phase-run.lock`` - held (``flock``) while a run uses the directory, so a second run
  on the same directory refuses instead of interleaving; a lock left by a dead process
  is taken over;
* ``points/<group>/<key>.json`` (+ ``.npz``) - one file per finished point, what
  ``--resume`` reuses;
* the reports (``write_text``, ``write_json``, ``write_csv``, ``write_figure``,
  ``write_npz``).

Guarantees:

* **Atomic files.** Every file is written to a temporary file in the same directory,
  flushed and fsync-ed, renamed over the target (``os.replace``) and the directory is
  fsync-ed: a reader (or a run killed at any moment) sees the old file or the new one,
  never a part.  Permissions follow the umask (the temporary file is created with mode
  0o666 & ~umask, as ``open`` would).
* **Nothing deleted that l2phase did not write.** A non-empty directory without the
  marker is refused (:class:`~l2phase.theory.checks.InputError`, "use another --out").
  A fresh run (no ``resume``) in an l2phase directory deletes only the files listed in
  its marker; ownership is recorded *before* a file is written.
* **Fingerprints.** The marker stores the run's fingerprint (configuration, device,
  dtype, package version, torch threads: everything that changes the numbers,
  :func:`run_fingerprint`); ``resume`` with another fingerprint is refused with the
  fields that differ.  Every point file carries the fingerprint's id and a SHA-256 of
  its content (and of its arrays).
* **Damaged points are recomputed.** A point file that cannot be read (truncated, not
  JSON, a bad ``.npz``), whose checksum, key or fingerprint does not match, or that fails
  the caller's schema check is reported in :attr:`RunStore.damaged` and treated as
  missing; ``.npz`` files are read with ``allow_pickle=False``.
* **Names that cannot collide.** A point's file name is made from its exact key: floats
  by their hexadecimal representation (:meth:`float.hex`), integers and plain strings as
  they are.

Example
-------
>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with RunStore.open(d, fingerprint={"config": {"n": 3}}) as store:
...     rec = store.save_point("demo", 0.1, {"gamma": 0.1, "loss": 2.5})
...     _ = store.write_text("report.md", "# demo\n")
>>> with RunStore.open(d, fingerprint={"config": {"n": 3}}, resume=True) as store:
...     store.load_point("demo", 0.1).record["loss"]
2.5
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from l2phase.theory.checks import InputError
from l2phase.theory.formatting import json_ready  # re-exported: empirical.json_ready

__all__ = [
    "MARKER_NAME",
    "LOCK_NAME",
    "RunStore",
    "StoredPoint",
    "atomic_write",
    "check_plain_name",
    "json_ready",
    "point_file_stem",
    "run_fingerprint",
]

MARKER_NAME = ".l2phase-run.json"
LOCK_NAME = ".l2phase-run.lock"
_MARKER_FORMAT = "l2phase-run"
_POINT_FORMAT = "l2phase-point"
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


# --------------------------------------------------------------------------- helpers
def check_plain_name(name: Any, what: str = "name") -> str:
    """``name`` if it is a plain name (letters, digits, ``_.-``; no separator; not starting
    with a dot; at most 100 characters), else :class:`InputError` naming ``what``."""
    if not isinstance(name, str) or len(name) > 100 or not _PLAIN.fullmatch(name):
        raise InputError(f"{what} must be a plain name (letters, digits, '_', '.', '-'; no path separators; "
                         f"not starting with a dot; at most 100 characters), got {name!r}")
    return name


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsync-ed on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, data: bytes | str | Callable[[io.BufferedWriter], None]) -> Path:
    """Write ``path`` atomically: temporary file in the same directory (mode 0o666 & ~umask),
    fsync, ``os.replace``, fsync of the directory.

    ``data`` is bytes, text (UTF-8) or a function that writes to the binary file object
    (e.g. ``lambda f: fig.savefig(f, format="png")``).  A failure leaves the old file (if
    any) untouched and no temporary file behind.
    """
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(parent)
    return path


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _array_digest(name: str, a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{name}|{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _key_tuple(key: Any) -> tuple:
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for p in parts:
        if isinstance(p, (bool, np.bool_)):
            raise TypeError(f"a point key cannot hold a bool, got {key!r}")
        if isinstance(p, (int, np.integer)):
            out.append(int(p))
        elif isinstance(p, (float, np.floating)):
            x = float(p) + 0.0  # -0.0 -> 0.0
            if not math.isfinite(x):
                raise ValueError(f"a point key must be finite, got {key!r}")
            out.append(x)
        elif isinstance(p, str):
            check_plain_name(p, "a point key")
            if "_" in p:
                raise ValueError(f"a string part of a point key cannot contain '_' (the separator), got {p!r}")
            out.append(p)
        else:
            raise TypeError(f"a point key is a float, int, plain string or a tuple of them, got {key!r}")
    if not out:
        raise ValueError("a point key cannot be empty")
    return tuple(out)


def point_file_stem(key: Any) -> str:
    """File name (without suffix) of the point ``key``: floats as ``float.hex`` (exact, so two
    keys share a name only if they are equal), integers as ``i<n>``, strings as ``s<name>``,
    parts joined by ``_``."""
    parts = []
    for p in _key_tuple(key):
        if isinstance(p, float):
            parts.append(p.hex().replace("+", ""))
        elif isinstance(p, int):
            parts.append(f"i{p}")
        else:
            parts.append(f"s{p}")
    return "_".join(parts)


def run_fingerprint(command: str, config: Mapping[str, Any], *, device: Any = "cpu", dtype: Any = "float64") -> dict:
    """The fingerprint of a run: everything that changes its numbers.

    ``command`` and ``config`` (plain data) as given, the torch device type and dtype, the
    l2phase version and torch's intra-op thread count (it sets the order of floating-point
    reductions, so resumed points are bit-identical only with the same count).
    """
    import torch

    try:
        from importlib.metadata import version

        l2v = version("l2phase")
    except Exception:  # pragma: no cover - not installed (source tree)
        l2v = "unknown"
    dev = str(device if device is not None else "cpu")
    return dict(command=str(command), config=json_ready(config, keep_nonfinite=True), device=dev.split(":")[0],
                dtype=str(dtype).replace("torch.", ""), l2phase_version=l2v, torch_threads=int(torch.get_num_threads()))


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def _differences(old: Mapping, new: Mapping) -> list[str]:
    a, b = _flatten(json_ready(old, keep_nonfinite=True)), _flatten(json_ready(new, keep_nonfinite=True))

    def show(x):
        s = json.dumps(x, allow_nan=True) if x is not _MISSING else "(absent)"
        return s if len(s) <= 60 else s[:57] + "..."

    _m = _MISSING
    return [f"{k} (stored {show(a.get(k, _m))}, now {show(b.get(k, _m))})"
            for k in sorted(set(a) | set(b)) if a.get(k, _m) != b.get(k, _m)]


class _Missing:
    pass


_MISSING = _Missing()


# ------------------------------------------------------------------------------ lock
class _Lock:
    """An exclusive, non-blocking lock on ``path`` (``flock``; released by the kernel when
    the process dies, so a lock left by a killed run is simply taken over)."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self, where: str) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            if fcntl is None:  # pragma: no cover
                self.fd = fd
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise InputError(f"{where} is in use by another l2phase run (pid {holder}); wait for it to "
                                 "finish or use another --out") from None
            try:  # the file may have been removed by the previous holder after we opened it
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                break
            os.close(fd)
        else:  # pragma: no cover
            raise InputError(f"{where}: could not take the lock {self.path}")
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)  # closing releases the flock
        self.fd = None


# ----------------------------------------------------------------------------- store
@dataclass
class StoredPoint:
    """A point read back from a store: its record (plain data) and arrays (numpy, may be empty)."""

    record: dict
    arrays: dict


class RunStore:
    """One run directory: marker, lock, atomic files, fingerprinted points (module docstring).

    Open it with :meth:`open` (or :meth:`using` from library code that accepts either a
    path or a store), use it as a context manager, and write every output through it.

    Attributes
    ----------
    path : Path
        The run directory.
    fingerprint : dict
        What the run's numbers depend on (:func:`run_fingerprint`).
    fingerprint_id : str
        Short hash of ``fingerprint``; stored in every point file.
    resumed : bool
        True when the directory held a run with the same fingerprint and ``resume`` was asked.
    damaged : list of str
        One line per point file found damaged and treated as missing (recomputed).
    """

    def __init__(self, path: Path, fingerprint: dict, lock: _Lock, files: set[str], resumed: bool, command: str):
        self.path = path
        self.fingerprint = fingerprint
        self.fingerprint_id = _digest(_canonical(fingerprint))[:16]
        self._lock = lock
        self._files = files
        self.resumed = resumed
        self.command = command
        self.damaged: list[str] = []

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, directory, *, fingerprint: Mapping[str, Any], resume: bool = False, command: str = "",
             option: str = "--out") -> "RunStore":
        """Take ``directory`` for a run (created if missing).

        Refused with :class:`InputError` (message names ``option``): a path that is not a
        directory or cannot be created; a non-empty directory without the marker; a
        directory another run is using; with ``resume``, a directory whose run has another
        fingerprint (the message lists the fields that differ).  Without ``resume`` the
        files of the previous run listed in the marker are deleted (nothing else is).
        """
        d = Path(directory)
        where = f"{option} {d}"
        if d.exists() and not d.is_dir():
            raise InputError(f"{where} exists and is not a directory; use another {option}")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{where}: cannot create the directory ({exc.strerror or exc})") from None
        if not os.access(d, os.W_OK | os.X_OK):
            raise InputError(f"{where} is not writable; use another {option}")
        marker = d / MARKER_NAME
        if not marker.exists() and any(p.name != LOCK_NAME for p in d.iterdir()):
            raise InputError(f"{where} is not empty and is not an l2phase run directory (no {MARKER_NAME}); "
                             f"l2phase does not write into it: use another {option}")
        lock = _Lock(d / LOCK_NAME)
        lock.acquire(where)
        try:
            fp = json_ready(dict(fingerprint), keep_nonfinite=True)
            files: set[str] = set()
            resumed = False
            if marker.exists():
                old = cls._read_marker(marker, where, option)
                old_files = set(old["files"])
                if resume:
                    if _canonical(old["fingerprint"]) != _canonical(fp):
                        diff = _differences(old["fingerprint"], fp)
                        raise InputError(f"--resume: {where} holds a run with another configuration or device; "
                                         f"differing fields: {'; '.join(diff)}. Use another {option} or drop --resume")
                    files, resumed = old_files, True
                else:
                    cls._delete_files(d, old_files)
            store = cls(d, fp, lock, files, resumed, command)
            store._remove_temporaries()
            store._write_marker()
            return store
        except BaseException:
            lock.release()
            raise

    @classmethod
    @contextlib.contextmanager
    def using(cls, out, *, fingerprint: Callable[[], Mapping[str, Any]] | Mapping[str, Any], resume: bool = False,
              command: str = "") -> Iterator["RunStore | None"]:
        """Context manager for library functions that take ``out_dir``: None -> None, a
        :class:`RunStore` -> itself (left open), a path -> a store opened on it (closed at
        the end).  ``fingerprint`` may be a callable, evaluated only when a path is opened."""
        if out is None:
            yield None
        elif isinstance(out, RunStore):
            yield out
        else:
            fp = fingerprint() if callable(fingerprint) else fingerprint
            with cls.open(out, fingerprint=fp, resume=resume, command=command) as store:
                yield store

    @staticmethod
    def _read_marker(marker: Path, where: str, option: str) -> dict:
        try:
            m = json.loads(marker.read_text(encoding="utf-8"))
            ok = (isinstance(m, dict) and m.get("format") == _MARKER_FORMAT and isinstance(m.get("files"), list)
                  and all(isinstance(f, str) for f in m["files"]) and isinstance(m.get("fingerprint"), dict))
        except (OSError, ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise InputError(f"{where}: the run marker {MARKER_NAME} is damaged, so l2phase cannot tell which files "
                             f"are its own; use another {option}")
        for f in m["files"]:
            if not RunStore._safe_relative(f):
                raise InputError(f"{where}: the run marker {MARKER_NAME} lists {f!r}, outside the directory; "
                                 f"use another {option}")
        return m

    @staticmethod
    def _safe_relative(name: str) -> bool:
        p = Path(name)
        return bool(name) and not p.is_absolute() and ".." not in p.parts and p.name not in (MARKER_NAME, LOCK_NAME) \
            and "\\" not in name

    @staticmethod
    def _delete_files(d: Path, files: set[str]) -> None:
        parents = set()
        for f in sorted(files):
            p = d / f
            with contextlib.suppress(FileNotFoundError):
                if p.is_file() or p.is_symlink():
                    p.unlink()
            parents.update(q for q in Path(f).parents if q != Path("."))
        for q in sorted(parents, key=lambda q: len(q.parts), reverse=True):
            with contextlib.suppress(OSError):  # only empty directories go
                (d / q).rmdir()

    def _remove_temporaries(self) -> None:
        """Temporary files of this run's own files left by a killed run (``.<name>.<pid>-<hex>.tmp``)."""
        for f in self._files:
            p = self.path / f
            if p.parent.is_dir():
                for t in p.parent.glob(f".{_glob_escape(p.name)}.*-*.tmp"):
                    with contextlib.suppress(OSError):
                        t.unlink()

    def _write_marker(self) -> None:
        m = dict(format=_MARKER_FORMAT, version=1, command=self.command, fingerprint_id=self.fingerprint_id,
                 fingerprint=self.fingerprint, files=sorted(self._files))
        atomic_write(self.path / MARKER_NAME, json.dumps(m, indent=1, allow_nan=True) + "\n")

    def close(self) -> None:
        """Release the lock (the marker and files stay)."""
        self._lock.release()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------- files
    @property
    def files(self) -> list[str]:
        """The run's own files (relative paths), as listed in the marker."""
        return sorted(self._files)

    def _claim(self, *names: str) -> None:
        if self._lock.fd is None:
            raise RuntimeError(f"the store on {self.path} is closed")
        for n in names:
            if not self._safe_relative(n):
                raise ValueError(f"output name must be a relative path inside the run directory, got {n!r}")
        new = [n for n in names if n not in self._files]
        if new:
            self._files.update(new)
            self._write_marker()  # ownership is recorded before the file exists

    def write_bytes(self, name: str, data: bytes | str | Callable[[io.BufferedWriter], None]) -> Path:
        """Write ``name`` (relative path) atomically and list it as the run's own."""
        self._claim(name)
        return atomic_write(self.path / name, data)

    def write_text(self, name: str, text: str) -> Path:
        """A text file (UTF-8)."""
        return self.write_bytes(name, text)

    def write_json(self, name: str, obj: Any) -> Path:
        """Strict JSON (:func:`json_ready`: non-finite numbers as null), indented."""
        return self.write_bytes(name, json.dumps(json_ready(obj), indent=1, allow_nan=False) + "\n")

    def write_csv(self, name: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None) -> Path:
        """One row per mapping; columns ``fields`` (default: every scalar key, in first-seen order)."""
        if fields is None:
            fields = []
            for r in rows:
                for k, v in r.items():
                    if k not in fields and not isinstance(v, (list, tuple, dict, np.ndarray)):
                        fields.append(k)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})
        return self.write_bytes(name, buf.getvalue())

    def write_figure(self, name: str, fig, **savefig_kwargs) -> Path:
        """A matplotlib figure (format from the suffix; ``dpi`` etc. passed to ``savefig``)."""
        fmt = Path(name).suffix.lstrip(".") or "png"
        return self.write_bytes(name, lambda f: fig.savefig(f, format=fmt, **savefig_kwargs))

    def write_npz(self, name: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """Compressed ``.npz`` of numeric arrays (read back with ``allow_pickle=False``)."""
        return self.write_bytes(name, lambda f: np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()}))

    # ------------------------------------------------------------------- points
    def _point_names(self, group: str, key: Any) -> tuple[str, str]:
        check_plain_name(group, "point group")
        stem = f"points/{group}/{point_file_stem(key)}"
        return stem + ".json", stem + ".npz"

    def claim_points(self, group: str, keys: Sequence[Any], *, arrays: bool = False) -> None:
        """List the point files of ``keys`` (and their ``.npz`` with ``arrays``) as the run's own,
        with one marker write for all of them.

        Call it once per work unit before its points are saved: :meth:`save_point` then
        finds its names listed and writes no marker (one marker write per unit instead of
        one per point).  Claiming a point that is never written is harmless (a later fresh
        run skips the missing file); ownership is still recorded before any file exists.
        """
        names = [n for k in keys for n in self._point_names(group, k)[: 2 if arrays else 1]]
        self._claim(*names)

    def save_point(self, group: str, key: Any, record: Mapping[str, Any],
                   arrays: Mapping[str, np.ndarray] | None = None) -> dict:
        """Write one finished point (record: plain data; arrays: numeric, optional) atomically.

        Returns the record as it reads back (a JSON round trip: tuples as lists, numpy
        scalars as Python numbers), so a fresh run and a resumed one hold the same values.
        The marker is rewritten only for names not yet listed (:meth:`claim_points` lists a
        whole work unit at once).
        """
        jname, zname = self._point_names(group, key)
        rec = json_ready(dict(record), keep_nonfinite=True)
        arr = {k: np.asarray(v) for k, v in (arrays or {}).items()}
        for k, v in arr.items():
            if v.dtype == object:
                raise TypeError(f"array {k!r} of a point must be numeric, got dtype object")
        self._claim(*((jname, zname) if arr else (jname,)))
        if arr:
            self.write_bytes(zname, lambda f: np.savez_compressed(f, **arr))
        env = dict(format=_POINT_FORMAT, run=self.fingerprint_id, group=group, key=list(_key_tuple(key)),
                   record=rec, sha256=_digest(_canonical(rec)),
                   arrays={k: _array_digest(k, v) for k, v in sorted(arr.items())})
        self.write_bytes(jname, json.dumps(env, allow_nan=True, separators=(",", ":")) + "\n")
        return json.loads(json.dumps(rec, allow_nan=True))

    def load_point(self, group: str, key: Any,
                   check: Callable[[dict, dict], None] | None = None) -> StoredPoint | None:
        """The stored point ``key`` of ``group``, or None when it is missing or damaged.

        Damaged: unreadable or truncated file, not this run's fingerprint, another key, a
        checksum mismatch (record or arrays), or ``check(record, arrays)`` raising
        ValueError / KeyError / TypeError / IndexError (the caller's schema: shapes,
        finite values).  Each damaged file is noted in :attr:`damaged`; it is replaced
        when the point is saved again.
        """
        jname, zname = self._point_names(group, key)
        path = self.path / jname
        if not path.exists():
            return None
        try:
            env = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(env, dict) or env.get("format") != _POINT_FORMAT:
                raise ValueError("not an l2phase point file")
            if env.get("run") != self.fingerprint_id:
                raise ValueError("made by a run with another fingerprint")
            if env.get("group") != group or env.get("key") != list(_key_tuple(key)):
                raise ValueError("holds another point")
            rec = env.get("record")
            if not isinstance(rec, dict) or env.get("sha256") != _digest(_canonical(rec)):
                raise ValueError("checksum mismatch")
            arrays: dict[str, np.ndarray] = {}
            want = env.get("arrays") or {}
            if want:
                with np.load(self.path / zname, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                if sorted(arrays) != sorted(want) or any(_array_digest(k, arrays[k]) != want[k] for k in want):
                    raise ValueError("array checksum mismatch")
            if check is not None:
                check(rec, arrays)
        except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
            # zipfile.BadZipFile is an Exception subclass of neither; catch it explicitly below
            self.damaged.append(f"{jname}: {exc}")
            return None
        except Exception as exc:  # e.g. zipfile.BadZipFile from a truncated .npz
            import zipfile

            if not isinstance(exc, zipfile.BadZipFile):
                raise
            self.damaged.append(f"{jname}: damaged arrays ({exc})")
            return None
        return StoredPoint(record=rec, arrays=arrays)


def _glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped (for :meth:`Path.glob`)."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)
