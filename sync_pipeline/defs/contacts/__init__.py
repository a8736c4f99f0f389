"""Contacts: the ``ghl_contacts`` asset, its checks, sensor and nightly reconciliation."""
