"""Dataset adapters: each turns one dataset's own format into canonical trials.

An adapter is a subclass of :class:`~retrogait.ingest.adapters.base.Adapter`
registered under a name with :func:`register`. The dataset manifest
(``config/datasets.yaml``) names the adapter of each dataset. Built-in
adapters are imported lazily, so reading a C3D dataset does not import the
GT23 code and vice versa.

Adding a format = one module that defines a subclass decorated with
``@register("name")`` and an entry in :data:`BUILTIN` (or an import of the
module before :func:`get_adapter` is called).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrogait.acquire.manifest import DatasetSpec, RawFile
from retrogait.errors import ConfigError
from retrogait.ingest.adapters.base import Adapter

__all__ = ["Adapter", "RawFile", "register", "get_adapter", "make_adapter", "available", "BUILTIN"]

#: Built-in adapter names and the modules that define them.
BUILTIN: dict[str, str] = {
    "bvh": "retrogait.ingest.adapters.bvh",
    "c3d": "retrogait.ingest.adapters.c3d",
    "gt23": "retrogait.ingest.adapters.gt23",
}

_REGISTRY: dict[str, type[Adapter]] = {}


def register(name: str):
    """Class decorator registering an adapter under ``name``."""

    def deco(cls: type[Adapter]) -> type[Adapter]:
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"{cls!r} is not an Adapter subclass")
        other = _REGISTRY.get(name)
        if other is not None and other is not cls:
            raise ValueError(f"adapter name {name!r} already registered by {other.__module__}.{other.__name__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def get_adapter(name: str) -> type[Adapter]:
    """Return the adapter class registered as ``name``.

    Raises
    ------
    KeyError
        With the list of known adapters when ``name`` is unknown.
    """
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown adapter {name!r}; known adapters: {available()}") from None


def available() -> list[str]:
    """Names of all known adapters (built-in and registered)."""
    return sorted(set(BUILTIN) | set(_REGISTRY))


def make_adapter(spec: DatasetSpec, *, options: Mapping[str, Any] | None = None,
                 root: str | os.PathLike = ".", external_folders: Sequence[str | os.PathLike] = ()) -> Adapter:
    """Instantiate the adapter named by the manifest entry ``spec``.

    Raises
    ------
    ConfigError
        When ``spec.adapter`` names no known adapter (the message lists them).
    """
    try:
        cls = get_adapter(spec.adapter)
    except KeyError as exc:
        raise ConfigError(f"dataset '{spec.id}': {exc.args[0]}") from None
    return cls(spec, options=options, root=Path(root), external_folders=external_folders)
