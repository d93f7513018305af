"""Local HTTP servers answering as Alibaba Cloud SMS (dysmsapi 2017-05-25, RPC style) and Tencent Cloud SMS
(2021-01-11, TC3) do, so the official SDKs run unchanged against them (their endpoint points here).

Each server checks the SDK's request signature the way the provider does — ACS3-HMAC-SHA256 over the
canonical request for Alibaba Cloud, TC3-HMAC-SHA256 with the derived signing key for Tencent Cloud — and
refuses a wrong one as the provider would (``SignatureDoesNotMatch`` / ``AuthFailure.SignatureFailure``).
Written from the providers' published algorithms, not from the SDKs' code.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import Counter
from datetime import datetime
from urllib.parse import parse_qsl, quote

from werkzeug.wrappers import Request, Response

from mobile_api.timeutil import CITY_TZ
from tests.notifications.fakes import _json, _Server


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeAliyunSms(_Server):
    """``mode``: ok | error (503 ServiceUnavailable) | code (HTTP 200 with ``Code = self.code``) |
    timeout (accepts, answers after ``delay`` s)."""

    def __init__(self, access_key_id: str, access_key_secret: str) -> None:
        super().__init__()
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mode, self.code, self.delay = "ok", "isv.MOBILE_NUMBER_ILLEGAL", 1.0
            self.posts: Counter[str] = Counter()  # SendSms calls by OutId
            self.accepted: dict[str, dict] = {}  # OutId → what was sent
            self.queries: list[dict] = []
            self.bad_signatures = 0
            self.ids = itertools.count(1)

    @property
    def endpoint(self) -> str:
        return self.url.removeprefix("http://")

    def _signature_ok(self, request: Request) -> bool:
        authorization = request.headers.get("Authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        parts = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
        if algorithm != "ACS3-HMAC-SHA256" or parts.get("Credential") != self.access_key_id:
            return False
        body = request.get_data()
        if request.headers.get("x-acs-content-sha256") != _sha256(body):
            return False
        pairs = sorted(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join([request.method, request.path or "/", canonical_query, canonical_headers, ";".join(signed), _sha256(body)])
        string_to_sign = f"ACS3-HMAC-SHA256\n{_sha256(canonical.encode())}"
        expected = hmac.new(self.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    def handle(self, request: Request) -> Response:
        if not self._signature_ok(request):
            with self.lock:
                self.bad_signatures += 1
            return _json({"RequestId": "r", "Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}, 400)
        action = request.headers.get("x-acs-action")
        query = dict(parse_qsl(request.query_string.decode(), keep_blank_values=True))
        if action == "SendSms":
            return self._send(query)
        if action == "QuerySendDetails":
            return self._query(query)
        return _json({"RequestId": "r", "Code": "InvalidAction.NotFound", "Message": action}, 404)

    def _send(self, query: dict) -> Response:
        out_id = query.get("OutId", "")
        with self.lock:
            self.posts[out_id] += 1
            mode = self.mode
        if mode == "error":
            return _json(
                {"RequestId": "r", "Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure"}, 503
            )
        if mode == "code":
            return _json({"RequestId": "r", "Code": self.code, "Message": "refused"})
        if mode == "timeout":
            time.sleep(self.delay)
        with self.lock:
            biz_id = f"{next(self.ids):06d}{uuid.uuid4().int % 10**12:012d}^0"
            self.accepted[out_id] = {
                "phone": query["PhoneNumbers"],
                "sign_name": query["SignName"],
                "template_code": query["TemplateCode"],
                "template_param": json.loads(query.get("TemplateParam") or "{}"),
                "biz_id": biz_id,
                "send_date": datetime.now(CITY_TZ).strftime("%Y%m%d"),
            }
        return _json({"RequestId": "r", "Code": "OK", "Message": "OK", "BizId": biz_id})

    def _query(self, query: dict) -> Response:
        with self.lock:
            self.queries.append(query)
            details = [
                {
                    "OutId": out_id,
                    "PhoneNum": sent["phone"],
                    "SendStatus": 1,
                    "TemplateCode": sent["template_code"],
                    "Content": "【" + sent["sign_name"] + "】…",
                    "SendDate": query["SendDate"],
                }
                for out_id, sent in self.accepted.items()
                if sent["phone"] == query["PhoneNumber"] and sent["send_date"] == query["SendDate"]
            ]
        size, page = int(query.get("PageSize", 10)), int(query.get("CurrentPage", 1))
        chunk = details[(page - 1) * size : page * size]
        return _json(
            {"RequestId": "r", "Code": "OK", "Message": "OK", "TotalCount": len(details), "SmsSendDetailDTOs": {"SmsSendDetailDTO": chunk}}
        )


class FakeTencentSms(_Server):
    """``mode``: ok | error (``InternalError.Timeout`` in the body) | code (per-number ``Code = self.code``) |
    timeout (accepts, answers after ``delay`` s)."""

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str) -> None:
        super().__init__()
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mode, self.code, self.delay = "ok", "InvalidParameterValue.IncorrectPhoneNumber", 1.0
            self.posts: Counter[str] = Counter()  # SendSms calls by SessionContext
            self.accepted: dict[str, dict] = {}
            self.bad_signatures = 0
            self.ids = itertools.count(1)

    @property
    def endpoint(self) -> str:
        return self.url.removeprefix("http://")

    def _signature_ok(self, request: Request) -> bool:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("TC3-HMAC-SHA256 "):
            return False
        parts = dict(item.strip().split("=", 1) for item in authorization.removeprefix("TC3-HMAC-SHA256 ").split(","))
        secret_id, date, service, _ = parts["Credential"].split("/")
        if secret_id != self.secret_id or service != "sms":
            return False
        canonical_headers = f"content-type:{request.headers.get('Content-Type')}\nhost:{request.headers.get('Host')}\n"
        canonical = "\n".join(["POST", "/", "", canonical_headers, "content-type;host", _sha256(request.get_data())])
        scope = f"{date}/sms/tc3_request"
        string_to_sign = f"TC3-HMAC-SHA256\n{request.headers.get('X-TC-Timestamp')}\n{scope}\n{_sha256(canonical.encode())}"
        key = ("TC3" + self.secret_key).encode()
        for part in (date, "sms", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    @staticmethod
    def _error(code: str, message: str) -> Response:
        return _json({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}})

    def handle(self, request: Request) -> Response:
        if not self._signature_ok(request):
            with self.lock:
                self.bad_signatures += 1
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        body = request.get_json()
        if body.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not exist")
        action = request.headers.get("X-TC-Action")
        if action == "SendSms":
            return self._send(body)
        if action == "PullSmsSendStatusByPhoneNumber":
            return self._pull(body)
        return self._error("InvalidAction", action or "")

    def _send(self, body: dict) -> Response:
        context = body.get("SessionContext", "")
        with self.lock:
            self.posts[context] += 1
            mode = self.mode
        if mode == "error":
            return self._error("InternalError.Timeout", "请求下发短信超时，请参考API接口说明重试。")
        phone = body["PhoneNumberSet"][0]
        if mode == "code":
            status = {
                "SerialNo": "",
                "PhoneNumber": phone,
                "Fee": 0,
                "SessionContext": context,
                "Code": self.code,
                "Message": "refused",
                "IsoCode": "CN",
            }
            return _json({"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}})
        if mode == "timeout":
            time.sleep(self.delay)
        with self.lock:
            serial = f"2433:{next(self.ids)}{uuid.uuid4().int % 10**18:018d}"
            self.accepted[context] = {
                "phone": phone,
                "sign_name": body["SignName"],
                "template_id": body["TemplateId"],
                "params": body.get("TemplateParamSet", []),
                "extend_code": body.get("ExtendCode"),
                "serial": serial,
                "at": int(time.time()),
            }
        fee = 2 if sum(len(p) for p in body.get("TemplateParamSet", [])) > 60 else 1
        status = {
            "SerialNo": serial,
            "PhoneNumber": phone,
            "Fee": fee,
            "SessionContext": context,
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": "CN",
        }
        return _json({"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}})

    def _pull(self, body: dict) -> Response:
        with self.lock:
            reports = [
                {
                    "UserReceiveTime": sent["at"],
                    "CountryCode": "86",
                    "SubscriberNumber": sent["phone"].removeprefix("+86"),
                    "PhoneNumber": sent["phone"],
                    "SerialNo": sent["serial"],
                    "ReportStatus": "SUCCESS",
                    "Description": "用户短信送达成功",
                    "SessionContext": context,
                }
                for context, sent in self.accepted.items()
                if sent["phone"] == body["PhoneNumber"] and body["BeginTime"] <= sent["at"] <= body["EndTime"]
            ]
        offset, limit = int(body.get("Offset", 0)), int(body.get("Limit", 100))
        return _json({"Response": {"PullSmsSendStatusSet": reports[offset : offset + limit], "RequestId": str(uuid.uuid4())}})
