"""A small, strict client of Orthanc's REST API: bounded retries with backoff, and errors that name the source.

Credentials are read from the environment variables the configuration names (never from the TOML) and are never
logged or put in a message. What is retried: refused or dropped connections, timeouts and 5xx answers; what is not:
401/403 (wrong credentials will not get better) and answers that are not the JSON Orthanc sends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics import http_retry
from analytics.config import OrthancSourceConfig
from analytics.errors import ConfigError, SourceError


class NotFound(Exception):
    """HTTP 404: the resource is gone (deleted since the change was logged). Callers decide what it means."""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    change_type: str  # NewInstance, NewSeries, StableStudy, Deleted, ...
    resource_type: str  # Instance, Series, Study, Patient
    resource_id: str  # Orthanc's identifier
    date: str  # server local time, YYYYMMDDTHHMMSS


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: list[Change]
    done: bool
    last: int


def credentials(source: OrthancSourceConfig) -> tuple[str, str]:
    user, password = os.environ.get(source.username_env, ""), os.environ.get(source.password_env, "")
    missing = [name for name, value in ((source.username_env, user), (source.password_env, password)) if not value]
    if missing:
        raise ConfigError(
            f"source '{source.name}': set the environment variable(s) {', '.join(missing)} to the Orthanc credentials"
        )
    return user, password


class OrthancClient:
    """One keep-alive connection pool to one Orthanc; safe to share between threads."""

    def __init__(self, source: OrthancSourceConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.source = source
        self._sleep = sleep
        self._http = http_retry.client(source, credentials(source), "application/json")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OrthancClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the calls the harvest and the sensor make --------------------------------------------------------------

    def changes(self, since: int, limit: int) -> ChangePage:
        body = self.get("/changes", params={"since": since, "limit": limit})
        try:
            changes = [
                Change(int(c["Seq"]), str(c["ChangeType"]), str(c["ResourceType"]), str(c["ID"]), str(c["Date"]))
                for c in body["Changes"]
            ]
            return ChangePage(changes, bool(body["Done"]), int(body["Last"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self.unexpected("GET /changes", f"no {exc}" if isinstance(exc, KeyError) else str(exc)) from None

    def last_change(self) -> int:
        """The sequence number of the newest change (0 for an empty server): one cheap request."""
        body = self.get("/changes", params={"last": ""})
        try:
            return int(body["Last"])
        except (KeyError, TypeError, ValueError):
            raise self.unexpected("GET /changes?last", "no Last") from None

    def instance_count(self) -> int:
        body = self.get("/statistics")
        try:
            return int(body["CountInstances"])
        except (KeyError, TypeError, ValueError):
            raise self.unexpected("GET /statistics", "no CountInstances") from None

    def bulk(self, ids: list[str], level: str, *, metadata: bool = False) -> dict[str, dict[str, Any]]:
        """Orthanc's own description of many resources in one request (unknown ids are left out)."""
        if not ids:
            return {}
        body = self.post("/tools/bulk-content", {"Resources": ids, "Level": level, "Metadata": metadata})
        if not isinstance(body, list) or not all(isinstance(r, dict) and "ID" in r for r in body):
            raise self.unexpected("POST /tools/bulk-content", "not a list of resources")
        return {r["ID"]: r for r in body}

    def instance_ids(self, page: int = 10_000) -> set[str]:
        """Every instance the server holds now (paged)."""
        found: set[str] = set()
        while True:
            body = self.get("/instances", params={"since": len(found), "limit": page})
            if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
                raise self.unexpected("GET /instances", "not a list of identifiers")
            found.update(body)
            if len(body) < page:
                return found

    # --- transport ------------------------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, json=body)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        source = self.source
        response = http_retry.send(
            self._http,
            method,
            path,
            source=source,
            server=f"Orthanc at {source.url}",
            refusal=f"refused the credentials taken from {source.username_env} / {source.password_env}",
            backoff=source.backoff,
            sleep=self._sleep,
            **kwargs,
        )
        status = response.status_code
        if status == 404:
            raise NotFound(path)
        if status >= 400:
            raise SourceError(
                f"source '{source.name}': Orthanc at {source.url} answered HTTP {status} to {method} {path}"
            )
        try:
            return response.json()
        except ValueError:
            raise self.unexpected(f"{method} {path}", "malformed JSON") from None

    def unexpected(self, what: str, detail: str) -> SourceError:
        return SourceError(
            f"source '{self.source.name}': Orthanc at {self.source.url} answered {what} with "
            f"something that is not what Orthanc sends ({detail}); nothing was stored"
        )
