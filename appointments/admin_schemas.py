"""Request and response schemas of hall administration (halls, windows, opening rules, special days)
and of a clerk's window queue. Validation lives here; the services check what needs the database."""

from __future__ import annotations

from datetime import time

from marshmallow import Schema, ValidationError, validate, validates_schema

from appointments.models import SpecialDayKind
from appointments.schemas import CODE_PATTERN, NO_CONTROL_CHARS, HallSchema, TicketSchema
from mobile_api import fields

TEXT = [validate.Length(min=1, max=200), NO_CONTROL_CHARS]
PERCENT = validate.Range(min=0, max=100)


class HHMM(fields.Field):
    """``"08:30"`` ↔ :class:`datetime.time` (minutes only)."""

    default_error_messages = {"invalid": "请使用 HH:MM 格式的时间"}

    def _serialize(self, value, attr, obj, **kwargs):
        return value.strftime("%H:%M") if isinstance(value, time) else value

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
            raise self.make_error("invalid")
        try:
            return time(int(value[:2]), int(value[3:]))
        except ValueError:
            raise self.make_error("invalid") from None


class HallFields(Schema):
    name = fields.String(validate=[validate.Length(min=2, max=100), NO_CONTROL_CHARS])
    level = fields.String(validate=validate.OneOf(["city", "district", "street", "community"]))
    city = fields.String(validate=[validate.Length(min=1, max=32), NO_CONTROL_CHARS])
    district = fields.String(allow_none=True, validate=[validate.Length(max=32), NO_CONTROL_CHARS])
    street = fields.String(allow_none=True, validate=[validate.Length(max=32), NO_CONTROL_CHARS])
    address = fields.String(validate=TEXT)
    phone = fields.String(allow_none=True, validate=[validate.Length(max=32), validate.Regexp(r"^[0-9+\-() ]*\Z", error="格式不正确")])
    latitude = fields.Float(validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(validate=validate.Range(min=-180, max=180))
    active = fields.Boolean(metadata={"description": "false: out of service — not listed, its future bookings are cancelled"})
    release_days_ahead = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=60), metadata={"description": "places of a day open N working days before it"}
    )
    release_time = HHMM(allow_none=True, metadata={"description": "when places open (放号), e.g. 08:00"})
    walk_in_percent = fields.Integer(validate=PERCENT, metadata={"description": "share kept off online booking for walk-ins"})
    elderly_percent = fields.Integer(validate=PERCENT, metadata={"description": "share kept for the elderly (适老化)"})
    green_channel_percent = fields.Integer(validate=PERCENT, metadata={"description": "share kept for green-channel cases"})


class HallCreateRequest(HallFields):
    @validates_schema
    def _required(self, data: dict, **_kwargs) -> None:
        missing = [name for name in ("name", "level", "city", "address", "latitude", "longitude") if name not in data]
        if missing:
            raise ValidationError({name: ["必填"] for name in missing})


class HallUpdateRequest(HallFields):
    @validates_schema
    def _not_empty(self, data: dict, **_kwargs) -> None:
        if not data:
            raise ValidationError("请至少提供一项修改", field_name="_schema")


class ReleaseSchema(Schema):
    days_ahead = fields.Integer()
    time = fields.String()
    walk_in_percent = fields.Integer()
    elderly_percent = fields.Integer()
    green_channel_percent = fields.Integer()


class WindowStaffSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


class BookingsOutcomeSchema(Schema):
    kept_same_time = fields.Integer(metadata={"description": "moved to another window at the same time (nothing changes for them)"})
    moved = fields.Integer(metadata={"description": "moved to the nearest free time; told by SMS"})
    cancelled = fields.Integer(metadata={"description": "cancelled; told by SMS with the nearest free times"})


class AdminWindowSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    item_codes = fields.List(fields.String())
    active = fields.Boolean()
    per_slot = fields.Integer()
    staff = fields.Nested(WindowStaffSchema, allow_none=True)
    bookings = fields.Nested(BookingsOutcomeSchema)


class WindowFields(Schema):
    name = fields.String(validate=[validate.Length(min=1, max=32), NO_CONTROL_CHARS])
    item_codes = fields.List(fields.String(validate=[validate.Length(min=1, max=64), CODE_PATTERN]), validate=validate.Length(max=100))
    active = fields.Boolean(metadata={"description": "open (staffed) or closed"})
    per_slot = fields.Integer(validate=validate.Range(min=0, max=50), metadata={"description": "citizens per slot, shared by its items"})
    staff_id = fields.Integer(allow_none=True, validate=validate.Range(min=1), metadata={"description": "the clerk at this window"})


