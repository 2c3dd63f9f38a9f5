"""Loading and validating YAML configuration against JSON schemas.

Validation happens before anything runs. Messages name the file, the exact
key path (``stats.contrasts[1].levels``) and, for a misspelt key, the key it
was probably meant to be.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from retrogait.errors import ConfigError

__all__ = ["load_yaml", "parse_yaml", "validate", "load_config", "key_path", "deep_merge", "project_path",
           "coerce_overrides", "check_yaml_files"]


def dataclass_options(cls: type, mapping: Mapping[str, Any] | None, *,
                      section: str | None = None) -> dict[str, Any]:
    """Check an options mapping against the fields of dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A dataclass; its ``_section`` attribute (e.g. ``"emg.envelope"``)
        names the config section in messages unless ``section`` is given.
    mapping : mapping or None
        The options; None means none.
    section : str, optional, keyword-only
        Config section named in messages.

    Returns
    -------
    dict
        A copy of ``mapping``.

    Raises
    ------
    ConfigError
        ``mapping`` is not a mapping, or has keys that are not fields of
        ``cls`` (each named, with the closest field as a suggestion).
    """
    section = section or getattr(cls, "_section", cls.__name__)
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{section}: expected a mapping of options, got {type(mapping).__name__}")
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hints.append(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ConfigError(f"{section}: {'; '.join(hints)}; allowed keys: {', '.join(allowed)}")
    return dict(mapping)


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader, refusing a key repeated within one mapping.

    Built on libyaml's parser (``CSafeLoader``, about 10x faster: the
    workflow parses some 30 YAML files before every run, a no-op rerun
    included) when PyYAML has it, else on the pure-Python one; the
    constructors (safe types only) are the same Python code either way.

    The YAML specification requires mapping keys to be unique, but PyYAML
    keeps the last of repeated keys silently: a dataset declared twice in the
    manifest, or an option given twice, would then lose the first value
    without a word. Keys brought in by a merge (``<<: *anchor``) may be
    overridden, as the merge-key specification allows.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"duplicate key {key!r} (first given at line {first.line + 1}); each key may "
                        "appear only once in a mapping", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, *, source: str) -> Any:
    """Parse YAML ``text``; a syntax error or a repeated key becomes a :class:`ConfigError`.

    The message names ``source`` (a file name), the line and column and the
    problem, never the text itself.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and (mark is None or cmark.line != mark.line):
            # where the unfinished construct began: often the line to fix
            problem += f" ({context} started at line {cmark.line + 1}, column {cmark.column + 1})"
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}") from None


def load_yaml(path: str | os.PathLike) -> Any:
    """Parse a YAML file; a syntax error or a repeated key becomes a :class:`ConfigError` with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (a YAML file was expected)") from None
    return parse_yaml(text, source=str(path))


def key_path(path: Any) -> str:
    """Render a jsonschema error path as ``a.b[0].c``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: jsonschema.ValidationError, source: str) -> str:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed
                 and not any(re.match(p, k) for p in error.schema.get("patternProperties", {}))]
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        scope = "at top level" if where == "(top level)" else f"in '{where}'"
        return f"{source}: {'; '.join(hints)} {scope}; allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{source}: {error.message} in '{where}'"
    expected = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if error.validator == "not":
        return f"{source}: '{where}': {error.instance!r} is not allowed" + (f" ({expected})" if expected else "")
    if error.validator == "pattern" and expected:
        return f"{source}: '{where}': {error.message} ({expected})"
    return f"{source}: '{where}': {error.message}"


def validate(instance: Any, schema: Mapping[str, Any], *, source: str = "config") -> None:
    """Validate ``instance`` against ``schema``; raise :class:`ConfigError` listing every problem."""
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        raise ConfigError("\n".join(_describe(e, source) for e in errors))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (lists replace)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(config: Mapping[str, Any] | str | os.PathLike, schema_path: str | os.PathLike,
                *, source: str | None = None) -> dict[str, Any]:
    """Validate a config (mapping or YAML path) against the schema at ``schema_path``.

    Returns the config with schema defaults filled in for missing keys.
    """
    if not isinstance(config, Mapping):
        source = source or str(config)
        config = load_yaml(config)
        if not isinstance(config, Mapping):
            raise ConfigError(f"{source}: expected a mapping at top level")
    schema = load_yaml(schema_path)
    data = copy.deepcopy(dict(config))
    validate(data, schema, source=source or "config")
    return _fill_defaults(data, schema)


#: Text forms of the scalars a nested ``--config`` value can stand for (JSON/YAML spelling).
_INTEGER = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BOOLEAN = {"true": True, "false": False}
_NULL = {"null", "~"}


