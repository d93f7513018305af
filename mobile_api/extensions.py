"""Extension objects, created unbound and bound to the app in ``create_app`` with ``init_app``."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from mobile_api.openapi import ProblemApi
from mobile_api.verified_tokens import CachingJWTManager

# Stable constraint names so Alembic autogenerate and batch migrations on SQLite agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_ip() -> str:
    """The caller's address; behind a proxy, configure ProxyFix so this is the real client."""
    return request.remote_addr or "unknown"


def verify_token_once(optional: bool = False) -> None:
    """flask-jwt-extended's ``verify_jwt_in_request``, at most once per request with a token: the rate
    limiter's key, the Idempotency-Key owner and ``@requires`` all ask, and each check decodes the token
    and looks up revocation and the principal again. The mark is kept on the request itself (an app
    context, and its ``g``, can outlive one request); an optional check that found no token leaves no
    mark, so a later required check still runs and answers 401."""
    from flask import g, request
    from flask_jwt_extended import verify_jwt_in_request

    if request.environ.get(_VERIFIED) and getattr(g, "_jwt_extended_jwt", None):
        return
    verify_jwt_in_request(optional=optional)
    if getattr(g, "_jwt_extended_jwt", None):
        request.environ[_VERIFIED] = True


_VERIFIED = "mobile_api.token_verified"


def principal_or_ip() -> str:
    """Rate-limit key: the signed-in principal when there is one, else the client address."""
    from flask_jwt_extended import get_jwt_identity

    verify_token_once(optional=True)
    return get_jwt_identity() or client_ip()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = CachingJWTManager()
limiter = Limiter(key_func=client_ip)
api = ProblemApi()
