"""Request/response schemas for the catalog, cases, supervision, certificates and ratings."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, validate, validates_schema

from cases.lifecycle import ACTIONS
from cases.models import CaseStatus, DeliveryPayer, ItemType
from mobile_api import fields
from mobile_api.pagination import PageArgs, page_schema

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", error="编码格式不正确")


# ------------------------------------------------------------------ catalog
class CatalogQuery(PageArgs):
    q = fields.String(validate=validate.Length(max=50), metadata={"description": "按名称、关键词搜索，如“身份证”"})
    department = fields.String(validate=validate.Length(max=32))
    audience = fields.String(validate=validate.OneOf(["individual", "enterprise"]))
    category = fields.String(validate=validate.Length(max=20), metadata={"description": "人生事件：出生、就业、结婚、退休…"})


class MaterialSpec(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    required = fields.Boolean(load_default=True)
    original_or_copy = fields.String(load_default="original", validate=validate.OneOf(["original", "copy"]))
    count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=20))
    formats = fields.List(
        fields.String(validate=validate.OneOf(["jpg", "png", "pdf"])),
        load_default=lambda: ["jpg", "png", "pdf"],
        validate=validate.Length(min=1, max=3),
    )
    notes = fields.String(load_default="", validate=validate.Length(max=500))
    certificate_kind = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class FormFieldSpec(Schema):
    name = fields.String(required=True, validate=CODE)
    label = fields.String(required=True, validate=validate.Length(min=1, max=50))
    type = fields.String(load_default="string", validate=validate.OneOf(["string", "number", "integer", "boolean", "date"]))
    required = fields.Boolean(load_default=False)
    max_length = fields.Integer(validate=validate.Range(min=1, max=2000))


class ItemWrite(Schema):
    """A service item as an admin writes it; on update every field is optional."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    department_code = fields.String(required=True, validate=validate.Length(max=32))
    item_type = fields.String(required=True, validate=validate.OneOf([item_type.value for item_type in ItemType]))
    audience = fields.String(load_default="individual", validate=validate.OneOf(["individual", "enterprise"]))
    categories = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list, validate=validate.Length(max=20))
    keywords = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list, validate=validate.Length(max=30))
    legal_basis = fields.String(load_default="", validate=validate.Length(max=2000))
    acceptance_conditions = fields.String(load_default="", validate=validate.Length(max=2000))
    materials = fields.List(fields.Nested(MaterialSpec), load_default=list, validate=validate.Length(max=50))
    steps = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list, validate=validate.Length(max=30))
    form_fields = fields.List(fields.Nested(FormFieldSpec), load_default=list, validate=validate.Length(max=50))
    statutory_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=365))
    promised_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=365))
    fee = fields.Decimal(load_default=0, places=2, validate=validate.Range(min=0, max=10**7))
    fee_notes = fields.String(load_default="", validate=validate.Length(max=500))
    required_level = fields.Integer(load_default=2, validate=validate.Range(min=1, max=3))
    fully_online = fields.Boolean(load_default=False)
    needs_visit = fields.Boolean(load_default=True)
    bookable = fields.Boolean(load_default=True)
    deliverable = fields.Boolean(load_default=False)
    delivery_payer = fields.String(
        load_default=DeliveryPayer.CITIZEN.value,
        validate=validate.OneOf([payer.value for payer in DeliveryPayer]),
        metadata={"description": "证照快递费用承担方：citizen 申请人在线支付 / government 政府承担（免费）/ cod 到付"},
    )
    delivery_fee = fields.Decimal(
        load_default=None,
        allow_none=True,
        places=2,
        validate=validate.Range(min=0, max=1000),
        metadata={"description": "固定快递费（元）；为空按快递公司资费"},
    )
    postal_materials = fields.List(
        fields.String(validate=CODE),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "可以邮寄纸质原件（上门取件）代替到大厅提交的材料编码"},
    )
    parallel_departments = fields.List(fields.String(validate=validate.Length(max=32)), load_default=list, validate=validate.Length(max=20))
    hall_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=200))

    @validates_schema
    def _consistent(self, data, **kwargs):
        if (
            "promised_days" in data
            and "statutory_days" in data
            and data["statutory_days"]
            and data["promised_days"] > data["statutory_days"]
        ):
            raise ValidationError("承诺时限不能超过法定时限", "promised_days")
        codes = [m["code"] for m in data.get("materials", [])]
        if len(codes) != len(set(codes)):
            raise ValidationError("材料编码重复", "materials")
        names = [f["name"] for f in data.get("form_fields", [])]
        if len(names) != len(set(names)):
            raise ValidationError("填写项重复", "form_fields")
        if "materials" in data and set(data.get("postal_materials") or []) - set(codes):
            raise ValidationError("可邮寄的材料必须是此事项的材料", "postal_materials")


