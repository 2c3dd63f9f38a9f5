"""forget_subject: the three deletions that make the next run fetch a subject again."""

import json

import pytest

from retrogait.acquire.refetch import forget_subject, main, refetch_hint
from retrogait.errors import FetchError


def _raw(tmp_path):
    raw = tmp_path / "raw" / "ds"
    for rel in ("AB01/t/a.csv", "AB01/t/b.csv", "AB02/t/a.csv"):
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_text(rel)
    (raw / ".provenance").mkdir()
    (raw / ".provenance" / "AB01.json").write_text(json.dumps(
        {"dataset": "ds", "subject": "AB01", "files": [{"path": "AB01/t/a.csv"}, {"path": "AB01/t/b.csv"}]}))
    (raw / "members.lock.json").write_text(json.dumps({"archive": "x.zip", "format": 1, "members": {
        "AB01/t/a.csv": {"sha256": "a"}, "AB01/t/b.csv": {"sha256": "b"}, "AB02/t/a.csv": {"sha256": "c"}}}))
    return raw


def test_forget_subject_deletes_files_lock_entries_and_record_only(tmp_path):
    raw = _raw(tmp_path)
    deleted = forget_subject(raw, "AB01")
    assert sorted(deleted) == [".provenance/AB01.json", "AB01/t/a.csv", "AB01/t/b.csv",
                               "members.lock.json:AB01/t/a.csv", "members.lock.json:AB01/t/b.csv"]
    assert not (raw / "AB01").exists()  # emptied folders removed
    assert (raw / "AB02/t/a.csv").is_file()
    assert json.loads((raw / "members.lock.json").read_text())["members"] == {"AB02/t/a.csv": {"sha256": "c"}}
    assert forget_subject(raw, "AB01") == []  # nothing recorded any more


def test_a_record_naming_paths_outside_the_folder_deletes_nothing(tmp_path):
    raw = _raw(tmp_path)
    (raw / ".provenance" / "AB01.json").write_text(json.dumps({"files": [{"path": "../../x"}]}))
    with pytest.raises(FetchError, match="outside"):
        forget_subject(raw, "AB01")
    assert (raw / "AB01/t/a.csv").is_file()


def test_command_line_and_hint(tmp_path, capsys):
    _raw(tmp_path)
    assert main(["ds", "AB01", "--root", str(tmp_path / "x")]) == 0  # nothing recorded there
    (tmp_path / "data").mkdir()
    (tmp_path / "raw").rename(tmp_path / "data" / "raw")
    assert main(["ds", "AB01", "--root", str(tmp_path)]) == 0
    assert "deleted 5 item(s)" in capsys.readouterr().out
    assert main(["ds", "..", "--root", str(tmp_path)]) == 1
    assert "make refetch DATASET=gt23 SUBJECT=AB01" in refetch_hint("gt23", "AB01")