def coerce_overrides(overrides: Mapping[str, Any], schema: Mapping[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """Give command-line config values the scalar types the schema declares.

    Snakemake parses a nested ``--config`` value such as
    ``stats='{"alpha": 0.01, "bootstrap": {"n": 199}}'`` with YAML's
    ``BaseLoader``, so every value below the top level arrives as text
    (``"0.01"``, ``"199"``). This returns a copy of ``overrides`` in which a
    text value is converted where the schema at its key path allows an
    integer, number, boolean or null and the text spells one (``199``,
    ``0.01``, ``1e-3``, ``true``, ``null``), as the same text would read in
    ``config/config.yaml``. Where the schema allows text and numbers (contrast
    levels and filters), a value that spells a number becomes that number.
    Anything else is left as it is, so that validation reports it with its
    key path.

    Parameters
    ----------
    overrides : mapping
        The command-line config (``workflow.config_settings.overwrite_config``).
    schema : mapping or path
        The config JSON schema (local ``$ref`` s are followed).

    Returns
    -------
    dict
        A converted copy; ``overrides`` is not modified.
    """
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping, not {type(overrides).__name__}")
    if not isinstance(schema, Mapping):
        schema = load_yaml(schema)
    return _coerce(copy.deepcopy(dict(overrides)), schema, schema)


def _alternatives(schema: Any, root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``schema`` and the branches of its ``oneOf``/``anyOf``/``allOf``, ``$ref`` s resolved."""
    if not isinstance(schema, Mapping):
        return []
    schema = _resolve(schema, root)
    out = [schema]
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            out += _alternatives(sub, root)
    return out


def _types(alternatives: list[Mapping[str, Any]]) -> set[str]:
    types: set[str] = set()
    for alt in alternatives:
        declared = alt.get("type")
        types.update([declared] if isinstance(declared, str) else declared or [])
        for value in alt.get("enum", []):
            types.add({bool: "boolean", int: "integer", float: "number", str: "string",
                       type(None): "null"}.get(type(value), "object"))
    return types


def _child(alternatives: list[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    """Schemas of the property ``key`` of an object."""
    out: list[Any] = []
    for alt in alternatives:
        if key in alt.get("properties", {}):
            out.append(alt["properties"][key])
            continue
        matched = [sub for pattern, sub in alt.get("patternProperties", {}).items() if re.search(pattern, key)]
        out += matched
        if not matched and isinstance(alt.get("additionalProperties"), Mapping):
            out.append(alt["additionalProperties"])
    return out


def _coerce(value: Any, schema: Any, root: Mapping[str, Any]) -> Any:
    alts = [a for s in (schema if isinstance(schema, list) else [schema]) for a in _alternatives(s, root)]
    if not alts:
        return value
    if isinstance(value, dict):
        return {k: _coerce(v, _child(alts, str(k)), root) for k, v in value.items()}
    if isinstance(value, list):
        items = [a["items"] for a in alts if isinstance(a.get("items"), Mapping)]
        return [_coerce(v, items, root) for v in value] if items else value
    if not isinstance(value, str):
        return value
    types = _types(alts)
    text = value.strip()
    if types & {"integer", "number"} and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in types and _NUMBER.fullmatch(text):
        return float(text)
    if "boolean" in types and text.lower() in _BOOLEAN:
        return _BOOLEAN[text.lower()]
    if "null" in types and text.lower() in _NULL:
        return None
    return value


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """Fill ``default`` values of missing object properties, following local ``$ref`` s."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if isinstance(instance, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            sub = _resolve(sub, root)
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                instance[key] = _fill_defaults(instance[key], sub, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        return [_fill_defaults(x, schema["items"], root) for x in instance]
    return instance


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if not ref or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return _resolve(node, root)


def project_path(value: str | os.PathLike, *, root: str | os.PathLike, key: str,
                 allowed: Sequence[str | os.PathLike] = ()) -> Path:
    """Resolve a path named by a config or manifest key, confined to the project.

    A relative ``value`` resolves against ``root`` (the project folder). The
    resolved path, symbolic links followed, must lie inside ``root`` or
    inside one of the ``allowed`` folders (the config key
    ``external_folders``: folders outside the project the user named
    explicitly). The path is checked, never opened, so a refused path
    reveals nothing of what it points to.

    Parameters
    ----------
    value : str or path-like
        The path as written in the config.
    root : str or path-like, keyword-only
        The project folder.
    key : str, keyword-only
        The config key, for the message (``claims``,
        ``datasets.gt23.options.subjects_table``).
    allowed : sequence of str or path-like, keyword-only
        Further folders the path may lie in (relative ones resolve against
        ``root``).

    Returns
    -------
    pathlib.Path
        The absolute, resolved path.

    Raises
    ------
    ConfigError
        ``value`` is empty or not a string, or it resolves outside ``root``
        and every allowed folder; the message names the key, the value and
        the folders allowed.
    """
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigError(f"config key '{key}': expected a path, got {value!r}")
    base = Path(root).resolve()
    path = (base / Path(os.path.expanduser(str(value)))).resolve()
    folders = [base] + [(base / Path(os.path.expanduser(str(a)))).resolve() for a in allowed]
    if any(path == f or f in path.parents for f in folders):
        return path
    extra = f" or the external folder(s) {[str(f) for f in folders[1:]]}" if len(folders) > 1 else ""
    raise ConfigError(
        f"config key '{key}' = {str(value)!r} resolves to {path}, outside the project folder {base}{extra}. "
        "Configuration files and tables are read only from inside the project; to use a file kept elsewhere, "
        "add its folder to the config key 'external_folders' (config/config.yaml).")


#: Identifiers that become part of file paths (dataset, subject, contrast ids):
#: a letter or digit first, then letters, digits, ``_``, ``.`` and ``-``; at most
#: 64 characters. So ``..``, ``/``, spaces and markup such as ``<script>`` are refused.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_id(value: object, *, what: str) -> str:
    """Return ``value`` if it is a :data:`SAFE_ID`, else raise :class:`ConfigError` naming ``what``."""
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise ConfigError(f"{what}: {value!r} is not a safe identifier (it becomes part of file paths): use "
                          "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 64 "
                          "characters")
    return value


def check_yaml_files(paths: Sequence[str | os.PathLike]) -> None:
    """Parse each existing YAML file strictly (:func:`load_yaml`); missing files are skipped.

    The workflow calls this on ``config/config.yaml`` and every
    ``--configfile`` before Snakemake reads them, because Snakemake's own
    loader reports a malformed file without its name or line and keeps the
    last of repeated keys silently.

    Raises
    ------
    ConfigError
        Naming the file, the line and column and the problem.
    """
    for p in paths:
        if Path(p).is_file():
            load_yaml(p)
