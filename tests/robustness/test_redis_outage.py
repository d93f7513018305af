"""Redis stopped mid-run: never a 500, and nothing lost when it comes back.

The test starts its own ``redis-server --save ""`` (no persistence: a restart loses every key) and a real
gunicorn process whose REDIS_URL points at it (the database and the Celery broker are the suite's). It
signs citizens in, signs one out, then stops Redis: rate-limited and signed-in endpoints go on (limits
in process memory, revocations from the database), a sign-out still works, what truly needs Redis (face
images) answers 503 ``redis_unavailable`` with ``Retry-After``. Redis comes back empty: every revoked
token is still refused, the others still work, and the copy in Redis is complete again.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest
import redis
import requests

from tests.auth.face import images
from tests.robustness.conftest import Gunicorn
from tests.support import bearer, random_id_number, random_name, register_resident, unique_phone, wait_for

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _port_outside_the_ephemeral_range() -> int:
    """A free port below the kernel's ephemeral range: while Redis is down, the clients' reconnects to a
    port inside that range can connect to themselves (TCP self-connect) and hold the port Redis needs."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low - 1)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class RedisServer:
    def __init__(self) -> None:
        self.port = _port_outside_the_ephemeral_range()
        self.dir = tempfile.mkdtemp(prefix="redis-outage-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def up() -> bool:
            assert self.process.poll() is None, open(os.path.join(self.dir, "redis.log")).read()[-2000:]
            return _pings(client)

        wait_for(up, timeout=60, what="redis-server up")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _sign_in(url: str) -> str:
    phone = unique_phone()
    response = requests.post(f"{url}/api/v1/auth/sms-codes", json={"phone": phone}, timeout=10)
    assert response.status_code == 202, response.text

    def code():
        items = requests.get(f"{url}/api/v1/sandbox/messages", params={"phone": phone}, timeout=10).json()["items"]
        found = [re.search(r"验证码是(\d{6})", item["content"]) for item in items]
        return next((match.group(1) for match in found if match), None)

    response = requests.post(f"{url}/api/v1/auth/tokens", json={"phone": phone, "code": wait_for(code, what="sms code")}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _me(url: str, token: str) -> int:
    return requests.get(f"{url}/api/v1/me", headers=bearer(token), timeout=10).status_code


@pytest.fixture()
def redis_and_web(app, celery_worker):
    server = RedisServer()
    server.start()
    env = {"REDIS_URL": f"redis://127.0.0.1:{server.port}/0", "CELERY_BROKER_URL": app.config["CELERY_BROKER_URL"]}
    web = Gunicorn(env=env)
    yield server, web
    web.stop()
    server.stop()


@pytest.mark.slow
def test_redis_stopped_mid_run_is_never_a_500_and_nothing_is_lost(app, redis_and_web):
    server, web = redis_and_web
    url = web.url
    kept, signed_out = _sign_in(url), _sign_in(url)
    level2 = _sign_in(url)
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    assert requests.post(f"{url}/api/v1/me/identity", json={"name": name, "id_number": id_number}, headers=bearer(level2), timeout=10).ok
    assert requests.delete(f"{url}/api/v1/auth/tokens", headers=bearer(signed_out), timeout=10).status_code == 204
    assert (_me(url, kept), _me(url, signed_out)) == (200, 401)

    server.stop()  # ------------------------------------------------------------------ Redis is down
    statuses = []
    assert _me(url, kept) == 200  # the revocation check goes on against the database
    assert _me(url, signed_out) == 401
    during = _sign_in(url)  # rate-limited endpoints (sms-codes, tokens) go on with in-memory limits
    assert requests.delete(f"{url}/api/v1/auth/tokens", headers=bearer(during), timeout=10).status_code == 204
    assert _me(url, during) == 401
    for path in ("/api/v1/me", "/api/v1/me/messages", "/api/v1/cases", "/api/v1/appointments", "/api/v1/halls", "/api/v1/catalog/items"):
        statuses.append(requests.get(f"{url}{path}", headers=bearer(level2), timeout=10).status_code)
    headers = bearer(level2)
    version = requests.get(f"{url}/api/v1/me/face/consent", headers=headers, timeout=10).json()["current_version"]
    assert requests.post(f"{url}/api/v1/me/face/consent", json={"consent_version": version}, headers=headers, timeout=10).ok
    challenge = requests.post(f"{url}/api/v1/me/face/challenges", json={"mode": "passive"}, headers=headers, timeout=10).json()
    frames = [("frames", (f"f{i}.jpg", io.BytesIO(images.variant("obama_1.jpg")), "image/jpeg")) for i in range(2)]
    face = requests.post(
        f"{url}/api/v1/me/face/verifications", data={"challenge_id": challenge["challenge_id"]}, files=frames, headers=headers, timeout=30
    )
    assert face.status_code == 503 and face.json()["code"] == "redis_unavailable" and face.headers["Retry-After"]
    assert all(status < 500 for status in statuses), statuses

    server.start()  # ------------------------------------------------ back, empty (no persistence)
    assert (_me(url, kept), _me(url, signed_out), _me(url, during)) == (200, 401, 401)
    copy = redis.Redis(port=server.port, decode_responses=True)
    wait_for(lambda: copy.exists("revoked:copy-complete"), timeout=10, what="the revocation copy reloaded")
    assert len(copy.keys("revoked:fam:*")) >= 2
    assert (_me(url, kept), _me(url, signed_out), _me(url, during)) == (200, 401, 401)  # now answered by Redis
    # The face verification refused during the outage left its challenge unspent: it works now.
    frames = [("frames", (f"f{i}.jpg", io.BytesIO(images.variant("obama_1.jpg")), "image/jpeg")) for i in range(2)]
    face = requests.post(
        f"{url}/api/v1/me/face/verifications", data={"challenge_id": challenge["challenge_id"]}, files=frames, headers=headers, timeout=30
    )
    assert face.status_code == 202, face.text
    assert os.environ.get("REDIS_URL") != f"redis://127.0.0.1:{server.port}/0"


def test_the_beat_job_reloads_an_empty_redis_and_recopies_a_missed_write(app, app_context, config_override):
    from datetime import timedelta

    from auth import revocation

    server = RedisServer()
    config_override(REDIS_URL=f"redis://127.0.0.1:{server.port}/0")
    saved_client = app.extensions.pop("redis_client", None)
    try:
        key = f"fam:test-{random_id_number()}"
        revocation.add(key, timedelta(minutes=10))  # Redis is not running: the database has it
        assert revocation.is_revoked([key])
        server.start()  # empty: no sentinel
        copy = redis.Redis(port=server.port, decode_responses=True)
        assert revocation.sync() >= 1 and copy.exists("revoked:copy-complete") and copy.exists(f"revoked:{key}")
        copy.delete(f"revoked:{key}")  # as if the write had been missed while the copy was complete
        assert revocation.sync() >= 1 and copy.exists(f"revoked:{key}")  # the recent row is copied again
        assert revocation.is_revoked([key])
    finally:
        server.stop()
        app.extensions.pop("redis_client", None)
        if saved_client is not None:
            app.extensions["redis_client"] = saved_client
