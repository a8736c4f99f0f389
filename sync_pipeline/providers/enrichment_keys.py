"""Cache keys of enrichment answers, the same whichever enricher produced them."""

from __future__ import annotations


def email_key(email: str) -> str:
    """The cache key of a person: the trimmed, lower-cased address."""
    return email.strip().lower()


def domain_key(value: str) -> str:
    """The cache key of a company: ``https://www.Acme.com/about`` → ``acme.com``."""
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    return host.removeprefix("www.")
