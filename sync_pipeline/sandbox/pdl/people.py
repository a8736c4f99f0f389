"""Seeded people and companies: what every enrichment sandbox (PDL, Clay) and the RB2B sender know.

A person is a pure function of ``(seed, email)`` and a company of ``(seed, domain)``, so any address
a test invents has a stable answer without a stored dataset. Some keys are deliberately unknown:
``miss_rate`` of them by hash, and always those whose local part (or first domain label) starts with
``miss_prefix`` — so a test can ask for a certain miss (``nobody@acme.com``). The records are
vendor-neutral; each sandbox shapes them into its own wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sync_pipeline.sandbox.ghl.seed import (
    COMPANY_KINDS,
    COMPANY_WORDS,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    PLACES,
    TOP_LEVEL_DOMAINS,
)
from sync_pipeline.sandbox.identifiers import digest, token

INDUSTRIES = (
    "computer software", "logistics and supply chain", "marketing and advertising", "real estate",
    "health, wellness and fitness", "financial services", "construction", "legal services",
    "internet", "renewables & environment",
)  # fmt: skip
# Employee-count buckets as enrichment vendors print them, with a representative head count.
SIZES = (("1-10", 6), ("11-50", 32), ("51-200", 120), ("201-500", 340), ("501-1000", 760),
         ("1001-5000", 2400), ("5001-10000", 7200), ("10001+", 24000))  # fmt: skip


@dataclass(frozen=True)
class SeededPeople:
    """Deterministic person and company records for one seed."""

    seed: int
    miss_rate: float = 0.2
    miss_prefix: str = "nobody"

    def person(self, email: str) -> dict[str, Any] | None:
        """The person behind ``email``, or None when the dataset has no match."""
        email = email.strip().lower()
        local, _, domain = email.partition("@")
        if not local or not domain or self._missing("person", email, local):
            return None
        h = digest(self.seed, "person", email, size=8)
        first, last = _names_from_local(local, h)
        company = self._company_record(_site_domain(domain))
        city, region, country, _, _ = PLACES[h[2] % len(PLACES)]
        return {
            "email": email,
            "first_name": first,
            "last_name": last,
            "full_name": f"{first} {last}",
            "job_title": JOB_TITLES[h[3] % len(JOB_TITLES)],
            "linkedin_url": f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{token(email, length=6)}",
            "phone": f"+1512555{int.from_bytes(h[4:6], 'big') % 10_000:04d}",
            "city": city,
            "region": region,
            "country": country,
            "company": company,
        }

    def company(self, domain: str) -> dict[str, Any] | None:
        """The company at ``domain`` (any URL or host form), or None when unknown."""
        domain = _site_domain(domain)
        if not domain or "." not in domain or self._missing("company", domain, domain):
            return None
        return self._company_record(domain)

    def identity(self, index: int) -> str:
        """The email of seeded person ``index`` (always a match), for senders that invent visitors."""
        h = digest(self.seed, "identity", index, size=6)
        first, last = FIRST_NAMES[h[0] % len(FIRST_NAMES)], LAST_NAMES[h[1] % len(LAST_NAMES)]
        word, kind = COMPANY_WORDS[h[2] % len(COMPANY_WORDS)], COMPANY_KINDS[h[3] % len(COMPANY_KINDS)]
        tld = TOP_LEVEL_DOMAINS[h[4] % len(TOP_LEVEL_DOMAINS)]
        return f"{first}.{last}{index + 1}@{word}{kind}.{tld}".lower()

    def _company_record(self, domain: str) -> dict[str, Any]:
        h = digest(self.seed, "company", domain, size=8)
        label = domain.split(".")[0]
        size, employees = SIZES[h[0] % len(SIZES)]
        city, region, country, _, _ = PLACES[h[1] % len(PLACES)]
        return {
            "name": label.replace("-", " ").title(),
            "domain": domain,
            "website": f"https://{domain}",
            "industry": INDUSTRIES[h[2] % len(INDUSTRIES)],
            "size": size,
            "employee_count": employees + h[3] % 7,
            "founded": 1970 + h[4] % 54,
            "linkedin_url": f"https://www.linkedin.com/company/{label}",
            "city": city,
            "region": region,
            "country": country,
        }

    def _missing(self, kind: str, key: str, name: str) -> bool:
        if name.startswith(self.miss_prefix):
            return True
        return digest(self.seed, "miss", kind, key, size=2)[0] / 256 < self.miss_rate


def _site_domain(value: str) -> str:
    """The company domain a vendor reads from a website, as a URL or a bare host:
    ``https://www.Acme.com/about`` → ``acme.com``.

    The sandbox's own reading, written apart from the client's cache key on purpose: a fake that
    shared the client's code could not catch that code's mistakes.
    """
    text = value.strip()
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:  # e.g. an unbalanced "[" in an IPv6 host
        return ""
    return (host or "").removeprefix("www.")


def _names_from_local(local: str, h: bytes) -> tuple[str, str]:
    """``ada.lovelace7`` → (Ada, Lovelace); otherwise names drawn from the hash."""
    parts = [p.strip("0123456789") for p in local.replace("_", ".").split(".")]
    if len(parts) >= 2 and parts[0].isalpha() and parts[-1].isalpha():
        return parts[0].title(), parts[-1].title()
    return FIRST_NAMES[h[0] % len(FIRST_NAMES)], LAST_NAMES[h[1] % len(LAST_NAMES)]
