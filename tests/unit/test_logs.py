"""Job logging: warnings reach the console as well as the log file; an expected error is one line and
exit status 1 (traceback in the log at DEBUG only); a bug keeps its traceback."""

import logging

import pytest

from retrogait.errors import DataError
from retrogait.logs import logged


def test_expected_error_is_one_line_without_traceback(tmp_path, capsys):
    log = tmp_path / "logs" / "job.log"
    with pytest.raises(SystemExit) as exit_:
        with logged(log):
            logging.getLogger("retrogait.test").info("working")
            raise DataError("trial has no force plate", dataset="d", subject="s1", trial="t1")
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err == "retrogait error: [dataset=d subject=s1 trial=t1] trial has no force plate\n"
    text = log.read_text()
    assert "working" in text and "trial has no force plate" in text and "Traceback" not in text


def test_unexpected_error_is_reraised_with_its_traceback_in_the_log(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ZeroDivisionError):
        with logged(log):
            1 / 0  # noqa: B018
    assert "unexpected error" in log.read_text() and "Traceback" in log.read_text()
    assert logging.getLogger("retrogait").handlers == [] or all(
        getattr(h, "baseFilename", None) != str(log) for h in logging.getLogger("retrogait").handlers)


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
