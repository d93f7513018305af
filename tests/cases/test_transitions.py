"""Transitions: roles, department scope, state machine (409 with allowed actions), races, replays,
another citizen's ids, malformed input."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from cases.models import Case, CaseEvent
from cases.service import case_for_citizen
from mobile_api.errors import Problem
from mobile_api.extensions import db
from tests.cases.conftest import accepted_case, act, new_case
from tests.cases.helpers import city_date
from tests.support import bearer, sign_in_level2


def test_scope_roles_and_state_machine(app, client, citizen, staff):
    token = citizen["access_token"]
    # RS (失业保险金申领) is outside the demo officer's departments (GA, ZRZY, SW, ZJ): 404, not 403.
    rs_case = new_case(client, token, "330200-RS-002")
    assert client.get(f"/api/v1/staff/cases/{rs_case}", headers=bearer(staff["officer"])).status_code == 404
    assert act(client, staff["officer"], rs_case, "accept").status_code == 404
    assert client.get(f"/api/v1/staff/cases/{rs_case}", headers=bearer(staff["prereviewer"])).status_code == 200
    # The hotline answers for the whole city: it reads any case, and acts on none.
    assert (
        client.get(f"/api/v1/staff/cases/{rs_case}", query_string={"reason": "来电查询"}, headers=bearer(staff["operator"])).status_code
        == 200
    )
    assert act(client, staff["operator"], rs_case, "note", internal_note="x").status_code == 403

    case_no = accepted_case(app, client, token, staff, date(2026, 10, 9))
    assert act(client, staff["prereviewer"], case_no, "approve").status_code == 403  # wrong role
    assert act(client, staff["operator"], case_no, "start").status_code == 403  # hotline reads, never acts
    conflict = act(client, staff["clerk"], case_no, "accept")
    assert conflict.status_code == 409
    assert conflict.get_json()["code"] == "transition_not_allowed" and "accept" not in conflict.get_json()["allowed_actions"]
    unknown_action = act(client, staff["officer"], case_no, "fly")
    assert unknown_action.status_code == 422 and "action" in unknown_action.get_json()["errors"]
    assert (
        client.post(
            f"/api/v1/staff/cases/{case_no}/transitions", data="{", content_type="application/json", headers=bearer(staff["officer"])
        ).status_code
        == 400
    )
    assert act(client, staff["officer"], case_no, "extend", days=500, note="x").status_code == 422
    assert act(client, staff["officer"], case_no, "advance_step", step="不存在的步骤").status_code == 422
    # Accepted Fri 9 Oct 2026 (7 days): 10 (Sat, 调休), 12–16 Oct, 19 Oct.
    detail = client.get(f"/api/v1/staff/cases/{case_no}", headers=bearer(staff["officer"])).get_json()
    assert detail["due_on"] == "2026-10-19" and "start" in detail["allowed_actions"]

    # The citizen's other ids: a case number that is not theirs behaves like one that does not exist.
    stranger = sign_in_level2(app, client)["access_token"]
    for path in (f"/api/v1/cases/{case_no}", "/api/v1/cases/NB0000-AAAAA"):
        response = client.get(path, headers=bearer(stranger))
        assert response.status_code == 404 and response.get_json()["code"] == "case_not_found"
    assert client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(stranger)).status_code == 404
    assert client.get(f"/api/v1/cases/{case_no}").status_code == 401
    with app.app_context():
        assert case_for_citizen(citizen["account"]["id"], case_no.lower()).case_no == case_no
        with pytest.raises(Problem) as refused:
            case_for_citizen("someone-else", case_no)
        assert refused.value.status == 404 and refused.value.code == "case_not_found"


def test_concurrent_approvals_and_replayed_creation(app, client, citizen, staff):
    token = citizen["access_token"]
    case_no = accepted_case(app, client, token, staff, date(2026, 10, 12))
    with city_date(app, date(2026, 10, 13)):
        assert act(client, staff["officer"], case_no, "start").status_code == 200
        results: list[int] = []

        def approve():
            local = app.test_client()
            results.append(act(local, staff["officer"], case_no, "approve").status_code)

        threads = [threading.Thread(target=approve) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [200, 409, 409, 409]
    with app.app_context():
        approvals = db.session.scalar(
            select(func.count()).select_from(CaseEvent).join(Case).where(Case.case_no == case_no, CaseEvent.action == "approve")
        )
        assert approvals == 1

    body = {"item_code": "330200-GA-004", "form": {"contact_phone": "13800138000"}}
    first = client.post("/api/v1/cases", json=body, headers={**bearer(token), "Idempotency-Key": "create-1"})
    second = client.post("/api/v1/cases", json=body, headers={**bearer(token), "Idempotency-Key": "create-1"})
    assert first.status_code == second.status_code == 201 and first.get_json() == second.get_json()
    reused = client.post(
        "/api/v1/cases", json={**body, "form": {"contact_phone": "13900000000"}}, headers={**bearer(token), "Idempotency-Key": "create-1"}
    )
    assert reused.status_code == 422 and reused.get_json()["code"] == "idempotency_key_reused"


def test_malformed_and_huge_input(client, citizen):
    headers = bearer(citizen["access_token"])
    assert client.post("/api/v1/cases", json={"item_code": "NOPE"}, headers=headers).status_code == 404
    assert client.post("/api/v1/cases", json={"form": {}}, headers=headers).status_code == 422
    wrong_types = client.post(
        "/api/v1/cases",
        headers=headers,
        json={"item_code": "330200-ZRZY-001", "form": {"contact_phone": 13800138000, "property_address": "x" * 600, "price": "很多"}},
    )
    assert wrong_types.status_code == 422 and set(wrong_types.get_json()["errors"]["form"]) == {
        "contact_phone",
        "property_address",
        "price",
    }
    # Python's JSON reader accepts the non-standard ``Infinity``; the request guard does not (it is not JSON).
    infinite = client.post("/api/v1/cases", json={"item_code": "330200-ZRZY-001", "form": {"price": float("inf")}}, headers=headers)
    assert infinite.status_code == 400 and infinite.get_json()["code"] == "malformed_json"
    huge = {"item_code": "330200-GA-004", "form": {f"f{i}": "x" * 1000 for i in range(100)}}
    assert client.post("/api/v1/cases", json=huge, headers=headers).status_code == 413
    not_an_object = client.post("/api/v1/cases", json=[1, 2], headers=headers)
    assert not_an_object.status_code == 422 and not_an_object.get_json()["code"] == "validation_failed"
    assert client.post("/api/v1/cases/NB0000-AAAAA/rating", json={"level": 9}, headers=headers).status_code == 422
