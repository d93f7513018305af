"""Who is calling: the one way to say what an endpoint needs, ``@requires(level=2)`` or ``@requires(roles=[...])``.

Citizens need a citizen token and a real-name level; staff need a staff token and one of the roles.
The platform does not know the account tables: the ``auth`` package registers flask-jwt-extended's
``user_lookup_loader``, and this module checks what that principal may do. The principal is loaded
from the database on every request, so a level raised a second ago or a staff user disabled a second
ago counts at once. Object-level checks (is this case yours?) belong to the services, which answer
404 for another citizen's records.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from flask import g
from flask_jwt_extended import get_current_user, get_jwt

from mobile_api.errors import Problem
from mobile_api.extensions import verify_token_once
from mobile_api.roles import ADMIN

# Token kinds (the ``kind`` claim) and the subject prefixes that go with them.
CITIZEN = "citizen"
STAFF = "staff"
SUBJECT_PREFIX = {CITIZEN: "c", STAFF: "s"}

LEVEL_NAMES = {1: "手机号验证", 2: "实名认证（姓名+身份证号）", 3: "实人认证（人脸识别）"}


class Citizen(Protocol):
    id: str
    level: int


class Staff(Protocol):
    id: int
    username: str
    roles: list[str]
    active: bool


def subject_for(kind: str, principal_id: str | int) -> str:
    return f"{SUBJECT_PREFIX[kind]}:{principal_id}"


def principal_id(claims: dict) -> str:
    """The account id (citizen) or staff id (as text) a token's ``sub`` names."""
    return claims["sub"].split(":", 1)[1]


def requires(*, level: int | None = None, roles: Iterable[str] | None = None) -> Callable:
    """Declare the caller an endpoint needs. Exactly one of ``level`` (citizen) or ``roles`` (staff)."""
    if (level is None) == (roles is None):
        raise ValueError("give exactly one of level= or roles=")
    wanted_roles = frozenset(roles or ())

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            verify_token_once()
            kind = get_jwt().get("kind")
            if level is not None:
                g.current_account = _citizen_with_level(kind, level)
            else:
                g.current_staff = _staff_with_roles(kind, wanted_roles)
            return view(*args, **kwargs)

        # OpenAPI: mark the operation as needing a bearer token (flask-smorest's manual doc slot).
        doc = dict(getattr(view, "_apidoc", {}))
        manual = dict(doc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        doc["manual_doc"] = manual
        wrapper._apidoc = doc
        return wrapper

    return decorator


def _citizen_with_level(kind: str | None, level: int) -> Any:
    if kind != CITIZEN:
        raise Problem(403, "citizen_only", "此功能仅供办事群众使用")
    account = get_current_user()
    if account.level < level:
        raise Problem(
            403,
            "realname_level_required",
            f"请先完成{LEVEL_NAMES[level]}",
            required_level=level,
            current_level=account.level,
        )
    return account


def _staff_with_roles(kind: str | None, wanted_roles: frozenset[str]) -> Any:
    if kind != STAFF:
        raise Problem(403, "staff_only", "此功能仅供工作人员使用")
    staff = get_current_user()
    if not staff.active:
        raise Problem(401, "staff_inactive", "工作人员账号不可用，请重新登录")
    if wanted_roles and not (wanted_roles | {ADMIN}) & set(staff.roles):
        raise Problem(403, "role_required", "您的岗位没有此操作权限", required_roles=sorted(wanted_roles))
    return staff


def current_account() -> Any:
    """The citizen's account loaded by ``@requires(level=…)``."""
    return g.current_account


def current_staff() -> Any:
    """The staff user loaded by ``@requires(roles=…)``."""
    return g.current_staff


def staff_actor(staff: Staff) -> str:
    """How staff appear in audit rows and timelines."""
    return f"staff:{staff.username}"
