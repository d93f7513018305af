"""Open311 API keys for third-party apps: issued and revoked by admins, stored as SHA-256 only.

A key is ``o311_`` + 32 random bytes (URL-safe base64), shown once when issued. Requests present it as
the form field ``api_key``; it is found by its hash (a key has 256 bits of entropy, so a plain hash is
as good as a slow one and costs nothing per request). A key carries its own rate limit or the default
``HOTLINE_OPEN311_KEY_LIMIT``; Flask-Limiter counts per key (Redis when configured).
"""

from __future__ import annotations

import hashlib
import secrets

from flask import g, request
from sqlalchemy import select, update

from auth.models import StaffUser
from hotline.models import Open311ApiKey
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import client_ip, db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

KEY_PREFIX = "o311_"


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_view(key: Open311ApiKey) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "rate_limit": key.rate_limit,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "revoked_by": key.revoked_by,
        "last_used_at": key.last_used_at,
    }


def create_key(name: str, created_by: str, rate_limit: str | None = None, api_key: str | None = None) -> tuple[Open311ApiKey, str]:
    """Store a key (inside the caller's transaction); returns the row and the key itself."""
    api_key = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
    key = Open311ApiKey(
        name=name, key_prefix=api_key[:12], key_hash=key_hash(api_key), rate_limit=rate_limit, created_by=created_by, created_at=utcnow()
    )
    db.session.add(key)
    db.session.flush()
    return key, api_key


def issue_key(staff: StaffUser, name: str, rate_limit: str | None) -> dict:
    actor = staff_actor(staff)
    with transaction():
        key, api_key = create_key(name, actor, rate_limit)
        record_audit(actor, "open311.key.issue", "open311_key", key.id, details={"name": name, "key_prefix": key.key_prefix})
        return key_view(key) | {"api_key": api_key}


def list_keys() -> list[dict]:
    return [key_view(key) for key in db.session.scalars(select(Open311ApiKey).order_by(Open311ApiKey.id))]


def revoke_key(staff: StaffUser, key_id: int) -> dict:
    actor = staff_actor(staff)
    with transaction():
        key = db.session.get(Open311ApiKey, key_id)
        if key is None:
            raise Problem(404, "key_not_found", "未找到该密钥")
        revoked = db.session.execute(
            update(Open311ApiKey)
            .where(Open311ApiKey.id == key_id, Open311ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_by=actor)
        ).rowcount
        if not revoked:
            raise Problem(409, "key_revoked", "该密钥已经吊销")
        db.session.refresh(key)
        record_audit(actor, "open311.key.revoke", "open311_key", key.id, details={"name": key.name, "key_prefix": key.key_prefix})
        return key_view(key)


def _presented_key() -> Open311ApiKey | None:
    """The live key this request presents (looked up once per request), or None."""
    if "open311_key" not in g:
        presented = request.form.get("api_key", "") if request.mimetype == "application/x-www-form-urlencoded" else ""
        key = None
        if presented and len(presented) <= 200:
            key = db.session.scalar(
                select(Open311ApiKey).where(Open311ApiKey.key_hash == key_hash(presented), Open311ApiKey.revoked_at.is_(None))
            )
        g.open311_key = key
    return g.open311_key


def require_key() -> Open311ApiKey:
    """The request's key, or 403 as the spec says for a missing or invalid ``api_key``."""
    key = _presented_key()
    if key is None:
        raise Problem(403, "invalid_api_key", "api_key 缺失、无效或已吊销，无法提交请求")
    return key


def rate_key() -> str:
    """Flask-Limiter key of a POST: the API key (by id), else the client address (invalid keys share it)."""
    key = _presented_key()
    return f"open311-key:{key.id}" if key is not None else f"open311-ip:{client_ip()}"


def rate_limit() -> str:
    key = _presented_key()
    return (key.rate_limit if key is not None and key.rate_limit else None) or setting("HOTLINE_OPEN311_KEY_LIMIT")
