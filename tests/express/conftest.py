"""Fixtures for the express tests: local SF / EMS / Kuaidi100 / WeChat Pay servers, an express worker
whose adapters point at them, citizens, staff, service items with each delivery policy, and a quick
way to take a case to "certificate issued"."""

from __future__ import annotations

import io
import os
import random
import signal
import uuid

import pytest

from tests.cases.helpers import pdf_bytes
from tests.conftest import CeleryWorker
from tests.express.fakes import FakeEMS, FakeKuaidi100, FakeSF, FakeWeChatPay
from tests.support import bearer, random_id_number, random_name, staff_token, unique_phone

SF_PARTNER, SF_CHECK_WORD = "ZMSMZJ_TEST", "check-word-0123456789abcdef"
EMS_PARTNER, EMS_SECRET = "ems-partner", "ems-secret"
K100_KEY, K100_CUSTOMER, K100_SALT = "k100-key", "K100CUSTOMER", "k100-salt"


@pytest.fixture(scope="session")
def fakes():
    servers = {
        "sf": FakeSF(SF_PARTNER, SF_CHECK_WORD),
        "ems": FakeEMS(EMS_PARTNER, EMS_SECRET),
        "k100": FakeKuaidi100(K100_KEY, K100_CUSTOMER),
        "wxpay": FakeWeChatPay(),
    }
    yield servers
    for server in servers.values():
        server.close()


def express_settings(fakes: dict, live_server: str) -> dict[str, str]:
    """The adapters of a worker (environment) and of the test app (config): all on the local fakes."""
    return {
        "EXPRESS_COURIERS": "sf,ems,local",
        "SF_API_URL": fakes["sf"].url + "/std/service",
        "SF_PARTNER_ID": SF_PARTNER,
        "SF_CHECK_WORD": SF_CHECK_WORD,
        "SF_MONTHLY_CARD": "7551234567",
        "EMS_API_URL": fakes["ems"].url + "/api/gateway",
        "EMS_PARTNER_CODE": EMS_PARTNER,
        "EMS_SECRET_KEY": EMS_SECRET,
        "EMS_SENDER_NO": "1100000000001",
        "EXPRESS_TRACKING_PROVIDER": "kuaidi100",
        "KUAIDI100_API_BASE": fakes["k100"].url,
        "KUAIDI100_KEY": K100_KEY,
        "KUAIDI100_CUSTOMER": K100_CUSTOMER,
        "KUAIDI100_SALT": K100_SALT,
        "KUAIDI100_CALLBACK_URL": live_server + "/api/v1/webhooks/express/kuaidi100",
        "HTTP_TIMEOUT_SECONDS": "3",
        "EXPRESS_BOOKING_RETRY_BASE_SECONDS": "0.2",
        **fakes["wxpay"].settings(live_server + "/api/v1/webhooks/pay/wechat"),
    }


def _typed(app, settings: dict[str, str]) -> dict:
    """Config values with the types the app's defaults have (the environment gives strings)."""
    from express import DEFAULTS

    typed = {}
    for name, value in settings.items():
        default = DEFAULTS.get(name, app.config.get(name))
        typed[name] = type(default)(value) if isinstance(default, int | float) and not isinstance(default, bool) else value
    return typed


