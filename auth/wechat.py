"""WeChat mini program sign-in: ``jscode2session`` exchanges a ``wx.login`` code for an openid."""

from __future__ import annotations

import hashlib
import logging

import requests
from flask import current_app

from mobile_api.errors import Problem
from mobile_api.http import outbound_session
from mobile_api.settings import setting

log = logging.getLogger(__name__)

INVALID_CODE_ERRCODES = {40029, 40163, 40226}


class LocalWechatAuth:
    """Embedded default: every code maps to a stable fake openid; codes starting ``invalid`` fail."""

    def code_to_openid(self, code: str) -> str:
        if code.startswith("invalid"):
            raise Problem(422, "wechat_code_invalid", "微信登录凭证无效，请重新进入小程序")
        return "o" + hashlib.sha256(code.encode()).hexdigest()[:27]


class HttpWechatAuth:
    def __init__(self, base_url: str, appid: str, secret: str, timeout: float) -> None:
        self.base_url, self.appid, self.secret = base_url.rstrip("/"), appid, secret
        self.session = outbound_session(timeout=timeout)

    def code_to_openid(self, code: str) -> str:
        try:
            response = self.session.get(
                f"{self.base_url}/sns/jscode2session",
                params={"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"},
            )
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("wechat jscode2session failed: %s", type(exc).__name__)
            raise Problem(503, "wechat_unavailable", "微信服务暂时不可用，请稍后再试") from exc
        errcode = body.get("errcode") or 0
        if errcode in INVALID_CODE_ERRCODES:
            raise Problem(422, "wechat_code_invalid", "微信登录凭证无效，请重新进入小程序")
        if errcode or not body.get("openid"):
            log.warning("wechat jscode2session errcode=%s", errcode)
            raise Problem(503, "wechat_unavailable", "微信服务暂时不可用，请稍后再试")
        return body["openid"]


def get_wechat_auth() -> LocalWechatAuth | HttpWechatAuth:
    if setting("WECHAT_PROVIDER") == "http":
        client = current_app.extensions.get("wechat_auth")
        if client is None:  # one session (connection pool) per process
            client = HttpWechatAuth(
                setting("WECHAT_API_BASE"), setting("WECHAT_APPID"), setting("WECHAT_SECRET"), setting("HTTP_TIMEOUT_SECONDS")
            )
            current_app.extensions["wechat_auth"] = client
        return client
    return LocalWechatAuth()
