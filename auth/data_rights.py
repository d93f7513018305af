"""A citizen's rights over their data (PIPL arts. 45 and 47): a copy of everything, and closing the account.

**Export** — ``GET /api/v1/me/data-export`` starts a build (a task on the default queue gathers every
registered personal-data provider's part, ``mobile_api.personal_data``) and answers 202 while it runs;
then 200 with a one-time download link. The JSON is kept encrypted, downloadable once within
``DATA_EXPORT_TTL_HOURS``; the download (a conditional UPDATE, so two racing downloads cannot both get it)
or the expiry deletes it. At most ``DATA_EXPORT_DAILY_LIMIT`` builds per account per 24 hours.

**Closure** — ``POST /api/v1/me/closure-code`` sends an SMS code (its own purpose: a sign-in code does not
close an account); ``DELETE /api/v1/me {"code"}`` spends it and, in one transaction, lets every provider
erase or unlink its part (``erase_all``) and writes the audit row; then every sign-in of the account is
revoked. What is kept and why: README, "Citizens' data rights".
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from auth.models import Account, DataExport, DataExportStatus, RefreshToken
from auth.service import count_wrong_code, request_sms_code, spend_sms_code
from auth.tokens import revoke_family
from mobile_api.access import CITIZEN, subject_for
from mobile_api.audit import record_audit
from mobile_api.celery_app import celery
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.personal_data import Subject, erase_all, export_all
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)

BUILD_TASK = "auth.build_data_export"
PURGE_TASK = "auth.purge_data_exports"
REPUBLISH_AFTER = timedelta(minutes=2)  # a build nobody picked up (broker down at the time) is queued again
FORMAT = "zhangshang-shiminzhijia/personal-data-export/v1"
NOTICE = (
    "这是掌上市民之家保存的与您本人有关的全部个人信息（《个人信息保护法》第四十五条）。"
    "其中您本人的身份信息未做遮挡，请妥善保管本文件；涉及他人的信息已遮挡或未列出。"
)


# --- export ---------------------------------------------------------------------------------------


def export_view(export: DataExport) -> dict:
    view = {"id": export.id, "status": export.status, "requested_at": export.requested_at}
    if export.status == DataExportStatus.READY:
        view |= {
            "download_url": f"/api/v1/me/data-export/{export.id}",
            "expires_at": export.expires_at,
            "size": export.size,
        }
    if export.status == DataExportStatus.BUILDING:
        view["retry_after"] = 3
    return view


def request_export(account: Account) -> tuple[dict, int]:
    """The account's current export (building → 202, ready → 200), or a new build (202)."""
    now = utcnow()
    publish = False
    with transaction():
        _expire(account.id, now)
        export = db.session.scalar(
            select(DataExport)
            .where(DataExport.account_id == account.id, DataExport.status.in_((DataExportStatus.BUILDING, DataExportStatus.READY)))
            .order_by(DataExport.requested_at.desc())
            .limit(1)
        )
        if export is None:
            _check_daily_limit(account.id, now)
            export = DataExport(account_id=account.id, status=DataExportStatus.BUILDING, requested_at=now)
            db.session.add(export)
            publish = True
        elif export.status == DataExportStatus.BUILDING and export.requested_at < now - REPUBLISH_AFTER:
            export.requested_at, publish = now, True
        db.session.flush()
        view = export_view(export)
    if publish:
        _publish(export.id)
    return view, 202 if view["status"] == DataExportStatus.BUILDING else 200


def _check_daily_limit(account_id: str, now) -> None:
    recent = db.session.scalar(
        select(func.count())
        .select_from(DataExport)
        .where(DataExport.account_id == account_id, DataExport.requested_at >= now - timedelta(hours=24))
    )
    if recent >= setting("DATA_EXPORT_DAILY_LIMIT"):
        raise Problem(429, "data_export_limit", "今天申请导出个人信息的次数已达上限，请明天再试", headers={"Retry-After": "3600"})


def _publish(export_id: str) -> None:
    try:
        celery.signature(BUILD_TASK, args=(export_id,)).apply_async(retry=False)
    except Exception as exc:  # broker down: the next poll after REPUBLISH_AFTER queues it again
        log.warning("could not queue data export %s: %s", export_id, type(exc).__name__)


