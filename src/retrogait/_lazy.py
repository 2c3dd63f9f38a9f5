"""Lazy public names for the stage subpackages.

Each stage's ``__init__`` declares its public names and the module that
defines each; the module is imported on first use, so ``import
retrogait.gait`` does not pull in scipy until a gait function is needed
(parse time of the workflow imports only what it uses).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports", "lazy_module"]


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


class lazy_module:  # noqa: N801 - used like a module
    """A stand-in for module ``name`` that imports it on first attribute access.

    ``signal = lazy_module("scipy.signal")`` at module level keeps the heavy
    import out of every process that imports the module but never filters
    (e.g. the workflow at parse time, the measures jobs); ``signal.butter``
    then behaves exactly as with ``from scipy import signal``.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
