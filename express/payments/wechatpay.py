"""WeChat Pay API v3 (微信支付 APIv3), JSAPI, through the maintained ``wechatpayv3`` library.

- Keys: the merchant's private key and certificate serial number sign our requests
  (``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…``);
  answers and notifications are verified with the **WeChat Pay platform public key** and its id
  (public-key mode, ``WECHATPAY_PUBLIC_KEY`` / ``WECHATPAY_PUBLIC_KEY_ID``), so the library never
  downloads platform certificates. The APIv3 key decrypts notification resources (AEAD_AES_256_GCM).
- Base URL: the library has no parameter for it; ``WECHATPAY_API_BASE`` replaces its gateway attribute
  (``_core._gate_way``, the one place it builds URLs from), which is how the tests point the real client
  at a local server speaking the v3 protocol.
- HTTP: the library calls ``requests`` itself (not our pooled session); it gets our timeout. Its POSTs
  are not retried here: a prepay order or a refund is retried by the caller with the same
  out_trade_no / out_refund_no, which WeChat Pay treats as the same request.
- Notifications are checked for freshness (``Wechatpay-Timestamp`` within five minutes) before the
  signature, so a captured notification cannot be replayed later; applying it is idempotent anyway.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from express.payments.base import Checkout, NoticeRejected, PaymentError, PaymentNotice, PaymentOrder, RefundResult
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ

NOTICE_MAX_SKEW_SECONDS = 300
SIGNATURE_HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature-Type")


class WeChatPayments:
    name = "wechat"

    def __init__(self) -> None:
        self.appid = setting("WECHATPAY_APPID") or setting("WECHAT_APPID")
        self.mchid = setting("WECHATPAY_MCHID")
        timeout = float(setting("HTTP_TIMEOUT_SECONDS"))
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=self.mchid,
            private_key=setting("WECHATPAY_PRIVATE_KEY"),
            cert_serial_no=setting("WECHATPAY_CERT_SERIAL_NO"),
            appid=self.appid,
            apiv3_key=setting("WECHATPAY_APIV3_KEY"),
            notify_url=setting("WECHATPAY_NOTIFY_URL"),
            public_key=setting("WECHATPAY_PUBLIC_KEY"),
            public_key_id=setting("WECHATPAY_PUBLIC_KEY_ID"),
            timeout=(timeout, timeout),
        )
        self.client._core._gate_way = setting("WECHATPAY_API_BASE").rstrip("/")

    # --- calls to WeChat Pay --------------------------------------------------------------------

    def create(self, order: PaymentOrder) -> Checkout:
        if not order.payer_openid:
            raise PaymentError("该账号未绑定微信，无法使用微信支付", temporary=False)
        answer = self._call(
            self.client.pay,
            description=order.description[:127],
            out_trade_no=order.payment_id,
            amount={"total": order.amount_cents, "currency": "CNY"},
            payer={"openid": order.payer_openid},
            time_expire=order.expires_at.astimezone(CITY_TZ).isoformat(timespec="seconds"),
            pay_type=WeChatPayType.JSAPI,
        )
        prepay_id = answer.get("prepay_id")
        if not prepay_id:
            raise PaymentError("微信支付没有返回预支付交易会话标识", temporary=True)
        return Checkout(self.name, self.request_payment_params(prepay_id), prepay_id=prepay_id)

    def request_payment_params(self, prepay_id: str) -> dict:
        """What the mini program passes to ``wx.requestPayment`` (signed with the merchant key)."""
        timestamp, nonce, package = str(int(time.time())), uuid.uuid4().hex, f"prepay_id={prepay_id}"
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.client.sign([self.appid, timestamp, nonce, package]),
        }

    def close(self, payment_id: str) -> None:
        self._call(self.client.close, out_trade_no=payment_id)

    def refund(self, payment_id: str, refund_no: str, amount_cents: int, total_cents: int, reason: str) -> RefundResult:
        answer = self._call(
            self.client.refund,
            out_refund_no=refund_no,
            amount={"refund": amount_cents, "total": total_cents, "currency": "CNY"},
            out_trade_no=payment_id,
            reason=reason[:80],
        )
        status = answer.get("status")
        if status in ("CLOSED", "ABNORMAL"):
            raise PaymentError(f"微信支付退款状态 {status}", temporary=False)
        return RefundResult(refund_id=str(answer.get("refund_id") or ""), done=status == "SUCCESS")

    def _call(self, method, **kwargs) -> dict:
        try:
            code, message = method(**kwargs)
        except requests.RequestException as exc:
            raise PaymentError(f"微信支付无法连接：{type(exc).__name__}", temporary=True) from exc
        except Exception as exc:  # the library raises bare Exception, e.g. for an answer whose signature fails
            raise PaymentError(f"微信支付应答无法验证：{exc}", temporary=False) from exc
        if code >= 500 or code == 429:
            raise PaymentError(f"微信支付暂时不可用（HTTP {code}）", temporary=True)
        body = _json(message)
        if code >= 400:
            raise PaymentError(f"微信支付拒绝了请求：{body.get('code')} {body.get('message')}", temporary=False)
        return body

    # --- notifications from WeChat Pay ----------------------------------------------------------

    def parse_notice(self, headers, body: bytes) -> PaymentNotice:
        """Verify (freshness, platform signature), decrypt and read a payment or refund notification."""
        wanted = {name: headers.get(name, "") for name in SIGNATURE_HEADERS}
        timestamp = wanted["Wechatpay-Timestamp"]
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > NOTICE_MAX_SKEW_SECONDS:
            raise NoticeRejected("通知时间戳缺失或已过期")
        try:
            notice = self.client.callback(wanted, body.decode("utf-8"))
        except Exception as exc:  # unsupported signature type, malformed JSON, undecodable body
            raise NoticeRejected(f"通知无法验证：{type(exc).__name__}") from exc
        if not notice or not isinstance(notice.get("resource"), dict):
            raise NoticeRejected("通知签名不正确或无法解密")
        return self._read(notice["event_type"] if "event_type" in notice else "", notice["resource"])

    def _read(self, event_type: str, resource: dict) -> PaymentNotice:
        payment_id = str(resource.get("out_trade_no") or "")
        if resource.get("mchid", self.mchid) != self.mchid:
            raise NoticeRejected("通知的商户号不是本商户")
        if event_type == "TRANSACTION.SUCCESS" and resource.get("trade_state") == "SUCCESS":
            if resource.get("appid") != self.appid:
                raise NoticeRejected("通知的 appid 不是本应用")
            return PaymentNotice(
                "paid",
                payment_id,
                transaction_id=str(resource.get("transaction_id") or ""),
                amount_cents=int((resource.get("amount") or {}).get("total") or 0),
                paid_at=_time(resource.get("success_time")),
                raw=resource,
            )
        if event_type == "REFUND.SUCCESS":
            return PaymentNotice("refunded", payment_id, refund_id=str(resource.get("refund_id") or ""), raw=resource)
        if event_type in ("REFUND.ABNORMAL", "REFUND.CLOSED"):
            return PaymentNotice("refund_failed", payment_id, refund_id=str(resource.get("refund_id") or ""), raw=resource)
        return PaymentNotice("ignored", payment_id, raw=resource)


def _json(message) -> dict:
    if isinstance(message, bytes | bytearray):
        message = message.decode("utf-8", "replace")
    if not message:
        return {}
    try:
        value = json.loads(message)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
