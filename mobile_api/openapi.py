"""The OpenAPI document tells the truth: the mechanisms, so no route has to be documented by hand.

- ``ProblemApi``: every error response (the lazily registered ones per status, and ``default``) is
  ``application/problem+json`` with the ``Problem`` schema, as ``mobile_api.errors`` renders it.
- ``Blueprint``: flask-smorest's, plus the ``multipart`` argument location — form fields *and* files in
  one schema, documented as one ``multipart/form-data`` request body (flask-smorest alone documents a
  second location as OpenAPI 2's ``in: formData``, which OpenAPI 3 does not have).
- ``DocumentPlugin``: turns the marks decorators leave on an operation into documentation
  (``idempotency.idempotent`` → the optional ``Idempotency-Key`` header; ``errors_documented_as`` →
  every error response of an operation that answers in a third party's format — Open311's error array,
  a webhook's acknowledgement — documented in that format instead of problem+json), and writes ``Decimal`` bounds
  and defaults as JSON numbers (apispec copies ``Decimal("0.00")``, which serialises as a string), and
  Python's ``\\Z`` in patterns as ECMA-262's ``$``.
"""

from __future__ import annotations

import decimal
import http
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from mobile_api import fields

PROBLEM_MIMETYPE = "application/problem+json"
IDEMPOTENT_MARK = "x-idempotent"
ERROR_CONTENT_MARK = "x-error-content"
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retrying with the same key returns the first answer instead of creating twice (printable ASCII, ≤ 128).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x21-\\x7e]+$"},
}


def errors_documented_as(media_type: str, schema: dict, description: str, statuses: tuple[int, ...] | None = None):
    """Document the error responses of this view as ``media_type`` + ``schema`` (a JSON Schema dict): all of
    them, or only ``statuses`` (the others stay problem+json).

    For routes whose errors are not ours to shape (a standard's or a caller's format). Put it directly
    under ``@blp.route`` so the mark is on the function the route registers.
    """

    def mark(view):
        doc = dict(getattr(view, "_apidoc", {}))
        manual = dict(doc.get("manual_doc", {}))
        manual[ERROR_CONTENT_MARK] = {"media_type": media_type, "schema": schema, "description": description, "statuses": statuses}
        doc["manual_doc"] = manual
        view._apidoc = doc
        return view

    return mark


def _is_error(code: object) -> bool:
    return code == "default" or (str(code).isdigit() and int(str(code)) >= 400)


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser with ``multipart``: ``request.form`` and ``request.files`` as one mapping."""

    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema) -> MultiDictProxy:
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(SmorestBlueprint):
    """The blueprint every package uses (``@blp.arguments(Schema, location="multipart")`` for uploads)."""

    ARGUMENTS_PARSER = ArgumentsParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "multipart": "multipart/form-data"}


class ProblemApi(Api):
    """flask-smorest's Api with errors documented as ``application/problem+json``."""

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


class DocumentPlugin(BasePlugin):
    """Operation marks → documentation (see the module docstring)."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            if operation.pop(IDEMPOTENT_MARK, False):
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
            error_content = operation.pop(ERROR_CONTENT_MARK, None)
            if error_content:
                responses = operation.setdefault("responses", {})
                statuses = error_content["statuses"]
                if statuses:
                    codes = [str(status) for status in statuses]
                else:
                    codes = [code for code in responses if _is_error(code)] + (["default"] if "default" not in responses else [])
                for code in codes:
                    responses[code] = {
                        "description": error_content["description"],
                        "content": {error_content["media_type"]: {"schema": error_content["schema"]}},
                    }


def decimal_as_number(self, field: fields.Field, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function: ``Decimal`` bounds and defaults as JSON numbers; ``as_string`` ones as strings."""
    if not isinstance(field, fields.Decimal):
        return {}
    if field.as_string:  # rendered as "12.50": a string in JSON
        return {"type": "string", "format": "decimal", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}
    return {key: float(ret[key]) for key in ("minimum", "maximum", "default") if isinstance(ret.get(key), decimal.Decimal | str)}


def ecma_pattern(self, field: fields.Field, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function: Python's end-of-string ``\\Z`` is ECMA-262's ``$`` (no multiline flag)."""
    pattern = ret.get("pattern")
    if isinstance(pattern, str) and "\\Z" in pattern:
        return {"pattern": pattern.replace("\\Z", "$")}
    return {}


def init_spec(api: Api) -> None:
    """After ``api.init_app``: the attribute functions (the plugin is passed in ``extra_plugins``)."""
    api.ma_plugin.converter.add_attribute_function(decimal_as_number)
    api.ma_plugin.converter.add_attribute_function(ecma_pattern)


def mark_idempotent(view: Any) -> None:
    """Called by ``idempotency.idempotent``: the operation documents the ``Idempotency-Key`` header."""
    doc = dict(getattr(view, "_apidoc", {}))
    doc["manual_doc"] = {**doc.get("manual_doc", {}), IDEMPOTENT_MARK: True}
    view._apidoc = doc
