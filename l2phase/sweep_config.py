"""Configuration of ``l2phase sweep``: a TOML file, checked strictly, and the experiment it runs.

Two experiments:

* ``experiment = "classifier"`` - a ReLU / tanh / linear MLP classifier (MSE or
  cross-entropy) swept over the L2 strength gamma on digits or MNIST;
  :func:`empirical.experiments.accuracy_regimes` finds the accuracy regimes and lines them up with
  the curvature change points and the deep-linear prediction.
* ``experiment = "vae"`` - a linear or MLP VAE swept over the KL weight beta on digits,
  MNIST or synthetic Gaussian data; :func:`empirical.collapse_analysis` finds the
  posterior-collapse thresholds (matched with beta_i = zeta_i^2 / eta_dec^2 for the
  linear VAE) and the curvature change points.

Every key is typed; an unknown section or key, a wrong type or an out-of-range value
raises :class:`ConfigError` (a ``ValueError``) naming it, e.g. ``[model] width must be an
integer >= 1, got 'wide'``.  The file is parsed as data (``tomllib``), never evaluated.

``scale`` (top level, default 1) multiplies the sample counts, the hidden width and the
number of grid points, for GPU-sized runs of the same experiment (``scale = 8`` with
``--device cuda``).  Example files ship in ``l2phase/configs/`` (:func:`example_configs`).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2phase.theory.checks import SEED_MAX, InputError, InputFileNotFoundError, check_memory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "ExperimentConfig", "load_config", "parse_config", "example_configs", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# Upper bounds of the integer keys (after ``scale``): sizes beyond them are typing mistakes
# that would run for days or allocate terabytes; the memory estimate below checks the rest.
_MAX = {
    "points": 10**5, "chunk_size": 10**5, "max_steps": 10**8, "max_polish": 10**5, "n_probes": 10**5,
    "exact_max_params": 10**5, "n_train": 10**7, "n_test": 10**7, "n_components": 10**5, "depth": 100,
    "width": 10**6, "latent_dim": 10**4, "hidden": 10**6, "n_noise": 10**4, "inits": 100, "spectrum": 10**4,
}
_MAX_SCALE = 1e4


class ConfigError(InputError):
    """An invalid ``l2phase sweep`` configuration (the message names the key)."""


# --------------------------------------------------------------------------- schema
# Each key: (kind, default, constraint).  kind: "int", "float", "bool", "str", "floats".
_POS, _NONNEG, _ANY = "> 0", ">= 0", None

_COMMON_SWEEP = {
    "min": ("float", None, _POS),
    "max": ("float", None, _POS),
    "points": ("int", 24, ">= 8"),
    "spacing": ("str", "log", ("log", "linear")),
    "inits": ("floats", [0.5, 1.0], _NONNEG),
    "chunk_size": ("int", 32, ">= 1"),
}
_TRAIN = {
    "optimizer": ("str", "adam", ("gd", "adam", "lbfgs", "newton")),
    "lr": ("float", 0.01, _POS),
    "max_steps": ("int", 3000, ">= 0"),
    "gtol": ("float", 1e-6, _POS),
    "switch_tol": ("float", 1e-3, _POS),
    "polish": ("str", "none", ("newton", "none")),
    "max_polish": ("int", 200, ">= 0"),
}
_CURVATURE = {
    "method": ("str", "auto", ("exact", "matrix_free", "auto", "none")),
    "n_probes": ("int", 60, ">= 6"),
    "exact_max_params": ("int", 1500, ">= 1"),
}
_SCHEMA = {
    "classifier": {
        "data": {
            "source": ("str", "digits", ("digits", "mnist")),
            "path": ("str", "", _ANY),
            "n_train": ("int", 400, ">= 10"),
            "n_test": ("int", 400, ">= 1"),
            "n_components": ("int", 16, ">= 1"),
            "whiten": ("bool", True, _ANY),
        },
        "model": {
            "activation": ("str", "relu", ("relu", "tanh", "linear")),
            "depth": ("int", 1, ">= 1"),
            "width": ("int", 16, ">= 1"),
            "bias": ("bool", True, _ANY),
            "objective": ("str", "mse", ("mse", "cross_entropy")),
        },
        "sweep": dict(_COMMON_SWEEP, min=("float", 3e-3, _POS), max=("float", 3.0, _POS)),
        "train": _TRAIN,
        "curvature": _CURVATURE,
        "analysis": {
            "chance_atol": ("float", 0.02, _NONNEG),
            "dropout_level": ("float", 0.5, _POS),
            "accuracy_resolution": ("float", 0.02, _POS),
            "curve_resolution": ("float", 1e-3, _POS),
        },
    },
    "vae": {
        "data": {
            "source": ("str", "digits", ("digits", "mnist", "synthetic")),
            "path": ("str", "", _ANY),
            "n_train": ("int", 500, ">= 10"),
            "n_components": ("int", 16, ">= 1"),
            "whiten": ("bool", False, _ANY),
            "spectrum": ("floats", [4.0, 2.0, 1.0, 0.5, 0.25, 0.125], _POS),
        },
        "model": {
            "latent_dim": ("int", 4, ">= 1"),
            "hidden": ("int", 0, ">= 0"),
            "activation": ("str", "tanh", ("tanh", "relu", "softplus")),
            "eta_dec": ("float", 1.0, _POS),
            "n_noise": ("int", 4, ">= 1"),
        },
        "sweep": dict(_COMMON_SWEEP, min=("float", 0.05, _POS), max=("float", 20.0, _POS)),
        "train": dict(_TRAIN, gtol=("float", 1e-8, _POS), polish=("str", "newton", ("newton", "none"))),
        "curvature": _CURVATURE,
        "analysis": {
            "rtol": ("float", 0.05, _NONNEG),
            "active_threshold": ("float", 1e-2, _POS),
            "resolution": ("float", 1e-3, _POS),
        },
    },
}
_TOP = {"experiment", "name", "seed", "scale", "description"}


def _where(section: str | None, key: str) -> str:
    return key if section is None else f"[{section}] {key}"


def _check_value(section: str, key: str, value: Any, kind: str, constraint) -> Any:
    where = _where(section, key)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        if isinstance(constraint, tuple) and value not in constraint:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, constraint))}, got {value!r}")
        return value
    if kind == "floats":
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where} must be a non-empty list of numbers, got {value!r}")
        if len(value) > _MAX.get(key, 10**4):
            raise ConfigError(f"{where} must have at most {_MAX.get(key, 10**4)} entries, got {len(value)}")
        return [_check_value(section, f"{key}[{i}]", v, "float", constraint) for i, v in enumerate(value)]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer {constraint or ''}".rstrip() + f", got {value!r}")
        if constraint and value < int(constraint.split()[1]):
            raise ConfigError(f"{where} must be an integer {constraint}, got {value!r}")
        if key in _MAX and value > _MAX[key]:
            raise ConfigError(f"{where} must be an integer <= {_MAX[key]}, got {value!r}")
        return value
    # float (integers accepted)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    value = float(value)
    if constraint == _POS and not value > 0:
        raise ConfigError(f"{where} must be > 0, got {value!r}")
    if constraint == _NONNEG and not value >= 0:
        raise ConfigError(f"{where} must be >= 0, got {value!r}")
    return value


@dataclass
class ExperimentConfig:
    """A checked ``l2phase sweep`` configuration: every section filled with its defaults.

    ``sections`` holds the values after ``scale`` was applied; ``raw`` the file's values.
    """

    experiment: str
    name: str
    seed: int
    scale: float
    sections: dict[str, dict[str, Any]]
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    def to_dict(self) -> dict[str, Any]:
        return dict(experiment=self.experiment, name=self.name, seed=self.seed, scale=self.scale,
                    description=self.description, **self.sections)

    def fingerprint(self, device: str = "cpu") -> dict:
        """The run fingerprint (:func:`l2phase.empirical.run_fingerprint`): every section, the seed
        and scale (not the name or description), the device, the dtype (float64) and the
        version; ``--resume`` refuses a run directory with another one."""
        from l2phase.empirical.store import run_fingerprint

        conf = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
        return run_fingerprint("sweep", conf, device=device, dtype="float64")

    def memory_estimate(self) -> tuple[float, str]:
        """(bytes, what) the experiment needs at its peak, roughly (within a factor of ~3).

        One work unit trains chunk_size x len(inits) nets at once: their parameters with the
        optimiser's state (~6 P floats each), the activations of the full batch (~3 per
        hidden unit, forward and backward) and the curvature (exact: P x P per net;
        matrix-free: n_probes x P per net); plus the data (train and test, and MNIST's raw
        784 pixels per image).  float64 throughout.
        """
        d, m, sw, cv = (self.sections[k] for k in ("data", "model", "sweep", "curvature"))
        n = d["n_train"] + d.get("n_test", 0)
        if self.experiment == "classifier":
            k_in, k_out, depth, width = d["n_components"], 10, m["depth"], m["width"]
            P = k_in * width + (depth - 1) * width * width + width * k_out + (depth * width + k_out) * m["bias"]
            hidden = depth * width
        else:
            k_in = len(d["spectrum"]) if d["source"] == "synthetic" else d["n_components"]
            lat, h = m["latent_dim"], m["hidden"]
            P = 3 * k_in * lat + lat if h == 0 else 2 * k_in * h + 3 * h * lat + 4 * h + k_in + 2 * lat
            hidden = (2 * h + 3 * lat) * (1 if h == 0 else m["n_noise"])
        B = sw["chunk_size"] * len(sw["inits"])
        curvature = {"none": 0, "matrix_free": cv["n_probes"] * P}.get(cv["method"], P * P)
        if cv["method"] == "auto" and P > cv["exact_max_params"]:
            curvature = cv["n_probes"] * P
        raw = 70000 * 784 if d["source"] == "mnist" else 0
        floats = B * (6.0 * P + 3.0 * d["n_train"] * hidden + curvature) + n * (k_in + 10) + raw
        detail = (f"{B} nets of P = {P} parameters trained at once ([sweep] chunk_size x len(inits)) on "
                  f"[data] n_train = {d['n_train']} samples")
        return 8.0 * floats, detail

    def grid(self):
        """The swept values (gamma or beta), ascending."""
        import numpy as np

        s = self.sections["sweep"]
        if s["spacing"] == "log":
            return np.geomspace(s["min"], s["max"], s["points"])
        return np.linspace(s["min"], s["max"], s["points"])


def parse_config(doc: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    """Check a parsed TOML document (a dict) and fill in the defaults."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the configuration must be a TOML table")
    exp = doc.get("experiment")
    if exp not in _SCHEMA:
        raise ConfigError(f"experiment must be one of {', '.join(map(repr, _SCHEMA))}, got {exp!r}")
    schema = _SCHEMA[exp]
    for key, value in doc.items():
        if key in _TOP:
            continue
        if key not in schema:
            raise ConfigError(f"unknown key {key!r} at the top level (allowed: "
                              f"{', '.join(sorted(_TOP | set(schema)))})")
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table (a [{key}] section), got {value!r}")
    name = doc.get("name", "config" if source == "<config>" else Path(source).stem)
    from l2phase.empirical.store import check_plain_name

    try:  # the name becomes a directory name: a plain name, never a path
        check_plain_name(name, "name")
    except InputError as exc:
        how = "" if "name" in doc else f" (taken from the file name {Path(source).name!r}; set name = ... in the file)"
        raise ConfigError(f"{exc}{how}") from None
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description must be a string, got {description!r}")
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    scale = _check_value(None, "scale", doc.get("scale", 1.0), "float", _POS)
    if scale > _MAX_SCALE:
        raise ConfigError(f"scale must be <= {_MAX_SCALE:g}, got {scale!r}")
    sections: dict[str, dict[str, Any]] = {}
    for sec, keys in schema.items():
        given = doc.get(sec, {})
        for key in given:
            if key not in keys:
                raise ConfigError(f"unknown key {key!r} in [{sec}] (allowed: {', '.join(sorted(keys))})")
        vals = {}
        for key, (kind, default, constraint) in keys.items():
            if key in given:
                vals[key] = _check_value(sec, key, given[key], kind, constraint)
            elif default is None:
                raise ConfigError(f"[{sec}] {key} is required")
            else:
                vals[key] = default
        sections[sec] = vals
    sw = sections["sweep"]
    if not sw["min"] < sw["max"]:
        raise ConfigError(f"[sweep] min must be < max, got {sw['min']} and {sw['max']}")
    raw = json.loads(json.dumps(sections))
    _apply_scale(exp, sections, scale)
    if exp == "classifier" and sections["data"]["source"] == "digits" and \
            sections["data"]["n_train"] + sections["data"]["n_test"] > 1797:
        raise ConfigError(f"[data] n_train + n_test must be <= 1797 for digits (after scale = {scale:g}), got "
                          f"{sections['data']['n_train'] + sections['data']['n_test']}")
    if exp == "vae" and sections["data"]["source"] == "synthetic" and \
            sections["model"]["latent_dim"] > len(sections["data"]["spectrum"]):
        raise ConfigError(f"[model] latent_dim must be <= len([data] spectrum) = {len(sections['data']['spectrum'])}")
    if exp == "vae" and sections["data"]["source"] != "synthetic" and \
            sections["model"]["latent_dim"] > sections["data"]["n_components"]:
        raise ConfigError(f"[model] latent_dim must be <= [data] n_components = {sections['data']['n_components']}")
    cfg = ExperimentConfig(exp, name, seed, scale, sections, description, raw, source)
    n_bytes, detail = cfg.memory_estimate()
    check_memory(n_bytes, detail)
    return cfg


