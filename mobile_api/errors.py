"""Errors as RFC 9457 ``application/problem+json``: one exception type, one renderer.

Services raise :class:`Problem` with a stable ``code`` and a zh-CN ``title``; every other exception
(werkzeug's HTTP errors, validation errors, rate limits, unexpected crashes) is rendered in the same
shape. No stack trace ever leaves the process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, json
from marshmallow import INCLUDE, Schema
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from mobile_api import fields

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"

# Stable codes and citizen-readable titles for the generic HTTP statuses.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "您没有权限进行此操作"),
    404: ("not_found", "您要找的内容不存在"),
    405: ("method_not_allowed", "不支持此请求方式"),
    409: ("conflict", "操作与当前状态冲突"),
    410: ("gone", "内容已失效"),
    413: ("payload_too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "不支持此内容格式"),
    422: ("validation_failed", "填写的信息有误，请检查后重试"),
    428: ("precondition_required", "缺少必需的请求头"),
    429: ("too_many_requests", "操作太频繁，请稍后再试"),
    500: ("internal_error", "系统繁忙，请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
}


class Problem(Exception):
    """A client-facing error. Raise it from services and views; it renders as problem+json."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: dict | list | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{status} {code}: {title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class ProblemSchema(Schema):
    """The error body every endpoint returns (documented in OpenAPI). Problems add their own members
    (``max_bytes``, ``retry_after``, ``allowed_actions`` …), so the document allows more properties."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(metadata={"example": "about:blank"})
    status = fields.Integer(metadata={"example": 422})
    code = fields.String(metadata={"description": "Stable machine-readable code", "example": "validation_failed"})
    title = fields.String(metadata={"description": "zh-CN message for the citizen"})
    detail = fields.String()
    errors = fields.Raw(metadata={"description": "Per-field messages"})
    request_id = fields.String()


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": problem.status,
        "code": problem.code,
        "title": problem.title,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extra)
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body, ensure_ascii=False), status=problem.status, mimetype=PROBLEM_MIMETYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> Problem:
    status = exc.code or 500
    code, title = HTTP_PROBLEMS.get(status, ("http_error", exc.name))
    errors = None
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs nests messages by location ({"json": {...}}); clients want the fields.
        if isinstance(messages, dict) and len(messages) == 1:
            errors = next(iter(messages.values()))
        else:
            errors = messages
        if status == 400 and "json" in messages:
            code, title = "malformed_json", "请求内容不是有效的 JSON"
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 413:
        headers["Connection"] = "close"  # the unread rest of the body must not be taken for a next request
    if status == 429:
        code, title = HTTP_PROBLEMS[429]
        headers["Retry-After"] = str(_limiter_retry_after())
    return Problem(status, code, title, errors=errors, headers=headers)


def _limiter_retry_after() -> int:
    from mobile_api.extensions import limiter

    current = limiter.current_limit
    return max(1, int(current.reset_at - time.time())) if current else 60


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        response = problem_response(_from_http_exception(exc))
        # Keep headers werkzeug attached (Allow, WWW-Authenticate, ...).
        original = exc.get_response()
        for name in ("Allow", "WWW-Authenticate"):
            if name in original.headers and name not in response.headers:
                response.headers[name] = original.headers[name]
        return response

    @app.errorhandler(RedisError)
    def _redis_down(exc: RedisError) -> Response:
        # Rate limits and the revocation check degrade by themselves; what really needs Redis says so.
        log.warning("Redis unavailable: %s", type(exc).__name__)
        return problem_response(Problem(503, "redis_unavailable", "服务暂时不可用，请稍后再试", headers={"Retry-After": "5"}))

    @app.errorhandler(RecursionError)
    def _too_deep(_exc: RecursionError) -> Response:
        # The request guard refuses deep JSON before parsing; this is the backstop for any other input.
        return problem_response(Problem(422, "input_too_deep", "请求内容嵌套层级过深"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(Problem(500, *HTTP_PROBLEMS[500]))
