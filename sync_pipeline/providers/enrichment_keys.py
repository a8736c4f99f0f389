"""Cache keys of enrichment answers, the same whichever enricher produced them."""

from __future__ import annotations


def email_key(email: str) -> str:
    """The cache key of a person: the trimmed, lower-cased address."""
    return email.strip().lower()


# Second-level labels under which country registries sell names (acme.co.uk, acme.com.au). No
# public-suffix list ships with the project; these cover the usual company sites.
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "ltd", "ne", "net", "or", "org", "plc"})


def domain_key(value: str) -> str:
    """The cache key of a company: its registrable domain.

    ``https://www.Acme.com/about`` → ``acme.com``, ``app.eu.acme.com`` → ``acme.com``,
    ``shop.acme.co.uk`` → ``acme.co.uk``; an address's domain for ``ada@mail.acme.com``.
    """
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    labels = host.split(".")
    if len(labels) <= 2 or labels[-1].isdigit():  # already registrable, or an IP address
        return host.removeprefix("www.")
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])
