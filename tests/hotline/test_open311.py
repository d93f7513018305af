"""Open311 GeoReport v2: discovery, services and definitions, posting requests (realtime and batch)
checked against the spec's field lists and types; every failure in the spec's error format
([{code, description}]); no personal data in anything public."""

from __future__ import annotations

from tests.hotline.open311_spec import (
    ATTRIBUTE_FIELDS,
    CREATED_BATCH,
    CREATED_REALTIME,
    DATATYPES,
    DEFINITION_FIELDS,
    DISCOVERY_FIELDS,
    ENDPOINT_FIELDS,
    SERVICE_FIELDS,
    TOKEN_FIELDS,
    V2,
    W3C,
    assert_request_shape,
    assert_spec_error,
    post,
)
from tests.support import unique_phone, wait_for


def test_discovery_services_and_definitions_follow_the_spec(client):
    discovery = client.get(f"{V2}/discovery.json")
    assert discovery.status_code == 200 and discovery.headers["Content-Type"] == "application/json; charset=utf-8"
    body = discovery.get_json()
    assert set(body) == DISCOVERY_FIELDS and all(isinstance(body[f], str) for f in ("changeset", "contact", "key_service"))
    [endpoint] = body["endpoints"]
    assert set(endpoint) == ENDPOINT_FIELDS and endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert (
        endpoint["url"].endswith("/open311/v2")
        and endpoint["formats"] == ["application/json"]
        and endpoint["type"] in ("production", "test")
    )

    services = client.get(f"{V2}/services.json").get_json()
    assert isinstance(services, list) and len(services) > 7
    for service in services:
        assert set(service) == SERVICE_FIELDS, service
        assert isinstance(service["metadata"], bool) and service["type"] in ("realtime", "batch", "blackbox")
        assert all(isinstance(service[f], str) for f in ("service_code", "service_name", "description", "keywords", "group"))
    by_code = {service["service_code"]: service for service in services}
    assert {"consultation", "complaint", "complaint-case", "report", "suggestion", "help", "praise", "consultation-330200-GA-004"} <= set(
        by_code
    )
    assert by_code["complaint-case"]["metadata"] is True and by_code["report"]["type"] == "batch"
    assert by_code["consultation-330200-GA-004"]["group"] == "市公安局" and by_code["consultation"]["metadata"] is False

    definition = client.get(f"{V2}/services/complaint-case.json").get_json()
    assert set(definition) == DEFINITION_FIELDS and definition["service_code"] == "complaint-case"
    orders = []
    for attribute in definition["attributes"]:
        assert ATTRIBUTE_FIELDS <= set(attribute) <= ATTRIBUTE_FIELDS | {"values"}
        assert attribute["datatype"] in DATATYPES and isinstance(attribute["required"], bool) and isinstance(attribute["variable"], bool)
        assert isinstance(attribute["order"], int) and attribute["order"] >= 1
        if attribute["datatype"] in ("singlevaluelist", "multivaluelist"):
            assert attribute["values"] and all(set(v) == {"key", "name"} for v in attribute["values"])
        orders.append(attribute["order"])
    assert len(set(orders)) == len(orders)
    assert [a["code"] for a in definition["attributes"] if a["required"]] == ["case_no"]
    assert client.get(f"{V2}/services/consultation-330200-GA-004.json").get_json() == {
        "service_code": "consultation-330200-GA-004",
        "attributes": [],
    }

    assert_spec_error(client.get(f"{V2}/services/no-such-service.json"), 404, "no-such-service")
    assert_spec_error(client.get(f"{V2}/services.json?jurisdiction_id=sfgov.org"), 404, "sfgov.org")
    assert client.get(f"{V2}/services.json?jurisdiction_id=ningbo.gov.cn").status_code == 200


def test_only_json_is_offered_and_every_error_is_in_the_spec_format(client, api_key):
    for path in (
        "/discovery.xml",
        "/services.xml",
        "/services/complaint-case.xml",
        "/requests.xml",
        "/requests/RX2611-AAAAA.xml",
        "/tokens/abc.xml",
    ):
        assert_spec_error(client.get(V2 + path), 400, "JSON")
    assert_spec_error(client.post(f"{V2}/requests.xml", data={"api_key": api_key}), 400, "JSON")
    assert_spec_error(client.get(f"{V2}/nothing-here.json"), 404)
    assert_spec_error(client.get("/open311/v3/services.json"), 404)
    assert_spec_error(client.put(f"{V2}/requests.json"), 405)
    assert_spec_error(client.post(f"{V2}/services.json"), 405)
    assert_spec_error(client.get(f"{V2}/requests/RX2611-AAAAA.json"), 404, "RX2611-AAAAA")
    assert_spec_error(client.get(f"{V2}/tokens/no-such-token.json"), 404)
    assert_spec_error(client.get(f"{V2}/requests.json?page_size=5000"), 400, "page_size")
    assert_spec_error(client.get(f"{V2}/requests.json?status=pending"), 400, "status")


