"""Who may do what: citizens never reach the hotline's staff endpoints; departments see only their
tickets; operators read cases but cannot act on them; audit and keys are for supervisors and admins."""

from __future__ import annotations

from datetime import date

from werkzeug.routing import IntegerConverter

from tests.appointments.conftest import create_citizen
from tests.cases.conftest import accepted_case, act
from tests.support import bearer, sign_in_level2, staff_token

STAFF_PREFIXES = ("/api/v1/hotline", "/api/v1/staff/tickets", "/api/v1/staff/audit", "/api/v1/staff/hotline", "/api/v1/staff/open311")


def _staff_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(STAFF_PREFIXES):
            path = rule.rule
            for name, converter in rule._converters.items():
                value = "1" if isinstance(converter, IntegerConverter) else "RX2611-AAAAA"
                path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
            routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_a_citizen_token_is_refused_on_every_hotline_endpoint(app, client):
    with app.app_context():
        citizen = create_citizen(level=3)
    routes = _staff_routes(app)
    hotline_routes = [r for r in routes if r[1].startswith("/api/v1/hotline")]
    assert len(hotline_routes) >= 10, hotline_routes  # lookup, lookups/<id>, verifications, catalog, notices, tickets (4), caller-phone
    for method, path in routes:
        response = client.open(path, method=method, json={} if method in ("POST", "PUT", "PATCH") else None, headers=citizen["headers"])
        assert response.status_code == 403, (method, path, response.get_json())
        assert response.get_json()["code"] == "staff_only", (method, path)
    # No token at all: 401, never a 500.
    for method, path in hotline_routes:
        assert client.open(path, method=method).status_code == 401, (method, path)


def _ticket(client, operator, department: str, content: str = "反映问题") -> str:
    response = client.post(
        "/api/v1/hotline/tickets",
        json={"ticket_type": "complaint", "content": content, "caller_phone": "13800138000", "department_code": department},
        headers=operator["headers"],
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ticket_no"]


def test_a_department_officer_sees_only_their_departments_tickets(app, client, operator, ga_officer, sw_officer, supervisor):
    ga_ticket, sw_ticket = _ticket(client, operator, "GA"), _ticket(client, operator, "SW")
    ga_list = client.get("/api/v1/staff/tickets", query_string={"per_page": 100}, headers=ga_officer["headers"]).get_json()
    assert ga_list["total"] >= 1 and {t["department_code"] for t in ga_list["items"]} == {"GA"}
    assert ga_ticket in [t["ticket_no"] for t in ga_list["items"]] and sw_ticket not in [t["ticket_no"] for t in ga_list["items"]]
    sw_list = client.get("/api/v1/staff/tickets", query_string={"per_page": 100}, headers=sw_officer["headers"]).get_json()
    assert {t["department_code"] for t in sw_list["items"]} == {"SW"} and ga_ticket not in [t["ticket_no"] for t in sw_list["items"]]
    # Another department's ticket does not exist for this officer: read, answer, send back are 404.
    assert client.get(f"/api/v1/staff/tickets/{sw_ticket}", headers=ga_officer["headers"]).status_code == 404
    assert (
        client.post(f"/api/v1/staff/tickets/{sw_ticket}/answer", json={"answer": "越权答复"}, headers=ga_officer["headers"]).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/staff/tickets/{sw_ticket}/send-back", json={"reason": "越权"}, headers=ga_officer["headers"]).status_code
        == 404
    )
    own = client.get(f"/api/v1/staff/tickets/{ga_ticket}", headers=ga_officer["headers"]).get_json()
    assert own["allowed_actions"] == ["answer", "send_back"]
    # Supervisors read every department they watch, but do not answer for one.
    assert client.get(f"/api/v1/staff/tickets/{sw_ticket}", headers=supervisor["headers"]).get_json()["allowed_actions"] == []
    refused = client.post(f"/api/v1/staff/tickets/{sw_ticket}/answer", json={"answer": "监察代答"}, headers=supervisor["headers"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "role_required"
    # After a send-back the ticket leaves the department: its officer no longer sees it.
    assert (
        client.post(
            f"/api/v1/staff/tickets/{ga_ticket}/send-back", json={"reason": "属于市场监管职责"}, headers=ga_officer["headers"]
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/staff/tickets/{ga_ticket}", headers=ga_officer["headers"]).status_code == 404


def test_an_operator_reads_cases_but_cannot_act_on_one(app, client, celery_worker, operator):
    password = app.config["DEMO_PASSWORD"]
    demo = {name: staff_token(client, name, password) for name in ("prereviewer", "clerk", "officer")}
    citizen = sign_in_level2(app, client)
    case_no = accepted_case(app, client, citizen["access_token"], demo, date(2026, 11, 9))
    operator_token = operator["headers"]["Authorization"].split(" ", 1)[1]
    read = client.get(f"/api/v1/staff/cases/{case_no}", query_string={"reason": "来电查询"}, headers=operator["headers"])
    assert read.status_code == 200 and read.get_json()["allowed_actions"] == []
    for action in ("start", "note", "approve", "reject", "suspend"):
        response = act(client, operator_token, case_no, action, note="坐席试图操作", reason="x")
        assert response.status_code == 403 and response.get_json()["code"] == "role_required", (action, response.get_json())
    assert client.get(f"/api/v1/cases/{case_no}", headers=bearer(citizen["access_token"])).get_json()["status"] == "accepted"
    # Nor answer a ticket as if it were the department.
    ticket_no = _ticket(client, operator, "GA")
    refused = client.post(f"/api/v1/staff/tickets/{ticket_no}/answer", json={"answer": "坐席代答"}, headers=operator["headers"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "role_required"


def test_audit_flags_and_keys_are_for_supervisors_and_admins(client, operator, ga_officer, supervisor, admin):
    for headers in (operator["headers"], ga_officer["headers"]):
        assert client.get("/api/v1/staff/audit", headers=headers).status_code == 403
        assert client.get("/api/v1/staff/hotline/operator-flags", headers=headers).status_code == 403
    for headers in (operator["headers"], supervisor["headers"]):
        assert client.post("/api/v1/staff/open311/keys", json={"name": "x app"}, headers=headers).status_code == 403
    assert client.get("/api/v1/staff/audit", headers=supervisor["headers"]).status_code == 200
    assert client.get("/api/v1/staff/open311/keys", headers=admin["headers"]).status_code == 200
    # Reading the audit trail is itself audited.
    trail = client.get(
        "/api/v1/staff/audit", query_string={"actor": supervisor["actor"], "kind": "audit"}, headers=supervisor["headers"]
    ).get_json()
    assert trail["total"] >= 1 and trail["items"][0]["action"] == "audit.read"
