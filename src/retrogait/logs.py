"""Logging for workflow jobs: one log file per job; warnings and errors also on the console (stderr)."""

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
_CONSOLE_FORMAT = "retrogait %(levelname)s: %(message)s"


class _ConsoleFilter(logging.Filter):
    """Warnings only: errors reach the console once, from :func:`logged` (without a traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == logging.WARNING


@contextlib.contextmanager
def logged(path: str | os.PathLike, *, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send log records of the ``retrogait`` loggers to ``path`` for the duration of a job.

    Warnings (automatic corrections such as a flipped knee-angle sign or
    dropped duplicate rows, fetch retries, fallbacks) also go to stderr, so
    Snakemake shows them on the console next to the job, not only in its log
    file. Warnings issued with :mod:`warnings` are captured the same way.

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
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
    console.addFilter(_ConsoleFilter())
    logger = logging.getLogger("retrogait")
    warn_logger = logging.getLogger("py.warnings")
    old_level = logger.level
    logger.setLevel(level)
    for lg in (logger, warn_logger):
        lg.addHandler(handler)
        lg.addHandler(console)
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
        for lg in (logger, warn_logger):
            lg.removeHandler(handler)
            lg.removeHandler(console)
        logger.setLevel(old_level)
        handler.close()


def console_warning(logger: logging.Logger, message: str) -> None:
    """Log ``message`` as a warning that reaches stderr, where Snakemake shows it beside the job.

    Inside :func:`logged` the console handler prints it; outside (no handler
    on the ``retrogait`` logger) it is printed here, once.
    """
    logger.warning("%s", message)
    root = logging.getLogger("retrogait")
    if not any(isinstance(h.filters[0] if h.filters else None, _ConsoleFilter) for h in root.handlers):
        print(f"retrogait warning: {message}", file=sys.stderr)
