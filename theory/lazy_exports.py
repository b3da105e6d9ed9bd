"""Package names that resolve on first use (PEP 562), as every l2phase package does.

``import l2phase``, ``import l2phase.theory`` and ``import l2phase.empirical`` load none of
sympy, numba or torch: a public name is imported from its module the first time it is
used, then kept in the package namespace.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Callable, Iterable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, module_of: Mapping[str, str],
                 extra: Iterable[str] = ()) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package : the package's ``__name__`` (it must be in ``sys.modules``: call this from its ``__init__``)
    module_of : {public name: the submodule defining it, relative to the package}
    extra : more names ``dir()`` lists (e.g. subpackages)
    """
    module = sys.modules[package]

    def __getattr__(name: str):
        if name in module_of:
            value = getattr(import_module(f".{module_of[name]}", package), name)
            setattr(module, name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | set(getattr(module, "__all__", ())) | set(extra))

    return __getattr__, __dir__
