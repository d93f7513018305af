"""Local HTTP servers speaking the SMS gateway protocol (notifications/channels.py) and WeChat's API.

They run in the test process on loopback ports; workers in other processes talk to them over real
HTTP, and the tests read what they received (counts per reference prove "never sent twice").
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections import Counter

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per fake gateway request


class _Server:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _wsgi(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class FakeSmsGateway(_Server):
    """``mode``: ok | error (500) | reject (400) | timeout (accepts it, but answers only after
    ``delay`` s) | hang (answers 503 after ``delay`` s, without accepting it)."""

    def __init__(self, name: str, api_key: str) -> None:
        super().__init__()
        self.name, self.api_key = name, api_key
        self.mode, self.delay = "ok", 1.0
        self.receipt_url: str | None = None
        self.receipt_secret = ""
        self.receipts: queue.Queue = queue.Queue()
        self.receipts_answered: Counter[int] = Counter()
        self.reset()
        threading.Thread(target=self._send_receipts, daemon=True).start()

    def send_receipts_to(self, base_url: str | None, secret: str = "") -> None:
        """After accepting a message, report it delivered to ``{base_url}/api/v1/webhooks/sms/<name>``."""
        self.receipt_url = f"{base_url}/api/v1/webhooks/sms/{self.name}" if base_url else None
        self.receipt_secret = secret

    def _send_receipts(self) -> None:
        http = requests.Session()
        while True:
            message_id, tries = self.receipts.get()
            url = self.receipt_url
            if url is None:
                continue
            body = json.dumps({"message_id": message_id, "status": "delivered"}).encode()
            timestamp = str(int(time.time()))
            signature = hmac.new(self.receipt_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            headers = {"Content-Type": "application/json", "X-Sms-Timestamp": timestamp, "X-Sms-Signature": signature}
            try:
                status = http.post(url, data=body, headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = 0
            self.receipts_answered[status] += 1
            if status != 200 and tries < 100:  # e.g. 404: the sender has not recorded the message id yet
                threading.Timer(0.2, self.receipts.put, args=((message_id, tries + 1),)).start()

    def reset(self) -> None:
        with self.lock:
            self.mode = "ok"
            self.posts: Counter[str] = Counter()  # every POST, by reference
            self.accepted: dict[str, dict] = {}  # reference → {"message_id", "phone", "content"}
            self.ids = itertools.count(1)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json({"error": "unauthorized"}, 401)
        if request.method == "GET" and request.path.startswith("/v1/sms/"):
            found = self.accepted.get(request.path.rsplit("/", 1)[1])
            return _json({"message_id": found["message_id"], "status": "accepted"}) if found else _json({"error": "not_found"}, 404)
        if request.method != "POST" or request.path != "/v1/sms":
            return _json({"error": "not_found"}, 404)
        body = request.get_json()
        with self.lock:
            self.posts[body["reference"]] += 1
            mode = self.mode
        if mode == "error":
            return _json({"error": "internal"}, 500)
        if mode == "reject":
            return _json({"error": "invalid_phone"}, 400)
        if mode in ("timeout", "hang"):
            time.sleep(self.delay)
        if mode == "hang":
            return _json({"error": "overloaded"}, 503)
        with self.lock:
            message_id = f"{self.name}-{next(self.ids)}-{uuid.uuid4().hex[:8]}"
            self.accepted[body["reference"]] = {"message_id": message_id, "phone": body["phone"], "content": body["content"]}
        if self.receipt_url:
            self.receipts.put((message_id, 0))
        return _json({"message_id": message_id})

    def sent_twice(self) -> list[str]:
        return [reference for reference, count in self.posts.items() if count > 1]


class FakeWeChat(_Server):
    """``/cgi-bin/token`` and ``/cgi-bin/message/subscribe/send`` as WeChat answers them."""

    def __init__(self, appid: str, secret: str) -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.reset()

    def reset(self, expires_in: int = 7200) -> None:
        with self.lock:
            self.expires_in = expires_in
            self.token_fetches = 0
            self.current_token: str | None = None
            self.refused: set[str] = set()
            self.sent: list[dict] = []
            self.token_delay = 0.0

    def revoke_token(self) -> None:
        """WeChat invalidates the old token (e.g. another server fetched a new one)."""
        with self.lock:
            self.current_token = "revoked-elsewhere"

    def handle(self, request: Request) -> Response:
        if request.path == "/cgi-bin/token":
            if request.args.get("appid") != self.appid or request.args.get("secret") != self.secret:
                return _json({"errcode": 40013, "errmsg": "invalid appid"})
            time.sleep(self.token_delay)
            with self.lock:
                self.token_fetches += 1
                self.current_token = f"token-{self.token_fetches}"
                return _json({"access_token": self.current_token, "expires_in": self.expires_in})
        if request.path == "/cgi-bin/message/subscribe/send" and request.method == "POST":
            if request.args.get("access_token") != self.current_token:
                return _json({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
            body = request.get_json()
            if body["touser"] in self.refused:
                return _json({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            with self.lock:
                self.sent.append(body)
                return _json({"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)})
        return _json({"errcode": 404, "errmsg": "not found"}, 404)
