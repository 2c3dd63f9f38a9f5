"""Logging for workflow jobs: one log file per job, errors also on stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from retrogait.errors import RetrogaitError

__all__ = ["logged", "console_warning"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def logged(path: str | os.PathLike, *, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send log records of the ``retrogait`` loggers to ``path`` for the duration of a job.

    Warnings issued with :mod:`warnings` are captured into the log too.

    An expected problem (:class:`~retrogait.errors.RetrogaitError`: its
    message names the dataset, subject, file or config key) is logged and
    printed to stderr as one line, so Snakemake shows it next to the failed
    rule, and the job exits with status 1 (``SystemExit``) without a
    traceback; the traceback goes to the log only at ``DEBUG`` level. Any
    other exception is a bug: it is logged with its traceback and re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger = logging.getLogger("retrogait")
    warn_logger = logging.getLogger("py.warnings")
    old_level = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    warn_logger.addHandler(handler)
    logging.captureWarnings(True)
    try:
        yield logger
    except RetrogaitError as exc:
        logger.error("%s", exc)
        logger.debug("raised at", exc_info=True)
        print(f"retrogait error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("unexpected error")
        raise
    finally:
        logging.captureWarnings(False)
        warn_logger.removeHandler(handler)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


def console_warning(logger: logging.Logger, message: str) -> None:
    """Log ``message`` as a warning and print it on stderr, where Snakemake shows it beside the job."""
    logger.warning("%s", message)
    print(f"retrogait warning: {message}", file=sys.stderr)
