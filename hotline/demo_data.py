"""Demo data of the hotline (embedded default only): a department head, an Open311 key, two tickets.

The demo Open311 key is derived from ``SECRET_KEY`` (so every run of ``flask seed-demo`` can print it
again without storing it) and written to ``<INSTANCE_PATH>/open311-demo-api-key`` for ``scripts/run.sh``.
Production loads no demo data, so no such key exists there.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from sqlalchemy import select

from auth.service import create_staff
from hotline.models import Open311ApiKey, Ticket, TicketSource, TicketType
from hotline.open311.keys import KEY_PREFIX, create_key, key_hash
from hotline.service import TicketDraft, assign_ticket, check_department, write_ticket
from mobile_api.config import INSTANCE
from mobile_api.extensions import db
from mobile_api.roles import DEPARTMENT_HEAD
from mobile_api.transactions import transaction

DEMO_KEY_FILE = "open311-demo-api-key"
DEMO_ACTOR = "demo"
DEMO_TICKETS = [
    (TicketType.CONSULTATION, "13800138000", "想问一下居住证申领需要带哪些材料，能不能网上办？", None),
    (TicketType.COMPLAINT, "13900139000", "上周去大厅办不动产登记，窗口让我回家补材料跑了三趟，希望一次告知清楚。", "ZRZY"),
]


def demo_api_key() -> str:
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), b"open311-demo-api-key", hashlib.sha256).hexdigest()
    return f"{KEY_PREFIX}demo_{digest[:32]}"


def _seed_key() -> str:
    api_key = demo_api_key()
    with transaction():
        if db.session.scalar(select(Open311ApiKey.id).where(Open311ApiKey.key_hash == key_hash(api_key))) is None:
            create_key("演示第三方应用（demo）", DEMO_ACTOR, None, api_key=api_key)
    (INSTANCE / DEMO_KEY_FILE).write_text(api_key + "\n", encoding="utf-8")
    return api_key


def _seed_tickets() -> int:
    with transaction():
        if db.session.scalar(select(Ticket.id).where(Ticket.created_by == DEMO_ACTOR).limit(1)) is not None:
            return 0
        for ticket_type, phone, content, department in DEMO_TICKETS:
            ticket = write_ticket(
                TicketDraft(
                    ticket_type=ticket_type, content=content, source=TicketSource.HOTLINE, created_by=DEMO_ACTOR, caller_phone=phone
                )
            )
            if department:
                assign_ticket(ticket, DEMO_ACTOR, check_department(department), None)
    return len(DEMO_TICKETS)


def seed_demo(context: dict) -> str:
    create_staff("head", context["password"], [DEPARTMENT_HEAD], "部门负责人老林", ["GA", "ZRZY", "SW", "ZJ"], [])
    api_key = _seed_key()
    tickets = _seed_tickets()
    return f"hotline: department head 'head', {tickets} new tickets, Open311 demo api_key {api_key}"
