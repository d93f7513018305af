"""Shared by the cases tests: files a phone would upload, and a sandbox-pinned city date."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date

from PIL import Image
from pypdf import PdfWriter


def jpeg_bytes(width: int = 800, height: int = 600, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (200, 180, 160))
    out = io.BytesIO()
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, format="JPEG", exif=exif.tobytes())
    else:
        image.save(out, format="JPEG")
    return out.getvalue()


def png_bytes(width: int = 600, height: int = 800) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@contextmanager
def city_date(app, day: date):
    """Pin the sandbox clock (``SANDBOX_TODAY``) for the duration of a block."""
    previous = app.config.get("SANDBOX_TODAY")
    app.config["SANDBOX_TODAY"] = day
    try:
        yield
    finally:
        app.config["SANDBOX_TODAY"] = previous