class WindowCreateRequest(WindowFields):
    @validates_schema
    def _required(self, data: dict, **_kwargs) -> None:
        if "name" not in data:
            raise ValidationError("必填", field_name="name")


class WindowUpdateRequest(WindowFields):
    @validates_schema
    def _not_empty(self, data: dict, **_kwargs) -> None:
        if not data:
            raise ValidationError("请至少提供一项修改", field_name="_schema")


class WindowListSchema(Schema):
    items = fields.List(fields.Nested(AdminWindowSchema))


def _check_hours(data: dict, first: str = "opens") -> None:
    opens, closes = data.get(first), data.get("closes")
    if opens and closes and opens >= closes:
        raise ValidationError("结束时间须晚于开始时间", field_name="closes")
    pause = data.get("break_start"), data.get("break_end")
    if (pause[0] is None) != (pause[1] is None):
        raise ValidationError("午休开始与结束须同时提供", field_name="break_start")
    if pause[0] and not (opens < pause[0] < pause[1] < closes):
        raise ValidationError("午休须在办公时间之内", field_name="break_start")


class OpeningRuleSchema(Schema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6), metadata={"description": "0 = Monday"})
    opens = HHMM(required=True)
    closes = HHMM(required=True)
    break_start = HHMM(load_default=None, allow_none=True)
    break_end = HHMM(load_default=None, allow_none=True)
    slot_minutes = fields.Integer(load_default=30, validate=validate.Range(min=5, max=240))

    @validates_schema
    def _hours(self, data: dict, **_kwargs) -> None:
        _check_hours(data)


class OpeningRulesRequest(Schema):
    rules = fields.List(fields.Nested(OpeningRuleSchema), required=True, validate=validate.Length(max=7))

    @validates_schema
    def _one_per_weekday(self, data: dict, **_kwargs) -> None:
        weekdays = [rule["weekday"] for rule in data.get("rules", [])]
        if len(weekdays) != len(set(weekdays)):
            raise ValidationError("每个星期几只能有一条规则", field_name="rules")


class OpeningRulesSchema(Schema):
    hall_id = fields.Integer()
    opening_rules = fields.List(fields.Nested(OpeningRuleSchema))
    bookings = fields.Nested(BookingsOutcomeSchema)


class SpecialDayRequest(Schema):
    date = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(SpecialDayKind)))
    reason = fields.String(required=True, validate=[validate.Length(min=2, max=200), NO_CONTROL_CHARS])
    opens = HHMM(load_default=None, allow_none=True)
    closes = HHMM(load_default=None, allow_none=True)
    break_start = HHMM(load_default=None, allow_none=True)
    break_end = HHMM(load_default=None, allow_none=True)
    slot_minutes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=5, max=240))
    action = fields.String(
        load_default="cancel", validate=validate.OneOf(["cancel", "move"]), metadata={"description": "closed: what happens to its bookings"}
    )

    @validates_schema
    def _hours(self, data: dict, **_kwargs) -> None:
        if data.get("kind") == SpecialDayKind.OPEN:
            if not data.get("opens") or not data.get("closes"):
                raise ValidationError("加开日须提供办公时间", field_name="opens")
            _check_hours(data)


class SpecialDaySchema(Schema):
    hall_id = fields.Integer()
    date = fields.Date()
    kind = fields.String()
    reason = fields.String()
    opens = fields.String(allow_none=True)
    closes = fields.String(allow_none=True)
    break_start = fields.String(allow_none=True)
    break_end = fields.String(allow_none=True)
    slot_minutes = fields.Integer(allow_none=True)
    removed = fields.Boolean()
    bookings = fields.Nested(BookingsOutcomeSchema)


class SpecialDayListSchema(Schema):
    items = fields.List(fields.Nested(SpecialDaySchema))


class AdminHallSchema(HallSchema):
    active = fields.Boolean()
    release = fields.Nested(ReleaseSchema)
    windows = fields.List(fields.Nested(AdminWindowSchema))
    opening_rules = fields.List(fields.Nested(OpeningRuleSchema))
    special_days = fields.List(fields.Nested(SpecialDaySchema))
    bookings = fields.Nested(BookingsOutcomeSchema)


class AdminHallListSchema(Schema):
    items = fields.List(fields.Nested(AdminHallSchema))


class WaitingTicketSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    item_code = fields.String()
    priority = fields.Boolean()


class WindowQueueSchema(Schema):
    window = fields.Nested(AdminWindowSchema)
    current = fields.Nested(TicketSchema, allow_none=True)
    waiting = fields.List(fields.Nested(WaitingTicketSchema))
    waiting_total = fields.Integer()