def test_posting_a_request_needs_a_valid_key_a_service_and_a_location(app, client, admin, api_key):
    assert_spec_error(post(client, None, service_code="complaint", description="x"), 403, "api_key")
    assert_spec_error(post(client, "o311_wrong", service_code="complaint", description="x"), 403, "api_key")
    assert_spec_error(post(client, api_key, description="x"), 400, "service_code")
    assert_spec_error(post(client, api_key, service_code="no-such"), 404, "no-such")
    assert_spec_error(client.post(f"{V2}/requests.json", data={"api_key": api_key, "service_code": "complaint"}), 400, "address_string")
    assert_spec_error(post(client, api_key, service_code="complaint", lat="29.87"), 400, "long")
    assert_spec_error(post(client, api_key, service_code="complaint", lat="abc", long="121.5"), 400, "lat")
    assert_spec_error(post(client, api_key, service_code="complaint", lat="95", long="121.5"), 400, "lat")
    assert_spec_error(post(client, api_key, service_code="complaint", description="<script>alert(1)</script>"), 400, "description")
    assert_spec_error(post(client, api_key, service_code="complaint", description="长" * 4001), 400, "description")
    assert_spec_error(post(client, api_key, service_code="complaint", description="a\x00b"), 400, "description")
    assert_spec_error(post(client, api_key, service_code="complaint", email="not-an-email"), 400, "email")
    assert_spec_error(post(client, api_key, service_code="complaint", jurisdiction_id="other.gov"), 404, "other.gov")
    assert_spec_error(post(client, api_key, service_code="complaint", description="x" * 70_000), 413)
    # A service with metadata: its required attribute is named when missing; a wrong one is refused.
    assert_spec_error(post(client, api_key, service_code="complaint-case", description="超期"), 400, "attribute[case_no]")
    assert_spec_error(
        post(client, api_key, service_code="complaint-case", **{"attribute[case_no]": "NB2611-22222"}), 400, "attribute[case_no]"
    )
    bad_kind = post(
        client, api_key, service_code="complaint-case", **{"attribute[case_no]": "NB2611-22222", "attribute[complaint_kind]": "weather"}
    )
    assert_spec_error(bad_kind, 400, "attribute[complaint_kind]")
    assert_spec_error(post(client, api_key, service_code="complaint", **{"attribute[colour]": "red"}), 400, "attribute[colour]")
    # JSON is not the spec's format for a POST: without a form there is no api_key.
    assert_spec_error(client.post(f"{V2}/requests.json", json={"api_key": api_key, "service_code": "complaint"}), 403)
    # A revoked key stops working at once.
    key_id = next(
        k["id"]
        for k in client.get("/api/v1/staff/open311/keys", headers=admin["headers"]).get_json()["items"]
        if api_key.startswith(k["key_prefix"])
    )
    assert client.delete(f"/api/v1/staff/open311/keys/{key_id}", headers=admin["headers"]).status_code == 200
    assert_spec_error(post(client, api_key, service_code="complaint", description="x"), 403)


def test_a_realtime_request_becomes_a_ticket_and_publishes_no_personal_data(app, client, api_key, operator):
    description = "中山西路人行道井盖缺失。我的电话13812345678，身份证330203198503120016，邮箱li.si@example.com，住3单元502室。"
    created = post(
        client,
        api_key,
        service_code="complaint",
        description=description,
        lat="29.871234",
        long="121.543219",
        address_string="宁波市海曙区中山西路128号3单元502室",
        first_name="四",
        last_name="李",
        phone="13812345678",
        email="li.si@example.com",
        account_id="third-party-7",
        device_id="device-1",
        media_url="https://img.example.com/manhole.jpg",
    )
    assert created.status_code == 200 and created.headers["Content-Type"] == "application/json; charset=utf-8"
    [answer] = created.get_json()
    assert set(answer) == CREATED_REALTIME and answer["account_id"] is None and answer["service_notice"]
    request_id = answer["service_request_id"]

    single = client.get(f"{V2}/requests/{request_id}.json")
    assert single.status_code == 200
    [item] = single.get_json()
    assert_request_shape(item)
    assert item["service_request_id"] == request_id and item["status"] == "open" and item["service_code"] == "complaint"
    assert (
        item["description"].startswith("中山西路人行道井盖缺失")
        and "138****5678" in item["description"]
        and "330203********0016" in item["description"]
    )
    assert item["lat"] == 29.87 and item["long"] == 121.54 and item["address"] == "宁波市海曙区中山西路*号*单元*室"
    text = single.get_data(as_text=True)
    for secret in (
        "13812345678",
        "330203198503120016",
        "li.si@example.com",
        "李四",
        "128号",
        "502",
        "third-party-7",
        "device-1",
        "manhole.jpg",
    ):
        assert secret not in text, secret
    assert W3C.match(item["requested_datetime"]) and item["requested_datetime"].endswith("+08:00")

    # It is a hotline ticket like any other: operators route it; the public status follows.
    staff_view = client.get(f"/api/v1/hotline/tickets/{request_id}", headers=operator["headers"]).get_json()
    assert staff_view["source"] == "open311" and staff_view["content"] == description and staff_view["caller_phone_masked"] == "138****5678"
    client.post(
        f"/api/v1/hotline/tickets/{request_id}/transitions", json={"action": "assign", "department_code": "ZJ"}, headers=operator["headers"]
    )
    [routed] = client.get(f"{V2}/requests/{request_id}.json").get_json()
    assert routed["agency_responsible"] == "市住房和城乡建设局" and W3C.match(routed["expected_datetime"])


