"""The one way to say what an endpoint needs: ``@requires(level=2)`` or ``@requires(roles=[...])``.

Citizens need a citizen token and a real-name level; staff need a staff token and one of the roles.
The principal is loaded from the database on every request, so a level raised a second ago or a
staff user disabled a second ago counts at once. Object-level checks (is this case yours?) belong
to the services, which answer 404 for another citizen's records.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from flask import g
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from auth.models import Account, StaffUser
from auth.roles import ADMIN
from auth.tokens import CITIZEN, STAFF
from mobile_api.errors import Problem
from mobile_api.extensions import db

LEVEL_NAMES = {1: "手机号验证", 2: "实名认证（姓名+身份证号）", 3: "实人认证（人脸识别）"}


def requires(*, level: int | None = None, roles: Iterable[str] | None = None) -> Callable:
    """Declare the caller an endpoint needs. Exactly one of ``level`` (citizen) or ``roles`` (staff)."""
    if (level is None) == (roles is None):
        raise ValueError("give exactly one of level= or roles=")
    wanted_roles = frozenset(roles or ())

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request()
            claims = get_jwt()
            principal_id = claims["sub"].split(":", 1)[1]
            if level is not None:
                if claims.get("kind") != CITIZEN:
                    raise Problem(403, "citizen_only", "此功能仅供办事群众使用")
                account = db.session.get(Account, principal_id)
                if account is None:
                    raise Problem(401, "account_not_found", "账号不存在，请重新登录")
                if account.level < level:
                    raise Problem(
                        403,
                        "realname_level_required",
                        f"请先完成{LEVEL_NAMES[level]}",
                        required_level=level,
                        current_level=account.level,
                    )
                g.current_account = account
            else:
                if claims.get("kind") != STAFF:
                    raise Problem(403, "staff_only", "此功能仅供工作人员使用")
                staff = db.session.get(StaffUser, int(principal_id))
                if staff is None or not staff.active:
                    raise Problem(401, "staff_inactive", "工作人员账号不可用，请重新登录")
                if wanted_roles and not (wanted_roles | {ADMIN}) & set(staff.roles):
                    raise Problem(403, "role_required", "您的岗位没有此操作权限", required_roles=sorted(wanted_roles))
                g.current_staff = staff
            return view(*args, **kwargs)

        # OpenAPI: mark the operation as needing a bearer token (flask-smorest's manual doc slot).
        doc = dict(getattr(view, "_apidoc", {}))
        manual = dict(doc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        doc["manual_doc"] = manual
        wrapper._apidoc = doc
        return wrapper

    return decorator


def current_account() -> Account:
    return g.current_account


def current_staff() -> StaffUser:
    return g.current_staff


def staff_actor(staff: StaffUser) -> str:
    """How staff appear in audit rows and timelines."""
    return f"staff:{staff.username}"
