"""A token this process has verified is not decoded again (mobile_api/verified_tokens.py) — and
remembering it never lets through a token the library would refuse: forged, expired, revoked, or
signed with a key taken out of the ring."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from tests.appointments.conftest import create_citizen
from tests.support import bearer


@pytest.fixture()
def parses(monkeypatch):
    """How many times PyJWT parses a token (a spy: it counts and calls the real method)."""
    calls = []
    real = pyjwt.api_jws.PyJWS._load

    def counting(self, token):
        calls.append(1)
        return real(self, token)

    monkeypatch.setattr(pyjwt.api_jws.PyJWS, "_load", counting)
    return calls


def test_a_verified_token_is_parsed_once_per_request_instead_of_four_times(app, app_context, client, parses):
    headers = create_citizen()["headers"]
    parses.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(parses) == 5  # unverified claims, header, the signature check, the header again; the cache's header read
    parses.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(parses) == 1  # only flask-jwt-extended's header read remains


def test_a_forged_twin_of_a_remembered_token_is_refused(app, app_context, client):
    citizen = create_citizen()
    assert client.get("/api/v1/me", headers=citizen["headers"]).status_code == 200
    claims = pyjwt.decode(citizen["token"], options={"verify_signature": False})
    header = pyjwt.get_unverified_header(citizen["token"])
    forged = pyjwt.encode({**claims, "jti": "another"}, "not-our-key-0123456789abcdef0123", algorithm="HS256", headers=header)
    answer = client.get("/api/v1/me", headers=bearer(forged))
    assert answer.status_code == 401 and answer.json["code"] == "token_invalid"
    tampered = citizen["token"][:-2] + ("AA" if not citizen["token"].endswith("AA") else "BB")
    assert client.get("/api/v1/me", headers=bearer(tampered)).json["code"] == "token_invalid"


def test_a_remembered_token_still_expires(app, app_context, client):
    from mobile_api.access import CITIZEN, subject_for

    subject = subject_for(CITIZEN, create_citizen()["id"])
    token = create_access_token(identity=subject, additional_claims={"kind": CITIZEN, "fam": "x"}, expires_delta=timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    time.sleep(2.1)
    answer = client.get("/api/v1/me", headers=bearer(token))
    assert answer.status_code == 401 and answer.json["code"] == "token_expired"


def test_a_remembered_token_is_refused_once_signed_out(app, app_context, client):
    citizen = create_citizen()
    assert client.get("/api/v1/me", headers=citizen["headers"]).status_code == 200
    assert client.delete("/api/v1/auth/tokens", headers=citizen["headers"]).status_code in (200, 204)
    answer = client.get("/api/v1/me", headers=citizen["headers"])
    assert answer.status_code == 401 and answer.json["code"] == "token_revoked"


def test_the_cache_can_be_turned_off(app, app_context, client, parses):
    headers = create_citizen()["headers"]
    saved = app.config["JWT_VERIFIED_CACHE_SIZE"]
    app.config["JWT_VERIFIED_CACHE_SIZE"] = 0
    try:
        for _ in range(2):
            parses.clear()
            assert client.get("/api/v1/me", headers=headers).status_code == 200
            assert len(parses) == 4  # unverified claims, header, the signature check, the header again
    finally:
        app.config["JWT_VERIFIED_CACHE_SIZE"] = saved
