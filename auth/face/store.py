"""Where uploaded face images wait for the face worker — never on disk, never kept.

With Redis (every real deployment): one key per image, AES-GCM encrypted, with a short TTL
(``FACE_BLOB_TTL_SECONDS``); the worker deletes the keys when it is done, the TTL catches the rest.

Embedded default (no Redis): the only store every process shares is the SQLite database, so images
go into ``face_blobs`` rows, encrypted with the same key, deleted by the worker when it is done and
by the ``face.purge_stale`` beat job after the TTL. That means ciphertext does touch the SQLite file
(and its WAL) for the seconds a verification takes; SQLite may keep freed pages until VACUUM. This
is a development-only trade-off: production refuses to start on SQLite (see mobile_api/config.py).
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select

from auth.face.models import BlobKind, FaceBlob
from mobile_api.extensions import db
from mobile_api.redis_client import get_redis
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

FRAME, ID_CARD = BlobKind.FRAME, BlobKind.ID_CARD


def _cipher() -> AESGCM:
    return AESGCM(base64.b64decode(setting("PII_ENCRYPTION_KEY")))


def _seal(data: bytes, context: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + _cipher().encrypt(nonce, data, context.encode())


def _open(blob: bytes, context: str) -> bytes | None:
    try:
        return _cipher().decrypt(blob[:12], blob[12:], context.encode())
    except (InvalidTag, ValueError):
        return None


def _key(verification_id: str, kind: str, position: int) -> str:
    return f"face:blob:{verification_id}:{kind}:{position}"


def _ttl() -> int:
    return int(setting("FACE_BLOB_TTL_SECONDS"))


def put_images(verification_id: str, frames: list[bytes], id_card: bytes | None) -> None:
    """Store the images of one verification. DB rows join the caller's transaction; Redis is immediate."""
    items = [(FRAME, i, data) for i, data in enumerate(frames)]
    if id_card is not None:
        items.append((ID_CARD, 0, id_card))
    redis = get_redis()
    if redis is not None:
        pipe = redis.pipeline(transaction=False)
        for kind, position, data in items:
            key = _key(verification_id, kind, position)
            pipe.set(key, base64.b64encode(_seal(data, key)).decode(), ex=_ttl())
        pipe.execute()
        return
    expires_at = utcnow() + timedelta(seconds=_ttl())
    for kind, position, data in items:
        sealed = _seal(data, _key(verification_id, kind, position))
        db.session.add(FaceBlob(verification_id=verification_id, kind=kind, position=position, data=sealed, expires_at=expires_at))


def get_images(verification_id: str, frame_count: int) -> tuple[list[bytes], bytes | None] | None:
    """The frames (in order) and the ID-card photo, or None when any frame is gone (expired)."""
    redis = get_redis()
    if redis is not None:
        keys = [_key(verification_id, FRAME, i) for i in range(frame_count)] + [_key(verification_id, ID_CARD, 0)]
        values = redis.mget(keys)
        opened = [None if v is None else _open(base64.b64decode(v), k) for k, v in zip(keys, values, strict=True)]
        frames, id_card = opened[:-1], opened[-1]
    else:
        rows = db.session.scalars(select(FaceBlob).where(FaceBlob.verification_id == verification_id)).all()
        by_slot = {(r.kind, r.position): _open(bytes(r.data), _key(verification_id, r.kind, r.position)) for r in rows}
        frames = [by_slot.get((FRAME, i)) for i in range(frame_count)]
        id_card = by_slot.get((ID_CARD, 0))
    if any(frame is None for frame in frames):
        return None
    return frames, id_card  # type: ignore[return-value]


def drop_images(verification_id: str, frame_count: int) -> None:
    """Forget the images of one verification (its own transaction in the DB case)."""
    redis = get_redis()
    if redis is not None:
        redis.delete(*[_key(verification_id, FRAME, i) for i in range(frame_count)], _key(verification_id, ID_CARD, 0))
        return
    with transaction():
        db.session.execute(delete(FaceBlob).where(FaceBlob.verification_id == verification_id))


def purge_expired() -> int:
    """DB fallback: delete blobs whose TTL has passed (Redis expires its keys by itself)."""
    with transaction():
        result = db.session.execute(delete(FaceBlob).where(FaceBlob.expires_at <= utcnow()))
    return result.rowcount or 0


def count_stored(verification_id: str, frame_count: int) -> int:
    """How many images of a verification are still stored (used by tests and the status check)."""
    redis = get_redis()
    if redis is not None:
        keys = [_key(verification_id, FRAME, i) for i in range(frame_count)] + [_key(verification_id, ID_CARD, 0)]
        return int(redis.exists(*keys))
    return len(db.session.scalars(select(FaceBlob.id).where(FaceBlob.verification_id == verification_id)).all())
