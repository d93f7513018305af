"""Request/response schemas of face verification (multipart uploads are read in the service)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, validate, validates

from auth.face import DEFAULTS as FACE_DEFAULTS
from auth.face.models import ChallengeMode, VerificationStatus
from mobile_api import fields


class ConsentRequest(Schema):
    consent_version = fields.String(required=True, validate=validate.Length(min=1, max=32))


class ConsentSchema(Schema):
    current_version = fields.String()
    consented = fields.Boolean()
    consent_version = fields.String(allow_none=True)
    granted_at = fields.DateTime(allow_none=True)


class ChallengeRequest(Schema):
    mode = fields.Enum(ChallengeMode, by_value=True, load_default=ChallengeMode.PASSIVE)


class ChallengeSchema(Schema):
    challenge_id = fields.String()
    expires_at = fields.DateTime()
    mode = fields.String()
    actions = fields.List(fields.String(), metadata={"description": "turn_left / turn_right: the citizen's own left/right"})
    min_frames = fields.Integer()
    max_frames = fields.Integer()


class VerificationUpload(Schema):
    """``multipart/form-data``: the challenge and its frames (at most FACE_MAX_FRAMES, checked by the service)."""

    challenge_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    frames = fields.List(
        Upload(),
        required=True,
        validate=validate.Length(min=1),
        metadata={"maxItems": FACE_DEFAULTS["FACE_MAX_FRAMES"], "description": "2–5 photos taken now (JPEG, PNG or WebP)"},
    )
    id_card_photo = Upload(metadata={"description": "身份证人像面 (人证比对)"})


class WaitArgs(Schema):
    wait = fields.Float(
        load_default=0, validate=validate.Range(min=0, max=30), metadata={"description": "Seconds to wait for the result inline"}
    )


class VerificationSchema(Schema):
    verification_id = fields.String()
    status = fields.String(metadata={"enum": [status.value for status in VerificationStatus]})
    reason = fields.String(allow_none=True)
    reason_title = fields.String(allow_none=True)
    method = fields.String()
    mode = fields.String()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    level = fields.Integer()


class ReferencePhotoUpload(Schema):
    """``multipart/form-data``: the ID number and its photo."""

    id_number = fields.String(required=True, validate=validate.Length(min=15, max=20))
    photo = Upload(required=True)

    @validates("id_number")
    def _id_number(self, value: str, **kwargs) -> None:
        from auth.service import check_id_number

        check_id_number(value)


class ReferencePhotoSchema(Schema):
    id_number_masked = fields.String()
    content_type = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    source = fields.String()