class ItemUpdate(ItemWrite):
    class Meta:
        exclude = ("code",)


class ItemSummary(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.String()
    department_code = fields.String()
    item_type = fields.String()
    audience = fields.String()
    categories = fields.List(fields.String())
    promised_days = fields.Integer()
    required_level = fields.Integer()
    fully_online = fields.Boolean()
    bookable = fields.Boolean()
    deliverable = fields.Boolean()
    delivery_payer = fields.String()


class ItemGuide(ItemSummary):
    """The one-time notice a citizen reads before starting (办事指南)."""

    keywords = fields.List(fields.String())
    legal_basis = fields.String()
    acceptance_conditions = fields.String()
    materials = fields.List(fields.Dict())
    steps = fields.List(fields.String())
    form_fields = fields.List(fields.Dict())
    statutory_days = fields.Integer()
    fee = fields.Decimal(as_string=True)
    fee_notes = fields.String()
    needs_visit = fields.Boolean()
    delivery_fee = fields.Decimal(as_string=True, allow_none=True)
    postal_materials = fields.List(fields.String())
    parallel_departments = fields.List(fields.String())
    hall_ids = fields.List(fields.Integer())


ItemPage = page_schema(ItemSummary, "CatalogItemPage")


class DepartmentSchema(Schema):
    code = fields.String()
    name = fields.String()
    phone = fields.String()


# ------------------------------------------------------------------ cases
class CaseCreate(Schema):
    item_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    form = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict, validate=validate.Length(max=60))


class CaseCreated(Schema):
    case_no = fields.String()
    status = fields.String()


class MaterialUpload(Schema):
    """``multipart/form-data``: which material, and its file (JPG/PNG/PDF)."""

    material_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    file = Upload(required=True)


class MaterialResult(Schema):
    material_code = fields.String()
    source = fields.String()
    check_ok = fields.Boolean()
    check = fields.Dict()
    uploaded_at = fields.DateTime()


class CaseSummary(Schema):
    case_no = fields.String()
    status = fields.String()
    status_name = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    item_version = fields.Integer()
    department_code = fields.String()
    department_name = fields.String()
    current_step = fields.String(allow_none=True)
    created_at = fields.DateTime()
    accepted_on = fields.Date(allow_none=True)
    due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    working_days_left = fields.Integer(allow_none=True)
    colour = fields.String(metadata={"description": "staff only: green / yellow / red"})


CasePage = page_schema(CaseSummary, "CasePage")


class TimelineEvent(Schema):
    at = fields.DateTime()
    effective_on = fields.Date()
    action = fields.String()
    status = fields.String()
    status_name = fields.String()
    note = fields.String(allow_none=True)
    actor = fields.String()
    data = fields.Dict()
    visible_to_citizen = fields.Boolean()
    internal_note = fields.String(allow_none=True)


class CaseDetail(Schema):
    case_no = fields.String()
    status = fields.String()
    status_name = fields.String()
    item = fields.Dict()
    department_code = fields.String()
    department_name = fields.String()
    current_step = fields.String(allow_none=True)
    steps = fields.List(fields.String())
    form = fields.Dict()
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    prereview_due_on = fields.Date(allow_none=True)
    accepted_on = fields.Date(allow_none=True)
    due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    working_days_left = fields.Integer(allow_none=True)
    suspended_days = fields.Integer()
    extended_days = fields.Integer()
    predicted_completion_on = fields.Date(allow_none=True)
    finished_on = fields.Date(allow_none=True)
    result_reason = fields.String(allow_none=True)
    returned_issues = fields.List(fields.Dict())
    materials = fields.List(fields.Dict())
    approval_tasks = fields.List(fields.Dict())
    timeline = fields.List(fields.Nested(TimelineEvent), metadata={"description": "The newest events, oldest first"})
    timeline_total = fields.Integer(metadata={"description": "All events; page them at …/timeline"})
    # Added by the packages above cases through cases.events.case_view_requested (express: the parcel timeline).
    delivery = fields.Dict(allow_none=True)
    colour = fields.String()
    allowed_actions = fields.List(fields.String())


