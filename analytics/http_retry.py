"""HTTP with bounded retries, for the archives read over HTTP (Orthanc's REST API, DICOMweb).

What is retried: refused or dropped connections, timeouts, 429 and 5xx answers, with a backoff that doubles. What is
not: 401/403 (wrong credentials will not get better: the caller says which variables they came from). Other answers
go back to the caller. Messages name the source and the server, never a credential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from analytics.errors import SourceError

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECTIONS = 8  # keep-alive connections per server: the harvests ask a few questions at a time


def client(source: Any, auth: Any, accept: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """One keep-alive pool to the source's `url` (safe to share between threads), with its TLS and timeout keys."""
    return httpx.Client(
        base_url=source.url,
        auth=auth,
        verify=source.verify_tls,
        timeout=source.timeout,
        headers={"Accept": accept},
        limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        transport=transport,
    )


def send(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    source: Any,  # a source configuration: name, retries, timeout
    server: str,  # how messages name the server, e.g. "Orthanc at https://pacs:8042"
    refusal: str,  # what a 401/403 means, e.g. "refused the credentials taken from USER / PASSWORD"
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """The first answer that is neither a connection failure nor a retried status; SourceError once retries run out."""
    started = time.monotonic()
    problem = ""
    for attempt in range(source.retries + 1):
        if attempt:
            delay = backoff * 2 ** (attempt - 1)
            log.warning(
                "source %s: %s %s failed (%s); retry %d/%d in %.1f s",
                source.name,
                method,
                path,
                problem,
                attempt,
                source.retries,
                delay,
            )
            sleep(delay)
        try:
            response = http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            problem = f"timed out after {source.timeout:g} s"
            continue
        except httpx.TransportError as exc:
            problem = f"cannot connect: {type(exc).__name__}"
            continue
        if response.status_code in (401, 403):
            raise SourceError(
                f"source '{source.name}': {server} {refusal} (HTTP {response.status_code} on {method} {path})"
            )
        if response.status_code in RETRIED_STATUSES:
            problem = f"HTTP {response.status_code}"
            continue
        return response
    raise SourceError(
        f"source '{source.name}': {server} is unavailable: {method} {path} failed "
        f"{source.retries + 1} times over {time.monotonic() - started:.1f} s (last: {problem})"
    )
