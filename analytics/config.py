"""The one TOML configuration: where the warehouse, ledger and contracts live, and which sources to harvest.

Found as `--config PATH`, else `$SANSFILM_CONFIG`, else `sansfilm.toml` in the working directory. Relative paths
are relative to the config file, so that everything sansfilm writes for a config lands under the paths it names.
Unknown keys and source kinds fail at load with the key named.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analytics.errors import ConfigError

CONFIG_ENV = "SANSFILM_CONFIG"
DEFAULT_CONFIG = "sansfilm.toml"
SOURCE_KINDS = ("dicom_files", "audit_syslog", "orthanc")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Section):
    path: Path
    published_path: Path | None = None  # defaults to <path stem>.published.duckdb beside it
    # DuckDB's memory limit for builds and metering ("8GB", "512MB"); default: half the machine's RAM, leaving the
    # rest to the dashboards and the OS (DuckDB's own default, 80 %, leaves them too little).
    memory_limit: str | None = Field(default=None, pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")


class LedgerConfig(_Section):
    url: str = "sqlite:///data/ledger.sqlite"


class ContractsConfig(_Section):
    dir: Path


class ArchiveConfig(_Section):
    ae_titles: list[str] = Field(min_length=1)

    @field_validator("ae_titles")
    @classmethod
    def _normalise(cls, titles: list[str]) -> list[str]:
        return [t.strip().upper() for t in titles if t.strip()]


class PrivacyConfig(_Section):
    allow_development_key: bool = False


class HarvestConfig(_Section):
    # processes reading DICOM headers while the main process writes; 0 = read in the main process.
    # Default: one per core but one (see analytics.harvest.default_workers).
    workers: int | None = Field(default=None, ge=0)
    batch_files: int = Field(default=2000, ge=1)  # files per committed batch (memory stays flat)


class LakeConfig(_Section):
    root: Path  # the open lake (Hive-partitioned Parquet of the raw and staged layers); see analytics/lake.py


class BillingConfig(_Section):
    out_dir: Path = Path("invoices")  # issued invoices' documents (PDF/Factur-X, CSV, XML) and draft previews


class _Source(_Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]

    @property
    def asset_name(self) -> str:
        """The source's name as a Dagster asset name (letters, digits, underscores)."""
        return self.name.replace("-", "_").lower()


class SourceConfig(_Source):
    """A folder: DICOM Part-10 files or audit logs."""

    kind: Literal["dicom_files", "audit_syslog"]
    path: Path


class OrthancSourceConfig(_Source):
    """An Orthanc server read through its REST API; credentials come from the environment, never from the file."""

    kind: Literal["orthanc"]
    url: str  # e.g. https://pacs.example.org:8042 (no user:password@)
    username_env: str  # names of the environment variables holding the credentials
    password_env: str
    verify_tls: bool = True
    page_size: int = Field(default=1000, ge=1, le=10000)  # changes read per request, and committed per transaction
    timeout: float = Field(default=30.0, gt=0)  # seconds per HTTP request
    # the zone of the server's timestamps, which carry no offset: Orthanc 1.10 writes ReceptionDate and change dates
    # in UTC whatever its own TZ (measured); set the server's zone only for a build that writes local time
    timezone: str = "UTC"
    retries: int = Field(default=5, ge=0)  # retries of a failed request (connection refused, 5xx, timeout)
    backoff: float = Field(default=1.0, ge=0)  # seconds before the first retry, doubled at each one

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: name them with username_env and password_env")
        return url.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Paris)") from None
        return zone


AnySource = Annotated[SourceConfig | OrthancSourceConfig, Field(discriminator="kind")]


class Settings(_Section):
    warehouse: WarehouseConfig
    ledger: LedgerConfig = LedgerConfig()
    contracts: ContractsConfig
    archive: ArchiveConfig
    privacy: PrivacyConfig = PrivacyConfig()
    harvest: HarvestConfig = HarvestConfig()
    billing: BillingConfig = BillingConfig()
    lake: LakeConfig | None = None  # no [lake] section: no lake is written
    sources: list[AnySource] = Field(default_factory=list)
    config_path: Path = Path(DEFAULT_CONFIG)  # set by load_settings, never read from the file

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def published_path(self) -> Path:
        wh = self.warehouse
        return wh.published_path or wh.path.with_name(f"{wh.path.stem}.published{wh.path.suffix or '.duckdb'}")

    def source(self, name: str) -> SourceConfig | OrthancSourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"{self.config_path}: no source named '{name}' (known: {[s.name for s in self.sources]})")


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, validate and resolve a config file; every problem raises ConfigError naming the file and the key."""
    config_path = resolve_config_path(path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file not found: {config_path} (use --config PATH or set {CONFIG_ENV})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    if "config_path" in raw:
        raise ConfigError(f"{config_path}: unknown key 'config_path'")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config_path}: " + "; ".join(_describe(err, raw) for err in exc.errors())) from None
    names = [s.name for s in settings.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{config_path}: [[sources]] name '{duplicates[0]}' is used twice")
    return _resolved(settings, config_path)


def _describe(err: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = err["loc"]
    if len(loc) >= 3 and loc[0] == "sources" and loc[2] in SOURCE_KINDS:
        loc = (*loc[:2], *loc[3:])  # the union's tag is not a key of the file
    key = _key_path(loc)
    if err["type"] == "union_tag_not_found":
        return f"missing key '{key}.kind'"
    if err["type"] == "union_tag_invalid":
        value = raw["sources"][loc[1]].get("kind")
        return f"unknown source kind '{value}' at '{key}.kind' (known: {', '.join(SOURCE_KINDS)})"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if err["type"] == "missing":
        return f"missing key '{key}'"
    if len(loc) >= 3 and loc[0] == "sources" and loc[2] == "kind":
        value = raw["sources"][loc[1]].get("kind")
        return f"unknown source kind '{value}' at '{key}' (known: {', '.join(SOURCE_KINDS)})"
    return f"'{key}': {err['msg']}"


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item + 1}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


def _resolved(settings: Settings, config_path: Path) -> Settings:
    root = config_path.parent

    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else (root / p).resolve()

    warehouse = settings.warehouse.model_copy(
        update={
            "path": absolute(settings.warehouse.path),
            "published_path": absolute(settings.warehouse.published_path) if settings.warehouse.published_path else None,
        }
    )
    ledger = settings.ledger.model_copy(update={"url": _resolve_sqlite_url(settings.ledger.url, root)})
    return settings.model_copy(
        update={
            "config_path": config_path,
            "warehouse": warehouse,
            "ledger": ledger,
            "contracts": settings.contracts.model_copy(update={"dir": absolute(settings.contracts.dir)}),
            "billing": settings.billing.model_copy(update={"out_dir": absolute(settings.billing.out_dir)}),
            "lake": settings.lake.model_copy(update={"root": absolute(settings.lake.root)}) if settings.lake else None,
            "sources": [
                s.model_copy(update={"path": absolute(s.path)}) if isinstance(s, SourceConfig) else s
                for s in settings.sources
            ],
        }
    )


def _resolve_sqlite_url(url: str, root: Path) -> str:
    """`sqlite:///relative.db` is relative to the config file, like every other path here."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix) :]).resolve())
    return url
