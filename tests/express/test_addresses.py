"""Addresses and the GB/T 2260 region picker: validation, masking, encryption at rest, another citizen's
ids, one default address even under concurrent changes, an address in use."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, text

from express.models import Address
from mobile_api.extensions import db
from tests.express.conftest import add_address, api


def test_region_picker_provinces_cities_districts(client):
    provinces = client.get("/api/v1/regions").get_json()["items"]
    codes = {item["code"]: item["name"] for item in provinces}
    assert codes["330000"] == "浙江省" and codes["110000"] == "北京市" and len(provinces) == 31  # mainland only
    assert "810000" not in codes  # 香港: the couriers here deliver within the mainland
    cities = client.get("/api/v1/regions?province=330000").get_json()["items"]
    assert {"code": "330200", "name": "宁波市", "level": "city"} in cities
    # A municipality is its own city; its districts hang below it.
    assert client.get("/api/v1/regions?province=110000").get_json()["items"] == [{"code": "110000", "name": "北京市", "level": "city"}]
    assert {"code": "110101", "name": "东城区", "level": "district"} in client.get("/api/v1/regions?city=110000").get_json()["items"]
    districts = client.get("/api/v1/regions?city=330200").get_json()["items"]
    assert {"330203", "330212", "330213"} <= {item["code"] for item in districts}
    assert client.get("/api/v1/regions?city=441900").get_json()["items"] == []  # 东莞: no districts
    assert client.get("/api/v1/regions?province=990000").status_code == 404
    assert client.get("/api/v1/regions?city=33020").status_code == 422


def test_address_lifecycle_masked_encrypted_and_private(app, client, make_citizen):
    owner, stranger = make_citizen(), make_citizen()
    first = add_address(client, owner["token"])
    assert first["recipient_name"] == "张**" and first["phone"] == "139****5678"
    assert first["street"].endswith("****") and "501" not in first["street"]
    assert first["region_text"] == "浙江省宁波市海曙区" and first["is_default"] is True  # the first is the default
    with app.app_context():
        raw = db.session.execute(
            text("SELECT phone, street, recipient_name FROM express_addresses WHERE id = :id"), {"id": first["id"]}
        ).one()
        assert all(b"13912345678" not in bytes(value) and "张三丰".encode() not in bytes(value) for value in raw)
        db.session.remove()

    beijing = add_address(client, owner["token"], province_code="110000", city_code="110000", district_code="110105", is_default=True)
    assert beijing["region_text"] == "北京市朝阳区"
    listed = api(client, "GET", "/api/v1/me/addresses", owner["token"]).get_json()["items"]
    assert [item["id"] for item in listed] == [beijing["id"], first["id"]] and [item["is_default"] for item in listed] == [True, False]

    dongguan = add_address(client, owner["token"], province_code="440000", city_code="441900", district_code=None)
    assert dongguan["region_text"] == "广东省东莞市" and dongguan["district_code"] is None

    # Another citizen's address is a 404, whatever the verb; so is an address that does not exist.
    for method in ("PUT", "DELETE"):
        body = {"json": {**_body(), "street": "改了"}} if method == "PUT" else {}
        assert api(client, method, f"/api/v1/me/addresses/{first['id']}", stranger["token"], **body).status_code == 404
    assert api(client, "GET", "/api/v1/me/addresses", stranger["token"]).get_json()["items"] == []
    assert api(client, "DELETE", "/api/v1/me/addresses/nope", owner["token"]).status_code == 404

    updated = api(client, "PUT", f"/api/v1/me/addresses/{first['id']}", owner["token"], json={**_body(), "is_default": True})
    assert updated.status_code == 200 and updated.get_json()["is_default"] is True
    assert api(client, "DELETE", f"/api/v1/me/addresses/{first['id']}", owner["token"]).status_code == 204
    remaining = api(client, "GET", "/api/v1/me/addresses", owner["token"]).get_json()["items"]
    assert len(remaining) == 2 and sum(item["is_default"] for item in remaining) == 1  # a new default was chosen


def _body(**overrides) -> dict:
    return {
        "recipient_name": "李四",
        "phone": "+86 139-1234-5678",
        "province_code": "330000",
        "city_code": "330200",
        "district_code": "330212",
        "street": "中山东路100号",
        **overrides,
    }


def test_bad_input_is_422_with_every_field(client, citizen):
    token = citizen["token"]
    cases = [
        ({"phone": "010-12345678"}, "phone"),  # a landline
        ({"phone": "1391234567"}, "phone"),
        ({"recipient_name": "x" * 40}, "recipient_name"),
        ({"recipient_name": "<script>"}, "recipient_name"),
        ({"province_code": "330000", "city_code": "110000", "district_code": "110101"}, "city_code"),  # Beijing is not in Zhejiang
        ({"district_code": "110101"}, "district_code"),
        ({"district_code": None}, "district_code"),  # Ningbo has districts: one must be chosen
        ({"province_code": "440000", "city_code": "441900", "district_code": "441901"}, "district_code"),
        ({"province_code": "810000", "city_code": "810000", "district_code": None}, "province_code"),
        ({"street": "x"}, "street"),
        ({"street": "路" * 500}, "street"),
    ]
    for overrides, field in cases:
        response = api(client, "POST", "/api/v1/me/addresses", token, json=_body(**overrides))
        assert response.status_code == 422, (overrides, response.get_json())
        assert field in response.get_json()["errors"], (overrides, response.get_json())
    assert api(client, "POST", "/api/v1/me/addresses", token, data="{", content_type="application/json").status_code == 400
    assert api(client, "POST", "/api/v1/me/addresses", token, json={**_body(), "street": "a\u0000b"}).status_code == 422
    assert api(client, "GET", "/api/v1/me/addresses", token).get_json()["items"] == []
    assert client.get("/api/v1/me/addresses").status_code == 401


def test_one_default_even_when_two_requests_race(app, client, citizen):
    token = citizen["token"]
    add_address(client, token)
    answers: list[int] = []
    barrier = threading.Barrier(4)

    def make_default(index: int) -> None:
        test_client = app.test_client()
        barrier.wait()
        response = api(test_client, "POST", "/api/v1/me/addresses", token, json=_body(street=f"中山东路{index}号", is_default=True))
        answers.append(response.status_code)

    threads = [threading.Thread(target=make_default, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) <= {201, 409} and 201 in answers, answers
    with app.app_context():
        defaults = db.session.scalar(select(func.count()).where(Address.account_id == citizen["id"], Address.is_default.is_(True)))
        db.session.remove()
    assert defaults == 1


def test_address_limit(client, citizen, config_override):
    config_override(EXPRESS_MAX_ADDRESSES=2)
    add_address(client, citizen["token"])
    add_address(client, citizen["token"], street="第二个地址1号")
    third = api(client, "POST", "/api/v1/me/addresses", citizen["token"], json=_body())
    assert third.status_code == 409 and third.get_json()["code"] == "too_many_addresses"
