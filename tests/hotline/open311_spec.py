"""The GeoReport v2 field lists and checks shared by the Open311 tests."""

from __future__ import annotations

import re
from contextlib import contextmanager

# The spec's field lists (http://wiki.open311.org/GeoReport_v2, Service_Discovery).
DISCOVERY_FIELDS = {"changeset", "contact", "key_service", "endpoints"}
ENDPOINT_FIELDS = {"specification", "url", "changeset", "type", "formats"}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
DEFINITION_FIELDS = {"service_code", "attributes"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
CREATED_REALTIME = {"service_request_id", "service_notice", "account_id"}
CREATED_BATCH = {"token", "service_notice", "account_id"}
TOKEN_FIELDS = {"service_request_id", "token"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
V2 = "/open311/v2"


def assert_spec_error(response, status: int, *words: str) -> list[dict]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.get_json()
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) == {"code", "description"} and isinstance(error["code"], int) and isinstance(error["description"], str)
        assert error["code"] == status
    text = " ".join(error["description"] for error in body)
    for word in words:
        assert word in text, (word, text)
    return body


def assert_request_shape(item: dict) -> None:
    assert set(item) == REQUEST_FIELDS
    assert item["status"] in ("open", "closed") and isinstance(item["service_request_id"], str)
    for name in ("requested_datetime", "updated_datetime"):
        assert W3C.match(item[name]), item[name]
    assert item["expected_datetime"] is None or W3C.match(item["expected_datetime"])
    assert item["address_id"] is None and item["zipcode"] is None and item["media_url"] is None
    for name in ("lat", "long"):
        assert item[name] is None or isinstance(item[name], float)


def post(client, api_key: str | None, **fields):
    data = {"address_string": "宁波市海曙区中山西路1号", **fields}
    if api_key:
        data["api_key"] = api_key
    return client.post(f"{V2}/requests.json", data=data)


@contextmanager
def settings(app, **values):
    previous = {name: app.config[name] for name in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(previous)
