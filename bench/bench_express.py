"""Kuaidi100 pushes ingested per second (signature check, de-duplication, state by event time, side
effects) against the bare ``/healthz`` of the same server, in the same run, as a ratio.

    .venv/bin/python bench/bench_express.py [--seconds 10] [--connections 8] [--parcels 200]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_express REDIS_URL=redis://127.0.0.1:6379/10 \\
      CELERY_BROKER_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/bench_express.py

Load: ``wrk`` (installed with apt-get when missing) with a Lua script that posts pre-signed form bodies
round-robin. The bodies are what Kuaidi100 sends: each parcel's route pushed as it grows (full history
every time), with every push repeated — so most events arrive several times and de-duplication is on
the measured path, as is a state change now and then (picked up → in transit → out for delivery →
delivered, which notifies the citizen). Bare and pushes are measured in alternating rounds so that drift
on a shared machine hits both alike. Also printed: SQL statements per push (new events, and a repeat)
counted in-process, and the events stored against the distinct events sent (must be equal).
Set-up, not measured: parcels are inserted directly (a case per citizen, handed-over SF parcels).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, bench_environment, prepare_database

SALT = "bench-salt"
ROUTE = [
    ("揽收", "1", "【宁波市】顺丰速运 已收取快件"),
    ("在途", "0", "快件在【宁波鄞州集散中心】完成分拣"),
    ("在途", "0", "快件已发往【杭州转运中心】"),
    ("在途", "0", "快件到达【杭州转运中心】"),
    ("派件", "5", "【杭州西湖】快递员正在派件"),
    ("签收", "3", "快件已签收，签收人：本人"),
]
LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local counter = 0
local offset = 0
function setup(thread) thread:set("offset", math.random(0, #bodies - 1)) end
function init(args) offset = tonumber(wrk.thread:get("offset")) or 0 end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
function request()
  counter = counter + 1
  local body = bodies[((counter + offset) %% #bodies) + 1]
  return wrk.format("POST", "/api/v1/webhooks/express/kuaidi100", nil, body)
end
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return path


def push_param(number: str, steps: int) -> str:
    """The push after ``steps`` scans: the whole history, newest first (as Kuaidi100 sends it)."""
    data = []
    for index in range(steps):
        word, _code, context = ROUTE[index]
        moment = f"2026-11-{20 + index // 3:02d} {8 + index * 2:02d}:{index * 7:02d}:00"
        data.insert(0, {"time": moment, "ftime": moment, "context": context, "status": word})
    state = ROUTE[steps - 1][1]
    last = {
        "message": "ok",
        "nu": number,
        "ischeck": "1" if state == "3" else "0",
        "com": "shunfeng",
        "status": "200",
        "state": state,
        "data": data,
    }
    return json.dumps({"status": "polling", "message": "", "lastResult": last}, ensure_ascii=False)


def form_body(param: str) -> str:
    return urlencode({"param": param, "sign": hashlib.md5((param + SALT).encode()).hexdigest().upper()})


def make_parcels(env: dict[str, str], count: int) -> list[str]:
    """Set-up: ``count`` handed-over SF parcels of one citizen's case; returns their waybill numbers."""
    os.environ.update(env)
    from auth.models import Account
    from cases.models import Case, ServiceItem
    from express.models import Delivery
    from mobile_api import create_app
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow

    app = create_app()
    numbers = []
    with app.app_context():
        item = db.session.scalar(db.select(ServiceItem).where(ServiceItem.code == "330200-GA-004"))
        run = uuid.uuid4().hex[:6].upper()
        for index in range(count):
            account = Account(phone=f"136{random.randrange(10**8):08d}", level=2)
            db.session.add(account)
            db.session.flush()
            case = Case(
                case_no=f"BX{run[:3]}-{index:05d}"[:16],
                account_id=account.id,
                item_id=item.id,
                department_code=item.department_code,
                status="certificate_issued",
                form={},
            )
            db.session.add(case)
            db.session.flush()
            number = f"SFB{run}{index:06d}"
            db.session.add(
                Delivery(
                    case_id=case.id,
                    account_id=account.id,
                    direction="outbound",
                    status="handed_over",
                    courier="sf",
                    waybill_no=number,
                    payer="government",
                    person_name="张伟",
                    person_phone="13800138000",
                    province_code="330000",
                    province_name="浙江省",
                    city_code="330100",
                    city_name="杭州市",
                    district_code="330106",
                    district_name="西湖区",
                    street="文三路1号",
                    booked_at=utcnow(),
                    handed_over_at=utcnow(),
                    last_activity_at=utcnow(),
                )
            )
            numbers.append(number)
        db.session.commit()
    return numbers


