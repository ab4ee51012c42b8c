"""Per-use billing under the framework agreement: tariff, invoice rules, ledger, documents."""
