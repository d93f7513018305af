"""Where upload bytes live. Today: a database table; tomorrow: an object store behind the same two calls."""

from __future__ import annotations

import hashlib

from sqlalchemy import delete

from cases.models import StoredFile
from mobile_api.extensions import db


def store_bytes(data: bytes, content_type: str) -> int:
    """Keep ``data`` in the caller's transaction; returns the file id."""
    stored = StoredFile(sha256=hashlib.sha256(data).hexdigest(), content_type=content_type, size=len(data), data=data)
    db.session.add(stored)
    db.session.flush()
    return stored.id


def load_bytes(file_id: int) -> tuple[bytes, str] | None:
    stored = db.session.get(StoredFile, file_id)
    return None if stored is None else (stored.data, stored.content_type)


def delete_file(file_id: int) -> None:
    """Forget a replaced upload (in the caller's transaction)."""
    db.session.execute(delete(StoredFile).where(StoredFile.id == file_id))