def build_export(export_id: str) -> str:
    """The task's work: gather every provider's part, store it encrypted, ready for one download."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.status != DataExportStatus.BUILDING:
        return export.status if export is not None else "missing"
    account = db.session.get(Account, export.account_id)
    try:
        document = {
            "format": FORMAT,
            "generated_at": utcnow().isoformat(),
            "account_id": account.id,
            "notice": NOTICE,
            "data": export_all(Subject(account.id, account.phone)),
        }
        payload = json.dumps(document, ensure_ascii=False, default=str, indent=1)
    except Exception as exc:  # recorded, so the citizen sees "failed" and may ask again
        log.exception("data export %s failed", export_id)
        with transaction():
            _finish_build(export_id, status=DataExportStatus.FAILED, error=type(exc).__name__)
        return DataExportStatus.FAILED
    now = utcnow()
    with transaction():
        _finish_build(
            export_id,
            status=DataExportStatus.READY,
            payload=payload,
            size=len(payload.encode()),
            ready_at=now,
            expires_at=now + timedelta(hours=setting("DATA_EXPORT_TTL_HOURS")),
        )
    return DataExportStatus.READY


def _finish_build(export_id: str, **values) -> None:
    db.session.execute(
        update(DataExport).where(DataExport.id == export_id, DataExport.status == DataExportStatus.BUILDING).values(**values),
        execution_options={"synchronize_session": False},
    )


def download_export(account: Account, export_id: str) -> str:
    """The JSON, once: the download and the deletion of the stored copy are one conditional UPDATE."""
    now = utcnow()
    export = db.session.get(DataExport, export_id)
    if export is None or export.account_id != account.id:
        raise Problem(404, "data_export_not_found", "找不到该导出文件")
    if export.status == DataExportStatus.BUILDING:
        raise Problem(409, "data_export_building", "导出文件正在生成，请稍后再试", headers={"Retry-After": "3"})
    payload = export.payload
    with transaction():
        taken = db.session.execute(
            update(DataExport)
            .where(DataExport.id == export_id, DataExport.status == DataExportStatus.READY, DataExport.expires_at > now)
            .values(status=DataExportStatus.DOWNLOADED, downloaded_at=now, payload=None),
            execution_options={"synchronize_session": False},
        ).rowcount
    if not taken or payload is None:
        raise Problem(410, "data_export_gone", "该导出文件已下载或已过期，请重新申请导出")
    return payload


def _expire(account_id: str | None, now) -> int:
    condition = [DataExport.status == DataExportStatus.READY, DataExport.expires_at <= now]
    if account_id is not None:
        condition.append(DataExport.account_id == account_id)
    return db.session.execute(
        update(DataExport).where(*condition).values(status=DataExportStatus.EXPIRED, payload=None),
        execution_options={"synchronize_session": False},
    ).rowcount


def purge_expired_exports() -> int:
    """Beat job: ready exports past their time lose their payload."""
    with transaction():
        return _expire(None, utcnow())


# --- closure --------------------------------------------------------------------------------------


def request_closure_code(account: Account) -> dict:
    return request_sms_code(account.phone, purpose="close")


def close_account(account: Account, code: str) -> dict:
    """Spend the closure code, erase (every provider, one transaction, audited), revoke every sign-in."""
    now, phone = utcnow(), account.phone
    subject = Subject(account.id, phone)
    families = db.session.scalars(
        select(RefreshToken.family_id).where(RefreshToken.subject == subject_for(CITIZEN, account.id)).distinct()
    ).all()
    with transaction():
        spent = spend_sms_code(phone, code, now, purpose="close")
        if spent:
            summary = erase_all(subject)
            details = {name: part.get("erased", {}) for name, part in summary.items()}
            record_audit(f"citizen:{account.id}", "account.close", "account", account.id, reason="PIPL art. 47 request", details=details)
    if not spent:
        raise count_wrong_code(phone, now)
    for family in families:
        revoke_family(family)
    return {
        "closed_at": now,
        "erased": {name: part.get("erased", {}) for name, part in summary.items()},
        "kept": {name: part["kept"] for name, part in summary.items() if part.get("kept")},
    }
