"""Verifying that a webhook really comes from GoHighLevel.

GHL signs the raw body with Ed25519 (``x-ghl-signature``, base64) and, until its deprecation,
also with RSA-SHA256 (``x-wh-signature``). Ed25519 is checked whenever present; the legacy RSA
signature is accepted only when ``GHL_WEBHOOK_LEGACY_RSA_KEY`` is configured, so a request that
simply omits the modern header cannot slip through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa


class SignatureError(Exception):
    """The request is not authentically from GHL; the message says why (never the key)."""


@dataclass(frozen=True)
class GhlVerifier:
    ed25519_key: ed25519.Ed25519PublicKey
    rsa_key: rsa.RSAPublicKey | None = None

    @classmethod
    def from_settings(cls, ed25519_spki_b64: str, legacy_rsa_pem: str = "") -> GhlVerifier:
        try:
            key = serialization.load_der_public_key(base64.b64decode(ed25519_spki_b64))
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"GHL_WEBHOOK_PUBLIC_KEY is not a base64 SPKI Ed25519 key: {exc}") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError("GHL_WEBHOOK_PUBLIC_KEY must be an Ed25519 public key")
        rsa_key = None
        if legacy_rsa_pem.strip():
            loaded = serialization.load_pem_public_key(legacy_rsa_pem.encode())
            if not isinstance(loaded, rsa.RSAPublicKey):
                raise ValueError("GHL_WEBHOOK_LEGACY_RSA_KEY must be an RSA public key in PEM form")
            rsa_key = loaded
        return cls(key, rsa_key)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Return when the body is signed by GHL; raise :class:`SignatureError` otherwise."""
        modern = headers.get("x-ghl-signature")
        if modern:
            try:
                self.ed25519_key.verify(_b64(modern), body)
                return
            except InvalidSignature:
                raise SignatureError("x-ghl-signature does not match the body") from None
        legacy = headers.get("x-wh-signature")
        if legacy and self.rsa_key is not None:
            try:
                self.rsa_key.verify(_b64(legacy), body, padding.PKCS1v15(), hashes.SHA256())
                return
            except InvalidSignature:
                raise SignatureError("x-wh-signature does not match the body") from None
        if legacy:
            raise SignatureError("only the legacy x-wh-signature was sent and GHL_WEBHOOK_LEGACY_RSA_KEY is not set")
        raise SignatureError("no x-ghl-signature header")


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise SignatureError("signature header is not base64") from None
