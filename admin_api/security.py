"""Secrets: password hashes (scrypt, memory-hard) and API token secrets.

A password hash is ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key in base64): with the default n = 2**14,
r = 8, one check costs 16 MiB of memory and about 50 ms of a core, which makes guessing expensive; the
parameters travel with the hash so they can be raised later without breaking old hashes. A token secret is
``sb_`` and 43 URL-safe characters (256 random bits): it is shown once and stored only as its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "sb_"


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The stored form of ``password``; ``ValueError`` for one shorter than ``MIN_PASSWORD`` characters."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"password: at most {MAX_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (``False`` for an empty or malformed hash, never an exception)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt" or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=256 * 1024 * 1024, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(8)


def token_hash(secret: str) -> str:
    """The stored form of a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()
