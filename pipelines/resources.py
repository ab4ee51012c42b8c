"""The one resource: which sansfilm configuration a run works on."""

import dagster as dg

from analytics.config import Settings, load_settings


class SansfilmConfig(dg.ConfigurableResource):
    """Path of the TOML configuration; empty means --config / $SANSFILM_CONFIG / ./sansfilm.toml."""

    config_path: str = ""

    def settings(self) -> Settings:
        return load_settings(self.config_path or None)
