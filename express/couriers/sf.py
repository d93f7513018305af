"""SF Express open platform (顺丰开放平台), digital-signature authentication.

Every call is one form POST to ``SF_API_URL`` (``…/std/service``) with ``partnerID``, ``requestID``
(a UUID), ``serviceCode``, ``timestamp`` (milliseconds), ``msgData`` (the JSON request) and
``msgDigest = Base64(MD5(urlencode(msgData + timestamp + checkWord)))`` where ``urlencode`` is Java's
``URLEncoder.encode(…, "UTF-8")``, which the platform's own SDKs use. The answer is JSON:
``apiResultCode`` (``A1000`` when the platform accepted the call) and ``apiResultData``, a JSON *string*
holding ``success``, ``errorCode``, ``errorMsg`` and the business ``msgData``.

Booking is ``EXP_RECE_CREATE_ORDER`` with our delivery id as ``orderId``. SF keeps one order per
``orderId``: a repeated order gets that order back, or error ``8016`` (重复下单), after which we read it
with ``EXP_RECE_SEARCH_ORDER_RESP``. Either way a retried booking yields the first waybill.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from urllib.parse import quote_plus

import requests

from express.couriers.base import Booking, BookingRequest, CourierError, Party
from mobile_api.http import outbound_session
from mobile_api.settings import setting

CREATE_ORDER = "EXP_RECE_CREATE_ORDER"
SEARCH_ORDER = "EXP_RECE_SEARCH_ORDER_RESP"
DUPLICATE_ORDER = "8016"
# Platform-level answers worth trying again later: traffic limit, the target service failed, system error.
TEMPORARY_API_CODES = {"A1005", "A1009", "A1099"}
PAY_METHODS = {"account": 1, "sender": 1, "recipient": 2}  # 1 寄方付 (with monthlyCard: billed to our account), 2 收方付 (到付)


def java_urlencode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``: like quote_plus, but ``*`` stays and ``~`` is escaped."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    return base64.b64encode(hashlib.md5(java_urlencode(msg_data + timestamp + check_word).encode("utf-8")).digest()).decode("ascii")


def _contact(party: Party, contact_type: int) -> dict:
    contact = {
        "contactType": contact_type,  # 1 寄件方, 2 收件方
        "contact": party.name,
        "mobile": party.phone,
        "country": "CN",
        "province": party.province,
        "city": party.city,
        "county": party.district,
        "address": party.address,
    }
    if party.company:
        contact["company"] = party.company
    return contact


class SFCourier:
    name = "sf"
    name_zh = "顺丰速运"
    kuaidi100_code = "shunfeng"

    def __init__(self) -> None:
        self.url = setting("SF_API_URL")
        self.partner_id = setting("SF_PARTNER_ID")
        self.check_word = setting("SF_CHECK_WORD")
        self.monthly_card = setting("SF_MONTHLY_CARD")

    def book(self, request: BookingRequest) -> Booking:
        order = {
            "language": "zh-CN",
            "orderId": request.order_ref,
            "cargoDetails": [{"name": request.description, "count": 1}],
            "contactInfoList": [_contact(request.sender, 1), _contact(request.recipient, 2)],
            "expressTypeId": 1,  # 顺丰特快
            "payMethod": PAY_METHODS[request.pay_method],
            "parcelQty": 1,
            "isDocall": 1 if request.pickup else 0,  # send a courier to the sender
            "isReturnRoutelabel": 1,
        }
        if self.monthly_card and request.pay_method == "account":
            order["monthlyCard"] = self.monthly_card
        try:
            data = self.call(CREATE_ORDER, order)
        except CourierError as error:
            if error.code == DUPLICATE_ORDER:
                data = self.call(SEARCH_ORDER, {"orderId": request.order_ref, "searchType": "1", "language": "zh-CN"})
            else:
                raise
        return Booking(waybill_no=_waybill(data), raw=data)

    def call(self, service_code: str, msg: dict) -> dict:
        """One platform call; returns the business ``msgData`` or raises ``CourierError``."""
        msg_data = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        form = {
            "partnerID": self.partner_id,
            "requestID": uuid.uuid4().hex,
            "serviceCode": service_code,
            "timestamp": timestamp,
            "msgDigest": msg_digest(msg_data, timestamp, self.check_word),
            "msgData": msg_data,
        }
        try:
            response = outbound_session().post(self.url, data=form)
        except requests.RequestException as exc:
            raise CourierError(f"顺丰接口无法连接：{type(exc).__name__}", temporary=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise CourierError(f"顺丰接口暂时不可用（HTTP {response.status_code}）", temporary=True)
        try:
            answer = response.json()
        except ValueError:
            raise CourierError(f"顺丰接口应答不是 JSON（HTTP {response.status_code}）", temporary=True) from None
        return _business_data(answer)


def _business_data(answer: dict) -> dict:
    code = answer.get("apiResultCode")
    if code != "A1000":
        message = f"{code}: {answer.get('apiErrorMsg') or '顺丰接口拒绝了请求'}"
        raise CourierError(message, temporary=code in TEMPORARY_API_CODES, code=str(code))
    try:
        result = json.loads(answer.get("apiResultData") or "{}")
    except ValueError:
        raise CourierError("顺丰接口应答格式不正确", temporary=True) from None
    if not result.get("success"):
        error_code = str(result.get("errorCode") or "")
        raise CourierError(f"{error_code}: {result.get('errorMsg') or '下单失败'}", temporary=False, code=error_code)
    return result.get("msgData") or {}


def _waybill(data: dict) -> str:
    for info in data.get("waybillNoInfoList") or []:
        if info.get("waybillType", 1) == 1 and info.get("waybillNo"):  # 1: the parcel's own waybill (母单)
            return str(info["waybillNo"])
    raise CourierError("顺丰没有返回运单号", temporary=True)