def statements_per_push(env: dict[str, str], number: str) -> tuple[int, int]:
    """SQL statements for one push that brings new events, and for the same push repeated."""
    os.environ.update(env)
    from sqlalchemy import event

    from mobile_api import create_app
    from mobile_api.extensions import db

    app = create_app()
    counted = []
    with app.app_context():
        engine = db.engine

    def count(*_args, **_kwargs) -> None:
        counted.append(1)

    client = app.test_client()
    param = push_param(number, 3)
    results = []
    for _ in range(2):
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        response = client.post(
            "/api/v1/webhooks/express/kuaidi100", data={"param": param, "sign": hashlib.md5((param + SALT).encode()).hexdigest().upper()}
        )
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200 and response.get_json()["result"] is True, response.get_data(as_text=True)
        results.append(len(counted))
    return results[0], results[1]


def wrk_rps(wrk: str, url: str, script: str | None, seconds: float, connections: int) -> dict:
    command = [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)] if p99 else 0
    return {"rps": rps, "errors": int(errors.group(1)) if errors else 0, "p99_ms": float(p99.group(1)) * scale if p99 else 0.0}


def stored_events(env: dict[str, str], numbers: list[str]) -> int:
    from sqlalchemy import func, select

    from express.models import Delivery, TrackingEvent
    from mobile_api import create_app
    from mobile_api.extensions import db

    app = create_app()
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(TrackingEvent).join(Delivery).where(Delivery.waybill_no.in_(numbers)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--parcels", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    wrk = ensure_wrk()
    env = bench_environment()
    env.update(
        {
            "EXPRESS_TRACKING_PROVIDER": "kuaidi100",
            "KUAIDI100_SALT": SALT,
            "KUAIDI100_KEY": "bench-key",
            "KUAIDI100_CALLBACK_URL": "http://127.0.0.1/api/v1/webhooks/express/kuaidi100",
            "EXPRESS_COURIERS": "sf,ems,local",
            "NOTIFY_QUIET_HOURS": "00:00-00:00",
        }
    )
    prepare_database(env)
    numbers = make_parcels(env, args.parcels + 1)
    probe, numbers = numbers[0], numbers[1:]
    new_push, repeated_push = statements_per_push(env, probe)

    # Every parcel's route as it grows, each push twice; shuffled: pushes for one parcel arrive out of order too.
    bodies = [form_body(push_param(number, steps)) for number in numbers for steps in range(1, len(ROUTE) + 1) for _ in range(2)]
    random.Random(1).shuffle(bodies)
    folder = Path(tempfile.mkdtemp(prefix="bench-express-"))
    (folder / "bodies.txt").write_text("\n".join(bodies) + "\n", encoding="utf-8")
    script = folder / "pushes.lua"
    script.write_text(LUA % {"bodies": folder / "bodies.txt"}, encoding="utf-8")

    server = Server(env)
    results: dict[str, list[dict]] = {"bare": [], "push": []}
    try:
        for _ in range(args.rounds):
            results["bare"].append(wrk_rps(wrk, f"{server.url}/healthz", None, args.seconds / args.rounds, args.connections))
            results["push"].append(wrk_rps(wrk, server.url, str(script), args.seconds / args.rounds, args.connections))
    finally:
        server.stop()
    bare = sum(r["rps"] for r in results["bare"]) / args.rounds
    pushes = sum(r["rps"] for r in results["push"]) / args.rounds
    sent = sum(r["rps"] for r in results["push"]) * args.seconds / args.rounds
    # Untimed check: each parcel's last push once more (the whole route); then every distinct event is stored once.
    server = Server(env)
    try:
        import requests

        with requests.Session() as session:
            for number in numbers:
                answer = session.post(
                    f"{server.url}/api/v1/webhooks/express/kuaidi100",
                    data=form_body(push_param(number, len(ROUTE))),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=30,
                )
                assert answer.json()["result"] is True, answer.text
    finally:
        server.stop()
    distinct = len(numbers) * len(ROUTE)
    stored = stored_events(env, numbers)
    backend = "postgresql" if env.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"backend={backend} connections={args.connections} seconds={args.seconds} parcels={len(numbers)} bodies={len(bodies)}")
    print(f"bare /healthz            : {bare:8.1f} req/s  p99 {max(r['p99_ms'] for r in results['bare']):7.1f} ms")
    print(f"Kuaidi100 pushes ingested: {pushes:8.1f} req/s  p99 {max(r['p99_ms'] for r in results['push']):7.1f} ms")
    print(f"ratio pushes/bare        : {pushes / bare:.2f}")
    print(
        f"non-2xx answers          : bare {sum(r['errors'] for r in results['bare'])}, pushes {sum(r['errors'] for r in results['push'])}"
    )
    print(f"SQL statements per push  : {new_push} with new events, {repeated_push} for a repeat")
    print(f"events stored            : {stored} for {distinct} distinct events in ~{sent:.0f} pushes (+{len(numbers)} final ones)")
    if stored != distinct:
        raise SystemExit("de-duplication failed: stored events differ from the distinct events sent")


if __name__ == "__main__":
    main()
