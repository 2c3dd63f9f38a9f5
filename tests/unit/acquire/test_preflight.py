"""Tests of retrogait.acquire.preflight and Run.source_problem: can the run get its data, before any job?

Hosts are a local server on 127.0.0.1 and a closed port there; no test needs
the internet and none asserts a duration.
"""

from __future__ import annotations

import pytest
import yaml

from retrogait.acquire.manifest import DatasetSpec, RawFile
from retrogait.acquire.preflight import SourceStatus, check_sources, probe_hosts, unavailable_message
from retrogait.runconfig import PROVENANCE, load_run
from tests.httpserver import closed_port_url, serve


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Talk to 127.0.0.1 directly even where the environment sets an HTTP proxy."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def _spec(ds: str, urls: list[str], *, archive: dict | None = None) -> DatasetSpec:
    files = tuple(RawFile(path=f"s{i}/f{i}.c3d", url=u, sha256="0" * 64) for i, u in enumerate(urls))
    return DatasetSpec(id=ds, title=ds, citation="c", licence="MIT", adapter="c3d", files=files, archive=archive)


def test_any_http_answer_means_reachable_and_each_host_is_asked_once():
    dead = closed_port_url("x.c3d")
    with serve({"a.c3d": b"abc"}) as srv:
        answers = probe_hosts([srv.url("a.c3d"), srv.url("missing.c3d"), dead], timeout_s=5)
        assert len(srv.requests) == 1 and srv.requests[0].method == "HEAD"
    assert answers[f"127.0.0.1:{srv.port}"] is None        # one HEAD per host; a 404 would count too
    assert answers[dead.split("/")[2]] == "connection refused"


def test_file_urls_are_checked_on_disk(tmp_path):
    (tmp_path / "here.bin").write_bytes(b"x")
    answers = probe_hosts([(tmp_path / "here.bin").as_uri(), (tmp_path / "gone.bin").as_uri()])
    assert answers[f"file:{tmp_path / 'here.bin'}"] is None
    assert answers[f"file:{tmp_path / 'gone.bin'}"] == "the local file does not exist"
    with pytest.raises(ValueError, match="timeout_s"):
        probe_hosts([], timeout_s=0)


def test_sources_cached_mirror_network_and_unavailable(tmp_path):
    dead = closed_port_url("b.c3d")
    mirror = tmp_path / "mirror"
    (mirror / "inmirror" / "s0").mkdir(parents=True)
    (mirror / "inmirror" / "s0" / "f0.c3d").write_bytes(b"x")
    with serve({}) as srv:
        specs = {"done": _spec("done", [dead]), "up": _spec("up", [srv.url("a.c3d")]), "down": _spec("down", [dead])}
        needed = {"done": [], "up": list(specs["up"].files), "down": list(specs["down"].files)}
        status = check_sources(specs, needed, mirror=None, timeout_s=5)
    assert status == {"done": SourceStatus("done", "cached"), "up": SourceStatus("up", "network"),
                      "down": SourceStatus("down", "unavailable", f"host {dead.split('/')[2]} cannot be reached "
                                                                  "(connection refused)")}
    # with a mirror, the mirror is looked in first; only what it lacks is asked for at its declared URL
    specs = {"inmirror": _spec("inmirror", [dead, dead]), "elsewhere": _spec("elsewhere", [dead])}
    needed = {d: list(s.files) for d, s in specs.items()}
    asked = []

    def probe(urls, **_):
        asked.append(sorted(urls))
        return {u.split("/")[2]: "connection refused" for u in urls}

    status = check_sources(specs, needed, mirror=mirror, probe=probe)
    assert asked == [[dead, dead]]  # s1/f1 of inmirror and s0/f0 of elsewhere, never inmirror's s0/f0
    assert status["inmirror"].source == "unavailable"
    assert status["inmirror"].detail.startswith(f"the mirror lacks {mirror / 'inmirror' / 's1' / 'f1.c3d'}, and host ")
    assert status["elsewhere"].detail == (f"the mirror {mirror} has no folder elsewhere/, and host "
                                          f"{dead.split('/')[2]} cannot be reached (connection refused)")
    status = check_sources(specs, {"inmirror": needed["inmirror"][:1]}, mirror=mirror)
    assert status["inmirror"].source == "mirror" and status["elsewhere"].source == "cached"
    # a new local dataset (file:// URLs) beside mirrored ones: its files are found at their URL
    (tmp_path / "local.c3d").write_bytes(b"x")
    local = {"local": _spec("local", [(tmp_path / "local.c3d").as_uri()])}
    status = check_sources(local, {"local": list(local["local"].files)}, mirror=mirror)
    assert status["local"] == SourceStatus("local", "network")


