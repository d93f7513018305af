"""flask-jwt-extended's manager, remembering which exact tokens this process has already verified.

Every signed-in request presents the same access token for 15 minutes. flask-jwt-extended decodes it
three times per request (unverified claims and header to choose the key, then the signature check);
PyJWT 2.15 validates every base64url character in Python, so that is ~0.2 ms of a core per request,
the largest single cost of a signed-in request after the database (profiled on ``GET /api/v1/me``).

An HMAC check of the same bytes with the same key always gives the same answer, so a process may
remember the claims of a token it verified: the key is the whole encoded token, and a hit is used only
while the key its ``kid`` names now is the key it was verified with (a key taken out of
``JWT_SECRET_KEYS`` ends its tokens at once) and its ``exp`` (with the configured leeway) is in the
future; anything else goes through the library, which raises its usual errors. Only successes are
remembered. Revocation and the account look-up are not part of this: flask-jwt-extended runs them after
the decode on every request. Bounded per process (``JWT_VERIFIED_CACHE_SIZE``); nothing is shared, so
processes stay stateless.

This overrides ``JWTManager._decode_jwt_from_config``, a private method of the pinned
``Flask-JWT-Extended==4.7.4``; ``tests/auth/test_verified_tokens.py`` holds its behaviour (forged,
expired, rotated-away and revoked tokens) so an upgrade that changes it fails CI.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import jwt as pyjwt
from flask import current_app
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config


class VerifiedTokenCache:
    """A bounded LRU of (encoded token, csrf, allow_expired) → (header, claims, key used)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[dict, dict, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[dict, dict, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: tuple[dict, dict, Any], size: int) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._entries.pop(key, None)


class CachingJWTManager(JWTManager):
    """``JWTManager`` whose decode remembers tokens this process verified (see the module's text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verified = VerifiedTokenCache()

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False) -> dict:
        size = current_app.config.get("JWT_VERIFIED_CACHE_SIZE", 0)
        if not size:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        key = (encoded_token, csrf_value, allow_expired)
        entry = self.verified.get(key)
        if entry is not None:
            header, claims, secret = entry
            if self._decode_key_callback(header, claims) == secret and _not_expired(claims):
                return dict(claims)
            self.verified.forget(key)
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)  # raises on any fault
        if not allow_expired:
            header = pyjwt.get_unverified_header(encoded_token)
            self.verified.put(key, (header, dict(claims), self._decode_key_callback(header, claims)), size)
        return claims


def _not_expired(claims: dict) -> bool:
    expires = claims.get("exp")
    leeway = config.leeway.total_seconds() if hasattr(config.leeway, "total_seconds") else config.leeway
    return expires is None or time.time() < expires + leeway
