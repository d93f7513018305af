"""The whole journey over real HTTP: browse, apply, upload, pre-review return, resubmit, pass, accept,
parallel approval by two departments, suspension and resume (across National Day and into 2027),
approve, certificate (reused by a later application), rating with rectification, notifications."""

from __future__ import annotations

import random
import re
from datetime import date

import requests
from sqlalchemy import select

from tests.cases.helpers import city_date, jpeg_bytes, pdf_bytes
from tests.support import bearer, sign_in_level2, staff_token, wait_for

ITEM = {
    "name": "商品房预售资金监管备案（并联）",
    "department_code": "ZRZY",
    "item_type": "promised",
    "audience": "individual",
    "categories": ["购房"],
    "keywords": ["预售资金", "监管备案"],
    "legal_basis": "《城市商品房预售管理办法》",
    "acceptance_conditions": "申请人身份真实、材料齐全",
    "materials": [
        {"code": "id_card", "name": "申请人居民身份证", "formats": ["jpg", "png"], "certificate_kind": "居民身份证"},
        {"code": "contract", "name": "监管协议", "formats": ["pdf"]},
        {"code": "floor_plan", "name": "分户平面图", "required": False},
    ],
    "steps": ["受理", "审核", "登簿", "发证"],
    "form_fields": [
        {"name": "contact_phone", "label": "联系电话", "type": "string", "required": True},
        {"name": "price", "label": "成交价格（元）", "type": "number", "required": True},
    ],
    "statutory_days": 30,
    "promised_days": 20,
    "required_level": 2,
    "fully_online": True,
    "needs_visit": False,
    "parallel_departments": ["ZRZY", "SW"],
}

CASE_NO = re.compile(r"^NB\d{4}-[2-9A-HJKMNP-Z]{5}$")


class Http:
    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def __call__(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **(bearer(token) if token else {})}
        return self.session.request(method, self.base + path, headers=headers, timeout=15, **kwargs)


def _act(http, token, case_no, action, **body):
    return http("POST", f"/api/v1/staff/cases/{case_no}/transitions", token, json={"action": action, **body})


