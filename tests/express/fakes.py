"""Local HTTP servers speaking the protocols express talks to: the SF Express open platform, EMS,
Kuaidi100 (subscriptions and queries) and WeChat Pay API v3 (with throw-away RSA keys).

They run in the test process on loopback ports; the app and the Celery workers (other processes) call
them over real HTTP with the real adapters. Each server checks what a real one checks (SF's msgDigest,
EMS's data_digest, Kuaidi100's query sign, WeChat Pay's request signature) and records what it got,
so tests can count waybills and refunds ("booked once", "refunded once").
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import os
import re
import threading
import time
import uuid
from urllib.parse import quote_plus

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

logging.getLogger("werkzeug").setLevel(logging.WARNING)


class _Server:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _wsgi(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


# --- SF Express ------------------------------------------------------------------------------------


def sf_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """The platform's own rule, written independently of the adapter: Java URLEncoder, MD5, Base64."""
    encoded = quote_plus(msg_data + timestamp + check_word, safe="*").replace("~", "%7E")
    return base64.b64encode(hashlib.md5(encoded.encode("utf-8")).digest()).decode()


class FakeSF(_Server):
    """``EXP_RECE_CREATE_ORDER`` / ``EXP_RECE_SEARCH_ORDER_RESP``. One order (one waybill) per orderId:
    a repeated orderId gets the same waybill (``repeat="same"``) or error 8016 (``repeat="8016"``).

    ``fail_next(n, status)`` answers the next n creates with an HTTP error; ``refuse_next(code)`` with a
    business error; ``hold()`` makes the next create wait for ``release()`` before answering, and sets
    ``arrived`` / ``answered`` (after the answer's bytes left) for the kill test."""

    def __init__(self, partner_id: str, check_word: str) -> None:
        super().__init__()
        self.partner_id, self.check_word = partner_id, check_word
        # Waybill numbers never repeat across tests or runs on a reused database (as SF's never do).
        self.numbers = itertools.count(int(time.time() * 1000) % 10**11 * 10)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.orders: dict[str, dict] = {}
            self.creates: list[str] = []  # orderIds of every create request, repeats included
            self.requests: list[dict] = []
            self.repeat = "same"
            self.failures: list[int] = []
            self.refusal: str | None = None
            self.gate: tuple[threading.Event, threading.Event, threading.Event] | None = None

    @property
    def waybills(self) -> dict[str, str]:
        return {order_id: order["waybill"] for order_id, order in self.orders.items()}

    def fail_next(self, count: int, status: int = 503) -> None:
        self.failures.extend([status] * count)

    def refuse_next(self, code: str) -> None:
        self.refusal = code

    def hold(self) -> tuple[threading.Event, threading.Event, threading.Event]:
        self.gate = (threading.Event(), threading.Event(), threading.Event())  # arrived, proceed, answered
        return self.gate

    def handle(self, request: Request) -> Response:
        form = request.form
        if form.get("partnerID") != self.partner_id:
            return _json({"apiResultCode": "A1004", "apiErrorMsg": "无对应服务权限", "apiResultData": None})
        if form.get("msgDigest") != sf_digest(form.get("msgData", ""), form.get("timestamp", ""), self.check_word):
            return _json({"apiResultCode": "A1006", "apiErrorMsg": "数字签名无效", "apiResultData": None})
        msg = json.loads(form["msgData"])
        with self.lock:
            self.requests.append({"serviceCode": form.get("serviceCode"), "msg": msg})
        if form.get("serviceCode") == "EXP_RECE_SEARCH_ORDER_RESP":
            order = self.orders.get(msg.get("orderId"))
            if order is None:
                return self._business(False, "8018", "未获取到订单信息")
            return self._business(True, "S0000", None, self._order_data(msg["orderId"], order["waybill"]))
        return self._create(msg)

    def _create(self, msg: dict) -> Response:
        order_id = msg["orderId"]
        with self.lock:
            self.creates.append(order_id)
            if self.failures:
                return Response("busy", status=self.failures.pop(0))
            if self.refusal:
                code, self.refusal = self.refusal, None
                return self._business(False, code, "收件地址超出服务范围")
            existing = self.orders.get(order_id)
            if existing is not None and self.repeat == "8016":
                return self._business(False, "8016", "重复下单")
            if existing is None:
                existing = self.orders[order_id] = {"waybill": f"SF{next(self.numbers):013d}", "msg": msg}
            gate, self.gate = self.gate, None
        response = self._business(True, "S0000", None, self._order_data(order_id, existing["waybill"]))
        if gate is not None:
            arrived, proceed, answered = gate
            arrived.set()
            proceed.wait(60)
            response.call_on_close(answered.set)  # after the answer was written to the socket
        return response

    @staticmethod
    def _order_data(order_id: str, waybill: str) -> dict:
        return {"orderId": order_id, "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}], "filterResult": 2}

    @staticmethod
    def _business(success: bool, code: str, message: str | None, data: dict | None = None) -> Response:
        result = {"success": success, "errorCode": code, "errorMsg": message, "msgData": data}
        return _json({"apiResultCode": "A1000", "apiErrorMsg": "", "apiResponseID": uuid.uuid4().hex, "apiResultData": json.dumps(result)})


# --- EMS -------------------------------------------------------------------------------------------


class FakeEMS(_Server):
    def __init__(self, partner_code: str, secret_key: str) -> None:
        super().__init__()
        self.partner_code, self.secret_key = partner_code, secret_key
        self.orders: dict[str, str] = {}
        self.creates: list[str] = []

    def handle(self, request: Request) -> Response:
        form = request.form
        interface = form.get("logistics_interface", "")
        digest = base64.b64encode(hashlib.md5((interface + self.secret_key).encode()).digest()).decode()
        if form.get("partner_code") != self.partner_code or form.get("data_digest") != digest:
            return _json({"success": "false", "retCode": "B00001", "retMsg": "签名错误"})
        order = json.loads(interface)
        with self.lock:
            self.creates.append(order["logisticsOrderNo"])
            if order["logisticsOrderNo"] in self.orders:
                return _json(
                    {
                        "success": "false",
                        "retCode": "B00007",
                        "retMsg": "订单已存在",
                        "retBody": {"waybillNo": self.orders[order["logisticsOrderNo"]]},
                    }
                )
            waybill = self.orders[order["logisticsOrderNo"]] = f"EA{uuid.uuid4().int % 10**9:09d}CN"
        return _json({"success": "true", "retCode": "00000", "retMsg": "成功", "retBody": json.dumps({"waybillNo": waybill})})


# --- Kuaidi100 -------------------------------------------------------------------------------------


def kuaidi100_sign(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


class FakeKuaidi100(_Server):
    """``/poll`` records subscriptions; ``/poll/query.do`` answers ``routes[number]`` (a lastResult)."""

    def __init__(self, key: str, customer: str) -> None:
        super().__init__()
        self.key, self.customer = key, customer
        self.subscriptions: list[dict] = []
        self.queries: list[dict] = []
        self.routes: dict[str, dict] = {}

    def handle(self, request: Request) -> Response:
        if request.path == "/poll":
            param = json.loads(request.form["param"])
            if param.get("key") != self.key:
                return _json({"result": False, "returnCode": "600", "message": "您不是合法的订阅者"})
            with self.lock:
                repeat = any(s["number"] == param["number"] for s in self.subscriptions)
                self.subscriptions.append(param)
            return _json({"result": not repeat, "returnCode": "501" if repeat else "200", "message": "重复订阅" if repeat else "提交成功"})
        if request.path == "/poll/query.do":
            param = request.form["param"]
            if request.form.get("customer") != self.customer or request.form.get("sign") != kuaidi100_sign(
                param + self.key + self.customer
            ):
                return _json({"result": False, "returnCode": "400", "message": "sign校验失败"})
            query = json.loads(param)
            with self.lock:
                self.queries.append(query)
            route = self.routes.get(query["num"])
            if route is None:
                return _json({"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"})
            return _json({"message": "ok", "status": "200", **route})
        return Response(status=404)


def push_body(number: str, company: str, state: str, events: list[tuple[str, str, str | None]], status: str = "polling") -> str:
    """A Kuaidi100 push ``param``: ``events`` are (time, context, status word or None), newest first as Kuaidi100 sends."""
    data = [{"time": t, "ftime": t, "context": c, **({"status": s} if s else {})} for t, c, s in events]
    last = {
        "message": "ok",
        "nu": number,
        "ischeck": "1" if state == "3" else "0",
        "com": company,
        "status": "200",
        "state": state,
        "data": data,
    }
    return json.dumps({"status": status, "billstatus": "got", "message": "", "lastResult": last}, ensure_ascii=False)


# --- WeChat Pay API v3 -----------------------------------------------------------------------------


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


AUTH = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.+)$")


class FakeWeChatPay(_Server):
    """JSAPI prepay, close and refund, with the v3 signatures both ways, and a notifier for our webhook.

    The merchant key pair: the app signs with the private key, this server verifies with the public key.
    The platform key pair: this server signs answers and notifications, the app verifies with the public
    key (public-key mode: no platform certificate download)."""

    MCHID, APPID, SERIAL, PUBLIC_KEY_ID = (
        "1900000109",
        "wx-test-appid",
        "5157F09EFDC096DE15EBE81A47057A72",
        "PUB_KEY_ID_0114232134912410000000000000",
    )
    APIV3_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes

    def __init__(self) -> None:
        super().__init__()
        self.merchant_key, self.platform_key = _new_key(), _new_key()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.orders: dict[str, dict] = {}
            self.refunds: dict[str, dict] = {}
            self.refund_requests: list[str] = []
            self.closed: list[str] = []
            self.bad_signatures = 0
            self.refund_status = "SUCCESS"

    def settings(self, notify_url: str) -> dict[str, str]:
        return {
            "EXPRESS_PAYMENT_PROVIDER": "wechat",
            "WECHATPAY_API_BASE": self.url,
            "WECHATPAY_MCHID": self.MCHID,
            "WECHATPAY_APPID": self.APPID,
            "WECHATPAY_PRIVATE_KEY": _pem_private(self.merchant_key),
            "WECHATPAY_CERT_SERIAL_NO": self.SERIAL,
            "WECHATPAY_APIV3_KEY": self.APIV3_KEY,
            "WECHATPAY_PUBLIC_KEY": _pem_public(self.platform_key),
            "WECHATPAY_PUBLIC_KEY_ID": self.PUBLIC_KEY_ID,
            "WECHATPAY_NOTIFY_URL": notify_url,
        }

    # --- what WeChat Pay checks of our requests, and how it signs its answers

    def _authorised(self, request: Request) -> bool:
        match = AUTH.match(request.headers.get("Authorization", ""))
        if not match:
            return False
        fields = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if fields.get("mchid") != self.MCHID or fields.get("serial_no") != self.SERIAL:
            return False
        path = request.full_path.rstrip("?")
        message = f"{request.method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{request.get_data(as_text=True)}\n"
        return rsa_verify(self.merchant_key.public_key(), message, fields.get("signature", ""))

    def _signed(self, body: dict | None, status: int = 200) -> Response:
        text = json.dumps(body, ensure_ascii=False) if body is not None else ""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(self.platform_key, f"{timestamp}\n{nonce}\n{text}\n"),
            "Wechatpay-Serial": self.PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return Response(text, status=status, headers=headers, mimetype="application/json")

    def handle(self, request: Request) -> Response:
        if not self._authorised(request):
            with self.lock:
                self.bad_signatures += 1
            return self._signed({"code": "SIGN_ERROR", "message": "签名错误"}, 401)
        body = request.get_json(silent=True) or {}
        if request.path == "/v3/pay/transactions/jsapi":
            return self._prepay(body)
        if request.path == "/v3/refund/domestic/refunds":
            return self._refund(body)
        match = re.match(r"^/v3/pay/transactions/out-trade-no/([^/]+)/close$", request.path)
        if match:
            with self.lock:
                self.closed.append(match.group(1))
            return self._signed(None, 204)
        return self._signed({"code": "NOT_FOUND", "message": "not found"}, 404)

    def _prepay(self, body: dict) -> Response:
        if body.get("mchid") != self.MCHID or body.get("appid") != self.APPID or not body.get("payer", {}).get("openid"):
            return self._signed({"code": "PARAM_ERROR", "message": "参数错误"}, 400)
        with self.lock:
            order = self.orders.setdefault(body["out_trade_no"], {"prepay_id": f"wx{uuid.uuid4().hex[:28]}", "body": body})
        return self._signed({"prepay_id": order["prepay_id"]})

    def _refund(self, body: dict) -> Response:
        with self.lock:
            self.refund_requests.append(body["out_refund_no"])
            refund = self.refunds.setdefault(
                body["out_refund_no"], {"refund_id": f"50{uuid.uuid4().int % 10**28:028d}", "body": body, "status": self.refund_status}
            )
        answer = {"refund_id": refund["refund_id"], "out_refund_no": body["out_refund_no"], "out_trade_no": body.get("out_trade_no")}
        return self._signed(answer | {"status": refund["status"], "amount": body["amount"]})

    # --- notifications to our webhook

    def notification(
        self, event_type: str, resource: dict, *, timestamp: int | None = None, key: rsa.RSAPrivateKey | None = None
    ) -> tuple[dict, bytes]:
        """Headers and body of a v3 notification: resource encrypted with AEAD_AES_256_GCM, signed by the platform."""
        nonce, associated = os.urandom(6).hex(), "transaction"
        ciphertext = AESGCM(self.APIV3_KEY.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), associated.encode())
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            }
        )
        stamp, header_nonce = str(timestamp or int(time.time())), uuid.uuid4().hex
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Signature": rsa_sign(key or self.platform_key, f"{stamp}\n{header_nonce}\n{body}\n"),
            "Wechatpay-Serial": self.PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return headers, body.encode()

    def paid_resource(self, out_trade_no: str, total: int, openid: str = "o-test") -> dict:
        return {
            "mchid": self.MCHID,
            "appid": self.APPID,
            "out_trade_no": out_trade_no,
            "transaction_id": f"42000{uuid.uuid4().int % 10**23:023d}",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "success_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "payer": {"openid": openid},
            "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
        }

    def notify(self, webhook_url: str, event_type: str, resource: dict, **kwargs) -> requests.Response:
        headers, body = self.notification(event_type, resource, **kwargs)
        return requests.post(webhook_url, data=body, headers=headers, timeout=10)
