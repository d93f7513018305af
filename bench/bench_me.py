"""GET /api/v1/me (token check, revocation check, account load, masking) against the bare /healthz of
the same server, measured in the same run with wrk: one connection per phone, each its own citizen
token. Bare and /me alternate in rounds so drift on a shared machine hits both alike. Prints both
rates, p99s, the ratio, the generator's CPU share and the SQL statements of one /me.

    .venv/bin/python bench/bench_me.py [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Phone, Server, bench_environment, prepare_database, run_wrk, statements_per_request


def citizen_tokens(env: dict[str, str], count: int) -> list[str]:
    """Set-up, not measured: level-2 accounts and their tokens, made through the service layer."""
    os.environ.update(env)
    from auth.models import Account
    from auth.tokens import issue_tokens
    from mobile_api import create_app
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db

    app = create_app()
    tokens = []
    with app.app_context():
        for _ in range(count):
            account = Account(phone=f"137{random.randrange(10**8):08d}", level=2, name="张伟", id_number="330203198503120016")
            db.session.add(account)
            db.session.flush()
            tokens.append(issue_tokens(CITIZEN, account.id).access_token)
        db.session.commit()
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    env = bench_environment()
    prepare_database(env)
    tokens = citizen_tokens(env, args.clients)
    (statements,) = statements_per_request(env, [Phone("GET", "/api/v1/me", tokens[0])])
    server = Server(env)
    rounds: dict[str, list[dict]] = {"bare": [], "me": []}
    shares = []
    try:
        for _ in range(args.rounds):
            for name, phones in (
                ("bare", [Phone("GET", "/healthz") for _ in tokens]),
                ("me", [Phone("GET", "/api/v1/me", token) for token in tokens]),
            ):
                results, share = run_wrk({name: phones}, server.url, args.seconds / args.rounds)
                rounds[name].append(results[name])
                shares.append(share)
    finally:
        server.stop()
    bare = sum(r["rps"] for r in rounds["bare"]) / args.rounds
    me = sum(r["rps"] for r in rounds["me"]) / args.rounds
    errors = sum(r["errors"] for rs in rounds.values() for r in rs)
    backend = "postgresql" if env.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"backend={backend} connections={args.clients} (one citizen each) seconds={args.seconds}; {server.description}")
    print(f"bare /healthz      : {bare:8.1f} req/s  p99 {max(r['p99_ms'] for r in rounds['bare']):6.1f} ms")
    print(f"GET /api/v1/me     : {me:8.1f} req/s  p99 {max(r['p99_ms'] for r in rounds['me']):6.1f} ms")
    print(f"ratio me/bare      : {me / bare:.2f}   errors (5xx, socket): {errors}")
    print(f"SQL statements per /me: {statements}; wrk used {max(shares):.2f} CPU at most (of {os.cpu_count()} cores)")
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