def _apply_scale(exp: str, sections: dict, scale: float) -> None:
    if scale == 1.0:
        return

    def up(sec, key):
        value = max(1, int(round(sections[sec][key] * scale)))
        if value > _MAX[key]:
            raise ConfigError(f"[{sec}] {key} = {sections[sec][key]} times scale = {scale:g} is {value}, more than "
                              f"the {_MAX[key]} allowed")
        sections[sec][key] = value

    up("data", "n_train")
    up("sweep", "points")
    if exp == "classifier":
        up("data", "n_test")
        up("model", "width")
    elif sections["model"]["hidden"] > 0:  # a linear VAE has no width to scale
        up("model", "hidden")


def load_config(path) -> ExperimentConfig:
    """Read and check a TOML file; ``path`` may also name a shipped example (see ``--list``)."""
    p = Path(path)
    if not p.exists():
        shipped = CONFIG_DIR / (p.name if p.suffix == ".toml" else f"{p.name}.toml")
        if p.parent == Path(".") and shipped.exists():
            p = shipped
        else:
            raise InputFileNotFoundError(f"no configuration file {path} (shipped examples: "
                                    f"{', '.join(example_configs())})")
    if p.is_dir():
        raise ConfigError(f"{p} is a directory, not a TOML file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: nests its tables or arrays too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    try:
        return parse_config(doc, str(p))
    except ConfigError as exc:  # name the file as well as the key
        raise ConfigError(f"{p}: {exc}") from None


def example_configs() -> list[str]:
    """Names of the example configurations shipped with l2phase."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
