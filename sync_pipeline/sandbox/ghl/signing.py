"""Signing GHL webhook bodies as GHL does: Ed25519 (``x-ghl-signature``) and, optionally, the legacy
RSA-SHA256 (``x-wh-signature``); both base64 over the raw body bytes.

The Ed25519 key is derived from the seed, so a receiver configured with the sandbox's public key
(SPKI DER, base64 — the form of GHL's published key and of ``GHL_WEBHOOK_PUBLIC_KEY``) keeps
verifying across restarts. RSA keys cannot be derived from a seed with ``cryptography``, so the
RSA key is generated at start unless one is configured.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from sync_pipeline.sandbox.config import SandboxConfigError
from sync_pipeline.sandbox.identifiers import digest


class WebhookSigner:
    """Holds the key pair(s) and produces the signature headers for one body."""

    def __init__(
        self, seed: int, *, ed25519_pem: str | None = None, with_rsa: bool = False, rsa_pem: str | None = None
    ) -> None:
        if ed25519_pem:
            key = serialization.load_pem_private_key(ed25519_pem.encode(), password=None)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise SandboxConfigError("webhook_ed25519_private_key_pem must hold an Ed25519 private key")
            self._ed25519 = key
        else:
            self._ed25519 = ed25519.Ed25519PrivateKey.from_private_bytes(digest(seed, "ghl-webhook-ed25519"))
        self._rsa: rsa.RSAPrivateKey | None = None
        if rsa_pem:
            key = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise SandboxConfigError("webhook_rsa_private_key_pem must hold an RSA private key")
            self._rsa = key
        elif with_rsa:
            self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_key(self) -> str:
        """The Ed25519 public key as SPKI DER in base64 (``MCowBQYDK2VwAyEA…``)."""
        der = self._ed25519.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def rsa_public_key_pem(self) -> str | None:
        if self._rsa is None:
            return None
        return (
            self._rsa.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def headers(self, body: bytes) -> dict[str, str]:
        """Signature headers for ``body`` exactly as it will be sent."""
        out = {"x-ghl-signature": base64.b64encode(self._ed25519.sign(body)).decode()}
        if self._rsa is not None:
            signature = self._rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
            out["x-wh-signature"] = base64.b64encode(signature).decode()
        return out
