"""Hotline tickets in a citizen's data export and account closure: theirs only, kept as work orders but
unlinked from the account and stripped of the caller's contact details."""

from __future__ import annotations

from sqlalchemy import select

from auth.models import Account
from hotline.models import Ticket
from mobile_api.extensions import db
from mobile_api.personal_data import Subject, erase_all, export_all
from mobile_api.transactions import transaction
from tests.support import bearer, sign_in_level2


def test_tickets_are_exported_to_their_caller_and_unlinked_on_closure(app, client, celery_worker, operator):
    citizen = sign_in_level2(app, client)
    other = sign_in_level2(app, client)
    mine = client.post("/api/v1/me/tickets", json={"ticket_type": "help", "content": "我的求助"}, headers=bearer(citizen["access_token"]))
    assert mine.status_code == 201, mine.get_json()
    by_phone = client.post(
        "/api/v1/hotline/tickets",
        json={"ticket_type": "suggestion", "content": "来电建议", "caller_phone": citizen["phone"], "caller_name": "来电人"},
        headers=operator["headers"],
    )
    assert by_phone.status_code == 201, by_phone.get_json()
    theirs = client.post("/api/v1/me/tickets", json={"ticket_type": "help", "content": "别人的求助"}, headers=bearer(other["access_token"]))
    assert theirs.status_code == 201

    numbers = {mine.get_json()["ticket_no"], by_phone.get_json()["ticket_no"]}
    with app.app_context():
        subject = Subject(citizen["account"]["id"], citizen["phone"])
        exported = export_all(subject)["hotline"]["tickets"]
        assert {t["ticket_no"] for t in exported} == numbers
        assert {t["content"] for t in exported} == {"我的求助", "来电建议"}

        with transaction():
            summary = erase_all(subject)["hotline"]
        assert summary["kept"]["tickets_unlinked"] == 2
        kept = db.session.scalars(select(Ticket).where(Ticket.ticket_no.in_(numbers))).all()
        assert len(kept) == 2
        assert all(t.account_id is None and t.caller_phone is None and t.caller_phone_index is None for t in kept)
        assert all(t.caller_name is None for t in kept)
        assert export_all(subject)["hotline"]["tickets"] == []
        other_ticket = db.session.scalar(select(Ticket).where(Ticket.ticket_no == theirs.get_json()["ticket_no"]))
        assert other_ticket.account_id == other["account"]["id"]
        assert db.session.get(Account, other["account"]["id"]).phone == other["phone"]
