"""GeoReport v2 fields: the form of POST requests, the query of GET requests, and the response shapes
(for the OpenAPI document; field names and types as the spec lists them)."""

from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, ValidationError, validate, validates

from mobile_api import fields

NO_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
HTML = re.compile(r"<\s*/?\s*[A-Za-z][^>]*>")
ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_\-]{1,64})\](\[\])?$")


def _plain(value: str) -> None:
    if NO_CONTROL.search(value):
        raise ValidationError("含有无效字符")


class Jurisdiction(Schema):
    class Meta:
        unknown = EXCLUDE

    jurisdiction_id = fields.String(validate=validate.Length(max=100), metadata={"description": "可不填（本接口只服务一个辖区）"})


class RequestForm(Jurisdiction):
    """POST requests.json, form-encoded. ``attribute[code]=value`` pairs are read beside it."""

    api_key = fields.String(validate=validate.Length(max=200), metadata={"description": "第三方应用密钥（必填）"})
    service_code = fields.String(validate=[validate.Length(min=1, max=80), _plain])
    lat = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False)
    long = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)
    address_string = fields.String(validate=[validate.Length(max=500), _plain])
    address_id = fields.String(validate=[validate.Length(max=64), _plain])
    email = fields.Email(validate=validate.Length(max=200))
    device_id = fields.String(validate=[validate.Length(max=100), _plain])
    account_id = fields.String(validate=[validate.Length(max=100), _plain])
    first_name = fields.String(validate=[validate.Length(max=50), _plain])
    last_name = fields.String(validate=[validate.Length(max=50), _plain])
    phone = fields.String(validate=validate.Regexp(r"^(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", error="电话号码格式不正确"))
    description = fields.String(validate=[validate.Length(max=4000), _plain])
    media_url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))

    @validates("description")
    def _no_html(self, value: str, **kwargs) -> None:
        if HTML.search(value):
            raise ValidationError("描述不能包含 HTML 或代码")


def attributes_from(form) -> dict[str, str | list[str]]:
    """``attribute[code]=v`` → ``{code: v}``; ``attribute[code][]=v1&…`` → ``{code: [v1, …]}``."""
    found: dict[str, str | list[str]] = {}
    for name in form:
        match = ATTRIBUTE.match(name)
        if match:
            values = form.getlist(name)
            found[match.group(1)] = values if match.group(2) else values[-1]
    return found


class RequestsQuery(Jurisdiction):
    service_request_id = fields.String(validate=validate.Length(max=20000), metadata={"description": "逗号分隔；指定时忽略其他条件"})
    service_code = fields.String(validate=validate.Length(max=2000), metadata={"description": "逗号分隔"})
    start_date = fields.String(validate=validate.Length(max=40), metadata={"description": "W3C 时间，如 2026-11-01T00:00:00+08:00"})
    end_date = fields.String(validate=validate.Length(max=40))
    status = fields.String(validate=validate.Length(max=20), metadata={"description": "open、closed，逗号分隔"})
    page = fields.Integer(validate=validate.Range(min=1, max=100000), metadata={"description": "扩展：分页"})
    page_size = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={"description": "扩展：每页条数，默认且最多1000"})


# ------------------------------------------------------------------ responses (documentation)
class DiscoveryEndpoint(Schema):
    specification = fields.String()
    url = fields.String()
    changeset = fields.String()
    type = fields.String()
    formats = fields.List(fields.String())


class DiscoverySchema(Schema):
    changeset = fields.String()
    contact = fields.String()
    key_service = fields.String()
    endpoints = fields.List(fields.Nested(DiscoveryEndpoint))


class ServiceSchema(Schema):
    service_code = fields.String()
    service_name = fields.String()
    description = fields.String()
    metadata = fields.Boolean()
    type = fields.String()
    keywords = fields.String()
    group = fields.String()


class AttributeValue(Schema):
    key = fields.String()
    name = fields.String()


class AttributeSchema(Schema):
    variable = fields.Boolean()
    code = fields.String()
    datatype = fields.String()
    required = fields.Boolean()
    datatype_description = fields.String(allow_none=True)
    order = fields.Integer()
    description = fields.String()
    values = fields.List(fields.Nested(AttributeValue))


class ServiceDefinitionSchema(Schema):
    service_code = fields.String()
    attributes = fields.List(fields.Nested(AttributeSchema))


class CreatedSchema(Schema):
    service_request_id = fields.String()
    token = fields.String()
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)


class TokenSchema(Schema):
    service_request_id = fields.String(allow_none=True)
    token = fields.String()


class ServiceRequestSchema(Schema):
    service_request_id = fields.String()
    status = fields.String()
    status_notes = fields.String(allow_none=True)
    service_name = fields.String()
    service_code = fields.String()
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = fields.String()
    updated_datetime = fields.String()
    expected_datetime = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


class ErrorSchema(Schema):
    code = fields.Integer()
    description = fields.String()