def test_an_archive_in_the_mirror_covers_its_members(tmp_path):
    spec = DatasetSpec(id="arc", title="t", citation="c", licence="MIT", adapter="gt23",
                       archive={"url": closed_port_url("A.zip"), "name": "A.zip"})
    members = [RawFile(path="AB01/x.csv", member="AB01/x.csv")]
    (tmp_path / "arc").mkdir()
    assert check_sources({"arc": spec}, {"arc": members}, mirror=tmp_path)["arc"].source == "unavailable"
    (tmp_path / "arc" / "A.zip").write_bytes(b"PK")
    assert check_sources({"arc": spec}, {"arc": members}, mirror=tmp_path)["arc"].source == "mirror"


def test_message_is_short_and_names_the_ways_forward(tmp_path):
    failed = [SourceStatus("gt23", "unavailable", "host h cannot be reached (its name cannot be resolved)")]
    msg = unavailable_message(failed, obtainable=["biomechzoo-esmac", "gaitalytics"], mirror=None)
    lines = msg.splitlines()
    assert len(lines) <= 6 and "Traceback" not in msg
    assert lines[1] == "  gt23: host h cannot be reached (its name cannot be resolved)"
    assert "RETROGAIT_MIRROR=/path/to/mirror make run" in msg
    assert "make run DATASETS=biomechzoo-esmac,gaitalytics" in msg
    assert """--config datasets='["biomechzoo-esmac", "gaitalytics"]'""" in msg
    none = unavailable_message(failed, obtainable=[], mirror=tmp_path)
    assert "no declared dataset can be obtained now" in none and f"into the mirror {tmp_path}" in none


def _run_with_urls(repo_root, tmp_path, urls: dict[str, str], datasets: list[str]):
    """The shipped config and manifest, with every file URL of each dataset in ``urls`` replaced."""
    manifest = yaml.safe_load((repo_root / "config" / "datasets.yaml").read_text())
    for ds, entry in manifest["datasets"].items():
        for f in entry.get("files", []):
            f["url"] = urls.get(ds, f["url"])
        if entry.get("archive"):
            entry["archive"]["url"] = urls.get(ds, entry["archive"]["url"])
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(manifest))
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    config.update(datasets=datasets, manifest=str(path), mirror=None, external_folders=[str(tmp_path)])
    return load_run(config, root=repo_root, eager=False)


def test_run_offers_the_datasets_that_can_be_obtained(repo_root, tmp_path):
    dead = closed_port_url("x")
    with serve({}) as srv:
        run = _run_with_urls(repo_root, tmp_path, {"gt23": dead, "biomechzoo-esmac": dead,
                                                    "gaitalytics": srv.url("g.c3d")}, ["biomechzoo-esmac"])
        msg = run.source_problem(workdir=tmp_path, environ={})
    assert msg.splitlines()[1].startswith("  biomechzoo-esmac: host 127.0.0.1:")
    assert "make run DATASETS=gaitalytics " in msg


def test_run_with_everything_fetched_asks_no_host(repo_root, tmp_path):
    run = _run_with_urls(repo_root, tmp_path, {"gaitalytics": closed_port_url("g")}, ["gaitalytics"])
    for subject in run.subjects("gaitalytics"):
        record = tmp_path / PROVENANCE.format(dataset="gaitalytics", subject=subject)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text("{}")
    asked = []
    assert run.source_problem(workdir=tmp_path, environ={}, probe=lambda urls, **k: asked.append(urls) or {}) is None
    assert asked == []


def test_a_mirror_that_does_not_exist_is_one_message(repo_root, tmp_path):
    run = _run_with_urls(repo_root, tmp_path, {}, ["gaitalytics"])
    msg = run.source_problem(workdir=tmp_path, environ={"RETROGAIT_MIRROR": str(tmp_path / "nowhere")})
    assert msg.startswith("retrogait: stopped before any job: mirror folder") and "does not exist" in msg
