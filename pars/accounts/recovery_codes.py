"""Recovery codes: how they are made, read back, stored and checked.

A code is 12 characters of Crockford's base32 (60 random bits), shown as
``ABCD-EFGH-JKMN``. What is stored for it:

- a salted hash from the project's password hasher (Argon2id; ``PASSWORD_HASHERS``),
  as ASVS 5.0 V6.5.2 asks of lookup secrets under 112 bits;
- a 16-bit *lookup tag*: the first bits of an HMAC-SHA256 of the code under the field
  key (:mod:`pars.lib.field_crypto`), so that checking a typed code costs one slow hash,
  not one per stored code. Without the key the tag says nothing; with it, it still
  leaves 44 bits to find by Argon2 per code.

Typing is forgiving: case, spaces and dashes do not matter, and the letters Crockford
leaves out are read as the digits they look like (O as 0, I and L as 1). The 8-letter
codes of the earlier django-otp devices went through the same reading when they were
hashed, so they keep working.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import check_password, make_password

from pars.lib.field_crypto import keyed_hashes

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
LENGTH = 12
GROUP = 4
TAG_PURPOSE = "recovery-code-tag"
TAG_LENGTH = 4  # hex digits: 16 bits
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def generate() -> str:
    """A new code, grouped for reading: 12 characters, 5 bits each."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper().translate(_LOOK_ALIKES)


def tags(code: str) -> list[str]:
    """The code's lookup tag under every configured key (the newest first)."""
    return [digest[:TAG_LENGTH] for digest in keyed_hashes(normalise(code), TAG_PURPOSE)]


def for_storage(code: str) -> tuple[str, str]:
    """The lookup tag and the salted password hash to store for a code."""
    return tags(code)[0], make_password(normalise(code))


def matches(code: str, encoded: str) -> bool:
    """Whether a typed code is the stored one (the hasher compares in constant time)."""
    return check_password(normalise(code), encoded)


def no_match(code: str) -> bool:
    """As much work as a real check, for a code whose tag matched nothing."""
    make_password(normalise(code))
    return False
