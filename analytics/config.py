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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analytics.alerts.settings import AlertsConfig
from analytics.errors import ConfigError
from analytics.opinions.settings import OpinionsConfig
from analytics.toml_lines import line_of

CONFIG_ENV = "SANSFILM_CONFIG"
DEFAULT_CONFIG = "sansfilm.toml"
SOURCE_KINDS = ("dicom_files", "audit_syslog", "orthanc", "dicomweb", "dimse")
NETWORK_SOURCE_KINDS = ("orthanc", "dicomweb", "dimse")  # an archive read over the network: real patients
DEFAULT_MAX_LOG_LINE_BYTES = 1 << 20  # 1 MiB: an audit message naming thousands of studies still fits
DEFAULT_MAX_LOG_DECOMPRESSED_BYTES = 1 << 30  # 1 GiB per gzip file: a bomb stops there, a rotated day does not


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


class _AeTitles(_Section):
    ae_titles: list[str]

    @field_validator("ae_titles")
    @classmethod
    def _normalise(cls, titles: list[str]) -> list[str]:
        return [t.strip().upper() for t in titles if t.strip()]


class ArchiveConfig(_AeTitles):
    ae_titles: list[str] = Field(min_length=1)


class PortalConfig(_AeTitles):
    """The community portal (issue 18): the AE titles / application IDs it appears as in audit messages. An access
    through it is metered as `portal_views` and `portal_practitioners` (docs/billing.md). Empty: no portal."""

    ae_titles: list[str] = Field(default_factory=list)


class PrivacyConfig(_Section):
    allow_development_key: bool = False


class HarvestConfig(_Section):
    # processes reading DICOM headers while the main process writes; 0 = read in the main process.
    # Default: one per core but one (see analytics.harvest.default_workers).
    workers: int | None = Field(default=None, ge=0)
    batch_files: int = Field(default=2000, ge=1)  # files per committed batch (memory stays flat)
    # Audit logs are read as a stream within these bounds (a source may set its own): a longer line is quarantined
    # as a record, a gzip file that decompresses to more is quarantined whole (see docs/harvest.md, "Bounds").
    max_log_line_bytes: int = Field(default=DEFAULT_MAX_LOG_LINE_BYTES, ge=1024)
    max_log_decompressed_bytes: int = Field(default=DEFAULT_MAX_LOG_DECOMPRESSED_BYTES, ge=1024)


class LakeConfig(_Section):
    root: Path  # the open lake (Hive-partitioned Parquet of the raw and staged layers); see analytics/lake.py


class BillingConfig(_Section):
    out_dir: Path = Path("invoices")  # issued invoices' documents (PDF/Factur-X, CSV, XML) and draft previews
    outbox: Path = Path("outbox")  # `send --transport outbox`: the Factur-X files the exchange tool deposits
    smtp_host: str = "127.0.0.1"  # `send --transport email`: the relay that sends the PDFs
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "facturation@localhost"  # the sender address of the e-mails
    smtp_starttls: bool = False  # upgrade the connection with STARTTLS before sending (and log in if a user is set)
    smtp_user: str | None = None  # its password comes from $SANSFILM_SMTP_PASSWORD, never from the file
    smtp_ca_file: Path | None = None  # PEM of a private CA to check the relay's certificate with (else the system's)


class AccountsConfig(_Section):
    """Failed dashboard logins (analytics/accounts/logins.py): exponential back-off, then a lock."""

    lock_after: int = Field(default=10, ge=1)  # failures in a row that lock a name until `sansfilm users unlock`
    backoff_seconds: float = Field(default=1.0, gt=0)  # wait after the first failure, doubled at each next one
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    wait_max_seconds: float = Field(default=5.0, ge=0)  # longer waits are refused with the time left, not slept


class DashboardsConfig(_Section):
    """What the dashboards call late (docs/dashboards.md, "Déploiement")."""

    late_tolerance_days: int = Field(default=7, ge=0)  # a go-live up to this many days after plan is on time
    very_late_days: int = Field(default=90, ge=1)  # beyond this many days late, a site is shown as very late


