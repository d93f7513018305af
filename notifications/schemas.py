from marshmallow import Schema, fields, validate

from mobile_api.pagination import PageArgs


class SandboxQuery(PageArgs):
    phone = fields.String(validate=validate.Length(max=64), metadata={"description": "Recipient phone number"})


class SandboxMessageSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    recipient = fields.String()
    content = fields.String()
    created_at = fields.DateTime()