class RatingRequest(Schema):
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=5), metadata={"description": "5 非常满意 … 1 非常不满意"})
    comment = fields.String(load_default="", validate=validate.Length(max=1000))


class RatingResult(Schema):
    level = fields.Integer()
    comment = fields.String()
    created_at = fields.DateTime()
    rectification = fields.Boolean()


class CertificateSchema(Schema):
    number = fields.String()
    kind = fields.String()
    department_code = fields.String()
    holder_name = fields.String(metadata={"description": "masked: 张*"})
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    valid = fields.Boolean()


class CertificateList(Schema):
    items = fields.List(fields.Nested(CertificateSchema))


# ------------------------------------------------------------------ staff
class StaffCaseQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([status.value for status in CaseStatus]))
    department = fields.String(validate=validate.Length(max=32))
    overdue = fields.Boolean()


class Issue(Schema):
    material_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class CertificateSpec(Schema):
    kind = fields.String(validate=validate.Length(min=1, max=64))
    valid_years = fields.Integer(validate=validate.Range(min=1, max=30))


class TransitionRequest(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(list(ACTIONS)),
    )
    note = fields.String(validate=validate.Length(max=2000), metadata={"description": "shown to the citizen"})
    internal_note = fields.String(validate=validate.Length(max=2000), metadata={"description": "staff only"})
    issues = fields.List(fields.Nested(Issue), validate=validate.Length(max=50))
    department = fields.String(validate=validate.Length(max=32))
    step = fields.String(validate=validate.Length(max=64))
    days = fields.Integer(validate=validate.Range(min=1, max=60))
    reason = fields.String(validate=validate.Length(max=2000))
    certificate = fields.Nested(CertificateSpec)


class StaffCaseRead(Schema):
    reason = fields.String(validate=validate.Length(max=200), metadata={"description": "why the case is opened (audit)"})


class StaffTimelineQuery(PageArgs):
    reason = fields.String(validate=validate.Length(max=200), metadata={"description": "why the case is opened (audit)"})


TimelinePage = page_schema(TimelineEvent, "TimelinePage")


class StatsQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    department = fields.String(validate=validate.Length(max=32))

    @validates_schema
    def _range(self, data, **kwargs):
        if data["to"] < data["from_"]:
            raise ValidationError("结束日期不能早于开始日期", "to")
        if (data["to"] - data["from_"]).days > 731:
            raise ValidationError("统计区间不能超过两年", "to")


class StatsSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    department = fields.String(allow_none=True)
    accepted = fields.Integer()
    finished = fields.Integer()
    on_time_rate = fields.Float(allow_none=True)
    instant_rate = fields.Float(allow_none=True)
    average_working_days = fields.Float(allow_none=True)
    prereview_first_try_pass_rate = fields.Float(allow_none=True)
    ratings = fields.Integer()
    satisfaction_average = fields.Float(allow_none=True)
    satisfied_rate = fields.Float(allow_none=True)
    bad_ratings = fields.Integer()
    overdue = fields.List(fields.Dict())


class WarningSchema(Schema):
    subject_type = fields.String()
    case_no = fields.String()
    department_code = fields.String()
    colour = fields.String()
    role = fields.String()
    due_on = fields.Date()
    created_at = fields.DateTime()


WarningPage = page_schema(WarningSchema, "SupervisionWarningPage")


class RectificationQuery(PageArgs):
    open = fields.Boolean(load_default=True)


class RectificationSchema(Schema):
    id = fields.Integer()
    case_no = fields.String(attribute="case.case_no")
    department_code = fields.String()
    due_on = fields.Date()
    colour = fields.String()
    outcome = fields.String(allow_none=True)
    done_at = fields.DateTime(allow_none=True)


RectificationPage = page_schema(RectificationSchema, "RectificationPage")


class RectificationDone(Schema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class GreenChannelRequest(Schema):
    green_channel = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=200))


class GreenChannelSchema(Schema):
    case_no = fields.String()
    green_channel = fields.Boolean()