@pytest.fixture()
def config_override(app):
    saved: dict = {}

    def override(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield override
    app.config.update(saved)


@pytest.fixture()
def configured(app, fakes, live_server, config_override):
    """This process's adapters are the local fakes (the delivery fee paid through the local sandbox unless a
    test switches to WeChat Pay); the fakes start empty."""
    fakes["sf"].reset()
    fakes["wxpay"].reset()
    config_override(**(_typed(app, express_settings(fakes, live_server)) | {"EXPRESS_PAYMENT_PROVIDER": "local"}))
    return fakes


class ExpressWorker(CeleryWorker):
    """A worker started (and restarted after kill -9) with the express adapters pointing at the fakes."""

    def __init__(self, settings: dict[str, str]) -> None:
        super().__init__()
        self.settings = settings

    def start(self) -> None:
        saved = dict(os.environ)
        os.environ.update(self.settings)
        try:
            super().start()
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _running_session_worker(request) -> CeleryWorker | None:
    fixturedefs = request._fixturemanager.getfixturedefs("celery_worker", request.node) or ()
    for fixturedef in fixturedefs:
        cached = getattr(fixturedef, "cached_result", None)
        if cached and cached[0] is not None and cached[0].process is not None:
            return cached[0]
    return None


@pytest.fixture(scope="module", autouse=True)
def paused_session_worker(request):
    """The session worker's adapters are the defaults (local courier, local tracking): it would race the
    express worker for the same queues. Paused per module, restarted afterwards."""
    worker = _running_session_worker(request)
    if worker is not None:
        worker.stop(sig=signal.SIGKILL)
    yield
    if worker is not None:
        worker.start()


@pytest.fixture(scope="module")
def express_worker(app, fakes, live_server, paused_session_worker):
    worker = ExpressWorker(express_settings(fakes, live_server))
    worker.start()
    yield worker
    worker.stop(sig=signal.SIGKILL)


# --- people ----------------------------------------------------------------------------------------


@pytest.fixture()
def make_citizen(app):
    """A citizen at real-name level 2, created directly (sign-in is tested in tests/auth), with a token."""

    def make(*, wechat: bool = True) -> dict:
        from auth.models import Account
        from auth.tokens import issue_tokens
        from mobile_api.access import CITIZEN
        from mobile_api.extensions import db

        with app.app_context():
            account = Account(
                phone=unique_phone(),
                level=2,
                name=random_name(),
                id_number=random_id_number(),
                wechat_openid=f"o-{uuid.uuid4().hex[:24]}" if wechat else None,
            )
            db.session.add(account)
            db.session.flush()
            pair = issue_tokens(CITIZEN, account.id)
            db.session.commit()
            result = {"id": account.id, "phone": account.phone, "openid": account.wechat_openid, "token": pair.access_token}
            db.session.remove()
            return result

    return make


@pytest.fixture()
def citizen(make_citizen) -> dict:
    return make_citizen()


@pytest.fixture()
def staff(app, client) -> dict:
    password = app.config["DEMO_PASSWORD"]
    return {name: staff_token(client, name, password) for name in ("admin", "prereviewer", "clerk", "officer", "supervisor", "operator")}


# --- service items with each delivery policy -------------------------------------------------------

ITEM_BASE = {
    "department_code": "GA",
    "item_type": "promised",
    "audience": "individual",
    "materials": [
        {"code": "id_card", "name": "申请人居民身份证", "formats": ["pdf"]},
        {"code": "contract", "name": "房屋租赁合同", "formats": ["pdf"]},
    ],
    "steps": ["受理", "审核", "发证"],
    "form_fields": [{"name": "contact_phone", "label": "联系电话", "type": "string", "required": True}],
    "statutory_days": 20,
    "promised_days": 5,
    "required_level": 2,
    "deliverable": True,
}


@pytest.fixture(scope="session")
def items(app):
    """Item codes by policy: ``paid`` (citizen pays the tariff), ``fixed`` (citizen pays ¥15), ``free``
    (government pays), ``cod`` (到付), ``pickup_only`` (not deliverable); ``paid`` lets ``contract`` be posted."""
    from cases import catalog
    from mobile_api.extensions import db

    suffix = f"{random.randrange(10**6):06d}"
    policies = {
        "paid": {"delivery_payer": "citizen", "postal_materials": ["contract"]},
        "fixed": {"delivery_payer": "citizen", "delivery_fee": "15.00"},
        "free": {"delivery_payer": "government"},
        "cod": {"delivery_payer": "cod"},
        "pickup_only": {"deliverable": False},
    }
    codes = {}
    with app.app_context():
        from sqlalchemy import select

        from appointments.models import Hall
        from cases.schemas import ItemWrite

        hall_ids = list(db.session.scalars(select(Hall.id).order_by(Hall.id)))  # the demo halls: the first one sends
        for name, policy in policies.items():
            code = f"330200-GA-T{name[:3].upper()}{suffix}"
            values = ItemWrite().load({"code": code, "name": f"测试事项（{name}）", **ITEM_BASE, "hall_ids": hall_ids, **policy})
            catalog.create_item(values, "test")
            codes[name] = code
        db.session.remove()
    return codes


def api(client, method: str, path: str, token: str | None = None, **kwargs):
    headers = {**kwargs.pop("headers", {}), **(bearer(token) if token else {})}
    return client.open(path, method=method, headers=headers, **kwargs)


def add_address(client, token: str, **overrides) -> dict:
    body = {
        "recipient_name": "张三丰",
        "phone": "13912345678",
        "province_code": "330000",
        "city_code": "330200",
        "district_code": "330203",
        "street": "鼓楼街道中山西路2号3幢501室",
        **overrides,
    }
    response = api(client, "POST", "/api/v1/me/addresses", token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_case(client, token: str, item_code: str) -> str:
    response = api(client, "POST", "/api/v1/cases", token, json={"item_code": item_code, "form": {"contact_phone": "13800138000"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["case_no"]


def act(client, token: str, case_no: str, action: str, **body):
    return api(client, "POST", f"/api/v1/staff/cases/{case_no}/transitions", token, json={"action": action, **body})


def accepted_case(client, token: str, staff: dict, item_code: str) -> str:
    """Applied, materials uploaded, submitted, pre-reviewed and accepted."""
    case_no = new_case(client, token, item_code)
    for code in ("id_card", "contract"):
        data = {"material_code": code, "file": (io.BytesIO(pdf_bytes(1)), f"{code}.pdf")}
        response = api(client, "POST", f"/api/v1/cases/{case_no}/materials", token, data=data, content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
    assert api(client, "POST", f"/api/v1/cases/{case_no}/submit", token).status_code == 200
    assert act(client, staff["prereviewer"], case_no, "prereview_pass").status_code == 200
    assert act(client, staff["clerk"], case_no, "accept").status_code == 200
    return case_no


def approve(client, staff: dict, case_no: str) -> None:
    for action in ("start", "approve"):
        response = act(client, staff["officer"], case_no, action)
        assert response.status_code == 200, response.get_json()


def issue(client, staff: dict, case_no: str):
    return act(client, staff["officer"], case_no, "issue_certificate", certificate={"kind": "测试证照", "valid_years": 5})


def delivery_of(app, case_no: str, direction: str = "outbound"):
    """The newest parcel of a case (a fresh read), or None."""
    from sqlalchemy import select

    from cases.models import Case
    from express.models import Delivery
    from mobile_api.extensions import db

    with app.app_context():
        parcel = db.session.scalar(
            select(Delivery)
            .join(Case, Case.id == Delivery.case_id)
            .where(Case.case_no == case_no, Delivery.direction == direction)
            .order_by(Delivery.created_at.desc())
            .limit(1)
        )
        if parcel is not None:
            db.session.expunge(parcel)
        db.session.remove()
        return parcel


def issued_and_booked(app, client, citizen: dict, staff: dict, item_code: str, courier: str = "sf", **address) -> tuple[str, object]:
    """A case of ``item_code`` whose citizen chose ``courier``, issued; waits for the worker's booking."""
    from tests.support import wait_for

    token = citizen["token"]
    case_no = accepted_case(client, token, staff, item_code)
    address_id = add_address(client, token, **address)["id"]
    chosen = api(
        client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": address_id, "courier": courier}
    )
    assert chosen.status_code == 200, chosen.get_json()
    approve(client, staff, case_no)
    issued = issue(client, staff, case_no)
    assert issued.status_code == 200, issued.get_json()
    parcel = wait_for(lambda: _booked(delivery_of(app, case_no)), timeout=30, what="waybill booked by the worker")
    return case_no, parcel


def _booked(parcel):
    return parcel if parcel is not None and parcel.waybill_no else None
