"""Kuaidi100 (快递100): tracking subscriptions, real-time queries, and the pushes it sends us.

- Subscribe (``poll``): form POST to ``{KUAIDI100_API_BASE}/poll`` with ``schema=json`` and ``param`` =
  ``{"company", "number", "key", "parameters": {"callbackurl", "salt", "resultv2", "phone"}}``. Answer
  ``{"result": true, "returnCode": "200"}``; ``501`` means already subscribed (fine).
- Query (``poll/query.do``): form POST with ``customer``, ``param`` = ``{"com", "num", "phone",
  "resultv2"}`` and ``sign = upper(MD5(param + key + customer))``; answers the same shape as a push's
  ``lastResult``.
- Push: form fields ``param`` (JSON: ``status``, ``message``, ``lastResult`` with ``nu``, ``com``,
  ``state``, ``ischeck``, ``data[]`` of ``{time, ftime, context, status, statusCode?, areaCode?}``) and
  ``sign = upper(MD5(param + salt))``; we answer ``{"result": true, "returnCode": "200", "message": "成功"}``
  or ``result: false`` so that it pushes again.

This module speaks the protocol and maps Kuaidi100's states onto ours; what a push does to a parcel is
``express.progress``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from express.models import DeliveryStatus
from mobile_api.http import outbound_session
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ

MAX_EVENTS = 500  # a route longer than this is not a parcel's

# lastResult.state and data[].statusCode (resultv2=4 gives the finer sub-states).
STATE_CODES: dict[str, DeliveryStatus | None] = {
    "0": DeliveryStatus.IN_TRANSIT,  # 在途
    "1": DeliveryStatus.PICKED_UP,  # 揽收
    "2": DeliveryStatus.EXCEPTION,  # 疑难
    "3": DeliveryStatus.DELIVERED,  # 签收
    "4": DeliveryStatus.RETURNED,  # 退签: returned and signed for by the sender
    "5": DeliveryStatus.OUT_FOR_DELIVERY,  # 派件
    "6": DeliveryStatus.RETURNED,  # 退回: on its way back to the sender
    "7": DeliveryStatus.IN_TRANSIT,  # 转投
    "8": DeliveryStatus.IN_TRANSIT,  # 清关
    "10": DeliveryStatus.IN_TRANSIT,  # 待清关
    "11": DeliveryStatus.IN_TRANSIT,  # 清关中
    "12": DeliveryStatus.IN_TRANSIT,  # 已清关
    "13": DeliveryStatus.EXCEPTION,  # 清关异常
    "14": DeliveryStatus.REFUSED,  # 拒签
    "101": None,  # 已下单
    "102": None,  # 待揽收
    "103": DeliveryStatus.PICKED_UP,  # 已揽收
    "1001": DeliveryStatus.IN_TRANSIT,  # 到达派件城市
    "1002": DeliveryStatus.IN_TRANSIT,  # 干线
    "1003": DeliveryStatus.IN_TRANSIT,  # 转递
    "501": DeliveryStatus.OUT_FOR_DELIVERY,  # 投柜或驿站
    "301": DeliveryStatus.DELIVERED,  # 本人签收
    "302": DeliveryStatus.DELIVERED,  # 派件异常后签收
    "303": DeliveryStatus.DELIVERED,  # 代签
    "304": DeliveryStatus.DELIVERED,  # 投柜或站签收
    "201": DeliveryStatus.EXCEPTION,  # 超时未签收
    "202": DeliveryStatus.EXCEPTION,  # 超时未更新
    "203": DeliveryStatus.REFUSED,  # 拒收
    "204": DeliveryStatus.EXCEPTION,  # 派件异常
    "205": DeliveryStatus.EXCEPTION,  # 柜或驿站超时未取
    "206": DeliveryStatus.EXCEPTION,  # 无法联系
    "207": DeliveryStatus.EXCEPTION,  # 超区
    "208": DeliveryStatus.EXCEPTION,  # 滞留
    "209": DeliveryStatus.EXCEPTION,  # 破损
    "401": DeliveryStatus.EXCEPTION,  # 已销单
}
STATE_WORDS: dict[str, DeliveryStatus] = {
    "在途": DeliveryStatus.IN_TRANSIT,
    "揽收": DeliveryStatus.PICKED_UP,
    "疑难": DeliveryStatus.EXCEPTION,
    "签收": DeliveryStatus.DELIVERED,
    "退签": DeliveryStatus.RETURNED,
    "派件": DeliveryStatus.OUT_FOR_DELIVERY,
    "退回": DeliveryStatus.RETURNED,
    "转投": DeliveryStatus.IN_TRANSIT,
    "清关": DeliveryStatus.IN_TRANSIT,
    "拒签": DeliveryStatus.REFUSED,
}


class TrackingError(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class PushRejected(ValueError):
    """A push we will not take: bad signature (401) or not the protocol's shape (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RouteEvent:
    time: datetime  # UTC
    context: str
    courier_status: str | None
    state: DeliveryStatus | None
    area_code: str | None

    @property
    def fingerprint(self) -> str:
        """The same scan, however often it is pushed: its time and its text (whitespace-normalised)."""
        text = re.sub(r"\s+", " ", self.context).strip()
        return hashlib.sha1(f"{self.time.isoformat()}|{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Route:
    company: str
    number: str
    push_status: str  # polling | shutdown | abort | updateall ("" for a query)
    message: str
    events: list[RouteEvent]


def kuaidi100_sign(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def verify_push(param: str, sign: str, salt: str) -> None:
    if not param or not sign or not hmac.compare_digest(kuaidi100_sign(param + salt), sign.strip().upper()):
        raise PushRejected(401, "签名错误")


def parse_push(param: str) -> Route:
    try:
        body = json.loads(param)
    except ValueError:
        raise PushRejected(400, "param 不是有效的 JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("lastResult"), dict):
        raise PushRejected(400, "缺少 lastResult")
    route = parse_result(body["lastResult"])
    return Route(route.company, route.number, str(body.get("status") or ""), str(body.get("message") or ""), route.events)


def parse_result(result: dict) -> Route:
    """``lastResult`` of a push, or the answer of a query: the parcel and its events, states mapped."""
    number, company, data = result.get("nu"), result.get("com"), result.get("data")
    if not isinstance(number, str) or not number or not isinstance(company, str) or not isinstance(data, list):
        raise PushRejected(400, "lastResult 缺少 nu / com / data")
    if len(data) > MAX_EVENTS:
        raise PushRejected(400, "轨迹条数过多")
    events = [event for event in (_event(item) for item in data) if event is not None]
    if data and not events:
        raise PushRejected(400, "轨迹时间格式不正确")
    events = _with_overall_state(events, str(result.get("state") or ""))
    return Route(company, number.strip(), "", str(result.get("message") or ""), events)


def _event(item: object) -> RouteEvent | None:
    if not isinstance(item, dict) or not isinstance(item.get("context"), str):
        return None
    moment = _parse_time(item.get("time") or item.get("ftime"))
    if moment is None:
        return None
    code, word = str(item.get("statusCode") or ""), str(item.get("status") or "")
    state = STATE_CODES.get(code) if code in STATE_CODES else STATE_WORDS.get(word)
    area = item.get("areaCode")
    return RouteEvent(moment, item["context"][:1000], (code or word)[:32] or None, state, str(area)[:12] if area else None)


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=CITY_TZ).astimezone(UTC)
        except ValueError:
            continue
    return None


def _with_overall_state(events: list[RouteEvent], state_code: str) -> list[RouteEvent]:
    """Events without a status of their own say nothing about the state — except the newest, which is
    where the parcel is now: it takes ``lastResult.state`` when it carries none itself."""
    overall = STATE_CODES.get(state_code)
    if not events or overall is None:
        return events
    newest = max(events, key=lambda event: event.time)
    if newest.state is not None:
        return events
    return [RouteEvent(e.time, e.context, e.courier_status or state_code, overall, e.area_code) if e is newest else e for e in events]


class Kuaidi100:
    """The HTTP client (subscribe, query) on the shared outbound session."""

    def __init__(self) -> None:
        self.base = setting("KUAIDI100_API_BASE").rstrip("/")
        self.key = setting("KUAIDI100_KEY")
        self.customer = setting("KUAIDI100_CUSTOMER")
        self.salt = setting("KUAIDI100_SALT")
        self.callback_url = setting("KUAIDI100_CALLBACK_URL")

    def subscribe(self, company: str, number: str, phone: str) -> None:
        param = {
            "company": company,
            "number": number,
            "key": self.key,
            "parameters": {"callbackurl": self.callback_url, "salt": self.salt, "resultv2": "4", "phone": phone},
        }
        answer = self._post("/poll", {"schema": "json", "param": json.dumps(param, ensure_ascii=False)})
        code = str(answer.get("returnCode") or "")
        if answer.get("result") is True or code in ("200", "501"):  # 501: already subscribed
            return
        raise TrackingError(f"订阅失败 {code}: {answer.get('message')}", temporary=code.startswith("5"))

    def query(self, company: str, number: str, phone: str) -> Route:
        param = json.dumps({"com": company, "num": number, "phone": phone, "resultv2": "4"}, ensure_ascii=False)
        answer = self._post(
            "/poll/query.do", {"customer": self.customer, "sign": kuaidi100_sign(param + self.key + self.customer), "param": param}
        )
        if str(answer.get("status") or "") != "200":
            raise TrackingError(f"查询失败 {answer.get('returnCode')}: {answer.get('message')}", temporary=True)
        try:
            return parse_result(answer)
        except PushRejected as exc:
            raise TrackingError(f"查询应答格式不正确：{exc}", temporary=True) from None

    def _post(self, path: str, form: dict) -> dict:
        try:
            response = outbound_session().post(self.base + path, data=form)
        except requests.RequestException as exc:
            raise TrackingError(f"快递100无法连接：{type(exc).__name__}", temporary=True) from exc
        try:
            answer = response.json()
        except ValueError:
            raise TrackingError(f"快递100应答不是 JSON（HTTP {response.status_code}）", temporary=True) from None
        if not isinstance(answer, dict):
            raise TrackingError("快递100应答格式不正确", temporary=True)
        return answer


def tracking_enabled() -> bool:
    return setting("EXPRESS_TRACKING_PROVIDER") == "kuaidi100"
