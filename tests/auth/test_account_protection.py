"""No ID-number oracle, a per-account staff lockout with backoff (audited, admin unlock), ``bearer`` in any case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support import bearer, random_id_number, random_name, register_resident, sign_in, staff_token


def _without_request_id(response) -> tuple[int, dict]:
    body = dict(response.get_json())
    body.pop("request_id", None)
    return response.status_code, body


def test_a_wrong_name_gets_the_same_answer_whether_or_not_the_id_is_bound(app, client, celery_worker):
    bound_number, free_number = random_id_number(), random_id_number()
    owner_name, free_name = random_name(), random_name()
    register_resident(app, owner_name, bound_number)
    register_resident(app, free_name, free_number)
    owner = sign_in(client)
    response = client.post(
        "/api/v1/me/identity", json={"name": owner_name, "id_number": bound_number}, headers=bearer(owner["access_token"])
    )
    assert response.status_code == 200

    prober = sign_in(client)
    headers = bearer(prober["access_token"])
    wrong = "错" + owner_name
    on_bound = client.post("/api/v1/me/identity", json={"name": wrong, "id_number": bound_number}, headers=headers)
    on_free = client.post("/api/v1/me/identity", json={"name": wrong, "id_number": free_number}, headers=headers)
    assert _without_request_id(on_bound) == _without_request_id(on_free)
    assert on_bound.status_code == 422 and on_bound.get_json()["code"] == "identity_mismatch"
    # Only the right name (what the holder knows) learns that the number is taken.
    right = client.post("/api/v1/me/identity", json={"name": owner_name, "id_number": bound_number}, headers=headers)
    assert right.status_code == 409 and right.get_json()["code"] == "id_number_bound_elsewhere"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_case_insensitive(client, celery_worker, scheme):
    tokens = sign_in(client)
    response = client.get("/api/v1/me", headers={"Authorization": f"{scheme} {tokens['access_token']}"})
    assert response.status_code == 200


def test_bearer_without_a_token_is_still_401(client):
    assert client.get("/api/v1/me", headers={"Authorization": "bearer "}).status_code == 401


@pytest.fixture()
def victim(app):
    from auth.service import create_staff

    username = f"lock{random_id_number()[-8:]}"
    with app.app_context():
        create_staff(username, "Right-Pass-1", ["window_clerk"])
    return username


def _sign_in(app, username: str, password: str, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address  # a different address each try: the per-IP limit never fires
    return client.post("/api/v1/staff/auth/tokens", json={"username": username, "password": password})


def test_wrong_passwords_from_many_addresses_lock_the_account_with_backoff(app, client, victim):
    threshold = app.config["STAFF_LOCKOUT_THRESHOLD"]
    statuses = [_sign_in(app, victim, f"guess-{i}", f"10.9.{i}.1").status_code for i in range(threshold - 1)]
    assert statuses == [401] * (threshold - 1)
    locked = _sign_in(app, victim, "guess-last", "10.9.99.1")
    assert locked.status_code == 429 and locked.get_json()["code"] == "staff_account_locked"
    first_wait = int(locked.headers["Retry-After"])
    assert 0 < first_wait <= app.config["STAFF_LOCKOUT_BASE_SECONDS"] + 1
    # Locked: even the right password is refused.
    assert _sign_in(app, victim, "Right-Pass-1", "10.9.100.1").status_code == 429

    from auth.models import StaffUser
    from mobile_api.extensions import db
    from mobile_api.models import AuditEvent

    with app.app_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == victim))
        staff.locked_until = None  # the lock ran out
        db.session.commit()
        staff_id = staff.id
    again = _sign_in(app, victim, "guess-after", "10.9.101.1")
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > first_wait  # backoff doubled

    admin = staff_token(client, "admin", app.config["DEMO_PASSWORD"])
    unlocked = client.post(f"/api/v1/staff/users/{staff_id}/unlock", json={"reason": "本人来电确认"}, headers=bearer(admin))
    assert unlocked.status_code == 200 and unlocked.get_json()["failed_sign_ins"] == 0 and unlocked.get_json()["locked_until"] is None
    assert _sign_in(app, victim, "Right-Pass-1", "10.9.102.1").status_code == 200
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_type == "staff_user", AuditEvent.subject_id == str(staff_id))
        ).all()
    assert actions.count("staff.sign_in.locked") == 2 and "staff.sign_in.unlocked" in actions


def test_only_an_admin_unlocks(app, client, victim):
    clerk = staff_token(client, "clerk", app.config["DEMO_PASSWORD"])
    assert client.post("/api/v1/staff/users/1/unlock", json={}, headers=bearer(clerk)).status_code == 403
    admin = staff_token(client, "admin", app.config["DEMO_PASSWORD"])
    assert client.post("/api/v1/staff/users/2147483647/unlock", json={}, headers=bearer(admin)).status_code == 404


def test_a_right_password_resets_the_count(app, victim):
    threshold = app.config["STAFF_LOCKOUT_THRESHOLD"]
    for i in range(threshold - 1):
        assert _sign_in(app, victim, f"nope-{i}", f"10.8.{i}.1").status_code == 401
    assert _sign_in(app, victim, "Right-Pass-1", "10.8.50.1").status_code == 200
    for i in range(threshold - 1):
        assert _sign_in(app, victim, f"nope-again-{i}", f"10.8.{60 + i}.1").status_code == 401
