"""Routes of the Open311 GeoReport v2 face at ``/open311/v2`` (public, not under ``/api/v1``).

Every answer of these routes — success or error, from the views or from the platform's guards and
limits — is the spec's JSON: errors are an array of ``{code, description}`` (never problem+json).
Only ``.json`` is offered; any other format answers, in that JSON, that it is not. The routes are in
the OpenAPI document; the catch-all that answers unknown paths and formats under ``/open311`` is not
(it is not an operation anyone should call).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint as FlaskBlueprint
from flask import Flask, Response, json, request
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from hotline.open311 import keys, requests, services
from hotline.open311.schemas import (
    CreatedSchema,
    DiscoverySchema,
    ErrorSchema,
    Jurisdiction,
    RequestForm,
    RequestsQuery,
    ServiceDefinitionSchema,
    ServiceRequestSchema,
    ServiceSchema,
    TokenSchema,
    attributes_from,
)
from mobile_api.errors import HTTP_PROBLEMS, Problem
from mobile_api.extensions import api, limiter
from mobile_api.idempotency import idempotent
from mobile_api.openapi import errors_documented_as
from mobile_api.request_guards import accept_form_bodies
from mobile_api.settings import setting

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
open311_blp = Blueprint(
    "open311", __name__, url_prefix=PREFIX, description="Open311 GeoReport v2（仅 JSON；错误为 [{code, description}] 数组）"
)
fallback_bp = FlaskBlueprint("open311_fallback", __name__, url_prefix="/open311")
RESOURCES = re.compile(r"^/open311/v2/(discovery|services|services/[^/]+|requests|requests/[^/]+|tokens/[^/]+)\.([A-Za-z0-9]+)$")
ERRORS = {"description": "错误：[{code, description}] 数组", "schema": ErrorSchema(many=True)}
# Every error of these routes, whatever its status, is the spec's array (documented so, not as problem+json).
spec_error_format = errors_documented_as(
    "application/json",
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"code": {"type": "integer", "minimum": 100, "maximum": 599}, "description": {"type": "string"}},
        },
    },
    "错误：[{code, description}] 数组（GeoReport v2）",
)
JSON_ONLY = "本接口只提供 JSON 格式，请使用 .json（不提供 XML 等其他格式）"


def read_limit() -> str:
    return setting("HOTLINE_OPEN311_READ_LIMIT")


def spec_errors(status: int, descriptions: list[str], headers: dict | None = None) -> Response:
    body = json.dumps([{"code": status, "description": text} for text in descriptions], ensure_ascii=False)
    response = Response(body, status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _descriptions(problem: Problem) -> list[str]:
    errors = problem.errors
    if isinstance(errors, list) and errors:
        return [str(item) for item in errors]
    if isinstance(errors, dict) and errors:
        # webargs nests by location: {"form": {"lat": ["..."]}} or {"lat": [...]} after the platform unwraps it.
        flat = errors.get("form") or errors.get("query") or errors
        return [
            f"{field}: {'；'.join(map(str, messages if isinstance(messages, list) else [messages]))}" for field, messages in flat.items()
        ]
    return [problem.title + (f"：{problem.detail}" if problem.detail else "")]


def _render_problem(problem: Problem) -> Response:
    return spec_errors(problem.status, _descriptions(problem), problem.headers)


def _render_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        inner = next(iter(messages.values())) if len(messages) == 1 else messages
        return _render_problem(Problem(status, "invalid", HTTP_PROBLEMS.get(status, ("", exc.name))[1], errors=inner))
    headers = {}
    if status == 429:
        headers["Retry-After"] = str(_retry_after())
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return spec_errors(status, [HTTP_PROBLEMS.get(status, ("", exc.name))[1]], headers)


def _retry_after() -> int:
    current = limiter.current_limit
    return max(1, int(current.reset_at - time.time())) if current else 60


def _render_unexpected(exc: Exception) -> Response:
    log.exception("open311: unhandled error")
    return spec_errors(500, [HTTP_PROBLEMS[500][1]])


def _answer_in_spec_format(blueprint: FlaskBlueprint) -> None:
    blueprint.register_error_handler(Problem, _render_problem)
    blueprint.register_error_handler(HTTPException, _render_http)
    blueprint.register_error_handler(Exception, _render_unexpected)


def _charset(response: Response) -> Response:
    if response.mimetype == "application/json":
        response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def _body_size() -> None:
    if request.method == "POST" and (request.content_length or 0) > int(setting("HOTLINE_OPEN311_MAX_BODY")):
        raise Problem(413, "payload_too_large", "提交的内容太大")


# ------------------------------------------------------------------ routes
@open311_blp.route("/discovery.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.response(200, DiscoverySchema)
def discovery():
    """Service discovery: where the GeoReport v2 endpoint is, its formats, how to get a key."""
    return requests.discovery(request.url_root)


@open311_blp.route("/services.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.arguments(Jurisdiction, location="query", error_status_code=400)
@open311_blp.response(200, ServiceSchema(many=True))
@open311_blp.alt_response(404, **ERRORS)
def list_services(args: dict):
    """Ticket types, the complaint about a case (metadata: true) and a consultation per catalog item."""
    requests.check_jurisdiction(args)
    return [service.listing() for service in services.all_services()]


@open311_blp.route("/services/<service_code>.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.arguments(Jurisdiction, location="query", error_status_code=400)
@open311_blp.response(200, ServiceDefinitionSchema)
@open311_blp.alt_response(404, **ERRORS)
def service_definition(args: dict, service_code: str):
    """GeoReport v2 service definition: the attributes a request for this service takes."""
    requests.check_jurisdiction(args)
    return services.service(service_code).definition()


@open311_blp.route("/requests.json", methods=["POST"])
@spec_error_format
@limiter.limit(keys.rate_limit, key_func=keys.rate_key)
@idempotent
@open311_blp.arguments(RequestForm, location="form", error_status_code=400)
@open311_blp.response(200, CreatedSchema(many=True))
@open311_blp.alt_response(400, **ERRORS)
@open311_blp.alt_response(403, **ERRORS)
@open311_blp.alt_response(404, **ERRORS)
def post_request(args: dict):
    """Form-encoded with ``api_key``; a location (lat & long, address_string or address_id) is required;
    ``attribute[code]=value`` for services with metadata. Realtime → service_request_id; batch → token."""
    key = keys.require_key()
    created, submission_id = requests.submit(key, args, attributes_from(request.form))
    if submission_id is not None:
        requests.publish_intake(submission_id)
    return created


@open311_blp.route("/requests.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.arguments(RequestsQuery, location="query", error_status_code=400)
@open311_blp.response(200, ServiceRequestSchema(many=True))
@open311_blp.alt_response(400, **ERRORS)
def list_requests(args: dict):
    """Newest first; by default the last 90 days and at most 1000 requests (page/page_size extension)."""
    return requests.list_requests(args)


@open311_blp.route("/requests/<service_request_id>.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.arguments(Jurisdiction, location="query", error_status_code=400)
@open311_blp.response(200, ServiceRequestSchema(many=True))
@open311_blp.alt_response(404, **ERRORS)
def get_request(args: dict, service_request_id: str):
    """GeoReport v2: one service request, without personal data."""
    return requests.get_request(service_request_id, args)


@open311_blp.route("/tokens/<token>.json", methods=["GET"])
@spec_error_format
@limiter.limit(read_limit)
@open311_blp.arguments(Jurisdiction, location="query", error_status_code=400)
@open311_blp.response(200, TokenSchema(many=True))
@open311_blp.alt_response(404, **ERRORS)
def token(args: dict, token: str):
    """The service_request_id of a batch request's token (null until the worker has made the ticket)."""
    return requests.token_status(token, args)


@fallback_bp.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@fallback_bp.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_offered(path: str):
    """Anything else under /open311: another format of a known resource, a wrong method, or nothing."""
    match = RESOURCES.match(request.path)
    if match and match.group(2).lower() != "json":
        raise Problem(400, "format_not_offered", JSON_ONLY)
    if match:
        raise Problem(405, "method_not_allowed", HTTP_PROBLEMS[405][1])
    raise Problem(404, "not_found", "没有这个 Open311 资源")


# Set up once, at import: a blueprint cannot take handlers after its first registration.
for _blueprint in (open311_blp, fallback_bp):
    _answer_in_spec_format(_blueprint)
    _blueprint.after_request(_charset)
    _blueprint.before_request(_body_size)


def register_open311(app: Flask) -> None:
    accept_form_bodies(app, PREFIX)
    api.register_blueprint(open311_blp)
    app.register_blueprint(fallback_bp)
    excluded = app.extensions.setdefault("openapi_excluded", {})
    for endpoint in ("open311_fallback.not_offered",):
        excluded[endpoint] = "catch-all under /open311: answers unknown paths, formats and methods with a spec-format error"
