"""The parcel label (快递面单) the window prints: a 100 × 150 mm PDF made with reportlab.

The waybill number is a Code 128 barcode (reportlab's own implementation) with the number printed under
it; the sender is the hall (name, address, phone); the recipient is masked as on a privacy waybill
(隐私面单: 张**, 138****8000) while the address stays readable, because the courier must find the door.
Chinese text uses the Adobe CID font ``STSong-Light`` that reportlab ships — no font file needed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
PAGE = (100 * mm, 150 * mm)

pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@dataclass(frozen=True)
class LabelData:
    courier_name: str
    waybill_no: str
    order_ref: str
    sender_name: str
    sender_address: str
    sender_phone: str
    recipient_name: str  # masked
    recipient_phone: str  # masked
    recipient_address: str
    payment: str  # 寄付月结 / 到付 ¥12.00
    case_no: str
    contents: str


def render_label(data: LabelData) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=PAGE, pageCompression=1)
    page.setTitle(f"{data.courier_name} {data.waybill_no}")
    page.setAuthor("掌上市民之家")
    width, height = PAGE
    margin = 5 * mm
    page.setFont(FONT, 14)
    page.drawString(margin, height - 12 * mm, data.courier_name)
    page.setFont(FONT, 9)
    page.drawRightString(width - margin, height - 12 * mm, data.payment)
    barcode = Code128(data.waybill_no, barHeight=18 * mm, barWidth=0.38 * mm, humanReadable=False, quiet=False)
    barcode.drawOn(page, (width - barcode.width) / 2, height - 36 * mm)
    page.setFont(FONT, 12)
    page.drawCentredString(width / 2, height - 41 * mm, data.waybill_no)
    page.line(margin, height - 44 * mm, width - margin, height - 44 * mm)
    y = _block(
        page, "收", [f"{data.recipient_name}  {data.recipient_phone}", *_wrap(data.recipient_address, 22)], margin, height - 51 * mm, 12
    )
    page.line(margin, y - 2 * mm, width - margin, y - 2 * mm)
    y = _block(page, "寄", [f"{data.sender_name}  {data.sender_phone}", *_wrap(data.sender_address, 26)], margin, y - 9 * mm, 10)
    page.line(margin, y - 2 * mm, width - margin, y - 2 * mm)
    page.setFont(FONT, 9)
    page.drawString(margin, y - 8 * mm, f"内件：{data.contents}")
    page.drawString(margin, y - 13 * mm, f"办件号：{data.case_no}    订单号：{data.order_ref}")
    page.drawString(margin, 8 * mm, "证照快递：变群众奔波为快递奔波")
    page.showPage()
    page.save()
    return buffer.getvalue()


def _block(page: canvas.Canvas, tag: str, lines: list[str], x: float, y: float, size: int) -> float:
    page.setFont(FONT, size + 4)
    page.drawString(x, y, tag)
    page.setFont(FONT, size)
    for line in lines:
        page.drawString(x + 9 * mm, y, line)
        y -= size * 1.35
    return y


def _wrap(text: str, width: int) -> list[str]:
    return [text[start : start + width] for start in range(0, len(text), width)] or [""]
