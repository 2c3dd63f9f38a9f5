"""Lazy public names for the stage subpackages.

Each stage's ``__init__`` declares its public names and the module that
defines each; the module is imported on first use, so ``import
retrogait.gait`` does not pull in scipy until a gait function is needed
(parse time of the workflow imports only what it uses).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable, Callable]:
    """Module ``__getattr__`` and ``__dir__`` resolving ``exports`` (name -> submodule) lazily."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
