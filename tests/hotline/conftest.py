"""Fixtures for the hotline: operators of their own (look-up counts and rate limits are per operator),
department staff scoped to one department, supervisors, and citizens with cases."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support import bearer, staff_token, unique_phone, wait_for


def new_staff(app, client, roles: list[str], departments: list[str] | None = None, prefix: str = "hl") -> dict:
    """A staff user of its own; returns its username and bearer headers."""
    from auth.service import create_staff

    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    with app.app_context():
        create_staff(username, app.config["DEMO_PASSWORD"], roles, username, departments or [], [])
    return {
        "username": username,
        "actor": f"staff:{username}",
        "headers": bearer(staff_token(client, username, app.config["DEMO_PASSWORD"])),
    }


@pytest.fixture()
def operator(app, client) -> dict:
    return new_staff(app, client, ["hotline_operator"], prefix="op")


@pytest.fixture()
def supervisor(app, client) -> dict:
    return new_staff(app, client, ["supervisor"], ["GA", "ZRZY", "SW", "ZJ", "MZ", "SCJG", "RS"], prefix="sup")


@pytest.fixture()
def ga_officer(app, client) -> dict:
    return new_staff(app, client, ["officer"], ["GA"], prefix="ga")


@pytest.fixture()
def sw_officer(app, client) -> dict:
    return new_staff(app, client, ["officer"], ["SW"], prefix="sw")


@pytest.fixture()
def ga_head(app, client) -> dict:
    return new_staff(app, client, ["department_head"], ["GA"], prefix="head")


@pytest.fixture()
def admin(app, client) -> dict:
    return new_staff(app, client, ["admin"], prefix="adm")


def sandbox_texts(client, phone: str) -> list[str]:
    return [item["content"] for item in client.get(f"/api/v1/sandbox/messages?phone={phone}&per_page=100").get_json()["items"]]


def wait_for_sms(client, phone: str, pattern: str, timeout: float = 30.0) -> re.Match:
    """The newest sandbox SMS to ``phone`` matching ``pattern`` (the worker must have sent it)."""

    def found():
        for text in sandbox_texts(client, phone):
            match = re.search(pattern, text)
            if match:
                return match
        return None

    return wait_for(found, timeout=timeout, what=f"SMS /{pattern}/ to {phone}")


def audit_actions(app, actor: str, prefix: str = "") -> list[str]:
    from sqlalchemy import select

    from mobile_api.extensions import db
    from mobile_api.models import AuditEvent

    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)).all()
        db.session.remove()
    return [action for action in actions if action.startswith(prefix)]


@pytest.fixture()
def api_key(app, client) -> str:
    admin = new_staff(app, client, ["admin"], prefix="adm")
    issued = client.post("/api/v1/staff/open311/keys", json={"name": f"第三方应用{unique_phone()}"}, headers=admin["headers"])
    assert issued.status_code == 201, issued.get_json()
    return issued.get_json()["api_key"]
