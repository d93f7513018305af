"""Real name (L2): ID number checks, the identity authority (local and HTTP), one ID per account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from auth.identity import HttpIdentityAuthority, IdentityResult
from auth.models import Account
from mobile_api.errors import Problem
from mobile_api.extensions import db
from tests.support import bearer, random_id_number, random_name, register_resident, sign_in, staff_token


@pytest.fixture()
def citizen(client, celery_worker):
    return sign_in(client)


def _verify(client, citizen, name, id_number):
    return client.post("/api/v1/me/identity", json={"name": name, "id_number": id_number}, headers=bearer(citizen["access_token"]))


@pytest.mark.parametrize(
    ("id_number", "fragment"),
    [
        ("11010519491231002Y", "id_number"),  # not a check character
        ("110105194912310021", "校验位"),  # wrong checksum
        ("110105194902300020", "出生日期"),  # 30 February
        ("110105209912310029", "出生日期"),  # born in the future (valid checksum)
        ("999999194912310020", "id_number"),  # no such region
        ("1101051949123", "id_number"),  # too short
    ],
)
def test_bad_id_numbers_are_refused_with_a_reason(client, citizen, id_number, fragment):
    response = _verify(client, citizen, "王建国", id_number)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "id_number" in errors
    text = " ".join(errors["id_number"])
    assert fragment == "id_number" or fragment in text


def test_name_must_match_the_registry(client, citizen, app):
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    response = _verify(client, citizen, "欧阳错名", id_number)
    assert response.status_code == 422 and response.get_json()["code"] == "identity_mismatch"
    response = _verify(client, citizen, name, random_id_number())
    assert response.status_code == 422 and response.get_json()["code"] == "identity_not_found"
    me = client.get("/api/v1/me", headers=bearer(citizen["access_token"])).get_json()
    assert me["level"] == 1 and me["id_number_masked"] is None


def test_one_id_per_account_and_one_account_per_id(client, app, celery_worker):
    first, second = sign_in(client), sign_in(client)
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    assert _verify(client, first, name, id_number).status_code == 200
    # Same again: idempotent.
    assert _verify(client, first, name, id_number).status_code == 200
    # Another account cannot take the same ID.
    response = _verify(client, second, name, id_number)
    assert response.status_code == 409 and response.get_json()["code"] == "id_number_bound_elsewhere"
    # The first account cannot switch to another identity.
    other_name, other_id = random_name(), random_id_number()
    register_resident(app, other_name, other_id)
    response = _verify(client, first, other_name, other_id)
    assert response.status_code == 409 and response.get_json()["code"] == "identity_already_verified"
    with app.app_context():
        from mobile_api.pii import blind_index

        holders = db.session.scalar(
            select(func.count()).select_from(Account).where(Account.id_number_index == blind_index(id_number, "id_number"))
        )
        assert holders == 1


def test_level_two_unlocks_company_binding(client, app, celery_worker):
    citizen = sign_in(client)
    body = {"credit_code": "91110000600037341L", "company_name": "示例科技有限公司"}
    response = client.post("/api/v1/me/companies", json=body, headers=bearer(citizen["access_token"]))
    assert response.status_code == 403 and response.get_json()["code"] == "realname_level_required"
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    _verify(client, citizen, name, id_number)
    response = client.post(
        "/api/v1/me/companies", json={**body, "credit_code": "91110000600037341X"}, headers=bearer(citizen["access_token"])
    )
    assert response.status_code == 422 and "credit_code" in response.get_json()["errors"]
    response = client.post("/api/v1/me/companies", json=body, headers=bearer(citizen["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["companies"] == [body]


def test_admin_adds_residents_others_cannot(client, app):
    password = app.config["DEMO_PASSWORD"]
    body = {"name": random_name(), "id_number": random_id_number()}
    clerk = staff_token(client, "clerk", password)
    assert client.post("/api/v1/staff/identity/residents", json=body, headers=bearer(clerk)).status_code == 403
    admin = staff_token(client, "admin", password)
    response = client.post("/api/v1/staff/identity/residents", json=body, headers=bearer(admin))
    assert response.status_code == 201
    assert body["id_number"] not in response.get_data(as_text=True)
    assert response.get_json()["id_number_masked"].endswith(body["id_number"][-4:])
    with app.app_context():
        from mobile_api.models import AuditEvent

        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.resident.upsert")).all()
        assert any(event.actor == "staff:admin" for event in audit)


def test_http_identity_authority_adapter(httpserver, app):
    """The production adapter speaks HTTP to the authority; run its real code against a local server."""
    httpserver.expect_request(
        "/v1/identity/verify", method="POST", json={"name": "王建国", "id_number": "11010519491231002X"}
    ).respond_with_json({"result": "match"})
    httpserver.expect_request(
        "/v1/identity/verify", method="POST", json={"name": "李四", "id_number": "11010519491231002X"}
    ).respond_with_json({"result": "mismatch"})
    authority = HttpIdentityAuthority(httpserver.url_for(""), "key", timeout=2)
    with app.app_context():
        assert authority.verify("王建国", "11010519491231002X") is IdentityResult.MATCH
        assert authority.verify("李四", "11010519491231002X") is IdentityResult.MISMATCH


def test_http_identity_authority_down_is_a_503_problem(httpserver, app):
    httpserver.expect_request("/v1/identity/verify").respond_with_data("oops", status=500)
    authority = HttpIdentityAuthority(httpserver.url_for(""), None, timeout=2)
    with app.app_context(), pytest.raises(Problem) as excinfo:
        authority.verify("王建国", "11010519491231002X")
    assert excinfo.value.status == 503 and excinfo.value.code == "identity_authority_unavailable"