def _check_http_url(url: str, credentials: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError(f"must not carry credentials: name them with {credentials}")
    return url.rstrip("/")


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
    # audit_syslog only: this source's own bounds, overriding [harvest]'s
    max_log_line_bytes: int | None = Field(default=None, ge=1024)
    max_log_decompressed_bytes: int | None = Field(default=None, ge=1024)

    @model_validator(mode="after")
    def _bounds_for_logs_only(self) -> SourceConfig:
        if self.kind != "audit_syslog" and (self.max_log_line_bytes or self.max_log_decompressed_bytes):
            raise ValueError("max_log_line_bytes and max_log_decompressed_bytes apply to audit_syslog sources only")
        return self


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

    _url = field_validator("url")(lambda url: _check_http_url(url, "username_env and password_env"))
    _zone = field_validator("timezone")(lambda zone: _check_zone_name(zone))


def _check_zone_name(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as Europe/Paris)") from None
    return zone


def _check_tag(tag: str | None) -> str | None:
    """A DICOM tag as 8 hex digits (`00771052`), also accepted as `(0077,1052)` or `0077,1052`."""
    if tag is None:
        return None
    digits = tag.strip().strip("()").replace(",", "").replace(" ", "").upper()
    if len(digits) != 8 or any(c not in "0123456789ABCDEF" for c in digits):
        raise ValueError(f'{tag!r} is not a DICOM tag (write it as 8 hex digits, e.g. "00771052")')
    what = _identifying(digits)
    if what:  # stored as read, it would put a patient's ID, name or address, or a person's name, in the warehouse
        raise ValueError(
            f"{tag!r} is {what}: sansfilm never stores one; name the tag that holds the sender's AE title, the "
            "reception time or the size"
        )
    return digits


# attributes outside the patient group that identify a patient's visit or a person (PS3.15 E.1's profile names them)
_IDENTIFIERS = {
    "00080050": "the accession number",
    "00380010": "the admission ID",
    "00120040": "a clinical trial subject's ID",
    "00120042": "a clinical trial subject's reading ID",
}


def _identifying(digits: str) -> str | None:
    """What identifies a patient or a person in the tag `digits`, if anything: the patient group, a person's name
    (VR PN), or an identifier of _IDENTIFIERS."""
    if digits.startswith("0010"):
        return "a patient's attribute (group 0010)"
    if digits in _IDENTIFIERS:
        return _IDENTIFIERS[digits]
    from pydicom.datadict import dictionary_VR  # only for a configured tag

    try:
        return "a person's name (VR PN)" if dictionary_VR(int(digits, 16)) == "PN" else None
    except KeyError:  # a private or unknown tag
        return None


class _PacsSource(_Source):
    """What the standard-speaking sources (DICOMweb, DICOM query) share: StudyDate windows and a cursor of days."""

    window_days: int = Field(default=7, ge=1, le=366)  # StudyDate days per window, each committed with the cursor
    overlap_days: int = Field(default=3, ge=0, le=366)  # recent days re-queried at every run: late arrivals
    timeout: float = Field(default=30.0, gt=0)  # seconds per request (HTTP) or per DIMSE message
    # the zone in which the server's dates are "today" (StudyDate windows) and its offset-less times are read
    timezone: str = "Europe/Paris"
    # the tag the server exposes the sending AE title in (a vendor or private attribute); none: attribution by
    # InstitutionName alias, else UNATTRIBUTED
    sender_ae_tag: str | None = None
    received_tag: str | None = None  # a DT (or DA) attribute holding the reception time, when the server has one
    size_tag: str | None = None  # an attribute holding the stored size in bytes, when the server has one

    _zone = field_validator("timezone")(lambda zone: _check_zone_name(zone))
    _tags = field_validator("sender_ae_tag", "received_tag", "size_tag")(lambda tag: _check_tag(tag))


class DicomwebSourceConfig(_PacsSource):
    """A DICOMweb server (QIDO-RS search, WADO-RS metadata); credentials come from the environment."""

    kind: Literal["dicomweb"]
    url: str  # the DICOMweb root, e.g. https://pacs.example.org/dicom-web (no user:password@)
    auth: Literal["none", "basic", "bearer"] = "none"
    username_env: str | None = None  # basic: names of the environment variables holding the credentials
    password_env: str | None = None
    token_env: str | None = None  # bearer: name of the environment variable holding the token
    verify_tls: bool = True
    page_size: int = Field(default=100, ge=1, le=10000)  # studies per QIDO-RS page, and per committed transaction
    retries: int = Field(default=5, ge=0)  # retries of a failed request (connection refused, 5xx, timeout)

    _url = field_validator("url")(lambda url: _check_http_url(url, "username_env/password_env or token_env"))

    @model_validator(mode="after")
    def _check_auth(self) -> DicomwebSourceConfig:
        needed = {"none": (), "basic": ("username_env", "password_env"), "bearer": ("token_env",)}[self.auth]
        missing = [key for key in needed if not getattr(self, key)]
        if missing:
            raise ValueError(f'auth = "{self.auth}" needs {" and ".join(missing)}')
        return self


class DimseSourceConfig(_PacsSource):
    """A DICOM query SCP (C-FIND, Study Root), e.g. a vendor PACS; nothing secret: AE titles are not credentials."""

    kind: Literal["dimse"]
    host: str
    port: int = Field(ge=1, le=65535)
    called_ae: Annotated[str, Field(min_length=1, max_length=16)]  # the PACS's AE title
    calling_ae: Annotated[str, Field(min_length=1, max_length=16)]  # ours, as the PACS knows it
    max_pdu: int = Field(default=16382, ge=0)  # bytes; 0 = unlimited


PacsSourceConfig = DicomwebSourceConfig | DimseSourceConfig
AnySourceConfig = SourceConfig | OrthancSourceConfig | DicomwebSourceConfig | DimseSourceConfig
AnySource = Annotated[AnySourceConfig, Field(discriminator="kind")]


class Settings(_Section):
    warehouse: WarehouseConfig
    ledger: LedgerConfig = LedgerConfig()
    contracts: ContractsConfig
    archive: ArchiveConfig
    privacy: PrivacyConfig = PrivacyConfig()
    harvest: HarvestConfig = HarvestConfig()
    billing: BillingConfig = BillingConfig()
    accounts: AccountsConfig = AccountsConfig()
    dashboards: DashboardsConfig = DashboardsConfig()
    lake: LakeConfig | None = None  # no [lake] section: no lake is written
    alerts: AlertsConfig = AlertsConfig()  # thresholds; no channel configured: alerts go to the run log only
    opinions: OpinionsConfig = OpinionsConfig()  # tele-opinions: answer limit, working hours
    portal: PortalConfig = PortalConfig()  # the community portal's AE titles
    sources: list[AnySource] = Field(default_factory=list)
    config_path: Path = Path(DEFAULT_CONFIG)  # set by load_settings, never read from the file

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def published_path(self) -> Path:
        wh = self.warehouse
        return wh.published_path or wh.path.with_name(f"{wh.path.stem}.published{wh.path.suffix or '.duckdb'}")

    def source(self, name: str) -> AnySourceConfig:
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
        text = config_path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file not found: {config_path} (use --config PATH or set {CONFIG_ENV})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{config_path} is a directory, not a configuration file: name the .toml file in it "
            f"(e.g. --config {config_path / DEFAULT_CONFIG})"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {config_path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    if "config_path" in raw:
        raise ConfigError(f"{config_path}: unknown key 'config_path'")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{config_path}: " + "; ".join(_describe(err, raw) + _at_line(text, err["loc"]) for err in exc.errors())
        ) from None
    names = [s.name for s in settings.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{config_path}: [[sources]] name '{duplicates[0]}' is used twice")
    resolved = _resolved(settings, config_path)
    if "ledger" not in raw:
        _make_default_ledger_folder(resolved.ledger.url)
    return resolved


def _make_default_ledger_folder(url: str) -> None:
    """Without a [ledger] section the ledger is sansfilm's choice (data/ledger.sqlite beside the config), so its
    folder is made here; a url the configuration names must point into an existing folder (the ledger says so)."""
    try:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only place: opening the ledger reports it


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


def _at_line(text: str, loc: tuple[Any, ...]) -> str:
    line = line_of(text, [item for item in loc if item not in SOURCE_KINDS])
    return f" (line {line})" if line else ""


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
            "published_path": absolute(settings.warehouse.published_path)
            if settings.warehouse.published_path
            else None,
        }
    )
    ledger = settings.ledger.model_copy(update={"url": _resolve_sqlite_url(settings.ledger.url, root)})
    return settings.model_copy(
        update={
            "config_path": config_path,
            "warehouse": warehouse,
            "ledger": ledger,
            "contracts": settings.contracts.model_copy(update={"dir": absolute(settings.contracts.dir)}),
            "billing": settings.billing.model_copy(
                update={
                    "out_dir": absolute(settings.billing.out_dir),
                    "outbox": absolute(settings.billing.outbox),
                    "smtp_ca_file": absolute(settings.billing.smtp_ca_file) if settings.billing.smtp_ca_file else None,
                }
            ),
            "lake": settings.lake.model_copy(update={"root": absolute(settings.lake.root)}) if settings.lake else None,
            "alerts": settings.alerts.resolved(root),
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
