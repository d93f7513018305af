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
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from mobile_api.errors import Problem
from mobile_api.extensions import client_ip, db
from mobile_api.models import IdempotencyRecord
from mobile_api.openapi import mark_idempotent

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def _owner() -> str:
    verify_jwt_in_request(optional=True)
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
        record = IdempotencyRecord(owner=owner, key=key, fingerprint=fingerprint)
        db.session.add(record)
        try:
            db.session.commit()  # the claim: committed before the view runs (see the module docstring)
        except IntegrityError:
            db.session.rollback()  # someone holds the key: end the failed claim, then answer from their record
            return _replay(owner, key, fingerprint)
        try:
            response = view(*args, **kwargs)
            response = _to_response(response)
        except Exception:  # a Problem included: the app's error handlers render it (in the route's own format)
            _release(owner, key)
            raise
        if 200 <= response.status_code < 300:
            stored = db.session.get(IdempotencyRecord, record.id)
            if stored is not None:
                stored.status_code, stored.body = response.status_code, response.get_data(as_text=True)
                db.session.commit()  # the answer, in its own transaction after the view's has ended
        else:
            _release(owner, key)
        return response

    wrapper.honours_idempotency_key = True  # kept by the decorators above (functools.wraps copies it)
    mark_idempotent(wrapper)
    return wrapper


def _to_response(result) -> Response:
    return current_app.make_response(result)


def _release(owner: str, key: str) -> None:
    """Give the key back after a failed attempt, so the client's retry runs the view again."""
    db.session.rollback()  # whatever the failed view left unfinished is not ours to commit
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key))
    db.session.commit()


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
