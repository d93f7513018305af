"""Fixtures for the notifications tests: local gateways, channel configuration, citizens, a worker
whose channels point at the local gateways."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from tests.conftest import CeleryWorker
from tests.notifications.fakes import FakeSmsGateway, FakeWeChat
from tests.support import bearer, unique_phone

ALPHA_KEY, BETA_KEY = "alpha-key", "beta-key"
APPID, APPSECRET = "wx-test-appid", "wx-test-secret"


@pytest.fixture(scope="session")
def fake_channels():
    alpha, beta, wechat = FakeSmsGateway("alpha", ALPHA_KEY), FakeSmsGateway("beta", BETA_KEY), FakeWeChat(APPID, APPSECRET)
    yield alpha, beta, wechat
    for server in (alpha, beta, wechat):
        server.close()


def channel_settings(alpha: FakeSmsGateway, beta: FakeSmsGateway, wechat: FakeWeChat) -> dict[str, str]:
    """Environment for processes (workers) whose channels are the local fakes."""
    return {
        "SMS_PROVIDER": "http",
        "SMS_GATEWAYS": f"alpha={alpha.url},beta={beta.url}",
        "SMS_GATEWAY_KEYS": f"alpha={ALPHA_KEY},beta={BETA_KEY}",
        "WECHAT_PROVIDER": "http",
        "WECHAT_API_BASE": wechat.url,
        "WECHAT_APPID": APPID,
        "WECHAT_SECRET": APPSECRET,
        "HTTP_TIMEOUT_SECONDS": "0.5",
        "NOTIFY_RETRY_BASE_SECONDS": "0.05",
        "NOTIFY_MAX_ATTEMPTS": "5",
    }


def reset_channel_state(app) -> None:
    """Forget provider error rates, rate-limit counters and cached tokens between tests."""
    from sqlalchemy import delete

    from mobile_api.extensions import db
    from mobile_api.redis_client import get_redis
    from notifications.models import ChannelCounter, ChannelToken

    with app.app_context():
        client = get_redis()
        if client is not None:
            keys = list(client.scan_iter("notif:ctr:*")) + list(client.scan_iter("wechat-access-token:*"))
            if keys:
                client.delete(*keys)
        db.session.execute(delete(ChannelCounter))
        db.session.execute(delete(ChannelToken))
        db.session.commit()


@pytest.fixture()
def config_override(app):
    """Change app.config for one test; restored afterwards."""
    saved: dict = {}

    def override(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield override
    app.config.update(saved)


@pytest.fixture(autouse=True)
def outside_quiet_hours(app, config_override):
    """Tests run at any hour: quiet hours are moved to a window that does not contain now."""
    from mobile_api.timeutil import city_now

    start = city_now() + timedelta(hours=6)
    config_override(NOTIFY_QUIET_HOURS=f"{start:%H:%M}-{start + timedelta(minutes=1):%H:%M}")


@pytest.fixture()
def http_channels(app, fake_channels, config_override):
    """This process's channels are the local fakes (HTTP adapters), with fresh shared state."""
    alpha, beta, wechat = fake_channels
    for server in fake_channels:
        server.reset()
    settings = channel_settings(alpha, beta, wechat)
    config_override(
        SMS_PROVIDER="http",
        SMS_GATEWAYS=[("alpha", alpha.url, ALPHA_KEY), ("beta", beta.url, BETA_KEY)],
        WECHAT_PROVIDER="http",
        WECHAT_API_BASE=wechat.url,
        WECHAT_APPID=APPID,
        WECHAT_SECRET=APPSECRET,
        HTTP_TIMEOUT_SECONDS=float(settings["HTTP_TIMEOUT_SECONDS"]),
        NOTIFY_RETRY_BASE_SECONDS=float(settings["NOTIFY_RETRY_BASE_SECONDS"]),
        NOTIFY_MAX_ATTEMPTS=int(settings["NOTIFY_MAX_ATTEMPTS"]),
    )
    reset_channel_state(app)
    yield alpha, beta, wechat
    reset_channel_state(app)


@pytest.fixture()
def make_citizen(app):
    """Create a citizen account directly (sign-in itself is tested in tests/auth) with a token."""

    def make(*, wechat: bool = False) -> dict:
        from auth.models import Account
        from auth.tokens import issue_tokens
        from mobile_api.access import CITIZEN
        from mobile_api.extensions import db

        with app.app_context():
            account = Account(phone=unique_phone(), level=1, wechat_openid=f"o-{uuid.uuid4().hex[:20]}" if wechat else None)
            db.session.add(account)
            db.session.flush()
            pair = issue_tokens(CITIZEN, account.id)
            db.session.commit()
            return {
                "id": account.id,
                "phone": account.phone,
                "openid": account.wechat_openid,
                "headers": bearer(pair.access_token),
                "account": _Recipient(account.id, account.phone, account.wechat_openid),
            }

    return make


class _Recipient:
    """What domain packages pass to notify(): anything with ``id`` and ``phone``."""

    def __init__(self, id: str, phone: str, wechat_openid: str | None) -> None:
        self.id, self.phone, self.wechat_openid = id, phone, wechat_openid


class ChannelWorker(CeleryWorker):
    """A worker started (and restarted after kill -9) with extra environment."""

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
    """The session's ``celery_worker`` if an earlier test module started it (without starting it)."""
    fixturedefs = request._fixturemanager.getfixturedefs("celery_worker", request.node) or ()
    for fixturedef in fixturedefs:
        cached = getattr(fixturedef, "cached_result", None)
        if cached and cached[0] is not None and cached[0].process is not None:
            return cached[0]
    return None


@pytest.fixture(scope="module", autouse=True)
def paused_session_worker(request):
    """These tests send in-process or through their own worker: the session worker (log gateway),
    if running, would race them for the same queues. Paused per module, restarted afterwards."""
    worker = _running_session_worker(request)
    if worker is not None:
        worker.stop(sig=9)  # idle; a warm shutdown of the SQL-broker worker can take its full 30 s
    yield
    if worker is not None:
        worker.start()


@pytest.fixture(scope="module")
def channel_worker(app, fake_channels, paused_session_worker):
    """A real worker whose channels are the local fakes."""
    worker = ChannelWorker(channel_settings(*fake_channels))
    worker.start()
    yield worker
    # SIGKILL: a warm shutdown would wait for retries it holds; every test here settles its own rows.
    worker.stop(sig=9)
