"""A booking task killed after the courier answered but before we committed books one waybill, not two.

Made deterministic without touching our code: the local SF server holds its answer until the test has
locked the parcel's row (PostgreSQL: ``SELECT … FOR UPDATE`` in the test's own connection; SQLite:
``BEGIN IMMEDIATE`` on the database file), then answers; the worker, now holding SF's waybill, blocks on
its UPDATE. The test kills the worker with SIGKILL, releases the lock, and checks nothing was stored. A
new worker gets the booking again — the SQL broker never redelivers a message a dead worker had taken,
and Redis only after its visibility timeout, so the ``express.sweep`` job republishes it — and books the
same order reference: SF answers with the same waybill, and we store it once.
"""

from __future__ import annotations

import signal
import sqlite3
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from express import service
from mobile_api.extensions import db
from notifications.models import Notification
from tests.express.conftest import accepted_case, add_address, api, approve, delivery_of, issue
from tests.support import wait_for

pytestmark = pytest.mark.slow


@contextmanager
def row_locked(app, delivery_id: str):
    """Hold the parcel's row (PostgreSQL) or the whole database (SQLite) until the block ends."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                transaction = connection.begin()
                connection.execute(text("SELECT id FROM express_deliveries WHERE id = :id FOR UPDATE"), {"id": delivery_id})
                try:
                    yield lambda: _waiting_for_locks(engine)
                finally:
                    transaction.rollback()
            return
        raw = sqlite3.connect(engine.url.database, isolation_level=None, timeout=30)
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield lambda: True  # SQLite shows no waiters; nobody can commit while this lock is held
        finally:
            raw.execute("ROLLBACK")
            raw.close()


def _waiting_for_locks(engine) -> bool:
    with engine.connect() as probe:
        waiting = probe.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        ).scalar()
    return waiting >= 1


def test_worker_killed_after_the_courier_answered_books_one_waybill(app, client, configured, express_worker, citizen, staff, items):
    sf = configured["sf"]
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["free"])
    api(
        client,
        "PUT",
        f"/api/v1/cases/{case_no}/delivery",
        token,
        json={"method": "express", "address_id": add_address(client, token)["id"], "courier": "sf"},
    )
    approve(client, staff, case_no)
    arrived, proceed, answered = sf.hold()
    assert issue(client, staff, case_no).status_code == 200
    parcel = delivery_of(app, case_no)
    assert arrived.wait(30), "the worker never called SF"

    with row_locked(app, parcel.id) as worker_is_blocked:
        proceed.set()
        assert answered.wait(30), "SF did not answer"
        assert sf.waybills.get(parcel.id), "SF made no order"
        wait_for(worker_is_blocked, timeout=30, what="the worker blocked on the parcel's row")
        express_worker.stop(sig=signal.SIGKILL)  # after the courier answered, before our commit

    lost = delivery_of(app, case_no)
    assert (lost.status, lost.waybill_no) == ("created", None)  # nothing of SF's answer was stored
    assert sf.creates == [parcel.id]

    express_worker.start()
    with app.app_context():
        assert service.sweep(stuck_after=timedelta(0))["bookings"] >= 1
        db.session.remove()
    booked = wait_for(lambda: delivery_of(app, case_no).waybill_no, timeout=60, what="booked by the new worker")
    assert sf.creates == [parcel.id, parcel.id]  # the same order reference, twice
    assert booked == sf.waybills[parcel.id] and len([w for w in sf.waybills.values() if w == booked]) == 1  # one waybill
    with app.app_context():
        told = db.session.scalar(
            select(func.count()).where(Notification.account_id == citizen["id"], Notification.template_code == "express.booked")
        )
        db.session.remove()
    assert told == 1
