"""Test images built from the fixture photos (tests/fixtures/faces): unique variants, EXIF rotation, bad pictures.

Every verification records its frames' perceptual hashes (replay defence), so each test needs
frames no earlier test has sent: :func:`variant` makes a different picture of the same photo
(crop, margin, colour of the margin) for every call in the session.
"""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

FACES = Path(__file__).resolve().parents[2] / "fixtures" / "faces"
_counter = itertools.count(1)
_issued: list[int] = []
# Per process: a database that already saw this process's predecessors' frames (a bench run after the
# tests on the same PostgreSQL) must not see the same pictures again — the replay check would refuse them.
_SALT = random.randrange(10**9)
ORIGINALS = ("obama_1.jpg", "obama_2.jpg", "obama_small.jpg", "obama_partial_face.jpg", "biden_1.jpg", "miranda_1.png", "two_people.jpg")


def photo(name: str) -> Image.Image:
    with Image.open(FACES / name) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def raw(name: str) -> bytes:
    return (FACES / name).read_bytes()


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 90)
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _candidate(name: str, k: int, crop: bool) -> Image.Image:
    rng = random.Random(f"{_SALT}:{name}:{k}")
    image = photo(name)
    w, h = image.size
    keep = rng.uniform(0.78, 0.97) if crop else 1.0
    cw, ch = int(w * keep), int(h * keep)
    x, y = int((w - cw) * rng.random()), 0  # never crop the top: foreheads sit near it in these photos
    image = image.crop((x, y, x + cw, y + ch))
    colour = tuple(rng.randrange(256) for _ in range(3))
    left, top = int(cw * rng.uniform(0, 0.25)), int(ch * rng.uniform(0, 0.2))
    canvas = Image.new("RGB", (cw + left + int(cw * rng.uniform(0, 0.25)), ch + top + int(ch * rng.uniform(0, 0.2))), colour)
    canvas.paste(image, (left, top))
    return canvas


def _phash_if_faces_intact(image: Image.Image, faces: int) -> int | None:
    """The pHash the worker will compute, or None when the crop lost (or shrank) a face."""
    import face_recognition

    from auth.face.images import decode

    frame = decode(encode(image), max_pixels=10**8)
    found = face_recognition.face_locations(frame.pixels, 0)
    if len(found) != faces or min(bottom - top for top, _, bottom, _ in found) < 100:
        return None
    return frame.phash


def _phash(image: Image.Image) -> int:
    from auth.face.images import decode

    return decode(encode(image), max_pixels=10**8).phash


# Photos whose faces sit near an edge (or two faces): only margins, no crop, so no face is cut.
NO_CROP = {"biden_1.jpg", "two_people.jpg", "obama_partial_face.jpg"}


def variant_image(name: str) -> Image.Image:
    """A picture of the photo no other call in this process returned (pHash > 8 bits from all),
    with its face(s) intact and at least 100 px (so a test never fails on a crop gone wrong)."""
    if not _issued:
        _issued.extend(_phash(photo(n)) for n in ORIGINALS)
    while True:
        candidate = _candidate(name, next(_counter), crop=name not in NO_CROP)
        value = _phash_if_faces_intact(candidate, 2 if name == "two_people.jpg" else 1)
        if value is not None and all((value ^ other).bit_count() > 8 for other in _issued):
            _issued.append(value)
            return candidate


def variant(name: str, fmt: str = "JPEG") -> bytes:
    return encode(variant_image(name), fmt)


def exif_rotated(image: Image.Image) -> bytes:
    """The pixels stored turned 90° with EXIF Orientation 6, as phone cameras write portraits."""
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90° clockwise
    return encode(image.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def with_taken_at(image: Image.Image, when: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"
    return encode(image, exif=exif.tobytes())


def darkened(image: Image.Image, factor: float = 0.12) -> Image.Image:
    return image.point(lambda value: int(value * factor))


def blurred(image: Image.Image, radius: float = 6) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def no_face_picture(seed: int) -> Image.Image:
    """A sharp, well-lit picture with no face in it (Gaussian noise around mid-grey)."""
    random.seed(seed)
    return Image.effect_noise((480, 360), 40 + seed % 20).convert("RGB")


def shrunk(image: Image.Image, width: int) -> Image.Image:
    return image.resize((width, int(image.height * width / image.width)))
