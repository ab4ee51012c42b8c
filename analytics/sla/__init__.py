"""Service levels of the framework agreement: the terms (contracts/service_levels.yaml), their monthly measurement
from the audit events and the studies, and the credits breaches give (docs/service-levels.md)."""
