"""Checking an uploaded material: what it really is (magic bytes), how big, and whether it is usable.

Images are decoded with Pillow (EXIF orientation applied, re-encoded without metadata, minimum
resolution checked); PDFs are opened and page-counted with pypdf.

Memory: the pixel cap is checked on the header before decoding; JPEGs decode at a reduced scale
(``draft``) and every stored image is at most CASES_IMAGE_MAX_SIDE long; and a web process decodes at
most CASES_IMAGE_DECODES_PER_PROCESS images at once (a semaphore bounding this process's memory, not
guarding shared data), so however many uploads arrive together a process holds a bounded amount of pixels. Undecodable files are refused at
once (422); a readable file that fails a quality rule is kept with a failed check, which the
pre-submission check reports together with every other problem.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from mobile_api.errors import Problem
from mobile_api.settings import setting

KINDS = {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}


@dataclass
class CheckedFile:
    kind: str  # jpg | png | pdf
    content_type: str
    data: bytes
    check: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.check.get("problems")


def sniff_kind(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def check_upload(data: bytes, accepted_formats: list[str]) -> CheckedFile:
    kind = sniff_kind(data[:8])
    if kind is None:
        raise Problem(415, "unsupported_file_type", "只能上传 JPG、PNG 图片或 PDF 文件", accepted=accepted_formats)
    if kind not in accepted_formats:
        raise Problem(415, "format_not_accepted", "此材料不接受该文件格式", accepted=accepted_formats)
    limit = setting("CASES_MAX_PDF_BYTES") if kind == "pdf" else setting("CASES_MAX_IMAGE_BYTES")
    if len(data) > limit:
        raise Problem(413, "file_too_large", f"文件太大，不能超过 {limit // (1024 * 1024)} MB", max_bytes=limit)
    if not data:
        raise Problem(422, "file_empty", "上传的文件是空的")
    return _check_pdf(data) if kind == "pdf" else _check_image(data, kind)


def bound_pillow_memory(blocks: int) -> None:
    """Reuse freed pixel blocks across threads (see CASES_IMAGE_BLOCKS_CACHED): a process's memory is then
    what it decodes at once plus this cache, not that times its number of threads."""
    Image.core.set_blocks_max(blocks)


_decode_slots: threading.BoundedSemaphore | None = None
_decode_slots_lock = threading.Lock()


def _decode_slot() -> threading.BoundedSemaphore:
    global _decode_slots
    with _decode_slots_lock:
        if _decode_slots is None:
            _decode_slots = threading.BoundedSemaphore(setting("CASES_IMAGE_DECODES_PER_PROCESS"))
        return _decode_slots


def _check_image(data: bytes, kind: str) -> CheckedFile:
    slots = _decode_slot()
    if not slots.acquire(timeout=setting("CASES_IMAGE_DECODE_WAIT_SECONDS")):
        raise Problem(503, "image_check_busy", "图片处理繁忙，请稍后重试", headers={"Retry-After": "5"})
    try:
        return _decode_and_normalise(data, kind)
    finally:
        slots.release()


def _decode_and_normalise(data: bytes, kind: str) -> CheckedFile:
    max_pixels, max_side = setting("CASES_MAX_IMAGE_PIXELS"), setting("CASES_IMAGE_MAX_SIDE")
    too_large = Problem(413, "image_too_large", "图片像素太大，请压缩后再上传", max_pixels=max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:  # from the header: nothing decoded yet
                raise too_large
            orientation = image.getexif().get(0x0112, 1)
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2, 1/4 … scale when that is enough
            image.load()
            image.thumbnail((max_side, max_side))
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Problem(422, "image_unreadable", "图片无法打开，请重新拍照上传") from None
    width, height = upright.size
    problems = []
    min_w, min_h = setting("CASES_MIN_IMAGE_SIZE")
    if min(width, height) < min(min_w, min_h) or max(width, height) < max(min_w, min_h):
        problems.append(f"图片分辨率太低（{width}×{height}），至少需要 {min_w}×{min_h} 像素，请拍清楚后重新上传")
    out = io.BytesIO()
    if kind == "jpg":
        upright.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        upright.save(out, format="PNG")
    check = {"kind": kind, "width": width, "height": height, "orientation_fixed": orientation not in (1, None), "problems": problems}
    return CheckedFile(kind, KINDS[kind], out.getvalue(), check)


def _check_pdf(data: bytes) -> CheckedFile:
    max_pages = setting("CASES_MAX_PDF_PAGES")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Problem(422, "pdf_encrypted", "PDF 文件设置了密码，请上传未加密的文件")
        pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise Problem(422, "pdf_unreadable", "PDF 文件无法打开，请重新上传") from None
    problems = []
    if pages == 0:
        problems.append("PDF 文件没有页面")
    if pages > max_pages:
        raise Problem(413, "pdf_too_many_pages", f"PDF 页数太多，不能超过 {max_pages} 页", max_pages=max_pages)
    return CheckedFile("pdf", KINDS["pdf"], data, {"kind": "pdf", "pages": pages, "problems": problems})
