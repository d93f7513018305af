"""List endpoints run a bounded number of SQL queries, whatever the page size."""

from __future__ import annotations

from datetime import date

from tests.cases.conftest import accepted_case, new_case
from tests.support import bearer, counted_queries


def test_list_endpoints_query_count_does_not_grow_with_page_size(app, client, citizen, staff):
    token = citizen["access_token"]
    for index in range(4):
        accepted_case(app, client, token, staff, date(2026, 9, 7 + index))
    for _ in range(26):
        new_case(client, token)

    def queries(path: str, headers: dict, per_page: int) -> int:
        with counted_queries(app) as statements:
            response = client.get(path, query_string={"per_page": per_page}, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert len(response.get_json()["items"]) == min(per_page, response.get_json()["total"])
        return len(statements)

    citizen_headers, officer_headers = bearer(token), bearer(staff["officer"])
    for path, headers in (("/api/v1/cases", citizen_headers), ("/api/v1/staff/cases", officer_headers), ("/api/v1/catalog/items", {})):
        small, large = queries(path, headers, 2), queries(path, headers, 30)
        assert small == large, (path, small, large)
        assert large <= 12, (path, large)
