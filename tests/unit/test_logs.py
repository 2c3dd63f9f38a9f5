"""Job logging: warnings reach the console as well as the log file; errors once, without a traceback."""

import logging

import pytest

from retrogait.errors import DataError
from retrogait.logs import logged


def test_warnings_reach_the_console_and_the_log(tmp_path, capsys):
    log = tmp_path / "job.log"
    with logged(log):
        logging.getLogger("retrogait.acquire.fetch").warning("gt23: connection dropped; retry 1/4 in 1 s")
        logging.getLogger("retrogait.stages").info("fetching 25 file(s)")
    err = capsys.readouterr().err
    assert "retrogait WARNING: gt23: connection dropped; retry 1/4 in 1 s" in err
    assert "fetching 25 file(s)" not in err  # information stays in the log file
    text = log.read_text()
    assert "connection dropped" in text and "fetching 25 file(s)" in text


def test_an_expected_error_is_printed_once_without_traceback(tmp_path, capsys):
    with pytest.raises(DataError):
        with logged(tmp_path / "job.log"):
            raise DataError("file not found", dataset="gt23", subject="AB01")
    err = capsys.readouterr().err
    assert err.count("[dataset=gt23 subject=AB01] file not found") == 1
    assert "Traceback" not in err
    assert "Traceback" in (tmp_path / "job.log").read_text()  # the log keeps it for developers
    assert not logging.getLogger("retrogait").handlers  # handlers removed after the job
