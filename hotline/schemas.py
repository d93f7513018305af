"""Request/response schemas of the hotline: look-ups, verification, notices, tickets (operators,
departments, citizens). Supervisors' and admins' schemas are in ``hotline/staff_schemas.py``."""

from __future__ import annotations

from marshmallow import Schema, validate

from hotline.models import Satisfaction, TicketStatus, TicketType
from hotline.tickets import OPERATOR_ACTIONS
from mobile_api import fields
from mobile_api.pagination import PageArgs, page_schema

MOBILE = validate.Regexp(r"^1[3-9]\d{9}$", error="请输入11位手机号")
# The number the caller rang from: a mobile, or a landline with its area code.
CALLER_PHONE = validate.Regexp(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", error="请输入手机号或带区号的固定电话")
TICKET_NO = validate.Length(min=1, max=16)
SHORT = validate.Length(max=64)
TICKET_TYPES = [t.value for t in TicketType]
STATUSES = [s.value for s in TicketStatus]
SATISFACTIONS = [s.value for s in Satisfaction]


# ------------------------------------------------------------------ look-ups
class LookupQuery(Schema):
    case_no = fields.String(validate=SHORT, metadata={"description": "完整办件号"})
    phone = fields.String(validate=SHORT, metadata={"description": "完整11位手机号"})
    id_number = fields.String(validate=SHORT, metadata={"description": "完整18位身份证号"})
    reason = fields.String(validate=validate.Length(max=200), metadata={"description": "查询事由（与 ticket_no 至少填一项）"})
    ticket_no = fields.String(validate=TICKET_NO)


class TicketHistorySchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    action_name = fields.String()
    status = fields.String()
    status_name = fields.String()
    note = fields.String(allow_none=True)
    actor = fields.String()
    data = fields.Dict()


class LookupCaseSchema(Schema):
    case_no = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    department_code = fields.String()
    department_name = fields.String(allow_none=True)
    status = fields.String()
    status_name = fields.String()
    next_step = fields.String()
    current_step = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    working_days_left = fields.Integer(allow_none=True)
    finished_on = fields.Date(allow_none=True)
    timeline = fields.List(fields.Nested(TicketHistorySchema))


class LookupBookingSchema(Schema):
    code = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    status = fields.String()
    status_name = fields.String()
    next_step = fields.String()
    start = fields.DateTime()
    hall_name = fields.String(allow_none=True)
    hall_address = fields.String(allow_none=True)
    case_no = fields.String(allow_none=True)


class LookupTicketSchema(Schema):
    ticket_no = fields.String()
    type_name = fields.String()
    status = fields.String()
    status_name = fields.String()
    next_step = fields.String()
    ticket_type = fields.String()
    department_name = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    answer = fields.String(allow_none=True)
    history = fields.List(fields.Nested(TicketHistorySchema))


class VerificationStateSchema(Schema):
    methods = fields.List(fields.String())
    method_used = fields.String(allow_none=True)
    attempts_left = fields.Integer()
    locked = fields.Boolean()


class CallerSchema(Schema):
    phone_masked = fields.String()
    name_masked = fields.String(allow_none=True)
    id_number_masked = fields.String(allow_none=True)
    level = fields.Integer()


class LookupSchema(Schema):
    lookup_id = fields.String()
    query_kind = fields.String()
    found = fields.Boolean()
    verified = fields.Boolean()
    expires_at = fields.DateTime()
    verification = fields.Nested(VerificationStateSchema)
    caller = fields.Nested(CallerSchema, allow_none=True)
    cases = fields.List(fields.Nested(LookupCaseSchema))
    bookings = fields.List(fields.Nested(LookupBookingSchema))
    deliveries = fields.List(fields.Dict(), metadata={"description": "证照快递（express 包合并后提供）"})
    tickets = fields.List(fields.Nested(LookupTicketSchema))


class VerificationRequest(Schema):
    lookup_id = fields.String(required=True, validate=SHORT)
    method = fields.String(required=True, validate=validate.OneOf(["id_last4", "sms_code"]))
    answer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))


class CodeSentSchema(Schema):
    lookup_id = fields.String()
    code_sent = fields.Boolean()
    phone_masked = fields.String()
    expires_in = fields.Integer()
    resend_after = fields.Integer()


# ------------------------------------------------------------------ consultation notices
class HotlineCatalogQuery(PageArgs):
    q = fields.String(validate=validate.Length(max=50))
    department = fields.String(validate=validate.Length(max=32))


class CatalogNoticeSchema(Schema):
    code = fields.String()
    name = fields.String()
    department_code = fields.String()
    notice_preview = fields.String()


CatalogNoticePage = page_schema(CatalogNoticeSchema, "HotlineCatalogPage")


