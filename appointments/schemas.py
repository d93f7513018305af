"""Request and response schemas for halls, availability, appointments, waitlist and queue tickets."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, validate, validates_schema

from appointments.models import BookingStatus, TicketStatus, WaitlistStatus
from mobile_api import fields
from mobile_api.pagination import PageArgs, page_schema
from mobile_api.timeutil import CITY_TZ

# Codes are plain ASCII: anything else (a NUL byte would even crash PostgreSQL's text type) is refused here.
CODE_PATTERN = validate.Regexp(r"^[0-9A-Za-z][0-9A-Za-z_-]*\Z", error="格式不正确")
ITEM_CODE = fields.String(required=True, validate=[validate.Length(min=1, max=64), CODE_PATTERN])
NO_CONTROL_CHARS = validate.Regexp(r"^[^\x00-\x1f\x7f]*\Z", error="包含不允许的字符")


class HallListArgs(PageArgs):
    item_code = fields.String(validate=[validate.Length(min=1, max=64), CODE_PATTERN])
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lng = fields.Float(validate=validate.Range(min=-180, max=180))

    @validates_schema
    def _both_or_neither(self, data: dict, **_kwargs) -> None:
        if ("lat" in data) != ("lng" in data):
            raise ValidationError("lat 与 lng 需同时提供", field_name="lat")


class HallSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.String(metadata={"description": "city | district | street"})
    city = fields.String()
    district = fields.String(allow_none=True)
    street = fields.String(allow_none=True)
    address = fields.String()
    phone = fields.String(allow_none=True)
    latitude = fields.Float()
    longitude = fields.Float()
    distance_km = fields.Float(allow_none=True)


HallPage = page_schema(HallSchema, "HallPage")


class OpeningHoursSchema(Schema):
    weekday = fields.Integer(metadata={"description": "0 = Monday"})
    opens = fields.String()
    closes = fields.String()
    break_ = fields.String(data_key="break", attribute="break", allow_none=True)
    slot_minutes = fields.Integer()


class WindowSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    item_codes = fields.List(fields.String())
    per_slot = fields.Integer(metadata={"description": "citizens this window serves in one slot, shared by its items"})


class HallDetailSchema(HallSchema):
    opening_hours = fields.List(fields.Nested(OpeningHoursSchema))
    windows = fields.List(fields.Nested(WindowSchema))


class AvailabilityArgs(Schema):
    item_code = ITEM_CODE
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()


class SlotSchema(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    remaining = fields.Integer(metadata={"description": "places anyone may book (0 before the day is released)"})
    kept_for_elderly = fields.Integer(metadata={"description": "places kept for citizens of APPOINTMENTS_ELDERLY_AGE and older"})
    kept_for_green_channel = fields.Integer(metadata={"description": "places kept for bookings linked to a green-channel case"})


class DaySchema(Schema):
    date = fields.Date()
    open = fields.Boolean()
    released = fields.Boolean(metadata={"description": "false: places open at opens_at (放号), the day is not full"})
    opens_at = fields.DateTime(allow_none=True)
    slots = fields.List(fields.Nested(SlotSchema))


class AvailabilitySchema(Schema):
    hall_id = fields.Integer()
    item_code = fields.String()
    bookable_from = fields.Date()
    bookable_until = fields.Date()
    days = fields.List(fields.Nested(DaySchema))


class BookingRequest(Schema):
    hall_id = fields.Integer(required=True, validate=validate.Range(min=1))
    item_code = ITEM_CODE
    start = fields.AwareDateTime(required=True, default_timezone=CITY_TZ, metadata={"description": "ISO 8601; without offset = city time"})
    case_no = fields.String(load_default=None, allow_none=True, validate=[validate.Length(min=1, max=32), CODE_PATTERN])


class RescheduleRequest(Schema):
    start = fields.AwareDateTime(required=True, default_timezone=CITY_TZ)


class TicketSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    status = fields.String(metadata={"description": " | ".join(TicketStatus)})
    item_code = fields.String()
    people_ahead = fields.Integer()
    position = fields.Integer()
    estimated_wait_minutes = fields.Integer()
    window = fields.String(allow_none=True)


class BookingHallSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()


class BookingSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": " | ".join(BookingStatus)})
    code = fields.String(metadata={"description": "Booking code shown at the hall"})
    start = fields.DateTime()
    end = fields.DateTime()
    item_code = fields.String()
    item_name = fields.String()
    case_no = fields.String(allow_none=True)
    hall = fields.Nested(BookingHallSchema)
    created_at = fields.DateTime()
    ticket = fields.Nested(TicketSchema)


BookingPage = page_schema(BookingSchema, "BookingPage")


class BookingListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(BookingStatus)))


class WaitlistRequest(Schema):
    hall_id = fields.Integer(required=True, validate=validate.Range(min=1))
    item_code = ITEM_CODE
    date = fields.Date(required=True)


class OfferSchema(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    expires_at = fields.DateTime()


class WaitlistSchema(Schema):
    id = fields.String()
    hall_id = fields.Integer()
    item_code = fields.String()
    date = fields.Date()
    status = fields.String(metadata={"description": " | ".join(WaitlistStatus)})
    offer = fields.Nested(OfferSchema, allow_none=True)
    booking_id = fields.String(allow_none=True)


class WaitlistListSchema(Schema):
    items = fields.List(fields.Nested(WaitlistSchema))


class WalkInRequest(Schema):
    item_code = ITEM_CODE
    priority = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["elderly", "green_channel"]))


class NextRequest(Schema):
    window_id = fields.Integer(required=True, validate=validate.Range(min=1))


class DisplayWindowSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    calling = fields.String(allow_none=True)


class WaitingCountSchema(Schema):
    item_code = fields.String()
    item_name = fields.String()
    count = fields.Integer()


class RecentCallSchema(Schema):
    id = fields.Integer()
    ticket_no = fields.String()
    window = fields.String()
    kind = fields.String(metadata={"description": "called | recalled"})
    at = fields.DateTime()
    text = fields.String(metadata={"description": "what the screen says aloud"})


class QueueDisplaySchema(Schema):
    hall_id = fields.Integer()
    hall_name = fields.String()
    date = fields.Date()
    version = fields.Integer(metadata={"description": "newest event id: the SSE stream's Last-Event-ID"})
    windows = fields.List(fields.Nested(DisplayWindowSchema))
    recent_calls = fields.List(fields.Nested(RecentCallSchema))
    waiting = fields.List(fields.Nested(WaitingCountSchema))
    waiting_total = fields.Integer()


class ClosureRequest(Schema):
    date = fields.Date(required=True)
    reason = fields.String(required=True, validate=[validate.Length(min=2, max=200), NO_CONTROL_CHARS])
    action = fields.String(
        load_default="cancel", validate=validate.OneOf(["cancel", "move"]), metadata={"description": "what happens to its bookings"}
    )


class ClosureSchema(Schema):
    hall_id = fields.Integer()
    date = fields.Date()
    reason = fields.String()
    cancelled_appointments = fields.Integer()
    moved_appointments = fields.Integer()
