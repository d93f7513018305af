"""``Idempotency-Key`` for creating POSTs: a retried request gets the first answer, not a second row.

Mobile networks retry. The key is claimed with an INSERT under a unique constraint before the view
runs, so two concurrent retries on two processes cannot both execute: the loser gets 409 while the
first is in flight, and the stored answer once it has finished. Only successful answers are kept; a
failed attempt releases the key so the client can try again.

The commits here are deliberately explicit, outside the ``transaction()`` convention: they frame the
view's own unit of work instead of being part of it. The claim is committed *before* the view runs
(so every other process sees it, and it survives a view that rolls back); the answer is stored, or the
claim released, in a transaction of its own *after* the view's transaction has ended.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt_identity
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mobile_api.errors import Problem
from mobile_api.extensions import client_ip, db, verify_token_once
from mobile_api.models import IdempotencyRecord
from mobile_api.openapi import mark_idempotent
from mobile_api.timeutil import utcnow

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def _owner() -> str:
    verify_token_once(optional=True)
    identity = get_jwt_identity()
    return str(identity) if identity else f"ip:{client_ip()}"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if not _VALID_KEY.fullmatch(key):
            raise Problem(400, "idempotency_key_invalid", "Idempotency-Key 应为不超过128个可见ASCII字符")
        owner, fingerprint = _owner(), _fingerprint()
        try:
            record_id = _claim(owner, key, fingerprint)  # committed before the view runs (see the module docstring)
        except IntegrityError:
            return _replay(owner, key, fingerprint)  # someone holds the key: answer from their record
        try:
            response = view(*args, **kwargs)
            response = _to_response(response)
        except Exception:  # a Problem included: the app's error handlers render it (in the route's own format)
            _release(owner, key)
            raise
        if 200 <= response.status_code < 300:
            with db.engine.begin() as connection:  # the answer, in its own transaction after the view's has ended
                connection.execute(
                    update(IdempotencyRecord.__table__)
                    .where(IdempotencyRecord.__table__.c.id == record_id)
                    .values(status_code=response.status_code, body=response.get_data(as_text=True))
                )
        else:
            _release(owner, key)
        return response

    wrapper.honours_idempotency_key = True  # kept by the decorators above (functools.wraps copies it)
    mark_idempotent(wrapper)
    return wrapper


def _to_response(result) -> Response:
    return current_app.make_response(result)


def _claim(owner: str, key: str, fingerprint: str) -> int:
    """Insert the claim on a connection of its own and commit it: the request's session is left alone
    (its loaded objects, the signed-in account among them, are not expired by a commit)."""
    table = IdempotencyRecord.__table__
    with db.engine.begin() as connection:
        return connection.execute(
            insert(table).values(owner=owner, key=key, fingerprint=fingerprint, created_at=utcnow()).returning(table.c.id)
        ).scalar_one()


def _release(owner: str, key: str) -> None:
    """Give the key back after a failed attempt, so the client's retry runs the view again."""
    db.session.rollback()  # whatever the failed view left unfinished is not ours to commit
    table = IdempotencyRecord.__table__
    with db.engine.begin() as connection:
        connection.execute(delete(table).where(table.c.owner == owner, table.c.key == key))


def _replay(owner: str, key: str, fingerprint: str) -> Response:
    stored = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key))
    if stored is None:
        raise Problem(409, "request_in_progress", "请求正在处理中，请稍后再试")
    if stored.fingerprint != fingerprint:
        raise Problem(422, "idempotency_key_reused", "同一个 Idempotency-Key 不能用于不同的请求")
    if stored.status_code is None:
        raise Problem(409, "request_in_progress", "请求正在处理中，请稍后再试")
    response = Response(stored.body, status=stored.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
