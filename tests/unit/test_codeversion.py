"""The code fingerprint that makes Snakemake rerun jobs after library edits."""

from __future__ import annotations

import re

from retrogait import __version__
from retrogait.codeversion import code_fingerprint, tree_hash


def _tree(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_fingerprint_names_the_version_and_a_hash():
    fp = code_fingerprint()
    assert re.fullmatch(re.escape(__version__) + r"\+[0-9a-f]{12}", fp)
    assert code_fingerprint() == fp


def test_hash_depends_on_content_and_paths_only(tmp_path):
    a = _tree(tmp_path / "a", {"m.py": "x = 1\n", "sub/t.j2": "{{ x }}", "s.yaml": "k: 1\n"})
    b = _tree(tmp_path / "b", {"s.yaml": "k: 1\n", "sub/t.j2": "{{ x }}", "m.py": "x = 1\n"})
    assert tree_hash(a) == tree_hash(b)  # same files written in another order, another folder
    (b / "m.py").write_text("x = 2\n")
    assert tree_hash(a) != tree_hash(b)
    (b / "m.py").write_text("x = 1\n")
    assert tree_hash(a) == tree_hash(b)
    (b / "sub" / "t.j2").rename(b / "t.j2")  # same content, moved
    assert tree_hash(a) != tree_hash(b)


def test_caches_and_unrelated_files_do_not_count(tmp_path):
    a = _tree(tmp_path / "a", {"m.py": "x = 1\n"})
    before = tree_hash(a)
    _tree(a, {"__pycache__/m.cpython-311.py": "junk", "notes.txt": "free text", "data.parquet": "PAR1"})
    assert tree_hash(a) == before


def test_lock_status_reports_identity_and_differences(tmp_path):
    import hashlib
    import importlib.metadata

    from retrogait.codeversion import lock_status, locked_versions

    numpy_version = importlib.metadata.version("numpy")
    text = ("# header\nnumpy==0.0.1\n    # via x\npandas==%s ; python_full_version >= '3.11'\n"
            "not-installed-pkg==1.0 ; sys_platform == 'win32'\n" % importlib.metadata.version("pandas"))
    lock = tmp_path / "requirements-lock.txt"
    lock.write_text(text)
    assert locked_versions(text) == {"numpy": "0.0.1", "pandas": importlib.metadata.version("pandas"),
                                     "not-installed-pkg": "1.0"}
    st = lock_status(lock)
    assert st["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert st["n_locked"] == 3 and st["n_checked"] == 2
    assert st["differs"] == {"numpy": (numpy_version, "0.0.1")}
    assert lock_status(tmp_path / "absent.txt")["sha256"] is None


def test_fingerprint_includes_the_lock(tmp_path):
    from retrogait.codeversion import code_fingerprint

    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==1\n")
    a = code_fingerprint(lock=lock)
    assert a.startswith(code_fingerprint() + "+lock.")
    lock.write_text("numpy==2\n")
    code_fingerprint.cache_clear()
    assert code_fingerprint(lock=lock) != a


def test_run_metadata_names_date_code_commit_config_lock_and_platform(tmp_path, monkeypatch):
    import subprocess

    from retrogait.codeversion import config_hash, git_commit, run_metadata

    (tmp_path / "requirements-lock.txt").write_text("numpy==2.0.0\n")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    meta = run_metadata({"b": 1, "a": [1, 2]}, root=tmp_path)
    assert meta["date"] == "1970-01-01 00:00 UTC"
    assert meta["config sha256"] == config_hash({"a": [1, 2], "b": 1}) != config_hash({"a": [1, 2], "b": 2})
    assert len(meta["lock file sha256"]) == 64 and meta["platform"] and meta["source fingerprint"]
    assert meta["git commit"].startswith("none (not a git work tree")
    if subprocess.run(["git", "--version"], capture_output=True).returncode == 0:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        subprocess.run(["git", "-C", str(tmp_path), "add", "requirements-lock.txt"], check=True)
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"],
                       check=True)
        commit = git_commit(tmp_path)
        assert commit is not None and len(commit) == 40
        (tmp_path / "requirements-lock.txt").write_text("numpy==2.1.0\n")
        assert git_commit(tmp_path) == commit + "-dirty"