class NoticeRequest(Schema):
    item_code = fields.String(required=True, validate=SHORT)
    phone = fields.String(required=True, validate=MOBILE)


class NoticeSentSchema(Schema):
    item_code = fields.String()
    item_name = fields.String()
    phone_masked = fields.String()
    sent_today = fields.Integer()
    daily_limit = fields.Integer()


# ------------------------------------------------------------------ tickets
class TicketCreate(Schema):
    ticket_type = fields.String(required=True, validate=validate.OneOf(TICKET_TYPES))
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    caller_phone = fields.String(required=True, validate=CALLER_PHONE)
    caller_name = fields.String(validate=validate.Length(max=50))
    case_no = fields.String(validate=SHORT)
    booking_code = fields.String(validate=validate.Length(max=8))
    delivery_no = fields.String(validate=validate.Length(max=40))
    item_code = fields.String(validate=SHORT)
    department_code = fields.String(validate=validate.Length(max=32), metadata={"description": "填写则立即转办"})
    lookup_id = fields.String(validate=SHORT)
    publish = fields.Boolean(load_default=False, metadata={"description": "来电人同意公开（经脱敏）到 Open311"})
    note = fields.String(validate=validate.Length(max=500))


class TicketListQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    ticket_type = fields.String(validate=validate.OneOf(TICKET_TYPES))
    department = fields.String(validate=validate.Length(max=32))
    overdue = fields.Boolean()


class TicketTransition(Schema):
    action = fields.String(required=True, validate=validate.OneOf(OPERATOR_ACTIONS))
    department_code = fields.String(validate=validate.Length(max=32))
    answer = fields.String(validate=validate.Length(max=2000))
    note = fields.String(validate=validate.Length(max=2000))
    duplicate_of = fields.String(validate=TICKET_NO)
    satisfaction = fields.String(validate=validate.OneOf(SATISFACTIONS))
    comment = fields.String(validate=validate.Length(max=500))
    reopen = fields.Boolean(load_default=False)


class ReasonQuery(Schema):
    reason = fields.String(validate=validate.Length(max=200))


class RequiredReasonQuery(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=200))


class CallerPhoneSchema(Schema):
    ticket_no = fields.String()
    caller_phone = fields.String()


class RatingStorySchema(Schema):
    level = fields.Integer()
    level_name = fields.String()
    comment = fields.String()
    rated_at = fields.DateTime()
    rectification = fields.Dict(allow_none=True, metadata={"description": "差评整改：期限、颜色、是否完成、整改结果"})


class CaseStorySchema(LookupCaseSchema):
    rating = fields.Nested(RatingStorySchema, allow_none=True)


class TicketSummarySchema(Schema):
    ticket_no = fields.String()
    ticket_type = fields.String()
    type_name = fields.String()
    status = fields.String()
    status_name = fields.String()
    next_step = fields.String()
    source = fields.String()
    department_code = fields.String(allow_none=True)
    department_name = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    working_days_left = fields.Integer(allow_none=True)
    colour = fields.String()
    escalations = fields.Integer()
    case_no = fields.String(allow_none=True)
    item_code = fields.String(allow_none=True)
    caller_phone_masked = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    reopen_count = fields.Integer()
    created_at = fields.DateTime()


class TicketDetailSchema(TicketSummarySchema):
    content = fields.String()
    booking_code = fields.String(allow_none=True)
    delivery_no = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    answered_on_time = fields.Boolean(allow_none=True)
    satisfaction_name = fields.String(allow_none=True)
    callback_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    caller_name_masked = fields.String(allow_none=True)
    created_by = fields.String()
    sent_back_count = fields.Integer()
    history = fields.List(fields.Nested(TicketHistorySchema))
    case = fields.Nested(CaseStorySchema, allow_none=True, metadata={"description": "关联办件：状态、下一步、好差评及整改"})
    allowed_actions = fields.List(fields.String())
    can_rate = fields.Boolean()


TicketPage = page_schema(TicketSummarySchema, "HotlineTicketPage")


class AnswerRequest(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class SendBackRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


# ------------------------------------------------------------------ citizens
class CitizenTicketCreate(Schema):
    ticket_type = fields.String(required=True, validate=validate.OneOf(TICKET_TYPES))
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    case_no = fields.String(validate=SHORT)
    booking_code = fields.String(validate=validate.Length(max=8))
    delivery_no = fields.String(validate=validate.Length(max=40))
    item_code = fields.String(validate=SHORT)
    publish = fields.Boolean(load_default=False)


class CitizenRating(Schema):
    satisfaction = fields.String(required=True, validate=validate.OneOf(SATISFACTIONS))
    comment = fields.String(validate=validate.Length(max=500))
    reopen = fields.Boolean(load_default=False, metadata={"description": "不满意时要求重新办理（仅一次）"})
