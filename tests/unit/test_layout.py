"""The package layout shows the pipeline: stage subpackages, imports only upstream, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "retrogait"

#: The stages in data-flow order; a module may import its own stage and earlier ones.
STAGES = ["acquire", "ingest", "gait", "analysis", "report"]
#: Shared infrastructure any module may import; ``stats`` is the pure statistics library.
INFRA = {"config", "errors", "io", "logs", "codeversion", "_lazy", "__init__"}
#: Orchestration: builds a run and calls every stage.
ORCHESTRATION = {"runconfig", "stages"}


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["retrogait", *parts])] = p
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """retrogait modules imported anywhere in ``path`` (top level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            # the longest known module that t names
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("retrogait"):
                found.add(t)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {m: _imports(m, p, known) for m, p in mods.items()}


def test_top_level_holds_only_stages_and_infrastructure():
    entries = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
               if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir())}
    assert entries == set(STAGES) | {"stats"} | INFRA | ORCHESTRATION, entries


def test_every_stage_package_documents_its_public_names():
    for stage in [*STAGES, "stats"]:
        mod = __import__(f"retrogait.{stage}", fromlist=["__all__"])
        assert mod.__doc__ and len(mod.__doc__.split()) > 30, stage
        assert mod.__all__, stage
        for name in mod.__all__:
            assert getattr(mod, name) is not None, f"retrogait.{stage}.{name}"


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_flow_one_way(graph):
    """acquire -> ingest -> gait -> analysis -> report: nothing imports a later stage; stats is
    used by analysis (and report) only and imports no stage."""
    bad = []
    for mod, deps in graph.items():
        src = _stage(mod)
        if src in ORCHESTRATION or src == "__init__":
            continue
        for dep in deps:
            dst = _stage(dep)
            if dst in INFRA or dst == src:
                continue
            if dst in ORCHESTRATION:
                bad.append(f"{mod} -> {dep} (orchestration)")
            elif src == "stats" or src in INFRA:
                bad.append(f"{mod} -> {dep} (the statistics library and infrastructure import no stage)")
            elif dst == "stats":
                if STAGES.index(src) < STAGES.index("analysis"):
                    bad.append(f"{mod} -> {dep} (statistics before the analysis stage)")
            elif STAGES.index(dst) > STAGES.index(src):
                bad.append(f"{mod} -> {dep} (imports a later stage)")
    assert not bad, "\n".join(bad)


def test_no_import_cycle(graph):
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d in graph and colour.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d in graph and d not in colour:
                cyc = visit(d)
                if cyc:
                    return cyc
        stack.pop()
        colour[m] = 2
        return None

    # a package importing its own submodules (lazy exports) is not a cycle of code
    for m in sorted(graph):
        if m not in colour:
            cycle = visit(m)
            assert cycle is None, " -> ".join(cycle)
