"""A DICOMweb archive: QIDO-RS to search (studies by StudyDate window, paged; the series of a study), WADO-RS to
read the headers of a whole study or series in one request (`.../metadata`, never pixel data).

Credentials come from the environment variables the configuration names, are never logged nor put in a message.
Retried: refused or dropped connections, timeouts, 429 and 5xx (backoff from one second, doubling); not retried:
401/403 (naming the variables), other 4xx, and answers that are not DICOM JSON.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx

from analytics import http_retry
from analytics.config import DicomwebSourceConfig
from analytics.errors import ConfigError, MalformedRecord, SourceError
from analytics.pacs.tags import SERIES_RELATED_INSTANCES, STUDY_KEYS, from_dicom_json, wanted_tags

_BACKOFF = 1.0  # seconds before the first retry, doubled at each one


def _auth(source: DicomwebSourceConfig) -> httpx.Auth | None:
    if source.auth == "none":
        return None
    names = (source.username_env, source.password_env) if source.auth == "basic" else (source.token_env,)
    values = [os.environ.get(name or "", "") for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ConfigError(
            f"source '{source.name}': set the environment variable(s) {', '.join(missing)} to the "
            f"DICOMweb {'credentials' if source.auth == 'basic' else 'token'}"
        )
    if source.auth == "basic":
        return httpx.BasicAuth(values[0], values[1])
    return _Bearer(values[0])


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _date_range(first: date | None, last: date | None) -> str:
    """DICOM range matching: `A-B`, `A-` (on or after), `-B` (on or before)."""
    return (f"{first:%Y%m%d}" if first else "") + "-" + (f"{last:%Y%m%d}" if last else "")


class DicomwebArchive:
    """One keep-alive connection pool to one DICOMweb root; safe to share between threads."""

    def __init__(
        self,
        source: DicomwebSourceConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.location = f"dicomweb:{source.url}"
        self._server = f"the DICOMweb server at {source.url}"
        self.wanted = wanted_tags(source.sender_ae_tag, source.received_tag, source.size_tag)
        self._sleep = sleep
        self._http = http_retry.client(source, _auth(source), "application/dicom+json", transport)

    def close(self) -> None:
        self._http.close()

    # --- what the harvest asks --------------------------------------------------------------------------------

    def studies(self, first: date | None, last: date | None) -> Iterator[list[dict[int, str]]]:
        """Pages of studies whose StudyDate falls in the window (both None: every study), `page_size` at a time."""
        params: dict[str, Any] = {"includefield": [f"{t:08X}" for t in STUDY_KEYS]}
        if first or last:
            params["StudyDate"] = _date_range(first, last)
        offset = 0
        while True:
            page = self._search("/studies", {**params, "limit": self.source.page_size, "offset": offset})
            if page:
                yield page
            if len(page) < self.source.page_size:
                return
            offset += len(page)

    def series(self, study_uid: str) -> list[dict[int, str]]:
        return self._search(f"/studies/{study_uid}/series", {"includefield": f"{SERIES_RELATED_INSTANCES:08X}"})

    def instances(self, study_uid: str, series_uids: list[str] | None) -> list[dict[int, str]]:
        """The headers of every instance of the study (one request), or of the given series (one request each)."""
        paths = (
            [f"/studies/{study_uid}/metadata"]
            if series_uids is None
            else [f"/studies/{study_uid}/series/{uid}/metadata" for uid in series_uids]
        )
        return [values for path in paths for values in self._search(path, None, metadata=True)]

    # --- transport ----------------------------------------------------------------------------------------------

    def _search(self, path: str, params: dict[str, Any] | None, *, metadata: bool = False) -> list[dict[int, str]]:
        answer = self._get(path, params)
        if answer is None:
            return []  # 204 No Content: nothing matches
        if not isinstance(answer, list):
            raise self._unexpected(path, "not a list of DICOM JSON objects")
        out = []
        for item in answer:
            try:
                out.append(from_dicom_json(item, self.wanted))
            except MalformedRecord as exc:
                if not metadata:
                    raise self._unexpected(path, str(exc)) from None
                out.append({})  # an instance without readable header: quarantined by the harvest
        return out

    def _get(self, path: str, params: dict[str, Any] | None) -> Any:
        source = self.source
        response = http_retry.send(
            self._http,
            "GET",
            path,
            source=source,
            server=self._server,
            params=params,
            refusal=self._refusal(),
            backoff=_BACKOFF,
            sleep=self._sleep,
        )
        status = response.status_code
        if status == 204:
            return None
        if status == 404 and path.endswith("/metadata"):
            return []  # the study or series went away since it was listed
        if status >= 400:
            raise SourceError(f"source '{source.name}': {self._server} answered HTTP {status} to GET {path}")
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(path, "malformed JSON") from None

    def _refusal(self) -> str:
        source = self.source
        if source.auth == "basic":
            return f"refused the credentials taken from {source.username_env} / {source.password_env}"
        if source.auth == "bearer":
            return f"refused the token taken from {source.token_env}"
        return 'refused access without credentials (set auth = "basic" or "bearer" and name the variables)'

    def _unexpected(self, path: str, detail: str) -> SourceError:
        return SourceError(
            f"source '{self.source.name}': {self._server} answered GET {path} with something that "
            f"is not DICOM JSON ({detail}); nothing of it was stored"
        )
