"""A citizen's rights over their data: the export (everything of theirs, nothing of anyone else's, one
download within the time limit) and account closure (erased, unlinked, kept where the law requires,
audited, every sign-in revoked). Real worker, real API, each package's provider."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from auth.models import Account, DataExport, RefreshToken
from mobile_api.extensions import db
from mobile_api.models import AuditEvent
from tests.appointments.conftest import ITEM, create_hall, first_free_slots
from tests.cases.conftest import SIMPLE_MATERIALS, new_case, upload
from tests.cases.helpers import pdf_bytes
from tests.support import bearer, sign_in, sign_in_level2, staff_token, wait_for


@pytest.fixture()
def quick_codes(app):
    """Sign-in and closure codes may follow each other at once (the 60 s cooldown is tested in test_sign_in_*)."""
    saved = app.config["SMS_CODE_RESEND_SECONDS"]
    app.config["SMS_CODE_RESEND_SECONDS"] = 0
    yield
    app.config["SMS_CODE_RESEND_SECONDS"] = saved


def _citizen_with_data(app, client) -> dict:
    """A level-2 citizen with a submitted case, a draft, a booking, face consent, preferences and inbox messages."""
    citizen = sign_in_level2(app, client)
    headers = bearer(citizen["access_token"])
    submitted = new_case(client, citizen["access_token"])
    for code in SIMPLE_MATERIALS:
        assert upload(client, citizen["access_token"], submitted, code, pdf_bytes(1), filename=f"{code}.pdf").status_code == 201
    assert client.post(f"/api/v1/cases/{submitted}/submit", headers=headers).status_code == 200
    draft = new_case(client, citizen["access_token"])
    assert upload(client, citizen["access_token"], draft, "photo", pdf_bytes(1), filename="draft-photo.pdf").status_code == 201
    with app.app_context():
        hall = create_hall(windows=1)
    slot = first_free_slots(client, hall["id"])[0]
    booking = client.post("/api/v1/appointments", json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]}, headers=headers)
    assert booking.status_code == 201, booking.json
    assert client.post(
        "/api/v1/me/face/consent", json={"consent_version": app.config["FACE_CONSENT_VERSION"]}, headers=headers
    ).status_code in (
        200,
        201,
    )
    assert client.put("/api/v1/me/notification-preferences", json={"quiet_hours": False}, headers=headers).status_code == 200
    with app.app_context():  # a notice with an inbox copy (the booking's and the case's go by SMS only)
        from notifications.service import notify

        notify(
            db.session.get(Account, citizen["account"]["id"]),
            "notifications.service_notice",
            {"content": f"给{citizen['name']}的通知"},
            dedupe_key=f"dr:{citizen['phone']}",
        )
        db.session.commit()
        db.session.remove()
    wait_for(lambda: client.get("/api/v1/me/messages", headers=headers).json["items"], what="an inbox message")
    return {
        **citizen,
        "headers": headers,
        "submitted": submitted,
        "draft": draft,
        "booking": booking.json,
        "hall": hall,
        "slot": slot,
    }


def _export(client, headers) -> tuple[str, str]:
    first = client.get("/api/v1/me/data-export", headers=headers)
    assert first.status_code in (200, 202), first.json
    ready = wait_for(
        lambda: (r := client.get("/api/v1/me/data-export", headers=headers)).status_code == 200 and r.json, what="export ready", timeout=60
    )
    assert ready["status"] == "ready" and ready["download_url"].endswith(ready["id"]) and ready["id"] == first.json["id"]
    download = client.get(ready["download_url"], headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"] and download.headers["Cache-Control"] == "no-store"
    return ready["id"], download.get_data(as_text=True)


def test_export_holds_everything_of_mine_and_nothing_of_anyone_else(app, client, celery_worker):
    mine, theirs = _citizen_with_data(app, client), _citizen_with_data(app, client)
    export_id, text = _export(client, mine["headers"])
    document = json.loads(text)
    data = document["data"]
    assert document["account_id"] == mine["account"]["id"] and "个人信息保护法" in document["notice"]
    assert set(data) >= {"appointments", "cases", "messages", "face", "account"}
    account = data["account"]
    # My own identity, unmasked.
    assert (account["phone"], account["identity"]["name"], account["identity"]["id_number"]) == (
        mine["phone"],
        mine["name"],
        mine["id_number"],
    )
    assert {case["case_no"] for case in data["cases"]["cases"]} == {mine["submitted"], mine["draft"]}
    submitted = next(case for case in data["cases"]["cases"] if case["case_no"] == mine["submitted"])
    assert {m["filename"] for m in submitted["materials"]} == {f"{code}.pdf" for code in SIMPLE_MATERIALS}
    assert all("data" not in m for m in submitted["materials"]) and submitted["timeline"]
    assert [b["code"] for b in data["appointments"]["bookings"]] == [mine["booking"]["code"]]
    assert data["face"]["consents"] and data["face"]["reference_encoding_kept"] is None
    assert data["messages"]["preferences"]["quiet_hours"] is False and data["messages"]["inbox"]
    assert any("验证码" in (m["text"] or "") for m in data["messages"]["messages_sent"])  # codes sent to my phone
    # Nothing of the other citizen, anywhere in the file.
    for value in (theirs["phone"], theirs["name"], theirs["id_number"], theirs["submitted"], theirs["draft"], theirs["booking"]["code"]):
        assert value not in text, value

    # Once: the second download is gone, and so is the stored copy; someone else's export is not found.
    again = client.get(f"/api/v1/me/data-export/{export_id}", headers=mine["headers"])
    assert again.status_code == 410 and again.json["code"] == "data_export_gone"
    assert client.get(f"/api/v1/me/data-export/{export_id}", headers=theirs["headers"]).status_code == 404
    with app.app_context():
        row = db.session.get(DataExport, export_id)
        assert (row.status, row.payload) == ("downloaded", None)
        db.session.remove()
    assert client.get("/api/v1/me/data-export", headers=mine["headers"]).status_code == 202  # a new request builds anew


def test_an_export_not_downloaded_in_time_expires_and_the_daily_limit_holds(app, client, celery_worker):
    from datetime import timedelta

    from sqlalchemy import update

    from auth.data_rights import purge_expired_exports
    from mobile_api.timeutil import utcnow
    from mobile_api.transactions import transaction

    citizen = sign_in(client)
    headers = bearer(citizen["access_token"])
    client.get("/api/v1/me/data-export", headers=headers)
    ready = wait_for(lambda: (r := client.get("/api/v1/me/data-export", headers=headers)).status_code == 200 and r.json, what="ready")
    with app.app_context():
        with transaction():
            db.session.execute(update(DataExport).where(DataExport.id == ready["id"]).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert purge_expired_exports() >= 1
        assert db.session.get(DataExport, ready["id"]).payload is None
        db.session.remove()
    assert client.get(ready["download_url"], headers=headers).status_code == 410
    assert client.get("/api/v1/me/data-export", headers=headers).status_code == 202  # second build today
    wait_for(lambda: client.get("/api/v1/me/data-export", headers=headers).status_code == 200, what="second ready")
    assert client.get(client.get("/api/v1/me/data-export", headers=headers).json["download_url"], headers=headers).status_code == 200
    assert client.get("/api/v1/me/data-export", headers=headers).status_code == 202  # third
    wait_for(lambda: client.get("/api/v1/me/data-export", headers=headers).status_code == 200, what="third ready")
    assert client.get(client.get("/api/v1/me/data-export", headers=headers).json["download_url"], headers=headers).status_code == 200
    limited = client.get("/api/v1/me/data-export", headers=headers)
    assert limited.status_code == 429 and limited.json["code"] == "data_export_limit"


def _closure_code(client, phone: str) -> str:
    def newest():
        for item in client.get(f"/api/v1/sandbox/messages?phone={phone}").json["items"]:
            match = re.search(r"注销账号，验证码(\d{6})", item["content"])
            if match:
                return match.group(1)
        return None

    return wait_for(newest, what="closure code")


def test_closing_an_account_erases_unlinks_keeps_what_the_law_requires_and_revokes_sign_in(app, client, celery_worker, quick_codes):
    mine, theirs = _citizen_with_data(app, client), _citizen_with_data(app, client)
    officer = staff_token(client, "prereviewer", app.config["DEMO_PASSWORD"])
    assert client.get(f"/api/v1/staff/cases/{mine['submitted']}", headers=bearer(officer)).status_code == 200  # an audited staff read
    account_id = mine["account"]["id"]
    with app.app_context():
        theirs_inbox = _count("inbox_messages", theirs["account"]["id"])
        staff_reads = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == mine["submitted"]))
        assert staff_reads >= 1
        db.session.remove()
    booked_before = _booked(app, mine["booking"]["id"])

    # A sign-in code is not a closure code; a wrong code is counted.
    assert client.post("/api/v1/auth/sms-codes", json={"phone": mine["phone"]}).status_code == 202
    sign_in_code = wait_for(lambda: _sign_in_code(client, mine["phone"], mine["access_token"]), what="second sign-in code")
    refused = client.delete("/api/v1/me", json={"code": sign_in_code}, headers=mine["headers"])
    assert refused.status_code == 401 and refused.json["code"] == "sms_code_wrong"
    assert client.post("/api/v1/me/closure-code", headers=mine["headers"]).status_code == 202
    code = _closure_code(client, mine["phone"])
    wrong = "000000" if code != "000000" else "111111"
    assert client.delete("/api/v1/me", json={"code": wrong}, headers=mine["headers"]).json["code"] == "sms_code_wrong"
    assert client.delete("/api/v1/me", json={"code": "12ab"}, headers=mine["headers"]).status_code == 422

    closed = client.delete("/api/v1/me", json={"code": code}, headers=mine["headers"])
    assert closed.status_code == 200, closed.json
    summary = closed.json
    assert summary["erased"]["cases"]["draft_cases"] == 1 and summary["erased"]["appointments"]["future_bookings_cancelled"] == 1
    assert summary["erased"]["face"]["consents"] == 1 and summary["erased"]["messages"]["inbox"] >= 1
    assert "submitted_cases" in summary["kept"]["cases"] and "name_and_id_number" in summary["kept"]["account"]

    # Every sign-in is revoked: access and refresh tokens alike.
    assert client.get("/api/v1/me", headers=mine["headers"]).status_code == 401
    assert client.post("/api/v1/auth/tokens/refresh", headers=bearer(mine["refresh_token"])).status_code == 401
    # The booked place went back (held for the waitlist / a delayed release, as any cancellation).
    assert _booked(app, mine["booking"]["id"]) == booked_before - 1

    with app.app_context():
        account = db.session.get(Account, account_id)
        assert account.closed_at is not None and (account.phone, account.wechat_openid, account.id_number_index) == (None, None, None)
        assert (account.name, account.id_number) == (mine["name"], mine["id_number"])  # the kept case file names its holder
        from cases.models import Case

        kept = db.session.scalar(select(Case).where(Case.case_no == mine["submitted"]))
        assert kept is not None and kept.account_id == account_id and kept.view_cache is None
        assert db.session.scalar(select(Case).where(Case.case_no == mine["draft"])) is None
        for table in ("inbox_messages", "notification_preferences", "face_consents", "face_verifications", "company_bindings"):
            assert _count(table, account_id) == 0, table
        assert _count("notifications", account_id) == 0  # anonymised: no longer linked
        assert (
            db.session.scalar(
                select(func.count()).select_from(_table("notifications")).where(_table("notifications").c.phone == mine["phone"])
            )
            == 0
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(RefreshToken)
                .where(RefreshToken.subject == f"c:{account_id}", RefreshToken.revoked_at.is_(None))
            )
            == 0
        )
        # Audited, and the staff reads of the kept case survive.
        closure = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.close", AuditEvent.subject_id == account_id))
        assert closure is not None and closure.actor == f"citizen:{account_id}"
        assert (
            db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == mine["submitted"])) == staff_reads
        )
        # The other citizen is untouched.
        assert _count("inbox_messages", theirs["account"]["id"]) == theirs_inbox
        assert db.session.get(Account, theirs["account"]["id"]).phone == theirs["phone"]
        db.session.remove()
    assert client.get("/api/v1/appointments", headers=theirs["headers"]).json["items"][0]["status"] == "booked"

    # The phone and the ID number are free: signing in makes a new account, which can take the same identity.
    fresh = sign_in(client, mine["phone"])
    assert fresh["account"]["id"] != account_id and fresh["account"]["level"] == 1
    verified = client.post(
        "/api/v1/me/identity", json={"name": mine["name"], "id_number": mine["id_number"]}, headers=bearer(fresh["access_token"])
    )
    assert verified.status_code == 200 and verified.json["level"] == 2


def test_closing_an_account_with_nothing_to_keep_erases_the_identity_too(app, client, celery_worker, quick_codes):
    citizen = sign_in_level2(app, client)
    headers = bearer(citizen["access_token"])
    assert client.post("/api/v1/me/closure-code", headers=headers).status_code == 202
    closed = client.delete("/api/v1/me", json={"code": _closure_code(client, citizen["phone"])}, headers=headers)
    assert closed.status_code == 200 and "name_and_id_number" not in closed.json["kept"].get("account", {})
    with app.app_context():
        account = db.session.get(Account, citizen["account"]["id"])
        assert (account.name, account.id_number, account.phone) == (None, None, None)
        db.session.remove()


def _sign_in_code(client, phone: str, _token: str) -> str | None:
    codes = []
    for item in client.get(f"/api/v1/sandbox/messages?phone={phone}").json["items"]:
        match = re.search(r"验证码是(\d{6})", item["content"])
        if match:
            codes.append(match.group(1))
    return codes[0] if len(codes) >= 2 else None  # the newest, once the second sign-in code has arrived


def _booked(app, booking_id: str) -> int:
    from appointments.models import Booking, Slot

    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        booked = db.session.get(Slot, booking.slot_id, populate_existing=True).booked
        db.session.remove()
    return booked


def _table(name: str):
    return db.metadata.tables[name]


def _count(table_name: str, account_id: str) -> int:
    table = _table(table_name)
    return db.session.scalar(select(func.count()).select_from(table).where(table.c.account_id == account_id))
