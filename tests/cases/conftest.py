"""Fixtures for the cases tests: signed-in citizens, staff tokens, and a quick way to reach a state."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cases.helpers import city_date, pdf_bytes
from tests.support import bearer, sign_in_level2, staff_token

SIMPLE_ITEM = "330200-GA-004"  # 居住证申领: GA, level 2, 7 promised working days, three materials
SIMPLE_MATERIALS = ("id_card", "photo", "residence_proof")


@pytest.fixture()
def citizen(app, client, celery_worker) -> dict:
    return sign_in_level2(app, client)


@pytest.fixture()
def staff(app, client) -> dict:
    password = app.config["DEMO_PASSWORD"]
    return {name: staff_token(client, name, password) for name in ("admin", "prereviewer", "clerk", "officer", "supervisor", "operator")}


def new_case(client, token: str, item_code: str = SIMPLE_ITEM, form: dict | None = None) -> str:
    response = client.post(
        "/api/v1/cases", json={"item_code": item_code, "form": form or {"contact_phone": "13800138000"}}, headers=bearer(token)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["case_no"]


def upload(client, token: str, case_no: str, material_code: str, data: bytes, filename: str = "file.pdf"):
    return client.post(
        f"/api/v1/cases/{case_no}/materials",
        headers=bearer(token),
        data={"material_code": material_code, "file": (__import__("io").BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def act(client, token: str, case_no: str, action: str, **body):
    return client.post(f"/api/v1/staff/cases/{case_no}/transitions", json={"action": action, **body}, headers=bearer(token))


def accepted_case(app, client, token: str, staff: dict, accepted_on: date) -> str:
    """A GA-004 case submitted, pre-reviewed and accepted on ``accepted_on`` (sandbox clock)."""
    with city_date(app, accepted_on):
        case_no = new_case(client, token)
        for code in SIMPLE_MATERIALS:
            assert upload(client, token, case_no, code, pdf_bytes(1)).status_code == 201
        assert client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(token)).status_code == 200
        assert act(client, staff["prereviewer"], case_no, "prereview_pass").status_code == 200
        response = act(client, staff["clerk"], case_no, "accept")
        assert response.status_code == 200, response.get_json()
    return case_no
