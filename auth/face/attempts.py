"""The daily attempt limit, and recording a decision (which decides whether the attempt counted).

An attempt counts from the moment it is submitted (so a burst of pending attempts cannot get past the
limit) and is given back when it passes or fails for a reason that is not the citizen's doing.
``FACE_DAILY_FAILURES`` counted attempts per account per city day; then ``429`` until midnight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from auth.face.models import FaceAttemptDay, FaceVerification, VerificationStatus
from auth.models import Account
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, city_now, city_today, utcnow

# Failures that are not the citizen's doing do not count towards the daily limit.
UNCOUNTED_REASONS = frozenset(
    {"no_reference_photo", "reference_unusable", "reference_unavailable", "images_expired", "internal_error", "consent_withdrawn"}
)


def _next_city_midnight() -> datetime:
    now = city_now()
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=CITY_TZ)


def locked_problem() -> Problem:
    until = _next_city_midnight()
    retry_after = max(1, int((until - city_now()).total_seconds()))
    limit = setting("FACE_DAILY_FAILURES")
    return Problem(
        429,
        "face_verification_locked",
        f"今天人脸识别已失败{limit}次，请于明天（{until:%m月%d日} 00:00）后再试",
        locked_until=until.isoformat(),
        headers={"Retry-After": str(retry_after)},
    )


def check_not_locked(account: Account) -> None:
    row = db.session.get(FaceAttemptDay, (account.id, city_today()))
    if row is not None and row.used >= setting("FACE_DAILY_FAILURES"):
        raise locked_problem()


def take_attempt(account: Account) -> None:
    """Count a pending attempt against today's limit, atomically (one conditional UPDATE).

    Runs inside the caller's transaction: the 429 it raises rolls the whole submission back.
    """
    today = city_today()
    insert_ignoring_conflict(FaceAttemptDay, account_id=account.id, day=today, used=0)
    taken = db.session.execute(
        update(FaceAttemptDay)
        .where(FaceAttemptDay.account_id == account.id, FaceAttemptDay.day == today, FaceAttemptDay.used < setting("FACE_DAILY_FAILURES"))
        .values(used=FaceAttemptDay.used + 1)
    ).rowcount
    if not taken:
        raise locked_problem()


def _give_back_attempt(verification: FaceVerification) -> None:
    db.session.execute(
        update(FaceAttemptDay)
        .where(FaceAttemptDay.account_id == verification.account_id, FaceAttemptDay.day == verification.day, FaceAttemptDay.used > 0)
        .values(used=FaceAttemptDay.used - 1)
    )


def record_decision(verification: FaceVerification, status: VerificationStatus, reason: str | None, distance: float | None) -> None:
    """Set the final status (in the caller's transaction); a pass or an uncounted failure gives the attempt back."""
    verification.status, verification.reason, verification.distance = status, reason, distance
    verification.finished_at = utcnow()
    if status == VerificationStatus.PASSED or reason in UNCOUNTED_REASONS:
        _give_back_attempt(verification)
