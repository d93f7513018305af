"""Personal data at rest: AES-GCM encryption, HMAC blind indexes, and masking for responses.

Ciphertexts are ``version byte || 12-byte nonce || ciphertext+tag``. The version byte lets the key be
rotated later without guessing which key sealed a value. Blind indexes are HMAC-SHA256 of the
normalised value under a separate key, so an exact look-up (``WHERE id_number_index = ?``) works
without ever decrypting the column, and a stolen index column alone reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

_VERSION = b"\x01"


def _cipher() -> AESGCM:
    key = base64.b64decode(current_app.config["PII_ENCRYPTION_KEY"])
    if len(key) != 32:
        raise RuntimeError("PII_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
    return AESGCM(key)


def encrypt_text(plaintext: str, context: str = "") -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + _cipher().encrypt(nonce, plaintext.encode("utf-8"), context.encode() or None)


def decrypt_text(blob: bytes, context: str = "") -> str:
    if blob[:1] != _VERSION:
        raise ValueError("unknown PII ciphertext version")
    nonce, sealed = blob[1:13], blob[13:]
    return _cipher().decrypt(nonce, sealed, context.encode() or None).decode("utf-8")


def blind_index(value: str, purpose: str) -> str:
    """Deterministic keyed hash of a normalised value, for exact-match look-ups."""
    key = current_app.config["PII_INDEX_KEY"].encode()
    normalised = value.strip().upper()
    return hmac.new(key, f"{purpose}:{normalised}".encode(), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator):
    """A text column stored AES-GCM encrypted; reads and writes are plain ``str`` in Python."""

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
