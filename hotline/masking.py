"""Masking free text before anyone outside the ticket's handlers reads it.

Callers type contact details into descriptions ("请回电13800138000", "我的身份证330203198503120016").
Before a description is published (Open311) or read out in a look-up, these are masked:

- resident ID numbers, 18 characters (17 digits + digit/X) and the old 15-digit form, checksum or not
  (a mistyped number is still somebody's);
- phone numbers that ``phonenumbers`` finds for region CN (mobiles, landlines with area code), and any
  bare 11-digit mobile it might miss;
- e-mail addresses;
- any other run of 7 or more digits (bank cards, landlines without area code, house-hold numbers);
- where someone lives: the house number after a road (中山西路128号) and building, unit and room
  numbers (3单元502室) — other numbers (3号窗口, dates, amounts) stay readable.

Masked forms keep what a reader needs to tell numbers apart and nothing more: ``330203********0016``,
``138****8000``, ``z***@example.com``, ``62******89``.
"""

from __future__ import annotations

import re

import phonenumbers

from mobile_api.pii import mask_id_number, mask_phone

_ID_18 = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ID_15 = re.compile(r"(?<!\d)\d{15}(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d){8}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{7,}(?!\d)")
# Where someone lives: the house number after a road (中山西路128号) and building, unit, room numbers.
_DWELLING = re.compile(r"(?<=[路街道巷村里弄])\d+(?=号)|\d+(?=\s*(?:号楼|栋|幢|单元|室|弄|户))")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _mask_digits(value: str) -> str:
    keep = 2 if len(value) >= 7 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def _mask_email(match: re.Match) -> str:
    local, domain = match.group(0).split("@", 1)
    return f"{local[:1]}***@{domain}"


def _mask_phone_text(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 11 and digits[-11] == "1":
        return mask_phone(digits[-11:]) or ""
    return _mask_digits(digits)


def _spans(text: str) -> list[tuple[int, int, str]]:
    """Every match of every detector, as (start, end, masked); earlier detectors win overlaps."""
    found: list[tuple[int, int, str]] = []
    for pattern, mask in (
        (_EMAIL, _mask_email),
        (_ID_18, lambda m: mask_id_number(m.group(0).upper()) or ""),
        (_ID_15, lambda m: mask_id_number(m.group(0)) or ""),
        (_MOBILE, lambda m: _mask_phone_text(m.group(0))),
    ):
        found.extend((m.start(), m.end(), mask(m)) for m in pattern.finditer(text))
    found.extend(
        (m.start, m.end, _mask_phone_text(m.raw_string))
        for m in phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.POSSIBLE)
    )
    found.extend((m.start(), m.end(), _mask_digits(m.group(0))) for m in _LONG_DIGITS.finditer(text))
    found.extend((m.start(), m.end(), "*") for m in _DWELLING.finditer(text))
    chosen: list[tuple[int, int, str]] = []
    for span in found:
        if all(span[1] <= other[0] or span[0] >= other[1] for other in chosen):
            chosen.append(span)
    return sorted(chosen)


def mask_text(text: str | None) -> str | None:
    """``text`` with ID numbers, phone numbers, e-mail addresses and long digit runs masked."""
    if text is None:
        return None
    # Full-width digits (１３８…) are how some phone keyboards type numbers; mask them the same way.
    text = text.translate(_FULLWIDTH_DIGITS)
    pieces, position = [], 0
    for start, end, masked in _spans(text):
        pieces += [text[position:start], masked]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def coarse_coordinate(value: float | None) -> float | None:
    """A coordinate rounded to 0.01° (about 1 km): where in the city, not which house."""
    return None if value is None else round(value, 2)


_HOUSE_NUMBER = re.compile(r"\d+")


def coarse_address(address: str | None) -> str | None:
    """An address with every number masked (house, building, unit, room): the street stays."""
    if not address:
        return None
    return _HOUSE_NUMBER.sub("*", address.translate(_FULLWIDTH_DIGITS))
