"""Extension objects, created unbound and bound to the app in ``create_app`` with ``init_app``."""

from __future__ import annotations

from flask import request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from mobile_api.openapi import ProblemApi

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


def principal_or_ip() -> str:
    """Rate-limit key: the signed-in principal when there is one, else the client address."""
    from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request

    verify_jwt_in_request(optional=True)
    return get_jwt_identity() or client_ip()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=client_ip)
api = ProblemApi()
