"""The image pipeline (auth/face/images.py) and the upload checks of the web process."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from auth.face import images as face
from tests.auth.face import images
from tests.auth.face.support import challenge, post_frames


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims to be ``width``×``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


LIMITS = {"max_bytes": 8 * 1024 * 1024, "max_pixels": 40_000_000}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats(fmt):
    info = face.inspect_upload(images.encode(images.photo("obama_small.jpg"), fmt), **LIMITS)
    assert (info.format, info.width, info.height) == (fmt, 320, 240)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_415(fmt):
    with pytest.raises(face.FaceImageError) as caught:
        face.inspect_upload(images.encode(images.photo("obama_small.jpg"), fmt), **LIMITS)
    assert (caught.value.status, caught.value.reason) == (415, "unsupported_image_format")


def test_garbage_empty_truncated_and_bombs():
    with pytest.raises(face.FaceImageError) as caught:
        face.inspect_upload(b"%PDF-1.7 not an image" * 10, **LIMITS)
    assert caught.value.status == 415
    with pytest.raises(face.FaceImageError) as caught:
        face.inspect_upload(b"", **LIMITS)
    assert caught.value.status == 422
    with pytest.raises(face.FaceImageError) as caught:
        face.inspect_upload(_png_header_only(60000, 60000), **LIMITS)
    assert (caught.value.status, caught.value.reason) == (413, "image_too_many_pixels")
    with pytest.raises(face.FaceImageError) as caught:
        face.inspect_upload(b"\xff\xd8" + b"\x00" * (9 * 1024 * 1024), **LIMITS)
    assert (caught.value.status, caught.value.reason) == (413, "image_too_large")
    # A JPEG cut off mid-stream: libjpeg would pad it with grey and the top half may hold a face.
    for fraction in (0.5, 0.6, 0.9):
        truncated = images.raw("obama_1.jpg")[: int(len(images.raw("obama_1.jpg")) * fraction)]
        with pytest.raises(face.FaceImageError) as caught:
            face.inspect_upload(truncated, **LIMITS)
        assert (caught.value.status, caught.value.reason) == (422, "image_unreadable")
        with pytest.raises(face.FaceImageError) as caught:
            face.decode(truncated, max_pixels=LIMITS["max_pixels"])
        assert caught.value.reason == "image_unreadable"
    # A complete JPEG with a few bytes of padding after EOI still passes.
    face.inspect_upload(images.raw("obama_1.jpg") + b"\x00" * 16, **LIMITS)
    with pytest.raises(face.FaceImageError) as caught:
        face.decode(_png_header_only(5000, 5000), max_pixels=LIMITS["max_pixels"])
    assert caught.value.reason == "image_unreadable"
    with pytest.raises(face.FaceImageError) as caught:
        face.decode(_png_header_only(60000, 60000), max_pixels=LIMITS["max_pixels"])
    assert caught.value.reason == "image_too_many_pixels"


def test_exif_orientation_is_applied_and_needed():
    picture = images.photo("obama_2.jpg")
    rotated = images.exif_rotated(picture)
    decoded = face.decode(rotated, max_pixels=LIMITS["max_pixels"])
    assert decoded.image.size[0] < decoded.image.size[1]  # portrait again
    assert face.analyse_face(decoded, face.QualityLimits(), need_yaw=False).face_px >= 80
    # Without the orientation the face lies on its side and HOG finds nothing.
    sideways = images.encode(picture.transpose(Image.Transpose.ROTATE_90))
    with pytest.raises(face.FaceImageError) as caught:
        face.analyse_face(face.decode(sideways, max_pixels=LIMITS["max_pixels"]), face.QualityLimits(), need_yaw=False)
    assert caught.value.reason == "no_face"


def test_rgba_palette_and_grayscale_are_converted():
    rgba = face.decode(images.raw("rgba_32bit.png"), max_pixels=LIMITS["max_pixels"])
    assert rgba.image.mode == "RGB" and max(rgba.image.size) == face.WORKING_SIDE
    for mode in ("L", "P", "LA"):
        data = images.encode(images.photo("obama_2.jpg").convert(mode), "PNG")
        decoded = face.decode(data, max_pixels=LIMITS["max_pixels"])
        assert decoded.pixels.ndim == 3 and decoded.pixels.shape[2] == 3
        assert face.analyse_face(decoded, face.QualityLimits(), need_yaw=False).encoding.shape == (128,)


def test_yaw_sign_follows_the_head_turn():
    straight = face.analyse_face(face.decode(images.raw("obama_1.jpg"), max_pixels=10**8), face.QualityLimits(), need_yaw=True)
    turned = face.analyse_face(face.decode(images.raw("obama_2.jpg"), max_pixels=10**8), face.QualityLimits(), need_yaw=True)
    mirrored = face.analyse_face(
        face.decode(images.encode(images.photo("obama_2.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT)), max_pixels=10**8),
        face.QualityLimits(),
        need_yaw=True,
    )
    assert abs(straight.yaw) < 0.1 and turned.yaw < -0.3 and mirrored.yaw > 0.3


def test_hash_bands_find_every_near_duplicate():
    rng = random.Random(7)
    for _ in range(2000):
        value = rng.getrandbits(64)
        flipped = value
        for bit in rng.sample(range(64), 4):
            flipped ^= 1 << bit
        assert face.hamming(value, flipped) == 4
        assert any(a == b for a, b in zip(face.hash_bands(value), face.hash_bands(flipped), strict=True))


def test_recompression_keeps_the_phash_and_a_new_shot_does_not():
    picture = images.variant_image("obama_1.jpg")
    first = face.decode(images.encode(picture, quality=95), max_pixels=10**8).phash
    again = face.decode(images.encode(picture.resize((picture.width // 2, picture.height // 2)), quality=50), max_pixels=10**8).phash
    other = face.decode(images.raw("obama_2.jpg"), max_pixels=10**8).phash
    assert face.hamming(first, again) <= 4 < face.hamming(first, other)


# --- Upload errors through the API (no worker needed: they are refused before queueing) ---------


def test_upload_errors_are_problems_not_crashes(app, client, celery_worker):
    from tests.auth.face.support import new_citizen

    person = new_citizen(app, client)
    headers = person["headers"]
    started = challenge(client, headers)
    cid = started["challenge_id"]
    good = images.variant("obama_1.jpg")
    gif = images.encode(images.photo("obama_small.jpg"), "GIF")
    response = post_frames(client, headers, cid, [good, gif])
    assert response.status_code == 415 and response.get_json()["code"] == "unsupported_image_format"
    response = post_frames(client, headers, cid, [good, _png_header_only(60000, 60000)])
    assert response.status_code == 413 and response.get_json()["code"] == "image_too_many_pixels"
    response = post_frames(client, headers, cid, [good, b""])
    assert response.status_code == 422
    response = post_frames(client, headers, cid, [good])
    assert response.status_code == 422 and response.get_json()["code"] == "face_frames_required"
    response = post_frames(client, headers, cid, [good] * 6)
    assert response.status_code == 422 and response.get_json()["code"] == "face_too_many_frames"
    response = client.post("/api/v1/me/face/verifications", data={"challenge_id": cid}, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422 and "frames" in response.get_json()["errors"]
    response = client.post("/api/v1/me/face/verifications", json={"challenge_id": cid}, headers=headers)
    assert response.status_code == 422
    huge = b"\xff\xd8" + b"\x00" * (21 * 1024 * 1024)
    response = post_frames(client, headers, cid, [good, huge])
    assert response.status_code == 413
    response = client.post(
        "/api/v1/me/face/verifications", data=b"--x\r\nbroken", headers={**headers, "Content-Type": "multipart/form-data; boundary=x"}
    )
    # Werkzeug parses a broken multipart body as an empty form: the fields are missing.
    assert response.status_code == 422 and response.get_json()["code"] == "validation_failed"
    assert "challenge_id" in response.get_json()["errors"]
    # None of these consumed the challenge: it still answers once.
    assert post_frames(client, headers, cid, [good, images.variant("obama_2.jpg")]).status_code == 202


def test_idempotent_submission_is_not_counted_twice(app, client, celery_worker):
    from tests.auth.face.support import new_citizen

    person = new_citizen(app, client)
    headers = {**person["headers"], "Idempotency-Key": "face-submit-1"}
    cid = challenge(client, person["headers"])["challenge_id"]
    frames = [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")]

    # A retry resends the same bytes (same multipart boundary).
    boundary, body = encode_multipart(
        MultiDict([("challenge_id", cid)] + [("frames", FileStorage(io.BytesIO(f), f"f{i}.jpg")) for i, f in enumerate(frames)])
    )

    def send():
        return client.post(
            "/api/v1/me/face/verifications", data=body, headers=headers, content_type=f"multipart/form-data; boundary={boundary}"
        )

    first, second = send(), send()
    assert first.status_code == 202
    assert second.status_code == 202 and second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json()["verification_id"] == first.get_json()["verification_id"]
    from auth.face.models import FaceVerification
    from mobile_api.extensions import db

    with app.app_context():
        assert db.session.query(FaceVerification).filter_by(challenge_id=cid).count() == 1
