"""HTTP: addresses and regions, delivery choice and payment, parcels (citizen and hall), webhooks, sandbox."""

from __future__ import annotations

import logging

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from express import service
from express.payments import NoticeRejected
from express.schemas import (
    AddressList,
    AddressSchema,
    AddressWrite,
    CheckoutSchema,
    DeliveryChoiceRequest,
    DeliveryChoiceSchema,
    DeliveryPage,
    DeliverySchema,
    HandoverRequest,
    InboundRequest,
    PushAnswer,
    ReceiptRequest,
    RedeliveryRequest,
    RedeliveryResult,
    RegionList,
    RegionQuery,
    SandboxPaid,
    StaffDeliveryPage,
    StaffDeliveryQuery,
    StaffDeliverySchema,
    StaffRead,
)
from express.tracking import PushRejected
from mobile_api.access import current_account, current_staff, requires
from mobile_api.errors import Problem
from mobile_api.idempotency import idempotent
from mobile_api.openapi import errors_documented_as
from mobile_api.pagination import PageArgs
from mobile_api.roles import SUPERVISOR, WINDOW_CLERK

log = logging.getLogger(__name__)

regions_blp = Blueprint("express_regions", __name__, url_prefix="/api/v1/regions", description="省市区（GB/T 2260 行政区划代码）")
addresses_blp = Blueprint("express_addresses", __name__, url_prefix="/api/v1/me/addresses", description="我的收货地址")
case_delivery_blp = Blueprint("express_cases", __name__, url_prefix="/api/v1/cases", description="证照领取方式、快递费、上门取件")
my_deliveries_blp = Blueprint("express_my_deliveries", __name__, url_prefix="/api/v1/me/deliveries", description="我的快递")
staff_deliveries_blp = Blueprint("express_staff", __name__, url_prefix="/api/v1/staff/deliveries", description="证照快递：交寄、面单、收件")
webhooks_blp = Blueprint("express_webhooks", __name__, url_prefix="/api/v1/webhooks", description="快递100轨迹推送、微信支付通知")
sandbox_blp = Blueprint("express_sandbox", __name__, url_prefix="/api/v1/sandbox", description="沙箱：本地支付（仅非生产环境）")

BLUEPRINTS = (regions_blp, addresses_blp, case_delivery_blp, my_deliveries_blp, staff_deliveries_blp, webhooks_blp)
HALL_ROLES = [WINDOW_CLERK, SUPERVISOR]


# ------------------------------------------------------------------ regions and addresses
@regions_blp.route("", methods=["GET"])
@regions_blp.arguments(RegionQuery, location="query")
@regions_blp.response(200, RegionList)
def list_regions(args: dict):
    """Provinces; ``?province=`` its cities; ``?city=`` its districts (GB/T 2260 codes)."""
    return service.regions_below(args.get("province"), args.get("city"))


@addresses_blp.route("", methods=["GET"])
@requires(level=1)
@addresses_blp.response(200, AddressList)
def list_addresses():
    """The citizen's delivery addresses (masked), the default first."""
    return {"items": service.list_addresses(current_account().id)}


@addresses_blp.route("", methods=["POST"])
@requires(level=1)
@idempotent
@addresses_blp.arguments(AddressWrite)
@addresses_blp.response(201, AddressSchema)
def create_address(args: dict):
    """Add an address; name, mobile and street are stored encrypted and answered masked."""
    return service.create_address(current_account().id, args)


@addresses_blp.route("/<address_id>", methods=["PUT"])
@requires(level=1)
@addresses_blp.arguments(AddressWrite)
@addresses_blp.response(200, AddressSchema)
def update_address(args: dict, address_id: str):
    """Change one of the citizen's addresses (another citizen's is a 404)."""
    return service.update_address(current_account().id, address_id, args)


@addresses_blp.route("/<address_id>", methods=["DELETE"])
@requires(level=1)
@addresses_blp.response(204)
def delete_address(address_id: str):
    """Remove one of the citizen's addresses."""
    service.delete_address(current_account().id, address_id)


