"""The catalog: public search in Chinese, guides, admin versions that running cases do not follow."""

from __future__ import annotations

import threading

from sqlalchemy import select

from cases.models import ServiceItem
from mobile_api.extensions import db
from tests.cases.conftest import new_case
from tests.support import bearer


def test_public_search_filters_and_guide(client):
    by_keyword = client.get("/api/v1/catalog/items", query_string={"q": "身份证"}).get_json()
    assert {"330200-GA-001", "330200-GA-002"} <= {item["code"] for item in by_keyword["items"]}
    births = client.get("/api/v1/catalog/items", query_string={"category": "出生", "per_page": 100}).get_json()
    assert births["total"] >= 4 and all("出生" in item["categories"] for item in births["items"])
    enterprise = client.get("/api/v1/catalog/items", query_string={"audience": "enterprise", "department": "SCJG"}).get_json()
    assert {item["code"] for item in enterprise["items"]} == {"330200-SCJG-001", "330200-SCJG-003", "330200-SCJG-004"}
    both_words = client.get("/api/v1/catalog/items", query_string={"q": "公积金 提取"}).get_json()
    assert [item["code"] for item in both_words["items"]] == ["330200-GJJ-001"]
    assert client.get("/api/v1/catalog/items", query_string={"q": "100%_"}).get_json()["total"] == 0
    assert client.get("/api/v1/catalog/items", query_string={"q": "x" * 51}).status_code == 422
    assert client.get("/api/v1/catalog/items", query_string={"per_page": 1000}).status_code == 422
    page = client.get("/api/v1/catalog/items", query_string={"per_page": 5, "page": 2}).get_json()
    assert page["page"] == 2 and len(page["items"]) == 5 and page["total"] >= 25

    guide = client.get("/api/v1/catalog/items/330200-ZRZY-001").get_json()
    assert guide["parallel_departments"] == ["ZRZY", "SW", "ZJ"] and guide["legal_basis"].startswith("《不动产登记暂行条例》")
    assert {m["code"] for m in guide["materials"]} >= {"id_card", "property_cert"}
    assert client.get("/api/v1/catalog/items/NOPE").status_code == 404
    assert len(client.get("/api/v1/catalog/departments").get_json()) == 11


def test_admin_new_version_leaves_running_cases_on_theirs(app, client, citizen, staff):
    token = citizen["access_token"]
    code = "330200-MZ-002"
    case_no = new_case(client, token, code)
    before = client.get(f"/api/v1/catalog/items/{code}").get_json()
    changed = client.put(
        f"/api/v1/staff/catalog/items/{code}",
        json={"promised_days": 5, "keywords": ["高龄", "津贴", "百岁"]},
        headers=bearer(staff["admin"]),
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["version"] == before["version"] + 1 and changed.get_json()["promised_days"] == 5
    assert client.get("/api/v1/catalog/items", query_string={"q": "百岁"}).get_json()["items"][0]["code"] == code
    mine = client.get(f"/api/v1/cases/{case_no}", headers=bearer(token)).get_json()
    assert mine["item"]["version"] == before["version"] and mine["item"]["promised_days"] == before["promised_days"]
    assert (
        client.get(f"/api/v1/cases/{new_case(client, token, code)}", headers=bearer(token)).get_json()["item"]["version"]
        == before["version"] + 1
    )

    bad = client.put(f"/api/v1/staff/catalog/items/{code}", json={"statutory_days": 3, "promised_days": 10}, headers=bearer(staff["admin"]))
    assert bad.status_code == 422 and bad.get_json()["errors"] == {"promised_days": ["承诺时限不能超过法定时限"]}
    unknown_department = client.put(f"/api/v1/staff/catalog/items/{code}", json={"department_code": "XX"}, headers=bearer(staff["admin"]))
    assert unknown_department.status_code == 422 and unknown_department.get_json()["code"] == "department_unknown"
    assert client.put(f"/api/v1/staff/catalog/items/{code}", json={"name": "x"}, headers=bearer(staff["officer"])).status_code == 403
    assert client.put("/api/v1/staff/catalog/items/NOPE", json={"name": "x"}, headers=bearer(staff["admin"])).status_code == 404
    duplicate = client.post(
        "/api/v1/staff/catalog/items",
        headers=bearer(staff["admin"]),
        json={"code": code, "name": "重复", "department_code": "MZ", "item_type": "instant"},
    )
    assert duplicate.status_code == 409 and duplicate.get_json()["code"] == "item_exists"


def test_concurrent_edits_publish_one_version_each_and_keep_one_current(app, client, staff):
    code = "330200-GJJ-002"
    before = client.get(f"/api/v1/catalog/items/{code}").get_json()["version"]
    answers: list[tuple[int, str | None]] = []

    def publish(index: int) -> None:
        response = app.test_client().put(
            f"/api/v1/staff/catalog/items/{code}", json={"fee_notes": f"编辑{index}"}, headers=bearer(staff["admin"])
        )
        answers.append((response.status_code, None if response.status_code == 200 else response.get_json()["code"]))

    threads = [threading.Thread(target=publish, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # An edit that lost a race is refused with 409 (never a 500, never a second current version); one
    # that started after another finished publishes the next version on top of it.
    assert all(answer == (200, None) or answer == (409, "item_changed") for answer in answers), answers
    published = sum(1 for status, _ in answers if status == 200)
    assert published >= 1
    with app.app_context():
        rows = db.session.execute(select(ServiceItem.version, ServiceItem.is_current).where(ServiceItem.code == code)).all()
    versions = sorted(version for version, _ in rows)
    assert versions == list(range(1, before + published + 1))
    assert [version for version, current in rows if current] == [before + published]


def test_a_put_that_changes_nothing_publishes_no_version(app, client, staff):
    code = "330200-GA-004"
    before = client.get(f"/api/v1/catalog/items/{code}").get_json()
    headers = bearer(staff["admin"])
    empty = client.put(f"/api/v1/staff/catalog/items/{code}", json={}, headers=headers)
    assert empty.status_code == 200 and empty.get_json()["version"] == before["version"]
    same = client.put(
        f"/api/v1/staff/catalog/items/{code}", json={"name": before["name"], "promised_days": before["promised_days"]}, headers=headers
    )
    assert same.status_code == 200 and same.get_json()["version"] == before["version"]
    assert client.get(f"/api/v1/catalog/items/{code}").get_json()["version"] == before["version"]
    changed = client.put(f"/api/v1/staff/catalog/items/{code}", json={"fee_notes": before.get("fee_notes", "") + "。"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["version"] == before["version"] + 1
