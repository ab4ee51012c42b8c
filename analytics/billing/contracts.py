"""The contracts an invoice is computed from: the establishment registry, the tariff and the service levels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from analytics.billing.tariff import Tariff, load_tariff
from analytics.config import Settings
from analytics.registry import Registry, load_registry
from analytics.sla.terms import ServiceLevels, load_service_levels


@dataclass(frozen=True)
class Contracts:
    registry: Registry
    tariff: Tariff
    service_levels: ServiceLevels | None = None  # None: the agreement defines no service levels

    @property
    def fingerprint(self) -> str:
        """Hash of the contract files an invoice is computed from (part of its inputs hash)."""
        digest = hashlib.sha256()
        index = (self.tariff.price_index.path,) if self.tariff.price_index else ()
        for path in (self.registry.path, self.tariff.path, *index):
            digest.update(path.read_bytes())
        if self.service_levels is not None:
            digest.update(self.service_levels.path.read_bytes())
        return digest.hexdigest()


def load_contracts(settings: Settings) -> Contracts:
    registry = load_registry(settings.contracts.dir)
    offers = {e.offer for e in registry.establishments}
    tariff = load_tariff(settings.contracts.dir, offers)
    return Contracts(registry, tariff, load_service_levels(settings.contracts.dir, offers))
