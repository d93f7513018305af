"""The application plus one bench-only route, ``/bench/bare``: a signed-in endpoint that does nothing
but what every signed-in endpoint does (token check, revocation check, loading the citizen). Served by
gunicorn in ``bench_cases.py``; never part of the real app."""

from flask import jsonify

from mobile_api import create_app
from mobile_api.access import current_account, requires

app = create_app()


@app.get("/bench/bare")
@requires(level=1)
def bare():
    return jsonify(ok=True, account=current_account().id)