def test_a_case_complaint_links_the_case(app, client, api_key, operator):
    from tests.appointments.conftest import create_citizen

    with app.app_context():
        from cases.models import Case, ServiceItem
        from mobile_api.extensions import db

        citizen = create_citizen()
        item = db.session.query(ServiceItem).filter_by(code="330200-GA-004", is_current=True).one()
        case = Case(
            case_no=f"NB2611-{unique_phone()[-5:].translate(str.maketrans('01', '23'))}",
            account_id=citizen["id"],
            item_id=item.id,
            department_code="GA",
        )
        db.session.add(case)
        db.session.commit()
        case_no = case.case_no
        db.session.remove()
    created = post(
        client,
        api_key,
        service_code="complaint-case",
        description="超期未办结",
        **{"attribute[case_no]": case_no.lower(), "attribute[complaint_kind]": "overdue"},
    )
    assert created.status_code == 200, created.get_data(as_text=True)
    request_id = created.get_json()[0]["service_request_id"]
    ticket = client.get(f"/api/v1/hotline/tickets/{request_id}", headers=operator["headers"]).get_json()
    assert ticket["case_no"] == case_no and ticket["case"]["case_no"] == case_no and ticket["content"] == "【超期未办结】超期未办结"
    [public] = client.get(f"{V2}/requests/{request_id}.json").get_json()
    assert case_no not in str(public) and public["service_name"] == "办件投诉"


def test_the_batch_service_answers_a_token_that_resolves_once_the_ticket_exists(app, client, celery_worker, api_key):
    created = post(client, api_key, service_code="report", description="某小区违规搭建", lat="29.9", long="121.6")
    assert created.status_code == 200, created.get_data(as_text=True)
    [answer] = created.get_json()
    assert set(answer) == CREATED_BATCH and "service_request_id" not in answer
    token = answer["token"]

    def resolved():
        response = client.get(f"{V2}/tokens/{token}.json")
        assert response.status_code == 200
        [item] = response.get_json()
        assert set(item) == TOKEN_FIELDS and item["token"] == token
        return item["service_request_id"]

    request_id = wait_for(resolved, timeout=30, what="the worker to turn the report into a ticket")
    [item] = client.get(f"{V2}/requests/{request_id}.json").get_json()
    assert_request_shape(item)
    assert item["service_code"] == "report" and item["description"] == "某小区违规搭建"
    # Running the intake again (a redelivered task) makes no second ticket.
    with app.app_context():
        from sqlalchemy import func, select

        from hotline.models import Open311Submission, Ticket
        from hotline.open311.requests import intake_submission
        from mobile_api.extensions import db

        submission_id = db.session.scalar(select(Open311Submission.id).where(Open311Submission.token == token))
        assert intake_submission(submission_id) == "skipped"
        assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.ticket_no == request_id)) == 1
        db.session.remove()


def test_a_batch_request_that_cannot_become_a_ticket_says_so_at_its_token(app, client, api_key):
    with app.test_request_context():
        from sqlalchemy import select, update

        from hotline.models import Open311ApiKey, Open311Submission
        from hotline.open311.keys import key_hash
        from hotline.open311.requests import intake_submission, submit
        from mobile_api.extensions import db

        key = db.session.scalar(select(Open311ApiKey).where(Open311ApiKey.key_hash == key_hash(api_key)))
        # Submitted but not yet handed to a worker (the view publishes it; here nobody does).
        [answer], submission_id = submit(key, {"service_code": "report", "description": "举报", "address_string": "海曙区"}, {})
        # The service left the catalog before the worker got to it (here: a made-up code).
        db.session.execute(update(Open311Submission).where(Open311Submission.id == submission_id).values(service_code="withdrawn-service"))
        db.session.commit()
        assert intake_submission(submission_id) == "failed"
        assert intake_submission(submission_id) == "skipped"
        db.session.remove()
    assert_spec_error(client.get(f"{V2}/tokens/{answer['token']}.json"), 400, "withdrawn-service")
