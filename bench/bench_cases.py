"""Bench: ``GET /api/v1/cases/<case_no>`` against a bare signed-in endpoint, same server, same run.

    python bench/bench_cases.py              # embedded default: a fresh SQLite database in a temp dir
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_cases python bench/bench_cases.py

The database gets 10,000 cases (1,000 citizens, four timeline events and two materials each) by bulk
insert. The server is gunicorn as ``scripts/run.sh`` runs it, serving the app plus one route,
``/bench/bare`` (``bench/bare_wsgi.py``), which goes through the same stack — token check, revocation
check, loading the citizen — and returns ``{"ok": true}``; the ratio therefore measures what the case
detail itself costs. Load: wrk, 8 connections, each one citizen reading their own case. ``/healthz``
(no auth, no database) is printed for reference. Only 127.0.0.1.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = int(os.environ.get("BENCH_CASES", "10000"))
CITIZENS = CASES // 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))  # per round and endpoint


def _environment() -> None:
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["APP_ENV"] = "development"
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:  # PostgreSQL, with REDIS_URL / CELERY_BROKER_URL if given (as run.sh would use them)
        os.environ["DATABASE_URL"] = url
    else:  # the embedded default: no Redis
        os.environ.pop("DATABASE_URL", None)
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-cases-")
        for name in ("REDIS_URL", "CELERY_BROKER_URL"):
            os.environ.pop(name, None)


def build_app():
    from flask_migrate import upgrade
    from sqlalchemy import text

    from bench.bare_wsgi import app
    from mobile_api.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            if "bench" not in db.engine.url.database:
                raise SystemExit("refusing to reset a PostgreSQL database whose name does not contain 'bench'")
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    return app


def seed(app) -> list[tuple[str, str]]:
    """Bulk-insert citizens and cases; returns (access token, case number) of one case each of 8 citizens."""
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
        phones = []
        for account in accounts[:8]:
            case_no = db.session.scalar(select(Case.case_no).where(Case.account_id == account["id"]).limit(1))
            phones.append((issue_tokens(CITIZEN, account["id"]).access_token, case_no))
        db.session.commit()
        count = db.session.scalar(select(db.func.count()).select_from(Case))
    print(f"seeded {count} cases, {len(events)} events, {len(materials)} materials in {time.perf_counter() - started:.1f}s")
    return phones


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
    from bench.common import Phone, Server, run_wrk, statements_per_request

    _environment()
    app = build_app()
    phones = seed(app)
    token, case_no = phones[0]
    detail, bare_phone = Phone("GET", f"/api/v1/cases/{case_no}", token), Phone("GET", "/bench/bare", token)
    statements = statements_per_request(dict(os.environ), [detail, detail, bare_phone, bare_phone], app=app)
    server = Server({**os.environ, "RATELIMIT_ENABLED": "0"}, app_module="bench.bare_wsgi:app")
    groups = {
        "bare (signed in)": [Phone("GET", "/bench/bare", token) for token, _ in phones],
        "case detail": [Phone("GET", f"/api/v1/cases/{case_no}", token) for token, case_no in phones],
        "healthz (no auth)": [Phone("GET", "/healthz") for _ in phones],
    }
    rounds, rates, p99, shares, errors = 2, dict.fromkeys(groups, 0.0), dict.fromkeys(groups, 0.0), [], 0
    try:
        for _ in range(rounds):  # interleaved so drift on a shared machine hits both alike
            for name, group in groups.items():
                results, share = run_wrk({name: group}, server.url, SECONDS)
                rates[name] += results[name]["rps"] / rounds
                p99[name] = max(p99[name], results[name]["p99_ms"])
                errors += results[name]["errors"] + sum(n for status, n in results[name]["statuses"].items() if status != 200)
                shares.append(share)
    finally:
        server.stop()
    backend = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"backend={backend} cases={CASES} connections=8 (one citizen each); {server.description}")
    for name, rate in rates.items():
        print(f"{name:>20}: {rate:8.1f} req/s  p99 {p99[name]:6.1f} ms")
    print(f"ratio case detail / bare signed-in endpoint: {rates['case detail'] / rates['bare (signed in)']:.2f}  (aim >= 0.9)")
    print(f"ratio case detail / healthz:                 {rates['case detail'] / rates['healthz (no auth)']:.2f}  (reference)")
    print(
        f"SQL statements: case detail {statements[1]} (warm view), bare signed-in {statements[3]}; wrk used {max(shares):.2f} CPU at most"
    )
    bare, cold = measure_cold(app, token, case_no)
    print(f"in-process, stored view rebuilt on every read: bare {bare:.0f} req/s, case detail {cold:.0f} req/s, ratio {cold / bare:.2f}")
    if errors:
        raise SystemExit(f"{errors} answers were not 200")


if __name__ == "__main__":
    main()
