"""Keyed pseudonyms for patient identifiers.

A patient key is HMAC-SHA256(secret, PatientID) in hex: stable across runs and sources (so studies of one patient
can be linked for statistics), useless without the secret. The secret comes from `SANSFILM_PSEUDO_KEY`. A fixed
development key exists only for configurations that opt in with `[privacy] allow_development_key = true` (the
generated sample corpus does) and read no archive over the network (Orthanc, DICOMweb, DIMSE: a published key would
key real patients); anything else without the variable fails at start, before reading a file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from analytics.errors import PrivacyError

ENV_VAR = "SANSFILM_PSEUDO_KEY"
# Domains hashed in front of an identifier, so that keys of different kinds never collide: a practitioner's RPPS
# number, an audit participant's ID (AE title, application, login: any of them may name a person).
RPPS_DOMAIN = "RPPS:"
PARTICIPANT_DOMAIN = "AE:"
DEVELOPMENT_KEY = "sansfilm-development-key--sample-corpus-only"
_MIN_KEY_LENGTH = 16


class Pseudonymiser:
    """Turns a raw identifier into its keyed hash. Empty or missing identifiers stay None."""

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        if len(key) < _MIN_KEY_LENGTH:
            raise PrivacyError(f"{ENV_VAR} must be at least {_MIN_KEY_LENGTH} characters long")
        self._key = key.encode("utf-8")

    def __call__(self, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        identifier = identifier.strip()
        if not identifier:
            return None
        return hmac.new(self._key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()

    def __reduce__(self):  # picklable for worker processes, key included (never logged)
        return (Pseudonymiser, (self._key.decode("utf-8"),))

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymiser(<key hidden>)"


def _sources(names: Sequence[str]) -> str:
    return ("source " if len(names) == 1 else "sources ") + ", ".join(repr(name) for name in names)


def pseudonymiser_from_env(*, allow_development_key: bool, network_sources: Sequence[str]) -> Pseudonymiser:
    """The key of `SANSFILM_PSEUDO_KEY`; else the development key, if the configuration allows it. Neither the
    development key nor a variable set to it is taken for a configuration with a source that reads an archive over
    the network (`network_sources`: their names)."""
    key = os.environ.get(ENV_VAR, "")
    if key == DEVELOPMENT_KEY and network_sources:
        raise _development_key_refused(f"{ENV_VAR} is the published development key, which is", network_sources)
    if key:
        return Pseudonymiser(key)
    if allow_development_key and network_sources:
        raise _development_key_refused(f"{ENV_VAR} is not set, and the development key is", network_sources)
    if allow_development_key:
        return Pseudonymiser(DEVELOPMENT_KEY)
    raise PrivacyError(
        f"{ENV_VAR} is not set. Set it to the programme's secret pseudonymisation key (the development key is only"
        " allowed for configurations with [privacy] allow_development_key = true, such as the generated sample)."
    )


def _development_key_refused(what: str, network_sources: Sequence[str]) -> PrivacyError:
    return PrivacyError(
        f"{what} refused for a configuration that reads an archive over the network ({_sources(network_sources)}):"
        f" its patients may be real, and the development key is published. Set {ENV_VAR} to the programme's secret"
        " pseudonymisation key."
    )


PARTICIPANT_KEY_LENGTH = 16  # hex digits (64 bits): enough to tell the portal's few titles apart, small per record


def participant_key(pseudonymise: Pseudonymiser, ae_title_key: str) -> str:
    """The keyed hash (truncated) under which an audit participant's normalised ID is stored: raw.audit_events keeps
    in clear no ID of a participant that is neither Source nor Destination, and the portal's titles are matched by
    this key."""
    return (pseudonymise(PARTICIPANT_DOMAIN + ae_title_key) or "")[:PARTICIPANT_KEY_LENGTH]
