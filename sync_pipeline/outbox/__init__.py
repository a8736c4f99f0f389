"""Draining the outbox: claim due jobs, call the vendor, record every outcome."""
