"""Workflow runs shared by several integration test modules (each full run takes minutes).

``gt23_run``: the GT23 replica (tests/replica_gt23.py) served from 127.0.0.1,
run end to end twice (the second run must do nothing). Used by
test_workflow_gt23.py and by the browser test of the report
(test_report_browser.py), so the suite runs the workflow once for both.
"""

from __future__ import annotations

import pytest

from tests.httpserver import serve
from tests.replica_gt23 import TRIALS, build_replica

from .workflow import ARCHIVE, run_workflow, write_manifest


@pytest.fixture(scope="session")
def replica(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replica")
    # the default walking subset plus a trial the config does not ask for, and
    # extra file types per trial (velocity, IMU, ...) that must not be fetched
    info = build_replica(folder / ARCHIVE, trials=list(TRIALS) + ["normal_walk_1_1-8"], duration_s=6.0,
                         extra_files=True, compresslevel=1)
    return folder, info


@pytest.fixture(scope="session")
def gt23_run(replica, tmp_path_factory):
    folder, _ = replica
    work = tmp_path_factory.mktemp("gt23")
    with serve(folder) as srv:
        manifest = write_manifest(work, srv.url(ARCHIVE))
        overrides = {"manifest": str(manifest), "external_folders": [str(work)],
                     "stats": {"bootstrap": {"n": 199, "seed": 11}}}
        run_workflow(work, overrides=overrides, env={})
        sent, requests = srv.bytes_sent, list(srv.requests)
        again = run_workflow(work, overrides=overrides, env={})
    return work, sent, requests, again
