"""China Post EMS (中国邮政速递物流) order interface, in the shape of its open platform.

One form POST to ``EMS_API_URL`` with ``partner_code``, ``msg_type`` (``ORDERCREATE``), ``timestamp``,
``logistics_interface`` (the JSON order) and ``data_digest = Base64(MD5(logistics_interface +
secret_key))``. The answer is JSON ``{"success": "true"|"false", "retCode", "retMsg", "retBody"}``
with ``retBody.waybillNo``. EMS keeps one order per ``logisticsOrderNo`` (our delivery id): a repeated
order answers ``B00007`` (订单已存在) with the existing waybill in ``retBody``, so a retried booking
yields the first waybill. Field names follow the contract documentation the city receives with its EMS
account; check them against it when the account is opened (the tests speak exactly this shape).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

import requests

from express.couriers.base import Booking, BookingRequest, CourierError, Party
from mobile_api.http import outbound_session
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ

ORDER_EXISTS = "B00007"
TEMPORARY_CODES = {"S00001", "S00002"}  # system busy, rate limited


def data_digest(logistics_interface: str, secret_key: str) -> str:
    return base64.b64encode(hashlib.md5((logistics_interface + secret_key).encode("utf-8")).digest()).decode("ascii")


def _party(party: Party) -> dict:
    return {
        "name": party.name,
        "mobile": party.phone,
        "prov": party.province,
        "city": party.city,
        "county": party.district,
        "address": party.address,
        "company": party.company,
    }


class EMSCourier:
    name = "ems"
    name_zh = "中国邮政EMS"
    kuaidi100_code = "ems"

    def __init__(self) -> None:
        self.url = setting("EMS_API_URL")
        self.partner_code = setting("EMS_PARTNER_CODE")
        self.secret_key = setting("EMS_SECRET_KEY")
        self.sender_no = setting("EMS_SENDER_NO")

    def book(self, request: BookingRequest) -> Booking:
        order = {
            "logisticsOrderNo": request.order_ref,
            "senderNo": self.sender_no,
            "bizProductNo": "1",  # 标准快递
            "paymentMode": "2" if request.pay_method == "recipient" else "1",  # 1 寄件人付, 2 收件人付（到付）
            "settlementAccount": self.sender_no if request.pay_method == "account" else "",  # 月结 to our account
            "collectPayment": request.cod_cents,
            "contentsAttribute": "1",  # 文件
            "cargoName": request.description,
            "pickupType": "1" if request.pickup else "0",  # 1: 上门揽收
            "sender": _party(request.sender),
            "receiver": _party(request.recipient),
        }
        logistics_interface = json.dumps(order, ensure_ascii=False, separators=(",", ":"))
        form = {
            "partner_code": self.partner_code,
            "msg_type": "ORDERCREATE",
            "timestamp": datetime.now(CITY_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            "logistics_interface": logistics_interface,
            "data_digest": data_digest(logistics_interface, self.secret_key),
        }
        try:
            response = outbound_session().post(self.url, data=form)
        except requests.RequestException as exc:
            raise CourierError(f"EMS 接口无法连接：{type(exc).__name__}", temporary=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise CourierError(f"EMS 接口暂时不可用（HTTP {response.status_code}）", temporary=True)
        try:
            answer = response.json()
        except ValueError:
            raise CourierError(f"EMS 接口应答不是 JSON（HTTP {response.status_code}）", temporary=True) from None
        return _booking(answer)


def _booking(answer: dict) -> Booking:
    code = str(answer.get("retCode") or "")
    body = answer.get("retBody") or {}
    if isinstance(body, str):
        try:
            body = json.loads(body) if body else {}
        except ValueError:
            body = {}
    accepted = str(answer.get("success")).lower() == "true" or code == ORDER_EXISTS
    if not accepted:
        raise CourierError(f"{code}: {answer.get('retMsg') or 'EMS 下单失败'}", temporary=code in TEMPORARY_CODES, code=code)
    waybill = body.get("waybillNo")
    if not waybill:
        raise CourierError("EMS 没有返回运单号", temporary=True)
    return Booking(waybill_no=str(waybill), raw=body)
