"""Caller verification before details are read out: the last four characters of the ID number on
record, or a 6-digit code sent by SMS to the phone on record (never to the number calling).

Limits, each one conditional UPDATE so that parallel requests cannot get around them:
- ``HOTLINE_VERIFY_MAX_ATTEMPTS`` answers per look-up (right or wrong: an answer is counted before it
  is checked, so ten answers posted at once still get three checks);
- ``HOTLINE_VERIFY_DAILY_FAILURES`` answers per account per city day across every look-up and operator
  (opening new look-ups does not reset the count);
- codes: ``HOTLINE_CODE_MAX_SENDS`` per look-up, one per ``HOTLINE_CODE_RESEND_SECONDS``, living
  ``HOTLINE_CODE_TTL_SECONDS``, stored as an HMAC.
Wrong answers, locks and codes sent are audited; a wrong answer's count survives the 422 it causes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from auth.models import Account, StaffUser
from hotline import records
from hotline.lookup import audit_lookup, lookup_view, own_lookup
from hotline.models import Lookup, VerificationDay
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import mask_phone
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import city_today, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify

ID_LAST4, SMS_CODE = "id_last4", "sms_code"


def _code_hash(lookup_id: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"hotline-verify:{lookup_id}:{code}".encode(), hashlib.sha256).hexdigest()


def verify(staff: StaffUser, args: dict) -> tuple[dict, int]:
    """Check an answer (200 with the verified look-up) or, for ``sms_code`` without one, send a code (202)."""
    method, answer = args["method"], (args.get("answer") or "").strip().upper()
    with transaction():
        row = own_lookup(staff, args["lookup_id"])
        account = records.account_by_id(row.account_id) if row.account_id else None
        if account is None:
            raise Problem(409, "nothing_to_verify", "本次查询没有找到来电人的记录，无需核验")
        if row.verified_at is not None:  # verified already: this is a re-read of the details (audited)
            view = lookup_view(row, account)
            audit_lookup(staff, row, view, "hotline.lookup.read")
            return view, 200
        if method == ID_LAST4 and not account.id_number:
            raise Problem(409, "method_unavailable", "来电人尚未实名认证，请使用短信验证码核验", methods=[SMS_CODE])
        if method == SMS_CODE and not answer:
            return _send_code(staff, row, account), 202
    _count_answer(staff, row, account)
    if not _is_right(row, account, method, answer):
        _refuse(staff, row, method)
    with transaction():
        verified = db.session.execute(
            update(Lookup)
            .where(Lookup.id == row.id, Lookup.verified_at.is_(None))
            .values(verified_at=utcnow(), verified_method=method, code_hash=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(row)
        view = lookup_view(row, account)
        if verified:
            record_audit(
                staff_actor(staff), "hotline.verify.passed", "account", account.id, details={"lookup_id": row.id, "method": method}
            )
        audit_lookup(staff, row, view, "hotline.lookup.verified")
        return view, 200


def _count_answer(staff: StaffUser, row: Lookup, account: Account) -> None:
    """Take one answer from the look-up's and the account's allowance, or refuse with 429 (kept)."""
    per_lookup, per_day = int(setting("HOTLINE_VERIFY_MAX_ATTEMPTS")), int(setting("HOTLINE_VERIFY_DAILY_FAILURES"))
    day = city_today()
    with transaction():
        taken = db.session.execute(
            update(Lookup).where(Lookup.id == row.id, Lookup.attempts < per_lookup).values(attempts=Lookup.attempts + 1)
        ).rowcount
        daily = 0
        if taken:
            insert_ignoring_conflict(VerificationDay, account_id=account.id, day=day, answers=0)
            daily = db.session.execute(
                update(VerificationDay)
                .where(VerificationDay.account_id == account.id, VerificationDay.day == day, VerificationDay.answers < per_day)
                .values(answers=VerificationDay.answers + 1)
            ).rowcount
        if taken and daily:
            return
        record_audit(
            staff_actor(staff),
            "hotline.verify.locked",
            "account",
            account.id,
            details={"lookup_id": row.id, "per_lookup": not taken, "per_day": bool(taken and not daily)},
        )
    if not taken:
        raise Problem(429, "verification_locked", "本次查询的核验次数已用完，请重新查询或请来电人到窗口办理", attempts_left=0)
    raise Problem(429, "verification_locked_today", "该来电人今天的核验次数已用完，请明天再试或到窗口办理", attempts_left=0)


def _is_right(row: Lookup, account: Account, method: str, answer: str) -> bool:
    if method == ID_LAST4:
        return len(answer) == 4 and hmac.compare_digest(account.id_number[-4:].upper(), answer)
    db.session.refresh(row)
    live = row.code_hash is not None and row.code_expires_at is not None and row.code_expires_at > utcnow()
    return live and len(answer) == 6 and hmac.compare_digest(row.code_hash, _code_hash(row.id, answer))


def _refuse(staff: StaffUser, row: Lookup, method: str) -> None:
    with transaction():
        db.session.refresh(row)
        left = max(int(setting("HOTLINE_VERIFY_MAX_ATTEMPTS")) - row.attempts, 0)
        record_audit(
            staff_actor(staff),
            "hotline.verify.failed",
            "account",
            row.account_id,
            details={"lookup_id": row.id, "method": method, "attempts_left": left},
        )
    raise Problem(422, "verification_failed", f"核验未通过，本次查询还可以再试{left}次", attempts_left=left)


def _send_code(staff: StaffUser, row: Lookup, account: Account) -> dict:
    """A 6-digit code to the phone on record (cooldown and a cap per look-up, in one conditional UPDATE)."""
    now = utcnow()
    ttl, resend = int(setting("HOTLINE_CODE_TTL_SECONDS")), int(setting("HOTLINE_CODE_RESEND_SECONDS"))
    code = f"{secrets.randbelow(10**6):06d}"
    sent = db.session.execute(
        update(Lookup)
        .where(
            Lookup.id == row.id,
            Lookup.codes_sent < int(setting("HOTLINE_CODE_MAX_SENDS")),
            Lookup.code_sent_at.is_(None) | (Lookup.code_sent_at <= now - timedelta(seconds=resend)),
        )
        .values(
            code_hash=_code_hash(row.id, code),
            code_expires_at=now + timedelta(seconds=ttl),
            code_sent_at=now,
            codes_sent=Lookup.codes_sent + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not sent:
        raise Problem(429, "code_not_sent", "验证码发送太频繁或次数已用完，请稍后再试", resend_after=resend)
    db.session.refresh(row)
    notify(
        account,
        "hotline.verification_code",
        {"code": code, "minutes": ttl // 60},
        dedupe_key=f"hotline-verify:{row.id}:{row.codes_sent}",
        urgent=True,
    )
    record_audit(staff_actor(staff), "hotline.verify.code_sent", "account", account.id, details={"lookup_id": row.id})
    return {"lookup_id": row.id, "code_sent": True, "phone_masked": mask_phone(account.phone), "expires_in": ttl, "resend_after": resend}
