"""Bench: ``GET /api/v1/cases/<case_no>`` against a bare authenticated endpoint, same server, same run.

    python bench/bench_cases.py              # embedded default: a fresh SQLite database in a temp dir
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_cases python bench/bench_cases.py

The database gets 10,000 cases (1,000 citizens, four timeline events and two materials each) by bulk
insert. The bare endpoint (``/bench/bare``) goes through the same stack — JWT check, revocation
check, loading the citizen — and returns ``{"ok": true}``; the ratio therefore measures what the case
detail itself costs. ``/healthz`` (no auth, no database) is printed for reference. Only 127.0.0.1.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = int(os.environ.get("BENCH_CASES", "10000"))
CITIZENS = CASES // 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CLIENT_THREADS = int(os.environ.get("BENCH_THREADS", "4"))


def _environment() -> None:
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["APP_ENV"] = "development"
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        os.environ["DATABASE_URL"] = url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-cases-")
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)


def build_app():
    from flask import jsonify
    from flask_migrate import upgrade
    from sqlalchemy import text

    from mobile_api import create_app
    from mobile_api.access import current_account, requires
    from mobile_api.extensions import db

    app = create_app({"RATELIMIT_ENABLED": False})

    @app.get("/bench/bare")
    @requires(level=1)
    def bare():
        return jsonify(ok=True, account=current_account().id)

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            if "bench" not in db.engine.url.database:
                raise SystemExit("refusing to reset a PostgreSQL database whose name does not contain 'bench'")
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    return app


def seed(app) -> tuple[str, str]:
    """Bulk-insert citizens and cases; returns (access token, case number) of one citizen's case."""
    from sqlalchemy import insert, select

    from auth.models import Account
    from auth.tokens import issue_tokens
    from cases.demo_data import seed_catalog
    from cases.models import Case, CaseEvent, CaseMaterial, ServiceItem
    from cases.service import CASE_NO_ALPHABET
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow
    from mobile_api.workdays import seed_from_chinesecalendar

    started = time.perf_counter()
    with app.app_context():
        seed_from_chinesecalendar()
        seed_catalog([])
        items = db.session.execute(select(ServiceItem.id, ServiceItem.department_code)).all()
        now = utcnow()
        accounts = [{"id": f"bench{i:027d}", "phone": f"1390{i:07d}", "level": 2, "created_at": now} for i in range(CITIZENS)]
        db.session.execute(insert(Account), accounts)
        numbers: set[str] = set()
        while len(numbers) < CASES:
            numbers.add("NB2611-" + "".join(random.choice(CASE_NO_ALPHABET) for _ in range(5)))
        accepted = date(2026, 11, 2)
        rows = []
        for index, case_no in enumerate(sorted(numbers)):
            item_id, department = random.choice(items)
            rows.append(
                {
                    "case_no": case_no,
                    "account_id": accounts[index % CITIZENS]["id"],
                    "item_id": item_id,
                    "department_code": department,
                    "status": "in_progress",
                    "form": {"contact_phone": "13800138000"},
                    "current_step": "审核",
                    "accepted_on": accepted,
                    "due_on": accepted + timedelta(days=28),
                    "due_provisional": False,
                    "prereview_returns": 0,
                    "returned_materials": [],
                    "suspended_days": 0,
                    "extended_days": 0,
                    "colour": "green",
                    "colour_changes": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        db.session.execute(insert(Case), rows)
        ids = db.session.execute(select(Case.id)).scalars().all()
        events = [
            {
                "case_id": case_id,
                "at": now,
                "effective_on": accepted,
                "actor": "citizen" if step < 2 else "staff:clerk",
                "action": action,
                "from_status": None,
                "to_status": status,
                "visible": True,
                "note": None,
            }
            for case_id in ids
            for step, (action, status) in enumerate(
                (("create", "draft"), ("submit", "prereview_pending"), ("prereview_pass", "prereview_passed"), ("accept", "accepted"))
            )
        ]
        db.session.execute(insert(CaseEvent), events)
        materials = [
            {
                "case_id": case_id,
                "material_code": code,
                "source": "upload",
                "check_ok": True,
                "check": {"kind": "pdf", "pages": 1, "problems": []},
                "uploaded_at": now,
            }
            for case_id in ids
            for code in ("id_card", "photo")
        ]
        db.session.execute(insert(CaseMaterial), materials)
        db.session.commit()
        account_id = accounts[7]["id"]
        case_no = db.session.scalar(select(Case.case_no).where(Case.account_id == account_id).limit(1))
        token = issue_tokens(CITIZEN, account_id).access_token
        db.session.commit()
        count = db.session.scalar(select(db.func.count()).select_from(Case))
    print(f"seeded {count} cases, {len(events)} events, {len(materials)} materials in {time.perf_counter() - started:.1f}s")
    return token, case_no


def serve(app) -> tuple[str, object]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def measure(url: str, headers: dict, seconds: float) -> float:
    import requests

    done = [0] * CLIENT_THREADS
    failures: list[int] = []
    stop = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        session = requests.Session()
        while time.perf_counter() < stop:
            response = session.get(url, headers=headers, timeout=10)
            if response.status_code != 200:
                failures.append(response.status_code)
                return
            done[slot] += 1

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(CLIENT_THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{url}: HTTP {failures[0]}")
    return sum(done) / (time.perf_counter() - began)


def measure_cold(app, token: str, case_no: str, requests_count: int = 300) -> tuple[float, float]:
    """In-process (no HTTP): bare vs a case detail whose stored view must be rebuilt on every read."""
    from sqlalchemy import update

    from cases.models import Case
    from mobile_api.extensions import db

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bare = cold = 0.0
    for _ in range(requests_count):
        with app.app_context():
            db.session.execute(update(Case).where(Case.case_no == case_no).values(view_cache_key=None))
            db.session.commit()
        began = time.perf_counter()
        assert client.get(f"/api/v1/cases/{case_no}", headers=headers).status_code == 200
        cold += time.perf_counter() - began
        began = time.perf_counter()
        assert client.get("/bench/bare", headers=headers).status_code == 200
        bare += time.perf_counter() - began
    return requests_count / bare, requests_count / cold


def main() -> None:
    _environment()
    app = build_app()
    token, case_no = seed(app)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    base, server = serve(app)
    auth = {"Authorization": f"Bearer {token}"}
    targets = {
        "bare (auth only)": (f"{base}/bench/bare", auth),
        "case detail": (f"{base}/api/v1/cases/{case_no}", auth),
        "healthz (no auth)": (f"{base}/healthz", {}),
    }
    for url, headers in targets.values():  # warm up: connections, caches, first-request work
        measure(url, headers, 0.5)
    rates = {name: 0.0 for name in targets}
    rounds = 2
    for _ in range(rounds):  # interleaved so drift on a shared machine hits both alike
        for name, (url, headers) in targets.items():
            rates[name] += measure(url, headers, SECONDS) / rounds
    server.shutdown()
    for name, rate in rates.items():
        print(f"{name:>20}: {rate:8.1f} req/s")
    print(f"ratio case detail / bare endpoint: {rates['case detail'] / rates['bare (auth only)']:.2f}  (aim >= 0.7)")
    print(f"ratio case detail / healthz:       {rates['case detail'] / rates['healthz (no auth)']:.2f}  (reference)")
    bare, cold = measure_cold(app, token, case_no)
    print(f"in-process, stored view rebuilt on every read: bare {bare:.0f} req/s, case detail {cold:.0f} req/s, ratio {cold / bare:.2f}")


if __name__ == "__main__":
    main()
