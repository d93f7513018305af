"""Personal data at rest: AES-GCM encryption, HMAC blind indexes, and masking for responses.

Ciphertexts are ``0x02 || len(key id) || key id || 12-byte nonce || ciphertext+tag``: the key id says
which key of ``PII_ENCRYPTION_KEYS`` sealed the value (``mobile_api/keyring.py``), so several keys can be
configured at once and ``flask pii rotate`` can move every value to the newest one without downtime.
Version-1 values (``0x01 || nonce || ciphertext+tag``, written before key ids existed) are still read:
AES-GCM's tag tells which configured key is theirs.

Blind indexes are HMAC-SHA256 of the normalised value under a separate key ring, stored as
``"<key id>:<hex>"``; an exact look-up (``WHERE id_number_index IN (…)``, see :func:`index_matches`)
searches under every configured key, so look-ups keep working while a rotation is under way. Bare-hex
values (written before key ids existed) are found too. A stolen index column alone reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from mobile_api.keyring import pii_encryption_keyring, pii_index_keyring

_V1 = b"\x01"
_V2 = b"\x02"
_NONCE = 12


def key_header(kid: str) -> bytes:
    """The bytes a version-2 ciphertext sealed with key ``kid`` starts with."""
    encoded = kid.encode("ascii")
    return _V2 + bytes([len(encoded)]) + encoded


def encrypt_text(plaintext: str, context: str = "") -> bytes:
    """Seal with the newest key of the ring."""
    kid, key = pii_encryption_keyring().newest
    nonce = os.urandom(_NONCE)
    return key_header(kid) + nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode() or None)


def ciphertext_key_id(blob: bytes) -> str | None:
    """The key id a ciphertext names; None for a version-1 value (no key id)."""
    if blob[:1] == _V2:
        return blob[2 : 2 + blob[1]].decode("ascii")
    if blob[:1] == _V1:
        return None
    raise ValueError("unknown PII ciphertext version")


def decrypt_text(blob: bytes, context: str = "") -> str:
    ring = pii_encryption_keyring()
    aad = context.encode() or None
    kid = ciphertext_key_id(blob)
    if kid is not None:
        key = ring.get(kid)
        if key is None:
            raise ValueError(f"PII key {kid!r} is not configured (PII_ENCRYPTION_KEYS); run `flask pii status`")
        body = blob[2 + blob[1] :]
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], aad).decode("utf-8")
    nonce, sealed = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
    for _kid, key in ring.keys:  # version 1: whichever configured key authenticates it
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad).decode("utf-8")
        except InvalidTag:
            continue
    raise InvalidTag()


def index_digest(key: bytes, value: str, purpose: str) -> str:
    """Hex HMAC-SHA256 of ``purpose:VALUE`` (normalised: stripped, upper-case) under ``key``."""
    normalised = value.strip().upper()
    return hmac.new(key, f"{purpose}:{normalised}".encode(), hashlib.sha256).hexdigest()


def blind_index(value: str, purpose: str) -> str:
    """Deterministic keyed hash of a normalised value under the newest index key: what is written."""
    kid, key = pii_index_keyring().newest
    return f"{kid}:{index_digest(key, value, purpose)}"


def blind_indexes(value: str, purpose: str) -> list[str]:
    """Every stored form the value may have under the configured keys (newest first, then bare hex)."""
    keys = pii_index_keyring().keys
    digests = [(kid, index_digest(key, value, purpose)) for kid, key in keys]
    return [f"{kid}:{digest}" for kid, digest in digests] + [digest for _kid, digest in digests]


def index_matches(column, value: str, purpose: str) -> ColumnElement[bool]:
    """``column IN (every form of value)``: an exact look-up that works during a key rotation."""
    return column.in_(blind_indexes(value, purpose))


def blind_index_info(purpose: str, source: str | None) -> dict:
    """The ``info`` of a blind-index column: its purpose, and the encrypted column of the same row
    holding the indexed value (what ``flask pii rotate`` re-indexes from)."""
    return {"blind_index": {"purpose": purpose, "source": source}}


def index_key_id(stored: str) -> str | None:
    """The key id of a stored index value; None for a bare-hex value written before key ids existed."""
    kid, sep, _digest = stored.partition(":")
    return kid if sep else None


class EncryptedText(TypeDecorator):
    """A text column stored AES-GCM encrypted; reads and writes are plain ``str`` in Python.

    ``context`` is bound into every ciphertext (AES-GCM associated data): a value copied into another
    column does not decrypt there.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str = "", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: str | None, dialect) -> bytes | None:
        return None if value is None else encrypt_text(value, self.context)

    def process_result_value(self, value: bytes | None, dialect) -> str | None:
        return None if value is None else decrypt_text(bytes(value), self.context)


def mask_id_number(value: str | None) -> str | None:
    """``110105194912310021`` → ``110105********0021`` (region and last four kept)."""
    if not value:
        return None
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13800138000`` → ``138****8000``."""
    if not value:
        return None
    return value[:3] + "****" + value[-4:]


def mask_name(value: str | None) -> str | None:
    """``张三丰`` → ``张**``: the family name stays, as on government counters."""
    if not value:
        return None
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"
