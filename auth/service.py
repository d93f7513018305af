"""Sign-in, real-name verification and staff accounts: the verbs of the ``auth`` domain."""

from __future__ import annotations

import csv
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from marshmallow import ValidationError
from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent
from stdnum.exceptions import ValidationError as StdnumError

from auth.identity import IdentityResult, get_identity_authority
from auth.messages import ACCOUNT_CLOSURE_CODE
from auth.models import Account, CompanyBinding, Resident, SmsCode
from auth.staff import create_staff as create_staff
from auth.staff import lock_summary as lock_summary
from auth.staff import staff_sign_in as staff_sign_in
from auth.staff import staff_summary as staff_summary
from auth.staff import unlock_staff as unlock_staff
from auth.tokens import TokenPair, issue_tokens
from auth.wechat import get_wechat_auth
from mobile_api.access import CITIZEN
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import blind_index, index_matches, mask_id_number, mask_name, mask_phone
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, city_now, city_today, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify
from notifications.templates import SMS_SIGN_IN_CODE

CODE_TEMPLATES = {"sms": SMS_SIGN_IN_CODE.code, "close": ACCOUNT_CLOSURE_CODE.code}
WECHAT_TICKET_SECONDS = 600
_EPOCH = datetime(2000, 1, 1, tzinfo=CITY_TZ)


# --- ID numbers --------------------------------------------------------------------------------


def check_id_number(value: str) -> str:
    """Validate a resident ID number (GB 11643): checksum, region, real birth date not in the future."""
    number = value.strip().upper()
    try:
        ric.validate(number)
    except InvalidChecksum:
        raise ValidationError("身份证号码校验位不正确，请核对") from None
    except InvalidComponent:
        raise ValidationError("身份证号码中的出生日期不正确") from None
    except StdnumError:
        raise ValidationError("身份证号码格式不正确，应为18位") from None
    if len(number) != 18:
        raise ValidationError("请使用18位第二代居民身份证号码")
    if ric.get_birth_date(number) > city_today():
        raise ValidationError("身份证号码中的出生日期不正确")
    try:
        ric.get_birth_place(number)
    except (InvalidComponent, KeyError):
        raise ValidationError("身份证号码中的地区码不存在") from None
    return number


# --- SMS sign-in codes --------------------------------------------------------------------------


def _code_hash(phone: str, code: str, purpose: str = "sms") -> str:
    """A code is only good for what it was sent for: ``sms`` (sign-in) or ``close`` (account closure)."""
    key = setting("SECRET_KEY").encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _seconds_to_city_midnight() -> int:
    now = city_now()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=CITY_TZ)
    return max(1, int((midnight - now).total_seconds()))


