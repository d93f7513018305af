"""Liveness signals of one verification's frames, and what they do not stop.

The checks (run by the face worker, auth/face/verification.py):
- ``passive``: at least two frames, the same person in each, not byte-identical and not perceptually
  identical (pHash within ``FACE_REPLAY_MAX_BITS`` = 4 bits), not taken before the challenge *when the
  camera wrote EXIF DateTimeOriginal* (apps that strip EXIF cannot be checked);
- ``action``: as passive, plus the head must turn the asked way: yaw from the 68-point landmarks
  must move by ≥ ``FACE_MIN_YAW_CHANGE`` (0.2) from the first frame (``turn_left`` = the citizen's own
  left = the nose moves towards the right edge of an unmirrored picture);
- replay: a frame within 4 pHash bits of any frame of any earlier verification, or of the reference
  photo itself, is refused.
They stop the cheap attacks: uploading the ID photo or an old selfie, sending one picture twice
(even recompressed or resized), a single still photo in ``action`` mode. They do NOT stop a video of
the person replayed to the camera, a new photo of a printed photo or a screen taken fresh (it has a
new pHash and a fresh EXIF date), a 3-D mask, or frames injected by a modified app (the server only
ever sees the files it is sent). ``id_card`` mode proves the person matches the card photographed,
not that the card belongs to the account's ID number (no OCR / chip read here). A production
deployment needs a certified liveness SDK or the authority's own 实人认证 service for those.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from auth.face import images
from auth.face.models import FaceFrameHash, HeadTurn
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ
from mobile_api.transactions import transaction


class Refused(Exception):
    """The verification fails with ``reason`` (a code of auth/face/messages.py); the worker records it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_not_byte_identical(frame_bytes: list[bytes]) -> None:
    if len({hashlib.sha256(data).digest() for data in frame_bytes}) < len(frame_bytes):
        raise Refused("frames_identical")


def check_not_perceptually_identical(frames: list[images.DecodedFrame]) -> None:
    """The same picture sent twice, recompressed or resized, is not two live frames."""
    for a, b in itertools.combinations(frames, 2):
        if images.hamming(a.phash, b.phash) <= setting("FACE_REPLAY_MAX_BITS"):
            raise Refused("frames_identical")


def check_not_reference_photo(frames: list[images.DecodedFrame], reference_phash: int | None) -> None:
    """A frame that is (a copy of) the reference photo itself is an upload, not a live face."""
    if reference_phash is None:
        return
    if any(images.hamming(frame.phash, reference_phash) <= setting("FACE_REPLAY_MAX_BITS") for frame in frames):
        raise Refused("frame_is_reference_photo")


def check_freshness(frames: list[images.DecodedFrame], challenge_created_at: datetime) -> None:
    """Frames whose camera clock says they were taken before the challenge are old pictures.

    Only possible when the camera wrote EXIF DateTimeOriginal; many apps strip it (then: unknown).
    """
    earliest = challenge_created_at - timedelta(seconds=setting("FACE_CLOCK_SKEW_SECONDS"))
    for frame in frames:
        taken_at = images.parse_exif_time(frame.taken_at_text, CITY_TZ) if frame.taken_at_text else None
        if taken_at is not None and taken_at < earliest:
            raise Refused("frame_not_fresh")


def check_replay(verification_id: str, frames: list[images.DecodedFrame]) -> None:
    """Record these frames' pHashes, then look for near-copies recorded by any earlier verification.

    Recording first, in its own committed transaction, and comparing against lower row ids makes two
    concurrent replays of one picture safe: whichever committed later sees the other. The hashes stay
    recorded whatever the decision (a refused picture must stay refused).
    """
    rows = []
    for frame in frames:
        bands = images.hash_bands(frame.phash)
        rows.append(
            FaceFrameHash(verification_id=verification_id, phash=f"{frame.phash:016x}", **{f"band{i}": b for i, b in enumerate(bands)})
        )
    with transaction():
        db.session.add_all(rows)
    first_own_id = min(row.id for row in rows)
    max_bits = setting("FACE_REPLAY_MAX_BITS")
    for frame in frames:
        bands = images.hash_bands(frame.phash)
        candidates = db.session.scalars(
            select(FaceFrameHash.phash).where(
                FaceFrameHash.id < first_own_id,
                or_(*[getattr(FaceFrameHash, f"band{i}") == b for i, b in enumerate(bands)]),
            )
        ).all()
        if any(images.hamming(frame.phash, int(other, 16)) <= max_bits for other in candidates):
            raise Refused("replayed_frame")


def action_performed(actions: list[str], yaws: list[float]) -> bool:
    """``turn_left`` (the citizen's own left): yaw must rise from the first frame by the minimum change."""
    minimum = setting("FACE_MIN_YAW_CHANGE")
    start = yaws[0]
    if HeadTurn.TURN_LEFT in actions:
        return max(yaws[1:]) - start >= minimum
    if HeadTurn.TURN_RIGHT in actions:
        return start - min(yaws[1:]) >= minimum
    return True
