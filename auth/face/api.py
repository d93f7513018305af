"""Face verification endpoints (citizen) and the reference-photo register (admin)."""

from __future__ import annotations

from auth.face import reference, service
from auth.face.schemas import (
    ChallengeRequest,
    ChallengeSchema,
    ConsentRequest,
    ConsentSchema,
    ReferencePhotoSchema,
    ReferencePhotoUpload,
    VerificationSchema,
    VerificationUpload,
    WaitArgs,
)
from mobile_api.access import current_account, current_staff, requires, staff_actor
from mobile_api.idempotency import idempotent
from mobile_api.openapi import Blueprint
from mobile_api.roles import ADMIN

face_blp = Blueprint("face", __name__, url_prefix="/api/v1/me/face", description="实人认证（人脸识别）")
staff_face_blp = Blueprint("staff_face", __name__, url_prefix="/api/v1/staff/identity", description="身份证照片库（本地）")


@face_blp.route("/consent", methods=["GET"])
@requires(level=2)
@face_blp.response(200, ConsentSchema)
def get_consent():
    """Whether the citizen has agreed to the current version of the face-processing consent."""
    return service.consent_status(current_account())


@face_blp.route("/consent", methods=["POST"])
@requires(level=2)
@face_blp.arguments(ConsentRequest)
@face_blp.response(201, ConsentSchema)
def grant_consent(args: dict):
    """Agree to face processing (PIPL art. 28–29): separate, versioned consent."""
    return service.grant_consent(current_account(), args["consent_version"])


@face_blp.route("/consent", methods=["DELETE"])
@requires(level=2)
@face_blp.response(204)
def withdraw_consent():
    """Withdraw consent: the stored face data is deleted and pending attempts stop."""
    service.withdraw_consent(current_account())


@face_blp.route("/challenges", methods=["POST"])
@requires(level=2)
@idempotent
@face_blp.arguments(ChallengeRequest)
@face_blp.response(201, ChallengeSchema)
def create_challenge(args: dict):
    """Start a verification: what the frames must answer (mode ``passive`` or ``action``)."""
    return service.create_challenge(current_account(), args["mode"])


@face_blp.route("/verifications", methods=["POST"])
@requires(level=2)
@idempotent
@face_blp.arguments(VerificationUpload, location="multipart")
@face_blp.arguments(WaitArgs, location="query")
@face_blp.response(202, VerificationSchema)
@face_blp.alt_response(200, schema=VerificationSchema, description="Decided within ``wait`` seconds")
def submit_verification(upload: dict, query: dict):
    """Submit frames (multipart) for the challenge; decided on the ``face`` queue.

    202 ``pending`` (poll ``GET …/verifications/<id>``), or 200 with the decision when ``wait`` was
    given and the worker finished in time.
    """
    return service.submit_verification(
        current_account(), upload["challenge_id"], upload["frames"], upload.get("id_card_photo"), query["wait"]
    )


@face_blp.route("/verifications/<verification_id>", methods=["GET"])
@requires(level=2)
@face_blp.arguments(WaitArgs, location="query")
@face_blp.response(200, VerificationSchema)
@face_blp.alt_response(202, schema=VerificationSchema, description="Still pending")
def get_verification(query: dict, verification_id: str):
    """One of my verifications: ``pending``, ``passed`` or ``failed`` with a reason code."""
    return service.get_verification(current_account(), verification_id, query["wait"])


@staff_face_blp.route("/reference-photos", methods=["POST"])
@requires(roles=[ADMIN])
@staff_face_blp.arguments(ReferencePhotoUpload, location="multipart")
@staff_face_blp.response(201, ReferencePhotoSchema)
def import_reference_photo(upload: dict):
    """Put the reference photo for an ID number in the local register (admin; audited)."""
    return reference.import_uploaded_reference_photo(upload["id_number"], upload["photo"], staff_actor(current_staff()))
