"""Exceptions raised by retrogait.

Every error about data names where the problem is (dataset, subject, trial
and, where it helps, the file or channel) so that a user can find it without
reading a traceback.
"""

from __future__ import annotations

__all__ = [
    "RetrogaitError",
    "ConfigError",
    "FetchError",
    "ChecksumError",
    "DataError",
    "where",
]


class RetrogaitError(Exception):
    """Base class of all errors raised on purpose by retrogait."""


class ConfigError(RetrogaitError):
    """A configuration or manifest file is invalid."""


class FetchError(RetrogaitError):
    """A dataset file could not be obtained."""


class ChecksumError(FetchError):
    """A file's bytes do not match the checksum declared for it."""

    def __init__(self, path: str, expected: str, actual: str, *, algorithm: str = "sha256"):
        self.path = path
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm
        super().__init__(
            f"{algorithm} mismatch for {path}: expected {expected}, got {actual}. "
            "The file is corrupt or not the declared version; it was not kept."
        )


def where(dataset: str | None = None, subject: str | None = None,
          trial: str | None = None, **extra: object) -> str:
    """Format a location prefix such as ``[dataset=gt23 subject=AB01 trial=...]``."""
    parts = [f"{k}={v}" for k, v in (("dataset", dataset), ("subject", subject), ("trial", trial)) if v]
    parts += [f"{k}={v}" for k, v in extra.items() if v is not None]
    return "[" + " ".join(parts) + "]" if parts else ""


class DataError(RetrogaitError):
    """Input data are unusable; the message names dataset, subject and trial."""

    def __init__(self, message: str, *, dataset: str | None = None, subject: str | None = None,
                 trial: str | None = None, **extra: object):
        self.dataset = dataset
        self.subject = subject
        self.trial = trial
        self.extra = extra
        prefix = where(dataset, subject, trial, **extra)
        super().__init__(f"{prefix} {message}" if prefix else message)

    def with_note(self, note: str) -> "DataError":
        """A copy of this error (same location) with ``note`` appended to its message."""
        new = DataError.__new__(DataError)
        new.dataset, new.subject, new.trial, new.extra = self.dataset, self.subject, self.trial, self.extra
        Exception.__init__(new, f"{self} {note}")
        return new
