"""Look-ups: exact only, one operator's look-up is not another's, verification limits hold under
concurrency and across look-ups, per-operator rate limits, and the look-ups-versus-calls flag."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
import requests

from tests.appointments.conftest import create_citizen
from tests.hotline.conftest import audit_actions, new_staff


@contextmanager
def settings(app, **values):
    previous = {name: app.config[name] for name in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(previous)


def _citizen(app) -> dict:
    from auth.models import Account
    from mobile_api.extensions import db

    with app.app_context():
        made = create_citizen(level=2)
        account = db.session.get(Account, made["id"])
        made |= {"phone": account.phone, "id_number": account.id_number}
        db.session.remove()
    return made


def _lookup(client, operator, **query):
    return client.get("/api/v1/hotline/lookup", query_string={"reason": "来电", **query}, headers=operator["headers"])


@pytest.mark.parametrize(
    "query",
    [
        {"phone": "138****8000"},
        {"phone": "1380013"},
        {"phone": "138%"},
        {"phone": "1380013800_"},
        {"id_number": "330203*"},
        {"id_number": "330203198503120016".replace("0016", "")},
        {"id_number": "330203198503120017"},  # wrong check digit: not a real number
        {"case_no": "NB2611-*"},
        {"case_no": "NB2611"},
        {"case_no": "%"},
    ],
)
def test_partial_or_wildcard_queries_are_refused(client, operator, query):
    response = _lookup(client, operator, **query)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "partial_search_refused" and "模糊" in response.get_json()["title"]


def test_one_key_a_reason_and_no_500_for_odd_input(client, operator):
    two = _lookup(client, operator, phone="13800138000", id_number="330203198503120016")
    assert two.status_code == 422 and two.get_json()["code"] == "one_query_key"
    assert _lookup(client, operator).status_code == 422
    no_reason = client.get("/api/v1/hotline/lookup", query_string={"phone": "13800138000"}, headers=operator["headers"])
    assert no_reason.status_code == 422 and no_reason.get_json()["code"] == "reason_required"
    huge = _lookup(client, operator, phone="1" * 5000)
    assert huge.status_code == 422
    nul = client.get("/api/v1/hotline/lookup?phone=1380013800%00&reason=x", headers=operator["headers"])
    assert nul.status_code == 422
    bad_ticket = _lookup(client, operator, phone="13800138000", ticket_no="RX0000-22222", reason="")
    assert bad_ticket.status_code == 422 and bad_ticket.get_json()["code"] == "ticket_not_found"


def test_nobody_found_is_still_audited_and_cannot_be_verified(app, client, operator):
    response = _lookup(client, operator, phone="13912345670")
    assert response.status_code == 200 and response.get_json()["found"] is False and response.get_json()["caller"] is None
    assert audit_actions(app, operator["actor"], "hotline.lookup") == ["hotline.lookup.phone"]
    verify = client.post(
        "/api/v1/hotline/verifications",
        json={"lookup_id": response.get_json()["lookup_id"], "method": "id_last4", "answer": "1234"},
        headers=operator["headers"],
    )
    assert verify.status_code == 409 and verify.get_json()["code"] == "nothing_to_verify"


def test_by_id_number_through_the_blind_index_and_by_case_number_shows_only_that_case(app, client, operator):
    citizen = _citizen(app)
    by_id = _lookup(client, operator, id_number=citizen["id_number"].lower())
    assert by_id.status_code == 200 and by_id.get_json()["found"] is True
    assert by_id.get_json()["caller"]["phone_masked"] == citizen["phone"][:3] + "****" + citizen["phone"][-4:]
    unknown_case = _lookup(client, operator, case_no="NB2611-22222")
    assert unknown_case.status_code == 200 and unknown_case.get_json()["found"] is False


def test_another_operators_look_up_is_not_yours_and_look_ups_expire(app, client, operator):
    citizen = _citizen(app)
    other = new_staff(app, client, ["hotline_operator"], prefix="op")
    lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    assert client.get(f"/api/v1/hotline/lookups/{lookup_id}", headers=other["headers"]).status_code == 404
    stolen = client.post(
        "/api/v1/hotline/verifications",
        json={"lookup_id": lookup_id, "method": "id_last4", "answer": citizen["id_number"][-4:]},
        headers=other["headers"],
    )
    assert stolen.status_code == 404
    assert client.get("/api/v1/hotline/lookups/not-an-id", headers=operator["headers"]).status_code == 404
    with settings(app, HOTLINE_LOOKUP_TTL_SECONDS=0):
        expired_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    assert client.get(f"/api/v1/hotline/lookups/{expired_id}", headers=operator["headers"]).status_code == 410


def test_right_last_four_verifies_and_three_answers_is_the_limit(app, client, operator):
    citizen = _citizen(app)
    lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    right = client.post(
        "/api/v1/hotline/verifications",
        json={"lookup_id": lookup_id, "method": "id_last4", "answer": citizen["id_number"][-4:].lower()},
        headers=operator["headers"],
    )
    assert right.status_code == 200 and right.get_json()["verified"] is True

    lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    answers = [
        client.post(
            "/api/v1/hotline/verifications",
            json={"lookup_id": lookup_id, "method": "id_last4", "answer": wrong},
            headers=operator["headers"],
        )
        for wrong in ("0000", "1111", "2222", citizen["id_number"][-4:])
    ]
    assert [a.status_code for a in answers[:3]] == [422, 422, 422] and [a.get_json()["attempts_left"] for a in answers[:3]] == [2, 1, 0]
    # Even the right answer is not checked once the look-up's answers are used up.
    assert answers[3].status_code == 429 and answers[3].get_json()["code"] == "verification_locked"
    assert _lookup(client, operator, phone=citizen["phone"]).get_json()["verification"]["attempts_left"] == 3
    actions = audit_actions(app, operator["actor"], "hotline.verify")
    assert actions.count("hotline.verify.failed") == 3 and actions.count("hotline.verify.locked") == 1


def test_concurrent_answers_get_no_more_checks_than_allowed(app, live_server, client, operator):
    citizen = _citizen(app)
    lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def answer(guess: str) -> None:
        barrier.wait()
        response = requests.post(
            live_server + "/api/v1/hotline/verifications",
            json={"lookup_id": lookup_id, "method": "id_last4", "answer": guess},
            headers=operator["headers"],
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=answer, args=(f"{n:04d}" if f"{n:04d}" != citizen["id_number"][-4:] else "9999",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(422) == 3 and statuses.count(429) == 5, statuses


def test_new_look_ups_do_not_reset_the_callers_daily_allowance(app, client, operator):
    citizen = _citizen(app)
    other = new_staff(app, client, ["hotline_operator"], prefix="op")
    with settings(app, HOTLINE_VERIFY_DAILY_FAILURES=4):
        results = []
        for who in (operator, other, operator):
            lookup_id = _lookup(client, who, phone=citizen["phone"]).get_json()["lookup_id"]
            for _ in range(2):
                results.append(
                    client.post(
                        "/api/v1/hotline/verifications",
                        json={"lookup_id": lookup_id, "method": "id_last4", "answer": "XXXX"},
                        headers=who["headers"],
                    )
                )
    codes = [r.get_json()["code"] for r in results]
    assert codes[:4] == ["verification_failed"] * 4 and codes[4:] == ["verification_locked_today"] * 2


def test_sms_code_goes_to_the_phone_on_record_with_cooldown_and_cap(app, client, celery_worker, operator):
    citizen = _citizen(app)
    lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
    first = client.post("/api/v1/hotline/verifications", json={"lookup_id": lookup_id, "method": "sms_code"}, headers=operator["headers"])
    assert first.status_code == 202
    again = client.post("/api/v1/hotline/verifications", json={"lookup_id": lookup_id, "method": "sms_code"}, headers=operator["headers"])
    assert again.status_code == 429 and again.get_json()["code"] == "code_not_sent"
    from tests.hotline.conftest import wait_for_sms

    wait_for_sms(client, citizen["phone"], r"核验码(\d{6})")
    wrong = client.post(
        "/api/v1/hotline/verifications",
        json={"lookup_id": lookup_id, "method": "sms_code", "answer": "000000"},
        headers=operator["headers"],
    )
    assert wrong.status_code == 422
    from sqlalchemy import select

    from mobile_api.extensions import db
    from notifications.models import Notification

    with app.app_context():
        recipients = set(
            db.session.scalars(
                select(Notification.phone).where(
                    Notification.template_code == "hotline.verification_code", Notification.account_id == citizen["id"]
                )
            )
        )
        db.session.remove()
    assert recipients == {citizen["phone"]}


def test_per_operator_rate_limit(app, client, operator):
    other = new_staff(app, client, ["hotline_operator"], prefix="op")
    with settings(app, HOTLINE_LOOKUP_LIMIT="3 per hour"):
        codes = [_lookup(client, operator, phone="13911110000").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # Another operator has their own allowance.
        assert _lookup(client, other, phone="13911110000").status_code == 200
    limited = _lookup(client, operator, phone="13911110000")
    assert limited.status_code == 200  # the default allowance is larger


def test_look_ups_far_beyond_calls_flag_the_operator_for_supervisors(app, client, operator, supervisor):
    citizen = _citizen(app)
    with settings(app, HOTLINE_FLAG_MIN_LOOKUPS=5, HOTLINE_FLAG_RATIO=2.0, HOTLINE_LOOKUP_LIMIT_FLAGGED="2 per hour"):
        # One real call: verified and recorded as a ticket. Then browsing without calls.
        lookup_id = _lookup(client, operator, phone=citizen["phone"]).get_json()["lookup_id"]
        assert (
            client.post(
                "/api/v1/hotline/verifications",
                json={"lookup_id": lookup_id, "method": "id_last4", "answer": citizen["id_number"][-4:]},
                headers=operator["headers"],
            ).status_code
            == 200
        )
        for _ in range(4):  # five look-ups and one call: 5 ≥ the minimum and 5 > 2 × 1, flagged at the fifth
            assert _lookup(client, operator, phone=citizen["phone"]).status_code == 200
        flags = client.get("/api/v1/staff/hotline/operator-flags", headers=supervisor["headers"]).get_json()["items"]
        [flag] = [f for f in flags if f["operator"] == operator["username"]]
        assert flag["lookups"] == 5 and flag["calls"] == 1
        # While the flag waits for review, the stricter allowance applies from then on (2 per hour).
        codes = [_lookup(client, operator, phone=citizen["phone"]).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        reviewed = client.post(
            f"/api/v1/staff/hotline/operator-flags/{flag['id']}/review", json={"note": "已约谈，系培训演示"}, headers=supervisor["headers"]
        )
        assert reviewed.status_code == 200 and reviewed.get_json()["reviewed_by"] == supervisor["actor"]
        assert _lookup(client, operator, phone=citizen["phone"]).status_code == 200
    assert "hotline.operator.flagged" in audit_actions(app, "system", "hotline.operator")
