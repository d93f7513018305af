"""Face images: upload checks, decoding, quality gates, encodings, head yaw, perceptual hashes.

Pure functions over bytes and arrays; no database, no Flask. The web process only calls
:func:`inspect_upload` (Pillow reads the header, never the pixels). Everything that decodes pixels
or runs dlib is called from the ``face`` Celery queue. ``face_recognition`` is imported lazily so a
web process never loads the dlib models. What the liveness checks built on these do and do not
stop is written in auth/face/liveness.py.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
WORKING_SIDE = 800  # long side before detection: HOG stays near 50 ms per frame here
SMALL_IMAGE_SIDE = 640  # below this, detection also tries one upsampling pass
ENCODING_LANDMARKS = "large"  # 68-point alignment: steadier encodings across crops than the 5-point model
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_OFFSET_TIME_ORIGINAL = 0x9011
EXIF_IFD = 0x8769


class FaceImageError(Exception):
    """An image the pipeline refuses, with a stable reason code (and an HTTP status for uploads)."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class UploadInfo:
    format: str
    width: int
    height: int


@dataclass
class DecodedFrame:
    image: Image.Image
    taken_at_text: str | None  # EXIF DateTimeOriginal (+ offset), when the camera wrote it
    phash: int = 0
    pixels: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), dtype=np.uint8))


@dataclass(frozen=True)
class FaceAnalysis:
    encoding: np.ndarray
    face_px: int
    yaw: float | None


@dataclass(frozen=True)
class QualityLimits:
    min_face_px: int = 80
    min_brightness: float = 50.0
    min_sharpness: float = 12.0


def inspect_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> UploadInfo:
    """Header-only check for the web process: format (415), byte and pixel caps (413), garbage (422)."""
    if len(data) > max_bytes:
        raise FaceImageError("image_too_large", 413)
    if not data:
        raise FaceImageError("image_unreadable", 422)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt, (width, height) = image.format, image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FaceImageError("image_too_many_pixels", 413) from None
    except UnidentifiedImageError:
        raise FaceImageError("unsupported_image_format", 415) from None
    except (OSError, ValueError, SyntaxError):
        raise FaceImageError("image_unreadable", 422) from None
    if fmt not in ACCEPTED_FORMATS:
        raise FaceImageError("unsupported_image_format", 415)
    if not _is_complete(fmt, data):
        raise FaceImageError("image_unreadable", 422)
    if width < 1 or height < 1:
        raise FaceImageError("image_unreadable", 422)
    if width * height > max_pixels:
        raise FaceImageError("image_too_many_pixels", 413)
    return UploadInfo(fmt, width, height)


