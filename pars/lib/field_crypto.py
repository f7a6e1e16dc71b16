"""Secrets at rest: encrypted fields (Fernet) and keyed hashes (HMAC-SHA256).

The keys come from ``PARS_FIELD_ENCRYPTION_KEYS``: long random strings, newest first.
The first one encrypts and hashes; every one of them decrypts and verifies, so a key
is rotated by putting a new one in front and, after ``manage.py reencrypt_secrets``,
dropping the old one. Unset, the keys are derived from ``SECRET_KEY`` and
``SECRET_KEY_FALLBACKS`` (so rotating the secret key the Django way keeps working).

Each purpose gets its own derived key (HMAC of the configured key and the purpose), so
a hash key never doubles as an encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "keyed_hashes", "reencrypt"]


def _configured_keys() -> list[str]:
    keys = list(getattr(settings, "PARS_FIELD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [key for key in keys if key]


def _derived(purpose: str) -> list[bytes]:
    return [
        hmac.new(key.encode(), f"pars:{purpose}".encode(), hashlib.sha256).digest()
        for key in _configured_keys()
    ]


def _fernet() -> MultiFernet:
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(key)) for key in _derived("field-encryption")]
    )


def encrypt(plaintext: bytes) -> str:
    """Authenticated encryption (AES-128-CBC + HMAC-SHA256, Fernet) under the newest key."""
    return _fernet().encrypt(plaintext).decode("ascii")


def decrypt(token: str) -> bytes:
    """The plaintext; :class:`InvalidToken` if no configured key opens it (or it was altered)."""
    return _fernet().decrypt(token.encode("ascii"))


def reencrypt(token: str) -> str:
    """The same plaintext encrypted under the newest key (for key rotation)."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def keyed_hashes(value: str, purpose: str) -> list[str]:
    """HMAC-SHA256 of the value under every configured key (the newest first), in hex."""
    return [hmac.new(key, value.encode(), hashlib.sha256).hexdigest() for key in _derived(purpose)]
