"""Checks every request passes before a view runs: content type and body size."""

from __future__ import annotations

from flask import Flask, current_app, request

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


def _check_body() -> None:
    if request.method not in BODY_METHODS:
        return
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    if not has_body:
        return
    mimetype = request.mimetype
    if mimetype not in ACCEPTED_MIMETYPES and not mimetype.endswith("+json") and not _form_body_accepted():
        raise Problem(415, "unsupported_media_type", "不支持此内容格式，请使用 application/json", accepted=sorted(ACCEPTED_MIMETYPES))
    if mimetype == "application/json" and (request.content_length or 0) > current_app.config["MAX_JSON_BODY"]:
        raise Problem(413, "payload_too_large", "提交的内容太大", max_bytes=current_app.config["MAX_JSON_BODY"])


def _check_nul_bytes() -> None:
    """PostgreSQL text cannot hold NUL: refuse it at the door instead of failing in the database."""
    if "\x00" in request.full_path or "%00" in request.full_path:
        raise Problem(422, "invalid_characters", "请求中含有无效字符")
    if request.mimetype == "application/json" and request.method in BODY_METHODS:
        raw = request.get_data(cache=True)
        if b"\\u0000" in raw or b"\x00" in raw:
            raise Problem(422, "invalid_characters", "请求中含有无效字符")


def init_app(app: Flask) -> None:
    app.before_request(_check_body)
    app.before_request(_check_nul_bytes)
