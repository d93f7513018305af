"""Identity authority adapters: does this name belong to this resident ID number?

``local``: the resident registry table (demo data, CSV import, admin API) — for the embedded default
and tests. ``http``: the population registry's verification service (JSON over HTTPS).
"""

from __future__ import annotations

import logging
from enum import StrEnum

import requests
from flask import current_app
from sqlalchemy import select

from auth.models import Resident
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.http import outbound_session
from mobile_api.pii import index_matches
from mobile_api.settings import setting

log = logging.getLogger(__name__)


class IdentityResult(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"


class LocalIdentityAuthority:
    def verify(self, name: str, id_number: str) -> IdentityResult:
        resident = db.session.scalar(select(Resident).where(index_matches(Resident.id_number_index, id_number, "id_number")))
        if resident is None:
            return IdentityResult.NOT_FOUND
        return IdentityResult.MATCH if resident.name == name else IdentityResult.MISMATCH


class HttpIdentityAuthority:
    """``POST {IDENTITY_AUTHORITY_URL}/v1/identity/verify {name, id_number}`` → ``{"result": "match"|…}``."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = outbound_session(timeout=timeout)
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def verify(self, name: str, id_number: str) -> IdentityResult:
        try:
            response = self.session.post(f"{self.base_url}/v1/identity/verify", json={"name": name, "id_number": id_number})
            response.raise_for_status()
            return IdentityResult(response.json()["result"])
        except (requests.RequestException, KeyError, ValueError) as exc:
            log.warning("identity authority unavailable: %s", type(exc).__name__)
            raise Problem(503, "identity_authority_unavailable", "身份核验服务暂时不可用，请稍后再试") from exc


def get_identity_authority() -> LocalIdentityAuthority | HttpIdentityAuthority:
    if setting("IDENTITY_PROVIDER") == "http":
        authority = current_app.extensions.get("identity_authority")
        if authority is None:  # one session (connection pool) per process
            authority = HttpIdentityAuthority(
                setting("IDENTITY_AUTHORITY_URL"), setting("IDENTITY_AUTHORITY_KEY"), setting("HTTP_TIMEOUT_SECONDS")
            )
            current_app.extensions["identity_authority"] = authority
        return authority
    return LocalIdentityAuthority()
