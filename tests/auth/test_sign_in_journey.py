"""The full sign-in journey over real HTTP against the running stack (web + Celery worker)."""

from __future__ import annotations

import re

import requests

from tests.support import random_id_number, random_name, register_resident, unique_phone, wait_for


def _sandbox_code(base: str, phone: str) -> str:
    def code():
        items = requests.get(f"{base}/api/v1/sandbox/messages", params={"phone": phone}, timeout=5).json()["items"]
        match = items and re.search(r"验证码是(\d{6})", items[0]["content"])
        return match.group(1) if match else None

    return wait_for(code, timeout=30, what="SMS code in the sandbox")


def test_sign_in_refresh_rotation_reuse_sign_out_and_real_name(app, live_server, celery_worker):
    http = requests.Session()
    phone = unique_phone()

    # L1: code by SMS (sent by the Celery worker through the log gateway into the sandbox)
    response = http.post(f"{live_server}/api/v1/auth/sms-codes", json={"phone": phone}, timeout=5)
    assert response.status_code == 202
    assert response.json() == {"expires_in": 300, "resend_after": 60}
    code = _sandbox_code(live_server, phone)

    response = http.post(f"{live_server}/api/v1/auth/tokens", json={"phone": phone, "code": code}, timeout=5)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["account"]["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert tokens["account"]["level"] == 1

    # The same code cannot be used twice.
    replay = http.post(f"{live_server}/api/v1/auth/tokens", json={"phone": phone, "code": code}, timeout=5)
    assert replay.status_code == 401

    me = http.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5)
    assert me.status_code == 200
    assert set(me.json()) >= {"id", "phone_masked", "level", "name_masked", "id_number_masked"}

    # Refresh rotation: the new pair works, the old refresh token is spent.
    first_refresh = tokens["refresh_token"]
    rotated = http.post(f"{live_server}/api/v1/auth/tokens/refresh", headers={"Authorization": f"Bearer {first_refresh}"}, timeout=5)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first_refresh

    # Reuse of the spent refresh token revokes the whole family, the newest tokens included.
    reuse = http.post(f"{live_server}/api/v1/auth/tokens/refresh", headers={"Authorization": f"Bearer {first_refresh}"}, timeout=5)
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh_token_reused"
    assert http.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=5).status_code == 401
    dead = http.post(f"{live_server}/api/v1/auth/tokens/refresh", headers={"Authorization": f"Bearer {second['refresh_token']}"}, timeout=5)
    assert dead.status_code == 401

    # Sign in again (after the cooldown the app would wait for; a new phone keeps the test fast).
    phone = unique_phone()
    http.post(f"{live_server}/api/v1/auth/sms-codes", json={"phone": phone}, timeout=5)
    tokens = http.post(
        f"{live_server}/api/v1/auth/tokens", json={"phone": phone, "code": _sandbox_code(live_server, phone)}, timeout=5
    ).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    # L2: name + ID number confirmed by the identity registry.
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    response = http.post(f"{live_server}/api/v1/me/identity", json={"name": name, "id_number": id_number}, headers=auth, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == 2
    assert body["id_number_masked"] == id_number[:6] + "********" + id_number[-4:]
    assert body["name_masked"] == name[0] + "*" * (len(name) - 1)
    assert id_number not in response.text

    # Sign out: the access token and the refresh token stop working.
    assert http.delete(f"{live_server}/api/v1/auth/tokens", headers=auth, timeout=5).status_code == 204
    assert http.get(f"{live_server}/api/v1/me", headers=auth, timeout=5).json()["code"] == "token_revoked"
    refresh = http.post(
        f"{live_server}/api/v1/auth/tokens/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}, timeout=5
    )
    assert refresh.status_code == 401
