"""Face verification through the API with a real Celery worker on the ``face`` queue."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.auth.face import images
from tests.auth.face.support import challenge, consent, decided, new_citizen, post_frames, verify
from tests.support import wait_for


def _level(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).get_json()["level"]


def test_same_person_passes_raises_level_3_notifies_and_keeps_no_images(app, client, citizen, frames):
    result = verify(client, citizen["headers"], frames)
    assert result["status"] == "passed", result
    assert result["reason"] is None and result["method"] == "authority" and result["level"] == 3
    assert _level(client, citizen["headers"]) == 3

    def face_sms():
        items = client.get(f"/api/v1/sandbox/messages?phone={citizen['phone']}").get_json()["items"]
        return [i for i in items if "实人认证" in i["content"]]

    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}完成实人认证", wait_for(face_sms, what="face SMS")[0]["content"])

    from auth.face import store as face_store
    from auth.face.models import FaceReference, FaceVerification
    from mobile_api.extensions import db

    with app.app_context():
        record = db.session.get(FaceVerification, result["verification_id"])
        assert record.distance is not None and record.distance <= record.threshold == 0.5
        assert face_store.count_stored(record.id, record.frame_count) == 0
        stored = db.session.get(FaceReference, record.account_id)
        raw_row = db.session.execute(text("SELECT encoding FROM face_references WHERE account_id = :a"), {"a": record.account_id}).scalar()
        assert stored.encoding.startswith("[") and bytes(raw_row)[:1] == b"\x02"  # AES-GCM, version 2 (with key id)
        assert stored.encoding[:12].encode() not in bytes(raw_row)


def test_different_person_fails_with_face_mismatch(client, citizen):
    result = verify(client, citizen["headers"], [images.variant("biden_1.jpg"), images.variant("biden_1.jpg")])
    assert result["status"] == "failed" and result["reason"] == "face_mismatch", result
    assert result["reason_title"] and _level(client, citizen["headers"]) == 2


def test_two_faces_fail_with_their_own_code(client, citizen):
    result = verify(client, citizen["headers"], [images.variant("two_people.jpg"), images.variant("obama_2.jpg")])
    assert result["status"] == "failed" and result["reason"] == "multiple_faces", result


def test_frames_of_two_people_fail(client, citizen):
    result = verify(client, citizen["headers"], [images.variant("obama_2.jpg"), images.variant("miranda_1.png")])
    assert result["status"] == "failed" and result["reason"] == "frames_not_same_person", result


def test_exif_rotated_copy_of_a_passing_photo_still_passes(client, citizen):
    rotated = images.exif_rotated(images.variant_image("obama_2.jpg"))
    result = verify(client, citizen["headers"], [images.variant("obama_1.jpg"), rotated])
    assert result["status"] == "passed", result


def test_recompressed_replay_of_an_earlier_frame_is_caught(app, client, celery_worker):
    first = new_citizen(app, client)
    picture = images.variant_image("obama_2.jpg")
    assert verify(client, first["headers"], [images.encode(picture), images.variant("obama_1.jpg")])["status"] == "passed"
    # The same picture, smaller and recompressed as a low-quality JPEG, by another account.
    replay = images.encode(picture.resize((picture.width * 3 // 4, picture.height * 3 // 4)), quality=55)
    second = new_citizen(app, client)
    result = verify(client, second["headers"], [replay, images.variant("obama_1.jpg")])
    assert result["status"] == "failed" and result["reason"] == "replayed_frame", result


def test_uploading_the_reference_photo_itself_is_refused(client, citizen):
    result = verify(client, citizen["headers"], [images.raw("obama_1.jpg"), images.variant("obama_2.jpg")])
    assert result["status"] == "failed" and result["reason"] == "frame_is_reference_photo", result


def test_identical_frames_are_no_liveness(client, citizen):
    picture = images.variant_image("obama_2.jpg")
    same_bytes = images.encode(picture)
    assert verify(client, citizen["headers"], [same_bytes, same_bytes])["reason"] == "frames_identical"
    picture = images.variant_image("obama_2.jpg")
    recompressed = [images.encode(picture, quality=92), images.encode(picture, quality=70)]
    assert verify(client, citizen["headers"], recompressed)["reason"] == "frames_identical"


def test_old_photo_by_exif_date_is_not_fresh(client, citizen):
    old = images.with_taken_at(images.variant_image("obama_2.jpg"), "2019:05:01 10:00:00")
    result = verify(client, citizen["headers"], [old, images.variant("obama_1.jpg")])
    assert result["status"] == "failed" and result["reason"] == "frame_not_fresh", result


def test_quality_gates_have_their_own_reason_codes(client, citizen):
    base = images.variant_image
    cases = {
        "too_dark": images.encode(images.darkened(base("obama_1.jpg"))),
        "too_blurry": images.encode(images.blurred(base("obama_1.jpg"))),
        "face_too_small": images.encode(images.shrunk(base("obama_1.jpg"), 150)),
        "no_face": images.encode(images.no_face_picture(next(images._counter))),
    }
    for reason, bad in cases.items():
        result = verify(client, citizen["headers"], [bad, images.variant("obama_2.jpg")])
        assert (result["status"], result["reason"]) == ("failed", reason), (reason, result)


def test_id_card_photo_is_the_reference_when_the_authority_has_none(app, client, celery_worker):
    person = new_citizen(app, client, reference=None)
    result = verify(client, person["headers"], [images.variant("obama_1.jpg"), images.variant("obama_partial_face.jpg")])
    assert result["reason"] == "no_reference_photo", result
    card = images.variant("obama_2.jpg")
    result = verify(client, person["headers"], [images.variant("obama_1.jpg"), images.variant("obama_1.jpg")], id_card=card)
    assert result["status"] == "passed" and result["method"] == "id_card", result
    other = new_citizen(app, client, reference=None)
    result = verify(
        client, other["headers"], [images.variant("obama_1.jpg"), images.variant("obama_1.jpg")], id_card=images.variant("biden_1.jpg")
    )
    assert result["reason"] == "face_mismatch", result


def test_action_mode_needs_the_asked_head_turn(client, citizen):
    # obama_1 looks straight at the camera (yaw ≈ 0.05); obama_2 is turned (yaw ≈ −0.5): from 1 to 2
    # is a turn to the citizen's right, from 2 to 1 a turn to the left.
    started = challenge(client, citizen["headers"], "action")
    assert started["mode"] == "action" and started["actions"] in (["turn_left"], ["turn_right"])
    right_order = ["obama_1.jpg", "obama_2.jpg"] if started["actions"] == ["turn_right"] else ["obama_2.jpg", "obama_1.jpg"]
    wrong = post_frames(client, citizen["headers"], started["challenge_id"], [images.variant(n) for n in reversed(right_order)])
    assert decided(client, citizen["headers"], wrong.get_json()["verification_id"])["reason"] == "action_not_performed"
    started = challenge(client, citizen["headers"], "action")
    right_order = ["obama_1.jpg", "obama_2.jpg"] if started["actions"] == ["turn_right"] else ["obama_2.jpg", "obama_1.jpg"]
    response = post_frames(client, citizen["headers"], started["challenge_id"], [images.variant(n) for n in right_order])
    assert response.status_code == 202 and response.get_json()["status"] == "pending", response.get_json()
    result = decided(client, citizen["headers"], response.get_json()["verification_id"])
    assert result["status"] == "passed" and result["mode"] == "action", result


def test_wait_returns_the_decision_inline(app, client, citizen, frames):
    """``?wait=`` answers 200 with the worker's decision in the submission's own response.

    The worker is up (``citizen`` waits for it) and the server may wait 30 s here (the cap raised for
    this test from 5 s) for about a second of work, so a 202 means the inline answer is broken, not
    that the machine was slow.
    """
    started = challenge(client, citizen["headers"])
    cap = app.config["FACE_MAX_WAIT_SECONDS"]
    app.config["FACE_MAX_WAIT_SECONDS"] = 30
    try:
        response = post_frames(client, citizen["headers"], started["challenge_id"], frames, wait=30)
    finally:
        app.config["FACE_MAX_WAIT_SECONDS"] = cap
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "passed" and body["level"] == 3, body
    assert body["finished_at"] is not None
    later = client.get(f"/api/v1/me/face/verifications/{body['verification_id']}", headers=citizen["headers"])
    assert later.status_code == 200 and later.get_json() == body


def test_consent_is_required_versioned_and_withdrawable(app, client, celery_worker):
    person = new_citizen(app, client, consented=False)
    headers = person["headers"]
    refused = client.post("/api/v1/me/face/challenges", json={}, headers=headers)
    assert refused.status_code == 403 and refused.get_json()["code"] == "face_consent_required"
    assert refused.get_json()["consent_version"]
    outdated = client.post("/api/v1/me/face/consent", json={"consent_version": "1999-01"}, headers=headers)
    assert outdated.status_code == 422 and outdated.get_json()["code"] == "face_consent_version_outdated"
    consent(client, headers)
    assert client.get("/api/v1/me/face/consent", headers=headers).get_json()["consented"] is True
    assert verify(client, headers, [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")])["status"] == "passed"

    from auth.face.models import FaceReference
    from mobile_api.extensions import db

    with app.app_context():
        account_id = client.get("/api/v1/me", headers=headers).get_json()["id"]
        assert db.session.get(FaceReference, account_id) is not None
    assert client.delete("/api/v1/me/face/consent", headers=headers).status_code == 204
    with app.app_context():
        assert db.session.get(FaceReference, account_id) is None
    assert client.get("/api/v1/me/face/consent", headers=headers).get_json()["consented"] is False
    assert client.post("/api/v1/me/face/challenges", json={}, headers=headers).get_json()["code"] == "face_consent_required"


def test_level_1_and_staff_cannot_use_face_endpoints(app, client, celery_worker):
    from tests.support import bearer, sign_in, staff_token

    level1 = bearer(sign_in(client)["access_token"])
    response = client.post("/api/v1/me/face/challenges", json={}, headers=level1)
    assert response.status_code == 403 and response.get_json()["code"] == "realname_level_required"
    staff = bearer(staff_token(client, "clerk", app.config["DEMO_PASSWORD"]))
    assert client.post("/api/v1/me/face/challenges", json={}, headers=staff).status_code == 403


def test_another_citizens_challenge_and_verification_are_404(app, client, citizen, frames):
    started = challenge(client, citizen["headers"])
    response = post_frames(client, citizen["headers"], started["challenge_id"], frames)
    verification_id = response.get_json()["verification_id"]
    other = new_citizen(app, client)
    assert client.get(f"/api/v1/me/face/verifications/{verification_id}", headers=other["headers"]).status_code == 404
    theirs = challenge(client, citizen["headers"])
    stolen = post_frames(client, other["headers"], theirs["challenge_id"], [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")])
    assert stolen.status_code == 404 and stolen.get_json()["code"] == "face_challenge_not_found"
    assert client.get("/api/v1/me/face/verifications/nope", headers=citizen["headers"]).status_code == 404


def test_a_challenge_answers_once(client, citizen, frames):
    started = challenge(client, citizen["headers"])
    assert post_frames(client, citizen["headers"], started["challenge_id"], frames).status_code == 202
    again = post_frames(client, citizen["headers"], started["challenge_id"], [images.variant("obama_1.jpg"), images.variant("obama_2.jpg")])
    assert again.status_code == 409 and again.get_json()["code"] == "face_challenge_used"


def test_expired_challenge_is_refused(app, client, citizen, frames):
    from datetime import timedelta

    from auth.face.models import FaceChallenge
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow

    started = challenge(client, citizen["headers"])
    with app.app_context():
        db.session.get(FaceChallenge, started["challenge_id"]).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = post_frames(client, citizen["headers"], started["challenge_id"], frames)
    assert response.status_code == 410 and response.get_json()["code"] == "face_challenge_expired"


def test_five_failures_lock_the_account_until_tomorrow(client, citizen):
    for _ in range(5):
        same = images.variant("biden_1.jpg")
        result = verify(client, citizen["headers"], [same, same])
        assert result["reason"] == "frames_identical"
    response = client.post("/api/v1/me/face/challenges", json={}, headers=citizen["headers"])
    body = response.get_json()
    assert response.status_code == 429 and body["code"] == "face_verification_locked", body
    assert "明天" in body["title"] and body["locked_until"].endswith("T00:00:00+08:00")
    assert int(response.headers["Retry-After"]) > 0


def test_concurrent_submissions_on_one_challenge_make_one_verification(app, live_server, citizen):
    import threading

    import requests

    started = challenge(app.test_client(), citizen["headers"])
    frame_sets = [[images.variant("obama_1.jpg"), images.variant("obama_2.jpg")] for _ in range(4)]
    statuses: list[int] = []

    def send(frames):
        files = [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
        response = requests.post(
            f"{live_server}/api/v1/me/face/verifications",
            data={"challenge_id": started["challenge_id"]},
            files=files,
            headers=citizen["headers"],
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(frames,)) for frames in frame_sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202, 409, 409, 409], statuses


def test_stale_pending_verifications_and_blobs_are_purged(app):
    from datetime import timedelta

    from auth.face import store as face_store
    from auth.face.models import FaceBlob, FaceChallenge, FaceVerification
    from auth.face.verification import purge_stale
    from auth.models import Account
    from mobile_api.extensions import db
    from mobile_api.timeutil import city_today, utcnow
    from tests.support import unique_phone

    with app.app_context():
        account = Account(phone=unique_phone(), level=2)
        db.session.add(account)
        db.session.flush()
        old = utcnow() - timedelta(hours=1)
        challenge_row = FaceChallenge(account_id=account.id, mode="passive", actions=[], expires_at=old, created_at=old)
        db.session.add(challenge_row)
        db.session.flush()
        verification = FaceVerification(
            account_id=account.id,
            challenge_id=challenge_row.id,
            method="authority",
            mode="passive",
            frame_count=2,
            threshold=0.5,
            day=city_today(),
            created_at=old,
        )
        db.session.add(verification)
        db.session.flush()
        face_store.put_images(verification.id, [b"one", b"two"], None)
        db.session.commit()
        if app.config.get("REDIS_URL"):
            assert face_store.count_stored(verification.id, 2) == 2  # Redis keys carry their own TTL
        else:
            db.session.execute(FaceBlob.__table__.update().where(FaceBlob.verification_id == verification.id).values(expires_at=old))
            db.session.commit()
        result = purge_stale()
        assert result["verifications_expired"] >= 1
        if not app.config.get("REDIS_URL"):
            assert face_store.count_stored(verification.id, 2) == 0
        db.session.expire_all()
        record = db.session.get(FaceVerification, verification.id)
        assert (record.status, record.reason) == ("failed", "images_expired")
