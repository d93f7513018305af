"""Never a 500 for bad input: each class of input the field test broke, refused with a 4xx and a code."""

from __future__ import annotations

import io
import json

import pytest

from tests.support import bearer, sign_in_level2

BIG = 2**31  # one past PostgreSQL's integer


@pytest.fixture(scope="module")
def citizen(app, celery_worker):
    client = app.test_client()
    return sign_in_level2(app, client)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/halls/{BIG}",
        f"/api/v1/halls/{BIG}/availability",
        "/api/v1/halls/" + "9" * 5000,
        f"/api/v1/staff/calendar/{BIG}",
    ],
)
def test_path_integers_beyond_int32_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_query_integer_beyond_int32_is_422_naming_the_field(client):
    response = client.get(f"/api/v1/catalog/items?page={BIG}")
    assert response.status_code == 422
    assert "page" in response.get_json()["errors"]


@pytest.mark.parametrize("value", [BIG, -(2**31) - 1, 10**30])
def test_body_integer_beyond_int32_is_422_naming_the_field(client, citizen, value):
    body = {"hall_id": value, "item_code": "X1", "start": "2026-03-02T09:00:00+08:00"}
    response = client.post("/api/v1/appointments", json=body, headers=bearer(citizen["access_token"]))
    assert response.status_code == 422, response.get_json()
    assert "hall_id" in response.get_json()["errors"]


def test_message_id_beyond_int32(client, citizen):
    response = client.post(f"/api/v1/me/messages/{BIG}/read", headers=bearer(citizen["access_token"]))
    assert response.status_code == 404


@pytest.mark.parametrize("raw", ['{"phone": 1e400}', '{"phone": NaN}', '{"phone": -Infinity}', '{"n": ' + "9" * 5000 + "}"])
def test_numbers_json_cannot_hold_are_malformed(client, raw):
    response = client.post("/api/v1/auth/sms-codes", data=raw, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "malformed_json"


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.x+json", "application/merge-patch+json; charset=utf-8"])
@pytest.mark.parametrize("raw", ['{"phone": "1380013800\\u0000"}', '{"ph\\u0000one": "13800138000"}', '{"phone": ["\\u0000"]}'])
def test_nul_in_any_json_type_is_refused(client, content_type, raw):
    response = client.post("/api/v1/auth/sms-codes", data=raw, content_type=content_type)
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"


def test_nul_inside_a_case_form_sent_as_plus_json_is_not_stored(client, citizen):
    body = json.dumps({"item_code": "X1", "form": {"note": "a\u0000b"}})
    response = client.post("/api/v1/cases", data=body, content_type="application/vnd.api+json", headers=bearer(citizen["access_token"]))
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"


@pytest.mark.parametrize("query", ["?phone=138%00", "?page=1%00", "?%00=1", "?from=2026-01-01%00"])
def test_nul_in_the_query_string_is_refused(client, query):
    response = client.get("/api/v1/catalog/items" + query)
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"


def test_nul_in_multipart_fields_and_file_names_is_refused(client, citizen):
    headers = bearer(citizen["access_token"])
    field = {"challenge_id": "abc\x00", "frames": (io.BytesIO(b"x"), "a.jpg")}
    response = client.post("/api/v1/me/face/verifications", data=field, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"
    name = {"material_code": "id_card", "file": (io.BytesIO(b"x"), "a\x00.jpg")}
    response = client.post("/api/v1/cases/NB1/materials", data=name, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json"])
def test_deep_json_is_refused_before_parsing(client, content_type):
    deep = "[" * 5000 + "]" * 5000  # ~10 KB
    response = client.post("/api/v1/auth/sms-codes", data=deep, content_type=content_type)
    assert response.status_code == 422 and response.get_json()["code"] == "json_too_deep"
    deep_object = '{"a":' * 3000 + "1" + "}" * 3000
    response = client.post("/api/v1/auth/sms-codes", data=deep_object, content_type=content_type)
    assert response.get_json()["code"] == "json_too_deep"


def test_brackets_inside_strings_are_not_depth(client):
    response = client.post("/api/v1/auth/sms-codes", json={"phone": "[[[[" * 100})
    assert response.status_code == 422 and response.get_json()["code"] == "validation_failed"


def test_json_at_the_depth_limit_is_parsed(app):
    from mobile_api.request_guards import check_json_depth

    limit = app.config["MAX_JSON_DEPTH"]
    check_json_depth(b"[" * limit + b"]" * limit, limit)  # no Problem raised


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2200-01-01"])
def test_far_dates_are_422(client, day):
    response = client.get(f"/api/v1/halls/1/availability?from={day}")
    assert response.status_code == 422, response.get_json()
    assert "from" in response.get_json()["errors"]


def test_json_body_over_the_cap_is_413_for_every_json_type(client):
    big = json.dumps({"phone": "1" * 70_000})
    for content_type in ("application/json", "application/vnd.x+json"):
        response = client.post("/api/v1/auth/sms-codes", data=big, content_type=content_type)
        assert response.status_code == 413 and response.headers["Connection"] == "close"


def test_a_recursion_error_anywhere_is_not_a_500():
    from flask import Flask

    from mobile_api.errors import register_error_handlers

    bare = Flask("recursion")
    register_error_handlers(bare)  # the platform's handlers, the backstop under test

    @bare.route("/recursion")
    def _recursion():
        raise RecursionError("maximum recursion depth exceeded")

    response = bare.test_client().get("/recursion")
    assert response.status_code == 422 and response.get_json()["code"] == "input_too_deep"


@pytest.mark.parametrize("key", ["a" * 129, "ключ", "with space", "tab\tkey"])
def test_idempotency_keys_are_printable_ascii(client, citizen, key):
    response = client.post(
        "/api/v1/cases", json={"item_code": "X1", "form": {}}, headers={**bearer(citizen["access_token"]), "Idempotency-Key": key}
    )
    assert response.status_code == 400 and response.get_json()["code"] == "idempotency_key_invalid"
