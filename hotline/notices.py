"""Consultations: the operator searches the catalog and sends an item's one-time notice (一次性告知) by SMS.

The notice lists every material the item needs, its time limit and how it can be done, so the caller
comes prepared the first time (最多跑一次). At most ``HOTLINE_NOTICES_PER_PHONE`` notices per phone per
city day, counted with one conditional UPDATE per send (so parallel sends cannot pass the cap).
"""

from __future__ import annotations

from sqlalchemy import select, update

from auth.models import StaffUser
from cases import catalog
from cases.models import ServiceItem
from hotline.models import NoticeDay
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import blind_index, mask_phone
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import city_today
from mobile_api.transactions import transaction
from notifications.service import notify
from notifications.templates import get_template

ORIGINAL_OR_COPY = {"original": "原件", "copy": "复印件"}


def notice_params(item: ServiceItem) -> dict:
    """The parameters of the SMS: all materials at once, the time limit, the ways to do it."""
    materials = []
    for spec in item.materials or []:
        extras = [
            ORIGINAL_OR_COPY.get(spec.get("original_or_copy", "")),
            f"{spec['count']}份" if spec.get("count") else None,
            None if spec.get("required", True) else "如有",
        ]
        extra = "，".join(part for part in extras if part)
        materials.append(spec["name"] + (f"（{extra}）" if extra else ""))
    if item.item_type == "instant":
        time_limit = "即办件，材料齐全当场办结"
    else:
        time_limit = f"承诺{item.promised_days}个工作日（法定{item.statutory_days}个工作日）"
    channels = [
        "可全程网上办理" if item.fully_online else "",
        "可在App预约到大厅办理" if item.bookable else "",
        "证照可快递送达" if item.deliverable else "",
        f"收费{item.fee}元" if item.fee else "不收费",
    ]
    return {
        "item_name": item.name,
        "materials": "；".join(materials) or "无需提交材料",
        "time_limit": time_limit,
        "channels": "，".join(part for part in channels if part) + "。",
    }


def search_items(q: str | None, department: str | None, page: int, per_page: int) -> dict:
    """Catalog search as the public one, each item with the notice text the caller would receive."""
    result = catalog.list_items(q=q, department=department, audience=None, category=None, page=page, per_page=per_page)
    template = get_template("hotline.item_notice")
    items = [
        {
            "code": item.code,
            "name": item.name,
            "department_code": item.department_code,
            "notice_preview": template.render(notice_params(item)),
        }
        for item in result.items
    ]
    return result.as_dict() | {"items": items}


def send_notice(staff: StaffUser, item_code: str, phone: str) -> dict:
    limit, day = int(setting("HOTLINE_NOTICES_PER_PHONE")), city_today()
    index = blind_index(phone, "phone")
    with transaction():
        item = catalog.current_item(item_code)
        insert_ignoring_conflict(NoticeDay, phone_index=index, day=day, sent=0)
        counted = db.session.execute(
            update(NoticeDay)
            .where(NoticeDay.phone_index == index, NoticeDay.day == day, NoticeDay.sent < limit)
            .values(sent=NoticeDay.sent + 1)
        ).rowcount
        if not counted:
            raise Problem(429, "notice_limit", f"该号码今天已收到{limit}条告知短信，请明天再发", limit=limit)
        sent_today = db.session.scalar(select(NoticeDay.sent).where(NoticeDay.phone_index == index, NoticeDay.day == day))
        notify(
            phone,
            "hotline.item_notice",
            notice_params(item),
            dedupe_key=f"hotline-notice:{index}:{day.isoformat()}:{sent_today}",
            urgent=True,
        )
        record_audit(
            staff_actor(staff),
            "hotline.notice.sent",
            "phone",
            mask_phone(phone),
            details={"item_code": item.code, "phone_index": index[:16]},
        )
        return {
            "item_code": item.code,
            "item_name": item.name,
            "phone_masked": mask_phone(phone),
            "sent_today": sent_today,
            "daily_limit": limit,
        }
