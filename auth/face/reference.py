"""Reference photos: the face an ID number belongs to, as the identity authority knows it.

Reading (face workers only), chosen by ``IDENTITY_PROVIDER``:
``local``: the ``reference_photos`` table an admin fills — the embedded default and tests.
``http``: ``POST {IDENTITY_AUTHORITY_URL}/v1/identity/reference-photo {"id_number"}`` → 200 with the
image bytes (image/jpeg|png|webp), 404 when the authority has no photo.

Writing: :func:`import_reference_photo` fills the local register (``flask identity import-photo`` or
``POST /api/v1/staff/identity/reference-photos``), encrypted and audited.
"""

from __future__ import annotations

import base64
import logging

import requests
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from auth.face import images
from auth.face.messages import reason_title
from auth.face.models import ReferencePhoto
from auth.service import check_id_number
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.http import outbound_session
from mobile_api.pii import blind_index, index_matches, mask_id_number
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)


class ReferenceUnavailable(Exception):
    """The authority could not be asked (network, 5xx): not the citizen's fault, retry later."""


def _photo_row(id_number: str) -> ReferencePhoto | None:
    """The register's row for an ID number, under whichever configured index key it was written."""
    return db.session.scalar(select(ReferencePhoto).where(index_matches(ReferencePhoto.id_number_index, id_number, "id_number")).limit(1))


class LocalReferencePhotos:
    def get_photo(self, id_number: str) -> bytes | None:
        row = db.session.scalar(
            select(ReferencePhoto).where(index_matches(ReferencePhoto.id_number_index, id_number, "id_number")).limit(1)
        )
        return None if row is None else base64.b64decode(row.photo)


class HttpReferencePhotos:
    def __init__(self, base_url: str, api_key: str | None, timeout: float, max_bytes: int) -> None:
        self.base_url, self.max_bytes = base_url.rstrip("/"), max_bytes
        self.session = outbound_session(timeout=timeout)
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def get_photo(self, id_number: str) -> bytes | None:
        try:
            response = self.session.post(f"{self.base_url}/v1/identity/reference-photo", json={"id_number": id_number}, stream=True)
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
    if setting("IDENTITY_PROVIDER") != "http":
        return LocalReferencePhotos()
    adapter = current_app.extensions.get("reference_photos")
    if adapter is None:  # one connection pool per process
        adapter = HttpReferencePhotos(
            setting("IDENTITY_AUTHORITY_URL"),
            setting("IDENTITY_AUTHORITY_KEY"),
            setting("HTTP_TIMEOUT_SECONDS"),
            setting("FACE_MAX_IMAGE_BYTES"),
        )
        current_app.extensions["reference_photos"] = adapter
    return adapter


# --- The local register (authority stand-in) ----------------------------------------------------


def import_reference_photo(id_number: str, data: bytes, source: str, actor: str) -> dict:
    """Put (or replace) the reference photo for an ID number in the local register, encrypted."""
    try:
        id_number = check_id_number(id_number)
    except ValidationError as exc:
        raise Problem(422, "validation_failed", "身份证号码不正确", errors={"id_number": exc.messages}) from None
    try:
        info = images.inspect_upload(data, max_bytes=setting("FACE_MAX_IMAGE_BYTES"), max_pixels=setting("FACE_MAX_PIXELS"))
    except images.FaceImageError as exc:
        raise Problem(exc.status, exc.reason, reason_title(exc.reason, "图片无法识别"), errors={"photo": [exc.reason]}) from None
    index = blind_index(id_number, "id_number")
    with transaction():
        row = db.session.scalar(
            select(ReferencePhoto).where(index_matches(ReferencePhoto.id_number_index, id_number, "id_number")).limit(1)
        )
        if row is None:
            row = ReferencePhoto(id_number_index=index)
            db.session.add(row)
        # Written under the newest index key (a row found under an older key moves to it) with the
        # number itself, encrypted, so `flask pii rotate` can re-index it later.
        row.id_number_index, row.id_number = index, id_number
        row.photo = base64.b64encode(data).decode()
        row.content_type = images.ACCEPTED_FORMATS[info.format]
        row.source, row.imported_at = source, utcnow()
        # The subject is the index digest without its key id (the audit column holds 64 characters).
        record_audit(actor, "identity.reference_photo.import", "resident", index.partition(":")[2], details={"source": source})
    return {
        "id_number_masked": mask_id_number(id_number),
        "content_type": images.ACCEPTED_FORMATS[info.format],
        "width": info.width,
        "height": info.height,
        "source": source,
    }


def import_uploaded_reference_photo(id_number: str, upload: FileStorage, actor: str) -> dict:
    """The admin endpoint's upload: read at most one byte past the cap, then as :func:`import_reference_photo`."""
    return import_reference_photo(id_number, upload.stream.read(setting("FACE_MAX_IMAGE_BYTES") + 1), "admin", actor)
