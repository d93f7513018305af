"""Key rings: several secrets, each with a key id, newest first — so keys can be rotated without downtime.

Three rings, each configured either as a list or, as before, as one key:

| ring | list setting (newest first) | single-key setting (its id is ``k0``) |
| --- | --- | --- |
| PII encryption (AES-256-GCM) | ``PII_ENCRYPTION_KEYS="k2:<base64>,k1:<base64>"`` | ``PII_ENCRYPTION_KEY`` |
| blind indexes (HMAC-SHA256) | ``PII_INDEX_KEYS="k2:<secret>,k1:<secret>"`` | ``PII_INDEX_KEY`` |
| JWT signing (HS256) | ``JWT_SECRET_KEYS="k2:<secret>,k1:<secret>"`` | ``JWT_SECRET_KEY`` |

The newest key writes (encrypts, indexes, signs); every key in the ring reads. Rotation: put the new key
first on every process, run ``flask pii rotate`` (PII) or wait out the refresh-token lifetime (JWT), check
``flask pii status``, then drop the old key. Values written before key ids existed (version-1
ciphertexts, bare-hex indexes, tokens without ``kid``) stay readable: see ``mobile_api/pii.py`` and
``mobile_api/jwt_callbacks.py``.

The parsed rings are cached per app, keyed by the raw setting values, so a changed setting (tests,
``create_app(overrides)``) is picked up at once and nothing mutable is shared between processes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from flask import current_app

LEGACY_KEY_ID = "k0"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyringError(ValueError):
    """A key ring setting that cannot be used (raised at start-up by ``check_keyrings``)."""


@dataclass(frozen=True)
class Keyring:
    name: str
    keys: tuple[tuple[str, bytes], ...]  # (key id, key), newest first

    @property
    def newest(self) -> tuple[str, bytes]:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    def get(self, kid: str) -> bytes | None:
        return next((key for key_id, key in self.keys if key_id == kid), None)


def _decode_aes_key(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{name}: a key is not valid base64") from None
    if len(key) != 32:
        raise KeyringError(f"{name}: each key must be 32 bytes, base64-encoded")
    return key


def parse_keyring(name: str, listed: str | None, single: str | None, *, aes: bool = False) -> Keyring:
    """``"k2:secret2,k1:secret1"`` (newest first), else the single key as ``k0``."""
    pairs: list[tuple[str, str]] = []
    if listed and listed.strip():
        for item in listed.split(","):
            kid, sep, secret = item.strip().partition(":")
            if not sep or not secret:
                raise KeyringError(f"{name}: expected 'id:key' items separated by commas")
            pairs.append((kid.strip(), secret.strip()))
    elif single:
        pairs = [(LEGACY_KEY_ID, single)]
    if not pairs:
        raise KeyringError(f"{name}: no key configured")
    ids = [kid for kid, _ in pairs]
    bad = [kid for kid in ids if not _KEY_ID.match(kid)]
    if bad:
        raise KeyringError(f"{name}: key ids must be 1–32 of A–Z a–z 0–9 _ -, got {bad}")
    if len(set(ids)) != len(ids):
        raise KeyringError(f"{name}: duplicate key ids {ids}")
    keys = tuple((kid, _decode_aes_key(secret, name) if aes else secret.encode()) for kid, secret in pairs)
    return Keyring(name, keys)


def _ring(name: str, list_setting: str, single_setting: str, aes: bool) -> Keyring:
    config = current_app.config
    listed, single = config.get(list_setting), config.get(single_setting)
    cache = current_app.extensions.setdefault("keyrings", {})
    cache_key = (name, listed, single)
    ring = cache.get(cache_key)
    if ring is None:
        ring = cache[cache_key] = parse_keyring(list_setting, listed, single, aes=aes)
    return ring


def pii_encryption_keyring() -> Keyring:
    return _ring("pii", "PII_ENCRYPTION_KEYS", "PII_ENCRYPTION_KEY", aes=True)


def pii_index_keyring() -> Keyring:
    return _ring("index", "PII_INDEX_KEYS", "PII_INDEX_KEY", aes=False)


def jwt_keyring() -> Keyring:
    return _ring("jwt", "JWT_SECRET_KEYS", "JWT_SECRET_KEY", aes=False)


def check_keyrings(config: dict) -> None:
    """Parse every ring once at start-up, so a malformed key fails the start, not the first request."""
    parse_keyring("PII_ENCRYPTION_KEYS", config.get("PII_ENCRYPTION_KEYS"), config.get("PII_ENCRYPTION_KEY"), aes=True)
    parse_keyring("PII_INDEX_KEYS", config.get("PII_INDEX_KEYS"), config.get("PII_INDEX_KEY"))
    parse_keyring("JWT_SECRET_KEYS", config.get("JWT_SECRET_KEYS"), config.get("JWT_SECRET_KEY"))


def configured_secrets(config: dict, list_setting: str, single_setting: str) -> list[str]:
    """Every secret text a ring uses (for the production check against development values)."""
    listed = config.get(list_setting)
    if listed and listed.strip():
        return [item.partition(":")[2].strip() for item in listed.split(",")]
    return [config.get(single_setting) or ""]
