"""Statements of a signed-in read — counts, not timings, so a regression fails CI."""

from __future__ import annotations

from tests.appointments.conftest import create_citizen
from tests.support import counted_queries

# Without Redis the revocation list is read from the database; with Redis it is a Redis look-up.
ME_CEILING = 3  # revocation (database) + account + company bindings


def test_me_is_at_most_three_statements(app, app_context, client):
    headers = create_citizen()["headers"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with counted_queries(app) as statements:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(statements) <= ME_CEILING, statements
