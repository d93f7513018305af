"""Reference photos from the identity authority: the face an ID number belongs to.

``local``: the ``reference_photos`` table an admin fills (``flask identity import-photo`` or
``POST /api/v1/staff/identity/reference-photos``) — the embedded default and tests.
``http``: ``POST {IDENTITY_AUTHORITY_URL}/v1/identity/reference-photo {"id_number"}`` → 200 with the
image bytes (image/jpeg|png|webp), 404 when the authority has no photo. Called by face workers only.
"""

from __future__ import annotations

import base64
import logging

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from auth.models import ReferencePhoto
from mobile_api.extensions import db
from mobile_api.pii import blind_index

log = logging.getLogger(__name__)


class ReferenceUnavailable(Exception):
    """The authority could not be asked (network, 5xx): not the citizen's fault, retry later."""


class LocalReferencePhotos:
    def get_photo(self, id_number: str) -> bytes | None:
        row = db.session.get(ReferencePhoto, blind_index(id_number, "id_number"))
        return None if row is None else base64.b64decode(row.photo)


class HttpReferencePhotos:
    def __init__(self, base_url: str, api_key: str | None, timeout: float, max_bytes: int) -> None:
        self.base_url, self.timeout, self.max_bytes = base_url.rstrip("/"), timeout, max_bytes
        self.session = requests.Session()
        retry = Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504), allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def get_photo(self, id_number: str) -> bytes | None:
        try:
            response = self.session.post(
                f"{self.base_url}/v1/identity/reference-photo", json={"id_number": id_number}, timeout=self.timeout, stream=True
            )
            if response.status_code == 404:
                return None
            response.raise_for_status()
            body = response.raw.read(self.max_bytes + 1, decode_content=True)
        except requests.RequestException as exc:
            log.warning("identity authority photo service unavailable: %s", type(exc).__name__)
            raise ReferenceUnavailable(type(exc).__name__) from exc
        if len(body) > self.max_bytes:
            raise ReferenceUnavailable("reference photo larger than FACE_MAX_IMAGE_BYTES")
        return body


def get_reference_photos() -> LocalReferencePhotos | HttpReferencePhotos:
    config = current_app.config
    if config["IDENTITY_PROVIDER"] != "http":
        return LocalReferencePhotos()
    adapter = current_app.extensions.get("reference_photos")
    if adapter is None:  # one connection pool per process
        adapter = HttpReferencePhotos(
            config["IDENTITY_AUTHORITY_URL"],
            config["IDENTITY_AUTHORITY_KEY"],
            config["HTTP_TIMEOUT_SECONDS"],
            config["FACE_MAX_IMAGE_BYTES"],
        )
        current_app.extensions["reference_photos"] = adapter
    return adapter