# ------------------------------------------------------------------ a case's delivery
@case_delivery_blp.route("/<case_no>/delivery", methods=["PUT"])
@requires(level=1)
@case_delivery_blp.arguments(DeliveryChoiceRequest)
@case_delivery_blp.response(200, DeliveryChoiceSchema)
def choose_delivery(args: dict, case_no: str):
    """Courier or window pickup, at application time or any time before collection; answers the fee
    quote (by item, courier and region) and the payment state."""
    return service.choose_delivery(current_account(), case_no, args["method"], args.get("address_id"), args.get("courier"))


@case_delivery_blp.route("/<case_no>/delivery", methods=["GET"])
@requires(level=1)
@case_delivery_blp.response(200, DeliveryChoiceSchema)
def get_delivery(case_no: str):
    """The case's delivery choice, fee quote and payment state."""
    return service.get_choice(current_account(), case_no)


@case_delivery_blp.route("/<case_no>/delivery/payments", methods=["POST"])
@requires(level=1)
@idempotent
@case_delivery_blp.response(201, CheckoutSchema)
def pay_delivery(case_no: str):
    """Start paying the fee: WeChat Pay JSAPI parameters for ``wx.requestPayment`` (or the sandbox link)."""
    return service.start_payment(current_account(), case_no)


@case_delivery_blp.route("/<case_no>/inbound-deliveries", methods=["POST"])
@requires(level=1)
@idempotent
@case_delivery_blp.arguments(InboundRequest)
@case_delivery_blp.response(201, DeliverySchema)
def book_inbound(args: dict, case_no: str):
    """Book a courier to pick paper originals up at the citizen's address and bring them to the hall."""
    return service.book_inbound(current_account(), case_no, args["address_id"], args["material_codes"], args.get("courier"))


# ------------------------------------------------------------------ the citizen's parcels
@my_deliveries_blp.route("", methods=["GET"])
@requires(level=1)
@my_deliveries_blp.arguments(PageArgs, location="query")
@my_deliveries_blp.response(200, DeliveryPage)
def my_deliveries(args: dict):
    """The citizen's parcels, newest first, with their tracking."""
    return service.my_deliveries(current_account().id, args["page"], args["per_page"])


@my_deliveries_blp.route("/<delivery_id>", methods=["GET"])
@requires(level=1)
@my_deliveries_blp.response(200, DeliverySchema)
def my_delivery(delivery_id: str):
    """One of the citizen's parcels with its tracking."""
    return service.my_delivery(current_account().id, delivery_id)


@my_deliveries_blp.route("/<delivery_id>/redelivery", methods=["POST"])
@requires(level=1)
@idempotent
@my_deliveries_blp.arguments(RedeliveryRequest)
@my_deliveries_blp.response(201, RedeliveryResult)
def redeliver(args: dict, delivery_id: str):
    """After an exception, refusal or return: send again, or collect at the window."""
    return service.redeliver(current_account(), delivery_id, args["method"], args.get("address_id"))


# ------------------------------------------------------------------ the hall
@staff_deliveries_blp.route("", methods=["GET"])
@requires(roles=HALL_ROLES)
@staff_deliveries_blp.arguments(StaffDeliveryQuery, location="query")
@staff_deliveries_blp.response(200, StaffDeliveryPage)
def staff_list(args: dict):
    """Parcels of my halls: failed ones first, then stuck ones (no news for ``EXPRESS_STALE_HOURS``)."""
    return service.staff_list(
        current_staff(),
        status=args.get("status"),
        hall=args.get("hall"),
        direction=args.get("direction"),
        page=args["page"],
        per_page=args["per_page"],
    )


@staff_deliveries_blp.route("/<delivery_id>", methods=["GET"])
@requires(roles=HALL_ROLES)
@staff_deliveries_blp.arguments(StaffRead, location="query")
@staff_deliveries_blp.response(200, StaffDeliverySchema)
def staff_read(args: dict, delivery_id: str):
    """One parcel for hall staff, recipient masked; the read is audited."""
    return service.staff_read(current_staff(), delivery_id, args.get("reason"))


