"""Read a Code 128 barcode back out of a label PDF: the bars are the page's filled rectangles of the bar
height; their widths and gaps, in modules, are decoded with the Code 128 symbol table (taken from
reportlab's table, whose letters are the standard bar/space widths) and the checksum is verified."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from reportlab.graphics.barcode.code128 import _patterns

RECT = re.compile(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re")
WIDTHS = {"".join(str(ord(letter.upper()) - ord("A") + 1) for letter in pattern): value for value, pattern in _patterns.items()}
START_A, START_B, START_C, STOP = 103, 104, 105, 106


def bars_in_pdf(pdf: bytes, bar_height: float) -> list[tuple[float, float]]:
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data()
    bars = [(float(x), float(w)) for x, _y, w, h in RECT.findall(content) if abs(float(h) - bar_height) < 0.5 and float(w) > 0]
    return sorted(bars)


def decode_code128(bars: list[tuple[float, float]]) -> str:
    unit = min(width for _x, width in bars)
    modules: list[int] = []
    for index, (x, width) in enumerate(bars):
        modules.append(round(width / unit))
        if index + 1 < len(bars):
            modules.append(round((bars[index + 1][0] - x - width) / unit))
    symbols = []
    while len(modules) >= 6:
        if len(modules) == 7:  # the stop pattern: 6 widths and a final bar
            symbols.append(WIDTHS["".join(map(str, modules))])
            break
        symbols.append(WIDTHS["".join(map(str, modules[:6]))])
        modules = modules[6:]
    if symbols[-1] != STOP:
        raise ValueError("no stop symbol")
    data, check = symbols[1:-2], symbols[-2]
    if (symbols[0] + sum(position * value for position, value in enumerate(data, start=1))) % 103 != check:
        raise ValueError("checksum does not match")
    return _text(symbols[0], data)


def _text(start: int, data: list[int]) -> str:
    """Symbol values to text, following the switches between code sets A, B and C."""
    codeset = {START_A: "A", START_B: "B", START_C: "C"}[start]
    switches = {"A": {99: "C", 100: "B"}, "B": {99: "C", 101: "A"}, "C": {100: "B", 101: "A"}}
    out = []
    for value in data:
        if value in switches[codeset]:
            codeset = switches[codeset][value]
        elif codeset == "C":
            out.append(f"{value:02d}")
        elif codeset == "B":
            out.append(chr(value + 32))
        else:
            out.append(chr(value + 32) if value < 64 else chr(value - 64))
    return "".join(out)
