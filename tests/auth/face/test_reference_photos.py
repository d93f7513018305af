"""The reference-photo register: admin API, CLI, and the identity authority's HTTP adapter."""

from __future__ import annotations

import io

from werkzeug import Response

from tests.auth.face import images
from tests.support import bearer, random_id_number, staff_token


def _upload(client, token: str, id_number: str, photo: bytes):
    return client.post(
        "/api/v1/staff/identity/reference-photos",
        data={"id_number": id_number, "photo": (io.BytesIO(photo), "ref.jpg")},
        headers=bearer(token),
        content_type="multipart/form-data",
    )


def test_admin_imports_a_reference_photo_audited_and_encrypted(app, client):
    admin = staff_token(client, "admin", app.config["DEMO_PASSWORD"])
    id_number = random_id_number()
    response = _upload(client, admin, id_number, images.raw("obama_2.jpg"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id_number_masked"] == id_number[:6] + "********" + id_number[-4:] and body["content_type"] == "image/jpeg"
    assert id_number not in response.get_data(as_text=True)

    from sqlalchemy import select, text

    from mobile_api.extensions import db
    from mobile_api.models import AuditEvent

    with app.app_context():
        raw = db.session.execute(text("SELECT photo FROM reference_photos")).scalars().all()
        assert raw and all(bytes(r)[:1] == b"\x02" and b"JFIF" not in bytes(r) for r in raw)
        assert db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "identity.reference_photo.import", AuditEvent.actor == "staff:admin")
        )

    clerk = staff_token(client, "clerk", app.config["DEMO_PASSWORD"])
    assert _upload(client, clerk, id_number, images.raw("obama_2.jpg")).status_code == 403
    assert _upload(client, admin, "110105194912310021", images.raw("obama_2.jpg")).status_code == 422  # bad checksum
    assert _upload(client, admin, id_number, images.encode(images.photo("obama_small.jpg"), "GIF")).status_code == 415


def test_cli_import_photo(app):
    from mobile_api.pii import blind_index

    id_number = random_id_number()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["identity", "import-photo", id_number, str(images.FACES / "obama_1.jpg")])
    assert result.exit_code == 0, result.output
    assert "reference photo saved" in result.output
    bad = runner.invoke(args=["identity", "import-photo", id_number, str(images.FACES / "README.md")])
    assert bad.exit_code != 0 and "unsupported_image_format" in bad.output

    from auth.face.models import ReferencePhoto
    from mobile_api.extensions import db

    with app.app_context():
        assert db.session.get(ReferencePhoto, blind_index(id_number, "id_number")) is not None


def test_http_reference_adapter_against_a_local_authority(app, httpserver):
    from auth.face.reference import HttpReferencePhotos, ReferenceUnavailable

    photo = images.raw("obama_1.jpg")
    known, unknown, broken = random_id_number(), random_id_number(), random_id_number()
    httpserver.expect_request(
        "/v1/identity/reference-photo", method="POST", json={"id_number": known}, headers={"Authorization": "Bearer k"}
    ).respond_with_data(photo, content_type="image/jpeg")
    httpserver.expect_request("/v1/identity/reference-photo", method="POST", json={"id_number": unknown}).respond_with_data("", status=404)
    httpserver.expect_request("/v1/identity/reference-photo", method="POST", json={"id_number": broken}).respond_with_response(
        Response("down", status=500)
    )
    adapter = HttpReferencePhotos(httpserver.url_for("/"), "k", 2.0, 8 * 1024 * 1024)
    assert adapter.get_photo(known) == photo
    assert adapter.get_photo(unknown) is None
    try:
        adapter.get_photo(broken)
        raise AssertionError("a 500 must raise ReferenceUnavailable")
    except ReferenceUnavailable:
        pass
    small = HttpReferencePhotos(httpserver.url_for("/"), "k", 2.0, 1000)
    try:
        small.get_photo(known)
        raise AssertionError("an oversized photo must be refused")
    except ReferenceUnavailable:
        pass


def test_decision_with_the_http_authority(app, client, httpserver):
    """The decision code with IDENTITY_PROVIDER=http, run in this process (no queue involved)."""
    from datetime import timedelta

    from auth.face import store as face_store
    from auth.face.models import FaceChallenge, FaceVerification
    from auth.face.verification import run_verification
    from auth.models import Account
    from mobile_api.extensions import db
    from mobile_api.timeutil import city_today, utcnow
    from tests.support import random_name, register_resident

    id_number = random_id_number()
    register_resident(app, random_name(), id_number)
    httpserver.expect_request("/v1/identity/reference-photo", method="POST", json={"id_number": id_number}).respond_with_data(
        images.raw("obama_1.jpg"), content_type="image/jpeg"
    )
    frames = [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")]
    app.config.update(IDENTITY_PROVIDER="http", IDENTITY_AUTHORITY_URL=httpserver.url_for("/"), IDENTITY_AUTHORITY_KEY=None)
    app.extensions.pop("reference_photos", None)
    try:
        with app.app_context():
            account = Account(phone="13700000000"[:3] + id_number[-8:], level=2, id_number=id_number)
            db.session.add(account)
            db.session.flush()
            challenge = FaceChallenge(account_id=account.id, mode="passive", actions=[], expires_at=utcnow() + timedelta(minutes=3))
            db.session.add(challenge)
            db.session.flush()
            verification = FaceVerification(
                account_id=account.id,
                challenge_id=challenge.id,
                method="authority",
                mode="passive",
                frame_count=2,
                threshold=0.5,
                day=city_today(),
            )
            db.session.add(verification)
            db.session.flush()
            face_store.put_images(verification.id, frames, None)
            db.session.commit()
            assert run_verification(verification.id) == "passed"
            assert db.session.get(Account, account.id).level == 3
            assert face_store.count_stored(verification.id, 2) == 0
    finally:
        app.config.update(IDENTITY_PROVIDER="local")
        app.extensions.pop("reference_photos", None)