@staff_deliveries_blp.route("/<delivery_id>/handover", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_deliveries_blp.arguments(HandoverRequest)
@staff_deliveries_blp.response(200, StaffDeliverySchema)
def handover(args: dict, delivery_id: str):
    """Hand the parcel to the courier: the scanned waybill number must be this parcel's."""
    return service.handover(current_staff(), delivery_id, args["waybill_no"])


@staff_deliveries_blp.route("/<delivery_id>/label", methods=["GET"])
@requires(roles=[WINDOW_CLERK])
@staff_deliveries_blp.response(200, content_type="application/pdf")
def label(delivery_id: str):
    """The label PDF: Code 128 barcode of the waybill number, the sending hall, the recipient masked."""
    pdf, filename = service.staff_label(current_staff(), delivery_id)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@staff_deliveries_blp.route("/<delivery_id>/receipt", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_deliveries_blp.arguments(ReceiptRequest)
@staff_deliveries_blp.response(200, StaffDeliverySchema)
def receive(args: dict, delivery_id: str):
    """Confirm the posted paper originals arrived: they satisfy those materials for pre-review."""
    return service.receive_originals(current_staff(), delivery_id, args.get("material_codes"))


@staff_deliveries_blp.route("/<delivery_id>/rebook", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_deliveries_blp.response(200, StaffDeliverySchema)
def rebook(delivery_id: str):
    """Try the courier again after a booking gave up."""
    return service.rebook(current_staff(), delivery_id)


# ------------------------------------------------------------------ webhooks
def _push_answer(status: int, result: bool, message: str) -> Response:
    response = jsonify(result=result, returnCode=str(status), message=message)
    response.status_code = status
    return response


@webhooks_blp.route("/express/kuaidi100", methods=["POST"])
@errors_documented_as(
    "application/json",
    {"type": "object", "properties": {"result": {"type": "boolean"}, "returnCode": {"type": "string"}, "message": {"type": "string"}}},
    "Kuaidi100's acknowledgement: result false (a 5xx asks it to push again)",
)
@webhooks_blp.response(200, PushAnswer)
def kuaidi100_push():
    """Kuaidi100 subscription push: form ``param`` + ``sign = upper(MD5(param + salt))``.

    ``result: false`` (with a 5xx) asks Kuaidi100 to push again; a bad signature is 401 and logged."""
    if (request.content_length or 0) > current_app.config["EXPRESS_PUSH_MAX_BYTES"]:
        return _push_answer(413, False, "推送内容过大")
    param, sign = request.form.get("param", ""), request.form.get("sign", "")
    if "\x00" in param:
        return _push_answer(400, False, "推送内容含有无效字符")
    try:
        outcome = service.ingest_push(param, sign)
    except PushRejected as rejected:
        if rejected.status == 401:
            log.warning("kuaidi100 push refused: bad signature (from %s)", request.remote_addr)
        return _push_answer(rejected.status, False, str(rejected))
    except (Problem, SQLAlchemyError) as exc:  # a concurrent case change, a database hiccup: push again
        log.warning("kuaidi100 push not applied, asking for a retry: %s", exc)
        return _push_answer(500, False, "处理失败，请重试")
    return _push_answer(200, True, "成功" if outcome["known"] else "成功（运单不存在）")


@webhooks_blp.route("/pay/wechat", methods=["POST"])
@errors_documented_as(
    "application/json",
    {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    "WeChat Pay's acknowledgement: code FAIL, so WeChat Pay notifies again",
    statuses=(400, 401, 500),  # a 404 (WeChat Pay not enabled here) is ours: problem+json
)
def wechat_pay_notice():
    """WeChat Pay v3 notification: platform signature verified, resource decrypted, applied once (204)."""
    try:
        service.handle_wechat_notice(request.headers, request.get_data(cache=True))
    except NoticeRejected as rejected:
        log.warning("wechat pay notice refused: %s (from %s)", rejected, request.remote_addr)
        response = jsonify(code="FAIL", message="签名验证失败")
        response.status_code = 401
        return response
    except Problem as problem:
        if problem.status == 404 and problem.code == "not_found":
            raise
        log.error("wechat pay notice not applied: %s", problem)
        response = jsonify(code="FAIL", message=problem.title)
        response.status_code = 400 if problem.status < 500 else 500
        return response
    return Response(status=204)


# ------------------------------------------------------------------ sandbox (SANDBOX_MODE only)
@sandbox_blp.route("/payments/<payment_id>/pay", methods=["POST"])
@requires(level=1)
@sandbox_blp.response(200, SandboxPaid)
def sandbox_pay(payment_id: str):
    """The local provider's checkout: mark my pending payment paid (the same apply-once path as WeChat Pay)."""
    return service.sandbox_pay_own(current_account().id, payment_id)