def request_sms_code(phone: str, purpose: str = "sms") -> dict:
    """Issue a 6-digit code for ``phone`` and queue the SMS (urgent). Cooldown and daily cap apply, shared
    by every purpose (one row per phone: a new code replaces the last, whatever it was for)."""
    now, today = utcnow(), city_today()
    cooldown = timedelta(seconds=setting("SMS_CODE_RESEND_SECONDS"))
    ttl = setting("SMS_CODE_TTL_SECONDS")
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction():
        insert_ignoring_conflict(SmsCode, phone=phone, code_hash=None, expires_at=now, attempts=0, sent_at=_EPOCH, day=today, day_count=0)
        # One conditional UPDATE: the cooldown and the daily cap hold however many processes race here.
        issued = db.session.execute(
            update(SmsCode)
            .where(
                SmsCode.phone == phone,
                SmsCode.sent_at <= now - cooldown,
                (SmsCode.day != today) | (SmsCode.day_count < setting("SMS_CODE_DAILY_PER_PHONE")),
            )
            .values(
                code_hash=_code_hash(phone, code, purpose),
                expires_at=now + timedelta(seconds=ttl),
                attempts=0,
                sent_at=now,
                day_count=case((SmsCode.day == today, SmsCode.day_count + 1), else_=1),
                day=today,
            )
        ).rowcount
        if not issued:
            raise _not_issued_problem(db.session.get(SmsCode, phone, populate_existing=True), now, cooldown)
        notify(
            phone,
            CODE_TEMPLATES[purpose],
            {"code": code, "minutes": ttl // 60},
            dedupe_key=f"sms-code:{phone}:{now.isoformat()}:{secrets.token_hex(4)}",
            urgent=True,
        )
    return {"expires_in": ttl, "resend_after": setting("SMS_CODE_RESEND_SECONDS")}


def _not_issued_problem(row: SmsCode, now: datetime, cooldown: timedelta) -> Problem:
    wait = (row.sent_at + cooldown - now).total_seconds()
    if wait > 0:
        return Problem(429, "sms_code_cooldown", f"验证码已发送，请{int(wait) + 1}秒后再试", headers={"Retry-After": str(int(wait) + 1)})
    return Problem(
        429,
        "sms_code_daily_limit",
        "今天获取验证码的次数已达上限，请明天再试",
        headers={"Retry-After": str(_seconds_to_city_midnight())},
    )


def spend_sms_code(phone: str, code: str, now: datetime, purpose: str = "sms") -> bool:
    """Spend the code if it is right, unexpired and not out of attempts (joins the caller's transaction)."""
    spent = db.session.execute(
        update(SmsCode)
        .where(
            SmsCode.phone == phone,
            SmsCode.code_hash == _code_hash(phone, code, purpose),
            SmsCode.expires_at > now,
            SmsCode.attempts < setting("SMS_CODE_MAX_ATTEMPTS"),
        )
        .values(code_hash=None)
    ).rowcount
    return bool(spent)


def count_wrong_code(phone: str, now: datetime) -> Problem:
    """Count a wrong try in its own transaction (kept although the request fails); the code dies on the last one."""
    max_attempts = setting("SMS_CODE_MAX_ATTEMPTS")
    with transaction():
        db.session.execute(
            update(SmsCode)
            .where(SmsCode.phone == phone, SmsCode.code_hash.is_not(None))
            .values(
                attempts=SmsCode.attempts + 1,
                code_hash=case((SmsCode.attempts + 1 >= max_attempts, None), else_=SmsCode.code_hash),
            )
        )
    row = db.session.get(SmsCode, phone)
    if row is None or row.code_hash is None:
        return Problem(401, "sms_code_invalid", "验证码已失效，请重新获取")
    if row.expires_at <= now:
        return Problem(401, "sms_code_expired", "验证码已过期，请重新获取")
    left = max_attempts - row.attempts
    return Problem(401, "sms_code_wrong", f"验证码不正确，还可以再试{left}次", attempts_left=left)


def sign_in_with_sms(phone: str, code: str, wechat_ticket: str | None = None) -> tuple[TokenPair, Account]:
    """Check the code, create the account on first sign-in, optionally bind WeChat, issue tokens.

    Spending the code, the account and the tokens are one transaction; a wrong code is counted in a
    transaction of its own, after that one ended with nothing written.
    """
    openid = _read_wechat_ticket(wechat_ticket) if wechat_ticket else None
    now = utcnow()
    try:
        with transaction():
            spent = spend_sms_code(phone, code, now)
            if spent:
                account = _account_for_phone(phone)
                if openid:
                    _bind_wechat(account, openid)
                account.last_sign_in_at = now
                pair = issue_tokens(CITIZEN, account.id)
    except IntegrityError:  # another account bound this WeChat a moment ago
        raise Problem(409, "wechat_already_bound", "该微信已绑定其他账号") from None
    if not spent:
        raise count_wrong_code(phone, now)
    return pair, account


def _account_for_phone(phone: str) -> Account:
    """The phone's account, created on first sign-in (in the caller's transaction)."""
    account = db.session.scalar(select(Account).where(Account.phone == phone))
    if account is None:
        account = Account(phone=phone, level=1)
        db.session.add(account)
        db.session.flush()
    return account


# --- WeChat ------------------------------------------------------------------------------------


def _ticket_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(setting("SECRET_KEY"), salt="wechat-bind")


def _read_wechat_ticket(ticket: str) -> str:
    try:
        return _ticket_serializer().loads(ticket, max_age=WECHAT_TICKET_SECONDS)["openid"]
    except SignatureExpired:
        raise Problem(422, "wechat_ticket_expired", "微信授权已过期，请重新进入小程序") from None
    except (BadSignature, KeyError, TypeError):
        raise Problem(422, "wechat_ticket_invalid", "微信授权无效，请重新进入小程序") from None


def _bind_wechat(account: Account, openid: str) -> None:
    if account.wechat_openid and account.wechat_openid != openid:
        raise Problem(409, "account_has_other_wechat", "该账号已绑定其他微信")
    holder = db.session.scalar(select(Account).where(Account.wechat_openid == openid))
    if holder is not None and holder.id != account.id:
        raise Problem(409, "wechat_already_bound", "该微信已绑定其他账号")
    account.wechat_openid = openid


def sign_in_with_wechat(code: str) -> dict:
    """Bound openid → tokens. Unknown openid → a ticket to present with the SMS sign-in."""
    openid = get_wechat_auth().code_to_openid(code)
    account = db.session.scalar(select(Account).where(Account.wechat_openid == openid))
    if account is None:
        ticket = _ticket_serializer().dumps({"openid": openid})
        return {"phone_required": True, "wechat_ticket": ticket, "ticket_expires_in": WECHAT_TICKET_SECONDS}
    with transaction():
        account.last_sign_in_at = utcnow()
        pair = issue_tokens(CITIZEN, account.id)
    return {"phone_required": False, **pair.as_dict(), "account": account_summary(account)}


# --- The account and real name (L2) --------------------------------------------------------------


def account_summary(account: Account) -> dict:
    companies = db.session.scalars(select(CompanyBinding).where(CompanyBinding.account_id == account.id)).all()
    return {
        "id": account.id,
        "phone_masked": mask_phone(account.phone),
        "level": account.level,
        "name_masked": mask_name(account.name),
        "id_number_masked": mask_id_number(account.id_number),
        "wechat_bound": account.wechat_openid is not None,
        "companies": [{"credit_code": c.credit_code, "company_name": c.company_name} for c in companies],
    }


def verify_identity(account: Account, name: str, id_number: str) -> Account:
    """Real name, level 2: the authority must confirm name ↔ ID; one ID per account and vice versa."""
    id_number = check_id_number(id_number)
    index = blind_index(id_number, "id_number")
    if account.id_number_index is not None:
        if account.id_number == id_number and account.name == name:
            return account
        raise Problem(409, "identity_already_verified", "您的账号已完成实名认证，不能更换身份")
    # The authority first: a wrong name gets the same answer whether or not the number is bound to
    # another account, so this endpoint cannot tell anyone which ID numbers are registered here.
    result = get_identity_authority().verify(name, id_number)
    if result is IdentityResult.NOT_FOUND:
        raise Problem(422, "identity_not_found", "未查询到该身份证号的户籍信息，请核对")
    if result is IdentityResult.MISMATCH:
        raise Problem(422, "identity_mismatch", "姓名与身份证号不一致，请核对")
    holder = db.session.scalar(select(Account.id).where(index_matches(Account.id_number_index, id_number, "id_number")))
    if holder is not None:
        raise Problem(409, "id_number_bound_elsewhere", "该身份证号已绑定其他账号，如有疑问请拨打12345")
    try:
        with transaction():
            account.name, account.id_number, account.id_number_index = name, id_number, index
            account.level = max(account.level, 2)
            account.verified_at = utcnow()
    except IntegrityError:  # another account took this ID number a moment ago
        raise Problem(409, "id_number_bound_elsewhere", "该身份证号已绑定其他账号，如有疑问请拨打12345") from None
    return account


def bind_company(account: Account, credit_code: str, company_name: str) -> CompanyBinding:
    existing = db.session.scalar(
        select(CompanyBinding).where(CompanyBinding.account_id == account.id, CompanyBinding.credit_code == credit_code)
    )
    if existing is not None:
        return existing
    with transaction():
        binding = CompanyBinding(account_id=account.id, credit_code=credit_code, company_name=company_name)
        db.session.add(binding)
    return binding


# --- The identity registry (local authority) ----------------------------------------------------


def add_resident(name: str, id_number: str, source: str, actor: str | None = None) -> Resident:
    id_number = check_id_number(id_number)
    index = blind_index(id_number, "id_number")
    with transaction():
        resident = db.session.scalar(select(Resident).where(index_matches(Resident.id_number_index, id_number, "id_number")))
        if resident is None:
            resident = Resident(id_number_index=index, id_number=id_number, name=name, source=source)
            db.session.add(resident)
        else:
            resident.name, resident.source, resident.id_number_index = name, source, index
        if actor:
            db.session.flush()
            record_audit(actor, "identity.resident.upsert", "resident", resident.id)
    return resident


def import_residents_csv(path: Path) -> tuple[int, list[str]]:
    """Import ``name,id_number`` rows; returns (imported, problems) — bad rows are reported, not fatal.

    Each row is its own transaction, so one bad row does not undo the good ones before it.
    """
    imported, problems = 0, []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip() in ("", "name", "姓名"):
                continue
            try:
                add_resident(row[0].strip(), row[1].strip(), "csv")
                imported += 1
            except (ValidationError, IndexError) as exc:
                problems.append(f"line {line_no}: {exc}")
    return imported, problems


def resident_summary(resident: Resident) -> dict:
    return {
        "id": resident.id,
        "name_masked": mask_name(resident.name),
        "id_number_masked": mask_id_number(resident.id_number),
        "source": resident.source,
    }
