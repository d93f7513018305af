"""Face test helpers: a consenting level-2 citizen with a reference photo, challenges, submitting frames."""

from __future__ import annotations

import io

from tests.auth.face import images
from tests.support import bearer, sign_in_level2, wait_for


def add_reference_photo(app, id_number: str, name: str = "obama_1.jpg") -> None:
    from auth.face.reference import import_reference_photo

    with app.app_context():
        import_reference_photo(id_number, images.raw(name), "test", "test")


def consent(client, headers: dict) -> None:
    version = client.get("/api/v1/me/face/consent", headers=headers).get_json()["current_version"]
    response = client.post("/api/v1/me/face/consent", json={"consent_version": version}, headers=headers)
    assert response.status_code == 201, response.get_json()


def new_citizen(app, client, *, reference: str | None = "obama_1.jpg", consented: bool = True) -> dict:
    person = sign_in_level2(app, client)
    person["headers"] = bearer(person["access_token"])
    if reference:
        add_reference_photo(app, person["id_number"], reference)
    if consented:
        consent(client, person["headers"])
    return person


def challenge(client, headers: dict, mode: str = "passive") -> dict:
    response = client.post("/api/v1/me/face/challenges", json={"mode": mode}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_frames(client, headers: dict, challenge_id: str, frames: list[bytes], id_card: bytes | None = None, wait: float = 0):
    data: dict = {"challenge_id": challenge_id, "frames": [(io.BytesIO(f), f"frame{i}.jpg") for i, f in enumerate(frames)]}
    if id_card is not None:
        data["id_card_photo"] = (io.BytesIO(id_card), "card.jpg")
    url = "/api/v1/me/face/verifications" + (f"?wait={wait}" if wait else "")
    return client.post(url, data=data, headers=headers, content_type="multipart/form-data")


def verify(client, headers: dict, frames: list[bytes], *, mode: str = "passive", id_card: bytes | None = None) -> dict:
    """Challenge, submit, and wait for the worker's decision; returns the final verification body."""
    started = challenge(client, headers, mode)
    response = post_frames(client, headers, started["challenge_id"], frames, id_card)
    assert response.status_code == 202, response.get_json()
    verification_id = response.get_json()["verification_id"]
    return decided(client, headers, verification_id)


def decided(client, headers: dict, verification_id: str) -> dict:
    def done():
        body = client.get(f"/api/v1/me/face/verifications/{verification_id}?wait=2", headers=headers).get_json()
        return body if body["status"] != "pending" else None

    return wait_for(done, timeout=90, what=f"face verification {verification_id}")
