"""Every error sansfilm raises on purpose, in one place.

Messages are written for the person who has to act on them (a finance officer, an operator): they name the file,
the line and the field when there is one, and never carry health data.
"""

from __future__ import annotations

from pathlib import Path


class SansfilmError(Exception):
    """Base class: anything sansfilm reports as a clear, actionable failure."""


class ConfigError(SansfilmError):
    """The TOML configuration is missing, malformed or names something unknown."""


class ContractError(SansfilmError):
    """A contract file (registry, tariff, rules) is invalid.

    Carries the file, the line (1-based, when known) and the field so that callers and tests can check them.
    """

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str | None = None):
        self.path = Path(path)
        self.line = line
        self.field = field
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class DictionaryError(ContractError):
    """A model of the dbt project (analytics/dbt/models) lacks its documentation, or docs/warehouse.md its markers."""


class PrivacyError(SansfilmError):
    """Pseudonymisation cannot be done safely (no key configured outside the sample)."""


class MalformedRecord(SansfilmError):
    """One input record (a DICOM file, a log line) cannot be parsed; it goes to quarantine with this reason."""


class SourceError(SansfilmError):
    """A source server (e.g. an Orthanc archive) cannot be read: unreachable after retries, refused credentials,
    or answered something unexpected. The message names the source; it never carries credentials."""


class SchemaVersionError(SansfilmError):
    """A database (the ledger, the warehouse) is at another schema version than this sansfilm's: older ones are
    brought up to date by `sansfilm upgrade`; a newer one needs the sansfilm that upgraded it."""
