"""GET /api/v1/me (JWT check, revocation check, account load, masking) against the bare /healthz of the
same server, measured in the same run. Prints requests/s of both and the ratio.

    .venv/bin/python bench/bench_me.py [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, bench_environment, prepare_database, run_load


def citizen_token(env: dict[str, str]) -> str:
    """Set-up, not measured: an account with real name and a token, made through the service layer."""
    os.environ.update(env)
    from auth.models import Account
    from auth.tokens import issue_tokens
    from mobile_api import create_app
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db

    app = create_app()
    with app.app_context():
        account = Account(phone=f"137{random.randrange(10**8):08d}", level=2, name="张伟", id_number="330203198503120016")
        db.session.add(account)
        db.session.flush()
        token = issue_tokens(CITIZEN, account.id).access_token
        db.session.commit()
    return token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    env = bench_environment()
    prepare_database(env)
    token = citizen_token(env)
    server = Server(env)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        assert __import__("requests").get(f"{server.url}/api/v1/me", headers=headers, timeout=5).status_code == 200
        results = {"bare": [], "me": []}
        # Interleave rounds so drift on a shared machine hits both alike.
        for _ in range(2):
            results["bare"].append(run_load(lambda s: s.get(f"{server.url}/healthz", timeout=10), args.clients, args.seconds / 2))
            results["me"].append(
                run_load(lambda s: s.get(f"{server.url}/api/v1/me", headers=headers, timeout=10), args.clients, args.seconds / 2)
            )
    finally:
        server.stop()
    bare = sum(r["rps"] for r in results["bare"]) / 2
    me = sum(r["rps"] for r in results["me"]) / 2
    errors = sum(r["errors"] for rs in results.values() for r in rs)
    backend = "postgresql" if env.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"backend={backend} clients={args.clients} seconds={args.seconds}")
    print(f"bare /healthz      : {bare:8.1f} req/s  p99 {max(r['p99_ms'] for r in results['bare']):6.1f} ms")
    print(f"GET /api/v1/me     : {me:8.1f} req/s  p99 {max(r['p99_ms'] for r in results['me']):6.1f} ms")
    print(f"ratio me/bare      : {me / bare:.2f}   errors: {errors}")


if __name__ == "__main__":
    main()