def test_whole_case_journey(app, client, live_server, celery_worker):
    http = Http(live_server)
    password = app.config["DEMO_PASSWORD"]
    admin, prereviewer, clerk = (staff_token(client, name, password) for name in ("admin", "prereviewer", "clerk"))
    officer, supervisor = staff_token(client, "officer", password), staff_token(client, "supervisor", password)
    tax_officer_name = f"sw{random.randrange(10**6)}"
    with app.app_context():
        from auth.service import create_staff

        create_staff(tax_officer_name, password, ["officer"], "税务审批人员", ["SW"], [])
    tax_officer = staff_token(client, tax_officer_name, password)

    # --- catalog: an admin publishes an item; citizens find it in Chinese without signing in
    code = f"330200-ZRZY-9{random.randrange(100):02d}"
    created = http("POST", "/api/v1/staff/catalog/items", admin, json={"code": code, **ITEM})
    assert created.status_code == 201, created.text
    assert http("POST", "/api/v1/staff/catalog/items", prereviewer, json={"code": code + "X", **ITEM}).status_code == 403
    found = http("GET", "/api/v1/catalog/items", params={"q": "预售资金", "category": "购房"}).json()
    assert [item["code"] for item in found["items"]] == [code]
    guide = http("GET", f"/api/v1/catalog/items/{code}").json()
    assert guide["promised_days"] == 20 and [m["code"] for m in guide["materials"]] == ["id_card", "contract", "floor_plan"]

    citizen = sign_in_level2(app, client)
    token, phone = citizen["access_token"], citizen["phone"]

    # --- apply: the form is checked against the item's fields, every error at once
    bad = http("POST", "/api/v1/cases", token, json={"item_code": code, "form": {"contact_phone": "13800138000", "colour": "red"}})
    assert bad.status_code == 422 and set(bad.json()["errors"]["form"]) == {"price", "colour"}
    with city_date(app, date(2026, 9, 10)):
        response = http(
            "POST", "/api/v1/cases", token, json={"item_code": code, "form": {"contact_phone": "13800138000", "price": 1_250_000}}
        )
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    assert CASE_NO.match(case_no) and case_no.startswith("NB2609-") and response.json()["status"] == "draft"

    # Submitting with nothing uploaded lists every missing required material in one answer (一次性告知).
    incomplete = http("POST", f"/api/v1/cases/{case_no}/submit", token)
    assert incomplete.status_code == 422
    assert {p["material_code"] for p in incomplete.json()["errors"]} == {"id_card", "contract"}

    # --- upload: a sideways phone photo is turned upright; a PDF is page-counted; wrong types refused
    photo = http(
        "POST",
        f"/api/v1/cases/{case_no}/materials",
        token,
        data={"material_code": "id_card"},
        files={"file": ("id.jpg", jpeg_bytes(800, 600, orientation=6), "image/jpeg")},
    )
    assert photo.status_code == 201, photo.text
    assert photo.json()["check"].items() >= {"width": 600, "height": 800, "orientation_fixed": True}.items() and photo.json()["check_ok"]
    wrong = http(
        "POST",
        f"/api/v1/cases/{case_no}/materials",
        token,
        data={"material_code": "contract"},
        files={"file": ("c.jpg", jpeg_bytes(), "image/jpeg")},
    )
    assert wrong.status_code == 415 and wrong.json()["code"] == "format_not_accepted"
    contract = http(
        "POST",
        f"/api/v1/cases/{case_no}/materials",
        token,
        data={"material_code": "contract"},
        files={"file": ("contract.pdf", pdf_bytes(3), "application/pdf")},
    )
    assert contract.status_code == 201 and contract.json()["check"]["pages"] == 3

    # --- submit, with a retried request answered from the idempotency store
    with city_date(app, date(2026, 9, 10)):
        submitted = http("POST", f"/api/v1/cases/{case_no}/submit", token, headers={"Idempotency-Key": "submit-1"})
        replay = http("POST", f"/api/v1/cases/{case_no}/submit", token, headers={"Idempotency-Key": "submit-1"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "prereview_pending"
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == submitted.json()
    detail = http("GET", f"/api/v1/cases/{case_no}", token).json()
    assert detail["prereview_due_on"] == "2026-09-11"

    # --- pre-review returns the contract with a reason; the citizen fixes only that and resubmits
    listed = http("GET", "/api/v1/staff/cases", prereviewer, params={"status": "prereview_pending", "per_page": 100}).json()
    assert case_no in [item["case_no"] for item in listed["items"]]
    wrong_state = _act(http, officer, case_no, "approve")
    assert wrong_state.status_code == 409 and "prereview_pass" not in wrong_state.json()["allowed_actions"]
    assert _act(http, prereviewer, case_no, "prereview_return", issues=[]).status_code == 422
    returned = _act(
        http,
        prereviewer,
        case_no,
        "prereview_return",
        note="请补充",
        issues=[{"material_code": "contract", "reason": "监管协议缺少双方签字页"}],
    )
    assert returned.status_code == 200 and returned.json()["status"] == "prereview_returned"
    mine = http("GET", f"/api/v1/cases/{case_no}", token).json()
    assert mine["returned_issues"] == [{"material_code": "contract", "name": "监管协议", "reason": "监管协议缺少双方签字页"}]
    not_returned = http(
        "POST",
        f"/api/v1/cases/{case_no}/materials",
        token,
        data={"material_code": "id_card"},
        files={"file": ("id.jpg", jpeg_bytes(), "image/jpeg")},
    )
    assert not_returned.status_code == 409 and not_returned.json()["code"] == "material_not_returned"
    unchanged = http("POST", f"/api/v1/cases/{case_no}/submit", token)
    assert unchanged.status_code == 422 and [p["material_code"] for p in unchanged.json()["errors"]] == ["contract"]
    assert (
        http(
            "POST",
            f"/api/v1/cases/{case_no}/materials",
            token,
            data={"material_code": "contract"},
            files={"file": ("signed.pdf", pdf_bytes(4), "application/pdf")},
        ).status_code
        == 201
    )
    with city_date(app, date(2026, 9, 11)):
        resubmitted = http("POST", f"/api/v1/cases/{case_no}/submit", token)
    assert resubmitted.json()["status"] == "resubmitted"
    passed = _act(http, prereviewer, case_no, "prereview_pass")
    assert passed.status_code == 200 and passed.json()["status"] == "prereview_passed"

    # --- accept on Mon 14 Sep 2026: 20 working days across Mid-autumn and National Day → Fri 16 Oct
    with city_date(app, date(2026, 9, 14)):
        accepted = _act(http, clerk, case_no, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["due_on"] == "2026-10-16" and accepted.json()["due_provisional"] is False
    assert {t["department_code"] for t in accepted.json()["approval_tasks"]} == {"ZRZY", "SW"}
    with city_date(app, date(2026, 9, 15)):
        assert _act(http, officer, case_no, "start").json()["current_step"] == "审核"

    # --- parallel approval: each department does its own task; approval waits for both
    pending = _act(http, officer, case_no, "approve")
    assert pending.status_code == 409 and set(pending.json()["pending_departments"]) == {"ZRZY", "SW"}
    assert _act(http, tax_officer, case_no, "complete_task", department="ZRZY").status_code == 403
    assert _act(http, tax_officer, case_no, "approve").status_code == 403  # the case belongs to ZRZY
    with city_date(app, date(2026, 9, 16)):
        tax_done = _act(http, tax_officer, case_no, "complete_task", department="SW", note="完税信息已核验")
    assert tax_done.status_code == 200, tax_done.text
    assert _act(http, tax_officer, case_no, "complete_task", department="SW").status_code == 409

    # --- suspension (补正) on Fri 18 Sep: 16 working days left; resume on Thu 10 Dec → Fri 1 Jan 2027
    with city_date(app, date(2026, 9, 18)):
        assert _act(http, officer, case_no, "suspend").status_code == 422  # the citizen must be told what
        suspended = _act(http, officer, case_no, "suspend", note="请补充购房资金来源说明")
        assert suspended.json()["status"] == "suspended"
        assert http("GET", f"/api/v1/cases/{case_no}", token).json()["working_days_left"] == 16
    with city_date(app, date(2026, 12, 10)):
        resumed = _act(http, officer, case_no, "resume", note="已补正")
        assert resumed.json()["due_on"] == "2027-01-01" and resumed.json()["due_provisional"] is True
        view = http("GET", f"/api/v1/cases/{case_no}", token).json()
        assert view["working_days_left"] == 16 and view["predicted_completion_on"] == "2027-01-01"
        assert _act(http, officer, case_no, "note", internal_note="内部：资金来源已电话核实").status_code == 200
    with city_date(app, date(2026, 12, 11)):
        assert _act(http, officer, case_no, "complete_task", department="ZRZY").status_code == 200
    with city_date(app, date(2026, 12, 14)):
        approved = _act(http, officer, case_no, "approve", note="准予备案")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    # --- certificate into the library; a later application reuses it instead of an upload
    with city_date(app, date(2026, 12, 15)):
        issued = _act(http, officer, case_no, "issue_certificate", certificate={"kind": "不动产权证书", "valid_years": 5})
    assert issued.status_code == 200 and issued.json()["status"] == "certificate_issued"
    certificates = http("GET", "/api/v1/me/certificates", token).json()["items"]
    assert [(c["kind"], c["valid"], c["valid_until"]) for c in certificates] == [("不动产权证书", True, "2031-12-14")]
    assert certificates[0]["holder_name"] == citizen["name"][0] + "*" * (len(citizen["name"]) - 1)
    assert _act(http, clerk, case_no, "deliver", note="EMS 1234567890").json()["status"] == "delivered"
    assert _act(http, clerk, case_no, "close").json()["status"] == "closed"

    mortgage = http("POST", "/api/v1/cases", token, json={"item_code": "330200-ZRZY-002", "form": {"contact_phone": "13800138000"}}).json()
    too_early = http("POST", f"/api/v1/cases/{mortgage['case_no']}/rating", token, json={"level": 5})
    assert too_early.status_code == 409 and too_early.json()["code"] == "not_finished"
    for material in ("id_card", "loan_contract"):
        uploaded = http(
            "POST",
            f"/api/v1/cases/{mortgage['case_no']}/materials",
            token,
            data={"material_code": material},
            files={"file": (f"{material}.pdf", pdf_bytes(1), "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
    assert http("POST", f"/api/v1/cases/{mortgage['case_no']}/submit", token).status_code == 200
    reused = {m["material_code"]: m for m in http("GET", f"/api/v1/cases/{mortgage['case_no']}", token).json()["materials"]}
    assert reused["property_cert"]["source"] == "certificate" and reused["property_cert"]["status"] == "ok"

    # --- the citizen's timeline: every visible step, never an internal note
    timeline_text = http("GET", f"/api/v1/cases/{case_no}", token).text
    assert "内部" not in timeline_text
    actions = [event["action"] for event in http("GET", f"/api/v1/cases/{case_no}", token).json()["timeline"]]
    assert actions[:6] == ["create", "submit", "prereview_return", "resubmit", "prereview_pass", "accept"]
    assert {"suspend", "resume", "approve", "issue_certificate", "deliver", "close"} <= set(actions) and "note" not in actions
    staff_view = http("GET", f"/api/v1/staff/cases/{case_no}", officer, params={"reason": "复核"}).json()
    assert any(e["internal_note"] == "内部：资金来源已电话核实" for e in staff_view["timeline"])

    # --- rating: once; 不满意 opens a rectification for the department; the citizen hears the outcome
    rating = http("POST", f"/api/v1/cases/{case_no}/rating", token, json={"level": 2, "comment": "等待时间太长"})
    assert rating.status_code == 201 and rating.json()["rectification"] is True
    assert http("POST", f"/api/v1/cases/{case_no}/rating", token, json={"level": 5}).json()["code"] == "already_rated"
    open_rectifications = http("GET", "/api/v1/staff/rectifications", supervisor).json()["items"]
    rectification = next(r for r in open_rectifications if r["department_code"] == "ZRZY")
    done = http("POST", f"/api/v1/staff/rectifications/{rectification['id']}", officer, json={"outcome": "已优化并联流程，缩短等待"})
    assert done.status_code == 200 and done.json()["outcome"]

    # --- another citizen sees nothing of it
    other = sign_in_level2(app, client)["access_token"]
    assert http("GET", f"/api/v1/cases/{case_no}", other).status_code == 404
    assert http("POST", f"/api/v1/cases/{case_no}/rating", other, json={"level": 1}).status_code == 404
    assert (
        http(
            "POST",
            f"/api/v1/cases/{case_no}/materials",
            other,
            data={"material_code": "contract"},
            files={"file": ("x.pdf", pdf_bytes(1), "application/pdf")},
        ).status_code
        == 404
    )
    assert case_no not in http("GET", "/api/v1/cases", other).text

    # --- audit rows for staff reads and changes; SMS for every visible transition
    with app.app_context():
        from mobile_api.extensions import db
        from mobile_api.models import AuditEvent

        audited = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == case_no)))
        assert {
            "case.read",
            "case.prereview_return",
            "case.accept",
            "case.complete_task",
            "case.suspend",
            "case.resume",
            "case.approve",
            "case.issue_certificate",
            "case.rectified",
        } <= audited

    fragments = (
        "已提交",
        "预审未通过",
        "监管协议缺少双方签字页",
        "已重新提交",
        "已通过预审",
        "已受理，承诺在2026年10月16日前办结",
        "需要补正",
        "办结期限调整为2027年1月1日",
        "审批通过",
        "已开始办理，当前环节：审核",
        "国家税务总局市税务局已完成审核，还有1个部门在办理",
        "并联审批已全部完成",
        "证照已制发",
        "寄出",
        "已归档",
        "整改结果",
    )

    def all_case_messages():
        items = http("GET", "/api/v1/sandbox/messages", params={"phone": phone, "per_page": 100}).json()["items"]
        texts = "\n".join(item["content"] for item in items if case_no in item["content"])
        return texts if all(fragment in texts for fragment in fragments) else None

    texts = wait_for(all_case_messages, timeout=60, what="an SMS for every citizen-visible transition")
    # One message per citizen-visible transition (the return notice carries two of the fragments), none twice.
    assert texts.count("【掌上市民之家】") == len(fragments) - 1
