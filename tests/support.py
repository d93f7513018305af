"""Helpers shared by tests: waiting for asynchronous work, phones, signing in through the API."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DEMO_RESIDENTS = {
    "张伟": "330203198503120016",
    "王芳": "330205199007080024",
    "李娜": "330281199502150049",
    "王建国": "11010519491231002X",
    "陈思雨": "330203200806010068",
}


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def unique_phone() -> str:
    """A valid mainland mobile number, different in every call (139 + 8 random digits)."""
    return "139" + f"{random.randrange(10**8):08d}"


def read_sms_code(client, phone: str, timeout: float = 30.0) -> str:
    """Read the newest sign-in code for ``phone`` from the sandbox (the worker must have sent it)."""

    def newest_code():
        response = client.get(f"/api/v1/sandbox/messages?phone={phone}")
        items = response.get_json()["items"]
        for item in items:
            match = re.search(r"验证码是(\d{6})", item["content"])
            if match:
                return match.group(1)
        return None

    return wait_for(newest_code, timeout=timeout, what=f"SMS code for {phone}")


def sign_in(client, phone: str | None = None) -> dict:
    """Full L1 sign-in through the API; returns the token response (with ``phone`` added)."""
    phone = phone or unique_phone()
    response = client.post("/api/v1/auth/sms-codes", json={"phone": phone})
    assert response.status_code == 202, response.get_json()
    code = read_sms_code(client, phone)
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code})
    assert response.status_code == 200, response.get_json()
    return {**response.get_json(), "phone": phone}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def staff_token(client, username: str, password: str) -> str:
    response = client.post("/api/v1/staff/auth/tokens", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def random_id_number() -> str:
    """A valid GB 11643 number nobody else in the test run uses (Beijing Chaoyang, born 1950–2005)."""
    from stdnum.cn import ric

    while True:
        base = f"110105{random.randrange(1950, 2006)}{random.randrange(1, 13):02d}{random.randrange(1, 29):02d}{random.randrange(1000):03d}"
        number = base + ric.calc_check_digit(base + "0")
        if ric.is_valid(number):
            return number


SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def random_name() -> str:
    return random.choice(SURNAMES) + "".join(random.choice(GIVEN) for _ in range(random.randrange(1, 3)))


def register_resident(app, name: str, id_number: str) -> None:
    """Put a person in the local identity registry (what the population registry would know)."""
    from auth.service import add_resident

    with app.app_context():
        add_resident(name, id_number, "test")


def sign_in_level2(app, client) -> dict:
    """A signed-in citizen with real name verified (level 2). Returns tokens + name + id_number."""
    tokens = sign_in(client)
    name, id_number = random_name(), random_id_number()
    register_resident(app, name, id_number)
    response = client.post("/api/v1/me/identity", json={"name": name, "id_number": id_number}, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.get_json()
    return {**tokens, "name": name, "id_number": id_number}


@contextmanager
def counted_queries(app) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block (query-count tests: counts, not timings)."""
    from sqlalchemy import event

    from mobile_api.extensions import db

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    # Only this thread's statements: a display stream or worker thread left running by another test shares
    # the engine, and its polls are not the cost of the request under test.
    thread = threading.get_ident()

    def count(_conn, _cursor, statement, *_args):
        if threading.get_ident() == thread:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
