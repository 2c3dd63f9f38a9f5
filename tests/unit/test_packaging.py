"""Dependency declarations agree; the workflow keeps its thin shape."""

import re
import tomllib

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from retrogait.codeversion import LOCK_FILE, locked_versions

# pip name -> conda-forge/bioconda name where they differ
CONDA_NAMES = {"matplotlib": "matplotlib-base", "snakemake": "snakemake-minimal"}
ENV_FILES = ("environment.yml", "workflow/envs/retrogait.yaml")
# published on PyPI only: pinned in the environment files' pip section
PIP_ONLY = {"bvhio"}


def _req(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*)$", spec)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _conda_deps(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return dict(re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", d).groups() for d in deps if isinstance(d, str))


def _pip_deps(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pip = next((d["pip"] for d in deps if isinstance(d, dict) and "pip" in d), [])
    return dict(re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", d).groups() for d in pip if not d.startswith("-e"))


def _direct(repo_root) -> dict[str, str]:
    """Runtime dependencies and those of every extra (test, slurm): all are locked and in the conda files."""
    py = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    extras = [d for group in py.get("optional-dependencies", {}).values() for d in group]
    return dict(_req(d) for d in py["dependencies"] + extras)


def test_lock_pins_every_direct_dependency_within_pyproject_bounds(repo_root):
    lock = locked_versions((repo_root / LOCK_FILE).read_text())
    for name, bound in _direct(repo_root).items():
        assert name in lock, f"{LOCK_FILE} lacks {name}: run make lock"
        assert Version(lock[name]) in SpecifierSet(bound), f"{name}=={lock[name]} outside pyproject's {bound}"


def test_lock_is_regenerated_by_the_makefile_command(repo_root):
    head = (repo_root / LOCK_FILE).read_text().splitlines()[:2]
    assert head[1].strip() == "#    make lock", head
    make = (repo_root / "Makefile").read_text()
    assert "uv pip compile pyproject.toml --extra test --extra slurm --universal" in make
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert all(f"--extra {name}" in make for name in extras), "every extra is locked"
    assert "-c $(LOCK)" in make, "make run / make test must install with the lock as constraints"


def test_environment_files_pin_the_locked_versions(repo_root):
    lock = locked_versions((repo_root / LOCK_FILE).read_text())
    for env_file in ENV_FILES:
        conda = _conda_deps(repo_root / env_file)
        pip = _pip_deps(repo_root / env_file)
        for name in _direct(repo_root):
            if name in PIP_ONLY:
                assert pip.get(name) == f"=={lock[name]}", f"{env_file}: pip {name}{pip.get(name)} vs lock {lock[name]}"
                continue
            cname = CONDA_NAMES.get(name, name)
            assert cname in conda, f"{env_file} lacks {cname}"
            assert conda[cname] == f"=={lock[name]}", f"{env_file}: {cname}{conda[cname]} vs lock {lock[name]}"
        assert conda["python"].startswith("=3."), env_file


def test_environment_channels_are_conda_forge_and_bioconda(repo_root):
    for env_file in ENV_FILES:
        channels = yaml.safe_load((repo_root / env_file).read_text())["channels"]
        assert channels[:2] == ["conda-forge", "bioconda"], env_file


def test_snakefile_only_includes_rule_files(repo_root):
    """Only include lines and the default target (rule all: an input list, no logic)."""
    text = (repo_root / "workflow" / "Snakefile").read_text()
    head, _, target = text.partition("\nrule all:")
    code = [ln.strip() for ln in head.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert code and all(re.fullmatch(r'include: "rules/\w+\.smk"', ln) for ln in code), code
    body = [ln.strip() for ln in target.splitlines() if ln.strip()]
    assert body[1:] == ["input:", '"reports/report.html",'], body


def test_one_rule_file_per_stage_and_every_rule_logs(repo_root):
    rules = repo_root / "workflow" / "rules"
    stages = {"fetch", "ingest", "cycles", "measures", "stats", "figures", "report"}
    assert stages | {"common"} == {p.stem for p in rules.glob("*.smk")}
    for smk in rules.glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"\n(?=rule )", text):
            if block.startswith("rule ") and ("script:" in block or "shell:" in block):
                assert "\n    log:" in block, f"{smk.name}: {block.splitlines()[0]} has no log"


def test_scripts_are_thin(repo_root):
    for script in (repo_root / "workflow" / "scripts").glob("*.py"):
        code = [ln for ln in script.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert len(code) <= 20, f"{script.name} has {len(code)} lines: logic belongs in src/retrogait"
        assert "import retrogait" in script.read_text() or "from retrogait" in script.read_text()


def test_library_does_not_import_snakemake(repo_root):
    for py in (repo_root / "src" / "retrogait").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+snakemake", py.read_text(), re.M), py
