"""Open311 GeoReport v2: listing requests (90 days, 1000 results, filters), API keys (shown once,
stored hashed, rate-limited per key), and the routes in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.hotline.open311_spec import (
    V2,
    assert_request_shape,
    assert_spec_error,
    post,
    settings,
)


def test_listing_requests_90_days_1000_results_and_filters(app, client, api_key):
    ids = [post(client, api_key, service_code="suggestion", description=f"建议{n}").get_json()[0]["service_request_id"] for n in range(3)]
    old = post(client, api_key, service_code="suggestion", description="很久以前的建议").get_json()[0]["service_request_id"]
    with app.app_context():
        from sqlalchemy import update

        from hotline.models import Ticket
        from mobile_api.extensions import db
        from mobile_api.timeutil import utcnow

        db.session.execute(update(Ticket).where(Ticket.ticket_no == old).values(created_at=utcnow() - timedelta(days=100)))
        db.session.commit()
        db.session.remove()
    listed = client.get(f"{V2}/requests.json")
    assert listed.status_code == 200
    items = listed.get_json()
    for item in items:
        assert_request_shape(item)
    numbers = [item["service_request_id"] for item in items]
    assert set(ids) <= set(numbers) and old not in numbers  # default: the most recent 90 days
    times = [item["requested_datetime"] for item in items]
    assert times == sorted(times, reverse=True)
    assert app.config["HOTLINE_OPEN311_MAX_RESULTS"] == 1000 and app.config["HOTLINE_OPEN311_MAX_DAYS"] == 90
    with settings(app, HOTLINE_OPEN311_MAX_RESULTS=2):
        assert len(client.get(f"{V2}/requests.json").get_json()) == 2
    # service_request_id overrides every other argument, the 90 days included.
    both = client.get(f"{V2}/requests.json", query_string={"service_request_id": f"{old},{ids[0]}", "status": "closed"}).get_json()
    assert {item["service_request_id"] for item in both} == {old, ids[0]}
    # A window of at most 90 days, with time zones, start before end.
    now = datetime.now().astimezone()
    window = {
        "start_date": (now - timedelta(days=101)).isoformat(timespec="seconds"),
        "end_date": (now - timedelta(days=99)).isoformat(timespec="seconds"),
    }
    assert [item["service_request_id"] for item in client.get(f"{V2}/requests.json", query_string=window).get_json()] == [old]
    start = (now - timedelta(days=95)).date().isoformat()
    assert_spec_error(client.get(f"{V2}/requests.json", query_string={"start_date": start, "end_date": now.date().isoformat()}), 400, "90")
    assert_spec_error(
        client.get(f"{V2}/requests.json", query_string={"start_date": "2026-11-10T00:00:00", "end_date": "2026-11-11T00:00:00Z"}),
        400,
        "时区",
    )
    assert_spec_error(
        client.get(f"{V2}/requests.json", query_string={"start_date": "2026-11-10Z", "end_date": "2026-11-11"}), 400, "start_date"
    )
    assert_spec_error(
        client.get(f"{V2}/requests.json", query_string={"start_date": "2026-11-10", "end_date": "2026-11-01"}), 400, "end_date"
    )
    only_end = client.get(f"{V2}/requests.json", query_string={"end_date": (now - timedelta(days=1)).isoformat(timespec="seconds")})
    assert only_end.status_code == 200 and not set(ids) & {item["service_request_id"] for item in only_end.get_json()}
    # Filters: service_code and status (comma lists).
    suggestions = client.get(f"{V2}/requests.json", query_string={"service_code": "suggestion,praise", "status": "open"}).get_json()
    assert {item["service_code"] for item in suggestions} == {"suggestion"} and set(ids) <= {i["service_request_id"] for i in suggestions}
    closed = client.get(f"{V2}/requests.json", query_string={"service_code": "suggestion", "status": "closed"}).get_json()
    assert not set(ids) & {item["service_request_id"] for item in closed}
    paged = client.get(f"{V2}/requests.json", query_string={"service_code": "suggestion", "page_size": 1, "page": 2}).get_json()
    assert len(paged) == 1


def test_keys_are_shown_once_stored_hashed_and_rate_limited_per_key(app, client, admin):
    issued = client.post("/api/v1/staff/open311/keys", json={"name": "慢速应用", "rate_limit": "2 per minute"}, headers=admin["headers"])
    assert issued.status_code == 201
    slow_key = issued.get_json()["api_key"]
    assert slow_key.startswith("o311_") and len(slow_key) > 40
    listed = client.get("/api/v1/staff/open311/keys", headers=admin["headers"]).get_data(as_text=True)
    assert slow_key not in listed and issued.get_json()["key_prefix"] in listed
    with app.app_context():
        from sqlalchemy import select

        from hotline.models import Open311ApiKey
        from mobile_api.extensions import db

        stored = db.session.scalar(select(Open311ApiKey).where(Open311ApiKey.id == issued.get_json()["id"]))
        assert stored.key_hash != slow_key and slow_key not in (stored.key_hash + stored.key_prefix + stored.name)
        db.session.remove()
    assert client.post("/api/v1/staff/open311/keys", json={"name": "x", "rate_limit": "lots"}, headers=admin["headers"]).status_code == 422
    other_key = client.post("/api/v1/staff/open311/keys", json={"name": "另一个应用"}, headers=admin["headers"]).get_json()["api_key"]
    codes = [post(client, slow_key, service_code="praise", description=f"表扬{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]
    limited = post(client, slow_key, service_code="praise", description="再表扬")
    assert_spec_error(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert post(client, other_key, service_code="praise", description="另一个应用不受影响").status_code == 200


def test_open311_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{service_request_id}.json",
        "/open311/v2/tokens/{token}.json",
    ):
        assert path in spec["paths"], path
    post_op = spec["paths"]["/open311/v2/requests.json"]["post"]
    assert "application/x-www-form-urlencoded" in post_op["requestBody"]["content"]
    assert not [p for p in spec["paths"] if p.startswith("/open311/{") or "{path}" in p]
    assert "/api/v1/hotline/lookup" in spec["paths"] and "/api/v1/staff/audit" in spec["paths"]
