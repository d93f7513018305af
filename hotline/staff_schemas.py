"""Schemas of the staff side: department ticket lists, warnings, figures, the audit trail, operator
flags and Open311 keys."""

from __future__ import annotations

from limits import parse
from marshmallow import Schema, ValidationError, validate, validates, validates_schema

from hotline.schemas import STATUSES
from mobile_api import fields
from mobile_api.pagination import PageArgs, page_schema


class DepartmentTicketQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean()


class WarningQuery(PageArgs):
    colour = fields.String(validate=validate.OneOf(["yellow", "red"]))


class TicketWarningSchema(Schema):
    ticket_no = fields.String()
    department_code = fields.String()
    colour = fields.String()
    role = fields.String()
    due_on = fields.Date()
    created_at = fields.DateTime()


WarningPage = page_schema(TicketWarningSchema, "HotlineWarningPage")


class PeriodQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    department = fields.String(validate=validate.Length(max=32))

    @validates_schema
    def _range(self, data, **kwargs):
        if data["to"] < data["from_"]:
            raise ValidationError("结束日期不能早于开始日期", "to")
        if (data["to"] - data["from_"]).days > 366:
            raise ValidationError("统计区间不能超过一年", "to")


class FigureSchema(Schema):
    created = fields.Integer()
    complaints = fields.Integer()
    answered = fields.Integer()
    answered_on_time = fields.Integer()
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "按期答复率"})
    callbacks = fields.Integer()
    satisfied = fields.Integer()
    unsatisfied = fields.Integer()
    satisfaction_rate = fields.Float(allow_none=True, metadata={"description": "满意率（满意+基本满意）"})
    reopened = fields.Integer()


class WeekFigureSchema(FigureSchema):
    week = fields.String(metadata={"example": "2026-W47"})


class TopItemSchema(Schema):
    item_code = fields.String()
    item_name = fields.String(allow_none=True)
    complaints = fields.Integer()


class TopDepartmentSchema(Schema):
    department_code = fields.String()
    department_name = fields.String(allow_none=True)
    complaints = fields.Integer()


class TicketStatsSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    department = fields.String(allow_none=True)
    total = fields.Nested(FigureSchema)
    weeks = fields.List(fields.Nested(WeekFigureSchema))
    top_items_by_complaints = fields.List(fields.Nested(TopItemSchema))
    top_departments_by_complaints = fields.List(fields.Nested(TopDepartmentSchema))


class AuditQuery(PageArgs):
    actor = fields.String(validate=validate.Length(max=64), metadata={"description": "如 staff:operator"})
    kind = fields.String(validate=validate.Length(max=64), metadata={"description": "动作或其前缀，如 hotline.lookup"})
    subject_id = fields.String(validate=validate.Length(max=64))
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    subject_type = fields.String()
    subject_id = fields.String()
    reason = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


AuditPage = page_schema(AuditEventSchema, "AuditEventPage")


class FlagQuery(PageArgs):
    open = fields.Boolean(load_default=True)


class FlagSchema(Schema):
    id = fields.Integer()
    operator = fields.String()
    day = fields.Date()
    lookups = fields.Integer()
    calls = fields.Integer()
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    review_note = fields.String(allow_none=True)


FlagPage = page_schema(FlagSchema, "OperatorFlagPage")


class FlagReview(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=500))


class KeyCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=100))
    rate_limit = fields.String(validate=validate.Length(max=32), metadata={"description": "如 “30 per minute”；不填用默认"})

    @validates("rate_limit")
    def _limit(self, value: str, **kwargs) -> None:
        try:
            parse(value)
        except ValueError:
            raise ValidationError("频率格式不正确，如 30 per minute") from None


class KeySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    key_prefix = fields.String()
    rate_limit = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    revoked_by = fields.String(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class KeyCreated(KeySchema):
    api_key = fields.String(metadata={"description": "只显示这一次，请妥善保存"})


class KeyList(Schema):
    items = fields.List(fields.Nested(KeySchema))
