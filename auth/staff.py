"""Staff accounts: creation, password sign-in with a per-account lockout, and the admin's unlock.

The per-IP limit (20 a minute) does not stop guessing spread over many addresses, so each account
counts its wrong passwords in a row: from STAFF_LOCKOUT_THRESHOLD on, every further wrong password
locks the account for STAFF_LOCKOUT_BASE_SECONDS doubled per failure past the threshold (capped at
STAFF_LOCKOUT_MAX_SECONDS). The count is one atomic UPDATE, so parallel guesses from many processes
all count. A right password resets it; while locked even the right one is refused (429). Every lock and
unlock is audited; an admin can unlock at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from auth.models import StaffUser
from auth.tokens import TokenPair, issue_tokens
from mobile_api.access import STAFF
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import ALL_ROLES
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

_password_hasher = PasswordHasher()
# Verifying against this when the username is unknown keeps response times equal (no user probing).
_DUMMY_HASH = _password_hasher.hash("not-a-real-password")


def create_staff(
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    department_codes: list[str] | None = None,
    hall_ids: list[int] | None = None,
) -> StaffUser:
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    password_hash = _password_hasher.hash(password)
    with transaction():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        if staff is None:
            staff = StaffUser(username=username)
            db.session.add(staff)
        staff.display_name = display_name or username
        staff.password_hash = password_hash
        staff.roles = list(roles)
        staff.department_codes = list(department_codes or [])
        staff.hall_ids = list(hall_ids or [])
        staff.active = True
        staff.failed_sign_ins, staff.locked_until = 0, None
    return staff


def staff_sign_in(username: str, password: str) -> tuple[TokenPair, StaffUser]:
    now = utcnow()
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is not None and staff.locked_until is not None and staff.locked_until > now:
        raise _locked(staff.locked_until, now)
    try:
        _password_hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password)
        right = staff is not None
    except (VerificationError, InvalidHashError):
        right = False
    if not right:
        if staff is not None:
            locked_until = _count_wrong_password(staff.id, now)  # its own transaction, kept
            if locked_until is not None:
                raise _locked(locked_until, now)
        raise Problem(401, "invalid_credentials", "用户名或密码不正确")
    if not staff.active:
        raise Problem(401, "invalid_credentials", "用户名或密码不正确")
    with transaction():
        if staff.failed_sign_ins or staff.locked_until:
            staff.failed_sign_ins, staff.locked_until = 0, None
        if _password_hasher.check_needs_rehash(staff.password_hash):
            staff.password_hash = _password_hasher.hash(password)
        pair = issue_tokens(STAFF, staff.id)
    return pair, staff


def _count_wrong_password(staff_id: int, now: datetime) -> datetime | None:
    """One more wrong password (atomic); past the threshold the account locks, with backoff. Audited."""
    threshold = setting("STAFF_LOCKOUT_THRESHOLD")
    with transaction():
        failures = db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == staff_id)
            .values(failed_sign_ins=StaffUser.failed_sign_ins + 1)
            .returning(StaffUser.failed_sign_ins)
        ).scalar_one()
        if failures < threshold:
            return None
        seconds = min(setting("STAFF_LOCKOUT_MAX_SECONDS"), setting("STAFF_LOCKOUT_BASE_SECONDS") * 2 ** (failures - threshold))
        locked_until = now + timedelta(seconds=seconds)
        db.session.execute(update(StaffUser).where(StaffUser.id == staff_id).values(locked_until=locked_until))
        details = {"failed_sign_ins": failures, "locked_until": locked_until.isoformat(), "seconds": seconds}
        record_audit("system", "staff.sign_in.locked", "staff_user", staff_id, details=details)
    return locked_until


def _locked(until: datetime, now: datetime) -> Problem:
    wait = max(1, int((until - now).total_seconds()) + 1)
    return Problem(
        429,
        "staff_account_locked",
        "密码错误次数过多，账号已暂时锁定，请稍后再试或联系管理员解锁",
        headers={"Retry-After": str(wait)},
        locked_until=until.isoformat(),
    )


def unlock_staff(staff_id: int, actor: str, reason: str | None = None) -> StaffUser:
    """Admin: clear a lockout and the count of wrong passwords (audited)."""
    with transaction():
        staff = db.session.get(StaffUser, staff_id)
        if staff is None:
            raise Problem(404, "staff_not_found", "工作人员不存在")
        details = {"failed_sign_ins": staff.failed_sign_ins, "locked_until": staff.locked_until.isoformat() if staff.locked_until else None}
        staff.failed_sign_ins, staff.locked_until = 0, None
        record_audit(actor, "staff.sign_in.unlocked", "staff_user", staff_id, reason=reason, details=details)
    return staff


def staff_summary(staff: StaffUser) -> dict:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "roles": staff.roles,
        "department_codes": staff.department_codes,
        "hall_ids": staff.hall_ids,
    }


def lock_summary(staff: StaffUser) -> dict:
    return {"id": staff.id, "username": staff.username, "failed_sign_ins": staff.failed_sign_ins, "locked_until": staff.locked_until}
