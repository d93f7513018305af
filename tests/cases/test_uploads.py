"""Uploads: real decoding with Pillow and pypdf, size caps (413), wrong types (415), broken files (422)."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfWriter

from tests.cases.conftest import new_case, upload
from tests.cases.helpers import jpeg_bytes, pdf_bytes, png_bytes
from tests.support import bearer, staff_token


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _png_bomb() -> bytes:
    # 20000 × 20000 pixels (400 M) compress to a few hundred KB: refused before decoding.
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    return out.getvalue()


def test_upload_checks(app, client, citizen):
    token = citizen["access_token"]
    case_no = new_case(client, token)

    good = upload(client, token, case_no, "photo", png_bytes(600, 800), "photo.png")
    assert good.status_code == 201 and good.get_json()["check"]["kind"] == "png" and good.get_json()["check_ok"] is True

    sideways = upload(client, token, case_no, "photo", jpeg_bytes(1000, 700, orientation=8), "photo.jpg")
    assert (
        sideways.status_code == 201
        and sideways.get_json()["check"]["width"] == 700
        and sideways.get_json()["check"]["orientation_fixed"] is True
    )

    small = upload(client, token, case_no, "id_card", jpeg_bytes(200, 150), "tiny.jpg")
    assert small.status_code == 201 and small.get_json()["check_ok"] is False
    assert "分辨率太低" in small.get_json()["check"]["problems"][0]

    assert upload(client, token, case_no, "id_card", b"GIF89a" + b"\x00" * 100, "a.gif").status_code == 415
    assert upload(client, token, case_no, "id_card", b"MZ\x90\x00" * 100, "a.exe").get_json()["code"] == "unsupported_file_type"
    broken = upload(client, token, case_no, "id_card", b"\xff\xd8\xff\xe0" + b"\x13" * 5000, "broken.jpg")
    assert broken.status_code == 422 and broken.get_json()["code"] == "image_unreadable"
    assert upload(client, token, case_no, "id_card", b"%PDF-1.7\n garbage", "broken.pdf").get_json()["code"] == "pdf_unreadable"
    assert upload(client, token, case_no, "id_card", _encrypted_pdf(), "locked.pdf").get_json()["code"] == "pdf_encrypted"
    bomb = upload(client, token, case_no, "id_card", _png_bomb(), "bomb.png")
    assert bomb.status_code == 413 and bomb.get_json()["code"] == "image_too_large"

    too_big = jpeg_bytes() + b"\x00" * app.config["CASES_MAX_IMAGE_BYTES"]
    assert upload(client, token, case_no, "id_card", too_big, "huge.jpg").status_code == 413
    over_request_cap = b"%PDF-" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert upload(client, token, case_no, "id_card", over_request_cap, "huge.pdf").status_code == 413

    assert upload(client, token, case_no, "not_a_material", pdf_bytes(1)).get_json()["code"] == "material_unknown"
    missing_file = client.post(
        f"/api/v1/cases/{case_no}/materials", headers=bearer(token), data={"material_code": "photo"}, content_type="multipart/form-data"
    )
    # The document declares ``file`` required in the multipart body; the schema says so per field.
    assert missing_file.status_code == 422 and "file" in missing_file.get_json()["errors"]
    assert (
        client.post(
            f"/api/v1/cases/{case_no}/materials", headers=bearer(token), data=b"x", content_type="application/octet-stream"
        ).status_code
        == 415
    )

    # The failed check is reported at submission together with everything else missing.
    problems = client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(token)).get_json()["errors"]
    by_code = {p["material_code"]: p["reason"] for p in problems}
    assert set(by_code) == {"id_card", "residence_proof"} and "分辨率太低" in by_code["id_card"]

    # Fix both, submit; uploads are then locked until pre-review returns something.
    assert upload(client, token, case_no, "id_card", jpeg_bytes(), "id.jpg").status_code == 201
    assert upload(client, token, case_no, "residence_proof", pdf_bytes(2)).status_code == 201
    assert client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(token)).status_code == 200
    assert upload(client, token, case_no, "photo", png_bytes()).get_json()["code"] == "materials_locked"

    # The pre-reviewer opens the file (normalised JPEG, metadata dropped); the read is audited.
    staff = staff_token(client, "prereviewer", app.config["DEMO_PASSWORD"])
    opened = client.get(f"/api/v1/staff/cases/{case_no}/materials/id_card/file", query_string={"reason": "预审"}, headers=bearer(staff))
    assert opened.status_code == 200 and opened.mimetype == "image/jpeg" and opened.data.startswith(b"\xff\xd8\xff")
    assert Image.open(io.BytesIO(opened.data)).size == (800, 600)
    assert client.get(f"/api/v1/staff/cases/{case_no}/materials/nope/file", headers=bearer(staff)).status_code == 404
    assert client.get(f"/api/v1/staff/cases/{case_no}/materials/id_card/file", headers=bearer(token)).status_code == 403
    with app.app_context():
        from sqlalchemy import select

        from mobile_api.extensions import db
        from mobile_api.models import AuditEvent

        assert (
            db.session.scalar(select(AuditEvent.reason).where(AuditEvent.subject_id == case_no, AuditEvent.action == "case.read_material"))
            == "预审"
        )


def test_stored_view_follows_every_change(app, client, citizen):
    token = citizen["access_token"]
    case_no = new_case(client, token)
    first = client.get(f"/api/v1/cases/{case_no}", headers=bearer(token)).get_json()
    assert {m["material_code"]: m["status"] for m in first["materials"]}["photo"] == "missing"
    assert client.get(f"/api/v1/cases/{case_no}", headers=bearer(token)).get_json() == first  # served from the stored view
    assert upload(client, token, case_no, "photo", png_bytes()).status_code == 201
    with app.app_context():
        from sqlalchemy import select

        from cases.models import Case, CaseMaterial, StoredFile
        from mobile_api.extensions import db

        def photo_file_id():
            return db.session.scalar(
                select(CaseMaterial.file_id).join(Case).where(Case.case_no == case_no, CaseMaterial.material_code == "photo")
            )

        first_file = photo_file_id()
        assert upload(client, token, case_no, "photo", png_bytes(700, 900)).status_code == 201
        db.session.rollback()
        assert photo_file_id() != first_file and db.session.get(StoredFile, first_file) is None  # the replaced upload is gone
    second = client.get(f"/api/v1/cases/{case_no}", headers=bearer(token)).get_json()
    assert {m["material_code"]: m["status"] for m in second["materials"]}["photo"] == "ok"
    with app.app_context():
        from sqlalchemy import select

        from cases.models import Case
        from mobile_api.extensions import db

        stored = db.session.execute(select(Case.view_version, Case.view_cache_key).where(Case.case_no == case_no)).one()
        assert stored.view_cache_key.split(":")[1] == str(stored.view_version)
