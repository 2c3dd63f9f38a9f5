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
