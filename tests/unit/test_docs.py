"""config/README.md documents every config, manifest and map key; docs/extending.md's example is valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from retrogait.config import load_yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")


def _keys(schema: dict, root: dict, prefix: str = "") -> list[str]:
    """Dotted key paths of a JSON schema's object properties (``a.b``, list items as ``a[].b``)."""
    if "$ref" in schema:
        node = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    out = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        if isinstance(sub, dict):
            out += _keys(sub, root, path)
            if isinstance(sub.get("items"), dict):
                out += _keys(sub["items"], root, path + "[]")
    return out


@pytest.mark.parametrize("schema", ["workflow/schemas/config.schema.yaml",
                                    "src/retrogait/ingest/adapters/schemas/c3d_map.schema.yaml",
                                    "src/retrogait/ingest/adapters/schemas/c3d_options.schema.yaml",
                                    "workflow/schemas/claims.schema.yaml"])
def test_config_readme_names_every_key(schema):
    root = load_yaml(ROOT / schema)
    missing = []
    for path in _keys(root, root):
        leaf = path.split(".")[-1].removesuffix("[]")
        # a key is documented as `full.path`, `leaf` in a table of its section, or `leaf:` in an example
        if f"`{path.replace('[]', '')}" not in README and f"`{leaf}`" not in README and f"{leaf}:" not in README \
                and f".{leaf}`" not in README:
            missing.append(path)
    assert not missing, f"{schema}: keys not documented in config/README.md: {missing}"


def test_manifest_keys_are_in_the_readme_example():
    root = load_yaml(ROOT / "workflow" / "schemas" / "datasets.schema.yaml")
    entry = root["$defs"]["dataset"]["properties"]
    for key in [*entry, *entry["files"]["items"]["properties"], *entry["archive"]["properties"]]:
        assert re.search(rf"\b{key}\b", README), key


def _guide_yaml(start: str) -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE, re.S)
    block = next(b for b in blocks if b.lstrip().startswith(start))
    return yaml.safe_load(block)


def test_the_guide_is_linked_and_its_example_map_and_manifest_entry_validate(tmp_path):
    from retrogait.acquire.manifest import load_manifest
    from retrogait.ingest.adapters import make_adapter

    assert "docs/extending.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    cmap = _guide_yaml("# Channel map")
    entry = _guide_yaml("mylab:")
    (tmp_path / "config" / "maps").mkdir(parents=True)
    (tmp_path / "config" / "maps" / "mylab.yaml").write_text(yaml.safe_dump(cmap))
    (tmp_path / "datasets.yaml").write_text(yaml.safe_dump({"datasets": entry}))
    spec = load_manifest(tmp_path / "datasets.yaml", ROOT / "workflow" / "schemas" / "datasets.schema.yaml")["mylab"]
    plan = make_adapter(spec, root=tmp_path).plan()
    assert sorted(plan) == ["S01", "S02"]
    adapter = make_adapter(spec, root=tmp_path)
    assert adapter.condition_of("S02/treadmill_events.c3d")["surface"] == "treadmill"