def decode(data: bytes, *, max_pixels: int, side: int = WORKING_SIDE) -> DecodedFrame:
    """Decode, apply EXIF orientation, convert to RGB, downscale to ``side``; compute the pHash."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise FaceImageError("unsupported_image_format", 415)
            if not _is_complete(image.format, data):
                raise FaceImageError("image_unreadable")
            if image.width * image.height > max_pixels:
                raise FaceImageError("image_too_many_pixels", 413)
            taken_at = _exif_taken_at(image)
            image.draft("RGB", (side, side))  # JPEG: decode at reduced scale (much faster)
            image = ImageOps.exif_transpose(image)
            image = _to_rgb(image)
            image.thumbnail((side, side), Image.Resampling.BILINEAR)
    except FaceImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FaceImageError("image_too_many_pixels", 413) from None
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, MemoryError, TypeError, KeyError, IndexError, ZeroDivisionError):
        raise FaceImageError("image_unreadable") from None
    pixels = np.asarray(image, dtype=np.uint8)
    return DecodedFrame(image=image, taken_at_text=taken_at, phash=perceptual_hash(image), pixels=pixels)


def _is_complete(fmt: str, data: bytes) -> bool:
    """A JPEG cut off mid-stream still decodes (libjpeg pads it with grey) and its top half may hold a
    face; a complete one ends with the EOI marker (phones may append a few bytes of padding)."""
    return fmt != "JPEG" or b"\xff\xd9" in data[-256:]


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGBA/LA/palette-with-transparency onto white; grayscale, CMYK etc. to RGB."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _exif_taken_at(image: Image.Image) -> str | None:
    try:
        exif = image.getexif().get_ifd(EXIF_IFD)
    except Exception:
        return None
    value = exif.get(EXIF_DATETIME_ORIGINAL)
    if not isinstance(value, str):
        return None
    offset = exif.get(EXIF_OFFSET_TIME_ORIGINAL)
    return f"{value.strip()}{offset.strip() if isinstance(offset, str) else ''}"


def parse_exif_time(text: str, default_tz) -> datetime | None:
    """``2026:11:23 20:01:02`` (+ optional ``+08:00``) → aware datetime; naive means the city's zone."""
    for fmt in ("%Y:%m:%d %H:%M:%S%z", "%Y:%m:%d %H:%M:%S"):
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=default_tz)
    return None


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash: survives recompression and resizing, not a different shot."""
    return int(str(imagehash.phash(image)), 16)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hash_bands(value: int, bands: int = 5) -> list[int]:
    """Split 64 bits into ``bands`` slices. Two hashes within ``bands - 1`` bits share a slice exactly
    (pigeonhole), so an exact index look-up on the slices finds every near-duplicate candidate."""
    widths = [64 // bands + (1 if i < 64 % bands else 0) for i in range(bands)]
    out, shift = [], 0
    for width in widths:
        out.append((value >> shift) & ((1 << width) - 1))
        shift += width
    return out


def analyse_face(frame: DecodedFrame, limits: QualityLimits, *, need_yaw: bool, largest_only: bool = False) -> FaceAnalysis:
    """Quality gates then one 128-d encoding. Raises FaceImageError with the gate's reason code."""
    import face_recognition

    pixels = frame.pixels
    locations = face_recognition.face_locations(pixels, 0)
    if not locations and max(pixels.shape[:2]) < SMALL_IMAGE_SIDE:
        locations = face_recognition.face_locations(pixels, 1)
    if not locations:
        raise FaceImageError(_why_no_face(pixels, limits))
    if len(locations) > 1:
        if not largest_only:
            raise FaceImageError("multiple_faces")
        locations = [max(locations, key=lambda box: (box[2] - box[0]) * (box[1] - box[3]))]
    top, right, bottom, left = locations[0]
    face_px = min(bottom - top, right - left)
    if face_px < limits.min_face_px:
        raise FaceImageError("face_too_small")
    crop = _gray(pixels[max(top, 0) : bottom, max(left, 0) : right])
    if crop.mean() < limits.min_brightness:
        raise FaceImageError("too_dark")
    if sharpness(crop) < limits.min_sharpness:
        raise FaceImageError("too_blurry")
    encoding = face_recognition.face_encodings(pixels, locations, num_jitters=1, model=ENCODING_LANDMARKS)[0]
    yaw = estimate_yaw(pixels, locations[0]) if need_yaw else None
    return FaceAnalysis(encoding=encoding, face_px=face_px, yaw=yaw)


def _why_no_face(pixels: np.ndarray, limits: QualityLimits) -> str:
    gray = _gray(pixels)
    if gray.mean() < limits.min_brightness:
        return "too_dark"
    if sharpness(gray) < limits.min_sharpness / 3:
        return "too_blurry"
    return "no_face"


def _gray(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian on a 128-px-normalised crop: low means blurred."""
    if gray.size == 0:
        return 0.0
    image = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).resize((128, 128), Image.Resampling.BILINEAR)
    g = np.asarray(image, dtype=np.float32)
    laplacian = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(laplacian.var())


def estimate_yaw(pixels: np.ndarray, location: tuple[int, int, int, int]) -> float:
    """Head yaw from the 68-point landmarks: −1 (nose at the image's left jaw) … +1 (right jaw).

    In an unmirrored camera picture a citizen turning to their own left moves the nose towards the
    image's right edge, so the value grows.
    """
    import face_recognition

    marks = face_recognition.face_landmarks(pixels, [location], model="large")[0]
    chin, nose = marks["chin"], marks["nose_bridge"][-1]
    to_left, to_right = nose[0] - chin[0][0], chin[16][0] - nose[0]
    total = to_left + to_right
    return 0.0 if total <= 0 else (to_left - to_right) / total


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
