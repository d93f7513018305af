"""Checks every request passes before a view runs: what reaches a view can be stored and parsed safely.

- Path integers (``<int:…>``): a 32-bit converter app-wide, so ``/halls/2147483648`` is a 404 and never
  reaches PostgreSQL's ``integer``.
- Body types: JSON (``application/json`` and every ``+json`` type) and ``multipart/form-data``; 415 else.
- JSON bodies, however they arrive (``Content-Length`` or chunked): at most ``MAX_JSON_BODY`` bytes are
  read — one more tells it is too large (413, and the connection is closed: the rest of the body is never
  read, so it cannot be used for a next request); nested at most ``MAX_JSON_DEPTH`` deep, checked on the
  raw bytes before any parser recurses; numbers finite; the parsed body is cached for the views.
- The ``Bearer`` scheme of ``Authorization`` in any letter case (RFC 7235).
- NUL characters (PostgreSQL ``text`` cannot hold them): refused in the path, the query string, every JSON
  string (keys too), multipart field names and values, and uploaded file names.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Flask, current_app, request
from werkzeug.routing import IntegerConverter, ValidationError

from mobile_api.errors import Problem

BODY_METHODS = {"POST", "PUT", "PATCH"}
ACCEPTED_MIMETYPES = {"application/json", "multipart/form-data"}
FORM_MIMETYPE = "application/x-www-form-urlencoded"
_FORM_PREFIXES = "form_body_path_prefixes"


def accept_form_bodies(app: Flask, path_prefix: str) -> None:
    """Let form-encoded bodies through under ``path_prefix``: a public standard that posts forms (Open311)."""
    app.extensions.setdefault(_FORM_PREFIXES, []).append(path_prefix)


def _form_body_accepted() -> bool:
    return request.mimetype == FORM_MIMETYPE and request.path.startswith(tuple(current_app.extensions.get(_FORM_PREFIXES, ())))


INT32_MAX = 2**31 - 1

# A JSON string literal (with its escapes); what is left once strings are removed is structure.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class Int32Converter(IntegerConverter):
    """``<int:…>`` as the database can store it: 0 … 2³¹−1 (a longer digit string never parses)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = INT32_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > 10:
            raise ValidationError()
        return super().to_python(value)


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _invalid_characters() -> Problem:
    return Problem(422, "invalid_characters", "请求中含有无效字符")


def _too_large(limit: int) -> Problem:
    # The unread rest of the body would be taken for the next request: close the connection instead.
    return Problem(413, "payload_too_large", "提交的内容太大", max_bytes=limit, headers={"Connection": "close"})


def _check_body() -> None:
    if request.method not in BODY_METHODS:
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not has_body:
        return
    mimetype = request.mimetype
    if mimetype not in ACCEPTED_MIMETYPES and not is_json_mimetype(mimetype) and not _form_body_accepted():
        raise Problem(415, "unsupported_media_type", "不支持此内容格式，请使用 application/json", accepted=sorted(ACCEPTED_MIMETYPES))
    if is_json_mimetype(mimetype):
        _check_json_body()
    elif mimetype == "multipart/form-data":
        _check_multipart()


def _check_json_body() -> None:
    limit = current_app.config["MAX_JSON_BODY"]
    if (request.content_length or 0) > limit:
        raise _too_large(limit)
    raw = request.stream.read(limit + 1)  # never more than one byte past the cap, chunked or not
    if len(raw) > limit:
        raise _too_large(limit)
    request._cached_data = raw  # what get_data()/get_json() and webargs read from now on
    if not raw.strip():
        return
    check_json_depth(raw, current_app.config["MAX_JSON_DEPTH"])
    try:
        parsed = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise Problem(400, "malformed_json", "请求内容不是有效的 JSON") from None
    if _contains_nul(parsed):
        raise _invalid_characters()


def check_json_depth(raw: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit``, on the raw bytes (no recursion, linear time)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > limit:
            raise Problem(422, "json_too_deep", "请求内容嵌套层级过深", max_depth=limit)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _contains_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_multipart() -> None:
    for name, value in request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise _invalid_characters()
    for name, upload in request.files.items(multi=True):
        if "\x00" in name or "\x00" in (upload.filename or ""):
            raise _invalid_characters()


def _check_nul_in_url() -> None:
    """PostgreSQL text cannot hold NUL: refuse it at the door instead of failing in the database."""
    if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
        raise _invalid_characters()
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise _invalid_characters()


_BEARER = re.compile(r"bearer[ \t]+", re.IGNORECASE)


def _normalise_bearer_scheme() -> None:
    """RFC 7235: the auth scheme is case-insensitive (``bearer``, ``BEARER``); flask-jwt-extended compares
    it exactly, so the header is rewritten to ``Bearer <token>`` before any view reads it."""
    value = request.environ.get("HTTP_AUTHORIZATION")
    if value and not value.startswith("Bearer "):
        match = _BEARER.match(value)
        if match:
            request.environ["HTTP_AUTHORIZATION"] = "Bearer " + value[match.end() :]


def register_converters(app: Flask) -> None:
    """Before any route is added: every ``<int:…>`` uses the 32-bit converter."""
    app.url_map.converters["int"] = Int32Converter


def init_app(app: Flask) -> None:
    app.config.setdefault("MAX_JSON_DEPTH", 32)
    app.before_request(_normalise_bearer_scheme)
    app.before_request(_check_nul_in_url)
    app.before_request(_check_body)
